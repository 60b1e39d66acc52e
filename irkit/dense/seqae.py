"""Sequence autoencoder (Dai & Le, "Semi-supervised Sequence Learning", NIPS 2015).

An LSTM encoder reads a document's tokens; its final state starts an LSTM
decoder that reconstructs the same tokens with teacher forcing (it reads the
true previous token, not its own guess). The document vector is the encoder's
last hidden state. ``tie=True`` (the default) runs encoder and decoder with
one LSTM's weights, halving the parameters; ``tie=False`` gives each its own.

Sequences::

    encoder reads   w1 .. wT <eos>          (an empty document still has <eos>)
    decoder reads   <bos> w1 .. wT
    decoder writes  w1 .. wT <eos>

The output layer is an adaptive softmax (Grave et al., 2017): frequent words in
a small head, rare ones in clusters reached through it. It is an exact,
normalised distribution over the whole vocabulary, several times cheaper than
a full softmax for a 20k vocabulary, which matters on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")


def default_cutoffs(vocab_size: int) -> list[int]:
    """Adaptive-softmax cluster boundaries: a head of at most 2,000 words, then x5 per cluster."""
    cuts, c = [], min(2000, max(vocab_size // 4, 1))
    while c < vocab_size - 1:
        cuts.append(c)
        c *= 5
    return cuts or [vocab_size - 1]


@dataclass
class SeqAEConfig:
    vocab_size: int
    dim: int = 256  # LSTM state size = the document vector's size
    embed_dim: int = 128
    tie: bool = True
    max_len: int = 40  # tokens read per document (longer ones are cut)
    cutoffs: list[int] = field(default_factory=list)  # empty: default_cutoffs(vocab_size)


class SeqAE(nn.Module):
    def __init__(self, config: SeqAEConfig):
        super().__init__()
        self.config = config
        if not config.cutoffs:
            config.cutoffs = default_cutoffs(config.vocab_size)
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD)
        self.encoder = nn.LSTM(config.embed_dim, config.dim, batch_first=True)
        self.decoder = self.encoder if config.tie else nn.LSTM(config.embed_dim, config.dim, batch_first=True)
        self.out = nn.AdaptiveLogSoftmaxWithLoss(config.dim, config.vocab_size, config.cutoffs, div_value=4.0)

    def encode_state(self, src: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        packed = pack_padded_sequence(self.embed(src), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.encoder(packed)
        return state

    def encode(self, src: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Document vectors (B, dim): the encoder's last hidden state."""
        return self.encode_state(src, lengths)[0][-1]

    def forward(
        self, src: torch.Tensor, lengths: torch.Tensor, dec_in: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced reconstruction -> (per-document NLL (B,), mean NLL per token)."""
        state = self.encode_state(src, lengths)
        # Padding follows the real tokens, so the causal decoder never reads it before them.
        out, _ = self.decoder(self.embed(dec_in), state)
        mask = target != PAD
        result = self.out(out[mask], target[mask])
        row = torch.arange(src.shape[0], device=src.device)[:, None].expand_as(target)[mask]
        doc_nll = torch.zeros(src.shape[0], device=src.device).index_add_(0, row, -result.output)
        return doc_nll, result.loss

    @torch.no_grad()
    def reconstruct(self, src: torch.Tensor, lengths: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Greedy decoding from the encoder's state (B, steps)."""
        state = self.encode_state(src, lengths)
        steps = steps or int(lengths.max())
        tok = torch.full((src.shape[0], 1), BOS, dtype=torch.long, device=src.device)
        outs = []
        for _ in range(steps):
            o, state = self.decoder(self.embed(tok), state)
            tok = self.out.predict(o[:, -1]).unsqueeze(1)
            outs.append(tok)
        return torch.cat(outs, 1)


def tensors(docs: Sequence[Sequence[int]], max_len: int) -> dict[str, torch.Tensor]:
    """The model's inputs for a list of token-id documents (cut to ``max_len``)."""
    cut = [list(d[:max_len]) for d in docs]
    t = max(len(d) for d in cut) + 1
    src = np.full((len(cut), t), PAD, dtype=np.int64)
    dec_in = np.full((len(cut), t), PAD, dtype=np.int64)
    target = np.full((len(cut), t), PAD, dtype=np.int64)
    for r, d in enumerate(cut):
        n = len(d)
        src[r, :n], src[r, n] = d, EOS
        dec_in[r, 0], dec_in[r, 1 : n + 1] = BOS, d
        target[r, :n], target[r, n] = d, EOS
    lengths = np.array([len(d) + 1 for d in cut], dtype=np.int64)
    return {
        "src": torch.from_numpy(src),
        "lengths": torch.from_numpy(lengths),
        "dec_in": torch.from_numpy(dec_in),
        "target": torch.from_numpy(target),
    }


def batches(docs: Sequence[Sequence[int]], batch_size: int = 32, max_len: int = 40, seed: int = 0) -> list[dict]:
    """Batches of similar-length documents (little padding), in a random order per ``seed``."""
    rng = np.random.default_rng(seed)
    by_len = sorted(range(len(docs)), key=lambda i: (min(len(docs[i]), max_len), rng.random()))
    groups = [by_len[i : i + batch_size] for i in range(0, len(by_len), batch_size)]
    return [tensors([docs[i] for i in groups[g]], max_len) for g in rng.permutation(len(groups))]


@torch.no_grad()
def reconstruction_nll(model: SeqAE, docs: Sequence[Sequence[int]], batch_size: int = 64) -> float:
    """Mean teacher-forced NLL per token of ``docs`` (the training loss, without updates)."""
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(docs), batch_size):
        b = {k: v.to(device) for k, v in tensors(docs[i : i + batch_size], model.config.max_len).items()}
        nll, _ = model(**b)
        total += float(nll.sum())
        count += int((b["target"] != PAD).sum())
    return total / max(count, 1)
