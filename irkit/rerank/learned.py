"""The base of learned rerankers over the LETOR-style features of :mod:`irkit.rerank.features`.

A subclass (IRGAN, LambdaMART) sets ``name`` and implements :meth:`model_scores`;
the base checks the model's feature set before any work, extracts the features of
each batch of whole topics (they are normalised within a topic's candidates, so a
topic's scores do not depend on its batch), hands the scores back in the
candidates' order, and warns when the candidates per topic differ from training.
The model needs ``check_features(names, source)``, ``meta`` and ``path``.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from irkit.errors import InputError, IrkitError
from irkit.pipeline import Reranker

if TYPE_CHECKING:
    from irkit.io.letor import Features


def check_features(recorded: dict, names: tuple[str, ...] | list[str], source: str, *, model: str,
                   rank_hint: str, path: Any = None) -> None:  # fmt: skip
    """Refuse features other than those a model was trained on (``recorded``: its ``features``
    record, with ``source`` and ``names``); ``rank_hint`` says how to rank the other source."""
    want_names = tuple(recorded.get("names", ()))
    want_source = recorded.get("source")
    if source != want_source:
        raise InputError(
            f"this {model} model was trained on {want_source} features, not {source} features ({rank_hint})", path
        )
    if tuple(names) != want_names:
        extra = sorted(set(names) - set(want_names))
        lacking = sorted(set(want_names) - set(names))
        hint = ""
        if any(n.startswith("desm_") for n in lacking):
            hint = "; it was trained with DESM features: pass -O desm=MODEL"
        elif any(n.startswith("desm_") for n in extra):
            hint = "; it was trained without DESM features: leave out -O desm="
        raise InputError(
            f"feature set differs from the model's: {len(names)} features asked for, the model was trained on "
            f"{len(want_names)} (missing {lacking[:4]}, unexpected {extra[:4]}){hint}",
            path,
        )


def check_folds(folds: int) -> None:
    """Refuse a fold count that cross-validation cannot use (commands call it before reading any data)."""
    if folds < 0 or folds == 1:
        raise IrkitError("--folds must be 0 (no cross-validation) or at least 2")


def trainable_topics(features: Features, folds: int, *, model: str, quiet: bool = False) -> tuple[list[str], list[str]]:
    """``(trainable, skipped)``: the topics with a relevant candidate, checked against ``folds``, and the rest.

    Topics without one teach a ranker nothing; they are skipped and counted on stderr
    (and scored like topics outside the folds).
    """
    import math

    from irkit.common import natural_key
    from irkit.progress import log

    check_folds(folds)
    if features.labels is None:
        raise InputError("training features need labels (qrels)")
    groups = features.groups()
    trainable = [q for q, rows in groups.items() if (features.labels[rows] > 0).any()]
    skipped = [q for q in groups if q not in set(trainable)]
    if skipped:
        log(
            f"skipped {len(skipped)} of {len(groups)} topics with no relevant document among their candidates "
            f"(e.g. {', '.join(sorted(skipped, key=natural_key)[:5])})",
            quiet,
        )
    if len(trainable) < 3:
        raise InputError(
            f"{model} needs at least 3 topics with a relevant candidate to train and validate; found {len(trainable)}"
        )
    if folds > len(trainable):
        raise InputError(f"--folds {folds} is more than the {len(trainable)} trainable topics")
    if folds >= 2 and len(trainable) - math.ceil(len(trainable) / folds) < 2:
        raise InputError(f"too few trainable topics ({len(trainable)}) for {folds} folds")
    return trainable, skipped


class FeatureReranker(Reranker):
    """Scores candidates by a model of their LETOR-style features (see the module docstring)."""

    def __init__(self, model: Any, index: Any, desm: str | os.PathLike[str] | None = None):
        from irkit.index import LuceneIndex
        from irkit.rerank.features import FeatureExtractor, feature_names

        self.model, self.desm = model, desm
        self.model.check_features(feature_names(desm is not None), "lucene")  # before any work
        self.index = index if isinstance(index, LuceneIndex) else LuceneIndex(index)
        self.extractor = FeatureExtractor(self.index, desm=desm)

    @abstractmethod
    def model_scores(self, features: Features) -> np.ndarray:
        """One score per feature row."""

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": getattr(self.model, "path", None)}
        if self.desm is not None:
            out["desm"] = self.desm
        return out

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        trained = self.model.meta.get("depth")
        if trained and "docno" in frame.columns and len(frame):
            depth = int(frame.groupby("qid").size().max())
            if depth != trained:
                from irkit.progress import log

                # features are normalised within each topic's candidates, so their number shifts them
                log(f"the model was trained on {trained} candidates per topic, --depth is {depth}", self.quiet)
        return super().transform(frame)

    def score(self, pairs: pd.DataFrame) -> np.ndarray:
        if not len(pairs):
            raise InputError("no candidates to rerank")
        feats = self.extractor.extract(pairs[["qid", "query", "docno"]], quiet=self.quiet)
        scores = pd.Series(self.model_scores(feats), index=pd.MultiIndex.from_arrays([feats.qids, feats.docnos]))
        # extract() groups rows by topic; hand the scores back in the candidates' order
        key = pd.MultiIndex.from_arrays([pairs["qid"].astype(str), pairs["docno"].astype(str)])
        return scores.reindex(key).to_numpy(dtype=np.float64)
