"""The old name of :mod:`irkit.rerank.irgan_rank` (the IRGAN stage); ``irkit train irgan`` is in :mod:`irkit.cli.irgan`."""

from irkit.rerank.irgan_rank import (
    IRGANOptions,
    IRGANReranker,
    build,
    candidate_pairs,
    cv_run,
    lucene_features,
    rank,
    rank_letor,
)

__all__ = [
    "IRGANOptions",
    "IRGANReranker",
    "build",
    "candidate_pairs",
    "cv_run",
    "lucene_features",
    "rank",
    "rank_letor",
]
