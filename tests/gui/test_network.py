"""Network panel: the picture has a boundary, thumbnails and curves; clicks become actions;
the window saves, reloads and exports models, and refuses bad model files in words."""
import numpy as np
import pytest
from PySide6 import QtCore

from engine.labs.network import NetworkLab
from mathdl_gui.panels.network import NetworkPanel
from tests.gui.helpers import assert_not_blank, image_array


@pytest.fixture
def panel(qtbot):
    p = NetworkPanel(NetworkLab)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_renders_boundary_thumbnails_and_curves(panel, qtbot):
    lab = NetworkLab(seed=0, layers="6,4")
    lab.step(200)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    assert len(panel.node_images) == 2 + 6 + 4 + 1
    assert all(img.image is not None for img in panel.node_images)
    assert len(panel.grad_curves) == 3 and len(panel.hist_curves) == 2
    x, _ = panel.c_train.getData()
    assert len(x) == len(lab.hist["step"])
    for w in (panel.map_w, panel.net_w, panel.loss_w):
        assert_not_blank(w.grab().toImage())
    # The decision map shows both class colours.
    arr = image_array(panel.map_w.grab().toImage()).reshape(-1, 3).astype(int)
    orange = ((arr[:, 0] > 150) & (arr[:, 2] < 100)).mean()
    blue = ((arr[:, 2] > 150) & (arr[:, 0] < 120)).mean()
    assert orange > 0.05 and blue > 0.05


def test_map_and_thumbnails_are_oriented_like_the_plane(panel, qtbot):
    """x1 runs left to right and x2 bottom to top, on the map and in every thumbnail."""
    lab = NetworkLab(seed=0, dataset="moons", layers="")
    lab.do_action("set_weight", layer=0, row=0, col=0, value=6.0)   # p(class 1) = s(6 x1 + ...)
    lab.do_action("set_weight", layer=0, row=0, col=1, value=0.0)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    arr = image_array(panel.map_w.grab().toImage()).astype(int)
    vb = panel.map.vb
    # Off the diagonal, so a map drawn transposed would show the other class.
    for x, y, blue in ((-1.0, 1.0, False), (1.0, -1.0, True)):
        pt = panel.map_w.mapFromScene(vb.mapViewToScene(QtCore.QPointF(x, y)))
        r, g, b = arr[pt.y(), pt.x()]
        assert (b > r) == blue, (x, y, r, g, b)    # class 1 is blue, class 0 orange
    # Thumbnails are RGBA on the blue-white-red map: red minus blue grows with the value.
    x1, x2 = (panel.node_images[i].image.astype(int) for i in (0, 1))
    x1, x2 = x1[..., 0] - x1[..., 2], x2[..., 0] - x2[..., 2]
    assert x1[0, -1] > x1[0, 0] and np.allclose(x1[0], x1[-1])   # x1 grows to the right
    assert x2[0, 0] > x2[-1, 0]                                   # x2 is largest at the top


def test_architecture_change_rebuilds_the_diagram(panel):
    lab = NetworkLab(seed=0, layers="3")
    panel.render(lab.snapshot())
    assert len(panel.node_images) == 2 + 3 + 1
    lab.set_param("layers", "5,5,5")
    lab.set_param("dataset", "blobs")
    panel.render(lab.snapshot())
    assert len(panel.node_images) == 2 + 15 + 3


