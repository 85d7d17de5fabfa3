"""CNN panel: feature maps of every layer, filters, curves, confusion and mistakes are drawn;
dragging on the input draws a digit and sends it to the lab."""
import numpy as np
import pytest
from PySide6 import QtCore

from engine.labs.cnn import CNNLab
from mathdl_gui.panels.cnn import CNNPanel
from mathdl_gui.widgets.mosaic import mosaic
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = CNNPanel(CNNLab)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_renders_every_layer_and_the_curves(panel, qtbot):
    lab = CNNLab(seed=0, n_train=500, channels="4,6,8")
    lab.step(60)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    assert len(panel.map_imgs) == 3 and len(panel.filter_imgs) == 3
    assert all(img.image is not None for img in panel.map_imgs)
    x, _ = panel.curves["test_acc"].getData()
    assert len(x) == len(lab.hist["step"])
    for w in (panel.maps_w, panel.input_w, panel.conf_w, panel.loss_w):
        assert_not_blank(w.grab().toImage())


def test_dragging_on_the_input_draws_and_sends_the_digit(panel, qtbot):
    lab = CNNLab(seed=0, n_train=500)
    panel.render(lab.snapshot())
    panel.clear_canvas()
    qtbot.wait(20)
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        panel._paint_at(QtCore.QPointF(8.0, 4.0))
        panel._paint_at(QtCore.QPointF(8.0, 12.0))
        panel.send_drawing()
    name, kw = sig.args
    assert name == "draw"
    px = kw["pixels"]
    assert px.shape == (16, 16) and 0.9 < px.max() <= 1.0 and px.min() == 0.0
    assert px[4, 7] > 0.5 and px[12, 7] > 0.5 and px[8, 0] == 0    # row = y, column = x
    lab.do_action(name, **kw)
    assert lab.snapshot().data["probe_label"] == -1


def test_mosaic_tiles_in_rows_with_gaps():
    tiles = np.stack([np.full((2, 3), i + 1.0) for i in range(5)])
    m = mosaic(tiles, cols=2, normalise=False, gap=1)
    assert m.shape == (3 * 3, 2 * 4)
    assert m[1, 0] == 1 and m[1, 4] == 2 and m[4, 0] == 3 and np.isnan(m[0, 0])


def test_mistake_captions_do_not_overlap_and_the_title_fits(panel, qtbot):
    lab = CNNLab(seed=0, n_train=500)
    lab.step(20)
    snap = lab.snapshot()
    assert len(snap.data["worst_images"]) >= 4
    for size in ((1200, 800), (800, 500)):
        panel.resize(*size)
        qtbot.wait(20)
        panel.render(snap)
        qtbot.wait(20)
        assert len(panel.worst_labels) == len(snap.data["worst_images"])
        rects = [t.mapRectToScene(t.boundingRect()) for t in panel.worst_labels]
        for i, a in enumerate(rects):
            for b in rects[i + 1:]:
                assert not a.intersects(b), (a, b)
        title = panel.worst.titleLabel
        assert title.item.boundingRect().width() <= panel.worst_w.width()
    tip = panel.worst_w.toolTip()
    t, p = snap.data["worst_true"][0], snap.data["worst_pred"][0]
    assert f"{t}\u2192{p} {snap.data['worst_conf'][0]:.2f}" in tip
