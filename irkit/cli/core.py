"""``irkit index``, ``rank``, ``eval``, ``leaderboard`` and ``models``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from irkit.cli.options import (
    MAX_HITS,
    MAX_THREADS,
    Force,
    NormaliseIds,
    QrelsFormat,
    Quiet,
    TopicField,
    TopicsFormat,
    number_in,
)
from irkit.errors import InputError, IrkitError

Ties = Annotated[
    str, typer.Option(help="Score ties: trec_eval (as trec_eval re-sorts a run file) or file (irkit's order).")
]


def _echo(text: str) -> None:
    typer.echo(text)


def _qrels(path: Path, fmt: str, index: Path | None, normalise: bool, quiet: bool):
    """Read qrels; with an index, count (and optionally map) judged docs it lacks."""
    from irkit.datasets import resolve_qrels
    from irkit.io.trec import normalise_docnos, read_qrels
    from irkit.progress import log

    path, fmt = resolve_qrels(path, fmt, quiet=quiet)  # a built-in name works too
    qrels = read_qrels(path, fmt, quiet=quiet)
    if index is None:
        if normalise:
            raise IrkitError("--normalise-ids needs --index (the index says which ids exist)")
        return qrels
    from irkit.index import LuceneIndex

    docnos = set(LuceneIndex(index).docnos)
    if normalise:
        qrels, changed = normalise_docnos(qrels, docnos)
        log(f"{path}: mapped {changed} judged ids to the index's ids (e.g. CACM-756 -> CACM-0756)", quiet)
    missing = ~qrels["docno"].isin(docnos)
    if missing.any():
        example = qrels.loc[missing, "docno"].iloc[0]
        fixable = 0 if normalise else normalise_docnos(qrels, docnos)[1]
        hint = f"; --normalise-ids maps {fixable} of them that differ only in zero padding" if fixable else ""
        print(
            f"irkit: warning: {path}: {int(missing.sum())} of {len(qrels)} judgements name documents "
            f"that are not in the index (e.g. {example}){hint}",
            file=sys.stderr,
        )
    return qrels


def _runs(paths: list[Path]) -> dict:
    from irkit.io.trec import read_run

    runs = {}
    for p in paths:
        name = p.stem if p.stem not in runs else str(p)
        runs[name] = read_run(p)
    return runs


def index_cmd(
    path: Annotated[
        Path,
        typer.Argument(
            help="Collection: a file, folder or archive (.tar.gz), a built-in name (`irkit datasets`) "
            "or an ir_datasets name (irds:cranfield)."
        ),
    ],
    index: Annotated[Path | None, typer.Option("--index", "-i", help="Index folder to create.")] = None,
    format: Annotated[
        str, typer.Option(help="auto|jsonl|beir|trec|smart|cacm-html|archive; auto says what it chose.")
    ] = "auto",
    threads: Annotated[
        int, typer.Option(help="Indexing threads (default: all cores).", callback=number_in(0, MAX_THREADS))
    ] = 0,
    fields: Annotated[
        str | None,
        typer.Option(help="irds: collections: the document fields to index, comma separated (default_text())."),
    ] = None,
    impact_only: Annotated[
        bool,
        typer.Option(
            "--impact-only", help="PATH is an existing irkit index: add its impact part (fast BM25) and stop."
        ),
    ] = False,
    docvectors: Annotated[
        bool,
        typer.Option(
            "--docvectors",
            help="Store document vectors now (only RM3 reads them; without this they are added the first "
            "time RM3 runs on the index).",
        ),
    ] = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Build an index: Lucene's (for BM25, QL, RM3, rerankers) and irkit's impact part (fast BM25).

    Lucene indexes in irkit's JVM as Anserini's IndexCollection would (Porter stemming,
    stopwords removed; frequencies, norms and text stored; no positions; document vectors
    with --docvectors or on RM3's first use).
    Everything is written to a temporary folder and renamed into place.
    """
    from irkit.datasets import resolve
    from irkit.index import build_index

    if impact_only:
        from irkit.index import add_impact

        ix = add_impact(path, force=force, quiet=quiet)
        _echo(f"added the impact index ({ix.num_terms:,} terms, {ix.meta['postings']:,} postings) to {path}")
        return
    if index is None:
        raise InputError("--index is required (the index folder to create)")
    path = resolve(path, "documents", quiet=quiet, fields=fields)  # a built-in or irds: name works too
    idx = build_index(
        path, index, format=format, threads=threads or None, force=force, quiet=quiet, docvectors=docvectors
    )
    from irkit.provenance import write_sidecar

    write_sidecar(index)  # index/provenance.json: how it was built (irkit/provenance.py)
    meta = idx.meta
    stored = [{"raw": "text", "docvectors": "document vectors"}.get(x, x) for x in meta["stored"]]
    built = f"Lucene ({', '.join(['frequencies', 'norms', *stored])}) {meta['indexing_seconds']:.1f} s"
    import json

    from irkit.index.impact import has_impact, impact_path

    if has_impact(index):
        im = json.loads((impact_path(index) / "meta.json").read_text())
        built += f", impact part ({im['num_terms']:,} terms, {im['postings']:,} postings) {im['seconds']:.1f} s"
    _echo(f"indexed {meta['documents']:,} documents ({meta['format']}) into {index}: {built}")


