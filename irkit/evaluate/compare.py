"""Two runs side by side, topic by topic: one static HTML page (``irkit compare``, ``irkit.compare``).

The page holds

* the per-topic difference ``B - A`` on one measure as sorted bars (an inline
  SVG; each bar links to its topic), with wins, losses and ties of B against A
  (a tie: equal to four decimals, as the page shows them);
* one section per judged topic (``<section data-qid="QID">``), in the bars'
  order, with both rankings' top ``depth`` side by side: each document's
  relevance label, where it stands in the other run (moved up or down, or not
  retrieved there) and, when an index gives the text, a snippet of it with the
  query's terms highlighted where their analysed form (the index's analyser:
  Porter stems, stopwords removed) matches.

Rankings are shown in the order trec_eval evaluates them
(:func:`irkit.evaluate.measures.trec_eval_order`). A judged topic a run did not
answer scores 0 for it (trec_eval's ``-c``), so that every judged topic has a
section. Every text on the page (document text included, which is untrusted)
is HTML-escaped; the page carries no script.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from irkit.errors import InputError

SNIPPET_WORDS = 40
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Comparison:
    """Per-topic figures of two runs and the page that shows them."""

    names: tuple[str, str]
    measure: str
    per_topic: pd.DataFrame  # qid, A, B, diff (B - A), outcome (win|loss|tie for B)
    html: str = field(repr=False)

    @property
    def counts(self) -> dict[str, int]:
        c = self.per_topic["outcome"].value_counts()
        return {k: int(c.get(k, 0)) for k in ("win", "loss", "tie")}

    def write(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the page atomically (a temporary file renamed into place)."""
        from irkit.io.atomic import atomic_file

        p = Path(path)
        if p.suffix.lower() not in (".html", ".htm"):
            raise InputError("the comparison page must end in .html", p)
        with atomic_file(p, overwrite=overwrite) as fh:
            fh.write(self.html)
        return p


def _load_run(run: Any) -> tuple[pd.DataFrame, str | None]:
    from irkit.frames import run_frame
    from irkit.io.trec import read_run

    if isinstance(run, pd.DataFrame):
        return run_frame(run), None
    return read_run(run), Path(run).stem


def compare(
    a: Any,
    b: Any,
    qrels: Any,
    *,
    measure: str = "AP",
    index: Any = None,
    queries: Any = None,
    depth: int = 10,
    names: tuple[str, str] | None = None,
    output: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    quiet: bool = True,
) -> Comparison:
    """Compare run ``b`` with run ``a`` (frames or TREC run files) topic by topic.

    ``qrels``: a frame or a file; ``index``: a Lucene index (folder or
    :class:`irkit.index.LuceneIndex`) for the snippets; ``queries``: topics (frame
    or file) for the query text and its highlighted terms. With ``output`` the page
    is written there (``overwrite`` as ``--force``).
    """
    from irkit.evaluate.measures import evaluate, parse_measures, trec_eval_order
    from irkit.frames import qrels_frame
    from irkit.io.trec import read_qrels

    if depth < 1:
        raise InputError(f"--depth must be at least 1 (got {depth})")
    parsed = parse_measures(measure)
    if len(parsed) != 1:
        raise InputError(f"compare takes one measure, not {measure!r}")
    m = parsed[0]
    if output is not None:
        from irkit.io.atomic import check_output

        if Path(output).suffix.lower() not in (".html", ".htm"):
            raise InputError("the comparison page must end in .html", output)
        check_output(output, overwrite)  # fail before the work
    run_a, name_a = _load_run(a)
    run_b, name_b = _load_run(b)
    if names is None:
        name_a, name_b = name_a or "A", name_b or "B"
        if name_a == name_b:
            name_a, name_b = f"{name_a} (A)", f"{name_b} (B)"
        names = (name_a, name_b)
    judged = qrels_frame(qrels) if isinstance(qrels, pd.DataFrame) else read_qrels(qrels)
    if judged.empty:
        raise InputError("the qrels judge no topic")
    qids = sorted(set(judged["qid"]), key=_natural)
    scores = {}
    for key, run in (("A", run_a), ("B", run_b)):
        table = evaluate(run, judged, [m], per_query=True) if len(run) else pd.DataFrame(columns=["qid", str(m)])
        scores[key] = table.set_index("qid")[str(m)].reindex(qids).fillna(0.0).astype(float)
    per_topic = pd.DataFrame({"qid": qids, "A": scores["A"].to_numpy(), "B": scores["B"].to_numpy()})
    per_topic["diff"] = per_topic["B"] - per_topic["A"]
    tied = per_topic["A"].round(4) == per_topic["B"].round(4)
    per_topic["outcome"] = np.where(tied, "tie", np.where(per_topic["diff"] > 0, "win", "loss"))
    per_topic = per_topic.assign(_k=per_topic["qid"].map(_natural)).sort_values(
        ["diff", "_k"], ascending=[False, True], kind="stable"
    )
    per_topic = per_topic.drop(columns="_k").reset_index(drop=True)

    ranked = {key: trec_eval_order(run) for key, run in (("A", run_a), ("B", run_b))}
    query_text = _queries(queries)
    page = _Page(names, str(m), per_topic, ranked, judged, depth, query_text, index, quiet)
    result = Comparison(names, str(m), per_topic, page.render())
    if output is not None:
        result.write(output, overwrite=overwrite)
    return result


