"""Query likelihood (Dirichlet) and RM3 pseudo-relevance feedback: Pyserini's runs.

Both are the implementations that Anserini's regressions and Pyserini's
``LuceneSearcher`` use (``set_qld(mu)``, ``set_rm3(fb_terms, fb_docs,
original_query_weight)``), run on an irkit index (a plain Lucene index with the
document vectors RM3 needs). RM3, and QL with ``backend="lucene"``, call Anserini's
``SimpleSearcher``, the Java object ``LuceneSearcher`` wraps, through :mod:`irkit._java`
(Pyserini's Python package is not imported). QL's default backend, ``impact`` where the
index has an impact part, scores it with irkit's kernel in Lucene's
``LMDirichletSimilarity`` arithmetic and Anserini's tie adjustment (below): the same run,
byte for byte, without Anserini's searcher, which loads every hit's stored document.
``tests/retrieve/test_ql.py`` checks both against a bare ``LuceneSearcher`` and against
Anserini's CACM regression.

* :class:`QL`: query likelihood with Dirichlet smoothing, ``mu=1000``.
* :class:`RM3`: RM3 expansion (``fb_docs=10``, ``fb_terms=10``, original query
  weight 0.5) over BM25 (``k1=0.9, b=0.4``) or QL: ``bm25+rm3``, ``ql+rm3``.

Scores are Pyserini's as it returns them: Anserini's ``ScoreTiesAdjusterReranker``
rounds them to 1e-4 and nudges ties apart by 1e-6, so any evaluation tool keeps
Lucene's order (score, then docno). :meth:`PyseriniRetriever.feedback_terms` gives
RM3's expanded query (the interpolated terms and weights of its second search).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from irkit import _java
from irkit.errors import InputError
from irkit.frames import run_frame
from irkit.index.lucene import LuceneIndex
from irkit.progress import spinner
from irkit.registry import Context
from irkit.retrieve.base import Searcher, check_backend, choose_backend, empty_run

BASES = ("bm25", "ql")


@dataclass
class PRFOptions:
    """``-O`` options of ``rm3`` (and the settings of every model here); defaults are Anserini's regression settings."""

    base: str = "bm25"  # bm25 | ql: the scoring of the first and of the expanded query
    rm3: bool = True
    k1: float = 0.9
    b: float = 0.4
    mu: float = 1000.0
    fb_docs: int = 10
    fb_terms: int = 10
    original_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.base not in BASES:
            raise InputError(f"base must be one of {', '.join(BASES)}, not {self.base!r}")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise InputError(f"BM25 needs k1 >= 0 and 0 <= b <= 1 (got k1={self.k1}, b={self.b})")
        if self.mu <= 0:
            raise InputError(f"the Dirichlet mu must be positive (got {self.mu})")
        if self.fb_docs < 1 or self.fb_terms < 1:
            raise InputError(f"fb_docs and fb_terms must be at least 1 (got {self.fb_docs}, {self.fb_terms})")
        if not 0 <= self.original_weight <= 1:
            raise InputError(f"the original query weight must lie in [0, 1] (got {self.original_weight})")


@dataclass
class QLOptions:
    """``-O`` options of ``ql``."""

    mu: float = 1000.0
    backend: str | None = None  # impact (default when the index has an impact part) | lucene (Anserini's searcher)

    def __post_init__(self) -> None:
        PRFOptions(base="ql", rm3=False, mu=self.mu)
        check_backend(self.backend)


@dataclass
class BM25RM3Options:
    """``-O`` options of ``bm25+rm3``."""

    k1: float = 0.9
    b: float = 0.4
    fb_docs: int = 10
    fb_terms: int = 10
    original_weight: float = 0.5

    def __post_init__(self) -> None:
        PRFOptions(base="bm25", **asdict(self))


@dataclass
class QLRM3Options:
    """``-O`` options of ``ql+rm3``."""

    mu: float = 1000.0
    fb_docs: int = 10
    fb_terms: int = 10
    original_weight: float = 0.5

    def __post_init__(self) -> None:
        PRFOptions(base="ql", **asdict(self))


