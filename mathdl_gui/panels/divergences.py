"""Divergences panel: the book's parallel lines and two Gaussians with the optimal discriminator.

Top: P and Q_theta as samples on two vertical segments joined by the optimal assignment's
pairs, and KL / reverse KL / JS / W1 against theta with the current theta marked.  Bottom: the
two Gaussian densities with D*(x), and KL / JS / W1 as the generated Gaussian slides.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style

KL_COLOR, KLR_COLOR, JS_COLOR, W_COLOR = "#cc79a7", "#f0e442", "#009e73", "#e69f00"
DOT, DASH = QtCore.Qt.PenStyle.DotLine, QtCore.Qt.PenStyle.DashLine


class DivergencePanel(Panel):
    """Draws :class:`engine.labs.divergences.DivergenceLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        top, bottom = self.two_rows(1, 1)
        real, fake = style.series_color("real"), style.series_color("generated")

        # -- parallel lines ----------------------------------------------------------------------
        self.pq_w = style.make_plot("P = {0}\u00d7U(0,1) and Q = {\u03b8}\u00d7U(0,1)",
                                    "x\u2081", "x\u2082", legend=True)
        self.pq = self.pq_w.getPlotItem()
        self.links = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen((200, 200, 200, 90),
                                                                    width=1))
        self.pq.addItem(self.links)
        self.p_pts = self.pq.plot(pen=None, symbol="o", symbolSize=5, symbolBrush=real,
                                  symbolPen=None, name="P (real)")
        self.q_pts = self.pq.plot(pen=None, symbol="o", symbolSize=5, symbolBrush=fake,
                                  symbolPen=None, name="Q\u03b8 (generated)")
        self.pq.setRange(xRange=(-2.3, 2.3), yRange=(-0.1, 1.1), padding=0)
        top.addWidget(self.pq_w)

        self.th_w = style.make_plot("Divergences of P and Q\u03b8", "\u03b8", "value",
                                    legend=True)
        self.th = self.th_w.getPlotItem()
        self.c_kl = self.th.plot(pen=pg.mkPen(KL_COLOR, width=5), name="KL(P\u2016Q) (\u221e "
                                                                    "drawn at the top)")
        self.c_klr = self.th.plot(pen=pg.mkPen(KLR_COLOR, width=2, style=DASH),
                                  name="KL(Q\u2016P)")
        self.c_js = self.th.plot(pen=pg.mkPen(JS_COLOR, width=2), name="JS")
        self.c_w = self.th.plot(pen=pg.mkPen(W_COLOR, width=2), name="W\u2081 = |\u03b8|")
        fg = style.theme()["foreground"]
        self.th_mark = pg.InfiniteLine(angle=90, pen=pg.mkPen(fg, width=1, style=DOT))
        self.th.addItem(self.th_mark)
        self.inf_text = pg.TextItem("KL = \u221e", color=KL_COLOR, anchor=(0, 1))
        self.th.addItem(self.inf_text)
        self.log2 = pg.InfiniteLine(pos=np.log(2), angle=0, label="log 2",
                                    labelOpts={"position": 0.1, "color": JS_COLOR},
                                    pen=pg.mkPen(JS_COLOR, width=1,
                                                 style=DOT))
        self.th.addItem(self.log2)
        top.addWidget(self.th_w)

        # -- Gaussians ---------------------------------------------------------------------------
        self.g_w = style.make_plot("p\u1d63, p_g and the optimal discriminator D*", "x",
                                   "density / D*", legend=True)
        self.g = self.g_w.getPlotItem()
        self.c_pr = self.g.plot(pen=pg.mkPen(real, width=2), name="p\u1d63 (real)",
                                fillLevel=0, brush=pg.mkBrush(real + "40"))
        self.c_pg = self.g.plot(pen=pg.mkPen(fake, width=2), name="p_g (generated)",
                                fillLevel=0, brush=pg.mkBrush(fake + "40"))
        self.c_ds = self.g.plot(pen=pg.mkPen(style.theme()["foreground"], width=2,
                                             style=DASH),
                                name="D*(x) = p\u1d63/(p\u1d63+p_g)")
        self.g.setRange(xRange=(-7, 7), yRange=(0, 1.05), padding=0)
        bottom.addWidget(self.g_w)

        self.s_w = style.make_plot("As p_g slides: JS levels off, W\u2081 keeps growing",
                                   "\u03bc_g", "value", legend=True)
        self.s = self.s_w.getPlotItem()
        self.s_kl = self.s.plot(pen=pg.mkPen(KL_COLOR, width=2), name="KL(p\u1d63\u2016p_g)")
        self.s_js = self.s.plot(pen=pg.mkPen(JS_COLOR, width=2), name="JS")
        self.s_w1 = self.s.plot(pen=pg.mkPen(W_COLOR, width=2), name="W\u2081")
        self.s_mark = pg.InfiniteLine(angle=90, pen=pg.mkPen(fg, width=1, style=DOT))
        self.s.addItem(self.s_mark)
        self.s.addItem(pg.InfiniteLine(pos=np.log(2), angle=0, pen=pg.mkPen(
            JS_COLOR, width=1, style=DOT)))
        self.s.setRange(yRange=(0, 6.5), padding=0.02)
        bottom.addWidget(self.s_w)
        self._cap = None

    def plots(self):
        return {"parallel_lines": self.pq, "divergences_vs_theta": self.th,
                "gaussians": self.g, "divergences_vs_mu": self.s}

    def _render(self, snap):
        d = snap.data
        P, Q, links = d["P"], d["Q"], d["links"]
        self.p_pts.setData(P[:, 0], P[:, 1])
        self.q_pts.setData(Q[:, 0], Q[:, 1])
        seg = links.reshape(-1, 2)
        self.links.setData(seg[:, 0], seg[:, 1])
        c = d["theta_curves"]
        self.c_kl.setData(c["theta"], c["kl"])
        self.c_klr.setData(c["theta"], c["kl"])
        self.c_js.setData(c["theta"], c["js"])
        self.c_w.setData(c["theta"], c["w1"])
        theta = snap.scalars["theta"]
        self.th_mark.setPos(theta)
        cap = float(d["kl_cap"])
        if cap != self._cap:
            self._cap = cap
            self.inf_text.setPos(-1.9, cap)
            self.th.setRange(xRange=(-2.05, 2.05), yRange=(-0.05, cap + 1.3), padding=0)
        self.c_pr.setData(d["x"], d["p_r"])
        self.c_pg.setData(d["x"], d["p_g"])
        self.c_ds.setData(d["x"], d["d_star"])
        sw = d["sweep"]
        self.s_kl.setData(sw["mu_g"], sw["kl"])
        self.s_js.setData(sw["mu_g"], sw["js"])
        self.s_w1.setData(sw["mu_g"], sw["w1"])
        self.s_mark.setPos(float(sw["current"]))


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview("divergences"))
