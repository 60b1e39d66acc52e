"""The one stage contract of irkit, and the operators that compose stages into pipelines.

The contract
------------
Every stage is a :class:`Transformer` with one method::

    transform(frame) -> frame

* a **queries** frame (``qid, query``) in gives a **run** out (a retriever);
* a **run** frame (``qid, docno, score, rank``; inside a pipeline it also carries
  the ``query`` text) in gives a run out (a reranker, a cutoff, a fusion).

Every run a stage returns is ranked (descending score, ties by ascending docno, as
Lucene breaks them; :func:`irkit.frames.rank_run`). Frames are validated once, where
they enter a pipeline (the outermost ``transform`` call): stages inside can trust
their input. A subclass just writes ``transform``; the base class wraps it so that
validation happens only at the entry. ``stage(frame)`` is ``stage.transform(frame)``,
and ``stage.search(queries)`` is kept as an alias.

Operators (each a tiny class below; ``repr`` prints the expression back)
-------------------------------------------------------------------------
=====================  =========================================================
``a >> b``             then: ``b.transform(a.transform(x))`` (:class:`Then`); the
                       ``query`` column of the input follows the run
``a % k``              rank cutoff: the top ``k`` of each query (:class:`Cutoff`)
``a + b``, ``w * a``   weighted sum of scores after :func:`minmax` per query
                       (:class:`Sum`); a document a term did not return gets 0
``rrf(a, b, k=60)``    reciprocal rank fusion ``sum 1 / (k + rank)`` (:class:`RRF`)
``a ** b``             feature union for learned rankers (:class:`FeatureUnion`):
                       the input run with a ``features`` column, one float per stage
``a ^ b``              concatenate, as PyTerrier's ``^`` (:class:`Concat`): ``a``'s
                       run, then the documents of ``b``'s that ``a`` did not return;
                       ``(bm25 % 100 >> desm) ^ bm25`` keeps BM25's ranks 101-1000
=====================  =========================================================

:data:`identity` returns its input run (``0.7 * identity + 0.3 * desm`` mixes a
reranker with the candidates' own scores); :class:`Run` is a fixed run (from a
frame or a TREC file) used as a stage.

Score arithmetic
----------------
The sums behind ``+``/``*`` and ``rrf(...)`` live in :mod:`irkit.fusion`, one file
per method, which ``irkit fuse`` uses on run files too. :func:`minmax` (from
:mod:`irkit.fusion.norm`) is the one per-query normalisation: each query's scores
to ``[0, 1]``, a query whose scores are all equal to **1**.

Writing a stage
---------------
A retriever subclasses :class:`Transformer` and returns a ranked run; a reranker
subclasses :class:`Reranker` and implements ``score(pairs) -> ndarray`` on a frame
``qid, query, docno`` (whole queries, ``batch_size`` pairs at most); the base class
batches, shows progress and ranks. ``repr`` of a stage defaults to
``name(option=value, ...)`` from :meth:`Transformer.params`, which is the syntax
``irkit rank --pipeline`` parses (:func:`irkit.parse.parse`). A composite stage of
its own passes each child's output through :func:`carry_query` and returns
:func:`ranked` runs, as the operators here do.
"""

from __future__ import annotations

import contextvars
import functools
import os
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from irkit.errors import InputError, IrkitError
from irkit.frames import QUERY_COLUMNS, RUN_COLUMNS, queries_frame, ranked
from irkit.fusion.interpolate import weighted_sum
from irkit.fusion.norm import minmax, minmax_values
from irkit.fusion.rrf import check_k, rrf_scores

__all__ = [
    "RRF",
    "Concat",
    "Cutoff",
    "Encoder",
    "FeatureUnion",
    "Identity",
    "Reranker",
    "Retriever",
    "Run",
    "Sum",
    "Then",
    "Transformer",
    "carry_query",
    "concat_runs",
    "identity",
    "is_run",
    "minmax",
    "minmax_values",
    "ranked",
    "rrf",
    "set_quiet",
    "validate",
    "with_queries",
]

