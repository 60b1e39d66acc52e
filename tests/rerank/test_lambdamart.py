"""LambdaMART: cross-validation without leakage, effectiveness on Cranfield, model folders, CLI and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from irkit.errors import InputError
from irkit.evaluate import evaluate
from irkit.io.letor import read_letor
from irkit.io.topics import read_topics
from irkit.io.trec import read_qrels, read_run, write_run
from irkit.rerank.lambdamart import LambdaMARTConfig, LambdaMARTModel, LambdaMARTReranker, rank_letor, train_cv
from irkit.retrieve.bm25 import BM25

DEPTH = 100


@pytest.fixture(scope="module")
def cran(tmp_path_factory, cranfield, cranfield_index):
    """Cranfield BM25 top 100 (as a file too), its LETOR-style features and the CV model."""
    from irkit.rerank.features import lucene_features

    root = tmp_path_factory.mktemp("lambdamart")
    queries = read_topics(cranfield.topics)
    qrels = read_qrels(cranfield.qrels)
    bm25 = BM25(cranfield_index).search(queries, hits=DEPTH, quiet=True)
    run_path = root / "bm25.run"
    write_run(bm25, run_path)
    feats = lucene_features(cranfield_index, queries, bm25, DEPTH, quiet=True).with_labels(qrels)
    model = train_cv(feats, LambdaMARTConfig(), folds=5, full=False, quiet=True)
    return {"root": root, "queries": queries, "qrels": qrels, "bm25": bm25, "run": run_path, "feats": feats,
            "model": model}  # fmt: skip


def test_cv_never_ranks_a_topic_with_a_model_that_saw_it(cran):
    model, feats = cran["model"], cran["feats"]
    folds = [p for p in model.parts if p.test]
    assert [p.name for p in model.parts] == [f"fold{k}" for k in range(1, 6)]
    held = [q for p in folds for q in p.test]
    assert len(held) == len(set(held)) == model.meta["trainable_topics"]  # the folds partition the topics
    for p in folds:
        assert not set(p.test) & (set(p.train) | set(p.valid)) and not set(p.train) & set(p.valid)
    # Every topic that is ranked, skipped (no relevant candidate) ones included, by parts that never saw it.
    qids = list(feats.groups())
    for q, parts in model.assignment(qids).items():
        assert parts and all(q not in p.train and q not in p.valid for p in parts), q
    skipped = model.meta["skipped_topics"]
    assert skipped and all(len(model.assignment([q])[q]) == 5 for q in skipped)  # the mean of the folds
    # The scores follow the bookkeeping: a held-out topic's scores are its fold's trees' predictions.
    scores, groups = model.score(feats), feats.groups()
    for p in folds:
        rows = np.concatenate([groups[q] for q in p.test])
        np.testing.assert_allclose(scores[rows], model.boosters[p.name].predict(feats.values[rows].astype(np.float64)))
        others = [f for f in folds if f is not p]
        assert not np.allclose(
            scores[rows], model.boosters[others[0].name].predict(feats.values[rows].astype(np.float64))
        )


def test_beats_bm25_on_cranfield_averaged_over_folds(cran):
    model, qrels, bm25 = cran["model"], cran["qrels"], cran["bm25"]
    run = model.run(cran["feats"])
    gains = []
    for p in model.parts:
        q = qrels[qrels["qid"].isin(p.test)]
        lm = evaluate(run[run["qid"].isin(p.test)], q, "nDCG@10")["nDCG@10"].iloc[0]
        base = evaluate(bm25[bm25["qid"].isin(p.test)], q, "nDCG@10")["nDCG@10"].iloc[0]
        gains.append(lm - base)
    # BM25 0.3510 over all 225 topics; LambdaMART's cross-validated run scores about 0.38.
    assert np.mean(gains) > 0.015, gains
    assert sum(g > 0 for g in gains) >= 4, gains


def test_save_load_round_trip_and_the_stage(cran, tmp_path, cranfield_index):
    model, feats = cran["model"], cran["feats"]
    path = model.save(tmp_path / "model")
    doc = json.loads((path / "config.json").read_text())
    assert doc["kind"] == "lambdamart" and [p["name"] for p in doc["parts"]] == [p.name for p in model.parts]
    assert sorted(f.name for f in path.iterdir() if f.name[0] != ".") == [
        "config.json",
        *(f"fold{k}.txt" for k in range(1, 6)),
    ]
    assert not list(tmp_path.glob(".model.*"))  # written atomically, no temporary left
    loaded = LambdaMARTModel.load(path)
    np.testing.assert_array_equal(loaded.score(feats), model.score(feats))
    # The stage: a candidate run carrying the query text in, the same cross-validated ranking out.
    from irkit.pipeline import with_queries

    stage = LambdaMARTReranker(path, cranfield_index)
    ranked = stage.transform(with_queries(cran["bm25"], cran["queries"]))
    expected = model.run(feats)
    merged = ranked.merge(expected, on=["qid", "docno"], suffixes=("", "_cv"))
    assert len(merged) == len(expected)
    np.testing.assert_allclose(merged["score"], merged["score_cv"], rtol=0, atol=1e-12)
    assert "lambdamart(model=" in repr(stage)


def test_cli_train_then_rank_gives_the_cross_validated_run(cran, cranfield, cranfield_index, capsys, monkeypatch, cli):
    root = cran["root"]
    out_model, cv_path, ranked_path = root / "cli-model", root / "cv.run", root / "ranked.run"
    code, out, err = cli("train", "lambdamart", "-i", cranfield_index.path, "-t", cranfield.topics,
        "--qrels", cranfield.qrels, "--candidates", cran["run"], "--folds", "5", "--no-full", "-o", out_model,
        "--run", cv_path, "-q",
    )  # fmt: skip
    assert code == 0, err
    assert "trained LambdaMART (5 models, 24 features" in out
    code, out, err = cli("rank", "--model", "lambdamart", "-O", f"model={out_model}", "-i", cranfield_index.path,
        "-t", cranfield.topics, "--rerank", cran["run"], "-o", ranked_path, "-q",
    )  # fmt: skip
    assert code == 0, err
    cv, ranked = read_run(cv_path), read_run(ranked_path)
    pd.testing.assert_frame_equal(cv[["qid", "docno", "rank"]], ranked[["qid", "docno", "rank"]])
    np.testing.assert_allclose(cv["score"], ranked["score"], rtol=1e-6)
    # the same training as the Python API: the same folds, the same trees, the same run
    np.testing.assert_allclose(
        ranked.set_index(["qid", "docno"])["score"].sort_index(),
        cran["model"].run(cran["feats"]).set_index(["qid", "docno"])["score"].sort_index(),
        rtol=1e-6,
    )


def test_bad_model_folder_is_one_line(cran, tmp_path, cranfield, cranfield_index, capsys, monkeypatch, cli):
    good = cran["model"].save(tmp_path / "good")

    def rank_with(folder):
        return cli("rank", "-m", "lambdamart", "-O", f"model={folder}", "-i", cranfield_index.path,
            "-t", cranfield.topics, "--rerank", cran["run"], "-o", tmp_path / "x.run", "-q",
        )  # fmt: skip

    broken = {}
    broken["missing"] = tmp_path / "nope"
    (tmp_path / "empty").mkdir()
    broken["empty"] = tmp_path / "empty"
    for name, mangle in {
        "json": lambda d: (d / "config.json").write_text("{not json"),
        "kind": lambda d: (d / "config.json").write_text(json.dumps({"kind": "irgan"})),
        "trees": lambda d: (d / "fold2.txt").write_text("garbage\n"),
        "lost": lambda d: (d / "fold3.txt").unlink(),
    }.items():
        import shutil

        d = tmp_path / name
        shutil.copytree(good, d)
        mangle(d)
        broken[name] = d
    for name, folder in broken.items():
        code, _out, err = rank_with(folder)
        assert code == 2, (name, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("irkit: error: ") and "Traceback" not in err, (name, err)
        assert str(folder) in lines[0], (name, err)
        with pytest.raises(InputError):
            LambdaMARTModel.load(folder)
    assert not (tmp_path / "x.run").exists()


def test_letor_file_train_and_rank(tmp_path, capsys, monkeypatch, cli):
    rng = np.random.default_rng(0)
    lines = []
    for q in range(1, 31):
        x = rng.random((25, 5))
        signal = x[:, 0] + 0.6 * x[:, 1] + rng.normal(0, 0.1, 25)
        labels = (signal > np.quantile(signal, 0.7)).astype(int) + (signal > np.quantile(signal, 0.9))
        for j, (label, row) in enumerate(zip(labels, x, strict=True)):
            lines.append(
                f"{label} qid:{q} " + " ".join(f"{i}:{v:.5f}" for i, v in enumerate(row, 1)) + f" #docid = d{q}-{j}"
            )
    data = tmp_path / "train.txt"
    data.write_text("\n".join(lines) + "\n")
    code, _out, err = cli("train", "lambdamart", "--letor", data, "-o", tmp_path / "m", "--folds", "3",
        "--min-leaf", "5", "--run", tmp_path / "cv.run", "-q",
    )  # fmt: skip
    assert code == 0, err
    model = LambdaMARTModel.load(tmp_path / "m")
    assert model.features["source"] == "letor" and [p.name for p in model.parts][-1] == "all"
    qrels = read_letor(data).qrels()
    run = rank_letor(model, data)
    shuffled = run.assign(score=np.random.default_rng(1).random(len(run)))
    ndcg = lambda r: evaluate(r, qrels, "nDCG@10")["nDCG@10"].iloc[0]  # noqa: E731
    assert ndcg(run) > ndcg(shuffled) + 0.2
    pd.testing.assert_frame_equal(run, read_run(tmp_path / "cv.run")[run.columns], check_exact=False, rtol=1e-6)
    with pytest.raises(InputError, match="trained on letor features"):
        model.check_features(model.features["names"], "lucene")
    code, _, err = cli("train", "lambdamart", "--letor", data, "--folds", "1", "-o", tmp_path / "m2")
    assert code == 2 and "--folds" in err and len(err.strip().splitlines()) == 1
