"""Hostile inputs of issue 21: each one is refused with a located line or read as its format says.

Archives and compressed files are read with bounded memory, parsers in linear
time, numbers as trec_eval 9.0.8 reads them, model files checked before a
parser trusts them, and option values checked before anything runs.
"""

from __future__ import annotations

import pytest

from irkit.errors import InputError, IrkitError

# ---- option and environment values ----------------------------------------------------------


@pytest.mark.parametrize(
    "measure",
    [
        "P@1e1",
        "P@1e20",
        "P@10.0",
        "P@0",
        "P@10000000000",
        "P@１",
        "x" * 100_000,
        "(" * 5000 + "P" + ")" * 5000,
        "nDCG(dcg=(((((1)))))))@10",
        "__import__('os')",
    ],
)
def test_a_bad_measure_name_is_one_line(measure):
    from irkit.evaluate import parse_measures

    with pytest.raises(InputError, match="measure"):
        parse_measures([measure])


def test_measure_names_with_parameters_still_parse():
    from irkit.evaluate import parse_measures

    got = [str(m) for m in parse_measures("nDCG@10 P(rel=2)@5 IPrec@0.5 nDCG(dcg='exp-log2')@10 AP")]
    assert got == ["nDCG@10", "P(rel=2)@5", "IPrec@0.5", "nDCG(dcg='exp-log2')@10", "AP"]


@pytest.mark.parametrize("heap", ["garbage", "1k", "2e9", "0", "99999999999999999g", "-4g"])
def test_a_bad_java_heap_is_refused_before_the_jvm_starts(heap):
    from irkit._java import check_heap

    with pytest.raises(IrkitError, match="IRKIT_JAVA_HEAP"):
        check_heap(heap)
    assert check_heap("512m") == "512m"


@pytest.mark.parametrize("measure", ["P_１", "ndcg_cut.1e1", "P_10000000000", "ndcg_cut.5,10,((("])
def test_a_bad_trec_eval_measure_name_is_one_line(measure):
    from irkit.evaluate import parse_measures

    with pytest.raises(InputError, match="measure"):
        parse_measures([measure])


def test_trec_eval_measure_names_still_parse():
    from irkit.evaluate import parse_measures

    assert [str(m) for m in parse_measures("map ndcg_cut_10 ndcg_cut.5,10 P_30")] == ["AP", "nDCG@10", "nDCG@5", "P@30"]
