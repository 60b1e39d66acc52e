"""Leaderboard reports: effect sizes with confidence intervals, and every format (md, html, csv, tex, printed)."""

from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from irkit.cli import main
from irkit.errors import InputError
from irkit.evaluate.leaderboard import effect_size, leaderboard, write_report
from irkit.evaluate.report import latex_escape, to_latex, to_text
from irkit.frames import qrels_frame, run_frame

QIDS = [str(i) for i in range(40)]
QRELS = qrels_frame([(q, "rel", 1) for q in QIDS] + [(q, f"n{j}", 0) for q in QIDS for j in range(5)])


def _run(rank_of_rel) -> pd.DataFrame:
    rows = []
    for q, r in zip(QIDS, rank_of_rel, strict=True):
        docs = [f"n{j}" for j in range(5)]
        docs.insert(int(r), "rel")
        rows += [(q, d, 10.0 - i) for i, d in enumerate(docs)]
    return run_frame(pd.DataFrame(rows, columns=["qid", "docno", "score"]))


@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(1)
    return {
        "base": _run(rng.integers(2, 6, 40)),
        "good_run": _run(np.zeros(40)),  # the relevant document first: far better
        "worse": _run(np.full(40, 5)),  # last: worse
        "same": _run(rng.integers(2, 6, 40)),
    }


def test_effect_size_t_interval_and_seeded_bootstrap():
    rng = np.random.default_rng(0)
    a, b = rng.random(50), rng.random(50)
    mean, lo, hi = effect_size(a, b, "t")
    ci = stats.t.interval(0.95, 49, loc=(a - b).mean(), scale=stats.sem(a - b))
    assert mean == pytest.approx((a - b).mean()) and (lo, hi) == pytest.approx(ci)
    for test in ("wilcoxon", "randomization"):
        boot = effect_size(a, b, test)
        assert boot == effect_size(a, b, test)  # seeded: the same interval every time
        assert boot[1] < boot[0] < boot[2] and boot[1] != pytest.approx(lo, abs=1e-6)
        assert boot[2] - boot[1] == pytest.approx(hi - lo, rel=0.2)  # close to the t interval on 50 topics
    assert effect_size(a + 0.1, a, "t") == pytest.approx((0.1, 0.1, 0.1))  # a constant difference: no spread
    with pytest.raises(InputError, match="unknown test"):
        effect_size(a, b, "z")


def test_leaderboard_effect_columns_agree_with_the_test(runs):
    board = leaderboard(runs, QRELS, "RR P@1", baseline="base", correction="none").set_index("run")
    for m in ("RR", "P@1"):
        assert np.isnan(board.loc["base", f"diff({m})"])
        for r in ("good_run", "worse", "same"):
            d, lo, hi = board.loc[r, [f"diff({m})", f"ci_low({m})", f"ci_high({m})"]]
            assert d == pytest.approx(board.loc[r, m] - board.loc["base", m])
            assert lo <= d <= hi
            # uncorrected t-test: significant at 0.05 exactly when the 95% t interval leaves out 0
            significant = board.loc[r, f"p({m})"] < 0.05
            assert significant == (lo > 0 or hi < 0), (r, m)
    assert board.loc["good_run", "ci_low(RR)"] > 0 and board.loc["worse", "ci_high(RR)"] < 0
    boot = leaderboard(runs, QRELS, "RR", baseline="base", test="randomization").set_index("run")
    assert boot.loc["same", "ci_low(RR)"] != pytest.approx(board.loc["same", "ci_low(RR)"], abs=1e-9)
    assert leaderboard(runs, QRELS, "RR").columns.tolist() == ["run", "RR"]  # no baseline: nothing to compare


