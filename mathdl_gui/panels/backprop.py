"""Backprop stepper panel: the autodiff graph with values and gradients, loss per cycle, deltas.

Everything drawn comes from :class:`engine.labs.backprop.BackpropLab` snapshots: node positions,
the formatted numbers, which nodes are revealed, the gradient tone of each node and the HTML
of the rules.  This module only turns them into plot items and HTML tables.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style
from mathdl_gui.widgets.style import HIGHLIGHT

#: Colours of the graph (fixed across themes where they read on both).
FORWARD = "#e69f00"      # a value computed in the forward pass
GIVEN = "#8a8f98"        # a leaf: input, weight, bias or target (known from the start)
BACKWARD_EDGE = "#d55e00"
LIGHT_OK, LIGHT_BAD = "#3ecf6a", "#e0533d"
#: Gradient entries in text: red positive, blue negative (RdBu ends readable on each theme).
GRAD_TEXT = {"dark": ("#f4a582", "#92c5de"), "light": ("#b2182b", "#2166ac")}
#: Gradient tones are drawn in this many steps (few colours: cheap symbol caching).
TONE_LEVELS = 16
SYMBOLS = {"param": "s", "input": "s", "target": "s", "op": "o", "loss": "d"}
#: Where a label sits relative to its node, in pixels (x right, y up): clear of the ring.
LABEL_OFFSET_PX = {"above": (0.0, 20.0), "below": (0.0, -20.0), "right": (20.0, 8.0)}
PHASE_TITLE = {"ready": "ready", "forward": "forward pass", "backward": "backward pass",
               "update": "SGD update"}


class BackpropPanel(Panel):
    """Draws :class:`engine.labs.backprop.BackpropLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.body.addWidget(split)

        # -- the graph: a diagram, so no axes; the view is fixed per network ------------------
        self.graph_w = style.make_plot("Computation graph", "", "")
        self.graph = self.graph_w.getPlotItem()
        for name in ("left", "bottom"):
            self.graph.hideAxis(name)
        self.graph.showGrid(x=False, y=False)
        self.graph.setMouseEnabled(x=False, y=False)
        self.graph.hideButtons()
        t = style.theme()
        muted = pg.mkColor(t["foreground"])
        muted.setAlpha(70)
        # Three edge sets, drawn as line pairs: idle, value passed forward, gradient passed back.
        self.edges = [
            pg.PlotCurveItem(pen=pg.mkPen(muted, width=1.2), connect="pairs"),
            pg.PlotCurveItem(pen=pg.mkPen(t["foreground"], width=1.6), connect="pairs"),
            pg.PlotCurveItem(pen=pg.mkPen(BACKWARD_EDGE, width=3.0), connect="pairs"),
        ]
        for item, name in zip(self.edges, ("edges (idle)", "edges (forward)",
                                           "edges (backward)")):
            self.graph.addItem(item)
            item.opts["name"] = name
        self.ring = pg.ScatterPlotItem(symbol="o", size=36, brush=None,
                                       pen=pg.mkPen(HIGHLIGHT, width=3))
        self.nodes = pg.ScatterPlotItem(size=20, pxMode=True)
        self.graph.addItem(self.ring)
        self.graph.addItem(self.nodes)
        self.ring.setZValue(20)  # above the labels (z 0) so a neighbour's box cannot hide it
        self.ring.opts["name"] = "current"
        self._ring_at = None
        self._brushes = {}
        self._pens = {True: pg.mkPen(FORWARD, width=2), False: pg.mkPen(GIVEN, width=2)}
        self.nodes.opts["name"] = "nodes"
        self.labels: list[pg.TextItem] = []   # pooled; grown on rebuild, never shrunk
        self._label_html: list[str | None] = []
        self._structure = None
        self._title = None
        self._label_at = []      # per label: node x, y and its offset in pixels
        self._bounds = None      # the lab's view bounds of the current network
        self._view = None        # the range shown: the bounds, grown to fit the labels
        self.graph.getViewBox().sigResized.connect(lambda *_: self._fit_view(grow_only=False))

        # -- below: grad-check light, the step's rule, delta table | loss per cycle ------------
        bottom = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        left = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(left)
        lay.setContentsMargins(2, 2, 2, 2)
        self.light = QtWidgets.QLabel()
        self.light.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.light.setWordWrap(True)
        self.stage = QtWidgets.QLabel()
        self.stage.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.stage.setWordWrap(True)
        self.stage.setMinimumHeight(36)
        self.deltas = QtWidgets.QTextBrowser()
        self.deltas.setMinimumHeight(90)
        lay.addWidget(self.light)
        lay.addWidget(self.stage)
        lay.addWidget(self.deltas, 1)
        self._texts = {}

        self.loss_w = style.make_plot("Loss per cycle", "cycle", "loss L")
        self.loss_plot = self.loss_w.getPlotItem()
        self.loss_curve = pg.PlotDataItem(pen=pg.mkPen(style.series_color("train"), width=2),
                                          symbol="o", symbolSize=6,
                                          symbolBrush=style.series_color("train"),
                                          symbolPen=None, name="loss before the update")
        self.loss_plot.addItem(self.loss_curve)
        self._loss_len = -1

        bottom.addWidget(left)
        bottom.addWidget(self.loss_w)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        bottom.setSizes([560, 440])
        split.addWidget(self.graph_w)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

    def plots(self):
        return {"graph": self.graph, "loss": self.loss_plot}

    # -- drawing --------------------------------------------------------------------------------
    def _rebuild(self, d):
        """New network: size the label pool, place labels, fit the view."""
        n = len(d["keys"])
        while len(self.labels) < n:
            bg = pg.mkColor(style.theme()["background"])
            bg.setAlpha(215)
            item = pg.TextItem(anchor=(0, 1), fill=pg.mkBrush(bg))
            self.graph.addItem(item)
            self.labels.append(item)
            self._label_html.append(None)
        for i, item in enumerate(self.labels):
            item.setVisible(i < n)
            self._label_html[i] = None
        anchors = {"above": (0.5, 1.0), "below": (0.5, 0.0), "right": (0.0, 1.0)}
        for i in range(n):
            self.labels[i].setAnchor(anchors[d["label_side"][i]])
        self._label_at = [(float(x), float(y), LABEL_OFFSET_PX[side])
                          for (x, y), side in zip(d["pos"], d["label_side"])]
        self._bounds = tuple(float(v) for v in d["bounds"])
        self._view = None
        self._structure = d["structure"]

    def _fit_view(self, grow_only: bool) -> None:
        """Show the lab's bounds, grown until every label fits inside the plot.

        Labels keep their pixel size while the view scales, so the range that fits them
        depends on the plot's size in pixels: iterate ``range = bounds + label extents``
        (converges while the labels take less than the plot's height).  While stepping
        the range only grows, so the picture does not twitch as "?" turns into numbers.
        """
        if self._bounds is None:
            return
        vb = self.graph.getViewBox()
        width, height = vb.width(), vb.height()
        x0, x1, y0, y1 = self._bounds
        sx = sy = 0.01
        if width > 50 and height > 50:
            base = self._bounds
            shown = list(zip(self.labels, self._label_at))
            for _ in range(8):
                sx, sy = (x1 - x0) / width, (y1 - y0) / height
                x0, x1, y0, y1 = base
                for item, (nx, ny, (ox, oy)) in shown:
                    r = item.textItem.boundingRect()
                    ax, ay = item.anchor.x(), item.anchor.y()
                    px, py = nx + ox * sx, ny + oy * sy
                    x0 = min(x0, px - ax * r.width() * sx)
                    x1 = max(x1, px + (1.0 - ax) * r.width() * sx + 0.05)
                    y0 = min(y0, py - (1.0 - ay) * r.height() * sy - 0.05)
                    y1 = max(y1, py + ay * r.height() * sy + 0.05)
        if grow_only and self._view is not None:
            v = self._view
            x0, x1, y0, y1 = min(x0, v[0]), max(x1, v[1]), min(y0, v[2]), max(y1, v[3])
        if (x0, x1, y0, y1) != self._view:
            self._view = (x0, x1, y0, y1)
            self.graph.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        # Labels sit a fixed number of pixels from their node, clear of the ring.
        if width > 50 and height > 50:
            sx, sy = (x1 - x0) / width, (y1 - y0) / height
        for item, (nx, ny, (ox, oy)) in zip(self.labels, self._label_at):
            item.setPos(nx + ox * sx, ny + oy * sy)

    def _render(self, snap):
        d = snap.data
        if d["structure"] != self._structure:
            self._rebuild(d)
        pos = d["pos"]
        edges, state = d["edges"], d["edge_state"]
        for s, item in enumerate(self.edges):
            pts = pos[edges[state == s].reshape(-1)]
            item.setData(pts[:, 0], pts[:, 1])
        self._draw_nodes(d)
        if self._draw_labels(d):
            self._fit_view(grow_only=True)
        title = (f"Computation graph from the autodiff record \u00b7 "
                 f"{PHASE_TITLE[d['phase']]} \u00b7 value | \u2202L/\u2202node")
        if title != self._title:
            self._title = title
            self.graph.setTitle(title)
        if len(d["loss"]) != self._loss_len:
            self._loss_len = len(d["loss"])
            self.loss_curve.setData(d["loss_cycle"], d["loss"])
        ok = d["grad_check_ok"]
        self._set_text(self.light, "light",
                       f"<span style='color:{LIGHT_OK if ok else LIGHT_BAD}; font-size:15pt'>"
                       f"\u25cf</span> {snap.text['grad_check']}")
        self._set_text(self.stage, "stage", snap.text["stage"])
        if self._texts.get("deltas") != snap.text["deltas"]:
            self._texts["deltas"] = snap.text["deltas"]
            self.deltas.setHtml(f"<div style='font-size:8.5pt'>{snap.text['deltas']}</div>")

    def _set_text(self, label, key, html):
        if self._texts.get(key) != html:
            self._texts[key] = html
            label.setText(html)

    def _brush(self, key):
        """Cached brushes: a few distinct colours keep pyqtgraph's symbol atlas warm."""
        b = self._brushes.get(key)
        if b is None:
            if isinstance(key, int):  # a gradient tone level in 0..TONE_LEVELS
                color = style.diverging().map(key / TONE_LEVELS, mode="qcolor")
            else:
                color = pg.mkColor(key)
            b = self._brushes[key] = pg.mkBrush(color)
        return b

    def _draw_nodes(self, d):
        bg = style.theme()["background"]
        brushes, pens, symbols = [], [], []
        for i, kind in enumerate(d["kinds"]):
            tone = d["grad_tone"][i]
            computed = kind in ("op", "loss")
            if d["grad_shown"][i] and np.isfinite(tone):
                # Tone in [-1, 1] -> one of TONE_LEVELS + 1 steps of the red-blue map.
                brushes.append(self._brush(round((float(tone) + 1.0) / 2.0 * TONE_LEVELS)))
            elif d["value_shown"][i]:
                brushes.append(self._brush(FORWARD if computed else GIVEN))
            else:
                brushes.append(self._brush(bg))  # not computed yet: an empty outline
            pens.append(self._pens[computed])
            symbols.append(SYMBOLS.get(kind, "o"))
        self.nodes.setData(pos=d["pos"], brush=brushes, pen=pens, symbol=symbols)
        hi = d["pos"][np.asarray(d["highlight"], dtype=bool)]
        if not np.array_equal(hi, self._ring_at):
            self._ring_at = hi
            self.ring.setData(pos=hi)

    def _draw_labels(self, d) -> bool:
        """Set each label's HTML where it changed; True if any did."""
        t = style.theme()
        pos_c, neg_c = GRAD_TEXT.get(style.theme_name(), GRAD_TEXT["dark"])
        muted = "#808080"

        def cell(s, grad):
            if s == "?":
                return f"<span style='color:{muted}'>?</span>"
            if not grad or s == "0":
                return s
            return f"<span style='color:{neg_c if s.startswith(chr(0x2212)) else pos_c}'>{s}</span>"

        changed = False
        for i in range(len(d["keys"])):
            head = f"<b>{d['symbols'][i]}</b>"
            if d["ops"][i]:
                head += f" <span style='color:{muted}'>{d['ops'][i]}</span>"
            vrows, grows = d["value_rows"][i], d["grad_rows"][i]
            td = "<td align='right' style='padding:0 3px'>"
            if d["label_side"][i] == "right":
                # Column vectors: value and gradient side by side, one row per entry.
                body = "".join(
                    "<tr>" + "".join(td + cell(v, False) + "</td>" for v in vr)
                    + ("".join(td + cell(g, True) + "</td>" for g in grows[r]) if grows else "")
                    + "</tr>" for r, vr in enumerate(vrows))
            else:
                # Matrices and bias rows: the values, then the gradient below them.
                body = "".join("<tr>" + "".join(td + cell(v, False) + "</td>" for v in vr)
                               + "</tr>" for vr in vrows)
                body += "".join("<tr>" + "".join(td + cell(g, True) + "</td>" for g in gr)
                                + "</tr>" for gr in grows)
            html = (f"<div style='color:{t['text']}; font-size:9pt'>{head}"
                    f"<table cellspacing='0' cellpadding='0'>{body}</table></div>")
            if html != self._label_html[i]:
                self._label_html[i] = html
                self.labels[i].setHtml(html)
                changed = True
        return changed


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview("backprop"))
