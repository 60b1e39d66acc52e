"""Checks the autoregressive image models share (PixelCNN, PixelRNN), handed to tests as fixtures:
a test module never imports another."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import torch


def _assert_causal(net: torch.nn.Module, height: int, width: int) -> None:
    """For every pixel i: d output_i / d x_j == 0 for all j >= i in raster order, and != 0 for some j < i."""
    torch.manual_seed(0)
    seen = 0
    for i in range(height * width):
        x = torch.rand(1, 1, height, width, requires_grad=True)
        logits, _ = net(x)
        r, c = divmod(i, width)
        logits[0, :, r, c].sum().backward()
        g = x.grad.flatten()
        assert torch.all(g[i:] == 0), f"output at pixel {i} depends on pixels {torch.nonzero(g[i:]).flatten() + i}"
        seen += int(torch.count_nonzero(g[:i]))
    assert seen > height * width  # the outputs do read the pixels before them


def _total_probability(net: torch.nn.Module, height: int, width: int) -> float:
    """Sum of p(x) over every binary image: 1 for a causal autoregressive model."""
    xs = torch.tensor(list(itertools.product([0.0, 1.0], repeat=height * width))).view(-1, 1, height, width)
    with torch.no_grad():
        return float(torch.exp(-net.nll(xs)).sum())


@pytest.fixture
def assert_causal() -> Callable[[torch.nn.Module, int, int], None]:
    return _assert_causal


@pytest.fixture
def total_probability() -> Callable[[torch.nn.Module, int, int], float]:
    return _total_probability
