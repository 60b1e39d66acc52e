"""DocNADE (Larochelle & Lauly, NIPS 2012; Lauly et al., JMLR 2016): a neural
autoregressive model of the words of a document.

A document is a bag of word ids ``v_1..v_D`` taken in a random order. Word ``i``
is predicted from the words before it through one hidden layer whose input is a
running sum of word vectors::

    h_i = g(c + sum_{k<i} W[:, v_k])          p(v_i | v_<i) = softmax-tree(h_i)

so the ``D`` conditionals of a document cost one cumulative sum. The document's
vector is the hidden state after all of its words, ``g(c + sum_k W[:, v_k])``.

DocNADE-LM (Lauly et al., JMLR 2016, section 5; ``ngram = n > 1``) models the
words in their natural order and adds n-gram units to the bag-of-words context::

    h_i = g(c + sum_{k<i} W[:, v_k] + sum_{k=1}^{n-1} U_k W_LM[:, v_{i-k}])

``W_LM`` is a second word-embedding matrix and ``U_k`` a ``d x d`` matrix per
distance ``k``, so the hidden layer also sees which words came just before.
The document vector stays the bag-of-words state ``g(c + sum_k W[:, v_k])``:
the n-gram units describe the last few words, not the document, and leaving
them out keeps a document's vector independent of its word order.

The softmax over the vocabulary is a binary tree (hierarchical softmax): each
word is a leaf, each inner node ``n`` a logistic unit ``sigmoid(b_n + U_n . h)``
that picks a branch, and ``p(w | h)`` is the product of the branch
probabilities on the path to ``w``'s leaf, which sums to one over the vocabulary
by construction. Lauly et al. use a binary tree; we build a Huffman tree on the
training counts, as word2vec does, so that a token costs on average as many
logistic units as its code is long (close to the unigram entropy, about 10 for
these collections), not ``log2 V`` for every word.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from irkit.errors import InputError

ACTIVATIONS = ("sigmoid", "tanh", "relu")
ORDERS = ("random", "natural")


def huffman_tree(counts: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paths of a Huffman tree over ``len(counts)`` words.

    Returns ``nodes`` (V, L) int64 (inner-node ids 0..V-2 from the root down),
    ``codes`` (V, L) float32 (1 = right branch) and ``lengths`` (V,), padded to
    the longest code ``L``. Ties break by word id, so the tree is deterministic.
    """
    v = len(counts)
    if v < 2:
        raise InputError(f"a softmax tree needs at least 2 words (got {v})")
    heap = [(float(c), i, i) for i, c in enumerate(counts)]  # (count, tie-break, node id)
    heapq.heapify(heap)
    parent = np.zeros(2 * v - 1, dtype=np.int64)
    bit = np.zeros(2 * v - 1, dtype=np.float32)
    nxt = v
    while len(heap) > 1:
        c0, _, a = heapq.heappop(heap)
        c1, _, b = heapq.heappop(heap)
        parent[a], bit[a] = nxt, 0.0
        parent[b], bit[b] = nxt, 1.0
        heapq.heappush(heap, (c0 + c1, nxt, nxt))
        nxt += 1
    root = nxt - 1
    paths: list[list[int]] = []
    bits: list[list[float]] = []
    for w in range(v):
        ns, bs, node = [], [], w
        while node != root:
            ns.append(int(parent[node]) - v)  # inner node ids 0..v-2
            bs.append(float(bit[node]))
            node = int(parent[node])
        paths.append(ns[::-1])
        bits.append(bs[::-1])
    lengths = np.array([len(p) for p in paths], dtype=np.int64)
    depth = int(lengths.max())
    nodes = np.zeros((v, depth), dtype=np.int64)
    codes = np.zeros((v, depth), dtype=np.float32)
    for w in range(v):
        nodes[w, : lengths[w]] = paths[w]
        codes[w, : lengths[w]] = bits[w]
    return nodes, codes, lengths


@dataclass
class DocNADEConfig:
    vocab_size: int
    dim: int = 256
    activation: str = "tanh"
    max_len: int = 1000  # words per document seen in one training step (a random subset beyond)
    # DocNADE-LM: the previous ngram - 1 words also feed the hidden layer (1: plain DocNADE).
    ngram: int = 1


