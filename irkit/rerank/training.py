"""Training data of the learned rerankers (IRGAN, LambdaMART): labelled feature rows.

From a Lucene index, the top ``depth`` documents of a candidate run per topic get
the features of :mod:`irkit.rerank.features` and the labels of the judgements;
from a LETOR file, its own features and labels. Either way a model needs at least
one relevant candidate. ``irkit train irgan`` and ``irkit train lambdamart`` read
their options into these calls (:mod:`irkit.cli.features`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from irkit.errors import InputError
from irkit.progress import log

if TYPE_CHECKING:
    import pandas as pd

    from irkit.index import LuceneIndex
    from irkit.io.letor import Features


def labelled_features(
    index: LuceneIndex,
    queries: pd.DataFrame,
    judgements: pd.DataFrame,
    candidates: pd.DataFrame,
    *,
    depth: int = 100,
    desm: str | os.PathLike[str] | None = None,
    quiet: bool = False,
) -> Features:
    """Features of each topic's top ``depth`` candidates, labelled by ``judgements``.

    Candidate topics without judgements and judged topics without candidates are
    said on stderr and not trained on.
    """
    from irkit.rerank.features import lucene_features

    feats = lucene_features(index, queries, candidates, depth, None if desm is None else Path(desm), quiet)
    judged = set(judgements["qid"])
    unjudged = sorted(set(feats.qids) - judged)
    if unjudged:
        log(
            f"{len(unjudged)} candidate topics have no judgements and are not trained on (e.g. {', '.join(unjudged[:5])})",
            quiet,
        )
    no_candidates = sorted(judged - set(feats.qids))
    if no_candidates:
        log(f"{len(no_candidates)} judged topics have no candidates and are not trained on", quiet)
    return require_relevant(feats.with_labels(judgements))


def letor_features(path: str | os.PathLike[str]) -> tuple[Features, pd.DataFrame]:
    """``(features normalised per query, judgements)`` of a LETOR file."""
    from irkit.io.letor import read_letor

    feats = read_letor(path).normalised()
    return require_relevant(feats), feats.qrels()


def require_relevant(feats: Features) -> Features:
    """``feats`` when some row is labelled relevant; else the one-line error a trainer would hit later."""
    if feats.labels is None or not (feats.labels > 0).any():
        raise InputError("no candidate is judged relevant: check that the qrels match the candidates' topics and ids")
    return feats
