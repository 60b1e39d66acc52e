"""The one model registry: every name that ``irkit rank --model`` and ``irkit train`` accept.

Entries name their code by import path, so listing models (``irkit --help``)
imports nothing heavy. A ranking entry points at ``rank(request) -> run``; a
training entry points at a typer command function that ``irkit train NAME`` runs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from irkit.errors import IrkitError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # "retriever", "reranker" or "dense"
    rank: str  # "module:function" taking a RankRequest, returning a run frame
    help: str
    options: tuple[str, ...] = ()  # model-specific `irkit rank` options it accepts
    train: str | None = None  # "module:function", a typer command for `irkit train NAME`


@dataclass
class RankRequest:
    """Everything ``irkit rank`` hands a model; the Python API builds one too."""

    queries: pd.DataFrame
    index: Path | None = None
    candidates: pd.DataFrame | None = None  # --rerank RUN
    qrels: pd.DataFrame | None = None  # for models that tune on judged topics
    hits: int = 1000
    depth: int = 100
    threads: int | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    quiet: bool = False

    def option(self, name: str, default: Any = None) -> Any:
        value = self.options.get(name)
        return default if value is None else value

    def require(self, name: str) -> Any:
        value = self.options.get(name)
        if value is None:
            raise IrkitError(f"--{name} is required for this model")
        return value

    def require_index(self) -> Path:
        if self.index is None:
            raise IrkitError("--index is required for this model")
        return self.index

    def require_candidates(self) -> pd.DataFrame:
        if self.candidates is None:
            raise IrkitError("--rerank RUN (the candidates to rerank) is required for this model")
        return self.candidates


_ENTRIES: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    if entry.name in _ENTRIES:
        raise IrkitError(f"model {entry.name!r} is registered twice")
    _ENTRIES[entry.name] = entry
    return entry


def names(kind: str | None = None) -> list[str]:
    return [n for n, e in _ENTRIES.items() if kind is None or e.kind == kind]


def get(name: str) -> ModelEntry:
    try:
        return _ENTRIES[name]
    except KeyError:
        raise IrkitError(f"unknown model {name!r}; known models: {', '.join(names())}") from None


def resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def rank(name: str, request: RankRequest) -> pd.DataFrame:
    """Run model ``name`` on ``request``; options it does not take are an error."""
    entry = get(name)
    unknown = sorted(k for k, v in request.options.items() if v is not None and k not in entry.options)
    if unknown:
        opts = ", ".join(f"--{k}" for k in unknown)
        takes = ", ".join(f"--{k}" for k in entry.options) or "no model options"
        raise IrkitError(f"{opts} does not apply to model {name!r} (it takes {takes})")
    return resolve(entry.rank)(request)


def trainers() -> dict[str, ModelEntry]:
    return {n: e for n, e in _ENTRIES.items() if e.train}


# Built-in models. Each line is the whole of a model's registration.
# fmt: off
register(ModelEntry("bm25", "retriever", "irkit.retrieve.bm25:rank", "BM25 over a Lucene index (Anserini defaults k1=0.9, b=0.4)", ("k1", "b")))

register(ModelEntry("desm", "reranker", "irkit.rerank.desm:rank", "DESM word2vec IN/OUT reranker of BM25 candidates (Mitra et al., WWW'16)", ("desm", "variant", "alpha"), train="irkit.rerank.desm:train_command"))
register(ModelEntry("docnade", "dense", "irkit.dense.rank:docnade", "DocNADE document encoder, dense retrieval over FAISS or reranking (Lauly et al., JMLR 2016)", ("faiss", "encoder", "alpha"), train="irkit.cli.dense:train_docnade"))
register(ModelEntry("seqae", "dense", "irkit.dense.rank:seqae", "LSTM sequence-autoencoder encoder, dense retrieval over FAISS or reranking (Dai & Le, 2015)", ("faiss", "encoder", "alpha"), train="irkit.cli.dense:train_seqae"))
register(ModelEntry("irgan", "reranker", "irkit.rerank.irgan_cli:rank", "IRGAN generator/discriminator reranker of candidates over LETOR-style features (Wang et al., SIGIR'17)", ("irgan", "use", "desm"), train="irkit.rerank.irgan_cli:train_command"))
