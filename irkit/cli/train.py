"""``irkit train NAME``: one sub-command per registered trainable model."""

from __future__ import annotations

from pathlib import Path

import typer

from irkit import registry

train_app = typer.Typer(help="Train a model on a collection (see `irkit train NAME --help`).", no_args_is_help=True)


def _with_provenance(command):
    """The trainer with built-in names for --topics/--qrels, then the model folder's provenance
    (``OUTPUT/provenance.json``, irkit/provenance.py)."""
    import functools

    @functools.wraps(command)  # typer reads the wrapped signature
    def train(*args, **kwargs):
        from irkit.datasets import resolve, resolve_qrels

        quiet = bool(kwargs.get("quiet"))
        if kwargs.get("topics") is not None:  # a built-in name works too (`irkit datasets`)
            kwargs["topics"] = resolve(kwargs["topics"], "topics", quiet=quiet)
        if kwargs.get("qrels") is not None:
            path, fmt = resolve_qrels(kwargs["qrels"], kwargs.get("qrels_format", "auto"), quiet=quiet)
            kwargs["qrels"] = path
            if "qrels_format" in kwargs:
                kwargs["qrels_format"] = fmt
        result = command(*args, **kwargs)
        output = kwargs.get("output")
        if output is not None and Path(output).exists():
            from irkit.provenance import write_sidecar

            write_sidecar(output)
        return result

    return train


for _name, _entry in registry.trainers().items():
    train_app.command(_name, help=_entry.help)(_with_provenance(registry.resolve(_entry.train)))
