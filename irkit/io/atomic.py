"""Write files and folders to a temporary path and rename them into place.

An interrupted or failed write leaves nothing at the destination (and no
temporary left behind), so a run, index or model on disk is always complete.
The promises (``docs/reliability.md``, each with its test):

* **one command, one transaction**: inside a CLI command (:func:`transaction`)
  every output renamed into place is journalled, and what it replaced is kept
  aside; the command's end commits them together (the interrupt flag checked
  first), while an error, a full disk or a signal rolls every one of them back,
  so a run never stays without its sidecar nor a report without its plot.
  A command may :func:`keep` an output on purpose (IRGAN's last checkpoint);
* **exclusive writers**: a writer holds an exclusive lock (``.NAME.lock``
  beside the output, ``flock``, opened without following a symbolic link) from
  a CLI command's first check of the output until the rename; a second process
  writing the same output fails at once and says which process holds it;
* **``--force`` replaces only what irkit wrote, of the same kind**: never a
  symbolic link, a device, FIFO or socket, a folder irkit did not write (irkit
  marks its folders with ``.irkit-output``; indexes and model folders are also
  known by ``irkit.json`` and ``model.json``), an output of another kind (an
  index in place of a model folder, a run file in place of topics), a file irkit
  cannot tell it wrote (its sidecar names it, or its format is one irkit writes:
  a TREC run, a sidecar, an evaluation table, a plot irkit signed), nor an input
  of the same command or a folder holding one (readers call :func:`note_input`
  while the CLI tracks them). No output goes inside a folder irkit wrote (an
  index, a model), except the parts irkit writes there itself (``part_of``);
* **stale temporaries and locks are cleaned**: temporary names carry the
  writer's pid, so the next irkit writer in the same folder removes those of dead
  processes, and lock files no process holds (a SIGKILL cannot run clean-up code);
* **signals**: SIGINT, SIGTERM and SIGHUP stop a command the same way (the
  transaction rolls back; exit 128 + the signal's number), and a command-line
  process ends within :data:`GRACE_S` seconds of the signal whatever it was doing;
* **OS errors name the output**: a read-only folder, a full disk, a permission
  refused or a name too long end in one line naming the path and what to do.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import importlib
import json
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from irkit.errors import IrkitError

# The provenance record written beside an output (irkit.provenance writes it; checked here).
SIDECAR_SUFFIX = ".meta.json"

MARKER = ".irkit-output"
GRACE_S = 2.0  # after a signal, a command-line process ends within this many seconds
_TRACKING = 0  # > 0 while a CLI command runs: inputs are recorded
_INPUTS: set[Path] = set()
_LOCKS: dict[Path, tuple[int, Path]] = {}
_ACTIVE: set[Path] = set()  # temporaries being written now (removed by a forced exit)
_JOURNAL: dict[Path, Path | None] | None = None  # target -> what it replaced, while a transaction runs
# The signal the CLI's handler recorded (besides raising KeyboardInterrupt): Python can swallow
# that exception (raised inside an at-fork hook, as when Anserini's JVM is started, it is printed
# and ignored), so the last step before an output is renamed into place checks here too.
_signal = 0
_watchdog = False  # set by the command-line entry point: a signal must end the process
_committed = False  # the running transaction's outputs are final: a signal no longer stops anything
_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


# --- signals ---------------------------------------------------------------------


def handled_signals() -> list[signal.Signals]:
    """The signals the CLI handles as an interrupt (SIGINT, SIGTERM, SIGHUP where they exist)."""
    return [getattr(signal, n) for n in _SIGNALS if hasattr(signal, n)]


def on_signal(signum: int, frame: object) -> None:
    """Signal handler of the CLI: remember the signal, then raise ``KeyboardInterrupt`` (the first time).

    A second signal only confirms the first: raising again would break the
    clean-up the first one started. From the command line a watchdog ends the
    process :data:`GRACE_S` seconds later, whatever holds it (a thread, a JVM
    call, Ray).
    """
    global _signal
    if _signal or _committed:  # a second signal, or one after the outputs became final: nothing to stop
        return
    _signal = signum
    if _watchdog:
        _start_watchdog(signum)
    raise KeyboardInterrupt


on_sigint = on_signal  # the name it had when only SIGINT was handled


def interrupted(clear: bool = False) -> bool:
    """Whether :func:`on_signal` has run (``clear``: and forget it, as a new command starts)."""
    return bool(interrupt_signal(clear))


def interrupt_signal(clear: bool = False) -> int:
    """The signal :func:`on_signal` recorded (0: none); ``clear``: forget it, and an earlier commit."""
    global _signal, _committed
    was = _signal
    if clear:
        _signal, _committed = 0, False
    return was


def exit_after_signal(enabled: bool = True) -> None:
    """Make a signal end the process within :data:`GRACE_S` s (the command-line entry point's choice)."""
    global _watchdog
    _watchdog = enabled


def quiet_swallowed_interrupt(unraisable: object) -> None:
    """``sys.unraisablehook`` of the CLI: Python swallows (and prints) the ``KeyboardInterrupt`` that
    :func:`on_signal` raises inside an at-fork hook; the recorded signal stops the command instead."""
    if _signal and isinstance(getattr(unraisable, "exc_value", None), KeyboardInterrupt):
        return
    sys.__unraisablehook__(unraisable)


def exits_after_signal() -> bool:
    """Whether a signal ends the process (see :func:`exit_after_signal`)."""
    return _watchdog


def _start_watchdog(signum: int) -> None:
    # A thread needs the GIL; faulthandler's does not, so it ends the process even when a C call
    # holds the GIL (it exits with status 1, after the clean exit had its chance).
    import faulthandler

    with contextlib.suppress(Exception):
        faulthandler.dump_traceback_later(GRACE_S + 3, exit=True, file=open(os.devnull, "w"))  # noqa: SIM115
    timer = threading.Timer(GRACE_S, _forced_exit, args=(signum,))
    timer.daemon = True
    timer.start()


def abandon() -> None:
    """Undo the running transaction, remove the temporaries being written and release the locks
    (a process about to exit at once after a signal)."""
    rollback()
    for p in list(_ACTIVE):
        _remove(p)
    _ACTIVE.clear()
    _release_all()


def _forced_exit(signum: int) -> None:
    with contextlib.suppress(BaseException):
        abandon()
        name = "" if signum == signal.SIGINT else f" ({signal.Signals(signum).name})"
        sys.stderr.write(f"irkit: interrupted{name}; no output was written (stopped after {GRACE_S:.0f} s)\n")
        sys.stderr.flush()
    os._exit(128 + signum)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    # A rename and the journal entry that undoes it happen together: signals wait meanwhile.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = set(handled_signals())
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _refuse_if_interrupted() -> None:
    if _signal:
        raise KeyboardInterrupt


# --- OS errors -------------------------------------------------------------------

_ADVICE = {
    errno.EROFS: "the file system is read-only; write the output to a writable folder",
    errno.ENOSPC: "no space left on the device; free some space or write the output elsewhere",
    errno.EDQUOT: "disk quota exceeded; free some space or write the output elsewhere",
    errno.EFBIG: "file too large for the file system; write the output elsewhere",
    errno.EACCES: "permission denied; write the output to a folder you may write to",
    errno.EPERM: "operation not permitted; write the output to a folder you may write to",
    errno.ENAMETOOLONG: "name too long for the file system; choose a shorter output name",
    errno.ELOOP: "a symbolic link stands in the way; remove it",
}


def os_error(e: OSError, path: str | os.PathLike[str] | None = None) -> IrkitError | None:
    """One line for an OS error of writing (``path``: the output it was for), or None if it is not one."""
    advice = _ADVICE.get(e.errno or 0)
    if advice is None:
        return None
    where = path if path is not None else (e.filename or e.filename2 or "irkit")
    if path is None and e.errno in (errno.EACCES, errno.EPERM):
        advice = advice.split(";")[0] + "; check the path's permissions"
    return IrkitError(f"{where}: {advice} (nothing was written)")


@contextlib.contextmanager
def _os_errors_named(target: Path, temp: Path | None = None) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        # The output's own files (its temporaries, its lock) are named by the output; any
        # other path (an input the body failed to read, a parent folder) by itself.
        name = str(e.filename or "")
        ours = (
            not name
            or name == str(target)
            or Path(name).name.startswith(f".{target.name}.")
            or (temp is not None and name.startswith(str(temp)))
        )
        err = os_error(e, target if ours else None)
        if err is None:
            raise
        raise err from None


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


def _named_on_command_line(target: Path) -> str | None:
    # A file written beside the output (a sidecar, a plot) that the user named as something else.
    t = target.resolve()
    for name, value in cli_parameters().items():
        for v in value if isinstance(value, list | tuple) else [value]:
            if isinstance(v, str | os.PathLike) and str(v):
                with contextlib.suppress(OSError, RuntimeError):
                    if Path(v).resolve() == t:
                        return name
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


_TEMP_NAME = re.compile(r"^\.(.+)\.(\d+)\..*\.tmp$")


def _irkit_folder_above(target: Path, part_of: Path | None) -> Path | None:
    # An index or model folder is replaced whole; what else lies in it would be lost, and a
    # file there could replace one of its own (Lucene's write.lock).
    parents = target.resolve().parents
    if part_of is not None or any(_TEMP_NAME.match(f.name) for f in parents):
        return None  # a part irkit writes in its own folder, or anything in a folder being written
    for folder in parents:
        if any((folder / name).is_file() for name in (MARKER, "irkit.json", "model.json")):
            return folder
    return None


def _is_run(head: list[str]) -> bool:
    # TREC run lines: qid Q0 docno rank score tag (rank an integer, score a number).
    for line in head:
        f = line.split()
        if len(f) != 6:
            return False
        try:
            int(f[3])
            float(f[4])
        except ValueError:
            return False
    return True


def _first_lines(p: Path, limit: int = 1 << 16) -> list[str]:
    with open(p, "rb") as fh:
        head = fh.read(limit)
    lines = head.decode("utf-8", errors="replace").splitlines()
    if len(head) == limit and len(lines) > 1:
        lines = lines[:-1]  # cut mid-line
    return [ln for ln in lines if ln.strip()]


def _is_sidecar(p: Path) -> bool:
    with contextlib.suppress(OSError, ValueError):
        if p.stat().st_size < 64 << 20:
            record = json.loads(p.read_text(encoding="utf-8"))
            return isinstance(record, dict) and {"irkit", "command", "output"} <= record.keys()
    return False


def _has_own_sidecar(p: Path) -> bool:
    side = p.with_name(p.name + SIDECAR_SUFFIX)
    with contextlib.suppress(OSError, ValueError, TypeError):
        record = json.loads(side.read_text(encoding="utf-8"))
        return Path(record["output"]).name == p.name
    return False


def _irkit_wrote(p: Path, kind: str | None) -> str | None:
    """None when irkit can tell it wrote file ``p`` (of ``kind``); else what it could not tell."""
    if _has_own_sidecar(p):
        return None
    try:
        if kind == "run":
            return (
                None if _is_run(_first_lines(p)) else "is not a TREC run file; --force replaces only a run with a run"
            )
        if kind == "sidecar" or p.name.endswith(".meta.json"):
            return None if _is_sidecar(p) else "is not a provenance sidecar irkit wrote"
        with open(p, "rb") as fh:
            head = fh.read(4096)
        if kind == "plot" or head.startswith(b"\x89PNG"):
            # irkit signs its plots; one drawn before it did is known by its report's sidecar
            report = any(_has_own_sidecar(p.with_suffix(s)) for s in (".md", ".html", ".htm", ".csv", ".tex"))
            signed = head.startswith(b"\x89PNG") and b"Software\x00irkit" in head
            return None if signed or report else "is not a plot irkit drew"
        text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
        if p.suffix.lower() == ".csv" and text.startswith("run,"):  # an evaluation table
            return None
        if p.suffix.lower() == ".json" and re.match(r'\s*\[\s*(\]|\{\s*"run"\s*:)', text):
            return None
        if (not head or not head.strip()) or _is_run(_first_lines(p)):
            return None  # an empty file holds nothing to lose; a run is a format irkit writes
    except OSError:
        return None  # unreadable: the rename will say why
    return f"irkit cannot tell it wrote this file (no sidecar {p.name}.meta.json names it)"


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
        if kind in ("file", "run", "sidecar", "plot"):
            raise IrkitError(f"{p}: is a folder ({found}), not a file; --force will not replace it")
        if kind is not None and found != kind:
            raise IrkitError(
                f"{p}: holds an irkit {found}, not {'an' if kind[0] in 'aeiou' else 'a'} {kind}; --force will not replace it"
            )
        return
    if not stat.S_ISREG(st.st_mode):
        raise IrkitError(f"{p}: is not a regular file (a device, FIFO or socket); --force will not replace it")
    if kind not in (None, "file", "run", "sidecar", "plot"):
        raise IrkitError(
            f"{p}: is a file, not {'an' if kind[0] in 'aeiou' else 'a'} {kind} folder; --force will not replace it"
        )
    # From the command line every file is checked; from Python, runs, sidecars and plots.
    if _TRACKING or kind in ("run", "sidecar", "plot"):
        why = _irkit_wrote(p, kind)
        if why is not None:
            if "--force" not in why:
                why += "; --force will not replace it (remove it yourself)"
            raise IrkitError(f"{p}: {why}")


def check_output(
    path: str | os.PathLike[str],
    overwrite: bool = False,
    *,
    kind: str | None = None,
    lock: bool | None = None,
    part_of: str | os.PathLike[str] | None = None,
    beside: str | os.PathLike[str] | None = None,
) -> Path:
    """Refuse an existing output unless ``overwrite``; make sure its folder exists.

    Inside a CLI command (or with ``lock=True``) it also takes the output's lock,
    held until the write renames it into place or the command ends, so that
    checking before long work excludes other writers from then on (the atomic
    writers always lock). ``kind`` (``index``, ``model``, ``run``, ``file``,
    ``sidecar``, ``plot``...) narrows what ``overwrite`` may replace; see the
    module docstring for the rules. ``part_of``: the irkit folder this output is a
    part of (its lock is that folder's). ``beside``: the output this one goes
    with (a sidecar, a plot): it may not be a path the command was given.
    """
    p = Path(path)
    with _os_errors_named(p):
        found = _input_under(p) if _INPUTS else None
        if found is not None:
            if found == p.resolve():
                what = "is an input of this command"
            else:
                what = f"holds {found}, an input of this command"
            raise IrkitError(f"{p}: {what}; write the output elsewhere")
        if beside is not None and _TRACKING:
            name = _named_on_command_line(p)
            if name is not None:
                raise IrkitError(
                    f"{p}: irkit writes it beside {beside}, but it is given as --{name.replace('_', '-')}; "
                    "write the output elsewhere"
                )
        if p.exists() or p.is_symlink():
            if not overwrite:
                raise IrkitError(f"{p}: output exists; pass --force (overwrite=True) to replace it")
            _check_replaceable(p, kind)
        inside = _irkit_folder_above(p, Path(part_of) if part_of is not None else None)
        if inside is not None:
            raise IrkitError(
                f"{p}: is inside {inside}, a folder irkit wrote ({folder_kind(inside) or 'index'}); "
                "write the output outside it"
            )
        p.parent.mkdir(parents=True, exist_ok=True)
        owner = Path(part_of) if part_of is not None else p
        if lock if lock is not None else _TRACKING > 0:
            _lock(owner)
        clean_stale(p.parent)
    return p


# --- locks -----------------------------------------------------------------------


def lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


def _open_lock(lock: Path, target: Path) -> int:
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise IrkitError(
                f"{target}: its lock {lock} is a symbolic link (irkit never follows one); remove it"
            ) from None
        raise os_error(e, target) or e from None
    st = os.fstat(fd)
    # A hard link planted at the lock's name would have its other name truncated.
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        raise IrkitError(f"{target}: its lock {lock} is not a file irkit made (a link or a device); remove it")
    return fd


def _lock(target: Path) -> None:
    key = target.resolve()
    if key in _LOCKS:
        return
    lock = lock_path(target)
    with _signals_held():  # a lock file exists only while _LOCKS knows it
        _lock_held(target, key, lock)


def _lock_held(target: Path, key: Path, lock: Path) -> None:
    import fcntl

    while True:
        fd = _open_lock(lock, target)
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
            same = os.stat(lock, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    _LOCKS[key] = (fd, lock)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as e:  # a full disk: no lock file stays behind
        _unlock(target)
        raise os_error(e, target) or e from None


def _unlock(target: Path) -> None:
    key = target.resolve()
    with _signals_held():
        held = _LOCKS.pop(key, None)
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


def clean_stale(folder: Path) -> None:
    """Remove what dead irkit processes left in ``folder``: ``.NAME.PID.*.tmp`` and unheld ``.NAME.lock``."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m:
            pid = int(m.group(2))
            if pid != os.getpid() and not _pid_alive(pid):
                _remove(Path(entry.path))
        elif entry.name.startswith(".") and entry.name.endswith(".lock"):
            with contextlib.suppress(OSError):
                _remove_unheld_lock(entry)


def _remove_unheld_lock(entry: os.DirEntry) -> None:
    import fcntl

    if not entry.is_file(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_size > 32:
        return
    fd = os.open(entry.path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if text and not text.isdigit():
            return  # not an irkit lock
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises while a live writer holds it
        if os.stat(entry.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
            os.unlink(entry.path)  # while locked, as a writer releasing it does
    finally:
        os.close(fd)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            p.unlink()


# --- one command, one transaction -------------------------------------------------


@contextlib.contextmanager
def transaction() -> Iterator[None]:
    """Journal the outputs renamed into place inside; undo them all unless :func:`commit` ran.

    The CLI runs each command in one. Outside it (a script), each output is
    final when its writer returns.
    """
    global _JOURNAL, _committed
    outer = _JOURNAL
    _JOURNAL, _committed = {}, False
    try:
        yield
    finally:
        rollback()
        _JOURNAL = outer  # _committed stays: a signal after the commit, as the process ends, changes nothing


def commit() -> None:
    """Make the transaction's outputs final (drop what they replaced); refuse if a signal came."""
    global _committed
    with _signals_held():
        _refuse_if_interrupted()
        _committed = _JOURNAL is not None
        if _JOURNAL:
            for backup in _JOURNAL.values():
                if backup is not None:
                    _remove(backup)
            _JOURNAL.clear()


def keep(path: str | os.PathLike[str]) -> None:
    """Make ``path`` final now, whatever becomes of the rest of the transaction (a checkpoint)."""
    if _JOURNAL is not None:
        backup = _JOURNAL.pop(Path(path).resolve(), None)
        if backup is not None:
            _remove(backup)


def written() -> list[Path]:
    """The outputs the running transaction renamed into place so far."""
    return list(_JOURNAL or ())


def rollback() -> None:
    """Undo the transaction's renames: remove each new output and put back what it replaced."""
    if not _JOURNAL:
        return
    with _signals_held():
        for target, backup in reversed(list(_JOURNAL.items())):
            with contextlib.suppress(OSError):
                if backup is not None and not backup.is_dir():
                    os.replace(backup, target)  # a file comes back in one rename
                    continue
                if target.exists() or target.is_symlink():
                    aside = target.parent / f"{_temp_prefix(target)}new.tmp"
                    os.replace(target, aside)
                    _remove(aside)
                if backup is not None:
                    os.replace(backup, target)
        _JOURNAL.clear()


def _install(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; inside a transaction keep what it replaces until the commit."""
    with _signals_held():
        _refuse_if_interrupted()
        key = target.resolve()
        journal = _JOURNAL is not None and key not in _JOURNAL
        backup = None
        exists = target.exists() or target.is_symlink()
        if exists and (journal or tmp.is_dir()):
            backup = target.parent / f"{_temp_prefix(target)}old.tmp"
            _remove(backup)
            if tmp.is_dir() or not _hard_link(target, backup):
                os.replace(target, backup)
        os.replace(tmp, target)
        if journal:
            _JOURNAL[key] = backup
        elif backup is not None:
            _remove(backup)  # replaced within this command, or outside a transaction


def _hard_link(src: Path, dst: Path) -> bool:
    # The old file stays whole under a second name, and the new one replaces it in one rename.
    try:
        os.link(src, dst, follow_symlinks=False)
        return True
    except OSError:
        return False


# --- atomic writers --------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str],
    overwrite: bool = False,
    mode: str = "w",
    *,
    kind: str = "file",
    part_of: str | os.PathLike[str] | None = None,
    beside: str | os.PathLike[str] | None = None,
) -> Iterator:
    """Open a temporary file beside ``path``; on success it replaces ``path``.

    ``kind="run"`` lets ``overwrite`` replace only a TREC run file (``sidecar``,
    ``plot``: a sidecar, a plot irkit wrote). ``part_of``, ``beside``: see
    :func:`check_output`.
    """
    target = check_output(path, overwrite, kind=kind, lock=True, part_of=part_of, beside=beside)
    owner = Path(part_of) if part_of is not None else target
    try:
        with _os_errors_named(target), _signals_held():  # a temporary exists only while _ACTIVE knows it
            fd, name = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
            tmp = Path(name)
            _ACTIVE.add(tmp)
        try:
            with _os_errors_named(target, tmp):
                # mkstemp makes the file private (0600); an output should get the usual umask mode.
                os.chmod(tmp, 0o666 & ~_umask())
                with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
                    yield fh
                    fh.flush()
                    os.fsync(fh.fileno())
                # Inputs read while writing count too (the check before the work could not know them).
                check_output(target, overwrite, kind=kind, part_of=part_of, beside=beside)
                _install(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        finally:
            _ACTIVE.discard(tmp)
    finally:
        _unlock(owner)


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str],
    overwrite: bool = False,
    *,
    kind: str | None = None,
    part_of: str | os.PathLike[str] | None = None,
) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (file or folder) to be written by the caller.

    On success the temporary replaces ``path``; on any exception (including
    ``KeyboardInterrupt``) it is removed and ``path`` is left untouched. A folder
    written here gets a ``.irkit-output`` marker naming its ``kind`` (``index``,
    ``model``...; by default what its files say, else ``folder``), which is what
    lets a later ``overwrite`` replace it. ``part_of``: see :func:`check_output`.
    """
    target = check_output(path, overwrite, kind=kind, lock=True, part_of=part_of)
    owner = Path(part_of) if part_of is not None else target
    try:
        with _os_errors_named(target), _signals_held():
            tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
            _ACTIVE.add(tmp)
        try:
            with _os_errors_named(target, tmp):
                os.chmod(tmp, 0o777 & ~_umask())
                # The caller writes `inner`, so it may create a file or a folder there.
                inner = tmp / target.name
                yield inner
                if not inner.exists():
                    raise IrkitError(f"{target}: nothing was written")
                written = kind
                if inner.is_dir():
                    known = _legacy_kind(inner)
                    written = kind or known or "folder"
                    if known != written:  # indexes and model folders are known by their own files
                        (inner / MARKER).write_text(written + "\n", encoding="utf-8")
                check_output(target, overwrite, kind=written if inner.is_dir() else "file", part_of=part_of)
                _install(inner, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            _ACTIVE.discard(tmp)
    finally:
        _unlock(owner)


def cli_parameters() -> dict[str, Any]:
    """The running command's parameters (its own and its parent groups'), or ``{}`` outside the CLI.

    Here, below :mod:`irkit.provenance` (which records them), because the output checks
    read them too and provenance imports half of irkit.
    """
    ctx = None
    # typer (0.2x) runs its own copy of click; older typers use click itself.
    for module in ("typer._click.globals", "click.globals"):
        try:
            ctx = importlib.import_module(module).get_current_context(silent=True)
        except (ImportError, AttributeError):
            continue
        if ctx is not None:
            break
    params: dict[str, Any] = {}
    chain = []
    while ctx is not None:
        chain.append(ctx)
        ctx = ctx.parent
    for c in reversed(chain):
        params.update(c.params)
    return params