def test_every_format_carries_the_effect_sizes(runs, tmp_path):
    board = leaderboard(runs, QRELS, "RR P@1", baseline="base")
    good = board.set_index("run").loc["good_run"]
    shown = f"{good['diff(RR)']:+.4f} [{good['ci_low(RR)']:+.4f}, {good['ci_high(RR)']:+.4f}]"
    text = to_text(board)
    assert "diff(RR) [95% CI]" in text and shown in text
    md = write_report(board, tmp_path / "b.md", plot="b.png").read_text()
    assert md.startswith("| run | RR | P@1 | p(RR) | p(P@1) | diff(RR) [95% CI] | diff(P@1) [95% CI] | sig |")
    assert shown in md and "95% CI (t interval)" in md and "![per-topic differences](b.png)" in md
    html = write_report(board, tmp_path / "b.html", plot="b.png").read_text()
    assert shown in html and '<table id="leaderboard">' in html and "<script" not in html
    assert html.count("<tr>") == 1 + len(runs) and '<img id="per-topic" src="b.png"' in html
    csv = pd.read_csv(write_report(board, tmp_path / "b.csv"))
    assert {"diff(RR)", "ci_low(RR)", "ci_high(RR)", "diff(P@1)"} <= set(csv.columns)
    np.testing.assert_allclose(csv["ci_low(RR)"].to_numpy(), board["ci_low(RR)"].to_numpy())
    tex = write_report(board, tmp_path / "b.tex").read_text()
    assert f"${good['diff(RR)']:+.4f}$" in tex and r"[95\% CI]" in tex
    with pytest.raises(InputError, match="report format"):
        write_report(board, tmp_path / "b.txt")


def test_latex_is_booktabs_with_bold_best_and_significance_superscripts(runs):
    board = leaderboard(runs, QRELS, "RR P@1", baseline="base")
    tex = to_latex(board)
    lines = tex.splitlines()
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert lines.count(rule) == 1, rule
    assert lines.index(r"\toprule") < lines.index(r"\midrule") < lines.index(r"\bottomrule")
    assert r"\begin{tabular}{lrrrr}" in tex and r"\hline" not in tex
    rows = {ln.split(" & ")[0]: ln for ln in lines if ln.endswith(r"\\") and " & " in ln}
    assert set(rows) >= {"good\\_run", "worse", "same", "base"}  # run names escaped
    # every row has as many cells as the tabular has columns
    assert all(ln.count(" & ") == 4 for name, ln in rows.items() if name in ("good\\_run", "worse", "same", "base"))
    # the best RR and P@1 (good_run, 1.0) are bold, and it is significantly better: superscript +
    assert rows["good\\_run"].split(" & ")[1] == r"\textbf{1.0000}$^{+}$"
    assert r"$^{-}$" in rows["worse"].split(" & ")[1] and r"\textbf" not in rows["worse"]
    assert r"\textbf" not in rows["base"] and rows["base"].split(" & ")[3] == "--"
    legend = next(ln for ln in lines if ln.startswith(r"\par\smallskip"))
    assert "significantly better/worse than base" in legend and "Bold: best mean" in legend
    assert "95\\% CI (t interval)" in legend
    # braces balance, and nothing unescaped slips in
    body = re.sub(r"\\[{}%&_#$]", "", tex)
    assert body.count("{") == body.count("}")
    assert latex_escape("a_b & 50% #1 {x}") == r"a\_b \& 50\% \#1 \{x\}"
    ties = leaderboard({"a": runs["same"], "b": runs["same"]}, QRELS, "RR", baseline="a")
    assert to_latex(ties).count(r"\textbf{") == 2  # a tie: both bold


def test_cli_writes_latex_and_prints_effects(runs, tmp_path, capsys, monkeypatch):
    from irkit.io.trec import write_run

    paths = []
    for name in ("base", "good_run", "worse"):
        write_run(runs[name], tmp_path / f"{name}.run")
        paths.append(tmp_path / f"{name}.run")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("".join(f"{q} 0 {d} {lab}\n" for q, d, lab in QRELS.itertuples(index=False)))
    monkeypatch.setattr(
        sys, "argv",
        ["irkit", "leaderboard", *map(str, paths), "--qrels", str(qrels), "--baseline", str(paths[0]),
         "--measures", "RR P@1", "--output", str(tmp_path / "board.tex")],
    )  # fmt: skip
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    assert code in (0, None), err
    assert "diff(RR) [95% CI]" in out and "wrote" in out
    tex = (tmp_path / "board.tex").read_text()
    assert tex.startswith("% irkit leaderboard") and r"\bottomrule" in tex and (tmp_path / "board.png").exists()
