"""Types-of-attention panel: score and weight matrices, one query explained, its context.

Top row: the score matrix :math:`e_{t,i}` (diverging colours, centred on 0) and the weight
matrix :math:`\\alpha_{t,i}` (viridis) with the explained query's row outlined, local windows
outlined per row and hard samples marked; beside them the worked numbers of the explained
query (score -> softmax -> weighted sum).  Bottom row: the explained query's weights (with
the Gaussian of local attention and the sample frequencies of hard attention), its context
vector (with the sampled state and the running mean), and either the weights against the
temperature (soft) or the error of the hard samples' mean against their number.

Everything drawn comes from :class:`engine.labs.attention_types.AttentionTypesLab`
snapshots; this module only places it.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style
from mathdl_gui.widgets.style import HIGHLIGHT, cosmetic_pen
from mathdl_gui.widgets.token_heatmap import MAX_TOKENS, SAMPLED, WINDOW, TokenHeatmap

ALPHA = style.class_color(1)      # soft weights
ENVELOPE = style.class_color(3)   # the local Gaussian


def _named(plot, item, name):
    plot.addItem(item)
    item.opts["name"] = name
    return item


class AttentionTypesPanel(Panel):
    """Draws :class:`engine.labs.attention_types.AttentionTypesLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.body.addWidget(self.status)
        top, bottom = self.two_rows(3, 2)
        fg = style.theme()["foreground"]

        self.scores = TokenHeatmap("Scores e\u209c,\u1d62", "state i (looked at)",
                                   "query t", signed=True)
        self.weights = TokenHeatmap("Weights \u03b1\u209c,\u1d62 (rows: softmax)",
                                    "state i (looked at)", "query t", signed=False)
        self.text = QtWidgets.QTextBrowser()
        self.text.setMinimumWidth(280)
        for w, stretch in ((self.scores.widget, 4), (self.weights.widget, 4), (self.text, 4)):
            w.setMinimumWidth(240)
            top.addWidget(w)
            top.setStretchFactor(top.count() - 1, stretch)

        # -- the explained query's weights ------------------------------------------------------
        self.row_w = style.make_plot("Weights of query t", "state i", "weight")
        self.row = self.row_w.getPlotItem()
        self.alpha_bars = pg.BarGraphItem(x=[0], height=[0], width=0.6, brush=ALPHA, pen=None)
        self.alpha_bars.opts["name"] = "\u03b1 (soft weights)"
        self.row.addItem(self.alpha_bars)
        self.freq_bars = pg.BarGraphItem(x=[0], height=[0], width=0.28, brush=SAMPLED, pen=None)
        self.freq_bars.opts["name"] = "sampled frequency"
        self.row.addItem(self.freq_bars)
        self.envelope = _named(self.row, pg.PlotCurveItem(pen=cosmetic_pen(ENVELOPE, 2, dash=True)),
                               "Gaussian g")
        self.window_region = pg.LinearRegionItem(values=(0, 1), movable=False,
                                                 brush=pg.mkBrush(255, 140, 105, 30),
                                                 pen=cosmetic_pen(WINDOW, 1))
        self.row.addItem(self.window_region)
        self.picked = _named(self.row, pg.ScatterPlotItem(size=14, symbol="t", brush=SAMPLED,
                                                          pen=pg.mkPen("#111111")),
                             "this step's sample i*")
        self.row_legend = style.add_legend(self.row)
        self._row_legend_key = None

        # -- the context vector ----------------------------------------------------------------
        self.ctx_w = style.make_plot("Context vector c\u209c", "component", "value")
        self.ctx = self.ctx_w.getPlotItem()
        self.ctx_bars = pg.BarGraphItem(x=[0], height=[0], width=0.6, brush=ALPHA, pen=None)
        self.ctx_bars.opts["name"] = "c = \u03a3\u03b1\u1d62h\u1d62"
        self.ctx.addItem(self.ctx_bars)
        self.ctx_sample = _named(self.ctx, pg.ScatterPlotItem(
            size=11, symbol="t", brush=SAMPLED, pen=pg.mkPen("#111111")), "sampled h\u1d62*")
        self.ctx_mean = _named(self.ctx, pg.PlotDataItem(
            pen=cosmetic_pen(fg, 1.5), symbol="o", symbolSize=6, symbolBrush=fg, symbolPen=None),
            "mean of the samples")
        self.ctx_expected = _named(self.ctx, pg.ScatterPlotItem(
            size=16, symbol="_", pen=cosmetic_pen(HIGHLIGHT, 2.5)), "E[c] of the samples")
        self.ctx.addItem(pg.InfiniteLine(pos=0, angle=0, pen=cosmetic_pen(fg, 1)))
        self.ctx_legend = style.add_legend(self.ctx)
        self._ctx_legend_key = None

        # -- temperature sweep (soft) or Monte Carlo error (hard) ------------------------------
        # Both axes are thinning log axes (hard mode plots log y); soft mode starts linear in y.
        self.extra_w = style.make_plot("Weights vs temperature", "temperature T", "weight",
                                       log_x=True, log_y=True)
        self.extra = self.extra_w.getPlotItem()
        self.extra.setLogMode(x=True, y=False)
        self.sweep = []
        for k in range(MAX_TOKENS):
            # PlotDataItem, not PlotCurveItem: only it follows the axes' log mode.
            c = _named(self.extra, pg.PlotDataItem(pen=cosmetic_pen(style.class_color(k), 2)),
                       f"\u03b1 of state {k}")
            self.sweep.append(c)
        self.t_mark = pg.InfiniteLine(angle=90, movable=False,
                                      pen=cosmetic_pen(HIGHLIGHT, 1.5, True),
                                      label="T", labelOpts={"position": 0.93,
                                                            "color": HIGHLIGHT})
        self.extra.addItem(self.t_mark)
        self.mc_err = _named(self.extra, pg.PlotDataItem(pen=cosmetic_pen(SAMPLED, 2)),
                             "\u2016mean of samples \u2212 E[c]\u2016\u00b2")
        self.mc_expect = _named(self.extra, pg.PlotDataItem(pen=cosmetic_pen(fg, 2, dash=True)),
                                "Var / n")
        self.extra_legend = style.add_legend(self.extra)
        self._extra_mode = None

        for w, stretch in ((self.row_w, 4), (self.ctx_w, 4), (self.extra_w, 4)):
            w.setMinimumWidth(240)
            bottom.addWidget(w)
            bottom.setStretchFactor(bottom.count() - 1, stretch)
        self._html = None
        self._status_text = None
        self._row_ticks = None

    def plots(self):
        return {"scores": self.scores.plot, "weights": self.weights.plot, "row": self.row,
                "context": self.ctx, "extra": self.extra}

    # -- drawing ----------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        q, k = d["q_tokens"], d["k_tokens"]
        t = int(d["query"])
        rows = [f"{i} {tok}" for i, tok in enumerate(q)]
        self.scores.show(d["scores"], rows, k, row=t)
        samples = np.asarray(d["samples"])
        self.weights.show(d["weights"], rows, k, row=t, windows=d["windows"],
                          marks=(samples + 0.5, np.arange(len(samples)) + 0.5))
        self._draw_row(d, t, q, k)
        self._draw_context(d)
        self._draw_extra(d, k)
        html = (f"<div style='color:{style.theme()['text']}; font-size:10pt'>"
                f"{snap.text['equation']}{snap.text['rules']}</div>")
        if html != self._html:
            self._html = html
            bar = self.text.verticalScrollBar()
            pos = bar.value()
            self.text.setHtml(html)
            bar.setValue(pos)
        status = snap.text.get("status", "")
        if status != self._status_text:
            self._status_text = status
            self.status.setText(status)

    def _draw_row(self, d, t, q, k):
        n = len(k)
        x = np.arange(n, dtype=float)
        w = np.asarray(d["row_weights"])
        hard, local = bool(d["hard"]), bool(d["local"])
        freq = np.asarray(d["freq"])
        self.alpha_bars.setOpts(x=x - (0.15 if hard else 0.0), height=w,
                                width=0.55 if not hard else 0.3)
        self.freq_bars.setVisible(hard and len(freq) > 0)
        if hard and len(freq):
            self.freq_bars.setOpts(x=x + 0.15, height=freq, width=0.3)
        self.envelope.setVisible(local)
        self.window_region.setVisible(local)
        if local:
            # A smooth Gaussian drawn through the positions (sampled finely between them).
            xs = np.linspace(-0.5, n - 0.5, 200)
            pt = float(d["centres"][t])
            sigma = max(d["window_D"] / 2.0, 1e-6)
            self.envelope.setData(xs, np.exp(-(xs - pt) ** 2 / (2 * sigma ** 2)))
            x0, x1 = d["windows"][t]
            self.window_region.setRegion((float(x0) - 0.5, float(x1) - 0.5))
        samples = np.asarray(d["samples"])
        if hard and len(samples):
            i = int(samples[t])
            self.picked.setData([float(i) + (0.15 if hard else 0.0)],
                                [float(max(w[i], freq[i])) + 0.06])
        else:
            self.picked.setData([], [])
        # Short titles: a title wider than the plot would set the widget's minimum width.
        self.row.setTitle(f"\u03b1 of query {t} \u2018{q[t][:10]}\u2019")
        ticks = tuple(k)
        if ticks != self._row_ticks:
            self._row_ticks = ticks
            self.row.getAxis("bottom").setTicks([[(float(i), s) for i, s in enumerate(k)]])
        legend_rows = 1 + local + 2 * hard
        self.row.setRange(xRange=(-0.6, n - 0.4), yRange=(0, 1.05 + 0.1 * legend_rows),
                          padding=0)
        key = (hard, local)
        if key != self._row_legend_key:
            self._row_legend_key = key
            lg = self.row_legend
            lg.clear()
            lg.addItem(self.alpha_bars, "\u03b1\u209c,\u1d62")
            if local:
                lg.addItem(self.envelope, "Gaussian, \u03c3 = D/2")
            if hard:
                lg.addItem(self.freq_bars, "sampled frequency")
                lg.addItem(self.picked, "this step's i*")

    def _draw_context(self, d):
        c = np.asarray(d["context"])
        dim = len(c)
        x = np.arange(dim, dtype=float)
        self.ctx_bars.setOpts(x=x, height=c, width=0.6)
        hard = bool(d["hard"]) and len(d["sample_value"]) > 0
        for item in (self.ctx_sample, self.ctx_mean, self.ctx_expected):
            item.setVisible(hard)
        if hard:
            self.ctx_sample.setData(x, np.asarray(d["sample_value"]))
            self.ctx_mean.setData(x, np.asarray(d["mean_value"]))
            self.ctx_expected.setData(x, np.asarray(d["expected"]))
        vals = [c, np.asarray(d["values"]).ravel()]
        top = max(1.0, float(max(np.abs(v).max() for v in vals))) * 1.1
        # Head room above the data for the legend (four rows in hard mode).
        self.ctx.setRange(xRange=(-0.6, dim - 0.4), yRange=(-top, top * (2.0 if hard else 1.4)),
                          padding=0)
        key = hard
        if key != self._ctx_legend_key:
            self._ctx_legend_key = key
            lg = self.ctx_legend
            lg.clear()
            lg.addItem(self.ctx_bars, "c\u209c = \u03a3 \u03b1\u1d62 h\u1d62")
            if hard:
                lg.addItem(self.ctx_sample, "this step: h\u1d62*")
                lg.addItem(self.ctx_mean, "mean of the samples")
                lg.addItem(self.ctx_expected, "E[h\u1d62*]")

    def _draw_extra(self, d, k):
        hard = bool(d["hard"])
        mode = "hard" if hard else "soft"
        if mode != self._extra_mode:
            self._extra_mode = mode
            if hard:
                self.extra.setTitle("Hard: error of the sample mean")
                self.extra.setLabel("bottom", "samples n")
                self.extra.setLabel("left", "squared error")
                self.extra.setLogMode(x=True, y=True)
            else:
                self.extra.setTitle("\u03b1 of query t against T")
                self.extra.setLabel("bottom", "temperature T")
                self.extra.setLabel("left", "weight \u03b1\u209c,\u1d62")
                self.extra.setLogMode(x=True, y=False)
            self._sweep_legend = None
        for c in self.sweep:
            c.setVisible(not hard)
        self.t_mark.setVisible(not hard)
        self.mc_err.setVisible(hard)
        self.mc_expect.setVisible(hard)
        lg = self.extra_legend
        if hard:
            n = np.asarray(d["mc_n"])
            if len(n):
                err = np.maximum(np.asarray(d["mc_error"]), 1e-12)
                self.mc_err.setData(n, err)
                self.mc_expect.setData(n, d["variance"] / n)
                lo = float(np.log10(max(min(err.min(), d["variance"] / n[-1]), 1e-12)))
                hi = float(np.log10(max(err.max(), d["variance"])))
                self.extra.setRange(xRange=(0, max(np.log10(n[-1]), 1.0)),
                                    yRange=(lo - 0.2, hi + 0.2), padding=0)
            else:
                # Before the first draw: the expected error of one sample, Var, as a start.
                self.mc_err.setData([], [])
                self.mc_expect.setData([1.0, 10.0], [d["variance"], d["variance"] / 10.0])
                v = float(np.log10(max(d["variance"], 1e-12)))
                self.extra.setRange(xRange=(0, 1), yRange=(v - 1.2, v + 0.2), padding=0)
            key = ("hard",)
            if key != self._sweep_legend:
                self._sweep_legend = key
                lg.clear()
                lg.addItem(self.mc_err, "\u2016mean of n samples \u2212 E[c]\u2016\u00b2")
                lg.addItem(self.mc_expect, "its expectation Var/n")
            return
        temps = np.asarray(d["temps"])
        tw = np.asarray(d["temp_weights"])
        for i, c in enumerate(self.sweep):
            on = i < tw.shape[1]
            c.setVisible(on)
            if on:
                c.setData(temps, tw[:, i])
        self.t_mark.setValue(float(np.log10(d["temperature"])))
        self.extra.setRange(xRange=(float(np.log10(temps[0])), float(np.log10(temps[-1]))),
                            yRange=(0, 1.05), padding=0)
        key = ("soft", tuple(k))
        if key != self._sweep_legend:
            self._sweep_legend = key
            lg.clear()
            if len(k) <= 8:
                for i, tok in enumerate(k):
                    lg.addItem(self.sweep[i], f"{i} {tok}")


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview(sys.argv[1] if len(sys.argv) > 1 else "attention_types"))
