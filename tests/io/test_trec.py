import pandas as pd
import pytest

from irkit.errors import InputError, IrkitError
from irkit.frames import run_frame
from irkit.io.trec import cranfield_gain, normalise_docnos, read_qrels, read_run, write_run


def test_run_roundtrip_is_exact(tmp_path):
    run = run_frame(
        pd.DataFrame({"qid": ["1", "1", "2"], "docno": ["a", "b", "c"], "score": [12.080554, 0.1 + 0.2, -3.5]})
    )
    p = write_run(run, tmp_path / "r.run", tag="t")
    back = read_run(p)
    pd.testing.assert_frame_equal(back, run)
    assert p.read_text().splitlines()[0] == "1 Q0 a 1 12.080554 t"


def test_write_run_refuses_existing_and_leaves_no_partial(tmp_path):
    p = tmp_path / "r.run"
    p.write_text("keep\n")
    run = run_frame(pd.DataFrame({"qid": ["1"], "docno": ["a"], "score": [1.0]}))
    with pytest.raises(IrkitError, match="exists"):
        write_run(run, p)
    assert p.read_text() == "keep\n"
    bad = run_frame(pd.DataFrame({"qid": ["1"], "docno": ["a b"], "score": [1.0]}))
    with pytest.raises(InputError):
        write_run(bad, tmp_path / "new.run")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["r.run"]


def test_malformed_run_line(tmp_path):
    p = tmp_path / "r.run"
    p.write_text("1 Q0 a 1 2.0 t\n1 Q0 b 2 notanumber t\n")
    with pytest.raises(InputError) as e:
        read_run(p)
    assert str(e.value).startswith(f"{p}:2:")
    p.write_text("1 Q0 a 1 2.0 t\n\n1 Q0 b 2\n")
    with pytest.raises(InputError, match=r":3: expected 6 columns"):
        read_run(p)


def test_duplicate_document_in_run(tmp_path):
    p = tmp_path / "r.run"
    p.write_text("1 Q0 a 1 2.0 t\n1 Q0 a 2 1.0 t\n")
    with pytest.raises(InputError, match=r":2: document a appears twice"):
        read_run(p)


def test_qrels_formats(tmp_path):
    t = tmp_path / "q.trec"
    t.write_text("1 0 d1 2\n1 0 d2 0\n")
    assert read_qrels(t).label.tolist() == [2, 0]
    b = tmp_path / "q.tsv"
    b.write_text("query-id\tcorpus-id\tscore\nq1\tdoc1\t1\n")
    assert read_qrels(b).iloc[0].tolist() == ["q1", "doc1", 1]
    bad = tmp_path / "bad"
    bad.write_text("1 0 d1 1\n1 0 d2\n")
    with pytest.raises(InputError, match=r":2: expected 4 columns"):
        read_qrels(bad, "trec")


def test_cranfield_gain_mapping(cranfield):
    assert [cranfield_gain(r) for r in (1, 2, 3, 4, 5, -1)] == [4, 3, 2, 1, 0, 0]
    q = read_qrels(cranfield.qrels)
    assert len(q) == 1837 and q.qid.nunique() == 225
    # counts from cranqrel: rel 1:128 2:387 3:734 4:363 -1:225
    assert q.label.value_counts().to_dict() == {4: 128, 3: 387, 2: 734, 1: 363, 0: 225}


def test_cacm_unpadded_ids_normalise(cacm, cacm_index):
    q = read_qrels(cacm.qrels)
    missing = ~q.docno.isin(set(cacm_index.docnos))
    assert missing.sum() == 55
    fixed, changed = normalise_docnos(q, cacm_index.docnos)
    assert changed == 55 and fixed.docno.isin(set(cacm_index.docnos)).all()
    assert "CACM-0756" in set(fixed.docno) and "CACM-756" not in set(fixed.docno)


def test_written_files_get_the_umask_mode(tmp_path):
    import os
    import stat

    run = run_frame(pd.DataFrame({"qid": ["1"], "docno": ["a"], "score": [1.0]}))
    p = write_run(run, tmp_path / "r.run")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask
