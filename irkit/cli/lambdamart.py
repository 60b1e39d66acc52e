"""``irkit train lambdamart``: LambdaMART (LightGBM lambdarank) per cross-validation fold.

Features come from a Lucene index for each topic's candidates (the code IRGAN
uses, :func:`irkit.rerank.irgan_cli.lucene_features`) or from a LETOR file;
folds and the model that scores each topic follow IRGAN's rules
(:mod:`irkit.rerank.lambdamart`). Ranking is the registry's stage
(``irkit rank --model lambdamart --lambdamart MODEL --rerank RUN``).

This module is imported by ``irkit --help``: heavy imports stay inside functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def train_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Model folder to write.")],
    index: Annotated[Path | None, typer.Option("--index", "-i", help="Lucene index the candidates come from.")] = None,
    topics: Annotated[Path | None, typer.Option("--topics", "-t", help="Topics of the training queries.")] = None,
    qrels: Annotated[Path | None, typer.Option(help="Judgements of the training topics.")] = None,
    candidates: Annotated[
        Path | None, typer.Option(help="Candidate run (e.g. BM25) whose top --depth documents are reranked.")
    ] = None,
    letor: Annotated[
        Path | None, typer.Option(help="Train on a LETOR/SVMlight file instead (labels, qid:, features, #docid).")
    ] = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds over topics (0: one model on all topics).")] = 5,
    full: Annotated[
        bool, typer.Option("--full/--no-full", help="Also train a model on all topics, for topics outside the folds.")
    ] = True,
    trees: Annotated[int, typer.Option(help="Boosting rounds at most (early stopping picks fewer).")] = 500,
    learning_rate: Annotated[float, typer.Option(help="Shrinkage.")] = 0.05,
    leaves: Annotated[int, typer.Option(help="Leaves per tree.")] = 15,
    min_leaf: Annotated[int, typer.Option(help="Least rows in a leaf.")] = 20,
    early_stopping: Annotated[
        int, typer.Option(help="Stop after this many rounds without a better validation nDCG@10 (0: never).")
    ] = 50,
    depth: Annotated[int, typer.Option(help="Candidates per topic.")] = 100,
    desm: Annotated[Path | None, typer.Option(help="DESM model folder: add DESM IN-OUT and IN-IN features.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the folds and of LightGBM.")] = 0,
    run: Annotated[Path | None, typer.Option(help="Also write the cross-validated run of the training topics.")] = None,
    topics_format: Annotated[str, typer.Option(help="auto|trec|cacm|smart|beir|tsv")] = "auto",
    topic_field: Annotated[str, typer.Option(help="TREC topic field: title|desc|narr")] = "title",
    qrels_format: Annotated[str, typer.Option(help="auto|trec|beir|cranfield")] = "auto",
    normalise_ids: Annotated[
        bool, typer.Option("--normalise-ids", help="Map judged ids to index ids by number (CACM-756 -> CACM-0756).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace an existing model folder.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
) -> None:
    """Train LambdaMART (LightGBM lambdarank) on judged topics, with IRGAN's cross-validation folds.

    From a Lucene index: --index, --topics, --qrels and --candidates. From LETOR
    data: --letor alone. Rank afterwards with `irkit rank --model lambdamart
    --lambdamart MODEL --rerank RUN`; each fold's topics are scored by the model
    trained on the other folds.
    """
    import time

    from irkit.errors import InputError, IrkitError
    from irkit.io.atomic import check_output
    from irkit.progress import log
    from irkit.rerank.lambdamart import LambdaMARTConfig, train_cv

    check_output(output, force)
    if run is not None:
        check_output(run, force)
    if folds < 0 or folds == 1:
        raise IrkitError("--folds must be 0 (no cross-validation) or at least 2")
    config = LambdaMARTConfig(
        n_estimators=trees,
        learning_rate=learning_rate,
        num_leaves=leaves,
        min_data_in_leaf=min_leaf,
        early_stopping=early_stopping,
        seed=seed,
    )
    start = time.perf_counter()
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
        meta: dict = {"letor": str(letor)}
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
        from irkit.rerank.irgan_cli import lucene_features

        idx = LuceneIndex(index)
        queries = read_topics(topics, topics_format, field=topic_field)
        judgements = read_qrels(qrels, qrels_format)
        if normalise_ids:
            judgements, changed = normalise_docnos(judgements, set(idx.docnos))
            log(f"{qrels}: mapped {changed} judged ids to the index's ids", quiet)
        feats = lucene_features(idx, queries, read_run(candidates), depth, desm, quiet)
        unjudged = sorted(set(feats.qids) - set(judgements["qid"]))
        if unjudged:
            log(f"{len(unjudged)} candidate topics have no judgements and are not trained on", quiet)
        feats = feats.with_labels(judgements)
        meta = {
            "index": str(Path(index).resolve()),
            "candidates": str(candidates),
            "depth": depth,
            "topics": str(topics),
        }
    if feats.labels is None or not (feats.labels > 0).any():
        raise InputError("no candidate is judged relevant: check that the qrels match the candidates' topics and ids")
    model = train_cv(feats, config, folds=folds, full=full, quiet=quiet, meta=meta)
    model.save(output, overwrite=force)
    seconds = time.perf_counter() - start
    trees_kept = [model.boosters[p.name].current_iteration() for p in model.parts]
    typer.echo(
        f"trained LambdaMART ({len(model.parts)} models, {feats.n_features} features, "
        f"{min(trees_kept)}-{max(trees_kept)} trees) in {seconds:.0f} s; wrote {output}"
    )
    if run is not None:
        from irkit.io.trec import write_run

        out = model.run(feats)
        write_run(out, run, tag="lambdamart", overwrite=force)
        typer.echo(f"wrote the cross-validated run of {out['qid'].nunique()} topics to {run}")
