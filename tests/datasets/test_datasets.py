"""The built-in collections: counts, quirks, integrity, name resolution, the wheel and `irkit datasets`."""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from irkit import datasets
from irkit.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "docs", "topics", "judged", "qrels"),
    [("cacm", 3204, 64, 52, 796), ("cranfield", 1400, 225, 225, 1837), ("vaswani", 11429, 93, 93, 2083)],
)
def test_frames_have_the_published_counts(name, docs, topics, judged, qrels):
    d = datasets.get(name)
    assert (d.n_documents, d.n_topics, d.n_judged, d.n_qrels) == (docs, topics, judged, qrels)
    assert len(d.documents()) == docs
    assert d.documents()["docno"].is_unique
    t = d.topics()
    assert len(t) == topics and list(t.columns) == ["qid", "query"]
    q = d.qrels()
    assert len(q) == qrels and q["qid"].nunique() == judged
    assert set(q["qid"]) <= set(t["qid"])
    assert all(p.is_file() for p in d.paths.values())


def test_cacm_qrels_raw_by_default_and_normalised_on_request():
    d = datasets.get("cacm")
    docnos = set(d.documents()["docno"])
    raw, norm = d.qrels(), d.qrels(ids="normalised")
    assert "CACM-756" in set(raw["docno"]) and "CACM-0756" not in set(raw["docno"])
    assert (~raw["docno"].isin(docnos)).sum() == 55
    assert norm["docno"].isin(docnos).all() and len(norm) == len(raw) == 796
    with pytest.raises(InputError, match="raw"):
        d.qrels(ids="padded")


def test_cranfield_positional_qids_and_grade_mapping():
    d = datasets.get("cranfield")
    t = d.topics()
    assert list(t["qid"]) == [str(i) for i in range(1, 226)]
    # cran.qry's 3rd record is ".I 004"; by position it is topic 3, as cranqrel numbers it.
    first_lines = Path(d.paths["topics"]).read_text().split(".I ")[3]
    assert first_lines.startswith("004")
    q = d.qrels()
    # raw grades {1:128, 2:387, 3:734, 4:363, -1:225} -> gains 5 - rel, and 0 for -1
    assert q["label"].value_counts().to_dict() == {4: 128, 3: 387, 2: 734, 1: 363, 0: 225}
    assert d.qrels_format == "cranfield"
    raw = [line.split() for line in Path(d.paths["qrels"]).read_text().splitlines() if line.strip()]
    by_pair = {(a, b): int(c) for a, b, c in raw}
    label = q.set_index(["qid", "docno"])["label"]
    for (qid, docno), rel in list(by_pair.items())[:50]:
        assert label[(qid, docno)] == (5 - rel if 1 <= rel <= 4 else 0)


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.mark.parametrize(
    ("name", "file", "original"),
    [
        ("cacm", "cacm.tar.gz", "cacm.tar.gz"),
        ("cacm", "qrels.cacm.txt", "qrels.cacm.txt"),
        ("cranfield", "cran.all.1400.gz", "cran.all.1400"),
        ("cranfield", "cranqrel", "cranqrel"),
        ("vaswani", "doc-text.trec.gz", "doc-text.trec"),
        ("vaswani", "query-text.trec", "query-text.trec"),
        ("mnist", "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"),
    ],
)
def test_shipped_bytes_are_the_originals_named_in_source_txt(name, file, original):
    root = datasets.get(name).root
    data = (root / file).read_bytes()
    if file != original:  # gzipped here: the bytes inside are the original's
        data = gzip.decompress(data)
    source = (root / "SOURCE.txt").read_text()
    m = re.search(rf"{re.escape(original)}\s+(?:\d+\s+)?([0-9a-f]{{32}})", source)
    assert m, f"{original} has no md5 in {name}/SOURCE.txt"
    assert _md5(data) == m.group(1)


def test_mnist_images_and_labels():
    m = datasets.get("mnist")
    x, y = m.images(), m.labels()
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    from irkit.generative.images.data import mnist_dir

    assert mnist_dir() == m.root or "IRKIT_DATA" in __import__("os").environ


def test_unknown_dataset_is_one_clear_error():
    with pytest.raises(InputError, match="cacm, cranfield, vaswani, mnist"):
        datasets.get("msmarco")


def test_resolve_builtin_name_existing_path_wins_and_says_which(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("IRKIT_QUIET", raising=False)
    monkeypatch.chdir(tmp_path)
    d = datasets.get("cranfield")
    assert datasets.resolve("cranfield", "topics") == d.paths["topics"]
    assert "built-in cranfield topics" in capsys.readouterr().err
    assert datasets.resolve("cranfield", "qrels", quiet=True) == d.paths["qrels"]
    assert capsys.readouterr().err == ""
    # a file of the same name in the working folder wins
    Path("cranfield").write_text("1\tmy own query\n")
    assert datasets.resolve("cranfield", "topics") == Path("cranfield")
    assert "using the path" in capsys.readouterr().err
    # anything else goes through unchanged, so the reader names the missing file
    assert datasets.resolve("nothing/here.txt", "topics") == Path("nothing/here.txt")
    with pytest.raises(InputError, match="kind"):
        datasets.resolve("cacm", "runs")


def test_resolve_qrels_gives_the_builtin_format():
    path, fmt = datasets.resolve_qrels("cranfield", quiet=True)
    assert fmt == "cranfield" and path == datasets.get("cranfield").paths["qrels"]
    assert datasets.resolve_qrels("cranfield", "trec", quiet=True)[1] == "trec"  # an explicit format stays
    assert datasets.resolve_qrels("vaswani", quiet=True)[1] == "trec"
    # the same file named by path gets the same format
    assert datasets.resolve_qrels(str(path), quiet=True)[1] == "cranfield"


def test_datasets_command_lists_and_describes():
    from irkit.cli.datasets import register

    app = typer.Typer()
    register(app)

    @app.command("other")
    def _other() -> None:  # a second command keeps typer from flattening the app
        pass

    out = CliRunner().invoke(app, ["datasets"])
    assert out.exit_code == 0, out.output
    rows = {line.split()[0]: line.split() for line in out.output.splitlines()[1:5]}
    assert rows["cacm"][1:5] == ["3,204", "64", "52", "796"]
    assert rows["cranfield"][1:5] == ["1,400", "225", "225", "1,837"]
    assert rows["vaswani"][1:5] == ["11,429", "93", "93", "2,083"]
    assert rows["mnist"][1] == "10,000"
    one = CliRunner().invoke(app, ["datasets", "cranfield"])
    assert one.exit_code == 0 and "cran.all.1400.gz (smart)" in one.output and "position" in one.output


@pytest.mark.slow
def test_a_wheel_carries_the_collections(tmp_path):
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    shutil.copytree(ROOT / "irkit", src / "irkit", ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("irkit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in datasets.names():
        for path in datasets.get(name).paths.values():
            assert f"irkit/datasets/data/{name}/{path.name}" in names
