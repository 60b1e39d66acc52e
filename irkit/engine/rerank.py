"""Reranking on Ray: topics split across a pool of actors (DESM, IRGAN).

Each worker is a Ray actor that runs the model's own ``rank(request)`` (the one
``irkit rank`` calls locally) on a group of whole topics, so each topic is scored
by exactly the code, and with exactly the arithmetic, of the local path; the
driver concatenates the groups' runs. This is only right for models that score a
topic without looking at other topics, which is why the models are listed here
(:data:`PER_TOPIC`) rather than assumed: DESM whose ``alpha`` is tuned by
cross-validation over all topics is refused. DESM's and IRGAN's runs are
byte-identical to the local ones (tested).

DocNADE and SeqAE are not split by topic: their encoder's batches (texts sorted by
length, padded to the longest) would differ from the local run's and change scores in
the last float32 bit. They run their own stage on the driver with the encoding sent to
actors in exactly the local batches (:mod:`irkit.engine.dense`), so their runs are
byte-identical too (tested).

By default every worker gets one group (``tasks_per_worker=1``), so each actor
loads its model once. More groups per worker balance the load and show finer
progress; a model whose loader caches per process (DESM) still loads once.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from typing import Any

import numpy as np
import pandas as pd

from irkit.errors import IrkitError
from irkit.frames import cut_run, queries_frame, rank_run, run_frame
from irkit.progress import log
from irkit.registry import RankRequest

PER_TOPIC = ("desm", "irgan")  # split by topic here
RAY_MODELS = ("bm25", *PER_TOPIC, "docnade", "seqae")  # bm25: engine.bm25; docnade, seqae: engine.dense


def check_splittable(name: str, request: RankRequest, opts: dict[str, Any]) -> None:
    """Raise :class:`IrkitError` unless model ``name`` scores each topic on its own for this request
    (``opts``: its parsed options)."""
    if name not in RAY_MODELS or name == "bm25":
        raise IrkitError(f"--engine ray runs {', '.join(RAY_MODELS)}; run {name!r} with --engine local")
    if name == "desm" and request.candidates is not None and opts.get("alpha") is None:
        raise IrkitError(
            "--engine ray splits topics across workers, but choosing DESM's --alpha by cross-validation needs "
            "every topic at once: pass --alpha, or use --engine local"
        )


def topic_groups(qids: list[str], weights: dict[str, int], groups: int) -> list[list[str]]:
    """Split ``qids`` (kept in order) into at most ``groups`` contiguous groups of about equal total weight."""
    groups = max(1, min(groups, len(qids)))
    w = np.array([max(1, weights.get(q, 1)) for q in qids], dtype=np.float64)
    cuts = np.searchsorted(np.cumsum(w), np.arange(1, groups) * w.sum() / groups, side="left")
    bounds = [0, *sorted({int(c) + 1 for c in cuts if 0 <= c < len(qids) - 1}), len(qids)]
    return [qids[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _worker_class():
    import ray

    @ray.remote(num_cpus=1)
    class RankWorker:
        """Runs one registered model's ``rank(request)`` on groups of topics."""

        def __init__(self, name: str, ledger: str) -> None:
            os.environ["IRKIT_QUIET"] = "1"  # the driver shows progress; workers' bars would interleave
            from irkit.engine.cluster import ledger_of

            self.ledger = ledger_of(ledger)
            ray.get(self.ledger.worker.remote(name, os.getpid()))

        def rank(self, key: str, model: str, request: RankRequest) -> tuple[pd.DataFrame, float]:
            from irkit import registry

            ray.get(self.ledger.task.remote(key, os.getpid()))
            start = time.perf_counter()
            run = registry.rank(model, request)
            busy = time.perf_counter() - start
            self.ledger.done.remote(key)
            return run, busy

    return RankWorker


def ray_rank(
    name: str,
    request: RankRequest,
    opts: dict[str, Any],
    workers: int,
    tasks_per_worker: int = 1,
    on_progress=None,
) -> tuple[pd.DataFrame, Any]:
    """Run model ``name`` on ``request`` with its topics split over ``workers`` actors.

    Returns ``(run, stats)``; the run equals ``registry.rank(name, request)``'s. DocNADE and SeqAE
    are not split by topic: :func:`irkit.engine.dense.ray_dense_rank` runs them."""
    import ray

    from irkit.engine.cluster import Task, actor_options, new_ledger, run_tasks

    check_splittable(name, request, opts)
    if name not in PER_TOPIC:  # docnade, seqae: encoded on Ray in the local batches, scored here
        from irkit.engine.dense import ray_dense_rank

        return ray_dense_rank(name, request, workers=workers, on_progress=on_progress)
    queries = queries_frame(request.queries)
    if request.candidates is not None:
        cand = cut_run(run_frame(request.candidates), request.depth)
        missing = sorted(set(cand["qid"]) - set(queries["qid"]))
        if missing:
            from irkit.errors import InputError

            raise InputError(f"the run has topics that the topics file lacks: {missing[:5]}")
        weights = cand.groupby("qid").size().to_dict()
        # Topics without candidates have nothing to rerank (every model leaves them out).
        qids = [q for q in queries["qid"] if q in weights]
        if len(qids) < len(queries):
            log(f"{len(queries) - len(qids)} topic(s) have no candidates and are left out", request.quiet)
        if not qids:
            from irkit.errors import InputError

            raise InputError("no candidates to rerank")
    else:
        cand = None
        weights = {}
        qids = list(queries["qid"])
    groups = topic_groups(qids, weights, workers * max(1, tasks_per_worker))
    workers = min(workers, len(groups))
    ledger, ledger_name = new_ledger()
    Worker = _worker_class()
    actors = [Worker.options(**actor_options(workers)).remote(f"w{i}", ledger_name) for i in range(workers)]
    tasks = []
    for g, group in enumerate(groups):
        keep = set(group)
        sub = dataclasses.replace(
            request,
            queries=queries[queries["qid"].isin(keep)].reset_index(drop=True),
            candidates=None if cand is None else cand[cand["qid"].isin(keep)].reset_index(drop=True),
            threads=1,  # one CPU per actor
            options=dict(request.options),
            quiet=True,
        )
        actor = actors[g % workers]
        key = f"topics[{g}]"
        tasks.append(
            Task(key, f"w{g % workers}", (lambda a=actor, k=key, s=sub: a.rank.remote(k, name, s)), len(group))
        )
    try:
        results, stats = run_tasks(
            tasks, ledger, unit="topics", desc=f"{name} on Ray", quiet=request.quiet, on_progress=on_progress
        )
    finally:
        for a in actors:
            ray.kill(a)
        ray.kill(ledger)
    runs = [results[t.key] for t in tasks if len(results[t.key])]
    run = (
        rank_run(run_frame(pd.concat(runs, ignore_index=True)))
        if runs
        else run_frame(pd.DataFrame(columns=["qid", "docno", "score"]))
    )
    log(f"ray: {name}: {stats.describe()}", request.quiet)
    return run, stats
