"""Per-query min-max normalisation: the one rule of irkit.

:func:`minmax` maps each query's scores to ``[0, 1]``. A query whose scores are all
equal (a "flat" query: one document, or ties everywhere) maps to **1**: its
documents were retrieved, none is worse than another, and they must stay above the
documents the run did not retrieve (0). DESM, dense mixing, the pipeline's
``+``/``*`` and ``irkit fuse --method interpolate`` all use it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def minmax(run: pd.DataFrame, column: str = "score") -> np.ndarray:
    """Each query's ``column`` mapped to [0, 1]; a flat query (all scores equal) maps to 1."""
    return minmax_values(run["qid"].to_numpy(), run[column].to_numpy(dtype=np.float64))


def minmax_values(qids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """:func:`minmax` on arrays: ``values`` mapped to [0, 1] within each query id (flat: 1)."""
    values = np.asarray(values, dtype=np.float64)
    g = pd.Series(values).groupby(np.asarray(qids), sort=False)
    lo, hi = g.transform("min").to_numpy(), g.transform("max").to_numpy()
    span = hi - lo
    return np.where(span > 0, (values - lo) / np.where(span > 0, span, 1.0), 1.0)
