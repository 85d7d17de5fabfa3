"""Token heatmaps: :class:`TokenHeatmap`, a matrix with named rows and columns, a colour bar,
optional cell values, an outlined row, dashed per-row windows, circled cells and vertical
lines (outlines drawn with :func:`mathdl_gui.widgets.style.cosmetic_pen`).

The attention-types panel (score and weight matrices) and the neural Turing machine's copy-task
page draw with it.  Display only: every value and mark comes from the labs' snapshots.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from mathdl_gui.widgets import style
from mathdl_gui.widgets.style import HIGHLIGHT, cosmetic_pen

WINDOW = "#ff8c69"         # local windows
SAMPLED = style.class_color(0)    # hard-attention samples
MAX_TOKENS = 16            # rows (tokens) the pools are built for


def _fmt(v: float) -> str:
    """A cell value as short text: two decimals below 10, none above, a true minus sign."""
    text = f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}"
    return "0.00" if text == "-0.00" else text.replace("-", "\u2212")


class TokenHeatmap:
    """A matrix with labelled rows and columns, a colour bar, optional cell values and marks.

    Plot items are built once (pools grow to 16 rows, never shrink); ``show`` only sets data.
    The NTM panel's copy-task pictures use it too.
    """

    def __init__(self, title, x_label, y_label, signed, values=True):
        self.widget = style.make_plot(title, x_label, y_label)
        self.plot = self.widget.getPlotItem()
        self.plot.showGrid(x=False, y=False)
        self.plot.invertY(True)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.signed = signed
        self.values = values
        cmap = style.diverging() if signed else style.viridis()
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=cmap, width=12, interactive=False)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        self.plot.layout.setColumnMinimumWidth(5, 50)
        self.row = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.row.setPen(cosmetic_pen(HIGHLIGHT, 3))
        self.row.setZValue(12)
        self.plot.addItem(self.row)
        self.windows = []
        for _ in range(MAX_TOKENS):
            r = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
            r.setPen(cosmetic_pen(WINDOW, 1.5, dash=True))
            r.setZValue(11)
            r.setVisible(False)
            self.plot.addItem(r)
            self.windows.append(r)
        self.samples = pg.ScatterPlotItem(size=0.55, pxMode=False, symbol="o", brush=None,
                                          pen=cosmetic_pen(SAMPLED, 2.5))
        self.samples.setZValue(13)
        self.plot.addItem(self.samples)
        self.vlines = []
        for _ in range(2):
            line = pg.InfiniteLine(angle=90, movable=False,
                                   pen=cosmetic_pen(style.theme()["foreground"], 1.5, dash=True))
            line.setZValue(14)
            line.setVisible(False)
            self.plot.addItem(line)
            self.vlines.append(line)
        self.labels: list[pg.TextItem] = []
        self._label_key = None
        self._ticks = None
        self._shape = None
        self.plot.getViewBox().sigResized.connect(self._refit)
        self._last = None

    def show(self, arr, left, bottom, *, row=None, windows=(), marks=None, levels=None,
             vlines=()):
        """Paint ``arr`` (rows x columns) with tick labels ``left`` (one per row) and
        ``bottom`` (one per column); outline ``row``; dashed ``windows`` ``(x0, x1)`` per
        row; circle the cells ``marks = (xs, ys)`` (cell centres); vertical lines at
        ``vlines`` (x positions)."""
        arr = np.asarray(arr, dtype=np.float64)
        m, n = arr.shape
        if levels is None:
            if self.signed:
                top = max(float(np.abs(arr).max()), 1e-6)
                levels = (-top, top)
            else:
                levels = (0.0, max(float(arr.max()), 1e-6))
        self.image.setImage(arr, levels=levels)
        self.image.setRect(QtCore.QRectF(0, 0, n, m))
        self.bar.setLevels(levels)
        if (m, n) != self._shape:
            self._shape = (m, n)
            self.plot.setRange(xRange=(0, n), yRange=(0, m), padding=0.02)
        ticks = (tuple(left), tuple(bottom))
        if ticks != self._ticks:
            self._ticks = ticks
            self.plot.getAxis("left").setTicks([[(i + 0.5, t) for i, t in enumerate(left)]])
            self.plot.getAxis("bottom").setTicks([[(i + 0.5, t) for i, t in enumerate(bottom)]])
        self.row.setVisible(row is not None)
        if row is not None:
            self.row.setRect(0, row, n, 1)
        for k, r in enumerate(self.windows):
            on = k < len(windows)
            r.setVisible(on)
            if on:
                x0, x1 = windows[k]
                r.setRect(float(x0), float(k) + 0.04, float(x1 - x0), 0.92)
        if marks is not None and len(marks[0]):
            self.samples.setData(np.asarray(marks[0], float), np.asarray(marks[1], float))
        else:
            self.samples.setData([], [])
        for k, line in enumerate(self.vlines):
            on = k < len(vlines)
            line.setVisible(on)
            if on:
                line.setValue(float(vlines[k]))
        self._last = (arr, levels)
        self._write_values()

    def _cell_pixels(self):
        vb = self.plot.getViewBox()
        if self._shape is None or vb.width() <= 0:
            return 0.0, 0.0
        m, n = self._shape
        return vb.width() / n, vb.height() / m

    def _refit(self, *_):
        if self._last is not None:
            self._write_values()

    def _write_values(self):
        """Each cell's value in it when the cells are big enough to read it."""
        arr, (lo, hi) = self._last
        m, n = arr.shape
        cw, ch = self._cell_pixels()
        pt = int(min(10.0, cw / 4.2, ch / 1.9))
        show = pt >= 7
        show = show and self.values
        key = (arr.tobytes(), show, pt, lo, hi)
        if key == self._label_key:
            return
        self._label_key = key
        count = m * n if show else 0
        font = QtGui.QFont()
        font.setPointSize(max(pt, 1))
        while len(self.labels) < count:
            item = pg.TextItem(anchor=(0.5, 0.5))
            item.setZValue(10)
            self.plot.addItem(item)
            self.labels.append(item)
        for k, item in enumerate(self.labels):
            if k >= count:
                item.setVisible(False)
                continue
            i, j = divmod(k, n)
            v = arr[i, j]
            t = (v - lo) / (hi - lo) if hi > lo else 0.0
            light = 0.25 < t < 0.75 if self.signed else t > 0.6
            item.setFont(font)
            item.setText(_fmt(v), color="#111111" if light else "#ffffff")
            item.setPos(j + 0.5, i + 0.5)
            item.setVisible(True)
