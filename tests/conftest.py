"""Shared fixtures: the real collections and their indexes.

The collections are the built-in copies shipped inside the package
(:mod:`irkit.datasets`), so the suite needs nothing beside the repository;
``IRKIT_DATA=/path/to/datasets`` points it at another copy of the same files.

Each index is built once per test session (Anserini, 2 threads) and shared by
every test that asks for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("IRKIT_QUIET", "1")


@dataclass(frozen=True)
class Collection:
    name: str
    docs: Path
    topics: Path
    qrels: Path


def _located(name: str) -> Collection:
    from irkit import datasets

    paths = datasets.get(name).located()  # the built-in copy, or the one under $IRKIT_DATA
    return Collection(name, paths["documents"], paths["topics"], paths["qrels"])


COLLECTIONS = {name: _located(name) for name in ("cacm", "cranfield", "vaswani")}


def collection(name: str) -> Collection:
    c = COLLECTIONS[name]
    if not c.docs.exists():
        pytest.skip(f"{c.docs} is missing (set IRKIT_DATA to the shared datasets folder)")
    return c


@pytest.fixture(scope="session")
def _index_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("indexes")


def _index(name: str, root: Path):
    from irkit.index import LuceneIndex, build_index

    path = root / name
    if not path.exists():
        build_index(collection(name).docs, path, threads=2, quiet=True)
    return LuceneIndex(path)


@pytest.fixture(scope="session")
def cacm_index(_index_root):
    return _index("cacm", _index_root)


@pytest.fixture(scope="session")
def cranfield_index(_index_root):
    return _index("cranfield", _index_root)


@pytest.fixture(scope="session")
def vaswani_index(_index_root):
    return _index("vaswani", _index_root)


@pytest.fixture(scope="session")
def cacm():
    return collection("cacm")


@pytest.fixture(scope="session")
def cranfield():
    return collection("cranfield")


@pytest.fixture(scope="session")
def vaswani():
    return collection("vaswani")


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli("rank", "-i", ...)`` runs ``irkit ARGS`` in-process; returns (exit code, stdout, stderr)."""
    import sys

    from irkit.cli import main

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["irkit", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run
