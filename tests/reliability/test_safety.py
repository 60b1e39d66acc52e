"""No code runs from a model file; option values that cannot be right are refused (issue 13)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from irkit.errors import InputError, IrkitError

ROOT = Path(__file__).resolve().parents[2]

EVIL = """
import os, sys, torch

class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[2],))

torch.save({"w": torch.zeros(2), "payload": Evil()}, sys.argv[1])
"""


def _evil_weights(path: Path, marker: Path) -> None:
    # Written by a child process: the class must not exist in the loading process.
    subprocess.run([sys.executable, "-c", EVIL, str(path), str(marker)], check=True, cwd=ROOT)


def test_a_malicious_pickle_in_a_model_folder_is_refused_without_running(tmp_path):
    from irkit.nn.checkpoint import load_model

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text(json.dumps({"kind": "irgan", "config": {}}))
    marker = tmp_path / "PWNED"
    _evil_weights(model / "weights.pt", marker)
    assert not marker.exists()
    with pytest.raises(InputError, match="refusing to load") as e:
        load_model(model, "irgan")
    assert e.value.path == str(model / "weights.pt")
    assert not marker.exists(), "unpickling ran the payload"


def test_a_garbage_weights_file_is_called_corrupt_not_unsafe(tmp_path):
    from irkit.nn.checkpoint import load_weights

    bad = tmp_path / "weights.pt"
    rng = np.random.default_rng(0)
    # many seeded garbage files: torch's unpickler fails on them in different ways (IndexError, EOFError, ...)
    for _ in range(200):
        bad.write_bytes(rng.integers(0, 256, int(rng.integers(1, 512)), dtype=np.uint8).tobytes())
        with pytest.raises(InputError, match="corrupt or foreign weights") as e:
            load_weights(bad)
        assert "weights_only" not in str(e.value) and "unsafe" not in str(e.value).lower()


def test_no_module_loads_pickles():
    # torch.load without weights_only=True, np.load with allow_pickle=True, pickle.load: none in irkit.
    bad = re.compile(r"weights_only\s*=\s*False|allow_pickle\s*=\s*True|pickle\.loads?\(|joblib\.load")
    found = []
    for f in (ROOT / "irkit").rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        found += [f"{f.relative_to(ROOT)}:{i}" for i, ln in enumerate(text.splitlines(), 1) if bad.search(ln)]
        for m in re.finditer(r"torch\.load\(([^)]*)\)", text):
            if "weights_only=True" not in m.group(1):
                found.append(f"{f.relative_to(ROOT)}: torch.load({m.group(1)})")
    assert not found, found


# --- option values that cannot be right ----------------------------------------------


@pytest.mark.parametrize(("k1", "b"), [(math.nan, 0.4), (math.inf, 0.4), (-1.0, 0.4), (0.9, math.nan), (0.9, 1.5)])
def test_bm25_refuses_impossible_parameters(cacm_index, k1, b):
    from irkit.retrieve import BM25

    with pytest.raises(InputError, match="BM25 needs k1"):
        BM25(cacm_index, k1=k1, b=b)


def test_negative_threads_are_refused(cacm_index, tmp_path):
    from irkit.index import build_index
    from irkit.retrieve import BM25

    with pytest.raises(InputError, match="threads must be positive"):
        BM25(cacm_index, threads=-5)
    docs = tmp_path / "d.jsonl"
    docs.write_text('{"id": "d1", "contents": "x"}\n')
    with pytest.raises(InputError, match="threads must be positive"):
        build_index(docs, tmp_path / "idx", threads=-5, quiet=True)
    assert not (tmp_path / "idx").exists()


def test_negative_torch_and_faiss_threads_are_refused():
    from irkit.dense.faiss_index import _faiss
    from irkit.generative.recipe import set_threads

    with pytest.raises(InputError, match="threads must be positive"):
        set_threads(-5)
    with pytest.raises(InputError, match="threads must be positive"):
        _faiss(-5)


@pytest.mark.parametrize("k", [math.nan, math.inf, -1.0])
def test_fusion_k_must_be_a_non_negative_number(k):
    from irkit.frames import run_frame
    from irkit.fusion import rrf

    run = run_frame(pd.DataFrame({"qid": ["1"], "docno": ["a"], "score": [1.0]}))
    with pytest.raises(InputError, match="RRF's k"):
        rrf([run, run], k=k)


@pytest.mark.parametrize("level", [0.0, 1.0, 2.0, -0.1, math.nan])
def test_leaderboard_level_outside_0_1_is_refused(level):
    from irkit.evaluate.leaderboard import leaderboard
    from irkit.frames import qrels_frame, run_frame

    run = run_frame(pd.DataFrame({"qid": ["1"], "docno": ["a"], "score": [1.0]}))
    with pytest.raises(InputError, match="significance level"):
        leaderboard({"a": run, "b": run}, qrels_frame([("1", "a", 1)]), "AP", baseline="a", level=level)


def test_cli_reports_impossible_values_in_one_line(tmp_path, capsys, monkeypatch, cacm, cacm_index):
    from irkit.cli import main

    def cli(*args):
        monkeypatch.setattr(sys, "argv", ["irkit", *map(str, args)])
        with pytest.raises(SystemExit) as e:
            main()
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert e.value.code != 0 and len(err) == 1 and err[0].startswith("irkit: error:"), err
        return err[0]

    out = tmp_path / "r.run"
    assert "k1" in cli("rank", "-q", "-i", cacm_index.path, "-t", cacm.topics, "-o", out, "-O", "k1=nan")
    assert "threads" in cli("rank", "-q", "-i", cacm_index.path, "-t", cacm.topics, "-o", out, "--threads", "-5")
    assert not out.exists()
    run = tmp_path / "a.run"
    run.write_text("1 Q0 CACM-0001 1 1.0 t\n")
    assert "cutoff" in cli("eval", run, "--qrels", cacm.qrels, "--measures", "P@0")
    assert "significance level" in cli(
        "leaderboard", run, run, "--qrels", cacm.qrels, "--baseline", run, "--level", "2"
    )


def test_irkit_error_is_the_base(tmp_path):
    assert issubclass(InputError, IrkitError)
