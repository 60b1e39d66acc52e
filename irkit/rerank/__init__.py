"""Rerankers of first-stage candidates (DESM, IRGAN), built on :class:`irkit.pipeline.Reranker`."""
