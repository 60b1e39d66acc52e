"""VAE-GAN (Larsen, Sønderby, Larochelle & Winther 2016).

A VAE whose reconstruction error is measured in the feature space of a GAN
discriminator's hidden layer ``l`` instead of (only) pixel by pixel:

    L_llike = 1/2 || Dis_l(x) - Dis_l(x~) ||^2     (a Gaussian in feature space)

where ``x~`` decodes ``z ~ q(z|x)``. The discriminator learns to tell data from
reconstructions and from samples of the prior; the decoder also plays the GAN
game against it. As in the paper, the three parts get different losses:

    encoder:        KL(q(z|x) || p(z)) + L_llike
    decoder:        L_llike + adv * GAN(fool Dis on x~ and on decoded prior draws)
    discriminator:  GAN(tell x from x~ and from prior samples)

(``adv`` plays the part of Larsen's 1/gamma.) One optimiser and one backward
pass serve all three: a term meant for one part reaches the others' parameters
only through detached copies (the discriminator's weights are detached when the
VAE's terms go through it, the images are detached in the discriminator's term).

Feature-space error defines no pixel likelihood, so a test NLL needs one: the
decoder's sigmoid output is read as Bernoulli means, ``p(x|z)``, and a pixel
term ``pixel * BCE(x, x~)`` (default weight 1) keeps those means calibrated.
``pixel=0`` is Larsen's pure objective; its NLL is then much worse (see the
benchmark). The NLL is estimated by importance sampling with the encoder as the
proposal, exactly as for the VAE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from irkit.errors import InputError
from irkit.generative.distributions import bernoulli_log_prob
from irkit.generative.images.common import (
    ImageRecipe,
    Images,
    gaussian_log_weights,
    importance_nll,
    init_decoder_bias,
    mlp,
    prior_images,
)


@dataclass
class VAEGANConfig:
    channels: int = 1
    height: int = 28
    width: int = 28
    latent: int = 50
    hidden: int = 400  # encoder and decoder MLP units
    filters: int = 16  # discriminator: conv(f) -> conv(2f) = layer l -> logit
    pixel: float = 1.0  # weight of the pixel-space Bernoulli error (0 = Larsen's objective)
    feature: float = 1.0  # weight of the Dis_l feature-space error
    adv: float = 1.0  # weight of the decoder's GAN loss

    def __post_init__(self) -> None:
        if self.height % 4 or self.width % 4:
            raise InputError(f"vaegan's discriminator wants sides divisible by 4, not {self.height}x{self.width}")


class Discriminator(nn.Module):
    def __init__(self, c: VAEGANConfig):
        super().__init__()
        f = c.filters
        self.features = nn.Sequential(  # Dis_l: the layer whose activations measure reconstruction error
            nn.Conv2d(c.channels, f, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(f, 2 * f, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * f * (c.height // 4) * (c.width // 4), 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return h, self.head(h).squeeze(-1)


class VAEGAN(nn.Module):
    def __init__(self, config: VAEGANConfig):
        super().__init__()
        self.config = c = config
        self.pixels = c.channels * c.height * c.width
        self.encoder = mlp(self.pixels, c.hidden, 2 * c.latent, act="relu")
        self.decoder = mlp(c.latent, c.hidden, self.pixels, act="relu")
        self.disc = Discriminator(c)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.encoder(x.flatten(1)).chunk(2, -1)
        return mean, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        c = self.config
        return self.decoder(z).view(*z.shape[:-1], c.channels, c.height, c.width)

    def frozen_disc(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The discriminator with detached weights: gradients reach ``x`` only."""
        params = {k: v.detach() for k, v in self.disc.named_parameters()}
        return functional_call(self.disc, params, (x,))

    def forward(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        c = self.config
        mean, logvar = self.encode(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        logits = self.decode(z)
        recon = torch.sigmoid(logits)
        fake = torch.sigmoid(self.decode(torch.randn_like(z)))

        kl = 0.5 * (mean.pow(2) + logvar.exp() - logvar - 1).sum(-1)
        pixel = -bernoulli_log_prob(logits, x)
        # the discriminator's own pass (images detached): real vs reconstructions and prior samples
        h, d = self.disc(torch.cat([x, recon.detach(), fake.detach()]))
        d_x, d_gen = d.split([len(x), 2 * len(x)])
        disc_loss = F.binary_cross_entropy_with_logits(
            d_x, torch.ones_like(d_x)
        ) + 2 * F.binary_cross_entropy_with_logits(d_gen, torch.zeros_like(d_gen))
        # the VAE's pass through a frozen discriminator; the GAN term trains the decoder only
        # (Larsen et al.), so its reconstructions come from z without the encoder's graph
        recon_dec = torch.sigmoid(self.decode(z.detach()))
        h_gen, d_frozen = self.frozen_disc(torch.cat([recon, recon_dec, fake]))
        h_recon, _ = h_gen.split([len(x), 2 * len(x)])
        feature = 0.5 * (h[: len(x)].detach() - h_recon).pow(2).sum(-1)
        _, d_fool = d_frozen.split([len(x), 2 * len(x)])
        fool = 2 * F.binary_cross_entropy_with_logits(d_fool, torch.ones_like(d_fool))
        vae_loss = (kl + c.pixel * pixel + c.feature * feature).mean() + c.adv * fool

        parts = {"kl": kl.mean(), "pixel": pixel.mean(), "feature": feature.mean(), "disc": disc_loss}
        return parts, vae_loss + disc_loss

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """``log p(x|z) + log p(z) - log q(z|x)`` for ``k`` encoder draws: ``(batch, k)``."""
        return gaussian_log_weights(self.decode, x, *self.encode(x), k)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        return prior_images(self, n)


class Recipe(ImageRecipe):
    kind = "vaegan"
    config_cls = VAEGANConfig
    epochs = 15
    train_defaults = {**ImageRecipe.train_defaults, "batch_size": 50, "lr": 5e-4}  # noqa: RUF012

    def build(self, config: VAEGANConfig) -> VAEGAN:
        return VAEGAN(config)

    def fit(self, model: VAEGAN, data: Images, trainer, opts: dict[str, Any]):
        init_decoder_bias(model, data.x)
        return super().fit(model, data, trainer, opts)

    def describe(self, config: VAEGANConfig) -> str:
        return f"pixel {config.pixel:g} + feature {config.feature:g} reconstruction, adversarial {config.adv:g}"

    def generate(self, model: VAEGAN, n: int, options: dict[str, Any]) -> torch.Tensor:
        return model.sample(n)

    def score(self, model: VAEGAN, data: Images, options: dict[str, Any]) -> dict[str, Any]:
        x = data.x
        run = {"batch": options["batch"], "chunk": options["chunk"], "device": options["device"]}
        return {
            "elbo_nll": float(importance_nll(model.log_weights, x, 1, **run).mean()),
            "nll": float(importance_nll(model.log_weights, x, options["k"], **run).mean()),
            "estimator": f"importance sampling, encoder q(z|x) proposal, Bernoulli decoder means, k={options['k']}",
        }
