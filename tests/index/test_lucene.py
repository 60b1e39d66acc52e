import json

import pytest

from irkit.errors import InputError, IrkitError
from irkit.index import LuceneIndex, build_index


def _docs(tmp_path, n=5, bad_at=None):
    f = tmp_path / "docs.jsonl"
    lines = [json.dumps({"id": f"d{i}", "contents": f"document number {i} about retrieval"}) for i in range(n)]
    if bad_at is not None:
        lines.insert(bad_at, "{not json")
    f.write_text("\n".join(lines) + "\n")
    return f


def test_build_and_read_small_index(tmp_path):
    idx = build_index(_docs(tmp_path), tmp_path / "idx", threads=1, quiet=True)
    assert idx.num_docs == 5 and sorted(idx.docnos) == [f"d{i}" for i in range(5)]
    assert idx.meta["format"] == "jsonl" and idx.meta["documents"] == 5
    assert idx.raw("d3") == "document number 3 about retrieval"
    assert idx.analyze("The Retrieval of documents") == ["retriev", "document"]
    assert idx.term_vectors(["d1"])[0]["retriev"] == 1
    assert idx.doc_freq("retriev") == 5


def test_existing_index_is_not_overwritten_without_force(tmp_path):
    docs = _docs(tmp_path)
    build_index(docs, tmp_path / "idx", threads=1, quiet=True)
    with pytest.raises(IrkitError, match="exists"):
        build_index(docs, tmp_path / "idx", threads=1, quiet=True)
    assert build_index(docs, tmp_path / "idx", threads=1, quiet=True, force=True).num_docs == 5


def test_failed_build_leaves_nothing(tmp_path):
    with pytest.raises(InputError, match=r"docs.jsonl:3: malformed JSON"):
        build_index(_docs(tmp_path, bad_at=2), tmp_path / "idx", threads=1, quiet=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs.jsonl"]


def test_missing_and_corrupt_index(tmp_path):
    with pytest.raises(InputError, match="no such index folder"):
        LuceneIndex(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a Lucene index"):
        LuceneIndex(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "segments_1").write_bytes(b"garbage")
    with pytest.raises(InputError, match="cannot open Lucene index"):
        LuceneIndex(bad)


def test_duplicate_docno(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_text(json.dumps({"id": "a", "contents": "x"}) + "\n" + json.dumps({"id": "a", "contents": "y"}) + "\n")
    with pytest.raises(InputError, match="appears twice"):
        build_index(f, tmp_path / "idx", quiet=True)


def test_cranfield_empty_documents_are_skipped(cranfield_index):
    assert cranfield_index.num_docs == 1398
    assert cranfield_index.meta["skipped_empty"] == ["471", "995"]


def test_document_vectors_are_added_on_first_use_and_change_nothing_else(tmp_path, cranfield):
    from irkit.index.impact import ImpactIndex

    eager = build_index(cranfield.docs, tmp_path / "eager", threads=2, quiet=True, docvectors=True)
    lazy = build_index(cranfield.docs, tmp_path / "lazy", threads=2, quiet=True)
    assert eager.has_docvectors and not lazy.has_docvectors
    assert lazy.reader.getTermVectors(0) is None
    docnos, stats = list(lazy.docnos), dict(lazy.stats)
    sample = list(eager.docnos[::97])
    lazy.require_docvectors()
    again = LuceneIndex(tmp_path / "lazy")
    assert again.has_docvectors and list(again.docnos) == docnos and dict(again.stats) == stats
    assert again.term_vectors(sample) == eager.term_vectors(sample)
    ImpactIndex.open(again.path, lucene=again)  # the impact part still matches its (new) Lucene commit
    assert json.loads((again.path / "impact" / "meta.json").read_text())["lucene_commit"] is not None


def test_a_reader_opened_before_another_process_adds_document_vectors_still_searches(tmp_path, cranfield):
    # A notebook holds the index open while `irkit rank -m bm25+rm3` in a shell adds the vectors
    # (a new Lucene commit, recorded in the impact part): its BM25 said "impact part does not match
    # its Lucene index" (the whole suite, sharing one Cranfield index, failed so).
    import subprocess
    import sys

    from irkit.index.impact import ImpactIndex

    index = build_index(cranfield.docs, tmp_path / "ix", threads=1, quiet=True)
    old_commit = index.reader.getIndexCommit().getGeneration()
    code = "import sys; from irkit.index import LuceneIndex; LuceneIndex(sys.argv[1]).require_docvectors(quiet=True)"
    subprocess.run([sys.executable, "-c", code, str(index.path)], check=True, timeout=300)
    ImpactIndex.open(index.path, lucene=index)
    assert index.reader.getIndexCommit().getGeneration() > old_commit and index.has_docvectors


def test_threads_keep_document_order_and_index_statistics(tmp_path, monkeypatch):
    """Two writers (each committing its own part, batches dealt in turn) joined by addIndexes: the
    first writer's documents, then the second's, each in reading order; every statistic the impact
    part reads is the one writer's, document for document."""
    import numpy as np

    from irkit.index import writer
    from irkit.index.impact import ImpactIndex

    monkeypatch.setattr(writer, "BATCH_DOCS", 7)  # many batches
    words = ["retrieval", "index", "lucene", "ranking", "query", "documents", "stemming", "tokens"]
    f = tmp_path / "docs.jsonl"
    ids = [f"x{(i * 37) % 101:03d}" for i in range(101)]
    texts = [" ".join(words[(i * j) % 8] for j in range(i % 9 + 1)) for i in range(101)]
    f.write_text("".join(json.dumps({"id": d, "contents": t}) + "\n" for d, t in zip(ids, texts, strict=True)))
    one = build_index(f, tmp_path / "one", threads=1, quiet=True)
    two = build_index(f, tmp_path / "two", threads=2, quiet=True)
    batches = [ids[i : i + 7] for i in range(0, len(ids), 7)]
    assert list(one.docnos) == ids
    assert list(two.docnos) == [d for k in (0, 1) for b in batches[k::2] for d in b]
    a, b = ImpactIndex.open(one.path, lucene=one), ImpactIndex.open(two.path, lucene=two)
    for name in ("term_bytes", "term_offsets", "post_offsets"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    to_one = np.array([one.docno_to_id[d] for d in two.docnos])  # doc id in `two` -> in `one`
    assert np.array_equal(a.norms[to_one], b.norms)
    for t in range(a.num_terms):
        lo, hi = a.post_offsets[t], a.post_offsets[t + 1]
        got = sorted(zip(to_one[b.post_docs[lo:hi]].tolist(), b.post_freqs[lo:hi].tolist(), strict=True))
        assert got == list(zip(a.post_docs[lo:hi].tolist(), a.post_freqs[lo:hi].tolist(), strict=True))
    keys = ("doc_count", "sum_total_term_freq", "sum_doc_freq")
    assert {k: a.meta[k] for k in keys} == {k: b.meta[k] for k in keys}
