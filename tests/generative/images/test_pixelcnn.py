"""PixelCNN: the masks are causal (by gradients), the density is normalised, it learns the digits."""

from __future__ import annotations

import math

import pytest
import torch

from irkit.errors import InputError
from irkit.generative.images.common import baseline_nll, binary_split, epoch_batches
from irkit.generative.images.pixelcnn import MaskedConv2d, PixelCNN, PixelCNNConfig
from irkit.nn import Trainer, TrainerConfig


def test_mask_patterns():
    a, b = MaskedConv2d("A", 1, 1, 3).mask[0, 0], MaskedConv2d("B", 1, 1, 3).mask[0, 0]
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    assert MaskedConv2d("B", 1, 1, (1, 3)).mask[0, 0].tolist() == [[1, 1, 0]]
    with pytest.raises(ValueError):
        MaskedConv2d("C", 1, 1, 3)


@pytest.mark.parametrize("levels", [2, 256])
def test_pixelcnn_is_causal(levels, assert_causal):
    torch.manual_seed(0)
    net = PixelCNN(PixelCNNConfig(height=5, width=6, levels=levels, features=16, blocks=2, head=16))
    assert_causal(net, 5, 6)


def test_pixelcnn_density_sums_to_one(total_probability):
    torch.manual_seed(0)
    net = PixelCNN(PixelCNNConfig(height=3, width=4, features=8, blocks=1, head=8))
    assert total_probability(net, 3, 4) == pytest.approx(1.0, abs=1e-4)


def test_samples_and_shapes():
    torch.manual_seed(0)
    net = PixelCNN(PixelCNNConfig(height=4, width=5, features=8, blocks=1, head=8))
    s = net.sample(3)
    assert s.shape == (3, 1, 4, 5) and set(s.unique().tolist()) <= {0.0, 1.0}
    grey = PixelCNN(PixelCNNConfig(height=4, width=5, levels=256, features=8, blocks=1, head=8))
    s = grey.sample(2)
    assert torch.allclose(s * 255, (s * 255).round(), atol=1e-4)
    logits, loss = grey(s)
    assert logits.shape == (2, 256, 4, 5) and loss > 0


def test_bad_config():
    with pytest.raises(InputError):
        PixelCNNConfig(levels=1)
    with pytest.raises(InputError):
        PixelCNNConfig(channels=3)


def train_tiny(seed: int, epochs: int, n: int | None = None) -> PixelCNN:
    x, _ = binary_split("digits", "train")
    torch.manual_seed(seed)
    net = PixelCNN(PixelCNNConfig(height=8, width=8, features=32, blocks=2, head=32, first_kernel=5))
    Trainer(TrainerConfig(epochs=epochs, lr=3e-3, grad_clip=None, device="cpu", seed=seed, quiet=True)).fit(
        net, epoch_batches(x[:n], 32, seed=seed)
    )
    return net


def test_learns_the_digits_below_the_baseline():
    net = train_tiny(0, epochs=6)
    test, _ = binary_split("digits", "test")
    with torch.no_grad():
        nll = float(net.nll(torch.from_numpy(test)).mean())
    base = baseline_nll("digits")
    assert math.isfinite(nll) and nll < base - 2.0, (nll, base)


def test_same_seed_same_model():
    a, b = (train_tiny(3, epochs=1, n=200) for _ in range(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
