"""``irkit compare A.run B.run --qrels Q --output cmp.html``: two runs topic by topic on one static page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irkit.cli.options import Force, NormaliseIds, Quiet


def compare_cmd(
    run_a: Annotated[Path, typer.Argument(metavar="A", help="TREC run file A (the reference).")],
    run_b: Annotated[Path, typer.Argument(metavar="B", help="TREC run file B (compared with A).")],
    qrels: Annotated[Path, typer.Option("--qrels", help="Qrels file (or a built-in name).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML page to write (atomically).")],
    measure: Annotated[str, typer.Option(help="One ir-measures or trec_eval measure (AP or map).")] = "AP",
    index: Annotated[
        Path | None, typer.Option("--index", "-i", help="Lucene index: document snippets with query terms marked.")
    ] = None,
    topics: Annotated[
        Path | None, typer.Option("--topics", "-t", help="Topics (or a built-in name): the query text to show.")
    ] = None,
    depth: Annotated[int, typer.Option(help="Documents shown per topic and run.")] = 10,
    normalise_ids: NormaliseIds = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Write one static page comparing run B with run A: per-topic differences on a measure (sorted bars, wins,
    losses, ties) and, for every judged topic, both rankings side by side with relevance labels, each document's
    move and, with --index, a snippet of its text with the query's terms highlighted."""
    from irkit.cli.core import _qrels
    from irkit.datasets import resolve
    from irkit.errors import InputError
    from irkit.evaluate.compare import compare
    from irkit.io.atomic import check_output

    if output.suffix.lower() not in (".html", ".htm"):
        raise InputError("the comparison page must end in .html", output)
    from irkit.provenance import check_sidecar

    check_output(output, force)  # fail before the work: the page and its sidecar
    check_sidecar(output, force)
    judged = _qrels(qrels, "auto", index, normalise_ids, quiet)  # as irkit eval reads them
    queries = None
    if topics is not None:
        from irkit.io.topics import read_topics

        queries = read_topics(resolve(topics, "topics", quiet=quiet))
    result = compare(run_a, run_b, judged, measure=measure, index=index, queries=queries, depth=depth)
    result.write(output, overwrite=force)
    from irkit.provenance import write_sidecar

    write_sidecar(output)  # OUTPUT.meta.json (irkit/provenance.py)
    c = result.counts
    a, b = result.names
    typer.echo(
        f"{result.measure} over {len(result.per_topic)} judged topics: {a} {result.per_topic['A'].mean():.4f}, "
        f"{b} {result.per_topic['B'].mean():.4f}; {b} wins {c['win']}, loses {c['loss']}, ties {c['tie']}; "
        f"wrote {output}"
    )


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_cmd)
