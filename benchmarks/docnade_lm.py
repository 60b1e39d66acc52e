"""DocNADE-LM (Lauly et al., JMLR 2016) beside plain DocNADE and irkit's LSTM LM; adds its rows to docs/dense.md.

Two measurements per collection (Vaswani, Cranfield, CACM):

1. **Held-out perplexity.** The documents (analysed as the index analyses
   them, in docno order) are split 90/10 by seed 0 exactly as
   ``irkit train docnade --holdout 0.1`` splits them; the vocabulary is built on
   the 90% (words seen at least twice) and words outside it are dropped, as
   DocNADE drops them. On the same held-out tokens (each document's first 1,000
   vocabulary words, in the text's order), three models report the word-level
   perplexity ``exp(total NLL / total words)``:
   plain DocNADE (trained on random word orders, as Lauly et al. train it, and
   scored in the text's order), DocNADE-LM (``--ngram N``, trained in the text's
   order) and irkit's LSTM LM (``irkit.generative.text.lstm_lm``) trained on the
   same training documents with the same vocabulary; its special tokens are
   masked out of the softmax and ``</s>`` is not scored, so all three are
   distributions over the same words scored on the same words.
2. **Retrieval.** DocNADE-LM is trained on all documents with the settings of
   the DocNADE rows of ``benchmarks/dense_table.py`` (plus ``--ngram``), and its
   document vectors go through the same FAISS flat index, dense ranking,
   reranking of BM25's top 100, RRF and cross-validated interpolation. The rows
   are written into the per-collection tables of docs/dense.md (older DocNADE-LM
   rows are replaced), and a marked section of docs/dense.md holds the
   perplexity table and the notes.

Models are cached in --work while their settings are unchanged.

    nice -n 10 .venv/bin/python benchmarks/docnade_lm.py [--collections cranfield] [--ngrams 3 6] [--retrieval-ngram 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("IRKIT_QUIET", "1")

import dense_table  # noqa: E402  (its collections, settings and helpers: the same protocol)
import numpy as np  # noqa: E402
import torch  # noqa: E402

from irkit.datasets import locate  # noqa: E402
from irkit.dense.docnade import perplexity  # noqa: E402
from irkit.dense.encoders import load_encoder  # noqa: E402
from irkit.dense.faiss_index import Vectors, build_faiss  # noqa: E402
from irkit.dense.train import _split, train_encoder  # noqa: E402
from irkit.dense.vocab import index_tokens  # noqa: E402
from irkit.evaluate.leaderboard import to_markdown  # noqa: E402
from irkit.frames import run_frame  # noqa: E402
from irkit.index import LuceneIndex, build_index  # noqa: E402
from irkit.io.atomic import atomic_file  # noqa: E402
from irkit.io.topics import read_topics  # noqa: E402
from irkit.io.trec import normalise_docnos, read_qrels  # noqa: E402
from irkit.retrieve import BM25  # noqa: E402

BEGIN, END = "<!-- docnade-lm: begin (benchmarks/docnade_lm.py) -->", "<!-- docnade-lm: end -->"
DISPLAY = {"vaswani": "Vaswani", "cranfield": "Cranfield", "cacm": "CACM"}
HOLDOUT = 0.1  # test documents
VALID = 0.1  # of the training documents: picks each model's epoch
LSTM = {"embed": 128, "hidden": 128, "dropout": 0.2, "lr": 3e-3, "batch_size": 16}


def dense_run(kind: str, options: dict, topics, candidates=None, depth: int = 100):
    """The registry's ``kind`` stage (what ``irkit rank --model KIND`` runs) on the topics or the candidates."""
    from irkit import registry
    from irkit.cli.rank import rank_frame

    stage = registry.build(kind, options, registry.Context(hits=1000, quiet=True))
    return run_frame(stage.transform(rank_frame(topics, candidates, depth)))


def cached(path: Path, settings: dict, train) -> tuple[dict, bool]:
    """``train()`` into ``path`` unless a model with the same ``settings`` is there; returns (model.json, reused)."""
    stamp = path.with_suffix(".settings.json")
    wanted = json.dumps(settings, sort_keys=True, default=str)
    if not (path.exists() and stamp.exists() and stamp.read_text() == wanted):
        train()
        stamp.write_text(wanted)
        reused = False
    else:
        reused = True
    return json.loads((path / "model.json").read_text()), reused


class _Stop(Exception):
    """Raised from the trainer's checkpoint callback to end training early."""


