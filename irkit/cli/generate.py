"""``irkit generate``: train, sample and evaluate the generative models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irkit.cli.options import Force, Quiet, Seed
from irkit.errors import InputError

app = typer.Typer(help="Generative models (images, audio, text): train, sample, eval.", no_args_is_help=True)


def _options(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for p in pairs or []:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise InputError(f"--option takes KEY=VALUE, not {p!r}")
        out[key.strip()] = value.strip()
    return out


@app.command("models")
def models_cmd() -> None:
    """List the generative models."""
    from irkit.generative import registry

    for name in registry.names():
        e = registry.get(name)
        typer.echo(f"{name:14s} data: {'|'.join(e.data):14s} {e.help}")


@app.command("train")
def train_cmd(
    model: Annotated[str, typer.Argument(help="A generative model (`irkit generate models`).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model folder to write.")],
    data: Annotated[
        str | None, typer.Option(help="Training data (mnist, digits, speech, abstracts...; model-specific).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs (model default if omitted).")] = None,
    device: Annotated[str, typer.Option(help="auto|cpu|cuda (CUDA used when present, never required).")] = "auto",
    seed: Seed = 0,
    option: Annotated[
        list[str] | None, typer.Option("--option", "-O", help="Model option KEY=VALUE (repeatable).")
    ] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Train a generative model and save it (atomically) to a model folder."""
    from irkit.generative import registry
    from irkit.io.atomic import check_output

    entry = registry.get(model)
    data = data or entry.data[0]
    if data not in entry.data:
        raise InputError(f"{model} trains on {' or '.join(entry.data)}, not {data!r}")
    check_output(output, force)
    summary = registry.recipe(model).train(
        data, output, epochs=epochs, device=device, seed=seed, quiet=quiet, options=_options(option)
    )
    from irkit.provenance import write_sidecar

    write_sidecar(output)  # OUTPUT/provenance.json (irkit/provenance.py)
    typer.echo(f"saved {model} to {output}" + "".join(f"\n  {k}: {v}" for k, v in (summary or {}).items()))


@app.command("sample")
def sample_cmd(
    model_dir: Annotated[Path, typer.Argument(help="A model folder written by `irkit generate train`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where samples go (grid.png, a .wav, a .txt).")],
    n: Annotated[int, typer.Option(help="Number of samples.")] = 64,
    caption: Annotated[str | None, typer.Option(help="Caption for caption-conditioned models (AlignDRAW).")] = None,
    seed: Seed = 0,
    option: Annotated[list[str] | None, typer.Option("--option", "-O", help="Model option KEY=VALUE.")] = None,
    force: Force = False,
    sharpen: Annotated[
        Path | None,
        typer.Option(help="A sharpener folder (`irkit generate train sharpen`) that adds detail to image samples."),
    ] = None,
) -> None:
    """Draw samples from a trained model."""
    from irkit.generative import registry
    from irkit.io.atomic import check_output
    from irkit.nn import model_kind

    if n < 1:
        raise InputError("--n must be at least 1")
    kind = model_kind(model_dir)
    # An existing file is replaced only with --force, and never one inside the model folder;
    # so is its sidecar (OUTPUT.meta.json).
    check_output(output, force, kind="file")
    if output.suffix:  # a file (a folder of samples gets provenance.json inside)
        from irkit.provenance import check_sidecar

        check_sidecar(output, force)
    path = registry.recipe(kind).sample(
        model_dir, n, output, caption=caption, seed=seed, options=_options(option), sharpen=sharpen
    )
    from irkit.provenance import write_sidecar

    write_sidecar(path)  # PATH.meta.json (irkit/provenance.py)
    typer.echo(f"wrote {path}")


@app.command("eval")
def eval_cmd(
    model_dir: Annotated[Path, typer.Argument(help="A model folder written by `irkit generate train`.")],
    option: Annotated[
        list[str] | None, typer.Option("--option", "-O", help="Model option KEY=VALUE (e.g. k=5000).")
    ] = None,
) -> None:
    """Test NLL or bound of a trained model, with the protocol it was measured under."""
    from irkit.generative import registry
    from irkit.nn import model_kind

    kind = model_kind(model_dir)
    result = registry.recipe(kind).evaluate(model_dir, options=_options(option))
    for k, v in result.items():
        typer.echo(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
