"""DESM: training, the paper's formula, the reranker interface, tuning alpha, bad input.

A small model (32 dimensions, 3 epochs on Cranfield) keeps these fast; the quality
table lives in benchmarks/desm_table.py.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from irkit import registry
from irkit.errors import InputError, IrkitError
from irkit.evaluate import evaluate
from irkit.frames import cut_run, rank_run
from irkit.io.topics import read_topics
from irkit.io.trec import read_qrels, read_run, write_run
from irkit.nn import load_model, save_model
from irkit.parse import parse
from irkit.pipeline import Reranker, with_queries
from irkit.rerank.desm import DESM, DESMConfig, DESMReranker, train, training_texts, words
from irkit.retrieve import BM25

SMALL = dict(dim=32, window=5, epochs=3, min_count=2, seed=7, workers=1)


@pytest.fixture(scope="module")
def sentences(cranfield_index):
    return training_texts(cranfield_index, quiet=True)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, sentences):
    path = tmp_path_factory.mktemp("desm") / "model"
    train(sentences, DESMConfig(**SMALL), quiet=True).save(path)
    return path


@pytest.fixture(scope="module")
def topics(cranfield):
    return read_topics(cranfield.topics).head(40)


@pytest.fixture(scope="module")
def qrels(cranfield):
    return read_qrels(cranfield.qrels)


@pytest.fixture(scope="module")
def bm25_run(cranfield_index, topics):
    return BM25(cranfield_index).search(topics, hits=100, quiet=True)


def test_same_seed_and_one_worker_give_the_same_vectors(sentences):
    part = sentences[:400]
    a = train(part, DESMConfig(**SMALL), quiet=True)
    b = train(part, DESMConfig(**SMALL), quiet=True)
    c = train(part, DESMConfig(**{**SMALL, "seed": 8}), quiet=True)
    assert a.vocab == b.vocab
    assert np.array_equal(a.w_in, b.w_in) and np.array_equal(a.w_out, b.w_out)
    assert not np.allclose(a.w_in, c.w_in)
    # the OUT matrix is trained, not left at gensim's zero initialisation
    assert np.abs(a.w_out).sum() > 0 and not np.allclose(a.w_in, a.w_out)


def test_saved_folder_round_trips(model_dir, sentences):
    meta, state = load_model(model_dir, "desm", weights=False)
    assert meta["kind"] == "desm" and state is None and meta["config"]["dim"] == 32
    model = DESM.load(model_dir)
    assert model.w_in.shape == model.w_out.shape == (len(model.vocab), 32)
    assert sorted(p.name for p in model_dir.iterdir()) == ["in.npy", "model.json", "out.npy", "vocab.txt"]
    # every vocabulary word occurs at least min_count times in the training text
    counts = pd.Series([t for s in sentences for t in s]).value_counts()
    assert (counts[model.vocab[:50]].to_numpy() >= 2).all()
    assert not any(any(c.isdigit() for c in w) or len(w) < 2 for w in model.vocab)


def test_words_drops_numbers_and_single_letters():
    assert words(["time", "share", "1410", "5", "ca660704", "e", "g", "wood"]) == ["time", "share", "wood"]


def _paper_score(model: DESM, query_tokens: list[str], doc_tokens: list[str], variant: str) -> float:
    """The paper's formula, word by word: mean over query words of cos(IN_q, centroid)."""
    side = model.w_out if variant == "in-out" else model.w_in
    dvecs = [side[model.word_id[t]] / np.linalg.norm(side[model.word_id[t]]) for t in doc_tokens if t in model.word_id]
    centroid = np.mean(dvecs, axis=0)
    cos = []
    for t in query_tokens:
        if t in model.word_id:
            q = model.w_in[model.word_id[t]]
            cos.append(float(q @ centroid / (np.linalg.norm(q) * np.linalg.norm(centroid))))
    return float(np.mean(cos))


