"""Outputs: --force replaces only what irkit wrote, writers exclude each other, nothing stale stays.

Issue 13 (data loss). Each test is one class of defect, checked on the CLI where
the user met it and on the library rule in ``irkit.io.atomic``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from irkit.errors import IrkitError
from irkit.frames import run_frame
from irkit.io.atomic import atomic_file, atomic_path, check_output, folder_kind, lock_path, tracking_inputs
from irkit.io.trec import read_run, write_run

ROOT = Path(__file__).resolve().parents[2]


def one_line_error(code, err, *needles):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and lines[0].startswith("irkit: error:"), err
    for n in needles:
        assert n in lines[0], lines[0]


RUN = run_frame(pd.DataFrame({"qid": ["1", "1"], "docno": ["a", "b"], "score": [2.0, 1.0]}))


# --- --force replaces only what irkit wrote, of the same kind -----------------------


def test_force_refuses_symlinks_devices_and_fifos(tmp_path):
    real = tmp_path / "real.run"
    write_run(RUN, real)
    link = tmp_path / "link.run"
    link.symlink_to(real)
    with pytest.raises(IrkitError, match="symbolic link"):
        write_run(RUN, link, overwrite=True)
    assert link.is_symlink() and read_run(real).equals(read_run(link))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(IrkitError, match="not a regular file"):
        write_run(RUN, fifo, overwrite=True)
    with pytest.raises(IrkitError, match="not a regular file"):
        write_run(RUN, "/dev/null", overwrite=True)
    assert Path("/dev/null").is_char_device()


def test_force_refuses_foreign_folders_and_other_kinds(tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(IrkitError, match="folder irkit did not write"), atomic_path(foreign, overwrite=True) as tmp:
        tmp.mkdir()
    assert (foreign / "cat.jpg").exists()
    # an irkit folder is replaced by one of the same kind only
    model = tmp_path / "model"
    from irkit.nn.checkpoint import save_model

    save_model(model, "desm", {"a": 1}, overwrite=False)
    assert folder_kind(model) == "model"
    save_model(model, "desm", {"a": 2}, overwrite=True)
    match = "holds an irkit model, not an index"
    with pytest.raises(IrkitError, match=match), atomic_path(model, overwrite=True, kind="index") as tmp:
        tmp.mkdir()
    # a run file replaces a run, never another file
    topics = tmp_path / "topics.tsv"
    topics.write_text("1\tparallel algorithms\n")
    with pytest.raises(IrkitError, match="not a TREC run file"):
        write_run(RUN, topics, overwrite=True)
    assert topics.read_text() == "1\tparallel algorithms\n"
    with pytest.raises(IrkitError, match="is a folder"):
        write_run(RUN, model, overwrite=True)


def test_force_never_replaces_an_input_of_the_command(tmp_path, capsys, monkeypatch, cacm_index, cacm, cli):
    topics = tmp_path / "topics.tsv"
    topics.write_text("1\tparallel algorithms\n")
    before = topics.read_bytes()
    code, _, err = cli("rank", "-q", "-i", cacm_index.path, "-t", topics, "-o", topics, "-f")
    one_line_error(code, err, str(topics))
    assert topics.read_bytes() == before
    # the collection is the output folder: refused, the collection is kept
    coll = tmp_path / "coll"
    coll.mkdir()
    (coll / "d.jsonl").write_text('{"id": "d1", "contents": "hello world"}\n')
    code, _, err = cli("index", coll, "-i", coll, "--force", "-q")
    one_line_error(code, err, str(coll))
    assert (coll / "d.jsonl").exists()
    # an output folder above an input, and a file inside an input folder, are refused too
    with atomic_path(tmp_path / "in") as folder:  # an irkit folder, so only the input rule refuses it
        folder.mkdir()
        write_run(RUN, folder / "a.run")
    with tracking_inputs():
        read_run(tmp_path / "in" / "a.run")
        for out in (tmp_path / "in", tmp_path / "in" / "a.run"):
            with pytest.raises(IrkitError, match="input of this command"):
                check_output(out, overwrite=True)


def test_train_output_replacing_the_index_is_refused(tmp_path, cacm_index):
    # `train desm -i IDX -o IDX --force` deleted the index: a model never replaces an index
    idx = tmp_path / "idx"
    import shutil

    shutil.copytree(cacm_index.path, idx)
    assert folder_kind(idx) == "index"
    from irkit.nn.checkpoint import save_model

    with pytest.raises(IrkitError, match="holds an irkit index, not a model"):
        save_model(idx, "desm", {}, overwrite=True)
    assert (idx / "irkit.json").exists()


def test_generate_sample_needs_force(tmp_path, capsys, monkeypatch, cli):
    out = tmp_path / "model.json"
    out.write_text('{"kind": "x"}\n')
    code, _, err = cli("generate", "sample", tmp_path, "-o", out)
    assert code != 0 and out.read_text() == '{"kind": "x"}\n', err
    assert "output exists" in err or "is an input of this command" in err, err
    # with --force, the model's own model.json (an input) is still refused
    code, _, err = cli("generate", "sample", tmp_path, "-o", out, "--force")
    one_line_error(code, err, "is an input of this command")
    assert out.read_text() == '{"kind": "x"}\n'


# --- exclusive writers ---------------------------------------------------------------


def test_a_second_writer_of_the_same_output_fails_and_says_so(tmp_path):
    target = tmp_path / "out.run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from irkit.io.atomic import atomic_file\n"
            f"with atomic_file({str(target)!r}) as fh:\n"
            "    fh.write('1 Q0 a 1 1.0 t\\n'); print('locked', flush=True); time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(IrkitError, match=rf"another irkit process \(pid {holder.pid}\) is writing"):
            write_run(RUN, target)
        with pytest.raises(IrkitError, match="another irkit process"), atomic_path(target, overwrite=True):
            pass
    finally:
        holder.kill()
        holder.wait()
    # the holder died: its lock is gone with it, and the output can be written
    write_run(RUN, target)
    assert read_run(target).docno.tolist() == ["a", "b"]
    assert not lock_path(target).exists()


def test_a_lock_taken_but_not_yet_signed_still_says_another_process(tmp_path):
    # The holder writes its pid just after flock: a second writer can find the lock empty
    # (CI once saw an IndexError there instead of this message).
    import fcntl

    target = tmp_path / "run.txt"
    fd = os.open(lock_path(target), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(IrkitError, match=r"another irkit process is writing"):
            check_output(target, lock=True)
    finally:
        os.close(fd)


def test_two_index_processes_one_wins_the_other_says_so(tmp_path, cranfield):
    target = tmp_path / "idx"
    cmd = [sys.executable, "-m", "irkit", "index", str(cranfield.docs), "-i", str(target), "--threads", "1", "-q"]
    env = {**os.environ, "IRKIT_QUIET": "1"}
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    loser = next(e for c, e in results if c != 0)
    assert "another irkit process" in loser or "output exists" in loser, loser
    assert folder_kind(target) == "index"


# --- a killed writer's temporaries are cleaned by the next ---------------------------


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_sigkill_of_index_leaves_a_temporary_that_the_next_run_cleans_up(tmp_path, vaswani):
    target = tmp_path / "idx"
    cmd = [sys.executable, "-m", "irkit", "index", str(vaswani.docs), "-i", str(target), "--threads", "1", "-q"]
    proc = subprocess.Popen(cmd, env={**os.environ, "IRKIT_QUIET": "1"}, cwd=ROOT)
    # Killed while Lucene writes (in irkit's own JVM, which dies with the process): a segment file exists.
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(tmp_path.glob(".idx.*.tmp/**/*.fdt")):
        time.sleep(0.02)
    assert proc.poll() is None, "the indexer ended before it was killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stale = [p for p in tmp_path.iterdir() if p.name.startswith(".idx.") and p.name.endswith(".tmp")]
    assert stale, "expected the killed run's temporary folder"
    # the next writer of the same output removes it
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "x").write_text("x")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert not target.exists() or folder_kind(target) == "folder"


def test_stale_temporaries_of_live_processes_are_kept(tmp_path):
    mine = tmp_path / f".out.run.{os.getppid()}.abc.tmp"  # a live process (our parent)
    dead = tmp_path / ".out.run.999999999.abc.tmp"
    mine.mkdir()
    dead.mkdir()
    with atomic_file(tmp_path / "out.run") as fh:
        fh.write("1 Q0 a 1 1.0 t\n")
    assert mine.exists() and not dead.exists()
