import numpy as np
import pandas as pd
import pytest

from irkit.errors import InputError
from irkit.evaluate import evaluate, parse_measures
from irkit.evaluate.leaderboard import correct, leaderboard, paired_pvalue, plot_differences, write_report
from irkit.frames import qrels_frame, run_frame


def _run(rows):
    return run_frame(pd.DataFrame(rows, columns=["qid", "docno", "score"]))


QRELS = qrels_frame([("1", "a", 1), ("1", "b", 0), ("2", "c", 2), ("2", "d", 1)])


def test_evaluate_known_values():
    run = _run([("1", "b", 2.0), ("1", "a", 1.0), ("2", "c", 3.0), ("2", "d", 2.0)])
    e = evaluate(run, QRELS, "AP P@1 RR")
    # q1: relevant at rank 2 -> AP 0.5, P@1 0, RR 0.5; q2: perfect -> 1, 1, 1
    assert e.iloc[0].tolist() == [0.75, 0.5, 0.75]
    pq = evaluate(run, QRELS, "AP", per_query=True)
    assert pq.qid.tolist() == ["1", "2"] and pq.AP.tolist() == [0.5, 1.0]


def test_ties_follow_irkit_order_docno_ascending():
    # a and b tie; irkit (like Lucene) ranks a first, so AP is 1.0 for q1
    run = _run([("1", "b", 1.0), ("1", "a", 1.0)])
    assert evaluate(run, QRELS, "AP").AP[0] == 1.0


def test_unknown_measure():
    with pytest.raises(InputError, match="unknown measure 'nDGC@10'"):
        parse_measures("nDGC@10 AP")


def test_holm_and_bonferroni():
    p = [0.01, 0.04, 0.03]
    assert correct(p, "bonferroni") == pytest.approx([0.03, 0.12, 0.09])
    assert correct(p, "holm") == pytest.approx([0.03, 0.06, 0.06])
    assert correct(p, "none") == p
    with pytest.raises(InputError):
        correct(p, "bh-fdr")


def test_paired_tests_detect_a_real_difference():
    rng = np.random.default_rng(0)
    a = rng.random(60)
    b = a + 0.1 + rng.normal(0, 0.02, 60)
    for test in ("t", "wilcoxon", "randomization"):
        assert paired_pvalue(b, a, test) < 0.01
    same = rng.random(60)
    assert paired_pvalue(same, same, "t") == 1.0
    assert paired_pvalue(rng.random(60), rng.random(60), "randomization") > 0.01


def test_leaderboard_orders_and_marks_significance(tmp_path):
    rng = np.random.default_rng(1)
    qids = [str(i) for i in range(40)]
    qrels = qrels_frame([(q, "rel", 1) for q in qids] + [(q, f"n{j}", 0) for q in qids for j in range(5)])

    def run(rank_of_rel):
        rows = []
        for q, r in zip(qids, rank_of_rel, strict=True):
            docs = [f"n{j}" for j in range(5)]
            docs.insert(int(r), "rel")
            rows += [(q, d, 10.0 - i) for i, d in enumerate(docs)]
        return _run(rows)

    runs = {"base": run(rng.integers(2, 6, 40)), "good": run(np.zeros(40)), "same": run(rng.integers(2, 6, 40))}
    board = leaderboard(runs, qrels, "RR P@1", baseline="base")
    assert board.run.tolist()[0] == "good"
    assert board.set_index("run").loc["good", "sig"] == "+RR +P@1"
    assert board.set_index("run").loc["base", "sig"] == "baseline"
    png = plot_differences(runs, qrels, "base", "RR", tmp_path / "d.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    md = write_report(board, tmp_path / "board.md", plot="d.png").read_text()
    assert md.startswith("| run | RR | P@1 |") and "holm" in md and "d.png" in md
    with pytest.raises(InputError, match="report format"):
        write_report(board, tmp_path / "board.txt")
    with pytest.raises(InputError, match="baseline"):
        leaderboard(runs, qrels, "RR", baseline="nope")
