"""WaveNet: causality, the generation cache against the full computation, training, the CLI."""

from __future__ import annotations

import subprocess
import sys
import wave

import numpy as np
import pytest
import torch

from irkit.errors import InputError
from irkit.generative.audio import speech
from irkit.generative.audio.wavenet import MEL_MARGIN, WaveNet, WaveNetConfig, crop_batches, nll_bits, prepare

needs_espeak = pytest.mark.skipif(
    speech.espeak_path() is None,
    reason="espeak-ng is not installed (scripts/setup.sh installs it with apt where it can)",
)


def tiny(n_mels: int = speech.N_MELS, voices=("us-male", "gb-female"), layers: int = 4, cycles: int = 2) -> WaveNet:
    torch.manual_seed(0)
    cfg = WaveNetConfig(residual=8, gate=8, skip=16, layers=layers, cycles=cycles, voices=list(voices), n_mels=n_mels)
    model = WaveNet(cfg).eval()
    if n_mels:  # a non-trivial standardisation, so the test covers it
        model.mel_mean.normal_()
        model.mel_std.uniform_(0.5, 2)
    return model


def inputs(model: WaveNet, batch: int = 2, frames: int = 4, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    cfg = model.cfg
    n = frames * cfg.hop
    codes = torch.randint(0, 256, (batch, n), generator=g)
    x = torch.cat([torch.full((batch, 1), speech.SILENCE), codes[:, :-1]], dim=1)
    voice = torch.arange(batch) % len(cfg.voices) if cfg.voices else None
    mel = torch.randn(batch, cfg.n_mels, frames + 2 * MEL_MARGIN, generator=g) if cfg.n_mels else None
    return codes, x, voice, mel


def test_causal_and_receptive_field():
    model = tiny(n_mels=0).double()  # float64: the longest path's effect is tiny, and must not round away
    rf = model.cfg.receptive_field
    assert rf == 1 + 2 * (1 + 2 + 4 + 8)
    _, x, voice, _ = inputs(model, batch=1)
    with torch.no_grad():
        base, _ = model(x, voice=voice)
        t0 = 200
        y = x.clone()
        y[0, t0] = (y[0, t0] + 128) % 256
        changed, _ = model(y, voice=voice)
    diff = (changed - base).abs().amax(-1)[0]
    assert diff[:t0].max() == 0  # nothing before t0 sees the change
    assert diff[t0] > 1e-4  # the position that reads it does
    assert diff[t0 + rf - 1] > 0 and diff[t0 + rf :].max() == 0  # and its influence ends with the receptive field


def test_causal_gradient_with_mel_condition():
    model = tiny()
    _, x, voice, mel = inputs(model, batch=1)
    emb = model.embed(x).detach().requires_grad_(True)
    # Run the stack from the embeddings to take gradients with respect to the inputs.
    cond = model._cond(voice, mel)
    h, skip = emb, 0.0
    for i, layer in enumerate(model.layers):
        h, s = layer(h, model._layer_cond(cond, i))
        skip = skip + s
    logits = model.out2(torch.relu(model.out1(torch.relu(skip))))
    t = 300
    logits[0, t].sum().backward()
    g = emb.grad[0].abs().sum(-1)
    assert g[t + 1 :].max() == 0 and g[t] > 0


@pytest.mark.parametrize(
    "n_mels,voices", [(0, ()), (0, ("us-male", "gb-female")), (speech.N_MELS, ("us-male", "gb-female"))]
)
def test_cached_generation_agrees_with_full_computation(n_mels, voices):
    model = tiny(n_mels=n_mels, voices=voices)
    codes, x, voice, mel = inputs(model, frames=3)
    with torch.no_grad():
        full, _ = model(x, voice=voice, mel=mel)
    _, cached = model.generate(codes.shape[1], voice=voice, mel=mel, teacher=codes, batch=2)
    assert cached.shape == full.shape
    assert torch.allclose(cached, full, atol=1e-5), (cached - full).abs().max()
    # The uncached reference (a forward pass over each receptive field) gives the same logits too.
    _, window = model.generate(codes.shape[1], voice=voice, mel=mel, teacher=codes, batch=2, cache=False)
    assert torch.allclose(window, full, atol=1e-5)


def test_cached_and_uncached_samples_are_the_same_draws():
    model = tiny()
    _, _, voice, mel = inputs(model, frames=2)
    n = 2 * model.cfg.hop
    a, _ = model.generate(n, voice=voice, mel=mel, generator=torch.Generator().manual_seed(3))
    b, _ = model.generate(n, voice=voice, mel=mel, generator=torch.Generator().manual_seed(3), cache=False)
    c, _ = model.generate(n, voice=voice, mel=mel, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() < 256


def test_wrong_conditions_are_refused():
    model = tiny()
    _, x, voice, mel = inputs(model)
    with pytest.raises(InputError, match="needs a voice"):
        model(x, mel=mel)
    with pytest.raises(InputError, match="log-mel"):
        model(x, voice=voice)
    with pytest.raises(InputError, match="do not cover"):
        model(x[:, :-1], voice=voice, mel=mel)


def _fake_utterances(n: int = 4, seconds: float = 0.4) -> list[speech.Utterance]:
    # Two "voices" of harmonic tones at different pitches: learnable, with no espeak needed.
    out = []
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * speech.RATE)) / speech.RATE
    for i in range(n):
        for v, f0 in (("us-male", 110.0), ("gb-female", 220.0)):
            x = 0.3 * np.sin(2 * np.pi * f0 * (1 + 0.05 * i) * t) * np.hanning(len(t)) + 0.003 * rng.standard_normal(
                len(t)
            )
            out.append(speech.Utterance(f"tone {i}", v, x.astype(np.float32)))
    return out


