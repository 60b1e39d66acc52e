"""IRGAN: LETOR files end to end, cross-validation without leakage, seeds, checkpoints and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from irkit import registry
from irkit.errors import InputError, IrkitError
from irkit.evaluate import evaluate
from irkit.io.letor import Features, read_letor
from irkit.io.topics import read_topics
from irkit.io.trec import read_qrels, read_run, write_run
from irkit.rerank import irgan as irgan_mod
from irkit.rerank.irgan import IRGANConfig, IRGANModel, train_cv
from irkit.rerank.irgan_rank import rank_letor
from irkit.retrieve.bm25 import BM25

TINY = ["--hidden", "8", "--pretrain-epochs", "40", "--epochs", "2"]


def tiny(**kw) -> IRGANConfig:
    return IRGANConfig(**{"hidden": 8, "pretrain_epochs": 3, "epochs": 2, **kw})


def write_letor_file(path, n_queries=12, n_docs=20, seed=0, no_relevant=()):
    """Five features; relevance grows with features 1 and 2, 3-5 are noise."""
    rng = np.random.default_rng(seed)
    lines = []
    for q in range(1, n_queries + 1):
        x = rng.random((n_docs, 5))
        signal = x[:, 0] + 0.6 * x[:, 1] + rng.normal(0, 0.1, n_docs)
        labels = (signal > np.quantile(signal, 0.75)).astype(int) + (signal > np.quantile(signal, 0.92))
        if q in no_relevant:
            labels[:] = 0
        for j, (label, row) in enumerate(zip(labels, x, strict=True)):
            feats = " ".join(f"{i}:{v:.5f}" for i, v in enumerate(row, 1))
            lines.append(f"{label} qid:{q} {feats} #docid = q{q}-d{j} inc = 1 prob = 0.5")
    path.write_text("\n".join(lines) + "\n")
    return path


def ndcg10(run, qrels) -> float:
    return float(evaluate(run, qrels, "nDCG@10")["nDCG@10"].iloc[0])


# --------------------------------------------------------------------------- LETOR


def test_letor_file_parse_train_rank_and_malformed_line(tmp_path, capsys, monkeypatch, cli):
    data = write_letor_file(tmp_path / "train.txt", no_relevant=(5,))
    feats = read_letor(data)
    assert feats.n_features == 5 and len(feats) == 12 * 20 and feats.docnos[0] == "q1-d0"
    qrels = feats.qrels()

    model_dir, run_path = tmp_path / "model", tmp_path / "cv.run"
    code, out, err = cli("train", "irgan", "--letor", data, "-o", model_dir, "--folds", "3", "--no-full",
        "--run", run_path, "--quiet", *TINY,
    )  # fmt: skip
    assert code == 0, err
    assert "trained IRGAN-pointwise (3 models, 5 features)" in out

    model = IRGANModel.load(model_dir)
    assert model.complete and model.features["source"] == "letor"
    assert model.meta["skipped_topics"] == ["5"]  # no relevant document: skipped and counted, not a crash
    for use in ("d", "g", "mle"):
        run = rank_letor(model_dir, data, use)
        assert set(run["qid"]) == {str(q) for q in range(1, 13)}
        # the learnt scorers beat a random order of the same documents by a wide margin
        shuffled = run.assign(score=np.random.default_rng(1).random(len(run)))
        assert ndcg10(run, qrels) > ndcg10(shuffled, qrels) + 0.15, use
    written = read_run(run_path)
    pd.testing.assert_frame_equal(
        written, rank_letor(model_dir, data, "d")[written.columns], check_exact=False, rtol=1e-12
    )

    bad = tmp_path / "bad.txt"
    bad.write_text(data.read_text().replace("qid:3 1:", "qid:3 1=", 1))
    line = next(n for n, ln in enumerate(bad.read_text().splitlines(), 1) if "1=" in ln)
    code, _, err = cli("train", "irgan", "--letor", bad, "-o", tmp_path / "m2", "-q", *TINY)
    assert code == 2 and err.startswith(f"irkit: error: {bad}:{line}: feature '1=")
    assert "is not id:value" in err and len(err.strip().splitlines()) == 1


def test_folds_never_score_a_topic_they_trained_on(tmp_path):
    feats = read_letor(write_letor_file(tmp_path / "t.txt", n_queries=10)).normalised()
    model = train_cv(feats, feats.qrels(), tiny(), folds=3, full=True, quiet=True)
    folds = [p for p in model.parts if p.test]
    assert len(folds) == 3 and [p.name for p in model.parts][-1] == "all"
    tested = [q for p in folds for q in p.test]
    assert sorted(tested) == sorted({str(q) for q in range(1, 11)})  # a partition
    for p in folds:
        assert not set(p.test) & (set(p.train) | set(p.valid))
        assert not set(p.train) & set(p.valid)
    owner = model.assignment(list(feats.groups()))
    assert all(parts[0].test and q in parts[0].test for q, parts in owner.items())
    assert model.assignment(["unseen"])["unseen"][0].name == "all"


def test_same_seed_same_scores_other_seed_other_scores(tmp_path):
    feats = read_letor(write_letor_file(tmp_path / "t.txt", n_queries=8)).normalised()
    for variant in ("pointwise", "pairwise"):
        a = train_cv(feats, feats.qrels(), tiny(variant=variant, seed=3), folds=2, full=False, quiet=True)
        b = train_cv(feats, feats.qrels(), tiny(variant=variant, seed=3), folds=2, full=False, quiet=True)
        c = train_cv(feats, feats.qrels(), tiny(variant=variant, seed=4), folds=2, full=False, quiet=True)
        for use in ("d", "g"):
            np.testing.assert_array_equal(a.score(feats, use), b.score(feats, use))
            assert not np.allclose(a.score(feats, use), c.score(feats, use))


def test_interrupted_training_leaves_a_usable_checkpoint_and_resumes(tmp_path, monkeypatch):
    feats = read_letor(write_letor_file(tmp_path / "t.txt", n_queries=9)).normalised()
    out = tmp_path / "model"
    original = irgan_mod._train_part

    def interrupt_second(model, i, *args, **kw):
        if i == 1:
            raise KeyboardInterrupt
        return original(model, i, *args, **kw)

    monkeypatch.setattr(irgan_mod, "_train_part", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        train_cv(feats, feats.qrels(), tiny(), folds=3, full=False, output=out, quiet=True)
    assert not list(tmp_path.glob(".model.*"))  # no temporary left behind
    partial = IRGANModel.load(out)
    assert not partial.complete and partial.parts[0].done and not partial.parts[1].done
    first = feats.subset(partial.parts[0].test)
    assert np.isfinite(partial.score(first, "d")).all()  # the finished fold ranks its topics
    with pytest.raises(IrkitError, match="--resume"):
        partial.score(feats, "d")

    monkeypatch.setattr(irgan_mod, "_train_part", original)
    resumed = train_cv(feats, feats.qrels(), tiny(), folds=3, full=False, output=out, resume=True, quiet=True)
    fresh = train_cv(feats, feats.qrels(), tiny(), folds=3, full=False, quiet=True)
    assert resumed.complete
    np.testing.assert_array_equal(resumed.score(feats, "g"), fresh.score(feats, "g"))
    with pytest.raises(InputError, match="other settings"):
        train_cv(feats, feats.qrels(), tiny(hidden=9), folds=3, full=False, output=out, resume=True, quiet=True)


def test_config_and_training_input_errors(tmp_path):
    with pytest.raises(IrkitError, match="variant"):
        IRGANConfig(variant="listwise")
    with pytest.raises(IrkitError, match="temperature"):
        IRGANConfig(temperature=0)
    feats = read_letor(write_letor_file(tmp_path / "t.txt", n_queries=4, no_relevant=(1, 2))).normalised()
    with pytest.raises(InputError, match="at least 3 topics"):
        train_cv(feats, feats.qrels(), tiny(), folds=2, quiet=True)
    unlabelled = Features(feats.qids, feats.docnos, feats.values, feats.names)
    with pytest.raises(InputError, match="need labels"):
        train_cv(unlabelled, feats.qrels(), tiny(), quiet=True)


# --------------------------------------------------------------------------- Lucene features, the CLI


@pytest.fixture(scope="module")
def cran_setup(tmp_path_factory, cranfield, cranfield_index):
    root = tmp_path_factory.mktemp("irgan")
    queries = read_topics(cranfield.topics)
    queries = queries[queries["qid"].astype(int) <= 16]
    topics = root / "topics.tsv"
    topics.write_text("".join(f"{q}\t{t}\n" for q, t in zip(queries["qid"], queries["query"], strict=True)))
    bm25 = BM25(cranfield_index).search(queries, hits=30, quiet=True)
    run = root / "bm25.run"
    write_run(bm25, run)
    return root, topics, run, bm25


def test_cli_train_and_rank_on_cranfield(cran_setup, cranfield, cranfield_index, capsys, monkeypatch, cli):
    root, topics, run, bm25 = cran_setup
    model_dir, cv = root / "model", root / "cv.run"
    common = ["-i", cranfield_index.path, "-t", topics]
    code, _out, err = cli("train", "irgan", *common, "--qrels", cranfield.qrels, "--candidates", run,
        "-o", model_dir, "--folds", "3", "--depth", "30", "--variant", "pairwise", "--run", cv, "-q", *TINY,
    )  # fmt: skip
    assert code == 0, err
    model = IRGANModel.load(model_dir)
    assert model.features["source"] == "lucene" and len(model.features["names"]) == 24
    assert [p.name for p in model.parts] == ["fold1", "fold2", "fold3", "all"]

    out_run = root / "d.run"
    code, _, err = cli("rank", "-m", "irgan", "-O", f"model={model_dir}", "--rerank", run, *common,
                           "--depth", "30", "-o", out_run, "-q")  # fmt: skip
    assert code == 0, err
    ranked = read_run(out_run)
    pd.testing.assert_frame_equal(ranked, read_run(cv))  # `irkit rank` gives the cross-validated run
    assert len(ranked) == len(bm25) and set(ranked["qid"]) == set(bm25["qid"])
    qrels = read_qrels(cranfield.qrels)
    qrels = qrels[qrels["qid"].isin(set(bm25["qid"]))]
    shuffled = ranked.assign(score=np.random.default_rng(0).random(len(ranked)))
    assert ndcg10(ranked, qrels) > ndcg10(shuffled, qrels) + 0.1

    # a feature set other than the model's: one line, exit 2, before any work
    code, _, err = cli("rank", "-m", "irgan", "-O", f"model={model_dir}", "--rerank", run, *common,
                           "-O", f"desm={root / 'no-desm'}", "-o", root / "x.run", "-q")  # fmt: skip
    assert code == 2 and "trained without DESM features" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("rank", "-m", "irgan", "-O", f"model={model_dir}", "--rerank", run, *common,
                           "-O", "use=x", "-o", root / "x.run", "-q")  # fmt: skip
    assert code == 2 and "use must be one of d, g, mle" in err


def _irgan(options, queries, candidates, index):
    """What `irkit rank -m irgan --rerank RUN --depth 30` runs: the registry's stage on the candidates."""
    from irkit.cli.rank import rank_frame
    from irkit.frames import run_frame

    stage = registry.build("irgan", options, registry.Context(index=index.path, quiet=True))
    return run_frame(stage.transform(rank_frame(queries, candidates, 30)))


