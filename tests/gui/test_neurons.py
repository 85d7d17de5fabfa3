"""Neurons panels beyond the smoke test: clicks add points, statuses, what each plot shows."""
import pytest
from PySide6 import QtCore

from engine.labs.neurons import ActivationsLab, PerceptronLab
from mathdl_gui.panels.neurons import ActivationsPanel, PerceptronPanel
from tests.gui.helpers import assert_not_blank


def _show(qtbot, panel):
    qtbot.addWidget(panel)
    panel.resize(1000, 650)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


@pytest.fixture
def perceptron(qtbot):
    return _show(qtbot, PerceptronPanel(PerceptronLab))


@pytest.fixture
def gallery(qtbot):
    return _show(qtbot, ActivationsPanel(ActivationsLab))


def _click(qtbot, widget, plot, x, y):
    pos = widget.mapFromScene(plot.vb.mapViewToScene(QtCore.QPointF(x, y)))
    qtbot.mouseClick(widget.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)


def test_perceptron_panel_draws_the_run(perceptron, qtbot):
    lab = PerceptronLab(seed=0)
    lab.step(6)
    perceptron.render(lab.snapshot())
    qtbot.wait(20)
    assert_not_blank(perceptron.grab().toImage())
    assert perceptron.line.getData()[0] is not None and len(perceptron.line.getData()[0]) == 2
    assert "Truth table of AND" in perceptron.table.text()
    assert perceptron.mistakes.getData()[1].tolist() == [2.0]
    assert len(perceptron.partial.getData()[0]) == 1  # epoch 2, two samples in
    lab.step(100)
    perceptron.render(lab.snapshot())
    assert "Converged at epoch 6" in perceptron.status.text()


def test_click_in_custom_mode_requests_a_point(perceptron, qtbot):
    lab = PerceptronLab(seed=0, gate="custom")
    perceptron.render(lab.snapshot())
    qtbot.wait(20)
    with qtbot.waitSignal(perceptron.action_requested, timeout=2000) as sig:
        _click(qtbot, perceptron.plane_w, perceptron.plane, 1.0, -1.2)
    name, kwargs = sig.args
    assert name == "add_point"
    assert kwargs["x"] == pytest.approx(1.0, abs=0.05)
    assert kwargs["y"] == pytest.approx(-1.2, abs=0.05)
    lab.do_action(name, **kwargs)  # what the worker does with it
    perceptron.render(lab.snapshot())
    assert len(perceptron.classes[1].data) == 1


def test_click_outside_custom_mode_does_nothing(perceptron, qtbot):
    lab = PerceptronLab(seed=0)
    perceptron.render(lab.snapshot())
    qtbot.wait(20)
    with qtbot.assertNotEmitted(perceptron.action_requested, wait=50):
        _click(qtbot, perceptron.plane_w, perceptron.plane, 0.5, 0.5)


def test_xor_shows_cycling_status(perceptron):
    lab = PerceptronLab(seed=0, gate="xor")
    lab.step(400)
    perceptron.render(lab.snapshot())
    text = perceptron.status.text()
    assert "Cycling" in text and "no separating line exists" in text
    assert perceptron.table.text().count("\u2717") == 2  # XOR: two rows always wrong


def test_mp_mode_shows_threshold_sweep(perceptron):
    lab = PerceptronLab(seed=0, mode="mp_neuron", gate="or")
    lab.set_param("b", 1.5)
    perceptron.render(lab.snapshot())
    assert perceptron.b_curve.isVisible() and not perceptron.mistakes.isVisible()
    assert "threshold" in perceptron.progress.titleLabel.text
    assert "0 &lt; b" in perceptron.status.text()  # escaped, so the label shows it
    lab.set_param("mode", "perceptron")
    perceptron.render(lab.snapshot())
    assert perceptron.mistakes.isVisible() and not perceptron.b_curve.isVisible()


def test_gallery_draws_every_plot(gallery, qtbot, tmp_path):
    lab = ActivationsLab(seed=0)
    lab.step(10)
    gallery.render(lab.snapshot())
    qtbot.wait(20)
    assert_not_blank(gallery.grab().toImage())
    written = gallery.export_all(tmp_path, formats=("png",))
    assert len(written) == 6
    for png in written:
        assert_not_blank(png)
    assert sum(b.isVisible() for b in gallery.bands) == 2
    assert sum(t.isVisible() for t in gallery.jac_text) == 9


def test_gallery_follows_choices(gallery):
    lab = ActivationsLab(seed=0)
    gallery.render(lab.snapshot())
    lab.set_param("activation", "prelu")
    lab.set_param("overlay", True)
    lab.set_param("loss", "js")
    lab.set_param("K", 5)
    gallery.render(lab.snapshot())
    assert gallery.dparam.isVisible()
    assert sum(c.isVisible() for c in gallery.overlay) == 5
    assert gallery.ceiling.isVisible()
    assert sum(t.isVisible() for t in gallery.jac_text) == 25
    lab.set_param("loss", "bce")
    gallery.render(lab.snapshot())
    assert not gallery.ceiling.isVisible()
    assert gallery.loss_items["L2"].isVisible() and gallery.loss_items["dL2"].isVisible()
    # Only the probe moves between steps; the curves are not re-sent.
    before = gallery.f.getData()[1]
    lab.step(5)
    gallery.render(lab.snapshot())
    assert gallery.f.getData()[1] is before
