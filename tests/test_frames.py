import pandas as pd
import pytest

from irkit.errors import IrkitError
from irkit.frames import cut_run, from_dict, qrels_frame, queries_frame, rank_run, run_frame


def test_run_frame_ranks_by_score_then_docno():
    run = run_frame(pd.DataFrame({"qid": [1, 1, 1, 2], "docno": ["b", "a", "c", "x"], "score": [1.0, 1.0, 2.0, 0.5]}))
    assert list(run.columns) == ["qid", "docno", "score", "rank"]
    assert run["qid"].map(type).eq(str).all()
    q1 = run[run.qid == "1"]
    # exact ties go to the smaller docno first, as Lucene/Anserini break them
    assert list(q1.docno) == ["c", "a", "b"]
    assert list(q1["rank"]) == [1, 2, 3]


def test_frames_reject_missing_columns():
    with pytest.raises(IrkitError, match="missing"):
        run_frame(pd.DataFrame({"qid": ["1"], "docno": ["a"], "rank": [1]}))
    with pytest.raises(IrkitError):
        qrels_frame(pd.DataFrame({"qid": ["1"], "docno": ["a"]}))


def test_queries_from_mapping_and_ids_as_str():
    q = queries_frame({1: "hello", "2": "world"})
    assert list(q.qid) == ["1", "2"]


def test_cut_and_from_dict():
    run = from_dict({"q": [("a", 3.0), ("b", 2.0), ("c", 1.0)]})
    assert list(cut_run(run, 2).docno) == ["a", "b"]
    shuffled = run.sample(frac=1, random_state=1)
    assert rank_run(shuffled).equals(run)


def test_label_must_be_integer():
    with pytest.raises(IrkitError, match="label"):
        qrels_frame(pd.DataFrame({"qid": ["1"], "docno": ["a"], "label": ["high"]}))
