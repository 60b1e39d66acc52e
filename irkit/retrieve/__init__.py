"""First-stage retrievers."""

from irkit.retrieve.bm25 import BM25

__all__ = ["BM25"]
