"""Document shards of an impact index, and the exact merge of their top-k lists.

A shard holds the postings of the documents ``lo <= doc < hi`` of one impact index
(:mod:`irkit.index.impact`), with Lucene doc ids kept global. It scores with the
GLOBAL statistics of the whole index (``docCount``, ``sumTotalTermFreq`` hence
``avgdl``, and each term's ``docFreq``), so a document's score in its shard is its
score in the whole index, bit for bit; the exact top k of the union of the shards'
top-k lists (:func:`irkit.retrieve.impact.merge_topk`, score descending then docno
ascending) is the unsharded ranking.

Two ways to shard:

* **on the fly** (no files): every worker opens the whole impact index memory-mapped
  and scores only its doc-id range (``score_batch(..., doc_range=(lo, hi))``); only the
  pages of its range are read, and workers on one machine share them.
* **written** (``irkit shard INDEX --shards S --output DIR``, :func:`write_shards`): a
  folder per shard that holds only that shard's postings, for clusters whose nodes do
  not see the whole index. Layout::

      DIR/shards.json               identity, source index, ranges
      DIR/shard-000/shard.json      identity, shard number, range
      DIR/shard-000/impact/         an impact part (same format) with this shard's postings;
                                    meta.json carries the global statistics, and
                                    doc_freq.npy each term's global docFreq

  The per-document arrays (norms, docno ranks) keep the whole index's length so that
  doc ids stay global; pages outside a shard's range are never read, so they cost disk,
  not memory.

Every shard carries the **identity** of its index (a hash of the Lucene commit id and
statistics that the impact part records); shards of different indexes are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from irkit.errors import InputError, IrkitError
from irkit.index.impact import IMPACT_DIR, ImpactIndex

SHARDS_FILE = "shards.json"
SHARD_FILE = "shard.json"
DOC_FREQ = "doc_freq.npy"
FORMAT = 1
_IDENTITY_KEYS = ("lucene_commit", "max_doc", "doc_count", "sum_total_term_freq", "sum_doc_freq", "num_terms")


def identity(meta: dict) -> str:
    """A short hash that names one impact index (its Lucene commit and statistics)."""
    fields = {k: meta.get(k) for k in _IDENTITY_KEYS}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def ranges(max_doc: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous doc-id ranges of about equal size covering ``0..max_doc``."""
    if shards < 1:
        raise IrkitError(f"--shards must be at least 1 (got {shards})")
    shards = min(shards, max(1, max_doc))
    bounds = [i * max_doc // shards for i in range(shards + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(shards)]


class ShardIndex(ImpactIndex):
    """The impact part of one written shard: its own postings, the global ``docFreq``."""

    shard: dict
    global_doc_freq: np.ndarray

    def doc_freq(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        out = np.zeros(len(ids), dtype=np.int64)
        ok = ids >= 0
        out[ok] = self.global_doc_freq[ids[ok]]
        return out


@dataclass
class Shard:
    """What a worker opened: the index to score, the doc range it owns, and the identity it belongs to."""

    index: ImpactIndex
    doc_range: tuple[int, int]
    identity: str
    path: str


def open_shard(path: str | os.PathLike[str], doc_range: tuple[int, int] | None = None) -> Shard:
    """Open a written shard folder, or (with ``doc_range``) an irkit index to be scored on the fly.

    Raises :class:`InputError` naming the path when it cannot be opened."""
    p = Path(path)
    if not p.is_dir():
        raise InputError("no such shard or index folder (is it visible on this node?)", p)
    if doc_range is not None:
        ix = ImpactIndex.open(p)
        lo, hi = doc_range
        if not 0 <= lo <= hi <= ix.max_doc:
            raise InputError(f"doc range {doc_range} is outside 0..{ix.max_doc}", p)
        return Shard(ix, (int(lo), int(hi)), identity(ix.meta), str(p))
    info_file = p / SHARD_FILE
    if not info_file.is_file():
        raise InputError(f"not a shard folder (no {SHARD_FILE}); write shards with `irkit shard`", p)
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"unreadable shard metadata ({e})", info_file) from None
    if info.get("irkit_shard") != FORMAT:
        raise InputError(f"shard format {info.get('irkit_shard')!r} is not {FORMAT}", info_file)
    ix = ShardIndex.open(p)
    if identity(ix.meta) != info.get("identity"):
        raise InputError("shard metadata and its impact part name different indexes", p)
    try:
        ix.global_doc_freq = np.load(p / IMPACT_DIR / DOC_FREQ, mmap_mode="r")
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {DOC_FREQ} ({e})", p) from None
    if len(ix.global_doc_freq) != ix.num_terms:
        raise InputError(f"{DOC_FREQ} has {len(ix.global_doc_freq)} terms, the shard {ix.num_terms}", p)
    ix.shard = info
    lo, hi = info["range"]
    return Shard(ix, (int(lo), int(hi)), info["identity"], str(p))


@dataclass
class ShardSet:
    """A written shard set: its identity, the index it came from, and each shard's folder and range."""

    path: Path
    identity: str
    source: Path
    shards: list[tuple[Path, tuple[int, int]]]
    max_doc: int


def is_shard_set(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / SHARDS_FILE).is_file()


def read_shard_set(path: str | os.PathLike[str]) -> ShardSet:
    p = Path(path)
    f = p / SHARDS_FILE
    try:
        info = json.loads(f.read_text(encoding="utf-8"))
        shards = [(p / s["path"], (int(s["range"][0]), int(s["range"][1]))) for s in info["shards"]]
        out = ShardSet(p, str(info["identity"]), Path(info["source"]), shards, int(info["max_doc"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"unreadable shard set ({e})", f) from None
    covered = 0
    for _, (lo, hi) in out.shards:
        if lo != covered:
            raise InputError(f"shard ranges do not tile the documents (a gap or overlap at doc {covered})", f)
        covered = hi
    if covered != out.max_doc:
        raise InputError(f"shard ranges cover {covered} of {out.max_doc} documents", f)
    return out


def write_shards(index_dir: str | os.PathLike[str], shards: int, output: str | os.PathLike[str],
                 overwrite: bool = False, quiet: bool = False) -> ShardSet:  # fmt: skip
    """Split the impact index of ``index_dir`` into ``shards`` folders under ``output`` (atomically)."""
    from irkit.index.impact import ARRAYS
    from irkit.index.lucene import LuceneIndex
    from irkit.io.atomic import atomic_path
    from irkit.progress import progress

    lucene = LuceneIndex(index_dir)
    ix = ImpactIndex.open(index_dir, lucene=lucene)
    ident = identity(ix.meta)
    parts = ranges(ix.max_doc, shards)
    df = np.diff(np.asarray(ix.post_offsets)).astype(np.int64)
    with atomic_path(output, overwrite=overwrite) as tmp:
        tmp.mkdir()
        listing = []
        for i, (lo, hi) in enumerate(progress(parts, desc="writing shards", unit="shard", disable=quiet)):
            name = f"shard-{i:03d}"
            folder = tmp / name / IMPACT_DIR
            folder.mkdir(parents=True)
            docs = np.asarray(ix.post_docs)
            keep = (docs >= lo) & (docs < hi)
            # Postings of each term are sorted by doc id, so a term's kept postings stay contiguous.
            kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
            arrays = {
                "term_bytes": ix.term_bytes,
                "term_offsets": ix.term_offsets,
                "post_offsets": kept_before[np.asarray(ix.post_offsets)],
                "post_docs": docs[keep],
                "post_freqs": np.asarray(ix.post_freqs)[keep],
                "norms": ix.norms,
                "docno_rank": ix.docno_rank,
                "docno_order": ix.docno_order,
            }
            del keep, kept_before
            sizes = {}
            for a in ARRAYS:
                np.save(folder / f"{a}.npy", np.asarray(arrays[a]))
                sizes[a] = (folder / f"{a}.npy").stat().st_size
            np.save(folder / DOC_FREQ, df)
            meta = {**ix.meta, "postings": len(arrays["post_docs"]), "files": sizes}
            (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            info = {"irkit_shard": FORMAT, "identity": ident, "shard": i, "shards": len(parts), "range": [lo, hi],
                    "source": str(Path(index_dir).resolve())}  # fmt: skip
            (tmp / name / SHARD_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
            listing.append({"path": name, "range": [lo, hi], "postings": meta["postings"]})
        top = {"irkit_shards": FORMAT, "identity": ident, "source": str(Path(index_dir).resolve()),
               "max_doc": ix.max_doc, "shards": listing}  # fmt: skip
        (tmp / SHARDS_FILE).write_text(json.dumps(top, indent=2) + "\n", encoding="utf-8")
    return read_shard_set(output)


def score_shard(
    shard: Shard, queries: list[list[str]], hits: int, k1: float, b: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, counts)`` of a shard's top ``hits`` for analysed queries (see :mod:`irkit.retrieve.impact`)."""
    from irkit.retrieve.impact import score_batch

    top = score_batch(shard.index, queries, hits=hits, k1=k1, b=b, doc_range=shard.doc_range, threads=1)
    return top.keys, top.counts


def merge(parts: list[tuple[np.ndarray, np.ndarray]], hits: int, docno_order: np.ndarray):
    """The exact global top ``hits`` of the shards' ``(keys, counts)`` (a :class:`~irkit.retrieve.impact.TopK`)."""
    from irkit.retrieve.impact import TopK, merge_topk

    tops = [TopK(docs=np.empty((0, 0), dtype=np.int32), scores=np.empty((0, 0), dtype=np.float32), keys=k,
                 counts=c) for k, c in parts]  # fmt: skip
    return merge_topk(tops, hits, docno_order)
