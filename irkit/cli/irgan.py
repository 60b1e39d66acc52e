"""``irkit train irgan``: IRGAN (Wang et al., SIGIR'17) trained per cross-validation fold (:mod:`irkit.rerank.irgan`)."""

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
    variant: Annotated[str, typer.Option(help="pointwise|pairwise.")] = "pointwise",
    folds: Folds = 5,
    full: Full = True,
    epochs: Annotated[int, typer.Option(help="Adversarial rounds.")] = 15,
    pretrain_epochs: Annotated[int, typer.Option(help="Epochs of MLE pretraining.")] = 30,
    hidden: Annotated[int, typer.Option(help="Hidden units of D and G.")] = 46,
    temperature: Annotated[
        float, typer.Option(help="G's softmax temperature.", callback=number_in(0, low_open=True))
    ] = 1.0,
    depth: Depth = 100,
    desm: DesmFeatures = None,
    seed: Annotated[int, typer.Option(help="Seed of folds, sampling and initialisation.")] = 0,
    run: CvRun = None,
    use: Annotated[str, typer.Option(help="Scorer for --run: d|g|mle.")] = "d",
    topics_format: TopicsFormat = "auto",
    topic_field: TopicField = "title",
    qrels_format: QrelsFormat = "auto",
    normalise_ids: NormaliseIds = False,
    resume: Annotated[bool, typer.Option("--resume", help="Keep the folds an interrupted training finished.")] = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Train IRGAN (Wang et al., SIGIR'17) on judged topics, with cross-validation folds.

    From a Lucene index: --index, --topics, --qrels and --candidates. From LETOR
    data: --letor alone. Rank afterwards with `irkit rank --model irgan --irgan MODEL
    --rerank RUN --use d|g|mle`; each fold's topics are scored by the model trained
    on the other folds.
    """
    import time

    from irkit.io.atomic import check_output
    from irkit.rerank.irgan import IRGANConfig, train_cv
    from irkit.rerank.irgan_rank import _use, cv_run

    if not (resume and output.exists()):
        check_output(output, force)
    if run is not None:
        check_output(run, force)
    _use(use)
    from irkit.rerank.learned import check_folds

    check_folds(folds)
    config = IRGANConfig(
        hidden=hidden,
        variant=variant,
        temperature=temperature,
        epochs=epochs,
        pretrain_epochs=pretrain_epochs,
        seed=seed,
    )
    start = time.perf_counter()
    from irkit.cli.features import training_features

    feats, judgements, meta = training_features(
        index=index, topics=topics, qrels=qrels, candidates=candidates, letor=letor, desm=desm, depth=depth,
        topics_format=topics_format, topic_field=topic_field, qrels_format=qrels_format,
        normalise_ids=normalise_ids, quiet=quiet,
    )  # fmt: skip
    try:
        model = train_cv(
            feats, judgements, config, folds=folds, full=full, output=output, resume=resume, quiet=quiet, meta=meta
        )
    except KeyboardInterrupt:
        if output.exists():
            from irkit.cli import kept_on_interrupt

            kept_on_interrupt(
                f"{output} keeps the last whole checkpoint (finished folds rank their topics); "
                "rerun with --resume to train the rest",
                output,  # kept although the command's other outputs are rolled back
            )
        raise
    seconds = time.perf_counter() - start
    typer.echo(
        f"trained IRGAN-{variant} ({len(model.parts)} models, {feats.n_features} features) in {seconds:.0f} s; wrote {output}"
    )
    if run is not None:
        from irkit.io.trec import write_run

        out = cv_run(model, feats, use)
        write_run(out, run, tag=f"irgan-{variant}-{use}", overwrite=force)
        typer.echo(f"wrote the cross-validated run ({use}) of {out['qid'].nunique()} topics to {run}")
