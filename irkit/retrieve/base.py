"""What every first-stage retriever over an index does the same way (BM25 on any backend or
engine, QL and RM3): the one place of three small rules.

* a topic whose query is empty (or only spaces) is an error, before any search;
* topics that matched no document are named in one warning;
* given a run instead of queries (``bm25 % 1000 >> ql``), the stage rescores its candidates:
  the run's documents that are in this model's top ``hits``, with this model's scores;
* a backend is ``impact`` (irkit's impact index and compiled kernel, Lucene's exact scores; the
  default where the index has an impact part) or ``lucene`` (Lucene's or Anserini's own searcher).

A retriever subclasses :class:`Searcher` and writes ``_search(queries, hits, quiet) -> run``.
"""

from __future__ import annotations

import os
from abc import abstractmethod

import pandas as pd

from irkit.errors import InputError
from irkit.frames import queries_frame, rank_run, run_frame
from irkit.pipeline import Transformer, is_run
from irkit.progress import log

BACKENDS = ("impact", "lucene")


def check_backend(backend: str | None) -> None:
    if backend is not None and backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r} (choose impact or lucene)")


def choose_backend(backend: str | None, index_path: os.PathLike[str]) -> str:
    """``backend``, checked; by default ``impact`` where the index has an impact part, else ``lucene``."""
    from irkit.index.impact import has_impact

    check_backend(backend)
    return backend or ("impact" if has_impact(index_path) else "lucene")


def empty_run() -> pd.DataFrame:
    return run_frame(pd.DataFrame(columns=["qid", "docno", "score"]))


class Searcher(Transformer):
    """A stage that searches an index: queries -> the top ``hits`` per query; a run -> its candidates rescored."""

    hits: int = 1000

    @abstractmethod
    def _search(self, queries: pd.DataFrame, hits: int, quiet: bool) -> pd.DataFrame:
        """The top ``hits`` of each (checked, non-empty) query, as a ranked run."""

    def search(self, queries: pd.DataFrame, hits: int | None = None, quiet: bool = False) -> pd.DataFrame:
        """Top ``hits`` (default: the stage's) documents per query as a run frame."""
        queries = queries_frame(queries)
        for qid, text in zip(queries["qid"].tolist(), queries["query"].tolist(), strict=True):
            if not text.strip():
                raise InputError(f"topic {qid} has an empty query")
        run = self._search(queries, self.hits if hits is None else int(hits), quiet)
        found = set(run["qid"].unique())  # not set(column): that iterates every hit's qid in Python
        empty = [q for q in queries["qid"] if q not in found]
        if empty:
            log(f"{len(empty)} topic(s) matched no document (all words stopwords or unknown?): {empty[:5]}", quiet)
        return run

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not is_run(frame):
            return self.search(frame, quiet=self.quiet)
        run = self.search(frame[["qid", "query"]].drop_duplicates("qid"), quiet=self.quiet)
        return rank_run(run.merge(frame[["qid", "docno"]], on=["qid", "docno"]))
