"""Sharded BM25 on Ray: one actor per document shard, the exact merge on the driver.

This is how ``BM25(index, engine="ray")`` (:class:`irkit.retrieve.bm25.BM25`; the registry's
``bm25`` scales by document shard) searches. The driver analyses the queries once (the
index's Lucene analyser), sends them in batches to every shard actor, and merges each batch's
per-shard top-k lists (:mod:`irkit.engine.shards`). A shard actor opens its part
memory-mapped when it starts, and again if Ray restarts it after a crash; it needs no JVM.
Its ``ready`` call reports what it opened (or why it could not), so an unreachable path or a
shard of another index is named before any query is scored.

The stage's index is either an irkit index with an impact part (sharded on the fly into
``shards`` doc-id ranges) or a shard set written by ``irkit shard``.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import numpy as np
import pandas as pd

from irkit.errors import InputError, IrkitError

QUERY_BATCH = 64  # queries per task: small enough to show progress and redo little after a crash


def _shard_class():
    import ray

    @ray.remote(num_cpus=1)
    class ShardWorker:
        """Holds one shard, memory-mapped; scores batches of analysed queries on it."""

        def __init__(self, name: str, path: str, doc_range: tuple[int, int] | None, ledger: str,
                     k1: float, b: float) -> None:  # fmt: skip
            from irkit.engine.cluster import ledger_of
            from irkit.engine.shards import open_shard

            self.name, self.ledger = name, ledger_of(ledger)
            self.error: str | None = None
            self.shard = None
            try:
                self.shard = open_shard(path, doc_range)
                # Warm up while starting: the compiled kernel loads and the per-posting impacts for
                # (k1, b) are computed now, so that the job's startup, not its first batch, pays.
                from irkit.engine.shards import score_shard

                score_shard(self.shard, [[]], 1, k1, b)
            except Exception as e:  # reported by ready(), so the driver can name the shard and node
                self.error = str(e)
            ray.get(self.ledger.worker.remote(name, os.getpid()))

        def ready(self) -> dict[str, Any]:
            import ray

            return {
                "pid": os.getpid(),
                "node": ray.util.get_node_ip_address(),
                "node_id": ray.get_runtime_context().get_node_id(),
                "error": self.error,
                "identity": None if self.shard is None else self.shard.identity,
                "range": None if self.shard is None else list(self.shard.doc_range),
            }

        def search(self, key: str, queries: list[list[str]], hits: int, k1: float, b: float):
            from irkit.engine.shards import score_shard

            ray.get(self.ledger.task.remote(key, os.getpid()))
            start = time.perf_counter()
            keys, counts = score_shard(self.shard, queries, hits, k1, b)
            busy = time.perf_counter() - start
            self.ledger.done.remote(key)
            return (keys, counts), busy

    return ShardWorker


def search_shards(stage: Any, queries: pd.DataFrame, hits: int, quiet: bool = False, on_progress=None,
                  batch: int = QUERY_BATCH) -> tuple[pd.DataFrame, Any]:  # fmt: skip
    """The top ``hits`` of ``queries`` (checked by the stage) by BM25 ``stage`` over its document
    shards on its engine's cluster: returns ``(run, stats)``; the run is the local one.

    ``stage``: a :class:`irkit.retrieve.bm25.BM25` with ``engine="ray"`` (its Lucene index, impact
    index, ``k1``, ``b`` and ``shard_set``); one actor per shard."""
    import ray

    from irkit.engine.cluster import Task, actor_options, connect, new_ledger, run_tasks
    from irkit.engine.shards import identity, merge, ranges, read_shard_set
    from irkit.progress import log
    from irkit.retrieve import impact
    from irkit.retrieve.base import empty_run

    cfg = stage.engine
    connect(cfg.address, quiet=quiet)
    lucene, ix = stage.index, stage._impact  # the driver's reference: identity, docnos, docno order
    expected = identity(ix.meta)
    if stage.shard_set is not None:
        sset = read_shard_set(stage.shard_set)
        if sset.identity != expected:
            raise InputError(f"the shard set was written from another index than {sset.source} (or an older "
                             "version of it)", stage.shard_set)  # fmt: skip
        plan = [(str(p), None) for p, _ in sset.shards]
    else:
        plan = [(str(lucene.path), r) for r in ranges(ix.max_doc, cfg.resolved_shards())]
    path = stage.shard_set or lucene.path
    k1, b = float(stage.k1), float(stage.b)
    terms = impact.analyse(lucene, list(queries["query"]))

    started = time.perf_counter()
    ledger, ledger_name = new_ledger()
    Worker = _shard_class()
    actors = [
        Worker.options(**actor_options(len(plan))).remote(f"shard{i}", p, r, ledger_name, k1, b)
        for i, (p, r) in enumerate(plan)
    ]
    try:
        infos = ray.get([a.ready.remote() for a in actors])
        startup = time.perf_counter() - started
        for i, ((p, _), info) in enumerate(zip(plan, infos, strict=True)):
            if info["error"]:
                raise IrkitError(f"shard {i}: the worker on node {info['node']} cannot open it: {info['error']}")
            if info["identity"] != expected:
                raise InputError(
                    f"shard {i} belongs to another index (identity {info['identity']}, expected {expected}); "
                    "shards of different indexes cannot be merged",
                    p,
                )
        covered = sorted(tuple(info["range"]) for info in infos)
        if (
            covered[0][0] != 0
            or covered[-1][1] != ix.max_doc
            or any(a[1] != b[0] for a, b in itertools.pairwise(covered))
        ):
            raise InputError(f"the shards' document ranges {covered} do not tile 0..{ix.max_doc}", path)
        batches = [list(range(s, min(s + batch, len(terms)))) for s in range(0, len(terms), batch)]
        tasks = []
        for j, rows in enumerate(batches):
            qs = [terms[i] for i in rows]
            ref = ray.put(qs)  # one copy in the object store, read by every shard
            for i, a in enumerate(actors):
                key = f"batch{j}/shard{i}"
                tasks.append(Task(key, f"shard{i}", (lambda a=a, k=key, r=ref: a.search.remote(k, r, hits, k1, b)),
                                  len(rows)))  # fmt: skip
        results, stats = run_tasks(
            tasks, ledger, unit="queries", desc=f"BM25 on {len(actors)} shards", quiet=quiet,
            on_progress=on_progress, copies=len(actors),
        )  # fmt: skip
    finally:
        for a in actors:
            ray.kill(a)
        ray.kill(ledger)
    stats.items //= max(1, len(actors))  # each query was scored once per shard
    stats.nodes = len({info["node_id"] for info in infos})
    stats.startup_seconds = startup
    tops = [merge([results[f"batch{j}/shard{i}"] for i in range(len(actors))], hits, ix.docno_order)
            for j in range(len(batches))]  # fmt: skip
    log(f"ray: BM25 over {len(actors)} shards on {stats.nodes} node(s): {stats.describe()}", quiet)
    if not tops or not any(t.counts.any() for t in tops):
        return empty_run(), stats
    top = impact.TopK(
        docs=np.concatenate([t.docs for t in tops]),
        scores=np.concatenate([t.scores for t in tops]),
        keys=np.concatenate([t.keys for t in tops]),
        counts=np.concatenate([t.counts for t in tops]),
    )
    return impact.run_from_topk(list(queries["qid"]), top, lucene.docnos), stats