class DocNADE(nn.Module):
    """Word ids ``0..V-1``; id ``V`` pads a batch."""

    def __init__(self, config: DocNADEConfig, counts: Sequence[float] | None = None, tree: tuple | None = None):
        """``counts`` shape the Huffman tree; a saved model passes its ``tree`` (nodes, codes, lengths) instead."""
        super().__init__()
        if config.activation not in ACTIVATIONS:
            raise InputError(f"DocNADE activation must be one of {', '.join(ACTIVATIONS)}, not {config.activation!r}")
        if not isinstance(config.ngram, int) or config.ngram < 1:
            raise InputError(
                f"the n-gram order must be an integer of at least 1 (1 is plain DocNADE), not {config.ngram!r}"
            )
        self.config = config
        v, d = config.vocab_size, config.dim
        self.pad = v
        self.W = nn.Embedding(v + 1, d, padding_idx=v)
        self.c = nn.Parameter(torch.zeros(d))
        self.U = nn.Parameter(torch.zeros(v - 1, d))  # one logistic unit per inner tree node
        self.b = nn.Parameter(torch.zeros(v - 1))
        nn.init.uniform_(self.W.weight, -0.5 / math.sqrt(d), 0.5 / math.sqrt(d))
        if config.ngram > 1:
            # W_LM and [U_1 .. U_{n-1}] side by side: one matrix product sums the n - 1 terms.
            self.W_lm = nn.Embedding(v + 1, d, padding_idx=v)
            self.U_lm = nn.Linear((config.ngram - 1) * d, d, bias=False)
            nn.init.uniform_(self.W_lm.weight, -0.5 / math.sqrt(d), 0.5 / math.sqrt(d))
        with torch.no_grad():
            self.W.weight[v].zero_()
            if config.ngram > 1:
                self.W_lm.weight[v].zero_()
        if tree is None:
            tree = tuple(torch.from_numpy(a) for a in huffman_tree(counts if counts is not None else np.ones(v)))
        nodes, codes, lengths = tree
        if nodes.shape[0] != v:
            raise InputError(f"the softmax tree has {nodes.shape[0]} leaves for a vocabulary of {v}")
        # Buffers travel with state_dict, so a saved model keeps its tree.
        self.register_buffer("nodes", nodes)
        self.register_buffer("codes", codes)
        self.register_buffer("lengths", lengths)

    def g(self, x: torch.Tensor) -> torch.Tensor:
        return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu}[self.config.activation](x)

    @property
    def order(self) -> str:
        """The word order the model is trained in: n-gram units need the text's own order."""
        return "natural" if self.config.ngram > 1 else "random"

    def lm_units(self, tokens: torch.Tensor) -> torch.Tensor:
        """``h_i^LM = sum_{k=1}^{n-1} U_k W_LM[:, v_{i-k}]`` (B, T, d): only the n - 1 words before ``i``."""
        emb = self.W_lm(tokens)
        t = tokens.shape[1]
        # Shift by k along the sequence: position i reads word i - k, zeros before the first word.
        shifted = [F.pad(emb, (0, 0, k, 0))[:, :t] for k in range(1, self.config.ngram)]
        return self.U_lm(torch.cat(shifted, dim=-1))

    def conditionals(self, tokens: torch.Tensor) -> torch.Tensor:
        """Hidden states ``h_i`` (B, T, d) that predict word ``i`` from the words before it."""
        emb = self.W(tokens)
        pre = self.c + torch.cumsum(emb, dim=1) - emb  # exclusive prefix sum
        if self.config.ngram > 1:
            pre = pre + self.lm_units(tokens)
        return self.g(pre)

    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        """Document vectors (B, d): the bag-of-words state after all words (padding adds nothing)."""
        return self.g(self.c + self.W(tokens).sum(dim=1))

    def word_nll(self, h: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """``-log p(word | h)`` (N,) for hidden states (N, d) and word ids (N,)."""
        depth = int(self.lengths[words].max()) if len(words) else 1
        nodes = self.nodes[words, :depth]
        mask = torch.arange(depth, device=h.device) < self.lengths[words, None]
        # F.embedding rather than U[nodes]: its backward is a fast scatter on CPU.
        logits = torch.einsum("nlh,nh->nl", F.embedding(nodes, self.U), h) + self.b[nodes]
        bits = F.binary_cross_entropy_with_logits(logits, self.codes[words, :depth], reduction="none")
        return (bits * mask).sum(-1)

    def log_probs(self, h: torch.Tensor) -> torch.Tensor:
        """Full distribution ``log p(w | h)`` (N, V) over the vocabulary (for checks, not training)."""
        logits = h @ self.U.T + self.b  # (N, V-1): every inner node
        mask = torch.arange(self.nodes.shape[1], device=h.device) < self.lengths[:, None]  # (V, L)
        chosen = logits[:, self.nodes]  # (N, V, L)
        sign = 2 * self.codes - 1  # code 1 -> sigmoid(x), code 0 -> sigmoid(-x)
        return (F.logsigmoid(chosen * sign) * mask).sum(-1)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``tokens`` (B, T) in the order to model them -> (per-document NLL (B,), mean NLL per word)."""
        mask = tokens != self.pad
        h = self.conditionals(tokens)[mask]
        words = tokens[mask]
        nll = self.word_nll(h, words)
        row = torch.arange(tokens.shape[0], device=tokens.device)[:, None].expand_as(tokens)[mask]
        doc_nll = torch.zeros(tokens.shape[0], device=tokens.device).index_add_(0, row, nll)
        return doc_nll, nll.mean() if len(nll) else nll.sum()


def batches(
    docs: Sequence[Sequence[int]],
    pad: int,
    batch_tokens: int = 4096,
    max_len: int = 1000,
    seed: int = 0,
    order: str = "random",
) -> list[torch.Tensor]:
    """Padded batches of documents, each in a fresh random word order (or ``order="natural"``: as written).

    Documents of similar length share a batch (little padding); a batch holds
    at most ``batch_tokens`` padded positions. Lauly et al. sample a new
    ordering of each document for every update: call this once per epoch with
    a new ``seed``. In the natural order (DocNADE-LM) a document keeps its first
    ``max_len`` words. Empty documents carry no words to predict and are skipped.
    """
    if order not in ORDERS:
        raise InputError(f"word order must be one of {', '.join(ORDERS)}, not {order!r}")
    rng = np.random.default_rng(seed)
    kept = [np.asarray(d, dtype=np.int64) for d in docs if len(d)]
    orders = [(rng.permutation(d) if order == "random" else d)[:max_len] for d in kept]
    # Sort by length with random tie-breaks, cut into batches, shuffle the batches.
    by_len = sorted(range(len(orders)), key=lambda i: (len(orders[i]), rng.random()))
    out: list[torch.Tensor] = []
    start = 0
    while start < len(by_len):
        end = start + 1
        while end < len(by_len) and (end + 1 - start) * len(orders[by_len[end]]) <= batch_tokens:
            end += 1
        group = [orders[i] for i in by_len[start:end]]
        t = np.full((len(group), len(group[-1])), pad, dtype=np.int64)
        for r, d in enumerate(group):
            t[r, : len(d)] = d
        out.append(torch.from_numpy(t))
        start = end
    return [out[i] for i in rng.permutation(len(out))]


@torch.no_grad()
def perplexity(
    model: DocNADE,
    docs: Sequence[Sequence[int]],
    seed: int = 0,
    batch_tokens: int = 8192,
    order: str | None = None,
    average: str = "document",
) -> float:
    """Per-word perplexity of ``docs`` (their first ``max_len`` words in ``order``).

    ``average="document"`` is Lauly et al.'s ``exp(mean over documents of
    NLL(doc) / |doc|)``; ``average="word"`` is ``exp(total NLL / total words)``,
    the figure a language model reports. The conditionals depend on the word
    order: ``order`` defaults to the model's own (natural for DocNADE-LM); in a
    random order, one fixed order per document (``seed``) keeps it reproducible.
    """
    if average not in ("document", "word"):
        raise InputError(f"average must be 'document' or 'word', not {average!r}")
    model.eval()
    device = model.c.device
    per_doc, words = [], []
    for t in batches(docs, model.pad, batch_tokens, model.config.max_len, seed, order or model.order):
        t = t.to(device)
        nll, _ = model(t)
        per_doc.append(nll.cpu())
        words.append((t != model.pad).sum(1).cpu())
    if not per_doc:
        return float("nan")
    nll, n = torch.cat(per_doc).double(), torch.cat(words).double()
    return float(torch.exp((nll / n).mean() if average == "document" else nll.sum() / n.sum()))
