"""PyTerrier both ways: irkit stages as ``pt.Transformer`` and PyTerrier transformers as irkit stages.

::

    import pyterrier as pt, irkit
    bm25 = irkit.BM25(index)
    (irkit.to_pyterrier(bm25) % 10).transform(topics)          # PyTerrier's %, >>, +, ^, pt.Experiment
    (bm25 % 100 >> irkit.from_pyterrier(pt.apply.doc_score(f))).transform(topics)   # irkit's operators
    bm25 % 100 >> pt.apply.doc_score(f)                         # the same: wrapped on the way

Frames cross as they are: PyTerrier's ``qid, query, docno, score, rank`` are irkit's
names and every other column goes along. The one difference is the rank: PyTerrier
counts from 0, irkit from 1. :func:`to_pyterrier_frame` and :func:`from_pyterrier_frame`
convert it, here and nowhere else; a run coming back from PyTerrier is ranked by
irkit's rule (descending score, ties by ascending docno, :func:`irkit.pipeline.ranked`).

PyTerrier's transformer API needs no Java: nothing here calls ``pt.init()`` or starts
a JVM. PyTerrier is imported on first use (``import irkit`` does not import it). A
PyTerrier transformer on the left of an irkit stage (``pt_stage >> bm25``) is refused
by PyTerrier itself; write ``pt_stage >> irkit.to_pyterrier(bm25)``.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import pandas as pd

from irkit.errors import IrkitError
from irkit.pipeline import Transformer, carry_query, is_run, ranked


def _pt() -> Any:
    try:
        import pyterrier as pt
    except ImportError:
        raise IrkitError("PyTerrier is not installed (pip install 'irkit[pyterrier]')") from None
    return pt


def is_pyterrier(x: object) -> bool:
    """Whether ``x`` is a PyTerrier transformer (without importing PyTerrier: if it is not loaded, none exists)."""
    pt = sys.modules.get("pyterrier")
    return pt is not None and isinstance(x, pt.Transformer)


def to_pyterrier_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """An irkit frame as PyTerrier reads it: ranks from 0."""
    return frame.assign(rank=frame["rank"] - 1) if "rank" in frame.columns else frame


def from_pyterrier_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A PyTerrier frame as irkit reads it: a run ranked by irkit's rule, ranks from 1."""
    return ranked(frame.drop(columns=["rank"], errors="ignore")) if is_run(frame) else frame.reset_index(drop=True)


class PyTerrierStage(Transformer):
    """A PyTerrier transformer as an irkit stage (:func:`from_pyterrier`)."""

    name = "pyterrier"

    def __init__(self, transformer: Any):
        if not is_pyterrier(transformer):
            raise IrkitError(f"from_pyterrier takes a PyTerrier transformer, not {type(transformer).__name__}")
        self.transformer = transformer

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return from_pyterrier_frame(self.transformer.transform(to_pyterrier_frame(frame)))

    def __repr__(self) -> str:
        return f"pyterrier({self.transformer!r})"


@functools.cache
def _irkit_transformer_class() -> type:
    """The ``pt.Transformer`` subclass that wraps an irkit stage (made once, when PyTerrier is first needed)."""
    pt = _pt()

    class IrkitTransformer(pt.Transformer):
        """An irkit stage as a PyTerrier transformer (:func:`to_pyterrier`)."""

        def __init__(self, stage: Transformer):
            self.stage = stage

        def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
            frame = from_pyterrier_frame(inp)
            # PyTerrier's results carry the query text; an irkit retriever's run may not.
            return to_pyterrier_frame(carry_query(frame, self.stage.transform(frame)))

        def __repr__(self) -> str:
            return f"irkit({self.stage!r})"

    return IrkitTransformer


def to_pyterrier(stage: Transformer) -> Any:
    """An irkit stage as a ``pt.Transformer`` (PyTerrier's ``>>``, ``%``, ``+``, ``^`` and ``pt.Experiment`` take it)."""
    if isinstance(stage, PyTerrierStage):
        return stage.transformer  # a wrapped PyTerrier transformer goes back as itself
    if not isinstance(stage, Transformer):
        raise IrkitError(f"to_pyterrier takes an irkit stage, not {type(stage).__name__}")
    return _irkit_transformer_class()(stage)


def wrap(x: object) -> Transformer | None:
    """``x`` as an irkit stage if it is a PyTerrier transformer (irkit's operators call this where a stage goes)."""
    return from_pyterrier(x) if is_pyterrier(x) else None


def from_pyterrier(transformer: Any) -> Transformer:
    """A PyTerrier transformer as an irkit stage (irkit's operators also wrap one where a stage goes)."""
    if isinstance(transformer, Transformer):
        return transformer
    cls = _irkit_transformer_class() if "pyterrier" in sys.modules else None
    if cls is not None and isinstance(transformer, cls):
        return transformer.stage  # an irkit stage that went to PyTerrier comes back as itself
    return PyTerrierStage(transformer)
