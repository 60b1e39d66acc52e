"""Runs of different depths: irkit eval, irkit leaderboard and Experiment say so, naming the depths."""

from __future__ import annotations

import pytest

import irkit
from irkit.evaluate.leaderboard import depth_note, leaderboard, run_depths
from irkit.evaluate.report import to_latex, to_markdown
from irkit.io.trec import read_qrels, write_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cranfield_index, cranfield):
    w = tmp_path_factory.mktemp("depths")
    topics = irkit.read_topics(cranfield.topics)
    deep = irkit.BM25(cranfield_index).transform(topics)
    shallow = deep[deep["rank"] <= 100].reset_index(drop=True)
    write_run(deep, w / "deep.run")
    write_run(shallow, w / "shallow.run")
    return w, deep, shallow


def test_depths_are_named_and_equal_depths_pass_silently(runs):
    _, deep, shallow = runs
    assert run_depths({"deep": deep, "shallow": shallow}) == {"deep": 1000, "shallow": 100}
    note = depth_note({"deep": deep, "shallow": shallow})
    assert "`deep` 1,000, `shallow` 100" in note and "AP and recall are not comparable" in note
    assert depth_note({"a": deep, "b": deep}) is None


def test_leaderboard_and_eval_warn_on_stderr_and_in_the_report(runs, cranfield, cli, tmp_path):
    w, _, _ = runs
    code, out, err = cli("leaderboard", w / "deep.run", w / "shallow.run", "--qrels", cranfield.qrels,
                         "--baseline", w / "deep.run", "--measures", "AP", "-o", tmp_path / "b.md")  # fmt: skip
    assert code == 0, err
    assert "irkit: warning: The runs have different depths" in err and "`shallow` 100" in err
    assert "different depths" not in out  # stderr, not the table
    assert "`deep` 1,000, `shallow` 100" in (tmp_path / "b.md").read_text()
    code, out, err = cli("eval", w / "deep.run", w / "shallow.run", "--qrels", cranfield.qrels, "--measures", "AP")
    assert code == 0 and "`deep` 1,000, `shallow` 100" in err
    code, out, err = cli("eval", w / "deep.run", "--qrels", cranfield.qrels, "--measures", "AP")
    assert code == 0 and "different depths" not in err


def test_latex_caption_and_experiment(runs, cranfield, capsys):
    _, deep, shallow = runs
    qrels = read_qrels(cranfield.qrels, "cranfield")
    table = leaderboard({"deep": deep, "shallow": shallow}, qrels, "AP", baseline="deep")
    caption = to_latex(table).split(r"\caption{")[1].split("}\n")[0]
    assert caption.startswith("Runs against the baseline deep. The runs have different depths")
    assert "deep 1,000, shallow 100" in caption and r"\%" in caption
    assert "different depths" in to_markdown(table)
    capsys.readouterr()
    topics = irkit.read_topics(cranfield.topics)
    exp = irkit.Experiment({"deep": irkit.Run(deep), "shallow": irkit.Run(shallow)}, topics, qrels, "AP")
    assert "`deep` 1,000, `shallow` 100" in capsys.readouterr().err
    assert "different depths" in exp.attrs["depths"]
