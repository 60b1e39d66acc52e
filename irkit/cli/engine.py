"""``irkit shard``, and the ``--engine`` options that ``irkit rank`` and ``irkit encode`` share.

Ray is imported only when ``--engine ray`` is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from irkit.cli.options import Force, Quiet
from irkit.errors import IrkitError

if TYPE_CHECKING:
    import pandas as pd

    from irkit.registry import RankRequest


def engine_from_options(engine: str, workers: int | None, shards: int | None, ray_address: str | None):
    """The :class:`irkit.engine.EngineConfig` of the command-line options (0 means not given)."""
    from irkit.engine import EngineConfig

    return EngineConfig(name=engine, workers=workers or None, shards=shards or None, address=ray_address or None)


def rank_on_engine(model: str, pipeline: str | None, given: dict[str, str], flags: dict[str, Any],
                   request: RankRequest, engine) -> tuple[pd.DataFrame, str]:  # fmt: skip
    """``irkit rank --engine ray``: the run of ``--model`` on the engine, and its default tag."""
    from irkit import engine as engines
    from irkit.cli.rank import model_options
    from irkit.engine.cluster import shutdown

    if pipeline is not None:
        raise IrkitError("--engine ray runs one --model, not a --pipeline")
    request.options = model_options(model, given, flags, request.quiet)
    try:
        return engines.rank(model, request, engine), model
    finally:
        shutdown()


def shard_cmd(
    index: Annotated[Path, typer.Argument(help="irkit index folder with an impact part.")],
    shards: Annotated[int, typer.Option("--shards", "-s", help="Number of document shards.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Shard set folder to write (atomically).")],
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Split an index's impact part into document shards for `irkit rank --engine ray --index DIR`.

    Each shard folder holds its documents' postings and the whole index's statistics, so that
    its scores are the unsharded ones; every shard records the identity of its index.
    """
    from irkit.engine.shards import write_shards
    from irkit.io.atomic import check_output

    check_output(output, force)
    sset = write_shards(index, shards, output, overwrite=force, quiet=quiet)
    sizes = ", ".join(f"{hi - lo:,}" for _, (lo, hi) in sset.shards)
    typer.echo(f"wrote {len(sset.shards)} shards of {index} ({sizes} documents) to {output} (identity {sset.identity})")


def register(app: typer.Typer) -> None:
    app.command("shard")(shard_cmd)
