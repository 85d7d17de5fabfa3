"""NTM panel: it paints at every stage, reveals the pipeline stage by stage, and a click on the
memory heatmap edits the cell under the pointer."""
import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from engine.labs.ntm import NTMLab
from mathdl_gui.panels.ntm import NTMPanel
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = NTMPanel(NTMLab)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def _show(panel, qtbot, lab):
    panel.render(lab.snapshot())
    qtbot.wait(20)
    panel.render(lab.snapshot())


def test_renders_after_a_full_time_step(panel, qtbot):
    lab = NTMLab(seed=0)
    lab.step(5)
    _show(panel, qtbot, lab)
    for w in (panel.memory.widget, panel.pipe_w, panel.vec_w, panel.after.widget,
              panel.heads.widget):
        assert_not_blank(w.grab().toImage())
    assert panel.after.image.isVisible()
    text = panel.text.toPlainText()
    assert "0.230" in text and "(0.550, 0.400, 0.370)" in text


def test_pipeline_reveals_one_stage_per_step(panel, qtbot):
    lab = NTMLab(seed=0)
    _show(panel, qtbot, lab)
    widths = np.asarray(panel.pipe_bars.opts["width"]).reshape(5, 4)
    assert widths[0, 2] == 1.0 and widths[1].sum() == pytest.approx(1.0)   # w_prev, content
    assert np.all(widths[2:] == 0)                                          # not yet
    assert not panel.after.image.isVisible() and panel.after_note.isVisible()
    lab.step(3)
    _show(panel, qtbot, lab)
    widths = np.asarray(panel.pipe_bars.opts["width"]).reshape(5, 4)
    np.testing.assert_allclose(widths[4], [0.23002, 0.07928, 0.37044, 0.32026], atol=5e-6)
    assert panel.pipe_now.isVisible()


def test_clicking_a_memory_cell_targets_that_cell(panel, qtbot, monkeypatch):
    lab = NTMLab(seed=0)
    _show(panel, qtbot, lab)
    monkeypatch.setattr(QtWidgets.QInputDialog, "getDouble",
                        staticmethod(lambda *a, **k: (0.5, True)))
    vb = panel.memory.plot.vb
    # Centre of row 2, column 1 of the memory picture (x = column, y = row).
    pos = panel.memory.widget.mapFromScene(vb.mapViewToScene(QtCore.QPointF(1.5, 2.5)))
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        qtbot.mouseClick(panel.memory.widget.viewport(), QtCore.Qt.MouseButton.LeftButton,
                         pos=pos)
    assert sig.args == ["set_memory_cell", {"row": 2, "col": 1, "value": 0.5}]
    lab.do_action(sig.args[0], **sig.args[1])
    assert lab.snapshot().data["memory"][2, 1] == 0.5
    assert panel.memory_cell_at(3.5, 0.5) is None
    assert panel.memory_cell_at(0.5, 4.2) is None


def test_large_memory_and_negative_values_render(panel, qtbot):
    lab = NTMLab(seed=1, rows=16, width=8, add="-1, 2, 0.5", g=0.0, shift_right=1.0,
                 shift_stay=0.0, shift_left=0.0)
    lab.step(40)
    _show(panel, qtbot, lab)
    for w in (panel.memory.widget, panel.pipe_w, panel.heads.widget):
        assert_not_blank(w.grab().toImage())


def test_copy_task_page_renders(panel, qtbot):
    lab = NTMLab(seed=0, mode="copy_task")
    lab.step(12)
    _show(panel, qtbot, lab)
    assert panel.pages.currentIndex() == 1
    plots = panel.plots()
    assert set(plots) == {"loss", "write_weights", "read_weights", "input", "output", "memory"}
    for w in (panel.loss_w, panel.write_map.widget, panel.read_map.widget,
              panel.input_map.widget, panel.output_map.widget, panel.final_map.widget):
        assert_not_blank(w.grab().toImage())
    # Back to addressing: the first page and its plots again.
    lab.set_param("mode", "addressing")
    _show(panel, qtbot, lab)
    assert panel.pages.currentIndex() == 0 and "pipeline" in panel.plots()
