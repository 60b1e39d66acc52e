"""Pretrained cross-encoders: a sequence-classification model scores each (query, document) pair.

``irkit rank --model crossencoder -O model=DIR --rerank RUN``, ``bm25 % 100 >>
crossencoder(model=DIR)`` in a pipeline, ``irkit.CrossEncoder(DIR, index)`` in Python.
``DIR`` is a local Hugging Face sequence-classification folder, as
sentence-transformers' ``CrossEncoder.save`` or transformers' ``save_pretrained``
writes it (``config.json``, safetensors weights, a tokenizer). It is checked
before anything parses it (:mod:`irkit.nn.pretrained`).

The score of a pair is the model's raw output, not squashed by a sigmoid (which
would tie saturated pairs): the logit of a one-label model (MS MARCO
cross-encoders), ``log p(relevant)`` (the last label) of a two-label one. The
query and the document text (the run's ``text`` column when it has one, else
the index's stored text) are one input, truncated to ``max_length`` tokens
(default: the tokenizer's limit, at most 512).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from irkit.errors import InputError, IrkitError
from irkit.pipeline import Reranker
from irkit.registry import REQUIRED, Context

KIND = "crossencoder"


@dataclass
class CrossEncoderOptions:
    """``-O`` options of ``crossencoder``."""

    model: Path | None = field(default=None, metadata=REQUIRED)  # sequence-classification model folder
    allow_pickle: bool = False  # load pickle weights (pytorch_model.bin): only for a model you trust
    batch_size: int = 32  # pairs per forward pass
    max_length: int | None = None  # tokens per pair (default: the tokenizer's limit, at most 512)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InputError(f"batch_size must be at least 1 (got {self.batch_size})")
        if self.max_length is not None and self.max_length < 8:
            raise InputError(f"max_length must be at least 8 tokens (got {self.max_length})")


class CrossEncoder(Reranker):
    """Reranks candidates by a pretrained cross-encoder's score of (query, document text)."""

    name = KIND

    def __init__(self, model: str | os.PathLike[str], index: Any = None, *, allow_pickle: bool = False,
                 batch_size: int = 32, max_length: int | None = None, threads: int | None = 1,
                 device: str = "cpu"):  # fmt: skip
        """``threads``: torch threads while scoring (None or 0: torch's choice)."""
        from irkit.nn.checkpoint import read_json
        from irkit.nn.pretrained import check_folder, loading, torch_threads

        self.options = CrossEncoderOptions(Path(model), allow_pickle, batch_size, max_length)
        self.path = check_folder(model, allow_pickle)
        config = self.path / "config.json"
        if not config.is_file():
            raise InputError("not a Hugging Face model folder (no config.json)", self.path)
        cfg = read_json(config)
        archs = (cfg.get("architectures") if isinstance(cfg, dict) else None) or []
        if not any(str(a).endswith("ForSequenceClassification") for a in archs):
            raise InputError(
                f"not a sequence-classification model (config.json architectures: {archs}); "
                "a sentence-transformers bi-encoder is a biencoder",
                config,
            )
        self.index, self.threads, self.device = index, threads, device
        with torch_threads(threads), loading(self.path):
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            common = {"local_files_only": True, "trust_remote_code": False}
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), **common)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                str(self.path), use_safetensors=not allow_pickle, **common
            )
        self.model.to(device).eval()
        self.labels = int(self.model.config.num_labels)
        if self.labels not in (1, 2):
            raise InputError(f"a reranker has one or two labels; this model has {self.labels}", config)
        limit = getattr(self.tokenizer, "model_max_length", 512) or 512
        self.max_length = int(max_length or min(int(limit), 512))
        self.batch_size = int(batch_size)
        self._lucene = None

    def _texts(self, pairs: pd.DataFrame) -> list[str]:
        if "text" in pairs.columns:
            return ["" if t is None else str(t) for t in pairs["text"]]
        if self.index is None:
            raise IrkitError("--index is required for this model (it reads the documents' text)")
        if self._lucene is None:
            from irkit.index import LuceneIndex

            self._lucene = self.index if isinstance(self.index, LuceneIndex) else LuceneIndex(self.index)
        return self._lucene.texts(list(pairs["docno"]))

    def score(self, pairs: pd.DataFrame) -> np.ndarray:
        import torch

        from irkit.nn.pretrained import torch_threads

        queries = [str(q) for q in pairs["query"]]
        texts = self._texts(pairs)
        out = np.zeros(len(pairs), dtype=np.float64)
        # Similar lengths share a batch: less padding.
        order = sorted(range(len(texts)), key=lambda i: len(queries[i]) + len(texts[i]))
        with torch_threads(self.threads), torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                enc = self.tokenizer(
                    [queries[i] for i in rows], [texts[i] for i in rows], padding=True, truncation=True,
                    max_length=self.max_length, return_tensors="pt",
                )  # fmt: skip
                logits = self.model(**{k: v.to(self.device) for k, v in enc.items()}).logits.float()
                s = logits[:, 0] if self.labels == 1 else torch.log_softmax(logits, dim=-1)[:, -1]
                out[rows] = s.cpu().numpy()
        if not np.isfinite(out).all():
            raise InputError("the cross-encoder produced non-finite scores (a broken model?)", self.path)
        return out


def build(options: CrossEncoderOptions, context: Context) -> CrossEncoder:
    """The registry's builder of ``crossencoder``."""
    return CrossEncoder(options.model, context.index, allow_pickle=options.allow_pickle,  # type: ignore[arg-type]
                        batch_size=options.batch_size, max_length=options.max_length,
                        threads=context.threads or 1)  # fmt: skip
