"""TREC run files and qrels (TREC, BEIR TSV and Cranfield's three columns)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from irkit.errors import InputError
from irkit.frames import qrels_frame, rank_run, run_frame
from irkit.io.atomic import atomic_file, note_input

QRELS_FORMATS = ("auto", "trec", "beir", "cranfield")
# Labels are integers that trec_eval (pytrec_eval) holds in a C int and keeps a
# count for each grade up to the largest: pytrec_eval crashes at a label of 1e6 and
# runs for minutes at 3e5, so grades beyond MAX_LABEL are refused.
MIN_LABEL = -(2**31)
MAX_LABEL = 10_000


def read_run(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A run frame from a TREC run file (``qid Q0 docno rank score tag``).

    The order of a run is its scores' order: ranks are recomputed from the scores
    (ties by docno), as trec_eval does, so a file's rank column cannot mislead.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such run file" if not p.exists() else "not a regular file", p)
    note_input(p)
    qids, docnos, scores = [], [], []
    for n, parts in fields(p):
        if len(parts) != 6:
            raise InputError(f"expected 6 columns 'qid Q0 docno rank score tag', found {len(parts)}", p, n)
        if not _INTEGER.fullmatch(parts[3]):
            raise InputError(f"rank {parts[3]!r} is not an integer", p, n)
        score = parse_score(parts[4], p, n)
        qids.append(parts[0])
        docnos.append(parts[2])
        scores.append(score)
    if not qids:
        raise InputError("run file is empty", p)
    df = pd.DataFrame({"qid": qids, "docno": docnos, "score": scores})
    dup = df.duplicated(["qid", "docno"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"document {docnos[i]} appears twice for topic {qids[i]}", p, _nth_nonempty_line(p, i))
    return run_frame(df)


def _nth_nonempty_line(path: Path, index: int) -> int:
    for seen, (n, _) in enumerate(fields(path)):
        if seen == index:
            return n
    return 0


# Numbers as trec_eval 9.0.8 reads them: a label with atol, a score with atof. Python
# reads more ("1_0", "\uff11", "1e1" as an integer, "0x10" not at all) and C stops
# early where Python goes on; a field is accepted only where both read it whole
# and alike, and refused with its line otherwise.
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_LABEL = re.compile(r"([+-]?[0-9]+)(?:\.0*)?", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def parse_score(text: str, path: Path, line: int) -> float:
    """A run's score as trec_eval's ``atof`` reads it (a decimal number, finite), or a located InputError."""
    if not _DECIMAL.fullmatch(text):
        raise InputError(
            f"score {text!r} is not a decimal number (as trec_eval reads one: 12, -0.5, 1.5e-3)", path, line
        )
    score = float(text)
    if not np.isfinite(score):
        raise InputError(f"score {text} is not finite", path, line)
    return score


def fields(path: Path):
    """``(line, fields)`` of each non-empty line, split as trec_eval splits (ASCII white space only).

    Ids are bytes to trec_eval: a field that is not UTF-8 is refused with its line
    rather than decoded into a replacement character two distinct ids would share.
    """
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a byte-order mark is not part of the first id
            parts = raw.split()
            if not parts:
                continue
            try:
                yield n, [f.decode("utf-8") for f in parts]
            except UnicodeDecodeError as e:
                raise InputError(f"invalid UTF-8 ({e.reason} at byte {e.start} of a field)", path, n) from None


def write_run(run: pd.DataFrame, path: str | os.PathLike[str], tag: str = "irkit", overwrite: bool = False) -> Path:
    """Write a run frame as a TREC run file, atomically; ranks follow the scores."""
    df = rank_run(run_frame(run))
    if re.search(r"\s", tag) or not tag:
        raise InputError(f"run tag {tag!r} must be one word")
    bad = df["qid"].str.contains(r"\s") | df["docno"].str.contains(r"\s")
    if bad.any():
        row = df[bad].iloc[0]
        raise InputError(f"ids with white space cannot go into a TREC run: {row.qid!r} {row.docno!r}")
    # repr() of a float round-trips exactly, so a written run reads back bit for bit.
    lines = [
        f"{q} Q0 {d} {r} {s!r} {tag}\n"
        for q, d, r, s in zip(df["qid"], df["docno"], df["rank"], df["score"].astype(float), strict=True)
    ]
    with atomic_file(path, overwrite=overwrite, kind="run") as fh:
        fh.writelines(lines)
    return Path(path)


def detect_qrels_format(path: Path) -> tuple[str, str]:
    """``(format, reason)`` of a qrels file, from its columns (and, for Cranfield, its labels).

    Three columns without a header are read as plain ``qid docno label``
    (``beir``) unless the file has Cranfield's own signature: grades only in
    -1..5 and exactly one ``-1`` line per topic. Only then is Cranfield's
    relabelling (gain ``5 - rel``) applied without being asked.
    """
    lines = list(fields(path))
    if not lines:
        raise InputError("qrels file is empty", path)
    n, parts = lines[0]
    if parts[0].lower() in ("query-id", "query_id", "qid", "query"):
        return "beir", "a header line names the columns"
    if len(parts) == 4:
        return "trec", "4 columns: qid iter docno label"
    if len(parts) == 3:
        minus_one: dict[str, int] = {}
        cranfield = True
        for _, cols in lines:
            if len(cols) != 3 or _label_value(cols[2]) not in (-1, 1, 2, 3, 4, 5):
                cranfield = False
                break
            minus_one[cols[0]] = minus_one.get(cols[0], 0) + (cols[2] == "-1")
        if cranfield and minus_one and all(v == 1 for v in minus_one.values()):
            return "cranfield", "3 columns, grades -1..5 with one -1 line per topic: Cranfield's scale, gain 5 - grade"
        return "beir", "3 columns without a header: qid docno label, labels as written"
    raise InputError(f"cannot tell the qrels format from a line of {len(parts)} columns; pass --qrels-format", path, n)


def _label_value(text: str) -> int | None:
    m = _LABEL.fullmatch(text)
    if not m:
        return None
    # Past 12 digits a label is out of range anyway (and Python refuses to convert 4,300).
    return int(m.group(1)) if len(m.group(1).lstrip("+-0")) <= 12 else MAX_LABEL + 1


def _label(text: str, path: Path, line: int) -> int:
    value = _label_value(text)
    if value is None:
        raise InputError(
            f"relevance {text!r} is not a whole number in digits (trec_eval reads whole grades: 0, 1, 2, -1)",
            path,
            line,
        )
    if not MIN_LABEL <= value <= MAX_LABEL:
        raise InputError(f"relevance {text!r} is out of range ({MIN_LABEL} to {MAX_LABEL:,})", path, line)
    return value


def cranfield_gain(rel: int) -> int:
    """TREC gain of a Cranfield relevance code.

    Cranfield grades 1 (complete answer) .. 4 (minimum interest), 5 (no interest),
    and each query has one ``-1`` line. Gains run the other way: ``5 - rel`` for
    1..4 (1 -> 4, 4 -> 1), and 0 for 5 and -1. Binary measures (AP, P@k) then see
    grades 1..4 as relevant, the usual binary Cranfield setting.
    """
    return 5 - rel if 1 <= rel <= 4 else 0


def read_qrels(path: str | os.PathLike[str], format: str = "auto", *, quiet: bool = False) -> pd.DataFrame:
    """A qrels frame from TREC (``qid iter docno label``), BEIR TSV or Cranfield files.

    With ``format="auto"`` it says on stderr which format it chose (unless ``quiet``).
    """
    p = Path(path)
    if format not in QRELS_FORMATS:
        raise InputError(f"unknown qrels format {format!r}; choose from {', '.join(QRELS_FORMATS)}")
    if not p.is_file():
        raise InputError("no such qrels file" if not p.exists() else "not a regular file", p)
    note_input(p)
    if format == "auto":
        from irkit.progress import log

        fmt, reason = detect_qrels_format(p)
        log(f"{p}: qrels read as {fmt} ({reason}); --qrels-format chooses", quiet)
    else:
        fmt = format
    ncols = {"trec": 4, "beir": 3, "cranfield": 3}[fmt]
    rows, where = [], {}
    for i, (n, parts) in enumerate(fields(p)):
        if fmt == "beir" and i == 0 and _label_value(parts[-1]) is None:
            continue  # the header
        if len(parts) != ncols:
            raise InputError(f"expected {ncols} columns ({fmt} qrels), found {len(parts)}", p, n)
        label = _label(parts[-1], p, n)
        qid, docno = (parts[0], parts[2]) if fmt == "trec" else (parts[0], parts[1])
        rows.append((qid, docno, cranfield_gain(label) if fmt == "cranfield" else label))
        # trec_eval refuses a document judged twice for one topic with two grades.
        first = where.setdefault((qid, docno), (n, label))
        if first[1] != label:
            raise InputError(
                f"document {docno} is judged {first[1]} for topic {qid} at line {first[0]} and {label} here", p, n
            )
    if not rows:
        raise InputError("qrels file is empty", p)
    df = qrels_frame(rows)
    # The same judgement written twice is one judgement.
    return df.drop_duplicates(["qid", "docno"]).reset_index(drop=True)


def normalise_docnos(qrels: pd.DataFrame, docnos: set[str] | pd.Index) -> tuple[pd.DataFrame, int]:
    """Map judged docnos missing from ``docnos`` to an indexed docno with the same number.

    CACM's qrels say ``CACM-756`` where the collection says ``CACM-0756``; a judged
    id is mapped when its prefix and integer part match exactly one indexed id.
    Returns the mapped qrels and how many judgements changed.
    """
    known = set(docnos)
    split = re.compile(r"^(.*?)(\d+)$")
    by_number: dict[tuple[str, int], list[str]] = {}
    for d in known:
        m = split.match(d)
        if m:
            by_number.setdefault((m.group(1), int(m.group(2))), []).append(d)

    def fix(d: str) -> str:
        if d in known:
            return d
        m = split.match(d)
        cands = by_number.get((m.group(1), int(m.group(2))), []) if m else []
        return cands[0] if len(cands) == 1 else d

    mapped = qrels["docno"].map(fix)
    changed = int((mapped != qrels["docno"]).sum())
    return qrels.assign(docno=mapped), changed
