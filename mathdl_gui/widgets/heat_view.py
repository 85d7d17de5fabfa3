"""Heatmaps with overlays: :class:`HeatView`, a titled heatmap with a colour bar, cell labels,
outlined rectangles and marked cells, and :class:`PaintImage`, the image item under it that
turns mouse drags into painted pixel positions.

The convolution explorer and the neural Turing machine panels draw their matrices with it.
Display only: every value, label and mark comes from the labs' snapshots.
"""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from mathdl_gui.widgets import style
from mathdl_gui.widgets.style import HIGHLIGHT, cosmetic_pen

FRAME = "#bbbbbb"          # outline of the unpadded image inside the padded one
POOL_RECTS = 8             # window outlines kept ready (one per tiled slice)


class PaintImage(pg.ImageItem):
    """An image that, while painting is on, turns left-button drags into pixel positions.

    With painting off, drags go to the view (pan) as usual.
    """

    painted = QtCore.Signal(int, int)   # column, row of the displayed picture

    def __init__(self):
        super().__init__()
        self.paint_enabled = False
        self._last = None

    def _emit(self, pos):
        col, row = int(np.floor(pos.x())), int(np.floor(pos.y()))
        if (col, row) == self._last:
            return
        # A fast stroke skips cells between two mouse events: fill the gap along the line.
        if self._last is None:
            cells = [(col, row)]
        else:
            c0, r0 = self._last
            n = max(abs(col - c0), abs(row - r0))
            t = np.arange(1, n + 1) / n
            cells = list(dict.fromkeys(zip(np.rint(c0 + t * (col - c0)).astype(int).tolist(),
                                           np.rint(r0 + t * (row - r0)).astype(int).tolist())))
        self._last = (col, row)
        for c, r in cells:
            self.painted.emit(c, r)

    def mouseDragEvent(self, ev):
        if not self.paint_enabled or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            # The drag starts some pixels after the press: paint the pressed cell too.
            self._last = None
            self._emit(ev.buttonDownPos())
        self._emit(ev.pos())

    def mouseClickEvent(self, ev):
        if not self.paint_enabled or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        self._last = None
        self._emit(ev.pos())


def break_title(text: str, metrics: QtGui.QFontMetrics, width: int):
    """``text`` as one line, or two, for ``width`` pixels in ``metrics``' font.

    A text too wide for one line breaks at a space: after a colon or comma if that fits (the
    detail goes to the second line), else outside brackets and not at an "=" if that fits,
    else where the wider line is narrowest.

    Returns
    -------
    tuple
        ``(lines, quality)``: the lines (not elided); quality 0 when they fit at a good
        break, 1 when they fit only at a poor one (inside brackets, at an "="), 2 when they
        do not fit.
    """
    if metrics.horizontalAdvance(text) <= width:
        return (text,), 0
    best = None
    for k, ch in enumerate(text):
        if ch != " ":
            continue
        head, tail = text[:k].rstrip(), text[k + 1:].lstrip()
        if not head or not tail:
            continue
        if head.endswith((":", ",")):
            tier = 0
        elif head.count("(") > head.count(")") or head.endswith("=") or tail.startswith("="):
            tier = 2
        else:
            tier = 1
        wider = max(metrics.horizontalAdvance(head), metrics.horizontalAdvance(tail))
        rank = (wider > width, tier, wider)
        if best is None or rank < best[0]:
            best = (rank, (head.rstrip(","), tail))
    if best is None:
        return (text,), 2
    (too_wide, tier, _), lines = best
    return lines, 2 if too_wide else int(tier == 2)


