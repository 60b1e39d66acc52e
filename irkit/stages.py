"""The stage contract lives in :mod:`irkit.pipeline`; this module keeps the old import path.

* :class:`Transformer`: ``transform(frame) -> frame`` (queries -> run, run -> run).
* :class:`Retriever`: a transformer from queries to a run.
* :class:`Reranker`: scores (query, document) pairs; the base batches and ranks.
* :class:`Encoder`: maps texts to a float32 ``(n, d)`` array.
"""

from irkit.pipeline import Encoder, Reranker, Retriever, Transformer

__all__ = ["Encoder", "Reranker", "Retriever", "Transformer"]
