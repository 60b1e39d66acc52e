"""The typer application: core commands, `train`, and the sub-apps of other stages."""

from __future__ import annotations

import typer

from irkit.cli.core import register_core
from irkit.cli.train import train_app

app = typer.Typer(
    name="irkit",
    help="Reproducible ranking experiments: Lucene BM25, rerankers, dense encoders, evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
register_core(app)
app.add_typer(train_app, name="train")


def _add_optional(module: str, name: str) -> None:
    # Sub-apps of other stages join here when their modules exist.
    import importlib

    try:
        sub = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            return
        raise
    app.add_typer(sub.app, name=name)


_add_optional("irkit.cli.faiss", "faiss")
_add_optional("irkit.cli.generate", "generate")


def _add_commands(module: str) -> None:
    # Stages whose commands sit at the top level (`irkit encode`, `irkit fuse`)
    # expose register(app) in their CLI module.
    import importlib

    try:
        importlib.import_module(module).register(app)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise


_add_commands("irkit.cli.dense")
_add_commands("irkit.cli.datasets")
_add_commands("irkit.cli.engine")  # irkit shard (and the --engine options of rank/encode)
_add_commands("irkit.cli.compare")  # irkit compare A.run B.run: the two runs topic by topic
