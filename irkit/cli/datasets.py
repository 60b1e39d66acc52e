"""``irkit datasets``: the built-in collections (shipped inside the package)."""

from __future__ import annotations

from typing import Annotated

import typer


def datasets_cmd(
    name: Annotated[str | None, typer.Argument(help="A dataset: print its files, formats and quirks.")] = None,
) -> None:
    """List the built-in collections; any command taking a collection, topics or qrels path takes their names too."""
    from irkit import datasets

    if name is not None:
        d = datasets.get(name)
        typer.echo(f"{d.name}: {d.title}")
        for kind, path in d.paths.items():
            fmt = f" ({d.format(kind)})" if isinstance(d, datasets.Dataset) and kind in datasets.KINDS else ""
            typer.echo(f"  {kind:9s} {path}{fmt}")
        if getattr(d, "quirks", ""):
            typer.echo(f"  quirks    {d.quirks}")
        typer.echo(f"  origin    {d.source}\n  licence   {d.licence}")
        return
    header = f"{'name':10s} {'documents':>9s} {'topics':>6s} {'judged':>6s} {'qrels':>6s} {'size':>8s}  source"
    typer.echo(header)
    for n in datasets.names():
        d = datasets.get(n)
        size = f"{d.size() / 1e6:.1f} MB"
        if isinstance(d, datasets.Dataset):
            counts = f"{d.n_documents:>9,} {d.n_topics:>6,} {d.n_judged:>6,} {d.n_qrels:>6,}"
        else:
            counts = f"{d.n_images:>9,} {'-':>6s} {'-':>6s} {'-':>6s}"
        typer.echo(f"{n:10s} {counts} {size:>8s}  {d.source}")
    typer.echo(
        "Use a name wherever a path goes: irkit index cranfield -i indexes/cranfield; --topics cranfield --qrels cranfield"
    )
    typer.echo("ir_datasets' collections by name, from its cache (IR_DATASETS_HOME): irds:NAME, e.g. irds:cranfield")


def register(app: typer.Typer) -> None:
    app.command("datasets")(datasets_cmd)
