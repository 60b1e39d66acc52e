"""The interpolation weight of two runs, chosen by cross-validation over judged topics.

A module of its own because it builds pipeline stages (``alpha * a + (1 - alpha) * b``)
and :mod:`irkit.pipeline` imports the arithmetic of the other fusion modules.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from irkit.frames import run_frame
from irkit.fusion.base import prepared
from irkit.pipeline import Run
from irkit.tuning import ALPHA_GRID, tune


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

    Each topic is fused with the ``alpha`` that did best on the *other* folds
    (:func:`irkit.tuning.tune`). Returns the fused run (top ``depth`` per topic) and
    ``{"alphas": [one per fold], "alpha_all": best on all judged topics, "folds": k,
    "measure": ...}``. Topics without judgements are fused with ``alpha_all``.
    """
    a, b = (Run(r) for r in prepared([first, second], depth))
    queries = pd.DataFrame({"qid": sorted(set(a.run["qid"]) | set(b.run["qid"]))}).assign(query="")
    values = ALPHA_GRID if grid is None else [float(x) for x in grid]
    tuned = tune(lambda alpha: (alpha * a + (1 - alpha) * b) % depth, {"alpha": values}, queries, qrels,
                 measure=measure, folds=folds, seed=seed)  # fmt: skip
    info = {"alphas": tuned.fold_alphas, "alpha_all": tuned.alpha, "folds": tuned.folds, "measure": tuned.measure}
    return run_frame(tuned.run), info
