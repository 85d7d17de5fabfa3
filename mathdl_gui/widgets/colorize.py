"""Colour images on the CPU in one vectorised pass, for views that show many small images.

pyqtgraph colours a float image through a lookup table on every paint, and for each image it
also builds a Qt colour table entry by entry; with dozens of thumbnails a frame (the network
diagram draws one per unit) that cost more than everything else in the view.  Handing
``ImageItem`` ready RGBA bytes skips both steps.  This is display only: the values and the
levels come from the snapshot.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg


def lookup_table(cmap: pg.ColorMap, n: int = 256) -> np.ndarray:
    """``(n, 4)`` uint8 RGBA table of ``cmap`` from its low end to its high end."""
    return cmap.getLookupTable(0.0, 1.0, n, alpha=True).astype(np.uint8)


def colorize(stack: np.ndarray, lo, hi, table: np.ndarray) -> np.ndarray:
    """Map ``stack (..., h, w)`` to RGBA bytes ``(..., h, w, 4)`` through ``table``.

    Parameters
    ----------
    stack : ndarray
        Values; NaN becomes transparent.
    lo, hi : float or ndarray broadcastable to ``stack.shape[:-2] + (1, 1)``
        The values mapped to the table's first and last entries (per image when arrays).
    table : ndarray, shape (n, 4), uint8
        From :func:`lookup_table`.
    """
    stack = np.asarray(stack, np.float32)
    lo = np.asarray(lo, np.float32)
    span = np.asarray(hi, np.float32) - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (stack - lo) / np.where(span > 0, span, 1)
    n = len(table)
    idx = np.clip(np.nan_to_num(t * (n - 1) + 0.5, nan=0), 0, n - 1).astype(np.intp)
    out = table[idx]
    out[np.isnan(stack)] = 0
    return out
