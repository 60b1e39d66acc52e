"""The CLI answers at once: help, `irkit models` and `irkit datasets` import no heavy library and no model code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from irkit import registry

HEAVY = ("pandas", "torch", "numba", "pyserini", "gensim", "sklearn", "ray", "transformers", "jnius")
MODEL_CODE = ("irkit.retrieve", "irkit.rerank", "irkit.dense", "irkit.generative", "irkit.nn")

# Runs one command in a fresh interpreter (as `irkit` does) and reports what it imported.
PROBE = """
import json, sys
from irkit.cli import run
code, out = run(*sys.argv[1:])
print(json.dumps({"code": code, "out": out, "modules": sorted(sys.modules)}))
"""


def _imported(*argv: str) -> tuple[int, str, list[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    heavy = [m for m in got["modules"] if m.split(".")[0] in HEAVY or m.startswith(MODEL_CODE)]
    return got["code"], got["out"], heavy


def _commands() -> list[str]:
    import typer

    from irkit.cli.app import app

    group = typer.main.get_command(app)
    return list(group.list_commands(None))


@pytest.mark.parametrize(
    "argv", [("--help",), ("rank", "--help"), ("models",), ("datasets",), ("train", "--help")], ids=" ".join
)
def test_listing_and_help_import_nothing_heavy(argv):
    code, out, heavy = _imported(*argv)
    assert code == 0, out
    assert heavy == [], f"irkit {' '.join(argv)} imported {heavy[:10]}"


def test_every_command_help_imports_nothing_heavy():
    names = _commands()
    assert {"index", "rank", "eval", "leaderboard", "models", "datasets", "train"} <= set(names)
    for name in names:
        code, out, heavy = _imported(name, "--help")
        assert code == 0, out
        assert heavy == [], f"irkit {name} --help imported {heavy[:10]}"


def test_train_lists_every_trainer_and_loads_one_on_demand():
    code, out, _ = _imported("train", "--help")
    assert code == 0 and all(name in out for name in registry.trainers())
    code, out, _ = _imported("train", "lambdamart", "--help")
    assert code == 0 and "--output" in out  # the model's own options, from its command module


def test_models_lists_the_options_the_classes_declare():
    # `irkit models` reads the options from the source; they must be the dataclasses' own.
    for name in registry.names():
        entry = registry.get(name)
        declared = [(n, d) for n, _, d in registry.option_fields(entry)]
        assert registry.option_defaults(entry) == declared, name
