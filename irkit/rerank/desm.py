"""DESM: the Dual Embedding Space Model (Mitra, Nalisnick, Craswell and Caruana, WWW'16).

word2vec trained with negative sampling has two matrices: IN (the input
projection, what ``model.wv`` holds) and OUT (the output weights,
``model.syn1neg``). IN-IN similarity groups words of the same type
(Yale ~ Harvard); IN-OUT similarity groups words that occur together (Yale ~
faculty), which is evidence that a document is *about* a query word.

A document is the centroid of its words' unit-normalised OUT (or IN) vectors;
the score is the mean over query words of the cosine between the word's IN
vector and that centroid::

    DESM(Q, D) = 1/|Q| sum_q cos(IN_q, Dbar),   Dbar = 1/|D| sum_d v_d / ||v_d||

Because the centroid is a fixed vector, the mean of cosines equals one dot
product: ``mean_q unit(IN_q) . unit(Dbar)``, so a query against all of its
candidates is a single matrix-vector product over cached unit centroids.

Alone, DESM ranks a whole collection badly (documents merely *about* the topic
crowd out the ones that match it); it is meant to rerank BM25's candidates or
to be mixed with BM25: ``alpha * DESM + (1 - alpha) * BM25``, both min-max
normalised per query. The mixture uses the candidate run's own scores (BM25 in
the paper and in ``irkit rank --rerank bm25.run``).

Analysis: words of the training text, the queries and the documents all go
through the index's own analyser (``LuceneIndex.analyze``: Porter stemming,
Lucene's English stopwords), so DESM sees the same terms BM25 does. On
collections of 1,400-11,000 abstracts this also pools each word's inflections
into one vector with more training occurrences, and keeps stopwords (no
topical signal) from dominating the centroids.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from irkit.common import unit_rows
from irkit.errors import InputError, IrkitError
from irkit.frames import cut_run, queries_frame, run_frame
from irkit.pipeline import Reranker, is_run, with_queries
from irkit.progress import log, progress
from irkit.registry import REQUIRED, Context, tunable
from irkit.tuning import ALPHA_GRID

if TYPE_CHECKING:
    from irkit.index.lucene import LuceneIndex
    from irkit.tuning import Tuned

KIND = "desm"
VARIANTS = ("in-out", "in-in")
IN_FILE, OUT_FILE, VOCAB_FILE = "in.npy", "out.npy", "vocab.txt"
TUNE_MEASURE = "AP"
MAX_SENTENCE = 10_000  # gensim silently truncates longer sentences; we split them instead


@dataclass
class DESMConfig:
    """word2vec settings. CBOW (``sg=0``) as in the paper; ``negative > 0`` and no
    hierarchical softmax, so that the OUT matrix (``syn1neg``) exists.

    The defaults are those of docs/desm.md: a collection of a few thousand abstracts
    is small for word2vec, so it takes many passes (40 did better than 10 or 20 on
    Cranfield and CACM), and a window of 10 did better than 5 on CACM and Vaswani.
    """

    dim: int = 200
    window: int = 10
    epochs: int = 40
    min_count: int = 2
    negative: int = 5
    sg: int = 0
    sample: float = 1e-3
    alpha: float = 0.025  # word2vec's initial learning rate (not the BM25 mixture weight)
    seed: int = 0
    workers: int = 1
    words_only: bool = True  # drop tokens with a digit and one-letter tokens (see words())


# --------------------------------------------------------------------------- model


class DESM:
    """IN and OUT word matrices over one vocabulary, and the DESM arithmetic on them."""

    def __init__(self, vocab: list[str], w_in: np.ndarray, w_out: np.ndarray, config: DESMConfig | None = None,
                 counts: np.ndarray | None = None, meta: dict[str, Any] | None = None):  # fmt: skip
        if w_in.ndim != 2 or w_in.shape != w_out.shape or len(vocab) != w_in.shape[0]:
            raise InputError(
                f"DESM matrices disagree: IN {w_in.shape}, OUT {w_out.shape}, {len(vocab)} vocabulary words"
            )
        self.vocab = list(vocab)
        self.word_id = {w: i for i, w in enumerate(self.vocab)}
        self.config = config or DESMConfig(dim=w_in.shape[1])
        self.counts = counts
        self.meta = meta or {}
        self.w_in = np.ascontiguousarray(w_in, dtype=np.float32)
        self.w_out = np.ascontiguousarray(w_out, dtype=np.float32)
        self.unit_in = unit_rows(self.w_in)
        self.unit_out = unit_rows(self.w_out)
        # (index folder, side) -> centroid cache; shared by every reranker on this model
        self._centroids: dict[tuple[str, str], _CentroidCache] = {}

    @property
    def dim(self) -> int:
        return self.w_in.shape[1]

    def __repr__(self) -> str:
        return f"DESM(vocab={len(self.vocab):,}, dim={self.dim})"

    def side(self, variant: str) -> np.ndarray:
        """Unit document-side vectors: OUT for ``in-out``, IN for ``in-in``."""
        if variant not in VARIANTS:
            raise IrkitError(f"unknown DESM variant {variant!r}; choose from {', '.join(VARIANTS)}")
        return self.unit_out if variant == "in-out" else self.unit_in

    def ids(self, tokens: list[str]) -> np.ndarray:
        """Vocabulary ids of ``tokens``; out-of-vocabulary tokens are dropped."""
        get = self.word_id.get
        return np.fromiter((i for t in tokens if (i := get(t)) is not None), dtype=np.int64)

    def query_vectors(self, token_lists: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(Q, known, total)``: row i of ``Q`` is the mean unit IN vector of query i's known words
        (zeros when none is known), with how many words were known and how many there were."""
        q = np.zeros((len(token_lists), self.dim), dtype=np.float32)
        known = np.zeros(len(token_lists), dtype=np.int64)
        total = np.array([len(t) for t in token_lists], dtype=np.int64)
        for i, tokens in enumerate(token_lists):
            ids = self.ids(tokens)
            if len(ids):
                q[i] = self.unit_in[ids].mean(axis=0)
                known[i] = len(ids)
        return q, known, total

    def centroids(self, token_lists: list[list[str]], variant: str) -> np.ndarray:
        """Unit centroids of documents' unit word vectors, all at once: one sparse (docs x vocab)
        count matrix times the unit vectors. A document with no known word gets a zero row."""
        from scipy import sparse

        side = self.side(variant)
        ids = [self.ids(t) for t in token_lists]
        lengths = np.array([len(i) for i in ids], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        cols = np.concatenate(ids) if len(ids) else np.empty(0, dtype=np.int64)
        # Duplicate (row, col) entries are summed: a word counts once per occurrence.
        counts = sparse.csr_matrix(
            (np.ones(len(cols), dtype=np.float32), cols, indptr), shape=(len(ids), len(self.vocab))
        )
        return unit_rows(np.asarray(counts @ side, dtype=np.float32))

    # ------------------------------------------------------------ saving and loading

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the model folder (``model.json``, ``in.npy``, ``out.npy``, ``vocab.txt``) atomically."""
        from irkit.nn import save_model

        counts = self.counts if self.counts is not None else np.zeros(len(self.vocab), dtype=np.int64)
        vocab_text = "".join(f"{w}\t{int(c)}\n" for w, c in zip(self.vocab, counts, strict=True))
        files = {
            IN_FILE: lambda p: np.save(p, self.w_in),
            OUT_FILE: lambda p: np.save(p, self.w_out),
            VOCAB_FILE: lambda p: p.write_text(vocab_text, encoding="utf-8"),
        }
        extra = {"vocabulary": len(self.vocab), **self.meta}
        return save_model(path, KIND, self.config, state=None, extra=extra, files=files, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DESM:
        """Load a model folder; a folder of another kind, a missing file or matrices whose shapes
        disagree with each other, the vocabulary or the recorded dimension each raise :class:`InputError`.

        Loaded models are cached by folder and file times, so rerankers built from one folder
        share it and its centroid caches."""
        p = Path(path)
        stamp = tuple(
            f.stat().st_mtime_ns if f.exists() else 0
            for f in (p / "model.json", p / IN_FILE, p / OUT_FILE, p / VOCAB_FILE)
        )
        return _load_cached(str(p.resolve()), stamp)


@lru_cache(maxsize=8)
def _load_cached(path: str, _stamp: tuple[int, ...]) -> DESM:
    from irkit.nn import load_model

    p = Path(path)
    meta, _ = load_model(p, KIND, weights=False)
    for name in (IN_FILE, OUT_FILE, VOCAB_FILE):
        if not (p / name).is_file():
            raise InputError(f"DESM model folder has no {name}", p)
    known = {f.name for f in dataclasses.fields(DESMConfig)}
    config = DESMConfig(**{k: v for k, v in meta.get("config", {}).items() if k in known})
    try:
        w_in, w_out = np.load(p / IN_FILE), np.load(p / OUT_FILE)
    except (ValueError, OSError) as e:
        raise InputError(f"cannot read the DESM matrices ({e})", p) from None
    vocab, counts = [], []
    for n, line in enumerate((p / VOCAB_FILE).read_text(encoding="utf-8").splitlines(), 1):
        word, _, count = line.partition("\t")
        if not word or not count.isdigit():
            raise InputError("expected 'word<TAB>count'", p / VOCAB_FILE, n)
        vocab.append(word)
        counts.append(int(count))
    if w_in.ndim != 2 or w_out.ndim != 2:
        raise InputError(f"IN and OUT must be matrices; found shapes {w_in.shape} and {w_out.shape}", p)
    if w_in.shape[1] != w_out.shape[1]:
        raise InputError(f"dimension mismatch: IN has {w_in.shape[1]} dimensions, OUT has {w_out.shape[1]}", p)
    if w_in.shape[1] != config.dim:
        raise InputError(f"dimension mismatch: model.json says dim={config.dim}, the matrices have {w_in.shape[1]}", p)
    if not w_in.shape[0] == w_out.shape[0] == len(vocab):
        raise InputError(f"IN has {w_in.shape[0]} rows, OUT {w_out.shape[0]}, the vocabulary {len(vocab)} words", p)
    extra = {k: v for k, v in meta.items() if k not in ("kind", "config", "vocabulary")}
    return DESM(vocab, w_in, w_out, config, counts=np.array(counts, dtype=np.int64), meta=extra)


_DIGIT = re.compile(r"\d")


def words(tokens: list[str]) -> list[str]:
    """Analysed tokens without those that hold a digit or are one character long.

    They have no distributional meaning here but can dominate a document: a CACM
    record ends in rows of citation numbers ("1410 5 1410"), a date and the
    authors' initials, which would otherwise outweigh its abstract in the centroid.
    """
    return [t for t in tokens if len(t) > 1 and not _DIGIT.search(t)]


# ------------------------------------------------------------------ analysis caches

# index folder -> {docno: analysed tokens}; analysis (one JNI call per text) is the
# slow part of scoring a new document, and it does not depend on the model.
_DOC_TOKENS: dict[str, dict[str, list[str]]] = {}


def _index_key(index: LuceneIndex) -> str:
    return str(index.path.resolve())


def analysed_documents(index: LuceneIndex, docnos: list[str] | np.ndarray) -> list[list[str]]:
    """Analysed tokens of ``docnos`` (cached per index folder)."""
    cache = _DOC_TOKENS.setdefault(_index_key(index), {})
    missing = list(dict.fromkeys(d for d in docnos if d not in cache))
    if missing:
        for d, text in zip(missing, index.texts(missing), strict=True):
            cache[d] = index.analyze(text)
    return [cache[d] for d in docnos]


class _CentroidCache:
    """Unit document centroids of one model, index and side, by docno; rows are appended
    in batches as new candidates arrive, so each document is analysed and summed once."""

    def __init__(self, model: DESM, index: LuceneIndex, variant: str):
        self.model, self.index, self.variant = model, index, variant
        self.keys = pd.Index([], dtype=object)  # docno of each row of `matrix`
        self.matrix = np.zeros((0, model.dim), dtype=np.float32)
        self._indexed: pd.Index | None = None

    def rows(self, docnos: pd.Series | np.ndarray | list[str]) -> np.ndarray:
        """Rows of ``matrix`` for ``docnos``, computing the centroids of documents not seen yet;
        docnos that the index lacks raise :class:`InputError`."""
        # Look up each distinct docno once: candidate lists repeat documents across queries.
        codes, distinct = pd.factorize(np.asarray(docnos, dtype=object) if isinstance(docnos, list) else docnos)
        pos = self.keys.get_indexer(distinct)
        if (pos < 0).any():
            self._add(np.asarray(distinct[pos < 0], dtype=object))
            pos = self.keys.get_indexer(distinct)
        return pos[codes]

    def _add(self, missing: np.ndarray) -> None:
        if self._indexed is None:
            self._indexed = pd.Index(self.index.docnos)
        unknown = missing[self._indexed.get_indexer(missing) < 0]
        if len(unknown):
            raise InputError(
                f"the run names {len(unknown)} document(s) that the index does not have "
                f"(e.g. {', '.join(map(str, unknown[:3]))}); was it made on another collection?",
                self.index.path,
            )
        new = self.model.centroids(analysed_documents(self.index, list(missing)), self.variant)
        self.matrix = np.concatenate([self.matrix, new]) if len(self.matrix) else new
        self.keys = self.keys.append(pd.Index(missing, dtype=object))

    def lookup(self, docnos: np.ndarray | list[str]) -> np.ndarray:
        """Unit centroids of ``docnos``, one row each."""
        rows = self.rows(list(docnos))  # before reading self.matrix, which rows() may replace
        return self.matrix[rows]


# ------------------------------------------------------------------------- reranker


@dataclass
class DESMOptions:
    """``-O`` options of ``desm`` (``irkit rank -m desm -O model=DIR``, ``desm(model=DIR, alpha=0.3)``)."""

    model: Path | None = field(default=None, metadata=REQUIRED)  # the folder of `irkit train desm`
    variant: str = "in-out"
    # 1: DESM alone; auto: chosen by cross-validation on --qrels (irkit.tuning.Tune)
    alpha: float = field(default=1.0, metadata=tunable(ALPHA_GRID))

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise IrkitError(f"unknown DESM variant {self.variant!r}; choose from {', '.join(VARIANTS)}")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise IrkitError(f"alpha must lie in [0, 1] (got {self.alpha})")


class DESMReranker(Reranker):
    """Reranks candidates by DESM, or by ``alpha * DESM + (1 - alpha) * run score``.

    As a stage (:mod:`irkit.pipeline`), ``transform(run)`` reranks the run's
    candidates and ``transform(queries)`` ranks the whole collection by DESM alone
    (its top ``hits``). Scores are mixed after :func:`irkit.pipeline.minmax` per query;
    a query with no word in the vocabulary keeps the run's order. :meth:`score` returns
    pure DESM scores when given pairs without a ``score`` column and ``alpha == 1``.
    """

    name = "desm"

    def __init__(self, model: DESM, index: LuceneIndex | str | os.PathLike[str], variant: str = "in-out",
                 alpha: float = 1.0, hits: int = 1000):  # fmt: skip
        from irkit.index.lucene import LuceneIndex

        if variant not in VARIANTS:
            raise IrkitError(f"unknown DESM variant {variant!r}; choose from {', '.join(VARIANTS)}")
        if not 0.0 <= float(alpha) <= 1.0:
            raise IrkitError(f"alpha must lie in [0, 1] (got {alpha})")
        self.model = model
        self.index = index if isinstance(index, LuceneIndex) else LuceneIndex(index)
        self.variant, self.alpha, self.hits = variant, float(alpha), int(hits)
        key = (_index_key(self.index), variant)
        if key not in model._centroids:
            model._centroids[key] = _CentroidCache(model, self.index, variant)
        self._cache = model._centroids[key]
        self.oov: dict[str, tuple[int, int]] = {}  # qid -> (known words, words), from the last scoring

    @classmethod
    def from_path(cls, model_dir: str | os.PathLike[str], index: LuceneIndex | str | os.PathLike[str],
                  variant: str = "in-out", alpha: float = 1.0, hits: int = 1000) -> DESMReranker:  # fmt: skip
        """A reranker from a model folder written by ``irkit train desm``."""
        reranker = cls(DESM.load(model_dir), index, variant=variant, alpha=alpha, hits=hits)
        reranker.path = Path(model_dir)
        return reranker

    path: Path | None = None

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.path} if self.path is not None else {}
        if self.variant != "in-out":
            out["variant"] = self.variant
        if self.alpha != 1.0:
            out["alpha"] = self.alpha
        return out

    # -------------------------------------------------------------- scoring

    def _queries(self, qids: list[str], texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Mean unit IN vectors of the queries and how many known words each has (kept in ``oov``)."""
        keep = words if self.model.config.words_only else list
        q, known, total = self.model.query_vectors([keep(self.index.analyze(t)) for t in texts])
        self.oov.update({qid: (int(k), int(t)) for qid, k, t in zip(qids, known, total, strict=True)})
        return q, known

    def desm_scores(self, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, known)``: the DESM score of each (qid, query, docno) pair, and whether its
        query has any word in the vocabulary (scores of queries without one are 0)."""
        rows = self._cache.rows(pairs["docno"])
        qi, qids = pd.factorize(pairs["qid"])
        first = np.unique(qi, return_index=True)[1]
        q, known = self._queries(list(qids), list(pairs["query"].iloc[first]))
        scores = np.zeros(len(pairs), dtype=np.float64)
        centroids = self._cache.matrix
        # One matrix-vector product per query over all of its candidates.
        order = np.argsort(qi, kind="stable")
        for group in np.split(order, np.flatnonzero(np.diff(qi[order])) + 1):
            if len(group):
                scores[group] = centroids[rows[group]] @ q[qi[group[0]]]
        return scores, known[qi] > 0

    def score(self, pairs: pd.DataFrame) -> np.ndarray:
        """Scores of the pairs (``qid, query, docno``, whole queries): with the candidates'
        ``score`` column, ``alpha * minmax(DESM) + (1 - alpha) * minmax(score)`` per query (a
        query with no known word keeps its score order); without it, pure DESM (``alpha == 1``)."""
        scores, known = self.desm_scores(pairs)
        if "score" not in pairs.columns:
            if self.alpha == 1.0:
                return scores
            raise IrkitError("mixing DESM with BM25 (alpha < 1) needs the candidates' scores: use rerank(queries, run)")
        return _mix(pairs["qid"].to_numpy(), scores, pairs["score"].to_numpy(dtype=np.float64), known, self.alpha)

    def _report_oov(self, quiet: bool) -> None:
        words = sum(t for _, t in self.oov.values())
        unknown = sum(t - k for k, t in self.oov.values())
        lost = [qid for qid, (k, _) in self.oov.items() if k == 0]
        msg = f"DESM: {unknown} of {words} query words are not in the vocabulary (skipped)"
        if lost:
            msg += f"; {len(lost)} topic(s) with no known word keep the run's order: {lost[:5]}"
        log(msg, quiet)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A run -> its candidates reranked (batched by the base class); queries -> :meth:`search`."""
        if not is_run(frame):
            if self.alpha != 1.0:
                raise IrkitError(
                    "alpha mixes DESM with the candidates' scores: give a run (--rerank RUN, bm25 >> desm)"
                )
            return self.search(frame, hits=self.hits, quiet=self.quiet)
        self.oov = {}
        out = self.rerank_pairs(self.pairs(frame))
        self._report_oov(self.quiet)
        return out

    def search(self, queries: pd.DataFrame, hits: int | None = None, quiet: bool | None = None) -> pd.DataFrame:
        """Rank the whole collection by DESM alone (the setting in which the paper warns of false
        positives). Queries with no known word return nothing."""
        quiet = self.quiet if quiet is None else quiet
        queries = queries_frame(queries)
        docnos = self.index.docnos
        centroids = self._cache.lookup(docnos)
        self.oov = {}
        q, known = self._queries(list(queries["qid"]), list(queries["query"]))
        self._report_oov(quiet)
        hits = min(self.hits if hits is None else int(hits), len(docnos))
        parts = []
        for i, qid in enumerate(
            progress(list(queries["qid"]), desc="DESM (whole collection)", unit="q", disable=quiet)
        ):
            if not known[i]:
                continue
            s = centroids @ q[i]
            top = np.argpartition(-s, hits - 1)[:hits] if hits < len(s) else np.arange(len(s))
            parts.append(pd.DataFrame({"qid": qid, "docno": docnos[top], "score": s[top].astype(np.float64)}))
        if not parts:
            return run_frame(pd.DataFrame(columns=["qid", "docno", "score"]))
        return run_frame(pd.concat(parts, ignore_index=True))

    # -------------------------------------------------------------- tuning alpha

    def tune(self, queries: pd.DataFrame, run: pd.DataFrame, qrels: pd.DataFrame, depth: int = 100,
             folds: int = 5, seed: int = 0, measure: str = TUNE_MEASURE, quiet: bool = False) -> Tuned:  # fmt: skip
        """Choose ``alpha`` in :data:`irkit.tuning.ALPHA_GRID` by cross-validation over judged topics
        (the stage ``-O alpha=auto`` builds, :class:`irkit.tuning.Tune`, on the candidates' top
        ``depth``); the returned run is a fair held-out run."""
        from irkit.tuning import Tune

        stage = Tune(self, {"alpha": ALPHA_GRID}, qrels, measure=measure, folds=folds, seed=seed)
        stage.quiet = quiet
        stage.transform(with_queries(cut_run(run_frame(run), depth), queries))
        return stage.tuned


def _mix(
    qids: np.ndarray, desm: np.ndarray, base: np.ndarray, known: np.ndarray, alpha: float | np.ndarray
) -> np.ndarray:
    """``alpha * DESM + (1 - alpha) * base`` after :func:`irkit.pipeline.minmax` per query; a query
    with no known word keeps its base order."""
    from irkit.pipeline import minmax_values

    d, b = minmax_values(qids, desm), minmax_values(qids, base)
    alpha = np.where(known, alpha, 0.0)
    return alpha * d + (1.0 - alpha) * b


# ------------------------------------------------------------------------- training


class _EpochBar:
    """A gensim callback that advances a progress bar per epoch."""

    def __init__(self, epochs: int, quiet: bool):
        from tqdm.auto import tqdm

        from irkit.progress import _quiet

        self.bar = tqdm(total=epochs, desc="word2vec", unit="epoch", disable=_quiet(quiet))

    def on_epoch_begin(self, model) -> None: ...
    def on_train_begin(self, model) -> None: ...
    def on_epoch_end(self, model) -> None:
        self.bar.update(1)

    def on_train_end(self, model) -> None:
        self.bar.close()


def _sentences(tokens: list[str]) -> list[list[str]]:
    return [tokens[i : i + MAX_SENTENCE] for i in range(0, len(tokens), MAX_SENTENCE)] if tokens else []


def training_texts(
    index: LuceneIndex, corpus: list[Path] | tuple[Path, ...] = (), words_only: bool = True, quiet: bool = False
) -> list[list[str]]:
    """Analysed training sentences: every indexed document (in docno order, so that the
    result does not depend on Lucene's document order), then each non-empty line of the
    ``corpus`` text files; with ``words_only`` (the default) passed through :func:`words`."""
    keep = words if words_only else list
    docnos = sorted(index.docnos)
    texts = index.texts(docnos)
    sentences: list[list[str]] = []
    for text in progress(texts, desc="analysing documents", unit="doc", disable=quiet):
        sentences.extend(_sentences(keep(index.analyze(text))))
    for path in corpus:
        p = Path(path)
        if not p.is_file():
            raise InputError("no such corpus file", p)
        with open(p, encoding="utf-8", errors="replace") as fh:
            for line in progress(fh, desc=f"analysing {p.name}", unit="line", disable=quiet):
                if line.strip():
                    sentences.extend(_sentences(keep(index.analyze(line))))
    return sentences


def train(sentences: list[list[str]], config: DESMConfig | None = None, quiet: bool = False) -> DESM:
    """Train word2vec (gensim, negative sampling) and keep both of its matrices.

    With ``workers=1`` the vectors are a function of the sentences and ``seed`` alone.
    """
    from gensim.models import Word2Vec

    config = config or DESMConfig()
    if config.negative < 1:
        raise IrkitError("DESM needs negative sampling (negative >= 1): the OUT matrix is syn1neg")
    if config.dim < 1 or config.window < 1 or config.epochs < 1 or config.min_count < 1 or config.workers < 1:
        raise IrkitError("dim, window, epochs, min-count and workers must be at least 1")
    words = sum(len(s) for s in sentences)
    if not words:
        raise IrkitError("no training text (every document analysed to nothing)")
    model = Word2Vec(
        vector_size=config.dim, window=config.window, min_count=config.min_count, sg=config.sg, hs=0,
        negative=config.negative, sample=config.sample, alpha=config.alpha, seed=config.seed,
        workers=config.workers, epochs=config.epochs,
    )  # fmt: skip
    model.build_vocab(sentences)
    if not model.wv.index_to_key:
        raise IrkitError(f"no word occurs at least min_count={config.min_count} times")
    start = time.perf_counter()
    model.train(
        sentences, total_examples=len(sentences), epochs=config.epochs, callbacks=[_EpochBar(config.epochs, quiet)]
    )
    meta = {
        "training_words": words,
        "training_sentences": len(sentences),
        "training_seconds": round(time.perf_counter() - start, 2),
    }
    counts = np.array([model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key], dtype=np.int64)
    # syn1neg rows follow the same word order as wv.vectors.
    return DESM(list(model.wv.index_to_key), model.wv.vectors, model.syn1neg, config, counts=counts, meta=meta)


# ---------------------------------------------------------------------- irkit rank


def build(options: DESMOptions, context: Context) -> DESMReranker:
    """The registry's builder: a DESM reranker over ``--index`` (``-O alpha=auto`` wraps it in
    :class:`irkit.tuning.Tune`: :func:`irkit.registry.build`)."""
    return DESMReranker.from_path(options.model, context.require_index(), options.variant, options.alpha,
                                  hits=context.hits)  # fmt: skip
