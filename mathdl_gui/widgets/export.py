"""Export a plot to PNG (2x on-screen size), SVG and CSV of its data, written atomically."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters as pgx

from engine.io.atomic import atomic_path

FORMATS = ("png", "svg", "csv")


def _tolerate_closepath() -> None:
    """Let pyqtgraph 0.14's SVG exporter read paths that end in ``Z``.

    Qt 6.11's SVG generator closes shapes with a bare ``Z`` token; pyqtgraph's
    ``correctCoordinates`` expects every token to be ``x,y`` and raises on it.  We take the
    ``Z`` tokens out before pyqtgraph transforms the coordinates and put one back after.
    """
    mod = sys.modules["pyqtgraph.exporters.SVGExporter"]
    original = mod.correctCoordinates
    if getattr(original, "_mathdl_patched", False):
        return

    def correct(node, defs, item, options):
        closed = []
        for path in node.getElementsByTagName("path"):
            tokens = path.getAttribute("d").split()
            kept = [t for t in tokens if t not in ("Z", "z")]
            if len(kept) != len(tokens):
                path.setAttribute("d", " ".join(kept))
                closed.append(path)
        result = original(node, defs, item, options)
        for path in closed:
            path.setAttribute("d", path.getAttribute("d").rstrip() + " Z")
        return result

    correct._mathdl_patched = True
    mod.correctCoordinates = correct


_tolerate_closepath()


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_") or "plot"


def export_plot(plot: pg.PlotItem, base: str | Path, formats=FORMATS, scale: float = 2.0
                ) -> list[Path]:
    """Write ``plot`` as ``base.png``, ``base.svg`` and ``base.csv`` (those in ``formats``).

    Returns the paths written.  Each file is written to a temporary name and renamed.
    """
    base = Path(base)
    written = []
    for fmt in formats:
        path = base.with_name(base.name + "." + fmt)
        if fmt == "png":
            exp = pgx.ImageExporter(plot)
            width = max(int(plot.sceneBoundingRect().width() * scale), 200)
            exp.parameters()["width"] = width
            with atomic_path(path) as tmp:
                exp.export(tmp)
        elif fmt == "svg":
            with atomic_path(path) as tmp:
                pgx.SVGExporter(plot).export(tmp)
        elif fmt == "csv":
            with atomic_path(path) as tmp:
                write_csv(plot, tmp)
        else:
            raise ValueError(f"unknown export format {fmt!r}: choose from {', '.join(FORMATS)}")
        written.append(path)
    return written


def plot_series(plot: pg.PlotItem) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The visible curves/scatters of a plot as (name, x, y), in data coordinates."""
    out = []
    for i, item in enumerate(plot.listDataItems()):
        if not item.isVisible():
            continue
        x, y = item.getOriginalDataset() if hasattr(item, "getOriginalDataset") else item.getData()
        if x is None or y is None or len(x) == 0:
            continue
        name = item.name() if hasattr(item, "name") and item.name() else f"series{i}"
        out.append((name, np.asarray(x, dtype=float), np.asarray(y, dtype=float)))
    return out


def write_csv(plot: pg.PlotItem, path) -> None:
    """Tidy CSV of a plot's data: ``series,x,y`` rows for curves, ``image,x,y,value`` for images."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["series", "x", "y", "value"])
        for name, x, y in plot_series(plot):
            for xi, yi in zip(x, y):
                w.writerow([name, repr(float(xi)), repr(float(yi)), ""])
        for item in plot.items:
            if isinstance(item, pg.ImageItem) and item.image is not None and item.isVisible():
                img = np.asarray(item.image, dtype=float)
                rect = item.mapRectToParent(item.boundingRect())
                ny, nx = img.shape[:2]  # row-major: rows are y
                xs = rect.left() + (np.arange(nx) + 0.5) * rect.width() / nx
                ys = rect.top() + (np.arange(ny) + 0.5) * rect.height() / ny
                gx, gy = np.meshgrid(xs, ys)
                for xi, yi, vi in zip(gx.ravel(), gy.ravel(), img.reshape(ny * nx, -1)[:, 0]):
                    w.writerow(["image", repr(float(xi)), repr(float(yi)), repr(float(vi))])


def export_plots(plots: dict, folder: str | Path, formats=FORMATS) -> list[Path]:
    """Export every plot of a panel into ``folder`` (created if missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, plot in plots.items():
        written += export_plot(plot, folder / _slug(name), formats)
    return written
