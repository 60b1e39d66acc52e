"""irkit: reproducible ranking experiments (Lucene BM25, rerankers, dense retrieval, evaluation).

``import irkit`` is light: each name below is imported on first use (module
``__getattr__``), so torch, FAISS and the JVM load only when a stage needs them.

Stages (:mod:`irkit.pipeline`: ``transform(frame) -> frame``; ``>>``, ``%``, ``+``, ``*``, ``**``)::

    irkit.BM25(index)                                  # queries -> run
    irkit.DESMReranker.from_path(model_dir, index)     # run -> run (queries -> run: DESM alone)
    irkit.IRGANReranker(model_dir, index, use="d")     # run -> run
    irkit.DenseRetriever("docnade", faiss=dir)         # queries -> run, or run -> run
    irkit.BiEncoder(st_dir, faiss=dir, index=index)     # a sentence-transformers model: the same
    irkit.CrossEncoder(hf_dir, index)                   # run -> run
    irkit.identity, irkit.rrf(a, b, k=60), irkit.Run(frame_or_file)
    irkit.parse.parse("bm25 % 100 >> desm(model=DIR)", context)   # the text form (irkit.registry.Context)

PyTerrier: ``to_pyterrier(stage)`` is a ``pt.Transformer``, ``from_pyterrier(t)`` an irkit stage
(:mod:`irkit.interop.pyterrier`); ir_datasets: ``irkit.datasets.get("irds:NAME")``.

Data: ``read_topics``, ``read_qrels``, ``read_run``, ``write_run``, ``read_documents``,
``build_index``, ``LuceneIndex``. Experiments: ``Experiment``, ``tune``, ``compare`` (two runs topic by topic; evaluation: :mod:`irkit.evaluate`).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    # stages
    "Transformer": "irkit.pipeline",
    "Reranker": "irkit.pipeline",
    "Run": "irkit.pipeline",
    "identity": "irkit.pipeline",
    "rrf": "irkit.pipeline",
    "BM25": "irkit.retrieve.bm25",
    "DESMReranker": "irkit.rerank.desm",
    "IRGANReranker": "irkit.rerank.irgan_rank",
    "DenseRetriever": "irkit.dense.rank",
    "BiEncoder": "irkit.dense.pretrained",
    "CrossEncoder": "irkit.rerank.crossencoder",
    # data
    "read_topics": "irkit.io.topics",
    "read_qrels": "irkit.io.trec",
    "read_run": "irkit.io.trec",
    "write_run": "irkit.io.trec",
    "read_documents": "irkit.io.documents",
    "build_index": "irkit.index",
    "LuceneIndex": "irkit.index",
    # evaluation and experiments
    "Experiment": "irkit.experiment",
    "tune": "irkit.tuning",
    "compare": "irkit.evaluate.compare",
    # other libraries (irkit.interop)
    "to_pyterrier": "irkit.interop.pyterrier",
    "from_pyterrier": "irkit.interop.pyterrier",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'irkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
