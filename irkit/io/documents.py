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
import posixpath
import re
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from irkit.errors import InputError
from irkit.frames import documents_frame
from irkit.io.atomic import note_input

# "archive": a tarball whose members' formats are told apart member by member.
DOC_FORMATS = ("auto", "jsonl", "beir", "trec", "smart", "cacm-html", "archive")
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
# TREC tags whose content Anserini's TrecCollection indexes when a document has them.
_TREC_CONTENT_TAGS = ("HEADLINE", "TITLE", "HL", "HEAD", "TTL", "DD", "DATE", "LP", "LEADPARA", "TEXT")
# A tag starts with "<" and a letter (or "</", "<!"), as in HTML5 parsers; a bare
# "<" in text ("a < b") is text. A tag ends at the first ">" and holds no "<": a
# scan that fails stops at the next "<", so stripping is linear in the text
# (comments, which may hold "<", are cut first by _strip_comments).
_TAG = re.compile(r"<(?:/?[A-Za-z][^<>]*|![^<>]*)>")
_DOC_OPEN = re.compile(r"<DOC>", re.I)
_DOC_CLOSE = re.compile(r"</DOC>", re.I)
_DOCNO_OPEN = re.compile(r"<DOCNO>", re.I)
_DOCNO_CLOSE = re.compile(r"</DOCNO>", re.I)

# Bounds on what a compressed input may expand to: past a floor, at most MAX_RATIO
# bytes out per byte in (text gzips 3-10x; a bomb 1000x), and one line or member
# (one document) at most MAX_RECORD bytes.
MAX_RATIO = 200
RATIO_FLOOR = 256 * 2**20
MAX_RECORD = 64 * 2**20
# JSON nested deeper than this is no document (Python's parser recurses per level).
MAX_JSON_DEPTH = 100


def _is_archive(p: Path) -> bool:
    return p.name.endswith(_ARCHIVE_SUFFIXES)


def _first_line(path: Path) -> str:
    with _open_text(path) as fh:
        for _, line in _lines(fh, path):
            if line.strip():
                return line.strip()
    return ""


class _Bounded(io.RawIOBase):
    """A decompressing stream that refuses to give more than ``budget`` bytes in all."""

    def __init__(self, raw, budget: int, where: str | os.PathLike[str], file=None):
        self._raw, self._budget, self._where, self._total, self._file = raw, budget, where, 0, file

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, b) -> int:
        n = self._raw.readinto(b)
        self._total += n
        if self._total > self._budget:
            raise InputError(
                f"decompresses to more than {self._budget // 2**20:,} MiB ({MAX_RATIO}x its size, at least"
                f" {RATIO_FLOOR // 2**20} MiB): a decompression bomb or a damaged file; decompress it yourself if it is real",
                self._where,
            )
        return n

    def close(self) -> None:
        self._raw.close()
        if self._file is not None:  # the file under the gzip stream
            self._file.close()
        super().close()


def _budget(path: Path) -> int:
    return max(RATIO_FLOOR, MAX_RATIO * path.stat().st_size)


def _open_binary(path: Path):
    """``path`` as a binary stream; a gzipped file (told by its name or its magic bytes, as
    tarfile told archives apart) decompresses within :func:`_budget`."""
    fh = open(path, "rb")  # noqa: SIM115 - returned open; closed by the caller, or with the gzip stream
    if path.suffix in (".gz", ".tgz") or fh.peek(2)[:2] == b"\x1f\x8b":
        return io.BufferedReader(_Bounded(gzip.GzipFile(fileobj=fh), _budget(path), path, fh))
    return fh


def _text(binary, newline: str | None = None) -> io.TextIOWrapper:
    # utf-8-sig: a byte-order mark is not part of the first id. Invalid bytes in
    # text become U+FFFD; in an id they stay apart (surrogateescape) and are refused.
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline=newline)


def _open_text(path: Path) -> io.TextIOWrapper:
    return _text(_open_binary(path))


def _lines(fh, where) -> Iterator[tuple[int, str]]:
    """``(number, line)`` of a text stream, each line at most MAX_RECORD characters."""
    n = 0
    while True:
        line = fh.readline(MAX_RECORD + 1)
        if not line:
            return
        n += 1
        if len(line) > MAX_RECORD:
            raise InputError(f"a line longer than {MAX_RECORD // 2**20} MiB", where, n)
        yield n, line


