"""Evaluate runs against qrels with ir-measures.

Measures are ir-measures objects (``nDCG@10``, ``AP``, ``P@10``, ``R@100``,
``RR``...). Runs and qrels are irkit frames; the rename to ir-measures'
``query_id, doc_id, score/relevance`` happens here and nowhere else.

Score ties: by default a run is evaluated in trec_eval's order (descending
score, ties by descending docno), so every figure equals trec_eval's (and
pytrec_eval's, and ir-measures') on the same run file. ``ties="file"``
evaluates irkit's own order instead (ties by ascending docno, as Lucene and
Anserini rank them and as irkit writes run files).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from irkit.errors import InputError
from irkit.frames import qrels_frame, rank_run, run_frame

DEFAULT_MEASURES = ("nDCG@10", "AP", "P@10", "R@100", "RR")
TIES = ("trec_eval", "file")
# How the mean treats topics that are judged but absent from a run (one rule for
# `evaluate`, `irkit eval` and `leaderboard`): trec_eval's default, the mean over
# the judged topics the run answered.
MISSING_TOPICS_RULE = (
    "means over the judged topics present in each run (trec_eval's default; missing topics are not scored 0)"
)
# ir-measures parses a name with Python's own parser (deep nesting: RecursionError;
# ``P@1e20``: a float cutoff): a name is checked against this grammar first.
# NAME, NAME(key=value,...), either followed by @ and a number written in digits;
# or trec_eval's NAME, NAME_10, NAME.5,10.
MAX_MEASURE_NAME = 100
MAX_CUTOFF = 10**9
_VALUE = r"""(?:[+-]?[0-9]+(?:\.[0-9]+)?|True|False|'[^'\\()]*'|"[^"\\()]*")"""
_MEASURE_SYNTAX = re.compile(
    rf"(?:[^\W\d]\w*)(?:\(\s*(?:\w+\s*=\s*{_VALUE}\s*(?:,\s*\w+\s*=\s*{_VALUE}\s*)*)?\))?(?:@[0-9]+(?:\.[0-9]+)?)?"
    r"|[A-Za-z_]\w*\.[0-9]+(?:,[0-9]+)*"
)


def _check_measure_syntax(name: str) -> None:
    if len(name) > MAX_MEASURE_NAME:
        raise InputError(f"measure name of {len(name):,} characters (at most {MAX_MEASURE_NAME})")
    # Python reads other scripts' digits ("P_\uff11") as numbers; trec_eval does not.
    if not _MEASURE_SYNTAX.fullmatch(name) or any(c.isdigit() and not c.isascii() for c in name):
        raise InputError(
            f"measure {name!r} is not NAME, NAME(key=value,...) or either with @ and a number in digits,"
            f" or trec_eval's name (examples: {' '.join(DEFAULT_MEASURES)}, P(rel=2)@5)"
        )


def parse_measures(measures: str | Iterable) -> list:
    """ir-measures measure objects from names (a space- or comma-separated string or a list).

    ir-measures' names (``AP``, ``nDCG@10``, ``P@30``) and trec_eval's (``map``,
    ``ndcg_cut_10``, ``ndcg_cut.10``, ``P_30``, ``recip_rank``, ``bpref``) both
    work; a trec_eval family such as ``P`` without a cutoff means ir-measures'
    ``P``, and ``ndcg_cut.5,10`` gives both cutoffs. A measure named twice (in
    either spelling) is kept once; a cutoff must be a positive integer.
    """
    if isinstance(measures, str):
        # A comma before a digit belongs to a trec_eval parameter list (ndcg_cut.5,10).
        measures = [m for m in re.split(r"\s+|,(?!\d)", measures) if m]
    out = []
    for m in measures:
        for parsed in _parse_one(m) if isinstance(m, str) else [m]:
            cutoff = getattr(parsed, "params", {}).get("cutoff")
            if cutoff is not None and (
                isinstance(cutoff, bool) or not isinstance(cutoff, int) or not 1 <= cutoff <= MAX_CUTOFF
            ):
                raise InputError(f"measure {parsed}: the cutoff must be a positive integer up to {MAX_CUTOFF:,}")
            if str(parsed) not in {str(o) for o in out}:
                out.append(parsed)
    if not out:
        raise InputError("no measure given")
    return out


