"""The fixed-column frames that flow between irkit stages.

Every stage speaks these four frames; renames to other libraries' column names
happen only at their boundary (ir-measures, FAISS, Pyserini).

=========  ==================================  ======================
frame      columns                             dtypes
=========  ==================================  ======================
queries    ``qid, query``                      str, str
documents  ``docno, text``                     str, str
run        ``qid, docno, score, rank``         str, str, float, int
qrels      ``qid, docno, label``               str, str, int
=========  ==================================  ======================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from irkit.errors import IrkitError

QUERY_COLUMNS = ("qid", "query")
DOCUMENT_COLUMNS = ("docno", "text")
RUN_COLUMNS = ("qid", "docno", "score", "rank")
QRELS_COLUMNS = ("qid", "docno", "label")

_DTYPES: dict[str, Any] = {
    "qid": str,
    "query": str,
    "docno": str,
    "text": str,
    "score": np.float64,
    "rank": np.int64,
    "label": np.int64,
}


def _frame(kind: str, columns: tuple[str, ...], data: Any) -> pd.DataFrame:
    df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data, columns=list(columns))
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise IrkitError(f"a {kind} frame needs columns {list(columns)}; missing {missing}")
    # A frame that has just these columns is copied whole (a tenth of the cost of selecting them).
    out = df.copy() if tuple(df.columns) == columns else df.loc[:, list(columns)].copy()
    for c in columns:
        try:
            out[c] = out[c].astype(_DTYPES[c])
        except (TypeError, ValueError) as e:
            raise IrkitError(f"{kind} column {c!r} cannot be read as {_DTYPES[c].__name__}: {e}") from None
    return out.reset_index(drop=True)


def queries_frame(data: Any) -> pd.DataFrame:
    """A queries frame (``qid, query``) from a frame, records or a ``{qid: query}`` mapping."""
    if isinstance(data, Mapping):
        data = list(data.items())
    return _frame("queries", QUERY_COLUMNS, data)


def documents_frame(data: Any) -> pd.DataFrame:
    """A documents frame (``docno, text``)."""
    if isinstance(data, Mapping):
        data = list(data.items())
    return _frame("documents", DOCUMENT_COLUMNS, data)


def qrels_frame(data: Any) -> pd.DataFrame:
    """A qrels frame (``qid, docno, label``)."""
    return _frame("qrels", QRELS_COLUMNS, data)


def run_frame(data: Any, *, rerank: bool = False) -> pd.DataFrame:
    """A run frame (``qid, docno, score, rank``).

    With ``rerank=True`` (or when ``rank`` is missing) ranks are recomputed from
    the scores: descending score, ties broken by ascending docno, as Lucene and
    Anserini break them, so that a run's order never depends on input order.
    """
    if isinstance(data, pd.DataFrame) and "rank" not in data.columns:
        data = data.assign(rank=0)
        rerank = True
    elif not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(list(data))
        if data.shape[1] == 3:
            data.columns = ["qid", "docno", "score"]
            data["rank"] = 0
            rerank = True
        elif data.shape[1] == 4:
            data.columns = list(RUN_COLUMNS)
    df = _frame("run", RUN_COLUMNS, data)
    return rank_run(df) if rerank else df


def rank_run(run: pd.DataFrame) -> pd.DataFrame:
    """Sort a run by qid, descending score, ascending docno, and number ranks from 1."""
    df = run.sort_values(["qid", "score", "docno"], ascending=[True, False, True], kind="stable")
    df = df.reset_index(drop=True)
    df["rank"] = df.groupby("qid", sort=False).cumcount().astype(np.int64) + 1
    return df


def ranked(run: pd.DataFrame) -> pd.DataFrame:
    """``run`` (``qid, docno, score`` and any extras) ranked as every stage returns it.

    Scores as float64, ranks recomputed (:func:`rank_run`), the run columns first and
    any extras (``query``, ``features``) after.
    """
    run = run.astype({"score": np.float64}).assign(rank=0)
    extra = [c for c in run.columns if c not in RUN_COLUMNS]
    return rank_run(run[[*RUN_COLUMNS, *extra]])


def cut_run(run: pd.DataFrame, depth: int) -> pd.DataFrame:
    """Keep the top ``depth`` documents of each query."""
    return run[run["rank"] <= depth].reset_index(drop=True)


def from_dict(results: Mapping[str, Iterable[tuple[str, float]]]) -> pd.DataFrame:
    """A ranked run frame from ``{qid: [(docno, score), ...]}``."""
    rows = [(q, d, s) for q, hits in results.items() for d, s in hits]
    return run_frame(pd.DataFrame(rows, columns=["qid", "docno", "score"]))
