"""Train a dense encoder on an index's own text and save it as a model folder.

What both encoders share lives here: analysing the stored texts, the optional
subset and held-out split, the vocabulary, the :class:`irkit.nn.Trainer` run
and the atomic save. The model files hold only the model.

A model folder (kind ``docnade`` or ``seqae``) holds ``model.json`` (config,
training figures, where it was trained), ``weights.pt`` and ``vocab.tsv``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from irkit.errors import InputError
from irkit.progress import log

KINDS = ("docnade", "seqae")
DEFAULT_LR = {"docnade": 1e-2, "seqae": 1e-2}
VOCAB_FILE = "vocab.tsv"


@dataclass
class TrainOptions:
    dim: int = 256
    vocab: int = 20000
    min_count: int = 2
    epochs: int = 10
    lr: float | None = None  # None: DEFAULT_LR of the kind
    max_docs: int = 0  # 0: every document
    holdout: float = 0.0  # fraction of documents kept out of training, for held-out loss/perplexity
    max_len: int | None = None  # model default if None
    batch_tokens: int = 4096  # docnade: padded words per batch
    batch_size: int = 32  # seqae: documents per batch
    activation: str = "tanh"  # docnade
    ngram: int = 1  # docnade: n-gram order of DocNADE-LM (1: plain DocNADE)
    embed_dim: int = 128  # seqae
    tie: bool = True  # seqae
    device: str = "auto"
    seed: int = 0
    quiet: bool = False
    # One torch thread: these models run many small ops, and on a CPU shared with
    # other jobs two threads waiting on each other were 3-25x slower (measured).
    threads: int = 1


def _split(n: int, opts: TrainOptions) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(opts.seed)
    order = rng.permutation(n)
    if opts.max_docs:
        order = order[: opts.max_docs]
    held = round(len(order) * opts.holdout)
    if opts.holdout and (held < 1 or held >= len(order)):
        raise InputError(f"--holdout {opts.holdout} leaves no documents on one side of {len(order)}")
    return np.sort(order[held:]), np.sort(order[:held])


def train_encoder(
    kind: str,
    index: str | os.PathLike[str],
    output: str | os.PathLike[str],
    opts: TrainOptions | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train a ``docnade`` or ``seqae`` encoder on ``index``'s documents; returns a summary."""
    from irkit.io.atomic import check_output

    if kind not in KINDS:
        raise InputError(f"unknown dense encoder {kind!r}; choose {' or '.join(KINDS)}")
    opts = opts or TrainOptions()
    for name in ("dim", "vocab", "epochs", "batch_tokens", "batch_size", "embed_dim"):
        if getattr(opts, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    if opts.ngram < 1:
        raise InputError(f"--ngram must be at least 1 (1 is plain DocNADE), not {opts.ngram}")
    if opts.threads < 0:
        raise InputError("--threads must be 0 (torch's choice) or more")
    if not 0 <= opts.holdout < 1:
        raise InputError("--holdout must be in [0, 1)")
    check_output(output, overwrite)
    import torch

    before = torch.get_num_threads()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    try:
        return _train(kind, index, output, opts, overwrite)
    finally:
        torch.set_num_threads(before)


def _train(kind: str, index, output, opts: TrainOptions, overwrite: bool) -> dict[str, Any]:
    from irkit.dense.vocab import ANALYZER, Vocab, index_tokens
    from irkit.nn import Trainer, TrainerConfig, save_model, seed_everything

    start, cpu_start = time.perf_counter(), time.process_time()
    docnos, tokens = index_tokens(index, quiet=opts.quiet)
    # Lucene's document order depends on the indexing threads; docno order does not,
    # so the same seed picks the same documents and batches from any build of the index.
    tokens = [tokens[i] for i in sorted(range(len(docnos)), key=docnos.__getitem__)]
    train_ids, held_ids = _split(len(tokens), opts)
    train_tokens = [tokens[i] for i in train_ids]
    seed_everything(opts.seed)
    specials: tuple[str, ...] = ()
    if kind == "seqae":
        from irkit.dense.seqae import SPECIALS

        specials = SPECIALS
    vocab = Vocab.build(train_tokens, size=opts.vocab, min_count=opts.min_count, specials=specials)
    unk = "<unk>" if kind == "seqae" else None
    train_docs = [vocab.ids(t, unk) for t in train_tokens]
    held_docs = [vocab.ids(tokens[i], unk) for i in held_ids]
    words = sum(len(d) for d in train_docs)
    log(f"{kind}: {len(train_docs):,} training documents, {words:,} words, vocabulary {len(vocab):,}", opts.quiet)
    lr = opts.lr or DEFAULT_LR[kind]
    trainer = Trainer(TrainerConfig(epochs=opts.epochs, lr=lr, device=opts.device, seed=opts.seed, quiet=opts.quiet))
    if kind == "docnade":
        model, config, figures = _fit_docnade(trainer, vocab, train_docs, held_docs, opts)
    else:
        model, config, figures = _fit_seqae(trainer, vocab, train_docs, held_docs, opts)
    seconds = time.perf_counter() - start
    extra = {
        "trained_on": {
            "index": str(Path(index).resolve()),
            "documents": len(train_docs),
            "held_out": len(held_docs),
            "words": words,
            "analyzer": ANALYZER,
        },
        "training": {
            "epochs": opts.epochs,
            "lr": lr,
            "seed": opts.seed,
            "train_loss": trainer.history.train_loss,
            "validation": trainer.history.val,
            "seconds": round(seconds, 1),
            "cpu_seconds": round(
                time.process_time() - cpu_start, 1
            ),  # all threads; wall time on a shared machine misleads
            **figures,
        },
    }
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_model(output, kind, config, state, extra=extra, files={VOCAB_FILE: vocab.save}, overwrite=overwrite)
    return {
        "documents": len(train_docs),
        "vocabulary": len(vocab),
        "train_loss": trainer.history.train_loss[-1],
        **figures,
        "seconds": round(seconds, 1),
    }


def _fit_docnade(trainer, vocab, train_docs, held_docs, opts):
    from irkit.dense.docnade import DocNADE, DocNADEConfig, batches, perplexity

    config = DocNADEConfig(len(vocab), opts.dim, opts.activation, opts.max_len or 1000, ngram=opts.ngram)
    model = DocNADE(config, vocab.counts)
    # Perplexity on (up to 500) held-out documents when there are some, else on 300 training ones.
    name, ppl_docs = ("heldout_ppl", held_docs[:500]) if held_docs else ("train_ppl", train_docs[:300])

    def validate(m, epoch):
        return {name: perplexity(m, ppl_docs, seed=opts.seed)}

    def data(epoch):
        return batches(
            train_docs, model.pad, opts.batch_tokens, config.max_len, seed=opts.seed * 1000 + epoch, order=model.order
        )

    trainer.fit(model, data, validate=validate)
    return model, config, {name: trainer.history.val[-1][name]}


def _fit_seqae(trainer, vocab, train_docs, held_docs, opts):
    from irkit.dense.seqae import SeqAE, SeqAEConfig, batches, reconstruction_nll

    config = SeqAEConfig(len(vocab), opts.dim, opts.embed_dim, opts.tie, opts.max_len or 40)
    model = SeqAE(config)
    name, val_docs = ("heldout_nll", held_docs[:500]) if held_docs else ("train_nll", train_docs[:300])

    def validate(m, epoch):
        return {name: reconstruction_nll(m, val_docs)}

    def data(epoch):
        return batches(train_docs, opts.batch_size, config.max_len, seed=opts.seed * 1000 + epoch)

    trainer.fit(model, data, validate=validate)
    return model, config, {name: trainer.history.val[-1][name]}
