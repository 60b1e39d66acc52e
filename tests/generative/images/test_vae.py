"""VAE and IWAE on scikit-learn's 8x8 digits: shapes, the k-sample bound, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from irkit.errors import InputError
from irkit.generative.images.common import baseline_nll, binary_split, epoch_batches, importance_nll, pixel_logits
from irkit.generative.images.vae import VAE, VAEConfig
from irkit.nn import Trainer, TrainerConfig


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # two threads on two shared cores oversubscribe them (10x slower here); one is enough for tiny models
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(layers: int = 1, k: int = 1) -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(height=8, width=8, layers=layers, k=k, hidden=48, latent=8))


@pytest.mark.parametrize("layers", [1, 2])
def test_shapes_and_bound_order_at_init(layers):
    model = tiny(layers)
    x = torch.bernoulli(torch.full((7, 1, 8, 8), 0.3))
    assert model.log_weights(x, 4).shape == (7, 4)
    bound, loss = model(x)
    assert bound.shape == (7,) and loss.ndim == 0 and torch.isfinite(loss)
    assert model.sample(5).shape == (5, 1, 8, 8)


def test_bad_config():
    with pytest.raises(InputError):
        VAEConfig(layers=3)
    with pytest.raises(InputError):
        VAEConfig(k=0)


@pytest.fixture(scope="module")
def trained():
    """A small VAE trained for a few seconds on the digits, and the binary test images."""
    x, _ = binary_split("digits", "train")
    test, _ = binary_split("digits", "test")
    torch.manual_seed(0)
    model = VAE(VAEConfig(height=8, width=8, hidden=100, latent=10))
    with torch.no_grad():
        model.decoder[-1].bias.copy_(pixel_logits(x).flatten())
    Trainer(TrainerConfig(epochs=10, lr=3e-3, grad_clip=None, device="cpu", quiet=True)).fit(
        model, epoch_batches(x, 10, seed=0)
    )
    return model, torch.from_numpy(test)


def test_bound_tightens_with_k(trained):
    """L_1 <= L_5 <= L_50 <= log p(x) (Burda et al., Theorem 1), on a trained model."""
    model, test = trained
    torch.manual_seed(1)
    repeats = {1: 40, 5: 10, 50: 3}  # the mean over 359 images and these repeats is good to ~0.02 nats
    nll = {
        k: np.mean([importance_nll(model.log_weights, test, k, batch=400).mean() for _ in range(r)])
        for k, r in repeats.items()
    }
    assert nll[1] > nll[5] + 0.1, nll
    assert nll[5] > nll[50] + 0.05, nll
    assert nll[50] < baseline_nll("digits")  # and it has learnt something: below the per-pixel Bernoulli


def test_same_seed_same_model():
    x, _ = binary_split("digits", "train")
    weights = []
    for _ in range(2):
        model = tiny()
        Trainer(TrainerConfig(epochs=1, device="cpu", seed=3, quiet=True)).fit(
            model, epoch_batches(x[:200], 20, seed=3)
        )
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])
