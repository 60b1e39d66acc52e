"""The HTML leaderboard report in a real browser (headless Chromium, Debian's ``chromium``).

The report carries no script: the ``browser`` fixture (tests/evaluate/conftest.py)
loads it in a wrapper page that reports what ``CHECK`` finds in its DOM: the
table's body rows and each image's ``naturalWidth`` (0 when the plot did not load).

``IRKIT_SCREENSHOT=docs/leaderboard-report.png`` also copies the screenshot there
(the one the README shows).
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from irkit.cli import run
from irkit.io.trec import write_run
from irkit.retrieve.bm25 import BM25

# What the plot check reads from the report's DOM (tests/evaluate/conftest.py's wrapper page).
CHECK = """
    out.rows = Array.from(d.querySelectorAll('table#leaderboard tbody tr')).map(function (r) { return r.cells[0].textContent; });
    out.images = Array.from(d.images).map(function (i) {
      return {src: i.getAttribute('src'), complete: i.complete, width: i.naturalWidth, height: i.naturalHeight};
    });
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory, cranfield, cranfield_index):
    """`irkit leaderboard --output board.html` over three real Cranfield BM25 runs."""
    from irkit.io.topics import read_topics

    root = tmp_path_factory.mktemp("report")
    queries = read_topics(cranfield.topics)
    paths = []
    for name, k1, b in (("bm25", 0.9, 0.4), ("bm25-k1.2-b0.75", 1.2, 0.75), ("bm25-k1.5-b1.0", 1.5, 1.0)):
        write_run(BM25(cranfield_index, k1=k1, b=b).search(queries, hits=100, quiet=True), root / f"{name}.run")
        paths.append(root / f"{name}.run")
    out = root / "board.html"
    code, said = run("leaderboard", *paths, "--qrels", cranfield.qrels, "--baseline", paths[0],
                     "--measures", "nDCG@10 AP P@10", "--output", out, "-q")  # fmt: skip
    assert code == 0, said
    assert out.exists() and out.with_suffix(".png").exists()
    return out, [p.stem for p in paths]


def test_report_table_has_one_row_per_run_in_chromium(report, browser):
    path, names = report
    dom = browser.run("--dump-dom", path.resolve().as_uri())
    body = re.search(r'<table id="leaderboard">.*?<tbody>(.*?)</tbody>', dom, re.S)
    assert body, dom[:2000]
    rows = re.findall(r"<tr>\s*<td[^>]*>([^<]*)</td>", body.group(1))
    # one row per run, best nDCG@10 first (on Cranfield, b=0.75 beats Anserini's b=0.4: 0.3675 against 0.3510)
    assert sorted(rows) == sorted(names) and rows[0] == "bm25-k1.2-b0.75"
    assert "95% CI" in dom and "<script" not in path.read_text()


def test_report_plot_image_loads_in_chromium(report, tmp_path, browser):
    path, names = report
    found = browser.inspect(path, CHECK, tmp_path)
    assert "error" not in found, found
    assert sorted(found["rows"]) == sorted(names)
    (image,) = found["images"]
    width, height = browser.png_size(path.with_suffix(".png"))
    assert image["src"] == "board.png" and image["complete"] and (image["width"], image["height"]) == (width, height)
    # the check can fail: a report whose plot is missing shows an image of width 0
    broken = tmp_path / "broken.html"
    broken.write_text(path.read_text().replace('src="board.png"', 'src="missing.png"'))
    (missing,) = browser.inspect(broken, CHECK, tmp_path)["images"]
    assert missing["width"] == 0


def test_report_screenshot(report, tmp_path, browser):
    path, _ = report
    shot = tmp_path / "leaderboard-report.png"
    assert (
        browser.screenshot(path, shot, 1600, 900) == (1600, 900) and shot.stat().st_size > 20_000
    )  # a rendered page, not a blank one
    target = os.environ.get("IRKIT_SCREENSHOT")
    if target:
        shutil.copyfile(shot, target)