def _natural(qid: str) -> tuple:
    from irkit.common import natural_key

    return natural_key(str(qid))


def _queries(queries: Any) -> dict[str, str]:
    if queries is None:
        return {}
    if isinstance(queries, pd.DataFrame):
        frame = queries
    else:
        from irkit.io.topics import read_topics

        frame = read_topics(queries)
    return {str(q): str(t) for q, t in zip(frame["qid"], frame["query"], strict=True)}


class _Page:
    """Builds the page; text is escaped where it is written, nowhere else."""

    def __init__(self, names, measure, per_topic, ranked, judged, depth, queries, index, quiet):
        self.names, self.measure, self.per_topic = names, measure, per_topic
        self.depth, self.queries = depth, queries
        self.labels = {(q, d): int(v) for q, d, v in zip(judged["qid"], judged["docno"], judged["label"], strict=True)}
        self.top: dict[str, dict[str, pd.DataFrame]] = {}
        self.rank_of: dict[str, dict[tuple[str, str], int]] = {}
        for key, run in ranked.items():
            self.rank_of[key] = dict(zip(zip(run["qid"], run["docno"], strict=True), run["rank"], strict=True))
            cut = run[run["rank"] <= depth]
            self.top[key] = {str(q): g for q, g in cut.groupby("qid", sort=False)}
        self.texts: dict[str, str] = {}
        self.stem_of: dict[str, str | None] = {}
        self.query_stems: dict[str, set[str]] = {}
        if index is not None:
            self._read_texts(index, quiet)

    def _read_texts(self, index: Any, quiet: bool) -> None:
        from irkit.index import LuceneIndex

        idx = index if isinstance(index, LuceneIndex) else LuceneIndex(index)
        known = set(idx.docnos)
        shown = sorted({d for top in self.top.values() for g in top.values() for d in g["docno"]} & known)
        self.texts = dict(zip(shown, idx.texts(shown), strict=True))
        # Analyse each distinct word once (one JVM call a word), not each occurrence.
        words = {w.lower() for t in self.texts.values() for w in _WORD.findall(t)}
        for w in sorted(words):
            tokens = idx.analyze(w)
            self.stem_of[w] = tokens[0] if len(tokens) == 1 else None
        self.query_stems = {q: set(idx.analyze(t)) for q, t in self.queries.items()}

    def render(self) -> str:
        a, b = (html.escape(n) for n in self.names)
        c = self.per_topic["outcome"].value_counts()
        wins, losses, ties = (int(c.get(k, 0)) for k in ("win", "loss", "tie"))
        mean_a, mean_b = self.per_topic["A"].mean(), self.per_topic["B"].mean()
        title = f"{self.names[1]} vs {self.names[0]}: {self.measure} per topic"
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            f'<head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_CSS}</style></head>',
            "<body>",
            f"<h1><span class='b'>{b}</span> vs <span class='a'>{a}</span></h1>",
            f'<p class="summary" id="summary">{html.escape(self.measure)} over {len(self.per_topic)} judged topics: '
            f"<span class='a'>{a}</span> {mean_a:.4f}, <span class='b'>{b}</span> {mean_b:.4f}. "
            f"<span class='b'>{b}</span> wins <strong>{wins}</strong>, loses <strong>{losses}</strong>, "
            f"ties <strong>{ties}</strong> (equal to four decimals). A judged topic a run did not answer counts 0.</p>",
            '<p class="legend">Each ranking shows its top '
            f"{self.depth}: the relevance label (&ndash; unjudged), the docno, and the document's move from "
            f"<span class='a'>{a}</span> to <span class='b'>{b}</span> (&uarr; higher in {b}, &darr; lower, = same "
            "rank, or the run that did not retrieve it)"
            + ("; query terms are marked where their analysed form matches." if self.texts else ".")
            + "</p>",
            self._bars(),
            *(self._topic(row) for row in self.per_topic.itertuples(index=False)),
            "</body>",
            "</html>",
            "",
        ]
        return "\n".join(parts)

    def _bars(self) -> str:
        d = self.per_topic["diff"].to_numpy()
        n = len(d)
        width, height, pad = max(600, 4 * n), 220, 20
        scale = (height / 2 - pad) / max(float(np.abs(d).max()), 1e-9)
        step = width / max(n, 1)
        mid = height / 2
        bars = []
        for i, row in enumerate(self.per_topic.itertuples(index=False)):
            h = abs(row.diff) * scale
            y = mid - h if row.diff > 0 else mid
            q = html.escape(str(row.qid), quote=True)
            tip = html.escape(f"topic {row.qid}: {row.diff:+.4f} ({row.A:.4f} -> {row.B:.4f})")
            bars.append(
                f'<a href="#q-{q}"><rect class="{row.outcome}" x="{i * step:.2f}" y="{y:.2f}" '
                f'width="{max(step - 0.5, 0.5):.2f}" height="{max(h, 0.5):.2f}"><title>{tip}</title></rect></a>'
            )
        label = html.escape(f"{self.names[1]} - {self.names[0]}, {self.measure}, topics sorted by difference")
        return (
            f'<figure id="differences"><svg role="img" aria-label="{label}" viewBox="0 0 {width} {height}" '
            f'width="100%" height="{height}" preserveAspectRatio="none">'
            f'<line x1="0" y1="{mid}" x2="{width}" y2="{mid}" class="axis"/>{"".join(bars)}</svg>'
            f"<figcaption>{label}; each bar links to its topic.</figcaption></figure>"
        )

    def _topic(self, row) -> str:
        qid = str(row.qid)
        q = html.escape(qid, quote=True)
        query = self.queries.get(qid)
        head = f"Topic {html.escape(qid)}" + (f": {html.escape(query)}" if query else "")
        cols = [self._ranking("A", "B", qid), self._ranking("B", "A", qid)]
        return (
            f'<section class="topic {row.outcome}" id="q-{q}" data-qid="{q}">'
            f"<h2>{head}</h2>"
            f'<p class="figures">{html.escape(self.measure)}: {row.A:.4f} &rarr; {row.B:.4f} '
            f'(<span class="{row.outcome}">{row.diff:+.4f}</span>)</p>'
            f'<div class="pair">{"".join(cols)}</div></section>'
        )

    def _ranking(self, key: str, other: str, qid: str) -> str:
        name = html.escape(self.names[0 if key == "A" else 1])
        top = self.top[key].get(qid)
        items = []
        if top is not None:
            for docno, rank in zip(top["docno"], top["rank"], strict=True):
                items.append(self._item(qid, str(docno), int(rank), other))
        body = "".join(items) or '<li class="empty">no results</li>'
        return f'<div class="run run-{key.lower()}"><h3>{name}</h3><ol>{body}</ol></div>'

    def _item(self, qid: str, docno: str, rank: int, other: str) -> str:
        label = self.labels.get((qid, docno))
        rel = "unjudged" if label is None else ("relevant" if label > 0 else "nonrelevant")
        badge = "&ndash;" if label is None else str(label)
        there = self.rank_of[other].get((qid, docno))
        if there is None:
            move, cls = f"not in {html.escape(self.names[0 if other == 'A' else 1])}", "gone"
        elif there == rank:
            move, cls = f"= {there}", "same"
        else:
            # Both columns show the move from A to B: up 3 = B ranks it 3 places higher than A.
            delta = there - rank if other == "A" else rank - there
            move = f"{'&uarr;' if delta > 0 else '&darr;'} {abs(delta)} ({there} there)"
            cls = "up" if delta > 0 else "down"
        snippet = ""
        if docno in self.texts:
            snippet = f'<div class="snippet">{self._snippet(self.texts[docno], qid)}</div>'
        elif self.texts:
            snippet = '<div class="snippet missing">(not in the index)</div>'
        return (
            f'<li value="{rank}" class="{rel}"><span class="label" title="relevance label">{badge}</span> '
            f'<span class="docno">{html.escape(docno)}</span> <span class="move {cls}">{move}</span>{snippet}</li>'
        )

    def _snippet(self, text: str, qid: str) -> str:
        stems = self.query_stems.get(qid, set())
        window = _window(text, stems, self.stem_of)
        out, last = [], 0
        for m in _WORD.finditer(window):
            out.append(html.escape(window[last : m.start()]))
            word = html.escape(m.group(0))
            hit = stems and self.stem_of.get(m.group(0).lower()) in stems
            out.append(f"<mark>{word}</mark>" if hit else word)
            last = m.end()
        out.append(html.escape(window[last:]))
        return "".join(out)


