"""VAE with a dilated-CNN decoder (Yang et al., "Improved variational autoencoders for text
modeling using dilated convolutions", ICML 2017).

The encoder is the sentence VAE's LSTM; the decoder is a stack of residual
blocks of causal, dilated 1-D convolutions over the word embeddings (with ``z``
beside every input word). Output position ``t`` sees the inputs
``t - receptive_field + 1 .. t`` and no later ones: with ``kernel_size`` k and
``dilations`` d_1..d_L the receptive field is ``1 + (k - 1) * sum(d_i)``.
A small receptive field is a decoder too weak to ignore ``z`` (larger KL, worse
perplexity); one as wide as the sentence approaches the LSTM decoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from irkit.errors import InputError
from irkit.generative.text.common import LatentRecipe, LatentTextModel


@dataclass
class DCNNVAEConfig:
    vocab_size: int = 5000
    embed: int = 64
    hidden: int = 128  # encoder LSTM size and decoder channels
    latent: int = 16
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8)  # receptive field 1 + 2 * 15 = 31 words
    dropout: float = 0.2
    word_dropout: float = 0.0
    kl_schedule: str = "logistic"
    kl_warmup: int = 1500
    free_bits: float = 0.0  # nats per sentence of KL left unpenalised (Kingma et al. 2016); 0 = off


def receptive_field(kernel_size: int, dilations: tuple[int, ...]) -> int:
    return 1 + (kernel_size - 1) * sum(dilations)


class CausalBlock(nn.Module):
    """``x + W1 relu(conv_dilated(relu(x)))``; the convolution is padded on the left only."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.pad = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):  # (B, C, T)
        h = self.conv(F.pad(F.relu(x), (self.pad, 0)))
        return x + self.mix(self.drop(F.relu(h)))


class DCNNVAE(LatentTextModel):
    def __init__(self, config: DCNNVAEConfig):
        if config.kernel_size < 1 or not config.dilations or min(config.dilations) < 1:
            raise InputError("the dilated decoder needs kernel_size >= 1 and dilations >= 1")
        super().__init__(config)
        self.inp = nn.Conv1d(config.embed + config.latent, config.hidden, 1)
        self.blocks = nn.ModuleList(
            CausalBlock(config.hidden, config.kernel_size, d, config.dropout) for d in config.dilations
        )
        self.out = nn.Linear(config.hidden, config.vocab_size)

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.config.kernel_size, tuple(self.config.dilations))

    def decode_features(self, z, x):
        """Decoder features ``(B, T, C)`` from input embeddings ``x`` (``(B, T, E)``)."""
        x = torch.cat([x, z.unsqueeze(1).expand(-1, x.shape[1], -1)], -1)
        h = self.inp(x.transpose(1, 2))
        for block in self.blocks:
            h = block(h)
        return F.relu(h).transpose(1, 2)

    def decode_hidden(self, z, inputs):
        return self.decode_features(z, self.drop(self.embed(inputs)))


class Recipe(LatentRecipe):
    kind = "dcnn-vae"
    config_cls = DCNNVAEConfig

    def build(self, config: DCNNVAEConfig) -> DCNNVAE:
        return DCNNVAE(config)

    def score(self, model, data, opts):
        return {"receptive_field": model.receptive_field, **super().score(model, data, opts)}
