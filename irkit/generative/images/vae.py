"""VAE and IWAE (Kingma & Welling 2014; Burda, Grosse & Salakhutdinov 2016).

One model, two training objectives. With ``k`` samples ``h_i ~ q(h|x)`` the
importance weights ``w_i = p(x, h_i) / q(h_i|x)`` give the bound

    L_k(x) = E[ log (1/k) sum_i w_i ]  <=  log p(x),

which tightens as ``k`` grows (L_1 is the VAE's ELBO). The VAE trains on L_1,
the IWAE on L_k; both are evaluated the same way: L_1, L_k and a test NLL
estimate with k = 5000 samples (``-log`` of the mean weight, Burda et al.'s
protocol). Burda et al.'s MLPs with tanh units: one stochastic layer is
x-200-200-z(50); two are x-100-100-z1(100)-50-50-z2(50), both ways.

Evaluation also counts Burda et al.'s *active units* (:func:`latent_activity`):
a latent ``u`` is active when ``Cov_x(E_q[u | x]) > 0.01``. Training can start
from another VAE/IWAE folder (``-O init=FOLDER``), which is how the two-stage
experiment (VAE then IWAE k=50, and the reverse; benchmarks/iwae_stages.py) runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from irkit.errors import InputError
from irkit.generative.distributions import (
    active_units,
    bernoulli_log_prob,
    log_mean_exp,
    normal_log_prob,
    reparameterize,
)
from irkit.generative.images.common import ImageRecipe, Images, importance_nll, init_decoder_bias, mlp


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

    sample = staticmethod(reparameterize)


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
    def posterior_means(self, x: torch.Tensor, samples: int = 20) -> list[torch.Tensor]:
        """``E_q[z_l | x]`` of each stochastic layer, ``(batch, units)`` each.

        ``E[z1 | x]`` is the encoder's mean; ``E[z2 | x] = E_{z1 ~ q(z1|x)}[mean2(z1)]`` is
        averaged over ``samples`` draws of ``z1``.
        """
        m1, lv1 = self.q1(x.flatten(1))
        means = [m1]
        if self.config.layers == 2:
            z1 = reparameterize(m1.expand(samples, *m1.shape), lv1.expand(samples, *lv1.shape))
            means.append(self.q2(z1)[0].mean(0))
        return means

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


def latent_activity(
    model: VAE, x: torch.Tensor, batch: int = 500, samples: int = 20, threshold: float = 0.01, device=None
) -> dict[str, int]:
    """Active units of a VAE/IWAE on images ``x``: ``A_u = Cov_x(E_q[u | x]) > threshold`` (Burda et al.).

    ``active_units`` counts all layers; with two stochastic layers ``active_units_z1`` and
    ``active_units_z2`` count each; ``latent_units`` is how many there are in all.
    """
    parts: list[list[torch.Tensor]] = []
    for xb in torch.as_tensor(x).split(batch):
        xb = xb.to(device) if device is not None else xb
        parts.append([m.cpu() for m in model.posterior_means(xb, samples)])
    layers = [torch.cat(layer) for layer in zip(*parts, strict=True)]
    counts = [active_units(m, threshold) for m in layers]
    out = {"active_units": sum(counts), "latent_units": sum(m.shape[1] for m in layers)}
    if len(layers) > 1:
        out.update({f"active_units_z{i}": c for i, c in enumerate(counts, 1)})
    return out


def continue_from(model: VAE, folder: str | Path) -> dict[str, Any]:
    """Load the weights of a VAE/IWAE model folder into ``model`` (same layers and sizes; ``k`` may differ).

    Returns the folder's ``model.json``; a folder of another shape is refused with one line.
    """
    from irkit.nn import load_model

    meta, state = load_model(folder, ("vae", "iwae"))
    ours = {k: v for k, v in asdict(model.config).items() if k != "k"}
    theirs = {k: v for k, v in meta["config"].items() if k != "k"}
    if ours != theirs:
        diff = ", ".join(f"{k} {theirs.get(k)} (here {v})" for k, v in ours.items() if theirs.get(k) != v)
        raise InputError(f"init model does not fit this one: {diff}", Path(folder))
    from irkit.nn.checkpoint import check_state

    check_state(model, state, Path(folder))
    model.load_state_dict(state)
    return meta


class Recipe(ImageRecipe):
    """The VAE: trained on the ELBO (k = 1)."""

    kind = "vae"
    config_cls = VAEConfig
    epochs = 20
    # Burda et al.'s batch of 20: on 8,000 images, batches of 100 give too few steps per epoch
    # init: a vae/iwae model folder to continue from (two-stage training)
    train_defaults = {**ImageRecipe.train_defaults, "batch_size": 20, "init": ""}  # noqa: RUF012
    eval_defaults = {**ImageRecipe.eval_defaults, "au_samples": 20}  # noqa: RUF012  (draws of z1 for E[z2|x])

    def build(self, config: VAEConfig) -> VAE:
        return VAE(config)

    def fit(self, model: VAE, data: Images, trainer, opts: dict[str, Any]):
        if opts["init"]:
            continue_from(model, opts["init"])  # the first stage's weights, exactly
        else:
            init_decoder_bias(model, data.x)
        return super().fit(model, data, trainer, opts)

    def describe(self, config: VAEConfig) -> str:
        return f"{config.layers} stochastic layer{'s' if config.layers > 1 else ''}, trained on L_{config.k}"

    def generate(self, model: VAE, n: int, options: dict[str, Any]) -> torch.Tensor:
        return model.sample(n)

    def score(self, model: VAE, data: Images, options: dict[str, Any]) -> dict[str, Any]:
        x = data.x
        run = {"batch": options["batch"], "chunk": options["chunk"], "device": options["device"]}
        out: dict[str, Any] = {"elbo_nll": float(importance_nll(model.log_weights, x, 1, **run).mean())}
        if model.config.k > 1:
            out[f"bound_k{model.config.k}_nll"] = float(
                importance_nll(model.log_weights, x, model.config.k, **run).mean()
            )
        out["nll"] = float(importance_nll(model.log_weights, x, options["k"], **run).mean())
        out["estimator"] = f"importance sampling, q(h|x) proposal, k={options['k']}"
        out.update(latent_activity(model, x, samples=options["au_samples"], device=options["device"]))
        return out


class IWAERecipe(Recipe):
    """The IWAE: the same model trained on L_5."""

    kind = "iwae"
    overrides = {"k": 5}  # noqa: RUF012
