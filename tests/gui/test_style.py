"""Shared look: one highlight colour and one cosmetic pen for every panel; log axes that label
only as many minor ticks as fit."""
import pathlib

import numpy as np
from PySide6 import QtCore

from mathdl_gui.widgets import style

GUI = pathlib.Path(style.__file__).resolve().parents[1]


def test_highlight_and_cosmetic_pen_are_defined_once():
    for path in GUI.rglob("*.py"):
        if path.name == "style.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "def _pen(" not in text and "def cosmetic_pen(" not in text, path
        assert "HIGHLIGHT = " not in text, path


def test_cosmetic_pen(qapp):
    pen = style.cosmetic_pen("#123456", 2.5, dash=True)
    assert pen.isCosmetic() and pen.widthF() == 2.5
    assert pen.style() == QtCore.Qt.PenStyle.DashLine
    assert pen.color().name() == "#123456"
    assert style.cosmetic_pen(style.HIGHLIGHT).style() == QtCore.Qt.PenStyle.SolidLine


def _labels(axis, lo, hi, size):
    """The minor tick values (as 10**v) a log axis labels over [lo, hi] decades."""
    axis.setLogMode(True)
    ticks = axis.logTickValues(lo, hi, size, [])
    minor = [vals for spacing, vals in ticks if spacing is None]
    return np.round(10 ** np.asarray(minor[0] if minor else []), 6)


def test_thin_log_axis_keeps_labels_apart(qapp):
    # One decade on a long vertical axis: every minor tick has room.
    left = style.ThinLogAxis("left")
    assert len(_labels(left, 0.0, 1.0, 600)) == 8
    # 1.5 decades in 230 px: 0.8, 0.9 and 1 would sit 8 px apart -> 1-2-5.
    assert set(_labels(left, -0.9, 0.6, 230)) <= {0.2, 0.5, 1.0, 2.0, 5.0}
    # A horizontal axis needs more room per label than a vertical one of the same length:
    # 9 and 10 (13 px apart here) would run together.
    bottom = style.ThinLogAxis("bottom")
    assert set(_labels(bottom, 0.0, 1.3, 290)) <= {1.0, 2.0, 5.0, 10.0, 20.0}
    # Very short: decades only.
    assert set(_labels(bottom, -1.0, 2.0, 120)) <= {0.1, 1.0, 10.0, 100.0}