def test_missing_topics_and_feature_source_mismatch(cran_setup, cranfield, cranfield_index, tmp_path):
    _root, topics, _run, bm25 = cran_setup
    queries = read_topics(topics)
    qrels = read_qrels(cranfield.qrels)
    # qrels of one topic say nothing is relevant: skipped and counted
    qrels.loc[qrels["qid"] == "1", "label"] = 0
    partial = bm25[~bm25["qid"].isin(["2", "3"])]  # the candidate run misses two topics
    from irkit.rerank.features import lucene_features
    from irkit.rerank.irgan_rank import cv_run

    feats = lucene_features(cranfield_index, queries, partial, depth=30, quiet=True).with_labels(qrels)
    assert set(feats.qids) == set(queries["qid"]) - {"2", "3"}
    model = train_cv(feats, qrels, tiny(), folds=2, full=False, output=tmp_path / "m", quiet=True)
    assert "1" in model.meta["skipped_topics"]
    out = _irgan({"model": tmp_path / "m", "use": "g"}, queries, partial, cranfield_index)
    assert set(out["qid"]) == set(partial["qid"])  # topics without candidates are left out, not a crash
    pd.testing.assert_frame_equal(out, cv_run(model, feats, "g"))

    with pytest.raises(InputError, match="topics file lacks"):
        _irgan({"model": tmp_path / "m"}, queries[queries["qid"] != "4"], partial, cranfield_index)
    # a LETOR-trained model asked to rank Lucene features
    letor = read_letor(write_letor_file(tmp_path / "t.txt", n_queries=6)).normalised()
    train_cv(letor, letor.qrels(), tiny(), folds=2, full=False, output=tmp_path / "lm", quiet=True)
    with pytest.raises(InputError, match="trained on letor features"):
        _irgan({"model": tmp_path / "lm"}, queries, partial, cranfield_index)
    with pytest.raises(InputError, match="trained on lucene features"):
        rank_letor(tmp_path / "m", tmp_path / "t.txt")
    with pytest.raises(IrkitError, match="--rerank"):
        _irgan({"model": tmp_path / "m"}, queries, None, cranfield_index)


