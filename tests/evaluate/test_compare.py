"""``irkit compare`` / ``irkit.compare``: two runs topic by topic, checked in headless Chromium.

The page carries no script: the ``browser`` fixture (tests/evaluate/conftest.py)
loads it in a wrapper page that reports what ``CHECK`` finds in its DOM.

``IRKIT_SCREENSHOT_COMPARE=docs/compare-page.png`` also copies the screenshot
there (the one the README shows).
"""

from __future__ import annotations

import json
import os
import re
import shutil

import numpy as np
import pytest

from irkit.io.trec import write_run
from irkit.retrieve.bm25 import BM25

# What the page checks read from its DOM (tests/evaluate/conftest.py's wrapper page).
CHECK = """
    out.sections = Array.from(d.querySelectorAll('section[data-qid]')).map(function (s) {
      return {qid: s.dataset.qid, lists: s.querySelectorAll('ol').length,
              items: Array.from(s.querySelectorAll('ol')).map(function (o) { return o.children.length; }),
              marks: s.querySelectorAll('mark').length, text: s.textContent.length};
    });
    out.bars = d.querySelectorAll('#differences rect').length;
    out.links = Array.from(d.querySelectorAll('#differences a')).map(function (a) { return a.getAttribute('href'); });
    out.summary = d.getElementById('summary').textContent;
    out.scripts = d.scripts.length;
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cranfield, cranfield_index):
    from irkit.io.topics import read_topics

    root = tmp_path_factory.mktemp("compare")
    queries = read_topics(cranfield.topics)
    paths = []
    for name, k1, b in (("bm25", 0.9, 0.4), ("bm25-b0.75", 1.2, 0.75)):
        write_run(BM25(cranfield_index, k1=k1, b=b).search(queries, hits=20, quiet=True), root / f"{name}.run")
        paths.append(root / f"{name}.run")
    return root, paths


@pytest.fixture(scope="module")
def page(runs, cranfield, cranfield_index):
    """``irkit compare A B --qrels Q --index I --topics T --output cmp.html`` on Cranfield."""
    from irkit.cli import run

    root, (a, b) = runs
    out = root / "cmp.html"
    code, said = run("compare", a, b, "--qrels", cranfield.qrels, "--index", cranfield_index.path,
                     "--topics", cranfield.topics, "--measure", "AP", "--output", out, "-q")  # fmt: skip
    assert code == 0, said
    return out


def test_the_figures_are_ir_measures_per_topic_ap(runs, cranfield):
    import irkit
    from irkit.evaluate.measures import evaluate
    from irkit.io.trec import read_qrels, read_run

    _, (a, b) = runs
    qrels = read_qrels(cranfield.qrels)
    result = irkit.compare(a, b, qrels, measure="map")  # a trec_eval name works too
    ap = {p: evaluate(read_run(p), qrels, "AP", per_query=True).set_index("qid")["AP"] for p in (a, b)}
    got = result.per_topic.set_index("qid")
    assert len(got) == qrels["qid"].nunique() == 225
    assert np.allclose(got["A"], ap[a].reindex(got.index).fillna(0.0))
    assert np.allclose(got["B"] - got["A"], got["diff"])
    assert result.per_topic["diff"].is_monotonic_decreasing  # the bars' and sections' order
    c = result.counts
    assert c["win"] + c["loss"] + c["tie"] == 225 and c["win"] > c["loss"] > 0  # b=0.75 beats b=0.4 on Cranfield
    assert c["tie"] == int((got["A"].round(4) == got["B"].round(4)).sum())


def test_one_section_per_judged_topic_in_chromium(page, tmp_path, cranfield, browser):
    from irkit.io.trec import read_qrels

    found = browser.inspect(page, CHECK, tmp_path, width=1400)
    assert "error" not in found, found
    judged = sorted(set(read_qrels(cranfield.qrels)["qid"]))
    qids = [s["qid"] for s in found["sections"]]
    assert sorted(qids) == judged and len(qids) == len(set(qids))
    assert all(s["lists"] == 2 and all(0 < n <= 10 for n in s["items"]) for s in found["sections"])
    assert sum(s["marks"] for s in found["sections"]) > 1000  # query terms marked in the snippets
    assert found["bars"] == len(judged) and sorted(found["links"]) == sorted(f"#q-{q}" for q in judged)
    assert re.search(r"wins \d+, loses \d+, ties \d+", found["summary"])
    assert found["scripts"] == 0


def test_screenshot(page, tmp_path, browser):
    shot = tmp_path / "compare-page.png"
    assert browser.screenshot(page, shot, 1400, 1000) == (1400, 1000)
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
    target = os.environ.get("IRKIT_SCREENSHOT_COMPARE")
    if target:
        shutil.copyfile(shot, target)


HOSTILE = '<script>alert(1)</script></li></ol></section><section data-qid="evil"><img src=x onerror=alert(2)>'


def test_document_text_and_names_are_escaped(tmp_path, cli, browser):
    from irkit.index import build_index

    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        json.dumps({"id": "d<1>", "contents": f"flow {HOSTILE} & more flow"}) + "\n"
        + json.dumps({"id": "d2", "contents": "boundary layer flow"}) + "\n"
    )  # fmt: skip
    build_index(docs, tmp_path / "index", threads=1, quiet=True)
    (tmp_path / "a.run").write_text("1 Q0 d<1> 1 2.0 a\n1 Q0 d2 2 1.0 a\n")
    (tmp_path / "b.run").write_text("1 Q0 d2 1 2.0 b\n1 Q0 d<1> 2 1.0 b\n")
    (tmp_path / "qrels").write_text("1 0 d2 1\n2 0 d2 1\n")
    (tmp_path / "topics.tsv").write_text(f"1\tflow {HOSTILE}\n2\tlayer\n")
    out = tmp_path / "cmp.html"
    args = ["compare", tmp_path / "a.run", tmp_path / "b.run", "--qrels", tmp_path / "qrels", "--index",
            tmp_path / "index", "--topics", tmp_path / "topics.tsv", "--output", out]  # fmt: skip
    code, stdout, err = cli(*args)
    assert code == 0, err
    assert "wins 1, loses 0, ties 1" in stdout  # topic 1: AP 0.5 -> 1.0; topic 2: neither run answered it
    text = out.read_text()
    assert "<script" not in text and "<img" not in text and 'data-qid="evil"' not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "d&lt;1&gt;" in text
    found = browser.inspect(out, CHECK, tmp_path, width=1400)
    assert [s["qid"] for s in found["sections"]] == ["1", "2"] and found["scripts"] == 0
    # The output protocol: an existing page is kept without --force; not .html is refused in one line.
    code, _, err = cli(*args)
    assert code == 2 and "--force" in err
    code, _, err = cli(*args[:-1], tmp_path / "cmp.txt")
    assert code == 2 and "must end in .html" in err and len(err.strip().splitlines()) == 1
