"""irkit's impact index: Lucene's own postings, norms and statistics as memory-mapped arrays.

An impact part lives in the folder ``impact/`` inside an irkit (Lucene) index
folder. ``irkit index`` writes it inside the same temporary folder as the Lucene
index, before the rename; ``irkit index --impact-only DIR`` (or
:func:`irkit.index.add_impact`) adds one to an existing index. Everything in it is read from
the Lucene index itself (the ``contents`` field), so BM25 computed from it with
Lucene's arithmetic (:mod:`irkit.retrieve.impact`) gives Lucene's exact scores.

Files (numpy ``.npy``, opened with ``mmap_mode="r"``: opening costs no reading
time and several processes share the pages)::

    meta.json          format, Lucene statistics and the Lucene commit id it was read from
    term_bytes.npy     uint8  all terms, UTF-8, in Lucene's (byte) order, concatenated
    term_offsets.npy   int64  [V+1] term t is term_bytes[term_offsets[t]:term_offsets[t+1]]
    post_offsets.npy   int64  [V+1] postings of term t are [post_offsets[t], post_offsets[t+1])
    post_docs.npy      int32  Lucene doc ids, ascending within a term
    post_freqs.npy     uint8/uint16/int32  term frequencies (smallest dtype that holds the max)
    norms.npy          uint8  [max_doc] Lucene's encoded length norm byte per document
    docno_rank.npy     int32  [max_doc] rank of each document's docno in ascending string order
    docno_order.npy    int32  [max_doc] the inverse: document id at each docno rank

Reader API (used by :class:`irkit.retrieve.BM25` and by sharded BM25)::

    ix = ImpactIndex.open(index_dir)            # or ImpactIndex.open(dir, lucene=LuceneIndex) to check it
    ix.max_doc, ix.doc_count, ix.sum_total_term_freq, ix.num_terms      # Lucene's global statistics
    ix.avgdl                                    # float32, as Lucene's BM25Similarity computes it
    ix.term_ids(["comput", "zzz"])              # int64 ids, -1 where the term is not in the index
    ix.doc_freq(ids)                            # Lucene's docFreq of each id (0 for -1)
    ix.post_offsets, ix.post_docs, ix.post_freqs, ix.norms, ix.docno_rank, ix.docno_order   # the arrays

Scoring lives in :mod:`irkit.retrieve.impact`::

    from irkit.retrieve.impact import analyse, merge_topk, run_from_topk, score_batch
    terms = analyse(lucene_index, ["query one", "query two"])     # Anserini's analysis, one JNI call
    top = score_batch(ix, terms, hits=1000, k1=0.9, b=0.4, doc_range=(lo, hi), threads=2)
    top.docs[q, :top.counts[q]], top.scores[q, :top.counts[q]]     # Lucene doc ids and float32 scores
    top.keys                                                        # int64 tie-break keys (see below)
    merged = merge_topk([top_shard0, top_shard1, ...], 1000, ix.docno_order)  # exact global top k
    run = run_from_topk(qids, merged, lucene_index.docnos)             # a run frame

``doc_range=(lo, hi)`` scores only documents ``lo <= doc < hi`` but always with
the GLOBAL statistics of the whole index (idf, avgdl), so shards of one index
scored separately and merged with :func:`~irkit.retrieve.impact.merge_topk` give
exactly the unsharded ranking. The order key of a hit is
``float32_bits(score) << 32 | (2**32 - 1 - docno_rank[doc])``: larger is better,
which is score descending then docno ascending (Anserini's tie-break). ``score_batch`` is
thread-safe and releases the GIL while it scores (``threads`` splits a batch over threads).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from irkit import _java
from irkit.errors import InputError, IrkitError
from irkit.progress import spinner


class LuceneIndex(Protocol):
    """What the impact part reads of a Lucene index (:class:`irkit.index.LuceneIndex` has it).

    A protocol rather than an import: :mod:`irkit.index.lucene` writes the impact part
    when it builds an index, so this module stays below it.
    """

    path: Path
    reader: Any  # the JVM IndexReader
    docnos: Any  # the external docno of each Lucene document number


IMPACT_DIR = "impact"
FORMAT = 1
FIELD = "contents"
ARRAYS = (
    "term_bytes",
    "term_offsets",
    "post_offsets",
    "post_docs",
    "post_freqs",
    "norms",
    "docno_rank",
    "docno_order",
)


def impact_path(index_dir: str | os.PathLike[str]) -> Path:
    return Path(index_dir) / IMPACT_DIR


def has_impact(index_dir: str | os.PathLike[str]) -> bool:
    return (impact_path(index_dir) / "meta.json").is_file()


# ---------------------------------------------------------------------------------------------
# Reading Lucene in bulk. Everything crosses JNI as files written by loops composed from
# MethodHandles inside the JVM: one call for all postings, one per segment for norms, instead
# of one pyjnius call per posting (about a microsecond each) or per document. Postings and
# norms go through Lucene's own IndexOutput (little-endian, unsynchronised): java.io's
# DataOutputStream over BufferedOutputStream takes a lock on every writeInt, which made this
# loop 2.5 s of a 1M-document build; the doc ids land in a file that is the int32 array itself.


class _Handles:
    def __init__(self) -> None:
        A = _java.autoclass
        MH = A("java.lang.invoke.MethodHandles")
        MT = A("java.lang.invoke.MethodType")
        Class = A("java.lang.Class")
        look = MH.publicLookup()
        INT, VOID, LONG, BOOL = (A(f"java.lang.{n}").TYPE for n in ("Integer", "Void", "Long", "Boolean"))
        OBJ = Class.forName("java.lang.Object")
        STR = Class.forName("java.lang.String")
        TE = Class.forName("org.apache.lucene.index.TermsEnum")
        PE = Class.forName("org.apache.lucene.index.PostingsEnum")
        BR = Class.forName("org.apache.lucene.util.BytesRef")
        NDV = Class.forName("org.apache.lucene.index.NumericDocValues")
        DOS = Class.forName("java.io.DataOutputStream")
        DO = Class.forName("org.apache.lucene.store.DataOutput")
        write_int = look.findVirtual(DOS, "writeInt", MT.methodType(VOID, INT))
        write_utf = look.findVirtual(DOS, "writeUTF", MT.methodType(VOID, STR))
        write_int_le = look.findVirtual(DO, "writeInt", MT.methodType(VOID, INT))
        write_byte = MH.explicitCastArguments(
            look.findVirtual(DO, "writeByte", MT.methodType(VOID, A("java.lang.Byte").TYPE)),
            MT.methodType(VOID, DO, INT),
        )  # (int) -> (byte): the low 8 bits, as DataOutputStream.writeByte(int) wrote

        # postings(n, pe, docs, freqs): n times { docs.writeInt(pe.nextDoc()); freqs.writeInt(pe.freq()) }
        next_doc = look.findVirtual(PE, "nextDoc", MT.methodType(INT))
        freq = look.findVirtual(PE, "freq", MT.methodType(INT))
        body_t = MT.methodType(VOID, INT, INT, PE, DO, DO)
        w_doc = MH.permuteArguments(MH.filterArguments(write_int_le, 1, next_doc), body_t, 3, 2)
        w_freq = MH.permuteArguments(MH.filterArguments(write_int_le, 1, freq), body_t, 4, 2)
        body = MH.foldArguments(w_freq, w_doc)  # doc first (nextDoc), then its freq
        postings = MH.countedLoop(MH.dropArguments(MH.identity(INT), 1, PE, DO, DO), None, body)

        # all_terms(te, docs, freqs, terms): while (te.next() != null) {
        #   terms.writeInt(te.docFreq()); terms.writeUTF(te.term().utf8ToString());
        #   postings(te.docFreq(), te.postings(null, FREQS), docs, freqs) }
        te_next = look.findVirtual(TE, "next", MT.methodType(BR))
        non_null = look.findStatic(Class.forName("java.util.Objects"), "nonNull", MT.methodType(BOOL, OBJ)).asType(
            MT.methodType(BOOL, BR)
        )
        pred = MH.dropArguments(MH.filterReturnValue(te_next, non_null), 1, DO, DO, DOS)
        doc_freq = look.findVirtual(TE, "docFreq", MT.methodType(INT))
        term_str = MH.filterReturnValue(
            look.findVirtual(TE, "term", MT.methodType(BR)), look.findVirtual(BR, "utf8ToString", MT.methodType(STR))
        )
        FREQS = int(A("org.apache.lucene.index.PostingsEnum").FREQS)
        te_postings = MH.insertArguments(
            look.findVirtual(TE, "postings", MT.methodType(PE, PE, INT)), 1, None, A("java.lang.Integer")(FREQS)
        )
        outer_t = MT.methodType(VOID, TE, DO, DO, DOS)
        a = MH.permuteArguments(MH.filterArguments(write_int, 1, doc_freq), outer_t, 3, 0)
        b = MH.permuteArguments(MH.filterArguments(write_utf, 1, term_str), outer_t, 3, 0)
        c = MH.permuteArguments(MH.filterArguments(postings, 0, doc_freq, te_postings), outer_t, 0, 0, 1, 2)
        self.all_terms = MH.whileLoop(None, pred, MH.foldArguments(MH.foldArguments(c, b), a))

        # norms(n, ndv, out): for i < n: out.writeByte(ndv.advanceExact(i) ? (int) ndv.longValue() : 0)
        norm_t = MT.methodType(VOID, INT, INT, NDV, DO)
        test = MH.permuteArguments(
            look.findVirtual(NDV, "advanceExact", MT.methodType(BOOL, INT)),
            MT.methodType(BOOL, INT, INT, NDV, DO),
            2,
            0,
        )
        value = MH.explicitCastArguments(
            look.findVirtual(NDV, "longValue", MT.methodType(LONG)), MT.methodType(INT, NDV)
        )
        yes = MH.permuteArguments(MH.filterArguments(write_byte, 1, value), norm_t, 3, 2)
        no = MH.permuteArguments(MH.insertArguments(write_byte, 1, A("java.lang.Integer")(0)), norm_t, 3)
        self.norms = MH.countedLoop(
            MH.dropArguments(MH.identity(INT), 1, NDV, DO), None, MH.guardWithTest(test, yes, no)
        )
        self._A = A

    def out(self, path: Path):
        """A java.io.DataOutputStream to ``path`` (big-endian; writeUTF for the terms)."""
        A = self._A
        return A("java.io.DataOutputStream")(
            A("java.io.BufferedOutputStream")(A("java.io.FileOutputStream")(str(path)), 1 << 20)
        )

    def lucene_out(self, directory, name: str):
        """A Lucene IndexOutput for the file ``name`` in ``directory`` (little-endian, no locks)."""
        return directory.createOutput(name, self._A("org.apache.lucene.store.IOContext").DEFAULT)

    def call(self, handle, *args) -> None:
        lst = self._A("java.util.ArrayList")()
        for x in args:
            lst.add(x)
        handle.invokeWithArguments(lst)


def _read_utf_records(data: bytes) -> tuple[np.ndarray, list[bytes]]:
    """Parse ``writeInt(df); writeUTF(term)`` records into dfs and UTF-8 term bytes."""
    dfs: list[int] = []
    terms: list[bytes] = []
    i, n = 0, len(data)
    frm = int.from_bytes
    while i < n:
        dfs.append(frm(data[i : i + 4], "big"))
        ln = frm(data[i + 4 : i + 6], "big")
        raw = data[i + 6 : i + 6 + ln]
        i += 6 + ln
        # Java's modified UTF-8: NUL as C0 80, supplementary characters as surrogate pairs.
        if b"\xc0\x80" in raw or b"\xed" in raw:
            s = raw.replace(b"\xc0\x80", b"\x00").decode("utf-8", "surrogatepass")
            raw = s.encode("utf-16", "surrogatepass").decode("utf-16").encode("utf-8")
        terms.append(raw)
    return np.array(dfs, dtype=np.int64), terms


def lucene_fingerprint(lucene: LuceneIndex) -> dict:
    """The statistics and commit id of a Lucene index that an impact part must match."""
    import jnius

    reader = lucene.reader
    MultiTerms = _java.autoclass("org.apache.lucene.index.MultiTerms")
    terms = MultiTerms.getTerms(jnius.cast("org.apache.lucene.index.IndexReader", reader), FIELD)
    if terms is None:
        raise InputError(f"index has no {FIELD!r} field", lucene.path)
    try:
        sis = jnius.cast("org.apache.lucene.index.StandardDirectoryReader", reader).getSegmentInfos()
        commit = bytes(x & 0xFF for x in sis.getId()).hex()
    except Exception:  # a reader of another kind: statistics alone
        commit = None
    return {
        "max_doc": int(reader.maxDoc()),
        "doc_count": int(terms.getDocCount()),
        "sum_total_term_freq": int(terms.getSumTotalTermFreq()),
        "sum_doc_freq": int(terms.getSumDocFreq()),
        "lucene_commit": commit,
    }


def write_impact(lucene: LuceneIndex, out: str | os.PathLike[str], *, quiet: bool = False) -> dict:
    """Write the impact part of ``lucene`` into the (new, empty or absent) folder ``out``."""
    import jnius

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    h = _Handles()
    reader = jnius.cast("org.apache.lucene.index.IndexReader", lucene.reader)
    MultiTerms = _java.autoclass("org.apache.lucene.index.MultiTerms")
    terms = MultiTerms.getTerms(reader, FIELD)
    if terms is None:
        raise InputError(f"index has no {FIELD!r} field", lucene.path)
    fp = lucene_fingerprint(lucene)
    max_doc = fp["max_doc"]
    doc_bin, freq_bin, term_bin, norm_bin = (out / f"{n}.tmp" for n in ("docs", "freqs", "terms", "norms"))
    FSDirectory = _java.autoclass("org.apache.lucene.store.FSDirectory")
    directory = FSDirectory.open(_java.autoclass("java.nio.file.Paths").get(str(out.resolve())))
    with spinner(f"writing the impact index of {max_doc:,} documents", quiet):
        try:
            doc_out, freq_out = h.lucene_out(directory, doc_bin.name), h.lucene_out(directory, freq_bin.name)
            term_out = h.out(term_bin)
            try:
                h.call(h.all_terms, terms.iterator(), doc_out, freq_out, term_out)
            finally:
                doc_out.close()
                freq_out.close()
                term_out.close()
            norms_out = h.lucene_out(directory, norm_bin.name)
            try:
                for leaf in reader.leaves().toArray():
                    leaf = jnius.cast("org.apache.lucene.index.LeafReaderContext", leaf)
                    lr = leaf.reader()
                    ndv = lr.getNormValues(FIELD)
                    n = int(lr.maxDoc())
                    if ndv is None:  # a segment without the field: no norms, no postings
                        for _ in range(n):
                            norms_out.writeByte(0)
                    else:
                        h.call(h.norms, n, ndv, norms_out)
            finally:
                norms_out.close()
        finally:
            directory.close()

    dfs, term_list = _read_utf_records(term_bin.read_bytes())
    docs = np.fromfile(doc_bin, dtype="<i4").astype(np.int32, copy=False)
    freqs32 = np.fromfile(freq_bin, dtype="<i4")
    norms = np.fromfile(norm_bin, dtype=np.uint8)
    for f in (doc_bin, freq_bin, term_bin, norm_bin):
        f.unlink()
    post_offsets = np.zeros(len(dfs) + 1, dtype=np.int64)
    np.cumsum(dfs, out=post_offsets[1:])
    if (
        post_offsets[-1] != len(docs)
        or len(docs) != len(freqs32)
        or len(docs) != fp["sum_doc_freq"]
        or len(norms) != max_doc
    ):
        raise IrkitError(
            f"impact index: read {len(docs)} postings of {fp['sum_doc_freq']} and {len(norms)} norms "
            f"of {max_doc} documents from {lucene.path}"
        )
    if int(freqs32.sum(dtype=np.int64)) != fp["sum_total_term_freq"]:
        raise IrkitError(f"impact index: term frequencies do not add up to Lucene's sumTotalTermFreq ({lucene.path})")
    top = int(freqs32.max()) if len(freqs32) else 0
    fdt = np.uint8 if top < 256 else np.uint16 if top < 65536 else np.int32
    term_offsets = np.zeros(len(term_list) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in term_list], out=term_offsets[1:])
    term_bytes = np.frombuffer(b"".join(term_list), dtype=np.uint8)
    docnos = lucene.docnos
    order = np.argsort(docnos.astype(str), kind="stable").astype(np.int32)
    rank = np.empty(max_doc, dtype=np.int32)
    rank[order] = np.arange(max_doc, dtype=np.int32)
    arrays = {
        "term_bytes": term_bytes,
        "term_offsets": term_offsets,
        "post_offsets": post_offsets,
        "post_docs": docs,
        "post_freqs": freqs32.astype(fdt),
        "norms": norms,
        "docno_rank": rank,
        "docno_order": order,
    }
    sizes = {}
    for name, arr in arrays.items():
        np.save(out / f"{name}.npy", arr)
        sizes[name] = (out / f"{name}.npy").stat().st_size
    meta = {
        "irkit_impact": FORMAT,
        "field": FIELD,
        "num_terms": len(term_list),
        "postings": len(docs),
        **fp,
        "files": sizes,
        "seconds": round(time.perf_counter() - start, 3),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


class ImpactIndex:
    """A memory-mapped impact index (see the module docstring for its arrays and API)."""

    def __init__(self, path: Path, meta: dict, arrays: dict[str, np.ndarray]):
        self.path = path
        self.meta = meta
        for name, arr in arrays.items():
            setattr(self, name, arr)
        self.max_doc: int = int(meta["max_doc"])
        self.doc_count: int = int(meta["doc_count"])
        self.sum_total_term_freq: int = int(meta["sum_total_term_freq"])
        self.num_terms: int = int(meta["num_terms"])

    def __repr__(self) -> str:
        return f"ImpactIndex({str(self.path)!r}, docs={self.max_doc}, terms={self.num_terms})"

    @classmethod
    def open(cls, index_dir: str | os.PathLike[str], lucene: LuceneIndex | None = None) -> ImpactIndex:
        """Open the impact part of ``index_dir``; with ``lucene``, refuse it unless it matches that index."""
        path = impact_path(index_dir)
        meta_file = path / "meta.json"
        if not meta_file.is_file():
            raise InputError(
                f"index has no impact part; add one with `irkit index --impact-only {index_dir}`", index_dir
            )
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InputError(f"unreadable impact metadata ({e})", meta_file) from None
        if meta.get("irkit_impact") != FORMAT:
            raise InputError(
                f"impact part format {meta.get('irkit_impact')!r} is not {FORMAT}; rebuild it with "
                f"`irkit index --impact-only --force {index_dir}`",
                meta_file,
            )
        arrays = {}
        for name in ARRAYS:
            f = path / f"{name}.npy"
            size = meta.get("files", {}).get(name)
            if not f.is_file() or f.stat().st_size != size:
                raise InputError(
                    f"impact part is damaged ({f.name} missing or of the wrong size); rebuild it with "
                    f"`irkit index --impact-only --force {index_dir}`",
                    path,
                )
            try:
                arrays[name] = np.load(f, mmap_mode="r")
            except (OSError, ValueError) as e:
                raise InputError(f"cannot read {f.name} ({e})", path) from None
        ix = cls(path, meta, arrays)
        ix._check_shapes()
        if lucene is not None:
            ix.check(lucene)
        return ix

    def _check_shapes(self) -> None:
        m, v = self.max_doc, self.num_terms
        ok = (
            len(self.norms) == m
            and len(self.docno_rank) == m
            and len(self.docno_order) == m
            and len(self.term_offsets) == v + 1
            and len(self.post_offsets) == v + 1
            and len(self.post_docs) == len(self.post_freqs) == self.meta["postings"]
            and int(self.post_offsets[-1]) == len(self.post_docs)
            and int(self.term_offsets[-1]) == len(self.term_bytes)
        )
        if not ok:
            raise InputError("impact part is inconsistent (array lengths disagree with meta.json)", self.path)

    def check(self, lucene: LuceneIndex) -> None:
        """Raise :class:`InputError` unless this impact part was read from ``lucene`` as it is now."""
        fp = lucene_fingerprint(lucene)
        if fp["lucene_commit"] != self.meta.get("lucene_commit") and lucene.refresh():
            # The reader predates a commit made since (another process added document vectors
            # for RM3, which updates this record): compare with the index as it is now.
            fp = lucene_fingerprint(lucene)
        bad = [k for k, v in fp.items() if v is not None and self.meta.get(k) != v]
        if bad:
            detail = ", ".join(f"{k} {self.meta.get(k)} here vs {fp[k]} in Lucene" for k in bad)
            raise InputError(
                f"impact part does not match its Lucene index ({detail}); rebuild it with "
                f"`irkit index --impact-only --force {lucene.path}`",
                self.path,
            )

    @cached_property
    def avgdl(self) -> np.float32:
        """Lucene's ``(float) (sumTotalTermFreq / (double) docCount)``."""
        return np.float32(self.sum_total_term_freq / float(self.doc_count))

    @cached_property
    def term_id_map(self) -> dict[str, int]:
        """``{term: id}``, built on first use (its cost grows with the vocabulary, not the collection)."""
        tb = self.term_bytes.tobytes()
        off = self.term_offsets.tolist()
        return {tb[off[i] : off[i + 1]].decode("utf-8"): i for i in range(self.num_terms)}

    def term_ids(self, terms: list[str]) -> np.ndarray:
        """Ids of analysed ``terms`` (-1 for a term the index does not have)."""
        d = self.term_id_map
        return np.array([d.get(t, -1) for t in terms], dtype=np.int64)

    def doc_freq(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        po = self.post_offsets
        out = np.zeros(len(ids), dtype=np.int64)
        ok = ids >= 0
        out[ok] = po[ids[ok] + 1] - po[ids[ok]]
        return out

    def term(self, i: int) -> str:
        return bytes(self.term_bytes[self.term_offsets[i] : self.term_offsets[i + 1]]).decode("utf-8")

    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir())


def remove_impact(index_dir: str | os.PathLike[str]) -> None:
    shutil.rmtree(impact_path(index_dir), ignore_errors=True)
