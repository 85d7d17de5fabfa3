"""Linear models panels (ch. 6) beyond the registry smoke test: pictures, clicks, class maps."""
import numpy as np
import pytest
from PySide6 import QtCore

from engine.labs.linear_models import LinearRegressionLab, LogisticLab, PolynomialLab
from mathdl_gui.panels.linear_models import (
    LinearRegressionPanel,
    LogisticPanel,
    PolynomialPanel,
)
from tests.gui.helpers import assert_not_blank


def _panel(qtbot, cls, lab_cls):
    p = cls(lab_cls)
    qtbot.addWidget(p)
    p.resize(1000, 650)
    p.show()
    qtbot.waitExposed(p)
    return p


def _click(qtbot, plot_widget, plot, x, y):
    """Left-click the view point (x, y) of ``plot`` shown in ``plot_widget``."""
    target = plot.vb.mapViewToScene(QtCore.QPointF(x, y))
    pos = plot_widget.mapFromScene(target)
    qtbot.mouseClick(plot_widget.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)


@pytest.mark.parametrize("panel_cls, lab_cls", [
    (LinearRegressionPanel, LinearRegressionLab), (PolynomialPanel, PolynomialLab),
    (LogisticPanel, LogisticLab)])
def test_panel_renders_after_steps(qtbot, panel_cls, lab_cls):
    panel = _panel(qtbot, panel_cls, lab_cls)
    lab = lab_cls(seed=0)
    for _ in range(3):
        lab.step(4)
        panel.render(lab.snapshot())
    qtbot.wait(20)
    assert_not_blank(panel.grab().toImage())
    for plot in panel.plots().values():
        assert plot.titleLabel.text, "every plot is titled"


def test_click_on_landscape_sets_start_and_on_data_adds_point(qtbot):
    panel = _panel(qtbot, LinearRegressionPanel, LinearRegressionLab)
    lab = LinearRegressionLab(seed=0)
    lab.step(5)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        _click(qtbot, panel.land_w, panel.land, 0.0, 1.0)
    name, kwargs = sig.args
    assert name == "set_start"
    assert kwargs["w"] == pytest.approx(0.0, abs=0.05)
    assert kwargs["b"] == pytest.approx(1.0, abs=0.05)
    lab.do_action(name, **kwargs)  # what the window's worker does with it
    assert lab.step_count == 0 and lab.start[1] == pytest.approx(1.0, abs=0.05)

    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        _click(qtbot, panel.data_w, panel.data, 0.5, 1.0)
    name, kwargs = sig.args
    assert name == "add_point" and kwargs["x"] == pytest.approx(0.5, abs=0.05)
    n = len(lab.x)
    lab.do_action(name, **kwargs)
    assert len(lab.x) == n + 1
    panel.render(lab.snapshot())
    assert len(panel.points.data) == n + 1


def test_logistic_click_probes_and_bars_follow(qtbot):
    panel = _panel(qtbot, LogisticPanel, LogisticLab)
    lab = LogisticLab(seed=0)
    lab.step(30)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        _click(qtbot, panel.main_w, panel.main, 0.0, 0.6)
    name, kwargs = sig.args
    assert name == "probe"
    lab.do_action(name, **kwargs)
    snap = lab.snapshot()
    panel.render(snap)
    assert np.argmax(snap.data["probe_p"]) == 0  # (0, 0.6) is the top blob: class 0
    heights = panel.bars.opts["height"]
    np.testing.assert_allclose(heights, snap.data["probe_p"])


def test_logistic_switches_between_softmax_and_sigmoid_views(qtbot):
    panel = _panel(qtbot, LogisticPanel, LogisticLab)
    lab = LogisticLab(seed=0)
    lab.step(5)
    panel.render(lab.snapshot())
    assert not panel.colorbar.isVisible()
    assert sum(iso.isVisible() for iso in panel.bounds) == 3
    lab.set_param("dataset", "circles")
    lab.set_param("features", "quadratic")
    lab.step(5)
    panel.render(lab.snapshot())
    assert panel.colorbar.isVisible()
    assert sum(iso.isVisible() for iso in panel.bounds) == 1
    qtbot.wait(20)
    assert_not_blank(panel.grab().toImage())


def test_polynomial_degree_marker_follows_param(qtbot):
    panel = _panel(qtbot, PolynomialPanel, PolynomialLab)
    lab = PolynomialLab(seed=0)
    lab.set_param("degree", 9)
    lab.step(3)
    panel.render(lab.snapshot())
    assert panel.deg_line.value() == 9
    x, _ = panel.train_curve.getData()
    assert len(x) == 15
