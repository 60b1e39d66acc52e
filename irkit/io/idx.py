"""IDX files (LeCun's MNIST format): a magic number, the dimensions, then the bytes.

Read by :mod:`irkit.datasets` (the shipped MNIST files) and the image models'
data (:mod:`irkit.generative.images.data`). Only unsigned-byte arrays are read;
a gzipped file is decompressed no further than the size its header declares.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from irkit.errors import InputError


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """An IDX file (gzipped or not) as a uint8 array."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such IDX file", p)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rb") as fh:
        head = fh.read(4)
        if len(head) != 4 or head[:2] != b"\0\0" or head[2] != 0x08:
            raise InputError("not an unsigned-byte IDX file (bad magic number)", p)
        ndim = head[3]
        raw = fh.read(4 * ndim)
        if len(raw) != 4 * ndim:
            raise InputError("IDX file ends inside its header", p)
        dims = struct.unpack(f">{ndim}I", raw)
        size = int(np.prod(dims, dtype=np.int64))
        data = fh.read(size + 1)  # one byte more than declared shows trailing data
    if len(data) > size:
        raise InputError(f"IDX file has bytes after its {dims} array", p)
    if len(data) < size:
        raise InputError(f"IDX says {dims} but holds {len(data)} bytes", p)
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)
