"""LETOR / SVMlight files: parsing, sparse rows, round trips and located errors."""

from __future__ import annotations

import numpy as np
import pytest

from irkit.errors import InputError
from irkit.io.letor import Features, read_letor, write_letor

MQ2008 = """\
2 qid:10032 1:0.056537 2:0.000000 3:0.666667 5:0.067138 #docid = GX029-35-5894638 inc = 0.0119881192468859 prob = 0.139842
0 qid:10032 1:0.279152 2:0.000000 3:0.000000 4:1.000000 5:0.279152 #docid = GX030-77-6315042 inc = 1 prob = 0.341364
-1 qid:10032 1:0.130742 3:0.333333 5:0.130742 #docid = GX140-98-13566007 inc = 1 prob = 0.0701303
1 qid:10033 1:1.0 2:0.5 3:0.25 4:0.125 5:0.0625 #docid = GX000-00-0000001
"""


def test_reads_mq2008_lines_with_sparse_features_and_docids(tmp_path):
    p = tmp_path / "mq.txt"
    p.write_text(MQ2008)
    f = read_letor(p)
    assert f.names == ("f1", "f2", "f3", "f4", "f5")
    assert list(f.qids) == ["10032", "10032", "10032", "10033"]
    assert list(f.docnos) == ["GX029-35-5894638", "GX030-77-6315042", "GX140-98-13566007", "GX000-00-0000001"]
    assert list(f.labels) == [2, 0, -1, 1]
    assert f.values.dtype == np.float32
    assert f.values[0, 3] == 0.0  # feature 4 absent from the line
    assert f.values[2, 1] == 0.0 and f.values[2, 2] == pytest.approx(0.333333)
    assert f.values[1, 3] == 1.0
    # unlabelled (-1) documents count as not relevant in the qrels view
    assert f.qrels()["label"].tolist() == [2, 0, 0, 1]


def test_mslr_lines_without_comments_get_numbered_docnos(tmp_path):
    p = tmp_path / "mslr.txt"
    p.write_text("0 qid:1 1:3 2:0 3:2\n2 qid:1 1:0 2:1 3:2\n1 qid:7 1:1 2:1 3:1\n")
    f = read_letor(p)
    assert list(f.docnos) == ["1.1", "1.2", "7.1"]
    assert f.values.tolist() == [[3, 0, 2], [0, 1, 2], [1, 1, 1]]


def test_interleaved_queries_are_grouped_in_file_order(tmp_path):
    p = tmp_path / "mixed.txt"
    p.write_text("1 qid:b 1:1\n0 qid:a 1:2\n0 qid:b 1:3\n")
    f = read_letor(p)
    assert list(f.qids) == ["b", "b", "a"]
    assert f.values[:, 0].tolist() == [1, 3, 2]
    assert {q: list(r) for q, r in f.groups().items()} == {"b": [0, 1], "a": [2]}


def test_round_trip_keeps_names_ids_labels_and_values(tmp_path):
    rng = np.random.default_rng(0)
    f = Features(
        np.array(["q1"] * 3 + ["q2"] * 2, dtype=object),
        np.array([f"d{i}" for i in range(5)], dtype=object),
        rng.random((5, 4)).astype(np.float32),
        ("bm25_full", "tf_title", "len_body", "coverage_full"),
        np.array([1, 0, 2, 0, 1]),
    )
    p = write_letor(f, tmp_path / "out.txt")
    g = read_letor(p)
    assert g.names == f.names
    assert list(g.qids) == list(f.qids) and list(g.docnos) == list(f.docnos)
    assert list(g.labels) == list(f.labels)
    np.testing.assert_allclose(g.values, f.values, rtol=1e-6)
    with pytest.raises(Exception, match="exists"):
        write_letor(f, p)  # no silent overwrite


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("x qid:1 1:0.5", "label 'x' is not a number"),
        ("1 1:0.5 2:0.1", "second field must be qid:Q"),
        ("1 qid: 1:0.5", "second field must be qid:Q"),
        ("1 qid:1 1=0.5", "is not id:value"),
        ("1 qid:1 1:abc", "is not id:value"),
        ("1 qid:1 0:0.5", "feature ids start at 1"),
        ("1 qid:1 1:0.5 1:0.7", "appears twice on one line"),
        ("1 qid:1 1:nan", "not finite"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, line, reason):
    p = tmp_path / "bad.txt"
    p.write_text("1 qid:1 1:0.1 2:0.2 #docid = a\n" + line + "\n")
    with pytest.raises(InputError, match=reason) as e:
        read_letor(p)
    assert str(e.value).startswith(f"{p}:2: ")


def test_width_limit_empty_file_and_duplicate_docs(tmp_path):
    p = tmp_path / "wide.txt"
    p.write_text("1 qid:1 1:0.1 9:0.2\n")
    with pytest.raises(InputError, match="above the 5 features expected"):
        read_letor(p, n_features=5)
    assert read_letor(p, n_features=12).n_features == 12
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    with pytest.raises(InputError, match="no data lines"):
        read_letor(empty)
    dup = tmp_path / "dup.txt"
    dup.write_text("1 qid:1 1:0.1 #docid = a\n0 qid:1 1:0.2 #docid = a\n")
    with pytest.raises(InputError, match="appears twice for query 1"):
        read_letor(dup)
    with pytest.raises(InputError, match="no such LETOR file"):
        read_letor(tmp_path / "missing.txt")


def test_query_level_normalisation(tmp_path):
    p = tmp_path / "n.txt"
    p.write_text("1 qid:1 1:2 2:5\n0 qid:1 1:4 2:5\n0 qid:1 1:3 2:5\n1 qid:2 1:-1 2:0\n0 qid:2 1:1 2:10\n")
    f = read_letor(p).normalised()
    assert f.values[:, 0].tolist() == [0.0, 1.0, 0.5, 0.0, 1.0]
    assert f.values[:3, 1].tolist() == [0.0, 0.0, 0.0]  # constant within the query
    assert f.values[3:, 1].tolist() == [0.0, 1.0]
