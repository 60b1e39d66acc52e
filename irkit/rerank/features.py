"""Query-document features from a Lucene index, in the spirit of LETOR.

For each of three fields (``full`` text, ``title``, ``body``) and each
(query, document) pair: sums over query terms of term frequency, length-
normalised tf, IDF and TF-IDF, BM25, a Dirichlet language-model score and the
field's length; for the full text also a Jelinek-Mercer LM score, the share of
query terms covered and adjacent query-term pairs found adjacent in the document;
and DESM IN-OUT / IN-IN scores when a DESM model is given.

Indexes hold one text field, so ``title`` is recovered from the stored text: its
first paragraph when a blank line ends one early (CACM), else the opening lines
up to the first that ends a sentence, at most three (Cranfield titles end with
" ."), else the first line; ``body`` is the rest. Collection statistics (N, df,
cf) come from the index's contents field; average title and body lengths from a
fixed, evenly spaced sample of up to 2,000 documents, so features never depend on
which documents were scored before.

Documents are analysed once (``index.texts`` + ``index.analyze``) and cached by
docno, df and cf per term, for every extractor of the same index in a process.
"""

from __future__ import annotations

import itertools
import math
import os
from collections import Counter

import numpy as np
import pandas as pd

from irkit.errors import InputError
from irkit.io.letor import Features

FIELDS = ("full", "title", "body")
PER_FIELD = ("tf", "ntf", "idf", "tfidf", "bm25", "lm_dir", "len")
EXTRA = ("lm_jm_full", "coverage_full", "bigram_full")
DESM_VARIANTS = ("in-out", "in-in")
SAMPLE_DOCS = 2000


def feature_names(desm: bool = False) -> tuple[str, ...]:
    names = [f"{f}_{field}" for field in FIELDS for f in PER_FIELD] + list(EXTRA)
    if desm:
        names += [f"desm_{v.replace('-', '_')}" for v in DESM_VARIANTS]
    return tuple(names)


def split_title(text: str) -> tuple[str, str]:
    """``(title, body)`` of a stored text (see the module docstring)."""
    head = text.lstrip("\n")
    blank = head.find("\n\n")
    if 0 < blank <= 300:
        return head[:blank], head[blank:]
    lines = head.split("\n")
    for i, line in enumerate(lines[:3]):
        if line.rstrip().endswith((".", "?", "!")):
            return "\n".join(lines[: i + 1]), "\n".join(lines[i + 1 :])
    return lines[0], "\n".join(lines[1:])


class _DocCache:
    """Analysed documents as sparse count matrices (full, title, body, full-text bigrams) over a
    growing vocabulary, so that a query's counts are one sparse gather instead of a dict lookup
    per (document, term)."""

    def __init__(self) -> None:
        self.df: dict[str, int] = {}
        self.cf: dict[str, int] = {}
        self.avg_len: tuple[float, float, float] | None = None
        self.row: dict[str, int] = {}
        self.vocab: dict[str, int] = {}
        self.lengths: list[tuple[int, int, int]] = []
        self._parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[], [], [], []]
        self._matrices = None

    def add(self, docno: str, fields: tuple[list[str], list[str], list[str]]) -> None:
        full = fields[0]
        streams = [*fields, [f"{x} {y}" for x, y in itertools.pairwise(full)]]
        for f, tokens in enumerate(streams):
            counts = Counter(tokens)
            ids = np.fromiter((self.vocab.setdefault(t, len(self.vocab)) for t in counts), np.int64, len(counts))
            self._parts[f].append((ids, np.fromiter(counts.values(), np.float64, len(counts))))
        self.row[docno] = len(self.lengths)
        self.lengths.append((len(fields[0]), len(fields[1]), len(fields[2])))
        self._matrices = None

    def counts(self, rows: np.ndarray, terms: list[str]) -> np.ndarray:
        """``(len(rows), 4, len(terms))`` counts; terms never seen count 0."""
        from scipy import sparse

        v = max(len(self.vocab), 1)
        if self._matrices is None:
            # One matrix, the four streams side by side: stream f's term t is column f * v + t.
            per_doc = [[(ids + f * v, vals) for ids, vals in self._parts[f]] for f in range(4)]
            blocks = [np.concatenate([p[r][0] for p in per_doc]) for r in range(len(self.lengths))]
            values = [np.concatenate([p[r][1] for p in per_doc]) for r in range(len(self.lengths))]
            indptr = np.cumsum([0] + [len(x) for x in blocks])
            empty = np.empty(0, np.int64)
            self._matrices = (
                sparse.csr_matrix(
                    (np.concatenate(values or [empty]), np.concatenate(blocks or [empty]), indptr),
                    shape=(len(self.lengths), 4 * v),
                ),
                np.array(self.lengths, dtype=np.float64).reshape(-1, 3),
            )
        cols = np.array([self.vocab.get(t, -1) for t in terms], dtype=np.int64)
        known = np.flatnonzero(cols >= 0)
        out = np.zeros((len(rows), 4, len(terms)))
        if len(known):
            wide = (cols[known][None, :] + v * np.arange(4)[:, None]).ravel()
            out[:, :, known] = self._matrices[0][rows][:, wide].toarray().reshape(len(rows), 4, len(known))
        return out

    def length(self, rows: np.ndarray) -> np.ndarray:
        self.counts(rows[:0], [])  # builds the matrices when stale
        return self._matrices[1][rows]