def check_id(value: object, what: str, where, line: int | None) -> str:
    """``value`` as an id (a non-empty word of valid text), or a located InputError.

    A TREC run is white-space separated: an id with a space cannot be written
    there, so it is refused where it is read rather than when the run is written.
    """
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(f"{what} is {json.dumps(value)[:40]}, not a string", where, line)
    text = str(value)
    if not text.strip():
        raise InputError(f"{what} is empty", where, line)
    if text.split() != [text]:  # white space anywhere (str.split's is str.isspace's), at C speed
        raise InputError(f"{what} {text[:60]!r} has white space (a TREC run cannot hold it)", where, line)
    if _has_escapes(text):
        raise InputError(f"{what} is not valid UTF-8", where, line)
    return text


def _clean(text: str) -> str:
    # Invalid UTF-8 in text is shown as U+FFFD (bytes kept apart only in ids).
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if _has_escapes(text) else text


def _has_escapes(text: str) -> bool:
    # Called on every document's text: C-speed scans (a generator over the characters cost
    # 1.5 s of the 4.5 s that reading 200k short documents took).
    return not text.isascii() and _ESCAPES.search(text) is not None


_ESCAPES = re.compile("[\udc80-\udcff]")  # surrogateescape's stand-ins for undecodable bytes


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
    """Guess a collection's format from its name and first line.

    An archive is ``"archive"``: each member's format is told from its own name
    and first line as it is read.
    """
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
        return "archive"
    try:
        first = _first_line(p)
    except _DECOMPRESSION_ERRORS as e:
        raise InputError(f"truncated or corrupt compressed file ({_first_line_of(e)})", p) from None
    fmt = _format_of_line(first, p)
    if fmt is None:
        raise InputError(f"cannot tell the format from the first line {first[:40]!r}; pass --format", p, 1)
    return fmt


def _format_of_line(first: str, where) -> str | None:
    if first.startswith("{"):
        obj = _json(first, where, 1)
        if "_id" in obj:
            return "beir"
        if "id" in obj:
            return "jsonl"
        raise InputError(f"JSON documents need 'id' or '_id', found {sorted(obj)[:10]}", where, 1)
    if first.upper().startswith("<DOC"):
        return "trec"
    if first.startswith(".I") and (len(first) == 2 or first[2] in " \t"):
        return "smart"
    return None


def iter_documents(path: str | os.PathLike[str], format: str = "auto") -> Iterator[tuple[str, str]]:
    """Yield ``(docno, text)`` for every document under ``path``."""
    if format not in DOC_FORMATS:
        raise InputError(f"unknown document format {format!r}; choose from {', '.join(DOC_FORMATS)}")
    p = Path(path)
    _check_regular(p)
    note_input(p)
    fmt = detect_format(p) if format == "auto" else format
    if _is_archive(p) and p.is_file():
        yield from _iter_archive(p, None if fmt == "archive" else fmt)
        return
    if fmt == "archive":
        raise InputError("not a tarball (.tar, .tar.gz, .tgz); pass --format", p)
    if fmt == "cacm-html":
        for f in [p] if p.is_file() else _folder_files(p):
            yield _html_docno(f.name, f), _strip_html(f.read_text(encoding="utf-8-sig", errors="replace"))
        return
    files = [p] if p.is_file() else _folder_files(p)
    if fmt == "beir" and p.is_dir():
        files = [p / "corpus.jsonl"]
    for f in files:
        try:
            with _open_text(f) as fh:
                yield from _READERS[fmt](fh, f)
        except _DECOMPRESSION_ERRORS as e:
            raise InputError(f"truncated or corrupt compressed file ({_first_line_of(e)})", f) from None


def read_documents(path: str | os.PathLike[str], format: str = "auto") -> pd.DataFrame:
    """A documents frame (``docno, text``) of the collection at ``path``."""
    return documents_frame(list(iter_documents(path, format)))


def _json(line: str, where, n: int):
    return parse_json(line, where, n)


