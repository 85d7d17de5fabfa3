"""Convolution explorer panel: input with the sliding window, kernel, output, the arithmetic.

Top row: the (padded) input with the window's outline and its taps marked, the kernel (click
a cell to type a weight), and the output with the current cell outlined.  Bottom row: the
mode's extra picture (the window's products, the overlap counts of a transposed convolution,
the pooling gradient, the depthwise maps) and the arithmetic of the current cell with the
output-size formula.  Everything drawn, labels included, comes from
:class:`engine.labs.conv_explorer.ConvExplorerLab` snapshots; this module only places it.

The input accepts an image file (``Open image…``: decoded and scaled to at most 64x64 grey
levels by Qt) and drawing (``Draw``: drag on the input to paint pixels, which become
``paint`` actions).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style

HIGHLIGHT = "#f0e442"      # the window, the current cell, the taps in use
FRAME = "#bbbbbb"          # outline of the unpadded image inside the padded one
MAX_SIDE = 64              # largest image side the lab accepts
POOL_RECTS = 8             # window outlines kept ready (one per tiled slice)
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.pgm *.ppm *.tif *.tiff *.webp)"


def image_to_pixels(img: QtGui.QImage, max_side: int = MAX_SIDE) -> np.ndarray:
    """A QImage as a grayscale float array in [0, 1], scaled down to at most ``max_side``.

    Qt does the decoding, the colour-to-grey conversion and the smooth down-scaling; the
    result is ``(rows, columns)`` float64, row 0 at the top.
    """
    if img.isNull():
        raise ValueError("the file could not be read as an image")
    if max(img.width(), img.height()) > max_side:
        img = img.scaled(max_side, max_side, QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                         QtCore.Qt.TransformationMode.SmoothTransformation)
    g = img.convertToFormat(QtGui.QImage.Format.Format_Grayscale8)
    h, w = g.height(), g.width()
    buf = np.frombuffer(g.constBits(), dtype=np.uint8, count=g.sizeInBytes())
    # Rows are padded to 4 bytes: keep the first w columns of each line.
    arr = buf.reshape(h, g.bytesPerLine())[:, :w].astype(np.float64) / 255.0
    return arr


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
        pen = pg.mkPen(HIGHLIGHT, width=3)
        pen.setCosmetic(True)
        dashed = pg.mkPen(FRAME, width=1.5, style=QtCore.Qt.PenStyle.DashLine)
        dashed.setCosmetic(True)
        self.rects = [self._rect(pen, 10) for _ in range(POOL_RECTS)]
        self.frames = [self._rect(dashed, 9) for _ in range(POOL_RECTS)]
        # Taps: thin cell outlines inside the window (they show dilation's gaps without
        # hiding the numbers); marks: thicker cell outlines (the current cell, taps in use).
        self.taps = pg.ScatterPlotItem(pxMode=False, size=0.8, symbol="s", brush=None,
                                       pen=pg.mkPen(HIGHLIGHT, width=1.2))
        self.marks = pg.ScatterPlotItem(pxMode=False, size=0.92, symbol="s", brush=None,
                                        pen=pg.mkPen(HIGHLIGHT, width=2.5))
        for item, z in ((self.taps, 12), (self.marks, 11)):
            item.setZValue(z)
            self.plot.addItem(item)
        self.labels: list[pg.TextItem] = []
        self._label_state: list = []
        self._last_labels = None
        # Label size depends on the cell size on screen: refit when the view is resized.
        self.plot.getViewBox().sigResized.connect(self._resized)
        self._title = None
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
        """Set the title, elided to the plot's width (a wider title would set the plot's
        minimum width and push its colour bar out of the widget); the full text is the
        tooltip."""
        # The title sits above the view column only: the widget less the left axis and the
        # colour bar (about 130 px).  Measured on the widget, not the view: a too-long title
        # would itself keep the view from shrinking.
        width = self.widget.width() - 130
        font = QtGui.QFont(self.plot.titleLabel.item.font())
        font.setPointSizeF(float(self.plot.titleLabel.opts.get("size", "11pt")[:-2]))
        shown = QtGui.QFontMetrics(font).elidedText(
            title, QtCore.Qt.TextElideMode.ElideRight, int(max(40, width - 10)))
        if (title, shown) != self._title:
            self._title = (title, shown)
            self.plot.setTitle(shown)
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


class ConvExplorerPanel(Panel):
    """Draws :class:`engine.labs.conv_explorer.ConvExplorerLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        bar = QtWidgets.QHBoxLayout()
        self.btn_open = QtWidgets.QPushButton("Open image\u2026")
        self.btn_open.setToolTip("Use an image file as the input (converted to grey levels "
                                 f"and scaled to at most {MAX_SIDE}\u00d7{MAX_SIDE}).")
        self.btn_draw = QtWidgets.QPushButton("Draw")
        self.btn_draw.setCheckable(True)
        self.btn_draw.setToolTip("Drag on the input to paint pixels (2-D, transposed and "
                                 "pooling modes); the output updates as you paint.")
        self.chk_erase = QtWidgets.QCheckBox("erase")
        self.chk_erase.setToolTip("Paint with 0 (dark) instead of 1 (bright ink).")
        self.btn_clear = QtWidgets.QPushButton("Clear drawing")
        self.btn_clear.setToolTip("Start from a blank drawn image.")
        self.btn_kernel = QtWidgets.QPushButton("Reset kernel")
        self.btn_kernel.setToolTip("Undo your kernel edits: back to the preset's weights.")
        hint = QtWidgets.QLabel("Step (S) moves the window one output cell. Click a kernel "
                                "cell to type its weight.")
        hint.setWordWrap(True)
        for w in (self.btn_open, self.btn_draw, self.chk_erase, self.btn_clear,
                  self.btn_kernel):
            bar.addWidget(w)
        bar.addWidget(hint, 1)
        self.body.addLayout(bar)
        self.btn_open.clicked.connect(self._open_image)
        self.btn_draw.toggled.connect(self._set_drawing)
        self.btn_clear.clicked.connect(lambda: self.action_requested.emit("clear_image", {}))
        self.btn_kernel.clicked.connect(lambda: self.action_requested.emit("reset_kernel", {}))

        vsplit = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.body.addWidget(vsplit, 1)
        top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        bottom = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        vsplit.addWidget(top)
        vsplit.addWidget(bottom)
        vsplit.setStretchFactor(0, 3)
        vsplit.setStretchFactor(1, 2)

        self.input = HeatView("Input", "column", "row", paintable=True)
        self.kernel = HeatView("Kernel", "n (column)", "m (row)")
        self.output = HeatView("Output", "j (column)", "i (row)")
        self.extra = HeatView("Products", "column", "row")
        # The splitter may squeeze a plot widget below what its axes, title and colour bar
        # need (the scene does not tell the widget); minimum widths keep the bars visible.
        for view, stretch, least in ((self.input, 5, 300), (self.kernel, 3, 230),
                                     (self.output, 5, 300)):
            view.widget.setMinimumWidth(least)
            top.addWidget(view.widget)
            top.setStretchFactor(top.count() - 1, stretch)
        top.setSizes([400, 260, 400])
        bottom.addWidget(self.extra.widget)
        self.text = QtWidgets.QTextBrowser()
        self.text.setMinimumHeight(120)
        bottom.addWidget(self.text)
        bottom.setStretchFactor(0, 2)
        bottom.setStretchFactor(1, 3)
        self._html = None
        self._paint_origin = (0, 0)
        self._paintable = False
        self.input.image.painted.connect(self._painted)
        self.kernel.plot.scene().sigMouseClicked.connect(self._kernel_clicked)

    def plots(self):
        return {"input": self.input.plot, "kernel": self.kernel.plot,
                "output": self.output.plot, "extra": self.extra.plot}

    # -- interaction ----------------------------------------------------------------------------
    def _set_drawing(self, on):
        self.input.image.paint_enabled = bool(on) and self._paintable
        # Pan/zoom would fight the brush; freeze the view while drawing.
        self.input.plot.setMouseEnabled(x=not on, y=not on)

    def _painted(self, col, row):
        r0, c0 = self._paint_origin
        value = 0.0 if self.chk_erase.isChecked() else 1.0
        self.action_requested.emit("paint", {"x": col - c0, "y": row - r0, "value": value})

    def _open_image(self):
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open image", "", IMAGE_FILTER)
        if path:
            self.open_image(path)

    def open_image(self, path) -> bool:
        """Read ``path`` with Qt and send it to the lab; a file Qt cannot read is reported."""
        try:
            pixels = image_to_pixels(QtGui.QImage(str(path)))
        except ValueError as exc:
            QtWidgets.QMessageBox.warning(self, "Open image", f"{path}: {exc}.")
            return False
        self.action_requested.emit("set_image", {"pixels": pixels})
        return True

    def kernel_cell_at(self, x, y):
        """The (row, col) of the kernel picture at view point (x, y), or None off a weight."""
        snap = self.last_snapshot
        if snap is None:
            return None
        kern = snap.data["kernel"]
        col, row = int(np.floor(x)), int(np.floor(y))
        if not (0 <= row < kern.shape[0] and 0 <= col < kern.shape[1]):
            return None
        if not np.isfinite(kern[row, col]):
            return None
        return row, col

    def _kernel_clicked(self, ev):
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or ev.double():
            return
        vb = self.kernel.plot.vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        pt = vb.mapSceneToView(ev.scenePos())
        cell = self.kernel_cell_at(pt.x(), pt.y())
        if cell is None or self.last_snapshot.data["mode"] == "pooling":
            return
        row, col = cell
        current = float(self.last_snapshot.data["kernel"][row, col])
        value, ok = QtWidgets.QInputDialog.getDouble(
            self, "Kernel weight", f"Weight at row {row}, column {col}:", current,
            -100.0, 100.0, 3)
        if ok:
            self.request_kernel_cell(row, col, value)

    def request_kernel_cell(self, row, col, value):
        self.action_requested.emit("set_kernel_cell", {"row": int(row), "col": int(col),
                                                       "value": float(value)})

    # -- drawing --------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        titles, signed, labels = d["titles"], d["signed"], d["labels"]
        for key, view in (("input", self.input), ("kernel", self.kernel),
                          ("output", self.output), ("extra", self.extra)):
            arr = d[key]
            view.set_title(titles[key])
            view.set_image(arr, signed[key])
            view.set_labels(arr, labels[key])
        self.input.set_ticks(d["input_ticks"], d["origin"])
        self.kernel.set_ticks(d["kernel_ticks"])
        self.output.set_ticks(())
        self.extra.set_ticks(d["extra_ticks"])
        self.input.set_rects(self.input.rects, d["window"])
        self.input.set_rects(self.input.frames, d["frames"])
        self.input.set_points(self.input.taps, d["taps"] + 0.5)
        self.kernel.set_points(self.kernel.marks, d["kernel_taps"] + 0.5)
        self.output.set_points(self.output.marks, d["cell_xy"] + 0.5)
        self.extra.set_points(self.extra.marks, d["extra_marks"] + 0.5)
        self._paint_origin = tuple(int(v) for v in d["paint_origin"])
        self._paintable = bool(d["paintable"])
        self.btn_draw.setEnabled(self._paintable)
        self.input.image.paint_enabled = self._paintable and self.btn_draw.isChecked()
        t = snap.text
        html = (f"<div style='color:{style.theme()['text']}; font-size:11pt'>"
                f"{t['note']}{t['arithmetic']}{t['cost']}{t['formula']}</div>")
        if html != self._html:
            self._html = html
            self.text.setHtml(html)
