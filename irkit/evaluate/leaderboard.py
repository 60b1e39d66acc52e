"""Leaderboards: runs ranked by a measure, paired significance tests against a baseline.

Means and paired tests are over the judged topics that every compared run
answered: a topic missing from a run is left out, not scored 0, the rule of
trec_eval's default and of :func:`irkit.evaluate.evaluate` (the report says how
many topics that left). Tests: Student's t (``t``), Wilcoxon signed-rank
(``wilcoxon``) or a two-sided paired randomisation test (``randomization``).
p-values are corrected for the number of runs compared (``holm``, ``bonferroni``
or ``none``) separately for each measure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from irkit.errors import InputError
from irkit.evaluate.measures import DEFAULT_MEASURES, evaluate, parse_measures

TESTS = ("t", "wilcoxon", "randomization")
CORRECTIONS = ("holm", "bonferroni", "none")


def per_query_table(
    runs: Mapping[str, pd.DataFrame], qrels: pd.DataFrame, measures: Sequence, ties: str = "trec_eval"
) -> dict[str, pd.DataFrame]:
    """``{run name: per-topic frame}`` over the judged topics that every run answered.

    A judged topic missing from a run is left out for all runs (never scored 0),
    so that means follow trec_eval's default and tests stay paired.
    """
    tables = {
        name: evaluate(run, qrels, measures, per_query=True, ties=ties).set_index("qid") for name, run in runs.items()
    }
    common = None
    for t in tables.values():
        common = set(t.index) if common is None else common & set(t.index)
    if not common:
        raise InputError("the runs share no judged topic: nothing to compare")
    keep = [q for q in next(iter(tables.values())).index if q in common]
    return {name: t.loc[keep] for name, t in tables.items()}


def run_depths(runs: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    """Each run's depth: the most documents it returns for one topic (the cutoff it was ranked to)."""
    return {name: int(run.groupby("qid").size().max()) if len(run) else 0 for name, run in runs.items()}


def depth_note(runs: Mapping[str, pd.DataFrame]) -> str | None:
    """A sentence naming the runs' depths when they differ (``None`` when they do not).

    AP and recall reward a run for every relevant document it returns, so a run
    ranked to 1,000 documents per topic and one ranked to 100 are not compared on
    them, however good the shorter run's order: ``irkit leaderboard``, ``irkit eval``
    and :func:`irkit.Experiment` say so (on stderr and in the report).
    """
    depths = run_depths(runs)
    if len(set(depths.values())) < 2:
        return None
    named = ", ".join(f"`{name}` {depth:,}" for name, depth in depths.items())
    return (
        f"The runs have different depths (most documents per topic: {named}): AP and recall are not comparable "
        "across them; cut every run to one depth (% k, --depth) or keep the rest below a reranked top k "
        "(^, irkit rank --keep-rest)."
    )


def paired_pvalue(a: np.ndarray, b: np.ndarray, test: str = "t", trials: int = 10000, seed: int = 0) -> float:
    """Two-sided p-value of a paired test that ``a`` and ``b`` have the same mean."""
    from scipy import stats

    d = np.asarray(a, float) - np.asarray(b, float)
    if not np.any(d):
        return 1.0
    if test == "t":
        return float(stats.ttest_rel(a, b).pvalue)
    if test == "wilcoxon":
        return float(stats.wilcoxon(a, b).pvalue)
    if test == "randomization":
        rng = np.random.default_rng(seed)
        signs = rng.choice([-1.0, 1.0], size=(trials, len(d)))
        observed = abs(d.mean())
        extreme = np.sum(np.abs((signs * d).mean(axis=1)) >= observed - 1e-12)
        return float((extreme + 1) / (trials + 1))
    raise InputError(f"unknown test {test!r}; choose from {', '.join(TESTS)}")


