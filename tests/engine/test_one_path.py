"""One run path: every registered ranking model gives the same run however it is reached.

For each model of the registry (enumerated, so a new model is covered the day it is added): the
stage :func:`irkit.registry.build` makes, run locally; the same model inside ``irkit rank
--pipeline`` (the CLI, in this process); and ``irkit.engine.stage(..., engine="local")``. The runs
are compared as frames and as written run files, byte for byte. (``--engine ray`` against local:
tests/engine/test_ray.py.)
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from irkit import engine, registry
from irkit.cli import run as irkit
from irkit.frames import run_frame
from irkit.io.trec import write_run

pytestmark = pytest.mark.slow

RANKING = [n for n in registry.names() if registry.get(n).kind != "classifier"]


def test_the_registry_is_enumerated():
    assert {"bm25", "desm", "docnade", "seqae", "irgan", "lambdamart", "ql", "bm25+rm3", "ql+rm3", "rm3"} <= set(
        RANKING
    )
    assert all(registry.get(n).scale in registry.SCALES for n in registry.names())


def _pipeline_text(name: str, options: dict) -> str:
    # A name that is not a plain word (bm25+rm3) is quoted, as the pipeline syntax allows.
    word = name if re.fullmatch(r"[A-Za-z0-9_]+", name) else f"'{name}'"
    args = ", ".join(f"{k}={v}" for k, v in options.items())
    return f"{word}({args})" if args else word


@pytest.mark.parametrize("name", RANKING)
def test_every_path_gives_one_run(name, bench, tmp_path):
    recipe = bench.recipe(name)
    frame = bench.frame(recipe)
    context = registry.Context(index=bench.index.path, hits=bench.hits, quiet=True)
    built = run_frame(registry.build(name, recipe.options, context).transform(frame))
    assert len(built) > 0 and set(built["qid"]) <= set(bench.queries["qid"])
    staged = engine.stage(name, engine="local", index=bench.index.path, hits=bench.hits, **recipe.options)
    pd.testing.assert_frame_equal(run_frame(staged.transform(frame)), built)

    queries = bench.queries[bench.queries["qid"].isin(set(frame["qid"]))]
    topics = tmp_path / "topics.tsv"
    topics.write_text("".join(f"{q}\t{t}\n" for q, t in zip(queries["qid"], queries["query"], strict=True)))
    args = ["rank", "--pipeline", _pipeline_text(name, recipe.options), "-i", bench.index.path, "-t", topics,
            "--hits", bench.hits, "-o", tmp_path / "pipeline.run", "-q"]  # fmt: skip
    if recipe.reranks:
        write_run(bench.candidates[bench.candidates["qid"].isin(set(frame["qid"]))], tmp_path / "bm25.run", tag="bm25")
        args += ["--rerank", tmp_path / "bm25.run", "--depth", bench.depth]
    code, text = irkit(*args)
    assert code == 0, text
    write_run(built, tmp_path / "built.run", tag="pipeline")
    assert (tmp_path / "pipeline.run").read_bytes() == (tmp_path / "built.run").read_bytes()


def test_the_architecture_example_model_runs_on_every_path(bench, tmp_path, monkeypatch):
    """docs/architecture.md's "How to add a model": its file and its registry line, as written,
    give a model that the registry builds, the pipeline parses and the engine runs."""
    import sys
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## How to add a model", 1)[1].split("\n## ", 1)[0]
    module, line = re.findall(r"```python\n(.*?)```", section, re.S)[:2]
    assert module.startswith("# irkit/rerank/overlap.py") and 'add("overlap"' in line
    (tmp_path / "overlap_example.py").write_text(module, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_ENTRIES", dict(registry._ENTRIES))
    exec(line.replace("irkit.rerank.overlap:", "overlap_example:"), {"add": registry.add})  # the registry line
    try:
        frame = bench.frame(bench.recipe("desm"))  # BM25's candidates
        context = registry.Context(index=bench.index.path, quiet=True)
        built = run_frame(registry.build("overlap", {"boost": "2"}, context).transform(frame))
        assert len(built) == len(frame) and built["score"].max() > 0
        staged = engine.stage("overlap", index=bench.index.path, boost=2).transform(frame)
        pd.testing.assert_frame_equal(run_frame(staged), built)
        from irkit.parse import parse

        pd.testing.assert_frame_equal(run_frame(parse("overlap(boost=2)", context).transform(frame)), built)
    finally:
        sys.modules.pop("overlap_example", None)
