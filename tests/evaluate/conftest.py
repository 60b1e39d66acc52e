"""Headless Chromium (Debian's ``chromium``) for the HTML pages irkit writes (the leaderboard report,
``irkit compare``): the ``browser`` fixture, which skips with a reason where Chromium is missing.

The pages carry no script, so a check runs in a small wrapper page that loads the page in an
iframe (``--allow-file-access-from-files`` lets it read the page's DOM) and writes what it finds
into the DOM that ``--dump-dom`` prints.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# The flags a closed machine needs (no background connections); a fresh profile each time.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")  # fmt: skip

WRAPPER = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
<pre id="result">pending</pre>
<script>
function check(frame) {
  var out = {};
  try {
    var d = frame.contentDocument;
    CHECK
  } catch (e) { out.error = String(e); }
  document.getElementById('result').textContent = JSON.stringify(out);
}
</script>
<iframe src="URL" onload="check(this)" width="WIDTH" height="900"></iframe>
</body></html>
"""


class Browser:
    def run(self, *args: str, timeout: int = 180) -> str:
        """Chromium's stdout for ``args`` (``--dump-dom URL``, ``--screenshot=PATH URL``)."""
        with tempfile.TemporaryDirectory(prefix="irkit-chromium-") as profile:
            done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                                  text=True, timeout=timeout)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def inspect(self, page: Path, check: str, tmp_path: Path, width: int = 1200) -> dict:
        """What the JavaScript ``check`` (statements that fill ``out`` from the page's document ``d``)
        found in ``page``; ``out["error"]`` if it threw."""
        wrapper = tmp_path / "check.html"
        text = WRAPPER.replace("CHECK", check).replace("WIDTH", str(width))
        wrapper.write_text(text.replace("URL", page.resolve().as_uri()))
        dom = self.run("--allow-file-access-from-files", "--virtual-time-budget=20000", "--dump-dom", wrapper.as_uri())
        found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
        assert found, dom[-2000:]
        return json.loads(html.unescape(found.group(1)))

    def screenshot(self, page: Path, shot: Path, width: int, height: int) -> tuple[int, int]:
        """Render ``page`` into the PNG ``shot``; its size in pixels."""
        self.run(f"--window-size={width},{height}", f"--screenshot={shot}", page.resolve().as_uri())
        return self.png_size(shot)

    @staticmethod
    def png_size(path: Path) -> tuple[int, int]:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", path
        return struct.unpack(">II", data[16:24])


@pytest.fixture
def browser() -> Browser:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it where apt can)")
    return Browser()
