"""Reaching a Ray cluster, and the driver loop that every Ray job of irkit shares.

:func:`connect` joins the cluster named by ``--ray-address`` or ``RAY_ADDRESS``, or
starts a local one on this machine (and says which). A local cluster binds
127.0.0.1 only: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is set before Ray is
imported, which makes Ray use the loopback address for its node, so no port is
opened on another interface.

:func:`run_tasks` submits every task to its actor up front, collects results as they
finish, shows progress (items done, per-worker rate) and counts retries. Faults:
actors are created with ``max_restarts``/``max_task_retries``, so when a worker
process dies Ray restarts it (re-running its constructor, which re-opens its shard
or reloads its model) and re-runs the task it was running and those queued behind
it. A :class:`Ledger` actor records every start of every task and every start of
every worker, so the driver can say how many tasks were redone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from irkit.errors import IrkitError
from irkit.progress import _quiet, log

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_RESTARTS = 4  # per worker; a worker that dies more often than this fails the job
MAX_TASK_RETRIES = 4
CONNECT_TIMEOUT_S = 5.0

_started_here = False  # this process started the local cluster it is connected to


def _loopback_only() -> None:
    # Read by Ray when it is imported (ray_constants.ENABLE_RAY_CLUSTER) and when a node
    # picks its address: with it off, a local node uses 127.0.0.1, never a public interface.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if "ray" in sys.modules:  # Ray was imported before: its constant was already read
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False


def _keep_the_jvm_signal_handlers() -> None:
    # Ray's core worker installs absl's failure signal handler (SIGSEGV and friends) in
    # the driver on ray.init, replacing the JVM's. The JVM raises SIGSEGV on purpose
    # (implicit null checks, stack banging in JIT-compiled code), so a Lucene search in
    # this process after ray.init crashed it (seen: a 10,000-term query). Ray reads this
    # variable when it is imported; it changes nothing else.
    os.environ["RAY_DISABLE_FAILURE_SIGNAL_HANDLER"] = "1"
    if "ray" in sys.modules:  # imported before: ray_constants read the variable already
        from ray._private import ray_constants

        ray_constants.RAY_DISABLE_FAILURE_SIGNAL_HANDLER = True


@contextlib.contextmanager
def _keep_the_sigterm_handler(ray) -> Iterator[None]:
    # ray.init makes SIGTERM call sys.exit in the driver (twice: its node and its worker). Where
    # the process has its own handler (the CLI's, irkit.io.atomic: it rolls the command's outputs
    # back and exits 143), that one stays, also while ray.init runs.
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None
    utils = ray._private.utils
    setter = utils.set_sigterm_handler
    if callable(before):
        utils.set_sigterm_handler = lambda handler: None
    try:
        yield
    finally:
        utils.set_sigterm_handler = setter
        if callable(before) and signal.getsignal(signal.SIGTERM) is not before:
            signal.signal(signal.SIGTERM, before)


def _probe(address: str) -> None:
    """Fail fast, in one line, when nothing listens at ``host:port`` (``ray.init`` would retry for minutes)."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise IrkitError(f"Ray address {address!r} is not HOST:PORT (or ray://HOST:PORT)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as e:
        raise IrkitError(
            f"cannot reach the Ray cluster at {address} ({e.strerror or e}); is `ray start --head` running there?"
        ) from None


def connect(address: str | None = None, cpus: int | None = None, quiet: bool = False) -> str:
    """Join a Ray cluster and return a one-line description of it.

    ``address`` (else ``RAY_ADDRESS``) names a running cluster (``HOST:PORT`` of its GCS,
    or ``ray://HOST:PORT``); with neither, a local cluster is started with ``cpus`` CPUs
    (default: this machine's cores) on 127.0.0.1, without the dashboard. An unreachable
    address raises :class:`IrkitError`. A session already connected in this process is reused.
    """
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address and address != "auto":
        host = address.removeprefix("ray://").rpartition(":")[0].strip("[]")
        if host in LOOPBACK:
            _loopback_only()
        _probe(address)
    elif not address:
        _loopback_only()
    _keep_the_jvm_signal_handlers()
    import ray

    if _quiet(quiet):  # Ray's notice that it turned token authentication on for the local cluster
        import logging

        logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)
    with _keep_the_sigterm_handler(ray):
        return _connect(ray, address, cpus, quiet)


