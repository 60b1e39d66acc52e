"""The C kernel is compiled once: the first process says so, the next loads it from the on-disk
cache; a changed compiler is a new library; no compiler is one line."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

NOTICE = "compiling the BM25 search kernel"
CALL = "import numpy as np; from irkit.retrieve import impact; print(impact.java_decimal(np.float32([0.1, 2.5, 1e-7])).tolist())"


def _run(cache, **env) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "IRKIT_QUIET": "0", **env}
    return subprocess.run([sys.executable, "-c", CALL], capture_output=True, text=True, env=env, timeout=120)


def test_compiled_once_with_a_notice_then_loaded_from_disk(tmp_path):
    first = _run(tmp_path)
    assert first.returncode == 0, first.stderr
    assert NOTICE in first.stderr
    assert first.stdout.strip() == "[0.1, 2.5, 1e-07]"  # Java's Float.toString, not float32's long decimals
    built = sorted(p.name for p in (tmp_path / "irkit").iterdir())
    assert len(built) == 1 and built[0].endswith(".so")  # no temporary left behind
    second = _run(tmp_path)
    assert second.returncode == 0, second.stderr
    assert NOTICE not in second.stderr  # loaded, not compiled
    assert second.stdout == first.stdout


def test_another_compiler_builds_its_own_library_and_a_missing_one_is_one_line(tmp_path):
    assert _run(tmp_path, CC="gcc -g").returncode == 0
    assert len(list((tmp_path / "irkit").iterdir())) == 1
    assert _run(tmp_path, CC="gcc").returncode == 0
    assert len(list((tmp_path / "irkit").iterdir())) == 2  # the key holds the compiler: not the other's library
    missing = _run(tmp_path / "empty", CC="/nonexistent/cc")
    assert missing.returncode != 0
    last = missing.stderr.strip().splitlines()[-1]
    assert "cannot compile irkit's BM25 kernel: /nonexistent/cc" in last and "set CC" in last


def test_a_cache_others_can_write_is_not_loaded_from(tmp_path):
    """Loading a library runs its code: one in a folder that other users can write is not loaded;
    the process compiles its own, and says so each time."""
    assert _run(tmp_path).returncode == 0
    (tmp_path / "irkit").chmod(0o777)
    before = set(Path(tempfile.gettempdir()).glob("irkit-kernel-*"))
    again = _run(tmp_path)
    assert again.returncode == 0, again.stderr
    assert NOTICE in again.stderr and "for this process only" in again.stderr  # a temporary folder of its own
    assert set(Path(tempfile.gettempdir()).glob("irkit-kernel-*")) == before  # removed once loaded


def test_no_compiler_at_the_command_line_is_one_line_and_writes_nothing(tmp_path, cacm_index):
    out = tmp_path / "bm25.run"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "empty"), "CC": "/nonexistent/cc", "IRKIT_QUIET": "1"}
    cmd = [
        sys.executable,
        "-m",
        "irkit",
        "rank",
        "-m",
        "bm25",
        "-i",
        str(cacm_index.path),
        "-t",
        "cacm",
        "-o",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "irkit: error: cannot compile irkit's BM25 kernel: /nonexistent/cc: No such file or directory; "
        "install a C compiler (gcc) or set CC"
    ]
    assert not out.exists()
