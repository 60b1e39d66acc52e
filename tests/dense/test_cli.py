"""End to end on Cranfield: train, encode, FAISS, dense rank, rerank and fuse through the CLI.

Models are tiny (1 epoch on a subset): these tests check the plumbing and the
bad-input paths; effectiveness after real training is in benchmarks/dense_table.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from irkit.cli import run as irkit
from irkit.evaluate import evaluate
from irkit.io.topics import read_topics
from irkit.io.trec import read_qrels, read_run


def ok(*args: str) -> str:
    code, text = irkit(*args)
    assert code == 0, text
    return text


@pytest.fixture(scope="module")
def work(tmp_path_factory, cranfield_index, cranfield):
    w = tmp_path_factory.mktemp("dense")
    idx = cranfield_index.path
    ok("train", "docnade", "-i", idx, "-o", w / "dn", "--dim", 16, "--vocab", 2000, "--epochs", 2, "--max-docs", 400,
       "--lr", 0.02, "-q")  # fmt: skip
    ok("train", "seqae", "-i", idx, "-o", w / "sa", "--dim", 16, "--embed-dim", 8, "--vocab", 500, "--epochs", 1,
       "--max-docs", 100, "--max-len", 20, "-q")  # fmt: skip
    ok("encode", "--model", w / "dn", "--index", idx, "--output", w / "dn.npz", "-q")
    ok("faiss", "build", w / "dn.npz", "--output", w / "dn.faiss")
    # 100 hits keep the run files (and the tests) small.
    ok("rank", "--model", "bm25", "--index", idx, "--topics", cranfield.topics, "--hits", 100,
       "--output", w / "bm25.run", "-q")  # fmt: skip
    ok("rank", "--model", "docnade", "-O", f"faiss={w / 'dn.faiss'}", "--topics", cranfield.topics, "--hits", 100,
       "--output", w / "dn.run", "-q")  # fmt: skip
    return w


def _eval(path, qrels) -> dict:
    return evaluate(read_run(path), qrels, "nDCG@10 AP R@100").iloc[0].to_dict()


def test_model_folders_and_vector_files(work, cranfield_index):
    meta = json.loads((work / "dn" / "model.json").read_text())
    assert meta["kind"] == "docnade" and meta["config"]["dim"] == 16
    assert meta["trained_on"]["documents"] == 400
    assert len(meta["training"]["train_loss"]) == 2 and meta["training"]["train_ppl"] > 1
    assert (work / "dn" / "vocab.tsv").is_file()
    assert json.loads((work / "sa" / "model.json").read_text())["kind"] == "seqae"
    with np.load(work / "dn.npz") as z:
        assert z["vectors"].dtype == np.float32 and z["vectors"].shape == (len(cranfield_index.docnos), 16)
        assert list(z["docnos"]) == list(cranfield_index.docnos)
        norms = np.linalg.norm(z["vectors"], axis=1)
    # Unit vectors, except that ReLU may switch off every unit of a tiny model for a few documents.
    assert np.all(np.isclose(norms, 1, atol=1e-5) | (norms == 0)) and np.mean(norms > 0) > 0.9
    faiss_meta = json.loads((work / "dn.faiss" / "meta.json").read_text())
    assert faiss_meta["encoder"] == str((work / "dn").resolve()) and faiss_meta["type"] == "flat"


def test_dense_retrieval_beats_random_and_reranking_keeps_the_candidates(work, cranfield):
    qrels = read_qrels(cranfield.qrels)
    dense = read_run(work / "dn.run")
    assert dense.groupby("qid").size().eq(100).all()
    rng = np.random.default_rng(0)
    docnos = sorted(set(dense["docno"]))
    rand = pd.DataFrame(
        [(q, d, float(s)) for q in dense["qid"].unique() for d, s in zip(docnos, rng.random(len(docnos)), strict=True)],
        columns=["qid", "docno", "score"],
    )
    random_ap = evaluate(rand, qrels, "AP").iloc[0, 0]
    dense_ap = _eval(work / "dn.run", qrels)["AP"]
    assert dense_ap > 2 * random_ap, (dense_ap, random_ap)

    topics = cranfield.topics
    ok("rank", "--model", "docnade", "-O", f"faiss={work / 'dn.faiss'}", "--topics", topics, "--rerank", work / "bm25.run",
       "--output", work / "rr.run", "-q")  # fmt: skip
    ok("rank", "--model", "docnade", "-O", f"faiss={work / 'dn.faiss'}", "--topics", topics, "--rerank", work / "bm25.run",
       "-O", "alpha=0", "--output", work / "rr0.run", "-q")  # fmt: skip
    bm25 = read_run(work / "bm25.run")
    top = bm25[bm25["rank"] <= 100]
    rr = read_run(work / "rr.run")
    assert set(zip(rr["qid"], rr["docno"], strict=True)) == set(zip(top["qid"], top["docno"], strict=True))
    assert _eval(work / "rr.run", qrels)["R@100"] == pytest.approx(_eval(work / "bm25.run", qrels)["R@100"])
    assert read_run(work / "rr0.run")[["qid", "docno", "rank"]].equals(
        top[["qid", "docno", "rank"]].reset_index(drop=True)
    )
    # Without a FAISS index, candidates are encoded from the index's stored text: same scores.
    ok("rank", "--model", "docnade", "-O", f"encoder={work / 'dn'}", "--index", _index_of(work), "--topics", topics,
       "--rerank", work / "bm25.run", "--output", work / "rr-text.run", "-q")  # fmt: skip
    a, b = read_run(work / "rr.run"), read_run(work / "rr-text.run")
    assert np.allclose(a["score"], b["score"], atol=1e-5) and a["docno"].equals(b["docno"])


def _index_of(work):
    with np.load(work / "dn.npz") as z:
        return json.loads(str(z["meta"]))["index"]


def test_fusion_commands(work, cranfield):
    qrels = read_qrels(cranfield.qrels)
    ok("fuse", work / "dn.run", work / "bm25.run", "--method", "rrf", "--output", work / "rrf.run")
    text = ok("fuse", work / "dn.run", work / "bm25.run", "--method", "interpolate", "--qrels", cranfield.qrels,
              "--output", work / "interp.run")  # fmt: skip
    assert "per fold" in text
    bm25 = _eval(work / "bm25.run", qrels)
    interp = _eval(work / "interp.run", qrels)
    rrf = _eval(work / "rrf.run", qrels)
    # Cross-validated interpolation can fall back on BM25 when the dense run adds nothing.
    assert interp["AP"] > bm25["AP"] - 0.02
    assert rrf["R@100"] > 0.5 * bm25["R@100"]
    code, text = irkit("fuse", work / "bm25.run", "--output", work / "x.run")
    assert code == 2 and "at least two" in text


def test_bad_input(work, cranfield, tmp_path):
    from irkit.dense.faiss_index import Vectors, build_faiss
    from irkit.nn import save_model

    topics = cranfield.topics
    # An encoder folder of the wrong kind.
    code, text = irkit(
        "rank", "--model", "seqae", "-O", f"faiss={work / 'dn.faiss'}", "--topics", topics, "--output", tmp_path / "r"
    )
    assert code == 2 and "'docnade' encoder, not 'seqae'" in text and "Traceback" not in text
    save_model(tmp_path / "desm", "desm", {"dim": 3})
    code, text = irkit(
        "encode", "--model", tmp_path / "desm", "--index", _index_of(work), "--output", tmp_path / "v.npz"
    )
    assert code == 2 and "'desm' model, not a dense encoder" in text
    # Vectors and FAISS index of different dimensions.
    rng = np.random.default_rng(0)
    build_faiss(
        Vectors(rng.normal(size=(10, 8)), [f"d{i}" for i in range(10)]), tmp_path / "f8", encoder=str(work / "dn")
    )
    code, text = irkit(
        "rank", "--model", "docnade", "-O", f"faiss={tmp_path / 'f8'}", "--topics", topics, "--output", tmp_path / "r"
    )
    assert code == 2 and "16-dimensional" in text and "8-dimensional" in text
    code, text = irkit("faiss", "build", tmp_path / "missing.npz", "--output", tmp_path / "f")
    assert code == 2 and "no such vector file" in text
    code, text = irkit("rank", "--model", "docnade", "-O", f"faiss={work / 'dn.faiss'}", "--topics", topics, "-O", "alpha=0.5",
                       "--output", tmp_path / "r")  # fmt: skip
    assert code == 2 and "--rerank" in text
    assert not (tmp_path / "r").exists()


def test_empty_documents_and_unknown_query_words(work, tmp_path, monkeypatch):
    from irkit.dense.encoders import load_encoder

    for model in ("dn", "sa"):
        enc = load_encoder(work / model)
        v = enc.encode(["", "the of and", "boundary layer flow"])
        assert v.shape == (3, enc.dim) and np.isfinite(v).all()
        assert np.array_equal(v[0], v[1])  # no known word: the same vector, however it is spelt
        norms = np.linalg.norm(v, axis=1)
        assert np.all(np.isclose(norms, 1, atol=1e-5) | (norms == 0))
    topics = tmp_path / "topics.tsv"
    topics.write_text("1\tboundary layer transition\n2\tzzxqv qqwzz\n")
    monkeypatch.setenv("IRKIT_QUIET", "0")  # the warning is a log line
    code, text = irkit(
        "rank", "--model", "docnade", "-O", f"faiss={work / 'dn.faiss'}", "--topics", topics, "--output", tmp_path / "r"
    )
    assert code == 0 and "no word the docnade encoder knows" in text and "['2']" in text
    assert set(read_run(tmp_path / "r")["qid"]) == {"1"}
    q = read_topics(topics)
    assert list(q["qid"]) == ["1", "2"]


def test_same_seed_same_model(cranfield_index, tmp_path):
    import torch

    from irkit.dense.train import TrainOptions, train_encoder

    opts = TrainOptions(dim=8, vocab=500, epochs=1, max_docs=60, quiet=True, seed=3)
    for name in ("a", "b"):
        train_encoder("docnade", cranfield_index.path, tmp_path / name, opts)
    a = torch.load(tmp_path / "a" / "weights.pt")
    b = torch.load(tmp_path / "b" / "weights.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
