"""PixelRNN: skewing, causality of both layer kinds (by gradients), normalisation, recipe guards."""

from __future__ import annotations

import pytest
import torch

from irkit.errors import InputError
from irkit.generative import registry
from irkit.generative.images.pixelrnn import PixelRNN, PixelRNNConfig, skew, unskew


def tiny(layer: str, levels: int = 2, height: int = 5, width: int = 6) -> PixelRNN:
    torch.manual_seed(0)
    cfg = PixelRNNConfig(
        height=height, width=width, levels=levels, layer=layer, hidden=6, layers=2, head=16, first_kernel=3
    )
    return PixelRNN(cfg)


def test_skew_layout_and_inverse():
    x = torch.arange(1.0, 13.0).view(1, 1, 3, 4)
    s = skew(x)
    assert s.shape == (1, 1, 3, 6)
    assert s[0, 0].tolist() == [[1, 2, 3, 4, 0, 0], [0, 5, 6, 7, 8, 0], [0, 0, 9, 10, 11, 12]]
    y = torch.randn(2, 3, 5, 7)
    assert torch.equal(unskew(skew(y)), y)


@pytest.mark.parametrize("levels", [2, 256])
@pytest.mark.parametrize("layer", ["row", "diagonal"])
def test_pixelrnn_is_causal(layer, levels, assert_causal):
    assert_causal(tiny(layer, levels), 5, 6)


def context(net: PixelRNN, r: int, c: int, height: int, width: int) -> torch.Tensor:
    x = torch.rand(1, 1, height, width, requires_grad=True)
    logits, _ = net(x)
    logits[0, :, r, c].sum().backward()
    return (x.grad[0, 0] != 0).float()


def test_diagonal_bilstm_sees_whole_rows_above():
    """The Diagonal BiLSTM's context is every row above (the Row LSTM's is a triangle)."""
    h, w = 6, 9
    diag = context(tiny("diagonal", height=h, width=w), 4, 0, h, w)
    assert diag[:3].all()  # rows 0-2 entirely, including far to the right
    row = context(tiny("row", height=h, width=w), 4, 0, h, w)
    assert not row[:3].all()


@pytest.mark.parametrize("layer", ["row", "diagonal"])
def test_density_sums_to_one(layer, total_probability):
    net = tiny(layer, height=3, width=4)
    assert total_probability(net, 3, 4) == pytest.approx(1.0, abs=1e-4)


def test_bad_config_and_wrong_recipe(tmp_path):
    with pytest.raises(InputError, match="layer"):
        PixelRNNConfig(layer="column")
    with pytest.raises(InputError, match="pixelrnn-row"):
        registry.recipe("pixelrnn-diag").train("digits", tmp_path / "m", epochs=1, quiet=True, options={"layer": "row"})
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("layer", ["row", "diagonal"])
def test_rows_below_never_matter(layer):
    """Sampling feeds only rows <= r: the outputs of those rows must not change when the rest is cut off."""
    net = tiny(layer, height=6, width=5)
    x = torch.bernoulli(torch.full((2, 1, 6, 5), 0.5))
    with torch.no_grad():
        full, _ = net(x)
        top, _ = net(x[:, :, :3])
    assert torch.allclose(full[:, :, :3], top, atol=1e-5)