@pytest.mark.parametrize("variant", ["in-out", "in-in"])
def test_vectorised_scores_equal_the_papers_formula(model_dir, cranfield_index, bm25_run, topics, variant):
    reranker = DESMReranker.from_path(model_dir, cranfield_index, variant=variant)
    pairs = cut_run(bm25_run, 5).merge(topics, on="qid")[["qid", "query", "docno"]]
    scores = reranker.score(pairs)
    assert scores.shape == (len(pairs),) and scores.dtype == np.float64
    model = reranker.model
    for (_, row), got in zip(pairs.iterrows(), scores, strict=True):
        q = words(cranfield_index.analyze(row.query))
        d = cranfield_index.analyze(cranfield_index.texts([row.docno])[0])
        assert got == pytest.approx(_paper_score(model, q, d, variant), abs=1e-5)
    assert np.all(np.abs(scores) <= 1.0 + 1e-6)


def test_from_path_is_a_reranker_with_pure_desm_scores(model_dir, cranfield_index, bm25_run, topics):
    reranker = DESMReranker.from_path(model_dir, cranfield_index, variant="in-out", alpha=1.0)
    assert isinstance(reranker, Reranker)
    pairs = cut_run(bm25_run, 10).merge(topics, on="qid")[["qid", "query", "docno"]]
    pure, _ = reranker.desm_scores(pairs)
    assert np.array_equal(reranker.score(pairs), pure)
    # the order of pairs does not matter, and the cache gives the same answer twice
    shuffled = pairs.sample(frac=1.0, random_state=0)
    assert np.allclose(reranker.score(shuffled), pd.Series(pure, index=pairs.index)[shuffled.index].to_numpy())
    # a second reranker from the same folder shares the loaded model and its centroids
    assert DESMReranker.from_path(model_dir, cranfield_index).model is reranker.model
    # in-in and in-out differ
    other = DESMReranker.from_path(model_dir, cranfield_index, variant="in-in").score(pairs)
    assert not np.allclose(other, pure)


def test_unknown_query_words_are_skipped_and_counted(model_dir, cranfield_index, bm25_run, topics):
    reranker = DESMReranker.from_path(model_dir, cranfield_index)
    pairs = cut_run(bm25_run, 10).merge(topics, on="qid")[["qid", "query", "docno"]]
    base = reranker.score(pairs)
    before = dict(reranker.oov)
    noisy = pairs.assign(query=pairs["query"] + " zqxjvw")
    assert np.allclose(reranker.score(noisy), base, atol=1e-6)
    assert reranker.oov == {qid: (k, t + 1) for qid, (k, t) in before.items()}


def test_a_query_without_known_words_keeps_the_run_order(model_dir, cranfield_index, bm25_run, topics):
    qid = bm25_run["qid"].iloc[0]
    gibberish = topics.assign(query=np.where(topics["qid"] == qid, "zqxjvw qqzzkx", topics["query"]))
    for alpha in (1.0, 0.5):
        reranker = DESMReranker.from_path(model_dir, cranfield_index, alpha=alpha)
        out = reranker.rerank(gibberish, bm25_run, depth=50)
        mine = out[out["qid"] == qid]
        assert list(mine["docno"]) == list(cut_run(bm25_run, 50).query("qid == @qid")["docno"])
        assert reranker.oov[qid] == (0, 2)
    # the others were reranked
    other = out[out["qid"] != qid]
    base = rank_run(cut_run(bm25_run, 50)).query("qid != @qid")
    assert list(other["docno"]) != list(base["docno"])


def test_alpha_zero_is_the_run_and_mixing_needs_its_scores(model_dir, cranfield_index, bm25_run, topics):
    out = DESMReranker.from_path(model_dir, cranfield_index, alpha=0.0).rerank(topics, bm25_run, depth=30)
    assert list(out["docno"]) == list(rank_run(cut_run(bm25_run, 30))["docno"])
    mixer = DESMReranker.from_path(model_dir, cranfield_index, alpha=0.5)
    pairs = cut_run(bm25_run, 10).merge(topics, on="qid")
    with pytest.raises(IrkitError, match="needs the candidates' scores"):
        mixer.score(pairs[["qid", "query", "docno"]])
    mixed = mixer.score(pairs[["qid", "query", "docno", "score"]])
    assert mixed.min() >= 0.0 and mixed.max() <= 1.0


