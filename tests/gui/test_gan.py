"""GAN panel: samples over the discriminator map, noise grid, arrows and curves render; the map
is oriented like the plane; a mouse stroke becomes an add_target_points action; buttons become
step actions."""
import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from engine.labs.gan import GANLab
from mathdl_gui.panels.gan import GANPanel
from tests.gui.helpers import assert_not_blank, image_array

SMALL = {"batch_size": 32, "g_width": 16, "d_width": 16}


@pytest.fixture
def panel(qtbot):
    p = GANPanel(GANLab)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_renders_every_layer_of_the_picture(panel, qtbot):
    lab = GANLab(seed=0, **SMALL)
    lab.step(30)
    snap = lab.snapshot()
    panel.render(snap)
    qtbot.wait(20)
    assert panel.image.image.shape == snap.data["field"].shape
    assert len(panel.fake_pts.data) == len(panel.real_pts.data) == 500
    assert len(panel.c_d.getData()[0]) == 150 and len(panel.c_g.getData()[0]) == 30
    assert "critic" in panel.main.titleLabel.text
    for w in (panel.main_w, panel.loss_w, panel.cov_w):
        assert_not_blank(w.grab().toImage())
    lab.set_param("loss", "non_saturating")
    panel.render(lab.snapshot())
    assert "P(real" in panel.main.titleLabel.text


def _pixel(panel, x, y):
    arr = image_array(panel.main_w.grab().toImage()).astype(int)
    pt = panel.main_w.mapFromScene(panel.main.vb.mapViewToScene(QtCore.QPointF(x, y)))
    return arr[pt.y(), pt.x()]


def test_map_is_oriented_like_the_plane(panel, qtbot):
    """A critic that grows with x2 only is bright at the top, dark at the bottom."""
    lab = GANLab(seed=0, d_depth=1, **SMALL)
    first, last = lab.D.layers
    first.weight.data[...] = [0.0, 1.0]
    first.bias.data[...] = 3.0
    last.weight.data[...] = 1.0
    panel.render(lab.snapshot())
    qtbot.wait(20)
    top, bottom = _pixel(panel, 2.7, 2.7), _pixel(panel, 2.7, -2.7)
    assert top.sum() > bottom.sum() + 150         # viridis: yellow above, purple below


def _mouse(widget, kind, pos, buttons):
    button = QtCore.Qt.MouseButton.LeftButton
    ev = QtGui.QMouseEvent(kind, QtCore.QPointF(pos), QtCore.QPointF(widget.mapToGlobal(pos)),
                           button, buttons, QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(widget, ev)


def test_mouse_stroke_becomes_add_target_points(panel, qtbot):
    lab = GANLab(seed=0, **SMALL)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    got = []
    panel.action_requested.connect(lambda name, args: got.append((name, args)))
    vp = panel.main_w.viewport()
    vb = panel.main.vb

    def at(x, y):
        return panel.main_w.mapFromScene(vb.mapViewToScene(QtCore.QPointF(x, y)))

    # Without "Draw target" a drag pans the view as usual: no action.
    E = QtCore.QEvent.Type
    left, none = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
    _mouse(vp, E.MouseButtonPress, at(0, 0), left)
    _mouse(vp, E.MouseButtonRelease, at(0, 0), none)
    assert got == []
    panel.btn_draw.setChecked(True)
    path = [at(-1.0, -1.0), at(-0.5, -0.5), at(0.0, 0.0), at(0.5, 0.5), at(1.0, 1.0)]
    _mouse(vp, E.MouseButtonPress, path[0], left)
    for p in path[1:]:
        _mouse(vp, E.MouseMove, p, left)
    _mouse(vp, E.MouseButtonRelease, path[-1], none)
    assert [g[0] for g in got] == ["add_target_points"]
    pts = np.asarray(got[0][1]["points"])
    assert len(pts) >= 5
    np.testing.assert_allclose(pts[0], [-1.0, -1.0], atol=0.05)
    np.testing.assert_allclose(pts[-1], [1.0, 1.0], atol=0.05)
    # The lab accepts it as the new target.
    lab.do_action("add_target_points", **got[0][1])
    assert lab.values["target"] == "drawn" and len(lab.drawn) > 100
    panel.render(lab.snapshot())


def test_buttons_request_actions(panel):
    got = []
    panel.action_requested.connect(lambda name, args: got.append(name))
    panel.btn_step_d.click()
    panel.btn_step_g.click()
    panel.btn_clear.click()
    assert got == ["step_d", "step_g", "clear_drawn"]


def test_non_mixture_and_one_dimensional_noise_render(panel, qtbot):
    lab = GANLab(seed=0, target="spiral", noise_dim=1, **SMALL)
    lab.step(3)
    panel.render(lab.snapshot())
    qtbot.wait(10)
    assert "ring and grid" in panel.cov.titleLabel.text
    assert_not_blank(panel.main_w.grab().toImage())


def test_a_diverged_run_renders_with_its_banner(panel, qtbot):
    lab = GANLab(seed=0, batch_size=32, gp_weight=0.0, d_optimizer="sgd", d_lr=1.0)
    lab.step(200)
    assert lab.diverged
    panel.render(lab.snapshot())
    qtbot.wait(10)
    assert not panel.banner.isHidden() and "diverged" in panel.banner.text()
