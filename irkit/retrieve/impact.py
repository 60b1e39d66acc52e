"""BM25 (and QL) over an impact index with Lucene's exact arithmetic, in a compiled (C) kernel.

What Lucene 9.9 (the version in Anserini's fat jar) computes, reproduced here:

* ``BM25Similarity``: ``idf = (float) Math.log(1 + (docCount - docFreq + 0.5D) / (docFreq + 0.5D))``;
  ``avgdl = (float) (sumTotalTermFreq / (double) docCount)``; a 256-entry float cache
  ``1f / (k1 * ((1 - b) + b * LENGTH_TABLE[i] / avgdl))`` with
  ``LENGTH_TABLE[i] = SmallFloat.byte4ToInt((byte) i)``; per posting, in float,
  ``weight - weight / (1f + freq * cache[norm & 0xFF])`` with ``weight = boost * idf``.
* Anserini's ``BagOfWordsQueryGenerator``: one SHOULD ``TermQuery`` per distinct analysed term,
  wrapped in ``BoostQuery(count)`` (so ``boost`` is the term's count in the query).
* The boolean disjunction (``BooleanScorer`` / ``DisjunctionSumScorer``) adds its clauses'
  float scores in a ``double`` and casts the sum to float: so does the kernel.
* Ties: score descending, then docno ascending (Anserini's ``BREAK_SCORE_TIES_BY_DOCID``).

How it is fast, exactly:

* a posting's score is read, not computed, where it can be, with the same bits: on an index
  whose per-posting scores fit :data:`IMPACTS_BUDGET`, every posting's boost-1 score is computed
  once per (k1, b) (:func:`impacts`, float32, kept with the open index); above it, a 2-byte code
  per posting (frequency and norm byte, :func:`codes`) indexes a small per-query-term table of
  scores for heavy terms; the other scores are computed with the formula above, as Lucene does;
* the kernel (C, :mod:`irkit.retrieve.kernel`: compiled once, called without the GIL) adds a
  query's postings window by window into a ``float64`` accumulator one window long (a thread's memory does not grow with the collection),
  over consecutive chunks of the batch's queries of about equal work handed out to the threads;
* the top k is selected without sorting the matched documents: a heap of k order keys, one int64
  per document that encodes the float32 score and the docno rank together (see
  :mod:`irkit.index.impact`), so ties go by docno; blocks of documents whose best score is under
  the heap's threshold are skipped.
"""

from __future__ import annotations

import itertools
import math
import mmap
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from irkit.errors import InputError
from irkit.index.impact import ImpactIndex
from irkit.retrieve import kernel

if TYPE_CHECKING:
    import pandas as pd

    from irkit.index.lucene import LuceneIndex

_SEP = "qqirkitqueryseparatorqq"  # one token, unchanged by Anserini's analyzer, never a query word


def length_table() -> np.ndarray:
    """Lucene's ``SmallFloat.byte4ToInt`` for the 256 norm bytes."""
    out = np.empty(256, dtype=np.int64)
    for i in range(256):
        # byte4ToInt: values < 24 are exact; above, 3 mantissa bits with an implicit one
        if i < 24:
            out[i] = i
        else:
            bits = i - 24
            shift = (bits >> 3) - 1
            out[i] = (((bits & 0x07) | 0x08) << shift) + 24 if shift >= 0 else bits + 24
    return out


_LENGTHS = length_table().astype(np.float32)  # LENGTH_TABLE is a float[] in BM25Similarity


def norm_cache(k1: float, b: float, avgdl: np.float32) -> np.ndarray:
    """BM25Similarity's float cache, operation by operation in float32."""
    f = np.float32
    k1, b, avgdl = f(k1), f(b), f(avgdl)
    lt = _LENGTHS
    with np.errstate(divide="ignore"):
        # (1 - b) + b * LENGTH_TABLE[i] / avgdl: float32 operations left to right, elementwise
        inner = f(f(1) - b) + (b * lt) / avgdl
        return (f(1) / (k1 * inner)).astype(np.float32)


def idf(doc_freq: np.ndarray, doc_count: int) -> np.ndarray:
    """``(float) Math.log(1 + (docCount - docFreq + 0.5D) / (docFreq + 0.5D))``."""
    df = np.asarray(doc_freq, dtype=np.float64)
    return np.log(1.0 + (doc_count - df + 0.5) / (df + 0.5)).astype(np.float32)