def rank_cmd(
    topics: Annotated[
        Path, typer.Option("--topics", "-t", help="Topics: TREC <top>, CACM, SMART .I/.W, BEIR jsonl or TSV.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="TREC run file to write.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="A registered model (`irkit models` lists them).")
    ] = "bm25",
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-O", metavar="KEY=VALUE", help="Model option (repeatable; `irkit models` lists them)."
        ),
    ] = None,
    pipeline: Annotated[
        str | None,
        typer.Option(metavar="EXPR", help='A pipeline instead of --model: "bm25 % 100 >> desm(model=DIR, alpha=0.3)".'),
    ] = None,
    index: Annotated[Path | None, typer.Option("--index", "-i", help="Lucene index folder.")] = None,
    rerank: Annotated[Path | None, typer.Option(help="Candidate run to rerank instead of retrieving.")] = None,
    depth: Annotated[
        int, typer.Option(help="Candidates per topic reranked from --rerank.", callback=number_in(1, MAX_HITS))
    ] = 100,
    keep_rest: Annotated[
        bool,
        typer.Option(
            "--keep-rest",
            help="With --rerank: the candidates not reranked follow the reranked ones, in their own order "
            "(PyTerrier's ^: (run % DEPTH >> model) ^ run).",
        ),
    ] = False,
    hits: Annotated[int, typer.Option(help="Documents retrieved per topic.", callback=number_in(1, MAX_HITS))] = 1000,
    qrels: Annotated[
        Path | None, typer.Option(help="Qrels, for options given as auto (-O alpha=auto: tuned by cross-validation).")
    ] = None,
    topics_format: TopicsFormat = "auto",
    topic_field: TopicField = "title",
    threads: Annotated[
        int, typer.Option(help="Search threads (default: all cores).", callback=number_in(0, MAX_THREADS))
    ] = 0,
    backend: Annotated[
        str | None,
        typer.Option(help="(bm25, ql) impact (irkit's impact index; default when the index has one) or lucene."),
    ] = None,
    engine: Annotated[str, typer.Option(help="Where to run: local, or ray (see README, Scale-out).")] = "local",
    workers: Annotated[int, typer.Option(help="(ray) Worker actors (default: the cluster's CPUs).")] = 0,
    shards: Annotated[int, typer.Option(help="(ray, bm25) Document shards, one actor each (default: --workers).")] = 0,
    ray_address: Annotated[
        str | None, typer.Option(help="(ray) Cluster HOST:PORT (default: RAY_ADDRESS, else start a local one).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed for models that sample.")] = 0,
    tag: Annotated[str | None, typer.Option(help="Run tag in the file (default: the model name).")] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Rank topics with a model (options: -O key=value) or a --pipeline, and write a TREC run file."""
    from irkit import registry
    from irkit.cli.engine import engine_from_options
    from irkit.cli.rank import parse_assignments, rank, rank_frame
    from irkit.io.atomic import check_output
    from irkit.io.topics import read_topics
    from irkit.io.trec import read_qrels, read_run, write_run

    given = parse_assignments(option)
    if backend is not None:  # --backend X is -O backend=X
        if "backend" in given:
            raise InputError("--backend and -O backend= are both given; keep one")
        given["backend"] = backend
    if pipeline is None:
        registry.get(model)  # an unknown model fails before the work
    if hits < 1 or depth < 1:
        raise InputError("--hits and --depth must be at least 1")
    if keep_rest and rerank is None:
        raise InputError("--keep-rest keeps the rest of a candidate run: give it with --rerank RUN")
    cfg = engine_from_options(engine, workers, shards, ray_address)
    from irkit.provenance import check_sidecar, collect, write_sidecar

    check_output(output, force, kind="run")  # fail before the work, not after: the run,
    check_sidecar(output, force)  # and its sidecar (OUTPUT.meta.json)
    from irkit.datasets import resolve, resolve_qrels

    topics = resolve(topics, "topics", quiet=quiet)  # a built-in name works too
    queries = read_topics(topics, topics_format, field=topic_field)
    context = registry.Context(
        index=index,
        hits=hits,
        threads=threads or None,
        seed=seed,
        quiet=quiet,
        qrels=read_qrels(*resolve_qrels(qrels, quiet=quiet), quiet=quiet) if qrels else None,
    )
    candidates = read_run(rerank) if rerank else None
    frame = rank_frame(queries, candidates, depth)
    run, default_tag = rank(model, pipeline, given, context, cfg, frame)  # local, or on a Ray cluster (irkit/engine/)
    if keep_rest:
        from irkit.pipeline import concat_runs

        run = concat_runs(run, candidates)
    # OUTPUT.meta.json: command, parameters (and the model's full options), index, inputs, versions;
    # collected first, so that the run and its sidecar are written one after the other.
    record = collect(output, model=None if pipeline else (model, given))
    write_run(run, output, tag=tag or default_tag, overwrite=force)
    side = write_sidecar(output, record=record, overwrite=force)
    _echo(f"wrote {len(run):,} results for {run['qid'].nunique()} topics to {output} (provenance: {side.name})")


def eval_cmd(
    runs: Annotated[list[Path], typer.Argument(help="TREC run files.")],
    qrels: Annotated[
        Path,
        typer.Option("--qrels", help="Qrels: TREC, BEIR TSV or Cranfield (3 columns); a built-in name or irds:NAME."),
    ],
    measures: Annotated[
        str, typer.Option(help="ir-measures names (AP nDCG@10) or trec_eval names (map ndcg_cut_10), space separated.")
    ] = "nDCG@10 AP P@10 R@100 RR",
    per_query: Annotated[bool, typer.Option("--per-query", help="One row per topic.")] = False,
    qrels_format: QrelsFormat = "auto",
    ties: Ties = "trec_eval",
    index: Annotated[Path | None, typer.Option(help="Index, to warn about judged documents it lacks.")] = None,
    normalise_ids: NormaliseIds = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write the table (.csv or .json).")] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Evaluate runs with ir-measures and print a table (means over judged topics that were run)."""
    import pandas as pd

    from irkit.evaluate import evaluate, parse_measures
    from irkit.io.atomic import atomic_file, check_output
    from irkit.provenance import check_sidecar, collect, write_sidecar

    ms = parse_measures(measures)
    if output is not None:
        if output.suffix.lower() not in (".csv", ".json"):
            raise InputError("--output must end in .csv or .json", output)
        check_output(output, force)  # the table and its sidecar, before the work
        check_sidecar(output, force)
    q = _qrels(qrels, qrels_format, index, normalise_ids, quiet)
    tables = []
    loaded = _runs(runs)
    from irkit.evaluate.leaderboard import depth_note
    from irkit.progress import warn

    note = depth_note(loaded)  # AP and recall of runs of different depths are not comparable
    if note:
        warn(note)
    for name, run in loaded.items():
        t = evaluate(run, q, ms, per_query=per_query, ties=ties)
        t.insert(0, "run", name)
        tables.append(t)
    table = pd.concat(tables, ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_rows", 10000):
        _echo(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    from irkit.evaluate.measures import MISSING_TOPICS_RULE

    order = "score ties broken as trec_eval breaks them" if ties == "trec_eval" else "score ties in file order"
    _echo(f"({MISSING_TOPICS_RULE}; {order})")
    if output is not None:
        record = collect(output)
        with atomic_file(output, overwrite=force) as fh:
            fh.write(
                table.to_csv(index=False)
                if output.suffix.lower() == ".csv"
                else table.to_json(orient="records", indent=2)
            )
        side = write_sidecar(output, record=record, overwrite=force)
        from irkit.progress import log

        log(f"wrote {output} (provenance: {side.name})", quiet)


def leaderboard_cmd(
    runs: Annotated[list[Path], typer.Argument(help="TREC run files.")],
    qrels: Annotated[Path, typer.Option("--qrels", help="Qrels file, a built-in name or irds:NAME.")],
    baseline: Annotated[Path | None, typer.Option(help="Run to test the others against (one of RUN...).")] = None,
    measures: Annotated[
        str, typer.Option(help="ir-measures or trec_eval names (AP or map); the first ranks the board.")
    ] = "nDCG@10 AP P@10 R@100 RR",
    test: Annotated[str, typer.Option(help="Paired test: t|wilcoxon|randomization.")] = "t",
    correction: Annotated[str, typer.Option(help="Multiple-testing correction: holm|bonferroni|none.")] = "holm",
    level: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    qrels_format: QrelsFormat = "auto",
    ties: Ties = "trec_eval",
    index: Annotated[Path | None, typer.Option(help="Index, to warn about judged documents it lacks.")] = None,
    normalise_ids: NormaliseIds = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Report: .md, .html, .csv or .tex (booktabs); a per-topic plot (.png) goes beside it.",
        ),
    ] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Rank runs by the first measure, with paired significance tests against a baseline."""
    import pandas as pd

    from irkit.evaluate.leaderboard import leaderboard, plot_differences, write_report
    from irkit.evaluate.report import FORMATS, to_text
    from irkit.io.atomic import check_output
    from irkit.provenance import check_sidecar, collect, write_sidecar

    paths = [*runs, baseline] if baseline is not None and baseline not in runs else list(runs)
    # The report, its sidecar and the plot beside it (with a baseline and another run), before the work.
    png = output.with_suffix(".png") if output is not None and baseline is not None and len(set(paths)) > 1 else None
    if output is not None:
        if output.suffix.lower() not in FORMATS:
            raise InputError("report must end in .md, .html, .csv or .tex", output)
        check_output(output, force)
        check_sidecar(output, force)
        if png is not None:
            check_output(png, force, kind="plot", beside=output)
    loaded = _runs(paths)
    base_name = None
    if baseline is not None:
        base_name = next(n for n, p in zip(loaded, paths, strict=True) if Path(p) == baseline)
    q = _qrels(qrels, qrels_format, index, normalise_ids, quiet)
    table = leaderboard(
        loaded, q, measures, baseline=base_name, test=test, correction=correction, level=level, ties=ties
    )
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        _echo(to_text(table))
    if table.attrs.get("rule"):
        _echo(f"({table.attrs['rule']})")
    if table.attrs.get("depths"):
        from irkit.progress import warn

        warn(table.attrs["depths"])
    from irkit.provenance import format_differences, read_sidecar

    settings = format_differences({n: read_sidecar(p) for n, p in zip(loaded, paths, strict=True)})
    if settings:  # where the runs' recorded settings differ
        _echo(settings)
    if output is not None:
        record = collect(output)
        if png is not None:
            plot_differences(loaded, q, base_name, str(table.columns[1]), png, overwrite=force)
        write_report(table, output, overwrite=force, plot=png.name if png is not None else None)
        side = write_sidecar(output, record=record, overwrite=force)
        _echo(f"wrote {output}" + (f" and {png}" if png is not None else "") + f" (provenance: {side.name})")


def models_cmd() -> None:
    """List the registered models."""
    from irkit import registry

    for name in registry.names():
        e = registry.get(name)
        opts = " ".join(f"-O {n}={'...' if d is None else d}" for n, d in registry.option_defaults(e))
        train = " (trainable: irkit train " + name + ")" if e.train else ""
        ray = f"\n{'':21s}--engine ray: {registry.SCALES[e.scale]}"  # how the registry says it scales
        _echo(f"{name:10s} {e.kind:9s} {e.help}{train}" + (f"\n{'':21s}options: {opts}" if opts else "") + ray)


def register_core(app: typer.Typer) -> None:
    app.command("index")(index_cmd)
    app.command("rank")(rank_cmd)
    app.command("eval")(eval_cmd)
    app.command("leaderboard")(leaderboard_cmd)
    app.command("models")(models_cmd)
