"""Build and open Lucene indexes (built and read in the process's JVM; see :mod:`irkit.index.writer`).

An irkit index folder is a plain Lucene index, so Pyserini's ``LuceneSearcher``
opens it too, with two small files beside Lucene's own:

* ``irkit.json``: what was indexed, how, and how many documents;
* ``docnos.txt``: the external docno of each Lucene document number, so that a
  search returns docnos without one JNI call per hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from functools import cached_property
from pathlib import Path

import numpy as np

from irkit import _java
from irkit.errors import InputError, IrkitError
from irkit.index.impact import IMPACT_DIR, ImpactIndex, impact_path, lucene_fingerprint, write_impact
from irkit.io.atomic import atomic_path, note_input
from irkit.io.documents import check_id, detect_format, iter_documents
from irkit.progress import log, progress

META_FILE = "irkit.json"
DOCNOS_FILE = "docnos.txt"
# The longest string Anserini's JsonCollection reader (Jackson) takes: an irkit collection stays one
# that Anserini's IndexCollection can index too.
MAX_DOCUMENT_CHARS = 20_000_000
CONTENTS = "contents"  # Anserini's field names
ID = "id"


def build_index(
    path: str | os.PathLike[str],
    index: str | os.PathLike[str],
    *,
    format: str = "auto",
    threads: int | None = None,
    force: bool = False,
    quiet: bool = False,
    impact: bool = True,
    docvectors: bool = False,
) -> LuceneIndex:
    """Index the collection at ``path`` into the folder ``index``.

    Documents are read by irkit (any of :data:`irkit.io.documents.DOC_FORMATS`)
    and indexed by Lucene in the process's JVM as Anserini's ``IndexCollection``
    indexes them (:mod:`irkit.index.writer`: Anserini's analyser, Porter stemming,
    stopwords removed; the text stored; no positions). Document vectors, which
    only RM3 reads, are stored with ``docvectors``, or added the first time RM3
    runs (:meth:`LuceneIndex.require_docvectors`). The index is built in a
    temporary folder and renamed into place; an existing index is replaced only
    with ``force``. With ``impact`` (the default) the folder also gets irkit's
    impact index (``impact/``, see :mod:`irkit.index.impact`), written before the
    rename.
    """
    from irkit.index.writer import write_lucene

    if threads is not None and threads < 0:
        raise InputError(f"--threads must be positive (got {threads})")
    threads = max(1, threads or os.cpu_count() or 1)
    fmt = detect_format(path) if format == "auto" else format
    with atomic_path(index, overwrite=force, kind="index") as tmp:
        seen: set[str] = set()
        empty: list[str] = []

        def documents():
            for docno, text in progress(iter_documents(path, fmt), desc="indexing", unit="doc", disable=quiet):
                check_id(docno, "document id", path, None)  # the readers' own rule, for any source
                if docno in seen:
                    raise InputError(f"document id {docno!r} appears twice", path)
                seen.add(docno)
                if len(text) > MAX_DOCUMENT_CHARS:
                    raise InputError(
                        f"document {docno!r} has {len(text):,} characters; irkit indexes at most "
                        f"{MAX_DOCUMENT_CHARS:,}, as Anserini's JSON reader (split the document)",
                        path,
                    )
                if not text.strip():
                    # Anserini refuses documents without text; so does irkit, and says so.
                    empty.append(docno)
                    continue
                yield docno, text

        start = time.perf_counter()
        _java.start_jvm()
        log(f"Lucene is indexing {path} ({fmt}) with {threads} thread(s)", quiet)
        docnos = write_lucene(documents(), tmp, analyzer().java, threads=threads, vectors=docvectors)
        seconds = time.perf_counter() - start
        if empty:
            log(f"skipped {len(empty)} document(s) with no text: {', '.join(empty[:5])}", quiet)
        if not docnos:
            raise InputError("no documents with text found", path)
        idx = LuceneIndex(tmp, _check=False)
        n = idx.num_docs
        _check_order(idx, docnos)
        docno_text = "\n".join(docnos) + "\n"
        (tmp / DOCNOS_FILE).write_text(docno_text, encoding="utf-8")
        meta = {
            "irkit_index": 1,
            "source": str(Path(path).resolve()),
            "format": fmt,
            "documents": n,
            "skipped_empty": empty,
            "analyzer": "Anserini DefaultEnglishAnalyzer (Porter stemmer, Lucene English stopwords)",
            "stored": ["docvectors", "raw"] if docvectors else ["raw"],
            "raw": "text",  # the stored raw field is the text itself (Anserini's JsonCollection stores JSON)
            "indexing_seconds": round(seconds, 3),
            "threads": threads,
            # Checked when the index is opened: docnos.txt must be the one written here.
            "docnos_sha256": hashlib.sha256(docno_text.encode("utf-8")).hexdigest(),
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if impact:  # irkit's impact index (fast BM25), inside the same atomic folder
            write_impact(idx, tmp / IMPACT_DIR, quiet=quiet)
        idx.close()
    return LuceneIndex(index)


def _check_order(idx: LuceneIndex, docnos: list[str]) -> None:
    """Lucene holds ``docnos`` in this order (its count, and the stored ids of 17 documents spread over it)."""
    n = idx.num_docs
    stored = idx.reader.storedFields()
    probes = sorted({n - 1, *range(0, n, max(1, n // 16))}) if n == len(docnos) else []
    if n != len(docnos) or any(stored.document(i).get(ID) != docnos[i] for i in probes):
        raise IrkitError(f"Lucene indexed {n} of {len(docnos)} documents, or not in the order they were given")


class LuceneIndex:
    """A read-only Lucene index opened in the in-process JVM."""

    def __init__(self, path: str | os.PathLike[str], *, _check: bool = True):
        self.path = Path(path)
        note_input(self.path)
        if not self.path.is_dir():
            raise InputError("no such index folder (build one with `irkit index`)", self.path)
        if not any(self.path.glob("segments_*")):
            # shards.json marks a shard set (irkit.engine.shards.SHARDS_FILE; imported, it would
            # close an import circle through the engine); a test writes one and reads this message
            if (self.path / "shards.json").is_file():
                raise InputError(
                    "not a Lucene index but a shard set (`irkit shard`): rank it with --engine ray", self.path
                )
            raise InputError("not a Lucene index (no segments_N file)", self.path)
        self._reader = None
        if _check:
            self.reader  # noqa: B018  (open now so a corrupt index fails here)

    def __repr__(self) -> str:
        return f"LuceneIndex({str(self.path)!r}, docs={self.num_docs})"

    @property
    def meta(self) -> dict:
        f = self.path / META_FILE
        return json.loads(f.read_text()) if f.exists() else {}

    @property
    def reader(self):
        if self._reader is None:
            FSDirectory = _java.autoclass("org.apache.lucene.store.FSDirectory")
            DirectoryReader = _java.autoclass("org.apache.lucene.index.DirectoryReader")
            Paths = _java.autoclass("java.nio.file.Paths")
            try:
                self._reader = DirectoryReader.open(FSDirectory.open(Paths.get(str(self.path.resolve()))))
            except Exception as e:  # jnius.JavaException
                raise InputError(f"cannot open Lucene index ({_java.exception_message(e)})", self.path) from None
        return self._reader

    def refresh(self) -> bool:
        """Open the index's newest commit if one was made since this reader opened (irkit adds
        document vectors in place the first time RM3 needs them); whether the reader changed."""
        if self._reader is None:
            return False
        DirectoryReader = _java.autoclass("org.apache.lucene.index.DirectoryReader")
        new = DirectoryReader.openIfChanged(self._reader)
        if new is None:
            return False
        old, self._reader = self._reader, new
        old.close()
        return True

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def num_docs(self) -> int:
        return int(self.reader.numDocs())

    @cached_property
    def docnos(self) -> np.ndarray:
        """External docnos indexed by Lucene document number."""
        f = self.path / DOCNOS_FILE
        if f.exists():
            text = f.read_text(encoding="utf-8")
            arr = np.array(text.split("\n")[:-1], dtype=object)
            if len(arr) == self.reader.maxDoc() and self._docnos_match(text, arr):
                return arr
            from irkit.progress import log

            log(f"{f}: does not match the index (edited or stale); reading docnos from Lucene instead")
        return np.array(self._docnos_from_lucene(), dtype=object)

    def _docnos_match(self, text: str, arr: np.ndarray) -> bool:
        # The checksum written at index time, then a few documents asked of Lucene
        # itself (first, last, middle): a sidecar from another index fails here.
        expected = self.meta.get("docnos_sha256")
        if expected is not None and hashlib.sha256(text.encode("utf-8")).hexdigest() != expected:
            return False
        if not len(arr):
            return True
        stored = self.reader.storedFields()
        return all(stored.document(i).get(ID) == arr[i] for i in sorted({0, len(arr) // 2, len(arr) - 1}))

    @cached_property
    def docno_to_id(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.docnos)}

    def _docnos_from_lucene(self) -> list[str]:
        stored = self.reader.storedFields()
        return [stored.document(i).get(ID) for i in range(self.reader.maxDoc())]

    def lucene_id(self, docno: str) -> int:
        try:
            return self.docno_to_id[docno]
        except KeyError:
            raise InputError(f"document {docno!r} is not in the index", self.path) from None

    def raw(self, docno: str) -> str:
        """The stored text of a document as it was indexed."""
        doc = self.reader.storedFields().document(self.lucene_id(docno))
        value = doc.get("raw")
        if value is None:
            raise InputError("index stores no raw text (re-index with irkit)", self.path)
        return self._contents(value)

    @cached_property
    def _raw_is_json(self) -> bool:
        # irkit stores the text itself; indexes built by Anserini's IndexCollection hold the JSON record.
        return self.meta.get("raw") != "text"

    def _contents(self, value: str | None) -> str:
        if not value:
            return ""
        if self._raw_is_json and value.startswith("{"):
            raw = json.loads(value)
            return raw.get(CONTENTS, value) if isinstance(raw, dict) else value
        return value

    def texts(self, docnos=None) -> list[str]:
        """Stored contents of ``docnos`` (all documents, in Lucene order, by default)."""
        ids = range(len(self.docnos)) if docnos is None else [self.lucene_id(d) for d in docnos]
        stored = self.reader.storedFields()
        return [self._contents(stored.document(i).get("raw")) for i in ids]

    @property
    def _analyzer(self):
        return analyzer().java

    def analyze(self, text: str) -> list[str]:
        """Tokens of ``text`` after the index's analysis (Porter stemming, stopwords removed)."""
        return analyzer()(text)

    def doc_freq(self, term: str) -> int:
        """Number of documents containing the analysed ``term``."""
        Term = _java.autoclass("org.apache.lucene.index.Term")
        return int(self.reader.docFreq(Term(CONTENTS, term)))

    @cached_property
    def stats(self) -> dict[str, float]:
        """Collection statistics of the contents field."""
        n = int(self.reader.numDocs())
        total = int(self.reader.getSumTotalTermFreq(CONTENTS))
        return {"documents": n, "terms": total, "avg_doc_length": total / max(n, 1)}

    @property
    def has_docvectors(self) -> bool:
        # Indexes that irkit.json does not describe (Anserini's, or irkit's before document vectors
        # became optional) were built with them.
        return "docvectors" in self.meta.get("stored", ["docvectors"])

    def require_docvectors(self, quiet: bool = False) -> None:
        """Make sure the index stores document vectors (RM3 reads them), adding them if it does not.

        Adding them re-indexes the stored text with vectors into the same folder, in one Lucene
        commit: the same documents in the same order, so the docnos, the statistics and the impact
        part stay valid (the impact part's record of the Lucene commit is updated). A file lock
        makes a second process wait, then find them there.
        """
        if self.has_docvectors:
            return
        import fcntl

        from irkit.index.writer import write_lucene

        try:
            lock = open(self.path / ".docvectors.lock", "a")  # noqa: SIM115 (held to the end of the block)
        except OSError as e:
            raise InputError(
                f"RM3 needs document vectors, which this index does not store, and irkit cannot add them "
                f"here ({e.strerror}); rebuild it with `irkit index --docvectors`",
                self.path,
            ) from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.has_docvectors:  # another process added them meanwhile
                self.close()
                return
            before = lucene_fingerprint(self)
            stored = self.reader.storedFields()
            docnos = list(self.docnos)
            log(f"adding document vectors to {self.path} (RM3 reads them; done once)", quiet)
            start = time.perf_counter()

            def documents():
                for i in progress(range(len(docnos)), desc="document vectors", unit="doc", disable=quiet):
                    doc = stored.document(i)
                    yield doc.get(ID), self._contents(doc.get("raw"))

            # One writer, in the index's own folder: the documents keep their order. The old
            # reader is read while it writes, then closed; the next use opens the new commit.
            old, self._reader = self.reader, None
            try:
                write_lucene(documents(), self.path, analyzer().java, threads=1, vectors=True)
            finally:
                old.close()
            _check_order(self, docnos)
            after = lucene_fingerprint(self)
            if {k: v for k, v in after.items() if k != "lucene_commit"} != {
                k: v for k, v in before.items() if k != "lucene_commit"
            }:
                raise IrkitError(f"re-indexing with document vectors changed the index's statistics ({self.path})")
            meta = self.meta
            meta["stored"] = sorted({*meta.get("stored", []), "docvectors"})
            _replace_json(self.path / META_FILE, meta)
            impact_meta = impact_path(self.path) / "meta.json"
            if impact_meta.is_file():
                im = json.loads(impact_meta.read_text(encoding="utf-8"))
                if im.get("lucene_commit") == before["lucene_commit"]:
                    im["lucene_commit"] = after["lucene_commit"]
                    _replace_json(impact_meta, im)
            log(f"added document vectors in {time.perf_counter() - start:.1f} s", quiet)

    def term_vectors(self, docnos=None) -> list[dict[str, int]]:
        """Per-document ``{term: tf}`` from the stored document vectors (added first if missing)."""
        self.require_docvectors()
        ids = range(len(self.docnos)) if docnos is None else [self.lucene_id(d) for d in docnos]
        vectors = self.reader.termVectors()
        out = []
        for i in ids:
            terms = vectors.get(i, CONTENTS)
            tv: dict[str, int] = {}
            if terms is not None:
                it = terms.iterator()
                while (t := it.next()) is not None:
                    tv[t.utf8ToString()] = int(it.totalTermFreq())
            out.append(tv)
        return out