def parse_json(text: str, where, line: int | None = None):
    """``json.loads(text)``, or an InputError at ``where`` (and ``line``): malformed, or nested too deep.

    json.loads recurses once per level (a RecursionError far past any real
    file's depth): brackets outside strings are counted first where there are many.
    """
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        brackets = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8", "surrogateescape"), np.uint8)
        steps = np.isin(brackets, _OPENERS).astype(np.int64) - np.isin(brackets, _CLOSERS)
        if steps.size and np.cumsum(steps).max() > MAX_JSON_DEPTH:
            raise InputError(f"JSON nested more than {MAX_JSON_DEPTH} deep", where, line)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"malformed JSON ({e.msg})", where, line if line is not None else e.lineno) from None


# A JSON string (with its escapes): brackets are counted outside strings.
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.S)
_OPENERS, _CLOSERS = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)


def _iter_json_lines(fh, where) -> Iterator[tuple[int, dict]]:
    for n, line in _lines(fh, where):
        if not line.strip():
            continue
        obj = _json(line, where, n)
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", where, n)
        yield n, obj


def _text_field(obj: dict, key: str, where, n: int) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise InputError(f"'{key}' is {json.dumps(value)[:40]}, not a string", where, n)
    return _clean(value)


def _iter_jsonl(fh, where) -> Iterator[tuple[str, str]]:
    for n, obj in _iter_json_lines(fh, where):
        if "id" not in obj or "contents" not in obj:
            raise InputError("a JSONL document needs 'id' and 'contents'", where, n)
        yield check_id(obj["id"], "document id", where, n), _text_field(obj, "contents", where, n)


def _iter_beir(fh, where) -> Iterator[tuple[str, str]]:
    for n, obj in _iter_json_lines(fh, where):
        if "_id" not in obj or "text" not in obj:
            raise InputError("a BEIR document needs '_id' and 'text'", where, n)
        docno = check_id(obj["_id"], "document id", where, n)
        # Pyserini's BEIR "flat" indexes put title and text in one field.
        title = _text_field(obj, "title", where, n).strip() if obj.get("title") is not None else ""
        text = _text_field(obj, "text", where, n)
        yield docno, f"{title}\n{text}" if title else text


def elements(text: str, open_tag: re.Pattern, close_tag: re.Pattern, what: str, where) -> Iterator[tuple[int, str]]:
    """``(offset, body)`` of each ``<X>body</X>`` in ``text``, in linear time.

    Each search starts where the last one ended, so an unclosed tag costs one
    scan (and is refused with its line) instead of one scan per later tag.
    """
    pos = 0
    while (m := open_tag.search(text, pos)) is not None:
        c = close_tag.search(text, m.end())
        if c is None:
            raise InputError(f"{what} is never closed", where, text.count("\n", 0, m.start()) + 1)
        yield m.start(), text[m.end() : c.start()]
        pos = c.end()


def _inner(body: str, open_tag: re.Pattern, close_tag: re.Pattern) -> Iterator[tuple[int, int, str]]:
    # Like elements, but an unclosed tag ends the search (text around it stays text).
    pos = 0
    while (m := open_tag.search(body, pos)) is not None and (c := close_tag.search(body, m.end())) is not None:
        yield m.start(), c.end(), body[m.end() : c.start()]
        pos = c.end()


_CONTENT = {tag: (re.compile(rf"<{tag}\b[^<>]*>", re.I), re.compile(rf"</{tag}>", re.I)) for tag in _TREC_CONTENT_TAGS}


def _iter_trec(fh, where) -> Iterator[tuple[str, str]]:
    data = fh.read()
    found = False
    for start, body in elements(data, _DOC_OPEN, _DOC_CLOSE, "<DOC>", where):
        found = True
        dm = next(_inner(body, _DOCNO_OPEN, _DOCNO_CLOSE), None)
        docno = dm[2].strip() if dm else ""
        if not docno or any(c.isspace() for c in docno) or _has_escapes(docno):
            # Counting lines only here keeps reading linear in the file size.
            line = data.count("\n", 0, start) + 1
            if not docno:
                raise InputError("<DOC> without a <DOCNO>", where, line)
            check_id(docno, "<DOCNO>", where, line)
        rest = body[: dm[0]] + body[dm[1] :]
        parts = [
            inner
            for tag, (o, c) in _CONTENT.items()
            if f"<{tag}" in rest or f"<{tag.lower()}" in rest
            for _, _, inner in _inner(rest, o, c)
        ]
        text = "\n".join(parts) if parts else rest
        yield docno, _clean(_strip_html(text))
    if not found and data.strip():
        raise InputError("no <DOC>...</DOC> records found", where, 1)


