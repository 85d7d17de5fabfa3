"""Backprop panel beyond the smoke test: the graph fills in, labels show the lab's numbers."""
import numpy as np
import pytest

from engine.labs.backprop import BackpropLab
from mathdl_gui.panels.backprop import BackpropPanel
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = BackpropPanel(BackpropLab)
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    qtbot.waitExposed(p)
    return p


def label_text(panel, lab, key):
    return panel.labels[lab.graph.index(key)].textItem.toPlainText()


def test_render_after_steps_shows_values_and_gradients(panel, qtbot):
    lab = BackpropLab()
    panel.render(lab.snapshot())
    assert "?" in label_text(panel, lab, "z1")  # nothing computed yet
    lab.step(7)  # forward pass (5 nodes) and the first two gradients
    panel.render(lab.snapshot())
    qtbot.wait(20)
    assert "0.712" in label_text(panel, lab, "L")
    assert "0.426" in label_text(panel, lab, "h1") and "0.75" in label_text(panel, lab, "h1")
    assert "\u22122.04" in label_text(panel, lab, "yhat")  # dL/dy-hat, revealed
    assert "?" in label_text(panel, lab, "W1")             # its gradient is still to come
    assert len(panel.nodes.data) == len(lab.graph.nodes)
    assert len(panel.ring.data) == 1
    assert np.allclose(panel.ring.data["x"], lab.pos[lab.graph.index("yhat"), 0])
    assert "backward" in panel.graph.titleLabel.text
    assert "\u22122.038" in panel.stage.text()
    assert "agree" in panel.light.text()
    assert_not_blank(panel.grab().toImage())


def test_full_cycles_fill_the_loss_curve_and_update_weights(panel, qtbot):
    lab = BackpropLab(stepping="cycle")
    lab.step(4)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    x, y = panel.loss_curve.getData()
    assert list(x) == [1, 2, 3, 4] and np.all(np.diff(y) < 0)
    assert "new" in panel.deltas.toPlainText()
    assert len(panel.ring.data) == len(lab.param_keys)  # every parameter is being updated
    assert "\u22120.0623" not in label_text(panel, lab, "W1")  # fresh gradients of cycle 4
    assert_not_blank(panel.grab().toImage())


def test_bigger_network_rebuilds_the_labels(panel, qtbot):
    lab = BackpropLab()
    lab.step(3)
    panel.render(lab.snapshot())
    lab.set_param("depth", 2)
    lab.set_param("hidden", 3)
    lab.step(20)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    n = len(lab.graph.nodes)
    assert sum(item.isVisible() for item in panel.labels) == n == 15
    assert "Relu" not in label_text(panel, lab, "h2") and "Sigmoid" in label_text(panel, lab, "h2")
    # Every label lies inside the view after the fit.
    (x0, x1), (y0, y1) = panel.graph.viewRange()
    for item in panel.labels[:n]:
        r = item.mapRectToView(item.boundingRect())
        assert x0 - 1e-6 <= r.left() and r.right() <= x1 + 1e-6
        assert y0 - 1e-6 <= min(r.top(), r.bottom()) and max(r.top(), r.bottom()) <= y1 + 1e-6
    lab.reset()
    panel.render(lab.snapshot())
    x, _ = panel.loss_curve.getData()
    assert x is None or len(x) == 0
