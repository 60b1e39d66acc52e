"""DESM scoring speed: irkit's vectorised scorer against a per-document loop, in one run.

Pairs: Vaswani's BM25 top 1,000 for all 93 topics (about 93,000 query-document
pairs). Both scorers start from the same analysed document tokens (the Lucene
analysis is timed separately: it is shared, and cached per index in irkit) and
must agree to 1e-5.

* loop: the paper's formula written directly: for each pair, gather the document's
  word vectors, normalise them, average, and take the mean cosine with the query's
  IN vectors (query vectors computed once per topic);
* vectorised, cold: ``DESMReranker.score`` on a fresh model: every candidate's unit
  centroid from one sparse (documents x vocabulary) product, then one
  matrix-vector product per topic;
* vectorised, warm: the same call again, centroids now cached by docno.

Throughput is timed without tracing; peak memory (tracemalloc: Python and numpy
allocations) is measured in a second, traced pass of each.

    .venv/bin/python benchmarks/desm.py [--work DIR] [--epochs 5] [--dim 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("IRKIT_QUIET", "1")

from irkit.datasets import locate  # noqa: E402
from irkit.index import LuceneIndex, build_index  # noqa: E402
from irkit.io.topics import read_topics  # noqa: E402
from irkit.rerank import desm as desm_module  # noqa: E402
from irkit.rerank.desm import DESM, DESMConfig, DESMReranker, analysed_documents, train, training_texts  # noqa: E402
from irkit.retrieve import BM25  # noqa: E402


def loop_scores(model: DESM, index: LuceneIndex, pairs: pd.DataFrame, variant: str) -> np.ndarray:
    """The straightforward reference: one document at a time."""
    side = model.w_out if variant == "in-out" else model.w_in
    tokens = dict(zip(pairs["docno"], analysed_documents(index, list(pairs["docno"])), strict=True))
    queries: dict[str, np.ndarray] = {}
    out = np.zeros(len(pairs))
    for i, (qid, query, docno) in enumerate(zip(pairs["qid"], pairs["query"], pairs["docno"], strict=True)):
        if qid not in queries:
            ids = [model.word_id[t] for t in desm_module.words(index.analyze(query)) if t in model.word_id]
            q = model.w_in[ids]
            queries[qid] = q / np.linalg.norm(q, axis=1, keepdims=True)
        q = queries[qid]
        ids = [model.word_id[t] for t in tokens[docno] if t in model.word_id]
        if not len(q) or not ids:
            continue
        d = side[ids]
        centroid = (d / np.linalg.norm(d, axis=1, keepdims=True)).mean(axis=0)
        out[i] = float(np.mean(q @ centroid) / np.linalg.norm(centroid))
    return out


def fresh(model: DESM) -> DESM:
    """The same vectors without any cached centroids."""
    return DESM(model.vocab, model.w_in, model.w_out, model.config)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def peak_mib(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def speed_table(
    index: LuceneIndex, model: DESM, topics: pd.DataFrame, hits: int = 1000, variant: str = "in-out"
) -> tuple[pd.DataFrame, str]:
    """The three scorers on BM25's top ``hits``: a table and a one-line description."""
    run = BM25(index).search(topics, hits=hits, quiet=True)
    pairs = run.merge(topics, on="qid")[["qid", "query", "docno"]]
    docnos = pairs["docno"].unique()
    desm_module._DOC_TOKENS.pop(str(index.path.resolve()), None)  # time the analysis from scratch
    _, analysis_s = timed(lambda: analysed_documents(index, list(docnos)))

    loop, loop_s = timed(lambda: loop_scores(model, index, pairs, variant))
    reranker = DESMReranker(fresh(model), index, variant=variant)
    cold, cold_s = timed(lambda: reranker.score(pairs))
    warm, warm_s = timed(lambda: reranker.score(pairs))
    agree = float(max(np.abs(loop - cold).max(), np.abs(cold - warm).max()))
    if agree > 1e-5:
        raise SystemExit(f"the scorers disagree by {agree:.2e}")

    loop_mib = peak_mib(lambda: loop_scores(model, index, pairs, variant))
    traced = DESMReranker(fresh(model), index, variant=variant)
    cold_mib = peak_mib(lambda: traced.score(pairs))
    warm_mib = peak_mib(lambda: traced.score(pairs))

    n = len(pairs)
    rows = [
        ("per-document loop (reference)", loop_s, loop_mib),
        ("vectorised, cold (centroids computed)", cold_s, cold_mib),
        ("vectorised, warm (centroids cached)", warm_s, warm_mib),
    ]
    table = pd.DataFrame(
        [(name, s, n / s, loop_s / s, mib) for name, s, mib in rows],
        columns=["scorer", "seconds", "pairs/s", "x loop", "peak MiB"],
    )
    info = (
        f"DESM {variant} scoring: {topics['qid'].nunique()} topics x BM25 top {hits} = {n:,} pairs "
        f"({len(docnos):,} distinct documents), {len(model.vocab):,}-word vocabulary x {model.dim} dimensions; "
        f"scores agree to {agree:.1e}; analysing the documents (shared by all three, cached per index, "
        f"not in the figures) took {analysis_s:.1f} s"
    )
    return table, info


def format_table(table: pd.DataFrame) -> str:
    return table.to_string(index=False, float_format=lambda v: f"{v:,.2f}" if v < 1000 else f"{v:,.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, help="Folder for the index (reused between runs; default: temporary).")
    ap.add_argument("--dim", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=5, help="Speed does not depend on how well the vectors are trained.")
    ap.add_argument("--hits", type=int, default=1000)
    ap.add_argument("--variant", default="in-out", choices=["in-out", "in-in"])
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        path = work / "vaswani" / "index"
        if not path.exists():
            build_index(locate("vaswani/doc-text.trec"), path, threads=2, quiet=True)
        index = LuceneIndex(path)
        topics = read_topics(locate("vaswani/query-text.trec"))
        model = train(training_texts(index), DESMConfig(dim=args.dim, epochs=args.epochs, workers=2), quiet=True)
        table, info = speed_table(index, model, topics, args.hits, args.variant)
    print("Vaswani: " + info)
    print(format_table(table))
    print(
        f"speed-up of the vectorised scorer over the loop: {table['x loop'].iloc[1]:.0f}x cold, "
        f"{table['x loop'].iloc[2]:.0f}x warm"
    )


if __name__ == "__main__":
    main()
