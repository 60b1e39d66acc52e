"""Scale-out costs, measured: local versus Ray, and a projection to MS MARCO passage from them.

On a synthetic collection (``benchmarks/synthetic.py``: Vaswani's word and length
distributions; for speed and memory only, never effectiveness), in one run:

* **BM25 at 1,000 hits**, queries/s: the local impact engine (1 and 2 threads, warm) and
  ``--engine ray`` with 1 and 2 shard workers, whole jobs (the run equals the local one).
  Ray's cost is measured in two parts: the fixed start of a job (creating the shard actors
  until each has opened its shard) and the per-query overhead after that (the job's time per
  query minus the local engine's, per shard). Memory per shard: the shard actor's private
  resident memory and its resident pages of the index files, read from ``/proc/PID/smaps``.
* **Encoding**, documents/s: a small DocNADE (trained here in seconds) encodes the first
  ``--encode-docs`` documents locally and on Ray with 1 and 2 workers (Ray Data
  ``map_batches`` over an actor pool; wall time including the pool's start, and Ray's extra
  seconds over the local time divided among the workers).
* **Indexing** (``irkit index``, Anserini + the impact part) and shard writing (``irkit
  shard``) documents/s.

Then it prints a projection for MS MARCO passage (8,841,823 documents, 6,980 dev queries)
on 1, 4 and 16 nodes, each node like this machine (2 shard or encoder workers): linear in
the collection size for BM25 (each query's postings grow with the number of documents for
a fixed vocabulary distribution), per-document for encoding and indexing. It is a
projection from the per-query and per-document costs measured here, not a measurement.

    nice -n 10 .venv/bin/python benchmarks/scale.py --docs 200000 [--queries 300] [--encode-docs 20000]
    nice -n 10 .venv/bin/python benchmarks/scale.py --index INDEX   # a synthetic index built before
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("IRKIT_QUIET", "1")

MSMARCO_DOCS = 8_841_823
MSMARCO_DEV = 6_980
WORKERS_PER_NODE = 2  # a node like this machine


def rss(pid: int, under: Path) -> tuple[float, float]:
    """(private, index-file) resident MB of a process on this machine: anonymous memory, and
    the resident pages of files under ``under`` (the memory-mapped index), from /proc."""
    private = mapped = 0.0
    in_index = False
    with open(f"/proc/{pid}/smaps") as fh:
        for line in fh:
            first = line.split(maxsplit=1)[0]
            if "-" in first and not first.endswith(":"):  # a mapping's header line
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                in_index = path.startswith(str(under))
            elif first == "Anonymous:":
                private += int(line.split()[1]) / 1024
            elif first == "Rss:" and in_index:
                mapped += int(line.split()[1]) / 1024
    return private, mapped


def existing(index: Path, topics: Path | None) -> tuple[Path, Path, float, int]:
    """An irkit index built before (``--index``): its topics (``--topics``, else those
    ``benchmarks/synthetic.py`` wrote beside its source), indexing docs/s from its ``irkit.json``,
    and its number of documents."""
    meta = json.loads((index / "irkit.json").read_text())
    if not (index / "impact" / "meta.json").exists():
        sys.exit(f"{index} has no impact part (irkit index --impact-only {index})")
    topics = topics or Path(str(meta["source"]) + ".topics.tsv")
    docs = int(meta["documents"])
    return index, topics, docs / float(meta["indexing_seconds"]), docs


def prepare(docs: int, work: Path) -> tuple[Path, Path, float]:
    """The synthetic collection, its irkit index (with the impact part), and indexing docs/s."""
    from irkit.index import build_index

    jsonl = work / f"synthetic-{docs}.jsonl"
    if not jsonl.exists():
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "synthetic.py"), "--docs", str(docs), "--output",
                        str(jsonl)], check=True)  # fmt: skip
    index = work / f"index-{docs}"
    if not (index / "impact" / "meta.json").exists():
        build_index(jsonl, index, threads=2, quiet=True, force=True)
    meta = json.loads((index / "irkit.json").read_text())
    return index, Path(str(jsonl) + ".topics.tsv"), docs / float(meta["indexing_seconds"])


def bm25(index: Path, topics: Path, queries: int, shard_set: Path) -> dict:
    import pandas as pd

    from irkit.engine import EngineConfig
    from irkit.engine.bm25 import search_shards
    from irkit.io.topics import read_topics
    from irkit.retrieve import BM25

    q = read_topics(topics)
    reps = -(-queries // len(q))
    q = pd.concat([q.assign(qid=q["qid"] + f"-{i}") for i in range(reps)], ignore_index=True).head(queries)
    out: dict = {"queries": len(q)}
    for threads in (1, 2):
        engine = BM25(index, backend="impact", threads=threads, hits=1000)
        engine.search(q.head(20), quiet=True)  # warm: kernels compiled or loaded, pages read
        start = time.perf_counter()
        local = engine.search(q, quiet=True)
        out[f"local_{threads}t_qps"] = len(q) / (time.perf_counter() - start)
    for shards in (1, 2, "2w"):  # "2w": the 2 shards written by `irkit shard`
        where = shard_set if shards == "2w" else index
        stage = BM25(where, engine=EngineConfig("ray", shards=None if shards == "2w" else shards))
        seen: dict = {}

        def watch(event, seen=seen, under=where.resolve()) -> None:
            import ray

            if event["key"] is not None and event["done"] == event["total"]:
                seen["pids"] = ray.get(event["ledger"].pids.remote())
                seen["rss"] = [rss(p, under) for p in seen["pids"].values()]

        start = time.perf_counter()
        run, stats = search_shards(stage, q, 1000, quiet=True, on_progress=watch)
        wall = time.perf_counter() - start
        assert run.equals(local), "the Ray run differs from the local one"
        busy = max(s for _, s in stats.per_worker.values())
        out[f"ray_{shards}s_qps"] = len(q) / wall
        out[f"ray_{shards}s_startup_s"] = stats.startup_seconds
        # After the workers are up: the driver's analysis, transfers, the slowest shard, the merge.
        out[f"ray_{shards}s_qps_after_startup"] = len(q) / (wall - stats.startup_seconds)
        out[f"ray_{shards}s_worker_qps"] = len(q) / busy
        out[f"ray_{shards}s_overhead_ms_per_query"] = 1000 * (
            (wall - stats.startup_seconds) / len(q) - 1 / out["local_1t_qps"] / (2 if shards == "2w" else shards)
        )
        out[f"ray_{shards}s_rss_private_mb"] = max(a for a, _ in seen["rss"])
        out[f"ray_{shards}s_rss_index_mb"] = max(f for _, f in seen["rss"])
    return out


def encoding(index: Path, docs: int, work: Path) -> dict:
    from irkit.dense.encoders import load_encoder
    from irkit.dense.train import TrainOptions, train_encoder
    from irkit.dense.vocab import index_tokens
    from irkit.engine.encoding import ray_encode_tokens
    from irkit.index import LuceneIndex

    model = work / "docnade-64"
    if not model.exists():
        train_encoder("docnade", index, model, TrainOptions(dim=64, vocab=5000, epochs=1, max_docs=2000, quiet=True))
    lucene = LuceneIndex(index)
    ids = [str(d) for d in lucene.docnos[:docs]]
    start = time.perf_counter()
    _, tokens = index_tokens(lucene, ids, quiet=True)
    out: dict = {"documents": len(ids), "analysis_docs_per_s": len(ids) / (time.perf_counter() - start)}
    encoder = load_encoder(model, threads=1)
    start = time.perf_counter()
    local = encoder.encode_tokens(tokens, batch_size=256)
    out["local_docs_per_s"] = len(ids) / (time.perf_counter() - start)
    for workers in (1, 2):
        start = time.perf_counter()
        vectors, stats = ray_encode_tokens(model, encoder, tokens, workers, batch_size=256, quiet=True)
        wall = time.perf_counter() - start
        assert (vectors == local).all(), "the Ray vectors differ from the local ones"
        out[f"ray_{workers}w_docs_per_s"] = len(ids) / wall
        out[f"ray_{workers}w_extra_s"] = wall - len(ids) / out["local_docs_per_s"] / workers
        out[f"ray_{workers}w_worker_docs_per_s"] = sum(stats.rates().values()) / max(1, len(stats.rates()))
        out[f"ray_{workers}w_retries"] = stats.retries
    return out


def shard_writing(index: Path, docs: int, work: Path) -> tuple[float, Path]:
    import shutil

    from irkit.engine.shards import write_shards

    out = work / "shards-2"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    write_shards(index, 2, out, quiet=True)
    return docs / (time.perf_counter() - start), out


def impact_bytes(index: Path) -> int:
    return sum(f.stat().st_size for f in (index / "impact").iterdir())


def projection(m: dict, docs: int) -> list[dict]:
    """MS MARCO passage on 1, 4 and 16 nodes of WORKERS_PER_NODE workers, from the measured costs."""
    b = m["bm25"]
    e = m["encoding"]
    scale = MSMARCO_DOCS / docs
    per_query_s = 1 / b["local_1t_qps"] * scale  # one worker scoring the whole collection (cost linear in docs)
    overhead_s = max(0.0, b["ray_2s_overhead_ms_per_query"] / 1000)
    rows = []
    for nodes in (1, 4, 16):
        shards = nodes * WORKERS_PER_NODE
        per_shard_docs = MSMARCO_DOCS / shards
        bm25_s = b["ray_2s_startup_s"] + MSMARCO_DEV * (per_query_s / shards + overhead_s)
        encode_s = (e["ray_2w_extra_s"] + MSMARCO_DOCS / (e["local_docs_per_s"] * shards)
                    + MSMARCO_DOCS / e["analysis_docs_per_s"])  # fmt: skip
        mem_mb = (
            m["impact_bytes_per_doc"] * per_shard_docs / 2**20
            + m["private_mb_per_doc"] * per_shard_docs
            + (m["private_base_mb"])
        )
        rows.append({
            "nodes": nodes,
            "shards": shards,
            "indexing_h": (MSMARCO_DOCS / m["indexing_docs_per_s"] + MSMARCO_DOCS / m["shard_docs_per_s"]) / 3600,
            "encoding_h": encode_s / 3600,
            "bm25_dev_min": bm25_s / 60,
            "memory_per_shard_gb": mem_mb / 1024,
        })  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--encode-docs", type=int, default=20_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/irkit-scale"))
    ap.add_argument("--json", type=Path, help="also write the measurements here")
    ap.add_argument("--index", type=Path, help="an irkit index of a synthetic collection built before "
                    "(its documents replace --docs; indexing docs/s from its irkit.json)")  # fmt: skip
    ap.add_argument("--topics", type=Path, help="with --index: its topics (default: beside its source)")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    from irkit.engine.cluster import connect

    if args.index:
        index, topics, indexing_rate, args.docs = existing(args.index, args.topics)
    else:
        index, topics, indexing_rate = prepare(args.docs, args.work)
    connect(cpus=2, quiet=True)
    shard_rate, shard_set = shard_writing(index, args.docs, args.work)
    postings = json.loads((index / "impact" / "meta.json").read_text())["postings"]
    m = {
        "docs": args.docs,
        "indexing_docs_per_s": indexing_rate,
        "impact_bytes_per_doc": impact_bytes(index) / args.docs,
        "postings_per_doc": postings / args.docs,
        "shard_docs_per_s": shard_rate,
        "bm25": bm25(index, topics, args.queries, shard_set),
        "encoding": encoding(index, args.encode_docs, args.work),
        "load_average": os.getloadavg()[0],
    }
    # Private memory of a written shard's actor: a fixed part (Python, numpy; numba while the kernel was numba's) and the kernel's
    # per-posting impacts (4 bytes a posting of its own documents); the fixed part from the 2-shard run.
    b = m["bm25"]
    m["private_mb_per_doc"] = 4 * m["postings_per_doc"] / 2**20
    m["private_base_mb"] = b["ray_2ws_rss_private_mb"] - m["private_mb_per_doc"] * args.docs / 2
    m["projection"] = projection(m, args.docs)
    if args.json:
        args.json.write_text(json.dumps(m, indent=2) + "\n")
    b, e = m["bm25"], m["encoding"]
    print(
        f"synthetic collection: {args.docs:,} documents (speed and memory only); load average {m['load_average']:.1f}"
    )
    print(f"\nBM25, 1,000 hits, {b['queries']} queries, queries/s (Ray: whole jobs; each run equals the local one):")
    print("| engine | workers | queries/s | after workers are up | worker scoring only | "
          "Ray startup (s) | Ray overhead ms/query | shard actor memory (MB) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for t in (1, 2):
        print(f"| local | {t} thread(s) | {b[f'local_{t}t_qps']:,.1f} | | | | | |")
    for s in (1, 2, "2w"):
        print(f"| ray | {'2 written' if s == '2w' else s} shard(s) | {b[f'ray_{s}s_qps']:,.1f} | {b[f'ray_{s}s_qps_after_startup']:,.1f} | "
              f"{b[f'ray_{s}s_worker_qps']:,.1f} | {b[f'ray_{s}s_startup_s']:.1f} | "
              f"{b[f'ray_{s}s_overhead_ms_per_query']:.2f} | {b[f'ray_{s}s_rss_private_mb']:,.0f} private + "
              f"{b[f'ray_{s}s_rss_index_mb']:,.0f} index pages |")  # fmt: skip
    print(f"\nEncoding (DocNADE, 64-d), {e['documents']:,} documents, docs/s (analysis on the driver: "
          f"{e['analysis_docs_per_s']:,.0f} docs/s, not included):")  # fmt: skip
    print("| engine | workers | docs/s (wall, with pool start) | Ray's extra seconds | per worker (encoding only) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| local | 1 | {e['local_docs_per_s']:,.0f} | | |")
    for w in (1, 2):
        print(f"| ray | {w} | {e[f'ray_{w}w_docs_per_s']:,.0f} | {e[f'ray_{w}w_extra_s']:.1f} | "
              f"{e[f'ray_{w}w_worker_docs_per_s']:,.0f} |")  # fmt: skip
    print(f"\nIndexing {m['indexing_docs_per_s']:,.0f} docs/s; shard writing {m['shard_docs_per_s']:,.0f} docs/s; "
          f"impact index {m['impact_bytes_per_doc']:.0f} bytes/doc")  # fmt: skip
    print(f"\nPROJECTION (not a measurement) for MS MARCO passage ({MSMARCO_DOCS:,} docs, {MSMARCO_DEV:,} dev queries), "
          f"nodes like this one ({WORKERS_PER_NODE} workers each):")  # fmt: skip
    print(
        "| nodes | shards | indexing + sharding (h) | encoding (h) | BM25 dev, 1,000 hits (min) | memory per shard (GB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for r in m["projection"]:
        print(f"| {r['nodes']} | {r['shards']} | {r['indexing_h']:.1f} | {r['encoding_h']:.1f} | "
              f"{r['bm25_dev_min']:.1f} | {r['memory_per_shard_gb']:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
