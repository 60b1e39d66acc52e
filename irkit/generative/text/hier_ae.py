"""Hierarchical LSTM autoencoder of paragraphs (Li, Luong and Jurafsky, ACL 2015).

Encoder: a word LSTM turns each sentence into a vector (its last state), a
sentence LSTM turns those into a document state. Decoder: a sentence LSTM,
started from the document state, produces one state per sentence; at each step
it attends over the encoder's sentence states (the paper's attention model) and
reads the vector of the previous sentence; a word LSTM, started from that
state, writes the sentence's words. A small classifier on the sentence state
says whether the document ends there (the paper's end-of-document token).

Training is teacher-forced: the previous sentence's vector is the encoder's
vector of the true previous sentence, so all word decoding runs as one batch.
When reconstructing, it is the vector of the sentence just generated.

This is an autoencoder, not a density model: its perplexity is of the words
*given the encoded document* (reconstruction), not comparable to a language
model's. Long documents are cut into pieces of ``max_sents`` sentences.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from irkit.generative.text.common import (
    TextData,
    TextRecipe,
    decode_loop,
    length_buckets,
    limited,
    pad_sentences,
    sequence_nll,
)
from irkit.generative.text.data import EOS, PAD, TextCorpus, Vocab, chunk_documents


@dataclass
class HierAEConfig:
    vocab_size: int = 5000
    embed: int = 64
    hidden: int = 128  # all four LSTMs
    dropout: float = 0.2
    attention: bool = True
    max_sents: int = 8  # sentences per document piece


def pad_documents(docs: list[list[list[int]]], device=None):
    """``(tokens (B, S, W), lengths (B, S), n_sents (B))``; missing sentences have length 0."""
    s_max = max(len(d) for d in docs)
    flat = [s for d in docs for s in d]
    tok, lens = pad_sentences(flat)
    tokens = torch.full((len(docs), s_max, tok.shape[1]), PAD, dtype=torch.long)
    lengths = torch.zeros((len(docs), s_max), dtype=torch.long)
    i = 0
    for b, d in enumerate(docs):
        tokens[b, : len(d)] = tok[i : i + len(d)]
        lengths[b, : len(d)] = lens[i : i + len(d)]
        i += len(d)
    n_sents = torch.tensor([len(d) for d in docs], dtype=torch.long)
    if device is not None:
        tokens, lengths, n_sents = tokens.to(device), lengths.to(device), n_sents.to(device)
    return tokens, lengths, n_sents


class HierAE(nn.Module):
    def __init__(self, config: HierAEConfig):
        super().__init__()
        self.config = config
        h = config.hidden
        self.embed = nn.Embedding(config.vocab_size, config.embed, padding_idx=PAD)
        self.word_encoder = nn.LSTM(config.embed, h, batch_first=True)
        self.sent_encoder = nn.LSTM(h, h, batch_first=True)
        self.sent_decoder = nn.LSTMCell(2 * h if config.attention else h, h)
        self.start = nn.Parameter(torch.zeros(h))
        self.att_query = nn.Linear(h, h, bias=False)
        self.att_key = nn.Linear(h, h)
        self.att_v = nn.Linear(h, 1, bias=False)
        self.to_word_state = nn.Linear(h, 2 * h)
        self.word_decoder = nn.LSTM(config.embed, h, batch_first=True)
        self.out = nn.Linear(h, config.vocab_size)
        self.stop = nn.Linear(h, 1)
        self.drop = nn.Dropout(config.dropout)

    def encode_sentences(self, tokens, lengths):
        """Sentence vectors ``(N, H)`` of ``<s> words </s>`` rows (the words and ``</s>`` are read)."""
        x = self.drop(self.embed(tokens[:, 1:]))
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.word_encoder(packed)
        return h[-1]

    def encode(self, tokens, lengths, n_sents):
        """``(sentence vectors (B, S, H), encoder states (B, S, H), document state (h, c))``."""
        b, s, _ = tokens.shape
        mask = lengths > 0
        vecs = torch.zeros(b, s, self.config.hidden, device=tokens.device)
        vecs[mask] = self.encode_sentences(tokens[mask], lengths[mask])
        packed = pack_padded_sequence(vecs, n_sents.cpu(), batch_first=True, enforce_sorted=False)
        out, (h, c) = self.sent_encoder(packed)
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=s)
        return vecs, states, (h[-1], c[-1])

    def attend(self, query, states, mask):
        """Additive attention of the previous decoder state over the encoder's sentence states."""
        scores = self.att_v(torch.tanh(self.att_query(query).unsqueeze(1) + self.att_key(states))).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask, -math.inf), -1)
        return (weights.unsqueeze(-1) * states).sum(1)

    def sentence_step(self, prev, state, states, mask):
        inp = torch.cat([prev, self.attend(state[0], states, mask)], -1) if self.config.attention else prev
        return self.sent_decoder(self.drop(inp), state)

    def word_hidden(self, sent_state, inputs):
        h0, c0 = torch.tanh(self.to_word_state(sent_state)).unsqueeze(0).chunk(2, -1)
        out, _ = self.word_decoder(self.drop(self.embed(inputs)), (h0.contiguous(), c0.contiguous()))
        return out

    def project(self, hidden):
        return self.out(self.drop(hidden))

    def word_logits(self, sent_state, inputs):
        return self.project(self.word_hidden(sent_state, inputs))

    def forward(self, tokens, lengths, n_sents):
        b, s, _ = tokens.shape
        mask = lengths > 0
        vecs, states, state = self.encode(tokens, lengths, n_sents)
        prev = self.start.expand(b, -1)
        dec = []
        for t in range(s):
            state = self.sentence_step(prev, state, states, mask)
            dec.append(state[0])
            prev = vecs[:, t]  # teacher forcing: the true sentence t feeds step t + 1
        dec = torch.stack(dec, 1)
        flat = tokens[mask]
        nll = sequence_nll(self.project, self.word_hidden(dec[mask], flat[:, :-1]), flat[:, 1:])
        doc_of = torch.arange(b, device=tokens.device).unsqueeze(1).expand(b, s)[mask]
        words = torch.zeros(b, device=tokens.device).index_add(0, doc_of, nll)
        last = (torch.arange(s, device=tokens.device).unsqueeze(0) == (n_sents - 1).unsqueeze(1)).float()
        stop = F.binary_cross_entropy_with_logits(self.stop(dec).squeeze(-1), last, reduction="none")
        stop = (stop * mask).sum(1)
        return {"nll": words, "stop": stop}, (words + stop).mean()

    @torch.no_grad()
    def reconstruct(
        self, tokens, lengths, n_sents, max_len: int, greedy: bool = True, generator=None
    ) -> list[list[list[int]]]:
        """Greedy reconstruction of each document: a list of sentences of token ids."""
        mask = lengths > 0
        _, states, state = self.encode(tokens, lengths, n_sents)
        docs = []
        for i in range(len(tokens)):
            st, prev = (state[0][i : i + 1], state[1][i : i + 1]), self.start.unsqueeze(0)
            out: list[list[int]] = []
            for _ in range(self.config.max_sents):
                st = self.sentence_step(prev, st, states[i : i + 1], mask[i : i + 1])
                ids = decode_loop(
                    lambda p, h=st[0]: self.word_logits(h, p)[:, -1], 1, max_len, greedy, generator, tokens.device
                )
                row = ids[0].tolist()
                words = row[: row.index(EOS)] if EOS in row else row
                out.append(words)
                x, ln = pad_sentences([words or [1]], tokens.device)
                prev = self.encode_sentences(x, ln)
                if torch.sigmoid(self.stop(st[0])).item() > 0.5:
                    break
            docs.append(out)
        return docs


