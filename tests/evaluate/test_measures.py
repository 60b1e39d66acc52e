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


def test_ties_follow_trec_eval_by_default_and_file_order_on_request():
    # a and b tie; trec_eval ranks b first (descending docno), irkit's file order
    # (like Lucene) ranks a first
    run = _run([("1", "b", 1.0), ("1", "a", 1.0)])
    assert evaluate(run, QRELS, "AP").AP[0] == 0.5
    assert evaluate(run, QRELS, "AP", ties="file").AP[0] == 1.0


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


# --- trec_eval agreement (issue 13) ---------------------------------------------------

# ir-measures name -> pytrec_eval (trec_eval) measure key
TREC_EVAL_NAMES = {
    "AP": "map",
    "AP@100": "map_cut_100",
    "P@5": "P_5",
    "P@10": "P_10",
    "P@30": "P_30",
    "P@100": "P_100",
    "R@10": "recall_10",
    "R@100": "recall_100",
    "R@1000": "recall_1000",
    "nDCG": "ndcg",
    "nDCG@10": "ndcg_cut_10",
    "nDCG@20": "ndcg_cut_20",
    "RR": "recip_rank",
    "Rprec": "Rprec",
    "Bpref": "bpref",
    "Success@10": "success_10",
    "IPrec@0.5": "iprec_at_recall_0.50",
    "NumRet": "num_ret",
    "NumRet(rel=1)": "num_rel_ret",
    "NumRel": "num_rel",
    "SetP": "set_P",
    "SetR": "set_recall",
}


def _pytrec_eval(run, qrels, keys):
    import pytrec_eval

    judged: dict = {}
    for r in qrels.itertuples():
        judged.setdefault(r.qid, {})[r.docno] = int(r.label)
    scored: dict = {}
    for r in run.itertuples():
        scored.setdefault(r.qid, {})[r.docno] = float(r.score)
    measures = {k.rsplit("_", 1)[0] if k[-1].isdigit() and "_" in k else k for k in keys}
    measures = {m if m != "iprec_at_recall" else "iprec_at_recall" for m in measures}
    return pytrec_eval.RelevanceEvaluator(judged, measures).evaluate(scored)


def _assert_equals_trec_eval(run, qrels):
    names = list(TREC_EVAL_NAMES)
    ours = evaluate(run, qrels, names, per_query=True).set_index("qid")
    ref = _pytrec_eval(run, qrels, TREC_EVAL_NAMES.values())
    assert set(ours.index) == set(ref), "topics evaluated differ from trec_eval's"
    for name, key in TREC_EVAL_NAMES.items():
        for qid, values in ref.items():
            assert ours.loc[qid, name] == pytest.approx(values[key], abs=1e-12), (name, qid)
    # and the means trec_eval prints
    means = evaluate(run, qrels, names)
    for name, key in TREC_EVAL_NAMES.items():
        assert means[name][0] == pytest.approx(np.mean([v[key] for v in ref.values()]), abs=1e-12), name


@pytest.fixture(scope="module")
def cacm_bm25(cacm, cacm_index):
    from irkit.io.topics import read_topics
    from irkit.io.trec import normalise_docnos, read_qrels
    from irkit.retrieve import BM25

    run = BM25(cacm_index).search(read_topics(cacm.topics))
    qrels, _ = normalise_docnos(read_qrels(cacm.qrels), cacm_index.docnos)
    return run, qrels


def test_equals_trec_eval_on_every_measure_of_a_real_run(cacm_bm25):
    run, qrels = cacm_bm25
    _assert_equals_trec_eval(run, qrels)


def test_equals_trec_eval_on_a_tie_heavy_run(cacm_bm25):
    run, qrels = cacm_bm25
    # Scores rounded to whole numbers: most documents of a topic tie with others.
    ties = run.assign(score=run.score.round(0))
    assert ties.duplicated(["qid", "score"]).mean() > 0.9
    _assert_equals_trec_eval(ties, qrels)
    # irkit's own order (ties by ascending docno) differs on such a run, on request only
    file_order = evaluate(ties, qrels, "AP", ties="file").AP[0]
    assert file_order != pytest.approx(evaluate(ties, qrels, "AP").AP[0], abs=1e-4)


def test_equals_trec_eval_on_cranfield_graded_qrels(cranfield, cranfield_index):
    from irkit.io.topics import read_topics
    from irkit.io.trec import read_qrels
    from irkit.retrieve import BM25

    run = BM25(cranfield_index, hits=200).search(read_topics(cranfield.topics))
    _assert_equals_trec_eval(run, read_qrels(cranfield.qrels, "cranfield"))


def test_file_order_is_an_explicit_option():
    run = _run([("1", "b", 1.0), ("1", "a", 1.0)])
    # trec_eval ranks b before a (ties by descending docno): the relevant a is 2nd
    assert evaluate(run, QRELS, "AP").AP[0] == 0.5
    assert evaluate(run, QRELS, "AP", ties="file").AP[0] == 1.0
    with pytest.raises(InputError, match="tie order"):
        evaluate(run, QRELS, "AP", ties="docno")


def test_bad_cutoffs_and_duplicate_measures():
    for bad in ("P@0", "R@2.5"):
        with pytest.raises(InputError, match="cutoff must be a positive integer"):
            parse_measures(bad)
    assert [str(m) for m in parse_measures("R@100 R@100 AP")] == ["R@100", "AP"]
    run = _run([("1", "a", 1.0), ("2", "c", 1.0)])
    assert evaluate(run, QRELS, "R@100 R@100").columns.tolist() == ["R@100"]
