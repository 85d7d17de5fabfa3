"""Convolution explorer panel: every mode paints; kernel clicks, drawing and image files
become the lab's actions with the right arguments."""
import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from engine.labs.conv_explorer import MODES, ConvExplorerLab
from mathdl_gui.panels.conv_explorer import ConvExplorerPanel, image_to_pixels
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = ConvExplorerPanel(ConvExplorerLab)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def _show(panel, qtbot, lab):
    panel.render(lab.snapshot())
    qtbot.wait(20)
    panel.render(lab.snapshot())   # again, now that the views have their sizes


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_renders(panel, qtbot, mode):
    lab = ConvExplorerLab(seed=0, mode=mode, source="digit" if mode != "conv3d" else "example")
    lab.step(5)
    _show(panel, qtbot, lab)
    for view in (panel.input, panel.kernel, panel.output, panel.extra):
        assert view.image.image is not None
        assert_not_blank(view.grab().toImage())
    assert "=" in panel.text.toPlainText()


def test_default_shows_the_window_and_its_arithmetic(panel, qtbot):
    lab = ConvExplorerLab(seed=0)
    lab.step(7)                     # cell (2, 1) of the book's example: -4
    _show(panel, qtbot, lab)
    rect = panel.input.rects[0]
    assert rect.isVisible()
    r = rect.rect()
    assert (r.x(), r.y(), r.width(), r.height()) == (1, 2, 3, 3)
    assert not panel.input.rects[1].isVisible()
    x, y = panel.output.marks.getData()
    assert (x[0], y[0]) == (1.5, 2.5)
    text = panel.text.toPlainText()
    assert "2\u00b71 + 3\u00b70 + 5\u00b7(\u22121)" in text and "= \u22124" in text
    # The 5x5 input is small enough for every value to be written in its cell.
    shown = [item.toPlainText() for item in panel.input.labels if item.isVisible()]
    assert len(shown) == 25 and "9" in shown
    assert panel.input.plot.titleLabel.text


def test_clicking_a_kernel_cell_targets_that_cell(panel, qtbot, monkeypatch):
    lab = ConvExplorerLab(seed=0)
    _show(panel, qtbot, lab)
    monkeypatch.setattr(QtWidgets.QInputDialog, "getDouble",
                        staticmethod(lambda *a, **k: (2.5, True)))
    vb = panel.kernel.plot.vb
    # Centre of row 2, column 0 of the kernel picture (x = column, y = row).
    pos = panel.kernel.widget.mapFromScene(vb.mapViewToScene(QtCore.QPointF(0.5, 2.5)))
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        qtbot.mouseClick(panel.kernel.widget.viewport(), QtCore.Qt.MouseButton.LeftButton,
                         pos=pos)
    assert sig.args == ["set_kernel_cell", {"row": 2, "col": 0, "value": 2.5}]
    lab.do_action(*sig.args[:1], **sig.args[1])
    assert lab.weights["kernel"][2, 0] == 2.5
    assert panel.kernel_cell_at(5.0, 0.5) is None


def test_kernel_cell_lookup_skips_mosaic_gaps(panel, qtbot):
    lab = ConvExplorerLab(seed=0, mode="conv3d")
    _show(panel, qtbot, lab)
    assert panel.kernel_cell_at(3.5, 0.5) is None        # the gap between slices
    assert panel.kernel_cell_at(4.5, 1.5) == (1, 4)


def test_drawing_on_the_input_paints_image_pixels(panel, qtbot):
    lab = ConvExplorerLab(seed=0, source="digit", padding=1)
    _show(panel, qtbot, lab)
    panel.btn_draw.setChecked(True)
    vb = panel.input.plot.vb
    # Picture cell (column 4, row 6) of the padded input is image pixel (3, 5).
    pos = panel.input.widget.mapFromScene(vb.mapViewToScene(QtCore.QPointF(4.5, 6.5)))
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        qtbot.mouseClick(panel.input.widget.viewport(), QtCore.Qt.MouseButton.LeftButton,
                         pos=pos)
    assert sig.args == ["paint", {"x": 3, "y": 5, "value": 1.0}]
    lab.do_action("paint", **sig.args[1])
    assert lab.drawn[5, 3] == 1.0 and lab.values["source"] == "drawn"
    # Modes whose picture is a mosaic cannot be painted on.
    lab.set_param("mode", "conv3d")
    _show(panel, qtbot, lab)
    assert not panel.btn_draw.isEnabled() and not panel.input.image.paint_enabled


