"""BM25 over a Lucene index, searched in-process with Lucene's exact scores.

Queries are analysed and built exactly as Anserini's ``SimpleSearcher`` does
(``BagOfWordsQueryGenerator`` over the ``contents`` field, Lucene's
``BM25Similarity``, ties broken by ascending docid), so rankings match
Pyserini's. The speed comes from how hits cross JNI: Pyserini converts each hit
through several JNI calls; here one ``MethodHandle`` composed inside the JVM
turns a query's whole ``TopDocs`` into one string, parsed in Python. Queries run
on a pool of threads, each with its own JNI attachment.

``BM25(index, engine="ray")`` is BM25 on a Ray cluster: the impact index in document
shards, one actor each (:mod:`irkit.engine.bm25`); ``index`` may also be a shard set
written by ``irkit shard``. The run is the local one, frame for frame.
"""

from __future__ import annotations

import math
import os
import queue
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from irkit import _java
from irkit.engine.config import EngineConfig, engine_config
from irkit.errors import InputError
from irkit.frames import run_frame
from irkit.index.lucene import CONTENTS, ID, LuceneIndex
from irkit.progress import progress
from irkit.registry import Context
from irkit.retrieve.base import Searcher, check_backend, choose_backend, empty_run

MAX_QUERY_TERMS = 2**20  # distinct terms in one query (Lucene's default limit is 1,024)
_HIT = re.compile(r"doc=(\d+) score=([^ ,\]]+)")