def effect_size(
    a: np.ndarray, b: np.ndarray, test: str = "t", confidence: float = 0.95, trials: int = 10000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean paired difference ``a - b`` and its ``confidence`` interval ``(mean, low, high)``.

    The interval matches the test: Student's t interval for ``t``; for the
    non-parametric tests (``wilcoxon``, ``randomization``), which assume no normal
    differences, a percentile bootstrap over topics (``trials`` resamples, seeded).
    """
    from scipy import stats

    d = np.asarray(a, float) - np.asarray(b, float)
    mean = float(d.mean()) if len(d) else float("nan")
    if len(d) < 2 or not np.any(d - d[0]):  # one topic or a constant difference: no spread to estimate
        return mean, mean, mean
    if test == "t":
        half = float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
        return mean, mean - half, mean + half
    if test in ("wilcoxon", "randomization"):
        rng = np.random.default_rng(seed)
        means = d[rng.integers(0, len(d), size=(trials, len(d)))].mean(axis=1)
        low, high = np.quantile(means, [0.5 - confidence / 2, 0.5 + confidence / 2])
        return mean, float(low), float(high)
    raise InputError(f"unknown test {test!r}; choose from {', '.join(TESTS)}")


def correct(pvalues: Sequence[float], method: str = "holm") -> list[float]:
    """Family-wise corrected p-values."""
    p = np.asarray(pvalues, float)
    m = len(p)
    if method == "none" or m == 0:
        return p.tolist()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0).tolist()
    if method == "holm":
        order = np.argsort(p)
        adjusted = np.empty(m)
        running = 0.0
        for i, j in enumerate(order):
            running = max(running, (m - i) * p[j])
            adjusted[j] = min(running, 1.0)
        return adjusted.tolist()
    raise InputError(f"unknown correction {method!r}; choose from {', '.join(CORRECTIONS)}")


def leaderboard(
    runs: Mapping[str, pd.DataFrame],
    qrels: pd.DataFrame,
    measures: str | Sequence = DEFAULT_MEASURES,
    baseline: str | None = None,
    test: str = "t",
    correction: str = "holm",
    level: float = 0.05,
    ties: str = "trec_eval",
) -> pd.DataFrame:
    """One row per run, best first by the first measure.

    ``ties`` is the tie order of :func:`irkit.evaluate.evaluate` (trec_eval's by default).

    With a ``baseline`` (a key of ``runs``), each measure gets a ``p(measure)``
    column of corrected p-values and a ``sig`` column marking, per measure, runs
    significantly better (``+``) or worse (``-``) than the baseline at ``level``.
    """
    if test not in TESTS:
        raise InputError(f"unknown test {test!r}; choose from {', '.join(TESTS)}")
    if correction not in CORRECTIONS:
        raise InputError(f"unknown correction {correction!r}; choose from {', '.join(CORRECTIONS)}")
    if not runs:
        raise InputError("no runs given")
    if not (0.0 < level < 1.0):  # also refuses nan
        raise InputError(f"significance level {level} must lie strictly between 0 and 1")
    ms = parse_measures(measures)
    names = [str(m) for m in ms]
    if baseline is not None and baseline not in runs:
        raise InputError(f"baseline {baseline!r} is not among the runs: {', '.join(runs)}")
    pq = per_query_table(runs, qrels, ms, ties)
    table = pd.DataFrame({"run": list(runs)})
    for m in names:
        table[m] = [pq[r][m].mean() for r in runs]
    if baseline is not None:
        others = [r for r in runs if r != baseline]
        sig = {r: "" for r in runs}
        for m in names:
            raw = [paired_pvalue(pq[r][m].to_numpy(), pq[baseline][m].to_numpy(), test) for r in others]
            adj = dict(zip(others, correct(raw, correction), strict=True))
            table[f"p({m})"] = [adj.get(r, np.nan) for r in runs]
            for r in others:
                if adj[r] < level:
                    better = pq[r][m].mean() > pq[baseline][m].mean()
                    sig[r] += ("+" if better else "-") + m + " "
        # Effect sizes: the mean paired difference to the baseline with its 95% CI (t or bootstrap, as the test).
        for m in names:
            effects = {r: effect_size(pq[r][m].to_numpy(), pq[baseline][m].to_numpy(), test) for r in others}
            for j, col in enumerate(("diff", "ci_low", "ci_high")):
                table[f"{col}({m})"] = [effects[r][j] if r in effects else np.nan for r in runs]
        table["sig"] = [sig[r].strip() or ("baseline" if r == baseline else "") for r in runs]
    table = table.sort_values(names[0], ascending=False, kind="stable").reset_index(drop=True)
    judged = len(set(qrels["qid"]))
    topics = len(next(iter(pq.values())))
    table.attrs.update(test=test, correction=correction, level=level, baseline=baseline, topics=topics)
    table.attrs["depths"] = depth_note(runs)
    left = f" ({judged - topics} of {judged} judged topics left out: missing from a run, not scored 0)"
    order = "broken as trec_eval breaks them" if ties == "trec_eval" else "in file order"
    table.attrs["rule"] = (
        f"Means over the {topics} judged topics every run answered{left if topics < judged else ''}; "
        f"score ties {order}."
    )
    return table


def plot_differences(
    runs: Mapping[str, pd.DataFrame],
    qrels: pd.DataFrame,
    baseline: str,
    measure: str,
    path: str | os.PathLike[str],
    overwrite: bool = True,
) -> Path:
    """A PNG of each run's per-topic difference from the baseline (sorted bars).

    It replaces (with ``overwrite``) only a plot irkit drew: irkit signs its PNGs (``Software``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from irkit.io.atomic import atomic_file

    ms = parse_measures([measure])
    pq = per_query_table(runs, qrels, ms)
    others = [r for r in runs if r != baseline]
    m = str(ms[0])
    fig, axes = plt.subplots(len(others) or 1, 1, figsize=(9, 2.4 * max(len(others), 1)), squeeze=False)
    for ax, r in zip(axes[:, 0], others, strict=False):
        diff = np.sort((pq[r][m] - pq[baseline][m]).to_numpy())[::-1]
        colors = np.where(diff >= 0, "#2a7ab9", "#d1495b")
        ax.bar(np.arange(len(diff)), diff, color=colors, width=1.0)
        ax.axhline(0, color="black", lw=0.6)
        wins, losses = int((diff > 0).sum()), int((diff < 0).sum())
        ax.set_title(f"{r} - {baseline}: {m} per topic ({wins} better, {losses} worse)", fontsize=9)
        ax.set_ylabel(f"delta {m}")
        ax.set_xlim(-0.5, len(diff) - 0.5)
    axes[-1, 0].set_xlabel("topics, sorted by difference")
    fig.tight_layout()
    with atomic_file(path, overwrite=overwrite, mode="wb", kind="plot") as fh:
        fig.savefig(fh, format="png", dpi=110, metadata={"Software": "irkit"})
    plt.close(fig)
    return Path(path)


def to_markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub markdown table of a frame."""

    def fmt(v: object) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:.{digits}f}"
        return str(v)

    cols = [str(c) for c in table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_report(
    table: pd.DataFrame, path: str | os.PathLike[str], overwrite: bool = False, plot: str | None = None
) -> Path:
    """Write a leaderboard as Markdown, HTML, CSV or LaTeX (by suffix), atomically (:mod:`irkit.evaluate.report`)."""
    from irkit.evaluate.report import write_report as write

    return write(table, path, overwrite=overwrite, plot=plot)
