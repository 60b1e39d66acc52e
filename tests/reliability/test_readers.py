"""Readers accept what real collections contain and refuse the rest in one line (issue 13)."""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path

import pytest

from irkit.errors import InputError
from irkit.io.documents import detect_format, iter_documents, read_documents
from irkit.io.topics import read_topics
from irkit.io.trec import detect_qrels_format, read_qrels, read_run

BOM = "\ufeff"


def test_a_utf8_bom_is_not_part_of_the_first_id(tmp_path):
    run = tmp_path / "r.run"
    run.write_text(BOM + "q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 1.0 t\n", encoding="utf-8")
    assert read_run(run).qid.tolist() == ["q1", "q1"]
    qrels = tmp_path / "q.txt"
    qrels.write_text(BOM + "q1 0 d1 1\n", encoding="utf-8")
    assert read_qrels(qrels).qid.tolist() == ["q1"]
    topics = tmp_path / "t.tsv"
    topics.write_text(BOM + "q1\tparallel computing\n", encoding="utf-8")
    assert read_topics(topics).qid.tolist() == ["q1"]
    docs = tmp_path / "d.jsonl"
    docs.write_text(BOM + '{"id": "d1", "contents": "x"}\n', encoding="utf-8")
    assert read_documents(docs).docno.tolist() == ["d1"]


def test_three_column_qrels_are_relabelled_only_when_cranfield_is_certain_or_asked(
    tmp_path, cranfield, monkeypatch, capsys
):
    monkeypatch.setenv("IRKIT_QUIET", "0")
    plain = tmp_path / "plain.qrels"
    plain.write_text("1 d1 1\n1 d2 0\n2 d3 2\n")
    assert detect_qrels_format(plain)[0] == "beir"
    assert read_qrels(plain).label.tolist() == [1, 0, 2]  # labels as written
    err = capsys.readouterr().err
    assert f"{plain}: qrels read as beir" in err
    # asked: Cranfield's scale (1 best .. 4), gain 5 - grade
    assert read_qrels(plain, "cranfield").label.tolist() == [4, 0, 3]
    # Cranfield's own file has its signature (one -1 line per topic): certain, and said so
    q = read_qrels(cranfield.qrels)
    assert "read as cranfield" in capsys.readouterr().err
    assert q.equals(read_qrels(cranfield.qrels, "cranfield"))
    assert set(q.label) == {0, 1, 2, 3, 4}
    # every auto-detected file says what it chose
    four = tmp_path / "four.qrels"
    four.write_text("1 0 d1 1\n")
    read_qrels(four)
    assert "read as trec" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("1e10", "not a whole number"),
        ("0.5", "not a whole number"),
        ("2.7", "not a whole number"),
        ("x", "not a whole number"),
        ("2147483647", "out of range"),
        ("1000000000", "out of range"),
    ],
)
def test_impossible_qrels_labels_are_refused(tmp_path, label, reason):
    p = tmp_path / "q.txt"
    p.write_text(f"1 0 d1 1\n1 0 d2 {label}\n")
    with pytest.raises(InputError, match=reason) as e:
        read_qrels(p)
    assert e.value.line == 2


def test_smart_reads_every_standard_field(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IRKIT_QUIET", "0")
    p = tmp_path / "cacm.all"
    p.write_text(
        ".I 1\n.T\nPreliminary Report\n.W\nalgebraic language\n.B\nCACM December, 1958\n.A\nPerlis, A. J.\n"
        ".N\nCA581203 JB March 22, 1978\n.X\n100\t5\t1\n1\t5\t1\n.K\nalgol, compilers\n.C\n4.22\n"
        ".I 2\n.T\nExtraction of Roots\n.X 3 5 2\n"
    )
    docs = dict(iter_documents(p))
    assert detect_format(p) == "smart"
    assert docs["1"] == "Preliminary Report\nalgebraic language\nalgol, compilers"
    assert docs["2"] == "Extraction of Roots"
    err = capsys.readouterr().err
    assert err.count("skipped .A .B .C .N .X") == 1, err


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz"])
def test_truncated_archives_fail_naming_the_file(tmp_path, cacm, suffix):
    whole = tmp_path / f"whole{suffix}"
    with tarfile.open(cacm.docs) as src, tarfile.open(whole, "w:gz" if suffix.endswith("gz") else "w") as dst:
        for i, m in enumerate(src):
            if i > 300:
                break
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
    data = whole.read_bytes()
    assert len(list(iter_documents(whole))) > 100
    # (a plain tar's last bytes are zero padding: only a gzip trailer is lost with 4 bytes)
    for cut in (len(data) // 2, len(data) - 1024 * 11, *([len(data) - 4] if suffix.endswith("gz") else [])):
        bad = tmp_path / f"cut{suffix}"
        bad.write_bytes(data[:cut])
        with pytest.raises(InputError, match="truncated") as e:
            list(iter_documents(bad))
        assert e.value.path == str(bad)


def test_truncated_gz_fails_naming_the_file(tmp_path):
    body = "".join(f'{{"id": "d{i}", "contents": "text {i}"}}\n' for i in range(2000)).encode()
    bad = tmp_path / "docs.jsonl.gz"
    bad.write_bytes(gzip.compress(body)[:-100])
    with pytest.raises(InputError, match="truncated") as e:
        list(iter_documents(bad, "jsonl"))
    assert e.value.path == str(bad)


def test_fifo_input_is_refused_not_read(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for read in (
        lambda: list(iter_documents(fifo)),
        lambda: read_run(fifo),
        lambda: read_qrels(fifo),
        lambda: read_topics(fifo),
    ):
        with pytest.raises(InputError, match="not a regular file"):
            read()


def test_folder_collections_do_not_follow_symlinks_out_of_the_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IRKIT_QUIET", "0")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "s.jsonl").write_text('{"id": "secret", "contents": "password"}\n')
    coll = tmp_path / "coll"
    coll.mkdir()
    (coll / "a.jsonl").write_text('{"id": "a", "contents": "inside"}\n')
    (coll / "b.jsonl").symlink_to(coll / "a.jsonl")  # inside: read... as the same docs
    (coll / "out.jsonl").symlink_to(secret / "s.jsonl")
    (coll / "dir").symlink_to(secret)
    docnos = [d for d, _ in iter_documents(coll, "jsonl")]
    assert "secret" not in docnos and "a" in docnos
    assert "skipped 2 symbolic link(s) pointing outside" in capsys.readouterr().err


def test_fifo_in_cli_is_one_line(tmp_path, capsys, monkeypatch):
    import sys

    from irkit.cli import main

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    monkeypatch.setattr(sys, "argv", ["irkit", "index", str(fifo), "-i", str(tmp_path / "idx"), "-q"])
    with pytest.raises(SystemExit) as e:
        main()
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code != 0 and len(err) == 1 and "not a regular file" in err[0]
    assert not Path(tmp_path / "idx").exists()
