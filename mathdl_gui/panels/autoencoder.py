"""Autoencoder panel: the 2-D latent scatter by digit class, the decoded grid over the latent
plane, the digit decoded at (z1, z2), reconstructions (noisy / output / clean), an
interpolation strip, the ELBO terms and the latent accuracy.

Clicking either latent plot asks the lab to decode that point (action ``set_latent``); the
button under the interpolation strip asks for another pair of digits (``new_pair``).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.labs.autoencoder import Z_RANGE
from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style
from mathdl_gui.widgets.mosaic import mosaic

GRAY = "CET-L1"
#: The app palette has eight class colours; digits 8 and 9 need two more that stay distinct
#: from them on both themes (Paul Tol's teal and wine).  See the report: style should grow.
TILE_GAP = 1
RECON_COLS = 4           # digits per row of the reconstruction picture
INTERP_COLS = 5          # images per row of the interpolation picture


def digit_color(k: int) -> str:
    k = int(k)
    return style.class_color(k)


def _bare(plot, keep_left=False):
    plot.hideAxis("bottom")
    if not keep_left:
        plot.hideAxis("left")
    plot.setMouseEnabled(False, False)
    plot.hideButtons()
    plot.invertY(True)
    plot.setAspectLocked(True)


class AutoencoderPanel(Panel):
    """Draws :class:`engine.labs.autoencoder.AutoencoderLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        top, bottom = self.two_rows(3, 2)
        fg = style.theme()["foreground"]

        # -- latent scatter ---------------------------------------------------------------------
        self.latent_w = style.make_plot("Latent codes of test digits (\u03bc)", "z\u2081",
                                        "z\u2082")
        self.latent_w.setToolTip("Each dot is one held-out digit's code, coloured by its "
                                 "class. Click to decode that point.")
        self.latent = self.latent_w.getPlotItem()
        self.latent.setAspectLocked(True)
        self._brushes = [pg.mkBrush(digit_color(k)) for k in range(10)]
        self.scatter = pg.ScatterPlotItem(size=5, pen=None)
        self.latent.addItem(self.scatter)
        self.box_outline = pg.PlotDataItem(pen=pg.mkPen(fg, width=1,
                                                        style=QtCore.Qt.PenStyle.DashLine))
        self.latent.addItem(self.box_outline)
        self.path = pg.PlotDataItem(pen=pg.mkPen(fg, width=2), symbol="o", symbolSize=5,
                                    symbolBrush=fg, symbolPen=None)
        self.latent.addItem(self.path)
        self.ellipse = pg.PlotDataItem(pen=pg.mkPen(style.series_color("generated"), width=2))
        self.latent.addItem(self.ellipse)
        self.sample = pg.ScatterPlotItem(size=11, symbol="x",
                                         pen=pg.mkPen(style.series_color("generated"), width=2),
                                         brush=None)
        self.latent.addItem(self.sample)
        self.point = pg.ScatterPlotItem(size=16, symbol="+", pen=pg.mkPen(fg, width=3),
                                        brush=None)
        self.latent.addItem(self.point)
        self.labels = []
        for k in range(10):
            # Dark digits on the class colour read on every fill, light or dark.
            t = pg.TextItem(html=f"<b>{k}</b>", anchor=(0.5, 0.5), border=pg.mkPen("#000000"),
                            fill=pg.mkBrush(digit_color(k)))
            t.setColor("#000000")
            t.setZValue(10)
            self.latent.addItem(t)
            self.labels.append(t)
        self.latent.scene().sigMouseClicked.connect(
            lambda ev: self._clicked(ev, self.latent))
        self.latent.disableAutoRange()
        self._view = None        # (x0, x1, y0, y1) last shown: moved only when data leaves it
        top.addWidget(self.latent_w)

        # -- decoded grid over the latent plane -------------------------------------------------
        self.grid_w = style.make_plot("Decoded grid over the latent plane", "z\u2081", "z\u2082")
        self.grid_w.setToolTip("What the decoder draws at each point of the plane. Click to "
                               "decode that point.")
        self.grid = self.grid_w.getPlotItem()
        self.grid.setAspectLocked(True)
        self.grid.setMouseEnabled(False, False)
        self.grid.hideButtons()
        self.grid_img = pg.ImageItem()
        self.grid_img.setColorMap(pg.colormap.get(GRAY))
        self.grid.addItem(self.grid_img)
        self.grid_point = pg.ScatterPlotItem(size=16, symbol="+",
                                             pen=pg.mkPen(style.series_color("generated"),
                                                          width=3), brush=None)
        self.grid.addItem(self.grid_point)
        self.grid.scene().sigMouseClicked.connect(lambda ev: self._clicked(ev, self.grid))
        top.addWidget(self.grid_w)

        # -- decoded point --------------------------------------------------------------------
        self.point_w = style.make_plot("Decoded at z", "", "")
        self.point_w.setToolTip("The decoder's output at (z\u2081, z\u2082): move the sliders "
                                "or click a latent plot.")
        self.point_p = self.point_w.getPlotItem()
        _bare(self.point_p)
        self.point_img = pg.ImageItem()
        self.point_img.setColorMap(pg.colormap.get(GRAY))
        self.point_p.addItem(self.point_img)
        top.addWidget(self.point_w)
        top.setStretchFactor(0, 4)
        top.setStretchFactor(1, 4)
        top.setStretchFactor(2, 2)

        # -- reconstructions ----------------------------------------------------------------------
        self.recon_w = style.make_plot("Reconstructions (test digits)", "", "")
        self.recon = self.recon_w.getPlotItem()
        _bare(self.recon, keep_left=True)
        self.recon.getAxis("left").setWidth(52)    # room for "output" / "noisy" row names
        self.recon_img = pg.ImageItem()
        self.recon_img.setColorMap(pg.colormap.get(GRAY))
        self.recon.addItem(self.recon_img)

        # -- interpolation ----------------------------------------------------------------------
        interp = QtWidgets.QWidget()
        iv = QtWidgets.QVBoxLayout(interp)
        iv.setContentsMargins(0, 0, 0, 0)
        self.interp_w = style.make_plot("Interpolation", "", "")
        self.interp_w.setToolTip("Decoded images along the straight line between two test "
                                 "digits' codes (the path drawn on the latent scatter).")
        self.interp = self.interp_w.getPlotItem()
        _bare(self.interp)
        self.interp_img = pg.ImageItem()
        self.interp_img.setColorMap(pg.colormap.get(GRAY))
        self.interp.addItem(self.interp_img)
        self.btn_pair = QtWidgets.QPushButton("New pair of digits")
        self.btn_pair.setToolTip("Interpolate between two other test digits of the chosen "
                                 "classes ('interpolate from' / 'to').")
        self.btn_pair.clicked.connect(lambda: self.action_requested.emit("new_pair", {}))
        iv.addWidget(self.interp_w, 1)
        iv.addWidget(self.btn_pair)

        # -- curves -----------------------------------------------------------------------------
        self.loss_w = style.make_plot("ELBO terms", "step", "nats per digit", log_y=True,
                                      legend=True)
        self.loss = self.loss_w.getPlotItem()
        self.curves = {}
        for i, (key, label) in enumerate((("loss", "\u2212ELBO (total)"),
                                          ("recon", "reconstruction"), ("kl", "KL"))):
            self.curves[key] = self.loss.plot(
                pen=pg.mkPen(style.series_color(f"ae_{key}", i), width=2), name=label)
        self.acc_w = style.make_plot("Latent accuracy", "step", "nearest-centroid accuracy")
        self.acc_w.setToolTip("Share of test digits whose code is nearest to its own class's "
                              "mean code: how well the unsupervised plane separates digits.")
        self.acc = self.acc_w.getPlotItem()
        self.acc.setYRange(0, 1.02)
        self.acc_curve = self.acc.plot(pen=pg.mkPen(style.series_color("test"), width=2))
        for w in (self.recon_w, interp, self.loss_w, self.acc_w):
            bottom.addWidget(w)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 3)
        bottom.setStretchFactor(2, 2)
        bottom.setStretchFactor(3, 2)
        self._model = None

    def plots(self):
        return {"latent": self.latent, "decoded_grid": self.grid, "decoded_point": self.point_p,
                "reconstructions": self.recon, "interpolation": self.interp,
                "elbo": self.loss, "latent_accuracy": self.acc}

    # -- interaction ----------------------------------------------------------------------------
    def _clicked(self, ev, plot):
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or ev.double():
            return
        vb = plot.vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        pt = vb.mapSceneToView(ev.scenePos())
        self.request_latent(pt.x(), pt.y())

    def request_latent(self, z1: float, z2: float) -> None:
        """Ask the lab to decode ``(z1, z2)``, clamped to the sliders' range."""
        z1, z2 = (float(np.clip(v, -Z_RANGE, Z_RANGE)) for v in (z1, z2))
        self.action_requested.emit("set_latent", {"z1": z1, "z2": z2})

    # -- rendering ------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        model = d["model"]
        if model != self._model:
            self._model = model
            self._view = None
            vae = model == "vae"
            self.loss.setTitle("ELBO terms" if vae else "Squared error")
            self.loss.setLabel("left", "nats per digit" if vae else "MSE per pixel")
            for key in ("loss", "kl"):
                self.curves[key].setVisible(vae)
            self.loss.legend.setVisible(vae)
        self._draw_latent(d)
        self._draw_grid(d)
        z = d["z_point"]
        self.point_img.setImage(np.asarray(d["decoded"]), levels=(0, 1))
        self.point_p.setTitle(f"z = ({z[0]:.2f}, {z[1]:.2f})")
        self._draw_recon(d, model)
        a, b = d["interp_labels"]
        self.interp.setTitle(f"Interpolation {a} \u2192 {b}")
        self.interp_img.setImage(mosaic(np.asarray(d["interp_images"]), INTERP_COLS,
                                        normalise=False, gap=TILE_GAP), levels=(0, 1))
        c = d["curves"]
        for key, curve in self.curves.items():
            curve.setData(c["step"], np.maximum(c[key], 1e-6) if curve.isVisible() else [])
        self.acc_curve.setData(c["step"], c["latent_accuracy"])

    def _draw_latent(self, d):
        z, y = np.asarray(d["latent"]), np.asarray(d["labels"])
        self.scatter.setData(z[:, 0], z[:, 1], brush=[self._brushes[k] for k in y])
        for t, c in zip(self.labels, np.asarray(d["centroids"])):
            ok = np.all(np.isfinite(c))
            t.setVisible(bool(ok))
            if ok:
                t.setPos(float(c[0]), float(c[1]))
        box = np.asarray(d["grid_box"])
        self.box_outline.setData([box[0], box[1], box[1], box[0], box[0]],
                                 [box[2], box[2], box[3], box[3], box[2]])
        path = np.asarray(d["interp_path"])
        self.path.setData(path[:, 0], path[:, 1])
        probe = d["probe"]
        if "ellipse" in probe:
            e = np.asarray(probe["ellipse"])
            self.ellipse.setData(e[:, 0], e[:, 1])
            self.sample.setData([probe["z"][0]], [probe["z"][1]])
        else:
            self.ellipse.setData([], [])
            self.sample.setData([], [])
        zp = d["z_point"]
        self.point.setData([zp[0]], [zp[1]])
        fin = z[np.all(np.isfinite(z), 1)]
        if len(fin):
            lo = np.minimum(fin.min(0), box[[0, 2]])
            hi = np.maximum(fin.max(0), box[[1, 3]])
            self._fit_view(lo, hi)

    def _fit_view(self, lo, hi):
        """Show the codes and the grid box; re-range only when they leave the view or shrink
        to less than half of it (re-ranging every frame would repaint the axes each time)."""
        v = self._view
        if v is not None:
            inside = v[0] <= lo[0] and hi[0] <= v[1] and v[2] <= lo[1] and hi[1] <= v[3]
            filled = (hi[0] - lo[0]) >= 0.5 * (v[1] - v[0]) and \
                (hi[1] - lo[1]) >= 0.5 * (v[3] - v[2])
            if inside and filled:
                return
        pad = 0.05 * np.maximum(hi - lo, 1e-3)
        self._view = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
        self.latent.setRange(xRange=self._view[:2], yRange=self._view[2:], padding=0)

    def _draw_grid(self, d):
        n = int(d["grid_size"])
        imgs = np.asarray(d["grid_images"])
        self.grid_img.setImage(mosaic(imgs, n, normalise=False, gap=TILE_GAP), levels=(0, 1))
        box = np.asarray(d["grid_box"])
        # Tile centres sit on the lattice points, so the picture reaches half a cell beyond.
        cw, ch = (box[1] - box[0]) / (n - 1), (box[3] - box[2]) / (n - 1)
        # Row 0 of the picture holds the largest z2: flip by giving the rect a negative height.
        self.grid_img.setRect(QtCore.QRectF(box[0] - cw / 2, box[3] + ch / 2,
                                            (box[1] - box[0]) + cw, -((box[3] - box[2]) + ch)))
        zp = d["z_point"]
        self.grid_point.setData([zp[0]], [zp[1]])

    def _draw_recon(self, d, model):
        rows = [("noisy" if model == "dae" else "input", d["recon_input"]),
                ("output", d["recon_output"])]
        if model == "dae":
            rows.append(("clean", d["recon_clean"]))
        # Two blocks of RECON_COLS digits, each block one row per kind, so the tiles stay
        # large in a plot that is about as tall as it is wide.
        n = len(rows[0][1])
        blocks = [slice(i, i + RECON_COLS) for i in range(0, n, RECON_COLS)]
        stack = np.concatenate([np.asarray(img)[b] for b in blocks for _, img in rows])
        self.recon_img.setImage(mosaic(stack, RECON_COLS, normalise=False, gap=TILE_GAP),
                                levels=(0, 1))
        h = stack.shape[1] + TILE_GAP
        names = [name for _ in blocks for name, _ in rows]
        self.recon.getAxis("left").setTicks(
            [[(r * h + TILE_GAP + stack.shape[1] / 2, name) for r, name in enumerate(names)]])
        self.recon.setTitle("Denoising: noisy, output, clean" if model == "dae"
                            else "Reconstructions (test digits)")
