"""Small rules that several stages share, each defined once.

* :func:`natural_key`: topic ids sort as numbers when they are numbers ("9" < "10").
* :func:`unit_rows`: each row of a matrix scaled to unit length (a zero row stays zero).

The per-query score normalisation is :func:`irkit.pipeline.minmax`; the analyser of
text into index terms is :func:`irkit.dense.vocab.analyzer` (``LuceneIndex.analyze``
is the same analyser); cross-validation folds over topics are :func:`irkit.tuning.assign_folds`.
"""

from __future__ import annotations

import numpy as np


def natural_key(qid: str) -> tuple[int, int, str]:
    """Sort key of a topic id: numbers by value, before other ids by text."""
    return (0, int(qid), "") if qid.isdigit() else (1, 0, qid)


def unit_rows(m: np.ndarray) -> np.ndarray:
    """Rows of ``m`` divided by their length, as float32.

    Computed in float64: saturated sigmoid units can leave a whole vector near 1e-20,
    whose float32 squares underflow. Only an exactly zero row stays zero.
    """
    x = np.asarray(m, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)
