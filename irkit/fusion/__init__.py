"""Score fusion: one file per method, as ranx keeps them.

Each method file holds its arithmetic once, used both by the pipeline operators
(:mod:`irkit.pipeline`: ``+``/``*`` and ``rrf(...)``) and by its run-file form, which
``irkit fuse`` calls:

* :mod:`irkit.fusion.rrf`: reciprocal rank fusion (Cormack et al., SIGIR 2009),
  ``score(d) = sum_r w_r / (k + rank_r(d))``, ``k = 60``; a document a run did not
  retrieve adds nothing (``irkit.rrf(a, b)`` in a pipeline).
* :mod:`irkit.fusion.interpolate`: ``score(d) = sum_r w_r * s_r(d)`` with each run's
  scores :func:`~irkit.fusion.norm.minmax` normalised per topic to [0, 1] (a flat
  topic maps to 1; a document a run did not retrieve gets 0 from it): ``w1 * a + w2 * b``.
* :mod:`irkit.fusion.tune`: the interpolation weight of two runs chosen by
  cross-validation with :func:`irkit.tuning.tune`.

:mod:`irkit.fusion.norm` is irkit's one per-query normalisation. A new method is a
file here with its arithmetic and its run-file form, a name in :data:`METHODS`, an
operator class in :mod:`irkit.pipeline` and a branch in :mod:`irkit.parse`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from irkit.errors import InputError
from irkit.fusion.interpolate import interpolate
from irkit.fusion.rrf import rrf

METHODS = ("rrf", "interpolate")

__all__ = ["METHODS", "fuse", "interpolate", "rrf"]


def fuse(
    runs: Sequence[pd.DataFrame],
    method: str = "rrf",
    *,
    k: float = 60.0,
    weights: Sequence[float] | None = None,
    depth: int = 1000,
) -> pd.DataFrame:
    """Fuse run frames with ``method`` (``rrf`` takes ``k``; both take ``weights`` and ``depth``)."""
    if method == "rrf":
        return rrf(runs, k=k, depth=depth, weights=weights)
    if method == "interpolate":
        return interpolate(runs, weights=weights, depth=depth)
    raise InputError(f"unknown fusion method {method!r}; choose from {', '.join(METHODS)}")