# SMART fields: .I id; text fields .T title, .W abstract/text, .K keywords (indexed);
# metadata .A authors, .B bibliographic source, .C categories, .N entry/notes,
# .X cross-references (kept in the record, not indexed). Any other capital letter
# starts a field too (collections add their own) and is skipped likewise.
SMART_TEXT_FIELDS = ("T", "W", "K")
SMART_META_FIELDS = ("A", "B", "C", "N", "X")


def _smart_tag(line: str) -> tuple[str, str] | None:
    # ".L" or ".L text" (L one capital letter): the field and its first text. No
    # regular expression: a tag line of 200k spaces made one backtrack quadratically.
    if len(line) >= 2 and line[0] == "." and "A" <= line[1] <= "Z" and (len(line) == 2 or line[2] in " \t"):
        return line[1], line[2:].strip(" \t")
    return None


def iter_smart_records(path: Path, fh=None) -> Iterator[tuple[int, str, dict[str, str]]]:
    """Yield ``(line, id, {field: text})`` from a SMART tagged file (LF or CRLF).

    A tag is a line ``.L`` (one capital letter), optionally followed on the same
    line by the field's first text (``.I 12``, ``.X 1410 4 1410``). ``fh``, when
    given, is the open text stream of ``path`` (an archive's member).
    """
    if fh is None:
        try:
            with _open_text(path) as own:
                yield from iter_smart_records(path, own)
        except _DECOMPRESSION_ERRORS as e:
            raise InputError(f"truncated or corrupt compressed file ({_first_line_of(e)})", path) from None
        return
    record: dict[str, list[str]] | None = None
    rid, start, field = "", 0, None
    for n, raw in _lines(fh, path):
        line = raw.rstrip("\r\n")
        tag = _smart_tag(line)
        if tag and tag[0] == "I":
            if record is not None:
                yield start, rid, {k: _clean("\n".join(v).strip()) for k, v in record.items()}
            rid = check_id(tag[1], ".I id", path, n)
            record, start, field = {}, n, None
        elif tag:
            if record is None:
                raise InputError(f"field .{tag[0]} before the first .I", path, n)
            field = tag[0]
            record.setdefault(field, [])
            if tag[1]:
                record[field].append(tag[1])
        elif record is not None and field is not None:
            record[field].append(line)
        elif line.strip():
            raise InputError("text outside a SMART field (expected .I, .T, .W ...)", path, n)
    if record is not None:
        yield start, rid, {k: _clean("\n".join(v).strip()) for k, v in record.items()}


def _iter_smart(fh, path, fields: tuple[str, ...] = SMART_TEXT_FIELDS) -> Iterator[tuple[str, str]]:
    # Title, abstract and keywords are content (Cranfield's reference figures index
    # .T and .W; it has no .K); the other fields are metadata, skipped with one message.
    skipped: set[str] = set()
    for _, rid, rec in iter_smart_records(path, fh):
        skipped.update(k for k in rec if k not in fields)
        yield rid, "\n".join(rec[f] for f in fields if rec.get(f))
    if skipped:
        from irkit.progress import log

        log(f"{path}: indexed SMART fields .{' .'.join(f for f in fields)}; skipped .{' .'.join(sorted(skipped))}")


_READERS = {"jsonl": _iter_jsonl, "beir": _iter_beir, "trec": _iter_trec, "smart": _iter_smart}


def _html_docno(name: str, where) -> str:
    # As Anserini's HtmlCollection: the docno is the file name without ".html" and
    # the text is the page with its tags stripped, so BM25 figures match exactly.
    return check_id(re.sub(r"\.html?$", "", os.path.basename(name)), "document id (the file name)", where, None)