# True while a pipeline's transform is running: inner stages skip validation.
_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("irkit_pipeline_inside", default=False)


# ----------------------------------------------------------------------------- frames


def is_run(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` is a run (has ``docno``) rather than a queries frame."""
    return "docno" in frame.columns


def validate(frame: Any) -> pd.DataFrame:
    """A queries or run frame, columns and dtypes checked (extra columns such as ``query`` kept).

    A run without ranks is ranked; a ``{qid: query}`` mapping is a queries frame.
    """
    if isinstance(frame, Mapping):
        return queries_frame(frame)
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"a stage takes a queries or run frame, not {type(frame).__name__}")
    if not is_run(frame):
        extra = [c for c in frame.columns if c not in QUERY_COLUMNS]
        out = queries_frame(frame)
        return pd.concat([out, frame[extra].reset_index(drop=True)], axis=1) if extra else out
    from irkit.frames import run_frame

    extra = [c for c in frame.columns if c not in RUN_COLUMNS]
    out = run_frame(frame)  # ranks recomputed when missing
    if extra:
        if "rank" not in frame.columns:  # run_frame re-sorted the rows: bring the extras along
            keyed = frame[["qid", "docno", *extra]].astype({"qid": str, "docno": str})
            return out.merge(keyed, on=["qid", "docno"], how="left")
        out = pd.concat([out, frame[extra].reset_index(drop=True)], axis=1)
    if "query" in out.columns:
        out["query"] = out["query"].astype(str)
    return out


def with_queries(run: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    """``run`` with each row's ``query`` text, so that rerankers can read it.

    Topics in the run but not in ``queries`` are an error.
    """
    q = queries_frame(queries)
    missing = sorted(set(run["qid"]) - set(q["qid"]))
    if missing:
        raise InputError(f"the run has topics that the topics file lacks: {missing[:5]}")
    return run.drop(columns=["query"], errors="ignore").merge(q, on="qid", how="left")


def carry_query(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """``after`` with the ``query`` column of ``before`` when ``after`` is a run that lacks it.

    A composite stage calls this on each child's output, so that a stage which turned
    queries into a run (or dropped the column) passes the query text on to rerankers.
    """
    if "query" in after.columns or "query" not in before.columns or not is_run(after):
        return after
    texts = before[["qid", "query"]].drop_duplicates("qid")
    return after.merge(texts, on="qid", how="left")


# ------------------------------------------------------------------------ the contract


def _entry(fn: Callable) -> Callable:
    """Wrap a subclass's ``transform``: validate the frame at a pipeline's entry only."""

    @functools.wraps(fn)
    def transform(self: Transformer, frame: Any) -> pd.DataFrame:
        if _INSIDE.get():
            return fn(self, frame)
        frame = validate(frame)
        token = _INSIDE.set(True)
        try:
            return fn(self, frame)
        finally:
            _INSIDE.reset(token)

    transform._irkit_entry = True  # type: ignore[attr-defined]
    return transform


class Transformer(ABC):
    """A pipeline stage: ``transform(frame) -> frame`` (queries -> run, or run -> run)."""

    name: str = "stage"
    quiet: bool = False  # progress bars (IRKIT_QUIET=1 silences every stage)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fn = cls.__dict__.get("transform")
        if fn is not None and not getattr(fn, "_irkit_entry", False):
            cls.transform = _entry(fn)  # type: ignore[method-assign]

    @abstractmethod
    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Queries -> run, or run -> run; the run returned is ranked."""

    def __call__(self, frame: Any) -> pd.DataFrame:
        return self.transform(frame)

    def search(self, queries: Any) -> pd.DataFrame:
        """Alias of :meth:`transform` for a queries frame."""
        return self.transform(queries)

    # What repr shows and what ``irkit rank --pipeline`` can parse: name(key=value, ...).
    # By default: the fields of the stage's ``options`` dataclass that differ from their defaults.
    def params(self) -> dict[str, Any]:
        import dataclasses

        opts = getattr(self, "options", None)
        if opts is None or not dataclasses.is_dataclass(opts):
            return {}
        out = {}
        for f in dataclasses.fields(opts):
            value = getattr(opts, f.name)
            if f.default is not dataclasses.MISSING and value == f.default:
                continue
            if (
                f.default is dataclasses.MISSING
                and f.default_factory is not dataclasses.MISSING
                and value == f.default_factory()
            ):
                continue
            out[f.name] = value
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={_value(v)}" for k, v in self.params().items())
        return f"{self.name}({args})" if args else self.name

    # composite stages list their children (Experiment computes shared prefixes once)
    def children(self) -> tuple[Transformer, ...]:
        return ()

    # ------------------------------------------------------------------ operators
    precedence = 100  # of the expression repr prints: ^ 0, >> 1, + 2, * and % 3, ** 4, a name 100

    def __rshift__(self, other: Transformer) -> Then:
        return Then([self, _stage(other)])

    def __rrshift__(self, other: Any) -> Then:
        return Then([_stage(other), self])

    def __mod__(self, k: int) -> Cutoff:
        return Cutoff(self, k)

    def __add__(self, other: Transformer) -> Sum:
        return Sum.of([self, _stage(other)])

    def __mul__(self, weight: float) -> Sum:
        return Sum([(w * _weight(weight), s) for w, s in _terms(self)])

    __rmul__ = __mul__

    def __pow__(self, other: Transformer) -> FeatureUnion:
        return FeatureUnion.of([self, _stage(other)])

    def __xor__(self, other: Transformer) -> Concat:
        return Concat(self, _stage(other))


def _value(v: Any) -> str:
    if isinstance(v, os.PathLike):
        v = os.fspath(v)
    if isinstance(v, str):
        return v if re.fullmatch(r"[A-Za-z0-9_./~:-]+", v) else repr(v)
    return repr(v)


# Other libraries' stages that the operators wrap where a stage goes: the library's
# module -> irkit's adapter module, whose wrap(x) gives an irkit stage (or None). Named,
# not imported: the adapter imports this module, and neither loads unless in use.
FOREIGN_STAGES = {"pyterrier": "irkit.interop.pyterrier"}


def _stage(x: Any) -> Transformer:
    if isinstance(x, Transformer):
        return x
    if isinstance(x, pd.DataFrame):
        return Run(x)
    for library, adapter in FOREIGN_STAGES.items():
        if library in sys.modules:  # no object of a library that is not loaded exists
            import importlib

            stage = importlib.import_module(adapter).wrap(x)
            if stage is not None:
                return stage
    raise TypeError(f"cannot compose a {type(x).__name__} into a pipeline")


def _weight(w: Any) -> float:
    if isinstance(w, bool) or not isinstance(w, int | float | np.floating | np.integer):
        raise TypeError(f"a stage is weighted by a number, not {type(w).__name__}")
    return float(w)


def _wrap(stage: Transformer, precedence: int) -> str:
    text = repr(stage)
    return f"({text})" if stage.precedence < precedence else text


class Retriever(Transformer):
    """A stage that maps queries to a run (kept as a name for readers of older code)."""

    name = "retriever"


# ---------------------------------------------------------------------------- operators


class Then(Transformer):
    """``a >> b >> ...``: each stage transforms the output of the one before."""

    name = "then"
    precedence = 1

    def __init__(self, stages: Sequence[Transformer]):
        flat: list[Transformer] = []
        for s in stages:
            flat.extend(s.stages if isinstance(s, Then) else [s])
        self.stages = flat

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        for stage in self.stages:
            frame = carry_query(frame, stage.transform(frame))
        return frame

    def children(self) -> tuple[Transformer, ...]:
        return tuple(self.stages)

    def __repr__(self) -> str:
        # a sum inside a chain is bracketed for the reader, though >> binds looser than +
        return " >> ".join(f"({s!r})" if isinstance(s, Sum | Then) else _wrap(s, 2) for s in self.stages)


class Cutoff(Transformer):
    """``a % k``: the top ``k`` documents of each query of ``a``'s run."""

    name = "cutoff"
    precedence = 3

    def __init__(self, stage: Transformer, k: int):
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise IrkitError(f"a rank cutoff is a positive whole number (got {k!r})")
        self.stage, self.k = stage, int(k)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        run = carry_query(frame, self.stage.transform(frame))
        return run[run["rank"] <= self.k].reset_index(drop=True)

    def children(self) -> tuple[Transformer, ...]:
        return (self.stage,)

    def __repr__(self) -> str:
        return f"{_wrap(self.stage, 3)} % {self.k}"


def _terms(stage: Transformer) -> list[tuple[float, Transformer]]:
    return list(stage.terms) if isinstance(stage, Sum) else [(1.0, stage)]


class Sum(Transformer):
    """``w1 * a + w2 * b``: weighted sum of each term's :func:`minmax` scores per query.

    A document that a term did not return gets 0 from it. Each term sees the same
    input (queries, or the candidate run).
    """

    name = "sum"
    precedence = 2

    def __init__(self, terms: Sequence[tuple[float, Transformer]]):
        self.terms = [(float(w), s) for w, s in terms]
        if not self.terms:
            raise IrkitError("a sum needs at least one term")
        if any(not np.isfinite(w) for w, _ in self.terms):
            raise IrkitError("sum weights must be finite numbers")

    @classmethod
    def of(cls, stages: Sequence[Transformer]) -> Sum:
        """``stages[0] + stages[1] + ...`` as one flat sum, built once (a chain of ``+``
        copies the terms at every step: quadratic in a long parsed sum)."""
        return cls([t for s in stages for t in _terms(s)])

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        runs = [carry_query(frame, s.transform(frame)) for _, s in self.terms]
        return weighted_sum(runs, [w for w, _ in self.terms])

    def children(self) -> tuple[Transformer, ...]:
        return tuple(s for _, s in self.terms)

    def __repr__(self) -> str:
        parts = [_wrap(s, 3) if w == 1.0 else f"{w:g} * {_wrap(s, 4)}" for w, s in self.terms]
        return " + ".join(parts)


class RRF(Transformer):
    """``rrf(a, b, ..., k=60)``: reciprocal rank fusion of the stages' runs."""

    name = "rrf"

    def __init__(self, stages: Sequence[Transformer], k: float = 60.0):
        if len(stages) < 2:
            raise IrkitError("rrf fuses at least two stages")
        self.stages, self.k = [_stage(s) for s in stages], check_k(k)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return rrf_scores([carry_query(frame, s.transform(frame)) for s in self.stages], self.k)

    def children(self) -> tuple[Transformer, ...]:
        return tuple(self.stages)

    def __repr__(self) -> str:
        return f"rrf({', '.join(map(repr, self.stages))}, k={self.k:g})"


def rrf(*stages: Transformer, k: float = 60.0) -> RRF:
    """Reciprocal rank fusion of stages: ``irkit.rrf(bm25, docnade, k=60)``."""
    return RRF(stages, k=k)


def _features(stage: Transformer) -> list[Transformer]:
    return list(stage.stages) if isinstance(stage, FeatureUnion) else [stage]


class FeatureUnion(Transformer):
    """``a ** b``: each stage scores the input run; the scores become a ``features`` column.

    The output is the input run (same order, scores and ranks) with ``features``, a
    float64 array per row (0 where a stage did not return the document), and
    ``frame.attrs["features"]``, the stages' names in column order. A learned ranker
    placed after it reads ``features``.
    """

    name = "features"
    precedence = 4

    def __init__(self, stages: Sequence[Transformer]):
        self.stages = [_stage(s) for s in stages]

    @classmethod
    def of(cls, stages: Sequence[Transformer]) -> FeatureUnion:
        """``stages[0] ** stages[1] ** ...`` as one flat union, built once (as :meth:`Sum.of`)."""
        return cls([f for s in stages for f in _features(_stage(s))])

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not is_run(frame):
            raise IrkitError("a feature union (a ** b) scores candidates: give it a run (e.g. bm25 % 100 >> (a ** b))")
        key = frame[["qid", "docno"]]
        columns = []
        for s in self.stages:
            out = s.transform(frame)
            col = key.merge(out[["qid", "docno", "score"]], on=["qid", "docno"], how="left")["score"]
            columns.append(col.fillna(0.0).to_numpy(dtype=np.float64))
        matrix = np.column_stack(columns) if columns else np.zeros((len(frame), 0))
        out = frame.copy()
        out["features"] = list(matrix)
        out.attrs["features"] = [repr(s) for s in self.stages]
        return out

    def children(self) -> tuple[Transformer, ...]:
        return tuple(self.stages)

    def __repr__(self) -> str:
        return " ** ".join(_wrap(s, 5) for s in self.stages)


CONCAT_EPSILON = 1e-4  # PyTerrier's Concatenate.epsilon: the gap between the head's last score and the tail


def concat_runs(head: pd.DataFrame, tail: pd.DataFrame) -> pd.DataFrame:
    """``head``, then the documents of ``tail`` that ``head`` does not have, below it (what :class:`Concat` computes).

    PyTerrier's rule (``pyterrier._ops.Concatenate``): per query, the remaining
    documents keep ``tail``'s score gaps, shifted so that the first is ``1e-4`` below
    ``head``'s lowest score; a query that ``head`` did not answer gets nothing from
    ``tail``. Ranked as every stage's run.
    """
    last = head.groupby("qid")["score"].min()
    seen = pd.MultiIndex.from_frame(head[["qid", "docno"]])
    rest = tail[~pd.MultiIndex.from_frame(tail[["qid", "docno"]]).isin(seen) & tail["qid"].isin(last.index)]
    first = rest.groupby("qid")["score"].transform("max")
    # The same operations in the same order as PyTerrier, so the scores are its to the last bit.
    rest = rest.assign(score=rest["score"] - first + rest["qid"].map(last) - CONCAT_EPSILON)
    return ranked(pd.concat([head, rest], ignore_index=True))


class Concat(Transformer):
    """``a ^ b``: ``a``'s run, then the documents of ``b``'s run that ``a`` did not return (:func:`concat_runs`).

    ``(bm25 % 100 >> reranker) ^ bm25`` reranks BM25's top 100 and keeps its ranks
    101-1000 below them, as PyTerrier's ``^`` does.
    """

    name = "concat"
    precedence = 0

    def __init__(self, head: Transformer, tail: Transformer):
        self.head, self.tail = _stage(head), _stage(tail)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        head = carry_query(frame, self.head.transform(frame))
        return concat_runs(head, carry_query(frame, self.tail.transform(frame)))

    def children(self) -> tuple[Transformer, ...]:
        return (self.head, self.tail)

    def __repr__(self) -> str:
        return f"{_wrap(self.head, 0)} ^ {_wrap(self.tail, 1)}"


class Identity(Transformer):
    """Returns its input run unchanged (``0.7 * identity + 0.3 * reranker``)."""

    name = "identity"

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not is_run(frame):
            raise IrkitError("identity passes a run through; it cannot retrieve from queries")
        return frame


identity = Identity()


class Run(Transformer):
    """A fixed run (a frame or a TREC run file) as a stage: its rows for the input's queries."""

    name = "run"

    def __init__(self, run: pd.DataFrame | str | os.PathLike[str]):
        from irkit.frames import run_frame

        self.path = None if isinstance(run, pd.DataFrame) else Path(run)
        if self.path is not None:
            from irkit.io.trec import read_run

            run = read_run(self.path)
        self.run = run_frame(run)  # type: ignore[arg-type]

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.run[self.run["qid"].isin(set(frame["qid"]))].reset_index(drop=True)

    def params(self) -> dict[str, Any]:
        return {"path": self.path} if self.path is not None else {"rows": len(self.run)}


# ---------------------------------------------------------------------------- rerankers


class Reranker(Transformer):
    """Scores (query, document) pairs of a candidate run and ranks them.

    Subclasses implement :meth:`score` on a frame ``qid, query, docno`` (whole
    queries, at most ``batch_size`` pairs unless one query is larger); the base
    batches, shows progress and ranks by the new scores. The input run must carry
    the ``query`` column (a pipeline passes it on: ``bm25 >> reranker``;
    :func:`with_queries` adds it to a run read from a file).
    """

    name = "reranker"
    batch_size: int = 1000  # pairs per call to score(); whole queries are never split

    @abstractmethod
    def score(self, pairs: pd.DataFrame) -> np.ndarray: ...

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.rerank_pairs(self.pairs(frame))

    def pairs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The candidate run with its query text; a queries frame or no ``query`` column is an error."""
        if not is_run(frame):
            raise IrkitError(
                f"{self.name} reranks candidates: give it a run (--rerank RUN, or bm25 % 100 >> {self.name})"
            )
        if "query" not in frame.columns:
            raise IrkitError(
                f"{self.name} needs the query text beside the run: put it after a retriever "
                "(bm25 >> reranker) or add it with irkit.pipeline.with_queries(run, queries)"
            )
        return frame

    def rerank_pairs(self, pairs: pd.DataFrame) -> pd.DataFrame:
        groups = [g for _, g in pairs.groupby("qid", sort=False)]
        batches: list[list[pd.DataFrame]] = [[]]
        size = 0
        for g in groups:
            if size and size + len(g) > self.batch_size:
                batches.append([])
                size = 0
            batches[-1].append(g)
            size += len(g)
        from irkit.progress import progress

        scored = []
        for batch in progress(batches, desc=f"reranking ({self.name})", unit="batch", disable=self.quiet):
            if not batch:
                continue
            frame = pd.concat(batch, ignore_index=True)
            scores = np.asarray(self.score(frame), dtype=np.float64)
            if scores.shape != (len(frame),):
                raise InputError(f"{self.name} returned {scores.shape} scores for {len(frame)} pairs")
            scored.append(frame.drop(columns=["score", "rank", "features"], errors="ignore").assign(score=scores))
        if not scored:
            return ranked(pd.DataFrame({"qid": [], "docno": [], "score": []}).astype(str).astype({"score": float}))
        return ranked(pd.concat(scored, ignore_index=True))

    def rerank(
        self, queries: pd.DataFrame, run: pd.DataFrame, depth: int = 100, quiet: bool | None = None
    ) -> pd.DataFrame:
        """Rerank the top ``depth`` of ``run`` for ``queries`` (the pre-pipeline spelling)."""
        from irkit.frames import cut_run, run_frame

        cand = with_queries(cut_run(run_frame(run), depth), queries)
        return _quietly(self, quiet, lambda: run_frame(self.transform(cand)))


def set_quiet(stage: Transformer, quiet: bool) -> None:
    """Set ``quiet`` on a stage and every stage inside it."""
    stage.quiet = bool(quiet)
    for child in stage.children():
        set_quiet(child, quiet)


def _quietly(stage: Transformer, quiet: bool | None, fn: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Run ``fn`` with ``stage.quiet`` set to ``quiet`` (None: unchanged)."""
    if quiet is None:
        return fn()
    before = stage.quiet
    stage.quiet = bool(quiet)
    try:
        return fn()
    finally:
        stage.quiet = before


class Encoder(ABC):
    """Maps texts to a float32 ``(n, dim)`` array (a part of dense stages, not a stage itself)."""

    name: str = "encoder"
    dim: int

    @abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...
