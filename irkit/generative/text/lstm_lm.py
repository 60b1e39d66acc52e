"""The baseline: an LSTM language model of the same size as the VAEs' LSTM decoder.

Its perplexity is exact (no latent variable to bound), so it is the figure a
sentence VAE has to match: a VAE whose bound is close to it models the text as
well while also giving a code ``z`` for every sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from irkit.generative.text.common import TextData, TextRecipe, decode_loop, exact_scores, limited, sequence_nll


@dataclass
class LSTMLMConfig:
    vocab_size: int = 5000
    embed: int = 64
    hidden: int = 128
    dropout: float = 0.2


class LSTMLM(nn.Module):
    def __init__(self, config: LSTMLMConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed, padding_idx=0)
        self.lstm = nn.LSTM(config.embed, config.hidden, batch_first=True)
        self.out = nn.Linear(config.hidden, config.vocab_size)
        self.drop = nn.Dropout(config.dropout)

    def hidden(self, inputs):
        out, _ = self.lstm(self.drop(self.embed(inputs)))
        return out

    def project(self, hidden):
        return self.out(self.drop(hidden))

    def logits(self, inputs):
        return self.project(self.hidden(inputs))

    def forward(self, tokens, lengths):
        nll = sequence_nll(self.project, self.hidden(tokens[:, :-1]), tokens[:, 1:])
        return {"nll": nll}, nll.mean()

    def generate(self, n: int, max_len: int, greedy: bool = False, generator=None):
        device = next(self.parameters()).device
        return decode_loop(lambda p: self.logits(p)[:, -1], n, max_len, greedy, generator, device)


class Recipe(TextRecipe):
    kind = "lstm-lm"
    config_cls = LSTMLMConfig
    sample_defaults = {**TextRecipe.sample_defaults, "greedy": False}  # noqa: RUF012  (greedy gives one sentence n times)

    def build(self, config: LSTMLMConfig) -> LSTMLM:
        return LSTMLM(config)

    def score(self, model, data: TextData, opts: dict[str, Any]) -> dict[str, Any]:
        corpus, vocab, split = data
        encoded = limited([vocab.encode(s) for s in corpus.sentences(split)], opts["limit"])
        return {**exact_scores(model, encoded, opts["batch"], opts["device"]), "estimator": "exact"}

    def generate(self, model, n: int, opts: dict[str, Any]) -> str:
        corpus, vocab, _ = self.data_of(opts["meta"])
        generator = self.generator(opts)
        how = "greedy decoding" if opts["greedy"] else "ancestral sampling, temperature 1"
        ids = model.generate(n, corpus.max_len, opts["greedy"], generator)
        lines = [f"# {self.kind}: samples", "", f"Data: {opts['meta'].get('protocol', corpus.source)}.", ""]
        lines += [f"## Samples ({how})", ""]
        lines += [f"{i}. {vocab.decode(row) or '(empty)'}" for i, row in enumerate(ids.tolist(), 1)]
        return "\n".join(lines) + "\n"
