"""``irkit train NAME``: one sub-command per registered trainable model.

The sub-commands are listed from the registry's names and help, and a model's
command module is imported only when that command runs (or shows its own
help), so ``irkit --help`` and ``irkit train --help`` import no model code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer import _click  # the click that typer vendors and builds its commands from
from typer.core import TyperCommand, TyperGroup

from irkit import registry


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


# Models that do not rank, so are not in the ranking registry, but are trained here too:
# name -> (command "module:function", help).
OTHER_TRAINERS = {
    "classifier": (
        "irkit.cli.classifier:train_command",
        "LSTM text classifier of fortune categories, initialised randomly or from a pretrained "
        "sequence autoencoder or LM (Dai & Le, 2015); it does not rank",
    ),
}


def trainers() -> dict[str, tuple[str, str]]:
    """``{name: (command, help)}`` of every ``irkit train NAME``: the registry's trainers, then the others."""
    return {**{n: (e.train, e.help) for n, e in registry.trainers().items()}, **OTHER_TRAINERS}


def train_command(name: str) -> _click.Command:
    """The click command of ``irkit train NAME`` (imports the model's command module)."""
    target, help = trainers()[name]
    one = typer.Typer(add_completion=False)
    one.command(name, help=help)(_with_provenance(registry.resolve(target)))
    return typer.main.get_command(one)


class _TrainGroup(TyperGroup):
    # Listing (help, suggestions, completion) sees stand-ins that carry only the name and help.
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, (_, help) in trainers().items():
            self.commands[name] = TyperCommand(name=name, help=help)

    def resolve_command(self, ctx: _click.Context, args: list[str]) -> tuple[Any, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        return name, train_command(command.name) if command is not None else None, rest


train_app = typer.Typer(
    cls=_TrainGroup, help="Train a model on a collection (see `irkit train NAME --help`).", no_args_is_help=True
)
