"""The Neural Statistician (Edwards & Storkey 2017).

A VAE over *sets*: a set ``D`` of images shares a context ``c``, each image
has its own latent ``z``, and

    p(D) = int p(c) prod_x int p(z|c) p(x|z, c) dz dc.

The statistic network embeds every image, mean-pools the embeddings (so it
takes a set of any size, in any order) and outputs ``q(c|D)``; ``q(z|x, c)``
and the decoder are MLPs. Training sets are 5 images of one MNIST class; the
ELBO is

    E_q[ sum_x log p(x|z, c) ] - sum_x KL(q(z|x,c) || p(z|c)) - KL(q(c|D) || p(c)).

Few-shot generation: embed 5 images of a digit (test images, never trained
on), take the mean of ``q(c|D)``, draw ``z ~ p(z|c)`` and decode.

Test figures: ``nll`` treats every test image as a set of one, an
importance-sampling estimate of ``-log p(x)`` comparable with the other models;
``set_nll`` is ``-log p(D) / 5`` for test sets of 5 images of one class (the
sets are formed from the labels, so it is *not* comparable: it rewards what
the images of a set share).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from irkit.errors import InputError
from irkit.generative.distributions import bernoulli_log_prob, gaussian_kl, normal_log_prob, reparameterize
from irkit.generative.images.common import ImageRecipe, Images, importance_nll, init_decoder_bias, mlp


@dataclass
class StatisticianConfig:
    channels: int = 1
    height: int = 28
    width: int = 28
    set_size: int = 5  # images per training set (one class each)
    hidden: int = 400
    embed: int = 200  # per-image embedding that the statistic network pools
    context: int = 16  # c
    latent: int = 32  # z

    def __post_init__(self) -> None:
        if self.set_size < 1:
            raise InputError(f"set_size must be at least 1, not {self.set_size}")


def gaussian(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean, logvar = params.chunk(2, -1)
    return mean, logvar


class Statistician(nn.Module):
    def __init__(self, config: StatisticianConfig):
        super().__init__()
        self.config = c = config
        pixels = c.channels * c.height * c.width
        self.embed = mlp(pixels, c.hidden, c.embed, act="relu", depth=1)
        self.statistic = mlp(c.embed, c.hidden, 2 * c.context, act="relu", depth=1)  # q(c|D) from the pooled set
        self.q_z = mlp(c.embed + c.context, c.hidden, 2 * c.latent, act="relu", depth=1)  # q(z|x, c)
        self.p_z = mlp(c.context, c.hidden, 2 * c.latent, act="relu", depth=1)  # p(z|c)
        self.decoder = mlp(c.latent + c.context, c.hidden, pixels, act="relu")  # p(x|z, c)

    def decode(self, z: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        c = self.config
        return self.decoder(torch.cat([z, ctx], -1)).view(*z.shape[:-1], c.channels, c.height, c.width)

    def context_posterior(self, sets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``q(c|D)`` for sets ``(batch, size, c, h, w)``: mean-pooled embeddings, any set size."""
        h = self.embed(sets.flatten(2))
        return gaussian(self.statistic(h.mean(1)))

    def forward(self, sets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One-sample ELBO with closed-form KLs; the loss is in nats per image."""
        size = sets.shape[1]
        h = self.embed(sets.flatten(2))
        mc, lvc = gaussian(self.statistic(h.mean(1)))
        ctx = reparameterize(mc, lvc).unsqueeze(1).expand(-1, size, -1)
        mz, lvz = gaussian(self.q_z(torch.cat([h, ctx], -1)))
        z = reparameterize(mz, lvz)
        recon = bernoulli_log_prob(self.decode(z, ctx), sets).sum(1)
        kl_z = gaussian_kl(mz, lvz, *gaussian(self.p_z(ctx))).sum(1)
        elbo = recon - kl_z - gaussian_kl(mc, lvc)
        return elbo, -elbo.mean() / size

    def log_weights(self, sets: torch.Tensor, k: int) -> torch.Tensor:
        """``log p(D, c, z) - log q(c, z|D)`` for ``k`` draws: ``(batch, k)``."""
        size = sets.shape[1]
        h = self.embed(sets.flatten(2))
        mc, lvc = gaussian(self.statistic(h.mean(1)))
        ctx = reparameterize(mc.expand(k, *mc.shape), lvc.expand(k, *lvc.shape))  # (k, batch, context)
        log_w = normal_log_prob(ctx) - normal_log_prob(ctx, mc, lvc)
        ctx = ctx.unsqueeze(2).expand(-1, -1, size, -1)
        mz, lvz = gaussian(self.q_z(torch.cat([h.expand(k, *h.shape), ctx], -1)))
        z = reparameterize(mz, lvz)
        log_w = log_w + (normal_log_prob(z, *gaussian(self.p_z(ctx))) - normal_log_prob(z, mz, lvz)).sum(-1)
        log_w = log_w + bernoulli_log_prob(self.decode(z, ctx), sets).sum(-1)
        return log_w.transpose(0, 1)

    @torch.no_grad()
    def few_shot(self, sets: torch.Tensor, n: int) -> torch.Tensor:
        """``n`` new images per set, from the mean of ``q(c|D)``: ``(batch, n, c, h, w)``."""
        mc, _ = self.context_posterior(sets)
        ctx = mc.unsqueeze(1).expand(-1, n, -1)
        z = reparameterize(*gaussian(self.p_z(ctx)))
        return torch.sigmoid(self.decode(z, ctx))

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """Unconditional draws: ``c ~ p(c)``, ``z ~ p(z|c)``."""
        ctx = torch.randn(n, self.config.context, device=next(self.parameters()).device)
        return torch.sigmoid(self.decode(reparameterize(*gaussian(self.p_z(ctx))), ctx))


def class_sets(
    x: np.ndarray, y: np.ndarray, size: int, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sets of ``size`` images of one class: ``(sets (m, size, c, h, w), labels (m,))``.

    Each class's images are shuffled by ``rng`` (kept in order without one) and
    cut into consecutive sets; the remainder of a class is dropped.
    """
    sets, labels = [], []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        if rng is not None:
            idx = rng.permutation(idx)
        m = len(idx) // size
        if m:
            sets.append(x[idx[: m * size]].reshape(m, size, *x.shape[1:]))
            labels.append(np.full(m, label))
    if not sets:
        raise InputError(f"no class has {size} images to make a set")
    return np.concatenate(sets), np.concatenate(labels)


class Recipe(ImageRecipe):
    kind = "statistician"
    config_cls = StatisticianConfig
    epochs = 30
    eval_defaults = {**ImageRecipe.eval_defaults, "set_k": 1000}  # noqa: RUF012
    sample_defaults = {**ImageRecipe.sample_defaults, "digit": -1, "shots": 5}  # noqa: RUF012

    def build(self, config: StatisticianConfig) -> Statistician:
        return Statistician(config)

    def fit(self, model: Statistician, data: Images, trainer, opts: dict[str, Any]):
        x, y = data
        init_decoder_bias(model, x)
        size, seed = model.config.set_size, trainer.config.seed
        per_batch = max(1, opts["batch_size"] // size)

        def batches(epoch: int):
            rng = np.random.default_rng(seed * 1000 + epoch)
            sets, _ = class_sets(x, y, size, rng)
            sets = torch.from_numpy(sets[rng.permutation(len(sets))])
            for i in range(0, len(sets), per_batch):
                xb = sets[i : i + per_batch]
                if opts["binarize"] == "dynamic":
                    xb = torch.bernoulli(xb)
                yield (xb,)

        return trainer.fit(model, batches)

    def describe(self, config: StatisticianConfig) -> str:
        return f"trained on sets of {config.set_size} images of one class; context {config.context}, latent {config.latent}"

    def generate(self, model: Statistician, n: int, options: dict[str, Any]) -> tuple[torch.Tensor, int]:
        """Rows of ``shots`` test images of a digit followed by the images generated from them."""
        from irkit.generative.images.common import binary_split

        meta, shots = options["meta"], options["shots"]
        x, y = binary_split(meta["data"], "test", meta["binarize"])
        digits = sorted(set(y.tolist())) if options["digit"] < 0 else [options["digit"]]
        if any(d not in set(y.tolist()) for d in digits):
            raise InputError(f"digit must be -1 (all) or one of {sorted(set(y.tolist()))}, not {options['digit']}")
        if shots < 1:
            raise InputError(f"shots must be at least 1, not {shots}")
        rng = np.random.default_rng(int(torch.initial_seed()) % 2**32)
        per_row = max(1, math.ceil(n / len(digits)))
        device = next(model.parameters()).device
        rows = []
        for d in digits:
            context = torch.from_numpy(x[rng.choice(np.flatnonzero(y == d), shots, replace=False)]).to(device)
            rows.append(torch.cat([context, model.few_shot(context[None], per_row)[0]]))
        return torch.cat(rows), shots + per_row

    def score(self, model: Statistician, data: Images, options: dict[str, Any]) -> dict[str, Any]:
        x, y = data
        run = {"batch": options["batch"], "chunk": options["chunk"], "device": options["device"]}
        single = x[:, None]
        sets, _ = class_sets(x.numpy(), y.numpy(), model.config.set_size)
        size = sets.shape[1]
        set_run = {**run, "batch": max(1, options["batch"] // size)}
        set_nll = importance_nll(model.log_weights, torch.from_numpy(sets), options["set_k"], **set_run) / size
        return {
            "elbo_nll": float(importance_nll(model.log_weights, single, 1, **run).mean()),
            "nll": float(importance_nll(model.log_weights, single, options["k"], **run).mean()),
            "set_nll": float(set_nll.mean()),
            "estimator": (
                f"importance sampling of (c, z) from q, each test image a set of one, k={options['k']}; "
                f"set_nll: -log p(D)/{size} for {len(sets)} same-class test sets, k={options['set_k']}"
            ),
        }
