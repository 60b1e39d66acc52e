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
# Labels are integers that trec_eval (pytrec_eval) holds in a C int.
MAX_LABEL = 2**31 - 1


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
    # utf-8-sig: a byte-order mark is not part of the first topic id.
    with open(p, encoding="utf-8-sig", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                raise InputError(f"expected 6 columns 'qid Q0 docno rank score tag', found {len(parts)}", p, n)
            try:
                int(parts[3])
                score = float(parts[4])
            except ValueError:
                raise InputError("rank must be an integer and score a number", p, n) from None
            if not np.isfinite(score):
                raise InputError(f"score {parts[4]} is not finite", p, n)
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
    seen = -1
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                seen += 1
                if seen == index:
                    return n
    return 0


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
    lines = []
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                lines.append((n, line.split()))
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
            if len(cols) != 3 or cols[2] not in ("-1", "1", "2", "3", "4", "5"):
                cranfield = False
                break
            minus_one[cols[0]] = minus_one.get(cols[0], 0) + (cols[2] == "-1")
        if cranfield and minus_one and all(v == 1 for v in minus_one.values()):
            return "cranfield", "3 columns, grades -1..5 with one -1 line per topic: Cranfield's scale, gain 5 - grade"
        return "beir", "3 columns without a header: qid docno label, labels as written"
    raise InputError(f"cannot tell the qrels format from a line of {len(parts)} columns; pass --qrels-format", path, n)


def _label(text: str, path: Path, line: int) -> int:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"relevance {text!r} is not a number", path, line) from None
    if not value.is_integer():
        raise InputError(f"relevance {text!r} is not an integer (trec_eval reads whole grades)", path, line)
    if abs(value) > MAX_LABEL:
        raise InputError(f"relevance {text!r} is out of range (|label| <= {MAX_LABEL})", path, line)
    return int(value)


def cranfield_gain(rel: int) -> int:
    """TREC gain of a Cranfield relevance code.

    Cranfield grades 1 (complete answer) .. 4 (minimum interest), 5 (no interest),
    and each query has one ``-1`` line. Gains run the other way: ``5 - rel`` for
    1..4 (1 -> 4, 4 -> 1), and 0 for 5 and -1. Binary measures (AP, P@k) then see
    grades 1..4 as relevant, the usual binary Cranfield setting.
    """
    return 5 - rel if 1 <= rel <= 4 else 0


def read_qrels(path: str | os.PathLike[str], format: str = "auto") -> pd.DataFrame:
    """A qrels frame from TREC (``qid iter docno label``), BEIR TSV or Cranfield files."""
    p = Path(path)
    if format not in QRELS_FORMATS:
        raise InputError(f"unknown qrels format {format!r}; choose from {', '.join(QRELS_FORMATS)}")
    if not p.is_file():
        raise InputError("no such qrels file" if not p.exists() else "not a regular file", p)
    note_input(p)
    if format == "auto":
        from irkit.progress import log

        fmt, reason = detect_qrels_format(p)
        log(f"{p}: qrels read as {fmt} ({reason}); --qrels-format chooses")
    else:
        fmt = format
    ncols = {"trec": 4, "beir": 3, "cranfield": 3}[fmt]
    rows = []
    with open(p, encoding="utf-8-sig", errors="replace") as fh:
        first = True
        for n, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if fmt == "beir" and first and not parts[-1].lstrip("-").isdigit():
                first = False
                continue  # the header
            first = False
            if len(parts) != ncols:
                raise InputError(f"expected {ncols} columns ({fmt} qrels), found {len(parts)}", p, n)
            label = _label(parts[-1], p, n)
            qid, docno = (parts[0], parts[2]) if fmt == "trec" else (parts[0], parts[1])
            rows.append((qid, docno, cranfield_gain(label) if fmt == "cranfield" else label))
    if not rows:
        raise InputError("qrels file is empty", p)
    df = qrels_frame(rows)
    # A document judged twice for one topic keeps its last judgement, as trec_eval does.
    return df.drop_duplicates(["qid", "docno"], keep="last").reset_index(drop=True)


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
