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
from PySide6 import QtCore, QtGui, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style
from mathdl_gui.widgets.heat_view import HeatView

MAX_SIDE = 64              # largest image side the lab accepts
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
