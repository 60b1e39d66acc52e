"""Captioned MNIST composites for AlignDRAW, made here from the real digits.

Each image is a 48x48 binary canvas holding one MNIST digit (28x28, threshold
binarised) near one of four corners, with a little random jitter, and the
caption says which digit is where: "the digit 3 is at the top left". Training
composites use only the training split's digits and never show the six
digit/position pairs in :data:`HELD_OUT`, so "the digit 0 is at the bottom
right" is a caption the model has never seen (each of its words it has). Test
composites use the test split's digits: ``seen`` pairs for the test bound and
``unseen`` (held-out) pairs for the generalisation figure.

A draw is reproducible from its seed. Mansimov et al. use 60x60 canvases and
two-digit captions too; one digit on 48x48 keeps the CPU cost down.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from irkit.errors import InputError
from irkit.generative.images.data import binarize, load_images

CANVAS = 48
DIGIT = 28
JITTER = 2  # pixels either way
POSITIONS = ("top left", "top right", "bottom left", "bottom right")
HELD_OUT = (
    (0, "bottom right"),
    (2, "top left"),
    (4, "top right"),
    (5, "bottom left"),
    (7, "bottom right"),
    (9, "top left"),
)
VOCAB = ("the", "digit", "is", "at", "top", "bottom", "left", "right", *map(str, range(10)))
SPLITS = ("train", "seen", "unseen")


def caption(digit: int, position: str) -> str:
    return f"the digit {digit} is at the {position}"


def pairs(which: str = "seen") -> list[tuple[int, str]]:
    """Digit/position pairs: ``seen`` (trained on), ``unseen`` (held out) or ``all``."""
    every = [(d, p) for d in range(10) for p in POSITIONS]
    if which == "all":
        return every
    if which == "unseen":
        return list(HELD_OUT)
    if which == "seen":
        return [dp for dp in every if dp not in HELD_OUT]
    raise InputError(f"pairs must be seen, unseen or all, not {which!r}")


def words(text: str) -> list[str]:
    return text.lower().replace(".", " ").replace(",", " ").split()


def tokenize(text: str, vocab: tuple[str, ...] | list[str] = VOCAB) -> list[int]:
    """Word ids of a caption; words outside the vocabulary raise an error naming them."""
    ws = words(text)
    if not ws:
        raise InputError("the caption is empty")
    index = {w: i for i, w in enumerate(vocab)}
    unknown = sorted({w for w in ws if w not in index})
    if unknown:
        raise InputError(
            f"caption has words outside the vocabulary: {', '.join(repr(w) for w in unknown)} "
            f"(known: {' '.join(vocab)}; e.g. {caption(3, 'top left')!r})"
        )
    return [index[w] for w in ws]


def corner(position: str, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left pixel of the digit for a position, jittered."""
    top = position.startswith("top")
    left = position.endswith("left")
    y = JITTER if top else CANVAS - DIGIT - JITTER
    x = JITTER if left else CANVAS - DIGIT - JITTER
    dy, dx = rng.integers(-JITTER, JITTER + 1, size=2)
    return int(y + dy), int(x + dx)


def composites(split: str, n: int, seed: int) -> dict[str, Any]:
    """``n`` captioned composites: ``images`` (n, 1, 48, 48) float32 in {0, 1}, ``tokens`` (n, L) int64,
    ``captions``, ``digits`` and ``positions``.

    ``split`` is ``train`` (training digits, seen pairs), ``seen`` or ``unseen``
    (test digits, seen or held-out pairs).
    """
    if split not in SPLITS:
        raise InputError(f"composite split must be one of {', '.join(SPLITS)}, not {split!r}")
    x, y = load_images("mnist", "train" if split == "train" else "test")
    x = binarize(x)[:, 0]
    rng = np.random.default_rng(seed)
    allowed = pairs("unseen" if split == "unseen" else "seen")
    by_digit = {d: [p for dd, p in allowed if dd == d] for d in range(10)}
    usable = np.flatnonzero(np.isin(y, [d for d, ps in by_digit.items() if ps]))
    pick = rng.choice(usable, size=n, replace=n > len(usable))
    images = np.zeros((n, 1, CANVAS, CANVAS), dtype=np.float32)
    caps, positions = [], []
    for i, j in enumerate(pick):
        d = int(y[j])
        position = by_digit[d][rng.integers(len(by_digit[d]))]
        top, left = corner(position, rng)
        images[i, 0, top : top + DIGIT, left : left + DIGIT] = x[j]
        caps.append(caption(d, position))
        positions.append(position)
    tokens = np.array([tokenize(c) for c in caps], dtype=np.int64)
    return {"images": images, "tokens": tokens, "captions": caps, "digits": y[pick], "positions": positions}