def test_desm_features_train_and_rank(cran_setup, cranfield, cranfield_index, capsys, monkeypatch, cli):
    from irkit.rerank import desm

    root, topics, run, _ = cran_setup
    words = sorted(
        {t for text in cranfield_index.texts(cranfield_index.docnos[:300]) for t in cranfield_index.analyze(text)}
    )
    rng = np.random.default_rng(0)
    desm.DESM(words, rng.normal(size=(len(words), 8)), rng.normal(size=(len(words), 8)), desm.DESMConfig(dim=8)).save(
        root / "desm"
    )
    common = ["-i", cranfield_index.path, "-t", topics]
    code, _, err = cli("train", "irgan", *common, "--qrels", cranfield.qrels, "--candidates", run,
        "--desm", root / "desm", "-o", root / "dm", "--folds", "0", "--depth", "30", "-q", *TINY,
    )  # fmt: skip
    assert code == 0, err
    model = IRGANModel.load(root / "dm")
    assert model.features["names"][-2:] == ["desm_in_out", "desm_in_in"] and model.features["desm"] is True
    rank_args = ["rank", "-m", "irgan", "-O", f"model={root / 'dm'}", "--rerank", run, *common, "--depth", "30", "-q"]
    code, _, err = cli(*rank_args, "-O", f"desm={root / 'desm'}", "-o", root / "dm.run")
    assert code == 0, err
    assert len(read_run(root / "dm.run")) == len(read_run(run))
    code, _, err = cli(*rank_args, "-o", root / "dm2.run")
    assert code == 2 and "trained with DESM features: pass -O desm=MODEL" in err
