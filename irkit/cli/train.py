"""``irkit train NAME``: one sub-command per registered trainable model."""

from __future__ import annotations

import typer

from irkit import registry

train_app = typer.Typer(help="Train a model on a collection (see `irkit train NAME --help`).", no_args_is_help=True)

for _name, _entry in registry.trainers().items():
    train_app.command(_name, help=_entry.help)(registry.resolve(_entry.train))
