"""Tokens and vocabularies for the dense encoders.

Both encoders read the same analysed tokens that the Lucene index holds
(Anserini's ``DefaultEnglishAnalyzer``: Porter stems, Lucene's English stopwords
removed), so a dense run and a BM25 run see the same words. The analyser needs
no index: a query can be encoded with only a model folder.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from irkit.errors import InputError

# The one analyser lives beside the index it reproduces; the dense encoders use it without an index.
from irkit.index.lucene import Analyzer, analyzer

__all__ = ["ANALYZER", "Analyzer", "Vocab", "analyzer", "index_tokens"]

ANALYZER = "Anserini DefaultEnglishAnalyzer (Porter stemmer, Lucene English stopwords)"


def index_tokens(index, docnos: Sequence[str] | None = None, quiet: bool = False) -> tuple[list[str], list[list[str]]]:
    """``(docnos, tokens)`` of an index's stored texts (all documents, in Lucene order, by default)."""
    from irkit.index import LuceneIndex

    idx = index if isinstance(index, LuceneIndex) else LuceneIndex(index)
    ids = [str(d) for d in (idx.docnos if docnos is None else docnos)]
    texts = idx.texts(None if docnos is None else ids)
    return ids, analyzer().many(texts, desc=f"analysing {idx.path.name}", quiet=quiet)


@dataclass
class Vocab:
    """Words by id; ``specials`` (padding, unknown, sentence marks) come first."""

    words: list[str]
    counts: list[int]
    specials: tuple[str, ...] = ()
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.words) != len(self.counts):
            raise InputError("a vocabulary needs one count per word")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise InputError("a vocabulary has a word twice")

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def build(
        cls,
        docs: Iterable[Sequence[str]],
        size: int = 20000,
        min_count: int = 1,
        specials: tuple[str, ...] = (),
    ) -> Vocab:
        """The ``size`` most frequent words seen at least ``min_count`` times (ties by word)."""
        counts = Counter(w for doc in docs for w in doc)
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        kept = kept[: max(0, size - len(specials))]
        if len(kept) < 2:
            raise InputError(
                f"only {len(kept)} word(s) occur at least {min_count} time(s); a vocabulary needs 2 or more "
                "(lower --min-count or train on more documents)"
            )
        return cls(list(specials) + kept, [0] * len(specials) + [counts[w] for w in kept], specials)

    def ids(self, tokens: Sequence[str], unk: str | None = None) -> list[int]:
        """Ids of ``tokens``; unknown words map to ``unk`` or are dropped when it is None."""
        if unk is None:
            return [i for w in tokens if (i := self.index.get(w)) is not None]
        u = self.index[unk]
        return [self.index.get(w, u) for w in tokens]

    def known(self, tokens: Sequence[str]) -> int:
        """How many of ``tokens`` are (non-special) vocabulary words."""
        n = len(self.specials)
        return sum(1 for w in tokens if self.index.get(w, -1) >= n)

    def save(self, path: str | os.PathLike[str]) -> None:
        """``word<TAB>count`` per line, specials first (count 0)."""
        lines = [f"{w}\t{c}\n" for w, c in zip(self.words, self.counts, strict=True)]
        Path(path).write_text("".join(lines), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str], specials: tuple[str, ...] = ()) -> Vocab:
        p = Path(path)
        if not p.is_file():
            raise InputError("model folder has no vocabulary file", p)
        words, counts = [], []
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            word, sep, count = line.partition("\t")
            if not sep or not word:
                raise InputError("expected 'word<TAB>count'", p, n)
            try:
                counts.append(int(count))
            except ValueError:
                raise InputError(f"count {count!r} is not an integer", p, n) from None
            words.append(word)
        if tuple(words[: len(specials)]) != tuple(specials):
            raise InputError(f"vocabulary does not start with {list(specials)}", p)
        return cls(words, counts, specials)

    def frequencies(self) -> np.ndarray:
        return np.asarray(self.counts, dtype=np.float64)
