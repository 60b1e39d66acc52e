"""Where a job runs: ``local`` (this process) or ``ray`` (a Ray cluster).

The engine never changes what is computed, only where: a run or a vector file made
with ``engine="ray"`` is the same as the local one (byte for byte for runs, float32
for vectors), which the tests check on real collections.

* BM25 (``irkit rank --model bm25 --engine ray --shards S``): the impact index is
  split into document shards, each held by one actor that scores with the whole
  collection's statistics; the driver merges the shards' top k (:mod:`irkit.engine.bm25`).
* Reranking (``--model desm|irgan``): topics split across a pool of actors, each
  running the model's own code (:mod:`irkit.engine.rerank`).
* Dense ranking and reranking (``--model docnade|seqae``): the encoding on a pool of
  actors in the local path's batches, the scoring on the driver (:mod:`irkit.engine.dense`).
* Encoding (``irkit encode --engine ray``): Ray Data ``map_batches`` over encoder
  actors (:mod:`irkit.engine.encoding`).

Ray is imported only when ``engine="ray"`` is used. A cluster is joined from
``address`` / ``RAY_ADDRESS``, or a local one is started (:mod:`irkit.engine.cluster`);
in Python it stays up for the next call (``irkit.engine.cluster.shutdown()`` stops it).

In Python, ``engine=`` is the one argument: ``BM25(index, engine="ray", shards=4)`` and
``engine.stage("desm", engine=EngineConfig("ray", workers=2), index=..., desm=..., alpha=0.3)``
(any registered model as a pipeline stage) both go through :func:`transform_on`, which turns
a stage's input frame into the request ``irkit rank`` would make and runs it with :func:`rank`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from irkit.errors import IrkitError
from irkit.pipeline import Transformer

if TYPE_CHECKING:
    import pandas as pd

    from irkit.registry import RankRequest

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class EngineConfig:
    """``name``: local|ray; ``workers``: actors (default: the cluster's CPUs); ``shards``: BM25
    document shards (default: ``workers``); ``address``: a Ray cluster to join (default:
    ``RAY_ADDRESS``, else a local cluster is started)."""

    name: str = "local"
    workers: int | None = None
    shards: int | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise IrkitError(f"unknown engine {self.name!r}; choose from {', '.join(ENGINES)}")
        for what, value in (("workers", self.workers), ("shards", self.shards)):
            if value is not None and value < 1:
                raise IrkitError(f"--{what} must be at least 1 (got {value})")
        if self.name == "local" and (self.workers or self.shards or self.address):
            raise IrkitError("--workers, --shards and --ray-address need --engine ray")

    def resolved_workers(self) -> int:
        """Workers to start: as asked, else one per CPU of the (connected) cluster."""
        if self.workers:
            return self.workers
        from irkit.engine.cluster import cluster_cpus

        return cluster_cpus()

    def resolved_shards(self) -> int:
        return self.shards or self.resolved_workers()


def engine_config(engine: Any = None, **kw: Any) -> EngineConfig:
    """An :class:`EngineConfig` from a name (``"local"``, ``"ray"``), a config, or None (local)."""
    if isinstance(engine, EngineConfig):
        return engine
    return EngineConfig(name=engine or "local", **{k: v for k, v in kw.items() if v is not None})


def model_options(name: str, request: RankRequest) -> dict[str, Any]:
    """Model ``name``'s options from ``request.options``, checked as ``registry.rank`` checks them
    (unknown keys and bad values raise :class:`IrkitError`), with the model's defaults filled in."""
    import dataclasses

    from irkit import registry

    entry = registry.get(name)
    if getattr(entry, "new_style", False):
        return dataclasses.asdict(registry.parse_options(entry, request.options))
    unknown = sorted(k for k, v in request.options.items() if v is not None and k not in entry.options)
    if unknown:
        takes = ", ".join(f"--{k}" for k in entry.options) or "no model options"
        raise IrkitError(f"{', '.join(f'--{k}' for k in unknown)} does not apply to model {name!r} (it takes {takes})")
    return {k: v for k, v in request.options.items() if v is not None}


def rank(name: str, request: RankRequest, engine: Any = "local", on_progress: Any = None) -> pd.DataFrame:
    """Run registered model ``name`` on ``request`` with ``engine``: ``registry.rank`` locally; on Ray,
    sharded BM25, topic-split actors (DESM, IRGAN), or the local batches encoded on actors (DocNADE,
    SeqAE). The run is the same either way.

    ``on_progress`` (Ray only) is called with a dict after each finished task."""
    from irkit import registry

    cfg = engine_config(engine)
    name = registry.get(name).name
    if cfg.name == "local":
        return registry.rank(name, request)
    opts = model_options(name, request)  # bad options fail before a cluster starts
    from irkit.engine.cluster import connect

    if name == "bm25":
        from irkit.engine.bm25 import check_request, ray_bm25_rank

        check_request(request, opts)
        connect(cfg.address, quiet=request.quiet)
        run, _ = ray_bm25_rank(request, opts, shards=cfg.resolved_shards(), on_progress=on_progress)
        return run
    from irkit.engine.rerank import check_splittable, ray_rank

    check_splittable(name, request, opts)
    connect(cfg.address, quiet=request.quiet)
    run, _ = ray_rank(name, request, opts, workers=cfg.resolved_workers(), on_progress=on_progress)
    return run


def transform_on(
    engine: Any,
    name: str,
    frame: pd.DataFrame,
    index: Any = None,
    hits: int = 1000,
    options: dict[str, Any] | None = None,
    quiet: bool = False,
) -> pd.DataFrame:
    """Registered model ``name``'s ``transform(frame)``, run on ``engine`` (the one rule by which a
    pipeline stage runs on an engine): queries in, the request of ``irkit rank --model NAME``; a run
    in (with its ``query`` column, as inside a pipeline), the request of ``--rerank RUN`` over all
    of its candidates. The run is the local one."""
    from irkit.registry import RankRequest

    if "docno" in frame.columns:
        queries, candidates, depth = frame[["qid", "query"]].drop_duplicates("qid"), frame, 10**9
    else:
        queries, candidates, depth = frame, None, 100
    request = RankRequest(queries=queries, index=None if index is None else Path(getattr(index, "path", index)),
                          candidates=candidates, depth=depth, hits=hits, options=dict(options or {}),
                          quiet=quiet)  # fmt: skip
    return rank(name, request, engine)


class EngineStage(Transformer):
    """Registered model ``name`` as a pipeline stage run on ``engine`` (see :func:`stage`)."""

    def __init__(self, name: str, engine: Any = "local", index: Any = None, hits: int = 1000,
                 **options: Any) -> None:  # fmt: skip
        from irkit import registry

        self.name = registry.get(name).name
        self.engine = engine_config(engine)
        self.index, self.hits, self.options = index, int(hits), options

    def params(self) -> dict[str, Any]:  # where it runs is not what it computes: not in repr
        return {k: v for k, v in self.options.items() if v is not None}

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return transform_on(self.engine, self.name, frame, self.index, self.hits, self.options, self.quiet)


def stage(name: str, engine: Any = "local", index: Any = None, hits: int = 1000, **options: Any) -> EngineStage:
    """Registered model ``name`` (``irkit models``) as a pipeline stage that runs on ``engine`` (a name
    or an :class:`EngineConfig`), with ``irkit rank``'s options: ``stage("desm", engine="ray",
    index=ix, desm="models/desm", alpha=0.3)``; its output is the local stage's."""
    return EngineStage(name, engine, index, hits, **options)


def encode(model: Any, index: Any, engine: Any = "local", batch_size: int = 256, quiet: bool = False) -> Any:
    """Encode every document of ``index`` with the encoder folder ``model`` (see :func:`irkit.engine.encoding.encode_index`)."""
    from irkit.engine.encoding import encode_index

    return encode_index(model, index, engine=engine, batch_size=batch_size, quiet=quiet)


__all__ = [
    "ENGINES",
    "EngineConfig",
    "EngineStage",
    "encode",
    "engine_config",
    "model_options",
    "rank",
    "stage",
    "transform_on",
]