class Analyzer:
    """Anserini's default English analysis (Porter stemmer, Lucene English stopwords) in the
    in-process JVM: the one analyser of irkit (indexes, BM25 queries, DESM, features, dense encoders)."""

    def __init__(self) -> None:
        self.java = _java.autoclass("io.anserini.analysis.DefaultEnglishAnalyzer").newDefaultInstance()
        self._utils = _java.autoclass("io.anserini.analysis.AnalyzerUtils")

    def __call__(self, text: str) -> list[str]:
        if not text or not text.strip():
            return []
        # One JNI call for List.toString() ("[a, b]") instead of one per token;
        # analysed tokens never contain ", ".
        joined = self._utils.analyze(self.java, text).toString()[1:-1]
        return joined.split(", ") if joined else []

    def many(self, texts, desc: str = "analysing", quiet: bool = False) -> list[list[str]]:
        return [self(t) for t in progress(texts, desc=desc, unit="doc", disable=quiet)]


_ANALYZER: Analyzer | None = None


def analyzer() -> Analyzer:
    """The process-wide analyser (the JVM starts on first use)."""
    global _ANALYZER
    if _ANALYZER is None:
        _ANALYZER = Analyzer()
    return _ANALYZER


def _replace_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def add_impact(index_dir: str | os.PathLike[str], *, force: bool = False, quiet: bool = False) -> ImpactIndex:
    """Add (or with ``force`` rebuild) the impact part of an existing irkit index, atomically."""
    lucene = LuceneIndex(index_dir)
    target = impact_path(index_dir)
    if target.exists() and not force:
        raise InputError(f"index already has an impact part ({IMPACT_DIR}/); pass --force to rebuild it", index_dir)
    with atomic_path(target, overwrite=force, part_of=index_dir) as tmp:  # a part of the index folder
        meta = write_impact(lucene, tmp, quiet=quiet)
    log(f"impact index: {meta['num_terms']:,} terms, {meta['postings']:,} postings in {meta['seconds']} s", quiet)
    return ImpactIndex.open(index_dir, lucene=lucene)
