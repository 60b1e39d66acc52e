"""The impact backend reproduces Lucene's BM25 exactly: same ranking, float32-equal scores."""

import itertools

import numpy as np
import pandas as pd
import pytest

from irkit.frames import queries_frame
from irkit.index.impact import ImpactIndex
from irkit.io.topics import read_topics
from irkit.retrieve import BM25
from irkit.retrieve.impact import analyse, length_table, merge_topk, norm_cache, score_batch


def mismatches(impact_run: pd.DataFrame, lucene_run: pd.DataFrame) -> tuple[int, int]:
    """(rows whose (qid, rank) -> docno differ, rows whose float32 scores differ)."""
    m = impact_run.merge(lucene_run, on=["qid", "rank"], how="outer", suffixes=("_i", "_l"))
    ranking = int((m["docno_i"] != m["docno_l"]).sum())
    scores = int((m["score_i"].astype(np.float32) != m["score_l"].astype(np.float32)).sum())
    return ranking, scores


@pytest.mark.parametrize("name", ["cacm", "cranfield", "vaswani"])
@pytest.mark.parametrize("k1,b", [(0.9, 0.4), (1.2, 0.75)])
def test_every_topic_same_as_lucene_at_1000_hits(request, name, k1, b):
    coll = request.getfixturevalue(name)
    index = request.getfixturevalue(f"{name}_index")
    topics = read_topics(coll.topics)
    impact = BM25(index, k1=k1, b=b, backend="impact").search(topics, quiet=True)
    lucene = BM25(index, k1=k1, b=b, backend="lucene").search(topics, quiet=True)
    assert len(impact) > 500 * len(topics)  # deep runs, not a trivial comparison
    ranking, scores = mismatches(impact, lucene)
    assert (ranking, scores) == (0, 0), f"{name} k1={k1} b={b}: {ranking} ranking and {scores} score mismatches"
    # the very same frame: score values as Java prints them, so run files are byte-identical too
    assert impact.equals(lucene)


def test_impact_is_the_default_when_the_index_has_one(cacm_index):
    assert BM25(cacm_index).backend == "impact"


def test_edge_cases_match_lucene(cacm_index):
    q = queries_frame(
        {
            "repeated": "computer computer computer algorithms algorithms",
            "absent": "zzqxv unknownterm computer",
            "only-absent": "zzqxv qqqwwwx",
            "single": "parallel",
            "stopwords": "the of and",
            "punctuation": "Computers, computing; (compute)!",
            "long": " ".join(["retrieval systems information storage"] * 20),
        }
    )
    impact = BM25(cacm_index, backend="impact").search(q, quiet=True)
    lucene = BM25(cacm_index, backend="lucene").search(q, quiet=True)
    assert impact.equals(lucene)
    # 10 hits: the kernel's other top-k path (a heap), over a listed or a dense accumulator
    impact = BM25(cacm_index, backend="impact", hits=10).search(q, quiet=True)
    assert impact.equals(BM25(cacm_index, backend="lucene", hits=10).search(q, quiet=True))
    assert set(impact.qid) == {"repeated", "absent", "single", "punctuation", "long"}
    # a repeated term counts: its boost changes the scores
    once = BM25(cacm_index).search(queries_frame({"x": "computer algorithms"}), quiet=True)
    assert not np.allclose(once.score.iloc[:10], impact[impact.qid == "repeated"].score.iloc[:10])


def test_no_match_warns_and_returns_empty(cacm_index, capsys, monkeypatch):
    monkeypatch.delenv("IRKIT_QUIET", raising=False)
    run = BM25(cacm_index, backend="impact").search(queries_frame({"1": "the of and", "2": "zzqxv"}))
    assert run.empty and list(run.columns) == ["qid", "docno", "score", "rank"]
    assert "2 topic(s) matched no document" in capsys.readouterr().err


def test_hits_threads_and_prefix(vaswani, vaswani_index):
    topics = read_topics(vaswani.topics)
    deep = BM25(vaswani_index, threads=2).search(topics, quiet=True)
    one = BM25(vaswani_index, threads=1).search(topics, quiet=True)
    assert deep.equals(one)
    top10 = BM25(vaswani_index, hits=10).search(topics, quiet=True)
    assert top10.equals(deep[deep["rank"] <= 10].reset_index(drop=True))


