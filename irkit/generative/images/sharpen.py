"""Sharpening AlignDRAW's samples with a conditional GAN on a Laplacian-pyramid level
(Mansimov et al. 2016, after Denton et al. 2015's LAPGAN).

One pyramid level: an image ``x`` gives a coarse version ``l = up(down(x))``
(average pooling by ``factor``, bilinear upsampling) and a residual
``r = x - l``. A generator ``G(l, noise)`` proposes the residual; a
discriminator ``D(l, r)`` tells real residuals of the training composites from
generated ones. A sharpened image is ``clamp(l + G(l, noise), 0, 1)``.

Used on AlignDRAW's samples (``irkit generate sample MODEL --sharpen FOLDER``),
the blurry sample is first taken to the same level (``l = up(down(sample))``), so
the generator sees what it was trained on; it then adds the detail of the level.
Beside the GAN loss the generator gets an L1 pull towards the true residual
(``l1``, per-pixel mean, weight 100 as in pix2pix), which LAPGAN does not use, and
the GAN term is weighted down (``adv`` 0.05): in a few CPU epochs a full-weight GAN
term lets the discriminator win and the generator learns no residual at all
(``-O l1=0 -O adv=1`` trains LAPGAN's pure GAN). Trained on the captioned MNIST
composites (:mod:`captions`): ``irkit generate train sharpen --data mnist-captions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from irkit.errors import InputError
from irkit.generative.images import captions as cap
from irkit.generative.images.common import ImageRecipe


@dataclass
class SharpenConfig:
    channels: int = 1
    height: int = cap.CANVAS
    width: int = cap.CANVAS
    factor: int = 2  # the coarse level is the image average-pooled by this factor, then upsampled
    filters: int = 16  # generator and discriminator widths
    noise: int = 1  # noise planes beside the coarse level
    adv: float = 0.05  # weight of the generator's GAN loss (1 with few CPU epochs: D wins, G learns nothing)
    l1: float = 100.0  # weight of the (per-pixel mean) L1 pull to the true residual, as pix2pix; 0: pure GAN

    def __post_init__(self) -> None:
        if self.factor < 2 or self.height % (2 * self.factor) or self.width % (2 * self.factor):
            raise InputError(
                f"sharpen wants factor >= 2 and sides divisible by 2*factor, not {self.height}x{self.width}, "
                f"factor {self.factor}"
            )
        if self.filters < 1 or self.noise < 0:
            raise InputError("filters must be positive and noise at least 0")


def coarse(x: torch.Tensor, factor: int) -> torch.Tensor:
    """``up(down(x))``: the pyramid level below ``x``, at ``x``'s size."""
    return F.interpolate(F.avg_pool2d(x, factor), scale_factor=factor, mode="bilinear", align_corners=False)


def mean_gradient(images: torch.Tensor) -> float:
    """Mean gradient magnitude ``sqrt(dx^2 + dy^2)`` (forward differences) over pixels and images:
    a sharper image of the same content has larger, more concentrated edges."""
    x = images.float().flatten(0, -3)  # (n, h, w)
    dx = x[:, :-1, 1:] - x[:, :-1, :-1]
    dy = x[:, 1:, :-1] - x[:, :-1, :-1]
    return float(torch.sqrt(dx.pow(2) + dy.pow(2)).mean())


