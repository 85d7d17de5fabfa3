"""Recurrent networks panel: one probe sequence through an RNN, LSTM or GRU, and its training.

Top row: the probe - for delayed recall the input tokens (one-hot, token x step) over the
output distribution :math:`p(y_t)` with the targets ringed, wrong predictions crossed and the
unscored first ``d`` steps shaded; for the sine task the input, the target and the prediction
over time - and the vanishing-gradient meter :math:`\\|\\partial L_T / \\partial h_t\\|` over
:math:`t` (log axis), the step :math:`T - d` marked on recall.

Middle: the cell's gates and states as unit x step heatmaps in a grid - LSTM ``i f g / o c h``,
GRU ``r z / n h``, a plain RNN ``h`` alone.  Sigmoid gates use viridis on [0, 1]; candidates,
the cell state and the hidden state diverging colours with symmetric levels.

Bottom row: train and test loss, the test accuracy (recall only: on the sine task the test MSE
*is* the test loss, so it is named in the loss legend), and the gradient norm of every step
before clipping, with the clip threshold.

Everything drawn comes from :class:`engine.labs.recurrent.RecurrentLab` snapshots; this module
only places it.  Heatmaps run time left to right (steps 1..T), units or tokens top to bottom.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style
from mathdl_gui.widgets.style import HIGHLIGHT, cosmetic_pen
from mathdl_gui.widgets.token_heatmap import TokenHeatmap

#: Gates the lab can send, then the hidden state ``h``; the sigmoid gates live in [0, 1].
STATES = ("i", "f", "g", "o", "c", "r", "z", "n", "h")
SIGMOID = frozenset("iforz")
TARGET = "#ff4d4d"        # rings around the target tokens


def _labels(n: int, start: int, most: int) -> list[str]:
    """Tick labels for ``n`` cells counted from ``start``: multiples of a 1-2-5 step only, so
    that at most about ``most`` are written."""
    every = next(s for s in (1, 2, 5, 10, 20, 50, 100) if n / s <= most or s == 100)
    return [str(k) if k % every == 0 else "" for k in range(start, start + n)]


def _heatmap(title, x_label, y_label, signed) -> TokenHeatmap:
    """A token heatmap without cell values or tick marks: only some cells are labelled (see
    :func:`_labels`), and a mark at every unlabelled one would draw a comb."""
    view = TokenHeatmap(title, x_label, y_label, signed=signed, values=False)
    for name in ("left", "bottom"):
        view.plot.getAxis(name).setStyle(tickLength=0, tickAlpha=0)
    return view


def _log_bounds(x, *ys):
    """(x range, y range in log10 units) of the positive data, for a log-y StickyRange."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.log10(np.concatenate([np.asarray(y, float).ravel() for y in ys]))
    ly = ly[np.isfinite(ly)]
    if len(x) == 0 or ly.size == 0:
        return (0.0, 1.0), (-1.0, 0.0)
    lo, hi = float(ly.min()), float(ly.max())
    mid = (lo + hi) / 2                       # at least one decade: readable log ticks
    return (float(x[0]), max(float(x[-1]), 1.0)), (min(lo, mid - 0.5), max(hi, mid + 0.5))


