"""Look and feel shared by every panel: themes, the series palette, colormaps, plot factory."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

THEMES = {
    "dark": dict(background="#1b1d21", foreground="#d6d6d6", window="#25272c", base="#1b1d21",
                 text="#e6e6e6", button="#2f3238", highlight="#3d7bd9", banner="#7a2e1f",
                 banner_text="#ffe8e0"),
    "light": dict(background="#ffffff", foreground="#202020", window="#f0f0f0", base="#ffffff",
                  text="#101010", button="#e4e4e4", highlight="#2f6fd0", banner="#fde2dc",
                  banner_text="#6a1a0c"),
}

#: One colour per series kind across the app (colour-blind-safe, Okabe-Ito based).
SERIES = {
    "gd": "#e69f00", "sgd": "#f0e442", "momentum": "#56b4e9", "nesterov": "#0072b2",
    "adagrad": "#009e73", "rmsprop": "#cc79a7", "adam": "#d55e00", "newton": "#ffffff",
    "adaptive": "#b8b8b8", "bfgs": "#c49a6c",
    "train": "#56b4e9", "test": "#e69f00", "val": "#009e73", "real": "#56b4e9", "generated": "#d55e00",
}
_FALLBACK = ["#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
             "#999999"]

#: Colours of classes 0, 1, 2, ... in every scatter and decision map (Okabe-Ito).
CLASS_COLORS = ("#e69f00", "#56b4e9", "#009e73", "#cc79a7", "#f0e442", "#d55e00",
                "#0072b2", "#999999", "#8c6d31", "#b5e8a8")

#: The highlight yellow: the explained row, the current window or cell, the step in focus.
HIGHLIGHT = "#f0e442"

_current = {"theme": "dark"}


def theme() -> dict:
    return THEMES[_current["theme"]]


def theme_name() -> str:
    return _current["theme"]


def series_color(kind: str, index: int = 0) -> str:
    """The app-wide colour of a series kind (``'adam'``, ``'train'``, ...)."""
    color = SERIES.get(kind, _FALLBACK[index % len(_FALLBACK)])
    if color == "#ffffff" and _current["theme"] == "light":
        return "#222222"  # white on white would vanish
    return color


def class_color(index: int) -> str:
    """The app-wide colour of class ``index``."""
    return CLASS_COLORS[int(index) % len(CLASS_COLORS)]


def cosmetic_pen(color, width: float = 2.0, dash: bool = False) -> QtGui.QPen:
    """A pen of ``width`` screen pixels at any zoom (cosmetic), solid or dashed.

    Parameters
    ----------
    color
        Anything :func:`pyqtgraph.mkPen` takes as a colour.
    width : float, optional
        Line width in screen pixels.
    dash : bool, optional
        Dashed instead of solid.

    Returns
    -------
    PySide6.QtGui.QPen
    """
    pen = pg.mkPen(color, width=width)
    if dash:
        pen.setStyle(QtCore.Qt.PenStyle.DashLine)
    pen.setCosmetic(True)
    return pen


def class_probability_image(probs: np.ndarray) -> np.ndarray:
    """``(rows, cols, K)`` class probabilities -> ``(rows, cols, 3)`` uint8 RGB (row-major,
    as every ``ImageItem`` here takes): class colours mixed by probability, faded towards the
    background where the model is unsure (maximum probability near 1/K)."""
    k = probs.shape[-1]
    colors = np.array([pg.mkColor(class_color(i)).getRgb()[:3] for i in range(k)], float)
    bg = np.array(pg.mkColor(theme()["background"]).getRgb()[:3], float)
    conf = (probs.max(-1, keepdims=True) - 1 / k) / (1 - 1 / k)
    return (bg + (probs @ colors - bg) * (0.25 + 0.55 * conf)).astype(np.uint8)


def apply_theme(app: QtWidgets.QApplication, name: str = "dark") -> None:
    """Apply a theme to Qt widgets and to pyqtgraph plots created afterwards."""
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}: choose one of {', '.join(THEMES)}")
    _current["theme"] = name
    t = THEMES[name]
    pg.setConfigOptions(antialias=True, background=t["background"], foreground=t["foreground"],
                        imageAxisOrder="row-major")
    app.setStyle("Fusion")
    pal = QtGui.QPalette()
    role = QtGui.QPalette.ColorRole
    for r, key in ((role.Window, "window"), (role.Base, "base"), (role.AlternateBase, "window"),
                   (role.Button, "button"), (role.Highlight, "highlight"),
                   (role.ToolTipBase, "window")):
        pal.setColor(r, QtGui.QColor(t[key]))
    for r in (role.WindowText, role.Text, role.ButtonText, role.ToolTipText, role.BrightText):
        pal.setColor(r, QtGui.QColor(t["text"]))
    pal.setColor(role.HighlightedText, QtGui.QColor("#ffffff"))
    pal.setColor(QtGui.QPalette.ColorGroup.Disabled, role.Text, QtGui.QColor("#808080"))
    pal.setColor(QtGui.QPalette.ColorGroup.Disabled, role.ButtonText, QtGui.QColor("#808080"))
    app.setPalette(pal)


def viridis() -> pg.ColorMap:
    return pg.colormap.get("viridis")


def diverging() -> pg.ColorMap:
    """Red-blue colormap for signed values (centre it on 0 with symmetric levels)."""
    return pg.ColorMap([0.0, 0.5, 1.0], [(33, 102, 172), (247, 247, 247), (178, 24, 43)])


class ThinLogAxis(pg.AxisItem):
    """A log axis that labels only as many minor ticks as fit.

    pyqtgraph labels every minor tick (2..9 of each decade) when a log axis spans fewer than
    three decades, which piles the labels on top of each other on a short plot.  Here the
    minor ticks drop to 1-2-5 per decade, then to the decades alone, as the axis gets shorter:
    when there are more labels than about one per 30 px, or when the closest two (9 and the
    next decade; 1 and 2 of 1-2-5) would sit nearer than a label needs (its height on a
    vertical axis, its width on a horizontal one).
    """

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        fit = max(2, int(size // 30))          # about one label per 30 px
        room = 20.0 if self.orientation in ("top", "bottom") else 14.0   # px between labels
        per_decade = size / max(maxVal - minVal, 1e-9)
        out = []
        for spacing, vals in super().logTickValues(minVal, maxVal, size, stdTicks):
            if spacing is None and (len(vals) > fit or per_decade * np.log10(10 / 9) < room):
                mant = np.rint(10 ** (np.asarray(vals) % 1.0)).astype(int)
                keep = [v for v, m in zip(vals, mant) if m in (1, 2, 5)]
                if len(keep) > fit or per_decade * np.log10(2) < room:
                    keep = [v for v, m in zip(vals, mant) if m == 1]
                vals = keep
            out.append((spacing, vals))
        return out


def make_plot(title: str, x_label: str, y_label: str, *, log_y: bool = False,
              log_x: bool = False, legend: bool = False) -> pg.PlotWidget:
    """A titled plot with labelled axes (and a legend), in the current theme."""
    axes = {}
    if log_y:
        axes["left"] = ThinLogAxis("left")
    if log_x:
        axes["bottom"] = ThinLogAxis("bottom")
    w = pg.PlotWidget(axisItems=axes)
    p = w.getPlotItem()
    p.setTitle(title)
    p.setLabel("bottom", x_label)
    p.setLabel("left", y_label)
    p.showGrid(x=True, y=True, alpha=0.15)
    p.setLogMode(x=log_x, y=log_y)
    for name in ("left", "bottom"):
        # "(x1e+27)" prefixes on a log axis read as nonsense; plain tick labels say it all.
        p.getAxis(name).enableAutoSIPrefix(False)
    if legend:
        add_legend(p)
    cache_static_parts(p)
    return w


def add_legend(plot: pg.PlotItem) -> pg.LegendItem:
    """A legend in the plot's top-right corner on a translucent panel of the theme."""
    t = theme()
    bg = pg.mkColor(t["background"])
    bg.setAlpha(190)
    return plot.addLegend(offset=(-10, 10), labelTextSize="8pt", brush=bg,
                          labelTextColor=t["foreground"])


