"""The three kinds of pipeline stage and the batching their subclasses share.

* :class:`Retriever` maps a queries frame to a run.
* :class:`Reranker` scores (query, document) pairs; the base batches whole
  queries and turns scores into ranks.
* :class:`Encoder` maps texts to a float32 ``(n, d)`` array.

Training (``fit``) always lives apart from scoring.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import pandas as pd

from irkit.errors import InputError
from irkit.frames import cut_run, queries_frame, run_frame
from irkit.progress import progress


class Retriever(ABC):
    """Maps queries (``qid, query``) to a run (``qid, docno, score, rank``)."""

    name: str = "retriever"

    @abstractmethod
    def search(self, queries: pd.DataFrame) -> pd.DataFrame: ...

    def __call__(self, queries: pd.DataFrame) -> pd.DataFrame:
        return self.search(queries)


class Reranker(ABC):
    """Scores (query, document) pairs of a candidate run and re-ranks them.

    Subclasses implement :meth:`score` on a frame with columns ``qid, query,
    docno`` (one or more whole queries); the base class cuts the run to
    ``depth``, batches queries, shows progress and ranks by the new scores.
    """

    name: str = "reranker"
    batch_size: int = 1000  # pairs per call to score(); whole queries are never split

    @abstractmethod
    def score(self, pairs: pd.DataFrame) -> np.ndarray: ...

    def rerank(self, queries: pd.DataFrame, run: pd.DataFrame, depth: int = 100, quiet: bool = False) -> pd.DataFrame:
        queries = queries_frame(queries)
        cand = cut_run(run_frame(run), depth)
        missing = sorted(set(cand["qid"]) - set(queries["qid"]))
        if missing:
            raise InputError(f"the run has topics that the topics file lacks: {missing[:5]}")
        pairs = cand.merge(queries, on="qid", how="left")
        groups = [g for _, g in pairs.groupby("qid", sort=False)]
        batches: list[list[pd.DataFrame]] = [[]]
        size = 0
        for g in groups:
            if size and size + len(g) > self.batch_size:
                batches.append([])
                size = 0
            batches[-1].append(g)
            size += len(g)
        scored = []
        bar = progress(batches, desc=f"reranking ({self.name})", unit="batch", disable=quiet)
        for batch in bar:
            if not batch:
                continue
            frame = pd.concat(batch, ignore_index=True)
            scores = np.asarray(self.score(frame[["qid", "query", "docno"]]), dtype=np.float64)
            if scores.shape != (len(frame),):
                raise InputError(f"{self.name} returned {scores.shape} scores for {len(frame)} pairs")
            scored.append(frame[["qid", "docno"]].assign(score=scores))
        if not scored:
            return run_frame(pd.DataFrame(columns=["qid", "docno", "score"]))
        return run_frame(pd.concat(scored, ignore_index=True))


class Encoder(ABC):
    """Maps texts to a float32 ``(n, dim)`` array."""

    name: str = "encoder"
    dim: int

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...
