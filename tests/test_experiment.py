"""irkit.Experiment's table: every column printed, and the numbers of the leaderboard."""

import pandas as pd

import irkit
from irkit.experiment import Leaderboard
from irkit.frames import qrels_frame, run_frame
from irkit.pipeline import Run

TOPICS = pd.DataFrame({"qid": [str(q) for q in range(1, 9)], "query": "x"})
QRELS = qrels_frame([(str(q), f"d{q}", 1) for q in range(1, 9)])


def _run(odd: int, even: int) -> Run:
    # each topic's one relevant document at rank `odd` (odd topics) or `even` among five
    at = {str(q): odd if q % 2 else even for q in range(1, 9)}
    rows = [(q, f"d{q}" if r == at[q] else f"n{q}-{r}", 10.0 - r) for q in at for r in range(1, 6)]
    return Run(run_frame(pd.DataFrame(rows, columns=["qid", "docno", "score"])))


def test_printing_the_table_shows_every_column():
    pipes = {"first": _run(1, 1), "second": _run(2, 3), "fifth": _run(5, 4)}
    table = irkit.Experiment(pipes, TOPICS, QRELS, ["AP", "nDCG@10", "RR", "P@5"], baseline="first")
    assert isinstance(table, Leaderboard) and list(table["name"]) == ["first", "second", "fifth"]
    ap = table.set_index("name")["AP"]
    assert ap["first"] == 1.0 and abs(ap["second"] - (1 / 2 + 1 / 3) / 2) < 1e-9 and abs(ap["fifth"] - 0.225) < 1e-9
    with pd.option_context("display.max_columns", 3, "display.width", 40):  # a narrow terminal
        text = repr(table)
        assert "..." not in text and all(str(c) in text for c in table.columns)
        assert str(table) == text
        assert "..." not in repr(table.head(2))  # derived frames print whole too
