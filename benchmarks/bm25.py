"""BM25 speed: irkit against Pyserini, Anserini's SearchCollection and bm25s, in one run.

For each collection: indexing docs/s (irkit -> Anserini IndexCollection), then
batch retrieval at 1,000 hits (queries/s, warm: each system runs the query set
once before it is timed) for

* irkit ``BM25.search`` (in-process Lucene, one JNI string per query),
* Pyserini ``LuceneSearcher.batch_search`` (Python, one JNI object per hit),
* Anserini ``SearchCollection`` run inside the same JVM (writes a TREC run),
* ``bm25s`` (numpy sparse BM25, method "lucene", PyStemmer + English stopwords),

with AP / nDCG@10 beside each, and irkit's ratio to each reference. Queries are
the collection's topics cycled to --queries (ids made unique).

    .venv/bin/python benchmarks/bm25.py [--collections vaswani cacm] [--queries 300] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("IRKIT_QUIET", "1")

from irkit import _java  # noqa: E402
from irkit.evaluate import evaluate  # noqa: E402
from irkit.frames import run_frame  # noqa: E402
from irkit.index import build_index  # noqa: E402
from irkit.io.documents import iter_documents  # noqa: E402
from irkit.io.topics import read_topics  # noqa: E402
from irkit.io.trec import normalise_docnos, read_qrels, read_run  # noqa: E402
from irkit.retrieve import BM25  # noqa: E402

DATA = Path(os.environ.get("IRKIT_DATA", ROOT.parent / "shared" / "datasets"))
COLLECTIONS = {
    "vaswani": ("vaswani/doc-text.trec", "vaswani/query-text.trec", "vaswani/qrels"),
    "cacm": ("cacm/cacm.tar.gz", "cacm/topics.cacm.txt", "cacm/qrels.cacm.txt"),
    "cranfield": ("cranfield/cran.all.1400", "cranfield/cran.qry", "cranfield/cranqrel"),
}


def timed(fn, repeat: int = 1):
    fn()  # warm-up: JIT, caches, page cache
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def cycled(topics: pd.DataFrame, n: int) -> pd.DataFrame:
    reps = -(-n // len(topics))
    rows = [
        (f"{q}.{r}" if r else q, text)
        for r in range(reps)
        for q, text in zip(topics["qid"], topics["query"], strict=True)
    ]
    return pd.DataFrame(rows[:n], columns=["qid", "query"])


def original_qid(run: pd.DataFrame) -> pd.DataFrame:
    first = run[~run["qid"].str.contains(r"\.")]
    return first.reset_index(drop=True)


def bench(name: str, n_queries: int, threads: int, tmp: Path) -> list[dict]:
    docs, topics_file, qrels_file = (DATA / p for p in COLLECTIONS[name])
    rows = []
    t = time.perf_counter()
    idx = build_index(docs, tmp / name, threads=threads, quiet=True)
    index_s = time.perf_counter() - t
    n_docs = idx.num_docs
    topics = read_topics(topics_file)
    queries = cycled(topics, n_queries)
    qrels = read_qrels(qrels_file)
    qrels, _ = normalise_docnos(qrels, idx.docnos)

    def measure(system: str, fn, repeat: int = 1, **extra) -> pd.DataFrame:
        sec, run = timed(fn, repeat)
        e = evaluate(original_qid(run), qrels, "AP nDCG@10")
        rows.append(dict(collection=name, system=system, docs=n_docs, queries=n_queries, qps=n_queries / sec,
                         AP=float(e["AP"][0]), nDCG10=float(e["nDCG@10"][0]), **extra))  # fmt: skip
        return run

    # irkit
    bm25 = BM25(idx, hits=1000, threads=threads)
    irkit_run = measure("irkit BM25.search", lambda: bm25.search(queries, quiet=True), repeat=2)
    irkit_qps = rows[-1]["qps"]

    # Pyserini batch_search (same index, same JVM)
    lucene = _java.import_pyserini("pyserini.search.lucene")
    searcher = lucene.LuceneSearcher(str(idx.path))
    searcher.set_bm25(0.9, 0.4)
    qids, texts = list(queries["qid"]), list(queries["query"])

    def pyserini_run():
        hits = searcher.batch_search(texts, qids, k=1000, threads=threads)
        return run_frame(
            pd.DataFrame([(q, h.docid, h.score) for q in qids for h in hits[q]], columns=["qid", "docno", "score"])
        )

    measure("Pyserini batch_search", pyserini_run)

    # Anserini SearchCollection, inside the JVM
    tsv = tmp / f"{name}.topics.tsv"
    tsv.write_text("".join(f"{q}\t{t}\n" for q, t in zip(qids, texts, strict=True)))
    out = tmp / f"{name}.searchcollection.run"
    SearchCollection = _java.autoclass("io.anserini.search.SearchCollection")
    # SearchCollection logs every 100 queries at INFO; keep the table readable.
    _java.autoclass("org.apache.logging.log4j.core.config.Configurator").setRootLevel(
        _java.autoclass("org.apache.logging.log4j.Level").WARN
    )
    args = ["-index", str(idx.path), "-topics", str(tsv), "-topicReader", "TsvString", "-output", str(out),
            "-bm25", "-hits", "1000", "-threads", str(threads)]  # fmt: skip

    def anserini_run():
        out.unlink(missing_ok=True)
        SearchCollection.main(args)
        return read_run(out)

    run = measure("Anserini SearchCollection (JVM)", anserini_run)
    # same ranking as irkit? (SearchCollection rounds scores to 1e-4, so compare order)
    a = run[run["rank"] <= 10][["qid", "rank", "docno"]]
    b = irkit_run[irkit_run["rank"] <= 10][["qid", "rank", "docno"]]
    both = a.merge(b, on=["qid", "rank"], how="outer", suffixes=("_a", "_i"))
    same = float((both["docno_a"] == both["docno_i"]).mean())

    # bm25s
    try:
        import bm25s
        import Stemmer
    except ImportError:
        bm25s = None
    if bm25s is not None:
        corpus = list(iter_documents(docs))
        corpus = [(d, t) for d, t in corpus if t.strip()]
        stemmer = Stemmer.Stemmer("english")
        t = time.perf_counter()
        tokens = bm25s.tokenize([t for _, t in corpus], stopwords="en", stemmer=stemmer, show_progress=False)
        retriever = bm25s.BM25(method="lucene", k1=0.9, b=0.4)
        retriever.index(tokens, show_progress=False)
        bm25s_index_s = time.perf_counter() - t
        doc_ids = np.array([d for d, _ in corpus], dtype=object)

        def bm25s_run():
            q = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
            res, scores = retriever.retrieve(q, k=1000, show_progress=False, n_threads=threads)
            return run_frame(pd.DataFrame({
                "qid": np.repeat(qids, res.shape[1]), "docno": doc_ids[res.ravel()], "score": scores.ravel()
            }))  # fmt: skip

        measure("bm25s (numpy, outside reference)", bm25s_run, index_dps=len(corpus) / bm25s_index_s)
    for r in rows:
        r["irkit_x"] = irkit_qps / r["qps"]
    rows[0]["index_dps"] = n_docs / index_s
    rows[0]["top10_same_as_anserini"] = same
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--collections", nargs="+", default=["vaswani", "cacm"], choices=sorted(COLLECTIONS))
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.collections:
            rows += bench(name, args.queries, args.threads, Path(tmp))
    table = pd.DataFrame(rows)
    cols = ["collection", "system", "docs", "queries", "qps", "irkit_x", "AP", "nDCG10", "index_dps",
            "top10_same_as_anserini"]  # fmt: skip
    table = table[[c for c in cols if c in table.columns]]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.4f}" if v < 10 else f"{v:,.1f}"))
    print(f"\nqps: queries/s at 1,000 hits, {args.threads} threads, warm; irkit_x: irkit's qps / that row's qps;")
    print("index_dps: documents/s indexed (irkit: read + JSONL + Anserini IndexCollection; bm25s: tokenise + index).")


if __name__ == "__main__":
    main()
