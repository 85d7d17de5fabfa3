"""CNN panel: probe image and drawing canvas, feature maps of every layer, learned filters,
curves, confusion matrix and the most confidently misclassified digits."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style
from mathdl_gui.widgets.mosaic import mosaic

WORST_GAP = 6       # mosaic rows above each mistake (its caption) and columns between them
CAPTION_PT = 8.0    # caption font size
WORST_TIP = ("The test digits the network gets wrong with the highest confidence.<br>"
             "Caption: true label \u2192 predicted label, then the predicted probability.")


class CNNPanel(Panel):
    """Draws :class:`engine.labs.cnn.CNNLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        top, bottom = self.two_rows()

        # -- probe + drawing --------------------------------------------------------------------
        left = QtWidgets.QWidget()
        lv = QtWidgets.QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        self.input_w = style.make_plot("Input", "", "")
        self.input_w.setToolTip("Drag on the image to draw a digit; the network reads it live.")
        self.input_p = self.input_w.getPlotItem()
        self._bare(self.input_p)
        self.input_img = pg.ImageItem()
        self.input_img.setColorMap(pg.colormap.get("CET-L1"))
        self.input_p.addItem(self.input_img)
        self.input_p.invertY(True)
        self.input_p.setAspectLocked(True)
        self.canvas = np.zeros((16, 16), np.float32)
        self._drawing = False
        row = QtWidgets.QHBoxLayout()
        self.btn_clear = QtWidgets.QPushButton("Clear drawing")
        self.btn_clear.setToolTip("Blank the canvas and draw a new digit with the mouse.")
        self.btn_clear.clicked.connect(self.clear_canvas)
        row.addWidget(self.btn_clear)
        self.probs_w = style.make_plot("Prediction", "digit", "probability")
        self.probs_p = self.probs_w.getPlotItem()
        self.probs_p.setYRange(0, 1)
        self.bars = pg.BarGraphItem(x=np.arange(10), height=np.zeros(10), width=0.7,
                                    brush=style.series_color("train"))
        self.probs_p.addItem(self.bars)
        self.probs_p.getAxis("bottom").setTicks([[(i, str(i)) for i in range(10)]])
        lv.addWidget(self.input_w, 3)
        lv.addLayout(row)
        lv.addWidget(self.probs_w, 2)
        top.addWidget(left)
        self.input_img.mouseDragEvent = self._drag
        self.input_img.mouseClickEvent = self._click

        # -- feature maps and filters -------------------------------------------------------------
        self.maps_w = pg.GraphicsLayoutWidget()
        self.maps_w.setBackground(style.theme()["background"])
        top.addWidget(self.maps_w)
        self.map_plots: list[pg.PlotItem] = []
        self.map_imgs: list[pg.ImageItem] = []
        self.filter_plots: list[pg.PlotItem] = []
        self.filter_imgs: list[pg.ImageItem] = []
        self._layers = None
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 3)

        # -- curves, confusion, misclassified ---------------------------------------------------
        self.loss_w = style.make_plot("Loss", "step", "cross-entropy", log_y=True, legend=True)
        self.loss = self.loss_w.getPlotItem()
        self.acc_w = style.make_plot("Accuracy", "step", "accuracy", legend=True)
        self.acc = self.acc_w.getPlotItem()
        self.curves = {}
        for plot, key, label in ((self.loss, "train_loss", "train"),
                                 (self.loss, "test_loss", "test"),
                                 (self.acc, "train_acc", "train"),
                                 (self.acc, "test_acc", "test")):
            self.curves[key] = plot.plot(pen=pg.mkPen(style.series_color(label), width=2),
                                         name=label)
        self.acc.setYRange(0, 1.02)
        self.conf_w = style.make_plot("Confusion matrix (test)", "predicted", "true")
        self.conf = self.conf_w.getPlotItem()
        self.conf.invertY(True)
        self.conf.setAspectLocked(True)
        self.conf_img = pg.ImageItem()
        self.conf_img.setColorMap(style.viridis())
        self.conf.addItem(self.conf_img)
        ticks = [[(i + 0.5, str(i)) for i in range(10)]]
        self.conf.getAxis("bottom").setTicks(ticks)
        self.conf.getAxis("left").setTicks(ticks)
        # A short title (the plot is narrow); the tooltip says what the captions mean.
        self.worst_w = style.make_plot("Confident mistakes", "", "")
        self.worst_w.setToolTip(WORST_TIP)
        self.worst = self.worst_w.getPlotItem()
        self._bare(self.worst)
        self.worst.invertY(True)
        self.worst.setAspectLocked(True)
        self.worst_img = pg.ImageItem()
        self.worst_img.setColorMap(pg.colormap.get("CET-L1"))
        self.worst.addItem(self.worst_img)
        self.worst_labels = []
        self._worst_layout = None
        self._caption_font = QtGui.QFont()
        self._caption_font.setPointSizeF(CAPTION_PT)
        # Captions are sized in screen pixels: lay the tiles out again when the view resizes.
        self.worst.getViewBox().sigResized.connect(self._worst_resized)
        for w in (self.loss_w, self.acc_w, self.conf_w, self.worst_w):
            bottom.addWidget(w)

    @staticmethod
    def _bare(plot):
        for ax in ("left", "bottom"):
            plot.hideAxis(ax)
        plot.setMouseEnabled(False, False)
        plot.hideButtons()

    def plots(self):
        out = {"input": self.input_p, "prediction": self.probs_p, "loss": self.loss,
               "accuracy": self.acc, "confusion": self.conf, "mistakes": self.worst}
        for i, p in enumerate(self.map_plots):
            out[f"feature_maps_{i + 1}"] = p
        for i, p in enumerate(self.filter_plots):
            out[f"filters_{i + 1}"] = p
        return out

    # -- drawing --------------------------------------------------------------------------------
    def _paint_at(self, pos):
        x, y = pos.x(), pos.y()          # image coordinates: x = column, y = row
        yy, xx = np.mgrid[0:16, 0:16]
        # A soft round brush (display-side stroke rendering, like any paint program).
        d2 = (xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2
        self.canvas = np.maximum(self.canvas, np.clip(1.3 - d2 / 1.6, 0, 1)).astype(np.float32)
        self.input_img.setImage(self.canvas, levels=(0, 1))

    def _drag(self, ev):
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            self._drawing = True
        self._paint_at(ev.pos())
        if ev.isFinish():
            self._drawing = False
            self.send_drawing()

    def _click(self, ev):
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            self._paint_at(ev.pos())
            self.send_drawing()

    def send_drawing(self):
        self.action_requested.emit("draw", {"pixels": self.canvas.copy()})

    def clear_canvas(self):
        self.canvas = np.zeros((16, 16), np.float32)
        self.input_img.setImage(self.canvas, levels=(0, 1))

    # -- rendering ------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        if not self._drawing:
            self.input_img.setImage(np.asarray(d["probe_image"]), levels=(0, 1))
        label = d["probe_label"]
        self.input_p.setTitle("Your drawing" if label < 0 else f"Test image (label {label})")
        pred = int(np.argmax(d["probs"]))
        brushes = [pg.mkBrush(style.series_color("test") if i == pred
                              else style.series_color("train")) for i in range(10)]
        self.bars.setOpts(height=d["probs"], brushes=brushes)
        self._draw_maps(d)
        c = d["curves"]
        for key, curve in self.curves.items():
            y = c[key]
            curve.setData(c["step"], np.maximum(y, 1e-6) if "loss" in key else y)
        conf = np.asarray(d["confusion"], float)
        self.conf_img.setImage(conf, levels=(0, max(conf.max(), 1)))
        self.conf_img.setRect(QtCore.QRectF(0, 0, 10, 10))
        self._draw_worst(d)

    def _ensure_layers(self, maps, filters):
        key = tuple(m.shape for m in maps) + tuple(f.shape for f in filters)
        if key == self._layers:
            return
        self._layers = key
        self.maps_w.clear()
        self.map_plots, self.map_imgs, self.filter_plots, self.filter_imgs = [], [], [], []
        div = style.diverging()
        for i, (m, f) in enumerate(zip(maps, filters)):
            fp = self.maps_w.addPlot(row=i, col=0, title=f"conv {i + 1} filters")
            mp = self.maps_w.addPlot(row=i, col=1, title=f"conv {i + 1} feature maps "
                                                         f"({m.shape[0]} \u00d7 {m.shape[1]}"
                                                         f"\u00d7{m.shape[2]})")
            for p, imgs, plots in ((fp, self.filter_imgs, self.filter_plots),
                                   (mp, self.map_imgs, self.map_plots)):
                self._bare(p)
                p.invertY(True)
                p.setAspectLocked(True)
                img = pg.ImageItem()
                img.setColorMap(div)
                p.addItem(img)
                imgs.append(img)
                plots.append(p)
        self.maps_w.ci.layout.setColumnStretchFactor(0, 1)
        self.maps_w.ci.layout.setColumnStretchFactor(1, 4)

    def _draw_maps(self, d):
        maps, filters = d["maps"], d["filters"]
        self._ensure_layers(maps, filters)
        for img, m in zip(self.map_imgs, maps):
            cols = int(np.ceil(np.sqrt(m.shape[0] * 2)))
            img.setImage(mosaic(np.asarray(m), cols), levels=(-1, 1))
        for img, f in zip(self.filter_imgs, filters):
            cols = int(np.ceil(np.sqrt(f.shape[0])))
            img.setImage(mosaic(np.asarray(f), cols), levels=(-1, 1))

    def _draw_worst(self, d):
        imgs = np.asarray(d["worst_images"])
        if len(imgs) == 0:
            self._worst_layout = None
            self._set_captions([], 1, (0, 0))
            self.worst_img.clear()
            self.worst_w.setToolTip(WORST_TIP)
            return
        true, pred, conf = d["worst_true"], d["worst_pred"], d["worst_conf"]
        index = d.get("worst_index", [None] * len(imgs))
        lines = [f"{t}\u2192{p} {c:.2f}" + ("" if i is None else f" (test image {i})")
                 for t, p, c, i in zip(true, pred, conf, index)]
        self.worst_w.setToolTip(WORST_TIP + "<br>" + "<br>".join(lines))
        self._worst_layout = (imgs, list(zip(true, pred, conf)))
        self._lay_out_worst()

    def _worst_resized(self, *_):
        if self._worst_layout is not None:
            self._lay_out_worst()

    def _lay_out_worst(self):
        """Tile the mistakes with as many per row as makes them largest in the view, and
        caption each "true\u2192pred. confidence", or only "true\u2192pred." where a tile is too
        narrow on screen for the confidence (the tooltip lists everything)."""
        imgs, items = self._worst_layout
        n, h, w = imgs.shape
        cell = (h + WORST_GAP, w + WORST_GAP)
        vb = self.worst.getViewBox()
        vw, vh = max(vb.width(), 1.0), max(vb.height(), 1.0)

        def scale(c):            # screen pixels per image pixel with c tiles per row
            return min(vw / (c * cell[1]), vh / (-(-n // c) * cell[0]))

        cols = max(range(1, n + 1), key=lambda c: (scale(c), -c))
        self.worst_img.setImage(mosaic(imgs, cols, normalise=False, gap=WORST_GAP),
                                levels=(0, 1))
        metrics = QtGui.QFontMetrics(self._caption_font)
        full = [f"{t}\u2192{p} {c:.2f}" for t, p, c in items]
        room = scale(cols) * cell[1] - 8          # some space between neighbours
        texts = (full if max(metrics.horizontalAdvance(t) for t in full) <= room
                 else [f"{t}\u2192{p}" for t, p, _ in items])
        self._set_captions(texts, cols, cell)

    def _set_captions(self, texts, cols, cell):
        for t in self.worst_labels:
            self.worst.removeItem(t)
        self.worst_labels = []
        fg = style.theme()["foreground"]
        for i, text in enumerate(texts):
            r, col = divmod(i, cols)
            # Bottom-left corner just above the tile, in the gap rows of its cell.
            item = pg.TextItem(text, color=fg, anchor=(0, 1))
            item.textItem.document().setDocumentMargin(0)
            item.setFont(self._caption_font)         # (also re-anchors the text)
            item.setPos(col * cell[1], r * cell[0] + WORST_GAP - 0.5)
            self.worst.addItem(item)
            self.worst_labels.append(item)
