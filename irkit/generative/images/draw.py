"""DRAW (Gregor, Danihelka, Graves, Rezende and Wierstra, 2015).

A variational auto-encoder that builds the image over ``steps`` glimpses. At
step t an encoder LSTM reads the image and the error image ``x - sigmoid(c)``
(conditioned on the decoder's last state), a Gaussian posterior gives ``z_t``,
a decoder LSTM turns ``z_t`` into an update that is *added* to a canvas ``c``;
the image likelihood is Bernoulli(sigmoid(c_T)). The loss is the negative
evidence lower bound: reconstruction NLL plus the sum of the per-step KLs to a
standard normal prior, an upper bound on -log p(x) in nats.

Attention: the decoder state sets the centre, stride, width and intensity of an
N x N grid of Gaussian filters (a *filterbank*: ``F_Y`` (N x H) and ``F_X``
(N x W)); reading extracts ``gamma * F_Y x F_X^T``, writing adds
``F_Y^T w F_X / gamma``. Without attention the encoder reads the whole image
and the decoder writes a whole-image update.

Changes from the paper, all to learn faster in a few CPU epochs: the canvas
starts from learned per-pixel logits set to the training images' mean
(``canvas_bias``; the paper starts from zeros); the attention starts on a grid
that covers the image (:func:`attention_params`); and the defaults are smaller
(T=16, z of 16, a 5x5 read; the paper's MNIST model has T=64, z of 100 and a
2x2 read: ``-O steps=64 -O z=100 -O read_n=2``).

The canvas after every step is kept, so :meth:`DRAW.generate` can return the
sequence of canvases (the recipe saves it as a PNG strip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from irkit.errors import InputError
from irkit.generative.distributions import gaussian_kl, normal_log_prob
from irkit.generative.images.common import ImageRecipe, Images, importance_nll, pixel_logits


@dataclass
class DRAWConfig:
    channels: int = 1
    height: int = 28
    width: int = 28
    steps: int = 16  # glimpses T (the paper: 64)
    enc: int = 256  # encoder LSTM size
    dec: int = 256  # decoder LSTM size
    z: int = 16  # latent size per step (the paper: 100)
    attention: bool = True
    read_n: int = 5  # read grid N x N (the paper: 2; 5 learns faster in a few epochs)
    write_n: int = 5  # write grid N x N
    canvas_bias: bool = True  # start from a learned canvas, not zeros (see the module docstring)

    def __post_init__(self) -> None:
        if self.channels != 1:
            raise InputError(f"DRAW models one binary channel, not {self.channels}")
        if min(self.steps, self.enc, self.dec, self.z, self.read_n, self.write_n) < 1:
            raise InputError("steps, enc, dec, z, read_n and write_n must all be positive")


def filterbank(
    params: torch.Tensor, n: int, height: int, width: int, eps: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(F_X (B, n, width), F_Y (B, n, height), gamma (B,))`` from raw attention parameters (B, 5).

    The five numbers are the grid centre (x and y; -1..1 spans the image), the
    log variance of the filters, the log stride between them and the log
    intensity. Coordinates are 0-based pixels, so a zero centre is the middle.
    """
    gx_, gy_, log_var, log_delta, log_gamma = params.unbind(1)
    gx = (width - 1) / 2 * (gx_ + 1)
    gy = (height - 1) / 2 * (gy_ + 1)
    delta = (max(height, width) - 1) / max(n - 1, 1) * torch.exp(log_delta)
    var = torch.exp(log_var)
    offsets = torch.arange(n, device=params.device, dtype=params.dtype) - (n - 1) / 2  # filter i's offset

    def bank(centre: torch.Tensor, size: int) -> torch.Tensor:
        mu = centre[:, None] + offsets[None, :] * delta[:, None]  # (B, n)
        pos = torch.arange(size, device=params.device, dtype=params.dtype)
        f = torch.exp(-((pos[None, None, :] - mu[:, :, None]) ** 2) / (2 * var[:, None, None]))
        return f / (f.sum(2, keepdim=True) + eps)  # each filter sums to one over the image

    return bank(gx, width), bank(gy, height), torch.exp(log_gamma)


