"""An LSTM text classifier initialised three ways (Dai & Le, "Semi-supervised Sequence Learning", NIPS 2015).

The classifier embeds the words, runs one LSTM over ``w1 .. wT <eos>`` and
classifies its last hidden state with a linear layer. Dai & Le's point is the
initialisation of the embedding and the LSTM:

* ``random``: PyTorch's default initialisation;
* ``seqae``: the embedding and LSTM of a sequence autoencoder
  (:mod:`irkit.dense.seqae`, encoder and decoder sharing one LSTM) trained to
  reconstruct unlabelled text;
* ``lm``: the embedding and LSTM of an LSTM language model
  (:mod:`irkit.generative.text.lstm_lm`) trained on the same unlabelled text;

after which the whole network is fine-tuned on the labelled examples. The
pretrained models and the classifier share one vocabulary
(``<pad> <unk> <bos> <eos>`` first, as the sequence autoencoder has it; the
language model's ``<s>``/``</s>`` take the same ids), so their embedding rows
mean the same words.

The task (:func:`fortune_task`): the Debian ``fortunes`` package's category
files (texts separated by ``%`` lines, under ``/usr/share/games/fortunes`` or
``$IRKIT_FORTUNES``); the ``categories`` largest are the classes, split into
train and test by a seed (per class, so every class keeps its share); the texts
of every other category, plus the abstracts of Cranfield, CACM and Vaswani when
``collections`` is on, are the unlabelled pretraining text. Labelled texts are
never pretrained on, so the pretraining pool does not depend on the split and
one pretrained model serves every seed and label fraction.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from irkit.errors import InputError

INITS = ("random", "seqae", "lm")
FORTUNES = Path("/usr/share/games/fortunes")
KIND = "classifier"


# -- the model -------------------------------------------------------------------------


@dataclass
class ClassifierConfig:
    vocab_size: int
    num_classes: int
    dim: int = 128  # LSTM state size
    embed_dim: int = 64
    max_len: int = 60  # tokens read per text (longer ones are cut)
    dropout: float = 0.2


class LSTMClassifier(nn.Module):
    def __init__(self, config: ClassifierConfig):
        super().__init__()
        if config.num_classes < 2:
            raise InputError(f"a classifier needs at least 2 classes (got {config.num_classes})")
        from irkit.dense.seqae import PAD

        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(config.embed_dim, config.dim, batch_first=True)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.dim, config.num_classes)

    def features(self, src: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The LSTM's last hidden state (B, dim) after each text's ``<eos>``."""
        packed = pack_padded_sequence(self.drop(self.embed(src)), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return h[-1]

    def forward(
        self, src: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (class logits (B, C), mean cross-entropy; 0 without ``labels``)."""
        logits = self.head(self.drop(self.features(src, lengths)))
        loss = F.cross_entropy(logits, labels) if labels is not None else logits.new_zeros(())
        return logits, loss

    def init_from(self, pretrained: nn.Module) -> None:
        """Copy the embedding and LSTM of a pretrained :class:`SeqAE` (``encoder``) or LSTM LM (``lstm``)."""
        lstm = getattr(pretrained, "encoder", None)
        lstm = getattr(pretrained, "lstm", None) if lstm is None else lstm
        if lstm is None or not hasattr(pretrained, "embed"):
            raise InputError(f"cannot initialise a classifier from a {type(pretrained).__name__}")
        for name, mine, theirs in (("embedding", self.embed, pretrained.embed), ("LSTM", self.lstm, lstm)):
            shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
            wanted = {k: tuple(v.shape) for k, v in mine.state_dict().items()}
            if shapes != wanted:
                raise InputError(f"the pretrained {name} has shapes {shapes}, the classifier needs {wanted}")
            mine.load_state_dict({k: v.detach().clone() for k, v in theirs.state_dict().items()})


# -- batches ---------------------------------------------------------------------------


def tensors(docs: Sequence[Sequence[int]], labels: Sequence[int] | None, max_len: int) -> dict[str, torch.Tensor]:
    """``src`` (``w1 .. wT <eos>``, cut to ``max_len`` words), ``lengths`` and ``labels``."""
    from irkit.dense.seqae import tensors as seqae_tensors

    t = seqae_tensors(docs, max_len)
    out = {"src": t["src"], "lengths": t["lengths"]}
    if labels is not None:
        out["labels"] = torch.as_tensor(list(labels), dtype=torch.long)
    return out


def step_batches(n: int, steps: int, batch_size: int, seed: int) -> list[np.ndarray]:
    """``steps`` batches of example indices: passes over ``range(n)`` in a fresh order each, cut to size."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    while len(out) < steps:
        order = rng.permutation(n)
        out += [order[i : i + batch_size] for i in range(0, n, batch_size)]
    return out[:steps]


@torch.no_grad()
def predict(model: LSTMClassifier, docs: Sequence[Sequence[int]], batch_size: int = 128) -> np.ndarray:
    """Predicted class ids."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(docs), batch_size):
        t = tensors(docs[i : i + batch_size], None, model.config.max_len)
        logits, _ = model(t["src"].to(device), t["lengths"].to(device))
        out.append(logits.argmax(-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def accuracy(model: LSTMClassifier, docs: Sequence[Sequence[int]], labels: Sequence[int]) -> float:
    return float((predict(model, docs) == np.asarray(labels)).mean()) if len(docs) else float("nan")


# -- the fortunes task -----------------------------------------------------------------


def fortunes_dir() -> Path:
    """``$IRKIT_FORTUNES`` or Debian's ``/usr/share/games/fortunes``."""
    return Path(os.environ.get("IRKIT_FORTUNES") or FORTUNES)


def read_fortunes(root: str | os.PathLike[str] | None = None) -> dict[str, list[str]]:
    """``{category: texts}`` of a fortune folder: one file per category, texts separated by ``%`` lines.

    The index files (``.dat``) and the ``.u8`` links to the same files are skipped.
    """
    base = Path(root) if root is not None else fortunes_dir()
    if not base.is_dir():
        raise InputError(
            "no fortunes folder (install Debian's `fortunes` package, or set IRKIT_FORTUNES to a folder of them)", base
        )
    out: dict[str, list[str]] = {}
    for p in sorted(base.iterdir()):
        if p.suffix or p.is_symlink() or not p.is_file():
            continue
        text = p.read_bytes().decode("utf-8", errors="replace")
        entries = [e.strip() for e in text.replace("\r\n", "\n").split("\n%\n")]
        entries = [e.removesuffix("\n%").removesuffix("%").strip() for e in entries]
        entries = [e for e in entries if e]
        if entries:
            out[p.name] = entries
    if not out:
        raise InputError("the fortunes folder holds no fortune files", base)
    return out


@dataclass
class FortuneTask:
    categories: list[str]  # class id -> category name
    train: list[tuple[str, int]]
    test: list[tuple[str, int]]
    unlabelled: list[str]
    source: str

    def protocol(self) -> str:
        sizes = np.bincount([y for _, y in self.train + self.test], minlength=len(self.categories))
        return (
            f"{len(self.categories)} largest fortune categories ({', '.join(f'{c} {n}' for c, n in zip(self.categories, sizes, strict=True))}); "
            f"{len(self.train)} train / {len(self.test)} test texts; {len(self.unlabelled):,} unlabelled texts "
            f"({self.source})"
        )


def fortune_task(
    categories: int = 4,
    test_fraction: float = 0.2,
    seed: int = 0,
    collections: bool = True,
    root: str | os.PathLike[str] | None = None,
) -> FortuneTask:
    """The ``categories`` largest fortune files as classes, split per class by ``seed``; the rest unlabelled."""
    if not 0 < test_fraction < 1:
        raise InputError(f"the test fraction must be in (0, 1), not {test_fraction}")
    files = read_fortunes(root)
    if not 2 <= categories < len(files):
        raise InputError(f"--categories must be 2 to {len(files) - 1} (the folder has {len(files)} categories)")
    names = sorted(files, key=lambda c: (-len(files[c]), c))[:categories]
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label, name in enumerate(names):
        texts = files[name]
        order = rng.permutation(len(texts))
        n_test = max(1, round(test_fraction * len(texts)))
        test += [(texts[i], label) for i in order[:n_test]]
        train += [(texts[i], label) for i in order[n_test:]]
    unlabelled = [t for c in sorted(files) if c not in names for t in files[c]]
    source = f"the other {len(files) - categories} fortune categories"
    if collections:
        from irkit.generative.text.data import read_abstracts

        unlabelled += [t for _, t in read_abstracts()]
        source += " and the Cranfield, CACM and Vaswani abstracts"
    return FortuneTask(names, train, test, unlabelled, source)


def label_subset(labels: Sequence[int], fraction: float, seed: int) -> np.ndarray:
    """Indices of a ``fraction`` of the examples, the same share of each class (at least one each), by ``seed``."""
    if not 0 < fraction <= 1:
        raise InputError(f"the label fraction must be in (0, 1], not {fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        keep.append(rng.permutation(idx)[: max(1, round(fraction * len(idx)))])
    return np.sort(np.concatenate(keep))


def build_vocab(texts: Sequence[str], size: int, min_count: int = 2):
    """``(vocab, tokenised texts)``: lowercased word tokens, ``<pad> <unk> <bos> <eos>`` first."""
    from irkit.dense.seqae import SPECIALS
    from irkit.dense.vocab import Vocab
    from irkit.generative.text.data import tokenize

    tokens = [tokenize(t) for t in texts]
    return Vocab.build(tokens, size=size, min_count=min_count, specials=SPECIALS), tokens


def encode_texts(vocab, texts: Sequence[str]) -> list[list[int]]:
    from irkit.generative.text.data import tokenize

    return [vocab.ids(tokenize(t), "<unk>") for t in texts]


# -- training --------------------------------------------------------------------------


def pretraining_model(kind: str, config: ClassifierConfig) -> nn.Module:
    """An untrained sequence autoencoder (``seqae``) or LSTM LM (``lm``) whose embedding and LSTM fit ``config``."""
    if kind not in INITS[1:]:
        raise InputError(f"unknown pretraining {kind!r}; choose from {', '.join(INITS[1:])}")
    if kind == "seqae":
        from irkit.dense.seqae import SeqAE, SeqAEConfig

        return SeqAE(SeqAEConfig(config.vocab_size, config.dim, config.embed_dim, True, config.max_len))
    from irkit.generative.text.lstm_lm import LSTMLM, LSTMLMConfig

    return LSTMLM(LSTMLMConfig(config.vocab_size, config.embed_dim, config.dim, config.dropout))


def pretrain(
    kind: str,
    docs: Sequence[Sequence[int]],
    config: ClassifierConfig,
    epochs: int = 2,
    lr: float = 3e-3,
    batch_size: int = 32,
    seed: int = 0,
    quiet: bool = False,
) -> tuple[nn.Module, Any]:
    """Train :func:`pretraining_model` on unlabelled token ids; returns (model, trainer history)."""
    from irkit.nn import Trainer, TrainerConfig, seed_everything

    docs = [list(d[: config.max_len]) for d in docs if len(d)]
    if not docs:
        raise InputError("no unlabelled text to pretrain on")
    seed_everything(seed)
    model = pretraining_model(kind, config)
    if kind == "seqae":
        from irkit.dense.seqae import batches

        def data(epoch):
            return batches(docs, batch_size, config.max_len, seed=seed * 1000 + epoch)
    else:
        from irkit.generative.text.common import sentence_batches

        # <s> and </s> of the LM's batches have the ids of the shared vocabulary's <bos> and <eos>.
        data = sentence_batches(docs, batch_size, seed)
    trainer = Trainer(TrainerConfig(epochs=epochs, lr=lr, seed=seed, quiet=quiet, device="cpu"))
    history = trainer.fit(model, data)
    return model, history


def build_classifier(config: ClassifierConfig, init: str, pretrained: nn.Module | None = None) -> LSTMClassifier:
    """A fresh classifier; for ``seqae``/``lm`` its embedding and LSTM are copied from ``pretrained``."""
    if init not in INITS:
        raise InputError(f"unknown --init {init!r}; choose from {', '.join(INITS)}")
    model = LSTMClassifier(config)
    if init != "random":
        if pretrained is None:
            raise InputError(f"--init {init} needs a pretrained model")
        model.init_from(pretrained)
    return model


def fine_tune(
    model: LSTMClassifier,
    docs: Sequence[Sequence[int]],
    labels: Sequence[int],
    steps: int = 300,
    lr: float = 1e-3,
    batch_size: int = 32,
    seed: int = 0,
    rounds: int = 6,
    quiet: bool = False,
):
    """Train on labelled texts for ``steps`` updates (as ``rounds`` trainer epochs, one loss figure each)."""
    from irkit.nn import Trainer, TrainerConfig

    if steps < 1:
        raise InputError("--steps must be at least 1")
    rounds = max(1, min(rounds, steps))
    per = math.ceil(steps / rounds)
    plan = step_batches(len(docs), per * rounds, batch_size, seed)

    def data(epoch):
        return [
            tensors([docs[i] for i in b], [labels[i] for i in b], model.config.max_len)
            for b in plan[(epoch - 1) * per : epoch * per]
        ]

    trainer = Trainer(TrainerConfig(epochs=rounds, lr=lr, seed=seed, quiet=quiet, device="cpu"))
    return trainer.fit(model, data)


@dataclass
class ClassifierOptions:
    init: str = "random"
    categories: int = 4
    labels: float = 1.0  # fraction of the training labels used
    test_fraction: float = 0.2
    collections: bool = True  # the three collections' abstracts join the unlabelled text
    vocab: int = 8000
    dim: int = 128
    embed_dim: int = 64
    max_len: int = 60
    dropout: float = 0.2
    steps: int = 300
    lr: float = 1e-3
    batch_size: int = 32
    pretrain_epochs: int = 2
    pretrain_lr: float = 3e-3
    pretrain_docs: int = 20000  # at most this many unlabelled texts (a seeded sample); 0: all
    seed: int = 0
    threads: int = 1
    fortunes: str | None = None
    quiet: bool = False

    def check(self) -> None:
        if self.init not in INITS:
            raise InputError(f"unknown --init {self.init!r}; choose from {', '.join(INITS)}")
        for name in ("vocab", "dim", "embed_dim", "max_len", "steps", "batch_size", "pretrain_epochs"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1")
        if not 0 < self.labels <= 1:
            raise InputError(f"--labels must be a fraction in (0, 1], not {self.labels}")
        if self.threads < 0:
            raise InputError("--threads must be 0 (torch's choice) or more")


def pretraining_pool(task: FortuneTask, vocab, limit: int, seed: int) -> list[list[int]]:
    """The unlabelled texts as token ids (a seeded sample of ``limit`` when there are more)."""
    texts = task.unlabelled
    if limit and len(texts) > limit:
        texts = [texts[i] for i in np.sort(np.random.default_rng(seed).permutation(len(texts))[:limit])]
    return encode_texts(vocab, texts)


def fine_tune_and_test(
    task: FortuneTask,
    vocab,
    config: ClassifierConfig,
    init: str,
    pretrained,
    labels: float,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    quiet: bool = False,
) -> tuple[LSTMClassifier, Any, int, float]:
    """One fine-tuning run of the protocol: a classifier initialised by ``init`` (from ``pretrained``),
    trained on the seeded ``labels`` fraction of the training labels, tested on the test split.

    Returns ``(model, history, labelled examples, test accuracy)``."""
    from irkit.nn import seed_everything

    seed_everything(seed)
    model = build_classifier(config, init, pretrained)
    train_docs = encode_texts(vocab, [t for t, _ in task.train])
    train_labels = [y for _, y in task.train]
    keep = label_subset(train_labels, labels, seed)
    hist = fine_tune(
        model, [train_docs[i] for i in keep], [train_labels[i] for i in keep], steps, lr, batch_size, seed, quiet=quiet
    )
    test_acc = accuracy(model, encode_texts(vocab, [t for t, _ in task.test]), [y for _, y in task.test])
    return model, hist, len(keep), test_acc


def train_classifier(
    opts: ClassifierOptions, output: str | os.PathLike[str] | None = None, overwrite: bool = False
) -> dict[str, Any]:
    """Prepare the fortune task, pretrain (``seqae``/``lm``), fine-tune, report test accuracy; save when ``output``."""
    from irkit.io.atomic import check_output
    from irkit.nn import save_model

    opts.check()
    if output is not None:
        check_output(output, overwrite)
    before = torch.get_num_threads()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        task = fortune_task(opts.categories, opts.test_fraction, opts.seed, opts.collections, opts.fortunes)
        # The vocabulary comes from the unlabelled text only: it is the same for every split and label fraction.
        vocab, _ = build_vocab(task.unlabelled, opts.vocab)
        config = ClassifierConfig(
            len(vocab), len(task.categories), opts.dim, opts.embed_dim, opts.max_len, opts.dropout
        )
        pretrained, pre_loss = None, []
        if opts.init != "random":
            pool = pretraining_pool(task, vocab, opts.pretrain_docs, opts.seed)
            pretrained, hist = pretrain(
                opts.init, pool, config, opts.pretrain_epochs, opts.pretrain_lr, opts.batch_size, opts.seed, opts.quiet
            )
            pre_loss = hist.train_loss
        model, hist, labelled, test_acc = fine_tune_and_test(
            task, vocab, config, opts.init, pretrained, opts.labels, opts.steps, opts.lr, opts.batch_size, opts.seed,
            quiet=opts.quiet,
        )  # fmt: skip
        summary = {
            "init": opts.init,
            "labelled": labelled,
            "test_accuracy": test_acc,
            "chance": float(np.bincount([y for _, y in task.test]).max() / len(task.test)),
            "train_loss": hist.train_loss[-1],
            "seconds": round(time.perf_counter() - start, 1),
        }
        if output is not None:
            extra = {
                "categories": task.categories,
                "protocol": task.protocol(),
                "options": {k: v for k, v in vars(opts).items() if k != "quiet"},
                "pretrain_loss": pre_loss,
                "train_loss": hist.train_loss,
                "test_accuracy": test_acc,
                "cpu_seconds": round(time.process_time() - cpu, 1),
            }
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            save_model(output, KIND, config, state, extra=extra, files={"vocab.tsv": vocab.save}, overwrite=overwrite)
        return summary
    finally:
        torch.set_num_threads(before)