class RecurrentPanel(Panel):
    """Draws :class:`engine.labs.recurrent.RecurrentLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        vsplit = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.body.addWidget(vsplit, 1)
        top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.grid_box = QtWidgets.QWidget()
        self.grid = QtWidgets.QGridLayout(self.grid_box)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        bottom = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        for row in (top, self.grid_box, bottom):
            vsplit.addWidget(row)
        vsplit.setSizes([260, 340, 190])
        fg = style.theme()["foreground"]

        # -- the probe: recall (input over output) or sine (curves), one page each ------------
        self.probe_pages = QtWidgets.QStackedWidget()
        recall = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.inputs = _heatmap("Input tokens", "", "token", signed=False)
        self.outputs = _heatmap("Output", "step t", "token", signed=False)
        self.outputs.widget.setToolTip(
            "Softmax output at every step. Rings: the target, the token d steps back; "
            "crosses: a wrong prediction; shaded: the first d steps, not scored.")
        shade = pg.mkColor(style.theme()["background"])
        shade.setAlpha(185)
        self.unscored = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.unscored.setBrush(QtGui.QBrush(shade))
        self.unscored.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        self.unscored.setZValue(5)
        self.outputs.plot.addItem(self.unscored)
        self.unscored_text = pg.TextItem("not\nscored", color=fg, anchor=(0.5, 0.5))
        self.unscored_text.setZValue(6)
        self.outputs.plot.addItem(self.unscored_text)
        self.outputs.samples.setPen(cosmetic_pen(TARGET, 2.5))
        # A white cross outlined in black reads on every colour of the map.
        self.wrong = pg.ScatterPlotItem(symbol="x", size=0.45, pxMode=False,
                                        pen=cosmetic_pen("#111111", 1), brush="#ffffff")
        self.wrong.setZValue(13)
        self.outputs.plot.addItem(self.wrong)
        recall.addWidget(self.inputs.widget)
        recall.addWidget(self.outputs.widget)
        self.probe_pages.addWidget(recall)

        self.sine_w = style.make_plot("Probe sequence", "step t", "value", legend=True)
        self.sine = self.sine_w.getPlotItem()
        self.sine.legend.setColumnCount(3)           # one row along the top, over the headroom
        self.sine.vb.disableAutoRange()
        self.sine_curves = {}
        for key, label, color, width in (
                ("x", "input x<sub>t</sub>", style.class_color(1), 1.5),
                ("target", "target x<sub>t+1</sub>", fg, 2.5),
                ("pred", "prediction", style.class_color(0), 2.0)):
            self.sine_curves[key] = self.sine.plot(pen=cosmetic_pen(color, width), name=label,
                                                   symbol="o", symbolSize=4,
                                                   symbolBrush=color, symbolPen=None)
        self.probe_pages.addWidget(self.sine_w)

        # -- the vanishing-gradient meter ---------------------------------------------------------
        self.reach_w = style.make_plot("Gradient reach", "step t",
                                       "\u2016\u2202L<sub>T</sub>/\u2202h<sub>t</sub>\u2016",
                                       log_y=True)
        self.reach_w.setToolTip("How strongly the loss at the last step T depends on the state "
                                "at step t. Title: the reach \u2016\u2202L_T/\u2202h_1\u2016 / "
                                "\u2016\u2202L_T/\u2202h_T\u2016. The dashed line marks "
                                "t = T \u2212 d, the step whose token the last output recalls.")
        self.reach = self.reach_w.getPlotItem()
        self.reach_curve = self.reach.plot(pen=cosmetic_pen(style.class_color(3)), symbol="o",
                                           symbolSize=5, symbolBrush=style.class_color(3),
                                           symbolPen=None, name="gradient norm")
        self.delay_line = pg.InfiniteLine(angle=90, movable=False,
                                          pen=cosmetic_pen(fg, 1.5, dash=True),
                                          label="T\u2212d", labelOpts={"position": 0.92,
                                                                       "color": fg})
        self.reach.addItem(self.delay_line, ignoreBounds=True)
        self.reach.setMouseEnabled(x=False, y=True)
        for w, stretch in ((self.probe_pages, 3), (self.reach_w, 2)):
            w.setMinimumWidth(220)
            top.addWidget(w)
            top.setStretchFactor(top.count() - 1, stretch)

        # -- gates and states: built once, the current cell's are placed in the grid -----------
        self.maps: dict[str, TokenHeatmap] = {}
        for name in STATES:
            self._map(name)
        self.grid_box.setToolTip("Gates and states over the probe sequence (unit x step). "
                                 "Sigmoid gates are on [0, 1]; candidates and states are "
                                 "signed, centred on 0.")

        # -- training curves ----------------------------------------------------------------------
        self.loss_w = style.make_plot("Loss", "step", "loss", log_y=True, legend=True)
        self.loss = self.loss_w.getPlotItem()
        self.train_curve = self.loss.plot(pen=cosmetic_pen(style.series_color("train")),
                                          name="train")
        self.test_curve = self.loss.plot(pen=cosmetic_pen(style.series_color("test")),
                                         name="test")
        self.loss_range = style.StickyRange(self.loss)

        self.acc_w = style.make_plot("Test accuracy", "step", "accuracy (scored steps)")
        self.acc = self.acc_w.getPlotItem()
        self.acc_curve = self.acc.plot(pen=cosmetic_pen(style.series_color("test")),
                                       name="test accuracy")
        self.acc.vb.disableAutoRange()
        self.acc.setYRange(0.0, 1.02, padding=0)
        self.acc.setXLink(self.loss)

        self.norm_w = style.make_plot("Gradient norm per step", "step",
                                      "\u2016\u2207L\u2016 before clipping", log_y=True)
        self.norm = self.norm_w.getPlotItem()
        self.norm_curve = self.norm.plot(pen=cosmetic_pen(style.class_color(2), 1.2),
                                         name="gradient norm")
        self.clip_line = pg.InfiniteLine(angle=0, movable=False,
                                         pen=cosmetic_pen(HIGHLIGHT, 1.5, dash=True),
                                         label="clip \u03b8", labelOpts={
                                             "position": 0.8, "color": HIGHLIGHT})
        self.norm.addItem(self.clip_line, ignoreBounds=True)
        self.norm_range = style.StickyRange(self.norm)
        for w in (self.loss_w, self.acc_w, self.norm_w):
            w.setMinimumSize(150, 120)
            bottom.addWidget(w)

        self._structure = None
        self._titles: dict = {}
        self._sine_range = None

    def _map(self, name: str) -> TokenHeatmap:
        """The heatmap of gate or state ``name`` (all known ones are built in ``__init__``; a
        name the lab adds later gets one on first use)."""
        if name not in self.maps:
            view = _heatmap(name, "step t", "unit", signed=name not in SIGMOID)
            # Room for the colour bar's labels: a squeezed column clips "0.8" to "0".
            view.plot.layout.setColumnMinimumWidth(5, 58)
            view.widget.setMinimumSize(160, 110)
            view.widget.setParent(self.grid_box)
            view.widget.hide()
            self.maps[name] = view
        return self.maps[name]

    @property
    def hidden(self) -> TokenHeatmap:
        return self.maps["h"]

    def plots(self):
        snap = self.last_snapshot
        d = snap.data if snap is not None else {"task": "recall", "gate_names": ()}
        recall = d["task"] == "recall"
        out = ({"probe_input": self.inputs.plot, "probe_output": self.outputs.plot}
               if recall else {"probe": self.sine})
        out["gradient_reach"] = self.reach
        out.update({f"gate_{n}": self.maps[n].plot for n in d["gate_names"]})
        out.update(hidden=self.hidden.plot, loss=self.loss)
        if recall:
            out["accuracy"] = self.acc
        out["grad_norm"] = self.norm
        return out

    # -- drawing ----------------------------------------------------------------------------------
    def _title(self, plot, text):
        """Set a title only when it changes (a title is costly text to re-render)."""
        if self._titles.get(id(plot)) != text:
            self._titles[id(plot)] = text
            plot.setTitle(text)

    def _render(self, snap):
        d = snap.data
        p = d["probe"]
        task = d["task"]
        hidden = np.asarray(p["hidden"])
        units, T = hidden.shape
        names = tuple(d["gate_names"])
        if (task, names, T) != self._structure:
            self._restructure(task, names, tuple(d["gate_titles"]), T)
        index = int(p["index"])
        if task == "recall":
            self._draw_recall(p, int(d["delay"]), _labels(T, 1, 10), index)
        else:
            self._draw_sine(p, index)
        unit_labels, times = _labels(units, 0, 8), _labels(T, 1, 6)
        for name in names:
            self.maps[name].show(p["gates"][name], unit_labels, times,
                                 levels=(0.0, 1.0) if name in SIGMOID else None)
        self.hidden.show(hidden, unit_labels, times)
        self._title(self.hidden.plot, "hidden state h")

        dh = np.asarray(p["dh_norms"])
        self.reach_curve.setData(np.arange(1, len(dh) + 1), dh)
        if task == "recall":
            self.delay_line.setValue(T - int(d["delay"]))
        reach = snap.scalars.get("gradient_reach")
        self._title(self.reach, "Gradient reach" if reach is None else
                    f"Gradient reach {reach:.2g}")

        c = d["curves"]
        steps = np.asarray(c["step"])
        train, test = np.asarray(c["train_loss"]), np.asarray(c["test_loss"])
        self.train_curve.setData(steps, train)
        self.test_curve.setData(steps, test)
        self.loss_range.update(*_log_bounds(steps, train, test))
        if task == "recall":
            self.acc_curve.setData(steps, np.asarray(c["test_metric"]))
        ns, norms = np.asarray(d["norm_steps"]), np.asarray(d["grad_norms"])
        self.norm_curve.setData(ns, norms)
        clip = float(d["clip"])
        self.clip_line.setVisible(clip > 0)
        if clip > 0:
            self.clip_line.setValue(np.log10(clip))     # the axis is log10: view units
            self.clip_line.label.setFormat(f"clip \u03b8 = {clip:g}")
        self.norm_range.update(*_log_bounds(ns, norms, [clip] if clip > 0 else []))

    def _restructure(self, task, names, titles, T):
        """Place this cell's maps in the grid; show the probe page and curves of the task."""
        self._structure = (task, names, T)
        recall = task == "recall"
        self.probe_pages.setCurrentIndex(0 if recall else 1)
        for view in self.maps.values():
            self.grid.removeWidget(view.widget)
            view.widget.hide()
        shown = names + ("h",)
        cols = len(shown) if len(shown) <= 3 else -(-len(shown) // 2)
        rows = -(-len(shown) // cols)
        for k, name in enumerate(shown):
            view = self._map(name)
            r, col = divmod(k, cols)
            self.grid.addWidget(view.widget, r, col)
            view.widget.show()
            # Axis names once per row and column: the maps share units and steps.
            view.plot.getAxis("left").showLabel(col == 0)
            view.plot.getAxis("bottom").showLabel(r == rows - 1)
        for name, title in zip(names, titles):
            self._title(self.maps[name].plot, title)
        for col in range(4):
            self.grid.setColumnStretch(col, 1 if col < cols else 0)
        self.acc_w.setVisible(recall)
        self.delay_line.setVisible(recall)
        self.loss.setLabel("left", "cross-entropy" if recall else "mean squared error")
        self.loss.legend.getLabel(self.test_curve).setText("test" if recall else
                                                           "test (= test MSE)")
        self.reach.setXRange(0.5, T + 0.5, padding=0.02)
        self.reach.enableAutoRange(axis="y")
        self.sine.setXRange(0.5, T + 0.5, padding=0.02)
        self._sine_range = None
        self.loss_range.reset()
        self.norm_range.reset()

    def _draw_recall(self, p, delay, times, index):
        probs = np.asarray(p["probs"]).T                        # (V, T): token x step
        V, T = probs.shape
        tokens, target, pred = (np.asarray(p[k]) for k in ("tokens", "target", "pred"))
        rows = _labels(V, 0, 4)
        one_hot = (np.arange(V)[:, None] == tokens[None, :]).astype(float)
        self.inputs.show(one_hot, rows, times, levels=(0.0, 1.0))
        self._title(self.inputs.plot, f"Input tokens x<sub>t</sub> (probe {index})")
        scored = np.flatnonzero(target >= 0)
        wrong = scored[pred[scored] != target[scored]]
        self.outputs.show(probs, rows, times, levels=(0.0, 1.0), vlines=(delay,),
                          marks=(scored + 0.5, target[scored] + 0.5))
        self.wrong.setData(wrong + 0.5, pred[wrong] + 0.5)
        self._title(self.outputs.plot, f"Output p(y<sub>t</sub>): <span style='color:{TARGET}'>"
                    f"\u25cb</span> target x<sub>t\u2212{delay}</sub>, \u00d7 wrong "
                    f"({len(wrong)}/{len(scored)})")
        self.unscored.setRect(0, 0, delay, V)
        self.unscored_text.setPos(delay / 2, V / 2)
        self.unscored_text.setVisible(delay >= 2)

    def _draw_sine(self, p, index):
        t = np.arange(1, len(p["x"]) + 1)
        ys = [np.asarray(p[key], float) for key in self.sine_curves]
        for y, curve in zip(ys, self.sine_curves.values()):
            curve.setData(t, y)
        # y range in half steps (so it rarely moves), at least [-1, 1], a legend row on top.
        both = np.concatenate(ys)
        both = both[np.isfinite(both)]
        lo = min(-1.0, np.floor(2 * both.min()) / 2) if both.size else -1.0
        hi = max(1.0, np.ceil(2 * both.max()) / 2) if both.size else 1.0
        if (lo, hi) != self._sine_range:
            self._sine_range = (lo, hi)
            self.sine.setYRange(lo - 0.1, hi + 0.25 * (hi - lo), padding=0)
        self._title(self.sine, f"Probe sequence {index}: \u03c9 = {float(p['omega']):.3g}")


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview(sys.argv[1] if len(sys.argv) > 1 else "recurrent"))
