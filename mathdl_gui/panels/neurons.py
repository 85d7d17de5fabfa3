"""Neurons panels (ch. 7): the perceptron plane, and the activation / loss / divergence gallery.

Both draw :mod:`engine.labs.neurons` snapshots.  Plot items are built once; ``_render`` only
sets data, and skips curves whose (read-only, shared) arrays have not changed.
"""
from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style
from mathdl_gui.widgets.style import HIGHLIGHT, cosmetic_pen

#: Classes 0 and 1 take the first two palette colours; the same pair in both panels' legends.
CLASS_COLORS = (style.class_color(0), style.class_color(1))
WRONG = "#ff4040"
GOOD = "#3ecf6a"


def _rgba(color: str, alpha: int) -> tuple:
    c = pg.mkColor(color)
    return (c.red(), c.green(), c.blue(), alpha)


def _named(plot: pg.PlotItem, item, name: str):
    """Add ``item`` to ``plot`` and name it for CSV export (the legend is managed by hand)."""
    plot.addItem(item)
    item.opts["name"] = name
    return item


def _accent() -> str:
    """Yellow for checks and the normal arrow: bright on dark, deeper on light (readable)."""
    return HIGHLIGHT if style.theme_name() == "dark" else "#b89400"


def _fmt(v: float) -> str:
    return f"{v:.3g}".replace("-", "\u2212")


def _fmt_fixed(v: float) -> str:
    """Three decimals with a real minus sign, and no "-0.000" for tiny negatives."""
    text = f"{v:.3f}"
    return "0.000" if text == "-0.000" else text.replace("-", "\u2212")


def _place_labels(texts, x: float, ys, yrange) -> None:
    """Put curve-end labels at ``x``, pushed apart vertically so they do not overlap.

    Labels are anchored at their bottom right and each needs about 7% of the y range; a pass
    upward separates them, a pass downward keeps the top ones inside the plot.
    """
    lo, hi = yrange
    gap = 0.07 * (hi - lo)
    order = np.argsort(ys)
    top = hi - gap  # the label sits above its anchor
    pos = np.clip(np.asarray(ys, dtype=float)[order], lo + gap, top)
    for k in range(1, len(pos)):
        pos[k] = max(pos[k], pos[k - 1] + gap)
    for k in range(len(pos) - 1, -1, -1):
        pos[k] = min(pos[k], top if k == len(pos) - 1 else pos[k + 1] - gap)
    for k, i in enumerate(order):
        texts[i].setPos(x, float(pos[k]))


