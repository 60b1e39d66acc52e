"""Write files and folders to a temporary path and rename them into place.

An interrupted or failed write leaves nothing at the destination (and no
temporary left behind), so a run, index or model on disk is always complete.

Three more promises (``docs/reliability.md``):

* **exclusive writers**: a writer holds an exclusive lock (``.NAME.lock``
  beside the output, ``flock``) from a CLI command's first check of the output
  (or the start of the write) until the rename; a second process writing the
  same output fails at once and says which process holds it;
* **``--force`` replaces only what irkit wrote, of the same kind**: never a
  symbolic link, a device, FIFO or socket, a folder irkit did not write (irkit
  marks its folders with ``.irkit-output``; indexes and model folders are also
  known by ``irkit.json`` and ``model.json``), an output of another kind (an
  index in place of a model folder, a run file in place of topics), nor an input
  of the same command or a folder holding one (readers call :func:`note_input`
  while the CLI tracks them);
* **stale temporaries are cleaned**: temporary names carry the writer's pid, so
  the next writer of the same output removes those of dead processes (a
  SIGKILL cannot run clean-up code).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from irkit.errors import IrkitError

MARKER = ".irkit-output"
_TRACKING = 0  # > 0 while a CLI command runs: inputs are recorded
_INPUTS: set[Path] = set()
_LOCKS: dict[Path, tuple[int, Path]] = {}
# Ctrl-C as the CLI's SIGINT handler records it (besides raising KeyboardInterrupt): Python can
# swallow that exception (raised inside an at-fork hook, as when Anserini's JVM is started, it is
# printed and ignored), so the last step before an output is renamed into place checks here too.
_interrupted = False


def on_sigint(signum: int, frame: object) -> None:
    """SIGINT handler of the CLI: remember the interrupt, then raise ``KeyboardInterrupt`` as Python does."""
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def interrupted(clear: bool = False) -> bool:
    """Whether :func:`on_sigint` has run (``clear``: and forget it, as a new command starts)."""
    global _interrupted
    was = _interrupted
    if clear:
        _interrupted = False
    return was


def _refuse_if_interrupted() -> None:
    if _interrupted:
        raise KeyboardInterrupt


# --- inputs of the running command ------------------------------------------------


@contextlib.contextmanager
def tracking_inputs() -> Iterator[None]:
    """Record the inputs readers open (the CLI wraps each command in this).

    While it is active, an output may not replace (or be a folder above) any
    recorded input. Library calls outside it are not tracked, so a script may
    still rewrite a file it read, with ``overwrite=True``.
    """
    global _TRACKING
    _TRACKING += 1
    try:
        yield
    finally:
        _TRACKING -= 1
        if not _TRACKING:
            _INPUTS.clear()
            # A command that checked an output and then failed leaves no lock file.
            _release_all()


def note_input(path: str | os.PathLike[str]) -> None:
    """Record ``path`` as an input of the running command (no-op outside :func:`tracking_inputs`)."""
    if _TRACKING:
        with contextlib.suppress(OSError, RuntimeError):
            _INPUTS.add(Path(path).resolve())


def forget_input(path: str | os.PathLike[str]) -> None:
    """Stop protecting ``path`` (and what lies under it): for a command that continues its own output.

    IRGAN's ``--resume`` reads its last checkpoint and replaces it; nothing else should.
    """
    with contextlib.suppress(OSError, RuntimeError):
        root = Path(path).resolve()
        _INPUTS.difference_update({p for p in _INPUTS if p == root or root in p.parents})


def _input_under(target: Path) -> Path | None:
    # An output may not be an input nor a folder above one (readers note the files
    # they read inside folders too, e.g. a model folder's model.json).
    t = target.resolve()
    for p in _INPUTS:
        if p == t or t in p.parents:
            return p
    return None


# --- what stands at an output path -----------------------------------------------


def _legacy_kind(p: Path) -> str | None:
    # Folders written before the marker existed are still known by their own files.
    if (p / "irkit.json").is_file():
        return "index"
    if (p / "model.json").is_file():
        return "model"
    for name, key in (("meta.json", "irkit_impact"), ("config.json", "kind")):
        f = p / name
        if f.is_file():
            with contextlib.suppress(OSError, ValueError):
                if key in json.loads(f.read_text(encoding="utf-8")):
                    return "impact" if key == "irkit_impact" else "model"
    return None


def folder_kind(path: str | os.PathLike[str]) -> str | None:
    """The kind of output irkit wrote in folder ``path`` (``index``, ``model``, ...), or None."""
    p = Path(path)
    marker = p / MARKER
    if marker.is_file():
        with contextlib.suppress(OSError):
            return marker.read_text(encoding="utf-8").strip() or "folder"
    return _legacy_kind(p)


def _looks_like_run(p: Path) -> bool:
    try:
        with open(p, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.strip():
                    return len(line.split()) == 6
    except OSError:
        return False
    return True  # empty


def _check_replaceable(p: Path, kind: str | None) -> None:
    """Refuse to replace what irkit did not write, or what is of another kind."""
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise IrkitError(f"{p}: is a symbolic link; --force replaces only files and folders irkit wrote")
    if stat.S_ISDIR(st.st_mode):
        found = folder_kind(p)
        if found is None:
            raise IrkitError(f"{p}: is a folder irkit did not write; --force will not replace it (remove it yourself)")
        if kind in ("file", "run"):
            raise IrkitError(f"{p}: is a folder ({found}), not a file; --force will not replace it")
        if kind is not None and found != kind:
            raise IrkitError(
                f"{p}: holds an irkit {found}, not {'an' if kind[0] in 'aeiou' else 'a'} {kind}; --force will not replace it"
            )
        return
    if not stat.S_ISREG(st.st_mode):
        raise IrkitError(f"{p}: is not a regular file (a device, FIFO or socket); --force will not replace it")
    if kind not in (None, "file", "run"):
        raise IrkitError(
            f"{p}: is a file, not {'an' if kind[0] in 'aeiou' else 'a'} {kind} folder; --force will not replace it"
        )
    if kind == "run" and not _looks_like_run(p):
        raise IrkitError(f"{p}: is not a TREC run file; --force replaces only a run with a run")


def check_output(
    path: str | os.PathLike[str], overwrite: bool = False, *, kind: str | None = None, lock: bool | None = None
) -> Path:
    """Refuse an existing output unless ``overwrite``; make sure its folder exists.

    Inside a CLI command (or with ``lock=True``) it also takes the output's lock,
    held until the write renames it into place or the command ends, so that
    checking before long work excludes other writers from then on (the atomic
    writers always lock). ``kind`` (``index``, ``model``, ``run``, ``file``...)
    narrows what ``overwrite`` may replace; see the module docstring for the rules.
    """
    p = Path(path)
    if p.exists() or p.is_symlink():
        if not overwrite:
            raise IrkitError(f"{p}: output exists; pass --force (overwrite=True) to replace it")
        _check_replaceable(p, kind)
    found = _input_under(p) if _INPUTS else None
    if found is not None:
        if found == p.resolve():
            what = "is an input of this command"
        else:
            what = f"holds {found}, an input of this command"
        raise IrkitError(f"{p}: {what}; write the output elsewhere")
    p.parent.mkdir(parents=True, exist_ok=True)
    if lock if lock is not None else _TRACKING > 0:
        _lock(p)
    return p


# --- locks -----------------------------------------------------------------------


def lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


def _lock(target: Path) -> None:
    import fcntl

    key = target.resolve()
    if key in _LOCKS:
        return
    lock = lock_path(target)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            # The holder writes its pid just after locking: the file may still be empty.
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            holder = f" (pid {pid})" if pid.isdigit() else ""
            os.close(fd)
            raise IrkitError(
                f"{target}: another irkit process{holder} is writing this output now; "
                f"wait for it to finish (lock {lock.name})"
            ) from None
        # The previous holder unlinks the lock file on release: make sure the
        # file locked is still the one at the path, or try again.
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _LOCKS[key] = (fd, lock)
    _clean_stale_temporaries(target)


def _unlock(target: Path) -> None:
    held = _LOCKS.pop(target.resolve(), None)
    if held is None:
        return
    fd, lock = held
    with contextlib.suppress(OSError):
        os.unlink(lock)  # while still locked, so no one else holds this file
    os.close(fd)


@atexit.register
def _release_all() -> None:
    for key in list(_LOCKS):
        _unlock(key)


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale_temporaries(target: Path) -> None:
    # Called with the output's lock held: only a dead process can have left
    # `.NAME.PID.*.tmp` beside it.
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)\..*\.tmp$")
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            m = pattern.match(entry.name)
            if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        entry.unlink()


# --- atomic writers --------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str], overwrite: bool = False, mode: str = "w", *, kind: str = "file"
) -> Iterator:
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    ``kind="run"`` lets ``overwrite`` replace only a TREC run file.
    """
    target = check_output(path, overwrite, kind=kind, lock=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
        # mkstemp makes the file private (0600); an output should get the usual umask mode.
        os.chmod(tmp, 0o666 & ~_umask())
        try:
            with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            # Inputs read while writing count too (the check before the work could not know them).
            check_output(target, overwrite, kind=kind)
            _refuse_if_interrupted()
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    finally:
        _unlock(target)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], overwrite: bool = False, *, kind: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (file or folder) to be written by the caller.

    On success the temporary replaces ``path``; on any exception (including
    ``KeyboardInterrupt``) it is removed and ``path`` is left untouched. A folder
    written here gets a ``.irkit-output`` marker naming its ``kind`` (``index``,
    ``model``...; by default what its files say, else ``folder``), which is what
    lets a later ``overwrite`` replace it.
    """
    target = check_output(path, overwrite, kind=kind, lock=True)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
        os.chmod(tmp, 0o777 & ~_umask())
        # The caller writes `inner`, so it may create a file or a folder there.
        inner = tmp / target.name
        try:
            yield inner
            if not inner.exists():
                raise IrkitError(f"{target}: nothing was written")
            written = kind
            if inner.is_dir():
                known = _legacy_kind(inner)
                written = kind or known or "folder"
                if known != written:  # indexes and model folders are known by their own files
                    (inner / MARKER).write_text(written + "\n", encoding="utf-8")
            check_output(target, overwrite, kind=written if inner.is_dir() else "file")
            _refuse_if_interrupted()
            if target.exists() or target.is_symlink():
                os.replace(target, tmp / ".old")
            os.replace(inner, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        _unlock(target)
