"""One PNG grid writer for every image model's samples."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from irkit.errors import InputError


def make_grid(images: Any, nrow: int = 8, pad: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile ``(n, c, h, w)`` floats in [0, 1] (numpy or torch) into one ``(H, W, c)`` array.

    Images fill rows left to right; the last row is padded with blank tiles.
    """
    x = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if x.ndim == 3:  # (n, h, w): one channel
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3) or len(x) == 0:
        raise InputError(f"save_grid wants images of shape (n, 1 or 3, h, w), not {tuple(x.shape)}")
    if nrow < 1:
        raise InputError(f"nrow must be at least 1, not {nrow}")
    n, c, h, w = x.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), pad_value, dtype=np.float32)
    for i, img in enumerate(np.clip(x.astype(np.float32), 0.0, 1.0)):
        r, col = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = img.transpose(1, 2, 0)
    return grid


def save_grid(
    images: Any, path: str | os.PathLike[str], nrow: int = 8, scale: int = 1, pad: int = 2, overwrite: bool = True
) -> Path:
    """Write images (``(n, c, h, w)`` floats in [0, 1]) as a PNG grid, atomically.

    ``scale`` enlarges each pixel to ``scale x scale`` (nearest neighbour), which
    keeps 8x8 digits legible without blurring them.
    """
    from PIL import Image

    from irkit.io.atomic import atomic_file

    grid = make_grid(images, nrow=nrow, pad=pad)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    pixels = np.round(grid * 255.0).astype(np.uint8)
    img = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)  # uint8: "L" or "RGB"
    p = Path(path)
    with atomic_file(p, overwrite=overwrite, mode="wb") as fh:
        img.save(fh, format="PNG", optimize=True)
    return p
