"""VAE and IWAE (Kingma & Welling 2014; Burda, Grosse & Salakhutdinov 2016).

One model, two training objectives. With ``k`` samples ``h_i ~ q(h|x)`` the
importance weights ``w_i = p(x, h_i) / q(h_i|x)`` give the bound

    L_k(x) = E[ log (1/k) sum_i w_i ]  <=  log p(x),

which tightens as ``k`` grows (L_1 is the VAE's ELBO). The VAE trains on L_1,
the IWAE on L_k; both are evaluated the same way: L_1, L_k and a test NLL
estimate with k = 5000 samples (``-log`` of the mean weight, Burda et al.'s
protocol). Burda et al.'s MLPs with tanh units: one stochastic layer is
x-200-200-z(50); two are x-100-100-z1(100)-50-50-z2(50), both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from irkit.errors import InputError
from irkit.generative.images.common import (
    ImageRecipe,
    bernoulli_log_prob,
    importance_nll,
    log_mean_exp,
    mlp,
    normal_log_prob,
    pixel_logits,
)


@dataclass
class VAEConfig:
    channels: int = 1
    height: int = 28
    width: int = 28
    layers: int = 1  # stochastic layers: 1 or 2
    k: int = 1  # samples in the training bound: 1 = VAE, > 1 = IWAE
    hidden: int = 0  # deterministic units of the first layer (0: Burda's 200, or 100 with 2 layers)
    latent: int = 0  # units of z1 (0: Burda's 50, or 100 with 2 layers); z2 has half of each

    def __post_init__(self) -> None:
        if self.layers not in (1, 2):
            raise InputError(f"layers must be 1 or 2, not {self.layers}")
        if self.k < 1:
            raise InputError(f"k must be at least 1, not {self.k}")
        self.hidden = self.hidden or (200 if self.layers == 1 else 100)
        self.latent = self.latent or (50 if self.layers == 1 else 100)


class GaussianLayer(nn.Module):
    """``h -> N(mean(h), diag exp(logvar(h)))``: one stochastic layer of q or p."""

    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.net = mlp(n_in, hidden, 2 * n_out)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.net(h).chunk(2, -1)
        return mean, logvar

    @staticmethod
    def sample(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)


class VAE(nn.Module):
    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = c = config
        self.pixels = c.channels * c.height * c.width
        self.q1 = GaussianLayer(self.pixels, c.hidden, c.latent)
        self.decoder = mlp(c.latent, c.hidden, self.pixels)  # p(x | z1), Bernoulli logits
        if c.layers == 2:
            self.q2 = GaussianLayer(c.latent, c.hidden // 2, c.latent // 2)
            self.p1 = GaussianLayer(c.latent // 2, c.hidden // 2, c.latent)  # p(z1 | z2)

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """``log p(x, h) - log q(h|x)`` for ``k`` draws ``h ~ q(h|x)``: shape ``(batch, k)``."""
        c = self.config
        m1, lv1 = self.q1(x.flatten(1))
        z1 = GaussianLayer.sample(m1.expand(k, *m1.shape), lv1.expand(k, *lv1.shape))  # (k, batch, latent)
        log_q = normal_log_prob(z1, m1, lv1)
        if c.layers == 2:
            m2, lv2 = self.q2(z1)
            z2 = GaussianLayer.sample(m2, lv2)
            log_q = log_q + normal_log_prob(z2, m2, lv2)
            log_p = normal_log_prob(z2) + normal_log_prob(z1, *self.p1(z2))
        else:
            log_p = normal_log_prob(z1)
        logits = self.decoder(z1).view(k, -1, c.channels, c.height, c.width)
        log_p = log_p + bernoulli_log_prob(logits, x)
        return (log_p - log_q).transpose(0, 1)

    def forward(self, x: torch.Tensor, k: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        log_w = self.log_weights(x, k or self.config.k)
        bound = log_mean_exp(log_w, 1)  # L_k per image
        return bound, -bound.mean()

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """Bernoulli means of ``n`` images drawn from the prior."""
        c = self.config
        device = next(self.parameters()).device
        if c.layers == 2:
            z2 = torch.randn(n, c.latent // 2, device=device)
            z1 = GaussianLayer.sample(*self.p1(z2))
        else:
            z1 = torch.randn(n, c.latent, device=device)
        return torch.sigmoid(self.decoder(z1)).view(n, c.channels, c.height, c.width)


class Recipe(ImageRecipe):
    """The VAE: trained on the ELBO (k = 1)."""

    kind = "vae"
    config_cls = VAEConfig
    epochs = 20
    # Burda et al.'s batch of 20: on 8,000 images, batches of 100 give too few steps per epoch
    train_defaults = {**ImageRecipe.train_defaults, "batch_size": 20}  # noqa: RUF012

    def build(self, config: VAEConfig) -> VAE:
        return VAE(config)

    def fit(self, model: VAE, x, y, trainer, opts: dict[str, Any]):
        with torch.no_grad():
            model.decoder[-1].bias.copy_(pixel_logits(x).flatten())
        return super().fit(model, x, y, trainer, opts)

    def describe(self, config: VAEConfig) -> str:
        return f"{config.layers} stochastic layer{'s' if config.layers > 1 else ''}, trained on L_{config.k}"

    def generate(self, model: VAE, n: int, options: dict[str, Any]) -> torch.Tensor:
        return model.sample(n)

    def score(self, model: VAE, x: torch.Tensor, y: torch.Tensor, options: dict[str, Any]) -> dict[str, Any]:
        run = {"batch": options["batch"], "chunk": options["chunk"], "device": options["device"]}
        out: dict[str, Any] = {"elbo_nll": float(importance_nll(model.log_weights, x, 1, **run).mean())}
        if model.config.k > 1:
            out[f"bound_k{model.config.k}_nll"] = float(
                importance_nll(model.log_weights, x, model.config.k, **run).mean()
            )
        out["nll"] = float(importance_nll(model.log_weights, x, options["k"], **run).mean())
        out["estimator"] = f"importance sampling, q(h|x) proposal, k={options['k']}"
        return out


class IWAERecipe(Recipe):
    """The IWAE: the same model trained on L_5."""

    kind = "iwae"
    overrides = {"k": 5}  # noqa: RUF012
