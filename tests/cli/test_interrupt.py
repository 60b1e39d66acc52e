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
