"""IRGAN speed in the Cranfield setting: training time per epoch and reranking throughput.

    .venv/bin/python benchmarks/irgan.py

Cranfield, 225 topics, BM25 top 100 (22,500 pairs), 24 features, default
`IRGANConfig` (46 hidden units). Training is timed on one fold (about 140
training topics): seconds per MLE pretraining epoch and per adversarial round
(D and G updates) for both variants. Reranking is timed end to end as
`irkit rank --model irgan` runs it in a fresh process (opening the index and
analysing every candidate document, then features and scoring), in a process
that has analysed the documents before, and for the scoring alone;
BM25 retrieval of the same 225 topics is measured in the same run as a reference.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from irkit import registry  # noqa: E402
from irkit.cli.rank import rank_frame  # noqa: E402
from irkit.datasets import locate  # noqa: E402
from irkit.index import LuceneIndex, build_index  # noqa: E402
from irkit.io.topics import read_topics  # noqa: E402
from irkit.io.trec import read_qrels, write_run  # noqa: E402
from irkit.rerank.features import FeatureExtractor, candidate_pairs  # noqa: E402
from irkit.rerank.irgan import IRGANConfig, train_cv  # noqa: E402
from irkit.retrieve.bm25 import BM25  # noqa: E402

DEPTH = 100


def best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    index_dir = ROOT / "indexes" / "cranfield"
    if not index_dir.exists():
        build_index(locate("cranfield/cran.all.1400"), index_dir, quiet=True)
    index = LuceneIndex(index_dir)
    queries = read_topics(locate("cranfield/cran.qry"))
    qrels = read_qrels(locate("cranfield/cranqrel"))
    bm25 = BM25(index)
    bm25_s, run = best_of(lambda: bm25.search(queries, hits=DEPTH, quiet=True))
    pairs = candidate_pairs(queries, run, DEPTH, quiet=True)
    n = len(pairs)

    start = time.perf_counter()
    extractor = FeatureExtractor(index)
    feats = extractor.extract(pairs)
    cold_s = time.perf_counter() - start
    warm_s, _ = best_of(lambda: extractor.extract(pairs))
    feats = feats.with_labels(qrels)

    rows = []
    models = {}
    for variant in ("pointwise", "pairwise"):
        cfg = IRGANConfig(variant=variant, pretrain_epochs=5, epochs=5)
        start = time.perf_counter()
        model = train_cv(feats, qrels, cfg, folds=5, full=False, quiet=True)
        total = time.perf_counter() - start
        hs = [p.history for p in model.parts]
        # medians over the folds: the first fold also pays torch's warm-up
        pre = float(np.median([h["pretrain_seconds"] / cfg.pretrain_epochs for h in hs]))
        rnd = float(np.median([s for h in hs for s in h["seconds"]]))
        rows.append((variant, pre, rnd, total / len(model.parts)))
        models[variant] = model

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        models["pointwise"].save(path)
        stage = registry.build("irgan", {"model": path}, registry.Context(index=index_dir, quiet=True))
        frame = rank_frame(queries, run, DEPTH)
        rank_s, out = best_of(lambda: stage.transform(frame), repeat=2)
        assert len(out) == n
        # a fresh process: what one `irkit rank` command costs, start-up included
        write_run(run, Path(tmp) / "bm25.run")
        cmd = [sys.executable, "-m", "irkit", "rank", "-m", "irgan", "-O", f"model={path}", "-i", str(index_dir),
               "-t", str(locate("cranfield/cran.qry")), "--rerank", str(Path(tmp) / "bm25.run"), "-o", str(Path(tmp) / "x.run"), "-q"]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        cli_s = time.perf_counter() - start
    score_s, _ = best_of(lambda: models["pointwise"].score(feats, "d"))

    print(
        "## IRGAN speed, Cranfield (225 topics x 100 candidates, 24 features, 46 hidden units, CPU, 1 torch thread)\n"
    )
    print("| variant | s / pretraining epoch | s / adversarial round | s / fold (5 + 5 epochs) |")
    print("|---|---|---|---|")
    for variant, pre, rnd, fold in rows:
        print(f"| {variant} | {pre:.3f} | {rnd:.3f} | {fold:.1f} |")
    print("\n| step | seconds | pairs/s | ratio to BM25 retrieval of the same topics |")
    print("|---|---|---|---|")
    print(f"| BM25 retrieval, top {DEPTH} (reference) | {bm25_s:.2f} | {n / bm25_s:,.0f} | 1.00 |")
    for label, secs in (
        ("features, first call (analyses all documents)", cold_s),
        ("features, documents cached", warm_s),
        ("scoring features with D", score_s),
        ("`irkit rank --model irgan` command, fresh process (JVM start-up included)", cli_s),
        ("the irgan stage in a process that has seen the documents", rank_s),
    ):
        print(f"| {label} | {secs:.2f} | {n / secs:,.0f} | {secs / bm25_s:.2f} |")


if __name__ == "__main__":
    main()
