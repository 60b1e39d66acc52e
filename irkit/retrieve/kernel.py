"""The BM25 kernel (``_kernel.c``): compiled once with the system's C compiler, cached on disk, called through ctypes.

Why C through ctypes and not numba (which the kernel was written in before): a ctypes call
releases the GIL, so threads search in parallel as with numba's ``nogil``, but loading the
compiled library takes a millisecond where numba's import and the first cached kernel took
0.6-1.5 CPU seconds of every ``irkit rank`` (its import, then its CPU target's registries), and
compiling it takes a second or two where numba took 20-70 seconds per argument type.

The library is built by ``$CC`` (else Python's configured compiler, else ``cc``) without
``-ffast-math`` and with ``-ffp-contract=off``, so the float operations are Lucene's, and kept
in ``$XDG_CACHE_HOME/irkit`` (else ``~/.cache/irkit``) under a name made from the source, the
flags and the compiler: a changed source is a new library, never a stale one. The first
process that needs it compiles it and says so; ``scripts/setup.sh`` does that at install
(:func:`build`). Where the cache folder cannot be written, or it or the library is another
user's or writable by others (loading a library runs its code), the process compiles into a
temporary folder of its own.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shlex
import subprocess
import sysconfig
import tempfile
import threading
from pathlib import Path

import numpy as np

from irkit.errors import IrkitError

SOURCE = Path(__file__).with_name("_kernel.c")
FLAGS = ("-O3", "-std=c11", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math")
# 10.0**i as Python computes it, for the shortest-decimal search (float32 needs |i| < 64)
POW10 = np.array([10.0**i for i in range(64)])

_p, _i = ctypes.c_void_p, ctypes.c_int64
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


class Batch(ctypes.Structure):
    """``batch_t`` of ``_kernel.c``: what one batch of queries shares."""

    _fields_ = [
        *((n, _p) for n in ("q_ptr", "q_terms", "q_weights", "q_plain", "post_off", "post_docs", "post_freqs")),
        ("freq_bytes", _i),
        ("norms", _p),
        ("n_all", _i),
        ("cache", _p),
        ("impacts", _p),
        ("n_impacts", _i),
        ("codes", _p),
        ("n_codes", _i),
        *((n, _p) for n in ("rank", "order", "pow10")),
        *((n, _i) for n in ("lo", "hi", "k", "window", "tab_min")),
        *((n, _p) for n in ("out_keys", "out_docs", "out_scores", "out_dec", "out_counts")),
        ("model", _i),
        ("mu", ctypes.c_double),
        ("q_cp", _p),
        ("lognorm", _p),
        ("tie_adjust", _i),
    ]


class Scratch(ctypes.Structure):
    """``scratch_t`` of ``_kernel.c``: one thread's working memory."""

    _fields_ = [
        ("acc", _p),
        ("touched", _p),
        ("keys", _p),
        ("n_keys", _i),
        *((n, _p) for n in ("starts", "ends", "wends", "slots", "tabs")),
        ("n_tabs", _i),
    ]


def ptr(a: np.ndarray, dtype) -> int:
    """The address of ``a``'s data, which must be C-contiguous ``dtype`` (the kernel reads it raw)."""
    if a.dtype != np.dtype(dtype) or not a.flags.c_contiguous:
        raise TypeError(f"the kernel needs a contiguous {np.dtype(dtype)} array, not {a.dtype}")
    return a.ctypes.data


def freq_bytes(freqs: np.ndarray) -> int:
    """The width code of an index's term frequencies (uint8, uint16 or int32)."""
    if freqs.dtype not in (np.uint8, np.uint16, np.int32) or not freqs.flags.c_contiguous:
        raise TypeError(f"term frequencies must be contiguous uint8, uint16 or int32, not {freqs.dtype}")
    return freqs.dtype.itemsize


def _compiler() -> list[str]:
    return shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "irkit")


