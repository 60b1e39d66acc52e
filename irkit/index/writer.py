"""Lucene indexing in irkit's own JVM: the documents Anserini's ``IndexCollection`` would write, faster.

What a document becomes is what Anserini's ``DefaultLuceneDocumentGenerator`` makes of it:
``id`` (a ``StringField``, stored, and a ``BinaryDocValuesField`` that Anserini's searcher
breaks score ties with), ``raw`` (the text, stored) and ``contents`` (analysed by the same
``DefaultEnglishAnalyzer``, with frequencies and norms), so every figure Lucene's BM25 and QL
read (postings, norms, docFreq, docCount, sumTotalTermFreq) is the one Lucene computes for that
field. Positions are not indexed (no irkit model reads them). Document vectors (RM3's input)
cost about as much again as the rest: they are written only when asked for, and then without
positions (RM3 reads terms and counts); :meth:`irkit.index.LuceneIndex.require_docvectors` adds
them to an index on first use.

How it is fast: documents cross JNI in batches (their ids and texts joined into two strings),
and the loop that splits them and calls ``IndexWriter.addDocument`` runs inside the JVM,
composed from ``MethodHandle``s (no Java source to compile). pyjnius releases the GIL during
the call, so Python reads the next batch while one writer per thread indexes. Each writer
has its own folder and one thread, so its document order is its batches' order (and commits
there, in its own thread, after its last batch: the writers' last flushes run at once); the folders
are joined with ``IndexWriter.addIndexes`` (the first writer's documents, then the second's),
and a merge policy that merges only neighbouring segments keeps that order.
"""

from __future__ import annotations

import queue
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path

from irkit import _java
from irkit.errors import IrkitError

BATCH_DOCS = 2000
BATCH_CHARS = 4_000_000
_SEP = "\x00"  # between the texts of a batch; another one where a text holds it
_FINISH = ("commit",)  # the last item a worker takes on success (None, on failure, commits nothing)
_handles_lock = threading.Lock()
_handles: dict[bool, _Handles] = {}


