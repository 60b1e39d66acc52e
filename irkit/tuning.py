"""``irkit.tune`` (this module, :func:`tune`): a cross-validated grid search over any stage parameter.

::

    tuned = irkit.tune(desm, {"alpha": np.linspace(0, 1, 21)}, candidates, qrels, measure="AP")
    tuned.run          # every judged topic ranked with the value tuned on the *other* folds
    tuned.describe()   # one line: the value per fold and on all judged topics

``stage`` is a :class:`~irkit.pipeline.Transformer` whose attributes the grid names
(each point is a shallow copy with those attributes set), or a function
``make(**point) -> Transformer``. ``frame`` is what the pipeline transforms (queries,
or a candidate run with its ``query`` column).

Folds are assigned one way, by :func:`assign_folds`: the judged topics in natural
order ("9" before "10"), shuffled by ``seed``, dealt round-robin into ``folds`` folds
(IRGAN's training folds are the same). Each fold's topics are ranked with the grid
point that maximises the mean ``measure`` over the other folds' topics (a topic with
no result counts 0); ties go to the earlier grid point. Topics without judgements
get the point that is best on all judged topics.

:class:`Tune` is the same search as a pipeline stage: what an option given as ``auto``
builds (``irkit rank -m desm -O alpha=auto --qrels Q``, ``desm(model=M, alpha=auto)``).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from irkit.common import natural_key
from irkit.errors import InputError, IrkitError
from irkit.pipeline import Transformer

# The grid DESM and dense mixtures search: 0, 0.05, ..., 1.
ALPHA_GRID = tuple(round(float(a), 2) for a in np.linspace(0.0, 1.0, 21))


def assign_folds(qids: Iterable[str], folds: int, seed: int = 0) -> dict[str, int]:
    """``{qid: fold}``: natural order, a ``seed``-ed permutation, dealt round-robin into ``folds``."""
    ordered = sorted(set(qids), key=natural_key)
    order = np.random.default_rng(seed).permutation(len(ordered))
    return {ordered[i]: pos % folds for pos, i in enumerate(order)}


def split_folds(qids: Iterable[str], folds: int, seed: int = 0) -> list[list[str]]:
    """The topics of each fold (as :func:`assign_folds`), each in natural order."""
    fold_of = assign_folds(qids, folds, seed)
    return [sorted((q for q, f in fold_of.items() if f == k), key=natural_key) for k in range(folds)]


@dataclass
class Tuned:
    """The outcome of :func:`tune`."""

    run: pd.DataFrame  # the cross-validated run
    fold_values: list[dict[str, Any]]  # the grid point chosen for each fold (on the other folds)
    best: dict[str, Any]  # the point best on all judged topics (used for unjudged topics)
    measure: str
    topics: int  # judged topics tuned on
    means: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)  # mean measure of each grid point

    @property
    def folds(self) -> int:
        return len(self.fold_values)

    # For a grid over one parameter ``alpha`` (DESM, dense mixtures): the values alone.
    @property
    def fold_alphas(self) -> list[float]:
        return [p["alpha"] for p in self.fold_values]

    @property
    def alpha(self) -> float:
        return self.best["alpha"]

    def describe(self, what: str = "") -> str:
        def fmt(point: dict[str, Any]) -> str:
            return ",".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in point.values())

        names = ",".join(self.best) if self.best else "value"
        return (
            f"{what + ' ' if what else ''}{names} by {self.folds}-fold cross-validation on {self.measure} over "
            f"{self.topics} judged topics: {' '.join(fmt(p) for p in self.fold_values)} (per fold); "
            f"{fmt(self.best)} on all judged topics"
        )


def _points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    if not grid:
        raise IrkitError("tune needs a grid: {parameter: [values]}")
    keys = list(grid)
    values = [list(grid[k]) for k in keys]
    if any(not v for v in values):
        raise IrkitError("every tuned parameter needs at least one value")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def _maker(stage: Any) -> Callable[..., Any]:
    if not isinstance(stage, Transformer):
        if not callable(stage):
            raise IrkitError("tune takes a stage or a function of the parameters that builds one")
        return stage

    def make(**point: Any) -> Transformer:
        clone = copy.copy(stage)
        for k, v in point.items():
            if not hasattr(clone, k):
                raise IrkitError(f"{stage!r} has no parameter {k!r} to tune")
            setattr(clone, k, v)
        return clone

    return make


def tune(
    stage: Any,
    grid: Mapping[str, Sequence[Any]],
    frame: pd.DataFrame,
    qrels: pd.DataFrame,
    measure: str = "AP",
    folds: int = 5,
    seed: int = 0,
) -> Tuned:
    """Cross-validated grid search of ``stage``'s parameters (see the module docstring)."""
    from irkit.evaluate import evaluate, parse_measures
    from irkit.frames import qrels_frame
    from irkit.pipeline import validate

    ms = parse_measures(measure)
    if len(ms) != 1:
        raise IrkitError("tune on one measure")
    name = str(ms[0])
    make = _maker(stage)
    points = _points(grid)
    frame = validate(frame)
    qrels = qrels_frame(qrels)
    judged = sorted(set(frame["qid"]) & set(qrels["qid"]), key=natural_key)
    if len(judged) < 2:
        raise InputError(f"tuning needs at least 2 judged topics in the input; found {len(judged)}")
    k = max(2, min(int(folds), len(judged)))
    fold_of = assign_folds(judged, k, seed)
    table = np.zeros((len(points), len(judged)))
    runs: dict[int, pd.DataFrame] = {}
    for i, point in enumerate(points):
        run = make(**point).transform(frame)
        per_q = evaluate(run, qrels, ms, per_query=True).set_index("qid").iloc[:, 0]
        table[i] = per_q.reindex(judged).fillna(0.0).to_numpy()
        if len(points) <= 32:  # keep the runs to assemble the answer without recomputing
            runs[i] = run
    folds_arr = np.array([fold_of[q] for q in judged])
    chosen = [int(np.argmax(table[:, folds_arr != f].mean(axis=1))) for f in range(k)]
    overall = int(np.argmax(table.mean(axis=1)))
    pick = {q: chosen[fold_of[q]] for q in judged}
    parts = []
    for i in sorted(set(chosen) | {overall}):
        run = runs[i] if i in runs else make(**points[i]).transform(frame)
        mine = run["qid"].map(pick).fillna(overall).astype(int) == i
        parts.append(run[mine])
    from irkit.pipeline import ranked

    out = ranked(pd.concat(parts, ignore_index=True))
    means = pd.DataFrame(points).assign(**{name: table.mean(axis=1)})
    return Tuned(out, [points[i] for i in chosen], points[overall], name, len(judged), means)