def test_effectiveness_on_cranfield(model_dir, cranfield_index, cranfield, qrels):
    """Against real judgements: DESM reranking BM25's top 100 beats a random order of the same
    candidates; DESM over the whole collection is worse than reranking (the paper's false
    positives); the cross-validated mixture does not fall below BM25."""
    topics = read_topics(cranfield.topics).head(100)
    run = cut_run(BM25(cranfield_index).search(topics, hits=100, quiet=True), 100)
    reranker = DESMReranker.from_path(model_dir, cranfield_index)
    alone = evaluate(reranker.rerank(topics, run), qrels, "AP").iloc[0, 0]
    shuffled = run.assign(score=np.random.default_rng(0).random(len(run)))
    random_ap = evaluate(shuffled, qrels, "AP").iloc[0, 0]
    whole = evaluate(reranker.search(topics, hits=100), qrels, "AP").iloc[0, 0]
    tuned = reranker.tune(topics, run, qrels, depth=100, folds=5, seed=0)
    bm25 = evaluate(run, qrels, "AP").iloc[0, 0]
    mixed = evaluate(tuned.run, qrels, "AP").iloc[0, 0]
    assert alone > random_ap + 0.02
    assert whole < alone
    assert mixed >= bm25 - 0.01
    assert len(tuned.fold_alphas) == 5 and all(0.0 <= a <= 1.0 for a in tuned.fold_alphas)
    assert set(tuned.run["qid"]) == set(run["qid"])
    assert "5-fold" in tuned.describe()


def test_desm_is_the_same_stage_on_every_path(model_dir, cranfield_index, bm25_run, topics, qrels, capsys,
                                              monkeypatch):  # fmt: skip
    """registry.build, a pipeline's desm(...) and irkit.engine.stage(..., engine="local") build one
    stage: DESM alone (alpha 1) unless alpha is given; alpha=auto tunes it by cross-validation on
    the qrels (irkit.tuning.Tune) on each path alike, as reranker.tune does, and reports the query
    words DESM does not know once (it said "0 of 0" when it tuned)."""
    from irkit import engine

    cand = with_queries(cut_run(bm25_run, 20), topics)
    ctx = registry.Context(index=cranfield_index.path, hits=50, qrels=qrels)

    def paths(**options):
        text = ", ".join(f"{k}={v}" for k, v in options.items())
        return [
            registry.build("desm", options, ctx),
            parse(f"desm({text})", ctx),
            engine.stage("desm", engine="local", index=cranfield_index.path, hits=50, qrels=qrels, **options),
        ]

    reranker = DESMReranker.from_path(model_dir, cranfield_index, hits=50)
    for stage in paths(model=model_dir):
        pd.testing.assert_frame_equal(stage.transform(cand), reranker.transform(cand))
        assert stage.transform(topics).groupby("qid").size().max() == 50  # queries in: DESM alone
    expected = reranker.tune(topics, bm25_run, qrels, depth=20).run
    monkeypatch.setenv("IRKIT_QUIET", "0")
    for stage in paths(model=model_dir, alpha="auto"):
        assert repr(stage) == f"desm(model={model_dir}, alpha=auto)"
        stage.quiet = False
        pd.testing.assert_frame_equal(stage.transform(cand), expected)
        err = capsys.readouterr().err
        assert err.count("query words are not in the vocabulary") == 1 and "0 of 0" not in err, err
        assert "desm alpha by 5-fold cross-validation on AP over" in err, err

    with pytest.raises(IrkitError, match=r"alpha=auto chooses the value by cross-validation .*--qrels"):
        registry.build("desm", {"model": model_dir, "alpha": "auto"}, registry.Context(index=cranfield_index.path))
    with pytest.raises(IrkitError, match="give a run"):
        registry.build("desm", {"model": model_dir, "alpha": "0.5"}, ctx).transform(topics)
    with pytest.raises(IrkitError, match="variant"):
        registry.build("desm", {"model": model_dir, "variant": "out-out"}, ctx)
    with pytest.raises(IrkitError, match="needs -O model="):
        registry.build("desm", {"alpha": "1"}, ctx)


# ---------------------------------------------------------------------------- bad input


def test_missing_model_folder(tmp_path, cranfield_index):
    with pytest.raises(InputError, match="no such model folder"):
        DESMReranker.from_path(tmp_path / "nope", cranfield_index)