def _trusted(path: Path) -> bool:
    """Whether ``path`` is this user's and nobody else can write it: loading a library runs its
    code, so one that another user could have put or changed is not loaded."""
    st = path.stat()
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _compile(cc: list[str], out: Path, why: str) -> None:
    from irkit.progress import log

    log(f"compiling the BM25 search kernel (C, {why})")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        done = subprocess.run([*cc, *FLAGS, "-o", str(tmp), str(SOURCE), "-lm"], capture_output=True, text=True)
    except OSError as e:
        raise IrkitError(
            f"cannot compile irkit's BM25 kernel: {cc[0]}: {e.strerror}; install a C compiler (gcc) or set CC"
        ) from None
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        first = next((ln for ln in done.stderr.splitlines() if "error" in ln), done.stderr.strip()[:200])
        raise IrkitError(f"cannot compile irkit's BM25 kernel with {' '.join(cc)}: {first}")
    os.replace(tmp, out)  # whole or not at all, whichever process finishes first


def lib() -> ctypes.CDLL:
    """The compiled kernel, compiled first where no process has."""
    global _lib
    with _lock:
        if _lib is None:
            cc = _compiler()
            key = hashlib.sha256(SOURCE.read_bytes() + repr((FLAGS, cc, platform.machine())).encode()).hexdigest()[:16]
            name = f"kernel-{key}.so"
            path = _cache_dir() / name
            try:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                if not _trusted(path.parent):
                    raise PermissionError(path.parent)
                if not path.is_file():
                    _compile(cc, path, f"once: cached in {path.parent}")
                elif not _trusted(path):
                    raise PermissionError(path)
            except OSError:  # a read-only, full or foreign cache folder: this process's own
                with tempfile.TemporaryDirectory(prefix="irkit-kernel-") as own:
                    why = f"for this process only: {path.parent} is read-only, full, or not this user's alone"
                    path = Path(own, name)
                    _compile(cc, path, why)
                    lib = ctypes.CDLL(str(path))  # loaded: the file can go
            else:
                lib = ctypes.CDLL(str(path))
            lib.irkit_score_block.argtypes = [ctypes.POINTER(Batch), ctypes.POINTER(Scratch), _i, _i]
            lib.irkit_score_block.restype = None
            lib.irkit_fill_impacts.argtypes = [_i, _p, _p, _p, _i, _p, _p, ctypes.c_double, _p, _p, _p, _i, _p]
            lib.irkit_make_codes.argtypes = [_p, _p, _i, _p, _i, _p]
            lib.irkit_java_decimals.argtypes = [_p, _i, _p, _p]
            lib.irkit_tab.restype = _i
            _lib = lib
        return _lib


def build() -> Path:
    """Compile the kernel into the cache now (``scripts/setup.sh``), so that the first search needs not; its path."""
    lib()
    return Path(_lib._name)


def tab() -> int:
    """Entries of a heavy term's table of scores by code (``TAB`` in ``_kernel.c``)."""
    return int(lib().irkit_tab())


BM25, QL = 0, 1  # the kernel's models (``enum`` in _kernel.c)


def fill_impacts(model: int, index, cache, mu: float, lognorm, weights, cp, out) -> None:
    """Every posting's score for a query term of boost 1 (``weights``: BM25, each term's idf; QL, ones)."""
    lib().irkit_fill_impacts(model, ptr(index.post_offsets, np.int64), ptr(index.post_docs, np.int32),
                             ptr(index.post_freqs, index.post_freqs.dtype), freq_bytes(index.post_freqs),
                             ptr(index.norms, np.uint8), ptr(cache, np.float32), mu, ptr(lognorm, np.float64),
                             ptr(weights, np.float32), ptr(cp, np.float64), len(weights), ptr(out, np.float32))  # fmt: skip


def make_codes(post_docs, post_freqs, norms, out) -> None:
    """Per posting, ``min(freq, 255) << 8 | norm byte of its document`` (uint16)."""
    lib().irkit_make_codes(ptr(post_docs, np.int32), ptr(post_freqs, post_freqs.dtype), freq_bytes(post_freqs),
                           ptr(norms, np.uint8), len(post_docs), ptr(out, np.uint16))  # fmt: skip


def java_decimals(x32: np.ndarray, out: np.ndarray) -> None:
    """Java's ``Float.toString`` of each float32 as a float64 (the shortest decimal that reads back as it)."""
    lib().irkit_java_decimals(ptr(x32, np.float32), len(x32), ptr(POW10, np.float64), ptr(out, np.float64))