def analyse(lucene, texts: list[str]) -> list[list[str]]:
    """Analyse all ``texts`` with the index's analyzer in one JNI call (Anserini's ``AnalyzerUtils``)."""
    if not texts:
        return []
    joined = f" \n{_SEP}\n ".join(texts)
    tokens = lucene.analyze(joined)
    out: list[list[str]] = [[]]
    for t in tokens:
        if t == _SEP:
            out.append([])
        else:
            out[-1].append(t)
    if len(out) != len(texts):  # a query held the separator itself: analyse one by one
        out = [lucene.analyze(t) for t in texts]
    return out


@dataclass
class TopK:
    """Per-query top k: ``docs[q, :counts[q]]`` (Lucene doc ids), ``scores`` (float32), ``keys`` (int64)."""

    docs: np.ndarray
    scores: np.ndarray
    keys: np.ndarray
    counts: np.ndarray
    decimals: np.ndarray | None = None  # the scores as Java prints them (float64), where computed


_IMPACT_LOCK = threading.Lock()
IMPACTS_BUDGET = 64 * 2**20
"""Bytes up to which :func:`score_batch` keeps the per-posting impacts (4 bytes a posting, 16.8M
postings) by default: reading a posting's score is the fastest (measured in docs/bm25-speed.md), but
above this a large index would hold another array as large as its doc ids; there it keeps 2-byte
codes per posting instead (:func:`codes`) and looks heavy terms' scores up in per-term tables, or
computes them from frequency and norm: the same float32 operations, the same bits."""


# what a model does not read, passed where the kernel takes an array
_NO_CACHE = np.zeros(256, dtype=np.float32)
_NO_LOGS = np.zeros(256, dtype=np.float64)
_NO_CP = np.zeros(0, dtype=np.float64)


def dirichlet_mu(mu: float) -> float:
    """``LMDirichletSimilarity``'s ``mu`` as its scorer reads it: a Java float, widened to double."""
    return float(np.float32(mu))


def log_norms(mu: float) -> np.ndarray:
    """``Math.log(mu / (docLen + mu))`` of ``LMDirichletSimilarity`` per norm byte (``docLen``:
    ``LENGTH_TABLE[norm]``, a float widened to double), with the C library's ``log``, as the kernel's."""
    m = dirichlet_mu(mu)
    return np.array([math.log(m / (float(n) + m)) for n in _LENGTHS], dtype=np.float64)


def collection_probability(index: ImpactIndex, terms: np.ndarray) -> np.ndarray:
    """``LMSimilarity.DefaultCollectionModel``: ``(totalTermFreq + 1D) / (sumTotalTermFreq + 1D)`` per term."""
    if "_ttf" not in index.__dict__:
        if type(index) is not ImpactIndex:  # a written shard's postings are not the collection's
            raise InputError("QL on the impact backend needs the whole index, not a shard", index.path)
        ends = np.concatenate([[0], np.cumsum(index.post_freqs, dtype=np.int64)])
        index.__dict__["_ttf"] = ends[index.post_offsets[1:]] - ends[index.post_offsets[:-1]]
    return (index.__dict__["_ttf"][terms] + 1.0) / (index.sum_total_term_freq + 1.0)


def impacts(index: ImpactIndex, k1: float, b: float, mu: float | None = None) -> np.ndarray:
    """Every posting's score for a query term of boost 1 (float32), by BM25 (k1, b) or, given
    ``mu``, by QL: computed once per setting and index and kept with the index."""
    key = ("ql", dirichlet_mu(mu)) if mu is not None else (np.float32(k1).item(), np.float32(b).item())
    store = index.__dict__.setdefault("_impacts", {})
    with _IMPACT_LOCK:
        if key not in store:
            every = np.arange(index.num_terms)
            out = np.empty(len(index.post_docs), dtype=np.float32)
            if mu is None:
                # docFreq as the index gives it (a written shard: the whole collection's, not its postings')
                idfs = idf(index.doc_freq(every), index.doc_count)
                kernel.fill_impacts(kernel.BM25, index, norm_cache(k1, b, index.avgdl), 0.0, _NO_LOGS, idfs,
                                    _NO_CP, out)  # fmt: skip
            else:
                ones = np.ones(index.num_terms, dtype=np.float32)
                kernel.fill_impacts(kernel.QL, index, _NO_CACHE, dirichlet_mu(mu), log_norms(mu), ones,
                                    collection_probability(index, every), out)  # fmt: skip
            store.clear()  # one setting at a time: the array is as large as the postings
            store[key] = out
        return store[key]


WINDOW = 1 << 16
"""Documents per accumulator window: 512 KiB of float64, stays in L2."""
HEAP_HITS = 128
"""Up to this many hits the kernel keeps the top k in a heap; above, in a buffer of 4k keys cut back
to the best k by a partition when full (1,000 hits: 10-20% faster on the small collections)."""
TAB_MIN = 4096
"""Postings (in the scored range) from which a query term's table of scores by code pays: filling
it takes 1,024 float32 divisions."""


