"""Leaderboard reports: the printed table, Markdown, HTML, CSV and LaTeX (booktabs).

A leaderboard frame (:func:`irkit.evaluate.leaderboard.leaderboard`) holds, per
measure, the mean, the corrected p-value against the baseline (``p(m)``) and the
effect size: the mean paired difference to the baseline (``diff(m)``) with its 95%
confidence interval (``ci_low(m)``, ``ci_high(m)``). CSV keeps those numbers in
their own columns; the other formats show ``+0.0294 [+0.0050, +0.0538]`` in one
column per measure. The HTML report is one static page (no script): the table
(``<table id="leaderboard">``, one body row per run), the notes, and the per-topic
plot as an ``<img>`` beside it.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from irkit.errors import InputError

FORMATS = (".md", ".html", ".htm", ".csv", ".tex")
EFFECT = "95% CI"
_TESTS = {"t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test", "randomization": "paired randomisation test"}
_INTERVALS = {
    "t": "t interval",
    "wilcoxon": "bootstrap percentile interval",
    "randomization": "bootstrap percentile interval",
}


def measures_of(table: pd.DataFrame) -> list[str]:
    """The measure columns of a leaderboard frame, in order."""
    derived = re.compile(r"^(p|diff|ci_low|ci_high)\(.*\)$")
    return [c for c in map(str, table.columns) if c not in ("run", "sig") and not derived.match(c)]


def _num(v: object, digits: int = 4, sign: bool = False) -> str:
    if v is None or (isinstance(v, float | np.floating) and np.isnan(v)):
        return ""
    return f"{float(v):+.{digits}f}" if sign else f"{float(v):.{digits}f}"


def effect_text(row: pd.Series, measure: str, digits: int = 4) -> str:
    """``+0.0294 [+0.0050, +0.0538]``, or empty for the baseline."""
    d = row.get(f"diff({measure})")
    if d is None or (isinstance(d, float | np.floating) and np.isnan(d)):
        return ""
    lo, hi = row[f"ci_low({measure})"], row[f"ci_high({measure})"]
    return f"{_num(d, digits, True)} [{_num(lo, digits, True)}, {_num(hi, digits, True)}]"


def display_table(table: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """The frame as strings: means, p-values, one effect column per measure, marks."""
    ms = measures_of(table)
    has_effects = any(f"diff({m})" in table.columns for m in ms)
    out = pd.DataFrame({"run": table["run"].astype(str)})
    for m in ms:
        out[m] = [_num(v, digits) for v in table[m]]
    for m in ms:
        if f"p({m})" in table.columns:
            out[f"p({m})"] = [_num(v, digits) for v in table[f"p({m})"]]
    if has_effects:
        for m in ms:
            out[f"diff({m}) [{EFFECT}]"] = [effect_text(row, m, digits) for _, row in table.iterrows()]
    if "sig" in table.columns:
        out["sig"] = table["sig"].astype(str)
    return out


def to_text(table: pd.DataFrame) -> str:
    """The table ``irkit leaderboard`` prints."""
    return display_table(table).to_string(index=False)


def notes(table: pd.DataFrame) -> list[str]:
    """What the marks, p-values and intervals mean, as sentences."""
    a = table.attrs
    out = []
    if a.get("baseline"):
        test = a.get("test", "t")
        out.append(
            f"Paired {a['test']} test against `{a['baseline']}` over {a['topics']} judged topics, "
            f"{a['correction']} correction, level {a['level']}."
        )
        if any(str(c).startswith("diff(") for c in table.columns):
            out.append(
                f"diff: mean paired difference to `{a['baseline']}` with its {EFFECT} "
                f"({_INTERVALS.get(test, 'interval')}" + (", 10,000 resamples, seed 0" if test != "t" else "") + ")."
            )
    if a.get("rule"):
        out.append(str(a["rule"]))
    if a.get("depths"):
        out.append(str(a["depths"]))
    return out


def to_markdown(table: pd.DataFrame, plot: str | None = None) -> str:
    shown = display_table(table)
    cols = list(shown.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in shown.itertuples(index=False)]
    body = "\n".join(lines) + "\n"
    note = " ".join(notes(table))
    if note:
        body += f"\n{note}\n"
    if plot:
        body += f"\n![per-topic differences]({plot})\n"
    return body


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 4px 8px; text-align: right; border-bottom: 1px solid #ddd; }
td { white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #444; }
td.best { font-weight: bold; }
td.sig-plus { color: #1d6b2f; }
td.sig-minus { color: #a3242f; }
p.note { font-size: 13px; color: #555; max-width: 60em; }
img { max-width: 100%; margin-top: 1em; }
"""


