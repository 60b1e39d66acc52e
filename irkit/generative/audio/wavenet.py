"""WaveNet (van den Oord et al., 2016): an autoregressive model of raw audio.

Stacked cycles of causal dilated convolutions (kernel 2, dilations 1, 2, 4, ...
in each cycle) with gated tanh-sigmoid units, residual connections inside the
stack and skip connections summed into a small output network that gives a
256-way softmax over mu-law codes. Two conditions enter every gate as biases:

* global: a voice id (an embedding per layer);
* local: log-mel frames, passed through a small convolution at the frame rate,
  projected per layer, then linearly interpolated to the sample rate. Projecting
  before interpolating is the same linear map, done 160 times less often.

Sequences are aligned so that position ``t`` reads the previous sample ``x[t-1]``
(the silence code before the first) and predicts ``x[t]``; the local condition
at ``t`` is the feature at sample ``t``.

Generation keeps, per layer, a ring buffer of its last ``dilation`` inputs, so a
new sample costs one matrix-vector step per layer instead of a pass over the
whole receptive field (the "fast WaveNet" cache, Paine et al. 2016).
``generate(..., cache=False)`` recomputes the receptive field for every sample,
for the comparison in ``benchmarks/wavenet.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from irkit.errors import InputError
from irkit.generative.audio import speech
from irkit.generative.recipe import Recipe as GenerativeRecipe
from irkit.generative.recipe import parse_options
from irkit.progress import progress

MEL_MARGIN = 2  # edge frames on each side of a mel window: 1 for the k=3 conv, 1 for interpolation


@dataclass
class WaveNetConfig:
    classes: int = 256
    residual: int = 32  # residual stream channels
    gate: int = 32  # channels out of each gated unit
    skip: int = 64
    layers: int = 8  # per cycle: dilations 1, 2, ..., 2**(layers-1)
    cycles: int = 2
    voices: list[str] = field(default_factory=lambda: list(speech.VOICES))  # global condition; [] = none
    n_mels: int = speech.N_MELS  # local condition; 0 = none
    cond_channels: int = 32
    hop: int = speech.HOP

    @property
    def dilations(self) -> list[int]:
        return [2**i for i in range(self.layers)] * self.cycles

    @property
    def receptive_field(self) -> int:
        return 1 + sum(self.dilations)


class GatedLayer(nn.Module):
    """A causal dilated convolution (kernel 2), gated, with residual and skip outputs.

    Tensors are (batch, time, channels): a kernel-2 convolution with dilation ``d``
    is one matrix product on ``[x[t-d], x[t]]``, which BLAS does faster on a CPU than
    a dilated ``conv1d``, and the cached step reuses the very same weights.
    """

    def __init__(self, cfg: WaveNetConfig, dilation: int):
        super().__init__()
        self.dilation = dilation
        self.sizes = (cfg.residual, cfg.skip)
        self.gate = nn.Linear(2 * cfg.residual, 2 * cfg.gate)  # input order: [x[t - d], x[t]]
        self.out = nn.Linear(cfg.gate, cfg.residual + cfg.skip)  # residual and skip 1x1 convs in one product

    def forward(self, x: torch.Tensor, cond: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, r = x.shape
        d = self.dilation
        pair = x.new_zeros(b, t, 2 * r)
        if d < t:
            pair[:, d:, :r] = x[:, : t - d]  # zeros before the start: the output at t sees inputs <= t only
        pair[:, :, r:] = x
        f, g = (self.gate(pair) + cond).chunk(2, dim=-1)
        res, skip = self.out(torch.tanh(f) * torch.sigmoid(g)).split(self.sizes, dim=-1)
        return x + res, skip


class WaveNet(nn.Module):
    def __init__(self, cfg: WaveNetConfig):
        super().__init__()
        self.cfg = cfg
        width = len(cfg.dilations) * 2 * cfg.gate  # every layer's gate biases side by side
        self.embed = nn.Embedding(cfg.classes, cfg.residual)
        self.layers = nn.ModuleList(GatedLayer(cfg, d) for d in cfg.dilations)
        self.voice = nn.Embedding(len(cfg.voices), width) if cfg.voices else None
        if cfg.n_mels:
            self.mel_conv = nn.Conv1d(cfg.n_mels, cfg.cond_channels, kernel_size=3)
            self.mel_proj = nn.Linear(cfg.cond_channels, width)
            # Per-band standardisation, fitted on the training audio (see fit_mel_norm).
            self.register_buffer("mel_mean", torch.zeros(cfg.n_mels, 1))
            self.register_buffer("mel_std", torch.ones(cfg.n_mels, 1))
            self.register_buffer("interp", _interp_weights(cfg.hop))
        self.out1 = nn.Linear(cfg.skip, cfg.skip)
        self.out2 = nn.Linear(cfg.skip, cfg.classes)

    @property
    def config(self) -> WaveNetConfig:  # the house name; ``cfg`` is kept for the code that reads it
        return self.cfg

    # -- conditioning ---------------------------------------------------------

    def _cond(self, voice: torch.Tensor | None, mel: torch.Tensor | None) -> torch.Tensor | None:
        """Every layer's gate biases: (B, M + 2, L*2G) at the frame rate, (B, 1, L*2G) for a voice alone, or None."""
        cond = None
        if mel is not None:
            h = torch.tanh(self.mel_conv((mel - self.mel_mean) / self.mel_std))
            cond = self.mel_proj(h.transpose(1, 2))
        if voice is not None:
            # Interpolation weights sum to one, so a constant added before upsampling is the same after.
            v = self.voice(voice)[:, None, :]
            cond = v if cond is None else cond + v
        return cond

    def _layer_cond(self, cond: torch.Tensor | None, i: int) -> torch.Tensor | float:
        """Layer ``i``'s gate bias at the sample rate: (B, T, 2G), (B, 1, 2G) or 0."""
        if cond is None:
            return 0.0
        g2 = 2 * self.cfg.gate
        c = cond[:, :, i * g2 : (i + 1) * g2]
        if not self.cfg.n_mels:
            return c
        # Linear interpolation between frame centres: sample k of frame m mixes frames m-1, m, m+1.
        stack = torch.stack([c[:, :-2], c[:, 1:-1], c[:, 2:]], dim=2)  # (B, M, 3, 2G)
        return torch.matmul(self.interp, stack).flatten(1, 2)  # (hop, 3) @ (3, 2G) per frame -> (B, M*hop, 2G)

    def _check(self, voice, mel, length: int) -> None:
        if (voice is None) != (self.voice is None):
            raise InputError(
                "this WaveNet " + ("needs a voice" if self.voice is not None else "has no voice condition")
            )
        if (mel is None) != (not self.cfg.n_mels):
            raise InputError(
                "this WaveNet " + ("needs log-mel features" if self.cfg.n_mels else "takes no log-mel features")
            )
        if mel is not None and (mel.shape[-1] - 2 * MEL_MARGIN) * self.cfg.hop != length:
            raise InputError(
                f"{mel.shape[-1]} mel frames (with {MEL_MARGIN} margin frames a side) do not cover {length} samples"
            )

    # -- full computation -------------------------------------------------------

    def forward(
        self,
        x: torch.Tensor,
        target: torch.Tensor | None = None,
        voice: torch.Tensor | None = None,
        mel: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x`` (B, T) input codes (the previous samples); ``target`` (B, T) codes, -100 = not scored;
        ``voice`` (B,) voice ids; ``mel`` (B, n_mels, T/hop + 2*MEL_MARGIN) log-mel frames.

        Returns logits (B, T, classes) and the mean cross-entropy in nats per scored sample.
        """
        self._check(voice, mel, x.shape[1])
        cond = self._cond(voice, mel)
        h = self.embed(x)
        skip = 0.0
        for i, layer in enumerate(self.layers):
            h, s = layer(h, self._layer_cond(cond, i))
            skip = skip + s
        logits = self.out2(F.relu(self.out1(F.relu(skip))))
        loss = None
        if target is not None:
            loss = F.cross_entropy(logits.reshape(-1, self.cfg.classes), target.reshape(-1), ignore_index=-100)
        return logits, loss

    # -- generation ---------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        n: int,
        voice: torch.Tensor | None = None,
        mel: torch.Tensor | None = None,
        batch: int = 1,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        cache: bool = True,
        teacher: torch.Tensor | None = None,
        progress_bar: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Draw ``n`` samples per sequence: ``(codes (B, n), logits (B, n, classes) or None)``.

        ``teacher`` (B, n) feeds those codes instead of drawn ones (teacher forcing) and
        returns the logits of every step, to compare the cached steps with :meth:`forward`.
        Draws are Gumbel-max with noise taken from ``generator`` up front, so a seed fixes
        the samples whichever way (cached or not) they are computed.
        """
        for t in (voice, mel, teacher):
            if t is not None:
                batch = t.shape[0]
                break
        self._check(voice, mel, n)
        dev = self.embed.weight.device
        codes = torch.empty(batch, n, dtype=torch.long, device=dev)
        logits_all = torch.empty(batch, n, self.cfg.classes, device=dev) if teacher is not None else None
        if teacher is None:
            u = torch.rand(n, batch, self.cfg.classes, generator=generator).clamp_(1e-12, 1 - 1e-7).to(dev)
            gumbel = -torch.log(-torch.log(u))
            inv_temp = 1.0 / max(temperature, 1e-4)
        step = self._cached_stepper(n, batch, voice, mel) if cache else None
        prev = torch.full((batch,), speech.SILENCE, dtype=torch.long, device=dev)
        steps = progress(range(n), desc="wavenet", unit="sample") if progress_bar else range(n)
        for t in steps:
            logits = step(t, prev) if step is not None else self._window_logits(codes, prev, t, voice, mel)
            if teacher is not None:
                logits_all[:, t] = logits
                prev = teacher[:, t]
            else:
                prev = torch.argmax(logits * inv_temp + gumbel[t], dim=-1)
            codes[:, t] = prev
        return codes, logits_all

    def _cached_stepper(self, n: int, batch: int, voice, mel):
        """A function ``(t, previous code) -> logits (B, classes)`` that caches each layer's past inputs.

        The cache is, per layer, a ring buffer of its last ``dilation`` inputs (slot
        ``t % dilation``): the input from ``dilation`` steps ago is read before the slot
        is overwritten. A layer's step is then two small matrix products; the skip
        projections of all layers are one product at the end.
        """
        cfg, g, r = self.cfg, self.cfg.gate, self.cfg.residual
        dev = self.embed.weight.device
        cond = self._cond(voice, mel)
        gate_w, gate_b, res_w, res_b = [], [], [], []
        for i, layer in enumerate(self.layers):
            gate_w.append(layer.gate.weight.t().contiguous())
            c = self._layer_cond(cond, i)
            c = (c if torch.is_tensor(c) else torch.zeros(batch, 1, 2 * g, device=dev)) + layer.gate.bias
            gate_b.append(c.expand(batch, c.shape[1], 2 * g).transpose(0, 1).contiguous())  # (T or 1, B, 2G)
            res_w.append(layer.out.weight[:r].t().contiguous())
            res_b.append(layer.out.bias[:r])
        skip_w = torch.cat([layer.out.weight[r:].t() for layer in self.layers], dim=0).contiguous()
        skip_b = sum(layer.out.bias[r:] for layer in self.layers)
        out1_w, out2_w = self.out1.weight.t().contiguous(), self.out2.weight.t().contiguous()
        bufs = [torch.zeros(d, batch, r, device=dev) for d in cfg.dilations]
        per_step = [b.shape[0] > 1 for b in gate_b]

        def step(t: int, prev: torch.Tensor) -> torch.Tensor:
            h = self.embed(prev)
            zs = []
            for i, d in enumerate(cfg.dilations):
                slot = t % d
                a = torch.addmm(gate_b[i][t if per_step[i] else 0], torch.cat((bufs[i][slot], h), 1), gate_w[i])
                bufs[i][slot] = h
                z = torch.tanh(a[:, :g]) * torch.sigmoid(a[:, g:])
                zs.append(z)
                h = torch.addmm(h, z, res_w[i]).add_(res_b[i])
            skip = torch.addmm(skip_b, torch.cat(zs, 1), skip_w)
            return torch.addmm(
                self.out2.bias, torch.relu(torch.addmm(self.out1.bias, torch.relu(skip), out1_w)), out2_w
            )

        return step

    def _window_logits(self, codes, prev, t: int, voice, mel) -> torch.Tensor:
        """The uncached step: a full forward over the last receptive field of inputs."""
        rf = self.cfg.receptive_field
        hop = self.cfg.hop
        if mel is None:
            start = max(0, t + 1 - rf)
            inp = torch.cat([_shifted(codes, start, t), prev[:, None]], dim=1)
            return self(inp, voice=voice)[0][:, -1]
        # Windows start on a frame boundary so the mel slice lines up with the samples;
        # positions before the window's receptive field are exact zeros in both computations.
        start = max(0, (t + 1 - rf) // hop * hop)
        end = (t // hop + 1) * hop
        inp = torch.cat([_shifted(codes, start, t), prev[:, None]], dim=1)
        inp = F.pad(inp, (0, end - start - inp.shape[1]), value=speech.SILENCE)
        m = mel[:, :, start // hop : end // hop + 2 * MEL_MARGIN]
        return self(inp, voice=voice, mel=m)[0][:, t - start]


def _interp_weights(hop: int) -> torch.Tensor:
    """(hop, 3): weights of frames m-1, m, m+1 for the samples of frame m (frame centres at m*hop + hop/2)."""
    pos = (torch.arange(hop, dtype=torch.float32) + 0.5) / hop - 0.5  # offset from frame m's centre, in frames
    w = torch.zeros(hop, 3)
    w[:, 0] = (-pos).clamp(min=0)
    w[:, 2] = pos.clamp(min=0)
    w[:, 1] = 1 - w[:, 0] - w[:, 2]
    return w


def _shifted(codes: torch.Tensor, start: int, t: int) -> torch.Tensor:
    """Input codes for positions start..t-1: the previous sample of each (silence before the first)."""
    if start == 0:
        silence = torch.full((codes.shape[0], 1), speech.SILENCE, dtype=codes.dtype, device=codes.device)
        return torch.cat([silence, codes[:, : max(t - 1, 0)]], dim=1)[:, :t]
    return codes[:, start - 1 : t - 1]


# -- data: utterances -> tensors ------------------------------------------------------


def mel_with_margin(audio: np.ndarray, cfg: WaveNetConfig) -> np.ndarray:
    """Log-mel frames of ``audio`` with ``MEL_MARGIN`` edge-repeated frames on each side."""
    m = speech.log_mel(audio, n_mels=cfg.n_mels, hop=cfg.hop)
    return np.pad(m, ((0, 0), (MEL_MARGIN, MEL_MARGIN)), mode="edge")


@dataclass
class Prepared:
    """An utterance as the model reads it."""

    inputs: np.ndarray  # previous-sample codes, SILENCE first
    targets: np.ndarray
    voice: int
    mel: np.ndarray | None


def prepare(utterances: list[speech.Utterance], cfg: WaveNetConfig) -> list[Prepared]:
    out = []
    for u in utterances:
        codes = u.codes
        inputs = np.concatenate([[speech.SILENCE], codes[:-1]])
        v = speech.voice_index(u.voice, cfg.voices) if cfg.voices else -1
        out.append(Prepared(inputs, codes, v, mel_with_margin(u.audio, cfg) if cfg.n_mels else None))
    return out


def crop_batches(data: list[Prepared], cfg: WaveNetConfig, steps: int, batch: int, crop: int, seed: int):
    """``epoch -> iterator`` of ``(x, target, voice, mel)`` random crops of ``crop`` samples.

    Crops start on frame boundaries; the first ``receptive_field - 1`` targets of a
    crop that does not start an utterance are not scored, so every scored sample
    sees its whole receptive field, as in evaluation.
    """
    hop = cfg.hop
    crop = max(hop, crop // hop * hop)
    context = min(cfg.receptive_field - 1, crop - hop)
    lengths = np.array([len(d.targets) for d in data])
    usable = [i for i in range(len(data)) if lengths[i] >= crop]
    if not usable:
        raise InputError(f"no utterance is {crop} samples long; lower crop")

    def batches(epoch: int):
        rng = np.random.default_rng([seed, epoch])
        for _ in range(steps):
            xs, ys, vs, ms = [], [], [], []
            for i in rng.choice(usable, size=batch):
                d = data[i]
                f0 = int(rng.integers(0, (len(d.targets) - crop) // hop + 1))
                a = f0 * hop
                y = d.targets[a : a + crop].copy()
                if a > 0:
                    y[:context] = -100
                xs.append(d.inputs[a : a + crop])
                ys.append(y)
                vs.append(d.voice)
                if d.mel is not None:
                    ms.append(d.mel[:, f0 : f0 + crop // hop + 2 * MEL_MARGIN])
            yield (
                torch.from_numpy(np.stack(xs)),
                torch.from_numpy(np.stack(ys)),
                torch.tensor(vs) if cfg.voices else None,
                torch.from_numpy(np.stack(ms)) if ms else None,
            )

    return batches


def fit_mel_norm(model: WaveNet, data: list[Prepared]) -> None:
    if not model.cfg.n_mels:
        return
    allm = np.concatenate([d.mel[:, MEL_MARGIN:-MEL_MARGIN] for d in data], axis=1)
    model.mel_mean.copy_(torch.from_numpy(allm.mean(1, keepdims=True)))
    model.mel_std.copy_(torch.from_numpy(allm.std(1, keepdims=True) + 1e-3))


@torch.no_grad()
def nll_bits(model: WaveNet, data: list[Prepared], chunk: int = 32000) -> float:
    """Test NLL in bits per sample over whole utterances (exact: each sample sees all its past).

    Long utterances are scored in chunks that carry ``receptive_field - 1`` samples of
    unscored context, which gives the same numbers as one pass.
    """
    model.eval()
    dev = model.embed.weight.device
    cfg = model.cfg
    hop = cfg.hop
    chunk = max(hop, chunk // hop * hop)  # chunks and their context start on frame boundaries
    ctx = -(-(cfg.receptive_field - 1) // hop) * hop
    total, count = 0.0, 0
    for d in data:
        n = len(d.targets)
        for a in range(0, n, chunk):
            s = max(0, a - ctx)
            e = min(n, a + chunk)
            x = torch.from_numpy(d.inputs[None, s:e]).to(dev)
            y = torch.from_numpy(d.targets[None, s:e].copy())
            y[:, : a - s] = -100
            voice = torch.tensor([d.voice], device=dev) if cfg.voices else None
            mel = (
                torch.from_numpy(d.mel[None, :, s // hop : e // hop + 2 * MEL_MARGIN]).to(dev)
                if d.mel is not None
                else None
            )
            logits, _ = model(x, voice=voice, mel=mel)
            total += float(F.cross_entropy(logits[0], y[0].to(dev), ignore_index=-100, reduction="sum"))
            count += e - a
    return total / count / np.log(2)


# -- the recipe behind `irkit generate` ---------------------------------------------------

TRAIN_DEFAULTS: dict[str, Any] = {
    "residual": 32,
    "gate": 32,
    "skip": 64,
    "layers": 8,
    "cycles": 2,
    "local": "mel",  # mel | none
    "sentences": 64,
    "test_sentences": 8,
    "steps": 300,  # per epoch
    "batch": 8,
    "crop": 3200,
    "lr": 2e-3,
}
SAMPLE_DEFAULTS: dict[str, Any] = {
    "voice": "",  # default: every voice in turn
    "text": "",  # default: a held-out Cranfield sentence
    "wav": "",  # take the log-mel features from this recording instead
    "resample": True,
    "seconds": 1.5,
    "temperature": 1.0,
}


def build_config(opts: dict[str, Any]) -> WaveNetConfig:
    if opts["local"] not in ("mel", "none"):
        raise InputError(f"local must be 'mel' or 'none', not {opts['local']!r}")
    return WaveNetConfig(
        residual=opts["residual"],
        gate=opts["gate"],
        skip=opts["skip"],
        layers=opts["layers"],
        cycles=opts["cycles"],
        n_mels=speech.N_MELS if opts["local"] == "mel" else 0,
    )


def train_wavenet(
    train: list[speech.Utterance],
    cfg: WaveNetConfig,
    *,
    epochs: int = 1,
    steps: int = 300,
    batch: int = 8,
    crop: int = 3200,
    lr: float = 2e-3,
    device: str = "auto",
    seed: int = 0,
    quiet: bool = False,
) -> tuple[WaveNet, Any]:
    """A WaveNet trained on random crops of ``train`` with the shared trainer (the recipe's :meth:`Recipe.fit`)."""
    from irkit.nn import Trainer, TrainerConfig, seed_everything

    seed_everything(seed)
    model = WaveNet(cfg)
    trainer = Trainer(TrainerConfig(epochs=epochs, lr=lr, device=device, seed=seed, quiet=quiet, log_every=10))
    history = Recipe().fit(model, train, trainer, {"steps": steps, "batch": batch, "crop": crop})
    return model.cpu(), history


def load_wavenet(model_dir: str | Path) -> tuple[WaveNet, dict]:
    """``(model, meta)`` of a WaveNet model folder, on the CPU."""
    return Recipe().load(model_dir, "cpu")


def evaluate_wavenet(model: WaveNet, test: list[speech.Utterance], unigram_counts: np.ndarray) -> dict[str, float]:
    """Test NLL in bits per sample, overall and per voice, beside the mu-law unigram baseline."""
    out: dict[str, float] = {}
    total, count = 0.0, 0
    groups = {v: [u for u in test if u.voice == v] for v in model.cfg.voices} or {"all": test}
    for v, utts in groups.items():
        n = sum(len(u.audio) for u in utts)
        bits = nll_bits(model, prepare(utts, model.cfg))
        out[f"test NLL {v} (bits/sample)"] = bits
        total, count = total + bits * n, count + n
    out = {"test NLL (bits/sample)": total / count, **out}
    out["mu-law unigram baseline (bits/sample)"] = speech.unigram_bits(unigram_counts, test)
    out["test seconds of audio"] = count / speech.RATE
    return out


class Recipe(GenerativeRecipe):
    """``irkit generate train|sample|eval`` for WaveNet on espeak-ng speech."""

    kind = "wavenet"
    config_cls = WaveNetConfig
    epochs = 1
    train_defaults = TRAIN_DEFAULTS
    sample_defaults = SAMPLE_DEFAULTS
    eval_defaults = {"test_sentences": 0}  # noqa: RUF012  (0: as many as the model was trained with)
    captions = True  # --caption is the text spoken for the local condition
    device = "cpu"
    log_every = 10

    def train_options(self, options: dict[str, Any] | None) -> dict[str, Any]:
        return parse_options(options, TRAIN_DEFAULTS)  # the config is built from these (build_config)

    def build(self, config: WaveNetConfig) -> WaveNet:
        return WaveNet(config)

    def prepare(self, data: str, opts: dict[str, Any]) -> list[speech.Utterance]:
        if data != "speech":
            raise InputError(f"wavenet trains on speech, not {data!r}")
        cfg = build_config(opts)  # bad options fail before any synthesis
        return speech.speech_corpus("train", opts["sentences"], tuple(cfg.voices), quiet=self.quiet)

    def configure(self, prepared: list[speech.Utterance], opts: dict[str, Any]) -> WaveNetConfig:
        return build_config(opts)

    def fit(self, model: WaveNet, prepared: list[speech.Utterance], trainer, opts: dict[str, Any]):
        data = prepare(prepared, model.cfg)
        fit_mel_norm(model, data)
        batches = crop_batches(data, model.cfg, opts["steps"], opts["batch"], opts["crop"], trainer.config.seed)
        return trainer.fit(model, batches)

    def train_meta(self, data: str, prepared: list[speech.Utterance], opts: dict[str, Any], history) -> dict:
        # what sample and evaluate need: the train options and the unigram counts
        return {
            "options": opts,
            "train_loss_bits": [v / np.log(2) for v in history.train_loss],
            "train_seconds": sum(history.seconds),
            "unigram_counts": speech.unigram_counts(prepared).tolist(),
            "protocol": speech.protocol(opts["sentences"], opts["test_sentences"], tuple(speech.VOICES)),
        }

    def summary(self, data: str, prepared, opts: dict[str, Any], model: WaveNet, history, seconds: float) -> dict:
        cfg = model.cfg
        return {
            "receptive field": f"{cfg.receptive_field} samples ({1000 * cfg.receptive_field / speech.RATE:.0f} ms)",
            "train audio": f"{sum(len(u.audio) for u in prepared) / speech.RATE:.0f} s",
            "train loss (bits/sample)": f"{history.train_loss[-1] / np.log(2):.3f}",
            "train seconds": f"{seconds:.0f}",
        }

    def describe(self, config: WaveNetConfig) -> str:
        return ", ".join(
            f"{k} {getattr(config, k)}" for k in ("residual", "gate", "skip", "layers", "cycles", "n_mels")
        )

    # -- sampling: n WAV files (output or output-1.wav...), the references beside them, and a spectrogram PNG
    def check_output(self, output: Path) -> None:
        if output.suffix.lower() != ".wav":
            raise InputError("WaveNet samples are WAV files: give --output a name ending in .wav", output)

    def generate(self, model: WaveNet, n: int, opts: dict[str, Any]) -> dict[str, Any]:
        """Options: ``voice`` (default: the voices in turn), ``seconds``, ``temperature``; for a
        model with log-mel conditioning, where the features come from: ``text`` (or
        ``--caption``) spoken by espeak-ng in the sample's voice (default: the first held-out
        sentence), or ``wav`` (a recording; resampled to 16 kHz unless ``resample=no``).
        """
        cfg = model.cfg
        voices = cfg.voices
        if opts["voice"]:
            speech.voice_index(opts["voice"], voices)
            chosen = [opts["voice"]] * n
        else:
            chosen = [voices[i % len(voices)] for i in range(n)] if voices else []
        length = int(opts["seconds"] * speech.RATE) // cfg.hop * cfg.hop
        if length < cfg.hop:
            raise InputError(f"seconds={opts['seconds']} is shorter than one {cfg.hop}-sample frame")
        refs: list[np.ndarray] = []
        mel = None
        if cfg.n_mels:
            refs = [self._reference(opts, opts["caption"], chosen[i] if chosen else "us-male") for i in range(n)]
            length = min(length, min(len(r) for r in refs) // cfg.hop * cfg.hop)
            if length < cfg.hop:
                raise InputError("the reference audio is shorter than one frame")
            refs = [r[:length] for r in refs]
            mel = torch.from_numpy(np.stack([mel_with_margin(r, cfg) for r in refs]))
        voice = torch.tensor([speech.voice_index(v, voices) for v in chosen]) if voices else None
        g = torch.Generator().manual_seed(opts["seed"])
        codes, _ = model.generate(
            length, voice=voice, mel=mel, batch=n, temperature=opts["temperature"], generator=g, progress_bar=True
        )
        return {"audio": [speech.mulaw_decode(c.numpy()) for c in codes], "refs": refs, "voices": chosen}

    def write(self, samples: dict[str, Any], output: Path, opts: dict[str, Any]) -> Path:
        n, audio, refs, chosen = opts["n"], samples["audio"], samples["refs"], samples["voices"]

        def name(tag: str, i: int) -> Path:
            return output.with_name(f"{output.stem}{tag}{'' if n == 1 else f'-{i + 1}'}.wav")

        panels = []
        for i, a in enumerate(audio):
            who = f"voice {chosen[i]}" if chosen else "no voice"
            speech.write_wav(name("", i), a)
            if refs:
                speech.write_wav(name("-reference", i), refs[i])
                panels.append((f"reference ({who}): its log-mel is the local condition", refs[i]))
            panels.append((f"WaveNet sample {i + 1} ({who}, temperature {opts['temperature']:g})", a))
        speech.spectrogram_png(output.with_suffix(".png"), panels)
        return name("", 0) if n == 1 else output.parent

    @staticmethod
    def _reference(opts: dict, caption: str | None, voice: str) -> np.ndarray:
        if opts["wav"]:
            return speech.read_wav(opts["wav"], resample_to=opts["resample"])
        text = opts["text"] or caption or speech.cranfield_sentences("test")[0]
        return speech.synthesize(text, voice)

    # -- evaluation
    def test_sentences(self, opts: dict[str, Any]) -> int:
        return opts["test_sentences"] or opts["meta"]["options"]["test_sentences"]

    def test_data(self, meta: dict[str, Any], opts: dict[str, Any]) -> list[speech.Utterance]:
        voices = tuple(meta["config"]["voices"])
        return speech.speech_corpus("test", self.test_sentences(opts), voices, quiet=True)

    def score(self, model: WaveNet, data: list[speech.Utterance], opts: dict[str, Any]) -> dict[str, Any]:
        return evaluate_wavenet(model, data, np.asarray(opts["meta"]["unigram_counts"]))

    def report(self, model: WaveNet, data, opts: dict[str, Any]) -> dict[str, Any]:
        sentences = opts["meta"]["options"]["sentences"]
        return {"protocol": speech.protocol(sentences, self.test_sentences(opts), tuple(model.cfg.voices))}
