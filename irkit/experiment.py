"""``irkit.Experiment``: run pipelines on topics, evaluate them, test them against a baseline.

::

    bm25 = irkit.BM25("indexes/cranfield")
    desm = irkit.DESMReranker.from_path("models/desm", "indexes/cranfield")
    table = irkit.Experiment(
        {"BM25": bm25, "BM25 >> DESM": bm25 % 100 >> desm},
        topics, qrels, ["nDCG@10", "AP"], baseline="BM25", test="t", correction="holm",
    )

One row per pipeline (in the order given) with the mean of each measure, and, with
a baseline, corrected p-values and the ``sig`` column of
:func:`irkit.evaluate.leaderboard.leaderboard`, which computes them (the same numbers
as ``irkit leaderboard`` on the runs written to files). ``perquery=True`` returns one
row per pipeline, topic and measure instead. ``save_dir`` keeps each run as
``NAME.run`` and reads it back instead of recomputing; ``report`` writes the
leaderboard report (``.md``, ``.html``, ``.csv``, with the per-topic plot beside it).

Pipelines that share a prefix compute it once: ``bm25``, ``bm25 % 100 >> desm`` and
``bm25 % 100 >> irgan`` run BM25 once and the cutoff once (stages are matched by
identity, so build each stage once and reuse the object).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from irkit.errors import IrkitError
from irkit.pipeline import Concat, Cutoff, Then, Transformer, carry_query, concat_runs, validate

TESTS = {"t": "t", "wilcoxon": "wilcoxon", "randomisation": "randomization", "randomization": "randomization"}


class Leaderboard(pd.DataFrame):
    """The frame :func:`Experiment` returns: a DataFrame that prints every column.

    pandas hides the columns that do not fit the terminal behind ``...``; a
    leaderboard is read across (means, p-values, ``sig``), so ``print`` and ``repr``
    show the whole table (:meth:`~pandas.DataFrame.to_string`). Everything else is a
    DataFrame's.
    """

    @property
    def _constructor(self) -> type[Leaderboard]:  # pandas' rule for subclasses: derived frames keep the class
        return Leaderboard

    def __repr__(self) -> str:
        return self.to_string()


def _key(stage: Transformer) -> tuple:
    """A key equal for two stages that compute the same thing (same objects, same structure)."""
    if isinstance(stage, Cutoff):
        return ("cutoff", _key(stage.stage), stage.k)
    if isinstance(stage, Then):
        return ("then", *(_key(s) for s in stage.stages))
    if isinstance(stage, Concat):
        return ("concat", _key(stage.head), _key(stage.tail))
    return ("stage", id(stage))


class _Cache:
    """Runs of pipeline prefixes, computed once per experiment."""

    def __init__(self, topics: pd.DataFrame):
        self.topics = topics
        self.runs: dict[tuple, pd.DataFrame] = {}

    def run(self, stage: Transformer) -> pd.DataFrame:
        key = _key(stage)
        if key in self.runs:
            return self.runs[key]
        if isinstance(stage, Then):
            frame = self.run(stage.stages[0])
            for i in range(1, len(stage.stages)):
                pk = _key(Then(stage.stages[: i + 1]))
                if pk not in self.runs:
                    self.runs[pk] = carry_query(frame, stage.stages[i].transform(frame))
                frame = self.runs[pk]
            out = frame
        elif isinstance(stage, Cutoff):
            inner = self.run(stage.stage)
            out = inner[inner["rank"] <= stage.k].reset_index(drop=True)
        elif isinstance(stage, Concat):  # (bm25 % 100 >> desm) ^ bm25 reuses both sides' runs
            out = concat_runs(self.run(stage.head), self.run(stage.tail))
        else:
            out = carry_query(self.topics, stage.transform(self.topics))
        self.runs[key] = out
        return out


def _names(pipelines: Sequence[Transformer] | Mapping[str, Transformer]) -> dict[str, Transformer]:
    if isinstance(pipelines, Mapping):
        named = {str(k): v for k, v in pipelines.items()}
    else:
        named = {}
        for p in pipelines:
            name = repr(p)
            if name in named:
                raise IrkitError(f"two pipelines print as {name!r}: pass a dict of names")
            named[name] = p
    if not named:
        raise IrkitError("Experiment needs at least one pipeline")
    for name, p in named.items():
        if not isinstance(p, Transformer):
            raise IrkitError(f"pipeline {name!r} is a {type(p).__name__}, not a stage")
    return named


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name).strip("_") or "run"


def Experiment(  # a function named as PyTerrier users expect
    pipelines: Sequence[Transformer] | Mapping[str, Transformer],
    topics: pd.DataFrame,
    qrels: pd.DataFrame,
    measures: str | Sequence[Any],
    baseline: int | str | None = None,
    test: str = "t",
    correction: str | None = "holm",
    perquery: bool = False,
    save_dir: str | os.PathLike[str] | None = None,
    level: float = 0.05,
    report: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Evaluate ``pipelines`` (a list, or a dict of name -> pipeline) on ``topics`` (see the module docstring).

    The table is a :class:`Leaderboard`, a DataFrame that prints all its columns.

    ``baseline`` is a position or a name; ``test`` is ``t``, ``wilcoxon`` or
    ``randomisation``; ``correction`` ``holm``, ``bonferroni`` or ``None``.
    """
    from irkit.evaluate import parse_measures
    from irkit.evaluate.leaderboard import leaderboard, per_query_table, plot_differences, write_report
    from irkit.frames import qrels_frame, run_frame

    named = _names(pipelines)
    if test not in TESTS:
        raise IrkitError(f"unknown test {test!r}; choose from t, wilcoxon, randomisation")
    base = None
    if baseline is not None:
        if isinstance(baseline, int) and not isinstance(baseline, bool):
            if not 0 <= baseline < len(named):
                raise IrkitError(f"baseline {baseline} is not a position among {len(named)} pipelines")
            base = list(named)[baseline]
        elif str(baseline) in named:
            base = str(baseline)
        else:
            raise IrkitError(f"baseline {baseline!r} is not among the pipelines: {', '.join(named)}")
    ms = parse_measures(measures)
    qrels = qrels_frame(qrels)
    topics = validate(topics)
    folder = None if save_dir is None else Path(save_dir)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    cache = _Cache(topics)
    runs: dict[str, pd.DataFrame] = {}
    for name, pipeline in named.items():
        path = None if folder is None else folder / f"{_file_name(name)}.run"
        if path is not None and path.exists():
            from irkit.io.trec import read_run

            runs[name] = read_run(path)
            continue
        runs[name] = run_frame(cache.run(pipeline))
        if path is not None:
            from irkit.io.trec import write_run

            write_run(runs[name], path, tag=_file_name(name))
    if perquery:
        pq = per_query_table(runs, qrels, ms)
        rows = [
            pd.DataFrame({"name": name, "qid": t.index, "measure": m, "value": t[m].to_numpy()})
            for name, t in pq.items()
            for m in t.columns
        ]
        return pd.concat(rows, ignore_index=True)
    table = leaderboard(runs, qrels, ms, baseline=base, test=TESTS[test], correction=correction or "none", level=level)
    if table.attrs.get("depths"):
        from irkit.progress import warn

        warn(table.attrs["depths"])
    order = {name: i for i, name in enumerate(named)}
    out = table.sort_values("run", key=lambda s: s.map(order)).reset_index(drop=True).rename(columns={"run": "name"})
    out = Leaderboard(out)
    out.attrs.update(table.attrs)
    if report is not None:
        plot = None
        if base is not None and len(runs) > 1:
            png = Path(report).with_suffix(".png")
            plot_differences(runs, qrels, base, str(table.columns[1]), png)
            plot = png.name
        write_report(table, report, overwrite=True, plot=plot)
    return out
