"""Plot exports: PNG not blank and 2x size, SVG parses, CSV round-trips the plotted data."""
import csv
import xml.etree.ElementTree as ET

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

from mathdl_gui.widgets import export
from tests.gui.helpers import assert_not_blank


def _plot(qtbot):
    w = pg.PlotWidget(title="export me")
    w.getPlotItem().addLegend()
    x = np.linspace(-1, 1, 50)
    w.plot(x, x ** 2, pen="c", name="square")
    w.plot(x, np.sin(3 * x), pen="m", name="sine")
    img = pg.ImageItem(np.arange(12, dtype=float).reshape(3, 4))
    w.addItem(img)
    w.resize(420, 320)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w, x


def test_png_svg_csv(qtbot, tmp_path):
    w, x = _plot(qtbot)
    paths = export.export_plot(w.getPlotItem(), tmp_path / "p")
    assert [p.suffix for p in paths] == [".png", ".svg", ".csv"]
    png = QtGui.QImage(str(paths[0]))
    assert png.width() >= 1.9 * w.getPlotItem().sceneBoundingRect().width()
    assert_not_blank(png)
    root = ET.parse(paths[1]).getroot()
    assert root.tag.endswith("svg") and len(list(root.iter())) > 10
    with open(paths[2], newline="") as fh:
        rows = list(csv.DictReader(fh))
    square = [(float(r["x"]), float(r["y"])) for r in rows if r["series"] == "square"]
    np.testing.assert_allclose(np.array(square), np.c_[x, x ** 2])
    sine = [float(r["y"]) for r in rows if r["series"] == "sine"]
    np.testing.assert_allclose(sine, np.sin(3 * x))
    image = sorted(float(r["value"]) for r in rows if r["series"] == "image")
    assert image == list(np.arange(12.0))


def test_unknown_format_is_refused(qtbot, tmp_path):
    w, _ = _plot(qtbot)
    import pytest

    with pytest.raises(ValueError, match="png, svg, csv"):
        export.export_plot(w.getPlotItem(), tmp_path / "p", formats=("gif",))
