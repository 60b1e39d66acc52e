"""Crashes become one line naming the cause; hints say what is true (issue 13)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from irkit.errors import InputError
from irkit.frames import qrels_frame, queries_frame, run_frame


@pytest.mark.parametrize("backend", ["impact", "lucene"])
def test_a_10000_word_query_is_answered(cacm_index, backend):
    # Lucene's default limit of 1,024 clauses lost the whole run (TooManyClauses)
    from irkit.retrieve import BM25

    rng = np.random.default_rng(0)
    vocab = sorted({w for t in cacm_index.texts()[:300] for w in t.split() if w.isalpha()})
    long = " ".join(rng.choice(vocab, 10_000))
    # the test index has an impact part (build_index writes one by default): no skip can hide a missing one
    assert backend != "impact" or (cacm_index.path / "impact").exists()
    run = BM25(cacm_index, backend=backend).search(queries_frame({"1": long, "2": "parallel algorithms"}))
    assert sorted(run.qid.unique()) == ["1", "2"]


def test_docnos_sidecar_is_checked_against_the_index(cacm_index, tmp_path):
    from irkit.index import LuceneIndex

    copy = tmp_path / "idx"
    shutil.copytree(cacm_index.path, copy)
    assert "docnos_sha256" in json.loads((copy / "irkit.json").read_text())
    truth = list(LuceneIndex(copy).docnos)
    lines = (copy / "docnos.txt").read_text().split("\n")
    lines[5], lines[6] = lines[6], lines[5]  # same line count, wrong order
    (copy / "docnos.txt").write_text("\n".join(lines))
    assert list(LuceneIndex(copy).docnos) == truth
    # a sidecar without a checksum (older index) is still spot-checked against Lucene
    meta = json.loads((copy / "irkit.json").read_text())
    del meta["docnos_sha256"]
    (copy / "irkit.json").write_text(json.dumps(meta))
    (copy / "docnos.txt").write_text("".join(f"X{i}\n" for i in range(len(truth))))
    assert list(LuceneIndex(copy).docnos) == truth


def test_foreign_irgan_weights_do_not_suggest_resume(tmp_path):
    import torch

    from irkit.rerank.irgan import IRGANModel

    model = tmp_path / "irgan"
    model.mkdir()
    part = {"name": "fold1", "train": ["1"], "valid": [], "test": ["2"], "done": True}
    (model / "model.json").write_text(json.dumps({"kind": "irgan", "config": {}, "parts": [part]}))
    torch.save({"conv1.weight": torch.zeros(2)}, model / "weights.pt")
    with pytest.raises(InputError, match="foreign or damaged") as e:
        IRGANModel.load(model)
    assert "--resume" not in str(e.value)


def test_garbage_npz_does_not_suggest_loading_it_unsafely(tmp_path):
    from irkit.dense.faiss_index import load_vectors

    bad = tmp_path / "v.npz"
    bad.write_bytes(b"not a zip" * 40)
    with pytest.raises(InputError, match=r"not a NumPy \.npz archive") as e:
        load_vectors(bad)
    assert "pickle" not in str(e.value)


def test_interrupt_message_is_one_story(monkeypatch, capsys):
    import irkit.cli as cli_mod

    class App:
        def __call__(self, standalone_mode):
            cli_mod.kept_on_interrupt("m/ keeps the last whole checkpoint")
            return 130

    import importlib

    monkeypatch.setattr(importlib.import_module("irkit.cli.app"), "app", App())
    monkeypatch.setattr(cli_mod, "_KEPT", [])
    with pytest.raises(SystemExit):
        cli_mod.main()
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["irkit: interrupted; m/ keeps the last whole checkpoint"]


def test_one_missing_topic_rule_stated_in_eval_and_leaderboard(tmp_path, capsys, monkeypatch, cli):
    from irkit.evaluate import evaluate
    from irkit.evaluate.leaderboard import leaderboard
    from irkit.io.trec import write_run

    qrels = qrels_frame([("1", "a", 1), ("2", "b", 1), ("3", "c", 1)])
    full = run_frame(pd.DataFrame({"qid": ["1", "2", "3"], "docno": ["a", "x", "c"], "score": [1.0, 1.0, 1.0]}))
    part = full[full.qid != "3"]
    # eval: the mean over the judged topics the run answered (trec_eval's default)
    assert evaluate(part, qrels, "AP").AP[0] == 0.5
    board = leaderboard({"full": full, "part": part}, qrels, "AP")
    assert board.set_index("run").AP.to_dict() == {"full": 0.5, "part": 0.5}  # topic 3 left out for both
    assert "1 of 3 judged topics left out" in board.attrs["rule"] and "not scored 0" in board.attrs["rule"]
    a, b, q = tmp_path / "full.run", tmp_path / "part.run", tmp_path / "q.txt"
    write_run(full, a)
    write_run(part, b)
    q.write_text("1 0 a 1\n2 0 b 1\n3 0 c 1\n")
    code, out, _ = cli("eval", b, "--qrels", q, "--measures", "AP")
    assert code == 0 and "missing topics are not scored 0" in out
    code, out, _ = cli("leaderboard", a, b, "--qrels", q, "--measures", "AP")
    assert code == 0 and "left out" in out and "not scored 0" in out


def test_candidates_sharing_no_topic_with_the_topics_are_an_error(tmp_path, capsys, monkeypatch, cacm_index, cli):
    topics = tmp_path / "t.tsv"
    topics.write_text("1\tparallel algorithms\n")
    cand = tmp_path / "c.run"
    cand.write_text("99 Q0 CACM-0001 1 2.0 x\n99 Q0 CACM-0002 2 1.0 x\n")
    out = tmp_path / "o.run"
    code, _, err = cli("rank", "-q", "-i", cacm_index.path, "-t", topics, "--rerank", cand, "-o", out)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and "topics" in lines[0], err
    assert not out.exists()


def test_candidates_missing_from_the_index_are_named(cacm_index):
    from irkit.rerank.features import FeatureExtractor

    pairs = pd.DataFrame({"qid": ["1", "1"], "query": ["parallel", "parallel"], "docno": ["CACM-0001", "WSJ-9"]})
    with pytest.raises(InputError, match=r"1 candidate document.*not in the index.*WSJ-9"):
        FeatureExtractor(cacm_index).extract(pairs)
    with pytest.raises(InputError, match="'WSJ-9' is not in the index"):
        cacm_index.texts(["CACM-0001", "WSJ-9"])


def test_a_document_too_big_for_anserini_is_named_before_indexing(tmp_path):
    from irkit.index import build_index
    from irkit.index.lucene import MAX_DOCUMENT_CHARS

    docs = tmp_path / "d.jsonl"
    big = "w " * (MAX_DOCUMENT_CHARS // 2 + 1)
    docs.write_text(
        json.dumps({"id": "small", "contents": "hello"}) + "\n" + json.dumps({"id": "big", "contents": big})
    )
    with pytest.raises(InputError, match="document 'big' has 20,000,002 characters") as e:
        build_index(docs, tmp_path / "idx", threads=1, quiet=True)
    assert e.value.path == str(docs) and not (tmp_path / "idx").exists()
