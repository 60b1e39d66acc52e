"""LambdaMART (LightGBM ``lambdarank``) over irkit's LETOR-style features, cross-validated over topics.

The learned baseline beside IRGAN: the same features (:mod:`irkit.rerank.features`
or a LETOR file), the same fold assignment (:func:`irkit.rerank.irgan.plan`: each
fold's model trains on the other folds, with a share of them held out to stop
boosting early) and the same rule for which model scores a topic
(:meth:`irkit.rerank.irgan.IRGANModel.assignment`: a topic held out by fold ``k`` is
scored by fold ``k``'s model, any other topic by the model trained on all topics or
by the mean of the folds). So a run of the training topics is the cross-validated
one, free of leakage.

A model folder holds ``config.json`` (settings, folds and their topics, feature
names) and one LightGBM text model per part (``fold1.txt`` ...): plain data, so
loading runs no code (no pickle).

lightgbm is imported only when a model is trained, loaded or used.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from irkit.errors import InputError, IrkitError
from irkit.io.letor import Features
from irkit.progress import log
from irkit.registry import REQUIRED
from irkit.rerank.learned import FeatureReranker, trainable_topics

if TYPE_CHECKING:
    from irkit.registry import Context
    from irkit.rerank.irgan import Part

KIND = "lambdamart"
FORMAT = 1
CONFIG_FILE = "config.json"


@dataclass
class LambdaMARTConfig:
    """LightGBM ``lambdarank`` settings; ``seed`` and ``valid_fraction`` drive the shared fold plan."""

    n_estimators: int = 500  # boosting rounds at most; early stopping on validation topics picks fewer
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 20
    feature_fraction: float = 1.0
    lambdarank_truncation_level: int = 20
    early_stopping: int = 50  # rounds without a better validation nDCG@10 before stopping
    eval_at: int = 10
    # Linear gains (label = gain), as trec_eval and ir-measures compute nDCG, not LightGBM's 2^label - 1.
    linear_gain: bool = True
    valid_fraction: float = 0.2  # training topics held out to stop boosting
    seed: int = 0
    threads: int = 1  # one thread: the trees are small and the machine is shared

    def __post_init__(self) -> None:
        for name in ("n_estimators", "num_leaves", "min_data_in_leaf", "eval_at", "threads"):
            if getattr(self, name) < 1:
                raise IrkitError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if self.num_leaves < 2:
            raise IrkitError(f"num_leaves must be at least 2 (got {self.num_leaves})")
        if not 0.0 < self.learning_rate <= 1.0:
            raise IrkitError(f"learning_rate must lie in (0, 1] (got {self.learning_rate})")
        if not 0.0 < self.feature_fraction <= 1.0:
            raise IrkitError(f"feature_fraction must lie in (0, 1] (got {self.feature_fraction})")
        if not 0.0 < self.valid_fraction < 1.0:
            raise IrkitError(f"valid_fraction must lie in (0, 1) (got {self.valid_fraction})")
        if self.early_stopping < 0:
            raise IrkitError(f"early_stopping must not be negative (got {self.early_stopping})")

    def params(self, max_label: int) -> dict[str, Any]:
        """LightGBM parameters (deterministic for a seed)."""
        params: dict[str, Any] = {
            "objective": "lambdarank",
            "metric": "ndcg",
            "ndcg_eval_at": [self.eval_at],
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "lambdarank_truncation_level": self.lambdarank_truncation_level,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.threads,
            "verbosity": -1,
        }
        if self.linear_gain:
            params["label_gain"] = [float(g) for g in range(max(max_label, 1) + 1)]
        return params


def _lgb():
    try:
        import lightgbm
    except ImportError:  # pragma: no cover - a dependency, but say what to do
        raise IrkitError("LambdaMART needs lightgbm: pip install lightgbm") from None
    return lightgbm


class LambdaMARTModel:
    """The boosted trees of every fold (and optionally one trained on all topics)."""

    def __init__(self, config: LambdaMARTConfig, parts: list[Part], boosters: dict, features: dict, meta: dict):
        self.config = config
        self.parts = parts
        self.boosters = boosters  # part name -> lightgbm.Booster
        self.features = features  # names, source, extractor settings
        self.meta = meta
        self.path: Path | None = None
        for p in parts:
            # `assignment` (shared with IRGAN) reads `states`: a part without trees cannot score.
            p.states = {} if p.name in boosters else None

    # ---------------------------------------------------------------- which model scores a topic

    def assignment(self, qids) -> dict[str, list[Part]]:
        """The part(s) that score each topic: the rule IRGAN uses, in one place."""
        from irkit.rerank.irgan import IRGANModel

        return IRGANModel.assignment(self, qids)

    def check_features(self, names: tuple[str, ...] | list[str], source: str) -> None:
        """Refuse features other than those the model was trained on."""
        from irkit.rerank.learned import check_features

        how = "rank_letor(MODEL, FILE)" if self.features.get("source") == "letor" else "irkit rank --model lambdamart"
        check_features(self.features, names, source, model="LambdaMART", rank_hint=f"rank with {how}", path=self.path)

    def score(self, features: Features) -> np.ndarray:
        """Scores of the feature rows, each topic by the part(s) that did not train on it."""
        self.check_features(features.names, features.source)
        out = np.zeros(len(features), dtype=np.float64)
        groups = features.groups()
        by_parts: dict[tuple[str, ...], list[np.ndarray]] = {}
        for q, parts in self.assignment(list(groups)).items():
            by_parts.setdefault(tuple(p.name for p in parts), []).append(groups[q])
        for names, rows in by_parts.items():
            idx = np.concatenate(rows)
            x = np.ascontiguousarray(features.values[idx], dtype=np.float64)
            preds = [self.boosters[n].predict(x, num_threads=self.config.threads) for n in names]
            out[idx] = np.mean(preds, axis=0)
        return out

    def run(self, features: Features) -> pd.DataFrame:
        """A run of the feature rows (the cross-validated run for training topics)."""
        from irkit.frames import run_frame

        scores = self.score(features)
        return run_frame(
            pd.DataFrame({"qid": features.qids.astype(str), "docno": features.docnos.astype(str), "score": scores})
        )

    # ---------------------------------------------------------------- folder

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the folder atomically: ``config.json`` and one LightGBM text model per part."""
        from irkit.io.atomic import atomic_path

        parts = [{"name": p.name, "train": p.train, "valid": p.valid, "test": p.test} for p in self.parts]
        doc = {
            "kind": KIND,
            "format": FORMAT,
            "config": dataclasses.asdict(self.config),
            "parts": parts,
            "features": self.features,
            **self.meta,
        }
        with atomic_path(path, overwrite=overwrite, kind="model") as tmp:
            tmp.mkdir()
            for p in self.parts:
                self.boosters[p.name].save_model(str(tmp / f"{p.name}.txt"))
            (tmp / CONFIG_FILE).write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
        self.path = Path(path)
        return self.path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LambdaMARTModel:
        """Read a model folder; anything missing or malformed is one :class:`InputError`."""
        from irkit.rerank.irgan import Part
        from irkit.rerank.lightgbm_text import checked_model_text

        folder = Path(path)
        if not folder.is_dir():
            raise InputError("no such LambdaMART model folder", folder)
        cfg_path = folder / CONFIG_FILE
        if not cfg_path.is_file():
            raise InputError(f"not a LambdaMART model folder (no {CONFIG_FILE})", folder)
        from irkit.nn.checkpoint import read_json

        doc = read_json(cfg_path)
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            kind = doc.get("kind") if isinstance(doc, dict) else None
            raise InputError(f"holds a {kind or 'unknown'} model, not a LambdaMART model", cfg_path)
        try:
            known = {f.name for f in dataclasses.fields(LambdaMARTConfig)}
            config = LambdaMARTConfig(**{k: v for k, v in doc["config"].items() if k in known})
            parts = [
                Part(p["name"], list(p["train"]), list(p["valid"]), list(p["test"]), done=True) for p in doc["parts"]
            ]
            features = dict(doc["features"])
        except (KeyError, TypeError, AttributeError) as e:
            raise InputError(f"config lacks or mangles an entry ({e})", cfg_path) from None
        if not parts:
            raise InputError("the model has no parts", cfg_path)
        lgb = _lgb()
        boosters = {}
        for p in parts:
            if not p.name.isidentifier():
                raise InputError(f"bad part name {p.name!r}", cfg_path)
            file = folder / f"{p.name}.txt"
            if not file.is_file():
                raise InputError(f"the trees of part {p.name} are missing", file)
            # LightGBM's parser trusts its input (a crafted file aborted the process or
            # predicted with indexes out of range): it gets only text checked here.
            text = checked_model_text(file, len(features.get("names", ())))
            try:
                boosters[p.name] = lgb.Booster(model_str=text)
            except lgb.basic.LightGBMError as e:
                reason = str(e).strip().splitlines()[-1] if str(e).strip() else "unreadable"
                raise InputError(f"not a LightGBM text model ({reason})", file) from None
        rest = {k: v for k, v in doc.items() if k not in ("kind", "format", "config", "parts", "features")}
        model = cls(config, parts, boosters, features, rest)
        model.path = folder
        return model


