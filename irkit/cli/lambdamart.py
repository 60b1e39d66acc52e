"""``irkit train lambdamart``: LambdaMART (LightGBM lambdarank) per cross-validation fold.

Features come from a Lucene index for each topic's candidates or from a LETOR
file, read as ``irkit train irgan`` reads them (:func:`irkit.cli.features.training_features`);
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