class HeatView:
    """One titled heatmap with a colour bar, cell labels and overlay marks.

    ``render`` only sets data on items built here once (pools grow, never shrink).
    """

    def __init__(self, title, x_label, y_label, paintable=False):
        self.widget = style.make_plot(title, x_label, y_label)
        self.plot = self.widget.getPlotItem()
        self.plot.showGrid(x=False, y=False)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.image = PaintImage() if paintable else pg.ImageItem()
        self.plot.addItem(self.image)
        self._cmaps = {False: style.viridis(), True: style.diverging()}
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=self._cmaps[False], width=12,
                                   interactive=False)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        # Keep room for the bar's tick labels: a squeezed column clips "0.8" to "0".
        self.plot.layout.setColumnMinimumWidth(5, 62)
        self._signed = False
        pen = cosmetic_pen(HIGHLIGHT, 3)
        dashed = cosmetic_pen(FRAME, 1.5, dash=True)
        self.rects = [self._rect(pen, 10) for _ in range(POOL_RECTS)]
        self.frames = [self._rect(dashed, 9) for _ in range(POOL_RECTS)]
        # Taps: thin cell outlines inside the window (they show dilation's gaps without
        # hiding the numbers); marks: thicker cell outlines (the current cell, taps in use).
        self.taps = pg.ScatterPlotItem(pxMode=False, size=0.8, symbol="s", brush=None,
                                       pen=cosmetic_pen(HIGHLIGHT, 1.2))
        self.marks = pg.ScatterPlotItem(pxMode=False, size=0.92, symbol="s", brush=None,
                                        pen=cosmetic_pen(HIGHLIGHT, 2.5))
        for item, z in ((self.taps, 12), (self.marks, 11)):
            item.setZValue(z)
            self.plot.addItem(item)
        self.labels: list[pg.TextItem] = []
        self._label_state: list = []
        self._last_labels = None
        # Label size depends on the cell size on screen: refit when the view is resized.
        self.plot.getViewBox().sigResized.connect(self._resized)
        self._title = None
        self._title_pt = float(self.plot.titleLabel.opts.get("size", "11pt")[:-2])
        # Centre the lines of a two-line title on each other (set_title fixes the text width
        # that alignment needs).
        doc = self.plot.titleLabel.item.document()
        option = doc.defaultTextOption()
        option.setAlignment(QtCore.Qt.AlignmentFlag.AlignHCenter)
        doc.setDefaultTextOption(option)
        self._ticks = None
        self._shape = None
        self._font_pt = None

    def _rect(self, pen, z):
        item = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        item.setPen(pen)
        item.setBrush(QtGui.QBrush(QtCore.Qt.BrushStyle.NoBrush))
        item.setZValue(z)
        item.setVisible(False)
        self.plot.addItem(item)
        return item

    def set_title(self, title):
        """Set the title, fitted to the plot's width (a wider title would set the plot's
        minimum width and push its colour bar out of the widget); the full text is the
        tooltip.  A title too wide for one line breaks into two (see :func:`break_title`),
        in a font up to 2 pt smaller if that breaks it better; only then are lines elided."""
        # The title sits above the view column only: the widget less the left axis and the
        # colour bar (about 130 px), less some slack.  Measured on the widget, not the view:
        # a too-long title would itself keep the view from shrinking.
        width = int(max(40, self.widget.width() - 140))
        font = QtGui.QFont(self.plot.titleLabel.item.font())
        best = None
        for pt in (self._title_pt, self._title_pt - 1, self._title_pt - 2):
            font.setPointSizeF(pt)
            metrics = QtGui.QFontMetrics(font)
            lines, quality = break_title(title, metrics, width)
            # The largest font that breaks well; else the largest that fits; else the smallest.
            if best is None or quality < best[0] or quality == best[0] == 2:
                best = (quality, pt, lines, metrics)
            if quality == 0:
                break
        _, pt, lines, metrics = best
        lines = tuple(metrics.elidedText(line, QtCore.Qt.TextElideMode.ElideRight, width)
                      for line in lines)
        if (title, lines, pt) != self._title:
            self._title = (title, lines, pt)
            item = self.plot.titleLabel.item
            item.setTextWidth(-1)            # lay the new text out at its natural width
            self.plot.setTitle("<br>".join(html.escape(line, quote=False) for line in lines),
                               size=f"{pt:g}pt")
            item.setTextWidth(item.document().idealWidth())    # so that lines can centre
            # setTitle fixes the title row at one line's height: make room for a second.
            height = 30 + (len(lines) - 1) * metrics.lineSpacing()
            self.plot.titleLabel.setMaximumHeight(height)
            self.plot.layout.setRowFixedHeight(0, height)
            self.widget.setToolTip(title)

    def set_ticks(self, ticks, origin=(0, 0)):
        """Index labels at cell centres (counted from ``origin``, so padding shows as -1,
        -2, ...), or the given bottom ticks (tile names) when there are any."""
        if self._shape is None:
            return
        # At least ~22 screen pixels between labels, so they never run together.
        every = max(1, int(np.ceil(22.0 / max(self.cell_pixels(), 1e-3))))
        key = (tuple(ticks), tuple(origin), self._shape, every)
        if key == self._ticks:
            return
        self._ticks = key
        h, w = self._shape
        self.plot.getAxis("left").setTicks([self._index_ticks(h, origin[0], every)])
        self.plot.getAxis("bottom").setTicks(
            [list(ticks)] if ticks else [self._index_ticks(w, origin[1], every)])

    @staticmethod
    def _index_ticks(n, origin, every):
        return [(i + 0.5, str(i - origin)) for i in range(0, n, every)]

    def cell_pixels(self) -> float:
        """Side of one cell on screen, in pixels (40 before the view has a size)."""
        vb = self.plot.getViewBox()
        if self._shape is None or vb.width() <= 0 or vb.height() <= 0:
            return 40.0
        h, w = self._shape
        # Square cells (aspect locked): the tighter of the two directions decides.
        return min(vb.width() / w, vb.height() / h)

    def set_image(self, arr, signed):
        finite = np.isfinite(arr)
        if finite.any():
            if signed:
                top = float(np.abs(arr[finite]).max()) or 1.0
                levels = (-top, top)
            else:
                lo, hi = float(arr[finite].min()), float(arr[finite].max())
                levels = (lo, hi if hi - lo > 1e-12 else lo + 1.0)
        else:
            levels = (0.0, 1.0)
        if signed != self._signed:
            self._signed = signed
            self.bar.setColorMap(self._cmaps[signed])
        self.image.setImage(arr, levels=levels)
        h, w = arr.shape
        self.image.setRect(QtCore.QRectF(0, 0, w, h))
        self.bar.setLevels(levels)
        if (h, w) != self._shape:
            self._shape = (h, w)
            self.plot.setRange(xRange=(0, w), yRange=(0, h), padding=0.04)
        self._levels = levels

    def set_rects(self, items, rects):
        for k, item in enumerate(items):
            if k < len(rects):
                x, y, w, h = (float(v) for v in rects[k])
                item.setRect(x, y, w, h)
                item.setVisible(True)
            else:
                item.setVisible(False)

    def set_points(self, item, pts):
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        item.setData(pts[:, 0], pts[:, 1])

    def _resized(self, *_):
        if self._last_labels is not None:
            self.set_labels(*self._last_labels)
        if self._ticks is not None:
            ticks, origin = self._ticks[0], self._ticks[1]
            self.set_ticks(ticks, origin)
        if self._title is not None:
            self.set_title(self._title[0])

    def set_labels(self, arr, labels):
        """Write the lab's strings at their cells, dark or light to read on the colour."""
        self._last_labels = (arr, labels)
        xy, texts = labels["xy"], labels["text"]
        n = len(texts)
        while len(self.labels) < n:
            item = pg.TextItem(anchor=(0.5, 0.5))
            if self._font_pt:
                font = QtGui.QFont()
                font.setPointSize(self._font_pt)
                item.setFont(font)
            item.setZValue(13)
            self.plot.addItem(item)
            self.labels.append(item)
            self._label_state.append(None)
        self._fit_font(max((len(t) for t in texts), default=1))
        if not self._font_pt:
            n = 0
        lo, hi = self._levels
        for k, item in enumerate(self.labels):
            if k >= n:
                if self._label_state[k] is not None:
                    item.setVisible(False)
                    self._label_state[k] = None
                continue
            x, y = float(xy[k, 0]), float(xy[k, 1])
            v = arr[int(y), int(x)]
            t = (v - lo) / (hi - lo) if np.isfinite(v) else 0.0
            light_cell = 0.25 < t < 0.75 if self._signed else t > 0.55
            color = "#111111" if light_cell else "#ffffff"
            state = (texts[k], color, x, y)
            if state != self._label_state[k]:
                if self._label_state[k] is None or self._label_state[k][:2] != state[:2]:
                    item.setText(texts[k], color=color)
                item.setPos(x, y)
                item.setVisible(True)
                self._label_state[k] = state

    def _fit_font(self, longest):
        """Label size follows the cell size on screen and the longest label (whole points
        only: a font change re-renders every label)."""
        if self._shape is None:
            return
        # A digit is about 0.75 pt wide on screen; let the label fill at most 3/4 of the
        # cell.  Below 6.5 pt the numbers are not legible: then no labels at all (the
        # products plot and the arithmetic still give them).
        pt = min(13.0, self.cell_pixels() / max(longest, 2))
        pt = int(pt) if pt >= 6.5 else 0
        if pt != self._font_pt:
            self._font_pt = pt
            if pt:
                font = QtGui.QFont()
                font.setPointSize(pt)
                for item in self.labels:
                    item.setFont(font)
            for item in self.labels:
                item.setVisible(False)
            self._label_state = [None] * len(self.labels)

    def grab(self):
        return self.widget.grab()
