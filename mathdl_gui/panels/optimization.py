"""Optimizer race panel: contour map with racing paths, f - f* and |grad f| against k."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.labs.optimization import RACERS
from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style
from mathdl_gui.widgets.log_curve import LogCurve

N_LEVELS = 14


class OptimizationPanel(Panel):
    """Draws :class:`engine.labs.optimization.OptimizationLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.body.addWidget(split)

        self.main_w = style.make_plot("Optimizer race (click to set the start)", "x", "y")
        self.main = self.main_w.getPlotItem()
        self.legend = style.add_legend(self.main)
        self.main.setAspectLocked(False)
        self.image = pg.ImageItem()
        self.image.setColorMap(style.viridis())
        self.main.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=style.viridis(), interactive=False, width=12,
                                        label="log\u2081\u2080(1 + f \u2212 min f)")
        self.colorbar.setImageItem(self.image, insert_in=self.main)
        self.isos = []
        # The contour background only changes with the function: paint it from pixmap caches
        # (app.make_app raises Qt's pixmap-cache limit so these don't evict each other).
        cache = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache
        self.image.setCacheMode(cache)
        for _ in range(N_LEVELS):
            iso = pg.IsocurveItem(pen=pg.mkPen((255, 255, 255, 70), width=1))
            iso.setParentItem(self.image)
            iso.setCacheMode(cache)
            self.isos.append(iso)
        # 1-D view: the curve and its stationary points.
        self.curve1d = pg.PlotDataItem(pen=pg.mkPen(style.theme()["foreground"], width=2))
        self.main.addItem(self.curve1d)
        self.stat_min = pg.ScatterPlotItem(symbol="t", size=12, brush="#3ecf6a")
        self.stat_max = pg.ScatterPlotItem(symbol="t1", size=12, brush="#e0533d")
        self.main.addItem(self.stat_min)
        self.main.addItem(self.stat_max)
        self.minima = pg.ScatterPlotItem(symbol="star", size=16, brush="#ffffff",
                                         pen=pg.mkPen("#000000"))
        self.start = pg.ScatterPlotItem(symbol="x", size=14, brush="#ff4040",
                                        pen=pg.mkPen("#ff4040", width=2))
        self.main.addItem(self.minima)
        self.main.addItem(self.start)
        # Names for CSV export, set after adding so the legend (managed below) stays ours.
        for item, name in ((self.curve1d, "f(x)"), (self.stat_min, "local min"),
                           (self.stat_max, "local max"), (self.minima, "minimum"),
                           (self.start, "start")):
            item.opts["name"] = name

        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.fplot_w = style.make_plot("Objective gap", "iteration k",
                                       "f(x\u2096) \u2212 f*", log_y=True, legend=False)
        self.gplot_w = style.make_plot("Gradient norm", "iteration k",
                                       "\u2016\u2207f(x\u2096)\u2016",
                                       log_y=True)
        self.fplot, self.gplot = self.fplot_w.getPlotItem(), self.gplot_w.getPlotItem()
        self.franges, self.granges = style.StickyRange(self.fplot), style.StickyRange(self.gplot)
        right.addWidget(self.fplot_w)
        right.addWidget(self.gplot_w)
        split.addWidget(self.main_w)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        # Light items on purpose: PlotCurveItem for the paths, one scatter for all current
        # points, no antialiasing on the side curves; render + paint must fit in a 60 Hz frame.
        self.paths, self.fcurves, self.gcurves, self.colors = {}, {}, {}, {}
        for i, (key, label) in enumerate(RACERS.items()):
            color = self.colors[key] = style.series_color(key, i)
            self.paths[key] = pg.PlotCurveItem(pen=pg.mkPen(color, width=2), connect="finite")
            self.fcurves[key] = LogCurve(pen=pg.mkPen(color, width=1.5), name=label,
                                         connect="finite", antialias=False)
            self.gcurves[key] = LogCurve(pen=pg.mkPen(color, width=1.5), name=label,
                                         connect="finite", antialias=False)
            self.main.addItem(self.paths[key])
            self.paths[key].opts["name"] = label  # named after adding: the legend is ours
            self.fplot.addItem(self.fcurves[key])
            self.gplot.addItem(self.gcurves[key])
        self.heads = pg.ScatterPlotItem(pen=pg.mkPen("#000000", width=1))
        self.main.addItem(self.heads)
        self.heads.opts["name"] = "current points"
        self._head = {}  # racer -> (x, y, stopped) of its current point
        self._grid_id = None
        self._legend_key = None
        self._gap_label = None
        self._drawn = {}  # racer -> what was last drawn, to skip racers that have stopped
        self.main.scene().sigMouseClicked.connect(self._clicked)

    def plots(self):
        return {"race": self.main, "objective": self.fplot, "gradient_norm": self.gplot}

    # -- interaction ----------------------------------------------------------------------------
    def _clicked(self, ev):
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or ev.double():
            return
        vb = self.main.vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        pt = vb.mapSceneToView(ev.scenePos())
        self.action_requested.emit("set_start", {"x": float(pt.x()), "y": float(pt.y())})

    # -- drawing --------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        dim = d["dim"]
        if d["grid_z"] is not self._grid_id:
            self._grid_id = d["grid_z"]
            self._draw_background(d)
        order = set(d["order"])
        self._update_legend(dim, d["order"])
        for key in RACERS:
            on = key in order
            for item in (self.paths[key], self.fcurves[key], self.gcurves[key]):
                item.setVisible(on)
            if not on:
                self._head.pop(key, None)
                continue
            r = d["racers"][key]
            stamp = (id(d["grid_z"]), len(r["k"]), r["k"][-1], d["status"][key])
            if self._drawn.get(key) == stamp:
                continue  # a stopped racer: nothing new to draw
            self._drawn[key] = stamp
            path = r["path"]
            xs, ys = (path[:, 0], path[:, 1]) if dim == 2 else (path[:, 0], r["f"])
            self.paths[key].setData(xs, ys)
            # A stopped racer keeps a cross at its last finite point (diverged or escaped).
            finite = np.flatnonzero(np.isfinite(xs) & np.isfinite(ys))
            if finite.size:
                i = finite[-1]
                self._head[key] = (xs[i], ys[i], d["status"][key] in ("diverged", "escaped"))
            self.fcurves[key].set_values(r["k"], r["gap"], log=bool(d["gap_log"]))
            self.gcurves[key].set_values(r["k"], r["grad_norm_plot"], log=True)
        heads = [(k, *self._head[k]) for k in d["order"] if k in self._head]
        self.heads.setData(x=[h[1] for h in heads], y=[h[2] for h in heads],
                           brush=[self.colors[h[0]] for h in heads],
                           symbol=["x" if h[3] else "o" for h in heads],
                           size=[16 if h[3] else 11 for h in heads])
        log = bool(d["gap_log"])
        if log != self.fplot.getAxis("left").logMode:
            self.fplot.setLogMode(y=log)
            self.franges.reset()
            self._drawn.clear()  # redraw every curve in the new scale next frame
        if d["gap_label"] != self._gap_label:  # a new label re-renders the axis: only on change
            self._gap_label = d["gap_label"]
            self.fplot.setLabel("left", self._gap_label)
        # Fit the axes to the racers still in play: one diverged racer at 1e89 would
        # flatten everyone else's curve into a line.
        shown = [k for k in d["order"] if d["status"][k] not in ("diverged", "escaped")]
        shown = shown or list(d["order"])
        self.franges.update(*_bounds([self.fcurves[k] for k in shown], log))
        self.granges.update(*_bounds([self.gcurves[k] for k in shown], True))

    def _update_legend(self, dim, order):
        """List what is on the plot now: the racers in the race, and the markers of this view."""
        key = (dim, tuple(order))
        if key == self._legend_key:
            return
        self._legend_key = key
        self.legend.clear()
        if dim == 1:
            self.legend.addItem(self.curve1d, "f(x)")
            self.legend.addItem(self.stat_min, "local min")
            self.legend.addItem(self.stat_max, "local max")
        else:
            self.legend.addItem(self.minima, "minimum")
        self.legend.addItem(self.start, "start")
        for k in order:
            self.legend.addItem(self.paths[k], RACERS[k])

    def _draw_background(self, d):
        self._drawn.clear()
        self._head.clear()
        self.franges.reset()
        self.granges.reset()
        (x0, x1), *rest = d["bounds"]
        self.start.setData([d["start"][0]], [d["start"][1] if d["dim"] == 2 else d["start_f"]])
        if d["dim"] == 2:
            (y0, y1) = rest[0]
            disp = d["grid_display"]
            # Row-major image: rows are y, columns x; the lab's grid is z[i, j] = f(x_i, y_j).
            img = np.ascontiguousarray(disp.T)
            self.image.setImage(img, autoLevels=False)
            lo, hi = float(disp.min()), float(disp.max())
            self.image.setLevels((lo, hi))
            self.colorbar.setLevels((lo, hi))
            self.image.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
            levels = np.linspace(lo, hi, N_LEVELS + 2)[1:-1]
            for iso, lvl in zip(self.isos, levels):
                iso.setData(img, level=float(lvl))
            self.image.setVisible(True)
            self.colorbar.setVisible(True)
            self.curve1d.setVisible(False)
            self.stat_min.setData([], [])
            self.stat_max.setData([], [])
            m = d["minima"]
            self.minima.setData(m[:, 0], m[:, 1])
            self.main.setLabel("left", "y")
            self.main.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        else:
            self.image.setVisible(False)
            self.colorbar.setVisible(False)
            self.curve1d.setVisible(True)
            self.curve1d.setData(d["grid_x"], d["grid_z"])
            st, kinds = d["stationary"], d["stationary_kind"]
            mins = np.array([k == "min" for k in kinds], dtype=bool)
            self.stat_min.setData(st[mins, 0], st[mins, 1])
            self.stat_max.setData(st[~mins, 0], st[~mins, 1])
            self.minima.setData([], [])
            self.main.setLabel("left", "f(x)")
            # Show the curve's interesting part, and the start point even when it sits high.
            z = d["grid_z"]
            top = max(float(np.percentile(z, 90)), float(d["start_f"]))
            self.main.setRange(xRange=(x0, x1), yRange=(float(z.min()), top), padding=0.05)


def _bounds(curves, log_y: bool):
    """(x range, y range) of what the curves show, in view coordinates (log10 on log axes)."""
    xs, ys = [], []
    for c in curves:
        x, y = c.getOriginalDataset()
        if x is None or len(x) == 0:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log10(y) if log_y else np.asarray(y)
        y = y[np.isfinite(y)]
        xs += [x[0], x[-1]]
        if y.size:
            ys += [y.min(), y.max()]
    if not xs or not ys:
        return (0.0, 1.0), (0.0, 1.0)
    return (min(xs), max(xs)), (min(ys), max(ys))


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview("optimization"))
