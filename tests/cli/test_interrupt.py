import os
import signal
import subprocess
import sys


def test_ctrl_c_while_indexing_leaves_nothing(tmp_path, vaswani):
    env = {**os.environ, "IRKIT_QUIET": "0"}
    cmd = [sys.executable, "-m", "irkit", "index", str(vaswani.docs), "--index", str(tmp_path / "idx")]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    # Interrupt once Lucene is at work in irkit's JVM (writer threads running, batches queued).
    for line in proc.stderr:
        if "Lucene is indexing" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, rest
    assert "interrupted" in rest and "Traceback" not in rest
    assert os.listdir(tmp_path) == []


def test_ctrl_c_that_python_swallows_still_stops_the_output(tmp_path, cranfield):
    # CPython prints and ignores a KeyboardInterrupt raised inside an at-fork hook: a Ctrl-C that
    # lands as irkit starts a child process (CI saw it once with Anserini's JVM). Here every fork
    # interrupts the process in that hook, and indexing forks once (it starts no child of its own
    # now); the command must still end as interrupted, with nothing renamed into place.
    code = (
        "import os, signal, sys\n"
        "os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGINT))\n"
        "import irkit.index.writer as writer\n"
        "write_lucene = writer.write_lucene\n"
        "def fork_then_write(*args, **kwargs):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        os._exit(0)\n"
        "    os.waitpid(pid, 0)\n"
        "    return write_lucene(*args, **kwargs)\n"
        "writer.write_lucene = fork_then_write\n"
        "from irkit.cli import main\n"
        f"sys.argv = ['irkit', 'index', {str(cranfield.docs)!r}, '--index', {str(tmp_path / 'idx')!r}, '-q']\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 130, proc.stderr
    assert "irkit: interrupted; no output was written" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr  # the swallowed interrupt is not printed as an error
    assert os.listdir(tmp_path) == []