# ---------------------------------------------------------------------- training


def _dataset(lgb, features: Features, qids: list[str], reference=None):
    """A LightGBM dataset of the topics' rows, grouped by topic."""
    sub = features.subset(qids)
    sizes = [len(rows) for rows in sub.groups().values()]
    labels = np.maximum(sub.labels, 0)
    return lgb.Dataset(
        np.ascontiguousarray(sub.values, dtype=np.float64),
        label=labels,
        group=sizes,
        reference=reference,
        free_raw_data=False,
        params={"verbosity": -1},
    )


def train_part(features: Features, part: Part, config: LambdaMARTConfig, quiet: bool = True):
    """The trees of one part: trained on ``part.train``, boosting stopped early on ``part.valid``."""
    lgb = _lgb()
    params = config.params(int(max(features.labels.max(), 1)))
    train = _dataset(lgb, features, part.train)
    callbacks = []
    valid_sets = []
    if part.valid and config.early_stopping:
        valid_sets = [_dataset(lgb, features, part.valid, reference=train)]
        callbacks.append(lgb.early_stopping(config.early_stopping, first_metric_only=True, verbose=False))
    booster = lgb.train(params, train, num_boost_round=config.n_estimators, valid_sets=valid_sets, callbacks=callbacks)
    if valid_sets and booster.best_iteration > 0:
        # Keep only the validated trees, so that the saved model is the one that was chosen.
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    best = booster.current_iteration()
    log(f"{part.name}: {best} trees on {len(part.train)} topics (validated on {len(part.valid)})", quiet)
    return booster


