"""IRGAN as a pipeline stage: it reranks a candidate run over LETOR-style features.

Each topic is scored by the fold model that did not train on it (``irkit train
irgan`` trains one model per cross-validation fold), so a run over the training
topics is free of leakage. Heavy imports (torch) stay inside functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from irkit.registry import REQUIRED, Context
from irkit.rerank.learned import FeatureReranker

if TYPE_CHECKING:
    import pandas as pd

    from irkit.io.letor import Features


def cv_run(model, features: Features, use: str = "d") -> pd.DataFrame:
    """A run of the feature rows, each topic scored by the model that did not train on it."""
    import pandas as pd

    from irkit.frames import run_frame

    scores = model.score(features, use)
    return run_frame(
        pd.DataFrame({"qid": features.qids.astype(str), "docno": features.docnos.astype(str), "score": scores})
    )


def _load(path: Path):
    from irkit.progress import log
    from irkit.rerank.irgan import IRGANModel

    model = IRGANModel.load(path)
    if not model.complete:
        log(f"{path}: training did not finish; ranking with its last checkpoint", False)
    return model


def _use(value: str | None) -> str:
    from irkit.errors import IrkitError
    from irkit.rerank.irgan import USES

    use = value or "d"
    if use not in USES:
        raise IrkitError(
            f"use must be one of {', '.join(USES)} (d: discriminator, g: generator, mle: pretrained ranker)"
        )
    return use


def rank_letor(model_path: str | Path, letor_path: str | Path, use: str = "d") -> pd.DataFrame:
    """Rank the documents of a LETOR file with a model trained on LETOR features."""
    from irkit.io.letor import read_letor

    model = _load(Path(model_path))
    feats = read_letor(letor_path).normalised()
    model.check_features(feats.names, "letor")
    return cv_run(model, feats, _use(use))


@dataclass
class IRGANOptions:
    """``-O`` options of ``irgan`` (``irgan(model=DIR, use=g)`` in a pipeline)."""

    model: Path | None = field(default=None, metadata=REQUIRED)  # the folder of `irkit train irgan`
    use: str = "d"  # d: discriminator, g: generator, mle: the pretrained ranker
    desm: Path | None = None  # DESM model folder, when the model was trained with DESM features

    def __post_init__(self) -> None:
        self.use = _use(self.use)


class IRGANReranker(FeatureReranker):
    """Reranks candidates with an IRGAN model folder (its D, G or MLE ranker)."""

    name = "irgan"
    # One batch: one call keeps the scores bit-identical to the cross-validated run training writes.
    batch_size = 10**12

    def __init__(self, model: str | Path, index: Any, use: str = "d", desm: str | Path | None = None):
        self.use = _use(use)
        super().__init__(_load(Path(model)), index, desm)

    def params(self) -> dict[str, Any]:
        return {**super().params(), **({"use": self.use} if self.use != "d" else {})}

    def model_scores(self, features: Features) -> np.ndarray:
        return self.model.score(features, self.use)


def build(options: IRGANOptions, context: Context) -> IRGANReranker:
    """The registry's builder: an IRGAN reranker over ``--index``."""
    return IRGANReranker(options.model, context.require_index(), use=options.use, desm=options.desm)
