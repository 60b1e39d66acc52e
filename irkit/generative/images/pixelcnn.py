"""PixelCNN (van den Oord, Kalchbrenner and Kavukcuoglu, 2016), one grey channel.

The image density factorises in raster order, p(x) = prod_i p(x_i | x_<i), and
every conditional comes out of one pass of a convolutional net whose kernels are
*masked* so that the output at pixel i never sees pixel i or anything after it:

* the first layer is a 7x7 convolution with mask **A** (the centre tap is
  zeroed too, because the input at pixel i is the value being predicted);
* then residual blocks whose 3x3 convolutions carry mask **B** (the centre tap
  is kept: after layer one, position i only holds information about x_<i);
* then 1x1 convolutions to one Bernoulli logit per pixel (``levels=2``, for
  binarised images) or a softmax over 256 grey levels (``levels=256``).

With one colour channel the masks only have to order pixels, not the R/G/B
sub-pixels of the paper. The stack has the original PixelCNN's blind spot (a
wedge up and to the right is outside the receptive field); it is still exactly
causal, which ``tests/generative/images/test_pixelcnn.py`` proves by gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from irkit.errors import InputError
from irkit.generative.images.common import ImageRecipe, Images, epoch_batches
from irkit.generative.images.data import load_images


@dataclass
class PixelCNNConfig:
    channels: int = 1
    height: int = 28
    width: int = 28
    levels: int = 2  # 2: one Bernoulli logit per pixel; 256: softmax over grey levels
    features: int = 64  # feature maps of the residual stream
    blocks: int = 6  # residual blocks of mask-B convolutions
    first_kernel: int = 7
    kernel: int = 3
    head: int = 64  # width of the 1x1 output layers

    def __post_init__(self) -> None:
        check_pixel_config(self)


def check_pixel_config(config: Any) -> None:
    if config.channels != 1:
        raise InputError(f"{type(config).__name__} models one grey channel, not {config.channels}")
    if config.levels != 2 and not 2 < config.levels <= 256:
        raise InputError(f"levels must be 2 (binary) or up to 256 grey levels, not {config.levels}")


class MaskedConv2d(nn.Conv2d):
    """A same-padded convolution whose kernel only reaches earlier pixels in raster order."""

    def __init__(self, mask: str, in_channels: int, out_channels: int, kernel: int | tuple[int, int]):
        if mask not in ("A", "B"):
            raise ValueError(f"mask must be 'A' or 'B', not {mask!r}")
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        super().__init__(in_channels, out_channels, (kh, kw), padding=(kh // 2, kw // 2))
        m = torch.ones_like(self.weight)
        cy, cx = kh // 2, kw // 2
        m[:, :, cy, cx + (mask == "B") :] = 0  # the rest of the centre row (and the centre itself for A)
        m[:, :, cy + 1 :, :] = 0  # every row below
        self.register_buffer("mask", m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, kernel: int):
        super().__init__()
        half = max(channels // 2, 1)
        self.reduce = nn.Conv2d(channels, half, 1)
        self.conv = MaskedConv2d("B", half, half, kernel)
        self.expand = nn.Conv2d(half, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.reduce(F.relu(x))
        h = self.conv(F.relu(h))
        return x + self.expand(F.relu(h))


def pixel_nll(logits: torch.Tensor, x: torch.Tensor, levels: int) -> torch.Tensor:
    """NLL in nats per image, ``(B,)``, of ``x`` (B, 1, H, W) in [0, 1] under per-pixel logits."""
    if levels == 2:
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    target = (x * (levels - 1)).round().long().squeeze(1)  # (B, H, W) grey level
    return F.cross_entropy(logits, target, reduction="none").flatten(1).sum(1)


def model_input(x: torch.Tensor) -> torch.Tensor:
    return 2 * x - 1  # centred inputs train a little faster


def sample_pixels(net: nn.Module, n: int, height: int, width: int, levels: int, generator=None) -> torch.Tensor:
    """Draw ``n`` images pixel by pixel (one forward pass per pixel).

    Row r's outputs depend on rows <= r only, so each pass sees just those rows.
    """
    device = next(net.parameters()).device
    x = torch.zeros(n, 1, height, width, device=device)
    with torch.no_grad():
        for r in range(height):
            for c in range(width):
                logits, _ = net(x[:, :, : r + 1])
                if levels == 2:
                    p = torch.sigmoid(logits[:, 0, r, c])
                    x[:, 0, r, c] = torch.bernoulli(p, generator=generator)
                else:
                    probs = torch.softmax(logits[:, :, r, c], dim=1)
                    v = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                    x[:, 0, r, c] = v.float() / (levels - 1)
    return x


class PixelModel(nn.Module):
    """What PixelCNN and PixelRNN share: a ``features(x)`` map and a 1x1 ``head`` make the
    per-pixel logits; the exact NLL and raster-order sampling follow from them."""

    config: Any

    def features(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, 1, H, W) in [0, 1] (binary for ``levels=2``) -> (logits, mean NLL in nats per image)."""
        logits = self.head(self.features(self.first(model_input(x))))
        return logits, pixel_nll(logits, x, self.config.levels).mean()

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """Exact NLL in nats of each image, ``(B,)``."""
        logits, _ = self(x)
        return pixel_nll(logits, x, self.config.levels)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        cfg = self.config
        return sample_pixels(self, n, cfg.height, cfg.width, cfg.levels, generator)


