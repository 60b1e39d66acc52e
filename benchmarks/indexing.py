"""Indexing speed: irkit (Lucene in irkit's JVM + the impact part) against bm25s and PISA, in one run.

Each system indexes each collection in its own subprocess (one after the other, never two at
once), timed from the first document read to the index on disk: reading the collection with
irkit's reader is inside every system's time, and so is writing its index.

* ``irkit``: ``build_index(..., threads=2)``: the Lucene index (Anserini's analyser; frequencies,
  norms and text stored; document vectors, which only RM3 reads, are added when RM3 first runs)
  and the impact part that BM25 reads; the JVM's start is inside the time too;
* ``bm25s``: ``bm25s.tokenize`` (English stopwords, PyStemmer) and ``BM25(method="lucene")``,
  saved; its tokenize-and-index time alone (what ``benchmarks/bm25.py`` reports) is printed beside;
* ``pisa``: ``pyterrier_pisa.PisaIndex(stemmer="porter2", threads=2)``: PISA's own analyser,
  so its index (and ranking) is not Lucene's.

Collections: Vaswani (11,429 documents) and seeded synthetic collections drawn from it by
``benchmarks/synthetic.py`` (speed only). The 1-minute load average is read before and after
each build: the machine may be shared.

    flock /tmp/bench.lock nice -n 10 .venv/bin/python benchmarks/indexing.py [--collections vaswani synth200k synth1m]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bm25 import REAL, SYNTHETIC, collection_files, index_bm25s, index_pisa  # noqa: E402

os.environ.setdefault("IRKIT_QUIET", "1")
SYSTEMS = ["irkit", "bm25s", "pisa"]
REFERENCE = "bm25s"


def build(system: str, docs: Path, out: Path) -> dict:
    """Index ``docs`` into ``out`` with ``system`` (in this process); seconds and document count."""
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if system == "irkit":
        # Imported before the clock starts, as bm25s and pyterrier_pisa are (index_bm25s, index_pisa);
        # irkit's JVM starts inside build_index, so its start stays inside the time.
        from irkit.index import build_index

        t = time.perf_counter()
        n = build_index(docs, out, threads=2, quiet=True).num_docs
        return {"docs": n, "seconds": time.perf_counter() - t}
    if system == "bm25s":
        return index_bm25s(docs, out)
    return index_pisa(docs, out)


def measure(system: str, docs: Path, out: Path) -> dict | None:
    before = os.getloadavg()[0]
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, __file__, "--worker", system, "--docs", str(docs), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = used.ru_utime - cpu.ru_utime + used.ru_stime - cpu.ru_stime  # the whole process, imports included
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[7:])
            disk = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
            return {**r, "system": system, "MB": disk / 2**20, "cpu_s": cpu_s, "load_before": before,
                    "load_after": os.getloadavg()[0]}  # fmt: skip
    print(f"[{system}] failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--collections", nargs="+", default=["vaswani", "synth200k", "synth1m"], choices=[*REAL, *SYNTHETIC]
    )
    ap.add_argument("--systems", nargs="+", default=SYSTEMS, choices=SYSTEMS)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/irkit-bench"))
    ap.add_argument("--keep", action="store_true", help="keep the indexes under WORKDIR/indexing (default: removed)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--docs", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(build(args.worker, args.docs, args.out)))
        return

    rows = []
    for name in args.collections:
        docs, _ = collection_files(name, args.workdir)
        for system in args.systems:
            out = args.workdir / "indexing" / f"{name}.{system}"
            r = measure(system, docs, out)
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
            if r:
                rows.append({"collection": name, **r})
                print(f"  {name} {system}: {json.dumps(r)}", file=sys.stderr)

    print("| collection | system | documents | seconds | docs/s | x bm25s | CPU s | index MB | load before / after |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        ref = next((x for x in rows if x["collection"] == r["collection"] and x["system"] == REFERENCE), None)
        rate = r["docs"] / r["seconds"]
        x = f"{rate / (ref['docs'] / ref['seconds']):.2f}" if ref else "–"
        extra = ""
        if "work_seconds" in r:
            extra = f" ({r['docs'] / r['work_seconds']:,.0f} tokenize+index only)"
        print(
            f"| {r['collection']} | {r['system']} | {r['docs']:,} | {r['seconds']:.1f} | {rate:,.0f}{extra} | {x} "
            f"| {r.get('cpu_s', float('nan')):.1f} | {r['MB']:,.0f} | {r['load_before']:.1f} / {r['load_after']:.1f} |"
        )
    print("\nseconds: first document read to index on disk, in a fresh process (irkit's JVM start inside); CPU s:")
    print("the process's user+system time, start to end (the load-robust figure on a shared machine).")
    print("irkit: Lucene (Anserini's analyser, exact BM25) + impact part; bm25s: its tokenizer and")
    print("stemmer; pisa: pyterrier-pisa with its own analyser (porter2): neither ranks as Lucene does.")


if __name__ == "__main__":
    main()