def test_model_folder_of_another_kind(tmp_path, cranfield_index):
    other = save_model(tmp_path / "irgan", "irgan", {"dim": 8}, files={"x.txt": lambda p: p.write_text("x")})
    with pytest.raises(InputError, match="'irgan' model, not 'desm'"):
        DESMReranker.from_path(other, cranfield_index)


def test_model_folder_missing_a_matrix(tmp_path, model_dir, cranfield_index):
    broken = tmp_path / "m"
    shutil.copytree(model_dir, broken)
    (broken / "out.npy").unlink()
    with pytest.raises(InputError, match=r"no out\.npy"):
        DESMReranker.from_path(broken, cranfield_index)


def test_dimension_mismatch(tmp_path, model_dir, cranfield_index):
    broken = tmp_path / "m"
    shutil.copytree(model_dir, broken)
    w_out = np.load(broken / "out.npy")
    np.save(broken / "out.npy", w_out[:, :16])
    with pytest.raises(InputError, match="dimension mismatch: IN has 32 dimensions, OUT has 16"):
        DESMReranker.from_path(broken, cranfield_index)
    shutil.copy(model_dir / "out.npy", broken / "out.npy")
    meta = json.loads((broken / "model.json").read_text())
    meta["config"]["dim"] = 64
    (broken / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"model\.json says dim=64"):
        DESMReranker.from_path(broken, cranfield_index)


def test_run_with_documents_the_index_lacks(model_dir, cranfield_index, bm25_run, topics):
    bad = bm25_run.copy()
    bad.loc[bad.index[:3], "docno"] = ["CACM-0001", "CACM-0002", "CACM-0003"]
    reranker = DESMReranker.from_path(model_dir, cranfield_index)
    with pytest.raises(InputError, match="names 3 document"):
        reranker.rerank(topics, bad)


def test_negative_sampling_is_required(sentences):
    with pytest.raises(IrkitError, match="negative sampling"):
        train(sentences[:50], DESMConfig(**{**SMALL, "negative": 0}))


def test_cli_train_then_rank(tmp_path, cranfield, cranfield_index, bm25_run):
    from typer.testing import CliRunner

    from irkit.cli.app import app

    runner = CliRunner()
    model = tmp_path / "cli-model"
    corpus = tmp_path / "extra.txt"
    corpus.write_text("the zorblaxian widgets hum\n\n" * 5)
    args = ["train", "desm", "--index", str(cranfield_index.path), "--output", str(model), "--dim", "16", "--epochs", "1",
            "--corpus", str(corpus), "-q"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "16 dimensions" in res.output and (model / "in.npy").exists()
    assert "zorblaxian" in DESM.load(model).word_id  # the extra text was trained on
    res = runner.invoke(app, args)  # refuses to overwrite without --force
    assert res.exit_code != 0
    cand = write_run(bm25_run, tmp_path / "bm25.run")
    out = tmp_path / "desm.run"
    res = runner.invoke(app, ["rank", "--model", "desm", "-O", f"model={model}", "--index", str(cranfield_index.path),
                              "--topics", str(cranfield.topics), "--rerank", str(cand), "-O", "alpha=0.5",
                              "--depth", "10", "--output", str(out), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert read_run(out).groupby("qid").size().max() == 10


def test_centroid_cache_grows_without_changing_scores(model_dir, cranfield_index, bm25_run, topics):
    pairs = cut_run(bm25_run, 20).merge(topics, on="qid")[["qid", "query", "docno"]]
    model = DESM.load(model_dir)
    fresh = DESM(model.vocab, model.w_in, model.w_out, model.config)
    reranker = DESMReranker(fresh, cranfield_index)
    first = reranker.score(pairs.head(30))  # caches some documents
    everything = reranker.score(pairs)  # adds the rest
    whole = reranker.search(topics.head(3), hits=5)  # adds every document of the index
    assert np.allclose(everything[:30], first)
    cold = DESMReranker(DESM(model.vocab, model.w_in, model.w_out, model.config), cranfield_index)
    assert np.allclose(cold.score(pairs), everything)
    assert len(reranker._cache.matrix) == len(cranfield_index.docnos) == len(reranker._cache.keys)
    top = whole.groupby("qid").head(1)
    probe = top.merge(topics, on="qid")[["qid", "query", "docno"]]
    assert np.allclose(cold.score(probe), top["score"].to_numpy(), atol=1e-6)
