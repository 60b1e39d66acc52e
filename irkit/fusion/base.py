"""What every fusion method shares: the union of scored runs and the checks of its inputs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from irkit.errors import InputError
from irkit.frames import cut_run, rank_run, ranked, run_frame


def union(runs: Sequence[pd.DataFrame], scores: Sequence[np.ndarray]) -> pd.DataFrame:
    """Sum each run's ``scores`` over (qid, docno), ranked; a ``query`` column of the runs is kept."""
    parts = [r[["qid", "docno"]].assign(score=s) for r, s in zip(runs, scores, strict=True)]
    fused = pd.concat(parts, ignore_index=True).groupby(["qid", "docno"], as_index=False, sort=False)["score"].sum()
    texts = [r[["qid", "query"]] for r in runs if "query" in r.columns]
    if texts:
        fused = fused.merge(pd.concat(texts).drop_duplicates("qid"), on="qid", how="left")
    return ranked(fused)


def prepared(runs: Sequence[pd.DataFrame], depth: int) -> list[pd.DataFrame]:
    """Run files to fuse: at least two, each ranked and cut to ``depth``."""
    if len(runs) < 2:
        raise InputError("fusion needs at least two runs")
    if depth < 1:
        raise InputError("--depth must be at least 1")
    return [cut_run(rank_run(run_frame(r)), depth) for r in runs]


def checked_weights(weights: Sequence[float] | None, n: int) -> np.ndarray:
    """One non-negative finite weight per run, not all zero (equal weights when ``None``)."""
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise InputError(f"{len(w)} weights for {n} runs")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise InputError("fusion weights must be non-negative, finite and not all zero")
    return w
