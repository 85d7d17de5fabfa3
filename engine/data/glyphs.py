"""Tiny seeded glyph images from a 5x7 bitmap font written out in this file.

The font is drawn here by hand ('#' ink, '.' paper), so the images carry no licence and need
no download.  The letters b, d, p and q are mirror images of each other: the chapter 8
augmentation lab uses them to show how a horizontal flip changes the label.
"""
from __future__ import annotations

import numpy as np

from engine.data._common import as_rng, check_float, check_int

__all__ = ["GLYPH_FONT", "GLYPH_SHAPE", "glyph_template", "make_glyphs"]

#: Rows (top to bottom) of each 5-wide, 7-tall glyph.
GLYPH_FONT = {
    "0": (".###.",
          "#...#",
          "#..##",
          "#.#.#",
          "##..#",
          "#...#",
          ".###."),
    "1": ("..#..",
          ".##..",
          "..#..",
          "..#..",
          "..#..",
          "..#..",
          ".###."),
    "2": (".###.",
          "#...#",
          "....#",
          "...#.",
          "..#..",
          ".#...",
          "#####"),
    "3": ("#####",
          "...#.",
          "..#..",
          "...#.",
          "....#",
          "#...#",
          ".###."),
    "4": ("...#.",
          "..##.",
          ".#.#.",
          "#..#.",
          "#####",
          "...#.",
          "...#."),
    "5": ("#####",
          "#....",
          "####.",
          "....#",
          "....#",
          "#...#",
          ".###."),
    "6": ("..##.",
          ".#...",
          "#....",
          "####.",
          "#...#",
          "#...#",
          ".###."),
    "7": ("#####",
          "....#",
          "...#.",
          "..#..",
          ".#...",
          ".#...",
          ".#..."),
    "8": (".###.",
          "#...#",
          "#...#",
          ".###.",
          "#...#",
          "#...#",
          ".###."),
    "9": (".###.",
          "#...#",
          "#...#",
          ".####",
          "....#",
          "...#.",
          ".##.."),
    "b": ("#....",
          "#....",
          "#.##.",
          "##..#",
          "#...#",
          "#...#",
          "####."),
    "d": ("....#",
          "....#",
          ".##.#",
          "#..##",
          "#...#",
          "#...#",
          ".####"),
    "p": ("####.",
          "#...#",
          "#...#",
          "##..#",
          "#.##.",
          "#....",
          "#...."),
    "q": (".####",
          "#...#",
          "#...#",
          "#..##",
          ".##.#",
          "....#",
          "....#"),
}

#: (height, width) of every glyph in :data:`GLYPH_FONT`.
GLYPH_SHAPE = (7, 5)

# All templates as one (len(GLYPH_FONT), 7, 5) array, built once at import.
_CHARS = "".join(GLYPH_FONT)
_TEMPLATES = np.array([[[ch == "#" for ch in row] for row in GLYPH_FONT[c]] for c in _CHARS],
                      dtype=np.float32)


def glyph_template(char: str) -> np.ndarray:
    """The 7x5 bitmap of ``char`` (1 = ink, 0 = paper).

    Returns
    -------
    ndarray of float32, shape (7, 5)
    """
    if char not in GLYPH_FONT:
        raise ValueError(f"no glyph for {char!r}; available: {_CHARS}")
    return _TEMPLATES[_CHARS.index(char)].copy()


def make_glyphs(n_per_class=20, classes="0123456789", size=8, jitter=1, noise=0.0, rng=0):
    """Images of glyphs, randomly shifted and optionally noisy.

    Each image is a ``size`` x ``size`` canvas with a 7x5 glyph from :data:`GLYPH_FONT`,
    centred (rounding up and left), then moved by a random integer shift of at most
    ``jitter`` pixels along each axis.  The shift is limited to the free margin of the canvas
    so the glyph is never cut: on the default 8x8 canvas a glyph can move one pixel down
    (not up) and one pixel left or right.  Finally
    ``clip(image + N(0, noise^2), 0, 1)`` is applied pixel-wise.

    Parameters
    ----------
    n_per_class : int
        Images per class, 1 to 10,000.
    classes : str
        The characters to draw, one class each, label ``i`` for ``classes[i]``; distinct
        characters of :data:`GLYPH_FONT` (``"0123456789bdpq"`` gives all of them).
    size : int
        Canvas side in pixels, 7 to 64.
    jitter : int
        Largest shift in pixels, 0 to 16.
    noise : float
        Standard deviation of the Gaussian pixel noise, in [0, 1].
    rng : int or numpy.random.Generator

    Returns
    -------
    X : ndarray of float32, shape (len(classes) * n_per_class, size, size)
        Pixel values in [0, 1], rows in random order.
    y : ndarray of int64, shape (len(classes) * n_per_class,)
    classes : str
        The class characters, so ``classes[y[i]]`` names image ``i``.
    """
    n_per_class = check_int("n_per_class", n_per_class, 1, 10_000)
    size = check_int("size", size, GLYPH_SHAPE[0], 64)
    jitter = check_int("jitter", jitter, 0, 16)
    noise = check_float("noise", noise, 0.0, 1.0)
    rng = as_rng(rng)
    classes = str(classes)
    unknown = sorted(set(classes) - set(_CHARS))
    if not classes or unknown or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct characters from {_CHARS!r}, "
                         f"got {classes!r}")
    h, w = GLYPH_SHAPE
    idx = np.array([_CHARS.index(c) for c in classes])
    y = np.repeat(np.arange(len(classes), dtype=np.int64), n_per_class)
    n = y.size
    top, left = (size - h) // 2, (size - w) // 2
    # Clip the shift range to the free margin on each side, so no ink leaves the canvas.
    dy = rng.integers(-min(jitter, top), min(jitter, size - h - top) + 1, size=n)
    dx = rng.integers(-min(jitter, left), min(jitter, size - w - left) + 1, size=n)
    rows = (top + dy)[:, None, None] + np.arange(h)[None, :, None]     # (n, h, 1)
    cols = (left + dx)[:, None, None] + np.arange(w)[None, None, :]    # (n, 1, w)
    X = np.zeros((n, size, size), dtype=np.float32)
    # One fancy-indexed write places every glyph at its own offset.
    X[np.arange(n)[:, None, None], rows, cols] = _TEMPLATES[idx[y]]
    if noise > 0:
        X = np.clip(X + noise * rng.normal(size=X.shape), 0.0, 1.0).astype(np.float32)
    order = rng.permutation(n)
    return X[order], y[order], classes
