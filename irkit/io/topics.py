"""Read topics into a queries frame (``qid, query``).

Formats: TREC ``<top>`` (title field by default), the CACM ``<DOC><DOCNO>`` topic
file, SMART ``.I .W`` queries (CRLF or LF), BEIR ``queries.jsonl`` and TSV
``qid<TAB>query``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd

from irkit.errors import InputError
from irkit.frames import queries_frame
from irkit.io.atomic import note_input
from irkit.io.documents import (
    _DOC_CLOSE,
    _DOC_OPEN,
    _DOCNO_CLOSE,
    _DOCNO_OPEN,
    _clean,
    _inner,
    _json,
    check_id,
    elements,
    iter_smart_records,
)

TOPIC_FORMATS = ("auto", "trec", "cacm", "smart", "beir", "tsv")
TREC_FIELDS = ("title", "desc", "narr")


def detect_topics_format(path: Path) -> str:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        head = fh.read(4096)
    first = next((ln.strip() for ln in head.split("\n") if ln.strip()), "")
    if first.lower().startswith("<top"):
        return "trec"
    if first.upper().startswith("<DOC"):
        return "cacm"
    if re.match(r"^\.I(\s|$)", first):
        return "smart"
    if first.startswith("{"):
        return "beir"
    if "\t" in first:
        return "tsv"
    raise InputError(f"cannot tell the topics format from {first[:40]!r}; pass --topics-format", path, 1)


def read_topics(
    path: str | os.PathLike[str],
    format: str = "auto",
    *,
    field: str = "title",
    smart_ids: str = "position",
) -> pd.DataFrame:
    """A queries frame from a topics file.

    ``field`` picks the TREC topic field (``title``, ``desc`` or ``narr``).
    ``smart_ids`` numbers SMART queries by ``position`` (1, 2, ...: how Cranfield's
    qrels number them, although ``cran.qry`` says ``.I 001..365`` with gaps) or by
    their ``.I`` ``field``.
    Raises :class:`InputError` naming file and line on an empty query or a
    malformed record.
    """
    p = Path(path)
    if format not in TOPIC_FORMATS:
        raise InputError(f"unknown topics format {format!r}; choose from {', '.join(TOPIC_FORMATS)}")
    if field not in TREC_FIELDS:
        raise InputError(f"unknown topic field {field!r}; choose from {', '.join(TREC_FIELDS)}")
    if smart_ids not in ("position", "field"):
        raise InputError(f"smart_ids must be 'position' or 'field', not {smart_ids!r}")
    if not p.is_file():
        raise InputError("no such topics file" if not p.exists() else "not a regular file", p)
    note_input(p)
    fmt = detect_topics_format(p) if format == "auto" else format
    if fmt == "smart":
        rows = [
            (n, str(i) if smart_ids == "position" else rid, rec.get("W", ""))
            for i, (n, rid, rec) in enumerate(iter_smart_records(p), 1)
        ]
    else:
        # utf-8-sig: a byte-order mark is not part of the first topic id. Invalid
        # UTF-8 stays apart (surrogateescape): refused in an id, U+FFFD in a query.
        with open(p, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
            text = fh.read()
        rows = {"trec": _trec, "cacm": _cacm, "beir": _beir, "tsv": _tsv}[fmt](p, text, field)
    if not rows:
        raise InputError("no topics found", p)
    seen: dict[str, int] = {}
    for line, qid, query in rows:
        check_id(qid, "topic id", p, line)
        if not isinstance(query, str):
            raise InputError(f"topic {qid} has a query of {json.dumps(query)[:40]}, not a string", p, line)
        if not query.strip():
            raise InputError(f"topic {qid} has an empty query", p, line)
        if qid in seen:
            raise InputError(f"topic {qid} appears twice (first at line {seen[qid]})", p, line)
        seen[qid] = line
    return queries_frame([(q, " ".join(_clean(t).split())) for _, q, t in rows])


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _lines(text: str):
    # A line ends at \n (or \r\n) only: U+2028, \x0b, \x1c... are text in TSV
    # and JSON lines, where str.splitlines() would cut a query in two.
    for n, line in enumerate(text.split("\n"), 1):
        yield n, line.removesuffix("\r")


_TOP_OPEN = re.compile(r"<top>", re.I)
_TOP_CLOSE = re.compile(r"</top>", re.I)


def _trec(path: Path, text: str, field: str) -> list[tuple[int, str, str]]:
    rows = []
    for start, body in elements(text, _TOP_OPEN, _TOP_CLOSE, "<top>", path):
        line = _line_of(text, start)
        # Possessive quantifiers: "<num>" and 200k spaces is one scan, not a backtrack.
        num = re.search(r"<num>\s*+(?:Number:)?\s*+([^\s<]++)", body, flags=re.I)
        if not num:
            raise InputError("<top> without <num>", path, line)
        fm = re.search(rf"<{field}>(.*?)(?=<[a-z/]|$)", body, flags=re.S | re.I)
        if not fm:
            raise InputError(f"topic {num.group(1)} has no <{field}>", path, line)
        value = re.sub(r"^\s*(Description|Narrative|Topic):", "", fm.group(1), flags=re.I)
        rows.append((line, num.group(1), value))
    return rows


def _cacm(path: Path, text: str, field: str) -> list[tuple[int, str, str]]:
    rows = []
    for start, body in elements(text, _DOC_OPEN, _DOC_CLOSE, "<DOC>", path):
        line = _line_of(text, start)
        dm = next(_inner(body, _DOCNO_OPEN, _DOCNO_CLOSE), None)
        if not dm or not dm[2].strip():
            raise InputError("<DOC> without <DOCNO>", path, line)
        rows.append((line, dm[2].strip(), body[dm[1] :]))
    return rows


def _beir(path: Path, text: str, field: str) -> list[tuple[int, str, str]]:
    rows = []
    for n, line in _lines(text):
        if not line.strip():
            continue
        obj = _json(line, path, n)
        if not isinstance(obj, dict) or "_id" not in obj or "text" not in obj:
            raise InputError("expected a JSON object with '_id' and 'text'", path, n)
        rows.append((n, check_id(obj["_id"], "query id", path, n), obj["text"]))
    return rows


def _tsv(path: Path, text: str, field: str) -> list[tuple[int, str, str]]:
    rows = []
    for n, line in _lines(text):
        if not line.strip():
            continue
        parts = line.split("\t", 1)
        if len(parts) != 2:
            raise InputError("expected 'qid<TAB>query'", path, n)
        rows.append((n, parts[0].strip(), parts[1]))
    return rows