def train_cv(
    features: Features,
    config: LambdaMARTConfig | None = None,
    folds: int = 5,
    full: bool = True,
    quiet: bool = False,
    meta: dict | None = None,
) -> LambdaMARTModel:
    """One LambdaMART per fold, trained on the other folds' topics (plus one on all topics with ``full``).

    ``features`` must carry labels (judged gain); they are normally query-level
    normalised, as IRGAN's are. Topics without a relevant candidate teach a
    lambda-gradient nothing: they are skipped and counted, and scored like
    topics outside the folds.
    """
    from irkit.rerank.irgan import plan

    config = config or LambdaMARTConfig()
    trainable, skipped = trainable_topics(features, folds, model="LambdaMART", quiet=quiet)
    # The shared plan reads only `seed` and `valid_fraction` from the config.
    parts = plan(trainable, folds, full, config)
    boosters = {p.name: train_part(features, p, config, quiet) for p in parts}
    info = {"names": list(features.names), "source": features.source, **features.meta}
    return LambdaMARTModel(
        config,
        parts,
        boosters,
        info,
        {
            "folds": folds if folds >= 2 else 0,
            "skipped_topics": skipped,
            "trainable_topics": len(trainable),
            **(meta or {}),
        },
    )


def rank_letor(model: LambdaMARTModel | str | os.PathLike[str], letor_path: str | os.PathLike[str]) -> pd.DataFrame:
    """Rank the documents of a LETOR file with a model trained on LETOR features."""
    from irkit.io.letor import read_letor

    if not isinstance(model, LambdaMARTModel):
        model = LambdaMARTModel.load(model)
    return model.run(read_letor(letor_path).normalised())


# ---------------------------------------------------------------------- the stage


@dataclass
class LambdaMARTOptions:
    """``-O`` options of ``lambdamart`` (``lambdamart(model=DIR)`` in a pipeline; ``--lambdamart DIR``)."""

    model: Path | None = field(default=None, metadata=REQUIRED)  # the folder of `irkit train lambdamart`
    desm: Path | None = None  # DESM model folder, when the model was trained with DESM features


class LambdaMARTReranker(FeatureReranker):
    """Reranks a candidate run: features of each topic's candidates from the index, scored by the model.

    Features are normalised within a topic's candidates and the base class never
    splits a topic across calls to :meth:`score`, so a topic's scores do not
    depend on the batch it falls in; each topic is scored by the fold model that
    did not train on it.
    """

    name = "lambdamart"

    def __init__(
        self, model: LambdaMARTModel | str | os.PathLike[str], index: Any, desm: str | os.PathLike[str] | None = None
    ):
        super().__init__(model if isinstance(model, LambdaMARTModel) else LambdaMARTModel.load(model), index, desm)

    def model_scores(self, features: Features) -> np.ndarray:
        return self.model.score(features)


def build(options: LambdaMARTOptions, context: Context) -> LambdaMARTReranker:
    """The registry's builder: a LambdaMART reranker over ``--index``."""
    return LambdaMARTReranker(options.model, context.require_index(), desm=options.desm)