def test_image_files_become_set_image(panel, qtbot, tmp_path):
    img = QtGui.QImage(128, 96, QtGui.QImage.Format.Format_RGB32)
    img.fill(QtGui.QColor(255, 255, 255))
    painter = QtGui.QPainter(img)
    painter.fillRect(0, 0, 64, 96, QtGui.QColor(0, 0, 0))
    painter.end()
    path = tmp_path / "half.png"
    assert img.save(str(path))
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        assert panel.open_image(path)
    name, kw = sig.args
    pixels = kw["pixels"]
    assert name == "set_image" and pixels.shape == (48, 64)
    assert pixels[:, :30].max() < 0.05 and pixels[:, 34:].min() > 0.95
    lab = ConvExplorerLab(seed=0)
    lab.do_action(name, **kw)
    assert lab.image.shape == (48, 64)


def test_image_to_pixels_reads_grey_levels():
    img = QtGui.QImage(3, 2, QtGui.QImage.Format.Format_Grayscale8)
    for x, v in enumerate((0, 128, 255)):
        for y in range(2):
            img.setPixelColor(x, y, QtGui.QColor(v, v, v))
    np.testing.assert_allclose(image_to_pixels(img), [[0, 128 / 255, 1]] * 2)
    with pytest.raises(ValueError):
        image_to_pixels(QtGui.QImage())


def test_alerts_show_when_the_kernel_does_not_fit(panel, qtbot):
    lab = ConvExplorerLab(seed=0, kernel_size=7)
    _show(panel, qtbot, lab)
    assert not panel.banner.isHidden() and "does not fit" in panel.banner.text()
    lab.set_param("kernel_size", 3)
    _show(panel, qtbot, lab)
    assert panel.banner.isHidden()


def test_dragging_paints_each_cell_once(panel, qtbot):
    lab = ConvExplorerLab(seed=0, source="digit")
    _show(panel, qtbot, lab)
    panel.btn_draw.setChecked(True)
    got = []
    panel.action_requested.connect(lambda name, kw: got.append((name, kw)))
    vb, view = panel.input.plot.vb, panel.input.widget
    pts = [view.mapFromScene(vb.mapViewToScene(QtCore.QPointF(x, 4.5)))
           for x in (2.5, 2.6, 3.5, 5.5)]    # 4.5 is skipped: filled in along the line
    left = QtCore.Qt.MouseButton.LeftButton
    qtbot.mousePress(view.viewport(), left, pos=pts[0])
    for p in pts[1:]:
        ev = QtGui.QMouseEvent(QtCore.QEvent.Type.MouseMove, QtCore.QPointF(p),
                               view.viewport().mapToGlobal(QtCore.QPointF(p)),
                               QtCore.Qt.MouseButton.NoButton, left,
                               QtCore.Qt.KeyboardModifier.NoModifier)
        qtbot.wait(40)   # the scene drops mouse moves that come faster than its rate limit
        QtWidgets.QApplication.sendEvent(view.viewport(), ev)
    qtbot.mouseRelease(view.viewport(), left, pos=pts[-1])
    cols = [kw["x"] for name, kw in got if name == "paint"]
    assert cols == [2, 3, 4, 5] and all(kw["y"] == 4 for _, kw in got)
    assert panel.input.plot.vb.state["mouseEnabled"] == [False, False]   # no panning


def test_a_long_title_breaks_into_two_lines_instead_of_losing_its_end(panel, qtbot):
    lab = ConvExplorerLab(seed=0, mode="pooling")
    lab.step(3)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    panel.render(lab.snapshot())
    title = lab.snapshot().data["titles"]["kernel"]
    shown = panel.kernel.plot.titleLabel.text
    assert "\u2026" not in shown
    assert shown.replace("<br>", " ") == title
    assert panel.kernel.widget.toolTip() == title


def test_break_title_prefers_a_colon_and_keeps_brackets_together(qapp):
    from mathdl_gui.widgets.heat_view import break_title

    metrics = QtGui.QFontMetrics(QtGui.QFont())
    short = "Input 4\u00d74"
    assert break_title(short, metrics, 1000) == ((short,), 0)
    text = "Weights: 1 at arg-max"
    width = metrics.horizontalAdvance("1 at arg-max") + 2
    assert break_title(text, metrics, width) == (("Weights:", "1 at arg-max"), 0)
    text = "1\u00d71 kernel (C = 3 weights)"
    width = metrics.horizontalAdvance("(C = 3 weights)") + 2
    assert break_title(text, metrics, width) == (("1\u00d71 kernel", "(C = 3 weights)"), 0)
    assert break_title(text, metrics, 10)[1] == 2
