"""Leaderboards: runs ranked by a measure, paired significance tests against a baseline.

Tests are paired over the topics the runs share (a topic missing from a run
counts 0, as ``trec_eval -c`` would): Student's t (``t``), Wilcoxon signed-rank
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
    runs: Mapping[str, pd.DataFrame], qrels: pd.DataFrame, measures: Sequence
) -> dict[str, pd.DataFrame]:
    """``{run name: per-topic frame}`` over the judged topics, missing topics scored 0."""
    judged = sorted(set(qrels["qid"]))
    out = {}
    for name, run in runs.items():
        pq = evaluate(run, qrels, measures, per_query=True).set_index("qid")
        out[name] = pq.reindex(judged).fillna(0.0)
    return out


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
) -> pd.DataFrame:
    """One row per run, best first by the first measure.

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
    ms = parse_measures(measures)
    names = [str(m) for m in ms]
    if baseline is not None and baseline not in runs:
        raise InputError(f"baseline {baseline!r} is not among the runs: {', '.join(runs)}")
    pq = per_query_table(runs, qrels, ms)
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
        table["sig"] = [sig[r].strip() or ("baseline" if r == baseline else "") for r in runs]
    table = table.sort_values(names[0], ascending=False, kind="stable").reset_index(drop=True)
    table.attrs.update(test=test, correction=correction, level=level, baseline=baseline, topics=len(set(qrels["qid"])))
    return table


def plot_differences(
    runs: Mapping[str, pd.DataFrame],
    qrels: pd.DataFrame,
    baseline: str,
    measure: str,
    path: str | os.PathLike[str],
) -> Path:
    """A PNG of each run's per-topic difference from the baseline (sorted bars)."""
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
    with atomic_file(path, overwrite=True, mode="wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
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
    """Write a leaderboard as Markdown, HTML or CSV (by suffix), atomically."""
    from irkit.io.atomic import atomic_file

    p = Path(path)
    suffix = p.suffix.lower()
    a = table.attrs
    note = ""
    if a.get("baseline"):
        note = (
            f"Paired {a['test']} test against `{a['baseline']}` over {a['topics']} judged topics, "
            f"{a['correction']} correction, level {a['level']}."
        )
    if suffix == ".md":
        body = to_markdown(table) + (f"\n{note}\n" if note else "")
        if plot:
            body += f"\n![per-topic differences]({plot})\n"
    elif suffix in (".html", ".htm"):
        body = table.to_html(index=False, float_format=lambda v: f"{v:.4f}") + (f"<p>{note}</p>\n" if note else "")
        if plot:
            body += f'<img src="{plot}" alt="per-topic differences">\n'
    elif suffix == ".csv":
        body = table.to_csv(index=False)
    else:
        raise InputError(f"report format {suffix or '(none)'} unknown; use .md, .html or .csv", p)
    with atomic_file(p, overwrite=overwrite) as fh:
        fh.write(body)
    return p
