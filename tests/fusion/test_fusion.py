"""Run fusion: RRF arithmetic, interpolation end points, and cross-validated tuning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from irkit.errors import InputError
from irkit.frames import qrels_frame, run_frame
from irkit.fusion import interpolate, rrf
from irkit.fusion.norm import minmax
from irkit.fusion.tune import tune_interpolation


def _run(rows):
    return run_frame(pd.DataFrame(rows, columns=["qid", "docno", "score"]))


def test_rrf_adds_reciprocal_ranks():
    a = _run([("1", "x", 3.0), ("1", "y", 2.0), ("1", "z", 1.0)])
    b = _run([("1", "z", 9.0), ("1", "x", 5.0)])
    fused = rrf([a, b], k=60).set_index("docno")["score"]
    assert fused["x"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["y"] == pytest.approx(1 / 62)
    assert fused["z"] == pytest.approx(1 / 63 + 1 / 61)
    assert list(rrf([a, b]).sort_values("rank")["docno"]) == ["x", "z", "y"]


def test_interpolation_end_points_reproduce_each_run():
    rng = np.random.default_rng(0)
    a = _run([("q", f"d{i}", float(s)) for i, s in enumerate(rng.normal(size=30))])
    b = _run([("q", f"d{i}", float(s)) for i, s in enumerate(rng.normal(size=30) * 100)])
    order = lambda r: list(r.sort_values("rank")["docno"])  # noqa: E731
    assert order(interpolate([a, b], [1.0, 0.0])) == order(a)
    assert order(interpolate([a, b], [0.0, 1.0])) == order(b)
    mm = minmax(a)
    assert mm.min() == 0.0 and mm.max() == 1.0
    with pytest.raises(InputError):
        interpolate([a])
    with pytest.raises(InputError):
        interpolate([a, b], [1.0])


def test_tuning_is_cross_validated():
    # The first run ranks the relevant d19, d18 first, the second last: alpha > 1/2
    # wins on every fold (at 1/2 all scores tie and docno order buries them).
    rows_a, rows_b, qrels = [], [], []
    for q in range(10):
        for d in range(20):
            rows_a.append((str(q), f"d{d}", float(d)))
            rows_b.append((str(q), f"d{d}", float(-d)))
        qrels += [(str(q), "d19", 1), (str(q), "d18", 1)]
    fused, info = tune_interpolation(_run(rows_a), _run(rows_b), qrels_frame(qrels), measure="AP", folds=5)
    assert info["folds"] == 5 and len(info["alphas"]) == 5
    assert all(a > 0.5 for a in info["alphas"]) and info["alpha_all"] > 0.5
    top = fused[fused["rank"] == 1]
    assert set(top["docno"]) == {"d19"} and top["qid"].nunique() == 10
    with pytest.raises(InputError, match="judged"):
        tune_interpolation(_run(rows_a), _run(rows_b), qrels_frame([("99", "d0", 1)]))