def to_html(table: pd.DataFrame, plot: str | None = None, title: str = "irkit leaderboard") -> str:
    """One static HTML page: the table (best mean per measure in bold), the notes, the plot."""
    shown = display_table(table)
    ms = measures_of(table)
    best = {m: _best(table, m) for m in ms}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown.columns)
    rows = []
    for i, row in shown.iterrows():
        cells = []
        for c in shown.columns:
            cls = ""
            if c in best and i in best[c]:
                cls = "best"
            elif c == "sig":
                s = row[c]
                cls = "sig-plus" if s.startswith("+") else "sig-minus" if s.startswith("-") else ""
            cells.append(f'<td class="{cls}">{html.escape(row[c])}</td>' if cls else f"<td>{html.escape(row[c])}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        f'<head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_CSS}</style></head>',
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
        '<table id="leaderboard">',
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
        *rows,
        "</tbody>",
        "</table>",
        *(f'<p class="note">{_code(html.escape(n))}</p>' for n in notes(table)),
    ]
    if plot:
        parts.append(f'<img id="per-topic" src="{html.escape(plot)}" alt="per-topic differences from the baseline">')
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _code(text: str) -> str:
    """Markdown's `name` as <code>name</code> (the notes quote run names so)."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", text)


def _best(table: pd.DataFrame, measure: str, digits: int = 4) -> set[int]:
    """Rows holding the best mean of a measure as shown (ties, after rounding, all count)."""
    values = pd.to_numeric(table[measure], errors="coerce").round(digits)
    if values.isna().all():
        return set()
    return set(np.flatnonzero(values.to_numpy() == values.max()).tolist())


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def to_latex(table: pd.DataFrame, digits: int = 4, caption: str | None = None, label: str = "tab:leaderboard") -> str:
    """A booktabs table: means (best per measure bold, significance against the baseline as a
    superscript: ``+`` better, ``-`` worse), then per measure the mean paired difference to the
    baseline with its 95% CI, and a legend. Needs ``\\usepackage{booktabs}``."""
    ms = measures_of(table)
    a = table.attrs
    base = a.get("baseline")
    has_effects = bool(base) and any(f"diff({m})" in table.columns for m in ms)
    marks: dict[tuple[int, str], str] = {}
    for i, s in enumerate(table.get("sig", pd.Series([""] * len(table))).astype(str)):
        for tok in s.split():
            if tok[:1] in "+-" and tok[1:] in ms:
                marks[(i, tok[1:])] = "+" if tok[0] == "+" else "-"
    best = {m: _best(table, m, digits) for m in ms}
    ncols = 1 + len(ms) * (2 if has_effects else 1)
    lines = [
        r"% irkit leaderboard; needs \usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
    ]
    cap = " ".join(filter(None, [caption or (f"Runs against the baseline {base}." if base else ""), a.get("depths")]))
    if cap:
        lines.append(r"\caption{" + latex_escape(cap.replace("`", "")) + "}")
    lines.append(r"\label{" + label + "}")
    lines.append(r"\begin{tabular}{l" + "r" * (ncols - 1) + "}")
    lines.append(r"\toprule")
    if has_effects:
        k = len(ms)
        lines.append(
            r" & \multicolumn{"
            + str(k)
            + r"}{c}{Mean} & \multicolumn{"
            + str(k)
            + r"}{c}{$\Delta$ vs.\ "
            + latex_escape(base)
            + r" [95\% CI]} \\"
        )
        lines.append(rf"\cmidrule(lr){{2-{k + 1}}} \cmidrule(lr){{{k + 2}-{2 * k + 1}}}")
    header = ["Run", *(latex_escape(m) for m in ms)]
    if has_effects:
        header += [latex_escape(m) for m in ms]
    lines.append(" & ".join(header) + r" \\")
    lines.append(r"\midrule")
    for i, (_, row) in enumerate(table.iterrows()):
        cells = [latex_escape(row["run"])]
        for m in ms:
            v = _num(row[m], digits)
            cell = rf"\textbf{{{v}}}" if i in best[m] and v else v
            if (i, m) in marks:
                cell += r"$^{" + marks[(i, m)] + "}$"
            cells.append(cell)
        if has_effects:
            for m in ms:
                d = row.get(f"diff({m})")
                if d is None or (isinstance(d, float | np.floating) and np.isnan(d)):
                    cells.append("--" if row["run"] == base else "")
                else:
                    lo, hi = row[f"ci_low({m})"], row[f"ci_high({m})"]
                    cells.append(
                        f"${_num(d, digits, True)}$ {{\\scriptsize [${_num(lo, digits, True)}$, ${_num(hi, digits, True)}$]}}"
                    )
        lines.append(" & ".join(cells) + r" \\")
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    legend = [r"Bold: best mean per measure."]
    if base:
        test = _TESTS.get(a.get("test", "t"), str(a.get("test")))
        legend.append(
            rf"$^{{+}}$/$^{{-}}$: significantly better/worse than {latex_escape(base)} "
            rf"({test}, {latex_escape(a.get('correction', 'holm'))} correction, $p < {a.get('level', 0.05)}$, "
            rf"{a.get('topics', '?')} topics)."
        )
        if has_effects:
            interval = _INTERVALS.get(a.get("test", "t"), "interval")
            legend.append(rf"$\Delta$: mean paired difference with its 95\% CI ({interval}).")
    lines.append(r"\par\smallskip{\footnotesize " + " ".join(legend) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_report(
    table: pd.DataFrame, path: str | os.PathLike[str], overwrite: bool = False, plot: str | None = None
) -> Path:
    """Write a leaderboard as Markdown, HTML, CSV or LaTeX (by suffix), atomically."""
    from irkit.io.atomic import atomic_file

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".md":
        body = to_markdown(table, plot)
    elif suffix in (".html", ".htm"):
        body = to_html(table, plot)
    elif suffix == ".csv":
        body = table.to_csv(index=False)
    elif suffix == ".tex":
        body = to_latex(table)
    else:
        raise InputError(f"report format {suffix or '(none)'} unknown; use .md, .html, .csv or .tex", p)
    with atomic_file(p, overwrite=overwrite) as fh:
        fh.write(body)
    return p
