"""Text data for the generative text models: abstracts as sentences and documents.

``abstracts`` is the abstracts of the three shared collections: Cranfield's
``.W`` fields, the abstract paragraphs of the CACM HTML pages (between the title
and the ``CACM <Month>, <Year>`` line; most CACM pages have none) and the
Vaswani document texts. A user's plain text file is the other source
(documents separated by blank lines).

Text is cut into sentences at ``. ! ?`` followed by a space and at runs of two
or more spaces inside a line (Vaswani's texts have lost their full stops; a
double space is all that is left of them), then into lowercased word tokens
(``[a-z]+``, with ``'s``-style suffixes kept; hyphenated words are split,
numbers become ``<num>``, other punctuation is dropped).

The split is by *document*, so the sentences of one abstract never straddle
train and test: a seeded permutation (seed 0) puts 80% of the documents in
train, 10% in valid and 10% in test. Sentences shorter than ``min_len`` or
longer than ``max_len`` tokens are left out. The vocabulary is built from the
training sentences only, capped at ``max_vocab`` words (most frequent first,
ties alphabetical) of at least ``min_count`` occurrences; every other word, in
any split or in text given at sampling time, maps to ``<unk>``.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from irkit.errors import InputError

SPLIT_SEED = 0
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
DATASETS = ("abstracts",)
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>", "<num>")
PAD, UNK, BOS, EOS, NUM = range(len(SPECIALS))

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_INLINE_GAP = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_GAP_MARK = "\x00"
_CACM_DATELINE = re.compile(r"^CACM\s+\w+,\s*\d{4}")

Sentence = list[str]
Document = list[Sentence]


# -- tokens and sentences ----------------------------------------------------------


def tokenize(text: str) -> Sentence:
    """Lowercased word tokens; numbers become ``<num>``."""
    return [t if t[0].isalpha() else "<num>" for t in _TOKEN.findall(text.lower())]


def split_sentences(text: str) -> list[str]:
    """Sentences of a text: at ``. ! ?`` + space and at double spaces inside a line."""
    text = _INLINE_GAP.sub(_GAP_MARK, text)
    text = re.sub(r"\s*\n\s*", " ", text)  # line breaks are wrapping, not boundaries
    parts = (p for chunk in text.split(_GAP_MARK) for p in _SENTENCE_END.split(chunk))
    return [p.strip() for p in parts if p.strip()]


def document_sentences(text: str) -> Document:
    """A text as a list of token lists (empty sentences dropped)."""
    return [s for s in (tokenize(p) for p in split_sentences(text)) if s]


# -- sources -----------------------------------------------------------------------


def cacm_abstract(page: str) -> str:
    """The abstract paragraphs of a tag-stripped CACM page ('' when it has none)."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", page) if b.strip()]
    out = []
    for b in blocks[1:]:  # blocks[0] is the title
        if _CACM_DATELINE.match(b):
            break
        out.append(b)
    return "\n".join(out)


def read_abstracts(root: str | os.PathLike[str] | None = None) -> list[tuple[str, str]]:
    """``(docid, abstract)`` of Cranfield, CACM and Vaswani (empty abstracts left out)."""
    from irkit.datasets import locate
    from irkit.io.documents import iter_documents, iter_smart_records

    files = {"cranfield": "cranfield/cran.all.1400", "cacm": "cacm/cacm.tar.gz", "vaswani": "vaswani/doc-text.trec"}
    # $IRKIT_DATA, else the copies shipped inside the package (irkit.datasets.locate)
    paths = {name: Path(root) / f if root is not None else locate(f) for name, f in files.items()}
    for name, p in paths.items():
        if not p.exists():
            raise InputError(f"the {name} collection is missing (set IRKIT_DATA to the shared datasets folder)", p)
    docs = [(f"cranfield:{rid}", rec.get("W", "")) for _, rid, rec in iter_smart_records(paths["cranfield"])]
    docs += [(f"cacm:{no}", cacm_abstract(text)) for no, text in iter_documents(paths["cacm"], "cacm-html")]
    docs += [(f"vaswani:{no}", text) for no, text in iter_documents(paths["vaswani"], "trec")]
    return [(d, t) for d, t in docs if t.strip()]