class Tune(Transformer):
    """A stage whose parameters are chosen by :func:`tune` on its input: ``Tune(desm, {"alpha": ALPHA_GRID}, qrels)``.

    ``transform(run)`` is the cross-validated run (each judged topic ranked with the value tuned
    on the other folds) and logs the values chosen; :attr:`tuned` keeps the last :class:`Tuned`.
    It is what ``-O alpha=auto`` (``irkit rank``), ``desm(alpha=auto)`` (a pipeline) and
    ``irkit.engine.stage("desm", alpha="auto", qrels=...)`` build (:func:`irkit.registry.build`).
    Judged ids that differ from the input run's only in zero padding (CACM) are mapped to them.
    It needs every topic at once, so an engine runs it on the driver.
    """

    def __init__(self, stage: Transformer, grid: Mapping[str, Sequence[Any]], qrels: pd.DataFrame,
                 measure: str = "AP", folds: int = 5, seed: int = 0) -> None:  # fmt: skip
        from irkit.frames import qrels_frame

        _points(grid)  # an empty grid fails here, not at the first transform
        self.stage, self.grid, self.qrels = stage, dict(grid), qrels_frame(qrels)
        self.measure, self.folds, self.seed = measure, int(folds), int(seed)
        self.name = stage.name
        self.tuned: Tuned | None = None

    def children(self) -> tuple[Transformer, ...]:
        return (self.stage,)

    def params(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in self.stage.params().items() if k not in self.grid},
            **dict.fromkeys(self.grid, "auto"),
        }

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        from irkit.io.trec import normalise_docnos
        from irkit.pipeline import is_run
        from irkit.progress import log

        qrels = normalise_docnos(self.qrels, set(frame["docno"]))[0] if is_run(frame) else self.qrels
        make, calls = _maker(self.stage), [0]

        def point(**values: Any) -> Transformer:
            # The first grid point reports as the stage would (its warnings, once); the others are quiet.
            clone = make(**values)
            clone.quiet, calls[0] = self.quiet if calls[0] == 0 else True, calls[0] + 1
            return clone

        self.tuned = tune(point, self.grid, frame, qrels, measure=self.measure, folds=self.folds, seed=self.seed)
        log(self.tuned.describe(self.name), self.quiet)
        return self.tuned.run