class Sharpener(nn.Module):
    def __init__(self, config: SharpenConfig):
        super().__init__()
        self.config = c = config
        f = c.filters
        self.generator = nn.Sequential(
            nn.Conv2d(c.channels + c.noise, f, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(f, f, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(f, f, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(f, c.channels, 3, padding=1),
            nn.Tanh(),  # residuals of images in [0, 1] lie in [-1, 1]
        )
        with torch.no_grad():  # start from "no residual": the coarse level itself, a safe first guess
            self.generator[-2].weight.zero_()
            self.generator[-2].bias.zero_()
        self.disc = nn.Sequential(
            nn.Conv2d(2 * c.channels, f, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(f, 2 * f, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * f * (c.height // 4) * (c.width // 4), 1),
        )

    def residual(self, level: torch.Tensor) -> torch.Tensor:
        c = self.config
        noise = torch.rand(len(level), c.noise, c.height, c.width, device=level.device) * 2 - 1
        return self.generator(torch.cat([level, noise], 1))

    def frozen_disc(self, pair: torch.Tensor) -> torch.Tensor:
        """The discriminator with detached weights: the generator's loss moves the generator only."""
        params = {k: v.detach() for k, v in self.disc.named_parameters()}
        return functional_call(self.disc, params, (pair,))

    def forward(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """``x`` (B, C, H, W) real images -> ({sharpened, losses}, discriminator + generator loss)."""
        c = self.config
        level = coarse(x, c.factor)
        real = x - level
        fake = self.residual(level)
        d_real = self.disc(torch.cat([level, real], 1))
        d_fake = self.disc(torch.cat([level, fake.detach()], 1))
        d_loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
        d_loss = d_loss + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        fool = self.frozen_disc(torch.cat([level, fake], 1))
        g_adv = F.binary_cross_entropy_with_logits(fool, torch.ones_like(fool))
        l1 = (fake - real).abs().mean()
        out = {
            "output": (level + fake).clamp(0, 1).detach(),
            "d": d_loss.detach(),
            "g": g_adv.detach(),
            "l1": l1.detach(),
        }
        return out, d_loss + c.adv * g_adv + c.l1 * l1

    @torch.no_grad()
    def sharpen(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` (n, C, H, W) in [0, 1] (e.g. AlignDRAW's Bernoulli means) -> sharpened, same shape.

        Images of another size than the sharpener was trained for are refused with one line.
        """
        c = self.config
        if images.dim() != 4 or tuple(images.shape[1:]) != (c.channels, c.height, c.width):
            got = "x".join(str(s) for s in images.shape[-2:])
            raise InputError(
                f"this sharpener was trained for {c.height}x{c.width} images with {c.channels} channel(s); "
                f"these are {got} with {images.shape[1] if images.dim() == 4 else '?'}"
            )
        device = next(self.parameters()).device
        level = coarse(images.float().to(device), c.factor)
        return (level + self.residual(level)).clamp(0, 1).to(images.device)


class Recipe(ImageRecipe):
    """The sharpener, trained on real captioned composites (``--data mnist-captions``)."""

    kind = "sharpen"
    config_cls = SharpenConfig
    epochs = 3
    data_fields = ("channels", "height", "width")
    train_defaults = {"batch_size": 64, "lr": 1e-3, "grad_clip": 0.0, "per_epoch": 4000}  # noqa: RUF012
    eval_defaults = {"n": 500, "device": "auto"}  # noqa: RUF012
    sample_defaults = {"device": "auto", "n_captions": 0}  # noqa: RUF012
    scale = 2
    test_seed = 12345  # the same test composites as AlignDRAW's evaluation

    def build(self, config: SharpenConfig) -> Sharpener:
        return Sharpener(config)

    def prepare(self, data: str, opts: dict[str, Any]) -> str:
        if data != "mnist-captions":
            raise InputError(f"sharpen trains on mnist-captions, not {data!r}")
        return data

    def data_config(self, prepared: str) -> dict[str, Any]:
        return {"channels": 1, "height": cap.CANVAS, "width": cap.CANVAS}

    def fit(self, model: Sharpener, prepared: str, trainer, opts: dict[str, Any]):
        seed = trainer.config.seed

        def batches(epoch: int):
            # fresh composites every epoch, from the training digits (the test digits stay unseen)
            images = torch.from_numpy(cap.composites("train", opts["per_epoch"], seed=seed * 1000 + epoch)["images"])
            for i in range(0, len(images), opts["batch_size"]):
                yield (images[i : i + opts["batch_size"]],)

        # Adam with beta1 0.5, as GANs are usually trained
        optimizer = torch.optim.Adam(model.parameters(), lr=opts["lr"], betas=(0.5, 0.999))
        return trainer.fit(model, batches, optimizer=optimizer)

    def train_meta(self, data: str, prepared: str, opts: dict[str, Any], history) -> dict[str, Any]:
        return {"binarize": "threshold"}

    def protocol(self, data: str, opts: dict[str, Any]) -> str:
        return f"captioned MNIST composites ({cap.CANVAS}x{cap.CANVAS}, training digits of the t10k split 8000/2000)"

    def test_images(self, n: int) -> torch.Tensor:
        return torch.from_numpy(cap.composites("seen", n, seed=self.test_seed)["images"])

    def generate(self, model: Sharpener, n: int, opts: dict[str, Any]):
        """Rows of test composites: the coarse level, its sharpening, the real image."""
        x = self.test_images(n).to(next(model.parameters()).device)
        level = coarse(x, model.config.factor)
        sharp = model.sharpen(x)  # takes x to its coarse level, then adds a generated residual
        return torch.stack([level, sharp, x], 1).flatten(0, 1), 3

    def test_data(self, meta: dict[str, Any], opts: dict[str, Any]) -> torch.Tensor:
        if opts["n"] < 1:
            raise InputError(f"n must be at least 1, not {opts['n']}")
        return self.test_images(opts["n"])

    def score(self, model: Sharpener, data: torch.Tensor, opts: dict[str, Any]) -> dict[str, Any]:
        x = data.to(opts["device"])
        level = coarse(x, model.config.factor)
        sharp = model.sharpen(x)
        return {
            "l1_coarse": float((level - x).abs().mean()),
            "l1_sharpened": float((sharp - x).abs().mean()),
            "gradient_coarse": mean_gradient(level),
            "gradient_sharpened": mean_gradient(sharp),
            "gradient_real": mean_gradient(x),
            "estimator": "mean absolute error to the real composite and mean gradient magnitude, per pixel",
        }

    def report(self, model: Sharpener, data: torch.Tensor, opts: dict[str, Any]) -> dict[str, Any]:
        return {
            "protocol": self.protocol("mnist-captions", {}) + f"; {len(data)} test composites (seed {self.test_seed})"
        }
