"""Network playground panel: decision map, network diagram with per-neuron maps, curves.

Top: the output over the plane with train (filled) and test (ringed) points, and the network
drawn as columns of neuron thumbnails joined by edges coloured by the sign of their weight and
drawn thicker the larger it is (click an edge to type a weight).  Bottom: train/test loss and
accuracy, per-layer gradient norms, per-layer activation histograms.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style
from mathdl_gui.widgets.colorize import colorize, lookup_table

NEG, POS = (33, 102, 172), (178, 24, 43)   # the ends of style.diverging()
WIDTH_BINS = (0.0, 0.25, 0.5, 0.75)         # |w| / max|w| thresholds for 4 pen widths
MIN_COL_GAP = 1.6                           # diagram: least distance between layer columns
THUMB_SIZE = 0.8                            # diagram: a neuron's square (in column units)


class NetworkPanel(Panel):
    """Draws :class:`engine.labs.network.NetworkLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        bar = QtWidgets.QHBoxLayout()
        self.btn_csv = QtWidgets.QPushButton("Load points (CSV)\u2026")
        self.btn_csv.setToolTip("Load your own labelled points: a CSV file with columns "
                                "x1,x2,label (labels 0-4); an optional header line is allowed.")
        self.btn_clear = QtWidgets.QPushButton("Clear clicked points")
        self.btn_clear.setToolTip("Remove the points you clicked or loaded.")
        self.btn_add_layer = QtWidgets.QPushButton("+ layer")
        self.btn_add_layer.setToolTip("Add a hidden layer (restarts training).")
        self.btn_del_layer = QtWidgets.QPushButton("− layer")
        self.btn_del_layer.setToolTip("Remove the last hidden layer (restarts training).")
        self.btn_add_layer.clicked.connect(lambda: self.action_requested.emit("add_layer", {}))
        self.btn_del_layer.clicked.connect(
            lambda: self.action_requested.emit("remove_layer", {}))
        hint = QtWidgets.QLabel("Click the map to add a point of the 'click class'; click an "
                                "edge to type its weight; + / − above a layer resize it.")
        hint.setWordWrap(True)
        for w in (self.btn_csv, self.btn_clear, self.btn_add_layer, self.btn_del_layer):
            bar.addWidget(w)
        bar.addWidget(hint, 1)
        self.body.addLayout(bar)
        self.btn_csv.clicked.connect(self._load_csv)
        self.btn_clear.clicked.connect(lambda: self.action_requested.emit("clear_points", {}))

        top, bottom = self.two_rows()

        # -- decision map ---------------------------------------------------------------------
        self.map_w = style.make_plot("Network output over the plane", "x\u2081", "x\u2082")
        self.map = self.map_w.getPlotItem()
        self.map.setAspectLocked(True)
        self.image = pg.ImageItem()
        self.map.addItem(self.image)
        self.train_pts = pg.ScatterPlotItem(size=6, pen=pg.mkPen("#101010", width=0.8))
        self.test_pts = pg.ScatterPlotItem(size=6, pen=pg.mkPen("#ffffff", width=1.4))
        self.map.addItem(self.train_pts)
        self.map.addItem(self.test_pts)
        legend = style.add_legend(self.map)
        legend.addItem(self.train_pts, "train")
        legend.addItem(self.test_pts, "test")
        self.train_pts.opts["name"], self.test_pts.opts["name"] = "train", "test"
        top.addWidget(self.map_w)

        # -- network diagram ------------------------------------------------------------------
        self.net_w = style.make_plot("Network: each unit's output over the plane",
                                     "layer", "unit")
        self.net = self.net_w.getPlotItem()
        self.net.invertY(True)
        self.net.setAspectLocked(True)
        self.net.getAxis("left").setTicks([[]])
        self.net.setMouseEnabled(False, False)
        self.net.hideButtons()
        self.edge_items = []
        for sign in (NEG, POS):
            for k in range(len(WIDTH_BINS)):
                item = pg.PlotCurveItem(connect="pairs", antialias=False,
                                        pen=pg.mkPen(sign + (110 + 35 * k,), width=0.6 + 1.3 * k))
                self.net.addItem(item)
                self.edge_items.append(item)
        self.node_images: list[pg.ImageItem] = []
        self._lut = lookup_table(style.diverging())
        top.addWidget(self.net_w)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 1)
        self._arch = None
        self._curves_key = None
        self._resizers = []  # (text item, hidden layer, +1/-1): click to resize a layer
        self._edges = None  # (segments (E,2,2), layer, row, col) for click hit-testing
        self._data_id = None

        # -- curves ---------------------------------------------------------------------------
        self.loss_w = style.make_plot("Loss", "step", "J", log_y=True, legend=True)
        self.loss = self.loss_w.getPlotItem()
        self.c_train = self.loss.plot(pen=pg.mkPen(style.series_color("train"), width=2),
                                      name="train")
        self.c_test = self.loss.plot(pen=pg.mkPen(style.series_color("test"), width=2),
                                     name="test")
        self.acc_w = style.make_plot("Accuracy", "step", "accuracy", legend=True)
        self.acc = self.acc_w.getPlotItem()
        self.acc.setYRange(0, 1.02)
        self.a_train = self.acc.plot(pen=pg.mkPen(style.series_color("train"), width=2),
                                     name="train")
        self.a_test = self.acc.plot(pen=pg.mkPen(style.series_color("test"), width=2),
                                    name="test")
        self.grad_w = style.make_plot("Gradient norms", "step",
                                      "\u2016\u2202J/\u2202W\u207d\u02e1\u207e\u2016",
                                      log_y=True, legend=True)
        self.grad = self.grad_w.getPlotItem()
        self.hist_w = style.make_plot("Hidden activations", "activation h",
                                      "count", legend=True)
        self.hist = self.hist_w.getPlotItem()
        self.grad_curves: list = []
        self.hist_curves: list = []
        for w in (self.loss_w, self.acc_w, self.grad_w, self.hist_w):
            bottom.addWidget(w)
        self.net.scene().sigMouseClicked.connect(self._net_clicked)
        self.map.scene().sigMouseClicked.connect(self._map_clicked)

    def plots(self):
        return {"output": self.map, "network": self.net, "loss": self.loss,
                "accuracy": self.acc, "gradient_norms": self.grad,
                "activations": self.hist}

    # -- interaction ----------------------------------------------------------------------------
    def _load_csv(self):
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Load points", "",
                                                        "CSV (*.csv *.txt)")
        if path:
            self.action_requested.emit("load_csv", {"path": path})

    def _map_clicked(self, ev):
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or ev.double():
            return
        vb = self.map.vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        pt = vb.mapSceneToView(ev.scenePos())
        self.action_requested.emit("add_point", {"x": float(pt.x()), "y": float(pt.y())})

    def _net_clicked(self, ev):
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        vb = self.net.vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        for item, layer, delta in self._resizers:
            if item.sceneBoundingRect().contains(ev.scenePos()):
                self.action_requested.emit("resize_layer", {"layer": layer, "delta": delta})
                return
        pt = vb.mapSceneToView(ev.scenePos())
        hit = self.edge_at(pt.x(), pt.y())
        if hit is None:
            return
        layer, row, col, value = hit
        new, ok = QtWidgets.QInputDialog.getDouble(
            self, "Set weight", f"W[{layer + 1}] from unit {col + 1} to unit {row + 1}:",
            value, -100.0, 100.0, 4)
        if ok:
            self.request_weight(layer, row, col, new)

    def request_weight(self, layer, row, col, value):
        self.action_requested.emit("set_weight", {"layer": int(layer), "row": int(row),
                                                  "col": int(col), "value": float(value)})

    def edge_at(self, x, y, tol=0.08):
        """The edge nearest to diagram point (x, y) within ``tol``: (layer, row, col, w)."""
        if self._edges is None or not len(self._edges[0]):
            return None
        seg, layer, row, col, w = self._edges
        a, b = seg[:, 0], seg[:, 1]
        d = b - a
        t = np.clip(((x - a[:, 0]) * d[:, 0] + (y - a[:, 1]) * d[:, 1])
                    / np.maximum((d ** 2).sum(1), 1e-12), 0, 1)
        dist = np.hypot(a[:, 0] + t * d[:, 0] - x, a[:, 1] + t * d[:, 1] - y)
        i = int(np.argmin(dist))
        if dist[i] > tol:
            return None
        return int(layer[i]), int(row[i]), int(col[i]), float(w[i])

    # -- drawing --------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        self._draw_map(d)
        self._draw_network(d)
        self._draw_curves(d)

    def _draw_map(self, d):
        axis = d["axis"]
        lo, span = float(axis[0]), float(axis[-1] - axis[0])
        rect = QtCore.QRectF(lo, lo, span, span)
        if "probs" in d:
            self.image.setImage(style.class_probability_image(d["probs"]), levels=(0, 255))
        else:
            v = d["value"]
            self.image.setImage(v, levels=(float(v.min()), float(v.max()) + 1e-9))
            self.image.setColorMap(style.viridis())
        self.image.setRect(rect)
        data_id = (id(d["train"]["X"]), id(d["test"]["X"]), d["task"])
        if data_id != self._data_id:
            self._data_id = data_id
            for item, part in ((self.train_pts, d["train"]), (self.test_pts, d["test"])):
                X, y = part["X"], part["y"]
                if d["task"] == "regression":
                    brushes = pg.mkBrush("#dddddd")
                else:
                    palette = [pg.mkBrush(style.class_color(i)) for i in range(d["classes"])]
                    brushes = [palette[int(c)] for c in y]
                item.setData(X[:, 0], X[:, 1], brush=brushes)
            self.map.setRange(xRange=(lo, lo + span), yRange=(lo, lo + span), padding=0)

    @staticmethod
    def _layout(sizes):
        """Centres of every unit: one column per layer, units one apart, centred on 0.

        Columns are spread so the whole diagram is about as wide as it is tall: the view
        keeps square pixels, so thumbnails stay square.
        """
        gap = max(MIN_COL_GAP, (max(sizes) + 2) * 1.2 / max(len(sizes) - 1, 1))
        return gap, [np.stack([np.full(n, layer * gap), np.arange(n) - (n - 1) / 2], 1)
                     for layer, n in enumerate(sizes)]

    def _draw_network(self, d):
        ws = d["weights"]
        sizes = [ws[0].shape[1]] + [w.shape[0] for w in ws]
        arch = tuple(sizes)
        if arch != self._arch:
            self._arch = arch
            self._build_nodes(sizes)
        stack = np.concatenate([d["in_thumbs"], *d["thumbs"], d["out_thumbs"]])
        # Each map gets its own levels: signed maps centre white on 0; non-negative ones
        # (ReLU, probabilities) span 0-max.  All coloured in one pass (see widgets.colorize).
        top = np.abs(stack).max(axis=(1, 2), keepdims=True)
        top = np.where(top > 0, top, 1.0)
        lo = np.where(stack.min(axis=(1, 2), keepdims=True) < 0, -top, 0.0)
        # The diagram's y axis points down: flip rows so x2 grows upwards as on the map.
        rgba = colorize(stack[:, ::-1], lo, top, self._lut)
        for img, rect, pic in zip(self.node_images, self._rects, rgba):
            img.setImage(pic, levels=None)
            img.setRect(rect)  # after setImage: the rect scales the image's pixel size
        # Edges: one connect="pairs" curve per (sign, width class).
        cols = self._pos
        segs, info = [], []
        half = THUMB_SIZE / 2
        for layer, w in enumerate(ws):
            src, dst = cols[layer], cols[layer + 1]
            r, c = np.meshgrid(np.arange(w.shape[0]), np.arange(w.shape[1]), indexing="ij")
            a = src[c.ravel()] + [half, 0]
            b = dst[r.ravel()] - [half, 0]
            segs.append(np.stack([a, b], 1))
            info.append(np.stack([np.full(w.size, layer), r.ravel(), c.ravel()], 1))
        seg = np.concatenate(segs)
        idx = np.concatenate(info)
        wv = np.concatenate([w.ravel() for w in ws])
        self._edges = (seg, idx[:, 0], idx[:, 1], idx[:, 2], wv)
        mag = np.abs(wv) / (np.abs(wv).max() or 1.0)
        k_bin = np.searchsorted(WIDTH_BINS, mag, side="right") - 1
        for s, sign_mask in enumerate((wv < 0, wv >= 0)):
            for k in range(len(WIDTH_BINS)):
                sel = seg[sign_mask & (k_bin == k)]
                pts = sel.reshape(-1, 2)
                self.edge_items[s * len(WIDTH_BINS) + k].setData(pts[:, 0], pts[:, 1])

    def _build_nodes(self, sizes):
        for img in self.node_images:
            self.net.removeItem(img)
        for item, _, _ in self._resizers:
            self.net.removeItem(item)
        self.node_images, self._rects, self._resizers = [], [], []
        gap, self._pos = self._layout(sizes)
        s = THUMB_SIZE
        for layer, centres in enumerate(self._pos):
            for cx, cy in centres:
                img = pg.ImageItem()
                self._rects.append(QtCore.QRectF(cx - s / 2, cy - s / 2, s, s))
                img.setZValue(5)
                self.net.addItem(img)
                self.node_images.append(img)
        top = min(c[:, 1].min() for c in self._pos) - s
        fg = style.theme()["foreground"]
        for layer in range(1, len(sizes) - 1):
            for delta, glyph, dx in ((+1, "⊕", -0.25), (-1, "⊖", 0.25)):
                t = pg.TextItem(glyph, color=fg, anchor=(0.5, 1.0))
                t.setToolTip(("Add a unit to" if delta > 0 else "Remove a unit from")
                             + f" hidden layer {layer} (restarts training)")
                t.setPos(layer * gap + dx, top)
                self.net.addItem(t)
                self._resizers.append((t, layer - 1, delta))
        names = (["input"] + [f"hidden {i}" for i in range(1, len(sizes) - 1)] + ["output"])
        self.net.getAxis("bottom").setTicks(
            [[(i * gap, f"{n}\n({sizes[i]})") for i, n in enumerate(names)]])
        ys = np.concatenate([c[:, 1] for c in self._pos])
        self.net.setRange(xRange=(-0.6, (len(sizes) - 1) * gap + 0.6),
                          yRange=(ys.min() - 2 * s, ys.max() + s), padding=0.02)

    def _draw_curves(self, d):
        c = d["curves"]
        steps = c["step"]
        # The curves gain a point only when the lab scores (every few steps): redraw them only
        # then, so their plots are not repainted on the frames in between.
        key = (len(steps), d["task"], d["grad_norms"].shape) + tuple(
            float(c[k][-1]) if len(steps) else None for k in ("step", "train_loss", "test_loss"))
        if key != self._curves_key:
            self._curves_key = key
            self._draw_history(d, c, steps)
        acts = d["activations"]
        self._ensure(self.hist, self.hist_curves, len(acts), "layer {}")
        for i, (curve, a) in enumerate(zip(self.hist_curves, acts)):
            curve.setData(a["edges"], a["counts"], stepMode="center")
            label = f"layer {i + 1}: std {a['std']:.2g}, {a['inactive']:.0%} idle"
            item = self.hist.legend.items[i][1]
            if item.text != label:      # a new text re-lays out the legend: only on change
                item.setText(label)

    def _draw_history(self, d, c, steps):
        with np.errstate(divide="ignore", invalid="ignore"):
            self.c_train.setData(steps, np.maximum(c["train_loss"], 1e-12))
            self.c_test.setData(steps, np.maximum(c["test_loss"], 1e-12))
        if d["task"] != "regression":
            self.a_train.setData(steps, c["train_acc"])
            self.a_test.setData(steps, c["test_acc"])
        else:
            self.a_train.setData([], [])
            self.a_test.setData([], [])
        g = d["grad_norms"]
        self._ensure(self.grad, self.grad_curves, g.shape[1], "W[{}]")
        for i, curve in enumerate(self.grad_curves):
            curve.setData(steps[: len(g)], g[:, i], connect="finite")

    def _ensure(self, plot, curves, n, fmt):
        """Keep exactly ``n`` curves (one per layer) in ``plot``."""
        if len(curves) == n:
            return
        for c in curves:
            plot.removeItem(c)
        curves.clear()
        plot.legend.clear()
        for i in range(n):
            color = style.CLASS_COLORS[(i + 1) % len(style.CLASS_COLORS)]
            curves.append(plot.plot(pen=pg.mkPen(color, width=2), name=fmt.format(i + 1)))
