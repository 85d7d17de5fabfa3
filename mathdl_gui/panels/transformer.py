"""Transformer panel: the attention matrix of every layer x head for the probe sequence, the
model's output distribution per position, loss / accuracy / attention-entropy curves, and the
positional code with its dot products between positions."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style


def _ticks(labels, every: int = 1):
    """Tick list for cell centres ``0.5, 1.5, ...`` (every ``every``-th label)."""
    return [[(i + 0.5, str(t)) for i, t in enumerate(labels) if i % every == 0]]


class TransformerPanel(Panel):
    """Draws :class:`engine.labs.transformer.TransformerLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        top, bottom = self.two_rows(3, 2)

        # -- attention heatmaps: one per layer x head, built when the shape changes -----------
        self.attn_w = pg.GraphicsLayoutWidget()
        self.attn_w.setBackground(style.theme()["background"])
        self.attn_w.setToolTip("Row i of a map is query position i's softmax over the key "
                               "positions (columns, labelled with the input tokens).")
        top.addWidget(self.attn_w)
        self.attn_plots: list[pg.PlotItem] = []
        self.attn_imgs: list[pg.ImageItem] = []
        self._grid = None
        self._labels = None

        # -- the model's prediction for the probe ------------------------------------------------
        self.pred_w = style.make_plot("Prediction", "output token",
                                      "position i: input \u2192 predicted")
        self.pred_w.setToolTip("p(y\u1d62 = token) for each position i of the probe; circles "
                               "mark the correct output.")
        self.pred = self.pred_w.getPlotItem()
        self.pred.invertY(True)
        self.pred.setMouseEnabled(False, False)
        self.pred_img = pg.ImageItem()
        self.pred_img.setColorMap(style.viridis())
        self.pred.addItem(self.pred_img)
        self.target_dots = pg.ScatterPlotItem(symbol="o", size=11, brush=None,
                                              pen=pg.mkPen(style.series_color("test"), width=2))
        self.pred.addItem(self.target_dots)
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        right.addWidget(self.pred_w)
        top.addWidget(right)
        top.setStretchFactor(0, 5)
        top.setStretchFactor(1, 2)

        # -- curves ----------------------------------------------------------------------------
        self.loss_w = style.make_plot("Loss", "step", "cross-entropy", log_y=True, legend=True)
        self.loss = self.loss_w.getPlotItem()
        self.acc_w = style.make_plot("Held-out accuracy", "step", "accuracy", legend=True)
        self.acc = self.acc_w.getPlotItem()
        self.acc.setYRange(0, 1.02)
        self.curves = {}
        for plot, key, label, color in (
                (self.loss, "train_loss", "train", style.series_color("train")),
                (self.loss, "test_loss", "held-out", style.series_color("test")),
                (self.acc, "token_acc", "token", style.series_color("token", 2)),
                (self.acc, "seq_acc", "sequence", style.series_color("sequence", 4))):
            self.curves[key] = plot.plot(pen=pg.mkPen(color, width=2), name=label)
        self.ent_w = style.make_plot("Attention entropy per head", "step", "H (nats)",
                                     legend=True)
        self.ent_w.setToolTip("Mean entropy of the attention rows on held-out data; the "
                              "dashed line is log n (uniform attention).")
        self.ent = self.ent_w.getPlotItem()
        # Legend at mid-height on the right: the curves live near 0 (sharp heads) and near
        # log n (diffuse ones), rarely in between.
        self.ent.legend.anchor(itemPos=(1, 0.5), parentPos=(1, 0.5), offset=(-10, 0))
        self.ent_max = pg.InfiniteLine(angle=0, pen=pg.mkPen(style.theme()["foreground"],
                                                             width=1, style=QtCore.Qt.PenStyle
                                                             .DashLine))
        self.ent.addItem(self.ent_max)
        self.ent_curves: list = []
        self._ent_shape = None
        right.addWidget(self.ent_w)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)

        # -- positional code -------------------------------------------------------------------
        self.pe_w = style.make_plot("Positional encoding P", "dimension", "position p")
        self.pe_p = self.pe_w.getPlotItem()
        self.pe_p.invertY(True)
        self.pe_img = pg.ImageItem()
        self.pe_img.setColorMap(style.diverging())
        self.pe_p.addItem(self.pe_img)
        self.dots_w = style.make_plot("P P\u1d40 (dot products)", "position q",
                                      "position p")
        self.dots_w.setToolTip("Entry (p, q) = P\u209a\u00b7P_q: how alike the codes of two "
                               "positions are.")
        self.dots_p = self.dots_w.getPlotItem()
        self.dots_p.invertY(True)
        self.dots_p.setAspectLocked(True)
        self.dots_img = pg.ImageItem()
        self.dots_img.setColorMap(style.viridis())
        self.dots_p.addItem(self.dots_img)
        self._pe_rows = None
        for w in (self.loss_w, self.acc_w, self.pe_w, self.dots_w):
            bottom.addWidget(w)

    def plots(self):
        out = {"prediction": self.pred, "loss": self.loss, "accuracy": self.acc,
               "entropy": self.ent, "positional_encoding": self.pe_p, "pe_dots": self.dots_p}
        for (li, hi), p in zip(self._cells(), self.attn_plots):
            out[f"attention_layer{li + 1}_head{hi + 1}"] = p
        return out

    def _cells(self):
        if self._grid is None:
            return []
        layers, heads = self._grid[:2]
        return [(li, hi) for li in range(layers) for hi in range(heads)]

    # -- structure ------------------------------------------------------------------------------
    def _ensure_grid(self, layers: int, heads: int, m: int) -> None:
        if self._grid == (layers, heads, m):
            return
        self._grid = (layers, heads, m)
        self._labels = None
        self.attn_w.clear()
        self.attn_plots, self.attn_imgs = [], []
        cmap = style.viridis()
        for li in range(layers):
            for hi in range(heads):
                p = self.attn_w.addPlot(row=li, col=hi)
                p.invertY(True)
                p.setAspectLocked(True)
                p.setMouseEnabled(False, False)
                p.hideButtons()
                p.setRange(xRange=(0, m), yRange=(0, m), padding=0.02)
                if hi == 0:
                    p.setLabel("left", f"layer {li + 1}: query i" if heads <= 2
                               else f"L{li + 1}: query i")
                if li == layers - 1:
                    p.setLabel("bottom", "key (input token)")
                img = pg.ImageItem()
                img.setColorMap(cmap)
                p.addItem(img)
                style.cache_static_parts(p)
                self.attn_plots.append(p)
                self.attn_imgs.append(img)

    def _ensure_entropy(self, layers: int, heads: int) -> None:
        if self._ent_shape == (layers, heads):
            return
        self._ent_shape = (layers, heads)
        for c in self.ent_curves:
            self.ent.removeItem(c)
        if self.ent.legend is not None:
            self.ent.legend.clear()
        self.ent_curves = []
        if self.ent.legend is not None:
            # One legend row per layer once there are more than a few heads in all.
            self.ent.legend.setColumnCount(heads if layers * heads > 4 else 1)
        for li in range(layers):
            for hi in range(heads):
                k = li * heads + hi
                pen = pg.mkPen(style.series_color(f"head{k}", k), width=2,
                               style=QtCore.Qt.PenStyle.SolidLine if li == layers - 1
                               else QtCore.Qt.PenStyle.DashLine)
                self.ent_curves.append(self.ent.plot(pen=pen, name=f"L{li + 1} H{hi + 1}"))

    # -- rendering ------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        att = np.asarray(d["attention"])                     # (layers, heads, m, m)
        layers, heads, m = att.shape[0], att.shape[1], att.shape[2]
        self._ensure_grid(layers, heads, m)
        keys = list(d["probe_labels"])
        preds = list(d["pred_labels"])
        ent = np.asarray(d["probe_entropy"])
        every = 1 if m <= 12 or heads <= 2 else 2
        for (li, hi), p, img in zip(self._cells(), self.attn_plots, self.attn_imgs):
            img.setImage(att[li, hi], levels=(0, 1))
            name = (f"layer {li + 1}, head {hi + 1}" if heads <= 2
                    else f"L{li + 1} H{hi + 1}")        # short titles keep 3-4 heads in view
            p.setTitle(f"{name} \u00b7 H = {ent[li, hi]:.2f}", size="9pt")
            if self._labels != (keys, every):
                p.getAxis("bottom").setTicks(_ticks(keys, every))
                p.getAxis("left").setTicks(_ticks(range(m), every))
        self._labels = (keys, every)

        probs = np.asarray(d["probe_probs"])                 # (m, out)
        self.pred_img.setImage(probs, levels=(0, 1))
        target = np.asarray(d["probe_target"])
        inside = target < probs.shape[1]
        self.target_dots.setData(x=target[inside] + 0.5, y=np.arange(m)[inside] + 0.5)
        outs = list(d["output_labels"])
        self.pred.getAxis("bottom").setTicks(_ticks(outs, 1 if len(outs) <= 16 else 2))
        self.pred.getAxis("left").setTicks(_ticks([f"{k}\u2192{p}" for k, p in
                                                   zip(keys, preds)]))
        right = int((np.asarray(d["probe_pred"]) == target).sum())
        self.pred.setTitle(f"Prediction: {right}/{m} right")

        c = d["curves"]
        for key, curve in self.curves.items():
            y = np.asarray(c[key])
            curve.setData(c["step"], np.maximum(y, 1e-6) if "loss" in key else y)
        ent_hist = np.asarray(d["entropy"])                   # (evals, layers, heads)
        self._ensure_entropy(layers, heads)
        flat = ent_hist.reshape(len(ent_hist), -1)
        for k, curve in enumerate(self.ent_curves):
            curve.setData(c["step"], flat[:, k])
        self.ent_max.setValue(float(d["max_entropy"]))

        pe = np.asarray(d["pe"])
        self.pe_p.setTitle(f"Positional code P: {snap.text.get('pos', '')}", size="10pt")
        if self._pe_rows != len(pe):
            self._pe_rows = len(pe)
            ticks = _ticks(range(len(pe)), 1 if len(pe) <= 10 else 2)
            for axis in (self.pe_p.getAxis("left"), self.dots_p.getAxis("left"),
                         self.dots_p.getAxis("bottom")):
                axis.setTicks(ticks)
        top = float(np.abs(pe).max()) or 1.0
        self.pe_img.setImage(pe, levels=(-top, top))
        dots = np.asarray(d["pe_dots"])
        lo, hi = float(dots.min()), float(dots.max())
        self.dots_img.setImage(dots, levels=(lo, hi if hi > lo else lo + 1.0))


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview("transformer"))
