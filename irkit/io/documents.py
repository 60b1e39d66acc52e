"""Read document collections into ``(docno, text)`` records.

Formats: Pyserini JSONL (``id``, ``contents``), BEIR ``corpus.jsonl`` (``_id``,
``title``, ``text``), TREC SGML (``<DOC><DOCNO>``), SMART tagged files (``.I .T
.A .B .W``, as Cranfield) and folders or tarballs of HTML files (as CACM).
"""

from __future__ import annotations

import gzip
import html
import io
import json
import os
import re
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from irkit.errors import InputError
from irkit.frames import documents_frame
from irkit.io.atomic import note_input

DOC_FORMATS = ("auto", "jsonl", "beir", "trec", "smart", "cacm-html")
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
# TREC tags whose content Anserini's TrecCollection indexes when a document has them.
_TREC_CONTENT_TAGS = ("HEADLINE", "TITLE", "HL", "HEAD", "TTL", "DD", "DATE", "LP", "LEADPARA", "TEXT")
# A tag starts with "<" and a letter (or "</", "<!"), as in HTML5 parsers; a bare
# "<" in text ("a < b") is text.
_TAG = re.compile(r"<(?:/?[A-Za-z][^>]*|!--.*?--|![^>]*)>", re.S)


def _is_archive(p: Path) -> bool:
    return p.name.endswith(_ARCHIVE_SUFFIXES)


def _first_line(path: Path) -> str:
    opener = _open_text(path)
    with opener as fh:
        for line in fh:
            if line.strip():
                return line.strip()
    return ""


def _open_text(path: Path):
    # utf-8-sig: a byte-order mark is not part of the first id.
    if path.suffix == ".gz":
        import gzip

        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace")
    return open(path, encoding="utf-8-sig", errors="replace", newline=None)


# What a truncated or corrupt compressed file raises while it is read.
_DECOMPRESSION_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, tarfile.TarError)


def _first_line_of(e: BaseException) -> str:
    # tarfile lists every method it tried, one a line: an error stays one line.
    lines = [ln.strip(" -") for ln in str(e).strip().splitlines() if ln.strip()]
    return lines[0].rstrip(":") if lines else type(e).__name__


def _check_regular(p: Path) -> None:
    if not p.exists():
        raise InputError("no such file or folder", p)
    if not (p.is_file() or p.is_dir()):
        # A FIFO would block the reader forever; a device is not a collection.
        raise InputError("not a regular file or folder (a FIFO, device or socket)", p)


def _folder_files(root: Path) -> list[Path]:
    """Regular files under ``root`` (sorted, hidden ones left out), never through a symlink out of it.

    A symbolic link whose target lies outside ``root`` is skipped (and counted in
    one message): a collection folder cannot pull in files from elsewhere.
    """
    base = root.resolve()
    out, outside = [], 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            f = Path(dirpath) / name
            if f.is_symlink():
                target = f.resolve()
                if base not in target.parents:
                    outside += 1
                    continue
            if f.is_file():
                out.append(f)
        # Symlinked folders are not walked (followlinks=False); count those pointing out.
        for d in os.listdir(dirpath):
            q = Path(dirpath) / d
            if q.is_symlink() and q.is_dir() and base not in q.resolve().parents:
                outside += 1
    if outside:
        from irkit.progress import log

        log(f"{root}: skipped {outside} symbolic link(s) pointing outside the collection folder")
    return sorted(out)


def detect_format(path: str | os.PathLike[str]) -> str:
    """Guess a collection's format from its name and first line."""
    p = Path(path)
    _check_regular(p)
    if p.is_dir():
        files = _folder_files(p)
        names = [f.name for f in files if f.parent == p]
        if "corpus.jsonl" in names:
            return "beir"
        if any(f.name.endswith((".html", ".htm")) for f in files):
            return "cacm-html"
        if not files:
            raise InputError("folder has no documents", p)
        return detect_format(files[0])
    if _is_archive(p):
        return "cacm-html"
    try:
        first = _first_line(p)
    except _DECOMPRESSION_ERRORS as e:
        raise InputError(f"truncated or corrupt compressed file ({_first_line_of(e)})", p) from None
    if first.startswith("{"):
        try:
            keys = json.loads(first).keys()
        except json.JSONDecodeError:
            raise InputError("first line is not valid JSON", p, 1) from None
        if "_id" in keys:
            return "beir"
        if "id" in keys:
            return "jsonl"
        raise InputError(f"JSON documents need 'id' or '_id', found {sorted(keys)}", p, 1)
    if first.upper().startswith("<DOC"):
        return "trec"
    if re.match(r"^\.I\s", first + " "):
        return "smart"
    raise InputError(f"cannot tell the format from the first line {first[:40]!r}; pass --format", p, 1)


