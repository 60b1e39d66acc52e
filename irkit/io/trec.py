"""TREC run files and qrels (TREC, BEIR TSV and Cranfield's three columns)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from irkit.errors import InputError
from irkit.frames import qrels_frame, rank_run, run_frame
from irkit.io.atomic import atomic_file

QRELS_FORMATS = ("auto", "trec", "beir", "cranfield")


def read_run(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A run frame from a TREC run file (``qid Q0 docno rank score tag``).

    The order of a run is its scores' order: ranks are recomputed from the scores
    (ties by docno), as trec_eval does, so a file's rank column cannot mislead.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such run file", p)
    qids, docnos, scores = [], [], []
    with open(p, encoding="utf-8", errors="replace") as fh:
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
    with open(path, encoding="utf-8", errors="replace") as fh:
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
    with atomic_file(path, overwrite=overwrite) as fh:
        fh.writelines(lines)
    return Path(path)


def detect_qrels_format(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = next((ln for ln in fh if ln.strip()), "")
    parts = first.split()
    if parts and parts[0].lower() in ("query-id", "query_id", "qid"):
        return "beir"
    if len(parts) == 4:
        return "trec"
    if len(parts) == 3:
        return "cranfield"
    raise InputError(f"cannot tell the qrels format from a line of {len(parts)} columns; pass --qrels-format", path, 1)


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
        raise InputError("no such qrels file", p)
    fmt = detect_qrels_format(p) if format == "auto" else format
    ncols = {"trec": 4, "beir": 3, "cranfield": 3}[fmt]
    rows = []
    with open(p, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.split()
            if not parts or (fmt == "beir" and n == 1 and not parts[-1].lstrip("-").isdigit()):
                continue
            if len(parts) != ncols:
                raise InputError(f"expected {ncols} columns ({fmt} qrels), found {len(parts)}", p, n)
            try:
                label = int(float(parts[-1]))
            except ValueError:
                raise InputError(f"relevance {parts[-1]!r} is not a number", p, n) from None
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