def read_text_file(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """``(docid, text)`` of a plain UTF-8 text file, documents separated by blank lines.

    A file without a single word raises :class:`InputError`.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such text file", p)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line = p.read_bytes()[: e.start].count(b"\n") + 1
        raise InputError("not UTF-8 text", p, line) from None
    if not tokenize(text):
        raise InputError(
            "the text file is empty (no words to train on)" if not text.strip() else "the text file has no words", p
        )
    chunks = [c for c in re.split(r"\n[ \t]*\n", text) if c.strip()]
    docs = [(f"{p.name}#{i}", c) for i, c in enumerate(chunks, 1)]
    return docs


# -- vocabulary --------------------------------------------------------------------


@dataclass
class Vocab:
    """Word <-> id, with ``<pad> <unk> <s> </s> <num>`` first."""

    itos: list[str]
    stoi: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if tuple(self.itos[: len(SPECIALS)]) != SPECIALS:
            raise InputError(f"a vocabulary must start with {' '.join(SPECIALS)}")
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    @classmethod
    def build(cls, sentences: Iterable[Sentence], max_size: int = 5000, min_count: int = 1) -> Vocab:
        counts = Counter(w for s in sentences for w in s if w not in SPECIALS)
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(list(SPECIALS) + words[: max(0, max_size - len(SPECIALS))])

    def encode(self, sentence: Sentence) -> list[int]:
        """Ids of ``sentence``; words outside the vocabulary become ``<unk>``."""
        return [self.stoi.get(w, UNK) for w in sentence]

    def decode(self, ids: Iterable[int]) -> str:
        """Words up to the first ``</s>`` (``<s>`` and ``<pad>`` skipped)."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            out.append(self.itos[i] if 0 <= i < len(self.itos) else "<unk>")
        return " ".join(out)

    def save(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(json.dumps(self.itos) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        p = Path(path)
        if not p.is_file():
            raise InputError("model folder has no vocabulary", p)
        return cls(json.loads(p.read_text(encoding="utf-8")))


# -- the corpus --------------------------------------------------------------------


@dataclass
class TextCorpus:
    """Train/valid/test documents (lists of token sentences) and the source they came from."""

    train: list[Document]
    valid: list[Document]
    test: list[Document]
    source: str
    min_len: int
    max_len: int

    def split(self, name: str) -> list[Document]:
        if name not in ("train", "valid", "test"):
            raise InputError(f"split must be train, valid or test, not {name!r}")
        return getattr(self, name)

    def sentences(self, name: str) -> list[Sentence]:
        return [s for d in self.split(name) for s in d]

    def protocol(self, vocab: Vocab | None = None) -> str:
        n = [sum(len(d) for d in self.split(s)) for s in ("train", "valid", "test")]
        words = f", vocabulary {len(vocab)} (train only, rest <unk>)" if vocab is not None else ""
        return (
            f"{self.source}: documents split 80/10/10 (seed {SPLIT_SEED}) into {n[0]}/{n[1]}/{n[2]} sentences "
            f"of {self.min_len}-{self.max_len} lowercased word tokens{words}"
        )


def load_corpus(
    data: str = "abstracts", text: str | os.PathLike[str] | None = None, min_len: int = 3, max_len: int = 30
) -> TextCorpus:
    """The fixed document split of ``abstracts`` or of a user's text file (``text``).

    The abstracts' corpus is cached per process (reading CACM's tarball takes
    seconds); treat the returned lists as read-only.
    """
    if not text and data == "abstracts":
        return _abstracts_corpus(min_len, max_len)
    return _load_corpus(data, text, min_len, max_len)


@functools.lru_cache(maxsize=4)
def _abstracts_corpus(min_len: int, max_len: int) -> TextCorpus:
    return _load_corpus("abstracts", None, min_len, max_len)


def _load_corpus(data: str, text: str | os.PathLike[str] | None, min_len: int, max_len: int) -> TextCorpus:
    if min_len < 1 or max_len < min_len:
        raise InputError(f"sentence lengths need 1 <= min_len <= max_len, not {min_len}..{max_len}")
    if text:
        raw, source = read_text_file(text), f"text file {Path(text).name}"
    elif data == "abstracts":
        raw, source = read_abstracts(), "Cranfield .W + CACM + Vaswani abstracts"
    else:
        raise InputError(f"unknown text data {data!r}; choose from {', '.join(DATASETS)} (or --option text=PATH)")
    docs = [[s for s in document_sentences(t) if min_len <= len(s) <= max_len] for _, t in raw]
    docs = [d for d in docs if d]
    if not docs:
        where = Path(text) if text else None
        raise InputError(f"no sentences of {min_len}-{max_len} words in the text", where)
    train, valid, test = split_documents(docs)
    return TextCorpus(train, valid, test, source, min_len, max_len)


def split_documents(docs: list[Document]) -> tuple[list[Document], list[Document], list[Document]]:
    """The seeded 80/10/10 document split; tiny inputs still get one valid and one test document
    when they have three or more documents (fewer: all splits share them)."""
    n = len(docs)
    if n < 3:
        return docs, docs, docs
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_valid = max(1, round(SPLIT_FRACTIONS[1] * n))
    n_test = max(1, round(SPLIT_FRACTIONS[2] * n))
    n_train = n - n_valid - n_test
    pick = lambda idx: [docs[i] for i in idx]  # noqa: E731
    return pick(order[:n_train]), pick(order[n_train : n_train + n_valid]), pick(order[n_train + n_valid :])


def chunk_documents(docs: list[Document], max_sents: int) -> Iterator[Document]:
    """Documents cut into consecutive pieces of at most ``max_sents`` sentences (hierarchical model)."""
    for d in docs:
        for i in range(0, len(d), max_sents):
            yield d[i : i + max_sents]
