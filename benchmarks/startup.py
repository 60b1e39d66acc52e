"""Time to first result: whole-process time and peak memory of irkit's commands, against ``import pandas``.

Every row is a fresh process, as a user at a shell starts it (``python -m irkit ...``, which is
what the ``irkit`` script runs, with ``PYTHONPATH`` naming the tree measured): interpreter
start, imports, JVM start where the command needs one, the work, and writing the output. The
reference, ``python -c "import pandas"``, is measured in the same run, so the ratio holds across
machines and loads. Each row is the median of ``--repeat`` runs after one untimed run (files in
the page cache, the BM25 kernel in its on-disk cache); peak memory is the largest resident set
of the process and its children (``ru_maxrss`` from ``wait4``), and CPU seconds (user + system,
all threads and children) are printed beside the wall time: on a loaded machine they move less. The load average
(``/proc/loadavg``) before and after is printed: the machine this runs on may be shared, and
every figure grows with its load.

    nice -n 10 .venv/bin/python benchmarks/startup.py [--collection cacm] [--repeat 3] [--before DIR]

``irkit index`` builds the collection's index (into a temporary folder) and the ``rank`` rows
rank the collection's topics on it (1,000 hits each). The last row is BM25's first rank where
the kernel's on-disk cache is empty (an install that skipped ``scripts/setup.sh``'s build): irkit
compiles the kernel, and says so. (For a ``--before`` tree whose kernel was numba's, the row
empties numba's cache instead.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "python -c 'import pandas'"


def _once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak resident MB of one process (and its children)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err.strip()[-500:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # KiB on Linux


def measure(argv: list[str], repeat: int, env: dict[str, str], cwd: Path) -> tuple[float, float, float]:
    _once(argv, env, cwd)  # untimed: page cache, the kernel's cache
    runs = [_once(argv, env, cwd) for _ in range(repeat)]
    return (
        statistics.median(s for s, _, _ in runs),
        statistics.median(c for _, c, _ in runs),
        max(m for _, _, m in runs),
    )


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collection", default="cacm", help="A built-in collection (`irkit datasets`).")
    ap.add_argument("--repeat", type=int, default=3, help="Timed runs per row (the median is printed).")
    ap.add_argument("--models", nargs="+", default=["bm25", "ql", "bm25+rm3"], help="Models of the rank rows.")
    ap.add_argument(
        "--before",
        type=Path,
        metavar="DIR",
        help="Another irkit source tree (e.g. `git worktree add DIR COMMIT`), measured in the same run, row by row.",
    )
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    trees = [("before", args.before.resolve())] if args.before else []
    trees.append(("now", ROOT))

    before_load = loadavg()
    with tempfile.TemporaryDirectory(prefix="irkit-startup-") as tmp:
        table: dict[str, dict[str, tuple[float, float, float]]] = {}
        for label, tree in trees:
            # each tree gets its own index (the index format may differ) and kernel cache for the cold row;
            # it runs in the tree, as `python -m` puts the working folder before PYTHONPATH
            env = {**os.environ, "IRKIT_QUIET": "1", "PYTHONPATH": str(tree)}
            for name, argv in _rows(args, Path(tmp, label)):
                cold = name.endswith("(once)")
                if cold:
                    empty = str(Path(tmp, label, "cache"))
                    row = _once(argv, {**env, "XDG_CACHE_HOME": empty, "NUMBA_CACHE_DIR": empty}, tree)
                else:
                    row = measure(argv, args.repeat, env, tree)
                table.setdefault(name, {})[label] = row
                print(
                    f"  {label}: {name}: {row[0]:.2f} s, CPU {row[1]:.2f} s, {row[2]:,.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )
    after_load = loadavg()

    labels = [label for label, _ in trees]
    print(f"\n{args.collection}, median of {args.repeat} runs; load average {before_load} before, {after_load} after\n")
    head = " | ".join(f"{lb} s | {lb} x pandas | {lb} CPU s | {lb} peak MB" for lb in labels)
    print(f"| command | {head} |")
    print("|---|" + "---:|" * (4 * len(labels)))
    for name, cells in table.items():
        out = []
        for lb in labels:
            seconds, cpu, mb = cells[lb]
            out.append(f"{seconds:.2f} | {seconds / table[REFERENCE][lb][0]:.2f} | {cpu:.2f} | {mb:,.0f}")
        print(f"| `{name}` | {' | '.join(out)} |")


def _rows(args: argparse.Namespace, work: Path) -> list[tuple[str, list[str]]]:
    work.mkdir(parents=True, exist_ok=True)
    index, run = work / "index", work / "out.run"
    irkit = [sys.executable, "-m", "irkit"]
    rows = [
        (REFERENCE, [sys.executable, "-c", "import pandas"]),
        ("irkit --help", [*irkit, "--help"]),
        ("irkit rank --help", [*irkit, "rank", "--help"]),
        ("irkit models", [*irkit, "models"]),
        ("irkit datasets", [*irkit, "datasets"]),
        (f"irkit index {args.collection}", [*irkit, "index", args.collection, "-i", str(index), "--force", "-q"]),
    ]
    for model in args.models:
        rank = [*irkit, "rank", "-m", model, "-t", args.collection, "-i", str(index), "-o", str(run), "--force", "-q"]
        rows.append((f"irkit rank -m {model}", rank))
    if "bm25" in args.models:  # the first rank after an install that skipped the kernel's build: it compiles
        rows.append(("irkit rank -m bm25, kernel cache empty (once)", dict(rows)["irkit rank -m bm25"]))
    return rows


if __name__ == "__main__":
    main()