def _window(text: str, stems: set[str], stem_of: dict[str, str | None]) -> str:
    """About ``SNIPPET_WORDS`` words of ``text`` around its first query-term match (else its start)."""
    matches = list(_WORD.finditer(text))
    if not matches:
        return text[:300]
    first = next((i for i, m in enumerate(matches) if stems and stem_of.get(m.group(0).lower()) in stems), 0)
    start = max(0, first - 8)
    end = min(len(matches), start + SNIPPET_WORDS)
    s, e = matches[start].start(), matches[end - 1].end()
    return ("… " if start else "") + " ".join(text[s:e].split()) + (" …" if end < len(matches) else "")


_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.05em; margin: 0 0 .2em; } h3 { font-size: .95em; margin: .2em 0; }
.a { color: #1f5fa8; } .b { color: #b4531a; }
.summary { font-size: .95em; } .legend { font-size: .85em; color: #555; }
figure { margin: 0 0 1.5em; } figcaption { font-size: .8em; color: #555; }
svg .axis { stroke: #888; stroke-width: 1; }
svg rect.win { fill: #2e8540; } svg rect.loss { fill: #c0392b; } svg rect.tie { fill: #999; }
section.topic { border-top: 1px solid #ddd; padding: .6em 0; }
.figures { margin: 0 0 .4em; font-size: .9em; }
span.win { color: #2e8540; font-weight: bold; } span.loss { color: #c0392b; font-weight: bold; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1.2em; }
ol { padding-left: 2.2em; margin: 0; } li { margin: 0 0 .45em; font-size: .85em; }
li.relevant { background: #eef8ee; } li.nonrelevant { background: #fbf0ef; }
.label { display: inline-block; min-width: 1.4em; text-align: center; font-weight: bold; border-radius: 3px;
  background: #ddd; }
li.relevant .label { background: #2e8540; color: #fff; } li.nonrelevant .label { background: #c0392b; color: #fff; }
.docno { font-family: monospace; }
.move { font-size: .85em; color: #555; } .move.up { color: #2e8540; } .move.down { color: #c0392b; }
.move.gone { color: #8a6d00; }
.snippet { color: #444; margin-top: .15em; } mark { background: #ffe58a; }
"""
