"""Build and open Lucene indexes (Anserini's ``IndexCollection``, in-process JVM for reading).

An irkit index folder is a plain Lucene index, so Pyserini's ``LuceneSearcher``
opens it too, with two small files beside Lucene's own:

* ``irkit.json``: what was indexed, how, and how many documents;
* ``docnos.txt``: the external docno of each Lucene document number, so that a
  search returns docnos without one JNI call per hit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
from functools import cached_property
from pathlib import Path

import numpy as np

from irkit import _java
from irkit.errors import InputError, IrkitError
from irkit.index.impact import IMPACT_DIR, ImpactIndex, impact_path, write_impact
from irkit.io.atomic import atomic_path, note_input
from irkit.io.documents import detect_format, iter_documents
from irkit.progress import log, progress, spinner

META_FILE = "irkit.json"
DOCNOS_FILE = "docnos.txt"
# Anserini reads JsonCollection with Jackson, whose longest string is 20,000,000 characters.
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
) -> LuceneIndex:
    """Index the collection at ``path`` into the folder ``index``.

    Documents are read by irkit (any of :data:`irkit.io.documents.DOC_FORMATS`),
    written as Pyserini JSONL, and indexed by Anserini's ``IndexCollection``
    (Porter stemming, stopwords removed; positions, document vectors and raw
    text stored). The index is built in a temporary folder and renamed into
    place; an existing index is replaced only with ``force``. With ``impact``
    (the default) the folder also gets irkit's impact index (``impact/``, see
    :mod:`irkit.index.impact`), written before the rename.
    """
    if threads is not None and threads < 0:
        raise InputError(f"--threads must be positive (got {threads})")
    threads = max(1, threads or os.cpu_count() or 1)
    fmt = detect_format(path) if format == "auto" else format
    if not quiet:
        log(f"reading {path} as {fmt}")
    with atomic_path(index, overwrite=force, kind="index") as tmp:
        staging = tmp.parent / "collection"
        staging.mkdir()
        # One JSONL file per thread: Anserini indexes files in parallel.
        docnos: set[str] = set()
        empty: list[str] = []
        with contextlib.ExitStack() as files:
            shards = [
                files.enter_context(open(staging / f"part{i:03d}.jsonl", "w", encoding="utf-8")) for i in range(threads)
            ]
            for docno, text in progress(iter_documents(path, fmt), desc="reading", unit="doc", disable=quiet):
                if not docno or any(c.isspace() for c in docno):
                    raise InputError(f"document id {docno!r} is empty or has white space", path)
                if docno in docnos or docno in empty:
                    raise InputError(f"document id {docno!r} appears twice", path)
                if len(text) > MAX_DOCUMENT_CHARS:
                    raise InputError(
                        f"document {docno!r} has {len(text):,} characters; Anserini's JSON reader takes at most "
                        f"{MAX_DOCUMENT_CHARS:,} (split the document)",
                        path,
                    )
                if not text.strip():
                    # Anserini refuses documents without text; say so instead of
                    # letting the count silently differ.
                    empty.append(docno)
                    continue
                shards[len(docnos) % threads].write(json.dumps({ID: docno, CONTENTS: text}) + "\n")
                docnos.add(docno)
        if empty:
            log(f"skipped {len(empty)} document(s) with no text: {', '.join(empty[:5])}", quiet)
        if not docnos:
            raise InputError("no documents with text found", path)
        start = time.perf_counter()
        _run_index_collection(staging, tmp, threads, quiet=quiet, n=len(docnos))
        seconds = time.perf_counter() - start
        shutil.rmtree(staging)
        idx = LuceneIndex(tmp, _check=False)
        n = idx.num_docs
        if n != len(docnos):
            raise IrkitError(f"Anserini indexed {n} of {len(docnos)} documents: {_log_reasons(tmp, index)}")
        docno_text = "\n".join(idx._docnos_from_lucene()) + "\n"
        (tmp / DOCNOS_FILE).write_text(docno_text, encoding="utf-8")
        meta = {
            "irkit_index": 1,
            "source": str(Path(path).resolve()),
            "format": fmt,
            "documents": n,
            "skipped_empty": empty,
            "analyzer": "Anserini DefaultEnglishAnalyzer (Porter stemmer, Lucene English stopwords)",
            "stored": ["positions", "docvectors", "raw"],
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


def _run_index_collection(collection: Path, out: Path, threads: int, *, quiet: bool, n: int) -> None:
    # A child JVM rather than the in-process one: Ctrl-C then stops it at once and
    # the atomic folder cleans up; an in-process JNI call would finish first.
    home = _java.java_home()
    cmd = [
        os.path.join(home, "bin", "java"),
        *_java.jvm_options(home),
        "-cp",
        _java.anserini_jar(),
        "io.anserini.index.IndexCollection",
        "-collection", "JsonCollection",
        "-generator", "DefaultLuceneDocumentGenerator",
        "-input", str(collection),
        "-index", str(out),
        "-threads", str(threads),
        "-storePositions", "-storeDocvectors", "-storeRaw",
    ]  # fmt: skip
    log = out.parent / "anserini.log"
    with open(log, "w") as fh, spinner(f"Anserini is indexing {n:,} documents with {threads} thread(s)", quiet):
        returncode = _run_child(cmd, fh)
    if returncode != 0 or not any(out.glob("segments_*")):
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise IrkitError("Anserini IndexCollection failed: " + " | ".join(tail))


def _run_child(cmd: list[str], out) -> int:
    """Run ``cmd`` to its end and return its exit code; an interrupt kills it.

    The stop signals are blocked while the child is forked: CPython runs at-fork hooks
    (logging's lock release) around the fork, and a KeyboardInterrupt raised inside one is
    printed as "Exception ignored ... Traceback" and dropped. Blocked, a Ctrl-C arrives
    just after the fork, in ordinary code; the child unblocks them before exec.
    """
    import signal

    stops = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    die = _die_with_parent()

    def preexec() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
        if die is not None:
            die()

    old = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=preexec)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    with proc:
        try:
            return proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise


def _die_with_parent():
    """A ``preexec_fn`` that makes the child get SIGKILL when irkit dies (Linux).

    A SIGKILLed irkit cannot stop its JVM itself; the kernel does it
    (``prctl(PR_SET_PDEATHSIG)``). Elsewhere there is no such call: None.
    """
    import sys

    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    parent = os.getpid()
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        prctl(1, sigkill, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        if os.getppid() != parent:  # irkit died before the call took effect
            os._exit(1)

    return preexec


def _log_reasons(tmp: Path, index) -> str:
    """Why Anserini skipped documents, from its log (kept beside the index for reading)."""
    log_file = tmp.parent / "anserini.log"
    lines = log_file.read_text(errors="replace").splitlines() if log_file.exists() else []
    # The causes first (exceptions, errors), then warnings; Lucene's MMapDirectory notice is noise.
    causes = [ln for ln in lines if any(k in ln for k in ("Exception", "ERROR", "exceeds", "immense", "too large"))]
    warns = [ln for ln in lines if ("WARN" in ln or "skipped" in ln) and "MMapDirectory" not in ln]
    reasons = [ln.strip()[:200] for ln in dict.fromkeys(causes + warns)][:2]
    kept = Path(index).parent / f"{Path(index).name}.anserini.log"
    with contextlib.suppress(OSError):
        shutil.copyfile(log_file, kept)
    why = " | ".join(reasons) if reasons else "Anserini's log gives no reason"
    return f"{why} (full log: {kept})"


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
                raise InputError(f"cannot open Lucene index ({_java_message(e)})", self.path) from None
        return self._reader

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
        raw = json.loads(value) if value.startswith("{") else {CONTENTS: value}
        return raw.get(CONTENTS, value) if isinstance(raw, dict) else value

    def texts(self, docnos=None) -> list[str]:
        """Stored contents of ``docnos`` (all documents, in Lucene order, by default)."""
        ids = range(len(self.docnos)) if docnos is None else [self.lucene_id(d) for d in docnos]
        stored = self.reader.storedFields()
        out = []
        for i in ids:
            value = stored.document(i).get("raw")
            out.append(json.loads(value).get(CONTENTS, "") if value and value.startswith("{") else value or "")
        return out

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

    def term_vectors(self, docnos=None) -> list[dict[str, int]]:
        """Per-document ``{term: tf}`` from the stored document vectors."""
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


def _java_message(e: Exception) -> str:
    msg = getattr(e, "innermessage", None) or str(e)
    return str(msg).strip().splitlines()[0] if msg else type(e).__name__


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
