"""The stage contract and its operators (irkit.pipeline), the text form, tune and Experiment.

The first half runs on tiny hand-made stages (fast, exact arithmetic); the second on
Cranfield with small trained models, where each pipeline must give the same run as
the command-line chain it replaces (`irkit rank ... --rerank`, `irkit fuse`), and an
Experiment the same numbers as `irkit leaderboard` on those run files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import irkit
from irkit.errors import IrkitError
from irkit.frames import rank_run, run_frame
from irkit.parse import parse
from irkit.pipeline import Cutoff, FeatureUnion, Reranker, Sum, Then, Transformer, identity, minmax, rrf
from irkit.tuning import assign_folds, split_folds, tune


class Fixed(Transformer):
    """A retriever that returns a fixed run (for the queries it is given) and counts its calls."""

    def __init__(self, name: str, rows: list[tuple[str, str, float]]):
        self.name, self.calls = name, 0
        self.run = run_frame(pd.DataFrame(rows, columns=["qid", "docno", "score"]))

    def transform(self, frame):
        self.calls += 1
        return self.run[self.run["qid"].isin(set(frame["qid"]))].reset_index(drop=True)


class Length(Reranker):
    """Scores a candidate by the length of its docno (a reranker through the base class)."""

    name = "length"
    batch_size = 2

    def score(self, pairs):
        return pairs["docno"].str.len().to_numpy(dtype=float)


QUERIES = pd.DataFrame({"qid": ["1", "2"], "query": ["one", "two"]})
A = [("1", "a", 3.0), ("1", "bb", 2.0), ("1", "ccc", 1.0), ("2", "a", 5.0), ("2", "dddd", 5.0)]
B = [("1", "ccc", 9.0), ("1", "a", 4.0), ("2", "eeeee", 1.0)]


def test_operators_build_the_expression_and_print_it():
    a, b = Fixed("a", A), Fixed("b", B)
    pipe = a % 100 >> (0.7 * identity + 0.3 * Length())
    assert isinstance(pipe, Then) and isinstance(pipe.stages[0], Cutoff) and isinstance(pipe.stages[1], Sum)
    assert repr(pipe) == "a % 100 >> (0.7 * identity + 0.3 * length)"
    assert repr(rrf(a, b, k=10)) == "rrf(a, b, k=10)"
    assert repr(a**b) == "a ** b" and isinstance(a**b**a, FeatureUnion) and len((a**b**a).stages) == 3
    assert repr(a >> b >> a) == "a >> b >> a" and len((a >> (b >> a)).stages) == 3
    assert repr(0.5 * (a + b)) == "0.5 * a + 0.5 * b"
    with pytest.raises(IrkitError, match="positive whole number"):
        a % 0
    with pytest.raises(TypeError):
        a * a


def test_cutoff_then_and_the_query_column():
    a = Fixed("a", A)
    out = (a % 1 >> Length()).transform(QUERIES)
    assert list(out.columns[:4]) == ["qid", "docno", "score", "rank"] and "query" in out.columns
    assert out.groupby("qid").size().to_dict() == {"1": 1, "2": 1}
    # qid 2's top document by score tie is "a" (ties by ascending docno)
    assert out.set_index("qid").loc["2", "docno"] == "a"
    with pytest.raises(IrkitError, match="query text"):
        Length().transform(run_frame(a.run))  # a run without its queries
    with pytest.raises(IrkitError, match="reranks candidates"):
        Length().transform(QUERIES)


def test_sum_is_the_weighted_sum_of_minmax_scores_and_a_flat_query_maps_to_1():
    a, b = Fixed("a", A), Fixed("b", B)
    out = (0.25 * a + 0.75 * b).transform(QUERIES).set_index(["qid", "docno"])["score"]
    # topic 1: a -> a 1, bb .5, ccc 0; b -> ccc 1, a 0
    assert out["1", "a"] == pytest.approx(0.25)
    assert out["1", "bb"] == pytest.approx(0.125)
    assert out["1", "ccc"] == pytest.approx(0.75)
    # topic 2: a is flat (5, 5) -> both 1; b has one document -> 1; missing documents add 0
    assert out["2", "a"] == pytest.approx(0.25) and out["2", "dddd"] == pytest.approx(0.25)
    assert out["2", "eeeee"] == pytest.approx(0.75)
    mm = minmax(run_frame(pd.DataFrame(A, columns=["qid", "docno", "score"])))
    assert mm.min() == 0.0 and mm.max() == 1.0


def test_rrf_and_feature_union():
    a, b = Fixed("a", A), Fixed("b", B)
    fused = rrf(a, b, k=60).transform(QUERIES).set_index(["qid", "docno"])["score"]
    assert fused["1", "a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["1", "ccc"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["2", "eeeee"] == pytest.approx(1 / 61)
    out = (a >> (Length() ** b)).transform(QUERIES)
    assert out.attrs["features"] == ["length", "b"]
    feats = dict(zip(zip(out["qid"], out["docno"], strict=True), out["features"], strict=True))
    assert list(feats["1", "ccc"]) == [3.0, 9.0] and list(feats["1", "bb"]) == [2.0, 0.0]  # bb is not in b
    assert list(out["docno"]) == list(run_frame(a.run)["docno"])  # the input run, in its order


def test_frames_are_validated_once_where_they_enter(monkeypatch):
    import irkit.pipeline as pipeline_mod

    calls, seen = [], []
    real = pipeline_mod.validate
    monkeypatch.setattr(pipeline_mod, "validate", lambda frame: calls.append(1) or real(frame))

    class Spy(Transformer):
        name = "spy"

        def transform(self, frame):
            seen.append(all(isinstance(q, str) for q in frame["qid"]))
            return frame

    spy = Spy()
    out = (Fixed("a", A) >> spy >> (spy + identity)).transform({1: "one", 2: "two"})  # a mapping, int ids
    assert calls == [1] and seen == [True, True] and set(out["qid"]) == {"1", "2"}
    spy.transform(QUERIES)  # a stage called on its own validates its input too
    assert calls == [1, 1]
    with pytest.raises(IrkitError, match="queries or run frame"):
        spy.transform([1, 2, 3])
    with pytest.raises(IrkitError, match="missing"):
        spy.transform(pd.DataFrame({"qid": ["1"]}))


def test_the_text_form_parses_without_eval(tmp_path):
    a, b = Fixed("a", A), Fixed("b", B)
    irkit.write_run(a.run, tmp_path / "a.run")
    irkit.write_run(b.run, tmp_path / "b.run")
    text = f"run(path={tmp_path / 'a.run'}) % 2 >> (0.7 * identity + 0.3 * run(path={tmp_path / 'b.run'}))"
    pipe = parse(text)
    expected = (a % 2 >> (0.7 * identity + 0.3 * b)).transform(QUERIES)
    pd.testing.assert_frame_equal(pipe.transform(QUERIES), expected)
    assert repr(parse(repr(pipe))) == repr(pipe)  # the printed form parses back
    with pytest.raises(IrkitError, match="unknown model 'nope'"):
        parse("nope % 10")
    with pytest.raises(IrkitError, match="column"):
        parse("identity >> (identity")
    with pytest.raises(IrkitError, match="unknown model"):
        parse("__import__('os')")  # names are looked up in the registry, never evaluated
    with pytest.raises(IrkitError, match="number where a stage"):
        parse("0.5 >> identity")
    assert repr(parse("0.7 * identity + 0.3*identity")) == "0.7 * identity + 0.3 * identity"


def test_folds_are_assigned_one_way():
    qids = [str(i) for i in range(1, 24)]
    fold_of = assign_folds(qids, 5, seed=0)
    sizes = np.bincount(list(fold_of.values()))
    assert sizes.max() - sizes.min() <= 1 and assign_folds(reversed(qids), 5, seed=0) == fold_of
    assert assign_folds(qids, 5, seed=1) != fold_of
    dealt = [q for fold in split_folds(qids, 5, seed=0) for q in fold]
    assert dealt != qids and sorted(dealt, key=int) == qids
    # IRGAN's training folds are these folds
    from irkit.rerank.irgan import split_folds as irgan_folds

    assert irgan_folds(qids, 5, 0) == split_folds(qids, 5, 0)


def test_tune_chooses_on_other_folds():
    good = [(str(q), f"d{d}", float(d)) for q in range(1, 11) for d in range(10)]
    bad = [(q, d, -s) for q, d, s in good]
    qrels = pd.DataFrame([(str(q), "d9", 1) for q in range(1, 11)], columns=["qid", "docno", "label"])
    stages = {"good": Fixed("good", good), "bad": Fixed("bad", bad)}
    queries = pd.DataFrame({"qid": [str(q) for q in range(1, 12)], "query": "x"})
    tuned = tune(lambda which: stages[which], {"which": ["bad", "good"]}, queries, qrels, measure="AP", folds=5)
    assert tuned.fold_values == [{"which": "good"}] * 5 and tuned.best == {"which": "good"}
    assert set(tuned.run[tuned.run["rank"] == 1]["docno"]) == {"d9"}
    assert "5-fold" in tuned.describe() and tuned.topics == 10
    with pytest.raises(IrkitError, match="no parameter"):
        tune(Length(), {"nope": [1]}, queries, qrels)


def test_import_irkit_is_light():
    import subprocess
    import sys

    code = (
        "import irkit, sys; irkit.rrf; print(all(m not in sys.modules for m in ('torch', 'jnius', 'faiss', 'gensim')))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "True"
    assert irkit.Experiment.__module__ == "irkit.experiment" and callable(irkit.tune)


# ----------------------------------------------------------------------------- Cranfield


@pytest.fixture(scope="module")
def work(tmp_path_factory, cranfield, cranfield_index):
    """Small models trained through the CLI, and the BM25 run the CLI chains start from."""
    import subprocess
    import sys

    w = tmp_path_factory.mktemp("pipeline")
    idx = cranfield_index.path

    def ok(*args):
        res = subprocess.run([sys.executable, "-m", "irkit", *map(str, args)], capture_output=True, text=True,
                             env={**__import__("os").environ, "IRKIT_QUIET": "1"})  # fmt: skip
        assert res.returncode == 0, res.stderr

    ok("rank", "-i", idx, "-t", cranfield.topics, "-o", w / "bm25.run")
    ok("train", "desm", "-i", idx, "-o", w / "desm", "--dim", 32, "--window", 5, "--epochs", 3, "--seed", 7)
    ok("train", "docnade", "-i", idx, "-o", w / "dn", "--dim", 16, "--vocab", 2000, "--epochs", 2, "--max-docs", 400)
    ok("encode", "-m", w / "dn", "-i", idx, "-o", w / "dn.npz")
    from irkit.dense.faiss_index import build_faiss

    build_faiss(w / "dn.npz", w / "dn.faiss")
    ok("train", "irgan", "-i", idx, "-t", cranfield.topics, "--qrels", cranfield.qrels, "--candidates", w / "bm25.run",
       "-o", w / "irgan", "--folds", 3, "--depth", 100, "--hidden", 8, "--pretrain-epochs", 5, "--epochs", 1)  # fmt: skip
    return w


@pytest.fixture(scope="module")
def topics(cranfield):
    return irkit.read_topics(cranfield.topics)


@pytest.fixture(scope="module")
def qrels(cranfield):
    return irkit.read_qrels(cranfield.qrels)


def _same_ranking(a: pd.DataFrame, b: pd.DataFrame, scores: bool = True) -> None:
    a, b = run_frame(a), run_frame(b)
    assert len(a) == len(b)
    pd.testing.assert_frame_equal(a[["qid", "docno", "rank"]], b[["qid", "docno", "rank"]])
    if scores:
        np.testing.assert_allclose(a["score"], b["score"], atol=1e-5)


def test_bm25_then_desm_mixture_equals_the_cli_chain(work, cli, cranfield, cranfield_index, topics):
    code, _, err = cli("rank", "-q", "-m", "desm", "-O", f"model={work / 'desm'}", "-i", cranfield_index.path,
                       "-t", cranfield.topics, "--rerank", work / "bm25.run", "-O", "alpha=0.3", "--depth", 100,
                       "-o", work / "desm03.run")  # fmt: skip
    assert code == 0, err
    bm25 = irkit.BM25(cranfield_index)
    desm = irkit.DESMReranker.from_path(work / "desm", cranfield_index)
    pipe = bm25 % 100 >> (0.7 * identity + 0.3 * desm)
    assert repr(pipe) == f"bm25 % 100 >> (0.7 * identity + 0.3 * desm(model={work / 'desm'}))"
    got = pipe.transform(topics)
    _same_ranking(got, irkit.read_run(work / "desm03.run"))
    # the same mixture by hand, from pure DESM scores (a query without a known word keeps BM25's order)
    cand = irkit.read_run(work / "bm25.run").query("rank <= 100").merge(topics, on="qid")
    pure, known = desm.desm_scores(cand)

    def mm(v):
        g = pd.Series(v).groupby(cand["qid"].to_numpy())
        lo, hi = g.transform("min").to_numpy(), g.transform("max").to_numpy()
        return np.where(hi > lo, (v - lo) / np.where(hi > lo, hi - lo, 1), 1.0)

    mixed = np.where(known, 0.3 * mm(pure) + 0.7 * mm(cand["score"].to_numpy()), mm(cand["score"].to_numpy()))
    _same_ranking(got, cand[["qid", "docno"]].assign(score=mixed))
    # and through the shell's text form
    code, _, err = cli("rank", "-q", "-i", cranfield_index.path, "-t", cranfield.topics, "-o", work / "p.run",
                       "--pipeline", f"bm25 % 100 >> (0.7 * identity + 0.3 * desm(model={work / 'desm'}))")  # fmt: skip
    assert code == 0, err
    _same_ranking(irkit.read_run(work / "p.run"), irkit.read_run(work / "desm03.run"))


def test_rrf_of_bm25_and_docnade_equals_irkit_fuse(work, cli, cranfield, cranfield_index, topics):
    code, _, err = cli("rank", "-q", "-m", "docnade", "-O", f"faiss={work / 'dn.faiss'}", "-i", cranfield_index.path,
                       "-t", cranfield.topics, "-o", work / "dn.run")  # fmt: skip
    assert code == 0, err
    code, _, err = cli("fuse", work / "bm25.run", work / "dn.run", "--method", "rrf", "-o", work / "rrf.run", "-q")
    assert code == 0, err
    bm25 = irkit.BM25(cranfield_index)
    docnade = irkit.DenseRetriever("docnade", faiss=work / "dn.faiss")
    got = (irkit.rrf(bm25, docnade, k=60) % 1000).transform(topics)
    _same_ranking(got, irkit.read_run(work / "rrf.run"))
    top = got[got["rank"] == 1].iloc[0]
    ranks = [r.set_index(["qid", "docno"])["rank"].get((top.qid, top.docno)) for r in (bm25(topics), docnade(topics))]
    assert top.score == pytest.approx(sum(1 / (60 + r) for r in ranks if r is not None))


def test_experiment_reproduces_the_leaderboard(work, cli, cranfield, cranfield_index, topics, qrels, tmp_path):
    idx, t = cranfield_index.path, cranfield.topics
    code, _, err = cli("rank", "-q", "-m", "irgan", "-O", f"model={work / 'irgan'}", "-i", idx, "-t", t,
                       "--rerank", work / "bm25.run", "--depth", 100, "-o", work / "irgan.run")  # fmt: skip
    assert code == 0, err
    if not (work / "desm03.run").exists():
        code, _, err = cli("rank", "-q", "-m", "desm", "-O", f"model={work / 'desm'}", "-O", "alpha=0.3", "-i", idx,
                           "-t", t, "--rerank", work / "bm25.run", "-o", work / "desm03.run")  # fmt: skip
        assert code == 0, err
    board = tmp_path / "board.csv"
    code, _, err = cli("leaderboard", work / "bm25.run", work / "desm03.run", work / "irgan.run", "--qrels",
                       cranfield.qrels, "--baseline", work / "bm25.run", "--measures", "nDCG@10 AP", "-o", board)  # fmt: skip
    assert code == 0, err
    expected = pd.read_csv(board).set_index("run")

    bm25 = irkit.BM25(cranfield_index)
    calls = []
    original = bm25.search
    bm25.search = lambda *a, **k: calls.append(1) or original(*a, **k)  # count BM25 retrievals
    desm = irkit.DESMReranker.from_path(work / "desm", cranfield_index)
    irgan = irkit.IRGANReranker(work / "irgan", cranfield_index)
    pipes = {"bm25": bm25, "desm03": bm25 % 100 >> (0.7 * identity + 0.3 * desm), "irgan": bm25 % 100 >> irgan}
    table = irkit.Experiment(pipes, topics, qrels, ["nDCG@10", "AP"], baseline=0, test="t", correction="holm",
                             save_dir=tmp_path / "runs")  # fmt: skip
    assert calls == [1]  # the shared prefix (BM25, then its top 100) ran once
    assert list(table["name"]) == ["bm25", "desm03", "irgan"]
    for col in ("nDCG@10", "AP", "p(nDCG@10)", "p(AP)"):
        np.testing.assert_allclose(table.set_index("name")[col], expected[col].reindex(table["name"]), atol=1e-4)
    assert list(table["sig"].fillna("")) == list(expected["sig"].fillna("").reindex(table["name"]))
    # saved runs are reused: no retrieval the second time, the same table
    again = irkit.Experiment(pipes, topics, qrels, ["nDCG@10", "AP"], baseline="bm25", save_dir=tmp_path / "runs")
    assert calls == [1] and sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "bm25.run",
        "desm03.run",
        "irgan.run",
    ]
    pd.testing.assert_frame_equal(again, table)
    per_topic = irkit.Experiment(pipes, topics, qrels, ["AP"], perquery=True, save_dir=tmp_path / "runs")
    assert set(per_topic.columns) == {"name", "qid", "measure", "value"} and per_topic["name"].nunique() == 3
    with pytest.raises(IrkitError, match="baseline"):
        irkit.Experiment(pipes, topics, qrels, ["AP"], baseline="nope", save_dir=tmp_path / "runs")


def test_rank_options_and_pipeline_errors_are_one_line(cli, cranfield, cranfield_index, tmp_path):
    base = ["rank", "-i", cranfield_index.path, "-t", cranfield.topics, "-o", tmp_path / "x.run", "-q"]
    for extra, needle in [
        (["-O", "k9=1"], "option 'k9' does not apply to model 'bm25'"),
        (["-O", "k1=abc"], "k1='abc' of model 'bm25': expected number"),
        (["-O", "k1"], "-O takes key=value"),
        (["-m", "desm"], "model 'desm' needs -O model=..."),
        (["--pipeline", "bm25 >> >> bm25"], "--pipeline: expected a name or a number at column"),
        (["--pipeline", "bm25(k1=2, nope=1)"], "option 'nope' does not apply to model 'bm25'"),
        (["--pipeline", "bm25", "-O", "k1=1"], "-O k1= only apply to --model"),
        (["-m", "desm", "-O", "model=x", "-O", "alpha=auto"], "alpha=auto chooses the value by cross-validation"),
        (["-O", "k1=auto"], "option k1 of model 'bm25' cannot be tuned (auto)"),
    ]:
        code, _, err = cli(*base, *extra)
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and needle in lines[0], (extra, err)
    # -O sets the model's options: the run is BM25's with k1=1.2, b=0.7
    code, _, err = cli(*base, "-O", "k1=1.2", "-O", "b=0.7")
    assert code == 0, err
    first = irkit.read_run(tmp_path / "x.run")
    topics = irkit.read_topics(cranfield.topics)
    expected = irkit.BM25(cranfield_index, k1=1.2, b=0.7).search(topics, quiet=True)
    pd.testing.assert_frame_equal(rank_run(first), rank_run(expected))
