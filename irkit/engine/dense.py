"""A stage on Ray, its encoding batches on actors: the registry's models whose scale is ``"batch"``
(DocNADE, SeqAE). The encoding runs on a pool of encoder actors, the scoring on the driver.

A dense model's cost is its encoder; its scores are one inner product per candidate (or a
FAISS search). The local encoder sorts the texts it is given by length and pads each batch
to its longest text, so a vector depends, in its last float32 bit, on which batch it was
computed in: splitting topics across workers (as :mod:`irkit.engine.topics` does for DESM
and IRGAN) would encode a group's queries, and without FAISS its candidate documents, in
other batches than the local run, and change a few scores in the last bit.

So the Ray path runs the model's own stage (:class:`irkit.dense.rank.DenseRetriever`; any stage
whose ``encoder`` attribute is an irkit dense encoder) on the driver with its encoder replaced
by :class:`RayEncoder`: every ``encode_tokens`` call makes
exactly the local batches (:func:`irkit.engine.encoding.batch_plan`) and sends each one,
whole, to an actor that encodes it with the same model, so every vector is the local one,
bit for bit, and so is every score and the run. The driver's part (analysing the texts,
the inner products, a FAISS search) is what the local run does too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from irkit.engine.cluster import JobStats


def _actor_class():
    import ray

    @ray.remote(num_cpus=1)
    class EncoderActor:
        """Loads the encoder once; encodes one whole local batch per call."""

        def __init__(self, name: str, model: str, threads: int | None, ledger: str) -> None:
            os.environ["IRKIT_QUIET"] = "1"
            from irkit.dense.encoders import load_encoder
            from irkit.engine.cluster import ledger_of

            # The driver's torch thread count: the same arithmetic as the local encoder's.
            self.encoder = load_encoder(model, threads=threads)
            self.ledger = ledger_of(ledger)
            ray.get(self.ledger.worker.remote(name, os.getpid()))

        def encode(self, key: str, docs: list[list[str]]) -> tuple[np.ndarray, float]:
            ray.get(self.ledger.task.remote(key, os.getpid()))
            start = time.perf_counter()
            # One call, one batch: the rows, order and padding of the local path's batch.
            vectors = self.encoder.encode_tokens(docs, batch_size=max(1, len(docs)))
            busy = time.perf_counter() - start
            self.ledger.done.remote(key)
            return vectors, busy

    return EncoderActor


class RayEncoder:
    """Stands in for a :class:`irkit.dense.encoders.DenseEncoder` (``encode``, ``encode_tokens``;
    everything else is the wrapped encoder's): the local batches, each encoded by one actor."""

    def __init__(self, encoder, workers: int, quiet: bool = False, on_progress=None) -> None:
        from irkit.engine.cluster import actor_options, new_ledger

        self.inner = encoder
        self.quiet, self.on_progress = quiet, on_progress
        self.ledger, ledger_name = new_ledger()
        Actor = _actor_class()
        self.actors = [
            Actor.options(**actor_options(workers)).remote(f"w{i}", str(encoder.path), encoder.threads, ledger_name)
            for i in range(workers)
        ]
        self.stats = JobStats(unit="docs")
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (a failed __init__): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def encode(self, texts: Sequence[str], quiet: bool = True) -> np.ndarray:
        # The local rule (analyse, then encode_tokens), calling this object's encode_tokens.
        return type(self.inner).encode(self, texts, quiet=quiet)

    def encode_tokens(self, docs: Sequence[Sequence[str]], batch_size: int = 256, quiet: bool = True) -> np.ndarray:
        """Unit float32 vectors of analysed documents, in input order: the local encoder's, bit for bit."""
        from irkit.engine.cluster import Task, run_tasks
        from irkit.engine.encoding import batch_plan

        plan = batch_plan(self.inner, docs, batch_size)
        call, self.calls = self.calls, self.calls + 1
        tasks = []
        for j, chunk in enumerate(plan):
            key, w = f"encode{call}/batch{j}", j % len(self.actors)
            batch = [list(docs[i]) for i in chunk]
            tasks.append(Task(key, f"w{w}", (lambda a=self.actors[w], k=key, b=batch: a.encode.remote(k, b)),
                              len(chunk)))  # fmt: skip
        out = np.zeros((len(docs), self.inner.dim), dtype=np.float32)
        if not tasks:
            return out
        results, stats = run_tasks(tasks, self.ledger, unit="docs", desc=f"encoding ({self.inner.kind}) on Ray",
                                   quiet=self.quiet, on_progress=self.on_progress)  # fmt: skip
        for j, chunk in enumerate(plan):
            out[chunk] = results[f"encode{call}/batch{j}"]
        self.stats.items += stats.items
        self.stats.seconds += stats.seconds
        for w, (n, s) in stats.per_worker.items():
            acc = self.stats.per_worker.setdefault(w, [0.0, 0.0])
            acc[0] += n
            acc[1] += s
        self.stats.retries, self.stats.restarts = stats.retries, stats.restarts  # the job's ledger: cumulative
        return out

    def close(self) -> None:
        import ray

        for a in self.actors:
            ray.kill(a)
        ray.kill(self.ledger)


def on_encoder_actors(stage: Any, frame: pd.DataFrame, workers: int, quiet: bool = False,
                      on_progress=None) -> tuple[pd.DataFrame, JobStats]:  # fmt: skip
    """``stage.transform(frame)`` with ``stage.encoder``'s batches encoded on ``workers`` actors:
    returns ``(run, stats)``; the run is the local one, byte for byte."""
    from irkit.progress import log

    local = stage.encoder
    encoder = RayEncoder(local, workers, quiet=quiet, on_progress=on_progress)
    stage.encoder = encoder
    try:
        run = stage.transform(frame)
    finally:
        stage.encoder = local
        encoder.close()
    stats = encoder.stats
    log(f"ray: {stage.name}: encoded on {len(encoder.actors)} worker(s), scored on the driver: {stats.describe()}",
        quiet)  # fmt: skip
    return run, stats