class _Handles:
    """``add(n, writer, ids, texts)``: split both strings by a separator and add ``n`` documents
    (with or without document vectors)."""

    def __init__(self, vectors: bool) -> None:
        A = _java.autoclass
        MH = A("java.lang.invoke.MethodHandles")
        MT = A("java.lang.invoke.MethodType")
        C = A("java.lang.Class").forName
        look = MH.publicLookup()
        INT, VOID, LONG = (A(f"java.lang.{n}").TYPE for n in ("Integer", "Void", "Long"))
        OBJ, STR, CS = C("java.lang.Object"), C("java.lang.String"), C("java.lang.CharSequence")
        SARR, LIST = C("[Ljava.lang.String;"), C("java.util.List")
        IW, BR = C("org.apache.lucene.index.IndexWriter"), C("org.apache.lucene.util.BytesRef")
        doc_pkg = "org.apache.lucene.document."

        ft = A(doc_pkg + "FieldType")()
        ft.setIndexOptions(A("org.apache.lucene.index.IndexOptions").DOCS_AND_FREQS)
        ft.setStoreTermVectors(vectors)
        ft.setTokenized(True)
        ft.freeze()

        def new(cls: str, *params):
            h = look.findConstructor(C(doc_pkg + cls), MT.methodType(VOID, *params))
            return h

        def as_object(h):
            return h.asType(h.type().changeReturnType(OBJ))

        # The four fields of a document, each a function of its id or its text.
        store = C(doc_pkg + "Field$Store")
        id_field = MH.insertArguments(MH.insertArguments(new("StringField", STR, STR, store), 2,
                                                         A(doc_pkg + "Field$Store").YES), 0, "id")  # fmt: skip
        bytes_ref = look.findConstructor(BR, MT.methodType(VOID, CS)).asType(MT.methodType(BR, STR))
        id_values = MH.filterArguments(MH.insertArguments(new("BinaryDocValuesField", STR, BR), 0, "id"), 0, bytes_ref)
        raw = MH.insertArguments(new("StoredField", STR, STR), 0, "raw")
        contents = MH.insertArguments(MH.insertArguments(new("Field", STR, CS, C("org.apache.lucene.index.IndexableFieldType")), 2, ft), 0, "contents")  # fmt: skip
        contents = contents.asType(MT.methodType(C(doc_pkg + "Field"), STR))
        list_of = look.findStatic(LIST, "of", MT.methodType(LIST, OBJ, OBJ, OBJ, OBJ))
        doc = MH.filterArguments(list_of, 0, *(as_object(h) for h in (id_field, id_values, raw, contents)))
        doc = MH.permuteArguments(doc, MT.methodType(LIST, STR, STR), 0, 0, 1, 1)  # (id, text) -> fields
        add = look.findVirtual(IW, "addDocument", MT.methodType(LONG, C("java.lang.Iterable")))
        add = MH.collectArguments(add.asType(MT.methodType(VOID, IW, LIST)), 1, doc)  # (w, id, text)
        get = MH.arrayElementGetter(SARR)  # (String[], int) -> String
        body = MH.collectArguments(MH.collectArguments(add, 1, get), 3, get)  # (w, ids, i, texts, i)
        body = MH.permuteArguments(body, MT.methodType(VOID, INT, INT, IW, SARR, SARR), 2, 3, 0, 4, 0)
        self._loop = MH.countedLoop(MH.dropArguments(MH.identity(INT), 1, IW, SARR, SARR), None, body)
        self._split = look.findVirtual(STR, "split", MT.methodType(SARR, STR, INT))
        # addIndexes(Directory...): pyjnius cannot choose between its two overloads
        dirs = C("[Lorg.apache.lucene.store.Directory;")
        self._add_indexes = look.findVirtual(IW, "addIndexes", MT.methodType(LONG, dirs))
        self._dirs = dirs
        self._MH = MH
        self._A = A
        self._by_sep: dict[str, object] = {}

    def adder(self, sep: str):
        """``(n, writer, ids, texts)`` for texts joined by ``sep``."""
        if sep not in self._by_sep:
            regex = sep if sep == _SEP else "\\Q" + sep + "\\E"
            split = self._MH.insertArguments(self._split, 2, self._A("java.lang.Integer")(-1))
            split = self._MH.insertArguments(split, 1, regex)
            self._by_sep[sep] = self._MH.filterArguments(self._loop, 2, split, split)
        return self._by_sep[sep]

    def add_indexes(self, writer, directories: list) -> None:
        handle = self._add_indexes.asCollector(self._dirs, len(directories))
        args = self._A("java.util.ArrayList")()
        for x in (writer, *directories):
            args.add(x)
        handle.invokeWithArguments(args)

    def add(self, writer, ids: list[str], texts: list[str]) -> None:
        sep = _SEP
        joined_ids, joined = sep.join(ids), sep.join(texts)
        n = len(texts)
        if joined.count(sep) != n - 1 or joined_ids.count(sep) != n - 1:
            sep = next(s for s in (f"\x01irkit{i}\x02" for i in range(1000)) if s not in joined and s not in joined_ids)
            joined_ids, joined = sep.join(ids), sep.join(texts)
        args = self._A("java.util.ArrayList")()
        for x in (self._A("java.lang.Integer")(n), writer, joined_ids, joined):
            args.add(x)
        self.adder(sep).invokeWithArguments(args)


def handles(vectors: bool) -> _Handles:
    with _handles_lock:
        if vectors not in _handles:
            _handles[vectors] = _Handles(vectors)
        return _handles[vectors]


def _open_writer(folder: Path, analyzer, ram_mb: float):
    A = _java.autoclass
    cfg = A("org.apache.lucene.index.IndexWriterConfig")(analyzer)
    cfg.setOpenMode(A("org.apache.lucene.index.IndexWriterConfig$OpenMode").CREATE)
    cfg.setRAMBufferSizeMB(ram_mb)
    cfg.setUseCompoundFile(False)
    # Merges of neighbouring segments only (Lucene's default policy may merge any): document order stays.
    cfg.setMergePolicy(A("org.apache.lucene.index.LogByteSizeMergePolicy")())
    directory = A("org.apache.lucene.store.FSDirectory").open(A("java.nio.file.Paths").get(str(folder)))
    return A("org.apache.lucene.index.IndexWriter")(directory, cfg), directory