def iter_documents(path: str | os.PathLike[str], format: str = "auto") -> Iterator[tuple[str, str]]:
    """Yield ``(docno, text)`` for every document under ``path``."""
    if format not in DOC_FORMATS:
        raise InputError(f"unknown document format {format!r}; choose from {', '.join(DOC_FORMATS)}")
    p = Path(path)
    _check_regular(p)
    note_input(p)
    fmt = detect_format(p) if format == "auto" else format
    if fmt == "cacm-html":
        yield from _iter_html(p)
        return
    files = [p] if p.is_file() else _folder_files(p)
    if fmt == "beir" and p.is_dir():
        files = [p / "corpus.jsonl"]
    reader = {"jsonl": _iter_jsonl, "beir": _iter_beir, "trec": _iter_trec, "smart": _iter_smart}[fmt]
    for f in files:
        try:
            yield from reader(f)
        except _DECOMPRESSION_ERRORS as e:
            raise InputError(f"truncated or corrupt compressed file ({_first_line_of(e)})", f) from None


def read_documents(path: str | os.PathLike[str], format: str = "auto") -> pd.DataFrame:
    """A documents frame (``docno, text``) of the collection at ``path``."""
    return documents_frame(list(iter_documents(path, format)))


def _iter_json_lines(path: Path) -> Iterator[tuple[int, dict]]:
    with _open_text(path) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"malformed JSON ({e.msg})", path, n) from None
            if not isinstance(obj, dict):
                raise InputError("expected a JSON object", path, n)
            yield n, obj


def _iter_jsonl(path: Path) -> Iterator[tuple[str, str]]:
    for n, obj in _iter_json_lines(path):
        if "id" not in obj or "contents" not in obj:
            raise InputError("a JSONL document needs 'id' and 'contents'", path, n)
        if not str(obj["id"]).strip():
            raise InputError("a document has an empty id", path, n)
        yield str(obj["id"]), str(obj["contents"])


def _iter_beir(path: Path) -> Iterator[tuple[str, str]]:
    for n, obj in _iter_json_lines(path):
        if "_id" not in obj or "text" not in obj:
            raise InputError("a BEIR document needs '_id' and 'text'", path, n)
        if not str(obj["_id"]).strip():
            raise InputError("a document has an empty id", path, n)
        # Pyserini's BEIR "flat" indexes put title and text in one field.
        title = str(obj.get("title") or "").strip()
        text = str(obj["text"])
        yield str(obj["_id"]), f"{title}\n{text}" if title else text


def _iter_trec(path: Path) -> Iterator[tuple[str, str]]:
    with _open_text(path) as fh:
        data = fh.read()
    found = False
    for m in re.finditer(r"<DOC>(.*?)</DOC>", data, flags=re.S | re.I):
        found = True
        body = m.group(1)
        dm = re.search(r"<DOCNO>\s*(.*?)\s*</DOCNO>", body, flags=re.S | re.I)
        if not dm or not dm.group(1):
            # Counting lines only here keeps reading linear in the file size.
            raise InputError("<DOC> without a <DOCNO>", path, data.count("\n", 0, m.start()) + 1)
        rest = body[: dm.start()] + body[dm.end() :]
        parts = [
            c
            for tag in _TREC_CONTENT_TAGS
            if f"<{tag}" in rest or f"<{tag.lower()}" in rest
            for c in re.findall(rf"<{tag}\b[^>]*>(.*?)</{tag}>", rest, flags=re.S | re.I)
        ]
        text = "\n".join(parts) if parts else rest
        yield dm.group(1), html.unescape(_TAG.sub(" ", text)).strip()
    if not found and data.strip():
        raise InputError("no <DOC>...</DOC> records found", path, 1)