def attention_params(hidden: int, n: int, height: int, width: int) -> nn.Linear:
    """The layer from a decoder state to the five attention parameters, biased to start on a useful grid.

    With the paper's parameterisation a zero output puts N filters of one pixel's
    variance a whole image apart (for N = 2, on the blank border), where reads
    carry no information and gradients barely move them. Starting instead with the
    N x N filters at the centres of N x N equal cells, each as wide as half its
    cell, every glimpse sees (blurred) the whole image from the first step on.
    """
    layer = nn.Linear(hidden, 5)
    size = max(height, width)
    stride = (size - 1) / n
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([0.0, 0.0, 2 * math.log(stride / 2), math.log(max(n - 1, 1) / n), 0.0]))
    return layer


class Reader(nn.Module):
    """``read(x, x_hat, h_dec)``: two N x N glimpses (attention) or both whole images."""

    def __init__(self, hidden: int, height: int, width: int, n: int, attention: bool):
        super().__init__()
        self.height, self.width, self.n, self.attention = height, width, n, attention
        self.params = attention_params(hidden, n, height, width) if attention else None
        self.size = 2 * n * n if attention else 2 * height * width

    def forward(self, x: torch.Tensor, x_hat: torch.Tensor, h_dec: torch.Tensor) -> torch.Tensor:
        """``x``, ``x_hat`` (B, H, W) -> (B, size)."""
        if self.params is None:
            return torch.cat([x.flatten(1), x_hat.flatten(1)], 1)
        fx, fy, gamma = filterbank(self.params(h_dec), self.n, self.height, self.width)
        glimpses = [fy @ img @ fx.transpose(1, 2) for img in (x, x_hat)]  # (B, n, n) each
        return gamma[:, None] * torch.cat([g.flatten(1) for g in glimpses], 1)


class Writer(nn.Module):
    """``write(h_dec)``: an update to the (B, H, W) canvas, through an N x N patch with attention."""

    def __init__(self, hidden: int, height: int, width: int, n: int, attention: bool):
        super().__init__()
        self.height, self.width, self.n, self.attention = height, width, n, attention
        self.params = attention_params(hidden, n, height, width) if attention else None
        self.patch = nn.Linear(hidden, n * n if attention else height * width)

    def forward(self, h_dec: torch.Tensor) -> torch.Tensor:
        w = self.patch(h_dec)
        if self.params is None:
            return w.view(-1, self.height, self.width)
        fx, fy, gamma = filterbank(self.params(h_dec), self.n, self.height, self.width)
        return fy.transpose(1, 2) @ w.view(-1, self.n, self.n) @ fx / gamma[:, None, None]