def document_batches(docs: list[list[list[int]]], batch_size: int, seed: int | None) -> Iterator[tuple[Any, Any, Any]]:
    sizes = [len(d) * 100 + max(len(s) for s in d) for d in docs]  # group by sentence count, then length
    rng = np.random.default_rng(seed) if seed is not None else None
    for idx in length_buckets(sizes, batch_size, rng):
        yield pad_documents([docs[i] for i in idx])


class Recipe(TextRecipe):
    kind = "hier-ae"
    config_cls = HierAEConfig
    train_defaults = {**TextRecipe.train_defaults, "batch_size": 16}  # noqa: RUF012  (documents)
    eval_defaults = {**TextRecipe.eval_defaults, "batch": 32}  # noqa: RUF012

    def build(self, config: HierAEConfig) -> HierAE:
        return HierAE(config)

    def documents(self, corpus: TextCorpus, vocab: Vocab, split: str, max_sents: int) -> list[list[list[int]]]:
        return [[vocab.encode(s) for s in d] for d in chunk_documents(corpus.split(split), max_sents)]

    def fit(self, model, prepared: TextData, trainer, opts: dict[str, Any]):
        corpus, vocab, _ = prepared
        train = self.documents(corpus, vocab, "train", model.config.max_sents)
        valid = self.documents(corpus, vocab, "valid", model.config.max_sents)
        seed = trainer.config.seed

        def batches(epoch: int):
            return document_batches(train, opts["batch_size"], seed * 1000 + epoch)

        return self._fit(model, batches, valid, trainer, opts)

    def validation_loss(self, model, valid, opts: dict[str, Any]) -> dict[str, float]:
        r = self.doc_scores(model, valid, 64, next(model.parameters()).device)
        return {"loss": math.log(r["ppl"]), "ppl": r["ppl"], "stop": r["stop_nats"]}

    def doc_scores(self, model, docs, batch: int, device) -> dict[str, Any]:
        nll = stop = 0.0
        tokens = 0
        with torch.no_grad():
            for x, lengths, n in document_batches(docs, batch, None):
                out, _ = model(x.to(device), lengths.to(device), n.to(device))
                nll += float(out["nll"].sum())
                stop += float(out["stop"].sum())
                tokens += int(lengths.sum())
        return {"ppl": math.exp(nll / tokens), "stop_nats": stop / len(docs), "tokens": tokens}

    def score(self, model, data: TextData, opts: dict[str, Any]) -> dict[str, Any]:
        corpus, vocab, split = data
        docs = limited(self.documents(corpus, vocab, split, model.config.max_sents), opts["limit"])
        r = self.doc_scores(model, docs, opts["batch"], opts["device"])
        return {
            "documents": len(docs),
            "sentences": sum(len(d) for d in docs),
            "tokens": r["tokens"],
            "ppl_reconstruction": r["ppl"],
            "stop_nats": r["stop_nats"],
            "estimator": "teacher-forced reconstruction perplexity of the words given the encoded document "
            "(an autoencoder, not a density: not comparable to a language model's perplexity)",
        }

    def generate(self, model, n: int, opts: dict[str, Any]) -> str:
        corpus, vocab, _ = self.data_of(opts["meta"])
        generator = self.generator(opts)
        device = next(model.parameters()).device
        docs = self.documents(corpus, vocab, "test", model.config.max_sents)
        rng = np.random.default_rng(int(generator.initial_seed()))
        pick = [docs[i] for i in rng.choice(len(docs), min(n, len(docs)), replace=False)]
        how = "greedy" if opts["greedy"] else "sampled"
        lines = [f"# {self.kind}: reconstructions of test documents ({how} decoding)", ""]
        lines += [f"Data: {opts['meta'].get('protocol', corpus.source)}.", ""]
        lines += ["An autoencoder has no prior to sample from: these are test documents and their decodings.", ""]
        for i, doc in enumerate(pick, 1):
            x, ln, ns = pad_documents([doc], device)
            out = model.reconstruct(x, ln, ns, corpus.max_len, opts["greedy"], generator)[0]
            lines += [f"## {i}", "", "Input:", ""]
            lines += [f"    {vocab.decode(s)}" for s in doc]
            lines += ["", "Reconstruction:", ""]
            lines += [f"    {vocab.decode(s) or '(empty)'}" for s in out]
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"
