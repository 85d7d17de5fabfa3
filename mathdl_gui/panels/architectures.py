"""Architecture calculator panel: the per-layer table, where parameters and work sit, and the
book's figures beside the recomputed ones.

Left: a table (layer, type, output shape, params, MACs, receptive field) with total,
convolutional and fully connected rows, and under it the errata box (book vs recomputed).
Right: horizontal bars per layer, parameters above multiply-adds (as shares of the network's
totals, on a log scale or in millions), so that "FC layers hold the parameters, convolutions
do the work" is seen at a glance; under them the receptive field against the feature-map side,
layer by layer (x = the table's row number).  Exports add the table as ``layer_table.csv``
and the errata as ``errata.csv``.
"""
from __future__ import annotations

import csv
from html import escape
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from engine.io.atomic import atomic_path
from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import export, style

#: Parameters and multiply-adds: one colour each (the app's Okabe-Ito palette).
PARAM_COLOR, MACS_COLOR = style.class_color(0), style.class_color(1)
RF_COLOR, SIZE_COLOR = style.class_color(5), style.class_color(2)
COLUMNS = ("layer", "type", "output C\u00d7H\u00d7W", "params", "MACs", "RF")
TYPE_COLUMN_MAX = 130  # px; longer layer descriptions are elided (tooltip has them)
BAR = 0.4            # thickness of one bar; a row holds a params bar above a MACs bar
LABEL_MIN = 0.05     # bars shorter than this share of the longest get no value label
STATUS = {"ok": ("\u2714", "#009e73"), "wrong": ("\u2718", "#d55e00"),
          "info": ("\u2022", "#56b4e9")}


class _BarChart:
    """Horizontal bars, one row per layer (first layer on top): parameters above, multiply-adds
    below, each with its value at the bar's end."""

    SERIES = (("params", "parameters", PARAM_COLOR, -BAR / 2),
              ("macs", "multiply-adds", MACS_COLOR, BAR / 2))

    def __init__(self):
        self.widget = style.make_plot("Parameters and multiply-adds per layer",
                                      "share of the network's total (%)", "")
        self.plot = p = self.widget.getPlotItem()
        p.invertY(True)
        p.showGrid(x=True, y=False, alpha=0.15)
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        self.bars, self.carriers = {}, {}
        for key, name, color, _ in self.SERIES:
            # Each series' numbers also as a pen-less data item: bar items are not data
            # items to pyqtgraph, and CSV export reads data items only.
            self.carriers[key] = p.plot(pen=None, name=name)
            item = pg.BarGraphItem(x0=[], y=[], width=[], height=BAR, brush=pg.mkBrush(color),
                                   pen=pg.mkPen(None))
            p.addItem(item)
            self.bars[key] = item
        self.labels: dict[str, list[pg.TextItem]] = {key: [] for key, *_ in self.SERIES}
        self._names = None

    def set_rows(self, names) -> None:
        """Layer names on the left axis; value labels for each row (rebuilt when they change)."""
        if names == self._names:
            return
        self._names = names
        fg = style.theme()["foreground"]
        font = QtGui.QFont()
        font.setPointSize(7)
        for labels in self.labels.values():
            for t in labels:
                self.plot.removeItem(t)
            labels.clear()
            for _ in names:
                t = pg.TextItem("", color=fg, anchor=(0, 0.5))
                t.setFont(font)
                self.plot.addItem(t, ignoreBounds=True)
                labels.append(t)
        self.plot.getAxis("left").setTicks([[(i, n) for i, n in enumerate(names)]])
        self.plot.setYRange(-0.6, len(names) - 0.4, padding=0)

    def set_data(self, title, bars, log_ticks) -> None:
        top = max([float(np.max(bars[key]["value"], initial=0.0)) for key, *_ in self.SERIES]
                  + [1e-12])
        for key, _, _, offset in self.SERIES:
            value = np.asarray(bars[key]["value"], float)
            y = np.arange(len(value), dtype=float) + offset
            self.bars[key].setOpts(x0=np.zeros(len(value)), y=y, width=value, height=BAR)
            self.carriers[key].setData(value, y)
            for t, v, yi, text in zip(self.labels[key], value, y, bars[key]["labels"]):
                t.setText(text if v >= LABEL_MIN * top else "")
                t.setPos(float(v) + 0.01 * top, float(yi))
        self.plot.setTitle(title)
        self.plot.setLabel("bottom", bars["axis"])
        axis = self.plot.getAxis("bottom")
        if log_ticks:
            shown = [(k, s) for k, s in log_ticks if k <= top + 1]
            axis.setTicks([[t for t in shown if t[1]], [t for t in shown if not t[1]]])
        else:
            axis.setTicks(None)
        self.plot.setXRange(0, top * 1.3, padding=0)  # room for the value labels


class ArchitecturePanel(Panel):
    """Draws :class:`engine.labs.architectures.ArchitectureLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.body.addWidget(split, 1)

        # -- left: table over errata -----------------------------------------------------------
        left = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        small = QtGui.QFont(self.table.font())
        small.setPointSizeF(min(small.pointSizeF(), 9.0))  # six columns in half the panel
        self.table.setFont(small)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.verticalHeader().setMinimumWidth(24)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        self.table.setToolTip("Params include biases unless 'count biases' is off; MACs are "
                              "multiply-adds for one image; RF is the receptive field side "
                              "in input pixels (hover a cell for the jump).")
        left.addWidget(self.table)
        self.errata = QtWidgets.QTextBrowser()
        self.errata.setMinimumHeight(120)
        # The HTML table wraps to the width; Qt's layout can still overshoot it by a pixel.
        self.errata.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left.addWidget(self.errata)
        self._splits = [(left, (3, 2))]
        split.addWidget(left)

        # -- right: bars over the receptive field ----------------------------------------------
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.chart = _BarChart()
        right.addWidget(self.chart.widget)
        self.rf_w = style.make_plot("Receptive field vs layer", "layer (table row; 0 = input)",
                                    "pixels", legend=True)
        self.rf = self.rf_w.getPlotItem()
        # One legend row along the top, above the curves (set_data leaves headroom there).
        self.rf.legend.setColumnCount(3)
        self.rf.legend.anchor((0, 0), (0, 0), offset=(8, 2))
        self.rf_curve = self.rf.plot(pen=pg.mkPen(RF_COLOR, width=2), symbol="o",
                                     symbolSize=5, symbolBrush=RF_COLOR, symbolPen=None,
                                     name="receptive field")
        self.size_curve = self.rf.plot(pen=pg.mkPen(SIZE_COLOR, width=2), symbol="s",
                                       symbolSize=5, symbolBrush=SIZE_COLOR, symbolPen=None,
                                       name="map side H")
        self.input_line = self.rf.plot(
            pen=pg.mkPen(style.theme()["foreground"], width=1,
                         style=QtCore.Qt.PenStyle.DashLine), name="input n")
        right.addWidget(self.rf_w)
        split.addWidget(right)
        # Shares of each splitter; applied once the panel has a size (see showEvent).  The
        # table's six columns need more than half the width.
        self._splits += [(right, (2, 1)), (split, (60, 40))]
        self._errata_html = None

    def showEvent(self, event):
        super().showEvent(event)
        # QSplitter.setSizes takes pixels, so the shares are applied when the panel is first
        # shown at its real size (stretch factors only share out space beyond size hints).
        splits, self._splits = self._splits, []
        for splitter, shares in splits:
            extent = (splitter.width() if splitter.orientation() == QtCore.Qt.Orientation.Horizontal
                      else splitter.height())
            splitter.setSizes([int(extent * s / sum(shares)) for s in shares])

    def plots(self):
        return {"params_and_macs_per_layer": self.chart.plot, "receptive_field": self.rf}

    # -- drawing --------------------------------------------------------------------------------
    def _render(self, snap):
        d, text = snap.data, snap.text
        names = tuple(d["names"])
        self.chart.set_rows(names)
        title = (f"<span style='color:{PARAM_COLOR}'>\u25a0 params</span> and "
                 f"<span style='color:{MACS_COLOR}'>\u25a0 MACs</span> per layer"
                 f"<br><span style='font-size:9pt'>{escape(text['bars_note'])}</span>")
        self.chart.set_data(title, d["bars"], d["log_ticks"])
        c = d["rf_curve"]
        self.rf_curve.setData(c["x"], c["rf"])
        self.size_curve.setData(c["x"], c["size"])
        n = float(d["input_size"])
        self.input_line.setData([0.0, float(c["x"][-1])], [n, n])
        top = max(float(c["rf"].max()), float(c["size"].max()), n)
        self.rf.setRange(xRange=(-0.5, float(c["x"][-1]) + 0.5), yRange=(0, top * 1.25),
                         padding=0)
        self.rf.setTitle(text["rf_title"])
        self._fill_table(d)
        self._fill_errata(d, text["errata_title"])

    def _fill_table(self, d) -> None:
        t = d["totals"]
        n = len(d["names"])
        what = d["counted"]  # 'params' (with biases) or 'weights'
        extra = [("total", "", t["shape"], t["params"], t["macs"], f"{t['rf']:,}"),
                 ("conv part", f"{t['conv_share']:.1%} of {what}", "", t["conv_params"],
                  t["conv_macs"], ""),
                 ("FC part", f"{t['dense_share']:.1%} of {what}", "", t["dense_params"],
                  t["dense_macs"], "")]
        # Row 0 is the input image, rows 1..n the layers (the receptive-field plot's x).
        rows = [("input", "RGB image", d["input_shape"], "", "", "1")]
        rows += [(d["names"][i], d["configs"][i], d["shapes"][i], int(d["params"][i]),
                  int(d["macs"][i]), f"{int(d['rf'][i]):,}")
                 for i in range(n)]
        tab = self.table
        tab.setUpdatesEnabled(False)
        try:
            tab.horizontalHeaderItem(3).setText(what)
            tab.setRowCount(len(rows) + len(extra))
            tab.setVerticalHeaderLabels([str(i) for i in range(n + 1)] + [""] * len(extra))
            bold = QtGui.QFont(tab.font())
            bold.setBold(True)
            for r, row in enumerate(rows + extra):
                is_total = r > n
                for col, value in enumerate(row):
                    numeric = col in (3, 4)
                    item = QtWidgets.QTableWidgetItem(
                        (f"{value:,}" if numeric else str(value)) if value != "" else "")
                    if numeric or col == 5:
                        item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                              | QtCore.Qt.AlignmentFlag.AlignVCenter)
                    if is_total:
                        item.setFont(bold)
                    tab.setItem(r, col, item)
                if 1 <= r <= n:
                    i = r - 1
                    tab.item(r, 1).setToolTip(d["configs"][i])
                    tab.item(r, 3).setToolTip(f"weights {int(d['weights'][i]):,} + biases "
                                              f"{int(d['biases'][i]):,}")
                    tab.item(r, 5).setToolTip(
                        f"receptive field {int(d['rf'][i]):,} px; jump {int(d['jump'][i])} px "
                        "(input distance between neighbouring outputs)")
            # Inception rows spell out four branches; cap the column (full text in the
            # tooltip) so that the numbers stay in view.
            tab.resizeColumnToContents(1)
            tab.setColumnWidth(1, min(tab.columnWidth(1), TYPE_COLUMN_MAX))
        finally:
            tab.setUpdatesEnabled(True)

    def _fill_errata(self, d, title) -> None:
        t = style.theme()
        rows = "".join(
            f"<tr><td>{escape(fig)}</td><td>{escape(book)}</td><td>{escape(ours)}</td>"
            f"<td style='color:{STATUS[status][1]}; font-weight:bold'>{STATUS[status][0]}</td>"
            f"<td>{escape(note)}</td></tr>"
            for fig, book, ours, status, note in d["errata"])
        html = (f"<div style='color:{t['text']}; font-size:9pt'><b>{escape(title)}</b>"
                + (f"<table cellspacing='0' cellpadding='2'><tr>"
                   f"<th align='left'>figure</th><th align='left'>book</th>"
                   f"<th align='left'>recomputed</th><th></th><th align='left'>note</th></tr>"
                   f"{rows}</table>" if rows else
                   "<p>Pick AlexNet, VGG-16 or Inception-v1 to compare with the book.</p>")
                + "</div>")
        if html != self._errata_html:
            self._errata_html = html
            self.errata.setHtml(html)

    # -- export ---------------------------------------------------------------------------------
    def export_all(self, folder, formats=export.FORMATS) -> list[Path]:
        """The plots (PNG, SVG, CSV), plus ``layer_table.csv`` and ``errata.csv`` with CSV."""
        written = super().export_all(folder, formats)
        snap = self.last_snapshot
        if "csv" not in formats or snap is None:
            return written
        d = snap.data
        folder = Path(folder)
        path = folder / "layer_table.csv"
        with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["row", "layer", "kind", "type", "output", "params", "weights",
                        "biases", "macs", "rf", "jump"])
            w.writerow([0, "input", "input", "RGB image", d["input_shape"], 0, 0, 0, 0, 1, 1])
            for i, name in enumerate(d["names"]):
                w.writerow([i + 1, name, d["kinds"][i], d["configs"][i], d["shapes"][i],
                            int(d["params"][i]), int(d["weights"][i]), int(d["biases"][i]),
                            int(d["macs"][i]), int(d["rf"][i]), int(d["jump"][i])])
            t = d["totals"]
            w.writerow(["", "total", "", "", t["shape"], t["params"], "", "", t["macs"],
                        t["rf"], ""])
        written.append(path)
        if d["errata"]:
            path = folder / "errata.csv"
            with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["figure", "book", "recomputed", "status", "note"])
                w.writerows(d["errata"])
            written.append(path)
        return written


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview("architectures"))
