"""Recurrent panel: every cell and task paints the snapshot's own numbers, the gate maps follow
the cell, and the probe page and curves follow the task."""
import numpy as np
import pytest
from PySide6 import QtGui

from engine.labs.recurrent import RecurrentLab
from mathdl_gui.panels.recurrent import SIGMOID, RecurrentPanel
from mathdl_gui.widgets import style
from tests.gui.helpers import assert_not_blank


@pytest.fixture(scope="module")
def shared(qapp):
    """One panel for the whole module (building it is the slow part); each test renders its
    own labs into it, so cells and tasks also switch between tests."""
    style.apply_theme(qapp, "dark")
    p = RecurrentPanel(RecurrentLab)
    p.resize(1000, 800)
    p.show()
    yield p
    p.close()
    p.deleteLater()


@pytest.fixture
def panel(shared, qtbot):
    qtbot.waitExposed(shared)
    return shared


def _not_blank(img):
    """:func:`assert_not_blank` on a smaller copy: counting the colours of a full-size grab
    is what costs the time."""
    if not isinstance(img, QtGui.QImage):
        img = QtGui.QImage(str(img))
    assert_not_blank(img.scaledToWidth(min(img.width(), 400)))


def _show(panel, qtbot, lab):
    snap = lab.snapshot()
    panel.render(snap)
    qtbot.wait(20)
    panel.render(snap)
    return snap


def _original(item):
    x, y = item.getOriginalDataset()
    return np.asarray(x, float), np.asarray(y, float)


def _shown_maps(panel):
    return {name for name, view in panel.maps.items() if view.widget.isVisible()}


@pytest.mark.parametrize("task", ["recall", "sine"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_every_cell_and_task_paints_the_snapshot(panel, qtbot, cell, task):
    lab = RecurrentLab(seed=0, cell=cell, task=task, hidden=8, length=10)
    lab.step(12)
    snap = _show(panel, qtbot, lab)
    d, p = snap.data, snap.data["probe"]

    # Hidden state and gates: units x time, as sent; sigmoid gates on [0, 1].
    np.testing.assert_array_equal(panel.hidden.image.image, p["hidden"])
    assert panel.hidden.image.image.shape == (8, 10)
    names = tuple(d["gate_names"])
    assert _shown_maps(panel) == set(names) | {"h"}
    gate_plots = [k for k in panel.plots() if k.startswith("gate_")]
    assert len(gate_plots) == len(names)
    for name, title in zip(names, d["gate_titles"]):
        view = panel.maps[name]
        np.testing.assert_array_equal(view.image.image, p["gates"][name])
        if name in SIGMOID:
            assert tuple(view.image.levels) == (0.0, 1.0)
        else:
            lo, hi = view.image.levels                      # centred on 0
            assert -lo == hi == pytest.approx(np.abs(p["gates"][name]).max())
        assert title in view.plot.titleLabel.text

    # Curves hold the lab's numbers.
    c = d["curves"]
    x, y = _original(panel.train_curve)
    np.testing.assert_array_equal(x, c["step"])
    np.testing.assert_allclose(y, c["train_loss"])
    np.testing.assert_allclose(_original(panel.test_curve)[1], c["test_loss"])
    x, y = _original(panel.norm_curve)
    np.testing.assert_array_equal(x, d["norm_steps"])
    np.testing.assert_allclose(y, d["grad_norms"])
    assert len(x) == 12
    x, y = _original(panel.reach_curve)
    np.testing.assert_array_equal(x, np.arange(1, 11))
    np.testing.assert_allclose(y, p["dh_norms"])
    assert panel.clip_line.isVisible()
    assert panel.clip_line.value() == pytest.approx(np.log10(d["clip"]))

    recall = task == "recall"
    assert panel.acc_w.isVisible() == recall
    assert panel.delay_line.isVisible() == recall
    if recall:
        np.testing.assert_allclose(_original(panel.acc_curve)[1], c["test_metric"])
        probs = panel.outputs.image.image
        np.testing.assert_allclose(probs, p["probs"].T)
        np.testing.assert_array_equal(panel.inputs.image.image.argmax(0), p["tokens"])
        scored = p["target"] >= 0
        xs, ys = panel.outputs.samples.getData()
        np.testing.assert_array_equal(xs, np.flatnonzero(scored) + 0.5)
        np.testing.assert_array_equal(ys, p["target"][scored] + 0.5)
        assert panel.delay_line.value() == 10 - d["delay"]
        assert set(panel.plots()) >= {"probe_input", "probe_output", "accuracy"}
    else:
        for key in ("x", "target", "pred"):
            x, y = _original(panel.sine_curves[key])
            np.testing.assert_array_equal(x, np.arange(1, 11))
            np.testing.assert_allclose(y, p[key])
        assert "probe" in panel.plots() and "accuracy" not in panel.plots()
    _not_blank(panel.grab().toImage())


def test_switching_cells_regrids_the_gate_maps(panel, qtbot):
    lab = RecurrentLab(seed=0, hidden=6, length=8, delay=2)
    lab.step(3)
    _show(panel, qtbot, lab)
    assert _shown_maps(panel) == {"i", "f", "g", "o", "c", "h"}
    assert panel.grid.getItemPosition(panel.grid.indexOf(panel.hidden.widget))[:2] == (1, 2)
    lab.set_param("cell", "gru")
    lab.step(3)
    _show(panel, qtbot, lab)
    assert _shown_maps(panel) == {"r", "z", "n", "h"}
    assert panel.grid.count() == 4
    assert panel.grid.getItemPosition(panel.grid.indexOf(panel.hidden.widget))[:2] == (1, 1)
    assert {k for k in panel.plots() if k.startswith("gate_")} == {"gate_r", "gate_z",
                                                                   "gate_n"}
    lab.set_param("cell", "rnn")
    lab.step(3)
    _show(panel, qtbot, lab)
    assert _shown_maps(panel) == {"h"} and panel.grid.count() == 1
    assert not any(k.startswith("gate_") for k in panel.plots())
    lab.set_param("cell", "lstm")
    lab.step(3)
    snap = _show(panel, qtbot, lab)
    assert _shown_maps(panel) == {"i", "f", "g", "o", "c", "h"}
    np.testing.assert_array_equal(panel.maps["c"].image.image, snap.data["probe"]["gates"]["c"])
    _not_blank(panel.maps["c"].widget.grab().toImage())


def test_task_switch_and_clipping_off(panel, qtbot, tmp_path):
    lab = RecurrentLab(seed=0, cell="gru", hidden=6, length=8, delay=3)
    lab.step(3)
    _show(panel, qtbot, lab)
    assert panel.probe_pages.currentIndex() == 0
    lab.set_param("task", "sine")
    lab.set_param("clip", 0.0)
    lab.step(3)
    _show(panel, qtbot, lab)
    assert panel.probe_pages.currentIndex() == 1
    assert not panel.clip_line.isVisible() and not panel.acc_w.isVisible()
    assert panel.loss.legend.getLabel(panel.test_curve).text == "test (= test MSE)"
    written = panel.export_all(tmp_path, formats=("png",))
    assert {w.stem for w in written} == set(panel.plots())
    for png in written:
        _not_blank(png)
    lab.set_param("task", "recall")
    lab.step(3)
    _show(panel, qtbot, lab)
    assert panel.probe_pages.currentIndex() == 0 and panel.acc_w.isVisible()
    assert panel.loss.legend.getLabel(panel.test_curve).text == "test"
