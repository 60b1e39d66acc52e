"""trec_eval's measure names give the figures of the ir-measures names they stand for."""

import pytest

from irkit.errors import InputError
from irkit.evaluate import parse_measures

PAIRS = {
    "map": "AP",
    "ndcg_cut_10": "nDCG@10",
    "ndcg_cut.10": "nDCG@10",
    "P_30": "P@30",
    "P.30": "P@30",
    "recall_100": "R@100",
    "recip_rank": "RR",
    "Rprec": "Rprec",
    "bpref": "Bpref",
    "map_cut_100": "AP@100",
    "ndcg": "nDCG",
}


@pytest.mark.parametrize("trec, ir", PAIRS.items())
def test_trec_eval_name_parses_to_the_ir_measures_measure(trec, ir):
    assert [str(m) for m in parse_measures(trec)] == [ir]


def test_parameter_lists_duplicates_and_mixed_spellings():
    # trec_eval's "ndcg_cut.5,10" keeps its comma; a comma between names separates them
    assert [str(m) for m in parse_measures("ndcg_cut.5,10 map,P_10")] == ["nDCG@5", "nDCG@10", "AP", "P@10"]
    # one measure in two spellings is kept once
    assert [str(m) for m in parse_measures("AP map nDCG@10 ndcg_cut_10")] == ["AP", "nDCG@10"]
    with pytest.raises(InputError, match=r"unknown measure 'mapp'.*trec_eval"):
        parse_measures("mapp")


def test_cli_eval_prints_the_same_figures_for_trec_eval_names(tmp_path, cranfield, cranfield_index, cli):
    run = tmp_path / "bm25.run"
    code, _, err = cli("rank", "-q", "-i", cranfield_index.path, "-t", cranfield.topics, "-o", run)
    assert code == 0, err

    def figures(measures):
        code, out, err = cli(
            "eval", run, "--qrels", cranfield.qrels, "--measures", measures, "-o", tmp_path / f"{len(measures)}.csv"
        )
        assert code == 0, err
        header, row = out.splitlines()[:2]
        return header.split()[1:], row.split()[1:]

    names, trec = figures("map ndcg_cut_10 P_30 recip_rank")
    ir_names, ir = figures("AP nDCG@10 P@30 RR")
    assert names == ir_names == ["AP", "nDCG@10", "P@30", "RR"]
    assert trec == ir
    assert ir[0] == "0.2879"  # Cranfield BM25's AP (README), so the figures are real ones
