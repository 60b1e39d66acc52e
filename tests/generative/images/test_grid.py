"""The shared PNG grid writer."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from irkit.errors import InputError
from irkit.generative.images.grid import make_grid, save_grid


def test_grid_layout_and_values(tmp_path):
    images = np.zeros((10, 1, 4, 5), dtype=np.float32)
    images[3] = 1.0
    grid = make_grid(images, nrow=4, pad=1)
    assert grid.shape == (3 * 5 + 1, 4 * 6 + 1, 1)  # 3 rows of 4 (the last padded), one-pixel gutters
    tile = grid[1:5, 1 + 3 * 6 : 1 + 3 * 6 + 5, 0]  # row 0, column 3
    assert tile.min() == 1.0 and grid[1:5, 1:6, 0].max() == 0.0

    path = save_grid(images, tmp_path / "g.png", nrow=4, scale=3)
    img = Image.open(path)
    assert img.mode == "L" and img.size == (3 * (4 * 7 + 2), 3 * (3 * 6 + 2))
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]  # no temporary left behind


def test_grid_takes_torch_and_clips(tmp_path):
    import torch

    path = save_grid(torch.full((2, 3, 6, 6), 2.0), tmp_path / "rgb.png")
    arr = np.asarray(Image.open(path))
    assert arr.shape[2] == 3 and arr.max() == 255


@pytest.mark.parametrize("shape", [(2, 2, 6, 6), (0, 1, 6, 6), (6, 6)])
def test_grid_rejects_bad_shapes(tmp_path, shape):
    with pytest.raises(InputError):
        save_grid(np.zeros(shape), tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()
