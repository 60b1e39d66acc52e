"""ir_datasets collections by name: ``irds:NAME``.

``irds:cranfield`` works wherever a collection, topics or qrels path or a built-in
name works (``irkit index irds:cranfield``, ``--topics irds:cranfield``, ``--qrels
irds:cranfield``, ``irkit.datasets.get("irds:cranfield")``). The data is read by
ir_datasets' own loaders from its own cache (``IR_DATASETS_HOME``, by default
``~/.ir_datasets``): a document's text is its ``default_text()`` (or the fields
chosen with ``--fields``), a query's its ``default_text()``, and qrels keep the
labels ir_datasets gives them.

irkit reads files, so each part is written once as a file irkit already reads,
under ``IR_DATASETS_HOME/irkit/NAME/`` (documents as Pyserini JSONL, topics as
BEIR JSONL, qrels as TREC qrels; written to a temporary file and renamed into
place), and reused from there; delete that folder to read the data again. Those
files are what a run's provenance sidecar checksums.

Offline, ir_datasets would try each download source, retrying: here it tries each
once (``IR_DATASETS_DL_TRIES=1`` and a 10 s ``IR_DATASETS_DL_TIMEOUT`` unless they
are set), its retry messages are silenced, and a failure ends in one line naming
the file ir_datasets wanted, where it came from and where to put it.

Graded qrels whose meaning differs from irkit's reading of the same collection
built in (:data:`GRADE_NOTES`: Cranfield) are said on stderr when they are read,
never remapped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from irkit.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

PREFIX = "irds:"
FORMATS = {"documents": "jsonl", "topics": "beir", "qrels": "trec"}
_FILES = {"documents": "documents{}.jsonl", "topics": "topics.jsonl", "qrels": "qrels.txt"}
_HANDLERS = {"documents": "docs", "topics": "queries", "qrels": "qrels"}  # irkit's kinds -> ir_datasets' parts

# ir_datasets' label meaning where it differs from irkit's built-in reading of the same file.
GRADE_NOTES = {
    "cranfield": (
        "labels kept as cranqrel's codes, as ir_datasets gives them (1 = complete answer .. 4 = minimum "
        "interest, -1 = no interest; ir_datasets' qrels_defs describe them in reverse), while irkit's "
        "built-in cranfield qrels read them as gain 5 - code (-1 as 0): AP, P and R agree, nDCG does not; "
        "--qrels cranfield gives irkit's reading"
    ),
}
_NOTED: set[str] = set()


def is_irds(value: object) -> bool:
    """Whether a command-line collection, topics or qrels value names an ir_datasets dataset."""
    return str(value).lower().startswith(PREFIX)


@contextlib.contextmanager
def _fail_fast() -> Iterator[None]:
    """One try per download source, a bounded wait, and no retry chatter (ir_datasets' logger)."""
    import ir_datasets

    saved = {k: os.environ.get(k) for k in ("IR_DATASETS_DL_TRIES", "IR_DATASETS_DL_TIMEOUT")}
    os.environ.setdefault("IR_DATASETS_DL_TRIES", "1")
    os.environ.setdefault("IR_DATASETS_DL_TIMEOUT", "10")
    logger = ir_datasets.log.easy().logger()  # every ir_datasets module logs to this one
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _parts(obj: Any, depth: int = 6) -> Iterator[Any]:
    """The objects an ir_datasets handler is built of (its file caches and downloads), depth first."""
    seen: set[int] = set()
    stack = [(obj, 0)]
    while stack:
        o, d = stack.pop()
        if id(o) in seen or d > depth:
            continue
        seen.add(id(o))
        yield o
        children = list(o) if isinstance(o, list | tuple) else list(getattr(o, "__dict__", {}).values())
        stack.extend((c, d + 1) for c in reversed(children) if not isinstance(c, str | bytes | int | float | Path))


def _wanted(handler: Any) -> str:
    """Which file ir_datasets wanted for ``handler``, where from and where to put it."""
    from ir_datasets.util import Cache, Download, LocalDownload, TarExtract

    parts = list(_parts(handler))
    caches = [p for p in parts if isinstance(p, Cache) and not Path(p._path).exists()]
    urls = [m.url for p in parts if isinstance(p, Download) for m in p.mirrors if hasattr(m, "url")]
    local = [str(m._path) for p in parts if isinstance(p, Download) for m in p.mirrors if isinstance(m, LocalDownload)]
    local += [str(p._cache_path) for p in parts if isinstance(p, Download) and p._cache_path]
    members = [p._tar_path for p in parts if isinstance(p, TarExtract)]
    source = f" from {urls[0]}" if urls else ""
    if caches:
        what = f"{members[0]} (inside {Path(urls[0]).name})" if members and urls else Path(caches[0]._path).name
        return f"put {what}{source} at {caches[0]._path}"
    if local:
        return f"put the file{source} at {local[0]}"
    return f"fetch it{source} into {os.environ.get('IR_DATASETS_HOME', '~/.ir_datasets')}" if urls else ""


@dataclass(frozen=True)
class IrdsDataset:
    """An ir_datasets dataset read into irkit's frames (``irds:NAME``).

    ``documents()``, ``topics()`` and ``qrels()`` are frames; :meth:`path` is the
    file irkit reads for a part (written once from ir_datasets' data).
    """

    name: str
    _dataset: Any = None  # an ir_datasets Dataset not in its registry (ir_datasets.create_dataset)

    @classmethod
    def parse(cls, value: str | os.PathLike[str]) -> IrdsDataset:
        name = str(value)[len(PREFIX) :].strip()
        if not name:
            raise InputError(f"{value}: name the ir_datasets dataset after 'irds:' (irds:cranfield)")
        return cls(name)

    @cached_property
    def dataset(self) -> Any:
        if self._dataset is not None:
            return self._dataset
        try:
            import ir_datasets
        except ImportError:
            raise InputError(f"{PREFIX}{self.name}: ir_datasets is not installed (pip install 'irkit[irds]')") from None
        try:
            return ir_datasets.load(self.name)
        except KeyError:
            raise InputError(f"{PREFIX}{self.name}: ir_datasets has no dataset {self.name!r}") from None

    def has(self, kind: str) -> bool:
        return bool(getattr(self.dataset, f"has_{_HANDLERS[_kind(kind)]}")())

    def fields(self) -> tuple[str, ...]:
        """The document fields ``--fields`` can choose (the documents' own, less ``doc_id``)."""
        return tuple(f for f in self.dataset.docs_cls()._fields if f != "doc_id")

    # --- frames ------------------------------------------------------------------

    def documents(self, fields: Sequence[str] | None = None) -> pd.DataFrame:
        """The documents frame (``docno, text``): ``default_text()``, or ``fields`` joined by spaces."""
        from irkit.io.documents import read_documents

        return read_documents(self.path("documents", fields), FORMATS["documents"])

    def topics(self) -> pd.DataFrame:
        """The queries frame (``qid, query``), each query's ``default_text()``."""
        from irkit.io.topics import read_topics

        return read_topics(self.path("topics"), FORMATS["topics"])

    def qrels(self) -> pd.DataFrame:
        """The qrels frame (``qid, docno, label``) with ir_datasets' labels (see :data:`GRADE_NOTES`)."""
        from irkit.io.trec import read_qrels

        return read_qrels(self.path("qrels"), FORMATS["qrels"])

    def format(self, kind: str) -> str:
        return FORMATS[_kind(kind)]

    # --- files -------------------------------------------------------------------

    @property
    def root(self) -> Path:
        import ir_datasets

        return Path(ir_datasets.util.home_path()) / "irkit" / self.name.replace("/", "__")

    def path(self, kind: str, fields: Sequence[str] | None = None, *, quiet: bool = False) -> Path:
        """The file irkit reads for ``kind``, written from ir_datasets' data on first use."""
        kind = _kind(kind)
        if fields is not None and kind != "documents":
            raise InputError("--fields chooses document fields; it applies to irds: collections only")
        if not self.has(kind):
            raise InputError(f"{PREFIX}{self.name}: ir_datasets gives no {kind} for this dataset")
        fields = self._check_fields(fields)
        path = self.root / _FILES[kind].format("." + "+".join(fields) if fields else "")
        if not path.exists():
            self._write(kind, fields, path, quiet)
        note = GRADE_NOTES.get(self.name.split("/")[0]) if kind == "qrels" else None
        if note and self.name not in _NOTED:  # once a process (provenance resolves the qrels again)
            from irkit.progress import warn

            _NOTED.add(self.name)
            warn(f"{PREFIX}{self.name} qrels: {note}")
        return path

    def _check_fields(self, fields: Sequence[str] | None) -> tuple[str, ...]:
        if fields is None:
            return ()
        fields = tuple(f.strip() for f in (fields.split(",") if isinstance(fields, str) else fields) if f.strip())
        unknown = [f for f in fields if f not in self.fields()]
        if unknown or not fields:
            raise InputError(
                f"{PREFIX}{self.name}: no document field {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(self.fields())}"
            )
        return fields

    def _records(self, kind: str, fields: tuple[str, ...]) -> Iterator[str]:
        ds = self.dataset
        if kind == "documents":
            for d in ds.docs_iter():
                text = " ".join(str(getattr(d, f) or "") for f in fields) if fields else d.default_text()
                yield json.dumps({"id": d.doc_id, "contents": text}, ensure_ascii=False) + "\n"
        elif kind == "topics":
            for q in ds.queries_iter():
                yield json.dumps({"_id": q.query_id, "text": q.default_text()}, ensure_ascii=False) + "\n"
        else:
            for r in ds.qrels_iter():
                yield f"{r.query_id} 0 {r.doc_id} {int(r.relevance)}\n"

    def _write(self, kind: str, fields: tuple[str, ...], path: Path, quiet: bool) -> None:
        from irkit.errors import IrkitError
        from irkit.io.atomic import atomic_file
        from irkit.progress import log, progress

        path.parent.mkdir(parents=True, exist_ok=True)
        log(f"{PREFIX}{self.name}: reading the {kind} from ir_datasets into {path}", quiet)
        handler = getattr(self.dataset, f"{_HANDLERS[kind]}_handler")()
        try:
            with _fail_fast(), atomic_file(path) as fh:
                for line in progress(self._records(kind, fields), desc=f"{self.name} {kind}", disable=quiet):
                    fh.write(line)
        except (IrkitError, KeyboardInterrupt):
            raise
        except Exception as e:  # ir_datasets raises what its downloads and parsers raise
            try:
                where = _wanted(handler)
            except Exception:  # it reads ir_datasets' private attributes; the error line must still come
                where = ""
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            if isinstance(e, RuntimeError) and e.args and e.args[0] == "All download sources failed":
                reason = "all download sources failed"
            raise InputError(
                f"{PREFIX}{self.name}: ir_datasets could not give the {kind} ({reason[:200]})"
                + (f"; {where}" if where else "")
            ) from None


def _kind(kind: str) -> str:
    if kind not in _HANDLERS:
        raise InputError(f"unknown kind {kind!r}; choose from {', '.join(_HANDLERS)}")
    return kind