def test_click_on_map_adds_point_and_edge_click_targets_a_weight(panel, qtbot):
    lab = NetworkLab(seed=0, layers="3")
    panel.render(lab.snapshot())
    qtbot.wait(20)
    vb = panel.map.vb
    pos = panel.map_w.mapFromScene(vb.mapViewToScene(QtCore.QPointF(0.4, -0.3)))
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        qtbot.mouseClick(panel.map_w.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    name, kw = sig.args
    assert name == "add_point"
    assert kw["x"] == pytest.approx(0.4, abs=0.05) and kw["y"] == pytest.approx(-0.3, abs=0.05)
    # The midpoint of the edge from input 2 to hidden unit 3 hits exactly that weight.
    seg, layer, row, col, w = panel._edges
    i = int(np.flatnonzero((layer == 0) & (row == 2) & (col == 1))[0])
    mid = seg[i].mean(0)
    hit = panel.edge_at(*mid)
    assert hit[:3] == (0, 2, 1) and hit[3] == pytest.approx(lab.model.layers[0].weight.data[2, 1])
    assert panel.edge_at(100.0, 100.0) is None
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        panel.request_weight(0, 2, 1, 3.5)
    assert sig.args == ["set_weight", {"layer": 0, "row": 2, "col": 1, "value": 3.5}]


def test_plus_above_a_layer_requests_a_wider_layer(panel, qtbot):
    lab = NetworkLab(seed=0, layers="3,2")
    panel.render(lab.snapshot())
    qtbot.wait(20)
    item, layer, delta = next(r for r in panel._resizers if r[1] == 1 and r[2] == 1)
    pos = panel.net_w.mapFromScene(item.sceneBoundingRect().center())
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        qtbot.mouseClick(panel.net_w.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    assert sig.args == ["resize_layer", {"layer": 1, "delta": 1}]


def test_regression_surface_renders(panel, qtbot):
    lab = NetworkLab(seed=0, dataset="surface")
    lab.step(50)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    assert_not_blank(panel.map_w.grab().toImage())


@pytest.fixture
def win(make_window):
    return make_window(lab=NetworkLab(seed=0), autoplay=False)


def test_window_saves_loads_and_exports_models(win, qtbot, tmp_path):
    assert win.act_save_model.isEnabled() and win.model_button.isEnabled()
    win.worker.send("step", 30)
    qtbot.waitUntil(lambda: win.worker.latest() is not None
                    and win.worker.latest().snapshot.step == 30, timeout=3000)
    assert win.save_model(str(tmp_path / "m.safetensors"))
    assert win.export_onnx(str(tmp_path / "m.onnx"))
    assert (tmp_path / "m.onnx").stat().st_size > 0
    win.worker.send("reset", 0)
    qtbot.waitUntil(lambda: win.worker.latest().snapshot.step == 0, timeout=3000)
    assert win.load_model(str(tmp_path / "m.safetensors"))
    qtbot.waitUntil(lambda: win.worker.latest().snapshot.step == 30, timeout=3000)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes((tmp_path / "m.safetensors").read_bytes()[:100])
    assert win.load_model(str(bad)) is None
    assert win.error_bar.isVisible() and "not a readable safetensors" in win.error_bar.text()
    assert win.worker.latest().snapshot.step == 30


def test_model_actions_are_disabled_for_labs_without_a_network(make_window):
    w = make_window(autoplay=False)
    w.open_lab("optimization", autoplay=False)
    assert not w.act_save_model.isEnabled() and not w.model_button.isEnabled()
    w.open_lab("network", autoplay=False)
    assert w.act_save_model.isEnabled()


def test_curves_redraw_only_when_the_lab_scores_and_after_a_restart(panel):
    lab = NetworkLab(seed=0)
    lab.step(10)                                     # scored at steps 1 and 10
    panel.render(lab.snapshot())
    x, y = panel.c_train.getData()
    assert list(x) == [0, 1, 10]
    lab.step(3)                                      # no new score: nothing to redraw
    key = panel._curves_key
    panel.render(lab.snapshot())
    assert panel._curves_key == key
    other = NetworkLab(seed=0, dataset="circles")    # a new run, the same steps scored
    other.step(10)
    panel.render(other.snapshot())
    _, y2 = panel.c_train.getData()                  # log10 of the loss (a log axis)
    assert 10 ** y2[-1] == pytest.approx(other.snapshot().data["curves"]["train_loss"][-1],
                                         rel=1e-6)
    assert y2[-1] != pytest.approx(y[-1])