def codes(index: ImpactIndex) -> np.ndarray:
    """Per posting, ``min(freq, 255) << 8 | norm byte`` (uint16, 2 bytes a posting, whatever k1 and
    b), made once per index and kept with it: where per-posting impacts are not kept, a heavy query
    term's scores are looked up by code in a small table (see ``_kernel.c``)."""
    with _IMPACT_LOCK:
        if "_codes" not in index.__dict__:
            out = np.empty(len(index.post_docs), dtype=np.uint16)
            kernel.make_codes(index.post_docs, index.post_freqs, index.norms, out)
            index.__dict__["_codes"] = out
            # The codes stand for the frequencies from now on (but those of 255 and more): the
            # memory-mapped file's pages just read need not stay in this process's memory.
            mm = getattr(index.post_freqs, "_mmap", None)
            if mm is not None and hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
                mm.madvise(mmap.MADV_DONTNEED)
        return index.__dict__["_codes"]


def _decode(keys: np.ndarray, counts: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bits = (keys >> 32).astype(np.int32)
    scores = bits.view(np.float32).copy()
    ranks = (np.int64(0xFFFFFFFF) - (keys & np.int64(0xFFFFFFFF))).astype(np.int64)
    valid = np.arange(keys.shape[1])[None, :] < counts[:, None]
    docs = np.where(valid, np.asarray(order)[np.where(valid, ranks, 0)], -1).astype(np.int32)
    scores[~valid] = np.nan
    return docs, scores


def query_terms(index: ImpactIndex, queries: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays (pointers, term ids, counts) of analysed queries: Anserini's bag of words, one
    clause per distinct term, boosted by its count; terms absent from the index are dropped
    (Lucene's clause for them matches nothing)."""
    ids_of = index.term_id_map
    nq = len(queries)
    # every token of the batch at once: (query, term id) pairs, counted with one np.unique
    tids = np.array([ids_of.get(t, -1) for toks in queries for t in toks], dtype=np.int64)
    qidx = np.repeat(np.arange(nq, dtype=np.int64), [len(toks) for toks in queries])
    keep = tids >= 0
    pairs, counts = np.unique(qidx[keep] * (index.num_terms + 1) + tids[keep], return_counts=True)
    q_of = pairs // (index.num_terms + 1)
    terms = pairs % (index.num_terms + 1)
    ptr = np.zeros(nq + 1, dtype=np.int64)
    np.cumsum(np.bincount(q_of, minlength=nq), out=ptr[1:])
    return ptr, terms, counts


def prepare(
    index: ImpactIndex, queries: list[list[str]], k1: float, b: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BM25's query arrays: pointers, term ids, float32 weights ``(float) count * idf``, boost-1
    flags; and the norm cache."""
    ptr, terms, counts = query_terms(index, queries)
    weights = counts.astype(np.float32) * idf(index.doc_freq(terms), index.doc_count)
    return ptr, terms, weights.astype(np.float32), counts == 1, norm_cache(k1, b, index.avgdl)


def _chunks(ptr: np.ndarray, terms: np.ndarray, index: ImpactIndex, threads: int) -> list[tuple[int, int]]:
    """Consecutive query ranges of about equal work (postings read), many per thread: a thread that
    the machine slows down (another process on its core) then holds up the batch by one small
    chunk at most, and a long query does not idle the other threads."""
    nq = len(ptr) - 1
    if threads == 1 or nq <= 1:
        return [(0, nq)]
    po = np.asarray(index.post_offsets)
    lens = (po[terms + 1] - po[terms]).astype(np.int64)
    cum = np.concatenate([[0], np.cumsum(lens)])[ptr]  # postings read before each query
    cum = cum + np.arange(nq + 1) * 64  # each query costs a little however short
    target = max(cum[-1] / (threads * 32), 20_000)  # ~32 chunks a thread, each worth a call (~6 us)
    cuts = np.unique(np.searchsorted(cum, np.arange(1, int(cum[-1] // target) + 1) * target))
    bounds = [0, *[int(c) for c in cuts if 0 < c < nq], nq]
    return list(itertools.pairwise(bounds))


def score_batch(
    index: ImpactIndex,
    queries: list[list[str]],
    hits: int = 1000,
    k1: float = 0.9,
    b: float = 0.4,
    doc_range: tuple[int, int] | None = None,
    threads: int = 1,
    window: int = 0,
    keep_impacts: bool | None = None,
    mu: float | None = None,
    adjust_ties: bool = False,
) -> TopK:
    """Lucene BM25 (or, given ``mu``, query likelihood with Dirichlet smoothing) top ``hits`` of
    each analysed query, over documents ``lo <= doc < hi``.

    QL is ``LMDirichletSimilarity`` as Anserini's searcher runs it (``-qld``). ``decimals`` are
    Java's ``Float.toString`` of the scores (as Lucene's BM25 backend prints them), or with
    ``adjust_ties`` the scores after Anserini's ``ScoreTiesAdjusterReranker`` (rounded to 1e-4,
    ties nudged apart by 1e-6), as Anserini's searcher, and so Pyserini, returns them.

    Global statistics (idf, avgdl) always come from the whole index, so per-range results
    merge exactly (:func:`merge_topk`). ``keep_impacts``: read boost-1 terms' scores from the
    per-posting array of :func:`impacts` (4 bytes a posting, kept with the index) instead of
    computing them from frequency and norm (the same floats); by default, where that array fits
    :data:`IMPACTS_BUDGET`.
    """
    lo, hi = (0, index.max_doc) if doc_range is None else (int(doc_range[0]), int(doc_range[1]))
    if not 0 <= lo <= hi <= index.max_doc:
        raise ValueError(f"doc_range {doc_range} is outside 0..{index.max_doc}")
    if mu is None:
        ptr, terms, weights, plain, cache = prepare(index, queries, k1, b)
        model, cp, logs = kernel.BM25, _NO_CP, _NO_LOGS
    else:
        ptr, terms, counts = query_terms(index, queries)
        weights, plain, cache = counts.astype(np.float32), counts == 1, _NO_CACHE  # the weight is the boost
        model, cp, logs = kernel.QL, collection_probability(index, terms), log_norms(mu)
    keep = len(index.post_docs) * 4 <= IMPACTS_BUDGET if keep_impacts is None else keep_impacts
    imp = impacts(index, k1, b, mu) if keep else np.empty(0, dtype=np.float32)
    cod = np.empty(0, dtype=np.uint16) if keep else codes(index)
    k = max(1, int(hits))
    nq = len(queries)
    max_terms = max(1, int(np.diff(ptr).max())) if nq else 1
    window = int(window) if window > 0 else WINDOW  # (tests use small windows)
    window = max(1, min(window, hi - lo))
    out_keys = np.zeros((nq, k), dtype=np.int64)
    out_docs = np.full((nq, k), -1, dtype=np.int32)
    out_scores = np.full((nq, k), np.nan, dtype=np.float32)
    out_dec = np.full((nq, k), np.nan, dtype=np.float64)
    out_counts = np.zeros(nq, dtype=np.int64)
    P = kernel.ptr
    # the kernel reads arrays by address: each is held by a local here or by the index until the threads are done
    batch = kernel.Batch(
        P(ptr, np.int64), P(terms, np.int64), P(weights, np.float32), P(plain, np.bool_),
        P(index.post_offsets, np.int64), P(index.post_docs, np.int32), P(index.post_freqs, index.post_freqs.dtype),
        kernel.freq_bytes(index.post_freqs), P(index.norms, np.uint8), len(index.norms), P(cache, np.float32),
        P(imp, np.float32), len(imp), P(cod, np.uint16), len(cod), P(index.docno_rank, np.int32),
        P(index.docno_order, np.int32), P(kernel.POW10, np.float64), lo, hi, k, window, TAB_MIN,
        P(out_keys, np.int64), P(out_docs, np.int32), P(out_scores, np.float32), P(out_dec, np.float64),
        P(out_counts, np.int64), model, dirichlet_mu(mu) if mu is not None else 0.0, P(cp, np.float64),
        P(logs, np.float64), int(adjust_ties),
    )  # fmt: skip
    score_block = kernel.lib().irkit_score_block
    ntab = kernel.tab()
    threads = max(1, min(int(threads), nq))
    chunks = _chunks(ptr, terms, index, threads)[::-1]  # popped from the end: in query order
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        # one window of accumulator per thread: its memory does not grow with the collection
        acc = np.full(window, -1.0, dtype=np.float64)
        touched = np.empty(window + 1, dtype=np.int32)  # +1: the kernel writes one slot ahead
        # a heap, or a buffer (see push in _kernel.c) no longer than the candidates there can be
        keys = np.empty(k if k <= HEAP_HITS else min(4 * k, k + max(1, hi - lo)), dtype=np.int64)
        per_term = np.empty((4, max_terms), dtype=np.int64)  # its postings still to read (3 rows), its table's row
        tabs = np.empty((0 if keep else min(max_terms, 64), ntab), dtype=np.float32)  # (no table where no codes)
        scratch = kernel.Scratch(
            P(acc, np.float64), P(touched, np.int32), P(keys, np.int64), len(keys),
            *(P(row, np.int64) for row in per_term), P(tabs, np.float32), len(tabs),
        )  # fmt: skip
        while True:
            with lock:
                if not chunks or errors:
                    return
                q0, q1 = chunks.pop()
            try:
                score_block(batch, scratch, q0, q1)  # ctypes releases the GIL for the call
            except BaseException as e:  # surfaced in the calling thread
                errors.append(e)
                return

    if nq:
        # the calling thread works too: threads - 1 more
        pool = [threading.Thread(target=work, daemon=True) for _ in range(threads - 1)]
        for t in pool:
            t.start()
        work()
        for t in pool:
            t.join()
    if errors:
        raise errors[0]
    return TopK(docs=out_docs, scores=out_scores, keys=out_keys, counts=out_counts, decimals=out_dec)


def search(
    lucene: LuceneIndex, index: ImpactIndex, queries: pd.DataFrame, hits: int, threads: int, **scoring: Any
) -> pd.DataFrame:
    """The run (``qid, docno, score, rank``) of a queries frame: analysed by ``lucene``'s analyser,
    scored on its impact part ``index`` by :func:`score_batch` (``scoring``: its ``k1``, ``b``,
    ``mu``, ``adjust_ties``)."""
    from irkit.retrieve.base import empty_run

    terms = analyse(lucene, queries["query"].tolist())
    top = score_batch(index, terms, hits, threads=threads, **scoring)
    if not top.counts.any():
        return empty_run()
    return run_from_topk(queries["qid"].tolist(), top, lucene.docnos)


def merge_topk(parts: list[TopK], hits: int, order: np.ndarray) -> TopK:
    """Exact top ``hits`` of the union of per-range results (``order``: the index's ``docno_order``)."""
    k = max(1, int(hits))
    keys = np.concatenate([p.keys for p in parts], axis=1)
    valid = np.concatenate([np.arange(p.keys.shape[1])[None, :] < p.counts[:, None] for p in parts], axis=1)
    keys = np.where(valid, keys, np.int64(-1))
    idx = np.argsort(-keys, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(keys, idx, axis=1)
    counts = np.minimum((top >= 0).sum(axis=1), k).astype(np.int64)
    top = np.where(top >= 0, top, 0)
    if top.shape[1] < k:
        top = np.pad(top, ((0, 0), (0, k - top.shape[1])))
    docs, scores = _decode(top, counts, order)
    return TopK(docs=docs, scores=scores, keys=top, counts=counts)


def java_decimal(scores: np.ndarray) -> np.ndarray:
    """float32 scores as the float64 values of Java's ``Float.toString`` (the shortest decimal
    that reads back as the same float, the nearest such), which the Lucene backend parses:
    both backends then give the same frame and the same run file."""
    x32 = np.ascontiguousarray(scores, dtype=np.float32)
    out = np.empty(len(x32), dtype=np.float64)
    kernel.java_decimals(x32, out)
    return out


def run_from_topk(qids: list[str], top: TopK, docnos: np.ndarray):
    """A run frame (``qid, docno, score, rank``) from a :class:`TopK`, built column-wise."""
    import pandas as pd

    counts = top.counts
    valid = np.arange(top.docs.shape[1])[None, :] < counts[:, None]
    docs = top.docs[valid]
    # pandas' own string arrays, gathered with take(): several times faster than an object column
    key = id(docnos)
    if key not in _DOCNO_ARRAYS or _DOCNO_ARRAYS[key][0] is not docnos:
        _DOCNO_ARRAYS.clear()
        _DOCNO_ARRAYS[key] = (docnos, pd.Series(np.asarray(docnos, dtype=object), dtype=str).array)
    return pd.DataFrame(
        {
            "qid": pd.Series(np.asarray(qids, dtype=object), dtype=str).array.take(
                np.repeat(np.arange(len(qids)), counts)
            ),
            "docno": _DOCNO_ARRAYS[key][1].take(docs),
            # computed by the scoring threads where score_batch made the TopK
            "score": top.decimals[valid] if top.decimals is not None else java_decimal(top.scores[valid]),
            "rank": np.nonzero(valid)[1].astype(np.int64) + 1,
        },
        copy=False,  # the columns are new arrays already
    )


_DOCNO_ARRAYS: dict[int, tuple] = {}
