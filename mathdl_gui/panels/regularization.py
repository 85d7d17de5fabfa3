"""Regularization lab panel: the decision map under attack, the weights, and the curves that show
overfitting and its cures.

Top left, the network's output over the plane with train (filled), validation (diamonds) and
test (ringed) points, each test point's FGSM example x' (a cross joined to x by a line), and a
cloud of augmented training points when augmentation is on.  Top right, the weight histogram
(its title counts the zeros) and the weight norm over time.  Bottom, train / validation / test
loss with the early-stopping point marked and the patience window shaded, clean vs adversarial
accuracy and, when task B is trained, the tied second net's map.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style

VAL_COLOR = style.series_color("validation", 2)     # green, beside train blue and test orange
ADV_COLOR = style.class_color(5)                      # vermilion: under attack
TIE_COLOR = style.class_color(3)                      # purple: task B and the tie
LEGEND_ROW = 0.22     # share of a curve plot's data span kept free on top for the legend


def _last(steps) -> float:
    return float(steps[-1]) if len(steps) and steps[-1] > 0 else 1.0


def _headroom(lo, hi):
    """Data bounds with a strip added on top for the legend row."""
    span = max(hi - lo, 1e-3 * max(abs(hi), 1.0))
    return lo, hi + LEGEND_ROW * span


def _row_legend(plot: pg.PlotItem) -> pg.LegendItem:
    """A one-row legend along the top edge, above the curves (the plots leave room there)."""
    legend = style.add_legend(plot)
    legend.setColumnCount(6)
    legend.anchor((0, 0), (0, 0), offset=(8, 2))
    return legend


class RegularizationPanel(Panel):
    """Draws :class:`engine.labs.regularization.RegularizationLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        vsplit = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.body.addWidget(vsplit, 1)
        top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        bottom = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        vsplit.addWidget(top)
        vsplit.addWidget(bottom)
        vsplit.setStretchFactor(0, 3)
        vsplit.setStretchFactor(1, 2)

        # -- decision map ---------------------------------------------------------------------
        self.map_w = style.make_plot("Network output", "x\u2081", "x\u2082")
        self.map = self.map_w.getPlotItem()
        self.map.setAspectLocked(True)
        self.image = pg.ImageItem()
        self.map.addItem(self.image)
        self.aug_pts = pg.ScatterPlotItem(size=3, pen=None)
        self.aug_pts.setOpacity(0.45)
        self.adv_lines = pg.PlotCurveItem(connect="pairs",
                                          pen=pg.mkPen(style.theme()["foreground"], width=1))
        self.adv_pts = pg.ScatterPlotItem(size=9, symbol="x", pen=None)
        self.train_pts = pg.ScatterPlotItem(size=7, pen=pg.mkPen("#101010", width=0.8))
        self.val_pts = pg.ScatterPlotItem(size=8, symbol="d", pen=pg.mkPen(VAL_COLOR, width=1.6))
        self.test_pts = pg.ScatterPlotItem(size=7, pen=pg.mkPen("#ffffff", width=1.4))
        for item in (self.aug_pts, self.adv_lines, self.train_pts, self.val_pts,
                     self.test_pts, self.adv_pts):
            self.map.addItem(item)
        self.map_legend = style.add_legend(self.map)
        for item, name in ((self.train_pts, "train"), (self.val_pts, "validation"),
                           (self.test_pts, "test"), (self.adv_pts, "FGSM x\u2032 of test"),
                           (self.aug_pts, "augmented train")):
            self.map_legend.addItem(item, name)
            item.opts["name"] = name
        top.addWidget(self.map_w)

        # -- weights --------------------------------------------------------------------------
        self.whist_w = style.make_plot("Weights", "weight w (no biases)", "count")
        self.whist = self.whist_w.getPlotItem()
        self.whist_curve = self.whist.plot(
            stepMode="center", fillLevel=0, name="weights",
            pen=pg.mkPen(style.series_color("train"), width=1.5),
            brush=pg.mkBrush(style.series_color("train") + "80"))
        self.norm_w = style.make_plot("Weight norm", "step", "\u2016W\u2016")
        self.norm = self.norm_w.getPlotItem()
        self._norm_top = None
        self.c_norm = self.norm.plot(pen=pg.mkPen(style.series_color("train"), width=2),
                                     name="\u2016W\u2016")
        self.c_tie = self.norm.plot(pen=pg.mkPen(TIE_COLOR, width=2),
                                    name="\u2016\u03b8A \u2212 \u03b8B\u2016")
        _row_legend(self.norm).addItem(self.c_norm, "\u2016W\u2016 (main net)")

        # -- task B (shown while it is trained) -----------------------------------------------
        self.b_w = style.make_plot("Task B", "x\u2081", "x\u2082")
        self.b_map = self.b_w.getPlotItem()
        self.b_map.setAspectLocked(True)
        self.b_image = pg.ImageItem()
        self.b_map.addItem(self.b_image)
        self.b_test = pg.ScatterPlotItem(size=4, pen=None)
        self.b_test.setOpacity(0.6)
        self.b_train = pg.ScatterPlotItem(size=9, pen=pg.mkPen("#101010", width=1))
        self.b_map.addItem(self.b_test)
        self.b_map.addItem(self.b_train)
        self.b_w.hide()
        for w in (self.whist_w, self.norm_w):
            right.addWidget(w)
        top.addWidget(right)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)

        # -- loss with the early-stopping point -----------------------------------------------
        self.loss_w = style.make_plot("Loss (shaded: patience window)",
                                      "step", "J", log_y=True)
        self.loss = self.loss_w.getPlotItem()
        axis = style.ThinLogAxis("left")
        self.loss.setAxisItems({"left": axis})
        axis.setLogMode(True)                   # the plot is already in log mode
        axis.enableAutoSIPrefix(False)
        self.loss.setLabel("left", "J")
        style.cache_static_parts(self.loss)
        self.loss_range = style.StickyRange(self.loss)
        self.c_train = self.loss.plot(pen=pg.mkPen(style.series_color("train"), width=2),
                                      name="train")
        self.c_train_drop = self.loss.plot(
            pen=pg.mkPen(style.series_color("train"), width=1.5,
                         style=QtCore.Qt.PenStyle.DashLine),
            name="train, dropout on")
        self.c_val = self.loss.plot(pen=pg.mkPen(VAL_COLOR, width=2), name="validation")
        self.c_test = self.loss.plot(pen=pg.mkPen(style.series_color("test"), width=2),
                                     name="test")
        loss_legend = _row_legend(self.loss)
        for item in (self.c_train, self.c_val, self.c_test):
            loss_legend.addItem(item, item.opts["name"])
        # The early-stopping marker is drawn in the text colour: it must stand out from the
        # train / validation / test colours on either theme.
        fg = pg.mkColor(style.theme()["foreground"])
        shade, edge = pg.mkColor(fg), pg.mkColor(fg)
        shade.setAlpha(38)
        edge.setAlpha(90)
        self.patience = pg.LinearRegionItem((0, 1), movable=False, brush=pg.mkBrush(shade),
                                            pen=pg.mkPen(edge))
        self.patience.setZValue(-10)
        self.best_line = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen(fg, width=2,
                                                  style=QtCore.Qt.PenStyle.DashLine),
            label="best", labelOpts={"position": 0.06, "color": fg})
        self.loss.addItem(self.patience, ignoreBounds=True)
        self.loss.addItem(self.best_line, ignoreBounds=True)
        self.patience.hide()
        self.best_line.hide()

        # -- accuracy: clean vs adversarial ---------------------------------------------------
        self.acc_w = style.make_plot("Accuracy: clean vs FGSM attack", "step", "accuracy")
        self.acc = self.acc_w.getPlotItem()
        self.acc.getAxis("left").setTicks([[(v, f"{v:g}") for v in (0, 0.2, 0.4, 0.6, 0.8, 1)]])
        self.acc.setYRange(-0.02, 1.3, padding=0)   # 1.0-1.3: the legend row
        self.a_train = self.acc.plot(pen=pg.mkPen(style.series_color("train"), width=2),
                                     name="train")
        self.a_test = self.acc.plot(pen=pg.mkPen(style.series_color("test"), width=2),
                                    name="test")
        self.a_adv = self.acc.plot(pen=pg.mkPen(ADV_COLOR, width=2,
                                                style=QtCore.Qt.PenStyle.DashLine),
                                   name="test + FGSM")
        self.a_b = self.acc.plot(pen=pg.mkPen(TIE_COLOR, width=2), name="task B")
        acc_legend = _row_legend(self.acc)
        for item in (self.a_train, self.a_test, self.a_adv):
            acc_legend.addItem(item, item.opts["name"])
        for w in (self.loss_w, self.acc_w, self.b_w):
            bottom.addWidget(w)
        # The step axes move together, in the loss plot's sticky steps.
        for plot in (self.acc, self.norm):
            plot.vb.disableAutoRange()          # else their autorange would drag the link
            plot.setXLink(self.loss)
        # Small minimum sizes: showing task B's map must squeeze its neighbours, not push
        # the splitter's other row off the panel.
        for w in (self.whist_w, self.norm_w, self.b_w, self.loss_w, self.acc_w):
            w.setMinimumSize(120, 90)
        vsplit.setSizes([600, 400])

        # Series that mean something only with their option on join the legend when it is.
        self._optional = {self.c_train_drop: loss_legend, self.c_tie: self.norm.legend,
                          self.a_b: acc_legend, self.aug_pts: self.map_legend,
                          self.adv_pts: self.map_legend}
        self._listed = {item: None for item in self._optional}
        self.map_legend.removeItem(self.aug_pts)
        self.map_legend.removeItem(self.adv_pts)
        self._squares = {}                      # map plot -> (lo, span) to keep in view
        for plot in (self.map, self.b_map):
            plot.vb.sigResized.connect(lambda _vb, p=plot: self._fit(p))
        self._data_id = None
        self._b_id = None
        self._titles: dict = {}
        self._has_b = False

    def plots(self):
        out = {"output": self.map, "weights": self.whist, "weight_norm": self.norm,
               "loss": self.loss, "accuracy": self.acc}
        if self._has_b:
            out["task_b"] = self.b_map
        return out

    # -- helpers --------------------------------------------------------------------------------
    def _title(self, plot, text):
        """Set a title only when it changes (titles are cached pixmaps; see style)."""
        if self._titles.get(id(plot)) != text:
            self._titles[id(plot)] = text
            plot.setTitle(text)

    def _list(self, item, name):
        """Show an optional series in its legend under ``name`` (None: leave it out)."""
        if self._listed[item] == name:
            return
        legend = self._optional[item]
        if self._listed[item] is not None:
            legend.removeItem(item)
        if name is not None:
            legend.addItem(item, name)
        self._listed[item] = name

    def _fit(self, plot, square=None):
        """Keep the whole square [lo, lo + span]^2 in view of an aspect-locked map.

        Also run on every resize: an aspect-locked view fitted to another shape would crop
        the square when the window changes."""
        if square is not None:
            self._squares[plot] = square
        if plot not in self._squares:
            return
        lo, span = self._squares[plot]
        (x0, x1), (y0, y1) = plot.vb.viewRange()
        hi, tol = lo + span, 1e-3 * span
        if x0 > lo + tol or x1 < hi - tol or y0 > lo + tol or y1 < hi - tol:
            plot.setRange(xRange=(lo, hi), yRange=(lo, hi), padding=0)

    @staticmethod
    def _brushes(y, n_classes):
        palette = [pg.mkBrush(style.class_color(i)) for i in range(n_classes)]
        return [palette[int(c)] for c in y]

    # -- drawing --------------------------------------------------------------------------------
    def _render(self, snap):
        d, s = snap.data, snap.scalars
        self._draw_map(d, s)
        self._draw_weights(d, s)
        self._draw_curves(d)
        self._draw_task_b(d, s)

    def _draw_map(self, d, s):
        axis = d["axis"]
        lo, span = float(axis[0]), float(axis[-1] - axis[0])
        self.image.setImage(style.class_probability_image(d["probs"]), levels=(0, 255))
        self.image.setRect(QtCore.QRectF(lo, lo, span, span))
        self._fit(self.map, (lo, span))
        k = d["classes"]
        data_id = (id(d["train"]["X"]), id(d["val"]["X"]), id(d["test"]["X"]))
        if data_id != self._data_id:
            self._data_id = data_id
            for item, part in ((self.train_pts, d["train"]), (self.val_pts, d["val"]),
                               (self.test_pts, d["test"])):
                item.setData(part["X"][:, 0], part["X"][:, 1],
                             brush=self._brushes(part["y"], k))
        adv = d["adv"]
        X, Xa = adv["X"], adv["X_adv"]
        self.adv_pts.setData(Xa[:, 0], Xa[:, 1], brush=self._brushes(adv["y"], k))
        seg = np.stack([X, Xa], 1).reshape(-1, 2)
        self.adv_lines.setData(seg[:, 0], seg[:, 1])
        self._list(self.adv_pts, f"FGSM x\u2032 of test (\u03b5 = {d['eps']:.3g})"
                   if len(Xa) else None)
        aug = d["aug_preview"]
        self.aug_pts.setData(aug["X"][:, 0], aug["X"][:, 1], brush=self._brushes(aug["y"], k))
        self._list(self.aug_pts, "augmented train" if len(aug["X"]) else None)
        self._title(self.map, f"Network output (boundary length \u2248 "
                              f"{s['boundary_length']:.3g})")

    def _draw_weights(self, d, s):
        h = d["weight_hist"]
        self.whist_curve.setData(h["edges"], h["counts"])
        n, z = d["n_weights"], d["n_small"]
        self._title(self.whist, f"Weights: {z / max(n, 1):.1%} \u2248 0 ({z:,} of {n:,})")
        c = d["curves"]
        self.c_norm.setData(c["step"], c["w_norm"])
        top = float(np.nanmax(np.concatenate([c["w_norm"], c["tie_dist"]])))
        # Move the top only when the curves outgrow it or shrink well below it.
        if np.isfinite(top) and (self._norm_top is None or top > self._norm_top
                                 or top < 0.5 * self._norm_top):
            self._norm_top = top * 1.25
            self.norm.setYRange(0, self._norm_top * (1 + LEGEND_ROW), padding=0)
        has_b = bool(d["task_b"])
        self._list(self.c_tie, "\u2016\u03b8A \u2212 \u03b8B\u2016 (tie)" if has_b else None)
        if has_b:
            self.c_tie.setData(c["step"], c["tie_dist"], connect="finite")
        else:
            self.c_tie.setData([], [])
        self._title(self.norm, f"Weight norm \u2016W\u2016 = {s['weight_norm']:.3g}")

    def _draw_curves(self, d):
        c = d["curves"]
        steps = c["step"]
        pos = lambda v: np.maximum(v, 1e-12)
        with np.errstate(invalid="ignore"):
            self.c_train.setData(steps, pos(c["train_loss"]))
            self.c_val.setData(steps, pos(c["val_loss"]))
            self.c_test.setData(steps, pos(c["test_loss"]))
            drop = c["train_loss_dropout"]
            on = d["dropout"]["rate"] > 0 and bool(np.isfinite(drop).any())
            self._list(self.c_train_drop, "train, dropout on" if on else None)
            if on:
                self.c_train_drop.setData(steps, pos(drop), connect="finite")
            else:
                self.c_train_drop.setData([], [])
        finite = np.concatenate([c[k] for k in ("train_loss", "val_loss", "test_loss")])
        finite = finite[np.isfinite(finite) & (finite > 0)]
        if finite.size:
            self.loss_range.update((0.0, _last(steps)),
                                   _headroom(*np.log10([finite.min(), finite.max()])))
        e = d["early"]
        if e["best_step"] >= 0:
            best = float(e["best_step"])
            end = min(float(e["window_end"]), max(float(steps[-1]), best))
            # Shown before the label is set: a hidden InfiniteLine ignores label changes.
            self.best_line.show()
            self.patience.show()
            self.best_line.setValue(best)
            self.best_line.label.setFormat(
                f"stopped, best {e['best_step']:,}" if e["stop_step"] >= 0
                else f"best {e['best_step']:,}")
            self.patience.setRegion((best, end))
        else:
            self.best_line.hide()
            self.patience.hide()
        self.a_train.setData(steps, c["train_acc"])
        self.a_test.setData(steps, c["test_acc"])
        self.a_adv.setData(steps, c["adv_acc"])
        has_b = bool(d["task_b"])
        self._list(self.a_b, "task B" if has_b else None)
        if has_b:
            self.a_b.setData(steps, c["b_test_acc"], connect="finite")
        else:
            self.a_b.setData([], [])

    def _draw_task_b(self, d, s):
        b = d["task_b"]
        self._has_b = bool(b)
        self.b_w.setVisible(self._has_b)
        if not b:
            return
        ax = b["axis"]
        lo, span = float(ax[0]), float(ax[-1] - ax[0])
        self.b_image.setImage(style.class_probability_image(b["probs"]), levels=(0, 255))
        self.b_image.setRect(QtCore.QRectF(lo, lo, span, span))
        self._fit(self.b_map, (lo, span))
        b_id = id(b["train"]["X"])
        if b_id != self._b_id:
            self._b_id = b_id
            k = d["classes"]
            for item, part in ((self.b_train, b["train"]), (self.b_test, b["test"])):
                item.setData(part["X"][:, 0], part["X"][:, 1],
                             brush=self._brushes(part["y"], k))
        self._title(self.b_map, f"Task B ({len(b['train']['X'])} points): test "
                                f"{s['task_b_test_accuracy']:.0%}")


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview("regularization"))
