"""Options that several commands take, declared once so that their flags and help agree.

``quiet: Quiet = False`` in a command's signature is the whole declaration; the
learned rankers' training options (where the features come from) are here too,
because ``irkit train irgan`` and ``irkit train lambdamart`` read features the same
way (:func:`irkit.cli.features.training_features`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from irkit.errors import IrkitError

# Upper bounds of counts that allocate per unit before anything else runs (--hits 2e9
# tried a 30 GB priority queue; --threads 100000 ended in "Too many open files").
MAX_HITS = 10_000_000
MAX_THREADS = max(256, 8 * (os.cpu_count() or 1))


def number_in(low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False) -> Callable:
    """A typer callback refusing NaN, infinities and numbers outside ``low..high`` in one line naming the option."""
    shown = (
        f"{'(' if low_open else '['}{low:g}, {'inf' if high == math.inf else f'{high:g}'}{')' if high_open else ']'}"
    )

    def check(param: typer.CallbackParam, value: float | None) -> float | None:
        if value is None:
            return value
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (math.isfinite(value) and above and below):
            raise IrkitError(f"{param.opts[0]} {value}: expected a finite number in {shown}")
        return value

    return check


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or messages on stderr.")]
Force = Annotated[
    bool, typer.Option("--force", "-f", help="Replace an existing output (only one irkit wrote, never an input).")
]
Seed = Annotated[int, typer.Option(help="Random seed.")]

# How topics and judgements are read.
TopicsFormat = Annotated[str, typer.Option(help="auto|trec|cacm|smart|beir|tsv")]
TopicField = Annotated[str, typer.Option(help="TREC topic field: title|desc|narr")]
QrelsFormat = Annotated[str, typer.Option(help="auto|trec|beir|cranfield")]
NormaliseIds = Annotated[
    bool, typer.Option("--normalise-ids", help="Map judged ids to the ranked ids by number (CACM-756 -> CACM-0756).")
]

# The learned rankers' training data (irkit train irgan|lambdamart).
ModelOutput = Annotated[Path, typer.Option("--output", "-o", help="Model folder to write.")]
TrainIndex = Annotated[Path | None, typer.Option("--index", "-i", help="Lucene index the candidates come from.")]
TrainTopics = Annotated[Path | None, typer.Option("--topics", "-t", help="Topics of the training queries.")]
TrainQrels = Annotated[Path | None, typer.Option(help="Judgements of the training topics.")]
Candidates = Annotated[
    Path | None, typer.Option(help="Candidate run (e.g. BM25) whose top --depth documents are reranked.")
]
Letor = Annotated[
    Path | None, typer.Option(help="Train on a LETOR/SVMlight file instead (labels, qid:, features, #docid).")
]
Folds = Annotated[int, typer.Option(help="Cross-validation folds over topics (0: one model on all topics).")]
Full = Annotated[
    bool, typer.Option("--full/--no-full", help="Also train a model on all topics, for topics outside the folds.")
]
Depth = Annotated[int, typer.Option(help="Candidates per topic.", callback=number_in(1, MAX_HITS))]
LearningRate = Annotated[float, typer.Option(help="Adam learning rate.", callback=number_in(0, low_open=True))]
DesmFeatures = Annotated[Path | None, typer.Option(help="DESM model folder: add DESM IN-OUT and IN-IN features.")]
CvRun = Annotated[Path | None, typer.Option(help="Also write the cross-validated run of the training topics.")]
