"""PyTerrier both ways, without Java: irkit stages in PyTerrier pipelines and PyTerrier transformers in irkit's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pt = pytest.importorskip("pyterrier")

import irkit  # noqa: E402
from irkit.errors import IrkitError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def topics(cranfield):
    return irkit.read_topics(cranfield.topics).head(20)


def test_irkit_stage_in_pyterrier_with_its_cutoff(cranfield_index, topics):
    bm25 = irkit.BM25(cranfield_index)
    pipeline = irkit.to_pyterrier(bm25) % 10
    assert isinstance(pipeline, pt.Transformer)
    got = pipeline.transform(topics)
    top = (bm25 % 10).transform(topics)
    # PyTerrier's frame: irkit's top 10 with the query text, ranked from 0
    expected = top.drop(columns="query", errors="ignore").assign(rank=top["rank"] - 1).merge(topics, on="qid")
    order = ["qid", "rank"]
    got = got.sort_values(order).reset_index(drop=True)[list(expected.columns)]
    expected = expected.sort_values(order).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)
    assert got.groupby("qid")["rank"].agg(list).map(lambda r: r == list(range(10))).all()


def test_pyterrier_transformer_in_irkit(cranfield_index, topics):
    bm25 = irkit.BM25(cranfield_index)
    # PyTerrier hands doc_score its 0-based rank: -rank keeps BM25's order, +rank reverses it
    keep = irkit.BM25(cranfield_index) % 100 >> irkit.from_pyterrier(pt.apply.doc_score(lambda row: -row["rank"]))
    reverse = bm25 % 100 >> pt.apply.doc_score(lambda row: float(row["rank"]))  # wrapped on the way
    order = ["qid", "rank"]  # runs from different stages may list the topics in different orders
    top = (bm25 % 100).transform(topics).sort_values(order, ignore_index=True)
    got = keep.transform(topics).sort_values(order, ignore_index=True)
    assert list(got.columns[:4]) == ["qid", "docno", "score", "rank"]
    pd.testing.assert_frame_equal(got[["qid", "docno", "rank"]], top[["qid", "docno", "rank"]])
    np.testing.assert_array_equal(got["score"], 1.0 - top["rank"])  # irkit's rank r was PyTerrier's r - 1
    rev = reverse.transform(topics)
    for qid, g in rev.groupby("qid"):
        t = top[top.qid == qid]
        assert g["docno"].tolist() == t["docno"].tolist()[::-1]
        assert g["rank"].tolist() == list(range(1, len(g) + 1))
    assert repr(reverse).startswith("bm25 % 100 >> pyterrier(")


def test_pyterrier_experiment_operators_and_round_trip(cranfield_index, cranfield):
    from irkit.evaluate import evaluate

    topics, qrels = irkit.read_topics(cranfield.topics), irkit.read_qrels(cranfield.qrels, "cranfield")
    bm25 = irkit.BM25(cranfield_index)
    table = pt.Experiment([irkit.to_pyterrier(bm25)], topics, qrels, eval_metrics=["map"], names=["bm25"])
    assert table["map"][0] == pytest.approx(evaluate(bm25.transform(topics), qrels, "AP").AP[0], abs=1e-12)
    assert round(table["map"][0], 4) == 0.2879
    # PyTerrier's + adds raw scores (irkit's + mixes min-max scores): twice BM25's
    few = topics.head(3)
    doubled = (irkit.to_pyterrier(bm25) + irkit.to_pyterrier(bm25)).transform(few)
    single = bm25.transform(few)
    merged = doubled.merge(single, on=["qid", "docno"], suffixes=("", "_one"))
    np.testing.assert_allclose(merged["score"], 2 * merged["score_one"])
    # a stage that went to PyTerrier comes back as itself, and the other way round
    assert irkit.from_pyterrier(irkit.to_pyterrier(bm25)) is bm25
    t = pt.apply.doc_score(lambda row: 1.0)
    assert irkit.to_pyterrier(irkit.from_pyterrier(t)) is t
    fused = bm25 % 10 >> irkit.rrf(irkit.identity, t, k=60)  # any operator takes a PyTerrier transformer
    assert len(fused.transform(few)) == 30
    with pytest.raises(IrkitError, match="PyTerrier transformer"):
        irkit.from_pyterrier(object())
    assert not pt.java.started()  # nothing here needed Java


def test_import_irkit_does_not_import_pyterrier():
    code = "import sys, irkit, irkit.pipeline, irkit.interop; print('pyterrier' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True
    )
    assert done.stdout.strip() == "False", done.stderr
