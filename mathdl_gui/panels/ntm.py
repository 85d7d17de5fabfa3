"""Neural Turing machine panel: memory, the four addressing stages as bars, read and write.

Top row: the memory :math:`M_{t-1}` (click a cell to type a new value), the addressing
pipeline (one column of horizontal bars per stage, :math:`w_{t-1} \\to w^c \\to w^g \\to
\\tilde w \\to w`, rows aligned with the memory's rows; stages not yet reached are empty) and
the formulas with this time step's numbers.  Bottom row: the key, read, erase and add vectors
over the memory columns, the memory after the write, and the head's weighting over the past
time steps (the head walking shows as a diagonal).

In copy-task mode a second page replaces these: the training loss, the write and read
weightings over the time steps of one test sequence, its input, the machine's output (wrong
bits circled) and the memory after the sequence.

Everything drawn comes from :class:`engine.labs.ntm.NTMLab` snapshots; this module only
places it.  The addressing heatmaps are drawn with
:class:`~mathdl_gui.widgets.heat_view.HeatView` (as in the convolution explorer), the
copy-task ones with :class:`~mathdl_gui.widgets.token_heatmap.TokenHeatmap` (as in the
attention panel: they need named rows).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from mathdl_gui.panels.base import Panel
from mathdl_gui.widgets import style
from mathdl_gui.widgets.heat_view import HeatView
from mathdl_gui.widgets.style import HIGHLIGHT, cosmetic_pen
from mathdl_gui.widgets.token_heatmap import TokenHeatmap

STAGE_GAP = 1.3            # x distance between the pipeline's columns (bars are <= 1 long)
MAX_ROWS = 16
#: Colours of the pipeline's columns: w_{t-1} grey, then one colour per stage.
STAGE_COLORS = ("#9a9a9a", style.class_color(1), style.class_color(2), style.class_color(3),
                style.class_color(0))
VECTOR_COLORS = {"key": style.class_color(4), "read": style.class_color(0),
                 "erase": style.class_color(5), "add": style.class_color(2)}
EMPTY_LABELS = {"xy": np.zeros((0, 2)), "text": ()}
#: The first stage (index into the lab's six) at which each pipeline column is known.
COLUMN_STAGE = (0, 0, 1, 2, 3)


class NTMPanel(Panel):
    """Draws :class:`engine.labs.ntm.NTMLab` snapshots."""

    def __init__(self, lab_cls, parent=None):
        super().__init__(lab_cls, parent)
        bar = QtWidgets.QHBoxLayout()
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.hint = QtWidgets.QLabel()
        self.hint.setWordWrap(True)
        bar.addWidget(self.status, 3)
        bar.addWidget(self.hint, 2)
        self.body.addLayout(bar)
        # Two pages, one per mode; only the page of the current mode is shown and exported.
        self.pages = QtWidgets.QStackedWidget()
        self.body.addWidget(self.pages, 1)
        top, bottom = self._page()
        fg = style.theme()["foreground"]

        self.memory = HeatView("Memory M\u209c\u208b\u2081", "column j", "row i")
        self.after = HeatView("After the write M\u209c", "column j", "row i")
        self.heads = HeatView("Head weight w\u209c over time", "time step t", "row i")
        # Rows x time steps is a wide matrix: square cells would squeeze it into a thin band.
        self.heads.plot.setAspectLocked(False)

        # -- the pipeline: one column of horizontal bars per stage ------------------------------
        self.pipe_w = style.make_plot("Addressing, stage by stage", "", "row i")
        self.pipe = self.pipe_w.getPlotItem()
        self.pipe.invertY(True)
        self.pipe.showGrid(x=False, y=False)
        self.pipe.setMouseEnabled(x=False, y=False)
        self.pipe.hideButtons()
        self.pipe_bars = pg.BarGraphItem(x0=[0], y=[0], height=[0.7], width=[0], pen=None)
        self.pipe_bars.opts["name"] = "weights"
        self.pipe.addItem(self.pipe_bars)
        self.pipe_frames = pg.PlotCurveItem(pen=cosmetic_pen(fg, 1, dash=True), connect="pairs")
        self.pipe_frames.opts["name"] = "column frames"
        self.pipe.addItem(self.pipe_frames)
        self.pipe_now = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.pipe_now.setPen(cosmetic_pen(HIGHLIGHT, 2.5))
        self.pipe_now.setZValue(10)
        self.pipe.addItem(self.pipe_now)
        self.pipe_text = []
        for _ in range(5 * MAX_ROWS):
            t = pg.TextItem(color=fg, anchor=(0, 0.5))
            t.setZValue(11)
            self.pipe.addItem(t)
            self.pipe_text.append(t)
        self.pipe_next = []
        for _ in range(5):
            t = pg.TextItem(color="#8a8a8a", anchor=(0.5, 0.5))
            self.pipe.addItem(t)
            self.pipe_next.append(t)
        self._pipe_key = None

        self.text = QtWidgets.QTextBrowser()
        self.text.setMinimumWidth(260)
        for w, stretch, least in ((self.memory.widget, 4, 290), (self.pipe_w, 5, 360),
                                  (self.text, 4, 260)):
            w.setMinimumWidth(least)
            top.addWidget(w)
            top.setStretchFactor(top.count() - 1, stretch)

        # -- vectors over the memory columns ----------------------------------------------------
        self.vec_w = style.make_plot("Key, read, erase and add", "column j", "value")
        self.vec = self.vec_w.getPlotItem()
        self.vec_bars = {}
        for name, label in (("key", "key k"), ("read", "read r\u209c"), ("erase", "erase e"),
                            ("add", "add a")):
            b = pg.BarGraphItem(x=[0], height=[0], width=0.2, brush=VECTOR_COLORS[name],
                                pen=None)
            b.opts["name"] = label
            self.vec.addItem(b)
            self.vec_bars[name] = b
        self.vec.addItem(pg.InfiniteLine(pos=0, angle=0, pen=cosmetic_pen(fg, 1)))
        self.vec_legend = style.add_legend(self.vec)
        for name, label in (("key", "key k"), ("read", "read r\u209c"), ("erase", "erase e"),
                            ("add", "add a")):
            self.vec_legend.addItem(self.vec_bars[name], label)
        self.vec_legend.setColumnCount(2)
        self._vec_ticks = None

        for w, stretch, least in ((self.vec_w, 4, 240), (self.after.widget, 4, 260),
                                  (self.heads.widget, 4, 260)):
            w.setMinimumWidth(least)
            bottom.addWidget(w)
            bottom.setStretchFactor(bottom.count() - 1, stretch)
        self.after_note = pg.TextItem(color="#8a8a8a", anchor=(0.5, 0.5))
        self.after.plot.addItem(self.after_note)
        self.read_note = pg.TextItem(color="#8a8a8a", anchor=(0.5, 0))
        self.vec.addItem(self.read_note)
        self._html = None
        self._status = None
        self._mode = None
        self.memory.plot.scene().sigMouseClicked.connect(self._memory_clicked)
        self._build_copy_page()

    def _page(self):
        """A new page: a vertical splitter holding a top and a bottom row."""
        vsplit = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.pages.addWidget(vsplit)
        rows = []
        for _ in range(2):
            row = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
            vsplit.addWidget(row)
            rows.append(row)
        vsplit.setStretchFactor(0, 3)
        vsplit.setStretchFactor(1, 2)
        return rows

    def _build_copy_page(self):
        top, bottom = self._page()
        self.loss_w = style.make_plot("Training loss", "step", "cross-entropy per bit",
                                      log_y=True)
        self.loss = self.loss_w.getPlotItem()
        self.loss_curve = self.loss.plot(pen=cosmetic_pen(style.series_color("train"), 1.5),
                                         name="training batch")
        self.loss_smooth = self.loss.plot(pen=cosmetic_pen(style.series_color("test"), 2.5),
                                          name="test: wrong bits per sequence")
        self.loss_legend = style.add_legend(self.loss)
        self.loss_legend.addItem(self.loss_curve, "train loss")
        self.loss_legend.addItem(self.loss_smooth, "test: wrong bits/seq.")
        self.write_map = TokenHeatmap("Write head w\u1d42 over time", "time step t",
                                      "memory row", signed=False)
        self.read_map = TokenHeatmap("Read head w\u1d3f over time", "time step t",
                                     "memory row", signed=False)
        for w, least in ((self.loss_w, 260), (self.write_map.widget, 240),
                         (self.read_map.widget, 240)):
            w.setMinimumWidth(least)
            top.addWidget(w)
        self.input_map = TokenHeatmap("Input x\u209c", "time step t", "", signed=False,
                                      values=False)
        self.output_map = TokenHeatmap("Output \u03c3(y)", "time step t (wrong bits circled)", "",
                                       signed=False, values=False)
        self.final_map = TokenHeatmap("Memory after the sequence", "column", "row",
                                      signed=True)
        for view in (self.input_map, self.output_map, self.final_map):
            view.widget.setMinimumWidth(220)
            bottom.addWidget(view.widget)
        self._loss_range = style.StickyRange(self.loss)

    def plots(self):
        if self._mode == "copy_task":
            return {"loss": self.loss, "write_weights": self.write_map.plot,
                    "read_weights": self.read_map.plot, "input": self.input_map.plot,
                    "output": self.output_map.plot, "memory": self.final_map.plot}
        return {"memory": self.memory.plot, "pipeline": self.pipe, "text_vectors": self.vec,
                "memory_after": self.after.plot, "heads": self.heads.plot}

    # -- interaction ------------------------------------------------------------------------------
    def memory_cell_at(self, x, y):
        """The (row, col) of the memory picture at view point (x, y), or None."""
        snap = self.last_snapshot
        if snap is None:
            return None
        mem = snap.data["memory"]
        col, row = int(np.floor(x)), int(np.floor(y))
        if 0 <= row < mem.shape[0] and 0 <= col < mem.shape[1]:
            return row, col
        return None

    def _memory_clicked(self, ev):
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or ev.double():
            return
        vb = self.memory.plot.vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        pt = vb.mapSceneToView(ev.scenePos())
        cell = self.memory_cell_at(pt.x(), pt.y())
        if cell is None:
            return
        row, col = cell
        current = float(self.last_snapshot.data["memory"][row, col])
        value, ok = QtWidgets.QInputDialog.getDouble(
            self, "Memory cell", f"M({row}, {col}):", current, -10.0, 10.0, 3)
        if ok:
            self.action_requested.emit("set_memory_cell", {"row": int(row), "col": int(col),
                                                           "value": float(value)})

    # -- drawing ----------------------------------------------------------------------------------
    def _render(self, snap):
        d = snap.data
        mode = d["mode"]
        if mode != self._mode:
            self._mode = mode
            copy = mode == "copy_task"
            self.pages.setCurrentIndex(1 if copy else 0)
            self.hint.setText(
                "Play trains; the pictures follow one fixed test sequence." if copy else
                "Step (S) reveals the next stage. Click a memory cell to type its value.")
            self._loss_range.reset()
        status = snap.text.get("status", "")
        if status != self._status:
            self._status = status
            self.status.setText(f"<b>{status}</b>")
        if mode == "copy_task":
            self._render_copy(d)
            return
        stage = int(d["stage"])
        mem, after = np.asarray(d["memory"]), np.asarray(d["memory_after"])
        t = int(d["time"])
        self.memory.set_title(f"Memory M{_sub(t - 1)}")
        self.memory.set_image(mem, bool((mem < 0).any()))
        self.memory.set_labels(mem, d["memory_labels"])
        self.memory.set_ticks(())
        written = stage >= 5
        self.after.set_title(f"After the write M{_sub(t)}")
        self.after.set_image(after, bool((after < 0).any()))
        self.after.image.setVisible(written)
        self.after.set_labels(after, d["after_labels"] if written else EMPTY_LABELS)
        self.after.set_ticks(())
        n, width = mem.shape
        self.after_note.setVisible(not written)
        if not written:
            self.after_note.setText("write: stage 6\n(press Step)")
            self.after_note.setPos(width / 2, n / 2)
        heads = np.asarray(d["heads"])
        self.heads.set_image(heads.T, False)
        self.heads.set_labels(heads.T, EMPTY_LABELS)
        self.heads.set_ticks((), origin=(0, -int(d["heads_t0"])))
        self.heads.set_title("Head weight w over time")
        self._draw_pipeline(d, stage)
        self._draw_vectors(d, stage)
        html = (f"<div style='color:{style.theme()['text']}; font-size:10pt'>"
                f"{snap.text['equation']}{snap.text['rules']}</div>")
        if html != self._html:
            self._html = html
            bar = self.text.verticalScrollBar()
            pos = bar.value()
            self.text.setHtml(html)
            bar.setValue(pos)

    def _render_copy(self, d):
        steps, loss = np.asarray(d["loss_steps"]), np.asarray(d["loss"])
        es, eb = np.asarray(d["eval_steps"]), np.asarray(d["eval_bits"])
        # Zero wrong bits cannot sit on a log axis: they are drawn at a floor of 1e-3.
        eb = np.maximum(eb, 1e-3)
        self.loss_curve.setData(steps, loss)
        self.loss_smooth.setData(np.maximum(es, 1.0), eb)
        vals = np.concatenate([loss, eb]) if len(loss) else eb
        self._loss_range.update((0.0, max(float(steps[-1]) if len(steps) else 1.0, 10.0)),
                                (float(np.log10(vals.min())), float(np.log10(vals.max()))))
        exact = float(d["eval_exact"][-1])
        self.loss.setTitle(f"Loss; test: {100 * exact:.0f}% exact")
        T = d["input"].shape[1]
        L = int(d["seq_len"])
        times = [str(t) for t in range(T)]
        lines = tuple(d["phase_marks"] + 0.5)     # between the phases, in cell units
        rows = [str(i) for i in range(d["write_w"].shape[0])]
        self.write_map.show(d["write_w"], rows, times, levels=(0.0, 1.0), vlines=lines)
        self.read_map.show(d["read_w"], rows, times, levels=(0.0, 1.0), vlines=lines)
        bits = d["target"].shape[0]
        chan = [f"bit {b}" for b in range(bits)] + ["shown", "delimiter"]
        self.input_map.show(d["input"], chan, times, levels=(0.0, 1.0), vlines=lines)
        wrong = np.asarray(d["wrong"])
        ys, xs = np.nonzero(wrong)
        self.output_map.show(d["output"], [f"bit {b}" for b in range(bits)], times,
                             levels=(0.0, 1.0), marks=(xs + 0.5, ys + 0.5), vlines=lines)
        self.output_map.plot.setTitle(f"Output \u03c3(y), t \u2265 {L + 1}")
        mem = d["memory_final"]
        self.final_map.show(mem, [str(i) for i in range(mem.shape[0])],
                            [str(j) for j in range(mem.shape[1])])

    def _draw_pipeline(self, d, stage):
        pipe = np.asarray(d["pipeline"])          # (5, N): w_prev, wc, wg, wt, w
        k, n = pipe.shape
        shown = [stage >= s for s in COLUMN_STAGE]
        x0 = np.repeat(np.arange(k) * STAGE_GAP, n)
        y = np.tile(np.arange(n) + 0.5, k)
        width = np.where(np.repeat(shown, n), pipe.ravel(), 0.0)
        brushes = [pg.mkBrush(STAGE_COLORS[j]) for j in range(k) for _ in range(n)]
        self.pipe_bars.setOpts(x0=x0, y=y, height=0.7, width=width, brushes=brushes)
        # Dashed frames at 0 and 1 of each column: the scale every bar is read against.
        fx = np.repeat(np.stack([np.arange(k) * STAGE_GAP, np.arange(k) * STAGE_GAP + 1.0],
                                1).ravel(), 2)
        fy = np.tile([0.0, float(n)], 2 * k)
        self.pipe_frames.setData(fx, fy)
        # The column of the stage just revealed (content ... sharpen) is outlined.
        col = {0: 1, 1: 2, 2: 3, 3: 4}.get(stage)
        self.pipe_now.setVisible(col is not None)
        if col is not None:
            self.pipe_now.setRect(col * STAGE_GAP - 0.08, -0.1, 1.16, n + 0.2)
        labels = n <= 10
        font = QtGui.QFont()
        font.setPointSize(8 if n <= 6 else 7)
        fg = style.theme()["foreground"]
        for idx, item in enumerate(self.pipe_text):
            j, i = divmod(idx, MAX_ROWS)
            on = labels and j < k and i < n and shown[j]
            item.setVisible(on)
            if on:
                v = float(pipe[j, i])
                item.setFont(font)
                # A long bar carries its value inside its end, in dark ink; a short one
                # just after it, so the text never runs into the next column.
                inside = v > 0.55
                item.setText(f"{v:.2f}", color="#111111" if inside else fg)
                item.setAnchor((1, 0.5) if inside else (0, 0.5))
                item.setPos(j * STAGE_GAP + v + (-0.03 if inside else 0.03), i + 0.5)
        for j, item in enumerate(self.pipe_next):
            on = j < k and not shown[j]
            item.setVisible(on)
            if on:
                item.setText("next")
                item.setPos(j * STAGE_GAP + 0.5, n / 2)
        key = (k, n, tuple(d["pipeline_names"]))
        if key != self._pipe_key:
            self._pipe_key = key
            names = d["pipeline_names"]
            self.pipe.getAxis("bottom").setTicks(
                [[(j * STAGE_GAP + 0.5, names[j]) for j in range(k)]])
            every = max(1, int(np.ceil(n / 12)))
            self.pipe.getAxis("left").setTicks(
                [[(i + 0.5, str(i)) for i in range(0, n, every)]])
            self.pipe.setRange(xRange=(-0.15, (k - 1) * STAGE_GAP + 1.1), yRange=(0, n),
                               padding=0.02)

    def _draw_vectors(self, d, stage):
        width = len(d["key"])
        x = np.arange(width, dtype=float)
        offsets = {"key": -0.3, "read": -0.1, "erase": 0.1, "add": 0.3}
        read_shown = stage >= 4
        for name, b in self.vec_bars.items():
            vals = np.asarray(d["r" if name == "read" else name], dtype=float)
            if name == "read" and not read_shown:
                vals = np.zeros_like(vals)
            b.setOpts(x=x + offsets[name], height=vals, width=0.19)
        vals = np.concatenate([np.asarray(d[k_]) for k_ in ("key", "r", "erase", "add")])
        lo = min(0.0, float(vals.min()))
        hi = max(1.0, float(vals.max()))
        span = hi - lo
        self.vec.setRange(xRange=(-0.6, width - 0.4), yRange=(lo - 0.05 * span,
                                                              hi + 0.45 * span), padding=0)
        self.read_note.setVisible(not read_shown)
        if not read_shown:
            self.read_note.setText("read r\u209c: stage 5")
            self.read_note.setPos((width - 1) / 2, lo - 0.02 * span)
        ticks = width
        if ticks != self._vec_ticks:
            self._vec_ticks = ticks
            self.vec.getAxis("bottom").setTicks([[(float(j), str(j)) for j in range(width)]])


def _sub(t: int) -> str:
    """``t`` as Unicode subscript digits (a minus sign too)."""
    return str(t).translate(str.maketrans("-0123456789", "\u208b\u2080\u2081\u2082\u2083"
                                          "\u2084\u2085\u2086\u2087\u2088\u2089"))


if __name__ == "__main__":
    import sys

    from mathdl_gui.preview import preview

    sys.exit(preview(sys.argv[1] if len(sys.argv) > 1 else "ntm"))