class DRAW(nn.Module):
    def __init__(self, config: DRAWConfig):
        super().__init__()
        self.config = cfg = config
        h, w = cfg.height, cfg.width
        self.reader = Reader(cfg.dec, h, w, cfg.read_n, cfg.attention)
        self.encoder = nn.LSTMCell(self.reader.size + cfg.dec, cfg.enc)
        self.posterior = nn.Linear(cfg.enc, 2 * cfg.z)  # mean and log variance of q(z_t | x, z_<t)
        self.decoder = nn.LSTMCell(cfg.z, cfg.dec)
        self.writer = Writer(cfg.dec, h, w, cfg.write_n, cfg.attention)
        self.canvas0 = nn.Parameter(torch.zeros(h, w), requires_grad=cfg.canvas_bias)

    def _state(self, b: int, size: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return like.new_zeros(b, size), like.new_zeros(b, size)

    def glimpses(self, x: torch.Tensor) -> tuple[torch.Tensor, list[tuple[torch.Tensor, ...]]]:
        """Run the T steps on binary ``x`` (B, 1, H, W): ``(canvas logits (B, H, W), [(z, mu, logvar)] per step)``."""
        cfg = self.config
        x = x.reshape(-1, cfg.height, cfg.width)
        b = x.shape[0]
        canvas = self.canvas0.expand(b, -1, -1)
        enc, dec = self._state(b, cfg.enc, x), self._state(b, cfg.dec, x)
        latents = []
        for _ in range(cfg.steps):
            x_hat = x - torch.sigmoid(canvas)
            r = self.reader(x, x_hat, dec[0])
            enc = self.encoder(torch.cat([r, dec[0]], 1), enc)
            mu, logvar = self.posterior(enc[0]).chunk(2, 1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            latents.append((z, mu, logvar))
            dec = self.decoder(z, dec)
            canvas = canvas + self.writer(dec[0])
        return canvas, latents

    def bound(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(canvas logits, negative ELBO in nats per image (B,))``: Bernoulli NLL of x plus the KLs."""
        canvas, latents = self.glimpses(x)
        recon = F.binary_cross_entropy_with_logits(canvas, x.reshape(canvas.shape), reduction="none").flatten(1).sum(1)
        return canvas, recon + sum(gaussian_kl(mu, logvar) for _, mu, logvar in latents)

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """``log p(x, z_1..T) - log q(z_1..T | x)`` for ``k`` posterior draws per image: (B, k).

        ``-log mean_k exp(.)`` estimates -log p(x) (Burda et al.); with ``k=1`` its
        mean is the negative ELBO again, with the KLs sampled instead of exact.
        """
        xk = x.repeat_interleave(k, 0)
        canvas, latents = self.glimpses(xk)
        logw = -F.binary_cross_entropy_with_logits(canvas, xk.reshape(canvas.shape), reduction="none").flatten(1).sum(1)
        for z, mu, logvar in latents:
            logw = logw + normal_log_prob(z) - normal_log_prob(z, mu, logvar)
        return logw.view(-1, k)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, 1, H, W) binary -> (reconstruction probabilities, mean bound in nats per image)."""
        canvas, bound = self.bound(x)
        return torch.sigmoid(canvas)[:, None], bound.mean()

    @torch.no_grad()
    def generate(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Canvases ``sigmoid(c_t)`` after every step for ``z_t ~ N(0, I)``: (n, steps, 1, H, W)."""
        cfg = self.config
        device = next(self.parameters()).device
        canvas = self.canvas0.expand(n, -1, -1)
        dec = self._state(n, cfg.dec, canvas)
        frames = []
        for _ in range(cfg.steps):
            z = torch.randn(n, cfg.z, generator=generator, device=device)
            dec = self.decoder(z, dec)
            canvas = canvas + self.writer(dec[0])
            frames.append(torch.sigmoid(canvas))
        return torch.stack(frames, 1)[:, :, None]


class Recipe(ImageRecipe):
    """DRAW with read and write attention; ``sample -O frames=1`` draws the canvas over the steps."""

    kind = "draw"
    config_cls = DRAWConfig
    epochs = 16
    train_defaults = {**ImageRecipe.train_defaults, "batch_size": 32, "lr": 2e-3, "grad_clip": 10.0}  # noqa: RUF012
    overrides = {"attention": True}  # noqa: RUF012
    eval_defaults = {"k": 1, "batch": 100, "chunk": 100, "device": "auto", "limit": 0}  # noqa: RUF012
    sample_defaults = {"device": "auto", "nrow": 8, "frames": False}  # noqa: RUF012

    def fit(self, model: DRAW, data: Images, trainer, opts: dict[str, Any]):
        if model.config.canvas_bias:
            with torch.no_grad():
                model.canvas0.copy_(pixel_logits(data.x)[0])
        return super().fit(model, data, trainer, opts)

    def build(self, config: DRAWConfig) -> DRAW:
        if config.attention != self.overrides["attention"]:
            other = "draw" if config.attention else "draw-noattn"
            raise InputError(f"{self.kind} has attention={self.overrides['attention']}; train {other} instead")
        return DRAW(config)

    def describe(self, config: DRAWConfig) -> str:
        att = f"read {config.read_n}x{config.read_n}, write {config.write_n}x{config.write_n}"
        return f"T={config.steps}, LSTM {config.enc}/{config.dec}, z {config.z}, " + (
            att if config.attention else "no attention"
        )

    def generate(self, model: DRAW, n: int, options: dict[str, Any]):
        frames = model.generate(n)  # (n, T, 1, H, W)
        if options["frames"]:  # one row per sample: its canvas after each step
            return frames.flatten(0, 1), frames.shape[1]
        return frames[:, -1]

    def score(self, model: DRAW, data: Images, options: dict[str, Any]) -> dict[str, Any]:
        x = data.x
        device, k = options["device"], options["k"]
        if k == 1:
            bound = torch.cat([model.bound(xb.to(device))[1].cpu() for xb in x.split(options["batch"])])
            return {
                "nll": float(bound.mean()),
                "estimator": "variational bound (negative ELBO, exact KLs), an upper bound",
            }
        run = {"batch": options["batch"], "chunk": options["chunk"], "device": device}
        return {
            "nll": float(importance_nll(model.log_weights, x, k, **run).mean()),
            "estimator": f"importance sampling, k={k}",
        }


class NoAttentionRecipe(Recipe):
    """DRAW reading and writing the whole image at every step."""

    kind = "draw-noattn"
    epochs = 10
    overrides = {"attention": False}  # noqa: RUF012
