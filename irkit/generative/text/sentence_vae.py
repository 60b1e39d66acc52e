"""Sentence VAE (Bowman et al., "Generating sentences from a continuous space", CoNLL 2016).

An LSTM reads the sentence into the mean and log-variance of a Gaussian
``q(z | x)``; a second LSTM, whose initial state is computed from ``z``,
generates the sentence. An LSTM decoder can model a sentence without ``z``, so
the KL term tends to drop to zero (posterior collapse); the two remedies of the
paper are both here: KL annealing (the KL weight rises from ~0 to 1 over
``kl_warmup`` updates, see :func:`irkit.generative.text.common.kl_weight`) and
word dropout (decoder inputs replaced by ``<unk>`` at rate ``word_dropout``).
A third, from Kingma et al. (2016), is optional: ``free_bits`` leaves the
first nats of KL per sentence (batch average) unpenalised.
The decoder is the same size as :mod:`irkit.generative.text.lstm_lm`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from irkit.generative.text.common import LatentRecipe, LatentTextModel


@dataclass
class SentenceVAEConfig:
    vocab_size: int = 5000
    embed: int = 64
    hidden: int = 128  # encoder and decoder LSTMs
    latent: int = 16
    dropout: float = 0.2
    word_dropout: float = 0.3
    kl_schedule: str = "logistic"  # logistic | linear | constant
    kl_warmup: int = 1500  # updates until the KL weight is ~1
    free_bits: float = 0.0  # nats per sentence of KL left unpenalised (Kingma et al. 2016); 0 = off
    z_every_step: bool = False  # also feed z beside every input word (Bowman: initial state only)


class SentenceVAE(LatentTextModel):
    def __init__(self, config: SentenceVAEConfig):
        super().__init__(config)
        self.z_to_state = nn.Linear(config.latent, 2 * config.hidden)
        extra = config.latent if config.z_every_step else 0
        self.decoder = nn.LSTM(config.embed + extra, config.hidden, batch_first=True)
        self.out = nn.Linear(config.hidden, config.vocab_size)

    def decode_hidden(self, z, inputs):
        x = self.drop(self.embed(inputs))
        if self.config.z_every_step:
            x = torch.cat([x, z.unsqueeze(1).expand(-1, x.shape[1], -1)], -1)
        h0, c0 = torch.tanh(self.z_to_state(z)).unsqueeze(0).chunk(2, -1)
        out, _ = self.decoder(x, (h0.contiguous(), c0.contiguous()))
        return out


class Recipe(LatentRecipe):
    kind = "sentence-vae"
    config_cls = SentenceVAEConfig

    def build(self, config: SentenceVAEConfig) -> SentenceVAE:
        return SentenceVAE(config)
