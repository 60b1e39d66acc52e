"""A stage on Ray, split by topic: the registry's models whose scale is ``"topic"``.

Each worker is a Ray actor that builds the model's stage once (:func:`irkit.registry.build`,
with the driver's options and context) and runs its ``transform`` on groups of whole topics,
so each topic is scored by exactly the code, and with exactly the arithmetic, of the local
path; the driver concatenates the groups' runs in the input's topic order (the local stage may
order topics otherwise; the run file, ranked by topic, is the same byte for byte). The registry says
which models score a topic without looking at other topics (DESM, IRGAN, LambdaMART, QL,
RM3); an option given as ``auto`` (tuned over every topic) runs on the driver instead
(:mod:`irkit.engine`). QL and RM3 workers each open the Lucene index through Pyserini.

By default every worker gets one group (``tasks_per_worker=1``), so each actor
builds its stage once. More groups per worker balance the load and show finer
progress.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import numpy as np
import pandas as pd


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
    class TopicWorker:
        """Builds one registered model's stage once; runs its ``transform`` on groups of topics."""

        def __init__(self, name: str, model: str, options: dict[str, Any], context: Any, ledger: str) -> None:
            os.environ["IRKIT_QUIET"] = "1"  # the driver shows progress; workers' bars would interleave
            from irkit import registry
            from irkit.engine.cluster import ledger_of
            from irkit.pipeline import set_quiet

            self.ledger = ledger_of(ledger)
            ray.get(self.ledger.worker.remote(name, os.getpid()))
            self.stage = registry.build(model, options, context)
            set_quiet(self.stage, True)

        def transform(self, key: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, float]:
            ray.get(self.ledger.task.remote(key, os.getpid()))
            start = time.perf_counter()
            run = self.stage.transform(frame)
            busy = time.perf_counter() - start
            self.ledger.done.remote(key)
            return run, busy

    return TopicWorker


def by_topic(name: str, options: dict[str, Any], context: Any, frame: pd.DataFrame, workers: int,
             tasks_per_worker: int = 1, quiet: bool = False, on_progress=None) -> tuple[pd.DataFrame, Any]:  # fmt: skip
    """Model ``name``'s stage (built from ``options`` and ``context``) over ``frame`` (queries or a
    run), its topics split over ``workers`` actors: returns ``(run, stats)``; the run is the local one."""
    import dataclasses

    import ray

    from irkit.engine.cluster import Task, actor_options, new_ledger, run_tasks
    from irkit.progress import log

    qids = list(dict.fromkeys(frame["qid"]))
    weights = frame.groupby("qid").size().to_dict() if "docno" in frame.columns else {}
    groups = topic_groups(qids, weights, workers * max(1, tasks_per_worker))
    workers = max(1, min(workers, len(groups)))
    context = dataclasses.replace(context, threads=1, quiet=True)  # one CPU per actor
    ledger, ledger_name = new_ledger()
    Worker = _worker_class()
    actors = [Worker.options(**actor_options(workers)).remote(f"w{i}", name, options, context, ledger_name)
              for i in range(workers)]  # fmt: skip
    tasks = []
    for g, group in enumerate(groups):
        part = frame[frame["qid"].isin(set(group))].reset_index(drop=True)
        actor, key = actors[g % workers], f"topics[{g}]"
        tasks.append(Task(key, f"w{g % workers}", (lambda a=actor, k=key, p=part: a.transform.remote(k, p)),
                          len(group)))  # fmt: skip
    try:
        results, stats = run_tasks(tasks, ledger, unit="topics", desc=f"{name} on Ray", quiet=quiet,
                                   on_progress=on_progress)  # fmt: skip
    finally:
        for a in actors:
            ray.kill(a)
        ray.kill(ledger)
    runs = [results[t.key] for t in tasks]
    log(f"ray: {name}: {stats.describe()}", quiet)
    if not runs:
        from irkit.retrieve.base import empty_run

        return empty_run(), stats
    # Whole topics, in the input's topic order; each topic's rows are the local run's (a written run,
    # ranked by topic, is the local file byte for byte).
    return pd.concat([r for r in runs if len(r)] or runs[:1], ignore_index=True), stats
