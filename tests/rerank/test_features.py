"""LETOR-style features from a Lucene index (Cranfield)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from irkit.errors import InputError
from irkit.io.topics import read_topics
from irkit.rerank import features as features_mod
from irkit.rerank.features import FeatureExtractor, feature_names, split_title
from irkit.retrieve.bm25 import BM25


@pytest.fixture(scope="module")
def pairs(cranfield, cranfield_index):
    queries = read_topics(cranfield.topics).head(6)
    run = BM25(cranfield_index).search(queries, hits=20, quiet=True)
    return run.merge(queries, on="qid"), run


@pytest.fixture(scope="module")
def extractor(cranfield_index):
    return FeatureExtractor(cranfield_index)


def test_split_title_of_smart_and_cacm_texts():
    cran = (
        "experimental investigation of the aerodynamics of a\nwing in a slipstream .\nexperimental investigation of the"
    )
    assert split_title(cran) == (
        "experimental investigation of the aerodynamics of a\nwing in a slipstream .",
        "experimental investigation of the",
    )
    cacm = "Preliminary Report-International Algebraic Language\n\nCACM December, 1958\n\nPerlis, A. J."
    title, body = split_title(cacm)
    assert title == "Preliminary Report-International Algebraic Language" and "CACM December" in body
    assert split_title("one line only") == ("one line only", "")
    assert split_title("no full stop here\nsecond\nthird\nfourth") == ("no full stop here", "second\nthird\nfourth")


def test_features_are_named_normalised_per_query_and_grouped(pairs, extractor):
    frame, _ = pairs
    shuffled = frame.sample(frac=1.0, random_state=0)  # rows of a query need not be contiguous
    f = extractor.extract(shuffled)
    assert f.names == feature_names(False) and len(f.names) == 24
    assert f.source == "lucene" and f.meta["normalisation"] == "query min-max"
    assert len(f) == len(frame) and f.values.shape == (len(frame), 24)
    assert set(map(tuple, zip(f.qids, f.docnos, strict=True))) == set(zip(frame["qid"], frame["docno"], strict=True))
    assert (f.values >= 0).all() and (f.values <= 1).all()
    for rows in f.groups().values():
        assert np.all(np.diff(rows) == 1)  # contiguous
        block = f.values[rows]
        varying = block.max(0) > block.min(0)
        assert varying.sum() > 15
        np.testing.assert_allclose(block[:, varying].min(0), 0.0)
        np.testing.assert_allclose(block[:, varying].max(0), 1.0)


def test_bm25_feature_orders_documents_as_lucene_does(pairs, extractor):
    frame, run = pairs
    f = extractor.extract(frame, normalise=False)
    j = f.names.index("bm25_full")
    scores = run.set_index(["qid", "docno"])["score"]
    for q, rows in f.groups().items():
        lucene = scores.loc[[(q, d) for d in f.docnos[rows]]].to_numpy()
        assert spearmanr(lucene, f.values[rows, j]).statistic > 0.97, q
    # the coverage feature is a share of query terms; lengths are logs of token counts
    cov = f.values[:, f.names.index("coverage_full")]
    assert (cov > 0).all() and (cov <= 1).all()
    assert (f.values[:, f.names.index("len_full")] >= f.values[:, f.names.index("len_title")]).all()


def test_features_do_not_depend_on_cache_or_order(pairs, extractor, cranfield_index, monkeypatch):
    frame, _ = pairs
    a = extractor.extract(frame)
    monkeypatch.setattr(features_mod, "_SHARED", {})  # a cold cache: documents analysed in another order
    fresh = FeatureExtractor(cranfield_index).extract(frame.iloc[::-1].reset_index(drop=True))
    key = pd.MultiIndex.from_arrays([a.qids, a.docnos])
    other = pd.DataFrame(fresh.values, index=pd.MultiIndex.from_arrays([fresh.qids, fresh.docnos])).loc[key]
    np.testing.assert_allclose(other.to_numpy(), a.values, rtol=1e-5, atol=1e-6)


def test_unknown_documents_and_missing_columns_fail_clearly(extractor):
    bad = pd.DataFrame({"qid": ["1"], "query": ["flow"], "docno": ["no-such-doc"]})
    with pytest.raises(InputError, match="not in the index"):
        extractor.extract(bad)
    with pytest.raises(InputError, match="missing 'query'"):
        extractor.extract(bad.drop(columns="query"))


def test_desm_features_are_the_desm_reranker_scores(pairs, cranfield_index, tmp_path):
    from irkit.rerank import desm

    frame, _ = pairs
    words = sorted(
        {t for text in cranfield_index.texts(cranfield_index.docnos[:200]) for t in cranfield_index.analyze(text)}
    )
    rng = np.random.default_rng(0)
    model = desm.DESM(words, rng.normal(size=(len(words), 8)), rng.normal(size=(len(words), 8)), desm.DESMConfig(dim=8))
    model.save(tmp_path / "desm")
    fx = FeatureExtractor(cranfield_index, desm=tmp_path / "desm")
    f = fx.extract(frame, normalise=False)
    assert f.names[-2:] == ("desm_in_out", "desm_in_in") and f.meta["desm"] is True
    ordered = pd.DataFrame(
        {
            "qid": f.qids,
            "query": frame.set_index("qid")["query"].groupby(level=0).first().loc[f.qids].to_numpy(),
            "docno": f.docnos,
        }
    )
    for j, variant in enumerate(("in-out", "in-in")):
        expected = desm.DESMReranker.from_path(tmp_path / "desm", cranfield_index, variant=variant).score(ordered)
        np.testing.assert_allclose(f.values[:, 24 + j], expected, rtol=1e-5, atol=1e-6)
    assert np.std(f.values[:, 24]) > 0
