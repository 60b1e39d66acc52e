"""Captioned composites and AlignDRAW: captions match pixels, held-out pairs stay out, the model, the recipe, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from irkit.errors import InputError
from irkit.generative import registry
from irkit.generative.images import captions as cap
from irkit.generative.images.aligndraw import AlignDRAW, AlignDRAWConfig


@pytest.fixture(scope="module")
def train_set():
    return cap.composites("train", 1500, seed=0)


def test_captions_say_where_the_digit_is(train_set):
    d = train_set
    assert d["images"].shape == (1500, 1, cap.CANVAS, cap.CANVAS) and d["tokens"].shape == (1500, 8)
    assert set(np.unique(d["images"])) == {0.0, 1.0}
    half = cap.CANVAS // 2
    ys, xs = np.mgrid[: cap.CANVAS, : cap.CANVAS]
    for img, text, digit in zip(d["images"][:200, 0], d["captions"][:200], d["digits"][:200], strict=True):
        mass = img.sum()
        cy, cx = (img * ys).sum() / mass, (img * xs).sum() / mass
        assert (cy < half) == ("top" in text) and (cx < half) == ("left" in text)
        assert f"digit {digit} " in text


def test_held_out_pairs_never_in_training(train_set):
    held = {cap.caption(d, p) for d, p in cap.HELD_OUT}
    assert held.isdisjoint(train_set["captions"])
    assert len(set(train_set["captions"])) == 40 - len(cap.HELD_OUT)  # every seen pair does occur
    unseen = cap.composites("unseen", 300, seed=1)
    assert set(unseen["captions"]) == held
    # every word of a held-out caption is in the vocabulary (so the model can be asked for it)
    assert all(cap.tokenize(c) for c in held)


def test_composites_are_reproducible_and_use_the_split():
    a, b = cap.composites("seen", 50, seed=7), cap.composites("seen", 50, seed=7)
    assert np.array_equal(a["images"], b["images"]) and a["captions"] == b["captions"]
    c = cap.composites("seen", 50, seed=8)
    assert not np.array_equal(a["images"], c["images"])
    with pytest.raises(InputError):
        cap.composites("test", 5, seed=0)


def test_tokenize_names_unknown_words():
    assert cap.tokenize("The digit 3 is at the top left.") == cap.tokenize("the digit 3 is at the top left")
    with pytest.raises(InputError, match="outside the vocabulary") as e:
        cap.tokenize("the digit 3 is in the middle")
    assert "'in'" in str(e.value) and "'middle'" in str(e.value) and "'digit'" not in str(e.value)
    with pytest.raises(InputError, match="empty"):
        cap.tokenize("  ")


def tiny_model() -> AlignDRAW:
    torch.manual_seed(0)
    return AlignDRAW(AlignDRAWConfig(embed=8, lang=8, align=8, steps=3, infer=16, gen=16, z=4, read_n=2, write_n=3))


def test_model_shapes_alignment_and_conditioning():
    model = tiny_model()
    d = cap.composites("seen", 4, seed=0)
    x, t = torch.from_numpy(d["images"]), torch.from_numpy(d["tokens"])
    out, loss = model(x, t)
    assert out is None and torch.isfinite(loss) and loss > 0
    assert model.log_weights(x, t, 3).shape == (4, 3)
    frames, alpha = model.generate(t)
    assert frames.shape == (4, 3, 1, cap.CANVAS, cap.CANVAS) and alpha.shape == (4, 3, 8)
    assert torch.allclose(alpha.sum(2), torch.ones(4, 3), atol=1e-5)
    # the same noise with another caption gives another drawing: the caption steers generation
    other = torch.tensor([cap.tokenize("the digit 8 is at the bottom right")] * 4)
    torch.manual_seed(5)
    f1, _ = model.generate(t)
    torch.manual_seed(5)
    f2, _ = model.generate(other)
    assert not torch.allclose(f1, f2)
    # temperature 0 draws the prior means: no randomness left
    assert torch.equal(model.generate(t, temperature=0.0)[0], model.generate(t, temperature=0.0)[0])


def test_prior_is_learned_not_standard_normal():
    model = tiny_model()
    mu, logvar = model.prior_params(torch.randn(2, 16))
    assert mu.abs().max() <= 1 and logvar.abs().max() <= 2 and mu.abs().sum() > 0
    assert any(p.requires_grad for p in model.prior.parameters())


TINY = {"embed": "8", "lang": "8", "align": "8", "steps": "2", "infer": "16", "gen": "16", "z": "4", "per_epoch": "128"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("aligndraw") / "m"
    registry.recipe("aligndraw").train("mnist-captions", path, epochs=1, device="cpu", seed=0, quiet=True, options=TINY)
    return path


def test_recipe_sample_unseen_captions_and_eval(folder, tmp_path):
    meta = json.loads((folder / "model.json").read_text())
    assert meta["kind"] == "aligndraw" and len(meta["held_out"]) == len(cap.HELD_OUT)
    recipe = registry.recipe("aligndraw")
    img = np.asarray(Image.open(recipe.sample(folder, 12, tmp_path / "unseen.png")))
    rows = len(cap.HELD_OUT)
    assert img.shape[0] == rows * (cap.CANVAS + 2) + 2  # one row per held-out caption
    one = recipe.sample(folder, 3, tmp_path / "one.png", caption="the digit 0 is at the bottom right")
    assert one.exists()
    result = recipe.evaluate(folder, options={"n": "20"})
    assert math.isfinite(result["nll"]) and math.isfinite(result["nll_unseen_captions"])
    assert "held out" in result["protocol"] and result["baseline_nll"] > 0


def test_bad_input(folder, tmp_path, monkeypatch, capsys, cli):
    out = tmp_path / "x.png"
    code, _, err = cli("generate", "sample", str(folder), "-o", str(out), "--caption", "a digit 3 in the middle")
    assert code == 2 and "'middle'" in err and "'in'" in err and "'a'" in err and "Traceback" not in err
    assert not out.exists()
    with pytest.raises(InputError, match="mnist-captions"):
        registry.recipe("aligndraw").train("mnist", tmp_path / "m", epochs=1, quiet=True)
    # a checkpoint of another model
    other = tmp_path / "pcnn"
    registry.recipe("pixelcnn").train("digits", other, epochs=1, quiet=True, options={"features": "4", "blocks": "1"})
    with pytest.raises(InputError, match="'pixelcnn' model"):
        registry.recipe("aligndraw").sample(other, 2, out, caption="the digit 1 is at the top left")
    with pytest.raises(InputError, match="'aligndraw' model"):
        registry.recipe("pixelcnn").evaluate(folder)
