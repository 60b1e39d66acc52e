"""Progress bars and messages for long work, written to stderr.

Set ``IRKIT_QUIET=1`` (or pass ``quiet``/``disable``) to silence them, e.g. in tests.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def _quiet(flag: bool = False) -> bool:
    return flag or os.environ.get("IRKIT_QUIET", "") not in ("", "0")


def progress(
    iterable: Iterable[T], desc: str = "", unit: str = "it", total: int | None = None, disable: bool = False
) -> Iterator[T]:
    """A tqdm progress bar over ``iterable`` on stderr."""
    from tqdm.auto import tqdm

    return iter(
        tqdm(iterable, desc=desc, unit=unit, total=total, disable=_quiet(disable), file=sys.stderr, dynamic_ncols=True)
    )


def log(message: str, quiet: bool = False) -> None:
    """A one-line message on stderr."""
    if not _quiet(quiet):
        print(f"irkit: {message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    """A one-line warning on stderr, shown even when quiet (it is about the results, not progress)."""
    print(f"irkit: warning: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def spinner(message: str, quiet: bool = False) -> Iterator[None]:
    """A spinner with elapsed time while opaque work (a JVM call, a child process) runs."""
    if _quiet(quiet) or not sys.stderr.isatty():
        log(message, quiet)
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield
