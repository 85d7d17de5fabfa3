"""Datasets panel: the data coloured by split, split sizes, one-hot targets or correlations,
and feature histograms before and after standardizing.

Top left: the points (marker shape = part: circle train, square validation, triangle test;
colour = class, or part for regression, or target value for the surface), or for glyphs a
mosaic of the first images framed in their part's colour.  Top right: split sizes, and the
one-hot matrix of the first labels (classification) or each feature's correlation with the
target (regression).  Bottom: histograms of the training part before and after
standardizing, and the per-feature statistics table.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style

SPLITS = ("train", "val", "test")
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}
SYMBOLS = {"train": "o", "val": "s", "test": "t"}
NEG, POS = (33, 102, 172), (178, 24, 43)   # the ends of style.diverging()
_SUB = str.maketrans("12", "\u2081\u2082")  # x1 -> x with a subscript 1 in axis labels


def split_color(split: str) -> str:
    """One colour per part: train and test as everywhere in the app, validation green."""
    return style.series_color(split, index=2)


def _grey() -> pg.ColorMap:
    """Paper black to ink white: glyph pixels 0-1."""
    return pg.ColorMap([0.0, 1.0], [(0, 0, 0), (255, 255, 255)])


class DatasetsPanel(Panel):
    """Draws :class:`engine.labs.datasets.DatasetsLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        fg = style.theme()["foreground"]
        bar = QtWidgets.QHBoxLayout()
        self.btn_load = QtWidgets.QPushButton("Load CSV\u2026")
        self.btn_load.setToolTip("Load your own labelled 2-D points: a CSV file with lines "
                                 "x1,x2,label (labels 0-9, at least 10 points); an optional "
                                 "header line and # comments are allowed.")
        self.btn_save = QtWidgets.QPushButton("Save CSV\u2026")
        self.btn_save.setToolTip("Save the current labelled 2-D points (raw coordinates, all "
                                 "parts) as x1,x2,label lines.")
        self.sizes_label = QtWidgets.QLabel()
        self.sizes_label.setWordWrap(True)
        for w in (self.btn_load, self.btn_save):
            bar.addWidget(w)
        bar.addWidget(self.sizes_label, 1)
        self.body.addLayout(bar)
        self.btn_load.clicked.connect(self._load_csv)
        self.btn_save.clicked.connect(self._save_csv)

        top, bottom = self.two_rows()

        # -- main picture: points, or the glyph mosaic ----------------------------------------
        self.main_stack = QtWidgets.QStackedWidget()
        self.data_w = style.make_plot("Data by split", "x\u2081", "x\u2082")
        self.data = self.data_w.getPlotItem()
        self.scatter = {}
        for s in SPLITS:
            item = pg.ScatterPlotItem(size=7, symbol=SYMBOLS[s], name=SPLIT_NAMES[s],
                                      pen=pg.mkPen("#101010", width=0.6),
                                      brush=pg.mkBrush("#bbbbbb"))
            self.data.addItem(item)
            self.scatter[s] = item
        self.truth = self.data.plot(pen=pg.mkPen(fg, width=2), name="true f(x)")
        self.data_legend = style.add_legend(self.data)
        # Class swatches for the legend only (never added to the plot, so never exported).
        self._class_samples: list[pg.ScatterPlotItem] = []
        self.main_stack.addWidget(self.data_w)

        self.glyph_w = style.make_plot("Glyph images, framed by split", "", "")
        self.glyph = self.glyph_w.getPlotItem()
        self.glyph.invertY(True)
        self.glyph.setAspectLocked(True)
        for name in ("left", "bottom"):
            self.glyph.getAxis(name).setTicks([[]])
        self.mosaic = pg.ImageItem()
        self.glyph.addItem(self.mosaic)
        self.frames = {}
        for s in SPLITS:
            # Held-out frames drawn thicker and on top: they are the few to spot.
            item = pg.PlotCurveItem(connect="pairs", name=SPLIT_NAMES[s],
                                    pen=pg.mkPen(split_color(s),
                                                 width=1.2 if s == "train" else 2.5))
            item.setZValue(2 if s == "train" else 3)
            self.glyph.addItem(item)
            self.frames[s] = item
        legend = style.add_legend(self.glyph)
        for s in SPLITS:
            legend.addItem(self.frames[s], SPLIT_NAMES[s])
        self.main_stack.addWidget(self.glyph_w)
        top.addWidget(self.main_stack)

        # -- right column: split sizes, and one-hot targets or correlations ------------------
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.sizes_w = style.make_plot("Split sizes", "", "samples")
        self.sizes = self.sizes_w.getPlotItem()
        self.sizes.setMouseEnabled(False, False)
        self.sizes.hideButtons()
        self.size_bars = pg.BarGraphItem(x=[0, 1, 2], height=[0, 0, 0], width=0.6,
                                         brushes=[pg.mkBrush(split_color(s)) for s in SPLITS],
                                         pen=None)
        self.sizes.addItem(self.size_bars)
        # The bar tops as a named series: they carry the counts into the CSV export.
        self.size_tops = pg.ScatterPlotItem(size=0, name="samples")
        self.sizes.addItem(self.size_tops)
        self.size_text = [pg.TextItem(color=fg, anchor=(0.5, 1.0)) for _ in SPLITS]
        for t in self.size_text:
            self.sizes.addItem(t)
        right.addWidget(self.sizes_w)

        self.side_stack = QtWidgets.QStackedWidget()
        self.onehot_w = style.make_plot("One-hot targets", "class k",
                                        "sample (label y)")
        self.onehot = self.onehot_w.getPlotItem()
        self.onehot.invertY(True)
        self.onehot.setMouseEnabled(False, False)
        self.onehot.hideButtons()
        self.onehot_img = pg.ImageItem()
        self.onehot_img.setColorMap(style.viridis())
        self.onehot.addItem(self.onehot_img)
        self.onehot_ones = pg.ScatterPlotItem(size=0, name="one")  # the 1s, for CSV export
        self.onehot.addItem(self.onehot_ones)
        self.onehot_text: list[pg.TextItem] = []
        self.side_stack.addWidget(self.onehot_w)

        self.corr_w = style.make_plot("Correlation with target", "Pearson r (train)", "")
        self.corr = self.corr_w.getPlotItem()
        self.corr.invertY(True)
        self.corr.setMouseEnabled(False, False)
        self.corr.hideButtons()
        self.corr_bars = pg.BarGraphItem(x0=[0], y=[0], height=0.7, width=[0])
        self.corr.addItem(self.corr_bars)
        self.corr_tips = pg.ScatterPlotItem(size=5, brush=pg.mkBrush(fg), pen=None,
                                            name="r")
        self.corr.addItem(self.corr_tips)
        self.corr.addLine(x=0, pen=pg.mkPen(fg, width=1))
        self.side_stack.addWidget(self.corr_w)
        right.addWidget(self.side_stack)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 2)
        top.addWidget(right)

        # -- bottom: histograms before / after, statistics table ------------------------------
        self.raw_w = style.make_plot("Before: raw feature (train)", "x", "count", legend=True)
        self.raw = self.raw_w.getPlotItem()
        self.z_w = style.make_plot("After: z = (x \u2212 \u03bc) / \u03c3 (train)", "z",
                                   "count", legend=True)
        self.zplot = self.z_w.getPlotItem()
        self.hist_raw, self.hist_z, self.mean_lines = [], [], []
        for i in range(2):
            color = pg.mkColor(style.series_color("", index=(1, 5)[i]))
            fill = pg.mkColor(color)
            fill.setAlpha(60)
            for plot, store in ((self.raw, self.hist_raw), (self.zplot, self.hist_z)):
                curve = pg.PlotDataItem(stepMode="center", fillLevel=0, brush=fill,
                                        pen=pg.mkPen(color, width=2))
                plot.addItem(curve)
                store.append(curve)
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen(color, width=1.5,
                                                          style=QtCore.Qt.PenStyle.DashLine))
            self.raw.addItem(line)
            self.mean_lines.append(line)
        self.zplot.addLine(x=0, pen=pg.mkPen(fg, width=1, style=QtCore.Qt.PenStyle.DotLine))
        self.table = QtWidgets.QTextBrowser()
        self.table.setMinimumWidth(260)
        for w in (self.raw_w, self.z_w, self.table):
            bottom.addWidget(w)
        bottom.setSizes([330, 330, 340])   # proportions: the table needs room for 5 columns
        top.setSizes([600, 400])

        self._drawn = None        # the snapshot data last drawn (snapshots are cached)
        self._legend_key = None
        self._hist_key = None
        self._onehot_key = None
        self._corr_key = None
        self._table_html = None

    def plots(self):
        d = self.last_snapshot.data if self.last_snapshot is not None else {}
        main = {"glyphs": self.glyph} if d.get("kind") == "glyphs" else {"data": self.data}
        side = ({"correlation": self.corr} if d.get("task") == "regression"
                else {"one_hot": self.onehot})
        return {**main, "split_sizes": self.sizes, **side, "histogram_raw": self.raw,
                "histogram_standardized": self.zplot}

    # -- interaction ----------------------------------------------------------------------------
    def _load_csv(self):
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Load points", "",
                                                        "CSV (*.csv *.txt)")
        if path:
            self.action_requested.emit("load_csv", {"path": path})

    def _save_csv(self):
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save points", "points.csv",
                                                        "CSV (*.csv)")
        if path:
            self.action_requested.emit("save_csv", {"path": path})

    # -- drawing --------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        if d is self._drawn:
            return  # the lab hands out the same snapshot until something changes
        self._drawn = d
        self.sizes_label.setText(snap.text.get("sizes", ""))
        if d["kind"] == "glyphs":
            self.main_stack.setCurrentWidget(self.glyph_w)
            self._draw_glyphs(d)
        else:
            self.main_stack.setCurrentWidget(self.data_w)
            self._draw_points(d)
        self._draw_sizes(d)
        if d["task"] == "regression":
            self.side_stack.setCurrentWidget(self.corr_w)
            self._draw_corr(d)
        else:
            self.side_stack.setCurrentWidget(self.onehot_w)
            self._draw_onehot(d)
        self._draw_hists(d)
        html = snap.text.get("table", "")
        if html != self._table_html:
            self._table_html = html
            self.table.setHtml(f"<div style='color:{style.theme()['text']}'>{html}</div>")

    def _draw_points(self, d):
        kind, parts = d["kind"], d["parts"]
        classification = d["task"] == "classification"
        if classification:
            palette = [pg.mkBrush(style.class_color(i)) for i in range(d["K"])]
        elif kind == "surface":
            cmap = style.viridis()
        for s in SPLITS:
            p, item = parts[s], self.scatter[s]
            if classification:
                brushes = [palette[int(c)] for c in p["c"]]
            elif kind == "surface":
                brushes = [pg.mkBrush(c) for c in cmap.map(p["c"], mode="qcolor")]
            else:
                brushes = None
            if brushes is None:
                item.setData(p["x"], p["y"], brush=pg.mkBrush(split_color(s)))
            else:
                item.setData(p["x"], p["y"], brush=brushes)
                # The legend swatch shows the marker shape only; colour means class here.
                item.setBrush(pg.mkBrush("#bbbbbb"))
        if "truth" in d:
            self.truth.setData(d["truth"]["x"], d["truth"]["y"])
        else:
            self.truth.setData([], [])
        xl, yl = d["labels"]
        self.data.setLabel("bottom", xl)
        self.data.setLabel("left", yl)
        title = {"points": "Data by split (colour = class)",
                 "surface": "Data by split (colour = target y)",
                 "curve": "Data by split, and the true curve",
                 "housing": "Housing: feature vs median value"}[kind]
        key = (kind, d.get("class_names"), classification)
        if key != self._legend_key:
            self._legend_key = key
            self.data.setTitle(title)
            self.data.setAspectLocked(kind in ("points", "surface"))
            self._rebuild_legend(d)
        self.data.enableAutoRange()

    def _rebuild_legend(self, d):
        leg = self.data_legend
        leg.clear()
        for s in SPLITS:
            leg.addItem(self.scatter[s], SPLIT_NAMES[s])
        if "truth" in d:
            leg.addItem(self.truth, "true f(x)")
        self._class_samples = []
        if d["task"] == "classification":
            for i, name in enumerate(d["class_names"]):
                sample = pg.ScatterPlotItem(size=8, symbol="o", pen=None,
                                            brush=pg.mkBrush(style.class_color(i)))
                self._class_samples.append(sample)
                leg.addItem(sample, name)

    def _draw_glyphs(self, d):
        img = d["mosaic"]
        if d["standardized"]:
            self.mosaic.setColorMap(style.diverging())
            # +-2 rather than the full range: ink sits near z = 1.5, paper near -0.5.
            self.mosaic.setImage(img, levels=(-2.0, 2.0))
            self.glyph.setTitle("Standardized pixels z (red: z > 0)")
        else:
            self.mosaic.setColorMap(_grey())
            self.mosaic.setImage(img, levels=(0.0, 1.0))
            self.glyph.setTitle("Glyph images, framed by split")
        for s in SPLITS:
            pts = d["frames"][s]
            self.frames[s].setData(pts[:, 0], pts[:, 1])
        h, w = img.shape
        self.glyph.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)

    def _draw_sizes(self, d):
        n = d["sizes"].astype(float)
        x = np.arange(3, dtype=float)
        self.size_bars.setOpts(x=x, height=n)
        self.size_tops.setData(x, n)
        top = max(float(n.max()), 1.0)
        total = max(float(n.sum()), 1.0)
        for t, xi, ni in zip(self.size_text, x, n):
            t.setText(f"{int(ni):,} ({ni / total:.0%})")
            t.setPos(xi, ni)
        self.sizes.getAxis("bottom").setTicks([[(i, SPLIT_NAMES[s]) for i, s in
                                                enumerate(SPLITS)]])
        self.sizes.setRange(xRange=(-0.6, 2.6), yRange=(0, top * 1.25), padding=0)

    def _draw_onehot(self, d):
        m = d["onehot"]
        K = int(d["K"])
        names = d["class_names"]
        labels = d["onehot_labels"]
        key = (tuple(int(v) for v in labels), names)
        if key == self._onehot_key:
            return
        self._onehot_key = key
        rows = len(labels)
        if rows == 0:
            self.onehot_img.clear()
            self.onehot_ones.setData([], [])
        else:
            self.onehot_img.setImage(m, levels=(0.0, 1.0))
            self.onehot_img.setRect(QtCore.QRectF(-0.5, -0.5, K, rows))
            self.onehot_ones.setData(labels.astype(float), np.arange(rows, dtype=float))
        fg = "#111111"
        while len(self.onehot_text) < rows:
            t = pg.TextItem(color=fg, anchor=(0.5, 0.5))
            self.onehot.addItem(t)
            self.onehot_text.append(t)
        for i, t in enumerate(self.onehot_text):
            if i < rows:
                t.setText("1")
                t.setPos(float(labels[i]), float(i))
                t.show()
            else:
                t.hide()
        self.onehot.getAxis("bottom").setTicks([[(k, names[k]) for k in range(K)]])
        self.onehot.getAxis("left").setTicks(
            [[(i, f"#{i}  y={int(c)}") for i, c in enumerate(labels)]])
        self.onehot.setTitle(f"One-hot targets: rows of I<sub>{K}</sub>")
        self.onehot.setRange(xRange=(-0.5, K - 0.5), yRange=(-0.5, max(rows, 1) - 0.5),
                             padding=0.02)

    def _draw_corr(self, d):
        r = d["corr"]
        names = d["corr_names"]
        j = int(d["corr_index"]) if d["kind"] == "housing" else -1
        y = np.arange(len(r), dtype=float)
        brushes = [pg.mkBrush(POS + (200,) if v >= 0 else NEG + (200,)) for v in r]
        pens = [pg.mkPen(style.theme()["foreground"], width=2.5) if i == j else pg.mkPen(None)
                for i in range(len(r))]
        self.corr_bars.setOpts(x0=np.zeros_like(r), y=y, width=r, height=0.7,
                               brushes=brushes, pens=pens)
        self.corr_tips.setData(r, y)
        key = tuple(names)
        if key != self._corr_key:
            self._corr_key = key
            self.corr.getAxis("left").setTicks([[(i, n) for i, n in enumerate(names)]])
            # At least 4 rows of room, so one or two bars do not swell to fill the plot.
            self.corr.setRange(xRange=(-1.0, 1.0), yRange=(-0.6, max(len(r), 4) - 0.4),
                               padding=0.02)

    def _draw_hists(self, d):
        h = d["hist"]
        names = h["names"]
        k = len(names)
        for i in range(2):
            on = i < k
            for curve, part in ((self.hist_raw[i], "raw"), (self.hist_z[i], "z")):
                if on:
                    edges, counts = h[part][i]
                    curve.setData(edges, counts)
                else:
                    curve.setData([], [])
                curve.setVisible(on)
            self.mean_lines[i].setVisible(on)
            if on:
                self.mean_lines[i].setPos(float(h["mean"][i]))
        key = names
        if key != self._hist_key:
            self._hist_key = key
            for plot, curves, fmt in ((self.raw, self.hist_raw, "{}"),
                                      (self.zplot, self.hist_z, "z of {}")):
                plot.legend.clear()
                for curve, name in zip(curves, names):
                    curve.opts["name"] = fmt.format(name)
                    plot.legend.addItem(curve, fmt.format(name))
            self.raw.setLabel("bottom", ", ".join(names).translate(_SUB))
            self.zplot.setLabel("bottom", "z")
        self.raw.enableAutoRange()
        self.zplot.enableAutoRange()


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview("datasets"))
