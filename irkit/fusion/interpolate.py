"""Score interpolation: ``sum_r w_r * minmax(s_r)`` per topic; a run missing a document gives it 0.

With two runs, ``alpha`` weights the first and ``1 - alpha`` the second
(:mod:`irkit.fusion.tune` picks ``alpha`` by cross-validation).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from irkit.frames import run_frame
from irkit.fusion.base import checked_weights, prepared, union
from irkit.fusion.norm import minmax


def weighted_sum(runs: Sequence[pd.DataFrame], weights: Sequence[float]) -> pd.DataFrame:
    """``sum_i w_i * minmax(run_i)`` per (qid, docno); what ``w1 * a + w2 * b`` computes in a pipeline."""
    return union(runs, [w * minmax(r) for r, w in zip(runs, weights, strict=True)])


def interpolate(
    runs: Sequence[pd.DataFrame], weights: Sequence[float] | None = None, depth: int = 1000
) -> pd.DataFrame:
    """Weighted sum of per-topic min-max normalised scores of run frames (equal weights by default)."""
    runs = prepared(runs, depth)
    return run_frame(weighted_sum(runs, list(checked_weights(weights, len(runs)))))
