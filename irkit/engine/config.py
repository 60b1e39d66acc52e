"""Which engine runs a job, and with how many workers: :class:`EngineConfig` (``--engine``, ``engine=``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from irkit.errors import IrkitError

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
