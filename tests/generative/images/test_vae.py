"""VAE and IWAE on scikit-learn's 8x8 digits: shapes, the k-sample bound, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from irkit.errors import InputError
from irkit.generative.images.common import baseline_nll, binary_split, epoch_batches, importance_nll, pixel_logits
from irkit.generative.images.vae import VAE, VAEConfig
from irkit.nn import Trainer, TrainerConfig


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


# -- active units and two-stage training (issue 15, part 4) ------------------------------


@pytest.mark.parametrize("layers", [1, 2])
def test_latents_the_encoder_ignores_are_inactive(layers):
    from irkit.generative.images.vae import latent_activity

    model = tiny(layers)
    mean_rows = model.q1.net[-1]  # outputs: the z1 means, then their log-variances
    with torch.no_grad():
        mean_rows.weight[:3].zero_()  # z1 units 0-2: the same mean for every image
        mean_rows.bias[:3].fill_(0.7)
        mean_rows.weight[3:8].mul_(20.0)  # the other five: means that move with the image
    x = torch.bernoulli(torch.full((300, 1, 8, 8), 0.4), generator=torch.Generator().manual_seed(1))
    got = latent_activity(model, x, batch=64)
    if layers == 1:
        assert got == {"active_units": 5, "latent_units": 8}
    else:
        assert got["active_units_z1"] == 5 and got["latent_units"] == 12
        assert got["active_units"] == 5 + got["active_units_z2"]
        q2 = model.q2.net[-1]
        with torch.no_grad():
            q2.weight[:4].zero_()  # every z2 mean constant too
        assert latent_activity(model, x, batch=64)["active_units_z2"] == 0


def test_continuing_as_iwae_loads_the_vae_weights_exactly(tmp_path):
    from irkit.generative import registry
    from irkit.generative.images.vae import VAE, continue_from

    small = {"hidden": "16", "latent": "4"}
    registry.recipe("vae").train("digits", tmp_path / "vae", epochs=1, device="cpu", quiet=True, options=small)
    vae_state = torch.load(tmp_path / "vae" / "weights.pt")
    # lr 0: the second stage cannot move a weight, so its saved weights are the loaded ones
    opts = {**small, "k": "50", "lr": "0", "init": str(tmp_path / "vae")}
    registry.recipe("iwae").train("digits", tmp_path / "iwae", epochs=1, device="cpu", quiet=True, options=opts)
    iwae_state = torch.load(tmp_path / "iwae" / "weights.pt")
    assert vae_state.keys() == iwae_state.keys()
    assert all(torch.equal(vae_state[k], iwae_state[k]) for k in vae_state)
    model, meta = registry.recipe("iwae").load(tmp_path / "iwae", "cpu")
    assert model.config.k == 50 and meta["train"]["init"] == str(tmp_path / "vae")

    other = VAE(VAEConfig(height=8, width=8, hidden=16, latent=6))
    with pytest.raises(InputError, match="init model does not fit this one: latent 4 \\(here 6\\)"):
        continue_from(other, tmp_path / "vae")
    with pytest.raises(InputError, match="no such model folder"):
        registry.recipe("iwae").train(
            "digits", tmp_path / "x", epochs=1, quiet=True, options={"init": str(tmp_path / "iwae" / "nowhere")}
        )
