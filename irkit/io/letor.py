"""LETOR / SVMlight ranking files and the feature table they hold.

A line is ``label qid:Q 1:v 2:v ... # comment``: MQ2007/MQ2008 put ``docid = D``
in the comment, MSLR has no comment (documents are then numbered per query,
``Q.1``, ``Q.2``...). Features may be sparse (an absent id is 0). irkit writes a
first comment line ``# features: name1 name2 ...`` so that names survive a
round trip; other files get names ``f1 .. fN``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from irkit.errors import InputError
from irkit.io.atomic import atomic_file, note_input

_DOCID = re.compile(r"docid\s*=\s*(\S+)")
_HEADER = "# features:"
# Feature ids index a dense matrix: a larger id is a typo, not a feature.
MAX_FEATURE_ID = 100_000


@dataclass
class Features:
    """One row per (query, document): ids, feature values and (optionally) labels.

    Rows of a query are contiguous, in the order they were read or extracted.
    """

    qids: np.ndarray  # object array of str, (n,)
    docnos: np.ndarray  # object array of str, (n,)
    values: np.ndarray  # float32, (n, n_features)
    names: tuple[str, ...]
    labels: np.ndarray | None = None  # int64, (n,): judged gain, 0 when unjudged
    source: str = ""  # where the features came from, recorded in models
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.qids = np.asarray(self.qids, dtype=object)
        self.docnos = np.asarray(self.docnos, dtype=object)
        self.values = np.asarray(self.values, dtype=np.float32).reshape(len(self.qids), len(self.names))
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.qids)

    @property
    def n_features(self) -> int:
        return len(self.names)

    def groups(self) -> dict[str, np.ndarray]:
        """``{qid: row indices}`` in order of first appearance."""
        codes, uniques = pd.factorize(pd.Series(self.qids, dtype=object), sort=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        return {str(q): order[bounds[i] : bounds[i + 1]] for i, q in enumerate(uniques)}

    def take(self, rows: np.ndarray) -> Features:
        return Features(
            self.qids[rows],
            self.docnos[rows],
            self.values[rows],
            self.names,
            None if self.labels is None else self.labels[rows],
            self.source,
            dict(self.meta),
        )

    def subset(self, qids) -> Features:
        """Rows of the given topics."""
        keep = set(qids)
        return self.take(np.flatnonzero([q in keep for q in self.qids]))

    def with_labels(self, qrels: pd.DataFrame) -> Features:
        """Labels from a qrels frame (unjudged pairs get 0)."""
        gains = dict(zip(zip(qrels["qid"], qrels["docno"], strict=True), qrels["label"], strict=True))
        labels = np.array([gains.get((q, d), 0) for q, d in zip(self.qids, self.docnos, strict=True)], dtype=np.int64)
        return Features(self.qids, self.docnos, self.values, self.names, labels, self.source, dict(self.meta))

    def qrels(self) -> pd.DataFrame:
        """The judgements the labels hold, as a qrels frame (negative labels become 0)."""
        if self.labels is None:
            raise InputError("these features carry no labels")
        return pd.DataFrame(
            {"qid": self.qids.astype(str), "docno": self.docnos.astype(str), "label": np.maximum(self.labels, 0)}
        )

    def normalised(self) -> Features:
        """Query-level min-max normalisation to [0, 1] (a feature constant within a query becomes 0)."""
        out = self.values.astype(np.float32).copy()
        for rows in self.groups().values():
            block = out[rows]
            lo, hi = block.min(axis=0), block.max(axis=0)
            span = np.where(hi > lo, hi - lo, 1.0)
            out[rows] = np.where(hi > lo, (block - lo) / span, 0.0)
        return Features(self.qids, self.docnos, out, self.names, self.labels, self.source, dict(self.meta))


def read_letor(path: str | os.PathLike[str], n_features: int | None = None) -> Features:
    """Read a LETOR / SVMlight ranking file.

    ``n_features`` fixes the width (ids above it are an error); by default it is
    the largest feature id in the file. Malformed lines raise :class:`InputError`
    naming the file and line.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such LETOR file" if not p.exists() else "not a regular file", p)
    note_input(p)
    names: list[str] | None = None
    labels: list[int] = []
    qids: list[str] = []
    docnos: list[str] = []
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    counter: dict[str, int] = {}
    width = 0
    lines: list[int] = []
    with open(p, encoding="utf-8-sig", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            body, _, comment = line.partition("#")
            if not body.strip():
                if n == 1 and line.startswith(_HEADER):
                    names = line[len(_HEADER) :].split()
                continue
            parts = body.split()
            try:
                value = float(parts[0])
            except ValueError:
                raise InputError(
                    f"label {parts[0]!r} is not a number (expected 'label qid:Q 1:v 2:v ...')", p, n
                ) from None
            if not value.is_integer() or abs(value) > 2**31 - 1:
                raise InputError(f"label {parts[0]!r} is not an integer grade", p, n)
            label = int(value)
            if len(parts) < 2 or not parts[1].startswith("qid:") or len(parts[1]) == 4:
                raise InputError("second field must be qid:Q (expected 'label qid:Q 1:v 2:v ...')", p, n)
            qid = parts[1][4:]
            ids = np.empty(len(parts) - 2, dtype=np.int64)
            vals = np.empty(len(parts) - 2, dtype=np.float32)
            for i, tok in enumerate(parts[2:]):
                fid, colon, val = tok.partition(":")
                try:
                    if not colon:
                        raise ValueError
                    fid_int = int(fid)
                    vals[i] = float(val)
                except (ValueError, OverflowError):
                    raise InputError(f"feature {tok!r} is not id:value", p, n) from None
                if fid_int < 1:
                    raise InputError("feature ids start at 1", p, n)
                if fid_int > MAX_FEATURE_ID:
                    raise InputError(f"feature id {fid} is above {MAX_FEATURE_ID}", p, n)
                ids[i] = fid_int
            if len(ids):
                if ids.min() < 1:
                    raise InputError("feature ids start at 1", p, n)
                if len(np.unique(ids)) != len(ids):
                    raise InputError("a feature id appears twice on one line", p, n)
                if not np.all(np.isfinite(vals)):
                    raise InputError("a feature value is not finite", p, n)
                if n_features is not None and ids.max() > n_features:
                    raise InputError(f"feature id {int(ids.max())} is above the {n_features} features expected", p, n)
                width = max(width, int(ids.max()))
            m = _DOCID.search(comment)
            counter[qid] = counter.get(qid, 0) + 1
            docno = m.group(1) if m else f"{qid}.{counter[qid]}"
            labels.append(label)
            lines.append(n)
            qids.append(qid)
            docnos.append(docno)
            rows.append(ids - 1)
            cols.append(vals)
    if not qids:
        raise InputError("LETOR file has no data lines", p)
    width = n_features or width
    if names is not None and len(names) != width:
        names = None  # a stale header; fall back to numbered names
    values = np.zeros((len(qids), width), dtype=np.float32)
    for r, (ids, vals) in enumerate(zip(rows, cols, strict=True)):
        values[r, ids] = vals
    frame = pd.DataFrame({"qid": qids, "docno": docnos})
    dup = frame.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"document {docnos[i]} appears twice for query {qids[i]}", p, lines[i])
    # Group rows by query (files normally are; a stable sort keeps their order).
    codes, _ = pd.factorize(frame["qid"], sort=False)
    order = np.argsort(codes, kind="stable")
    feats = Features(
        np.array(qids, dtype=object),
        np.array(docnos, dtype=object),
        values,
        tuple(names or (f"f{i}" for i in range(1, width + 1))),
        np.array(labels, dtype=np.int64),
        source="letor",
        meta={"path": str(p)},
    )
    return feats.take(order) if np.any(order != np.arange(len(order))) else feats


def write_letor(features: Features, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write features as a LETOR file (dense, ``#docid = D`` comments), atomically."""
    labels = features.labels if features.labels is not None else np.zeros(len(features), dtype=np.int64)
    bad = [n for n in features.names if not n or re.search(r"\s", n)]
    if bad:
        raise InputError(f"feature names must be single words: {bad[:3]}")
    with atomic_file(path, overwrite=overwrite) as fh:
        fh.write(f"{_HEADER} {' '.join(features.names)}\n")
        for label, qid, docno, row in zip(labels, features.qids, features.docnos, features.values, strict=True):
            if re.search(r"\s", str(qid)) or re.search(r"\s", str(docno)):
                raise InputError(f"ids with white space cannot go into a LETOR file: {qid!r} {docno!r}")
            feats = " ".join(f"{i}:{float(v):.9g}" for i, v in enumerate(row, 1))
            fh.write(f"{int(label)} qid:{qid} {feats} #docid = {docno}\n")
    return Path(path)
