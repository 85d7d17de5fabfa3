"""Image GAN panel: the fixed-noise 8x8 sample grid, real digits to compare, an interpolation
strip between two noise vectors (buttons re-draw either end), the losses, D(real) / D(fake)
and histograms of D's output on real and generated digits."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style
from mathdl_gui.widgets.mosaic import mosaic

GRAY = "CET-L1"
GAP = 1
INTERP_COLS = 5


def _image_plot(title: str, tip: str = ""):
    w = style.make_plot(title, "", "")
    if tip:
        w.setToolTip(tip)
    p = w.getPlotItem()
    for ax in ("left", "bottom"):
        p.hideAxis(ax)
    p.setMouseEnabled(False, False)
    p.hideButtons()
    p.invertY(True)
    p.setAspectLocked(True)
    img = pg.ImageItem()
    img.setColorMap(pg.colormap.get(GRAY))
    p.addItem(img)
    return w, p, img


class ImageGANPanel(Panel):
    """Draws :class:`engine.labs.image_gan.ImageGANLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        top, bottom = self.two_rows(3, 2)

        self.samples_w, self.samples, self.samples_img = _image_plot(
            "Generated digits G(z), fixed noise",
            "The same 64 noise vectors every frame, so each tile shows one sample improving.")
        top.addWidget(self.samples_w)

        right = QtWidgets.QWidget()
        rv = QtWidgets.QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        self.real_w, self.real, self.real_img = _image_plot("Real digits")
        self.interp_w, self.interp, self.interp_img = _image_plot(
            "Interpolation",
            "Generated images along a path between two noise vectors (read left to right, "
            "top row first).")
        row = QtWidgets.QHBoxLayout()
        self.btn_start = QtWidgets.QPushButton("New start point")
        self.btn_start.setToolTip("Draw a new noise vector for the first image of the strip.")
        self.btn_start.clicked.connect(lambda: self.action_requested.emit("new_start", {}))
        self.btn_end = QtWidgets.QPushButton("New end point")
        self.btn_end.setToolTip("Draw a new noise vector for the last image of the strip.")
        self.btn_end.clicked.connect(lambda: self.action_requested.emit("new_end", {}))
        row.addWidget(self.btn_start)
        row.addWidget(self.btn_end)
        rv.addWidget(self.real_w, 1)
        rv.addWidget(self.interp_w, 1)
        rv.addLayout(row)
        top.addWidget(right)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)

        fake_pen = pg.mkPen(style.series_color("generated"), width=2)
        real_pen = pg.mkPen(style.series_color("real"), width=2)
        self.loss_w = style.make_plot("Losses", "step", "loss", legend=True)
        self.loss = self.loss_w.getPlotItem()
        self.loss_d = self.loss.plot(pen=pg.mkPen(style.series_color("gan_d", 0), width=2),
                                     name="L_D")
        self.loss_g = self.loss.plot(pen=pg.mkPen(style.series_color("gan_g", 2), width=2),
                                     name="L_G")
        self.loss_eq = pg.InfiniteLine(pos=2 * np.log(2), angle=0, movable=False,
                                       pen=pg.mkPen(style.theme()["foreground"], width=1,
                                                    style=pg.QtCore.Qt.PenStyle.DashLine),
                                       label="2 log 2", labelOpts={"position": 0.1})
        self.loss.addItem(self.loss_eq)

        self.dout_w = style.make_plot("Discriminator", "step", "mean D(x)", legend=True)
        self.dout = self.dout_w.getPlotItem()
        self.dout.setYRange(0, 1.02)
        self.d_real = self.dout.plot(pen=real_pen, name="D(real)")
        self.d_fake = self.dout.plot(pen=fake_pen, name="D(fake)")
        self.d_acc = self.dout.plot(pen=pg.mkPen(style.theme()["foreground"], width=1.5,
                                                 style=pg.QtCore.Qt.PenStyle.DotLine),
                                    name="D accuracy")

        self.hist_w = style.make_plot("D(x) on fresh images", "D(x)", "count", legend=True)
        self.hist = self.hist_w.getPlotItem()
        self.hist.setXRange(0, 1)
        real_fill, fake_fill = pg.mkColor(style.series_color("real")), \
            pg.mkColor(style.series_color("generated"))
        real_fill.setAlpha(110)
        fake_fill.setAlpha(110)
        self.h_real = self.hist.plot(stepMode="center", fillLevel=0, brush=real_fill,
                                     pen=real_pen, name="real")
        self.h_fake = self.hist.plot(stepMode="center", fillLevel=0, brush=fake_fill,
                                     pen=fake_pen, name="generated")
        for w in (self.loss_w, self.dout_w, self.hist_w):
            bottom.addWidget(w)

    def plots(self):
        return {"samples": self.samples, "real": self.real, "interpolation": self.interp,
                "losses": self.loss, "discriminator": self.dout, "d_histogram": self.hist}

    def _render(self, snap):
        d = snap.data
        samples = np.asarray(d["samples"])
        cols = int(np.ceil(np.sqrt(len(samples))))
        self.samples_img.setImage(mosaic(samples, cols, normalise=False, gap=GAP),
                                  levels=(0, 1))
        real = np.asarray(d["real"])
        self.real_img.setImage(mosaic(real, int(np.ceil(np.sqrt(len(real)))), normalise=False,
                                      gap=GAP), levels=(0, 1))
        self.interp_img.setImage(mosaic(np.asarray(d["interp_images"]), INTERP_COLS,
                                        normalise=False, gap=GAP), levels=(0, 1))
        self.samples.setTitle(f"Generated digits G(z), fixed noise (step {snap.step:,})")
        c = d["curves"]
        self.loss_d.setData(c["step"], c["loss_d"])
        self.loss_g.setData(c["step"], c["loss_g"])
        self.d_real.setData(c["step"], c["d_real"])
        self.d_fake.setData(c["step"], c["d_fake"])
        self.d_acc.setData(c["step"], c["d_accuracy"])
        h = d["d_hist"]
        self.h_real.setData(h["edges"], h["real"])
        self.h_fake.setData(h["edges"], h["fake"])
