"""Adversarial Variational Bayes (Mescheder, Nowozin & Geiger 2017).

The encoder is a black box: ``z = g(x, eps)`` with noise ``eps ~ N(0, I)`` fed
into its layers, so ``q(z|x)`` has no density and the KL term of the ELBO
cannot be written down. A discriminator ``T(x, z)`` learns to tell pairs
``(x, z ~ q(z|x))`` from ``(x, z ~ p(z))``; with the logistic loss its optimum is

    T*(x, z) = log q(z|x) - log p(z),

so the ELBO becomes ``E_q[ log p(x|z) - T*(x, z) ]``. The encoder and decoder
maximise that with ``T`` held fixed (its weights detached; the gradient flows
through ``z``), and ``T`` minimises the logistic loss on detached ``z``: one
loss, one backward pass, one optimiser (T gets a larger learning rate so that it
keeps up with the encoder).

Plain AVB lets the encoder shrink q(z|x) far faster than T can follow, so T
underestimates the KL badly (here: an objective near 178 nats against a true
bound near 260 after 3 epochs). The paper's fix, *adaptive contrast*, is on by
default: with ``r(z|x)`` the Gaussian with q's per-image mean and variance
(estimated from ``draws`` encoder samples),

    KL(q || p) = KL(q || r) + KL(r || p),

the second term is closed-form, and T only has to estimate the first, telling
standardised draws ``(z - mean) / sd`` from ``N(0, I)`` (``contrast=false`` for
plain AVB).

The AVB objective is not a bound (T only approximates T*). The test NLL here is
an importance-sampling estimate whose proposal is a diagonal Gaussian fitted per
test image to ``draws`` samples of the black-box encoder, its sd scaled by
``widen`` (by default the scale that does best on 200 training images): a valid
estimator for any proposal, so in expectation an upper bound on the NLL.
``elbo_nll`` reports the AVB objective on the test set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from irkit.generative.distributions import bernoulli_log_prob
from irkit.generative.images.common import (
    ImageRecipe,
    Images,
    epoch_batches,
    gaussian_log_weights,
    importance_nll,
    init_decoder_bias,
    mlp,
    prior_images,
)

WIDEN_GRID = (0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2)  # proposal sd / encoder sd, tried on training images


@dataclass
class AVBConfig:
    channels: int = 1
    height: int = 28
    width: int = 28
    latent: int = 32
    noise: int = 32  # dimension of the encoder's noise input
    hidden: int = 300
    t_hidden: int = 400  # units of T(x, z)
    t_lr_scale: float = 5.0  # T's learning rate relative to the encoder/decoder's
    contrast: bool = True  # adaptive contrast: T compares q(z|x) with a Gaussian of its moments
    draws: int = 8  # encoder draws per image and step (the moments for adaptive contrast)


class BlackBoxEncoder(nn.Module):
    """``z = g(x, eps)``: noise enters the input and the hidden layer, as in the paper's MNIST encoder."""

    def __init__(self, c: AVBConfig, pixels: int):
        super().__init__()
        self.noise = c.noise
        self.x1, self.e1 = nn.Linear(pixels, c.hidden), nn.Linear(c.noise, c.hidden, bias=False)
        self.x2, self.e2 = nn.Linear(c.hidden, c.hidden), nn.Linear(c.noise, c.hidden, bias=False)
        self.out = nn.Linear(c.hidden, c.latent)

    def forward(self, x: torch.Tensor, k: int = 1) -> torch.Tensor:
        """``k`` draws per image: ``(k, batch, latent)``."""
        eps = torch.randn(k, len(x), self.noise, device=x.device)
        h = F.softplus(self.x1(x.flatten(1)) + self.e1(eps))
        h = F.softplus(self.x2(h) + self.e2(eps))
        return self.out(h)


class T(nn.Module):
    """The adversary ``T(x, z)``: an MLP on ``[features(x), z]``."""

    def __init__(self, c: AVBConfig, pixels: int):
        super().__init__()
        self.fx = nn.Sequential(nn.Linear(pixels, c.t_hidden), nn.ReLU())
        self.net = mlp(c.t_hidden + c.latent, c.t_hidden, 1, act="relu", depth=1)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        fx = self.fx(x.flatten(1)).expand(*z.shape[:-1], -1)
        return self.net(torch.cat([fx, z], -1)).squeeze(-1)