def _connect(ray, address: str | None, cpus: int | None, quiet: bool) -> str:
    global _started_here
    if ray.is_initialized():
        what = "the Ray session already open in this process"
    elif address:
        try:
            ray.init(address=address, logging_level="WARNING", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise IrkitError(f"cannot connect to the Ray cluster at {address}: {str(e).splitlines()[0]}") from None
        what = f"the Ray cluster at {address}"
    else:
        # address="local": never join a cluster that a stale /tmp/ray file points at.
        ray.init(
            address="local",
            num_cpus=cpus or os.cpu_count() or 1,
            include_dashboard=False,
            logging_level="WARNING",
            log_to_driver=False,
        )
        _started_here = True
        what = "a local Ray cluster on 127.0.0.1 (no RAY_ADDRESS or --ray-address given)"
    resources = ray.cluster_resources()
    nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
    line = f"{what}: {nodes} node(s), {int(resources.get('CPU', 0))} CPU(s)"
    log(f"ray: using {line}", quiet)
    return line


def shutdown() -> None:
    """Stop the local cluster if this process started it (a joined cluster is left running)."""
    global _started_here
    if _started_here:
        import ray

        ray.shutdown()
        _started_here = False


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _ledger_class():
    import ray

    @ray.remote(num_cpus=0, max_restarts=0)
    class Ledger:
        """Counts task starts (a second start of a task is a retry) and worker (re)starts."""

        def __init__(self) -> None:
            self.starts: dict[str, int] = {}
            self.running: dict[str, int] = {}  # task key -> pid of the worker running it
            self.workers: dict[str, list[int]] = {}  # worker name -> pid of each start

        def task(self, key: str, pid: int) -> None:
            self.starts[key] = self.starts.get(key, 0) + 1
            self.running[key] = pid

        def done(self, key: str) -> None:
            self.running.pop(key, None)

        def in_flight(self) -> dict[str, int]:
            return dict(self.running)

        def worker(self, name: str, pid: int) -> None:
            self.workers.setdefault(name, []).append(pid)

        def pids(self) -> dict[str, int]:
            return {name: pids[-1] for name, pids in self.workers.items()}

        def summary(self) -> dict[str, Any]:
            return {
                "retries": sum(n - 1 for n in self.starts.values()),
                "restarts": sum(len(p) - 1 for p in self.workers.values()),
            }

    return Ledger


def new_ledger():
    """A ledger actor for one job, and its name. Workers get the name and look the actor up
    (``ledger_of``): an actor handle among a constructor's arguments would make Ray keep the
    arguments in the object store, which it warns may break restarts."""
    import uuid

    name = f"irkit-ledger-{uuid.uuid4().hex[:12]}"
    return _ledger_class().options(name=name).remote(), name


def ledger_of(name: str):
    import ray

    return ray.get_actor(name)


def actor_options(actors: int = 1) -> dict[str, Any]:
    """Fault-tolerance options, and a CPU share that lets ``actors`` actors all start: one CPU
    each when the cluster has enough, else an equal fraction (more shards than CPUs)."""
    cpus = min(1.0, cluster_cpus() / max(1, actors))
    return {"max_restarts": MAX_RESTARTS, "max_task_retries": MAX_TASK_RETRIES, "num_cpus": cpus}


@dataclass
class JobStats:
    """What a Ray job did: items (topics, documents) done per worker, and the faults it survived."""

    unit: str
    items: int = 0
    seconds: float = 0.0
    per_worker: dict[str, list[float]] = field(default_factory=dict)  # worker -> [items, busy seconds]
    retries: int = 0
    restarts: int = 0
    nodes: int = 0  # distinct Ray nodes the workers ran on (where known)
    startup_seconds: float = 0.0  # from creating the workers to all of them ready (where measured)

    def rates(self) -> dict[str, float]:
        return {w: n / s if s > 0 else 0.0 for w, (n, s) in self.per_worker.items()}

    def describe(self) -> str:
        rates = ", ".join(f"{w} {r:,.0f} {self.unit}/s" for w, r in sorted(self.rates().items()))
        faults = f"{self.retries} task retr{'y' if self.retries == 1 else 'ies'}, {self.restarts} worker restart(s)"
        return f"{self.items:,} {self.unit} in {self.seconds:.1f} s (per worker: {rates}); {faults}"


@dataclass
class Task:
    """One call ``worker.<method>(*args)`` that produces ``items`` units of work, known as ``key``."""

    key: str
    worker: str
    call: Callable[[], Any]  # submits the call and returns its ObjectRef
    items: int


def run_tasks(
    tasks: Iterable[Task],
    ledger,
    unit: str,
    desc: str,
    quiet: bool = False,
    on_result: Callable[[Task, Any], None] | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    copies: int = 1,
) -> tuple[dict[str, Any], JobStats]:
    """Submit every task, then gather results as they finish; returns ``({key: result}, stats)``.

    A task's result is ``(value, busy_seconds)``; a task tells the ledger when it starts
    (``ledger.task(key, pid)``) and ends (``ledger.done(key)``). ``on_progress`` gets a dict
    once all tasks are submitted (``key`` None) and after each task
    (``key, worker, done, total, pending, ledger``), for callers that watch a job (the fault
    test kills a worker from it). ``copies``: how many tasks do each item (sharded BM25 scores
    every query once per shard), so the bar counts items. A task that fails for good raises
    :class:`IrkitError` naming it.
    """
    import ray
    from tqdm.auto import tqdm

    tasks = list(tasks)
    total = sum(t.items for t in tasks)
    stats = JobStats(unit=unit)
    start = time.perf_counter()
    pending = {t.call(): t for t in tasks}
    results: dict[str, Any] = {}
    if on_progress is not None:
        on_progress({"key": None, "worker": None, "done": 0, "total": total, "pending": [t.worker for t in tasks],
                     "ledger": ledger})  # fmt: skip
    bar = tqdm(total=total // copies, desc=desc, unit=" " + unit, disable=_quiet(quiet), file=sys.stderr,
               dynamic_ncols=True)  # fmt: skip
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            task = pending.pop(ref)
            try:
                value, busy = ray.get(ref)
            except ray.exceptions.RayTaskError as e:
                cause = e.cause if isinstance(getattr(e, "cause", None), IrkitError) else None
                if cause is not None:
                    raise cause from None
                raise IrkitError(f"{desc}: task {task.key} on {task.worker} failed: {_first_line(e)}") from None
            except ray.exceptions.RayError as e:
                raise IrkitError(
                    f"{desc}: worker {task.worker} died and could not finish task {task.key} "
                    f"after {MAX_TASK_RETRIES} retries: {_first_line(e)}"
                ) from None
            results[task.key] = value
            if on_result is not None:
                on_result(task, value)
            done = stats.per_worker.setdefault(task.worker, [0.0, 0.0])
            done[0] += task.items
            done[1] += busy
            stats.items += task.items
            bar.update(task.items / copies)
            bar.set_postfix_str(" ".join(f"{w}={r:,.0f}/s" for w, r in sorted(stats.rates().items())), refresh=False)
            if on_progress is not None:
                on_progress({"key": task.key, "worker": task.worker, "done": stats.items, "total": total,
                             "pending": [t.worker for t in pending.values()], "ledger": ledger})  # fmt: skip
    finally:
        bar.close()
        for ref in pending:
            ray.cancel(ref, force=False)
    stats.seconds = time.perf_counter() - start
    summary = ray.get(ledger.summary.remote())
    stats.retries, stats.restarts = summary["retries"], summary["restarts"]
    return results, stats


def _first_line(e: BaseException) -> str:
    lines = [s for s in str(e).splitlines() if s.strip()]
    return lines[-1] if lines else type(e).__name__
