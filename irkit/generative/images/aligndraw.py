"""AlignDRAW (Mansimov, Parisotto, Ba and Salakhutdinov, 2016): DRAW conditioned on a caption.

The caption goes through a bidirectional LSTM (one state per word). At each of
the T steps:

* an *alignment* over the words, computed from the previous generative state,
  gives a sentence vector ``s_t = sum_l alpha_l h_lang_l``;
* the *prior* is learned: ``p(z_t | z_<t) = N(mu(h_gen_{t-1}), sigma(h_gen_{t-1}))``
  (``mu = tanh(.)``, ``sigma = exp(tanh(.))`` as in the paper), not N(0, I);
* the inference LSTM reads the image and error image with DRAW's attention and
  gives ``q(z_t | x, z_<t)``; the generative LSTM takes ``[z_t, s_t]`` and
  writes to the canvas.

The loss is Bernoulli NLL of the image plus ``sum_t KL(q_t || p_t)``: a bound on
``-log p(image | caption)`` in nats. Sampling draws ``z_t`` from the learned
prior, so the caption alone steers the drawing. Data: :mod:`captions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from irkit.errors import InputError
from irkit.generative.distributions import gaussian_kl, normal_log_prob
from irkit.generative.images import captions as cap
from irkit.generative.images.common import ImageRecipe, importance_nll, pixel_logits
from irkit.generative.images.data import bernoulli_baseline_nll
from irkit.generative.images.draw import Reader, Writer


@dataclass
class AlignDRAWConfig:
    channels: int = 1
    height: int = cap.CANVAS
    width: int = cap.CANVAS
    vocab: int = len(cap.VOCAB)
    embed: int = 32  # word embedding size
    lang: int = 64  # caption BiLSTM size per direction
    align: int = 64  # alignment MLP size
    steps: int = 16
    infer: int = 256  # inference LSTM size
    gen: int = 256  # generative LSTM size
    z: int = 16
    read_n: int = 5
    write_n: int = 5
    canvas_bias: bool = True  # start from a learned canvas, not zeros (see draw.py)

    def __post_init__(self) -> None:
        if min(self.vocab, self.embed, self.lang, self.align, self.steps, self.infer, self.gen, self.z) < 1:
            raise InputError("every AlignDRAW size must be positive")


class Alignment(nn.Module):
    """``alpha_l ∝ exp(v^T tanh(U h_lang_l + W h_gen + b))``; returns the weighted sum and the weights."""

    def __init__(self, lang: int, gen: int, size: int):
        super().__init__()
        self.u = nn.Linear(lang, size)
        self.w = nn.Linear(gen, size, bias=False)
        self.v = nn.Linear(size, 1, bias=False)

    def forward(self, h_lang: torch.Tensor, u_lang: torch.Tensor, h_gen: torch.Tensor):
        scores = self.v(torch.tanh(u_lang + self.w(h_gen)[:, None])).squeeze(2)  # (B, L)
        alpha = torch.softmax(scores, 1)
        return (alpha[:, :, None] * h_lang).sum(1), alpha


class AlignDRAW(nn.Module):
    def __init__(self, config: AlignDRAWConfig):
        super().__init__()
        self.config = cfg = config
        self.embed = nn.Embedding(cfg.vocab, cfg.embed)
        self.language = nn.LSTM(cfg.embed, cfg.lang, batch_first=True, bidirectional=True)
        self.alignment = Alignment(2 * cfg.lang, cfg.gen, cfg.align)
        self.prior = nn.Linear(cfg.gen, 2 * cfg.z)
        self.reader = Reader(cfg.gen, cfg.height, cfg.width, cfg.read_n, attention=True)
        self.inference = nn.LSTMCell(self.reader.size + cfg.gen, cfg.infer)
        self.posterior = nn.Linear(cfg.infer, 2 * cfg.z)
        self.generative = nn.LSTMCell(cfg.z + 2 * cfg.lang, cfg.gen)
        self.writer = Writer(cfg.gen, cfg.height, cfg.width, cfg.write_n, attention=True)
        self.canvas0 = nn.Parameter(torch.zeros(cfg.height, cfg.width), requires_grad=cfg.canvas_bias)

    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Word states (B, L, 2 lang) and their projection for the alignment (computed once per caption)."""
        h_lang, _ = self.language(self.embed(tokens))
        return h_lang, self.alignment.u(h_lang)

    def prior_params(self, h_gen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, s = self.prior(h_gen).chunk(2, 1)
        return torch.tanh(mu), 2 * torch.tanh(s)  # mean, log variance (sigma = exp(tanh(.)))

    def _zeros(self, b: int, size: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return like.new_zeros(b, size), like.new_zeros(b, size)

    def glimpses(self, x: torch.Tensor, tokens: torch.Tensor):
        """``(canvas logits (B, H, W), [(z, mu_q, logvar_q, mu_p, logvar_p)] per step)``."""
        cfg = self.config
        x = x.reshape(-1, cfg.height, cfg.width)
        b = x.shape[0]
        h_lang, u_lang = self.encode(tokens)
        canvas = self.canvas0.expand(b, -1, -1)
        inf, gen = self._zeros(b, cfg.infer, x), self._zeros(b, cfg.gen, x)
        steps = []
        for _ in range(cfg.steps):
            s, _ = self.alignment(h_lang, u_lang, gen[0])
            mu_p, logvar_p = self.prior_params(gen[0])
            r = self.reader(x, x - torch.sigmoid(canvas), gen[0])
            inf = self.inference(torch.cat([r, gen[0]], 1), inf)
            mu_q, logvar_q = self.posterior(inf[0]).chunk(2, 1)
            z = mu_q + torch.randn_like(mu_q) * torch.exp(0.5 * logvar_q)
            steps.append((z, mu_q, logvar_q, mu_p, logvar_p))
            gen = self.generative(torch.cat([z, s], 1), gen)
            canvas = canvas + self.writer(gen[0])
        return canvas, steps

    def bound(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Negative ELBO of ``-log p(x | caption)`` in nats per image, (B,)."""
        canvas, steps = self.glimpses(x, tokens)
        nll = F.binary_cross_entropy_with_logits(canvas, x.reshape(canvas.shape), reduction="none").flatten(1).sum(1)
        return nll + sum(gaussian_kl(mq, lq, mp, lp) for _, mq, lq, mp, lp in steps)

    def log_weights(self, x: torch.Tensor, tokens: torch.Tensor, k: int) -> torch.Tensor:
        """``log p(x, z | caption) - log q(z | x, caption)`` for ``k`` draws per image: (B, k)."""
        xk, tk = x.repeat_interleave(k, 0), tokens.repeat_interleave(k, 0)
        canvas, steps = self.glimpses(xk, tk)
        logw = -F.binary_cross_entropy_with_logits(canvas, xk.reshape(canvas.shape), reduction="none").flatten(1).sum(1)
        for z, mq, lq, mp, lp in steps:
            logw = logw + normal_log_prob(z, mp, lp) - normal_log_prob(z, mq, lq)
        return logw.view(-1, k)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, 1, H, W) binary, ``tokens`` (B, L) -> (None, mean bound in nats per image)."""
        return None, self.bound(x, tokens).mean()

    @torch.no_grad()
    def generate(self, tokens: torch.Tensor, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """One drawing per caption row of ``tokens``, ``z_t`` from the learned prior (its standard
        deviation scaled by ``temperature``; 0 draws the prior means): canvases ``sigmoid(c_t)``
        (B, T, 1, H, W) and alignments (B, T, L)."""
        cfg = self.config
        b = tokens.shape[0]
        h_lang, u_lang = self.encode(tokens)
        canvas = self.canvas0.expand(b, -1, -1)
        gen = self._zeros(b, cfg.gen, canvas)
        frames, alphas = [], []
        for _ in range(cfg.steps):
            s, alpha = self.alignment(h_lang, u_lang, gen[0])
            mu_p, logvar_p = self.prior_params(gen[0])
            z = mu_p + temperature * torch.randn_like(mu_p) * torch.exp(0.5 * logvar_p)
            gen = self.generative(torch.cat([z, s], 1), gen)
            canvas = canvas + self.writer(gen[0])
            frames.append(torch.sigmoid(canvas))
            alphas.append(alpha)
        return torch.stack(frames, 1)[:, :, None], torch.stack(alphas, 1)


class Recipe(ImageRecipe):
    """AlignDRAW on captioned MNIST composites (``--data mnist-captions``)."""

    kind = "aligndraw"
    config_cls = AlignDRAWConfig
    epochs = 12
    data_fields = ("channels", "height", "width", "vocab")
    train_defaults = {"batch_size": 32, "lr": 2e-3, "grad_clip": 10.0, "per_epoch": 8000}  # noqa: RUF012
    eval_defaults = {"k": 1, "batch": 100, "chunk": 100, "device": "auto", "n": 2000}  # noqa: RUF012 (n: composites per split)
    sample_defaults = {"device": "auto", "frames": False, "temperature": 1.0}  # noqa: RUF012
    captions = True
    scale = 1
    test_seed = 12345  # the fixed test composites

    def build(self, config: AlignDRAWConfig) -> AlignDRAW:
        return AlignDRAW(config)

    def prepare(self, data: str, opts: dict[str, Any]) -> str:
        if data != "mnist-captions":
            raise InputError(f"aligndraw trains on mnist-captions, not {data!r}")
        return data  # composites are drawn afresh every epoch, in fit

    def data_config(self, prepared: str) -> dict[str, Any]:
        return {"channels": 1, "height": cap.CANVAS, "width": cap.CANVAS, "vocab": len(cap.VOCAB)}

    def fit(self, model: AlignDRAW, prepared: str, trainer, opts: dict[str, Any]):
        seed = trainer.config.seed
        if model.config.canvas_bias:
            with torch.no_grad():
                model.canvas0.copy_(pixel_logits(cap.composites("train", 2000, seed=seed)["images"])[0])

        def batches(epoch: int):
            # fresh composites every epoch: new digit/jitter/position draws from the same training digits
            d = cap.composites("train", opts["per_epoch"], seed=seed * 1000 + epoch)
            images, tokens = torch.from_numpy(d["images"]), torch.from_numpy(d["tokens"])
            for i in range(0, len(images), opts["batch_size"]):
                yield images[i : i + opts["batch_size"]], tokens[i : i + opts["batch_size"]]

        return trainer.fit(model, batches)

    def train_meta(self, data: str, prepared: str, opts: dict[str, Any], history) -> dict[str, Any]:
        return {
            "binarize": "threshold",
            "vocab": list(cap.VOCAB),
            "held_out": [cap.caption(d, p) for d, p in cap.HELD_OUT],
        }

    def protocol(self, data: str, opts: dict[str, Any]) -> str:
        return protocol()

    def generate(self, model: AlignDRAW, n: int, opts: dict[str, Any]):
        """``n`` drawings of ``caption``; without one, a row for each held-out (never seen) caption.

        ``-O temperature=0`` draws the prior means (one clean drawing per caption), ``-O frames=1``
        the canvas after every step.
        """
        from irkit.progress import log

        meta, caption = opts["meta"], opts["caption"]
        texts = [caption] if caption is not None else list(meta["held_out"])
        ids = [cap.tokenize(t, meta["vocab"]) for t in texts]  # bad words fail before any drawing
        seen = {cap.caption(d, p) for d, p in cap.pairs("seen")}
        for t in texts:
            norm = " ".join(cap.words(t))
            status = (
                "held out of training" if norm in meta["held_out"] else "seen in training" if norm in seen else "new"
            )
            log(f"caption {t!r}: {status}")
        per_row = n if caption is not None else max(1, -(-n // len(texts)))
        device = next(model.parameters()).device
        if opts["temperature"] < 0:
            raise InputError(f"temperature must be at least 0, not {opts['temperature']}")
        rows = [model.generate(torch.tensor([i] * per_row, device=device), opts["temperature"])[0] for i in ids]
        frames = torch.cat(rows)
        if opts["frames"]:
            return frames.flatten(0, 1), frames.shape[1]
        return frames[:, -1], min(per_row, 8) if caption is not None else per_row

    def test_data(self, meta: dict[str, Any], opts: dict[str, Any]) -> None:
        return None  # the seen and unseen composites are drawn in score, from the fixed test seed

    def score(self, model: AlignDRAW, data: None, opts: dict[str, Any]) -> dict[str, Any]:
        device, k, n = opts["device"], opts["k"], opts["n"]
        if n < 1 or k < 1:
            raise InputError(f"n and k must be at least 1, not n={n}, k={k}")
        result: dict[str, Any] = {}
        for split in ("seen", "unseen"):
            d = cap.composites(split, n, seed=self.test_seed)
            x, t = torch.from_numpy(d["images"]), torch.from_numpy(d["tokens"])
            if k == 1:
                nll = torch.cat(
                    [model.bound(x[i].to(device), t[i].to(device)).cpu() for i in torch.arange(n).split(opts["batch"])]
                )
            else:  # importance_nll batches image indices; the weights look the images and captions up
                nll = torch.from_numpy(
                    importance_nll(
                        lambda i, kk, x=x, t=t: model.log_weights(x[i].to(device), t[i].to(device), kk),
                        torch.arange(n),
                        k,
                        batch=opts["batch"],
                        chunk=opts["chunk"],
                    )
                )
            result["nll" if split == "seen" else "nll_unseen_captions"] = float(nll.mean())
        result["estimator"] = (
            "variational bound (negative ELBO, exact KLs)" if k == 1 else f"importance sampling, k={k}"
        )
        return result

    def report(self, model: AlignDRAW, data: None, opts: dict[str, Any]) -> dict[str, Any]:
        n = opts["n"]
        train = cap.composites("train", 8000, seed=self.test_seed)["images"]
        return {
            "baseline_nll": bernoulli_baseline_nll(train, cap.composites("seen", n, seed=self.test_seed)["images"]),
            "protocol": protocol() + f", {n} test composites per split (seed {self.test_seed})",
        }


def protocol() -> str:
    return (
        f"captioned MNIST composites: one digit of the t10k split 8000/2000 on a {cap.CANVAS}x{cap.CANVAS} canvas, "
        f"threshold binarisation, {len(cap.HELD_OUT)} digit/position pairs held out of training"
    )