# Analysed documents and term statistics per index folder (and version), shared by the
# extractors of one process: analysis is the slow part, and it depends on the index alone.
_SHARED: dict[tuple, _DocCache] = {}


def _shared_cache(index) -> _DocCache:
    path = index.path.resolve()
    version = tuple(sorted((f.name, f.stat().st_mtime_ns) for f in path.glob("segments_*")))
    key = (str(path), version)
    if key not in _SHARED:
        _SHARED[key] = _DocCache()
    return _SHARED[key]


class FeatureExtractor:
    """LETOR-style features of (query, document) pairs from a :class:`LuceneIndex`."""

    def __init__(
        self,
        index,
        desm: str | os.PathLike[str] | None = None,
        k1: float = 0.9,
        b: float = 0.4,
        mu: float = 1000.0,
        jm_lambda: float = 0.1,
    ):
        from irkit.index import LuceneIndex

        self.index = index if isinstance(index, LuceneIndex) else LuceneIndex(index)
        self.desm_path = None if desm is None else str(desm)
        self.k1, self.b, self.mu, self.jm_lambda = k1, b, mu, jm_lambda
        self.names = feature_names(desm is not None)
        stats = self.index.stats
        self.n_docs = int(stats["documents"])
        self.total_terms = max(int(stats["terms"]), 1)
        self._docs = _shared_cache(self.index)
        self._df, self._cf = self._docs.df, self._docs.cf
        self._desm = None
        if desm is not None:
            from irkit.rerank.desm import DESM, DESMReranker

            model = DESM.load(desm)
            self._desm = [DESMReranker(model, self.index, variant=v) for v in DESM_VARIANTS]
        if self._docs.avg_len is None:
            self._docs.avg_len = self._average_lengths(stats)
        self.avg_len = self._docs.avg_len

    # ------------------------------------------------------------ statistics

    def _average_lengths(self, stats: dict) -> tuple[float, float, float]:
        docnos = self.index.docnos
        take = np.unique(np.linspace(0, len(docnos) - 1, min(SAMPLE_DOCS, len(docnos))).astype(np.int64))
        rows = self._analyse(list(docnos[take]))
        lengths = np.array(self._docs.lengths, dtype=np.float64)[rows] if len(rows) else np.ones((1, 3))
        title, body = lengths[:, 1].mean(), lengths[:, 2].mean()
        return float(stats["avg_doc_length"]) or 1.0, max(float(title), 1.0), max(float(body), 1.0)

    def _term_stats(self, terms) -> None:
        from irkit import _java
        from irkit.index.lucene import CONTENTS

        new = [t for t in terms if t not in self._df]
        if not new:
            return
        Term = _java.autoclass("org.apache.lucene.index.Term")
        reader = self.index.reader
        for t in new:
            term = Term(CONTENTS, t)
            self._df[t] = int(reader.docFreq(term))
            self._cf[t] = int(reader.totalTermFreq(term))

    def idf(self, term: str) -> float:
        df = self._df.get(term, 0)
        # Lucene's BM25 IDF; always positive.
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))

    # ------------------------------------------------------------ documents

    def _analyse(self, docnos: list[str]) -> np.ndarray:
        """Cache rows of ``docnos``, analysing those not seen before."""
        cache = self._docs
        missing = list(dict.fromkeys(d for d in docnos if d not in cache.row))
        if missing:
            analyze = self.index.analyze
            for d, text in zip(missing, self.index.texts(missing), strict=True):
                title, body = split_title(text)
                cache.add(d, (analyze(text), analyze(title), analyze(body)))
        return np.fromiter((cache.row[d] for d in docnos), np.int64, len(docnos))

    # ------------------------------------------------------------ features

    def _query(self, tokens: list[str], rows: np.ndarray) -> np.ndarray:
        """Base features (all but DESM) of one query against its candidates, vectorised over documents."""
        qtf = Counter(tokens)
        terms = [t for t in qtf if self._cf.get(t, 0)]  # a term absent from the collection says nothing
        bigrams = [f"{x} {y}" for x, y in itertools.pairwise(tokens)]
        n = len(rows)
        w = np.array([qtf[t] for t in terms], dtype=np.float64)
        widf = w * np.array([self.idf(t) for t in terms], dtype=np.float64)
        pc = np.array([self._cf[t] / self.total_terms for t in terms], dtype=np.float64)
        counts = self._docs.counts(rows, terms + bigrams)
        tf = counts[:, :3, : len(terms)]  # (n, 3 fields, terms)
        dl = self._docs.length(rows)  # (n, 3)
        avg = np.array(self.avg_len)
        k1, b, mu, lam = self.k1, self.b, self.mu, self.jm_lambda
        safe_dl = np.maximum(dl, 1.0)[..., None]
        norm = (k1 * (1.0 - b + b * dl / avg))[..., None]
        per_field = np.stack(
            [
                tf @ w,
                (tf / safe_dl) @ w,
                (tf > 0) @ widf,
                tf @ widf,
                (tf * (k1 + 1.0) / (tf + norm)) @ widf,
                np.log((tf + mu * pc) / (dl[..., None] + mu)) @ w,
                np.log1p(dl),
            ],
            axis=2,
        )  # (n, 3 fields, 7)
        jm = np.log((1 - lam) * tf[:, 0] / safe_dl[:, 0] + lam * pc) @ w
        coverage = (tf[:, 0] > 0).sum(axis=1) / max(len(qtf), 1)
        bigram = counts[:, 3, len(terms) :].sum(axis=1)
        return np.concatenate([per_field.reshape(n, -1), jm[:, None], coverage[:, None], bigram[:, None]], axis=1)

    def extract(self, pairs: pd.DataFrame, normalise: bool = True, quiet: bool = True) -> Features:
        """Features of a ``qid, query, docno`` frame (rows of a query are grouped, order kept).

        With ``normalise`` each feature is min-max scaled to [0, 1] within its query.
        """
        from irkit.progress import progress

        for col in ("qid", "query", "docno"):
            if col not in pairs.columns:
                raise InputError(f"pairs need columns qid, query, docno; missing {col!r}")
        qids = pairs["qid"].astype(str).to_numpy()
        codes, _ = pd.factorize(pd.Series(qids), sort=False)
        order = np.argsort(codes, kind="stable")
        pairs = pairs.iloc[order].reset_index(drop=True)
        qids = pairs["qid"].astype(str).to_numpy(dtype=object)
        docnos = pairs["docno"].astype(str).to_numpy(dtype=object)
        unknown = [d for d in dict.fromkeys(docnos) if d not in self.index.docno_to_id]
        if unknown:
            raise InputError(
                f"{len(unknown)} candidate document(s) are not in the index (e.g. {', '.join(unknown[:3])}); "
                "was the run made on another collection?",
                self.index.path,
            )
        texts = dict(zip(pairs["qid"].astype(str), pairs["query"].astype(str), strict=True))
        analysed = {q: self.index.analyze(t) for q, t in texts.items()}
        self._term_stats({t for toks in analysed.values() for t in toks})
        doc_rows = self._analyse(list(docnos))
        rows = np.empty((len(pairs), len(self.names)), dtype=np.float32)
        n_base = len(feature_names(False))
        groups = np.flatnonzero(np.r_[True, qids[1:] != qids[:-1], True])
        for start, end in progress(list(itertools.pairwise(groups)), desc="features", unit="q", disable=quiet):
            rows[start:end, :n_base] = self._query(analysed[qids[start]], doc_rows[start:end])
        if self._desm is not None:
            frame = pd.DataFrame({"qid": qids, "query": pairs["query"].astype(str).to_numpy(), "docno": docnos})
            for j, reranker in enumerate(self._desm):
                rows[:, n_base + j] = np.asarray(reranker.score(frame), dtype=np.float32)
        feats = Features(qids, docnos, rows, self.names, source="lucene", meta=self.describe())
        return feats.normalised() if normalise else feats

    def describe(self) -> dict:
        """What a model must record to be fed the same features at ranking time."""
        return {
            "extractor": "irkit.rerank.features",
            "desm": self.desm_path is not None,
            "k1": self.k1,
            "b": self.b,
            "mu": self.mu,
            "jm_lambda": self.jm_lambda,
            "normalisation": "query min-max",
        }


