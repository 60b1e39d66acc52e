"""What every image recipe shares: binary data, batches, importance sampling, the PNG grid.

A model file defines its ``nn.Module`` and a small :class:`ImageRecipe` subclass
that says how to build the model from its config, how to draw images and how to
score test images; :class:`irkit.generative.recipe.Recipe` runs the commands and
this module gives it the image data, the grid and the baseline printed beside
every figure. The densities (Gaussian, Bernoulli, ``log_mean_exp``) live in
:mod:`irkit.generative.distributions`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from irkit.errors import InputError
from irkit.generative.images.data import SPLIT_SEED, bernoulli_baseline_nll, binarize, load_images, protocol
from irkit.generative.recipe import Recipe

BINARIZE = ("threshold", "dynamic")
TEST_BINARIZE_SEED = 0  # the one fixed Bernoulli draw of the test images under dynamic binarisation


# -- data ----------------------------------------------------------------------


def binary_split(data: str, split: str, mode: str = "threshold") -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` of a split, binary except dynamic *training* images (drawn per epoch)."""
    if mode not in BINARIZE:
        raise InputError(f"binarize must be 'threshold' or 'dynamic', not {mode!r}")
    x, y = load_images(data, split)
    if mode == "threshold":
        return binarize(x, "threshold"), y
    if split == "train":
        return x, y  # grey levels; epoch_batches draws a fresh binary image each epoch
    return binarize(x, "dynamic", np.random.default_rng(TEST_BINARIZE_SEED)), y


def baseline_nll(data: str, mode: str = "threshold") -> float:
    """The per-pixel Bernoulli baseline on the same split and binarisation as the models."""
    train, _ = binary_split(data, "train", mode)
    test, _ = binary_split(data, "test", mode)
    return bernoulli_baseline_nll(train, test)


def epoch_batches(x: np.ndarray, batch_size: int, seed: int, mode: str = "threshold") -> Callable[[int], Iterator]:
    """``epoch -> iterator of (images,)`` batches, reshuffled (and redrawn, if dynamic) per epoch."""
    import torch

    data = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    def batches(epoch: int) -> Iterator:
        g = torch.Generator().manual_seed(seed * 1000 + epoch)
        order = torch.randperm(len(data), generator=g)
        for i in range(0, len(order), batch_size):
            xb = data[order[i : i + batch_size]]
            if mode == "dynamic":
                xb = torch.bernoulli(xb, generator=g)
            yield (xb,)

    return batches


# -- likelihoods ---------------------------------------------------------------


def mlp(n_in: int, hidden: int, n_out: int, act: str = "tanh", depth: int = 2):
    """``depth`` hidden layers of ``hidden`` units (tanh as Burda et al., or relu), then a linear output."""
    from torch import nn

    layers, width = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.Tanh() if act == "tanh" else nn.ReLU()]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def pixel_logits(x: np.ndarray, eps: float = 1e-3):
    """Per-pixel log-odds of the training images: starting a decoder's output bias here skips
    the first, slow phase of learning the mean image."""
    import torch

    p = np.clip(np.asarray(x, dtype=np.float64).mean(0), eps, 1 - eps)
    return torch.from_numpy(np.log(p) - np.log1p(-p)).float()


def gaussian_log_weights(decode: Callable[[Any], Any], x, mean, logvar, k: int):
    """``log p(x|z) + log p(z) - log q(z)`` for ``k`` draws ``z ~ q = N(mean, exp(logvar))``: ``(batch, k)``.

    ``decode(z)`` gives Bernoulli logits of the images; the prior is N(0, I).
    """
    import torch

    from irkit.generative.distributions import bernoulli_log_prob, normal_log_prob

    z = mean + torch.exp(0.5 * logvar) * torch.randn(k, *mean.shape, device=mean.device)
    log_w = bernoulli_log_prob(decode(z), x) + normal_log_prob(z) - normal_log_prob(z, mean, logvar)
    return log_w.transpose(0, 1)


def prior_images(model, n: int):
    """Bernoulli means of ``n`` images decoded (``model.decode``) from ``z ~ N(0, I)`` of ``model.config.latent``."""
    import torch

    z = torch.randn(n, model.config.latent, device=next(model.parameters()).device)
    return torch.sigmoid(model.decode(z))


def importance_nll(
    log_weights: Callable[..., Any],
    x,
    k: int,
    batch: int = 50,
    chunk: int = 500,
    device=None,
    prepare: Callable[[Any], Any] | None = None,
) -> np.ndarray:
    """Per-image ``-log (1/k) sum_i w_i``, with ``log_weights(x_batch, k) -> (batch, k)``.

    The ``k`` samples are drawn in chunks so that large ``k`` (5000) fits in
    memory; the log-sum-exp over all of them is exact. With ``prepare``, its
    result for each batch (e.g. a fitted proposal) is passed on as
    ``log_weights(x_batch, k, prepared)``.
    """
    import torch

    out = []
    with torch.no_grad():
        for xb in torch.as_tensor(x).split(batch):
            xb = xb.to(device) if device is not None else xb
            extra = () if prepare is None else (prepare(xb),)
            lw = torch.cat([log_weights(xb, min(chunk, k - i), *extra).double() for i in range(0, k, chunk)], dim=1)
            out.append(-(torch.logsumexp(lw, 1) - math.log(k)).cpu())
    return torch.cat(out).numpy()


