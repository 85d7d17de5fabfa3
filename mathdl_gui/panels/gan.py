"""GAN panel: real and generated samples over the discriminator's map, the generator's warped
noise grid, the generator's push on each fake, both losses and the mode-coverage count.

With "Draw target" checked, dragging on the plane draws a stroke that becomes (part of) the
target distribution; "Step D" / "Step G" run one discriminator / generator update.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style

GRID_PEN = (235, 235, 235, 130)
ARROW_PEN = (255, 255, 255, 200)
CENTER_COLOR = "#f0e442"
_TITLES = {"probability": "Samples over D(x) = P(real | x)",
           "critic": "Samples over the critic's value D(x)"}


class GANPanel(Panel):
    """Draws :class:`engine.labs.gan.GANLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        bar = QtWidgets.QHBoxLayout()
        self.btn_draw = QtWidgets.QPushButton("\u270e Draw target")
        self.btn_draw.setCheckable(True)
        self.btn_draw.setToolTip("While checked, drag on the plane to draw strokes: they become "
                                 "the target distribution (the run restarts).")
        self.btn_clear = QtWidgets.QPushButton("Clear drawing")
        self.btn_clear.setToolTip("Remove every drawn stroke.")
        self.btn_step_d = QtWidgets.QPushButton("Step D")
        self.btn_step_d.setToolTip("One discriminator (critic) update now.")
        self.btn_step_g = QtWidgets.QPushButton("Step G")
        self.btn_step_g.setToolTip("One generator update now.")
        self.btn_clear.clicked.connect(lambda: self.action_requested.emit("clear_drawn", {}))
        self.btn_step_d.clicked.connect(lambda: self.action_requested.emit("step_d", {}))
        self.btn_step_g.clicked.connect(lambda: self.action_requested.emit("step_g", {}))
        for w in (self.btn_draw, self.btn_clear, self.btn_step_d, self.btn_step_g):
            bar.addWidget(w)
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        bar.addWidget(self.status, 1)
        self.body.addLayout(bar)

        top, bottom = self.two_rows(3, 2)
        real, fake = style.series_color("real"), style.series_color("generated")

        # -- the plane ---------------------------------------------------------------------------
        self.main_w = style.make_plot(_TITLES["critic"], "x\u2081", "x\u2082")
        self.main = self.main_w.getPlotItem()
        self.main.setAspectLocked(True)
        self._kind = "critic"
        self.image = pg.ImageItem()
        self.image.setColorMap(style.viridis())
        self.image.setOpacity(0.85)
        self.main.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=style.viridis(), interactive=False, width=12,
                                        label="critic D(x)")
        self.colorbar.setImageItem(self.image, insert_in=self.main)
        self.grid = pg.PlotCurveItem(pen=pg.mkPen(GRID_PEN, width=1))
        self.main.addItem(self.grid)
        # Real samples are drawn last (on top, slightly see-through): once the generator is
        # good its samples sit right on them, and the target must stay visible.
        self.real_pts = pg.ScatterPlotItem(size=6, brush=pg.mkBrush(real + "d0"),
                                           pen=pg.mkPen("#101010", width=0.5))
        self.fake_pts = pg.ScatterPlotItem(size=5, brush=pg.mkBrush(fake),
                                           pen=pg.mkPen("#101010", width=0.5))
        self.arrows = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(ARROW_PEN, width=1.2))
        self.tips = pg.ScatterPlotItem(size=4, brush=pg.mkBrush(ARROW_PEN), pen=None)
        self.centers = pg.ScatterPlotItem(size=11, symbol="+", brush=pg.mkBrush(CENTER_COLOR),
                                          pen=pg.mkPen(CENTER_COLOR, width=1))
        self.stroke = pg.PlotCurveItem(pen=pg.mkPen("#ffffff", width=2))
        for item in (self.fake_pts, self.arrows, self.tips, self.real_pts, self.centers,
                     self.stroke):
            self.main.addItem(item)
        legend = style.add_legend(self.main)
        legend.addItem(self.real_pts, "real x ~ p\u1d63")
        legend.addItem(self.fake_pts, "generated G(z)")
        legend.addItem(self.arrows, "\u2212\u2207\u2093L_G (push on fakes)")
        legend.addItem(self.grid, "G(z) on a z-grid")
        legend.addItem(self.centers, "mode centres")
        self.real_pts.opts["name"], self.fake_pts.opts["name"] = "real", "generated"
        self.arrows.opts["name"], self.grid.opts["name"] = "push", "noise_grid"
        top.addWidget(self.main_w)
        self._extent = None

        # -- curves ------------------------------------------------------------------------------
        self.loss_w = style.make_plot("Losses", "updates (D and G)", "loss", legend=True)
        self.loss = self.loss_w.getPlotItem()
        self.c_d = self.loss.plot(pen=pg.mkPen(real, width=1.5), name="L_D (discriminator)")
        self.c_g = self.loss.plot(pen=pg.mkPen(fake, width=1.5), name="L_G (generator)")
        self.cov_w = style.make_plot("Modes covered", "updates (D and G)", "modes",
                                     legend=True)
        self.cov = self.cov_w.getPlotItem()
        self.c_cov = self.cov.plot(pen=pg.mkPen(style.series_color("val"), width=2),
                                   symbol="o", symbolSize=4,
                                   symbolBrush=style.series_color("val"), name="modes covered")
        self._cov_title = ""
        bottom.addWidget(self.loss_w)
        bottom.addWidget(self.cov_w)

        # Drawing: while "Draw target" is checked, drags on the plane are strokes, not pans.
        self._points: list[tuple[float, float]] = []
        self._drawing = False
        self.main_w.viewport().installEventFilter(self)

    def plots(self):
        return {"samples": self.main, "losses": self.loss, "coverage": self.cov}

    # -- drawing ---------------------------------------------------------------------------------
    def eventFilter(self, obj, ev):
        if not self.btn_draw.isChecked():
            return False
        t = ev.type()
        E = QtCore.QEvent.Type
        if t == E.MouseButtonPress and ev.button() == QtCore.Qt.MouseButton.LeftButton:
            self._drawing = True
            self._points = [self._to_view(ev.position())]
            return True
        if t == E.MouseMove and self._drawing:
            self._points.append(self._to_view(ev.position()))
            xy = np.asarray(self._points)
            self.stroke.setData(xy[:, 0], xy[:, 1])
            return True
        if t == E.MouseButtonRelease and self._drawing:
            self._drawing = False
            self._points.append(self._to_view(ev.position()))
            self.finish_stroke()
            return True
        return False

    def _to_view(self, pos) -> tuple[float, float]:
        scene = self.main_w.mapToScene(pos.toPoint())
        pt = self.main.vb.mapSceneToView(scene)
        return float(pt.x()), float(pt.y())

    def finish_stroke(self) -> None:
        """Send the stroke drawn so far (clipped to the plane) as ``add_target_points``."""
        xy = np.asarray(self._points, float).reshape(-1, 2)
        self._points = []
        self.stroke.setData([], [])
        if self._extent is not None:
            xy = xy[(np.abs(xy) <= self._extent).all(1)]
        if len(xy):
            self.action_requested.emit("add_target_points", {"points": xy.tolist()})

    # -- rendering -------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        ext = float(d["extent"])
        kind = d["field_kind"]
        if kind != self._kind:
            self._kind = kind
            self.main.setTitle(_TITLES[kind])
            self.colorbar.getAxis("left").setLabel(
                "P(real)" if kind == "probability" else "critic D(x)")
        field = d["field"]
        if kind == "probability":
            lo, hi = 0.0, 1.0
        else:
            finite = field[np.isfinite(field)]         # a diverged critic can give inf/NaN
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1, 1)
            if hi - lo < 1e-9:
                lo, hi = lo - 1.0, hi + 1.0
        self.image.setImage(field, levels=(lo, hi))
        self.colorbar.setLevels((lo, hi))
        if ext != self._extent:
            self._extent = ext
            self.image.setRect(QtCore.QRectF(-ext, -ext, 2 * ext, 2 * ext))
            self.main.setRange(xRange=(-ext, ext), yRange=(-ext, ext), padding=0)
        g = d["grid"]                                   # (lines, points, 2)
        connect = np.ones(g.shape[:2], bool)
        connect[:, -1] = False                          # no segment from one line to the next
        self.grid.setData(g[..., 0].ravel(), g[..., 1].ravel(), connect=connect.ravel())
        self.real_pts.setData(d["real"][:, 0], d["real"][:, 1])
        self.fake_pts.setData(d["fake"][:, 0], d["fake"][:, 1])
        seg = d["arrows"].reshape(-1, 2)
        self.arrows.setData(seg[:, 0], seg[:, 1])
        self.tips.setData(d["arrows"][:, 1, 0], d["arrows"][:, 1, 1])
        c = d["centers"]
        self.centers.setData(c[:, 0], c[:, 1])
        curves = d["curves"]
        self.c_d.setData(curves["d"][0], curves["d"][1])
        self.c_g.setData(curves["g"][0], curves["g"][1])
        cov = curves["coverage"]
        self.c_cov.setData(cov[0], cov[1])
        s = snap.scalars
        if "modes_covered" in s:
            k = int(s["modes_total"])
            self.cov.setYRange(0, k + 0.5, padding=0)
            title = (f"Modes covered: {int(s['modes_covered'])} / {k} now, "
                     f"{s['high_quality']:.0%} of samples within 3\u03c3")
        else:
            title = "Modes covered (counted for the ring and grid targets)"
        if title != self._cov_title:            # re-render the title only when it changes
            self._cov_title = title
            self.cov.setTitle(title)
        nxt = "D" if d["next"] == "D" else "G"
        self.status.setText(f"D updates {int(s['d_updates']):,}, G updates "
                            f"{int(s['g_updates']):,}; next sub-update: {nxt}. Longest push "
                            f"|\u2207\u2093L_G| = {s['max_push']:.3g}")


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview("gan"))
