"""The ``irkit`` command line (typer). Library errors become one line and exit code 2.

The entry point imports the application inside its error handling, so even a
Ctrl-C during start-up ends with one line rather than a traceback.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    import signal
    import threading

    previous = None
    try:
        from irkit.io import atomic

        atomic.interrupted(clear=True)
        main_thread = threading.current_thread() is threading.main_thread()
        if main_thread and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            previous = signal.signal(signal.SIGINT, atomic.on_sigint)
        from irkit.errors import IrkitError

        _check_environment()
        from irkit.cli.app import app

        # typer returns the exit code (e.g. 130 after Ctrl-C) instead of raising
        # when standalone_mode is off. Inputs the command reads are recorded, so
        # that no output replaces one.
        with atomic.tracking_inputs():
            result = app(standalone_mode=False)
        if atomic.interrupted():  # a Ctrl-C that Python swallowed: no output was renamed into place since
            result = 130
    except KeyboardInterrupt:
        result = 130
    except Exception as e:
        if isinstance(e, IrkitError):
            print(f"irkit: error: {e}", file=sys.stderr)
            sys.exit(2)
        _unexpected(e)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if result == 130:
        # One message: what a command kept on purpose (say, a checkpoint), or that nothing was left.
        said = "; ".join(_KEPT) or "nothing half-written was left"
        print(f"irkit: interrupted; {said}", file=sys.stderr)
    if isinstance(result, int) and result:
        sys.exit(result)


def _check_environment() -> None:
    # Values read deep inside a command (the JVM's heap when Anserini starts) are
    # checked before any work, so a typo is one line naming the variable.
    heap = os.environ.get("IRKIT_JAVA_HEAP")
    if heap:
        from irkit._java import check_heap

        check_heap(heap)


def run(*args: object) -> tuple[int, str]:
    """Run ``irkit ARGS`` in this process (a notebook, a test); returns ``(exit code, stdout and stderr)``."""
    import contextlib
    import io

    out = io.StringIO()
    old = sys.argv
    sys.argv = ["irkit", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
            main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (1 if e.code else 0)
    finally:
        sys.argv = old
    return code, out.getvalue()


_KEPT: list[str] = []


def kept_on_interrupt(message: str) -> None:
    """Say (in the one interrupt message) what a command kept whole, e.g. its last checkpoint."""
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