def test_doc_ranges_with_global_stats_merge_to_the_full_ranking(vaswani, vaswani_index):
    ix = ImpactIndex.open(vaswani_index.path)
    terms = analyse(vaswani_index, list(read_topics(vaswani.topics)["query"]))
    full = score_batch(ix, terms, hits=100, threads=2)
    cuts = [0, 1000, 4321, 9000, ix.max_doc]
    ranges = list(itertools.pairwise(cuts))
    parts = [score_batch(ix, terms, hits=100, doc_range=r) for r in ranges]
    for p, (lo, hi) in zip(parts, ranges, strict=True):
        docs = np.concatenate([p.docs[q, : p.counts[q]] for q in range(len(terms))])
        assert ((docs >= lo) & (docs < hi)).all()
    # the kernel accumulates heavy queries window by window: small windows give the same
    for window in (777, 4096):
        other = score_batch(ix, terms, hits=100, window=window)
        assert np.array_equal(other.keys, full.keys) and np.array_equal(other.counts, full.counts)
        other = score_batch(ix, terms, hits=1000, window=window)
        deep = score_batch(ix, terms, hits=1000)
        assert np.array_equal(other.keys, deep.keys) and np.array_equal(other.counts, deep.counts)
    merged = merge_topk(parts, 100, ix.docno_order)
    assert np.array_equal(merged.counts, full.counts)
    for q in range(len(terms)):
        n = full.counts[q]
        assert np.array_equal(merged.docs[q, :n], full.docs[q, :n])
        assert np.array_equal(merged.scores[q, :n], full.scores[q, :n])


def test_batch_analysis_equals_one_query_at_a_time(cacm, cacm_index):
    texts = [*read_topics(cacm.topics)["query"], "qqirkitqueryseparatorqq computer", "", "the"]
    assert analyse(cacm_index, texts) == [cacm_index.analyze(t) for t in texts]


def test_lucene_constants():
    from irkit import _java

    small_float = _java.autoclass("org.apache.lucene.util.SmallFloat")
    lt = length_table()
    assert [small_float.byte4ToInt(i - 256 if i > 127 else i) for i in range(256)] == lt.tolist()
    cache = norm_cache(0.9, 0.4, np.float32(26.8))
    assert cache.dtype == np.float32 and (np.diff(cache) <= 0).all()  # longer documents, smaller inverse norm


def test_cli_backends_write_the_same_run_file(tmp_path, monkeypatch, capsys, cranfield, cranfield_index):
    import sys

    from irkit.cli import main

    def rank(*extra):
        out = tmp_path / f"run{len(extra)}{'-'.join(extra)}.txt"
        args = ["irkit", "rank", "-q", "-i", cranfield_index.path, "-t", cranfield.topics, "-o", out, *extra]
        monkeypatch.setattr(sys, "argv", list(map(str, args)))
        try:
            main()
        except SystemExit as e:
            assert not e.code, capsys.readouterr().err
        return out

    lucene = rank("--backend", "lucene").read_bytes()
    assert rank("--backend", "impact").read_bytes() == lucene
    assert rank("-O", "backend=impact").read_bytes() == lucene
    assert len(lucene.splitlines()) > 100_000
    monkeypatch.setattr(sys, "argv", ["irkit", "rank", "-i", str(cranfield_index.path), "-t", str(cranfield.topics),
                                      "-o", str(tmp_path / "x.run"), "--backend", "bm25s"])  # fmt: skip
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code != 0 and "unknown backend" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["cranfield", "vaswani"])
def test_scores_computed_from_freq_and_norm_equal_lucene(request, monkeypatch, name):
    """Above IMPACTS_BUDGET (large indexes) no per-posting impacts are kept: every score is computed
    from frequency and norm byte, and the frame is still Lucene's own, bit for bit."""
    from irkit.retrieve import impact

    coll = request.getfixturevalue(name)
    index = request.getfixturevalue(f"{name}_index")
    topics = read_topics(coll.topics)
    lucene = BM25(index, k1=1.2, b=0.75, backend="lucene").search(topics, quiet=True)
    monkeypatch.setattr(impact, "IMPACTS_BUDGET", 0)
    bm25 = BM25(index, k1=1.2, b=0.75, backend="impact", threads=2)
    for tab_min in (1, 10**9):  # heavy terms' scores looked up by code in a table / all computed
        monkeypatch.setattr(impact, "TAB_MIN", tab_min)
        computed = bm25.search(topics, quiet=True)
        assert "_impacts" not in bm25._impact.__dict__  # no per-posting scores were kept
        assert computed.equals(lucene)