def _iter_archive(p: Path, fmt: str | None) -> Iterator[tuple[str, str]]:
    """Documents of a tarball's members, each member's format told from its own name and first line.

    Regular files are read; folders are structure; hard links and symbolic links
    to a member read that member; a symbolic link out of the archive is skipped
    (counted in one message, as for folders); any other member type, and a name
    that is absolute or climbs out with "..", is refused by name.
    """
    skipped = 0
    try:
        with _open_binary(p) as raw, tarfile.open(fileobj=raw, mode="r:") as tar:
            compressed = isinstance(raw, io.BufferedReader) and isinstance(raw.raw, _Bounded)
            limit = _budget(p) if compressed else p.stat().st_size
            for member in tar:
                where = f"{p}/{member.name}"
                parts = PurePosixPath(member.name).parts
                if member.name.startswith("/") or ".." in parts:
                    raise InputError(f"member {member.name!r} has a path out of the archive (absolute or '..')", p)
                if member.isdir():
                    continue
                if member.issym() or member.islnk():
                    target = _link_target(tar, member)
                    if target is None:
                        skipped += 1
                        continue
                elif member.isreg():
                    target = member
                else:
                    kind = {
                        tarfile.CHRTYPE: "character device",
                        tarfile.BLKTYPE: "block device",
                        tarfile.FIFOTYPE: "FIFO",
                    }.get(member.type, f"member of type {member.type!r}")
                    raise InputError(f"member {member.name!r} is a {kind}; a collection holds files and folders", p)
                # A forged size would otherwise be read (and allocated) before the data runs out.
                if target.offset_data + target.size > limit:
                    raise InputError(
                        f"member {member.name!r} says it holds {target.size:,} bytes, more than the archive"
                        f" {'can decompress to' if compressed else 'has left'}: truncated or forged",
                        p,
                    )
                yield from _read_member(tar, member, target, where, fmt)
            _check_tar_end(tar, raw)
    except _DECOMPRESSION_ERRORS as e:
        raise InputError(f"truncated or corrupt archive ({_first_line_of(e)})", p) from None
    if skipped:
        from irkit.progress import log

        log(f"{p}: skipped {skipped} symbolic link member(s) pointing outside the archive")


def _link_target(tar: tarfile.TarFile, member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    # A hard link names a member; a symbolic link a path relative to its folder.
    name = member.linkname if member.islnk() else posixpath.join(posixpath.dirname(member.name), member.linkname)
    name = posixpath.normpath(name)
    if member.linkname.startswith("/") or name.startswith(".."):
        return None
    try:
        target = tar.getmember(name)
    except KeyError:
        if member.islnk():
            raise InputError(
                f"member {member.name!r} is a hard link to {member.linkname!r}, which is not in the archive",
                tar.name or "",
            ) from None
        return None
    return target if target.isreg() else None


def _read_member(tar, member, target, where: str, fmt: str | None) -> Iterator[tuple[str, str]]:
    fh = tar.extractfile(target)
    name = member.name
    if fmt is None:
        head = fh.peek(4096)[:4096] if hasattr(fh, "peek") else b""
        first = next((ln.strip() for ln in head.decode("utf-8-sig", "replace").split("\n") if ln.strip()), "")
        fmt = "cacm-html" if name.endswith((".html", ".htm")) else (_format_of_line(first, where) or "cacm-html")
    if fmt == "cacm-html":
        data = fh.read(MAX_RECORD + 1)
        if len(data) > MAX_RECORD:
            raise InputError(f"a page larger than {MAX_RECORD // 2**20} MiB", where)
        yield _html_docno(name, where), _strip_html(data.decode("utf-8-sig", errors="replace"))
        return
    yield from _READERS[fmt](_text(fh), where)


def _check_tar_end(tar: tarfile.TarFile, raw) -> None:
    # tarfile stops quietly at a truncated header: a complete archive has a zero
    # block after its last member (what follows that block is not the archive's).
    # Reading on makes a gzip stream check its trailer (a cut .tar.gz raises EOFError).
    raw.seek(tar.offset)
    end = raw.read(tarfile.BLOCKSIZE)
    if len(end) < tarfile.BLOCKSIZE or end.strip(b"\0"):
        raise tarfile.ReadError("the archive ends before its end-of-archive blocks: truncated")
    while raw.read(2**20):
        pass


def _strip_comments(page: str) -> str:
    # "<!--" to the next "-->"; once none follows, no later comment closes either.
    out, pos = [], 0
    while (i := page.find("<!--", pos)) >= 0:
        j = page.find("-->", i + 4)
        if j < 0:
            break
        out.append(page[pos:i])
        out.append(" ")
        pos = j + 3
    out.append(page[pos:])
    return "".join(out)


def _strip_html(page: str) -> str:
    return html.unescape(_TAG.sub(" ", _strip_comments(page))).strip()
