"""Lucene indexes built and read through Pyserini/Anserini."""

from irkit.index.lucene import LuceneIndex, add_impact, build_index

__all__ = ["LuceneIndex", "add_impact", "build_index"]