def cache_static_parts(plot: pg.PlotItem) -> None:
    """Paint axes, title and legend from a pixmap cache until they change.

    Text is the costliest thing Qt's raster engine draws; without the cache every frame
    re-renders every tick label (about 2 ms per axis here), which alone would cap painting far
    below 60 FPS.
    """
    mode = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache
    for name in ("left", "bottom", "right", "top"):
        plot.getAxis(name).setCacheMode(mode)
    plot.titleLabel.setCacheMode(mode)
    if plot.legend is not None:
        plot.legend.setCacheMode(mode)


class StickyRange:
    """Axis ranges that move in steps, not every frame.

    Auto-ranging a growing curve changes the axes on every frame, and every change re-renders
    their tick labels.  This keeps the range until the data leaves it (or fills less than a
    third of it on a log axis' decades / a linear span), then jumps with headroom, so the axes
    repaint a few times per run instead of sixty times a second.
    """

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        plot.disableAutoRange()
        self.x = self.y = None

    @staticmethod
    def _fit(cur, lo, hi, below, above):
        if cur is not None and cur[0] <= lo and hi <= cur[1] and (hi - lo) >= (cur[1] - cur[0]) / 3:
            return cur
        span = max(hi - lo, 1e-9)
        return (lo - below * span, hi + above * span)

    def update(self, x_bounds, y_bounds) -> None:
        """Data bounds in view coordinates (log10 values on log axes)."""
        if not all(np.isfinite(x_bounds)) or not all(np.isfinite(y_bounds)):
            return
        nx = self._fit(self.x, *x_bounds, below=0.02, above=0.5)
        ny = self._fit(self.y, *y_bounds, below=0.25, above=0.1)
        if nx != self.x or ny != self.y:
            self.x, self.y = nx, ny
            self.plot.setRange(xRange=nx, yRange=ny, padding=0)

    def reset(self) -> None:
        self.x = self.y = None
