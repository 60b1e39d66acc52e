"""The ``irkit`` command line (typer). Library errors become one line and exit code 2.

The entry point imports the application inside its error handling, so even a
Ctrl-C during start-up ends with one line rather than a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys


def main() -> None:
    try:
        _main()
    except KeyboardInterrupt:  # before irkit's handlers were set: nothing was started yet
        print(f"irkit: interrupted; {INTERRUPTED}", file=sys.stderr)
        sys.exit(130)


INTERRUPTED = "no output was written"


def _main() -> None:
    import signal
    import threading

    from irkit.errors import IrkitError
    from irkit.io import atomic

    previous: dict = {}
    result = unraisable = None
    _KEPT.clear()
    try:
        atomic.interrupt_signal(clear=True)
        if threading.current_thread() is threading.main_thread():
            # SIGTERM and SIGHUP (a closed terminal, a job scheduler) stop a command as Ctrl-C does:
            # its outputs are rolled back and the exit status is 128 + the signal's number.
            for sig in atomic.handled_signals():
                if signal.getsignal(sig) in (signal.default_int_handler, signal.SIG_DFL):
                    previous[sig] = signal.signal(sig, atomic.on_signal)
        atomic.exit_after_signal(not _IN_PROCESS and bool(previous))
        unraisable, sys.unraisablehook = sys.unraisablehook, atomic.quiet_swallowed_interrupt
        _check_environment()
        from irkit.cli.app import app

        # typer returns the exit code (e.g. 130 after Ctrl-C) instead of raising
        # when standalone_mode is off. Inputs the command reads are recorded, so
        # that no output replaces one; the outputs it writes are one transaction,
        # committed only when it succeeds and no signal came (atomic.commit).
        with atomic.tracking_inputs(), atomic.transaction():
            result = app(standalone_mode=False)
            if not result and not atomic.interrupted():
                atomic.commit()
    except KeyboardInterrupt:
        result = 130
    except Exception as e:
        if isinstance(e, OSError):  # not met where irkit writes (those name their output): name its path
            e = atomic.os_error(e) or e
        if isinstance(e, IrkitError):
            print(f"irkit: error: {e}", file=sys.stderr)
            _exit(2)
        _unexpected(e)
    finally:
        # irkit's own process keeps its handlers to the end: a signal after the commit changes nothing
        # (see atomic.on_signal); a caller's handlers come back.
        for sig, handler in previous.items() if not _own_process() else ():
            signal.signal(sig, handler)
        if unraisable is not None:
            sys.unraisablehook = unraisable
    signum = atomic.interrupt_signal()
    if signum or result == 130:
        # One message: what a command kept on purpose (say, a checkpoint), or that nothing was written.
        name = "" if signum in (0, signal.SIGINT) else f" ({signal.Signals(signum).name})"
        said = "; ".join(_KEPT) or INTERRUPTED
        print(f"irkit: interrupted{name}; {said}", file=sys.stderr)
        # From the command line, exit now: a thread, a JVM or Ray's shutdown must not keep it alive.
        _exit(128 + (signum or signal.SIGINT), now=bool(signum) and atomic.exits_after_signal())
    if isinstance(result, int) and result:
        _exit(result)


def _own_process() -> bool:
    # `python -m irkit` or the `irkit` script, not irkit.cli.run, a test or a notebook calling main()
    entry = sys.modules.get("__main__")
    spec = getattr(entry, "__spec__", None)
    return not _IN_PROCESS and (
        getattr(spec, "name", None) == "irkit.__main__" or os.path.basename(getattr(entry, "__file__", "")) == "irkit"
    )


def _exit(code: int, now: bool = False) -> None:
    if now:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        from irkit.io import atomic

        atomic.abandon()
        os._exit(code)
    sys.exit(code)


_IN_PROCESS = False  # irkit.cli.run: a signal must not end the caller's process


def _check_environment() -> None:
    # Values read deep inside a command (the JVM's heap when Anserini starts) are
    # checked before any work, so a typo is one line naming the variable.
    heap = os.environ.get("IRKIT_JAVA_HEAP")
    if heap:
        from irkit._java import check_heap

        check_heap(heap)


def run(*args: object) -> tuple[int, str]:
    """Run ``irkit ARGS`` in this process (a notebook, a test); returns ``(exit code, stdout and stderr)``."""
    import io

    global _IN_PROCESS
    out = io.StringIO()
    old = sys.argv
    sys.argv = ["irkit", *map(str, args)]
    code = 0
    _IN_PROCESS = True
    try:
        with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
            main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (1 if e.code else 0)
    finally:
        sys.argv = old
        _IN_PROCESS = False
    return code, out.getvalue()


_KEPT: list[str] = []


def kept_on_interrupt(message: str, path: str | os.PathLike[str] | None = None) -> None:
    """Say (in the one interrupt message) what a command kept whole, e.g. its last checkpoint at ``path``.

    ``path`` is kept in place although the command's other outputs are rolled back.
    """
    if path is not None:
        from irkit.io import atomic

        atomic.keep(path)
    _KEPT.append(message)


def _unexpected(e: Exception) -> None:
    code = getattr(e, "exit_code", None)
    if isinstance(code, int) and callable(getattr(e, "show", None)):
        e.show()  # a usage error: click prints usage and the reason
        sys.exit(code)
    if isinstance(code, int):  # click's Exit
        sys.exit(code)
    if os.environ.get("IRKIT_DEBUG"):
        raise e
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    print(f"irkit: error: {type(e).__name__}: {msg} (IRKIT_DEBUG=1 shows the traceback)", file=sys.stderr)
    sys.exit(1)


def __getattr__(name: str):
    # `from irkit.cli import app` still works, without importing typer for main().
    if name == "app":
        from irkit.cli.app import app

        return app
    raise AttributeError(name)
