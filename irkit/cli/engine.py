"""``irkit shard``, and the ``--engine`` options that ``irkit rank`` and ``irkit encode`` share.

Ray is imported only when ``--engine ray`` is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irkit.cli.options import Force, Quiet


def engine_from_options(engine: str, workers: int | None, shards: int | None, ray_address: str | None):
    """The :class:`irkit.engine.EngineConfig` of the command-line options (0 means not given)."""
    from irkit.engine.config import EngineConfig

    return EngineConfig(name=engine, workers=workers or None, shards=shards or None, address=ray_address or None)


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
