"""Fuse runs: reciprocal rank fusion and score interpolation tuned by cross-validation.

These are the run-file forms of the pipeline operators (:mod:`irkit.pipeline`), which
hold the arithmetic once; ``irkit fuse`` uses them:

* RRF (Cormack et al., SIGIR 2009): ``score(d) = sum_r w_r / (k + rank_r(d))``,
  ``k = 60``; a document a run did not retrieve adds nothing (``irkit.rrf(a, b)``).
* Interpolation: ``score(d) = sum_r w_r * s_r(d)`` with each run's scores
  :func:`irkit.pipeline.minmax` normalised per topic to [0, 1] (a flat topic maps
  to 1; a document a run did not retrieve gets 0 from it): ``w1 * a + w2 * b``.
  With two runs, ``alpha`` weights the first, ``1 - alpha`` the second.
* :func:`tune_interpolation` picks ``alpha`` with :func:`irkit.tuning.tune`: each topic
  is fused with the ``alpha`` that did best on the *other* folds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from irkit.errors import InputError
from irkit.frames import cut_run, rank_run, run_frame
from irkit.pipeline import Run, rrf_scores, weighted_sum
from irkit.pipeline import minmax as _minmax

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


def rrf(
    runs: Sequence[pd.DataFrame], k: float = 60.0, depth: int = 1000, weights: Sequence[float] | None = None
) -> pd.DataFrame:
    """Reciprocal rank fusion of ``runs`` (each cut to ``depth``)."""
    if not (math.isfinite(k) and k >= 0):  # nan and inf are refused too
        raise InputError(f"RRF's k must be a non-negative number (got {k})")
    prepared = _prepared(runs, depth)
    w = None if weights is None else _weights(weights, len(prepared))
    return run_frame(rrf_scores(prepared, k, w))


def minmax(run: pd.DataFrame) -> pd.DataFrame:
    """``run`` with its scores mapped per topic to [0, 1] by :func:`irkit.pipeline.minmax` (flat: 1)."""
    return run.assign(score=_minmax(run))


def interpolate(
    runs: Sequence[pd.DataFrame], weights: Sequence[float] | None = None, depth: int = 1000
) -> pd.DataFrame:
    """Weighted sum of per-topic min-max normalised scores (equal weights by default)."""
    prepared = _prepared(runs, depth)
    return run_frame(weighted_sum(prepared, list(_weights(weights, len(prepared)))))


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
    from irkit.tuning import ALPHA_GRID, tune

    a, b = (Run(r) for r in _prepared([first, second], depth))
    queries = pd.DataFrame({"qid": sorted(set(a.run["qid"]) | set(b.run["qid"]))}).assign(query="")
    values = ALPHA_GRID if grid is None else [float(x) for x in grid]
    tuned = tune(lambda alpha: (alpha * a + (1 - alpha) * b) % depth, {"alpha": values}, queries, qrels,
                 measure=measure, folds=folds, seed=seed)  # fmt: skip
    info = {"alphas": tuned.fold_alphas, "alpha_all": tuned.alpha, "folds": tuned.folds, "measure": tuned.measure}
    return run_frame(tuned.run), info


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