def candidate_pairs(queries: pd.DataFrame, candidates: pd.DataFrame, depth: int, quiet: bool = False) -> pd.DataFrame:
    """``qid, query, docno`` of each topic's top ``depth`` candidates.

    Candidates of topics the topics file lacks are an error; topics without
    candidates are counted and left out.
    """
    from irkit.frames import cut_run, queries_frame, run_frame
    from irkit.progress import log

    queries = queries_frame(queries)
    cand = cut_run(run_frame(candidates), depth)
    unknown = sorted(set(cand["qid"]) - set(queries["qid"]))
    if unknown:
        raise InputError(f"the candidate run has {len(unknown)} topic(s) that the topics file lacks: {unknown[:5]}")
    have = set(cand["qid"])
    absent = [q for q in queries["qid"] if q not in have]
    if absent:
        log(
            f"the candidate run has no documents for {len(absent)} of {len(queries)} topics (e.g. {', '.join(absent[:5])}); they are left out",
            quiet,
        )
    return cand.merge(queries, on="qid", how="left")[["qid", "query", "docno"]]


def lucene_features(index, queries: pd.DataFrame, candidates: pd.DataFrame, depth: int = 100,
                    desm: str | os.PathLike[str] | None = None, quiet: bool = False) -> Features:  # fmt: skip
    """Normalised features of the candidates' top ``depth`` documents per topic."""
    pairs = candidate_pairs(queries, candidates, depth, quiet)
    return FeatureExtractor(index, desm=desm).extract(pairs, quiet=quiet)
