"""Optimization panel behaviour beyond the smoke test: clicks set the start, 1-D view."""
import pytest
from PySide6 import QtCore

from engine.labs.optimization import OptimizationLab
from mathdl_gui.panels.optimization import OptimizationPanel
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = OptimizationPanel(OptimizationLab)
    qtbot.addWidget(p)
    p.resize(1000, 650)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_click_on_plot_requests_start_point(panel, qtbot):
    lab = OptimizationLab(seed=0)
    lab.step(3)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    vb = panel.main.vb
    target = vb.mapViewToScene(QtCore.QPointF(0.5, 2.0))
    view = panel.main_w
    pos = view.mapFromScene(target)
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        qtbot.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    name, kwargs = sig.args
    assert name == "set_start"
    assert kwargs["x"] == pytest.approx(0.5, abs=0.05)
    assert kwargs["y"] == pytest.approx(2.0, abs=0.05)
    lab.do_action(name, **kwargs)  # what the window's worker does with it
    assert lab.start[0] == pytest.approx(0.5, abs=0.05)


def test_one_dimensional_view_shows_curve_and_stationary_points(panel, qtbot):
    lab = OptimizationLab(seed=0)
    lab.set_param("function", "quartic")
    lab.step(20)
    panel.render(lab.snapshot())
    assert panel.curve1d.isVisible() and not panel.image.isVisible()
    assert len(panel.stat_min.data) == 2 and len(panel.stat_max.data) == 1
    qtbot.wait(20)
    assert_not_blank(panel.grab().toImage())
    lab.set_param("function", "beale")
    panel.render(lab.snapshot())
    assert panel.image.isVisible() and not panel.curve1d.isVisible()


def test_divergence_banner_appears(panel):
    lab = OptimizationLab(seed=0)
    lab.set_param("gd_lr", 0.5)
    lab.step(10)
    panel.render(lab.snapshot())
    assert panel.banner.isVisible() and "Gradient descent diverged" in panel.banner.text()


def test_csv_export_names_every_series(panel, tmp_path):
    import csv

    lab = OptimizationLab(seed=0)
    lab.step(4)
    panel.render(lab.snapshot())
    panel.export_all(tmp_path, formats=("csv",))
    with open(tmp_path / "race.csv", newline="") as fh:
        names = {row["series"] for row in csv.DictReader(fh)}
    assert {"Adam", "Newton", "start", "minimum", "current points", "image"} <= names
    assert not any(n.startswith("series") for n in names)


def test_log_curves_export_original_values(panel, tmp_path):
    import csv

    import numpy as np

    lab = OptimizationLab(seed=0)
    lab.step(6)
    snap = lab.snapshot()
    panel.render(snap)
    panel.export_all(tmp_path, formats=("csv",))
    with open(tmp_path / "objective.csv", newline="") as fh:
        adam = [float(r["y"]) for r in csv.DictReader(fh) if r["series"] == "Adam"]
    np.testing.assert_allclose(adam, snap.data["racers"]["adam"]["gap"])
    # What is drawn is log10 of it, on an axis labelled in powers of ten.
    np.testing.assert_allclose(panel.fcurves["adam"].getData()[1], np.log10(adam))
    assert panel.fplot.getAxis("left").logMode
