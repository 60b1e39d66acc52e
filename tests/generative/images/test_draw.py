"""DRAW: filterbank shapes and placement, read/write sizes, the bound, the recipe and its guards."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from irkit.errors import InputError
from irkit.generative import registry
from irkit.generative.distributions import gaussian_kl
from irkit.generative.images.draw import DRAW, DRAWConfig, Reader, Writer, filterbank


def test_filterbank_shapes_and_normalisation():
    params = torch.randn(3, 5) * 0.3
    params[:, 3] = -1.0  # a narrow grid: filters far off the image would be all zeros
    fx, fy, gamma = filterbank(params, n=4, height=7, width=11)
    assert fx.shape == (3, 4, 11) and fy.shape == (3, 4, 7) and gamma.shape == (3,)
    assert torch.allclose(fx.sum(2), torch.ones(3, 4), atol=1e-5)
    assert torch.allclose(fy.sum(2), torch.ones(3, 4), atol=1e-5)
    assert torch.all(gamma > 0)


def test_filterbank_centre_and_stride():
    """Zero parameters: filters centred on the image, one pixel of variance, stride (max(H, W) - 1) / (N - 1)."""
    fx, fy, _ = filterbank(torch.zeros(1, 5), n=3, height=9, width=9)
    centres = (fx[0] * torch.arange(9.0)).sum(1)  # mean position of each filter
    assert torch.allclose(centres, torch.tensor([0.5, 4.0, 7.5]), atol=0.6)  # edges pull the outer ones in
    assert int(fx[0, 1].argmax()) == 4 and int(fy[0, 1].argmax()) == 4
    # moving the centre parameter to +1 moves the middle filter to the last pixel
    fx, _, _ = filterbank(torch.tensor([[1.0, 0, 0, 0, 0]]), n=3, height=9, width=9)
    assert int(fx[0, 1].argmax()) == 8


@pytest.mark.parametrize("attention", [True, False])
def test_read_write_sizes(attention):
    reader, writer = Reader(16, 7, 11, 3, attention), Writer(16, 7, 11, 4, attention)
    x, h = torch.rand(2, 7, 11), torch.randn(2, 16)
    r = reader(x, x - 0.5, h)
    assert r.shape == (2, 2 * 3 * 3 if attention else 2 * 7 * 11) and reader.size == r.shape[1]
    assert writer(h).shape == (2, 7, 11)


def test_gaussian_kl_matches_torch():
    mu, lv, mp, lp = torch.randn(4, 6), torch.randn(4, 6), torch.randn(4, 6), torch.randn(4, 6)
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, (0.5 * lv).exp()), torch.distributions.Normal(mp, (0.5 * lp).exp())
    ).sum(-1)
    assert torch.allclose(gaussian_kl(mu, lv, mp, lp), ref, atol=1e-5)
    assert torch.allclose(gaussian_kl(mu, lv), gaussian_kl(mu, lv, torch.zeros(4, 6), torch.zeros(4, 6)), atol=1e-6)


@pytest.mark.parametrize("attention", [True, False])
def test_bound_weights_and_generation(attention):
    torch.manual_seed(0)
    model = DRAW(DRAWConfig(height=8, width=10, steps=3, enc=16, dec=16, z=4, attention=attention, read_n=2, write_n=3))
    x = torch.bernoulli(torch.full((5, 1, 8, 10), 0.3))
    probs, loss = model(x)
    assert probs.shape == (5, 1, 8, 10) and loss > 0 and torch.isfinite(loss)
    lw = model.log_weights(x, 7)
    assert lw.shape == (5, 7) and torch.all(lw < 0)
    # the mean single-sample weight estimates the same bound as the exact-KL one
    torch.manual_seed(1)
    with torch.no_grad():
        many, exact = -model.log_weights(x, 400).mean(), model.bound(x)[1].mean()
    assert float(many) == pytest.approx(float(exact), rel=0.02)
    frames = model.generate(4)
    assert frames.shape == (4, 3, 1, 8, 10) and frames.min() >= 0 and frames.max() <= 1


def test_bad_config():
    with pytest.raises(InputError):
        DRAWConfig(steps=0)
    with pytest.raises(InputError):
        DRAWConfig(channels=3)


TINY = {"steps": "3", "enc": "32", "dec": "32", "z": "4", "batch_size": "64"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("draw")
    for kind in ("draw", "draw-noattn"):
        registry.recipe(kind).train("digits", root / kind, epochs=1, device="cpu", seed=0, quiet=True, options=TINY)
    return root


@pytest.mark.parametrize("kind", ["draw", "draw-noattn"])
def test_recipe_train_sample_frames_eval(folders, kind, tmp_path):
    folder = folders / kind
    meta = json.loads((folder / "model.json").read_text())
    assert meta["kind"] == kind and meta["config"]["attention"] == (kind == "draw")
    recipe = registry.recipe(kind)
    grid = np.asarray(Image.open(recipe.sample(folder, 5, tmp_path / "g.png")))
    strip = np.asarray(Image.open(recipe.sample(folder, 5, tmp_path / "f.png", options={"frames": "1"})))
    assert strip.shape[0] > grid.shape[0] * 0.9 and strip.shape[1] < grid.shape[1]  # 5 rows of 3 frames vs 1 row of 5
    result = recipe.evaluate(folder, options={"limit": "30"})
    assert math.isfinite(result["nll"]) and "bound" in result["estimator"] and "digits" in result["protocol"]
    is_result = recipe.evaluate(folder, options={"limit": "30", "k": "10"})
    assert is_result["nll"] <= result["nll"] + 1.0 and "k=10" in is_result["estimator"]


def test_guards(folders, tmp_path, monkeypatch, capsys, cli):
    with pytest.raises(InputError, match="draw-noattn"):
        registry.recipe("draw").train("digits", tmp_path / "m", epochs=1, quiet=True, options={"attention": "0"})
    with pytest.raises(InputError, match="unknown option"):
        registry.recipe("draw").train("digits", tmp_path / "m", epochs=1, quiet=True, options={"glimpses": "3"})
    # a checkpoint of another model: one clear line, exit 2
    with pytest.raises(InputError, match="'draw-noattn' model"):
        registry.recipe("draw").evaluate(folders / "draw-noattn")
    code, _, err = cli("generate", "sample", folders / "draw", "-o", tmp_path / "x.png", "--caption", "a digit")
    assert code == 2 and "not caption-conditioned" in err and "Traceback" not in err