def test_training_beats_the_unigram_baseline():
    from irkit.generative.audio.wavenet import train_wavenet

    utts = _fake_utterances()
    train, test = utts[:6], utts[6:]
    cfg = WaveNetConfig(residual=16, gate=16, skip=32, layers=6, cycles=1)
    model, history = train_wavenet(train, cfg, steps=60, batch=4, crop=1600, lr=5e-3, quiet=True)
    bits = nll_bits(model, prepare(test, cfg))
    base = speech.unigram_bits(speech.unigram_counts(train), test)
    assert history.train_loss[-1] < history.train_loss[0] if len(history.train_loss) > 1 else True
    assert bits < base - 1.0, (bits, base)


def test_crops_score_only_samples_with_their_whole_past():
    cfg = WaveNetConfig(residual=8, gate=8, skip=16, layers=4, cycles=1)
    data = prepare(_fake_utterances(1), cfg)
    x, y, voice, mel = next(iter(crop_batches(data, cfg, steps=1, batch=16, crop=1600, seed=0)(1)))
    assert x.shape == y.shape == (16, 1600) and voice.shape == (16,)
    assert mel.shape == (16, speech.N_MELS, 1600 // cfg.hop + 2 * MEL_MARGIN)
    scored = (y != -100).sum(1)
    assert set(scored.tolist()) <= {1600, 1600 - (cfg.receptive_field - 1)}


def test_nll_in_chunks_equals_one_pass():
    model = tiny()
    data = prepare(_fake_utterances(1, seconds=0.3), model.cfg)
    assert nll_bits(model, data, chunk=1600) == pytest.approx(nll_bits(model, data, chunk=10**6), rel=1e-5)


@needs_espeak
def test_cli_train_sample_eval(tmp_path):
    from typer.testing import CliRunner

    from irkit.cli.app import app

    runner = CliRunner()
    model_dir = tmp_path / "wn"
    opts = "sentences=2 test_sentences=1 steps=4 batch=2 crop=1600 layers=4 cycles=1 residual=8 gate=8 skip=16"
    args = ["generate", "train", "wavenet", "--data", "speech", "--output", str(model_dir), "--quiet"]
    for o in opts.split():
        args += ["--option", o]
    r = runner.invoke(app, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "receptive field" in r.output

    out = tmp_path / "x.wav"
    r = runner.invoke(
        app,
        ["generate", "sample", str(model_dir), "--n", "1", "--output", str(out), "--option", "voice=gb-female",
         "--option", "seconds=0.05"],
        catch_exceptions=False,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (16000, 2, 1)
        assert w.getnframes() == 800
    assert out.with_suffix(".png").stat().st_size > 1000

    r = runner.invoke(app, ["generate", "eval", str(model_dir)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "test NLL (bits/sample)" in r.output and "mu-law unigram baseline" in r.output

    # Local features from a recording at another rate: resampled, or refused when asked to.
    rate = 22050
    t = np.arange(rate // 10) / rate
    rec = tmp_path / "rec22k.wav"
    with wave.open(str(rec), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((0.3 * np.sin(2 * np.pi * 200 * t) * 32767).astype("<i2").tobytes())
    base = ["generate", "sample", str(model_dir), "--n", "1", "--option", f"wav={rec}"]
    r = runner.invoke(app, [*base, "--output", str(tmp_path / "r.wav"), "--option", "resample=no"])
    assert isinstance(r.exception, InputError) and "22050 Hz" in str(r.exception)
    r = runner.invoke(app, [*base, "--output", str(tmp_path / "r.wav")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    with wave.open(str(tmp_path / "r.wav")) as w:
        assert w.getframerate() == 16000 and w.getnframes() == 1600  # 0.1 s of features -> 0.1 s of audio
    r = runner.invoke(app, [*base, "--output", str(tmp_path / "r.mp3")])
    assert isinstance(r.exception, InputError) and ".wav" in str(r.exception)

    # An unknown voice: one line naming the known voices, exit 2, no traceback.
    p = subprocess.run(
        [sys.executable, "-m", "irkit", "generate", "sample", str(model_dir), "--n", "1", "--output",
         str(tmp_path / "y.wav"), "--option", "voice=nobody"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert p.returncode == 2
    assert "unknown voice 'nobody'; known voices: us-male, gb-female" in p.stderr
    assert "Traceback" not in p.stderr