# ================================================================================================
class PerceptronPanel(Panel):
    """Draws :class:`engine.labs.neurons.PerceptronLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.body.addWidget(self.status)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.body.addWidget(split, 1)
        fg = style.theme()["foreground"]

        self.plane_w = style.make_plot("Decision line in the input plane", "x\u2081",
                                       "x\u2082")
        self.plane = self.plane_w.getPlotItem()
        self.plane.setAspectLocked(True)
        self.region = pg.ImageItem()
        # Two-entry lookup table: 0 -> faint class-0 colour, 1 -> faint class-1 colour.
        self.region.setLookupTable(np.array([_rgba(CLASS_COLORS[0], 55),
                                             _rgba(CLASS_COLORS[1], 55)], dtype=np.ubyte))
        self.region.setLevels((0, 1))
        self.plane.addItem(self.region)
        self.prev_line = _named(self.plane,
                                pg.PlotCurveItem(pen=cosmetic_pen("#9a9a9a", 2, True)),
                                "line before the correction")
        self.line = _named(self.plane, pg.PlotCurveItem(pen=cosmetic_pen(fg, 3)),
                           "decision line s = 0")
        self.arrow = _named(self.plane, pg.PlotCurveItem(pen=cosmetic_pen(_accent(), 3),
                                                         connect="finite"),
                            "normal (w\u2081, w\u2082)")
        self.classes = [
            _named(self.plane, pg.ScatterPlotItem(size=13, brush=CLASS_COLORS[k],
                                                  pen=pg.mkPen("#111111", width=1)),
                   f"class t = {k}") for k in (0, 1)]
        self.wrong = _named(self.plane, pg.ScatterPlotItem(size=22, brush=None, symbol="o",
                                                           pen=pg.mkPen(WRONG, width=2.5)),
                            "misclassified")
        self.visited = _named(self.plane, pg.ScatterPlotItem(size=32, brush=None, symbol="s",
                                                             pen=pg.mkPen(fg, width=2.5)),
                              "sample just visited")
        # The legend sits under the plane, not on it: clicked points may go anywhere.  The
        # aspect-locked plane leaves spare height in this panel's usual shape.
        self.legend = pg.LegendItem(colCount=2, labelTextSize="8pt",
                                    labelTextColor=style.theme()["foreground"])
        self.plane.layout.addItem(self.legend, 4, 1)
        # Small stand-ins for the big ring markers, so the legend rows stay compact.
        self.wrong_key = pg.ScatterPlotItem(size=13, brush=None, pen=pg.mkPen(WRONG, width=2))
        self.visited_key = pg.ScatterPlotItem(size=14, brush=None, symbol="s",
                                              pen=pg.mkPen(fg, width=2))

        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.progress_w = style.make_plot("Mistakes per epoch", "epoch", "mistakes")
        self.progress = self.progress_w.getPlotItem()
        self.mistakes = _named(self.progress, pg.PlotDataItem(
            pen=cosmetic_pen(CLASS_COLORS[1], 2), symbol="o", symbolSize=7,
            symbolBrush=CLASS_COLORS[1], symbolPen=None), "mistakes per epoch")
        self.partial = _named(self.progress, pg.ScatterPlotItem(
            size=9, brush=None, pen=pg.mkPen(CLASS_COLORS[1], width=1.5)),
            "this epoch so far")
        self.progress_legend = pg.LegendItem(colCount=2, labelTextSize="8pt",
                                             labelTextColor=fg)
        self.progress.layout.addItem(self.progress_legend, 4, 1)  # under the curve
        self.progress_legend.addItem(self.mistakes, "finished epochs")
        self.progress_legend.addItem(self.partial, "epoch in progress (so far)")
        self.b_curve = _named(self.progress, pg.PlotDataItem(pen=cosmetic_pen(CLASS_COLORS[1], 2)),
                              "rows right")
        self.b_mark = pg.InfiniteLine(angle=90, pen=cosmetic_pen(WRONG, 2, True), movable=False,
                                      label="b", labelOpts={"position": 0.92, "color": WRONG})
        self.progress.addItem(self.b_mark)
        self.table = QtWidgets.QLabel()
        self.table.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.table.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop
                                | QtCore.Qt.AlignmentFlag.AlignHCenter)
        self.table.setMinimumHeight(150)
        right.addWidget(self.progress_w)
        right.addWidget(self.table)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        split.addWidget(self.plane_w)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        self._box = None
        self._mode = None
        self._custom = False
        self._table_html = None
        self._status_html = None
        self._progress_range = None
        self.plane.scene().sigMouseClicked.connect(self._clicked)

    def plots(self):
        return {"plane": self.plane, "progress": self.progress}

    # -- interaction ------------------------------------------------------------------------------
    def _clicked(self, ev):
        if not self._custom or ev.button() != QtCore.Qt.MouseButton.LeftButton or ev.double():
            return
        vb = self.plane.vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        pt = vb.mapSceneToView(ev.scenePos())
        (x0, x1), (y0, y1) = self._box
        if x0 <= pt.x() <= x1 and y0 <= pt.y() <= y1:
            self.action_requested.emit("add_point", {"x": float(pt.x()), "y": float(pt.y())})

    # -- drawing ----------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        box = np.asarray(d["box"])
        self._custom = bool(d["custom"])
        if self._box is None or not np.array_equal(box, self._box):
            self._box = box
            (x0, x1), (y0, y1) = box
            self.plane.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.02)
        self.region.setImage(d["region"], autoLevels=False, levels=(0, 1))
        (x0, x1), (y0, y1) = d["view"]  # after setImage: the rect scales the image's pixels
        self.region.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
        pts, labels = d["points"], d["labels"]
        for k, item in enumerate(self.classes):
            sel = labels == k
            item.setData(pts[sel, 0], pts[sel, 1])
        bad = ~np.asarray(d["correct"], dtype=bool)
        self.wrong.setData(pts[bad, 0], pts[bad, 1])
        line = d["line"]
        self.line.setData(line[:, 0], line[:, 1])
        self.arrow.setData(d["arrow"][:, 0], d["arrow"][:, 1])
        prev = d["prev_line"]
        self.prev_line.setData(prev[:, 0], prev[:, 1])
        i = d["visited"]
        if i >= 0:
            color = WRONG if d["corrected"] else style.theme()["foreground"]
            self.visited.setData([pts[i, 0]], [pts[i, 1]], pen=pg.mkPen(color, width=2.5))
        else:
            self.visited.setData([], [])
        title = (f"{'MP neuron' if d['mode'] == 'mp_neuron' else 'Perceptron'} on "
                 f"{d['gate_label']}" + (" \u2014 click to add a point" if self._custom else ""))
        if self.plane.titleLabel.text != title:
            self.plane.setTitle(title)
        self._draw_progress(d)
        self._draw_status(snap.text.get("status", ""), d["state"])
        self._draw_table(d)

    def _draw_progress(self, d):
        mp = d["mode"] == "mp_neuron"
        if mp != self._mode:
            self._mode = mp
            self._progress_range = None
            self.mistakes.setVisible(not mp)
            self.partial.setVisible(not mp)
            self.progress_legend.setVisible(not mp)
            self.b_curve.setVisible(mp)
            self._plane_legend(mp)
            self.b_mark.setVisible(mp)
            if mp:
                self.progress.setTitle("MP neuron: points right for each threshold b")
                self.progress.setLabel("bottom", "threshold b")
                self.progress.setLabel("left", "points right")
            else:
                self.progress.setTitle("Perceptron: mistakes per epoch")
                self.progress.setLabel("bottom", "epoch")
                self.progress.setLabel("left", "mistakes")
        n = float(len(d["points"]))
        if mp:
            self.b_curve.setData(d["b_grid"], d["b_right"])
            self.b_mark.setValue(d["b"])
            rng = ((float(d["b_grid"][0]), float(d["b_grid"][-1])), (0.0, max(n, 1.0) * 1.12))
        else:
            self.mistakes.setData(d["epochs"], d["mistakes"])
            cur = d["current"]
            self.partial.setData(cur[:, 0], cur[:, 1])
            last = max(float(len(d["epochs"])) + len(cur), 5.0)
            top = max([1.0, *d["mistakes"], *cur[:, 1]])
            # Grow in steps, so the axes repaint a few times per run, not every frame.
            last = 5.0 * np.ceil(last / 5.0) if last <= 20 else 2 ** np.ceil(np.log2(last))
            rng = ((0.5, last + 0.5), (-0.05 * top, top * 1.15))
        if rng != self._progress_range:
            self._progress_range = rng
            self.progress.setRange(xRange=rng[0], yRange=rng[1], padding=0)
            # Counts and epochs are whole numbers: integer ticks (auto spacing for b).
            for name, span in (("left", rng[1][1]), ("bottom", rng[0][1])):
                axis = self.progress.getAxis(name)
                if mp and name == "bottom":
                    axis.setTickSpacing()
                else:
                    major = float(max(1, int(np.ceil(span / 8))))
                    axis.setTickSpacing(major, major)

    def _plane_legend(self, mp: bool) -> None:
        """List what the plane shows in this mode (the MP neuron has no learning to show)."""
        lg = self.legend
        lg.clear()
        lg.addItem(self.classes[0], "class t = 0")
        lg.addItem(self.classes[1], "class t = 1")
        if mp:
            lg.addItem(self.line, "line x\u2081 + x\u2082 = b")
            lg.addItem(self.arrow, "(1, 1): the y = 1 side")
            lg.addItem(self.wrong_key, "misclassified")
            return
        lg.addItem(self.line, "decision line s = 0")
        lg.addItem(self.arrow, "w = (w\u2081, w\u2082): the \u0177 = 1 side")
        lg.addItem(self.prev_line, "line before the last correction")
        lg.addItem(self.wrong_key, "misclassified")
        lg.addItem(self.visited_key, "sample just visited (red: corrected)")

    def _draw_status(self, status, state):
        color = {"converged": GOOD, "ok": GOOD, "cycling": "#f0a030", "stopped": "#f0a030",
                 "impossible": "#f0a030", "wrong": "#f0a030"}.get(state,
                                                                 style.theme()["foreground"])
        html = f"<b style='color:{color}; font-size:11pt'>{escape(status)}</b>"
        if html != self._status_html:
            self._status_html = html
            self.status.setText(html)

    def _draw_table(self, d):
        fg = style.theme()["foreground"]
        if d["truth_table"]:
            mp = d["mode"] == "mp_neuron"
            head = "x\u2081 + x\u2082" if mp else "s = w\u00b7(1, x)"
            rows = []
            for (x1, x2), t, s, y, ok in zip(d["points"], d["labels"], d["s"],
                                             d["predictions"], d["correct"]):
                if mp:
                    s = x1 + x2  # the MP neuron compares the plain sum with b
                mark = (f"<span style='color:{GOOD}'>\u2713</span>" if ok else
                        f"<span style='color:{WRONG}'>\u2717</span>")
                rows.append(f"<tr><td>{x1:g}</td><td>{x2:g}</td><td>{t}</td>"
                            f"<td>{_fmt(s)}</td><td>{y}</td><td>{mark}</td></tr>")
            html = (f"<p style='color:{fg}'><b>Truth table of {d['gate_label']}</b></p>"
                    f"<table cellspacing=0 cellpadding=4 style='color:{fg}'>"
                    f"<tr><th>x\u2081</th><th>x\u2082</th><th>t</th><th>{head}</th>"
                    "<th>\u0177</th><th></th></tr>" + "".join(rows) + "</table>")
        else:
            n = len(d["labels"])
            right = int(np.sum(d["correct"]))
            html = (f"<p style='color:{fg}'><b>{d['gate_label']}</b>: {n} points, "
                    f"{right} on the correct side, {n - right} misclassified.</p>")
            if d["custom"]:
                html += (f"<p style='color:{fg}'>Click the plane to add a point of class "
                         f"t = {d['click_class']} (change it with \u2018click adds "
                         "class\u2019).</p>")
        if html != self._table_html:
            self._table_html = html
            self.table.setText(html)


# ================================================================================================
F_COLOR = style.series_color("f", 1)           # blue
DF_COLOR = style.series_color("df", 0)         # orange
PARAM_COLOR = style.series_color("dparam", 6)  # pink
P_COLOR = style.series_color("p", 4)           # deep blue
Q_COLOR = style.series_color("q", 5)           # vermilion
N_BANDS = 4
N_OVERLAY = 6


class ActivationsPanel(Panel):
    """Draws :class:`engine.labs.neurons.ActivationsLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        grid = QtWidgets.QGridLayout()
        grid.setSpacing(4)
        self.body.addLayout(grid, 1)
        fg = style.theme()["foreground"]
        faint = _rgba(fg, 90)
        CHECK_COLOR = _accent()

        # -- activation f and f' ---------------------------------------------------------------
        self.act_w = style.make_plot("Activation f and its slope f\u2032", "x", "f(x), f\u2032(x)")
        self.act = self.act_w.getPlotItem()
        self.bands = []
        for _ in range(N_BANDS):
            band = pg.LinearRegionItem(movable=False, brush=_rgba("#9a9a9a", 45),
                                       pen=pg.mkPen(None))
            band.setZValue(-10)
            self.act.addItem(band)
            self.bands.append(band)
        self.band_sample = pg.BarGraphItem(x=[0], height=[1], width=1,
                                           brush=_rgba("#9a9a9a", 90), pen=None)
        self.overlay = [_named(self.act, pg.PlotCurveItem(pen=cosmetic_pen(faint, 1.5)),
                               f"other {k}")
                        for k in range(N_OVERLAY)]
        self.overlay_text = []
        for _ in range(N_OVERLAY):
            t = pg.TextItem(color=faint, anchor=(1, 1))
            self.act.addItem(t)
            self.overlay_text.append(t)
        self.f = _named(self.act, pg.PlotCurveItem(pen=cosmetic_pen(F_COLOR, 3)), "f")
        self.df = _named(self.act, pg.PlotCurveItem(pen=cosmetic_pen(DF_COLOR, 2.5)), "f' formula")
        self.dparam = _named(self.act, pg.PlotCurveItem(pen=cosmetic_pen(PARAM_COLOR, 2, True)),
                             "df/dalpha")
        self.df_auto = _named(self.act, pg.ScatterPlotItem(size=6, brush=CHECK_COLOR,
                                                           pen=None), "f' autodiff")
        self.act_tangent = _named(self.act, pg.PlotCurveItem(pen=cosmetic_pen(fg, 1.5, True)),
                                  "tangent at the probe")
        self.act_probe = _named(self.act, pg.ScatterPlotItem(size=11, brush=fg,
                                                             pen=pg.mkPen("#000000")),
                                "probe")
        self.act_legend = style.add_legend(self.act)
        self.act_legend.setOffset((10, 4))  # top left: the curves rise to the right
        self.act_legend.setColumnCount(2)   # short and wide: it fits the headroom above f

        # -- softmax bars and Jacobian ---------------------------------------------------------
        self.smx_w = style.make_plot("Softmax probabilities", "class k", "s\u2096")
        self.smx = self.smx_w.getPlotItem()
        self.bars_t1 = pg.BarGraphItem(x=[0], height=[0], width=0.8, brush=None,
                                       pen=cosmetic_pen(faint, 1.5, True))
        self.bars = pg.BarGraphItem(x=[0], height=[0], width=0.55, brush=F_COLOR, pen=None)
        self.smx.addItem(self.bars_t1)
        self.smx.addItem(self.bars)
        self.bar_tops = _named(self.smx, pg.ScatterPlotItem(size=1, brush=F_COLOR, pen=None),
                               "s = softmax(z/T)")
        self.bar_text = []
        for _ in range(6):
            t = pg.TextItem(color=fg, anchor=(0.5, 1))
            self.smx.addItem(t)
            self.bar_text.append(t)
        self.smx_legend = style.add_legend(self.smx)
        self.smx_legend.setColumnCount(2)  # one short row, clear of the value labels
        self.smx_legend.addItem(self.bars, "s at temperature T")
        self.smx_legend.addItem(self.bars_t1, "s at T = 1")
        self.smx.setRange(yRange=(0, 1.45), padding=0)

        self.jac_w = style.make_plot("Jacobian \u2202s\u1d62/\u2202z\u2c7c (red +, blue \u2212)",
                                     "input j (logit z\u2c7c)", "output i (prob. s\u1d62)")
        self.jac = self.jac_w.getPlotItem()
        self.jac.invertY(True)
        self.jac.showGrid(x=False, y=False)
        self.jac_img = pg.ImageItem()
        self.jac_img.setColorMap(style.diverging())
        self.jac.addItem(self.jac_img)
        self.jac_text = []
        for _ in range(36):
            t = pg.TextItem(color="#111111", anchor=(0.5, 0.5))
            self.jac.addItem(t)
            self.jac_text.append(t)

        # -- loss L and its slope --------------------------------------------------------------
        self.loss_w = style.make_plot("Loss and its slope", "r", "L")
        self.loss = self.loss_w.getPlotItem()
        self.loss_overlay = [_named(self.loss, pg.PlotCurveItem(pen=cosmetic_pen(faint, 1.5)),
                                    f"other loss {k}") for k in range(3)]
        self.loss_overlay_text = []
        for _ in range(3):
            t = pg.TextItem(color=faint, anchor=(1, 1))
            self.loss.addItem(t)
            self.loss_overlay_text.append(t)
        self.ceiling = pg.InfiniteLine(angle=0, pen=cosmetic_pen(WRONG, 1.5, True), movable=False,
                                       label="ln 2", labelOpts={"position": 0.06,
                                                                "color": WRONG})
        self.loss.addItem(self.ceiling)
        self.loss_items = {
            "L": _named(self.loss, pg.PlotCurveItem(pen=cosmetic_pen(F_COLOR, 3)), "L"),
            "L2": _named(self.loss, pg.PlotCurveItem(pen=cosmetic_pen(P_COLOR, 2.5, True)), "L2"),
            "dL": _named(self.loss, pg.PlotCurveItem(pen=cosmetic_pen(DF_COLOR, 2.5)), "dL"),
            "dL2": _named(self.loss, pg.PlotCurveItem(pen=cosmetic_pen(Q_COLOR, 2, True)), "dL2"),
        }
        self.loss_check = _named(self.loss, pg.ScatterPlotItem(size=6, brush=CHECK_COLOR,
                                                               pen=None), "check")
        self.loss_tangent = _named(self.loss, pg.PlotCurveItem(pen=cosmetic_pen(fg, 1.5, True)),
                                   "tangent at the probe")
        self.loss_probe = _named(self.loss, pg.ScatterPlotItem(size=11, brush=fg,
                                                               pen=pg.mkPen("#000000")),
                                 "probe")
        self.loss_legend = style.add_legend(self.loss)
        # Top centre: every loss curve here is high at the sides and low in the middle.
        self.loss_legend.anchor(itemPos=(0.5, 0), parentPos=(0.5, 0), offset=(0, 8))

        # -- divergences -----------------------------------------------------------------------
        self.div_w = style.make_plot("Gaussians p, q and integrands", "x",
                                     "density, integrand")
        self.div = self.div_w.getPlotItem()
        self.div_items = {
            "p": _named(self.div, pg.PlotCurveItem(pen=cosmetic_pen(P_COLOR, 2.5), fillLevel=0,
                                                   brush=_rgba(P_COLOR, 50)), "p"),
            "q": _named(self.div, pg.PlotCurveItem(pen=cosmetic_pen(Q_COLOR, 2.5), fillLevel=0,
                                                   brush=_rgba(Q_COLOR, 50)), "q"),
            "kl_pq": _named(self.div, pg.PlotCurveItem(pen=cosmetic_pen(F_COLOR, 2)),
                            "p log(p/q)"),
            "kl_qp": _named(self.div, pg.PlotCurveItem(pen=cosmetic_pen(DF_COLOR, 2)),
                            "q log(q/p)"),
            "js": _named(self.div, pg.PlotCurveItem(pen=cosmetic_pen(CHECK_COLOR, 2.5, True)),
                         "JS integrand"),
        }
        self.div_legend = style.add_legend(self.div)
        self.div_legend.setOffset((10, 10))
        for key, label in (("p", "p"), ("q", "q"), ("kl_pq", "p log(p/q)"),
                           ("kl_qp", "q log(q/p)"),
                           ("js", "JS integrand")):
            self.div_legend.addItem(self.div_items[key], label)

        self.val_w = style.make_plot("Divergence values", "", "nats")
        self.val = self.val_w.getPlotItem()
        self.val_bars = pg.BarGraphItem(x=[0, 1, 2], height=[0, 0, 0], width=0.6,
                                        brushes=[F_COLOR, DF_COLOR, CHECK_COLOR], pen=None)
        self.val.addItem(self.val_bars)
        self.val_tops = _named(self.val, pg.ScatterPlotItem(size=1, pen=None, brush=fg),
                               "value")
        self.val_ceiling = pg.InfiniteLine(angle=0, pen=cosmetic_pen(WRONG, 1.5, True),
                                           movable=False,
                                           label="ln 2", labelOpts={"position": 0.5,
                                                                    "color": WRONG})
        self.val.addItem(self.val_ceiling)
        self.val_ceiling.setValue(float(np.log(2.0)))
        self.val.getAxis("bottom").setTicks([[(0, "KL(p\u2016q)"), (1, "KL(q\u2016p)"),
                                              (2, "JS")]])
        self.val.setRange(xRange=(-0.6, 2.6), padding=0)
        self.val_text = []
        for _ in range(3):
            t = pg.TextItem(color=fg, anchor=(0.5, 1))
            self.val.addItem(t)
            self.val_text.append(t)

        for w in (self.act_w, self.loss_w, self.div_w):
            w.setMinimumSize(260, 200)
        for w in (self.smx_w, self.jac_w, self.val_w):
            w.setMinimumSize(200, 200)
        grid.addWidget(self.act_w, 0, 0)
        grid.addWidget(self.smx_w, 0, 1)
        grid.addWidget(self.jac_w, 0, 2)
        grid.addWidget(self.loss_w, 1, 0)
        grid.addWidget(self.div_w, 1, 1)
        grid.addWidget(self.val_w, 1, 2)
        grid.setColumnStretch(0, 5)
        grid.setColumnStretch(1, 4)
        grid.setColumnStretch(2, 4)

        self._seen: dict = {}
        self._act_legend_key = None
        self._loss_legend_key = None

    def plots(self):
        return {"activation": self.act, "softmax": self.smx, "jacobian": self.jac,
                "loss": self.loss, "divergence": self.div, "divergence_values": self.val}

    def _changed(self, key: str, marker) -> bool:
        """True the first time ``marker`` (a section's shared array) is seen for ``key``."""
        if self._seen.get(key) is marker:
            return False
        self._seen[key] = marker
        return True

    # -- drawing ----------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        if self._changed("act", d["act"]["f"]):
            self._draw_activation(d["act"])
        if self._changed("smx", d["softmax"]["s"]):
            self._draw_softmax(d["softmax"])
        if self._changed("loss", d["loss"]["x"]):
            self._draw_loss(d["loss"])
        if self._changed("div", d["div"]["x"]):
            self._draw_divergence(d["div"])
        for probe, tangent, key in ((self.act_probe, self.act_tangent, "probe_act"),
                                    (self.loss_probe, self.loss_tangent, "probe_loss")):
            p = d[key]
            probe.setData([p["x"]], [p["y"]])
            tangent.setData(p["tangent"][:, 0], p["tangent"][:, 1])

    def _draw_activation(self, a):
        x = a["x"]
        self.f.setData(x, a["f"])
        self.df.setData(x, a["df"])
        thin = slice(None, None, 10)
        self.df_auto.setData(x[thin], a["df_auto"][thin])
        has_param = len(a["dparam"]) > 0
        self.dparam.setVisible(has_param)
        if has_param:
            self.dparam.setData(x, a["dparam"])
        bands = a["bands"]
        for k, band in enumerate(self.bands):
            on = k < len(bands)
            band.setVisible(on)
            if on:
                band.setRegion((float(bands[k, 0]), float(bands[k, 1])))
        names = list(a["overlay"])
        for k, (curve, text) in enumerate(zip(self.overlay, self.overlay_text)):
            on = k < len(names)
            curve.setVisible(on)
            text.setVisible(on)
            if on:
                y = a["overlay"][names[k]]
                curve.setData(x, y)
                curve.opts["name"] = names[k]
                text.setText(names[k])
        _place_labels(self.overlay_text[:len(names)], float(x[-1]),
                      [a["overlay"][n][-1] for n in names], a["yrange"])
        self.act.setRange(xRange=(float(x[0]), float(x[-1])), yRange=a["yrange"], padding=0)
        self.act.setLabel("bottom", a["xlabel"])
        self.act.setTitle(f"{a['label']}: f and its slope f\u2032")
        key = (a["name"], has_param, len(bands) > 0)
        if key != self._act_legend_key:
            self._act_legend_key = key
            lg = self.act_legend
            lg.clear()
            lg.addItem(self.f, f"f = {a['label']}")
            lg.addItem(self.df, "f\u2032 (formula)")
            lg.addItem(self.df_auto, "f\u2032 (autodiff)")
            if has_param:
                lg.addItem(self.dparam, "\u2202f/\u2202\u03b1")
            if len(bands):
                lg.addItem(self.band_sample, "saturated: |f\u2032| &lt; 5% max")
            lg.addItem(self.act_tangent, "tangent at the probe")

    def _draw_softmax(self, s):
        k = len(s["s"])
        xs = np.arange(1, k + 1, dtype=float)
        self.bars.setOpts(x=xs, height=s["s"], width=0.55)
        self.bars_t1.setOpts(x=xs, height=s["s_T1"], width=0.8)
        self.bar_tops.setData(xs, s["s"])
        for i, t in enumerate(self.bar_text):
            on = i < k
            t.setVisible(on)
            if on:
                t.setText(_fmt_fixed(s["s"][i]))
                t.setPos(xs[i], float(max(s["s"][i], s["s_T1"][i])) + 0.04)
        ticks = [[(float(i), f"{i:.0f}") for i in xs]]
        self.smx.getAxis("bottom").setTicks(ticks)
        # Headroom above 1 keeps the value labels clear of the legend.
        self.smx.setRange(xRange=(0.4, k + 0.6), yRange=(0, 1.45), padding=0)

        J = s["J"]
        # A floor on the colour scale: at a tiny temperature every entry is ~1e-9, and
        # stretching that to full red and blue would shout about nothing.
        m = max(float(np.max(np.abs(J))), 1e-3)
        self.jac_img.setImage(J, autoLevels=False, levels=(-m, m))
        self.jac_img.setRect(QtCore.QRectF(0.5, 0.5, k, k))
        font = QtGui.QFont()
        font.setPointSizeF({2: 9.0, 3: 9.0, 4: 8.0}.get(k, 7.0))
        for n, t in enumerate(self.jac_text):
            i, j = divmod(n, 6)
            on = i < k and j < k
            t.setVisible(on)
            t.setFont(font)
            if on:
                t.setText(_fmt_fixed(J[i, j]))
                t.setPos(j + 1.0, i + 1.0)
        self.jac.getAxis("bottom").setTicks(ticks)
        self.jac.getAxis("left").setTicks(ticks)
        self.jac.setRange(xRange=(0.5, k + 0.5), yRange=(0.5, k + 0.5), padding=0)

    def _draw_loss(self, lo):
        x = lo["x"]
        series = lo["series"]
        for key, item in self.loss_items.items():
            on = key in series
            item.setVisible(on)
            if on:
                item.setData(x, series[key][1])
                item.opts["name"] = series[key][0]
        cx = lo.get("check_x", x)
        thin = slice(None, None, 10)
        self.loss_check.setData(cx[thin], lo["check"][1][thin])
        self.loss_check.opts["name"] = lo["check"][0]
        names = list(lo["overlay"])
        for k, (curve, text) in enumerate(zip(self.loss_overlay, self.loss_overlay_text)):
            on = k < len(names)
            curve.setVisible(on)
            text.setVisible(on)
            if on:
                y = lo["overlay"][names[k]]
                curve.setData(x, y)
                curve.opts["name"] = names[k]
                text.setText(names[k])
        _place_labels(self.loss_overlay_text[:len(names)], float(x[-1]),
                      [lo["overlay"][n][-1] for n in names], lo["yrange"])
        ceiling = lo["ceiling"]
        self.ceiling.setVisible(bool(np.isfinite(ceiling)))
        if np.isfinite(ceiling):
            self.ceiling.setValue(float(ceiling))
        self.loss.setRange(xRange=(float(x[0]), float(x[-1])), yRange=lo["yrange"], padding=0)
        self.loss.setLabel("bottom", lo["xlabel"])
        self.loss.setLabel("left", lo["ylabel"])
        self.loss.setTitle(f"Loss: {lo['label']} and its slope")
        key = (lo["name"], tuple(series))
        if key != self._loss_legend_key:
            self._loss_legend_key = key
            lg = self.loss_legend
            lg.clear()
            for k in series:
                lg.addItem(self.loss_items[k], series[k][0])
            lg.addItem(self.loss_check, lo["check"][0])

    def _draw_divergence(self, dv):
        x = dv["x"]
        for key, item in self.div_items.items():
            item.setData(x, dv[key])
        vals = np.asarray(dv["values"])
        self.val_bars.setOpts(height=vals)
        self.val_tops.setData([0.0, 1.0, 2.0], vals)
        top = max(1.0, float(vals.max()) * 1.25)
        for i, t in enumerate(self.val_text):
            t.setText(_fmt(float(vals[i])))
            t.setPos(float(i), float(vals[i]) + 0.02 * top)
        self.val.setRange(yRange=(0, top), padding=0)


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview(sys.argv[1] if len(sys.argv) > 1 else "perceptron"))
