"""ir_datasets by name (``irds:NAME``), offline: a cache primed by hand with the built-in files."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("ir_datasets")

from irkit import datasets
from irkit.errors import InputError
from irkit.interop.irds import IrdsDataset

ROOT = Path(__file__).resolve().parents[2]


def _prime(home: Path) -> Path:
    """``home/cranfield/{docs,queries,qrels}.txt``: the files ir_datasets extracts from cran.tar.gz."""
    built = datasets.get("cranfield").located()
    (home / "cranfield").mkdir(parents=True)
    with gzip.open(built["documents"], "rb") as src, open(home / "cranfield" / "docs.txt", "wb") as dst:
        shutil.copyfileobj(src, dst)
    shutil.copy(built["topics"], home / "cranfield" / "queries.txt")
    shutil.copy(built["qrels"], home / "cranfield" / "qrels.txt")
    return home


def _irkit(script: str, home: Path) -> subprocess.CompletedProcess:
    # ir_datasets fixes its cache paths when it is imported: a fresh process sees this home.
    env = {**os.environ, "IR_DATASETS_HOME": str(home), "PYTHONPATH": str(ROOT), "IRKIT_QUIET": "1"}
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)


def test_irds_cranfield_indexes_and_ranks_as_the_built_in(tmp_path, cranfield_index, cli):
    home = _prime(tmp_path / "irds")
    script = f"""
import sys
from irkit.cli import run
for args in (
    ("index", "irds:cranfield", "--index", {str(tmp_path / "idx")!r}, "--threads", "1", "-q"),
    ("rank", "-q", "-i", {str(tmp_path / "idx")!r}, "-t", "irds:cranfield", "-o", {str(tmp_path / "irds.run")!r}),
    ("eval", {str(tmp_path / "irds.run")!r}, "--qrels", "irds:cranfield", "--measures", "AP nDCG@10"),
):
    code, out = run(*args)
    print(out)
    if code:
        sys.exit(code)
"""
    done = _irkit(script, home)
    assert done.returncode == 0, done.stdout + done.stderr
    code, _, err = cli("rank", "-q", "-i", cranfield_index.path, "-t", "cranfield", "-o", tmp_path / "built.run")
    assert code == 0, err
    from irkit.io.trec import read_run

    irds_run, built_run = read_run(tmp_path / "irds.run"), read_run(tmp_path / "built.run")
    assert len(built_run) > 100_000
    pd.testing.assert_frame_equal(irds_run, built_run)  # same documents, topics, scores and ranks
    # AP is the built-in's (the same judged set), and the grade reading is said
    assert "0.2879" in done.stdout
    assert "irds:cranfield qrels: labels kept as cranqrel's codes" in done.stdout
    assert "--qrels cranfield gives irkit's reading" in done.stdout


def test_irds_cranfield_frames_equal_the_built_in_ones(tmp_path):
    home = _prime(tmp_path / "irds")
    script = """
import pandas as pd
from irkit import datasets
x, b = datasets.get("irds:cranfield"), datasets.get("cranfield")
norm = lambda s: " ".join(s.split())
d, bd = x.documents(), b.documents()
assert d.docno.tolist() == bd.docno.tolist()
assert d.text.map(norm).tolist() == bd.text.map(norm).tolist()  # title + abstract both ways
pd.testing.assert_frame_equal(x.topics(), b.topics())
q = x.qrels().merge(b.qrels(), on=["qid", "docno"], suffixes=("", "_built"))
assert len(q) == len(b.qrels()) == 1837
# not remapped: cranqrel's codes as ir_datasets gives them; the built-in reads gain 5 - code
assert sorted(set(zip(q.label, q.label_built))) == [(-1, 0), (1, 4), (2, 3), (3, 2), (4, 1)]
t = x.documents(fields="title")
assert t.text[0] == "experimental investigation of the aerodynamics of a\\nwing in a slipstream ."
print("ok")
"""
    done = _irkit(script, home)
    assert done.returncode == 0 and "ok" in done.stdout, done.stdout + done.stderr
    assert "irkit: warning: irds:cranfield qrels:" in done.stderr


def test_missing_data_says_which_file_and_where_in_one_line(tmp_path, cli):
    # An empty cache and no network (or ir_datasets' sources refusing): one line, no retries.
    script = """
import ir_datasets.util.download as dl
def offline(self):
    raise dl.ir_datasets.lazy_libs.requests().exceptions.ConnectionError("no network")
dl.RequestsDownload.__iter__ = offline
from irkit.cli import run
code, out = run("index", "irds:cranfield", "--index", "idx")
print(out)
raise SystemExit(code)
"""
    done = _irkit(script, tmp_path)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("irkit: error:")]
    assert done.returncode == 2 and len(lines) == 1, done.stdout + done.stderr
    assert "cran.all.1400 (inside cran.tar.gz) from http://ir.dcs.gla.ac.uk/" in lines[0]
    assert f"at {tmp_path / 'cranfield' / 'docs.txt'}" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr and not (tmp_path / "idx").exists()
    assert not list((tmp_path / "irkit" / "cranfield").glob("*.jsonl"))  # nothing half-written


def test_created_dataset_on_local_files(tmp_path, monkeypatch):
    import ir_datasets

    monkeypatch.setenv("IR_DATASETS_HOME", str(tmp_path / "home"))
    (tmp_path / "docs.tsv").write_text("d1\tthe cat sat\nd2\ta dog ran\n", encoding="utf-8")
    (tmp_path / "queries.tsv").write_text("q1\tcat\n", encoding="utf-8")
    (tmp_path / "qrels").write_text("q1 0 d1 2\nq1 0 d2 0\n", encoding="utf-8")
    created = ir_datasets.create_dataset(
        docs_tsv=str(tmp_path / "docs.tsv"),
        queries_tsv=str(tmp_path / "queries.tsv"),
        qrels_trec=str(tmp_path / "qrels"),
    )
    ds = IrdsDataset("local-test", created)
    assert ds.documents().values.tolist() == [["d1", "the cat sat"], ["d2", "a dog ran"]]
    assert ds.topics().values.tolist() == [["q1", "cat"]]
    assert ds.qrels().values.tolist() == [["q1", "d1", 2], ["q1", "d2", 0]]
    assert ds.path("documents") == tmp_path / "home" / "irkit" / "local-test" / "documents.jsonl"
    with pytest.raises(InputError, match="no document field title; choose from text"):
        ds.documents(fields="title")


def test_names_and_options_are_checked():
    with pytest.raises(InputError, match="ir_datasets has no dataset 'no-such-set'"):
        datasets.get("irds:no-such-set").topics()
    with pytest.raises(InputError, match="name the ir_datasets dataset"):
        datasets.get("irds:")
    with pytest.raises(InputError, match="--fields chooses"):
        datasets.resolve("cranfield", "documents", fields="title")


def test_import_irkit_does_not_import_ir_datasets():
    done = subprocess.run(
        [sys.executable, "-c", "import sys, irkit, irkit.datasets; print('ir_datasets' in sys.modules)"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == "False", done.stderr
