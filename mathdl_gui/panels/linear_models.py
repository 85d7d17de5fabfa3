"""Linear models panels (book ch. 6): linear, polynomial, and logistic/softmax regression.

Each panel builds its plot items once; ``_render`` only sets data.  Clicks become the labs'
declared actions: ``set_start`` / ``add_point`` (linear regression), ``probe`` (logistic).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style
from mathdl_gui.widgets.log_curve import LogCurve

N_LEVELS = 12
CACHE = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache


def _colors():
    """Series colours of this module, from the app-wide palette."""
    return {"gd": style.series_color("gd"), "closed": style.series_color("closed_form", 2),
            "gap": style.series_color("gap", 6), "train": style.series_color("train"),
            "test": style.series_color("test"), "truth": style.theme()["foreground"]}


#: Palette slots of classes 0-4: the five most distinct of the app's fallback colours
#: (orange, sky blue, green, pink, yellow), so neighbouring classes never look alike.
CLASS_SLOTS = (0, 1, 2, 6, 3)


def _class_color(k: int) -> str:
    return style.series_color(f"class{k}", CLASS_SLOTS[k % len(CLASS_SLOTS)])


def _mix(color, other, t: float) -> tuple:
    """``t * color + (1 - t) * other`` as an RGB tuple."""
    a, b = pg.mkColor(color), pg.mkColor(other)
    return tuple(round(t * ca + (1 - t) * cb)
                 for ca, cb in zip(a.getRgb()[:3], b.getRgb()[:3]))


def _log_bounds(*series, min_decades: float = 2.0):
    """(x range, y range) of (x, y) series for a log-y plot, in view units (log10 y).

    The y range spans at least ``min_decades``: on a narrower log axis pyqtgraph labels every
    minor tick, and the labels run into each other.
    """
    xs, ys = [], []
    for x, y in series:
        if len(x) == 0:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            ly = np.log10(np.asarray(y, dtype=float))
        ly = ly[np.isfinite(ly)]
        xs += [float(x[0]), float(x[-1])]
        if ly.size:
            ys += [float(ly.min()), float(ly.max())]
    if not xs or not ys:
        return (0.0, 1.0), (0.0, 1.0)
    lo, hi = min(ys), max(ys)
    if hi - lo < min_decades:
        mid = 0.5 * (lo + hi)
        lo, hi = mid - 0.5 * min_decades, mid + 0.5 * min_decades
    return (min(xs), max(xs)), (lo, hi)


def _click_in(plot: pg.PlotItem, ev):
    """The view coordinates of a plain left click inside ``plot``'s view box, else None."""
    if ev.button() != QtCore.Qt.MouseButton.LeftButton or ev.double():
        return None
    vb = plot.vb
    if not vb.sceneBoundingRect().contains(ev.scenePos()):
        return None
    return vb.mapSceneToView(ev.scenePos())


def _named(item, name: str):
    """Name an item for CSV export after adding it (so a plot's own legend does not list it)."""
    item.opts["name"] = name
    return item


