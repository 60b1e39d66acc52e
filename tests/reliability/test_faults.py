"""Outputs under faults (issue 21): what --force may replace, files beside an output, locks, one
transaction per command, full and read-only disks, and signals at random moments.

Each test is a case a hostile user met: it failed before the fix. The fault-injecting tests
(tmpfs mounts, `chattr`) need root and skip without it; the signal tests run the real CLI in a
subprocess, the others run it in-process (the `cli` fixture).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
RUN_A = "".join(f"{q} Q0 d{d} {r} {10 - r}.0 a\n" for q in (1, 2) for r, d in enumerate((1, 2, 3), 1))
RUN_B = "".join(f"{q} Q0 d{d} {r} {10 - r}.0 b\n" for q in (1, 2) for r, d in enumerate((3, 1, 2), 1))
QRELS = "1 0 d1 1\n1 0 d3 1\n2 0 d2 1\n"


def one_line_error(code, err, *needles):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("irkit: error:"), err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Lock files and temporaries: what a command must never leave behind (beside its outputs)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".lock", ".tmp")))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def runs(tmp_path):
    (tmp_path / "a.run").write_text(RUN_A)
    (tmp_path / "b.run").write_text(RUN_B)
    (tmp_path / "q.txt").write_text(QRELS)
    return tmp_path


def board_args(d: Path, output: Path, *more):
    return ("leaderboard", d / "a.run", d / "b.run", "--qrels", d / "q.txt", "--baseline", d / "a.run", "-o", output,
            "-q", *more)  # fmt: skip


# --- --force replaces only files irkit wrote --------------------------------------


def test_force_replaces_only_files_irkit_wrote(runs, cli, cacm_index, cacm):
    d = runs
    notes = d / "notes.txt"
    notes.write_text("my notes for the meeting today\n")  # six words: it looked like a run line
    data = d / "data.csv"
    data.write_text("x,y\n1,2\n")
    readme = d / "README.md"
    readme.write_text("# my project\n")
    before = snapshot(d)
    code, _, err = cli("rank", "-i", cacm_index.path, "-t", cacm.topics, "-o", notes, "--force", "-q")
    one_line_error(code, err, str(notes), "not a TREC run file")
    code, _, err = cli("eval", d / "a.run", "--qrels", d / "q.txt", "-o", data, "--force", "-q")
    one_line_error(code, err, str(data), "cannot tell it wrote", "data.csv.meta.json")
    code, _, err = cli(*board_args(d, readme, "--force"))
    one_line_error(code, err, str(readme), "cannot tell it wrote")
    assert snapshot(d) == before
    # what irkit wrote (it has its sidecar) is replaced
    table = d / "t.csv"
    assert cli("eval", d / "a.run", "--qrels", d / "q.txt", "-o", table, "-q")[0] == 0
    assert cli("eval", d / "b.run", "--qrels", d / "q.txt", "-o", table, "--force", "-q")[0] == 0
    assert "b," in table.read_text() and (d / "t.csv.meta.json").exists()
    # and so is an evaluation table whose sidecar was lost (irkit knows its format)
    (d / "t.csv.meta.json").unlink()
    assert cli("eval", d / "a.run", "--qrels", d / "q.txt", "-o", table, "--force", "-q")[0] == 0
    assert leftovers(d) == []


def test_files_beside_an_output_need_force_and_must_be_irkits(runs, cli):
    d = runs
    out = d / "board.md"
    png = d / "board.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nmy holiday photo")
    before = snapshot(d)
    code, _, err = cli(*board_args(d, out))
    one_line_error(code, err, str(png), "output exists")
    code, _, err = cli(*board_args(d, out, "--force"))
    one_line_error(code, err, str(png), "not a plot irkit drew")
    assert snapshot(d) == before
    png.unlink()
    # a sidecar is an output too: an existing one is replaced only with --force, and only if irkit's
    side = d / "t.csv.meta.json"
    side.write_text('{"mine": 1}\n')
    code, _, err = cli("eval", d / "a.run", "--qrels", d / "q.txt", "-o", d / "t.csv", "-q")
    one_line_error(code, err, str(side), "output exists")
    code, _, err = cli("eval", d / "a.run", "--qrels", d / "q.txt", "-o", d / "t.csv", "-q", "--force")
    one_line_error(code, err, str(side), "not a provenance sidecar")
    assert side.read_text() == '{"mine": 1}\n' and not (d / "t.csv").exists()
    side.unlink()
    # irkit's own plot and sidecar are replaced with --force
    assert cli(*board_args(d, out))[0] == 0
    first = png.read_bytes()
    assert first.startswith(b"\x89PNG") and b"Software\x00irkit" in first[:4096]
    code, out_text, err = cli(*board_args(d, out, "--force"))
    assert code == 0, err
    assert "wrote" in out_text and "board.png" in out_text and "board.md.meta.json" in out_text
    assert leftovers(d) == []


def test_a_sidecar_path_given_as_input_is_refused_before_the_work(tmp_path, cli, cacm_index):
    topics = tmp_path / "out.run.meta.json"
    topics.write_text("1\tparallel algorithms\n")
    code, _, err = cli("rank", "-i", cacm_index.path, "-t", topics, "-o", tmp_path / "out.run", "-q", "--force")
    one_line_error(code, err, str(topics), "--topics")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.run.meta.json"]


def test_quiet_prints_nothing_but_errors(runs, cli, monkeypatch):
    d = runs
    monkeypatch.setenv("IRKIT_QUIET", "0")  # the suite runs quiet
    code, _, err = cli("eval", d / "a.run", "--qrels", d / "q.txt", "-o", d / "t.csv")
    assert code == 0 and "qrels read as trec" in err and "wrote" in err, err  # said without -q
    for args in (
        ("eval", d / "a.run", "--qrels", d / "q.txt", "-o", d / "t.csv", "--force"),
        board_args(d, d / "board.md"),
    ):
        code, _, err = cli(*args, "-q")
        assert code == 0 and err == "", err


# --- locks -----------------------------------------------------------------------

ARTEFACTS = {
    # name planted -> what the refusal must say
    "board.md": "symbolic link",
    "board.md.meta.json": "symbolic link",
    "board.png": "symbolic link",
    ".board.md.lock": "is a symbolic link",
    ".board.md.meta.json.lock": "is a symbolic link",
    ".board.png.lock": "is a symbolic link",
}


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(sorted(ARTEFACTS)), hard=st.booleans(), force=st.booleans())
def test_planted_links_are_never_followed(tmp_path_factory, name, hard, force):
    from irkit.cli import run

    d = tmp_path_factory.mktemp("links")
    for f, text in (("a.run", RUN_A), ("b.run", RUN_B), ("q.txt", QRELS)):
        (d / f).write_text(text)
    victim = d / "victim.txt"
    victim.write_text("precious\n")
    if hard:
        os.link(victim, d / name)
    else:
        (d / name).symlink_to(victim)
    code, err = run(*board_args(d, d / "board.md", *(["--force"] if force else [])))
    line = one_line_error(code, err)
    if name.endswith(".lock"):
        assert ("symbolic link" if not hard else "not a file irkit made") in line, line
    elif force:
        assert ("symbolic link" if not hard else "cannot tell it wrote") in line or "not a plot" in line, line
    else:
        assert "output exists" in line, line
    assert victim.read_text() == "precious\n" and victim.stat().st_nlink == (2 if hard else 1)
    assert not (d / "board.md").exists() or name == "board.md"
    assert [n for n in leftovers(d) if n != name] == []


def test_no_output_inside_an_index_folder(tmp_path, cli, cacm_index, cacm):
    idx = tmp_path / "idx"
    shutil.copytree(cacm_index.path, idx)
    (idx / "write.lock").write_bytes(b"")
    before = snapshot(idx)
    for out in (idx / "write.lock", idx / "impact" / "x.run", idx / "new.run"):
        code, _, err = cli("rank", "-i", idx, "-t", cacm.topics, "-o", out, "--force", "-q")
        one_line_error(code, err, str(out), f"inside {idx}", "write the output outside it")
    assert snapshot(idx) == before


def test_stale_locks_and_temporaries_are_cleaned_by_any_command_in_the_folder(runs, cli):
    d = runs
    dead = 999_999_999
    (d / ".x.run.lock").write_text(f"{dead}\n")  # left by a SIGKILLed writer of another output
    (d / f".y.run.{dead}.abc.tmp").write_text("half a run")
    (d / f".idx.{dead}.abc.tmp").mkdir()
    held = d / ".z.run.lock"  # a live writer holds this one
    fd = os.open(held, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert cli("eval", d / "a.run", "--qrels", d / "q.txt", "-o", d / "t.csv", "-q")[0] == 0
        assert leftovers(d) == [".z.run.lock"]
    finally:
        os.close(fd)


# --- one command, one transaction -------------------------------------------------


def _interrupt(*_args, **_kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("command", ["rank", "eval", "leaderboard", "index"])
@pytest.mark.parametrize("force", [False, True])
def test_an_interrupt_after_the_output_rolls_the_whole_command_back(
    command, force, runs, cli, monkeypatch, cacm_index, cacm
):
    # Before: the output was renamed into place, the sidecar (the report, after the plot) not; the
    # message said "nothing half-written was left", and the rerun said "output exists".
    import irkit.evaluate.leaderboard as board_mod
    import irkit.provenance

    d = runs
    (d / "c.jsonl").write_text('{"id": "d1", "contents": "hello world"}\n{"id": "d2", "contents": "another text"}\n')
    args = {
        "rank": ("rank", "-i", cacm_index.path, "-t", cacm.topics, "-o", d / "r.run", "-q"),
        "eval": ("eval", d / "a.run", "--qrels", d / "q.txt", "-o", d / "t.json", "-q"),
        "leaderboard": board_args(d, d / "board.html"),
        "index": ("index", d / "c.jsonl", "-i", d / "idx", "-q"),
    }[command]
    if force:
        assert cli(*args)[0] == 0
    before = snapshot(d)
    with monkeypatch.context() as m:
        if command == "leaderboard":  # after the plot, before the report
            m.setattr(board_mod, "write_report", _interrupt)
        m.setattr(irkit.provenance, "write_sidecar", _interrupt)
        code, _, err = cli(*args, *(["--force"] if force else []))
    assert code == 130 and err.strip().splitlines()[-1] == "irkit: interrupted; no output was written", err
    assert snapshot(d) == before  # nothing new, and what --force was replacing is back
    assert leftovers(d) == []
    code, _, err = cli(*args, "--force")
    assert code == 0, err


def test_a_failed_sidecar_rolls_the_run_back(runs, cli, monkeypatch, cacm_index, cacm):
    import errno as errno_mod

    import irkit.provenance

    def full(*_args, **_kwargs):
        raise OSError(errno_mod.ENOSPC, "No space left on device")

    monkeypatch.setattr(irkit.provenance, "write_sidecar", full)
    code, _, err = cli("rank", "-i", cacm_index.path, "-t", cacm.topics, "-o", runs / "r.run", "-q")
    one_line_error(code, err, "no space left")
    assert not (runs / "r.run").exists() and leftovers(runs) == []


# --- full, read-only and locked-down folders --------------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False):
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                           capture_output=True).returncode:  # fmt: skip
        pytest.skip("needs root and tmpfs to mount a small file system")
    try:
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_is_one_line_naming_the_output_and_leaves_nothing(tmp_path, cli, cacm_index, cacm, runs):
    with tmpfs(tmp_path / "full", "256k") as fs:
        out = fs / "r.run"  # a CACM BM25 run is megabytes: the disk fills while it is written
        code, _, err = cli("rank", "-i", cacm_index.path, "-t", cacm.topics, "-o", out, "-q")
        one_line_error(code, err, f"{out}: no space left on the device", "nothing was written")
        assert list(fs.iterdir()) == []
        # a disk that is full from the start: the temporary cannot even be made
        _fill(fs)
        code, _, err = cli("eval", runs / "a.run", "--qrels", runs / "q.txt", "-o", fs / "t.csv", "-q")
        one_line_error(code, err, str(fs / "t.csv"), "no space left")
        assert sorted(p.name for p in fs.iterdir()) == ["filler"]


def _fill(fs: Path) -> None:
    with contextlib.suppress(OSError), open(fs / "filler", "wb", buffering=0) as fh:
        while True:
            fh.write(b"\0" * 4096)


def test_a_read_only_folder_is_one_line_naming_the_output(tmp_path, cli, runs):
    with tmpfs(tmp_path / "ro", "64k", read_only=True) as fs:
        out = fs / "t.csv"
        code, _, err = cli("eval", runs / "a.run", "--qrels", runs / "q.txt", "-o", out, "-q")
        one_line_error(code, err, f"{out}: the file system is read-only", "writable folder")
        code, _, err = cli("eval", runs / "a.run", "--qrels", runs / "q.txt", "-o", fs / "sub" / "t.csv", "-q")
        one_line_error(code, err, "read-only")


def test_a_folder_that_refuses_writes_and_a_name_too_long_are_one_line(tmp_path, cli, runs):
    locked = tmp_path / "locked"
    locked.mkdir()
    # root ignores permission bits; an immutable folder refuses even root (EPERM)
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        code, _, err = cli("eval", runs / "a.run", "--qrels", runs / "q.txt", "-o", locked / "t.csv", "-q")
        one_line_error(code, err, str(locked / "t.csv"), "not permitted")
        assert list(locked.iterdir()) == []
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=False)
    long = runs / ("x" * 300 + ".csv")
    code, _, err = cli("eval", runs / "a.run", "--qrels", runs / "q.txt", "-o", long, "-q")
    one_line_error(code, err, "name too long", "shorter output name")


# --- signals at random moments ----------------------------------------------------

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


@pytest.fixture(scope="module")
def signal_case(tmp_path_factory, cacm_index, cacm):
    """The four writing commands, and the outputs each wrote once (for the --force cases)."""
    from irkit.cli import run

    src = tmp_path_factory.mktemp("signal-src")
    for f, text in (("a.run", RUN_A), ("b.run", RUN_B), ("q.txt", QRELS)):
        (src / f).write_text(text)
    (src / "c.jsonl").write_text("".join(f'{{"id": "d{i}", "contents": "text number {i}"}}\n' for i in range(50)))

    def args(d: Path) -> dict[str, tuple]:
        return {
            "index": ("index", src / "c.jsonl", "-i", d / "idx", "--threads", "1"),
            "rank": ("rank", "-i", cacm_index.path, "-t", cacm.topics, "-o", d / "r.run"),
            "eval": ("eval", src / "a.run", "--qrels", src / "q.txt", "-o", d / "t.csv"),
            "leaderboard": board_args(src, d / "board.md")[:-1],
        }

    # One folder a command: what that command alone writes (index now ends within the test's
    # delays, and a finished command is compared with its own outputs, not all four commands').
    golden = tmp_path_factory.mktemp("signal-golden")
    for name in args(golden):
        (golden / name).mkdir()
        assert run(*args(golden / name)[name], "-q")[0] == 0, name
    return args, golden


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    command=st.sampled_from(["index", "rank", "eval", "leaderboard"]),
    signum=st.sampled_from(SIGNALS),
    delay=st.floats(0.0, 4.0),
    force=st.booleans(),
)
def test_a_signal_at_any_moment_leaves_all_or_nothing(tmp_path_factory, signal_case, command, signum, delay, force):
    args, goldens = signal_case
    golden = goldens / command
    d = tmp_path_factory.mktemp("signal")
    a = args(d)[command]
    if force:  # the previous outputs are there, and --force replaces them
        for p in golden.iterdir():
            (shutil.copytree if p.is_dir() else shutil.copy2)(p, d / p.name)
    before = snapshot(d)
    cmd = [sys.executable, "-m", "irkit", *map(str, a), "-q", *(["--force"] if force else [])]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True, env={**os.environ, "IRKIT_QUIET": "1"})
    time.sleep(delay)
    sent = time.monotonic()
    proc.send_signal(signum)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"{command}: still running 30 s after {signum.name}")
    took = time.monotonic() - sent
    err = proc.stderr.read()
    assert leftovers(d) == [], err
    if code == 0:  # done before the signal (or the signal came after the commit): every output is there
        assert "Traceback" not in err
        assert sorted(p.name for p in d.iterdir()) == sorted(p.name for p in golden.iterdir()), err
        return
    # The signal came first: it ended the process at once, and nothing changed.
    assert took < 6.0, f"{command} took {took:.1f} s to stop after {signum.name}"
    if code == 1 or code == -signum:  # Python was starting (importing the package): no command ran yet
        assert not re.search(r"/irkit/(?!__init__\.py)", err), err
    else:
        assert code == 128 + signum, (code, err)
    assert snapshot(d) == before, err
    if code == 128 + signum:
        name = "" if signum == signal.SIGINT else f" ({signum.name})"
        assert err.strip().splitlines()[-1].startswith(f"irkit: interrupted{name}; no output was written"), err


@pytest.mark.slow
def test_sigterm_on_a_quiet_ray_rank_stops_it_and_leaves_nothing(tmp_path, cacm_index, cacm):
    out = tmp_path / "r.run"
    cmd = [sys.executable, "-m", "irkit", "rank", "-i", cacm_index.path, "-t", cacm.topics, "-o", out, "-q",
           "--engine", "ray", "--workers", "1"]  # fmt: skip
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen(list(map(str, cmd)), cwd=ROOT, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    session = f"_{proc.pid}/"
    while time.monotonic() < deadline and proc.poll() is None and not _ray_processes(session):
        time.sleep(0.2)
    time.sleep(1.0)  # Ray is starting or ranking
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=60)
    took = time.monotonic() - sent
    err = proc.stderr.read()
    assert code == 143 and took < 6.0, (code, took, err)
    # -q: the interrupt line only (Ray's token-authentication notice used to print)
    assert err.strip().splitlines() == ["irkit: interrupted (SIGTERM); no output was written"], err
    assert list(tmp_path.iterdir()) == []
    time.sleep(2)
    assert _ray_processes(session) == [], "Ray's processes outlived the command"


def _ray_processes(session: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError):
                if session in (p / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(p.name))
    return found
