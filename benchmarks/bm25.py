"""BM25 speed and memory: irkit's impact backend against irkit's Lucene path, Pyserini and bm25s.

For each collection (Vaswani, CACM, and seeded synthetic collections drawn from Vaswani's word
and length distributions by ``benchmarks/synthetic.py``: for speed and memory only), this
builds, once, under ``--workdir``:

* the irkit index (Lucene in irkit's JVM, as ``irkit index`` builds it, + the impact part): indexing docs/s, and the
  impact part's own build time and size on disk;
* a bm25s index (``bm25s.tokenize`` with English stopwords and PyStemmer, method "lucene",
  k1=0.9, b=0.4), saved: its indexing docs/s;
* a PISA index (pyterrier-pisa, porter2 stemmer, 2 threads): its indexing docs/s (reading included).

Then every system runs in its own subprocess (so that resident memory is its own): opening
time (imports, JVM start, index open), peak resident memory (``VmHWM``), and queries/s
for a batch of ``--queries`` topics (cycled) at 1,000 and at 10 hits with 1 and 2 threads,
each the best of up to three timed passes after a warm-up pass over the first 50 queries. Every system returns a run frame
(``qid, docno, score, rank``): query analysis and the frame are inside the timing.

* ``irkit-impact``: ``BM25(index, backend="impact")`` (Lucene's exact scores and ranking);
* ``irkit-impact-kept`` (not run by default): the same, keeping the 4-byte per-posting impacts
  whatever the index's size (by default only up to ``impact.IMPACTS_BUDGET``);
* ``irkit-lucene``: ``BM25(index, backend="lucene")`` (Lucene's searcher in-process);
* ``pyserini``: ``LuceneSearcher.batch_search``;
* ``bm25s-numpy``, ``bm25s-numba``: bm25s ``retrieve`` with its numpy or numba backend
  (own tokeniser and stemmer, so its scores differ from Lucene's);
* ``pisa``: pyterrier-pisa's ``PisaIndex.bm25(k1=0.9, b=0.4)`` (PISA's own analyser, porter2
  stemmer and Terrier stopwords, and its own BM25 arithmetic: its ranking is not Lucene's).

    nice -n 10 .venv/bin/python benchmarks/bm25.py [--collections vaswani cacm synth200k synth1m] [--queries 200]

``--busy 1`` measures under contention: a spinning process pinned to the last core (at the same
niceness) runs beside every measurement, so a system that splits its work into fixed shares per
thread waits on the thread that shares that core. Each figure has its ``cores_`` beside it: the
CPU seconds of the system's process (all threads and children) per second of its best pass, the
cores it kept busy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from irkit.datasets import locate  # noqa: E402

os.environ.setdefault("IRKIT_QUIET", "1")

REAL = {
    "vaswani": (locate("vaswani/doc-text.trec"), locate("vaswani/query-text.trec")),
    "cacm": (locate("cacm/cacm.tar.gz"), locate("cacm/topics.cacm.txt")),
    "cranfield": (locate("cranfield/cran.all.1400"), locate("cranfield/cran.qry")),
}
SYNTHETIC = {"synth200k": 200_000, "synth1m": 1_000_000}
SYSTEMS = ["irkit-impact", "irkit-lucene", "pyserini", "bm25s-numpy", "bm25s-numba", "pisa"]
EXTRA = ["irkit-impact-kept"]  # the impact backend keeping 4-byte per-posting impacts whatever the index size
REFERENCE = "bm25s-numba"


# ---------------------------------------------------------------- building (parent process)


def collection_files(name: str, work: Path) -> tuple[Path, Path]:
    if name in REAL:
        return REAL[name]
    docs = work / "synthetic" / f"{name}.jsonl"
    if not docs.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "synthetic.py"), "--docs", str(SYNTHETIC[name]),
             "--output", str(docs)],
            check=True,
        )  # fmt: skip
    return docs, docs.with_name(docs.name + ".topics.tsv")


def build_irkit(name: str, docs: Path, work: Path) -> dict:
    from irkit.index import build_index

    index = work / "irkit" / name
    info_file = work / "irkit" / f"{name}.build.json"
    if not info_file.exists():
        t = time.perf_counter()
        idx = build_index(docs, index, threads=2, quiet=True, force=True)
        seconds = time.perf_counter() - t
        impact = json.loads((index / "impact" / "meta.json").read_text())
        info = {"docs": idx.num_docs, "seconds": seconds, "impact_seconds": impact["seconds"]}
        idx.close()
        info_file.write_text(json.dumps(info))
    info = json.loads(info_file.read_text())
    info["impact_bytes"] = sum(f.stat().st_size for f in (index / "impact").iterdir())
    info["lucene_bytes"] = sum(f.stat().st_size for f in index.iterdir() if f.is_file())
    info["index"] = str(index)
    return info


def index_bm25s(docs: Path, out: Path) -> dict:
    """bm25s's index of ``docs`` (English stopwords, PyStemmer, ``method="lucene"``) saved in ``out``:
    ``docs``, ``work_seconds`` (tokenise and index: this benchmark's build time) and ``seconds``
    (from the first document read to the index saved: ``benchmarks/indexing.py``'s)."""
    import bm25s
    import Stemmer

    from irkit.io.documents import iter_documents

    t = time.perf_counter()
    corpus = [(d, text) for d, text in iter_documents(docs) if text.strip()]
    t_work = time.perf_counter()
    tokens = bm25s.tokenize([text for _, text in corpus], stopwords="en", stemmer=Stemmer.Stemmer("english"),
                            show_progress=False)  # fmt: skip
    retriever = bm25s.BM25(method="lucene", k1=0.9, b=0.4)
    retriever.index(tokens, show_progress=False)
    work = time.perf_counter() - t_work
    retriever.save(str(out))
    (out / "docnos.json").write_text(json.dumps([d for d, _ in corpus]))
    return {"docs": len(corpus), "seconds": time.perf_counter() - t, "work_seconds": work}


def index_pisa(docs: Path, out: Path) -> dict:
    """PISA's index of ``docs`` (its own analyser: porter2, 2 threads) in ``out``: ``docs`` and
    ``seconds`` from the first document read to the index written."""
    import pyterrier_pisa

    from irkit.io.documents import iter_documents

    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0

    def records():
        nonlocal count
        for d, text in iter_documents(docs):
            if text.strip():
                count += 1
                yield {"docno": d, "text": text}

    t = time.perf_counter()
    pyterrier_pisa.PisaIndex(str(out), text_field="text", stemmer="porter2", threads=2, overwrite=True).index(records())
    return {"docs": count, "seconds": time.perf_counter() - t}


def build_bm25s(name: str, docs: Path, work: Path) -> dict:
    out = work / "bm25s" / name
    info_file = work / "bm25s" / f"{name}.build.json"
    if not info_file.exists():
        built = index_bm25s(docs, out)
        info_file.write_text(json.dumps({"docs": built["docs"], "seconds": built["work_seconds"]}))
    info = json.loads(info_file.read_text())
    info["bytes"] = sum(f.stat().st_size for f in out.iterdir())
    info["index"] = str(out)
    return info


def build_pisa(name: str, docs: Path, work: Path) -> dict:
    out = work / "pisa" / name
    info_file = work / "pisa" / f"{name}.build.json"
    if not info_file.exists():
        info_file.parent.mkdir(parents=True, exist_ok=True)
        info_file.write_text(json.dumps(index_pisa(docs, out)))
    info = json.loads(info_file.read_text())
    info["bytes"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    info["index"] = str(out)
    return info


# ---------------------------------------------------------------- measuring (one subprocess a system)


def cycled(topics: pd.DataFrame, n: int) -> pd.DataFrame:
    reps = -(-n // len(topics))
    rows = [(f"{q}.{r}", text) for r in range(reps) for q, text in zip(topics["qid"], topics["query"], strict=True)]
    return pd.DataFrame(rows[:n], columns=["qid", "query"])


def peak_rss_mb() -> float:
    """This process's peak resident memory. Not ``ru_maxrss``: Linux carries the parent's peak
    over into a child at ``exec``, which would charge every system with the parent's memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads) and its waited-for children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def worker(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    from irkit.io.topics import read_topics

    system = args.worker
    queries = cycled(read_topics(args.topics), args.queries)
    qids, texts = list(queries["qid"]), list(queries["query"])

    if system.startswith("irkit"):
        from irkit.retrieve import BM25

        if system == "irkit-impact-kept":
            from irkit.retrieve import impact

            impact.IMPACTS_BUDGET = 2**62
        bm25 = BM25(args.index, backend=system.split("-")[1])

        def search(hits: int, threads: int, n: int) -> pd.DataFrame:
            bm25.threads = threads
            return bm25.search(queries.iloc[:n], hits=hits, quiet=True)

    elif system == "pyserini":
        from irkit import _java
        from irkit.frames import run_frame

        searcher = _java.import_pyserini("pyserini.search.lucene").LuceneSearcher(args.index)
        searcher.set_bm25(0.9, 0.4)

        def search(hits: int, threads: int, n: int) -> pd.DataFrame:
            res = searcher.batch_search(texts[:n], qids[:n], k=hits, threads=threads)
            rows = [(q, h.docid, h.score) for q in qids[:n] for h in res[q]]
            return run_frame(pd.DataFrame(rows, columns=["qid", "docno", "score"]))

    elif system == "pisa":
        import pyterrier_pisa

        pisa = pyterrier_pisa.PisaIndex(args.pisa)
        retrievers: dict = {}

        def search(hits: int, threads: int, n: int) -> pd.DataFrame:
            if (hits, threads) not in retrievers:
                retrievers[hits, threads] = pisa.bm25(k1=0.9, b=0.4, num_results=hits, threads=threads)
            return retrievers[hits, threads](queries.iloc[:n])  # PISA's analysis of the queries inside

    else:
        import bm25s
        import Stemmer

        retriever = bm25s.BM25.load(args.bm25s, mmap=False)
        retriever.backend = system.split("-")[1]
        docnos = np.array(json.loads((Path(args.bm25s) / "docnos.json").read_text()), dtype=object)
        stemmer = Stemmer.Stemmer("english")

        def search(hits: int, threads: int, n: int) -> pd.DataFrame:
            tok = bm25s.tokenize(texts[:n], stopwords="en", stemmer=stemmer, show_progress=False, return_ids=False)
            tok = [[t for t in q if t in retriever.vocab_dict] or [""] for q in tok]  # bm25s refuses unknown words
            res, scores = retriever.retrieve(tok, k=hits, show_progress=False, n_threads=threads)
            return pd.DataFrame({
                "qid": np.repeat(np.asarray(qids[:n], dtype=object), res.shape[1]),
                "docno": docnos[res.ravel()], "score": scores.ravel().astype(np.float64),
                "rank": np.tile(np.arange(1, res.shape[1] + 1), n),
            })  # fmt: skip

    search(10, 1, 5)  # first call: JIT, caches
    opened = time.perf_counter() - start
    out: dict = {"system": system, "open_s": opened}
    for threads in args.threads:
        for hits in args.hits:
            search(hits, threads, min(50, len(queries)))  # warm-up
            # best of up to 3 passes (at least 2 s in all): the machine may be shared
            best, total, reps, cores = float("inf"), 0.0, 0, 0.0
            while reps < 3 and (reps == 0 or total < 2.0):
                t, c = time.perf_counter(), cpu_seconds()
                run = search(hits, threads, len(queries))
                sec = time.perf_counter() - t
                if sec < best:  # cores busy in the best pass: CPU seconds (all threads, children) per second
                    cores = (cpu_seconds() - c) / sec
                best, total, reps = min(best, sec), total + sec, reps + 1
            out[f"qps_{hits}_{threads}t"] = len(queries) / best
            out[f"cores_{hits}_{threads}t"] = cores
            out[f"rows_{hits}_{threads}t"] = len(run)
    out["rss_mb"] = peak_rss_mb()
    out["load_avg"] = os.getloadavg()[0]  # the machine's 1-minute load average as the system finished
    print("RESULT " + json.dumps(out))


def measure(
    system: str, irkit_info: dict, bm25s_info: dict | None, pisa_info: dict | None, topics: Path, args
) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", system, "--index", irkit_info["index"], "--topics", str(topics),
           "--queries", str(args.queries), "--hits", *map(str, args.hits), "--threads", *map(str, args.threads)]  # fmt: skip
    if bm25s_info:
        cmd += ["--bm25s", bm25s_info["index"]]
    if pisa_info:
        cmd += ["--pisa", pisa_info["index"]]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"[{system}] failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return None


def markdown(files: list[Path]) -> str:
    """README tables from the JSON of one or more runs (``--output``)."""
    runs, builds = [], []
    for f in files:
        d = json.loads(Path(f).read_text())
        runs += d["runs"]
        builds += d["builds"]
    t = pd.DataFrame(runs)
    ref = t[t.system == REFERENCE].set_index("collection")
    names = {"vaswani": "Vaswani", "cacm": "CACM", "cranfield": "Cranfield", "synth200k": "synthetic 200k",
             "synth1m": "synthetic 1M"}  # fmt: skip

    def n(v: float) -> str:
        return f"{v:,.0f}" if v >= 10 else f"{v:.1f}"

    def load(r) -> str:  # the 1-minute load average as the system finished (runs before it: not recorded)
        v = getattr(r, "load_avg", float("nan"))
        return "–" if v != v else f"{v:.1f}"

    out = ["| collection | system | 1,000 hits, 1 thread | 1,000 hits, 2 threads | 10 hits, 1 thread "
           f"| 10 hits, 2 threads | x {REFERENCE} (1,000 hits, 1 / 2 threads) | peak RSS MB | open s | load |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    last = None
    for r in t.itertuples():
        x = [getattr(r, c) / ref.loc[r.collection, c] for c in ("qps_1000_1t", "qps_1000_2t")]
        bold = "**" if r.system.startswith("irkit-impact") else ""
        coll = f"{names.get(r.collection, r.collection)} ({r.docs:,})" if r.collection != last else ""
        last = r.collection
        out.append(
            f"| {coll} | {bold}{r.system}{bold} | {bold}{n(r.qps_1000_1t)}{bold} | {bold}{n(r.qps_1000_2t)}{bold} "
            f"| {n(r.qps_10_1t)} | {n(r.qps_10_2t)} | {x[0]:.2f} / {x[1]:.2f} | {r.rss_mb:,.0f} | {r.open_s:.1f} "
            f"| {load(r)} |"
        )
    out += ["", "| collection | irkit indexing docs/s (Lucene + impact part) | impact part: build s / MB "
            "| Lucene index MB | bm25s indexing docs/s | bm25s index MB | PISA indexing docs/s | PISA index MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for b in builds:
        out.append(
            f"| {names.get(b['collection'], b['collection'])} | {n(b['irkit_docs_per_s'])} | {b['impact_s']:.1f} / "
            f"{b['impact_MB']:.1f} | {b['lucene_MB']:.1f} | {n(b['bm25s_docs_per_s'])} | {b['bm25s_MB']:.1f} "
            f"| {n(b.get('pisa_docs_per_s', float('nan')))} | {b.get('pisa_MB', float('nan')):.1f} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--collections", nargs="+", default=["vaswani", "cacm", "synth200k", "synth1m"],
                    choices=[*REAL, *SYNTHETIC])  # fmt: skip
    ap.add_argument("--systems", nargs="+", default=SYSTEMS, choices=SYSTEMS + EXTRA)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--hits", nargs="+", type=int, default=[1000, 10])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/irkit-bench"))
    ap.add_argument("--output", type=Path, help="also write the rows as JSON")
    ap.add_argument("--busy", type=int, default=0,
                    help="keep N cores busy (a spinning process pinned to each of the last N cores) while "
                         "the systems are measured: how each holds up when another process takes a core")  # fmt: skip
    ap.add_argument("--markdown", nargs="+", type=Path, help="print README tables from --output JSON files and stop")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--index", help=argparse.SUPPRESS)
    ap.add_argument("--bm25s", help=argparse.SUPPRESS)
    ap.add_argument("--pisa", help=argparse.SUPPRESS)
    ap.add_argument("--topics", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if args.markdown:
        return print(markdown(args.markdown))

    rows, builds = [], []
    for name in args.collections:
        measure_collection(name, args, rows, builds)
    report(rows, builds, args)


def spin(cores: int) -> list[subprocess.Popen]:
    """``cores`` spinning processes (at this process's niceness), one pinned to each of the last ``cores`` cores."""
    cpus = sorted(os.sched_getaffinity(0))[-cores:]
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in cpus]
    for p, cpu in zip(procs, cpus, strict=True):
        os.sched_setaffinity(p.pid, {cpu})
    return procs


def measure_collection(name: str, args, rows: list, builds: list) -> None:
    docs, topics = collection_files(name, args.workdir)
    ik = build_irkit(name, docs, args.workdir)
    bs = build_bm25s(name, docs, args.workdir) if any(s.startswith("bm25s") for s in args.systems) else None
    ps = build_pisa(name, docs, args.workdir) if "pisa" in args.systems else None
    builds.append({
        "collection": name, "docs": ik["docs"], "irkit_docs_per_s": ik["docs"] / ik["seconds"],
        "impact_s": ik["impact_seconds"], "impact_MB": ik["impact_bytes"] / 2**20,
        "lucene_MB": ik["lucene_bytes"] / 2**20,
        "bm25s_docs_per_s": bs["docs"] / bs["seconds"] if bs else float("nan"),
        "bm25s_MB": bs["bytes"] / 2**20 if bs else float("nan"),
        "pisa_docs_per_s": ps["docs"] / ps["seconds"] if ps else float("nan"),
        "pisa_MB": ps["bytes"] / 2**20 if ps else float("nan"),
    })  # fmt: skip
    spinners = spin(args.busy) if args.busy else []  # beside the measurements only, not the builds
    try:
        for system in args.systems:
            r = measure(system, ik, bs, ps, topics, args)
            if r:
                rows.append({"collection": name, "docs": ik["docs"], "busy": args.busy, **r})
                print(f"  {name} {system}: {json.dumps(r)}", file=sys.stderr)
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def report(rows: list, builds: list, args) -> None:
    table = pd.DataFrame(rows)
    key = f"qps_{args.hits[0]}_{args.threads[-1]}t"
    ref = table[table.system == REFERENCE].set_index("collection")[key]
    table["x_" + REFERENCE] = table[key] / table["collection"].map(ref)
    if args.output:
        args.output.write_text(json.dumps({"runs": rows, "builds": builds}, indent=1))
    qps = [c for c in table.columns if c.startswith(("qps_", "cores_"))]
    cols = ["collection", "system", "docs", "open_s", "rss_mb", *qps, "x_" + REFERENCE]
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table[cols].to_string(index=False, float_format=lambda v: f"{v:,.2f}" if v < 10 else f"{v:,.0f}"))
        print()
        print(
            pd.DataFrame(builds).to_string(index=False, float_format=lambda v: f"{v:,.2f}" if v < 10 else f"{v:,.0f}")
        )
    print(f"\nqps_H_Tt: queries/s ({args.queries} topics cycled) at H hits with T threads, warm, run frame included;")
    print(f"x_{REFERENCE}: {key} over {REFERENCE}'s; rss_mb: peak resident memory of the system's own process;")
    print("open_s: process start to first result (imports, JVM, index open, compiled kernels from cache).")
    print("pisa: PISA's own analyser (porter2, Terrier stopwords) and BM25: its ranking is not Lucene's.")


if __name__ == "__main__":
    main()
