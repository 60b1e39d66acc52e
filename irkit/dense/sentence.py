"""A pretrained sentence-transformers encoder: raw text -> unit float32 vectors.

A module of its own, below :mod:`irkit.dense.encoders` (whose ``load_encoder`` opens
such folders) and :mod:`irkit.dense.pretrained` (the bi-encoder stage, a
:class:`irkit.dense.rank.DenseRetriever`, which itself loads encoders): neither
imports the other through it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from irkit.common import unit_rows
from irkit.errors import InputError
from irkit.pipeline import Encoder

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
