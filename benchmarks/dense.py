"""Dense-retrieval speed: encoding docs/s, FAISS flat and HNSW queries/s, HNSW recall@100 vs flat.

One run measures, on the same machine and in the same process:

* encoding throughput of each encoder (analysed tokens -> unit vectors; the
  Anserini analysis, shared with BM25, is timed separately);
* search throughput over the collection's vectors and over a larger corpus
  made from them (each real vector plus small Gaussian noise, so it keeps
  their geometry): FAISS flat (exact inner product), FAISS HNSW, and a plain
  numpy brute force (one matrix product + argpartition) for reference;
* recall@100 of HNSW against flat, on the collection's real topics and on the
  larger corpus.

The encoders are trained for one epoch on a subset (throughput does not depend
on training); pass --docnade/--seqae to time trained model folders instead.

    .venv/bin/python benchmarks/dense.py [--collection vaswani] [--scale 100000] [--markdown docs/dense-speed.md]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("IRKIT_QUIET", "1")

from irkit.datasets import locate  # noqa: E402
from irkit.dense.encoders import load_encoder  # noqa: E402
from irkit.dense.faiss_index import FaissIndex, Vectors, build_faiss  # noqa: E402
from irkit.dense.train import TrainOptions, train_encoder  # noqa: E402
from irkit.dense.vocab import analyzer  # noqa: E402
from irkit.index import LuceneIndex, build_index  # noqa: E402
from irkit.io.atomic import atomic_file  # noqa: E402
from irkit.io.topics import read_topics  # noqa: E402

COLLECTIONS = {
    "cacm": ("cacm/cacm.tar.gz", "cacm/topics.cacm.txt"),
    "cranfield": ("cranfield/cran.all.1400", "cranfield/cran.qry"),
    "vaswani": ("vaswani/doc-text.trec", "vaswani/query-text.trec"),
}


def timed(fn, repeat: int = 3):
    """(result, best wall seconds of ``repeat`` runs)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def numpy_search(q: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k by inner product: one matrix product, argpartition, then sort the k."""
    s = q @ x.T
    top = np.argpartition(-s, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(s, top, 1), axis=1, kind="stable")
    return np.take_along_axis(top, order, 1)


def recall(approx: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact, strict=True)]))


def search_rows(work: Path, name: str, x: np.ndarray, q: np.ndarray, k: int, threads: int) -> list[tuple]:
    docnos = [f"d{i}" for i in range(len(x))]
    rows = []
    flat = build_faiss(Vectors(x, docnos), work / f"{name}-flat", threads=threads, overwrite=True)
    (_, flat_docs), flat_s = timed(lambda: flat.search(q, k))
    start = time.perf_counter()
    hnsw = build_faiss(Vectors(x, docnos), work / f"{name}-hnsw", type="hnsw", threads=threads, overwrite=True)
    build_s = time.perf_counter() - start
    hnsw = FaissIndex(work / f"{name}-hnsw", threads=threads)
    (_, hnsw_docs), hnsw_s = timed(lambda: hnsw.search(q, k))
    np_top, np_s = timed(lambda: numpy_search(q, x, k))
    exact = np.array([[int(d[1:]) for d in row] for row in flat_docs])
    approx = np.array([[int(d[1:]) if d else -1 for d in row] for row in hnsw_docs])
    assert recall(np_top, exact) > 0.999, "numpy brute force and FAISS flat disagree"
    rows.append((name, len(x), x.shape[1], len(q), "FAISS flat (exact)", len(q) / flat_s, 1.0, ""))
    rows.append(
        (
            name,
            len(x),
            x.shape[1],
            len(q),
            "FAISS HNSW (M=32, efSearch=256)",
            len(q) / hnsw_s,
            recall(approx, exact),
            f"build {build_s:.1f} s",
        )
    )
    rows.append((name, len(x), x.shape[1], len(q), "numpy brute force", len(q) / np_s, recall(np_top, exact), ""))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--collection", default="vaswani", choices=sorted(COLLECTIONS))
    ap.add_argument(
        "--work", type=Path, default=None, help="Folder for the index and models (default: a temporary one)."
    )
    ap.add_argument("--docnade", type=Path, help="A trained DocNADE folder to time (default: train one for 1 epoch).")
    ap.add_argument("--seqae", type=Path, help="A trained sequence-autoencoder folder to time.")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--scale", type=int, default=100_000, help="Size of the larger synthetic corpus (0: skip).")
    ap.add_argument("--queries", type=int, default=1000, help="Queries for throughput on the larger corpus.")
    ap.add_argument("--threads", type=int, default=2, help="FAISS threads.")
    ap.add_argument("--torch-threads", type=int, default=1, help="Torch threads for encoding (1: irkit's default).")
    ap.add_argument("--markdown", type=Path, help="Also write the tables here.")
    args = ap.parse_args()

    import torch

    docs_path, topics_path = (locate(p) for p in COLLECTIONS[args.collection])
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if not (work / "index").exists():
            build_index(docs_path, work / "index", threads=args.threads, quiet=True)
        index = LuceneIndex(work / "index")
        texts = index.texts()
        tokens, analyse_s = timed(lambda: analyzer().many(texts, quiet=True), repeat=1)
        topics = read_topics(topics_path)
        models = {"docnade": args.docnade, "seqae": args.seqae}
        enc_rows = [("Anserini analysis (shared with BM25)", len(texts) / analyse_s, "-")]
        vectors = {}
        for kind, path in models.items():
            if path is None:
                path = work / kind
                opts = TrainOptions(dim=args.dim, epochs=1, max_docs=2000, quiet=True)
                train_encoder(kind, work / "index", path, opts, overwrite=True)
            enc = load_encoder(path, threads=args.torch_threads)
            x, enc_s = timed(lambda enc=enc: enc.encode_tokens(tokens), repeat=2)
            enc_rows.append((f"{kind} encoder ({enc.dim}-d)", len(texts) / enc_s, f"{enc_s:.2f} s"))
            vectors[kind] = (x, enc.encode(list(topics["query"])))

        x, q = vectors["docnade"]
        search = search_rows(work, f"{args.collection} (real topics)", x, q, 100, args.threads)
        if args.scale:
            rng = np.random.default_rng(0)
            reps = -(-args.scale // len(x))
            big = np.tile(x, (reps, 1))[: args.scale]
            big = big + rng.normal(scale=0.05, size=big.shape).astype(np.float32)
            big /= np.linalg.norm(big, axis=1, keepdims=True)
            qs = x[rng.choice(len(x), args.queries, replace=False)] + rng.normal(
                scale=0.05, size=(args.queries, x.shape[1])
            ).astype(np.float32)
            search += search_rows(
                work, f"synthetic x{reps}", big.astype(np.float32), qs.astype(np.float32), 100, args.threads
            )

    lines = [
        f"Machine: {os.cpu_count()} CPU cores visible (shared with other jobs); {args.torch_threads} torch thread(s) "
        f"for encoding, {args.threads} FAISS thread(s); torch {torch.__version__}.",
        "",
        f"Encoding the {len(texts):,} {args.collection} documents:",
        "",
        "| step | docs/s | time |",
        "|---|---:|---:|",
        *(f"| {a} | {b:,.0f} | {c} |" for a, b, c in enc_rows),
        "",
        "Search, top 100 per query (inner product on unit vectors):",
        "",
        "| corpus | vectors | dim | queries | method | queries/s | recall@100 vs flat | note |",
        "|---|---:|---:|---:|---|---:|---:|---|",
        *(f"| {a} | {b:,} | {c} | {d:,} | {e} | {f:,.0f} | {g:.4f} | {h} |" for a, b, c, d, e, f, g, h in search),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with atomic_file(args.markdown, overwrite=True) as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
