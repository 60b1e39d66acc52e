"""Fuse runs: reciprocal rank fusion and score interpolation tuned by cross-validation.

* RRF (Cormack et al., SIGIR 2009): ``score(d) = sum_r w_r / (k + rank_r(d))``,
  ``k = 60``; a document a run did not retrieve adds nothing. Needs no tuning.
* Interpolation: ``score(d) = sum_r w_r * s_r(d)`` with each run's scores
  min-max normalised per topic to [0, 1] (a document a run did not retrieve
  gets 0 from it). With two runs, ``alpha`` weights the first, ``1 - alpha``
  the second.
* :func:`tune_interpolation` picks ``alpha`` on a grid by k-fold
  cross-validation over judged topics: each topic is fused with the ``alpha``
  that did best on the *other* folds, so the reported figure is not tuned on
  the topics it is measured on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from irkit.errors import InputError
from irkit.frames import cut_run, rank_run, run_frame

METHODS = ("rrf", "interpolate")


def _prepared(runs: Sequence[pd.DataFrame], depth: int) -> list[pd.DataFrame]:
    if len(runs) < 2:
        raise InputError("fusion needs at least two runs")
    if depth < 1:
        raise InputError("--depth must be at least 1")
    return [cut_run(rank_run(run_frame(r)), depth) for r in runs]


def _weights(weights: Sequence[float] | None, n: int) -> np.ndarray:
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise InputError(f"{len(w)} weights for {n} runs")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise InputError("fusion weights must be non-negative, finite and not all zero")
    return w


def _combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    fused = pd.concat(parts, ignore_index=True).groupby(["qid", "docno"], as_index=False, sort=False)["score"].sum()
    return run_frame(fused)


def rrf(
    runs: Sequence[pd.DataFrame], k: float = 60.0, depth: int = 1000, weights: Sequence[float] | None = None
) -> pd.DataFrame:
    """Reciprocal rank fusion of ``runs`` (each cut to ``depth``)."""
    if k < 0:
        raise InputError("RRF's k must be non-negative")
    prepared = _prepared(runs, depth)
    w = np.ones(len(prepared)) if weights is None else _weights(weights, len(prepared))
    return _combine([r.assign(score=wi / (k + r["rank"])) for r, wi in zip(prepared, w, strict=True)])


def minmax(run: pd.DataFrame) -> pd.DataFrame:
    """Scores mapped per topic to [0, 1] (a topic whose scores are all equal gets 1)."""
    g = run.groupby("qid", sort=False)["score"]
    lo, hi = g.transform("min"), g.transform("max")
    span = hi - lo
    return run.assign(score=np.where(span > 0, (run["score"] - lo) / span.where(span > 0, 1.0), 1.0))


def interpolate(
    runs: Sequence[pd.DataFrame], weights: Sequence[float] | None = None, depth: int = 1000
) -> pd.DataFrame:
    """Weighted sum of per-topic min-max normalised scores (equal weights by default)."""
    prepared = _prepared(runs, depth)
    w = _weights(weights, len(prepared))
    return _combine(
        [minmax(r).assign(score=lambda x, wi=wi: wi * x["score"]) for r, wi in zip(prepared, w, strict=True)]
    )


def tune_interpolation(
    first: pd.DataFrame,
    second: pd.DataFrame,
    qrels: pd.DataFrame,
    measure: str = "AP",
    folds: int = 5,
    grid: Sequence[float] | None = None,
    depth: int = 1000,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict]:
    """Interpolate two runs with ``alpha`` (weight of ``first``) chosen by k-fold CV over judged topics.

    Returns the fused run (top ``depth`` per topic) and ``{"alphas": [one per
    fold], "alpha_all": best on all judged topics, "folds": k, "measure": ...}``.
    Topics without judgements are fused with ``alpha_all``.
    """
    import ir_measures

    from irkit.evaluate import parse_measures
    from irkit.frames import qrels_frame

    ms = parse_measures(measure)
    if len(ms) != 1:
        raise InputError("tune on one measure")
    grid = np.round(np.linspace(0.0, 1.0, 21), 4) if grid is None else np.asarray(grid, dtype=np.float64)
    a, b = (minmax(r) for r in _prepared([first, second], depth))
    both = a[["qid", "docno", "score"]].merge(
        b[["qid", "docno", "score"]], on=["qid", "docno"], how="outer", suffixes=("_a", "_b")
    )
    both = both.fillna({"score_a": 0.0, "score_b": 0.0}).sort_values(["qid", "docno"], kind="stable")
    # One array per topic, docnos ascending: a stable sort on the score then breaks ties by docno, as irkit does.
    topics = {
        q: (g["docno"].to_numpy(dtype=object), g["score_a"].to_numpy(), g["score_b"].to_numpy())
        for q, g in both.groupby("qid", sort=True)
    }
    q = qrels_frame(qrels)
    judged = sorted(set(topics) & set(q["qid"]))
    if len(judged) < 2:
        raise InputError(f"tuning needs at least 2 judged topics in the runs (found {len(judged)})")
    k = max(2, min(folds, len(judged)))

    def ranked(topic: str, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        docnos, sa, sb = topics[topic]
        s = alpha * sa + (1 - alpha) * sb
        order = np.argsort(-s, kind="stable")[:depth]
        return docnos[order], s[order]

    # The evaluator converts the qrels once; each alpha hands it plain dicts (rank order as scores).
    evaluator = ir_measures.evaluator(
        ms, q.rename(columns={"qid": "query_id", "docno": "doc_id", "label": "relevance"})
    )
    scores = np.zeros((len(grid), len(judged)))
    pos = {t: i for i, t in enumerate(judged)}
    for gi, alpha in enumerate(grid):
        run = {}
        for t in judged:
            docnos, _ = ranked(t, float(alpha))
            run[t] = dict(zip(docnos.tolist(), (-np.arange(len(docnos), dtype=np.float64)).tolist(), strict=True))
        for m in evaluator.iter_calc(run):
            scores[gi, pos[m.query_id]] = float(m.value)
    order = np.random.default_rng(seed).permutation(len(judged))
    fold_of = np.empty(len(judged), dtype=np.int64)
    for f, chunk in enumerate(np.array_split(order, k)):
        fold_of[chunk] = f
    alphas = [float(grid[int(np.argmax(scores[:, fold_of != f].mean(1)))]) for f in range(k)]
    alpha_all = float(grid[int(np.argmax(scores.mean(1)))])
    choice = {t: alphas[fold_of[pos[t]]] if t in pos else alpha_all for t in topics}
    parts = []
    for t, alpha in choice.items():
        docnos, s = ranked(t, alpha)
        parts.append(pd.DataFrame({"qid": t, "docno": docnos, "score": s}))
    out = run_frame(pd.concat(parts, ignore_index=True))
    return out, {"alphas": alphas, "alpha_all": alpha_all, "folds": k, "measure": str(ms[0])}


def fuse(
    runs: Sequence[pd.DataFrame],
    method: str = "rrf",
    *,
    k: float = 60.0,
    weights: Sequence[float] | None = None,
    depth: int = 1000,
) -> pd.DataFrame:
    if method == "rrf":
        return rrf(runs, k=k, depth=depth, weights=weights)
    if method == "interpolate":
        return interpolate(runs, weights=weights, depth=depth)
    raise InputError(f"unknown fusion method {method!r}; choose from {', '.join(METHODS)}")