class PixelCNN(PixelModel):
    def __init__(self, config: PixelCNNConfig):
        super().__init__()
        self.config = cfg = config
        self.first = MaskedConv2d("A", 1, cfg.features, cfg.first_kernel)
        self.blocks = nn.ModuleList(ResidualBlock(cfg.features, cfg.kernel) for _ in range(cfg.blocks))
        # 1x1 convolutions are mask-B convolutions when there is one input channel per pixel.
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(cfg.features, cfg.head, 1),
            nn.ReLU(),
            nn.Conv2d(cfg.head, 1 if cfg.levels == 2 else cfg.levels, 1),
        )

    def features(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            h = block(h)
        return h


def categorical_baseline_nll(train: np.ndarray, test: np.ndarray, levels: int) -> float:
    """Test NLL (nats per image) of independent per-pixel categoricals over grey levels (add-one smoothing)."""
    tr = np.rint(train.reshape(len(train), -1) * (levels - 1)).astype(np.int64)
    te = np.rint(test.reshape(len(test), -1) * (levels - 1)).astype(np.int64)
    counts = np.ones((tr.shape[1], levels))
    np.add.at(counts, (np.broadcast_to(np.arange(tr.shape[1]), tr.shape), tr), 1)
    logp = np.log(counts / counts.sum(1, keepdims=True))
    return float(-logp[np.arange(te.shape[1]), te].sum(1).mean())


class Recipe(ImageRecipe):
    """PixelCNN on binary images (``levels=2``) or on grey levels (``-O levels=256``)."""

    kind = "pixelcnn"
    config_cls = PixelCNNConfig
    epochs = 8
    train_defaults = {**ImageRecipe.train_defaults, "batch_size": 32}  # noqa: RUF012
    eval_defaults = {"batch": 100, "device": "auto", "limit": 0}  # noqa: RUF012
    data: str = ""  # set by train/load: grey-level models read their images themselves
    meta: dict[str, Any] = {}  # noqa: RUF012  (of the model folder last loaded)

    def build(self, config: PixelCNNConfig) -> nn.Module:
        return PixelCNN(config)

    def train(self, data: str, output, **kwargs) -> dict[str, Any]:
        self.data = data
        return super().train(data, output, **kwargs)

    def load(self, model_dir, device: str = "auto"):
        model, meta = super().load(model_dir, device)
        self.data, self.meta = meta["data"], meta
        return model, meta

    def grey(self, split: str, n: int | None = None) -> np.ndarray:
        return load_images(self.data, split)[0][:n]

    def fit(self, model, data: Images, trainer, opts: dict[str, Any]):
        if model.config.levels == 2:
            return super().fit(model, data, trainer, opts)
        # the binary images the base class passes are no use to a grey-level model
        return trainer.fit(model, epoch_batches(self.grey("train"), opts["batch_size"], trainer.config.seed))

    def describe(self, config) -> str:
        return "binary (Bernoulli) outputs" if config.levels == 2 else f"{config.levels}-way softmax on grey levels"

    def generate(self, model, n: int, options: dict[str, Any]) -> torch.Tensor:
        return model.sample(n)

    def score(self, model, data: Images, options: dict[str, Any]) -> dict[str, Any]:
        x = data.x
        if model.config.levels > 2:
            x = torch.from_numpy(self.grey("test", len(x)))
        nll = torch.cat([model.nll(xb.to(options["device"])).cpu() for xb in x.split(options["batch"])])
        out = {"nll": float(nll.mean()), "estimator": "exact: sum of the autoregressive conditionals"}
        out["bits_per_pixel"] = out["nll"] / (math.log(2) * x[0].numel())
        return out

    def evaluate(self, model_dir, *, options: dict[str, str] | None = None) -> dict[str, Any]:
        result = super().evaluate(model_dir, options=options)
        levels = self.meta["config"]["levels"]
        if levels > 2:  # not binarised: a grey-level protocol and baseline
            mode = f"{self.meta['binarize']} binarisation"
            result["protocol"] = result["protocol"].replace(mode, f"{levels} grey levels (not binarised)")
            result["baseline_nll"] = categorical_baseline_nll(self.grey("train"), self.grey("test"), levels)
        return result
