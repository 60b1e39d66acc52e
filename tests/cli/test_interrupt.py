import os
import signal
import subprocess
import sys


def test_ctrl_c_while_indexing_leaves_nothing(tmp_path, vaswani):
    env = {**os.environ, "IRKIT_QUIET": "0"}
    cmd = [sys.executable, "-m", "irkit", "index", str(vaswani.docs), "--index", str(tmp_path / "idx")]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    # Interrupt once Anserini's child JVM is at work: the slowest, least interruptible part.
    for line in proc.stderr:
        if "Anserini is indexing" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, rest
    assert "interrupted" in rest and "Traceback" not in rest
    assert os.listdir(tmp_path) == []


def test_ctrl_c_that_python_swallows_still_stops_the_output(tmp_path, cranfield):
    # CPython prints and ignores a KeyboardInterrupt raised inside an at-fork hook: a Ctrl-C that
    # lands as irkit starts Anserini's JVM (CI saw it once). Here every fork interrupts the process
    # in that hook; the command must still end as interrupted, with nothing renamed into place.
    code = (
        "import os, signal, sys\n"
        "os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGINT))\n"
        "from irkit.cli import main\n"
        f"sys.argv = ['irkit', 'index', {str(cranfield.docs)!r}, '--index', {str(tmp_path / 'idx')!r}, '-q']\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 130, proc.stderr
    assert "irkit: interrupted; no output was written" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr  # the swallowed interrupt is not printed as an error
    assert os.listdir(tmp_path) == []
