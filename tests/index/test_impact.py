"""The impact part of an index: Lucene's postings, norms and statistics, and its refusals."""

import shutil
import sys

import numpy as np
import pytest

from irkit.errors import InputError
from irkit.index import LuceneIndex, add_impact
from irkit.index.impact import IMPACT_DIR, ImpactIndex, has_impact
from irkit.retrieve import BM25


@pytest.fixture
def bare_cacm(tmp_path, cacm_index):
    """A copy of the CACM index without its impact part."""
    dst = tmp_path / "cacm"
    shutil.copytree(cacm_index.path, dst, ignore=shutil.ignore_patterns(IMPACT_DIR, "write.lock"))
    return dst


def test_arrays_are_lucenes(cacm_index):
    ix = ImpactIndex.open(cacm_index.path, lucene=cacm_index)
    assert ix.max_doc == cacm_index.reader.maxDoc() and ix.doc_count == ix.max_doc
    stats = cacm_index.stats
    assert ix.sum_total_term_freq == stats["terms"]
    assert np.float32(ix.avgdl) == np.float32(stats["terms"] / stats["documents"])
    assert isinstance(ix.post_docs, np.memmap)  # memory-mapped, not read
    for term in ["comput", "algorithm", "parallel", "zzqxv"]:
        (tid,) = ix.term_ids([term])
        assert int(ix.doc_freq([tid])[0]) == cacm_index.doc_freq(term)
    # per-document postings equal Lucene's stored document vectors
    docnos = list(cacm_index.docnos[[0, 17, 1234, 3203]])
    for docno, tv in zip(docnos, cacm_index.term_vectors(docnos), strict=True):
        doc = cacm_index.lucene_id(docno)
        for term, tf in tv.items():
            (tid,) = ix.term_ids([term])
            s, e = ix.post_offsets[tid], ix.post_offsets[tid + 1]
            docs = np.asarray(ix.post_docs[s:e])
            assert (np.diff(docs) > 0).all()
            (pos,) = np.nonzero(docs == doc)[0]
            assert int(ix.post_freqs[s + pos]) == tf
        # Lucene's norm byte: SmallFloat.intToByte4(document length)
        from irkit import _java

        small_float = _java.autoclass("org.apache.lucene.util.SmallFloat")
        assert int(ix.norms[doc]) == small_float.intToByte4(sum(tv.values())) & 0xFF
    # docno ranks sort the docnos
    order = np.asarray(ix.docno_order)
    assert list(cacm_index.docnos[order]) == sorted(cacm_index.docnos)
    assert (np.asarray(ix.docno_rank)[order] == np.arange(ix.max_doc)).all()


def test_index_without_impact_part(bare_cacm, capsys, monkeypatch):
    lucene = LuceneIndex(bare_cacm)
    assert not has_impact(bare_cacm) and BM25(lucene).backend == "lucene"
    with pytest.raises(InputError, match="irkit index --impact-only"):
        BM25(lucene, backend="impact")
    with pytest.raises(InputError, match="unknown backend"):
        BM25(lucene, backend="bm25s")
    # the CLI adds one, atomically; the second time it needs --force
    from irkit.cli import main

    def cli(*args):
        monkeypatch.setattr(sys, "argv", ["irkit", *map(str, args)])
        try:
            main()
        except SystemExit as e:
            return e.code
        return 0

    assert cli("index", "--impact-only", "-q", bare_cacm) == 0
    assert has_impact(bare_cacm) and BM25(lucene).backend == "impact"
    capsys.readouterr()
    assert cli("index", "--impact-only", "-q", bare_cacm) != 0
    assert "--force" in capsys.readouterr().err
    add_impact(bare_cacm, force=True, quiet=True)


def test_impact_part_of_another_index_is_refused(bare_cacm, cranfield_index):
    shutil.copytree(cranfield_index.path / IMPACT_DIR, bare_cacm / IMPACT_DIR)
    with pytest.raises(InputError, match="does not match its Lucene index"):
        BM25(LuceneIndex(bare_cacm))


def test_damaged_impact_part_is_refused(bare_cacm):
    add_impact(bare_cacm, quiet=True)
    f = bare_cacm / IMPACT_DIR / "post_docs.npy"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(InputError, match="damaged"):
        BM25(LuceneIndex(bare_cacm))
    (bare_cacm / IMPACT_DIR / "meta.json").write_text("{not json")
    with pytest.raises(InputError, match="unreadable"):
        ImpactIndex.open(bare_cacm)
