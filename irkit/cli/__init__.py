"""The ``irkit`` command line (typer). Library errors become one line and exit code 2."""

from __future__ import annotations

import os
import sys

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


def main() -> None:
    from irkit.errors import IrkitError

    try:
        app(standalone_mode=False)
    except IrkitError as e:
        print(f"irkit: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("irkit: interrupted; no partial output was left", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # usage errors of typer's click, and anything unexpected
        code = getattr(e, "exit_code", None)
        if isinstance(code, int) and callable(getattr(e, "show", None)):
            e.show()  # a usage error: click prints usage and the reason
            sys.exit(code)
        if isinstance(code, int):  # click's Exit
            sys.exit(code)
        if type(e).__name__ == "Abort":
            print("irkit: aborted", file=sys.stderr)
            sys.exit(130)
        if os.environ.get("IRKIT_DEBUG"):
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"irkit: error: {type(e).__name__}: {msg} (IRKIT_DEBUG=1 shows the traceback)", file=sys.stderr)
        sys.exit(1)
