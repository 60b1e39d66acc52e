"""Lucene indexes built and read through Pyserini/Anserini."""

from irkit.index.lucene import LuceneIndex, build_index

__all__ = ["LuceneIndex", "build_index"]
