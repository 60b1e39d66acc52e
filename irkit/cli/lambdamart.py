"""``irkit train lambdamart``: LambdaMART (LightGBM lambdarank) per cross-validation fold.

Features come from a Lucene index for each topic's candidates or from a LETOR
file, read as ``irkit train irgan`` reads them (:func:`irkit.cli.features.training_features`);
folds and the model that scores each topic follow IRGAN's rules
(:mod:`irkit.rerank.lambdamart`). Ranking is the registry's stage
(``irkit rank --model lambdamart --lambdamart MODEL --rerank RUN``).

This module is imported by ``irkit --help``: heavy imports stay inside functions.
"""

from __future__ import annotations

from typing import Annotated

import typer

from irkit.cli.options import (
    Candidates,
    CvRun,
    Depth,
    DesmFeatures,
    Folds,
    Force,
    Full,
    Letor,
    ModelOutput,
    NormaliseIds,
    QrelsFormat,
    Quiet,
    TopicField,
    TopicsFormat,
    TrainIndex,
    TrainQrels,
    TrainTopics,
    number_in,
)


def train_command(
    output: ModelOutput,
    index: TrainIndex = None,
    topics: TrainTopics = None,
    qrels: TrainQrels = None,
    candidates: Candidates = None,
    letor: Letor = None,
    folds: Folds = 5,
    full: Full = True,
    trees: Annotated[int, typer.Option(help="Boosting rounds at most (early stopping picks fewer).")] = 500,
    learning_rate: Annotated[float, typer.Option(help="Shrinkage.", callback=number_in(0, low_open=True))] = 0.05,
    leaves: Annotated[int, typer.Option(help="Leaves per tree.")] = 15,
    min_leaf: Annotated[int, typer.Option(help="Least rows in a leaf.")] = 20,
    early_stopping: Annotated[
        int, typer.Option(help="Stop after this many rounds without a better validation nDCG@10 (0: never).")
    ] = 50,
    depth: Depth = 100,
    desm: DesmFeatures = None,
    seed: Annotated[int, typer.Option(help="Seed of the folds and of LightGBM.")] = 0,
    run: CvRun = None,
    topics_format: TopicsFormat = "auto",
    topic_field: TopicField = "title",
    qrels_format: QrelsFormat = "auto",
    normalise_ids: NormaliseIds = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Train LambdaMART (LightGBM lambdarank) on judged topics, with IRGAN's cross-validation folds.

    From a Lucene index: --index, --topics, --qrels and --candidates. From LETOR
    data: --letor alone. Rank afterwards with `irkit rank --model lambdamart
    --lambdamart MODEL --rerank RUN`; each fold's topics are scored by the model
    trained on the other folds.
    """
    import time

    from irkit.cli.features import training_features
    from irkit.io.atomic import check_output
    from irkit.rerank.lambdamart import LambdaMARTConfig, train_cv

    check_output(output, force)
    if run is not None:
        check_output(run, force)
    from irkit.rerank.learned import check_folds

    check_folds(folds)
    config = LambdaMARTConfig(
        n_estimators=trees,
        learning_rate=learning_rate,
        num_leaves=leaves,
        min_data_in_leaf=min_leaf,
        early_stopping=early_stopping,
        seed=seed,
    )
    start = time.perf_counter()
    feats, _, meta = training_features(
        index=index,
        topics=topics,
        qrels=qrels,
        candidates=candidates,
        letor=letor,
        desm=desm,
        depth=depth,
        topics_format=topics_format,
        topic_field=topic_field,
        qrels_format=qrels_format,
        normalise_ids=normalise_ids,
        quiet=quiet,
    )
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
