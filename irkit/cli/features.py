"""Training data of the learned rerankers (``irkit train irgan``, ``irkit train lambdamart``).

One place turns the training options into labelled features: from a Lucene index
(``--index --topics --qrels --candidates``, optionally ``--desm`` features) or from
a LETOR file (``--letor``), with the same checks and messages for both trainers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from irkit.io.letor import Features


def training_features(
    *,
    index: Path | None,
    topics: Path | None,
    qrels: Path | None,
    candidates: Path | None,
    letor: Path | None,
    desm: Path | None = None,
    depth: int = 100,
    topics_format: str = "auto",
    topic_field: str = "title",
    qrels_format: str = "auto",
    normalise_ids: bool = False,
    quiet: bool = False,
) -> tuple[Features, pd.DataFrame, dict[str, Any]]:
    """``(labelled features, judgements, meta)``; bad combinations of options raise one line."""
    from irkit.errors import InputError, IrkitError
    from irkit.progress import log
    from irkit.rerank.irgan_rank import lucene_features

    if letor is not None:
        from irkit.io.letor import read_letor

        given = [
            n
            for n, v in (
                ("--index", index),
                ("--topics", topics),
                ("--qrels", qrels),
                ("--candidates", candidates),
                ("--desm", desm),
            )
            if v
        ]
        if given:
            raise IrkitError(f"--letor brings its own features and labels; drop {', '.join(given)}")
        feats = read_letor(letor).normalised()
        judgements = feats.qrels()
        meta = {"letor": str(letor)}
    else:
        missing = [
            n
            for n, v in (("--index", index), ("--topics", topics), ("--qrels", qrels), ("--candidates", candidates))
            if v is None
        ]
        if missing:
            raise IrkitError(f"{', '.join(missing)} required (or train from a LETOR file with --letor)")
        from irkit.index import LuceneIndex
        from irkit.io.topics import read_topics
        from irkit.io.trec import normalise_docnos, read_qrels, read_run

        idx = LuceneIndex(index)
        queries = read_topics(topics, topics_format, field=topic_field)
        judgements = read_qrels(qrels, qrels_format)
        if normalise_ids:
            judgements, changed = normalise_docnos(judgements, set(idx.docnos))
            log(f"{qrels}: mapped {changed} judged ids to the index's ids", quiet)
        cand = read_run(candidates)
        feats = lucene_features(idx, queries, cand, depth, desm, quiet)
        judged = set(judgements["qid"])
        unjudged = sorted(set(feats.qids) - judged)
        if unjudged:
            log(
                f"{len(unjudged)} candidate topics have no judgements and are not trained on (e.g. {', '.join(unjudged[:5])})",
                quiet,
            )
        no_cands = sorted(judged - set(feats.qids))
        if no_cands:
            log(
                f"{len(no_cands)} judged topics have no candidates (missing from {candidates}) and are not trained on",
                quiet,
            )
        feats = feats.with_labels(judgements)
        meta = {
            "index": str(Path(index).resolve()),
            "candidates": str(candidates),
            "depth": depth,
            "topics": str(topics),
        }
    if feats.labels is None or not (feats.labels > 0).any():
        raise InputError("no candidate is judged relevant: check that the qrels match the candidates' topics and ids")
    return feats, judgements, meta