class PyseriniRetriever(Searcher):
    """BM25 or QL, with or without RM3, as Anserini's ``SimpleSearcher`` (what Pyserini's ``LuceneSearcher``
    calls) ranks on an irkit index. ``backend``: ``lucene``, that searcher; ``impact`` (the default
    without RM3 where the index has an impact part), irkit's kernel with the same arithmetic."""

    def __init__(
        self,
        index: LuceneIndex | str | os.PathLike[str],
        options: PRFOptions | None = None,
        hits: int = 1000,
        threads: int | None = None,
        backend: str | None = None,
    ):
        self.options = options or PRFOptions()
        if hits < 1:
            raise InputError(f"hits must be at least 1 (got {hits})")
        self.index = index if isinstance(index, LuceneIndex) else LuceneIndex(index)
        self.hits = int(hits)
        self.threads = max(1, threads or os.cpu_count() or 1)
        # The name and params() are what a pipeline prints and parses back: ql(mu=...), rm3(base=ql, ...).
        self.name = "rm3" if self.options.rm3 else self.options.base
        if self.options.rm3 and backend == "impact":
            raise InputError("RM3 runs on Anserini's searcher: use backend lucene (its default)")
        self.backend = "lucene" if self.options.rm3 else choose_backend(backend, self.index.path)
        self._impact = None
        if self.backend == "impact":
            from irkit.index.impact import ImpactIndex

            self._impact = ImpactIndex.open(self.index.path, lucene=self.index)
        self._searcher = self._open() if self.backend == "lucene" else None

    def _open(self) -> Any:
        # Anserini's SimpleSearcher, the object Pyserini's LuceneSearcher wraps, reached through the
        # JNI bridge BM25 uses: importing pyserini.search.lucene would load transformers, torch,
        # onnxruntime and faiss (about 9 s and 0.9 GB) for a wrapper of a few calls. The calls and
        # their arguments are those of LuceneSearcher.set_qld/set_bm25/set_rm3/batch_search.
        o = self.options
        if o.rm3:  # irkit indexes store document vectors only once RM3 has asked for them
            self.index.require_docvectors()
        searcher = _java.autoclass("io.anserini.search.SimpleSearcher")(str(self.index.path.resolve()))
        if o.base == "ql":
            searcher.set_qld(float(o.mu))
        else:
            searcher.set_bm25(float(o.k1), float(o.b))
        if o.rm3:
            if not searcher.reader.getTermVectors(0):
                raise InputError("RM3 needs an index with document vectors", self.index.path)
            # collection class (None: read the stored vectors), terms, docs, weight, debug, filter terms
            searcher.set_rm3(None, int(o.fb_terms), int(o.fb_docs), float(o.original_weight), False, True)
        return searcher

    def params(self) -> dict[str, Any]:
        # Only the settings that apply to this model, and only where they differ from the defaults.
        o = asdict(self.options)
        d = asdict(PRFOptions(base="bm25" if self.options.rm3 else self.options.base, rm3=self.options.rm3))
        keep = {"bm25": ("k1", "b"), "ql": ("mu",)}[self.options.base]
        if self.options.rm3:
            keep = ("base", *keep, "fb_docs", "fb_terms", "original_weight")
        return {k: o[k] for k in keep if o[k] != d[k]}

    def feedback_terms(self, query: str) -> dict[str, float]:
        """RM3's expansion terms and their weights for ``query`` (empty without RM3)."""
        if not self.options.rm3:
            return {}
        terms = self._searcher.get_feedback_terms(query)
        return {e.getKey(): e.getValue() for e in terms.entrySet().toArray()} if terms else {}

    def _search(self, queries: pd.DataFrame, hits: int, quiet: bool) -> pd.DataFrame:
        """Top ``hits`` documents per query as a run frame, in Pyserini's order (score, then docno)."""
        o = self.options
        if self._impact is not None:
            from irkit.retrieve.impact import search

            mu = o.mu if o.base == "ql" else None
            return search(
                self.index, self._impact, queries, hits, self.threads, k1=o.k1, b=o.b, mu=mu, adjust_ties=True
            )
        qids, texts = list(queries["qid"]), list(queries["query"])
        with spinner(
            f"{self.name}: Anserini is searching {len(qids)} topic(s)", quiet or getattr(self, "quiet", False)
        ):
            found = self._searcher.batch_search(_java_list(texts), _java_list(qids), hits, self.threads)
            results = {e.getKey(): e.getValue() for e in found.entrySet().toArray()}
        parts = []
        for qid in qids:
            found = results.get(qid) or []
            if not found:
                continue
            parts.append(
                pd.DataFrame(
                    {
                        "qid": qid,
                        "docno": [h.docid for h in found],
                        "score": np.array([h.score for h in found], dtype=np.float64),
                    }
                )
            )
        if not parts:
            return empty_run()
        run = pd.concat(parts, ignore_index=True)
        run["rank"] = run.groupby("qid", sort=False).cumcount() + 1
        return run_frame(run)


def _java_list(items: list[str]) -> Any:
    out = _java.autoclass("java.util.ArrayList")()
    for item in items:
        out.add(item)
    return out


class QL(PyseriniRetriever):
    """Query likelihood, Dirichlet smoothing (Anserini's ``-qld``, ``mu=1000``)."""

    def __init__(self, index: LuceneIndex | str | os.PathLike[str], mu: float = 1000.0, **kwargs: Any):
        super().__init__(index, PRFOptions(base="ql", rm3=False, mu=mu), **kwargs)


class RM3(PyseriniRetriever):
    """RM3 pseudo-relevance feedback over BM25 or QL (Anserini's ``-rm3``)."""

    def __init__(
        self,
        index: LuceneIndex | str | os.PathLike[str],
        base: str = "bm25",
        *,
        k1: float = 0.9,
        b: float = 0.4,
        mu: float = 1000.0,
        fb_docs: int = 10,
        fb_terms: int = 10,
        original_weight: float = 0.5,
        **kwargs: Any,
    ):
        opts = PRFOptions(base, True, k1, b, mu, fb_docs, fb_terms, original_weight)
        super().__init__(index, opts, **kwargs)


def _retriever(opts: PRFOptions, context: Context, backend: str | None = None) -> PyseriniRetriever:
    return PyseriniRetriever(context.require_index(), opts, hits=context.hits, threads=context.threads, backend=backend)


def build(options: PRFOptions, context: Context) -> PyseriniRetriever:
    """The registry's builder of ``rm3`` (``rm3(base=ql)`` in a pipeline)."""
    return _retriever(options, context)


def build_ql(options: QLOptions, context: Context) -> PyseriniRetriever:
    """``irkit rank --model ql``."""
    return _retriever(PRFOptions(base="ql", rm3=False, mu=options.mu), context, options.backend)


def build_bm25_rm3(options: BM25RM3Options, context: Context) -> PyseriniRetriever:
    """``irkit rank --model bm25+rm3``."""
    return _retriever(PRFOptions(base="bm25", rm3=True, **asdict(options)), context)


def build_ql_rm3(options: QLRM3Options, context: Context) -> PyseriniRetriever:
    """``irkit rank --model ql+rm3``."""
    return _retriever(PRFOptions(base="ql", rm3=True, **asdict(options)), context)
