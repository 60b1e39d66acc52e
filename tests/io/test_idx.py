"""IDX files (MNIST's format): the shipped files read, and damaged ones refused in one line."""

import gzip
import struct

import numpy as np
import pytest

from irkit import datasets
from irkit.errors import InputError
from irkit.io.idx import read_idx


def test_the_shipped_mnist_files_read_with_their_shapes():
    mnist = datasets.get("mnist")
    images, labels = mnist.images(), mnist.labels()
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and set(np.unique(labels)) == set(range(10))


def _idx(dims, payload: bytes) -> bytes:
    return bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


@pytest.mark.parametrize("gz", [False, True])
def test_damaged_idx_files_are_refused(tmp_path, gz):
    def write(name, data):
        path = tmp_path / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    good = write("good", _idx((2, 3), bytes(range(6))))
    assert read_idx(good).tolist() == [[0, 1, 2], [3, 4, 5]]
    for name, data, message in [
        ("short", _idx((2, 3), bytes(5)), "holds 5 bytes"),
        ("long", _idx((2, 3), bytes(7)), "bytes after"),
        ("magic", b"\0\0\x0d\x01" + bytes(8), "bad magic"),
        ("header", _idx((2, 3), b"")[:8], "ends inside its header"),
    ]:
        with pytest.raises(InputError, match=message):
            read_idx(write(name, data))
