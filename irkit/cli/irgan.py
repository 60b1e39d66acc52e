"""``irkit train irgan``: IRGAN (Wang et al., SIGIR'17) trained per cross-validation fold (:mod:`irkit.rerank.irgan`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irkit.rerank.irgan_rank import _use, cv_run


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
    variant: Annotated[str, typer.Option(help="pointwise|pairwise.")] = "pointwise",
    folds: Annotated[int, typer.Option(help="Cross-validation folds over topics (0: one model on all topics).")] = 5,
    full: Annotated[
        bool, typer.Option("--full/--no-full", help="Also train a model on all topics, for topics outside the folds.")
    ] = True,
    epochs: Annotated[int, typer.Option(help="Adversarial rounds.")] = 15,
    pretrain_epochs: Annotated[int, typer.Option(help="Epochs of MLE pretraining.")] = 30,
    hidden: Annotated[int, typer.Option(help="Hidden units of D and G.")] = 46,
    temperature: Annotated[float, typer.Option(help="G's softmax temperature.")] = 1.0,
    depth: Annotated[int, typer.Option(help="Candidates per topic.")] = 100,
    desm: Annotated[Path | None, typer.Option(help="DESM model folder: add DESM IN-OUT and IN-IN features.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of folds, sampling and initialisation.")] = 0,
    run: Annotated[Path | None, typer.Option(help="Also write the cross-validated run of the training topics.")] = None,
    use: Annotated[str, typer.Option(help="Scorer for --run: d|g|mle.")] = "d",
    topics_format: Annotated[str, typer.Option(help="auto|trec|cacm|smart|beir|tsv")] = "auto",
    topic_field: Annotated[str, typer.Option(help="TREC topic field: title|desc|narr")] = "title",
    qrels_format: Annotated[str, typer.Option(help="auto|trec|beir|cranfield")] = "auto",
    normalise_ids: Annotated[
        bool, typer.Option("--normalise-ids", help="Map judged ids to index ids by number (CACM-756 -> CACM-0756).")
    ] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Keep the folds an interrupted training finished.")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace an existing model folder.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
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
                "rerun with --resume to train the rest"
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