class Images(NamedTuple):
    """A split of binary images and their labels (numpy for training, tensors for scoring)."""

    x: Any
    y: Any


class ImageRecipe(Recipe):
    """A model of binary images (see :class:`irkit.generative.recipe.Recipe`).

    Subclasses set ``kind`` and ``config_cls`` and implement :meth:`build`,
    :meth:`generate` and :meth:`score`; the config dataclass has ``channels``,
    ``height`` and ``width`` fields that the recipe fills from the data, its other
    fields are ``-O KEY=VALUE`` options, and the model keeps it as ``model.config``.
    ``fit`` and ``score`` receive :class:`Images`.
    """

    data_fields = ("channels", "height", "width")
    train_defaults: dict[str, Any] = {"batch_size": 100, "lr": 1e-3, "binarize": "threshold", "grad_clip": 0.0}  # noqa: RUF012
    eval_defaults: dict[str, Any] = {"k": 5000, "batch": 50, "chunk": 500, "device": "auto", "limit": 0}  # noqa: RUF012
    sample_defaults: dict[str, Any] = {"device": "auto", "nrow": 8}  # noqa: RUF012
    scale: int = 0  # pixels per image pixel in the PNG grid; 0: 4 for small images, else 2

    def generate(self, model, n: int, opts: dict[str, Any]):
        """``(n, c, h, w)`` floats in [0, 1] (Bernoulli means, not draws: they read better),
        or ``(images, images_per_row)``; ``opts`` holds the sample options and the model's ``meta``."""
        raise NotImplementedError

    def prepare(self, data: str, opts: dict[str, Any]) -> Images:
        return Images(*binary_split(data, "train", opts["binarize"]))

    def data_config(self, prepared: Images) -> dict[str, Any]:
        c, h, w = prepared.x.shape[1:]
        return {"channels": c, "height": h, "width": w}

    def fit(self, model, prepared: Images, trainer, opts: dict[str, Any]):
        """Train; the default feeds ``(images,)`` batches to :class:`irkit.nn.Trainer`."""
        return trainer.fit(model, epoch_batches(prepared.x, opts["batch_size"], trainer.config.seed, opts["binarize"]))

    def train_meta(self, data: str, prepared: Images, opts: dict[str, Any], history) -> dict[str, Any]:
        return {"binarize": opts.get("binarize", "threshold")}

    def protocol(self, data: str, opts: dict[str, Any]) -> str:
        return protocol(data, opts["binarize"])

    def write(self, samples, output: Path, opts: dict[str, Any]) -> Path:
        from irkit.generative.images.grid import save_grid

        nrow = opts.get("nrow", 8)
        if isinstance(samples, tuple):  # a model that lays out its own rows
            samples, nrow = samples
        scale = self.scale or (4 if model_height(opts["meta"]) <= 16 else 2)
        return save_grid(samples.float().cpu(), output, nrow=nrow, scale=scale)

    def sharpen(self, samples, sharpener, opts: dict[str, Any]):
        # The sharpener is a model folder of kind "sharpen", loaded by the recipe the registry
        # names (its recipe subclasses this class, so it is not imported here).
        from irkit.generative.registry import recipe

        model, _ = recipe("sharpen").load(sharpener, "cpu")
        if isinstance(samples, tuple):  # (images, images per row)
            return model.sharpen(samples[0]), samples[1]
        return model.sharpen(samples)

    def test_data(self, meta: dict[str, Any], opts: dict[str, Any]) -> Images:
        import torch

        x, y = binary_split(meta["data"], "test", meta["binarize"])
        if opts.get("limit"):
            x, y = x[: opts["limit"]], y[: opts["limit"]]
        return Images(torch.from_numpy(x), torch.from_numpy(y))

    def report(self, model, data: Images, opts: dict[str, Any]) -> dict[str, Any]:
        meta = opts["meta"]
        return {
            "baseline_nll": baseline_nll(meta["data"], meta["binarize"]),
            "protocol": protocol(meta["data"], meta["binarize"])
            + f", {len(data.x)} test images (split seed {SPLIT_SEED})",
        }


def init_decoder_bias(model, x: np.ndarray) -> None:
    """Start ``model.decoder``'s output bias at the training images' per-pixel log-odds (see :func:`pixel_logits`)."""
    import torch

    with torch.no_grad():
        model.decoder[-1].bias.copy_(pixel_logits(x).flatten())


def model_height(meta: dict[str, Any]) -> int:
    return int(meta.get("config", {}).get("height", 28))