# =============================================================================================
class LinearRegressionPanel(Panel):
    """Draws :class:`engine.labs.linear_models.LinearRegressionLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        c = self.colors = _colors()
        fg = style.theme()["foreground"]
        vsplit = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.body.addWidget(vsplit)

        # Data, fits and residuals.
        self.data_w = style.make_plot("Data and fitted lines (click to add a point)", "x", "y",
                                      legend=True)
        self.data = self.data_w.getPlotItem()
        # Top left: rising lines and the curves on offer leave that corner empty.
        self.data.legend.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(10, 10))
        self.resid = pg.PlotCurveItem(pen=pg.mkPen(c["gd"], width=1, style=QtCore.Qt.PenStyle
                                                   .DotLine), connect="pairs",
                                      name="residuals (GD)")
        self.points = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(fg), pen=pg.mkPen(None),
                                         name="data")
        self.line_cf = pg.PlotCurveItem(pen=pg.mkPen(c["closed"], width=2.5),
                                        name="closed form")
        self.line_gd = pg.PlotCurveItem(pen=pg.mkPen(c["gd"], width=2.5,
                                                     style=QtCore.Qt.PenStyle.DashLine),
                                        name="gradient descent")
        for item in (self.resid, self.points, self.line_cf, self.line_gd):
            self.data.addItem(item)

        # The (w, b) landscape with the GD path.
        self.land_w = style.make_plot("Loss landscape L(w, b) (click to start GD there)",
                                      "slope w", "intercept b")
        self.land = self.land_w.getPlotItem()
        self.legend = style.add_legend(self.land)
        self.image = pg.ImageItem()
        self.image.setColorMap(style.viridis())
        self.image.setCacheMode(CACHE)
        self.land.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=style.viridis(), interactive=False, width=12,
                                        label="log\u2081\u2080 L(w, b)")
        self.colorbar.setImageItem(self.image, insert_in=self.land)
        self.isos = []
        for _ in range(N_LEVELS):
            iso = pg.IsocurveItem(pen=pg.mkPen((255, 255, 255, 70), width=1))
            iso.setParentItem(self.image)
            iso.setCacheMode(CACHE)
            self.isos.append(iso)
        self.path = pg.PlotCurveItem(pen=pg.mkPen(c["gd"], width=2))
        self.head = pg.ScatterPlotItem(size=11, brush=pg.mkBrush(c["gd"]),
                                       pen=pg.mkPen("#000000"))
        self.optimum = pg.ScatterPlotItem(symbol="star", size=18, brush=pg.mkBrush(c["closed"]),
                                          pen=pg.mkPen("#000000"))
        self.start = pg.ScatterPlotItem(symbol="x", size=14, brush=pg.mkBrush("#ff4040"),
                                        pen=pg.mkPen("#ff4040", width=2))
        for item, name in ((self.path, "GD path"), (self.head, "current (w, b)"),
                           (self.optimum, "closed-form optimum"), (self.start, "start")):
            self.land.addItem(item)
            _named(item, name)
            self.legend.addItem(item, name)

        # Loss against the step.
        self.loss_w = style.make_plot("Loss against the step", "step k", "L", log_y=True,
                                      legend=True)
        self.lossp = self.loss_w.getPlotItem()
        self.loss_curve = LogCurve(pen=pg.mkPen(c["gd"], width=2), name="L(w\u2096, b\u2096)")
        self.gap_curve = LogCurve(pen=pg.mkPen(c["gap"], width=2),
                                  name="L(w\u2096, b\u2096) \u2212 L*")
        self.lstar = LogCurve(pen=pg.mkPen(c["closed"], width=1.5,
                                           style=QtCore.Qt.PenStyle.DashLine),
                              name="L* (closed form)")
        for item in (self.loss_curve, self.gap_curve, self.lstar):
            self.lossp.addItem(item)
        self.loss_range = style.StickyRange(self.lossp)

        top.addWidget(self.data_w)
        top.addWidget(self.land_w)
        vsplit.addWidget(top)
        vsplit.addWidget(self.loss_w)
        vsplit.setStretchFactor(0, 3)
        vsplit.setStretchFactor(1, 1)
        self._grid_id = None
        self._data_id = None
        self.land.scene().sigMouseClicked.connect(self._clicked_land)
        self.data.scene().sigMouseClicked.connect(self._clicked_data)

    def plots(self):
        return {"data_fit": self.data, "loss_landscape": self.land, "loss": self.lossp}

    def _clicked_land(self, ev):
        pt = _click_in(self.land, ev)
        if pt is not None:
            self.action_requested.emit("set_start", {"w": float(pt.x()), "b": float(pt.y())})

    def _clicked_data(self, ev):
        pt = _click_in(self.data, ev)
        if pt is not None:
            self.action_requested.emit("add_point", {"x": float(pt.x()), "y": float(pt.y())})

    def _render(self, snap):
        d = snap.data
        if d["grid_display"] is not self._grid_id:
            self._grid_id = d["grid_display"]
            self._draw_landscape(d)
        if d["x"] is not self._data_id:
            self._data_id = d["x"]
            self.points.setData(d["x"], d["y"])
            self.line_cf.setData(d["line_x"], d["fit_closed"])
            y = d["y"]
            pad = 0.15 * (float(y.max() - y.min()) + 0.2)
            self.data.setRange(xRange=tuple(d["x_view"]),
                               yRange=(float(y.min()) - pad, float(y.max()) + pad), padding=0)
            self.loss_range.reset()
        self.line_gd.setData(d["line_x"], d["fit_gd"])
        self.resid.setData(d["resid_x"], d["resid_y"])
        path = d["path"]
        self.path.setData(path[:, 0], path[:, 1])
        self.head.setData([path[-1, 0]], [path[-1, 1]])
        k = d["k"]
        self.loss_curve.set_values(k, d["loss"], log=True)
        self.gap_curve.set_values(k, d["gap"], log=True)
        lstar = max(float(d["loss_star"]), 1e-16)
        self.lstar.set_values(np.array([0.0, max(float(k[-1]), 1.0)]),
                              np.array([lstar, lstar]), log=True)
        self.loss_range.update(*_log_bounds((k, d["loss"]), (k, d["gap"]),
                                            ([0.0], [lstar])))

    def _draw_landscape(self, d):
        (w0, w1), (b0, b1) = d["bounds"]
        disp = d["grid_display"]
        self.image.setImage(np.ascontiguousarray(disp), autoLevels=False)
        lo, hi = float(disp.min()), float(disp.max())
        self.image.setLevels((lo, hi))
        self.colorbar.setLevels((lo, hi))
        # Pixel centres on the grid points (the isocurves, children of the image, follow).
        gw, gb = d["grid_w"], d["grid_b"]
        hw, hb = float(gw[1] - gw[0]), float(gb[1] - gb[0])
        self.image.setRect(QtCore.QRectF(w0 - hw / 2, b0 - hb / 2, w1 - w0 + hw, b1 - b0 + hb))
        for iso, lvl in zip(self.isos, np.linspace(lo, hi, N_LEVELS + 2)[1:-1]):
            iso.setData(disp, level=float(lvl))
        self.optimum.setData([d["optimum"][0]], [d["optimum"][1]])
        self.start.setData([d["start"][0]], [d["start"][1]])
        self.land.setRange(xRange=(w0, w1), yRange=(b0, b1), padding=0)


# =============================================================================================
class PolynomialPanel(Panel):
    """Draws :class:`engine.labs.linear_models.PolynomialLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        c = self.colors = _colors()
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.body.addWidget(split)

        self.fit_w = style.make_plot("Polynomial fit", "x", "y", legend=True)
        self.fitp = self.fit_w.getPlotItem()
        # Bottom right: every truth curve on offer stays high near x = 1.
        self.fitp.legend.anchor(itemPos=(1, 1), parentPos=(1, 1), offset=(-10, -10))
        self.truth = pg.PlotCurveItem(pen=pg.mkPen(c["truth"], width=1.5,
                                                   style=QtCore.Qt.PenStyle.DashLine),
                                      name="true f(x)")
        self.fit = pg.PlotCurveItem(pen=pg.mkPen(c["closed"], width=2.5),
                                    name="least squares, degree d")
        self.gd_fit = pg.PlotCurveItem(pen=pg.mkPen(c["gd"], width=2,
                                                    style=QtCore.Qt.PenStyle.DashLine),
                                       name="gradient descent (k steps)")
        self.train_pts = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(c["train"]),
                                            pen=pg.mkPen("#000000"), name="train points")
        self.test_pts = pg.ScatterPlotItem(size=8, symbol="s", brush=pg.mkBrush(None),
                                           pen=pg.mkPen(c["test"], width=1.5),
                                           name="test points")
        for item in (self.truth, self.train_pts, self.test_pts, self.fit, self.gd_fit):
            self.fitp.addItem(item)

        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.deg_w = style.make_plot("Error against the degree", "degree d", "MSE", log_y=True,
                                     legend=True)
        self.degp = self.deg_w.getPlotItem()
        self.train_curve = pg.PlotDataItem(pen=pg.mkPen(c["train"], width=2), symbol="o",
                                           symbolSize=6, symbolBrush=c["train"],
                                           name="train MSE")
        self.test_curve = pg.PlotDataItem(pen=pg.mkPen(c["test"], width=2), symbol="s",
                                          symbolSize=6, symbolBrush=c["test"],
                                          name="test MSE")
        self.degp.addItem(self.train_curve)
        self.degp.addItem(self.test_curve)
        self.deg_line = pg.InfiniteLine(angle=90, movable=False,
                                        pen=pg.mkPen(c["closed"], width=1.5,
                                                     style=QtCore.Qt.PenStyle.DashLine))
        self.degp.addItem(self.deg_line)
        self.current = pg.ScatterPlotItem(size=14, symbol="o", brush=pg.mkBrush(None),
                                          pen=pg.mkPen(c["closed"], width=2))
        self.degp.addItem(self.current)
        _named(self.current, "current degree")

        self.gd_w = style.make_plot("Gradient descent at degree d",
                                    "step k + 1", "MSE", log_y=True, log_x=True, legend=True)
        self.gdp = self.gd_w.getPlotItem()
        self.gd_train = pg.PlotDataItem(pen=pg.mkPen(c["train"], width=2), name="train MSE")
        self.gd_test = pg.PlotDataItem(pen=pg.mkPen(c["test"], width=2), name="test MSE")
        self.gdp.addItem(self.gd_train)
        self.gdp.addItem(self.gd_test)
        self.gd_range = style.StickyRange(self.gdp)

        right.addWidget(self.deg_w)
        right.addWidget(self.gd_w)
        split.addWidget(self.fit_w)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self._data_id = None
        self._curve_id = None

    def plots(self):
        return {"polynomial_fit": self.fitp, "error_vs_degree": self.degp,
                "gd_error": self.gdp}

    def _render(self, snap):
        d = snap.data
        if d["x_train"] is not self._data_id:
            self._data_id = d["x_train"]
            self.train_pts.setData(d["x_train"], d["y_train"])
            self.test_pts.setData(d["x_test"], d["y_test"])
            self.truth.setData(d["curve_x"], d["truth"])
            self.fitp.setRange(xRange=(-1.05, 1.05), yRange=tuple(d["y_view"]), padding=0)
        if d["train_curve"] is not self._curve_id:
            self._curve_id = d["train_curve"]
            self.train_curve.setData(d["degrees"], d["train_curve"])
            self.test_curve.setData(d["degrees"], d["test_curve"])
            _, (lo, hi) = _log_bounds((d["degrees"], d["train_curve"]),
                                      (d["degrees"], d["test_curve"]))
            pad = 0.08 * (hi - lo)
            self.degp.setRange(xRange=(0.5, 15.5), yRange=(lo - pad, hi + pad), padding=0)
            self.gd_range.reset()
        # A wild high-degree curve leaves the view; clip what is drawn to a band around it so
        # huge values do not cost painting time (the CSV still gets the clipped curve).
        lo, hi = d["y_view"]
        band = 4 * (hi - lo)
        self.fit.setData(d["curve_x"], np.clip(d["fit"], lo - band, hi + band))
        self.gd_fit.setData(d["curve_x"], np.clip(d["gd_fit"], lo - band, hi + band))
        self.deg_line.setValue(float(d["degree"]))
        cur = d["current"]
        self.current.setData(cur[:, 0], np.log10(cur[:, 1]))
        k = d["gd_k"]
        self.gd_train.setData(k, d["gd_train"])
        self.gd_test.setData(k, d["gd_test"])
        (_, x1), yb = _log_bounds((k, d["gd_train"]), (k, d["gd_test"]))
        # At least three decades of steps: fewer would crowd the log axis with minor labels.
        self.gd_range.update((0.0, max(np.log10(x1), 3.0)), yb)


# =============================================================================================
class LogisticPanel(Panel):
    """Draws :class:`engine.labs.linear_models.LogisticLab` snapshots."""

    MAX_CLASSES = 5

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        c = self.colors = _colors()
        fg = style.theme()["foreground"]
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.body.addWidget(split)

        self.main_w = style.make_plot("Class probabilities (click to probe a point)",
                                      "x\u2081", "x\u2082")
        self.main = self.main_w.getPlotItem()
        self.legend = style.add_legend(self.main)
        self.image = pg.ImageItem()
        self.image.setCacheMode(CACHE)
        self.main.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=style.viridis(),
                                        interactive=False, width=12, label="P(y = 1 | x)")
        self.colorbar.setImageItem(self.image, insert_in=self.main)
        # Boundaries are traced on the lab's coarser boundary grid; each isocurve is placed
        # by a transform from grid index to plane coordinates (set with the domain).
        self.bounds = []
        for _ in range(self.MAX_CLASSES):
            iso = pg.IsocurveItem(pen=pg.mkPen(fg, width=2))
            self.main.addItem(iso)
            self.bounds.append(iso)
        self.train_pts, self.test_pts = [], []
        for k in range(self.MAX_CLASSES):
            col = _class_color(k)
            tr = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(col), pen=pg.mkPen("#000000"))
            te = pg.ScatterPlotItem(size=9, symbol="s", brush=pg.mkBrush(col),
                                    pen=pg.mkPen(fg, width=1.5))
            self.main.addItem(tr)
            self.main.addItem(te)
            _named(tr, f"class {k} (train)")
            _named(te, f"class {k} (test)")
            self.train_pts.append(tr)
            self.test_pts.append(te)
        # Legend-only samples for the marker shapes.
        self.test_key = pg.ScatterPlotItem(symbol="s", brush=pg.mkBrush(None),
                                           pen=pg.mkPen(fg, width=1.5))
        self.probe = pg.ScatterPlotItem(symbol="+", size=18, brush=pg.mkBrush("#ff4040"),
                                        pen=pg.mkPen("#ff4040", width=2))
        self.main.addItem(self.probe)
        _named(self.probe, "probe")
        self.boundary_key = pg.PlotCurveItem(pen=pg.mkPen(fg, width=2))

        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.loss_w = style.make_plot("Cross-entropy loss", "step k", "L", log_y=True,
                                      legend=True)
        self.lossp = self.loss_w.getPlotItem()
        self.loss_tr = LogCurve(pen=pg.mkPen(c["train"], width=2), name="train")
        self.loss_te = LogCurve(pen=pg.mkPen(c["test"], width=2), name="test")
        self.lossp.addItem(self.loss_tr)
        self.lossp.addItem(self.loss_te)
        self.loss_range = style.StickyRange(self.lossp)
        self.acc_w = style.make_plot("Accuracy", "step k", "accuracy (%)", legend=True)
        self.accp = self.acc_w.getPlotItem()
        self.acc_tr = pg.PlotCurveItem(pen=pg.mkPen(c["train"], width=2), name="train")
        self.acc_te = pg.PlotCurveItem(pen=pg.mkPen(c["test"], width=2), name="test")
        self.accp.addItem(self.acc_tr)
        self.accp.addItem(self.acc_te)
        self.acc_range = style.StickyRange(self.accp)
        self.bar_w = style.make_plot("Probabilities at the probe point", "class k",
                                     "P(y = k | x)")
        self.barp = self.bar_w.getPlotItem()
        self.bars = pg.BarGraphItem(x=[0], height=[0], width=0.7)
        self.barp.addItem(self.bars)
        self.barp.setRange(yRange=(0, 1.05), padding=0)
        self.barp.getViewBox().setMouseEnabled(False, False)
        for w in (self.loss_w, self.acc_w, self.bar_w):
            right.addWidget(w)
        split.addWidget(self.main_w)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self._data_id = None
        self._K = None
        self._rect = None
        self._iso_placed = False
        self.main.scene().sigMouseClicked.connect(self._clicked)

    def plots(self):
        return {"probabilities": self.main, "loss": self.lossp, "accuracy": self.accp,
                "probe": self.barp}

    def _clicked(self, ev):
        pt = _click_in(self.main, ev)
        if pt is not None:
            lo, hi = -1.5, 1.5
            x, y = float(np.clip(pt.x(), lo, hi)), float(np.clip(pt.y(), lo, hi))
            self.action_requested.emit("probe", {"x": x, "y": y})

    def _set_classes(self, K: int, binary: bool, grid):
        """Colours, legend and bar axis for K classes (only when K changes)."""
        self._K = (K, binary)
        bg = style.theme()["background"]
        if binary:
            # P(y = 1): class-0 colour at 0, dark (unsure) at 1/2, class-1 colour at 1.
            cmap = pg.ColorMap([0.0, 0.5, 1.0], [_mix(_class_color(0), bg, 0.65),
                                                 _mix("#808080", bg, 0.2),
                                                 _mix(_class_color(1), bg, 0.65)])
            levels = (0.0, 1.0)
        else:
            # Band [k, k + 1) for class k: dark when unsure, its colour when certain.
            pos, cols = [], []
            for k in range(K):
                pos += [k / K, (k + 1) / K - 1e-6]
                cols += [_mix(_class_color(k), bg, 0.12), _mix(_class_color(k), bg, 0.65)]
            pos[-1] = 1.0
            cmap = pg.ColorMap(pos, cols)
            levels = (0.0, float(K))
        # The colour bar owns the image's colour map and levels; it is only shown for the
        # binary map, whose values are a probability.
        self.colorbar.setColorMap(cmap)
        self.colorbar.setLevels(levels)
        self.colorbar.setVisible(binary)
        # Pixel centres on the lab's grid points, so colours and boundaries line up.  Placed
        # after the next setImage: setRect scales by the image's size in pixels.
        h = float(grid[1] - grid[0])
        lo, span = float(grid[0]) - h / 2, float(grid[-1] - grid[0]) + h
        self._rect = QtCore.QRectF(lo, lo, span, span)
        self._iso_placed = False
        self.legend.clear()
        for k in range(K):
            self.legend.addItem(self.train_pts[k], f"class {k}")
        self.legend.addItem(self.test_key, "test point")
        self.legend.addItem(self.boundary_key, "decision boundary")
        self.legend.addItem(self.probe, "probe")
        self.barp.getAxis("bottom").setTicks([[(k, str(k)) for k in range(K)]])
        self.barp.setRange(xRange=(-0.6, K - 0.4), padding=0)
        self.barp.setTitle("Sigmoid at the probe point" if binary
                           else "Softmax at the probe point")

    def _render(self, snap):
        d = snap.data
        K, binary = int(d["n_classes"]), bool(d["binary"])
        if self._K != (K, binary):
            self._set_classes(K, binary, d["grid"])
        if d["X_train"] is not self._data_id:
            self._data_id = d["X_train"]
            for k in range(self.MAX_CLASSES):
                for item, X, y in ((self.train_pts[k], d["X_train"], d["y_train"]),
                                   (self.test_pts[k], d["X_test"], d["y_test"])):
                    sel = X[y == k]
                    item.setData(sel[:, 0], sel[:, 1])
            lo, hi = d["domain"]
            self.main.setRange(xRange=(lo, hi), yRange=(lo, hi), padding=0)
            self.loss_range.reset()
            self.acc_range.reset()
        if binary:
            img = d["p1"]
        else:
            # Band k of the colour map is [k, k + 1): class k's colour, darker when unsure.
            # The 5 % margins keep a pixel off its band's edges, where the table's finite
            # resolution would lend it the neighbouring class's colour.
            img = d["pred"] + 0.05 + 0.9 * d["conf"]
        self.image.setImage(img, autoLevels=False)
        if self._rect is not None:
            self.image.setRect(self._rect)
            self._rect = None
        margins = d["margins"]
        if not self._iso_placed:
            g = d["boundary_grid"]
            step = (g[-1] - g[0]) / (len(g) - 1)
            # pg.isocurve puts the value at index i at coordinate i + 1/2 (a pixel centre).
            tr = QtGui.QTransform()
            tr.translate(float(g[0]) - step / 2, float(g[0]) - step / 2)
            tr.scale(step, step)
            for iso in self.bounds:
                iso.setTransform(tr)
            self._iso_placed = True
        for i, iso in enumerate(self.bounds):
            on = i < margins.shape[2]
            iso.setVisible(on)
            if on:
                iso.setData(np.ascontiguousarray(margins[:, :, i]), level=0.0)
        self.probe.setData([d["probe"][0]], [d["probe"][1]])
        p = d["probe_p"]
        self.bars.setOpts(x=np.arange(K), height=p, width=0.7,
                          brushes=[pg.mkBrush(_class_color(k)) for k in range(K)])
        k = d["k"]
        self.loss_tr.set_values(k, d["loss"], log=True)
        self.loss_te.set_values(k, d["test_loss"], log=True)
        self.loss_range.update(*_log_bounds((k, d["loss"]), (k, d["test_loss"])))
        acc_tr, acc_te = 100 * d["acc"], 100 * d["test_acc"]
        self.acc_tr.setData(k, acc_tr)
        self.acc_te.setData(k, acc_te)
        lo = float(min(np.nanmin(acc_tr), np.nanmin(acc_te)))
        self.acc_range.update((float(k[0]), float(k[-1])), (min(lo, 50.0), 100.0))


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview(sys.argv[1] if len(sys.argv) > 1 else "linear_regression"))
