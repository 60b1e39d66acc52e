"""The training-data options of the learned rerankers (``irkit train irgan``, ``irkit train lambdamart``).

One place turns the options into labelled features (:mod:`irkit.rerank.training`):
from a Lucene index (``--index --topics --qrels --candidates``, optionally
``--desm`` features) or from a LETOR file (``--letor``), with the same checks and
messages for both trainers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from irkit.errors import IrkitError

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
    from irkit.rerank.training import labelled_features, letor_features

    lucene = {"--index": index, "--topics": topics, "--qrels": qrels, "--candidates": candidates}
    if letor is not None:
        given = [name for name, value in {**lucene, "--desm": desm}.items() if value]
        if given:
            raise IrkitError(f"--letor brings its own features and labels; drop {', '.join(given)}")
        feats, judgements = letor_features(letor)
        return feats, judgements, {"letor": str(letor)}
    missing = [name for name, value in lucene.items() if value is None]
    if missing:
        raise IrkitError(f"{', '.join(missing)} required (or train from a LETOR file with --letor)")
    from irkit.index import LuceneIndex
    from irkit.io.topics import read_topics
    from irkit.io.trec import normalise_docnos, read_qrels, read_run
    from irkit.progress import log

    idx = LuceneIndex(index)
    queries = read_topics(topics, topics_format, field=topic_field)
    judgements = read_qrels(qrels, qrels_format, quiet=quiet)
    if normalise_ids:
        judgements, changed = normalise_docnos(judgements, set(idx.docnos))
        log(f"{qrels}: mapped {changed} judged ids to the index's ids", quiet)
    feats = labelled_features(idx, queries, judgements, read_run(candidates), depth=depth, desm=desm, quiet=quiet)
    meta = {"index": str(Path(index).resolve()), "candidates": str(candidates), "depth": depth, "topics": str(topics)}
    return feats, judgements, meta
