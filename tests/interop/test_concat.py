"""PyTerrier's ``^`` (concatenate) in irkit: the operator, its text form, and ``irkit rank --keep-rest``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import irkit
from irkit.cli import run as irkit_cli
from irkit.evaluate import evaluate
from irkit.io.trec import read_qrels, read_run
from irkit.parse import parse
from irkit.pipeline import Concat, Run, concat_runs, identity

ROOT = Path(__file__).resolve().parents[2]


def _run(rows):
    return irkit.pipeline.ranked(pd.DataFrame(rows, columns=["qid", "docno", "score"]))


def test_concat_appends_the_rest_below_as_pyterrier_defines_it():
    head = _run([("1", "a", 5.0), ("1", "b", 3.0), ("2", "c", 1.0)])
    tail = _run([("1", "b", 9.0), ("1", "d", 8.0), ("1", "e", 6.0), ("2", "c", 4.0), ("3", "x", 1.0)])
    out = concat_runs(head, tail)
    # topic 1: d and e follow b, d at b's score - 1e-4, e 2 below d; topic 2 has no rest; topic 3
    # was not answered by the head, so the tail adds nothing for it (PyTerrier's rule)
    assert out[["qid", "docno", "rank"]].values.tolist() == [
        ["1", "a", 1], ["1", "b", 2], ["1", "d", 3], ["1", "e", 4], ["2", "c", 1],
    ]  # fmt: skip
    np.testing.assert_array_equal(out["score"], [5.0, 3.0, 3.0 - 1e-4, 1.0 - 1e-4, 1.0])


def test_operator_and_text_form(cranfield_index):
    bm25 = irkit.BM25(cranfield_index)
    pipe = bm25 % 10 >> identity ^ bm25
    assert isinstance(pipe, Concat) and repr(pipe) == "bm25 % 10 >> identity ^ bm25"
    from irkit.registry import Context

    parsed = parse("bm25 % 10 >> identity ^ bm25", Context(index=cranfield_index.path))
    assert isinstance(parsed, Concat) and repr(parsed) == repr(pipe)
    assert repr(parse("(bm25 ^ bm25) % 5", Context(index=cranfield_index.path))) == "(bm25 ^ bm25) % 5"
    assert repr(Run(pd.DataFrame(columns=["qid", "docno", "score"])) ^ (bm25 ^ bm25)).endswith("^ (bm25 ^ bm25)")


def test_equals_pyterrier_concatenate_to_the_last_bit(cranfield_index, cranfield):
    pytest.importorskip("pyterrier")
    topics = irkit.read_topics(cranfield.topics).head(30)
    bm25, strong = irkit.BM25(cranfield_index), irkit.BM25(cranfield_index, k1=0.3, b=0.9)
    ours = ((strong % 50) ^ bm25).transform(topics)
    theirs = ((irkit.to_pyterrier(strong) % 50) ^ irkit.to_pyterrier(bm25)).transform(topics)
    theirs = theirs.sort_values(["qid", "rank"], ignore_index=True)
    ours = ours.sort_values(["qid", "rank"], ignore_index=True)
    assert len(ours) == len(theirs) > 30 * 500
    assert ours["docno"].tolist() == theirs["docno"].tolist()
    assert (ours["rank"] - 1).tolist() == theirs["rank"].tolist()
    np.testing.assert_array_equal(ours["score"].to_numpy(), theirs["score"].to_numpy())


def _benchmark():
    spec = importlib.util.spec_from_file_location("dense_table", ROOT / "benchmarks" / "dense_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rank_keep_rest_reproduces_the_benchmarks_rerank_rows(tmp_path, cranfield_index, cranfield):
    def ok(*args):
        code, text = irkit_cli(*args)
        assert code == 0, text

    idx, topics = cranfield_index.path, cranfield.topics
    ok("train", "docnade", "-i", idx, "-o", tmp_path / "dn", "--dim", 16, "--vocab", 2000, "--epochs", 1,
       "--max-docs", 300, "--lr", 0.02, "-q")  # fmt: skip
    ok("rank", "-i", idx, "-t", topics, "-o", tmp_path / "bm25.run", "-q")
    dense = ("--model", "docnade", "-O", f"encoder={tmp_path / 'dn'}", "-i", idx, "-t", topics)
    ok("rank", *dense, "--rerank", tmp_path / "bm25.run", "--depth", 50, "-o", tmp_path / "top.run", "-q")
    ok(
        "rank",
        *dense,
        "--rerank",
        tmp_path / "bm25.run",
        "--depth",
        50,
        "--keep-rest",
        "-o",
        tmp_path / "all.run",
        "-q",
    )
    expr = f"run(path={tmp_path / 'bm25.run'}) % 50 >> docnade(encoder={tmp_path / 'dn'}) ^ run(path={tmp_path / 'bm25.run'})"
    ok("rank", "--pipeline", expr, "-i", idx, "-t", topics, "-o", tmp_path / "expr.run", "-q")

    bm25, top, kept = (read_run(tmp_path / f"{n}.run") for n in ("bm25", "top", "all"))
    pd.testing.assert_frame_equal(read_run(tmp_path / "expr.run"), kept)  # the flag is the expression
    assert len(kept) == len(bm25)  # BM25's 1,000 per topic again
    key = ["qid", "rank"]
    merged = kept.merge(bm25, on=["qid", "docno"], suffixes=("", "_bm25"))
    tail = merged[merged["rank_bm25"] > 50]
    assert (tail["rank"] == tail["rank_bm25"]).all()  # ranks 51.. are BM25's own
    head = kept[kept["rank"] <= 50].sort_values(key, ignore_index=True)
    assert head[["qid", "docno"]].equals(top.sort_values(key, ignore_index=True)[["qid", "docno"]])
    # benchmarks/dense_table.py builds its rerank rows by keeping BM25's tail below: the same run, the same figures
    reference = _benchmark().rerank_with_tail(top, bm25, 50)
    qrels = read_qrels(cranfield.qrels, "cranfield")
    ours, theirs = evaluate(kept, qrels, "nDCG@10 AP R@100"), evaluate(reference, qrels, "nDCG@10 AP R@100")
    pd.testing.assert_frame_equal(ours.round(4), theirs.round(4))
    assert ours["AP"][0] != pytest.approx(evaluate(top, qrels, "AP")["AP"][0], abs=1e-3)  # the tail counts

    code, text = irkit_cli("rank", *dense, "--keep-rest", "-o", tmp_path / "x.run")
    assert code == 2 and "--keep-rest keeps the rest of a candidate run" in text


def test_experiment_computes_each_side_once(cranfield_index, cranfield):
    calls = []

    class Counting(irkit.Transformer):
        name = "counting"

        def __init__(self, stage):
            self.stage = stage

        def transform(self, frame):
            calls.append(len(frame))
            return self.stage.transform(frame)

    topics = irkit.read_topics(cranfield.topics)
    qrels = read_qrels(cranfield.qrels, "cranfield")
    bm25 = Counting(irkit.BM25(cranfield_index))
    rerank = bm25 % 100 >> irkit.BM25(cranfield_index, k1=0.3)  # BM25's top 100 rescored with another k1
    table = irkit.Experiment({"bm25": bm25, "top": rerank, "kept": rerank ^ bm25}, topics, qrels, "AP")
    assert calls == [len(topics)]  # BM25 ran once for the three pipelines
    ap = dict(zip(table["name"], table["AP"], strict=True))
    assert ap["kept"] > ap["top"]  # the kept tail adds the relevant documents below rank 100
