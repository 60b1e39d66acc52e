"""``irkit faiss build|info``: FAISS indexes over document vectors from ``irkit encode``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irkit.cli.options import Force, Quiet

app = typer.Typer(help="FAISS indexes over dense document vectors.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """FAISS indexes over dense document vectors (see `irkit faiss build --help`)."""


@app.command("build")
def build_cmd(
    vectors: Annotated[Path, typer.Argument(help="Vector file written by `irkit encode` (.npz).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="FAISS index folder to write (atomically).")],
    type: Annotated[str, typer.Option("--type", help="flat (exact) | hnsw | ivf (approximate).")] = "flat",
    metric: Annotated[str, typer.Option(help="ip (inner product; cosine for irkit's unit vectors) | l2.")] = "ip",
    encoder: Annotated[
        Path | None, typer.Option(help="Encoder folder to record (default: the one the vectors name).")
    ] = None,
    m: Annotated[int, typer.Option(help="[hnsw] neighbours per node.")] = 32,
    ef_construction: Annotated[int, typer.Option(help="[hnsw] candidate list while building.")] = 200,
    ef_search: Annotated[int, typer.Option(help="[hnsw] candidate list while searching (stored).")] = 256,
    nlist: Annotated[int, typer.Option(help="[ivf] k-means cells (0: about 4 sqrt(n)).")] = 0,
    nprobe: Annotated[int, typer.Option(help="[ivf] cells visited per search (stored).")] = 16,
    threads: Annotated[int, typer.Option(help="FAISS threads (default: all cores).")] = 0,
    seed: Annotated[int, typer.Option(help="[ivf] k-means seed.")] = 0,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Build a FAISS index (exact inner product by default) that stores its docno mapping and encoder."""
    import time

    from irkit.dense.faiss_index import build_faiss
    from irkit.errors import InputError
    from irkit.io.atomic import check_output

    for name, value in (("m", m), ("ef-construction", ef_construction), ("ef-search", ef_search), ("nprobe", nprobe)):
        if value < 1:
            raise InputError(f"--{name} must be at least 1")
    if encoder is not None and not encoder.is_dir():
        raise InputError("no such encoder folder", encoder)
    check_output(output, force)
    start = time.perf_counter()
    index = build_faiss(
        vectors, output, type=type, metric=metric, encoder=str(encoder) if encoder else None, nlist=nlist or None,
        nprobe=nprobe, m=m, ef_construction=ef_construction, ef_search=ef_search, seed=seed,
        threads=threads or None, overwrite=force,
    )  # fmt: skip
    from irkit.provenance import write_sidecar

    write_sidecar(output)  # OUTPUT/provenance.json (irkit/provenance.py)
    note = "" if index.encoder else " (no encoder recorded: pass -O encoder=MODEL to `irkit rank`)"
    if quiet:
        return
    typer.echo(
        f"built a {type} {metric} FAISS index of {len(index):,} {index.dim}-d vectors in {output} in {time.perf_counter() - start:.1f} s{note}"
    )


@app.command("info")
def info_cmd(index: Annotated[Path, typer.Argument(help="FAISS index folder.")]) -> None:
    """Show what a FAISS index folder holds."""
    from irkit.dense.faiss_index import FaissIndex

    idx = FaissIndex(index)
    for key in ("type", "metric", "dim", "count", "params", "encoder", "encoder_kind"):
        typer.echo(f"{key}: {idx.meta.get(key)}")