class _Worker(threading.Thread):
    def __init__(self, folder: Path, analyzer, ram_mb: float, vectors: bool) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.vectors = vectors
        self.writer, self.directory = _open_writer(folder, analyzer, ram_mb)
        self.batches: queue.Queue = queue.Queue(maxsize=2)
        self.docnos: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        h = handles(self.vectors)
        while (batch := self.batches.get()) is not None:
            if self.error is not None:
                continue
            try:
                if batch is _FINISH:
                    # Here, not in the main thread: the writers flush their last segments at once.
                    self.writer.commit()
                    self.writer.close()
                else:
                    h.add(self.writer, *batch)
            except BaseException as e:  # kept for the main thread, which raises it
                self.error = e

    def put(self, batch) -> None:
        while True:  # a worker that failed takes no more: do not wait on its full queue
            if self.error is not None:
                raise self.error
            try:
                self.batches.put(batch, timeout=0.2)
                if batch is not _FINISH:
                    self.docnos.extend(batch[0])
                return
            except queue.Full:
                continue


def write_lucene(
    docs: Iterable[tuple[str, str]],
    out: Path,
    analyzer,
    *,
    threads: int,
    vectors: bool,
    parts: Path | None = None,
) -> list[str]:
    """Index ``(docno, text)`` records into the folder ``out`` with the (Java) ``analyzer``; the docnos in
    Lucene's document order.

    ``out`` is a new folder, or a Lucene index whose documents are replaced in one commit (its
    readers keep the commit they opened). With ``threads`` > 1, each writer's folder is made
    under ``parts`` (default: ``out``'s parent) and removed after. ``vectors``: store document
    vectors (RM3 reads them; they cost about as much again as the rest of the indexing).
    """
    Runtime = _java.autoclass("java.lang.Runtime")
    heap_mb = Runtime.getRuntime().maxMemory() / 2**20
    ram_mb = float(max(16, min(256, heap_mb // (3 * threads))))
    parts = parts or out.parent
    folders = [out] if threads == 1 else [parts / f"part{i}" for i in range(threads)]
    workers = []
    try:
        for f in folders:
            workers.append(_Worker(f, analyzer, ram_mb, vectors))
        for w in workers:
            w.start()
        ids: list[str] = []
        texts: list[str] = []
        chars = k = 0
        for docno, text in docs:
            ids.append(docno)
            texts.append(text)
            chars += len(text)
            if len(ids) >= BATCH_DOCS or chars >= BATCH_CHARS:
                workers[k % threads].put((ids, texts))
                ids, texts, chars, k = [], [], 0, k + 1
        if ids:
            workers[k % threads].put((ids, texts))
        for w in workers:
            w.put(_FINISH)
        _stop(workers, drain=False)
        for w in workers:
            if w.error is not None:
                raise w.error
        if threads > 1:
            writer, directory = _open_writer(out, analyzer, ram_mb)
            try:
                handles(vectors).add_indexes(writer, [w.directory for w in workers])
                writer.commit()
            finally:
                writer.close()
                directory.close()
    except Exception as e:
        if type(e).__name__ == "JavaException":
            raise IrkitError(f"Lucene refused to index a batch of documents ({_java.exception_message(e)})") from None
        raise
    finally:
        _stop(workers, drain=True)  # after an error or interrupt: the queued batches are dropped
        for w in workers:
            if w.writer.isOpen():
                w.writer.rollback()
            w.directory.close()
        for f in folders:
            if f != out:
                shutil.rmtree(f, ignore_errors=True)
    return [d for w in workers for d in w.docnos]


def _stop(workers: list[_Worker], *, drain: bool) -> None:
    for w in workers:
        while drain:
            try:
                w.batches.get_nowait()
            except queue.Empty:
                break
        if w.is_alive():
            while True:
                try:
                    w.batches.put(None, timeout=0.2)
                    break
                except queue.Full:
                    if not w.is_alive():
                        break
            w.join()
