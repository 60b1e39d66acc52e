"""``irkit train irgan`` and ``irkit rank --model irgan``: IRGAN as a reranker of candidate runs.

Training computes features for each topic's candidates (from a Lucene index,
or read from a LETOR file), trains one model per cross-validation fold and
writes one model folder. Ranking scores a topic with the fold model that did not
train on it, so the concatenated run is free of leakage.

This module is imported by ``irkit --help``: heavy imports stay inside functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import pandas as pd

    from irkit.io.letor import Features
    from irkit.registry import RankRequest


def candidate_pairs(queries: pd.DataFrame, candidates: pd.DataFrame, depth: int, quiet: bool = False) -> pd.DataFrame:
    """``qid, query, docno`` of each topic's top ``depth`` candidates.

    Candidates of topics the topics file lacks are an error; topics without
    candidates are counted and left out.
    """
    from irkit.errors import InputError
    from irkit.frames import cut_run, queries_frame, run_frame
    from irkit.progress import log

    queries = queries_frame(queries)
    cand = cut_run(run_frame(candidates), depth)
    unknown = sorted(set(cand["qid"]) - set(queries["qid"]))
    if unknown:
        raise InputError(f"the candidate run has {len(unknown)} topic(s) that the topics file lacks: {unknown[:5]}")
    have = set(cand["qid"])
    absent = [q for q in queries["qid"] if q not in have]
    if absent:
        log(
            f"the candidate run has no documents for {len(absent)} of {len(queries)} topics (e.g. {', '.join(absent[:5])}); they are left out",
            quiet,
        )
    return cand.merge(queries, on="qid", how="left")[["qid", "query", "docno"]]


def lucene_features(index, queries: pd.DataFrame, candidates: pd.DataFrame, depth: int = 100,
                    desm: Path | None = None, quiet: bool = False) -> Features:  # fmt: skip
    """Normalised features of the candidates' top ``depth`` documents per topic."""
    from irkit.rerank.features import FeatureExtractor

    pairs = candidate_pairs(queries, candidates, depth, quiet)
    return FeatureExtractor(index, desm=desm).extract(pairs, quiet=quiet)


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
            f"--use must be one of {', '.join(USES)} (d: discriminator, g: generator, mle: pretrained ranker)"
        )
    return use


def rank(request: RankRequest) -> pd.DataFrame:
    """``irkit rank --model irgan --irgan MODEL --rerank RUN [--use d|g|mle] [--desm MODEL]``."""
    from irkit.rerank.features import feature_names

    use = _use(request.option("use"))
    model = _load(Path(request.require("irgan")))
    desm = request.option("desm")
    # Check the feature set before any work.
    model.check_features(feature_names(desm is not None), "lucene")
    index = request.require_index()
    candidates = request.require_candidates()
    trained_depth = model.meta.get("depth")
    if trained_depth and trained_depth != request.depth:
        from irkit.progress import log

        # features are normalised within each topic's candidates, so their number shifts them
        log(f"the model was trained on {trained_depth} candidates per topic, --depth is {request.depth}", request.quiet)
    feats = lucene_features(index, request.queries, candidates, request.depth, desm, request.quiet)
    if len(feats) == 0:
        from irkit.errors import InputError

        raise InputError("no candidates to rerank")
    return cv_run(model, feats, use)


def rank_letor(model_path: str | Path, letor_path: str | Path, use: str = "d") -> pd.DataFrame:
    """Rank the documents of a LETOR file with a model trained on LETOR features."""
    from irkit.io.letor import read_letor

    model = _load(Path(model_path))
    feats = read_letor(letor_path).normalised()
    model.check_features(feats.names, "letor")
    return cv_run(model, feats, _use(use))


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

    from irkit.errors import InputError, IrkitError
    from irkit.io.atomic import check_output
    from irkit.progress import log
    from irkit.rerank.irgan import IRGANConfig, train_cv

    if not (resume and output.exists()):
        check_output(output, force)
    if run is not None:
        check_output(run, force)
    _use(use)
    if folds < 0 or folds == 1:
        raise IrkitError("--folds must be 0 (no cross-validation) or at least 2")
    config = IRGANConfig(
        hidden=hidden,
        variant=variant,
        temperature=temperature,
        epochs=epochs,
        pretrain_epochs=pretrain_epochs,
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
    try:
        model = train_cv(
            feats, judgements, config, folds=folds, full=full, output=output, resume=resume, quiet=quiet, meta=meta
        )
    except KeyboardInterrupt:
        if output.exists():
            import sys

            print(
                f"irkit: {output} keeps the last checkpoint (finished folds rank their topics); "
                "rerun with --resume to train the rest",
                file=sys.stderr,
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