def _parse_one(name: str) -> list:
    """One name, ir-measures' spelling first, then trec_eval's (which ir-measures also parses)."""
    import ir_measures

    _check_measure_syntax(name)
    errors = (ValueError, NameError, SyntaxError, TypeError, AttributeError, KeyError)
    try:
        return [ir_measures.parse_measure(name)]
    except errors:
        pass
    try:
        return list(ir_measures.parse_trec_measure(name))
    except errors:
        raise InputError(
            f"unknown measure {name!r} (examples: {' '.join(DEFAULT_MEASURES)}, P@5, R@1000;"
            " or trec_eval's map, ndcg_cut_10, P_30, recip_rank)"
        ) from None


def trec_eval_order(run: pd.DataFrame) -> pd.DataFrame:
    """A run sorted as trec_eval 9.0.8 sorts it: by qid, descending score, ties by descending docno.

    trec_eval 9.0.8 (and pytrec_eval, which ir-measures calls) holds a score in a C
    ``float``: scores equal in float32 are ties there even when float64 tells them
    apart (trec_eval 10 reads doubles), so they are compared as float32 here too.
    ``rank`` is renumbered in that order. trec_eval compares docnos with
    ``strcmp``; Python compares str by code point, which is the same order as
    the UTF-8 bytes.
    """
    df = run_frame(run)
    key = pd.Series(df["score"].to_numpy(np.float32), index=df.index)
    df = df.assign(_key=key).sort_values(["qid", "_key", "docno"], ascending=[True, False, False], kind="stable")
    df = df.drop(columns="_key").reset_index(drop=True)
    df["rank"] = df.groupby("qid", sort=False).cumcount().astype(np.int64) + 1
    return df


def _to_ir_measures(
    run: pd.DataFrame, qrels: pd.DataFrame, ties: str = "trec_eval"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if ties not in TIES:
        raise InputError(f"unknown tie order {ties!r}; choose from {', '.join(TIES)}")
    # Every provider of ir-measures then sees one unambiguous order: the ranks,
    # negated, are the scores (no two equal), so no provider re-breaks a tie.
    ranked = trec_eval_order(run) if ties == "trec_eval" else rank_run(run_frame(run))
    r = pd.DataFrame({"query_id": ranked["qid"], "doc_id": ranked["docno"], "score": -ranked["rank"].astype(float)})
    q = qrels_frame(qrels).rename(columns={"qid": "query_id", "docno": "doc_id", "label": "relevance"})
    return r, q


def evaluate(
    run: pd.DataFrame,
    qrels: pd.DataFrame,
    measures: str | Sequence = DEFAULT_MEASURES,
    per_query: bool = False,
    ties: str = "trec_eval",
) -> pd.DataFrame:
    """Scores of one run.

    Aggregates are means over the topics that have both judgements and results,
    as trec_eval reports them by default (:data:`MISSING_TOPICS_RULE`). With
    ``per_query`` the frame has one row per topic (``qid`` then a column per
    measure) instead of one row. ``ties`` is ``"trec_eval"`` (default: the
    figures trec_eval prints for this run) or ``"file"`` (irkit's order: ties by
    ascending docno, as Lucene ranks them).
    """
    import ir_measures

    ms = parse_measures(measures)
    r, q = _to_ir_measures(run, qrels, ties)
    names = [str(m) for m in ms]
    rows: dict[str, dict[str, float]] = {}
    for metric in ir_measures.iter_calc(ms, q, r):
        value = float(metric.value)
        if not math.isfinite(value):
            raise InputError(f"measure {metric.measure} is not finite for topic {metric.query_id}")
        rows.setdefault(metric.query_id, {})[str(metric.measure)] = value
    # Some ir-measures providers score judged topics missing from the run as 0;
    # trec_eval's default (and irkit's) is the topics that were run.
    ran = set(r["query_id"])
    rows = {q: v for q, v in rows.items() if q in ran}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=names)
    table.index.name = "qid"
    table = table.sort_index(key=_natural_key).reset_index()
    if per_query:
        return table
    return pd.DataFrame([table[names].mean(numeric_only=True)], columns=names)


def _natural_key(index: pd.Index) -> pd.Index:
    # Topic ids are strings; "10" sorts after "9" when both are numbers (irkit.common.natural_key).
    from irkit.common import natural_key

    return pd.Index([natural_key(x) for x in index])