def fit_best(model, data, valid_ppl, epochs: int, lr: float, seed: int, quiet: bool, patience: int = 1) -> dict:
    """Train with the shared Trainer, scoring the validation documents after every epoch; keep the best
    epoch's weights and stop once ``patience`` epochs in a row were worse (the same rule for every model)."""
    from irkit.nn import Trainer, TrainerConfig

    best: dict = {"ppl": math.inf, "epoch": 0, "state": None}

    def keep(m, epoch, history):
        v = history.val[-1]["valid_ppl"]
        if v < best["ppl"]:
            best.update(ppl=v, epoch=epoch, state={k: t.detach().clone() for k, t in m.state_dict().items()})
        elif epoch - best["epoch"] >= patience:
            raise _Stop

    trainer = Trainer(TrainerConfig(epochs=epochs, lr=lr, seed=seed, quiet=quiet, device="cpu"))
    start, cpu = time.perf_counter(), time.process_time()
    with contextlib.suppress(_Stop):
        trainer.fit(model, data, validate=lambda m, e: {"valid_ppl": valid_ppl(m)}, checkpoint=keep)
    model.load_state_dict(best["state"])
    model.eval()
    return {
        "best_epoch": best["epoch"],
        "epochs_run": len(trainer.history.train_loss),
        "max_epochs": epochs,
        "valid_ppl": [round(v["valid_ppl"], 2) for v in trainer.history.val],
        "train_loss": [round(v, 4) for v in trainer.history.train_loss],
        "seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def lstm_row(fit_docs, valid_docs, test_docs, vocab_size: int, epochs: int, seed: int, quiet: bool) -> dict:
    """irkit's LSTM LM on the same token ids; word-level perplexity over the same words."""
    from irkit.generative.text.common import eval_batches, sentence_batches
    from irkit.generative.text.data import EOS, PAD, SPECIALS
    from irkit.generative.text.lstm_lm import LSTMLM, LSTMLMConfig
    from irkit.nn import seed_everything

    off = len(SPECIALS)  # DocNADE's word w is the LM's word w + off, after <pad> <unk> <s> </s> <num>
    shift = lambda docs: [[w + off for w in d[:1000]] for d in docs if d]  # noqa: E731

    @torch.no_grad()
    def ppl(model, docs) -> tuple[float, int]:
        model.eval()
        nll, words = 0.0, 0
        for tokens, _ in eval_batches(docs, 32):
            logits = model.logits(tokens[:, :-1])
            logits[..., :off] = -math.inf  # only the words DocNADE's tree covers
            target = tokens[:, 1:].masked_fill(tokens[:, 1:] == EOS, PAD)  # </s> is not a word
            mask = target != PAD
            nll += float(torch.nn.functional.cross_entropy(logits[mask], target[mask], reduction="sum"))
            words += int(mask.sum())
        return math.exp(nll / words), words

    fit, valid, test = shift(fit_docs), shift(valid_docs), shift(test_docs)
    seed_everything(seed)
    model = LSTMLM(LSTMLMConfig(vocab_size + off, LSTM["embed"], LSTM["hidden"], LSTM["dropout"]))
    data = sentence_batches(fit, LSTM["batch_size"], seed)
    info = fit_best(model, data, lambda m: ppl(m, valid)[0], epochs, LSTM["lr"], seed, quiet)
    test_ppl, words = ppl(model, test)
    return {"model": "LSTM LM (irkit.generative.text.lstm_lm)", "ppl": test_ppl, "words": words, "fit": info}


def docnade_row(n, vocab, fit_docs, valid_docs, test_docs, opts, quiet: bool) -> dict:
    from irkit.dense.docnade import DocNADE, DocNADEConfig, batches
    from irkit.nn import seed_everything

    seed_everything(opts.seed)
    model = DocNADE(DocNADEConfig(len(vocab), opts.dim, opts.activation, 1000, ngram=n), vocab.counts)

    def data(epoch):
        return batches(fit_docs, model.pad, opts.batch_tokens, 1000, seed=opts.seed * 1000 + epoch, order=model.order)

    def valid_ppl(m):
        return perplexity(m, valid_docs, order="natural", average="word")

    info = fit_best(model, data, valid_ppl, opts.epochs, opts.lr, opts.seed, quiet)
    row = {
        "model": "DocNADE" if n == 1 else f"DocNADE-LM, n = {n}",
        "ppl": perplexity(model, test_docs, order="natural", average="word"),
        "fit": info,
    }
    if n == 1:
        row["random_order_ppl"] = perplexity(model, test_docs, seed=opts.seed, order="random", average="word")
    return row


def perplexities(name: str, work: Path, index: LuceneIndex, ngrams: list[int], lstm_epochs: int, quiet: bool) -> dict:
    """The perplexity rows of one collection (cached in ``work`` while the settings are unchanged)."""
    from irkit.dense.vocab import Vocab

    opts = replace(dense_table.SETTINGS["docnade"][name], holdout=HOLDOUT)
    settings = {"docnade": asdict(opts), "ngrams": ngrams, "lstm": LSTM, "lstm_epochs": lstm_epochs, "valid": VALID}
    stamp = work / "perplexity.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("settings") == settings:
        return json.loads(stamp.read_text())["result"]
    _, tokens = index_tokens(index, quiet=True)
    docnos = list(index.docnos)
    tokens = [tokens[i] for i in sorted(range(len(docnos)), key=docnos.__getitem__)]  # as train_encoder orders them
    train_ids, test_ids = _split(len(tokens), opts)
    # The vocabulary of `irkit train docnade --holdout 0.1`; a seeded tenth of its training documents picks the epoch.
    vocab = Vocab.build([tokens[i] for i in train_ids], size=opts.vocab, min_count=opts.min_count)
    docs = [vocab.ids(tokens[i]) for i in train_ids]
    order = np.random.default_rng(opts.seed).permutation(len(docs))
    n_valid = round(VALID * len(docs))
    valid_docs = [docs[i] for i in order[:n_valid]]
    fit_docs = [docs[i] for i in order[n_valid:]]
    test_docs = [vocab.ids(tokens[i]) for i in test_ids]
    rows = []
    for n in [1, *ngrams]:
        rows.append(docnade_row(n, vocab, fit_docs, valid_docs, test_docs, opts, quiet))
        print(f"  {rows[-1]['model']}: {rows[-1]['ppl']:.1f} ({rows[-1]['fit']})", file=sys.stderr, flush=True)
    rows.append(lstm_row(fit_docs, valid_docs, test_docs, len(vocab), lstm_epochs, opts.seed, quiet))
    words = sum(min(len(d), 1000) for d in test_docs)
    assert words == rows[-1]["words"], (words, rows[-1]["words"])
    result = {
        "rows": rows,
        "fit_docs": len(fit_docs),
        "valid_docs": len(valid_docs),
        "held_docs": sum(1 for d in test_docs if d),
        "held_words": words,
        "vocab": len(vocab),
    }
    stamp.write_text(json.dumps({"settings": settings, "result": result}))
    return result


def retrieval(name: str, work: Path, index: LuceneIndex, n: int, depth: int, folds: int) -> dict:
    _, topics_path, qrels_path = (locate(p) for p in dense_table.COLLECTIONS[name])
    topics = read_topics(topics_path)
    qrels, _ = normalise_docnos(read_qrels(qrels_path), set(index.docnos))
    bm25 = BM25(index, backend="lucene").search(topics, hits=1000, quiet=True)  # Lucene's own searcher
    opts = replace(dense_table.SETTINGS["docnade"][name], ngram=n, quiet=True)
    path = work / f"docnade-lm-n{n}"
    meta, reused = cached(path, asdict(opts), lambda: train_encoder("docnade", work / "index", path, opts, True))
    _, tokens = index_tokens(index, quiet=True)
    t0 = time.perf_counter()
    vectors = load_encoder(path).encode_tokens(tokens)
    encode_s = time.perf_counter() - t0
    faiss_dir = work / f"docnade-lm-n{n}.faiss"
    build_faiss(Vectors(vectors, list(index.docnos)), faiss_dir, encoder=str(path), overwrite=True)
    label = f"DocNADE-LM (n = {n})"
    board, names = dense_table.encoder_rows("docnade", faiss_dir, label, topics, bm25, qrels, depth, folds)
    training = meta["training"]
    return {
        "board": board,
        "label": label,
        "interp": names["interp"],
        "rrf": names["rrf"],
        "meta": meta,
        "reused": reused,
        "train_s": training["seconds"],
        "train_cpu_s": training.get("cpu_seconds"),
        "encode_docs_per_s": len(tokens) / encode_s,
    }


def splice_rows(text: str, name: str, board_md: str) -> str:
    """``text`` (docs/dense.md) with the collection's table holding the new rows after the DocNADE rows."""
    head = re.compile(rf"^## {re.escape(name.capitalize())} \(", re.M)
    m = head.search(text)
    if m is None:
        raise SystemExit(
            f"docs/dense.md has no '## {name.capitalize()} (' section; run benchmarks/dense_table.py first"
        )
    end = text.find("\n## ", m.end())
    end = len(text) if end < 0 else end
    section = text[m.start() : end].split("\n")
    new = [r for r in board_md.strip().split("\n")[2:] if not r.startswith(f"| {dense_table.BASELINE} |")]
    section = [r for r in section if not (r.startswith("| DocNADE-LM") or r.startswith("| BM25 + DocNADE-LM"))]
    anchor = max(i for i, r in enumerate(section) if r.startswith("| BM25 + DocNADE, interpolation"))
    section[anchor + 1 : anchor + 1] = new
    return text[: m.start()] + "\n".join(section) + text[end:]


def render_section(results: list[dict], args, command: str, seconds: float, cpu: float, text: str) -> str:
    lines = [
        BEGIN,
        "## DocNADE-LM: held-out perplexity and retrieval",
        "",
        f"Produced by `{command}` in {seconds / 60:.1f} minutes wall, {cpu / 60:.1f} CPU-minutes, on the shared 2-core "
        "machine (one torch thread, `nice -n 10`); models and perplexity figures of unchanged settings are reused from "
        "the work folder, so the training times listed below may come from earlier runs. DocNADE-LM (Lauly et al., JMLR 2016, `irkit train docnade --ngram N`) "
        "adds n-gram units to DocNADE's hidden layer, `h_i = g(c + sum_{k<i} W[:, v_k] + sum_{k=1}^{N-1} U_k W_LM[:, "
        "v_{i-k}])`, and models the words in the text's order; the softmax is the same Huffman tree.",
        "",
        "**Perplexity protocol.** Documents (Anserini analysis: stems, no stopwords) in docno order are split 90/10 "
        f"by seed 0, as `irkit train docnade --holdout {HOLDOUT}` does; the vocabulary (words seen twice or more in the "
        "90%) is shared, and words outside it are dropped. A seeded tenth of the 90% is a validation set: every model "
        "is scored on it after each epoch, keeps its best epoch's weights and stops after one worse epoch (DocNADE-LM "
        "overfits within a few epochs on these small collections). Every model is then scored on the same test words "
        "(each held-out document's first 1,000, in the text's order) by word-level perplexity "
        "`exp(total NLL / total words)`. Plain DocNADE is trained on random word orders, as in the paper, and scored "
        "in the text's order (in brackets: in one random order per document). DocNADE and DocNADE-LM use the DocNADE "
        "settings of the tables above (dim 128, tanh, Adam lr 0.01, 2,048 padded words per batch; at most those "
        f"epochs). The LSTM LM is `irkit.generative.text.lstm_lm` ({LSTM['embed']}-d embeddings, {LSTM['hidden']} "
        f"hidden units, dropout {LSTM['dropout']}, full softmax, Adam lr {LSTM['lr']}, {LSTM['batch_size']} documents "
        f"per batch, at most {args.lstm_epochs} epochs) on the same documents and vocabulary, with its special tokens "
        "masked out of the softmax and `</s>` not scored, so all models are distributions over the same words.",
        "",
        "| collection | held-out documents / words | vocabulary | DocNADE | "
        + " | ".join(f"DocNADE-LM, n = {n}" for n in args.ngrams)
        + " | LSTM LM |",
        "|---|---|---|---:|" + "---:|" * len(args.ngrams) + "---:|",
    ]
    for r in results:
        p = r["ppl"]
        cells = []
        best = min(row["ppl"] for row in p["rows"])
        for row in p["rows"]:
            v = f"{row['ppl']:.1f}"
            v = f"**{v}**" if row["ppl"] == best else v
            if "random_order_ppl" in row:
                v += f" ({row['random_order_ppl']:.1f})"
            cells.append(v)
        lines.append(
            f"| {DISPLAY[r['name']]} | {p['held_docs']:,} / {p['held_words']:,} | {p['vocab']:,} | "
            + " | ".join(cells)
            + " |"
        )
    lines += ["", "Training (best epoch / epochs run, validation perplexity per epoch, parameters, time):", ""]
    for r in results:
        parts = []
        for row in r["ppl"]["rows"]:
            f = row["fit"]
            parts.append(
                f"{row['model'].split(' (')[0]}: {f['best_epoch']}/{f['epochs_run']} "
                f"({' '.join(f'{v:.0f}' for v in f['valid_ppl'])}), {f['parameters']:,}, {f['seconds']:.0f} s "
                f"({f['cpu_seconds']:.0f} CPU s)"
            )
        p = r["ppl"]
        lines.append(
            f"- {DISPLAY[r['name']]} ({p['fit_docs']:,} training / {p['valid_docs']:,} validation documents): "
            + "; ".join(parts)
            + "."
        )
    n = args.retrieval_ngram
    lines += [
        "",
        f"**Retrieval.** The DocNADE-LM (n = {n}) rows in the collection tables above come from a model trained on all "
        "documents with the DocNADE row's settings plus `--ngram`; its document vector is the bag-of-words state "
        "`g(c + sum_k W[:, v_k])` (the n-gram units describe the last words, not the document), encoded, indexed, "
        "ranked and fused exactly as DocNADE's. Their `sig` column is Holm-corrected over the four DocNADE-LM runs "
        "(the other rows: over the eight runs of `benchmarks/dense_table.py`).",
        "",
    ]
    for r in results:
        b = r["ret"]["board"].set_index("run")
        parts = []
        for run in (r["ret"]["rrf"], r["ret"]["interp"]):
            d_ap = b.loc[run, "AP"] - b.loc[dense_table.BASELINE, "AP"]
            d_nd = b.loc[run, "nDCG@10"] - b.loc[dense_table.BASELINE, "nDCG@10"]
            parts.append(f"{run.split(', ', 1)[1]}: AP {d_ap:+.4f}, nDCG@10 {d_nd:+.4f} vs BM25")
        t = r["ret"]["meta"]["training"]
        lines.append(
            f"- {DISPLAY[r['name']]}: " + "; ".join(parts) + f". Trained {t['epochs']} epochs in {t['seconds']:.0f} s "
            f"({t.get('cpu_seconds', 0):.0f} CPU s), final loss {t['train_loss'][-1]:.3f} nats/word; encodes "
            f"{r['ret']['encode_docs_per_s']:,.0f} docs/s."
        )
    lines += ["", "**Which helps where.**", "", *verdict_lines(results, text), "", END]
    return "\n".join(lines)


def table_row(text: str, name: str, run: str) -> dict[str, float] | None:
    """nDCG@10 and AP of ``run`` in the collection's table of docs/dense.md (None when absent)."""
    m = re.search(rf"^## {re.escape(name.capitalize())} \(", text, re.M)
    if m is None:
        return None
    end = text.find("\n## ", m.end())
    for line in text[m.end() : end if end > 0 else len(text)].split("\n"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == run:
            return {"nDCG@10": float(cells[1]), "AP": float(cells[2])}
    return None


def verdict_lines(results: list[dict], text: str) -> list[str]:
    """Perplexity and retrieval, DocNADE-LM against plain DocNADE (whose rows come from benchmarks/dense_table.py)."""
    out = []
    for r in results:
        name = DISPLAY[r["name"]]
        rows = {row["model"]: row["ppl"] for row in r["ppl"]["rows"]}
        dn = rows["DocNADE"]
        lm = {k: v for k, v in rows.items() if k.startswith("DocNADE-LM")}
        best_k = min(lm, key=lm.get)
        lstm = next(v for k, v in rows.items() if k.startswith("LSTM"))
        out.append(
            f"- {name}, perplexity: best DocNADE-LM ({best_k.split(', ')[1]}) {lm[best_k]:.1f} vs DocNADE {dn:.1f} "
            f"({(lm[best_k] / dn - 1) * 100:+.1f}%); the LSTM LM {lstm:.1f} ({(lstm / dn - 1) * 100:+.1f}%)."
        )
        b = r["ret"]["board"].set_index("run")
        label = r["ret"]["label"]
        parts = []
        for how, lm_run, dn_run in (
            ("alone", f"{label} alone (whole collection)", "DocNADE alone (whole collection)"),
            ("interpolated with BM25", r["ret"]["interp"], "BM25 + DocNADE, interpolation (alpha by CV)"),
        ):
            ref = table_row(text, r["name"], dn_run)
            if ref is not None:
                parts.append(
                    f"{how} AP {b.loc[lm_run, 'AP']:.4f} vs DocNADE's {ref['AP']:.4f} "
                    f"({b.loc[lm_run, 'AP'] - ref['AP']:+.4f}), nDCG@10 {b.loc[lm_run, 'nDCG@10'] - ref['nDCG@10']:+.4f}"
                )
        if parts:
            out.append(f"- {name}, retrieval ({label}): " + "; ".join(parts) + ".")
    ppl = [{row["model"]: row["ppl"] for row in r["ppl"]["rows"]} for r in results]
    lm_better = sum(min(v for k, v in p.items() if k.startswith("DocNADE-LM")) < p["DocNADE"] for p in ppl)
    lstm_best = [DISPLAY[r["name"]] for r, p in zip(results, ppl, strict=True) if min(p, key=p.get).startswith("LSTM")]
    worse_alone = sum(
        r["ret"]["board"].set_index("run").loc[f"{r['ret']['label']} alone (whole collection)", "AP"]
        < (table_row(text, r["name"], "DocNADE alone (whole collection)") or {"AP": -1})["AP"]
        for r in results
    )
    orders = sorted({int(k.split("= ")[1]) for p in ppl for k in p if k.startswith("DocNADE-LM")})
    order_note = ", ".join(
        f"n = {n} is the best order on "
        f"{sum(min((k for k in p if k.startswith('DocNADE-LM')), key=p.get) == f'DocNADE-LM, n = {n}' for p in ppl)}"
        for n in orders
    )
    out += [
        "",
        f"In short: the n-gram units lower DocNADE's held-out perplexity on {lm_better} of {len(results)} collections "
        f"({order_note}); the LSTM LM is the best of the language models on {len(lstm_best)} "
        f"({', '.join(lstm_best) or 'none'}). As a document encoder DocNADE-LM is worse than DocNADE alone on "
        f"{worse_alone} of {len(results)} collections: a likely reason is that the n-gram units now predict the "
        "local words, so the bag-of-words weights, which make the document vector, carry less of the topic. "
        "Perplexity is where DocNADE-LM helps; retrieval is where plain DocNADE stays the better choice.",
    ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "docnade-lm")
    ap.add_argument(
        "--collections", nargs="+", default=list(dense_table.COLLECTIONS), choices=list(dense_table.COLLECTIONS)
    )
    ap.add_argument("--ngrams", nargs="+", type=int, default=[3, 6], help="n-gram orders for the perplexity table")
    ap.add_argument("--retrieval-ngram", type=int, default=3, help="the n-gram order of the retrieval rows")
    ap.add_argument("--lstm-epochs", type=int, default=3, help="at most this many epochs of the LSTM LM")
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--output", type=Path, default=ROOT / "docs" / "dense.md")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if min([*args.ngrams, args.retrieval_ngram]) < 2:
        raise SystemExit("n-gram orders must be 2 or more (1 is plain DocNADE, always included)")
    torch.set_num_threads(1)
    start, cpu_start = time.perf_counter(), time.process_time()
    results = []
    for name in args.collections:
        print(f"{name}...", file=sys.stderr, flush=True)
        work = args.work / name
        work.mkdir(parents=True, exist_ok=True)
        docs = locate(dense_table.COLLECTIONS[name][0])
        if not (work / "index").exists():
            build_index(docs, work / "index", threads=2, quiet=True)
        index = LuceneIndex(work / "index")
        ppl = perplexities(name, work, index, args.ngrams, args.lstm_epochs, args.quiet)
        print({row["model"]: round(row["ppl"], 2) for row in ppl["rows"]}, file=sys.stderr, flush=True)
        ret = retrieval(name, work, index, args.retrieval_ngram, args.depth, args.folds)
        print(ret["board"].to_string(index=False), file=sys.stderr, flush=True)
        results.append({"name": name, "ppl": ppl, "ret": ret})
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    command = "nice -n 10 .venv/bin/python benchmarks/docnade_lm.py" + (
        " " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""
    )
    text = args.output.read_text()
    for r in results:
        text = splice_rows(text, r["name"], to_markdown(r["ret"]["board"]))
    section = render_section(results, args, command, seconds, cpu, text)
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        anchor = text.find("## The same from the command line")
        anchor = len(text) if anchor < 0 else anchor
        text = text[:anchor] + section + "\n\n" + text[anchor:]
    with atomic_file(args.output, overwrite=True) as fh:
        fh.write(text)
    print(section)


if __name__ == "__main__":
    main()