# SMART fields: .I id; text fields .T title, .W abstract/text, .K keywords (indexed);
# metadata .A authors, .B bibliographic source, .C categories, .N entry/notes,
# .X cross-references (kept in the record, not indexed). Any other capital letter
# starts a field too (collections add their own) and is skipped likewise.
SMART_TEXT_FIELDS = ("T", "W", "K")
SMART_META_FIELDS = ("A", "B", "C", "N", "X")
_SMART_TAG = re.compile(r"^\.([A-Z])(?:[ \t]+(.*?))?[ \t]*$")


def iter_smart_records(path: Path) -> Iterator[tuple[int, str, dict[str, str]]]:
    """Yield ``(line, id, {field: text})`` from a SMART tagged file (LF or CRLF).

    A tag is a line ``.L`` (one capital letter), optionally followed on the same
    line by the field's first text (``.I 12``, ``.X 1410 4 1410``).
    """
    record: dict[str, list[str]] | None = None
    rid, start, field = "", 0, None
    with _open_text(path) as fh:
        for n, raw in enumerate(fh, 1):
            line = raw.rstrip("\r\n")
            m = _SMART_TAG.match(line)
            if m and m.group(1) == "I":
                if record is not None:
                    yield start, rid, {k: "\n".join(v).strip() for k, v in record.items()}
                rid = (m.group(2) or "").strip()
                if not rid:
                    raise InputError(".I without an id", path, n)
                record, start, field = {}, n, None
            elif m:
                if record is None:
                    raise InputError(f"field .{m.group(1)} before the first .I", path, n)
                field = m.group(1)
                record.setdefault(field, [])
                if m.group(2):
                    record[field].append(m.group(2))
            elif record is not None and field is not None:
                record[field].append(line)
            elif line.strip():
                raise InputError("text outside a SMART field (expected .I, .T, .W ...)", path, n)
    if record is not None:
        yield start, rid, {k: "\n".join(v).strip() for k, v in record.items()}


def _iter_smart(path: Path, fields: tuple[str, ...] = SMART_TEXT_FIELDS) -> Iterator[tuple[str, str]]:
    # Title, abstract and keywords are content (Cranfield's reference figures index
    # .T and .W; it has no .K); the other fields are metadata, skipped with one message.
    skipped: set[str] = set()
    for _, rid, rec in iter_smart_records(path):
        skipped.update(k for k in rec if k not in fields)
        yield rid, "\n".join(rec[f] for f in fields if rec.get(f))
    if skipped:
        from irkit.progress import log

        log(f"{path}: indexed SMART fields .{' .'.join(f for f in fields)}; skipped .{' .'.join(sorted(skipped))}")


def _iter_html(p: Path) -> Iterator[tuple[str, str]]:
    # As Anserini's HtmlCollection: the docno is the file name without ".html" and
    # the text is the page with its tags stripped, so BM25 figures match exactly.
    def docno(name: str) -> str:
        return re.sub(r"\.html?$", "", os.path.basename(name))

    if p.is_dir():
        for f in _folder_files(p):
            yield docno(f.name), _strip_html(f.read_text(encoding="utf-8-sig", errors="replace"))
        return
    try:
        with tarfile.open(p) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace").read()
                yield docno(member.name), _strip_html(text)
            _check_tar_end(tar)
    except _DECOMPRESSION_ERRORS as e:
        raise InputError(f"truncated or corrupt archive ({_first_line_of(e)})", p) from None


def _check_tar_end(tar: tarfile.TarFile) -> None:
    # tarfile stops quietly at a truncated header: a complete archive ends with
    # zero blocks after its last member. Reading the rest also makes a gzip
    # stream check its trailer (a cut .tar.gz raises EOFError here).
    fileobj = tar.fileobj
    fileobj.seek(tar.offset)
    rest = fileobj.read()
    if len(rest) < tarfile.BLOCKSIZE or rest.strip(b"\0"):
        raise tarfile.ReadError("the archive ends before its end-of-archive blocks: truncated")


def _strip_html(page: str) -> str:
    return html.unescape(_TAG.sub(" ", page)).strip()
