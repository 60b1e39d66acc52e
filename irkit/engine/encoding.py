"""Encoding documents on Ray: Ray Data ``map_batches`` over a pool of encoder actors.

The local path (:meth:`irkit.dense.encoders.DenseEncoder.encode_tokens`) sorts the
documents by their number of known words and encodes them in batches of
``batch_size``. The Ray path makes exactly the same batches on the driver and
hands each one, whole, to an actor that loads the encoder once and calls
``encode_tokens`` on it. Each batch is then computed with the same rows, order and
padding as locally, and unit-normalisation is per row, so the vectors are
float32-identical to the local ones; the driver puts them back in docno order.

Document analysis (Lucene's analyser, in the JVM) stays on the driver, as it is
in the local path; the encoder actors need no JVM.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from irkit.engine.cluster import JobStats
from irkit.errors import InputError, IrkitError
from irkit.progress import _quiet, log


def batch_plan(encoder, tokens: Sequence[Sequence[str]], batch_size: int) -> list[list[int]]:
    """The batches (lists of document positions) the local path encodes, in its order."""
    lengths = [len(encoder.vocab.ids(d, encoder.unk)) for d in tokens]
    order = sorted(range(len(tokens)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class EncodeWorker:
    """A Ray Data actor: loads the encoder once, encodes one local batch per call."""

    def __init__(self, model: str, ledger: str) -> None:
        import ray

        os.environ["IRKIT_QUIET"] = "1"
        from irkit.dense.encoders import load_encoder

        self.encoder = load_encoder(model, threads=1)
        from irkit.engine.cluster import ledger_of

        self.ledger = ledger_of(ledger)
        self.name = ray.get_runtime_context().get_actor_id()[:8]
        ray.get(self.ledger.worker.remote(self.name, os.getpid()))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import ray

        pos, vecs, busy = [], [], []
        for chunk, docs in zip(batch["chunk"], batch["docs"], strict=True):
            ray.get(self.ledger.task.remote(f"batch[{int(chunk)}]", os.getpid()))
            start = time.perf_counter()
            positions, token_lists = json.loads(docs)
            # One call, one batch: the same rows and padding as the local path's batch.
            vecs.append(self.encoder.encode_tokens(token_lists, batch_size=max(1, len(token_lists))))
            pos.append(np.asarray(positions, dtype=np.int64))
            busy.append(np.full(len(positions), (time.perf_counter() - start) / max(1, len(positions))))
            self.ledger.done.remote(f"batch[{int(chunk)}]")
        n = sum(len(p) for p in pos)
        return {
            "pos": np.concatenate(pos) if pos else np.empty(0, dtype=np.int64),
            "vector": np.concatenate(vecs) if vecs else np.empty((0, self.encoder.dim), dtype=np.float32),
            "busy": np.concatenate(busy) if busy else np.empty(0),
            "worker": np.array([self.name] * n, dtype=object),
        }


def ray_encode_tokens(
    model: str | os.PathLike[str],
    encoder,
    tokens: Sequence[Sequence[str]],
    workers: int,
    batch_size: int = 256,
    quiet: bool = False,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[np.ndarray, JobStats]:
    """Unit float32 vectors of analysed documents (input order), encoded by ``workers`` actors.

    ``encoder`` is the model loaded on the driver (its vocabulary makes the batch plan);
    ``model`` is its folder, which every worker loads itself (it must be visible there).
    ``on_progress`` gets a dict when the job starts (``key`` None) and after each batch
    (``key, done, total, ledger``), as :func:`irkit.engine.cluster.run_tasks` gives it.

    Faults: the pool's actors are restarted (``MAX_RESTARTS``) and the batch a dead actor was
    encoding is redone (``MAX_TASK_RETRIES``); the ledger counts both.
    """
    import ray
    import ray.data
    from tqdm.auto import tqdm

    from irkit.engine.cluster import MAX_RESTARTS, MAX_TASK_RETRIES, cluster_cpus, new_ledger

    if batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the driver shows one bar of its own
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)

    plan = batch_plan(encoder, tokens, batch_size)
    rows = [{"chunk": c, "docs": json.dumps([chunk, [list(tokens[i]) for i in chunk]])} for c, chunk in enumerate(plan)]
    out = np.zeros((len(tokens), encoder.dim), dtype=np.float32)
    filled = np.zeros(len(tokens), dtype=bool)
    stats = JobStats(unit="docs")
    ledger, ledger_name = new_ledger()
    start = time.perf_counter()
    # Ray Data restarts a pool's actors and retries their tasks forever by default, which loops on an
    # actor that dies on every batch; irkit bounds both as for its other actors. Ray 2.60 takes them
    # only as ray_remote_args (deprecated, to go in Ray 2.64): given while map_batches takes them,
    # without its deprecation warning on every run.
    takes = "ray_remote_args" in inspect.signature(ray.data.Dataset.map_batches).parameters
    bounds = {"max_restarts": MAX_RESTARTS, "max_task_retries": MAX_TASK_RETRIES} if takes else {}
    try:  # the ledger goes, whatever happens
        if rows:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
                ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
                    EncodeWorker,
                    fn_constructor_kwargs={"model": str(model), "ledger": ledger_name},
                    batch_size=1,
                    compute=ray.data.ActorPoolStrategy(size=max(1, workers)),
                    num_cpus=min(1.0, cluster_cpus() / max(1, workers)),  # all of the pool must fit
                    batch_format="numpy",
                    **bounds,
                )
            bar = tqdm(total=len(tokens), desc=f"encoding ({encoder.kind}) on Ray", unit="doc", disable=_quiet(quiet))
            if on_progress is not None:
                on_progress({"key": None, "done": 0, "total": len(tokens), "ledger": ledger})
            try:
                for b in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
                    out[b["pos"]] = b["vector"]
                    filled[b["pos"]] = True
                    for w in set(b["worker"]):
                        mine = b["worker"] == w
                        acc = stats.per_worker.setdefault(str(w), [0.0, 0.0])
                        acc[0] += int(mine.sum())
                        acc[1] += float(b["busy"][mine].sum())
                    stats.items += len(b["pos"])
                    bar.update(len(b["pos"]))
                    if on_progress is not None:
                        on_progress({"key": "batch", "done": stats.items, "total": len(tokens), "ledger": ledger})
                    bar.set_postfix_str(" ".join(f"{w}={r:,.0f}/s" for w, r in sorted(stats.rates().items())),
                                        refresh=False)  # fmt: skip
            except ray.exceptions.RayError as e:
                raise IrkitError(f"encoding on Ray failed: {str(e).strip().splitlines()[-1]}") from None
            finally:
                bar.close()
        stats.seconds = time.perf_counter() - start
        summary = ray.get(ledger.summary.remote())
        stats.retries, stats.restarts = summary["retries"], summary["restarts"]
    finally:
        ray.kill(ledger)
    if not filled.all():
        raise IrkitError(f"encoding on Ray lost {int((~filled).sum())} documents")
    log(f"ray: encoding: {stats.describe()}", quiet)
    return out, stats


def encode_on_engine(cfg, model, encoder, tokens: Sequence[Sequence[str]], batch_size: int, quiet: bool) -> np.ndarray:
    """``irkit encode --engine ray``: join or start the cluster, encode, stop a cluster started here."""
    from irkit.engine.cluster import connect, shutdown

    connect(cfg.address, quiet=quiet)
    try:
        vectors, _ = ray_encode_tokens(model, encoder, tokens, cfg.resolved_workers(), batch_size, quiet)
    finally:
        shutdown()
    return vectors


def encode_index(
    model: str | os.PathLike[str],
    index,
    engine: Any = "local",
    batch_size: int = 256,
    threads: int = 1,
    quiet: bool = False,
):
    """Encode every document of ``index`` with the encoder in ``model``; returns
    :class:`irkit.dense.faiss_index.Vectors` (docno order as ``irkit encode`` writes them)."""
    from pathlib import Path

    from irkit.dense.encoders import load_encoder
    from irkit.dense.faiss_index import Vectors
    from irkit.dense.vocab import index_tokens
    from irkit.engine.config import engine_config

    cfg = engine_config(engine)
    encoder = load_encoder(model, threads=threads or None)
    docnos, tokens = index_tokens(index, quiet=quiet)
    if cfg.name == "ray":
        from irkit.engine.cluster import connect

        connect(cfg.address, quiet=quiet)
        vectors, _ = ray_encode_tokens(model, encoder, tokens, cfg.resolved_workers(), batch_size, quiet)
    else:
        vectors = encoder.encode_tokens(tokens, batch_size=batch_size, quiet=quiet)
    meta = {
        "encoder": str(Path(model).resolve()),
        "encoder_kind": encoder.kind,
        "index": str(Path(index if not hasattr(index, "path") else index.path).resolve()),
        "dim": encoder.dim,
        "documents": len(docnos),
    }
    return Vectors(vectors, docnos, meta)