class BM25(Searcher):
    """BM25 retrieval (Anserini defaults ``k1=0.9``, ``b=0.4``).

    ``engine="ray"`` (or an :class:`irkit.engine.EngineConfig`; ``shards``, ``workers`` and
    ``address`` as it takes them) scores the impact index in document shards on a Ray cluster
    (:mod:`irkit.engine.bm25`): the same run, frame for frame. ``index`` is then an irkit index
    (split into ``shards`` doc-id ranges) or a shard set written by ``irkit shard``; ``stats``
    holds the last Ray search's :class:`irkit.engine.cluster.JobStats`."""

    name = "bm25"

    def __init__(
        self,
        index: LuceneIndex | str | os.PathLike[str],
        k1: float = 0.9,
        b: float = 0.4,
        hits: int = 1000,
        threads: int | None = None,
        backend: str | None = None,
        engine: str | EngineConfig | None = None,
        shards: int | None = None,
        workers: int | None = None,
        address: str | None = None,
    ):
        from irkit.engine.shards import is_shard_set, read_shard_set

        self.engine = engine_config(engine, shards=shards, workers=workers, address=address)
        if not (math.isfinite(k1) and k1 >= 0) or not 0 <= b <= 1:  # nan fails both comparisons
            raise InputError(f"BM25 needs k1 >= 0 and 0 <= b <= 1 (got k1={k1}, b={b})")
        if hits < 1:
            raise InputError(f"hits must be at least 1 (got {hits})")
        self.shard_set: Path | None = None  # a shard set of `irkit shard` (engine="ray")
        self.stats: Any = None
        if self.engine.name == "ray" and not isinstance(index, LuceneIndex) and is_shard_set(index):
            self.shard_set, index = Path(index), read_shard_set(index).source
        self.index = index if isinstance(index, LuceneIndex) else LuceneIndex(index)
        self.k1, self.b, self.hits = float(k1), float(b), int(hits)
        if threads is not None and threads < 0:
            raise InputError(f"threads must be positive (got {threads})")
        self.threads = max(1, threads or os.cpu_count() or 1)
        # backend: "impact" (irkit's impact index and compiled kernel, Lucene's exact scores;
        # the default when the index has one) or "lucene" (Lucene's own searcher: the reference).
        from irkit.index.impact import ImpactIndex

        backend = choose_backend(backend, self.index.path)
        if self.engine.name == "ray" and backend != "impact":
            raise InputError("--engine ray shards irkit's impact index: use --backend impact (the default)")
        self.backend = backend
        self._impact = ImpactIndex.open(self.index.path, lucene=self.index) if backend == "impact" else None
        if backend == "lucene":
            self._setup()  # Lucene's searcher, sort and query generator: 70 ms of JNI the impact backend needs not

    def _setup(self) -> None:
        import jnius

        IndexSearcher = _java.autoclass("org.apache.lucene.search.IndexSearcher")
        BM25Similarity = _java.autoclass("org.apache.lucene.search.similarities.BM25Similarity")
        Sort = _java.autoclass("org.apache.lucene.search.Sort")
        SortField = _java.autoclass("org.apache.lucene.search.SortField")
        SortType = _java.autoclass("org.apache.lucene.search.SortField$Type")
        MethodHandles = _java.autoclass("java.lang.invoke.MethodHandles")
        MethodType = _java.autoclass("java.lang.invoke.MethodType")
        Class = _java.autoclass("java.lang.Class")

        reader = jnius.cast("org.apache.lucene.index.IndexReader", self.index.reader)
        self._searcher = IndexSearcher(reader)
        # Lucene refuses a query of more than 1,024 distinct terms (TooManyClauses), which
        # lost a whole run to one long topic; a bag of words has one clause per distinct
        # analysed term, so irkit allows up to 2**20 of them (JVM-wide, never lowered).
        if IndexSearcher.getMaxClauseCount() < MAX_QUERY_TERMS:
            IndexSearcher.setMaxClauseCount(MAX_QUERY_TERMS)
        self._searcher.setSimilarity(BM25Similarity(self.k1, self.b))
        # Anserini's BREAK_SCORE_TIES_BY_DOCID
        self._sort = Sort(SortField.FIELD_SCORE, SortField(ID, SortType.STRING_VAL))
        self._generator = _java.autoclass("io.anserini.search.query.BagOfWordsQueryGenerator")()
        self._analyzer = self.index._analyzer

        # (TopDocs) -> String: read the scoreDocs field and Arrays.toString it,
        # composed in the JVM so that the array never crosses JNI element by element.
        lookup = MethodHandles.publicLookup()
        score_docs = Class.forName("[Lorg.apache.lucene.search.ScoreDoc;")
        string = Class.forName("java.lang.String")
        getter = lookup.findGetter(Class.forName("org.apache.lucene.search.TopDocs"), "scoreDocs", score_docs)
        to_string = lookup.findStatic(
            Class.forName("java.util.Arrays"),
            "toString",
            MethodType.methodType(string, Class.forName("[Ljava.lang.Object;")),
        ).asType(MethodType.methodType(string, score_docs))
        self._format = MethodHandles.filterReturnValue(getter, to_string)
        self._ArrayList = _java.autoclass("java.util.ArrayList")

    def _search_one(self, text: str, hits: int) -> tuple[np.ndarray, np.ndarray]:
        query = self._generator.buildQuery(CONTENTS, self._analyzer, text)
        top = self._searcher.search(query, hits, self._sort, True)
        args = self._ArrayList()
        args.add(top)
        found = _HIT.findall(self._format.invokeWithArguments(args))
        if not found:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        docs, scores = zip(*found, strict=True)
        return np.array(docs, dtype=np.int64), np.array(scores, dtype=np.float64)

    def params(self) -> dict:
        return {k: v for k, v in (("k1", self.k1), ("b", self.b)) if v != {"k1": 0.9, "b": 0.4}[k]}

    def _search(self, queries: pd.DataFrame, hits: int, quiet: bool) -> pd.DataFrame:
        if self.engine.name == "ray":
            from irkit.engine.bm25 import search_shards

            run, self.stats = search_shards(self, queries, hits, quiet)
            return run
        if self._impact is not None:
            from irkit.retrieve.impact import search

            return search(self.index, self._impact, queries, hits, self.threads, k1=self.k1, b=self.b)
        results: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(queries)
        texts = list(queries["query"])
        todo: queue.Queue[int] = queue.Queue()
        for i in range(len(texts)):
            todo.put(i)
        done: queue.Queue[int | BaseException] = queue.Queue()
        stop = threading.Event()

        def worker() -> None:
            import jnius

            try:
                while not stop.is_set():
                    try:
                        i = todo.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        results[i] = self._search_one(texts[i], hits)
                        done.put(i)
                    except BaseException as e:  # surfaced in the calling thread
                        done.put(e)
                        return
            finally:
                jnius.detach()

        workers = [threading.Thread(target=worker, daemon=True) for _ in range(min(self.threads, len(texts)))]
        for w in workers:
            w.start()
        try:
            for _ in progress(range(len(texts)), desc="BM25", unit="q", disable=quiet):
                item = done.get()
                if isinstance(item, BaseException):
                    raise item
        finally:
            stop.set()
            for w in workers:
                w.join()
        docnos = self.index.docnos
        parts = [
            pd.DataFrame({"qid": qid, "docno": docnos[docs], "score": scores})
            for qid, (docs, scores) in zip(queries["qid"], results, strict=True)  # type: ignore[misc]
            if len(docs)
        ]
        if not parts:
            return empty_run()
        run = pd.concat(parts, ignore_index=True)
        # Lucene's own order (score, then docid) is already the run's order.
        run["rank"] = run.groupby("qid", sort=False).cumcount() + 1
        return run_frame(run)


@dataclass
class BM25Options:
    """``-O`` options of ``bm25`` (``irkit rank -O k1=1.2``, ``bm25(k1=1.2)`` in a pipeline)."""

    k1: float = 0.9
    b: float = 0.4
    backend: str | None = None  # impact (default when the index has an impact part) | lucene

    def __post_init__(self) -> None:
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise InputError(f"BM25 needs k1 >= 0 and 0 <= b <= 1 (got k1={self.k1}, b={self.b})")
        check_backend(self.backend)


def build(options: BM25Options, context: Context) -> BM25:
    """The registry's builder: BM25 over ``--index`` with ``--hits`` and ``--threads``, on the
    context's engine (the registry says BM25 scales by document shard)."""
    return BM25(context.require_index(), k1=options.k1, b=options.b, hits=context.hits, threads=context.threads,
                backend=options.backend, engine=context.engine)  # fmt: skip
