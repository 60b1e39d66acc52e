"""numba compiles the impact kernels once: it says so, and a new process loads them from the on-disk cache."""

from __future__ import annotations

import os
import subprocess
import sys

NOTICE = "compiling the BM25 search kernels"
# java_decimals is the smallest kernel (a few seconds to compile); the others are cached the same way.
CALL = "import numpy as np; from irkit.retrieve import impact; print(impact.java_decimal(np.float32([0.1, 2.5])))"


def _run(cache_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "IRKIT_QUIET": "0"}
    return subprocess.run([sys.executable, "-c", CALL], capture_output=True, text=True, env=env, timeout=300)


def test_compiled_once_with_a_notice_then_loaded_from_disk(tmp_path):
    first = _run(tmp_path)
    assert first.returncode == 0, first.stderr
    assert NOTICE in first.stderr
    assert any(p.suffix == ".nbi" for p in tmp_path.rglob("*"))  # numba's cache index, written beside no source
    second = _run(tmp_path)
    assert second.returncode == 0, second.stderr
    assert NOTICE not in second.stderr  # loaded, not compiled
    assert second.stdout == first.stdout
