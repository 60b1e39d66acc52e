"""Sharded BM25 on Ray: one actor per document shard, the exact merge on the driver.

The driver analyses the queries once (the index's Lucene analyser), sends them in
batches to every shard actor, and merges each batch's per-shard top-k lists
(:mod:`irkit.engine.shards`). A shard actor opens its part memory-mapped when it
starts, and again if Ray restarts it after a crash; it needs no JVM. Its ``ready``
call reports what it opened (or why it could not), so an unreachable path or a
shard of another index is named before any query is scored.

``--index`` is either an irkit index with an impact part (sharded on the fly into
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
from irkit.frames import cut_run, queries_frame, rank_run, run_frame
from irkit.pipeline import Transformer
from irkit.progress import log
from irkit.registry import RankRequest

QUERY_BATCH = 64  # queries per task: small enough to show progress and redo little after a crash


def check_request(request: RankRequest, opts: dict[str, Any]) -> None:
    """Refuse, before a cluster starts, what sharded BM25 cannot do."""
    if opts.get("backend") not in (None, "impact"):
        raise IrkitError("--engine ray shards irkit's impact index: use --backend impact (the default)")
    request.require_index()


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


def ray_bm25_rank(
    request: RankRequest, opts: dict[str, Any], shards: int, on_progress=None, batch: int = QUERY_BATCH
) -> tuple[pd.DataFrame, Any]:
    """``irkit rank --model bm25 --engine ray``: returns ``(run, stats)``; the run is the local one.

    ``opts``: the model's options (``k1``, ``b``); ``shards``: doc-id ranges when ``--index`` is an
    index (a written shard set has its own number); one actor per shard."""
    import ray

    from irkit.engine.cluster import Task, actor_options, new_ledger, run_tasks
    from irkit.engine.shards import identity, is_shard_set, merge, ranges, read_shard_set
    from irkit.index.impact import ImpactIndex
    from irkit.index.lucene import LuceneIndex
    from irkit.retrieve import impact

    check_request(request, opts)
    path = request.require_index()
    if is_shard_set(path):
        sset = read_shard_set(path)
        source = sset.source
        plan = [(str(p), None) for p, _ in sset.shards]
        expected = sset.identity
    else:
        source = path
        plan = None
        expected = None
    lucene = LuceneIndex(source)
    ix = ImpactIndex.open(source, lucene=lucene)  # the driver's reference: identity, docnos, docno order
    if expected is not None and expected != identity(ix.meta):
        raise InputError(f"the shard set was written from another index than {source} (or an older version of it)",
                         path)  # fmt: skip
    expected = identity(ix.meta)
    if plan is None:
        plan = [(str(source), r) for r in ranges(ix.max_doc, shards)]
    k1 = float(opts["k1"] if opts.get("k1") is not None else 0.9)
    b = float(opts["b"] if opts.get("b") is not None else 0.4)
    queries = queries_frame(request.queries)
    for qid, text in zip(queries["qid"], queries["query"], strict=True):
        if not text.strip():
            raise InputError(f"topic {qid} has an empty query")
    hits = int(request.hits)
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
            tasks, ledger, unit="queries", desc=f"BM25 on {len(actors)} shards", quiet=request.quiet,
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
    qids = list(queries["qid"])
    counts = np.concatenate([t.counts for t in tops]) if tops else np.zeros(0, dtype=np.int64)
    empty = [q for q, n in zip(qids, counts, strict=True) if n == 0]
    if empty:
        log(f"{len(empty)} topic(s) matched no document (all words stopwords or unknown?): {empty[:5]}", request.quiet)
    if len(empty) == len(qids):
        run = run_frame(pd.DataFrame(columns=["qid", "docno", "score"]))
    else:
        top = impact.TopK(
            docs=np.concatenate([t.docs for t in tops]),
            scores=np.concatenate([t.scores for t in tops]),
            keys=np.concatenate([t.keys for t in tops]),
            counts=counts,
        )
        run = impact.run_from_topk(qids, top, lucene.docnos)
    if request.candidates is not None:  # as the local `irkit rank --model bm25 --rerank RUN` does
        keep = cut_run(run_frame(request.candidates), request.depth)[["qid", "docno"]]
        run = rank_run(run.merge(keep, on=["qid", "docno"]))
    log(f"ray: BM25 over {len(actors)} shards on {stats.nodes} node(s): {stats.describe()}", request.quiet)
    return run, stats


class ShardedBM25(Transformer):
    """BM25 on Ray as a pipeline stage (:mod:`irkit.pipeline`): ``ShardedBM25(index, shards=3) % 100 >> desm``.

    Queries in, the top ``hits`` per query out, equal to ``BM25(index)``'s run; a run in, its
    candidates rescored (those in BM25's top ``hits``), as ``BM25.transform`` does. ``index`` is an
    irkit index with an impact part or a shard set from ``irkit shard``; ``address`` a Ray cluster
    (default: ``RAY_ADDRESS``, else a local one is started)."""

    name = "bm25"

    def __init__(self, index, k1: float = 0.9, b: float = 0.4, hits: int = 1000, shards: int | None = None,
                 address: str | None = None, quiet: bool = False):  # fmt: skip
        from pathlib import Path

        if hits < 1:
            raise InputError(f"hits must be at least 1 (got {hits})")
        self.index = Path(getattr(index, "path", index))
        self.k1, self.b, self.hits, self.shards, self.address, self.quiet = k1, b, hits, shards, address, quiet
        self.stats = None  # JobStats of the last call

    def params(self) -> dict:
        return {k: v for k, v in (("k1", self.k1), ("b", self.b)) if v != {"k1": 0.9, "b": 0.4}[k]}

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        from irkit.engine.cluster import cluster_cpus, connect

        connect(self.address, quiet=self.quiet)
        queries = frame if "docno" not in frame.columns else frame[["qid", "query"]].drop_duplicates("qid")
        request = RankRequest(queries=queries_frame(queries), index=self.index, hits=self.hits, quiet=self.quiet)
        run, self.stats = ray_bm25_rank(request, {"k1": self.k1, "b": self.b}, shards=self.shards or cluster_cpus())
        if "docno" in frame.columns:
            run = rank_run(run.merge(frame[["qid", "docno"]], on=["qid", "docno"]))
        return run
