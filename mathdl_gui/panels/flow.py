"""Flow panel: learned density with data and samples, the base Gaussian undone layer by layer,
and the NLL against the best single Gaussian."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style

MAX_STAGES = 5   # columns of the warp strip (the first, some middle ones, the last)
LOG_SPAN = 6.0   # the density map shows log p(x) over this many nats below its peak


class FlowPanel(Panel):
    """Draws :class:`engine.labs.flow.FlowLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        bar = QtWidgets.QHBoxLayout()
        self.btn_clear = QtWidgets.QPushButton("Clear drawn points")
        self.btn_clear.clicked.connect(lambda: self.action_requested.emit("clear_points", {}))
        hint = QtWidgets.QLabel("Drag on the density plot to draw your own target points.")
        bar.addWidget(self.btn_clear)
        bar.addWidget(hint, 1)
        self.body.addLayout(bar)
        top, bottom = self.two_rows(3, 2)  # density | NLL over the layer-by-layer strip

        self.dens_w = style.make_plot("Learned density: log p(x)", "x\u2081", "x\u2082")
        self.dens = self.dens_w.getPlotItem()
        self.dens.setAspectLocked(True)
        self.dens.setMouseEnabled(False, False)
        self.image = pg.ImageItem()
        self.image.setColorMap(style.viridis())
        self.dens.addItem(self.image)
        real, fake = pg.mkColor(style.series_color("real")), \
            pg.mkColor(style.series_color("generated"))
        real.setAlpha(110)
        fake.setAlpha(150)
        self.data_pts = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(real))
        self.sample_pts = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(fake))
        self.dens.addItem(self.data_pts)
        self.dens.addItem(self.sample_pts)
        legend = style.add_legend(self.dens)
        legend.addItem(self.data_pts, "data")
        legend.addItem(self.sample_pts, "samples x = g\u207b\u00b9(z)")
        self.data_pts.opts["name"], self.sample_pts.opts["name"] = "data", "samples"
        top.addWidget(self.dens_w)
        self._stroke: list = []
        self.dens.vb.mouseDragEvent = self._drag

        self.warp_w = pg.GraphicsLayoutWidget()
        self.warp_w.setBackground(style.theme()["background"])
        self.warp_plots, self.warp_pts = [], []
        bottom.addWidget(self.warp_w)
        self._n_stages = None

        self.nll_w = style.make_plot("Negative log-likelihood", "step", "NLL (nats)",
                                     legend=True)
        self.nll = self.nll_w.getPlotItem()
        self.c_train = self.nll.plot(pen=pg.mkPen(style.series_color("train"), width=2),
                                     name="train")
        self.c_test = self.nll.plot(pen=pg.mkPen(style.series_color("test"), width=2),
                                    name="test")
        self.gauss = pg.InfiniteLine(angle=0, pen=pg.mkPen(style.theme()["foreground"],
                                                           style=QtCore.Qt.PenStyle.DashLine))
        self.nll.addItem(self.gauss)
        self.nll.legend.addItem(pg.PlotDataItem(pen=self.gauss.pen), "best single Gaussian")
        top.addWidget(self.nll_w)

    def plots(self):
        out = {"density": self.dens, "nll": self.nll}
        out.update({f"warp_{i}": p for i, p in enumerate(self.warp_plots)})
        return out

    # -- drawing --------------------------------------------------------------------------------
    def _drag(self, ev):
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = self.dens.vb.mapSceneToView(ev.scenePos())
        self._stroke.append((float(p.x()), float(p.y())))
        if ev.isFinish():
            self.send_stroke()

    def send_stroke(self):
        if self._stroke:
            self.action_requested.emit("add_points", {"points": list(self._stroke)})
        self._stroke = []

    # -- rendering ------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        ax = d["axis"]
        lo, span = float(ax[0]), float(ax[-1] - ax[0])
        logp = d["log_density"]
        top = float(np.nanmax(logp))
        self.image.setImage(logp, levels=(top - LOG_SPAN, top))
        self.image.setRect(QtCore.QRectF(lo, lo, span, span))
        self.data_pts.setData(d["train"][:, 0], d["train"][:, 1])
        self.sample_pts.setData(d["samples"][:, 0], d["samples"][:, 1])
        self.dens.setRange(xRange=(lo, lo + span), yRange=(lo, lo + span), padding=0)
        self._draw_warp(d["stages"])
        c = d["curves"]
        self.c_train.setData(c["step"], c["train_nll"])
        self.c_test.setData(c["step"], c["test_nll"])
        if np.isfinite(d["gauss_nll"]):
            self.gauss.setValue(d["gauss_nll"])

    def _draw_warp(self, stages):
        n = len(stages)
        pick = np.unique(np.linspace(0, n - 1, min(n, MAX_STAGES)).round().astype(int))
        if self._n_stages != (n, tuple(pick)):
            self._n_stages = (n, tuple(pick))
            self.warp_w.clear()
            self.warp_plots, self.warp_pts = [], []
            for col, i in enumerate(int(i) for i in pick):
                title = "z ~ N(0, I)" if i == 0 else (
                    "x (all undone)" if i == n - 1 else f"{i} layer{'s' if i > 1 else ''} undone")
                p = self.warp_w.addPlot(row=0, col=col, title=title)
                p.setMouseEnabled(False, False)
                p.hideButtons()
                sp = pg.ScatterPlotItem(size=3, pen=None)
                p.addItem(sp)
                self.warp_plots.append(p)
                self.warp_pts.append(sp)
        # Colour every point by its angle in z, so one can follow points through the layers.
        z = stages[0]
        hue = (np.arctan2(z[:, 1], z[:, 0]) / (2 * np.pi)) % 1.0
        brushes = [pg.mkBrush(pg.hsvColor(h, 0.8, 0.95)) for h in hue]
        for sp, i in zip(self.warp_pts, self._n_stages[1]):
            s = stages[i]
            sp.setData(s[:, 0], s[:, 1], brush=brushes)