class AVB(nn.Module):
    def __init__(self, config: AVBConfig):
        super().__init__()
        self.config = c = config
        pixels = c.channels * c.height * c.width
        self.encoder = BlackBoxEncoder(c, pixels)
        self.decoder = mlp(c.latent, c.hidden, pixels, act="relu")
        self.t = T(c, pixels)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        c = self.config
        return self.decoder(z).view(*z.shape[:-1], c.channels, c.height, c.width)

    def contrast(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z~, KL(r || p))``: draws standardised by their per-image moments, and the Gaussian
        ``r(z|x)`` with those moments' KL to the prior (adaptive contrast; zeros without it)."""
        if not self.config.contrast:
            return z, torch.zeros(z.shape[1], device=z.device)
        mean, var = z.mean(0), z.var(0) + 1e-6
        kl = 0.5 * (mean.pow(2) + var - var.log() - 1).sum(-1)
        return (z - mean) / var.sqrt(), kl

    def objective(self, x: torch.Tensor, z: torch.Tensor, t: torch.nn.Module | None = None) -> torch.Tensor:
        """Per-image AVB objective ``E_q[log p(x|z)] - KL`` with the KL from ``T`` (plus r's KL)."""
        zt, kl_r = self.contrast(z)
        t_q = (t or self.t)(x, zt)  # ~ log q(z|x) - log r(z|x), the KL's integrand
        # one draw is decoded: the reconstruction term needs no more, and decoding is the cost
        return bernoulli_log_prob(self.decode(z[:1]), x).mean(0) - t_q.mean(0) - kl_r

    def forward(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        z = self.encoder(x, self.config.draws)
        frozen = {k: v.detach() for k, v in self.t.named_parameters()}
        elbo = self.objective(x, z, lambda *a: functional_call(self.t, frozen, a))
        vae_loss = -elbo.mean()

        zt, _ = self.contrast(z.detach())
        t_pos = self.t(x, zt)
        t_neg = self.t(x, torch.randn_like(zt))
        t_loss = F.binary_cross_entropy_with_logits(t_pos, torch.ones_like(t_pos)) + F.binary_cross_entropy_with_logits(
            t_neg, torch.zeros_like(t_neg)
        )
        return {"elbo": elbo.detach().mean(), "t_loss": t_loss.detach()}, vae_loss + t_loss

    def proposal(self, x: torch.Tensor, draws: int, widen: float) -> tuple[torch.Tensor, torch.Tensor]:
        """A diagonal Gaussian fitted to ``draws`` encoder samples per image: ``(mean, logvar)``."""
        z = self.encoder(x, draws)
        return z.mean(0), torch.log(z.var(0) * widen**2 + 1e-6)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        return prior_images(self, n)


class Recipe(ImageRecipe):
    kind = "avb"
    config_cls = AVBConfig
    epochs = 20
    train_defaults = {**ImageRecipe.train_defaults, "batch_size": 50, "lr": 3e-4}  # noqa: RUF012
    # widen 0: choose the proposal's scale on training images (see choose_widen)
    eval_defaults = {**ImageRecipe.eval_defaults, "draws": 256, "widen": 0.0}  # noqa: RUF012

    def build(self, config: AVBConfig) -> AVB:
        return AVB(config)

    def fit(self, model: AVB, data: Images, trainer, opts: dict[str, Any]):
        x = data.x
        init_decoder_bias(model, x)
        lr = opts["lr"]
        t_params = list(model.t.parameters())
        ids = {id(p) for p in t_params}
        others = [p for p in model.parameters() if id(p) not in ids]
        opt = torch.optim.Adam([{"params": others, "lr": lr}, {"params": t_params, "lr": lr * model.config.t_lr_scale}])
        batches = epoch_batches(x, opts["batch_size"], trainer.config.seed, opts["binarize"])
        return trainer.fit(model, batches, optimizer=opt)

    def describe(self, config: AVBConfig) -> str:
        return f"black-box encoder ({config.noise}-d noise), latent {config.latent}"

    def generate(self, model: AVB, n: int, options: dict[str, Any]) -> torch.Tensor:
        return model.sample(n)

    def choose_widen(self, model: AVB, options: dict[str, Any], n: int = 200, k: int = 100) -> float:
        """The proposal scale with the best estimate on ``n`` *training* images.

        The encoder's spread is not the posterior's (after training here the best
        Gaussian proposal is about 0.6 times as wide), and any proposal gives a valid
        estimator, so the scale is picked on data the test figure does not use.
        """
        from irkit.generative.images.common import binary_split

        meta = options["meta"]
        x, _ = binary_split(meta["data"], "train", meta["binarize"])
        if meta["binarize"] == "dynamic":
            x = np.random.default_rng(0).random(x.shape) < x
        x = torch.from_numpy(np.asarray(x[:n], dtype=np.float32))
        run = {"batch": options["batch"], "chunk": options["chunk"], "device": options["device"]}
        scores = {}
        for w in WIDEN_GRID:
            torch.manual_seed(0)
            prepare = lambda xb, w=w: model.proposal(xb, options["draws"], w)  # noqa: E731
            scores[w] = importance_nll(proposal_weights(model), x, k, prepare=prepare, **run).mean()
        return min(scores, key=scores.get)

    def score(self, model: AVB, data: Images, options: dict[str, Any]) -> dict[str, Any]:
        x = data.x
        draws = options["draws"]
        widen = options["widen"] or self.choose_widen(model, options)
        device = options["device"]
        objective = []
        for xb in x.split(options["batch"]):
            xb = xb.to(device)
            objective.append(model.objective(xb, model.encoder(xb, max(model.config.draws, 32))).cpu())
        run = {"batch": options["batch"], "chunk": options["chunk"], "device": device}
        run["prepare"] = lambda xb: model.proposal(xb, draws, widen)  # one fitted proposal per batch
        chosen = ", chosen on 200 training images" if not options["widen"] else ""
        return {
            "elbo_nll": float(-torch.cat(objective).mean()),
            "nll": float(importance_nll(proposal_weights(model), x, options["k"], **run).mean()),
            "estimator": (
                f"importance sampling, Gaussian proposal fitted to {draws} encoder draws (sd x{widen:g}{chosen}), "
                f"k={options['k']}; elbo_nll is the AVB objective (T in place of the KL), not a bound"
            ),
        }


def proposal_weights(model: AVB):
    """``log_weights(x, k, (mean, logvar))`` under a Gaussian proposal."""

    def log_weights(xb: torch.Tensor, k: int, proposal: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return gaussian_log_weights(model.decode, xb, *proposal, k)

    return log_weights
