"""BM25 over a Lucene index, searched in-process with Lucene's exact scores.

Queries are analysed and built exactly as Anserini's ``SimpleSearcher`` does
(``BagOfWordsQueryGenerator`` over the ``contents`` field, Lucene's
``BM25Similarity``, ties broken by ascending docid), so rankings match
Pyserini's. The speed comes from how hits cross JNI: Pyserini converts each hit
through several JNI calls; here one ``MethodHandle`` composed inside the JVM
turns a query's whole ``TopDocs`` into one string, parsed in Python. Queries run
on a pool of threads, each with its own JNI attachment.
"""

from __future__ import annotations

import math
import os
import queue
import re
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from irkit import _java
from irkit.engine import EngineConfig, engine_config
from irkit.errors import InputError
from irkit.frames import queries_frame, rank_run, run_frame
from irkit.index.lucene import CONTENTS, ID, LuceneIndex
from irkit.progress import log, progress
from irkit.registry import RankRequest
from irkit.stages import Retriever

MAX_QUERY_TERMS = 2**20  # distinct terms in one query (Lucene's default limit is 1,024)
_HIT = re.compile(r"doc=(\d+) score=([^ ,\]]+)")


class BM25(Retriever):
    """BM25 retrieval (Anserini defaults ``k1=0.9``, ``b=0.4``).

    ``engine="ray"`` (or an :class:`irkit.engine.EngineConfig`; ``shards``, ``workers`` and
    ``address`` as it takes them) scores the impact index in document shards on a Ray cluster
    (:mod:`irkit.engine.bm25`): the same run, frame for frame."""

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
        self.engine = engine_config(engine, shards=shards, workers=workers, address=address)
        if not (math.isfinite(k1) and k1 >= 0) or not 0 <= b <= 1:  # nan fails both comparisons
            raise InputError(f"BM25 needs k1 >= 0 and 0 <= b <= 1 (got k1={k1}, b={b})")
        if hits < 1:
            raise InputError(f"hits must be at least 1 (got {hits})")
        self.index = index if isinstance(index, LuceneIndex) else LuceneIndex(index)
        self.k1, self.b, self.hits = float(k1), float(b), int(hits)
        if threads is not None and threads < 0:
            raise InputError(f"threads must be positive (got {threads})")
        self.threads = max(1, threads or os.cpu_count() or 1)
        self._setup()
        # backend: "impact" (irkit's impact index and compiled kernel, Lucene's exact scores;
        # the default when the index has one) or "lucene" (Lucene's own searcher: the reference).
        from irkit.index.impact import ImpactIndex, has_impact

        if backend is None:
            backend = "impact" if has_impact(self.index.path) else "lucene"
        if backend not in ("impact", "lucene"):
            raise InputError(f"unknown BM25 backend {backend!r} (choose impact or lucene)")
        self.backend = backend
        self._impact = ImpactIndex.open(self.index.path, lucene=self.index) if backend == "impact" else None

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

    def _search_impact(self, queries: pd.DataFrame, hits: int, quiet: bool) -> pd.DataFrame:
        from irkit.retrieve import impact

        terms = impact.analyse(self.index, queries["query"].tolist())
        top = impact.score_batch(self._impact, terms, hits, self.k1, self.b, threads=self.threads)
        qids = queries["qid"].tolist()
        empty = [q for q, n in zip(qids, top.counts, strict=True) if n == 0]
        if empty:
            log(f"{len(empty)} topic(s) matched no document (all words stopwords or unknown?): {empty[:5]}", quiet)
        if len(empty) == len(qids):
            return run_frame(pd.DataFrame(columns=["qid", "docno", "score"]))
        return impact.run_from_topk(qids, top, self.index.docnos)

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

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The stage contract (:mod:`irkit.pipeline`): queries -> the top ``hits`` per query;
        a run -> its candidates rescored by BM25 (those in BM25's top ``hits``)."""
        if "docno" not in frame.columns:
            return self.search(frame, quiet=self.quiet)
        run = self.search(frame[["qid", "query"]].drop_duplicates("qid"), quiet=self.quiet)
        return rank_run(run.merge(frame[["qid", "docno"]], on=["qid", "docno"]))

    def params(self) -> dict:
        return {k: v for k, v in (("k1", self.k1), ("b", self.b)) if v != {"k1": 0.9, "b": 0.4}[k]}

    def search(self, queries: pd.DataFrame, hits: int | None = None, quiet: bool = False) -> pd.DataFrame:
        """Top ``hits`` documents per query as a run frame."""
        queries = queries_frame(queries)
        hits = self.hits if hits is None else int(hits)
        for qid, text in zip(queries["qid"].tolist(), queries["query"].tolist(), strict=True):
            if not text.strip():
                raise InputError(f"topic {qid} has an empty query")
        if self.engine.name != "local":  # irkit.engine's one rule for a stage on an engine
            from irkit.engine import transform_on

            options = {"k1": self.k1, "b": self.b, "backend": self.backend}
            return transform_on(self.engine, "bm25", queries, self.index, hits, options, quiet)
        if self._impact is not None:
            return self._search_impact(queries, hits, quiet)
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
        empty = [q for q, r in zip(queries["qid"], results, strict=True) if r is not None and len(r[0]) == 0]
        if empty:
            log(f"{len(empty)} topic(s) matched no document (all words stopwords or unknown?): {empty[:5]}", quiet)
        docnos = self.index.docnos
        parts = [
            pd.DataFrame({"qid": qid, "docno": docnos[docs], "score": scores})
            for qid, (docs, scores) in zip(queries["qid"], results, strict=True)  # type: ignore[misc]
            if len(docs)
        ]
        if not parts:
            return run_frame(pd.DataFrame(columns=["qid", "docno", "score"]))
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
        if self.backend not in (None, "impact", "lucene"):
            raise InputError(f"unknown BM25 backend {self.backend!r} (choose impact or lucene)")


def build(options: BM25Options, request: RankRequest) -> BM25:
    """The registry's builder: BM25 over ``--index`` with ``--hits`` and ``--threads``."""
    return BM25(
        request.require_index(),
        k1=options.k1,
        b=options.b,
        hits=request.hits,
        threads=request.threads,
        backend=options.backend,
    )


def rank(request: RankRequest) -> pd.DataFrame:
    """``irkit rank --model bm25`` from a :class:`RankRequest` (the pre-pipeline entry point):
    :meth:`BM25.transform` of the topics, or of ``--rerank`` candidates' top ``depth``."""
    from irkit import registry

    return registry.rank("bm25", request)
