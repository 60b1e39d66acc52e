"""Where a stage runs: ``local`` (this process) or ``ray`` (a Ray cluster).

The engine never changes what is computed, only where: a run or a vector file made
with ``engine="ray"`` is the same as the local one (byte for byte for runs, float32
for vectors), which the tests check on real collections.

An engine runs a registered model's stage (:func:`stage`, what ``irkit rank --model``
builds): locally, ``registry.build(...).transform(frame)``; on Ray, the input is split the
way the model's registry entry says (its ``scale``, :data:`irkit.registry.SCALES`) and the
same ``transform`` runs on workers:

* ``topic`` (DESM, IRGAN, LambdaMART, QL, RM3): groups of whole topics on a pool of
  actors, each building the stage once (:mod:`irkit.engine.topics`);
* ``shard`` (BM25): the stage is built with the engine and splits its impact index into
  document shards, one actor each, merged exactly on the driver (:mod:`irkit.engine.bm25`;
  ``BM25(index, engine="ray")`` in Python);
* ``batch`` (DocNADE, SeqAE): the stage runs on the driver with its encoder's batches,
  exactly the local ones, encoded on actors (:mod:`irkit.engine.dense`);
* ``driver``: on the driver. So does a stage with an option given as ``auto``
  (:class:`irkit.tuning.Tune` chooses it over every topic at once).

Encoding a collection (``irkit encode --engine ray``) is Ray Data ``map_batches`` over
encoder actors (:mod:`irkit.engine.encoding`).

Ray is imported only when ``engine="ray"`` is used. A cluster is joined from
``address`` / ``RAY_ADDRESS``, or a local one is started (:mod:`irkit.engine.cluster`);
in Python it stays up for the next call (``irkit.engine.cluster.shutdown()`` stops it).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from irkit import registry
from irkit.engine.config import ENGINES, EngineConfig, engine_config
from irkit.pipeline import Transformer, set_quiet

if TYPE_CHECKING:
    import pandas as pd


class EngineStage(Transformer):
    """Registered model ``name`` built into a stage and run on ``engine`` (see :func:`stage`).

    ``on_progress`` (a function of a dict, called after each finished Ray task) and
    ``tasks_per_worker`` (topic groups per actor) tune a Ray run; ``stats`` holds its
    :class:`irkit.engine.cluster.JobStats`."""

    def __init__(self, name: str, options: dict[str, Any] | None = None, context: registry.Context | None = None,
                 engine: Any = "local") -> None:  # fmt: skip
        self.entry = registry.get(name)
        self.name = self.entry.name
        self.options = {k: v for k, v in (options or {}).items() if v is not None}
        self.context = context or registry.Context()
        self.engine = engine_config(engine)
        # Bad options fail here, before a cluster starts.
        self.tuned = bool(registry.prepare(self.entry, self.options, self.context)[1])
        self.on_progress: Any = None
        self.tasks_per_worker = 1
        self.stats: Any = None
        self._stage: Transformer | None = None

    def params(self) -> dict[str, Any]:  # where it runs is not what it computes: not in repr
        return dict(self.options)

    def built(self) -> Transformer:
        """The model's stage, built once (with the engine when the model shards itself)."""
        if self._stage is None:
            engine = self.engine if self.engine.name != "local" and self.entry.scale == "shard" else None
            context = dataclasses.replace(self.context, quiet=self.quiet or self.context.quiet, engine=engine)
            self._stage = registry.build(self.name, self.options, context)
        set_quiet(self._stage, self.quiet or self.context.quiet)
        return self._stage

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        cfg, scale, quiet = self.engine, self.entry.scale, self.quiet or self.context.quiet
        if cfg.name == "local" or scale in ("shard", "driver") or self.tuned:
            if cfg.name != "local" and scale != "shard":
                from irkit.progress import log

                why = "an option given as auto is tuned over every topic" if self.tuned else "the registry says so"
                log(f"{self.name} runs on the driver ({why})", quiet)
            return self.built().transform(frame)
        from irkit.engine.cluster import connect

        connect(cfg.address, quiet=quiet)
        if scale == "batch":
            from irkit.engine.dense import on_encoder_actors

            run, self.stats = on_encoder_actors(self.built(), frame, cfg.resolved_workers(), quiet, self.on_progress)
            return run
        from irkit.engine.topics import by_topic

        run, self.stats = by_topic(self.name, self.options, self.context, frame, cfg.resolved_workers(),
                                   self.tasks_per_worker, quiet, self.on_progress)  # fmt: skip
        return run


def stage(name: str, engine: Any = "local", *, index: Any = None, hits: int = 1000, threads: int | None = None,
          seed: int = 0, qrels: pd.DataFrame | None = None, **options: Any) -> EngineStage:  # fmt: skip
    """Registered model ``name`` (``irkit models``) as a pipeline stage that runs on ``engine`` (a name
    or an :class:`EngineConfig`), with the model's options and ``irkit rank``'s settings:
    ``stage("desm", engine="ray", index=ix, model="models/desm", alpha=0.3)``. Its output is that
    of ``registry.build(name, options, Context(index, hits, ...))``, the local stage."""
    context = registry.Context(index=index, hits=int(hits), threads=threads, seed=seed, qrels=qrels)
    return EngineStage(name, options, context, engine)


def encode(model: Any, index: Any, engine: Any = "local", batch_size: int = 256, quiet: bool = False) -> Any:
    """Encode every document of ``index`` with the encoder folder ``model`` (see :func:`irkit.engine.encoding.encode_index`)."""
    from irkit.engine.encoding import encode_index

    return encode_index(model, index, engine=engine, batch_size=batch_size, quiet=quiet)


__all__ = ["ENGINES", "EngineConfig", "EngineStage", "encode", "engine_config", "stage"]
