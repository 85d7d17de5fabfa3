"""Image mosaics: :func:`mosaic` tiles a stack of small images into one picture for an
``ImageItem`` (feature maps, filters, digit samples), with NaN gaps between the tiles.

Display layout only: the tiles' values come from the labs' snapshots unchanged, except for the
optional per-tile scaling that keeps faint maps visible.
"""
from __future__ import annotations

import numpy as np

GAP = 1  # pixels between tiles of a mosaic


def mosaic(stack: np.ndarray, cols: int, normalise: bool = True, gap: int = GAP) -> np.ndarray:
    """Tile images into one picture, row by row, with NaN gaps between the tiles.

    Parameters
    ----------
    stack : numpy.ndarray
        ``(n, h, w)`` images.
    cols : int
        Tiles per row; the mosaic has ``ceil(n / cols)`` rows of tiles.
    normalise : bool, optional
        Scale each tile by its own largest absolute value, to [-1, 1] (or [0, 1] for
        non-negative tiles), so faint maps stay visible: this is display layout, not math
        shown as numbers.  All-zero tiles are left as they are.
    gap : int, optional
        Pixels of NaN between neighbouring tiles.

    Returns
    -------
    numpy.ndarray
        ``(rows*(h+gap), cols*(w+gap))`` float32 picture.  Tile ``i`` sits in the cell at row
        ``i // cols`` and column ``i % cols``, at the bottom-left of its cell: the ``gap`` rows
        above a tile hold its label, the ``gap`` columns to its right separate it from the
        next one.  Cells past the last tile are NaN (drawn transparent).
    """
    n, h, w = stack.shape
    rows = -(-n // cols)
    if normalise:
        top = np.abs(stack).reshape(n, -1).max(1)
        stack = stack / np.where(top > 0, top, 1)[:, None, None]
    cells = np.full((rows * cols, h + gap, w + gap), np.nan, np.float32)
    cells[:n, gap:, :w] = stack
    # (tile row, tile col, y, x) -> (tile row, y, tile col, x): rows of tiles side by side.
    return (cells.reshape(rows, cols, h + gap, w + gap)
            .transpose(0, 2, 1, 3)
            .reshape(rows * (h + gap), cols * (w + gap)))
