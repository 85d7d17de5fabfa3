"""PySide6 6.12.0 aborts pyqtgraph's first axis paint offscreen; this catches that regression."""
import numpy as np
import pyqtgraph as pg

from tests.gui.helpers import assert_not_blank


def test_plot_with_axes_paints_offscreen(qtbot):
    w = pg.PlotWidget(title="axes")
    w.setLabel("bottom", "x")
    w.setLabel("left", "y")
    x = np.linspace(0, 6, 200)
    w.plot(x, np.sin(x), pen="y")
    w.resize(400, 300)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert_not_blank(w.grab().toImage())
