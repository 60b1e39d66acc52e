"""Evaluate runs against qrels with ir-measures.

Measures are ir-measures objects (``nDCG@10``, ``AP``, ``P@10``, ``R@100``,
``RR``...). Runs and qrels are irkit frames; the rename to ir-measures'
``query_id, doc_id, score/relevance`` happens here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from irkit.errors import InputError
from irkit.frames import qrels_frame, rank_run, run_frame

DEFAULT_MEASURES = ("nDCG@10", "AP", "P@10", "R@100", "RR")


def parse_measures(measures: str | Iterable) -> list:
    """ir-measures measure objects from names (a space- or comma-separated string or a list)."""
    import ir_measures

    if isinstance(measures, str):
        measures = measures.replace(",", " ").split()
    out = []
    for m in measures:
        if not isinstance(m, str):
            out.append(m)
            continue
        try:
            out.append(ir_measures.parse_measure(m))
        except (ValueError, NameError, SyntaxError, TypeError, AttributeError):
            raise InputError(f"unknown measure {m!r} (examples: {' '.join(DEFAULT_MEASURES)}, P@5, R@1000)") from None
    if not out:
        raise InputError("no measure given")
    return out


def _to_ir_measures(run: pd.DataFrame, qrels: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    # ir-measures (like trec_eval) breaks exact score ties by docno, descending;
    # irkit's order breaks them ascending, as Lucene and Anserini do (Anserini's
    # own regression figures are computed in that order). Handing ir-measures
    # the negated rank makes it evaluate exactly irkit's order.
    ranked = rank_run(run_frame(run))
    r = pd.DataFrame({"query_id": ranked["qid"], "doc_id": ranked["docno"], "score": -ranked["rank"].astype(float)})
    q = qrels_frame(qrels).rename(columns={"qid": "query_id", "docno": "doc_id", "label": "relevance"})
    return r, q


def evaluate(
    run: pd.DataFrame,
    qrels: pd.DataFrame,
    measures: str | Sequence = DEFAULT_MEASURES,
    per_query: bool = False,
) -> pd.DataFrame:
    """Scores of one run.

    Aggregates are means over the topics that have both judgements and results,
    as trec_eval reports them by default. With ``per_query`` the frame has one
    row per topic (``qid`` then a column per measure) instead of one row.
    """
    import ir_measures

    ms = parse_measures(measures)
    r, q = _to_ir_measures(run, qrels)
    names = [str(m) for m in ms]
    rows: dict[str, dict[str, float]] = {}
    for metric in ir_measures.iter_calc(ms, q, r):
        rows.setdefault(metric.query_id, {})[str(metric.measure)] = float(metric.value)
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
    # Topic ids are strings; "10" sorts after "9" when both are numbers.
    return pd.Index([(0, int(x), "") if x.isdigit() else (1, 0, x) for x in index])
