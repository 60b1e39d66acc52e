"""Reciprocal rank fusion (Cormack et al., SIGIR 2009): ``sum_r w_r / (k + rank_r(d))``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from irkit.errors import InputError
from irkit.frames import run_frame
from irkit.fusion.base import checked_weights, prepared, union


def check_k(k: float) -> float:
    """``k`` as a float; NaN, infinite and negative values are refused."""
    if not (math.isfinite(k) and k >= 0):
        raise InputError(f"RRF's k must be a non-negative number (got {k})")
    return float(k)


def rrf_scores(runs: Sequence[pd.DataFrame], k: float = 60.0, weights: Sequence[float] | None = None) -> pd.DataFrame:
    """``sum_i w_i / (k + rank_i)`` per (qid, docno) of ranked runs; what ``irkit.rrf(a, b)`` computes."""
    k = check_k(k)
    w = [1.0] * len(runs) if weights is None else list(weights)
    return union(runs, [wi / (k + r["rank"].to_numpy(dtype=np.float64)) for r, wi in zip(runs, w, strict=True)])


def rrf(
    runs: Sequence[pd.DataFrame], k: float = 60.0, depth: int = 1000, weights: Sequence[float] | None = None
) -> pd.DataFrame:
    """Reciprocal rank fusion of run frames (each cut to ``depth``)."""
    check_k(k)
    runs = prepared(runs, depth)
    return run_frame(rrf_scores(runs, k, None if weights is None else checked_weights(weights, len(runs))))