def test_kept_and_computed_impacts_and_chunked_threads_agree(vaswani, vaswani_index):
    from irkit.retrieve import impact

    ix = ImpactIndex.open(vaswani_index.path)
    texts = [*read_topics(vaswani.topics)["query"], "computer computer computer method", "the", "zzqxv"]
    terms = analyse(vaswani_index, texts)
    for hits in (10, 1000):
        kept = score_batch(ix, terms, hits=hits, keep_impacts=True)
        for threads, window, tab_min in ((1, 0, 1), (2, 0, 10**9), (2, 777, 1), (1, 0, 4096)):
            impact.TAB_MIN = tab_min
            try:
                other = score_batch(ix, terms, hits=hits, keep_impacts=False, threads=threads, window=window)
            finally:
                impact.TAB_MIN = 4096
            assert np.array_equal(other.keys, kept.keys) and np.array_equal(other.counts, kept.counts)
            assert np.array_equal(other.decimals, kept.decimals, equal_nan=True)
        # the scores printed as Java does, computed by the scoring threads: as java_decimal gives them
        valid = np.arange(hits)[None, :] < kept.counts[:, None]
        assert np.array_equal(kept.decimals[valid], impact.java_decimal(kept.scores[valid]))
    # the top k in a heap or in a buffer cut back by partition (above HEAP_HITS): the same lists
    for hits in (129, 300):
        buffered = score_batch(ix, terms, hits=hits, window=777)
        impact.HEAP_HITS = 10**9
        try:
            heap = score_batch(ix, terms, hits=hits, window=777)
        finally:
            impact.HEAP_HITS = 128
        assert np.array_equal(buffered.keys, heap.keys) and buffered.counts.max() == hits
    # work-balanced chunks: consecutive, covering every query once, several per thread
    ptr, tids, *_ = impact.prepare(ix, terms * 20, 0.9, 0.4)
    chunks = impact._chunks(ptr, tids, ix, 2)
    assert chunks[0][0] == 0 and chunks[-1][1] == len(terms) * 20
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in itertools.pairwise(chunks))
    assert len(chunks) > 2


def test_more_hits_than_documents(cacm, cacm_index):
    """A top k longer than the collection (the kernel's buffer is capped at k + documents): every
    matching document, in Lucene's order."""
    topics = read_topics(cacm.topics).head(8)
    impact = BM25(cacm_index, hits=5000, backend="impact", threads=2).search(topics, quiet=True)
    lucene = BM25(cacm_index, hits=5000, backend="lucene").search(topics, quiet=True)
    assert impact.equals(lucene)
    assert impact.groupby("qid").size().max() > 1000


def test_frequency_widths_and_large_frequencies_agree(vaswani, vaswani_index):
    """An index keeps term frequencies as uint8, uint16 or int32 (the smallest that holds its
    largest), and a frequency of 255 or more is read from them, not from a posting's 2-byte code:
    every width and scoring path gives the same top k."""
    ix = ImpactIndex.open(vaswani_index.path)
    terms = analyse(vaswani_index, read_topics(vaswani.topics)["query"].tolist())
    base = score_batch(ix, terms, hits=100, keep_impacts=True)

    def with_freqs(freqs: np.ndarray) -> ImpactIndex:
        other = ImpactIndex.open(vaswani_index.path)
        other.post_freqs = freqs
        return other

    for dtype in (np.uint16, np.int32):
        wide = with_freqs(ix.post_freqs.astype(dtype))
        for keep in (True, False):
            assert np.array_equal(score_batch(wide, terms, hits=100, keep_impacts=keep).keys, base.keys)
    big = with_freqs(ix.post_freqs.astype(np.int32) * 300)  # every frequency above a code's 255
    kept = score_batch(big, terms, hits=100, keep_impacts=True)
    assert np.array_equal(score_batch(big, terms, hits=100, keep_impacts=False).keys, kept.keys)
    assert not np.array_equal(kept.keys, base.keys)  # the frequencies were read
