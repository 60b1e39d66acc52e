"""Write files and folders to a temporary path and rename them into place.

An interrupted or failed write leaves nothing at the destination (and no
temporary left behind), so a run, index or model on disk is always complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from irkit.errors import IrkitError


def check_output(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Refuse an existing output unless ``overwrite``; make sure its folder exists."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise IrkitError(f"{p}: output exists; pass --force (overwrite=True) to replace it")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], overwrite: bool = False, mode: str = "w") -> Iterator:
    """Open a temporary file beside ``path``; on success it replaces ``path``."""
    target = check_output(path, overwrite)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    # mkstemp makes the file private (0600); an output should get the usual umask mode.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (file or folder) to be written by the caller.

    On success the temporary replaces ``path``; on any exception (including
    ``KeyboardInterrupt``) it is removed and ``path`` is left untouched.
    """
    target = check_output(path, overwrite)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    # The caller writes `inner`, so it may create a file or a folder there.
    inner = tmp / target.name
    try:
        yield inner
        if not inner.exists():
            raise IrkitError(f"{target}: nothing was written")
        if target.exists():
            old = tmp / ".old"
            os.replace(target, old)
        os.replace(inner, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
