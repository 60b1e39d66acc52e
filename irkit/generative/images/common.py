"""What every image recipe shares: options, binary data, batches, importance sampling, train/sample/eval.

A model file defines its ``nn.Module`` and a small :class:`ImageRecipe` subclass
that says how to build the model from its config, how to draw images and how to
score test images; this module does the rest (options, data, the trainer, the
model folder, the PNG grid, the baseline printed beside every figure).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from irkit.errors import InputError
from irkit.generative.images.data import SPLIT_SEED, bernoulli_baseline_nll, binarize, load_images, protocol

BINARIZE = ("threshold", "dynamic")
TEST_BINARIZE_SEED = 0  # the one fixed Bernoulli draw of the test images under dynamic binarisation


# -- options -----------------------------------------------------------------


def _convert(key: str, value: Any, default: Any) -> Any:
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise InputError(f"option {key}={value!r}: expected {type(default).__name__}") from None
    return value


def parse_options(options: dict[str, Any] | None, defaults: dict[str, Any], what: str = "option") -> dict[str, Any]:
    """``defaults`` updated by ``options`` (strings converted to the default's type); unknown keys raise."""
    out = dict(defaults)
    for key, value in (options or {}).items():
        if key not in defaults:
            raise InputError(f"unknown {what} {key!r}; known: {', '.join(sorted(defaults)) or 'none'}")
        out[key] = _convert(key, value, defaults[key])
    return out


def config_defaults(config_cls: type) -> dict[str, Any]:
    """Field name -> default of a config dataclass (fields without a default are left out)."""
    return {
        f.name: f.default
        for f in dataclasses.fields(config_cls)
        if f.default is not dataclasses.MISSING and f.name not in ("channels", "height", "width")
    }


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


def log_mean_exp(t, dim: int = -1):
    import torch

    return torch.logsumexp(t, dim) - math.log(t.shape[dim])


def bernoulli_log_prob(logits, x):
    """``log p(x)`` of images (``(..., c, h, w)``, broadcast against ``logits``), summed over c, h, w."""
    import torch.nn.functional as F

    # x log s(l) + (1 - x) log(1 - s(l)) = x l - softplus(l): no expanded copy of x for k samples
    return (logits * x).flatten(-3).sum(-1) - F.softplus(logits).flatten(-3).sum(-1)


def normal_log_prob(z, mean=None, logvar=None):
    """Diagonal Gaussian ``log N(z; mean, exp(logvar))`` summed over the last dimension."""
    import torch

    if mean is None:
        return -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
    return -0.5 * ((z - mean).pow(2) * torch.exp(-logvar) + logvar + math.log(2 * math.pi)).sum(-1)


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


# -- recipes -------------------------------------------------------------------


class ImageRecipe:
    """train/sample/evaluate for a model of binary images (see :mod:`irkit.generative.registry`).

    Subclasses set ``kind`` and ``config_cls`` and implement :meth:`build`,
    :meth:`generate` and :meth:`score`; the config dataclass has ``channels``,
    ``height`` and ``width`` fields that the recipe fills from the data, its other
    fields are ``-O KEY=VALUE`` options, and the model keeps it as ``model.config``.
    """

    kind: str = ""
    config_cls: type = type(None)
    epochs: int = 10
    train_defaults: dict[str, Any] = {"batch_size": 100, "lr": 1e-3, "binarize": "threshold", "grad_clip": 0.0}  # noqa: RUF012
    overrides: dict[str, Any] = {}  # noqa: RUF012  (this recipe's defaults for config fields)
    eval_defaults: dict[str, Any] = {"k": 5000, "batch": 50, "chunk": 500, "device": "auto", "limit": 0}  # noqa: RUF012
    sample_defaults: dict[str, Any] = {"device": "auto", "nrow": 8}  # noqa: RUF012

    # -- what a model file provides
    def build(self, config):
        raise NotImplementedError

    def generate(self, model, n: int, options: dict[str, Any]):
        """``(n, c, h, w)`` floats in [0, 1] (Bernoulli means, not draws: they read better),
        or ``(images, images_per_row)``; ``options`` holds the sample options and the model's ``meta``."""
        raise NotImplementedError

    def score(self, model, x, y, options: dict[str, Any]) -> dict[str, Any]:
        """Test figures on binary images ``x``; must hold ``nll`` (nats per image) and ``estimator``.
        ``options`` holds the eval options (``device`` resolved) and the model's ``meta``."""
        raise NotImplementedError

    def fit(self, model, x: np.ndarray, y: np.ndarray, trainer, opts: dict[str, Any]):
        """Train; the default feeds ``(images,)`` batches to :class:`irkit.nn.Trainer`."""
        return trainer.fit(model, epoch_batches(x, opts["batch_size"], trainer.config.seed, opts["binarize"]))

    def describe(self, config) -> str:
        """A few words for the eval output (e.g. '2 stochastic layers, k=5')."""
        return ""

    # -- the registry's interface
    def train(
        self,
        data: str,
        output: str | os.PathLike[str],
        *,
        epochs: int | None = None,
        device: str = "auto",
        seed: int = 0,
        quiet: bool = False,
        options: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        from irkit.nn import Trainer, TrainerConfig, save_model, seed_everything

        defaults = {**config_defaults(self.config_cls), **self.train_defaults, **self.overrides}
        opts = parse_options(options, defaults)
        if opts["binarize"] not in BINARIZE:
            raise InputError(f"binarize must be 'threshold' or 'dynamic', not {opts['binarize']!r}")
        epochs = self.epochs if epochs is None else epochs
        if epochs < 1:
            raise InputError(f"--epochs must be at least 1, not {epochs}")
        x, y = binary_split(data, "train", opts["binarize"])
        fields = {f.name for f in dataclasses.fields(self.config_cls)}
        config = self.config_cls(
            channels=x.shape[1], height=x.shape[2], width=x.shape[3], **{k: v for k, v in opts.items() if k in fields}
        )
        seed_everything(seed)
        model = self.build(config)
        clip = opts["grad_clip"] or None  # 0 = no clipping: losses are in nats per image, not per pixel
        trainer = Trainer(
            TrainerConfig(epochs=epochs, lr=opts["lr"], grad_clip=clip, device=device, seed=seed, quiet=quiet)
        )
        start = time.perf_counter()
        history = self.fit(model, x, y, trainer, opts)
        seconds = time.perf_counter() - start
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        extra = {
            "data": data,
            "binarize": opts["binarize"],
            "train": {k: opts[k] for k in self.train_defaults},
            "epochs": epochs,
            "seed": seed,
            "seconds": round(seconds, 1),
            "train_loss": [round(v, 4) for v in history.train_loss],
        }
        save_model(output, self.kind, config, state, extra=extra)
        return {
            "data": protocol(data, opts["binarize"]),
            "epochs": epochs,
            "final train loss": f"{history.train_loss[-1]:.3f}",
            "seconds": f"{seconds:.1f}",
            "parameters": sum(p.numel() for p in model.parameters()),
        }

    def load(self, model_dir: str | os.PathLike[str], device: str = "auto"):
        """``(model, meta)`` from a model folder of this recipe's kind (another kind fails clearly)."""
        from irkit.nn import load_model, pick_device

        meta, state = load_model(model_dir, self.kind)
        try:
            config = self.config_cls(**meta["config"])
        except TypeError as e:
            raise InputError(f"model.json does not fit {self.config_cls.__name__} ({e})", Path(model_dir)) from None
        model = self.build(config)
        model.load_state_dict(state)
        model.to(pick_device(device)).eval()
        return model, meta

    def sample(
        self,
        model_dir: str | os.PathLike[str],
        n: int,
        output: str | os.PathLike[str],
        *,
        caption: str | None = None,
        seed: int = 0,
        options: dict[str, str] | None = None,
    ) -> Path:
        import torch

        from irkit.generative.images.grid import save_grid
        from irkit.nn import seed_everything

        if caption is not None:
            raise InputError(f"{self.kind} is not caption-conditioned; drop --caption")
        opts = parse_options(options, self.sample_defaults)
        model, meta = self.load(model_dir, opts["device"])
        seed_everything(seed)
        with torch.no_grad():
            images = self.generate(model, n, {**opts, "meta": meta})
        nrow = opts["nrow"]
        if isinstance(images, tuple):  # a model that lays out its own rows
            images, nrow = images
        scale = 4 if model_height(meta) <= 16 else 2
        return save_grid(images.float().cpu(), output, nrow=nrow, scale=scale)

    def evaluate(self, model_dir: str | os.PathLike[str], *, options: dict[str, str] | None = None) -> dict[str, Any]:
        import torch

        from irkit.nn import pick_device, seed_everything

        opts = parse_options(options, self.eval_defaults)
        model, meta = self.load(model_dir, opts["device"])
        data, mode = meta["data"], meta["binarize"]
        x, y = binary_split(data, "test", mode)
        if opts.get("limit"):
            x, y = x[: opts["limit"]], y[: opts["limit"]]
        seed_everything(meta.get("seed", 0) + 1)
        start = time.perf_counter()
        with torch.no_grad():
            scores = self.score(
                model,
                torch.from_numpy(x),
                torch.from_numpy(y),
                {**opts, "device": pick_device(opts["device"]), "meta": meta},
            )
        result = {"model": self.kind}
        if self.describe(model.config):
            result["setting"] = self.describe(model.config)
        result.update(scores)
        result["baseline_nll"] = baseline_nll(data, mode)
        result["protocol"] = protocol(data, mode) + f", {len(x)} test images (split seed {SPLIT_SEED})"
        result["seconds"] = round(time.perf_counter() - start, 1)
        return result


def model_height(meta: dict[str, Any]) -> int:
    return int(meta.get("config", {}).get("height", 28))
