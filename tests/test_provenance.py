"""Provenance sidecars: what they record, where they go, and how two of them are compared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from irkit import datasets, provenance


def test_sidecar_path_beside_a_file_and_inside_a_folder(tmp_path):
    assert provenance.sidecar_path(tmp_path / "a.run") == tmp_path / "a.run.meta.json"
    (tmp_path / "model").mkdir()
    assert provenance.sidecar_path(tmp_path / "model") == tmp_path / "model" / "provenance.json"


def test_record_fields_inputs_and_atomic_write(tmp_path, cacm_index):
    out = tmp_path / "x.run"
    out.write_text("1 Q0 CACM-0001 1 1.0 t\n")
    params = {"topics": "cacm", "qrels": "cacm", "index": cacm_index.path, "k1": 1.2, "seed": 7, "output": out}
    side = provenance.write_sidecar(out, parameters=params, pipeline="bm25 % 100")
    assert side == tmp_path / "x.run.meta.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.run", "x.run.meta.json"]  # no temporary left
    rec = json.loads(side.read_text())
    assert rec["irkit"]["version"] and rec["irkit"]["commit"] and len(rec["irkit"]["commit"]) == 40
    assert rec["pipeline"] == "bm25 % 100" and rec["seed"] == 7
    assert rec["parameters"]["k1"] == 1.2 and rec["parameters"]["index"] == str(cacm_index.path)
    cacm = datasets.get("cacm")
    # built-in names are resolved to their files, and the files' bytes hashed
    assert rec["inputs"]["topics"]["path"] == str(cacm.paths["topics"])
    assert rec["inputs"]["qrels"]["sha256"] == provenance.sha256_file(cacm.paths["qrels"])
    assert rec["index"]["documents"] == 3204 and rec["index"]["terms"] > 100_000
    assert rec["index"]["checksum"].startswith("sha256:")
    sw = rec["software"]
    assert sw["python"] and sw["java"] and sw["anserini"] and sw["pyserini"] == "1.6.0"
    assert sw["lucene"].startswith("9.") and sw["torch"]
    assert rec["time"].endswith("+00:00") and rec["machine"]["cpus"] >= 1
    assert provenance.read_sidecar(out) == rec
    assert provenance.read_sidecar(tmp_path / "other.run") is None


def test_index_checksum_is_the_content_not_the_build(tmp_path, cranfield_index):
    from irkit.index import build_index

    again = build_index(datasets.get("cranfield").paths["documents"], tmp_path / "idx", threads=1, quiet=True)
    a = provenance.index_identity(cranfield_index.path)
    b = provenance.index_identity(again.path)
    assert a["checksum"] == b["checksum"] and a["documents"] == b["documents"] == 1398
    assert a["checksum"] != provenance.index_identity(_cacm_index_path(tmp_path))["checksum"]


def _cacm_index_path(tmp_path: Path) -> Path:
    from irkit.index import build_index

    return build_index(datasets.get("cacm").paths["documents"], tmp_path / "cacm", threads=1, quiet=True).path


def test_differences_name_the_settings_that_differ():
    base = {
        "irkit": {"version": "0.1.0", "commit": "a" * 40},
        "command": "irkit rank ... a",
        "parameters": {"model": "bm25", "k1": 0.9, "output": "a.run", "quiet": True},
        "index": {"path": "/x", "checksum": "sha256:" + "1" * 64},
        "time": "2026-01-01T00:00:00+00:00",
        "machine": {"hostname": "m1"},
    }
    other = json.loads(json.dumps(base))
    other["parameters"].update(k1=1.2, output="b.run", quiet=False)
    other["command"], other["time"], other["machine"]["hostname"] = (
        "irkit rank ... b",
        "2026-01-02T00:00:00+00:00",
        "m2",
    )
    rows = dict(provenance.differences({"a": base, "b": other, "c": None}))
    assert list(rows) == ["parameters.k1"]  # output, quiet, command, time, machine: noise
    assert rows["parameters.k1"] == {"a": 0.9, "b": 1.2}
    text = provenance.format_differences({"a": base, "b": other, "c": None})
    assert "parameters.k1" in text and "1.2" in text and "no provenance sidecar for: c" in text
    other["index"]["checksum"] = "sha256:" + "2" * 64
    assert "index.checksum" in dict(provenance.differences({"a": base, "b": other}))
    assert "the same settings" in provenance.format_differences({"a": base, "b": base})


@pytest.mark.slow
def test_cli_rank_writes_a_sidecar_and_leaderboard_shows_differences(tmp_path, cacm_index):
    def irkit(*args):
        proc = subprocess.run([sys.executable, "-m", "irkit", *map(str, args)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    a, b = tmp_path / "a.run", tmp_path / "b.run"
    irkit("rank", "--index", cacm_index.path, "--topics", "cacm", "--output", a, "--hits", "100", "-q")
    irkit("rank", "--index", cacm_index.path, "--topics", "cacm", "--output", b, "--hits", "100", "--seed", "3", "-q")
    rec = provenance.read_sidecar(a)
    assert rec is not None and rec["command"].startswith("irkit rank --index")
    assert rec["parameters"]["model"] == "bm25" and rec["parameters"]["hits"] == 100
    assert rec["index"]["documents"] == 3204
    assert rec["inputs"]["topics"]["sha256"] == provenance.sha256_file(datasets.get("cacm").paths["topics"])
    board = tmp_path / "board.md"
    out = irkit("leaderboard", a, b, "--qrels", "cacm", "--baseline", a, "--output", board, "-q")
    assert "settings that differ" in out and "parameters.seed" in out
    assert provenance.read_sidecar(board)["inputs"]["qrels"]["path"] == str(datasets.get("cacm").paths["qrels"])


def test_train_commands_get_builtin_names_and_a_sidecar(tmp_path):
    from irkit.cli.train import _with_provenance

    seen = {}

    def fake_train(topics: Path, qrels: Path, output: Path, qrels_format: str = "auto", quiet: bool = False) -> None:
        seen.update(topics=topics, qrels=qrels, qrels_format=qrels_format)
        output.mkdir()
        (output / "model.json").write_text("{}")

    wrapped = _with_provenance(fake_train)
    assert wrapped.__wrapped__ is fake_train  # typer reads the trainer's own options
    out = tmp_path / "model"
    wrapped(topics="cranfield", qrels="cranfield", output=out, qrels_format="auto", quiet=True)
    cran = datasets.get("cranfield")
    assert seen == {"topics": cran.paths["topics"], "qrels": cran.paths["qrels"], "qrels_format": "cranfield"}
    rec = provenance.read_sidecar(out)
    assert rec is not None and (out / "provenance.json").is_file()
