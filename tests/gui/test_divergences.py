"""Divergences panel: the parallel lines, the divergence curves, the Gaussians with D* and the
sweep render; the theta and mu_g markers follow the params."""
import numpy as np
import pytest

from engine.labs.divergences import DivergenceLab
from mathdl_gui.panels.divergences import DivergencePanel
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = DivergencePanel(DivergenceLab)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_renders_all_four_plots(panel, qtbot):
    lab = DivergenceLab(seed=0)
    snap = lab.snapshot()
    panel.render(snap)
    qtbot.wait(20)
    for w in (panel.pq_w, panel.th_w, panel.g_w, panel.s_w):
        assert_not_blank(w.grab().toImage(), min_colors=10)
    x, _ = panel.q_pts.getData()
    np.testing.assert_allclose(x, 0.5)
    assert len(x) == 300
    _, js = panel.c_js.getData()
    assert np.isclose(js, np.log(2)).sum() == len(js) - 1        # flat at log 2 except at 0
    assert panel.th_mark.value() == pytest.approx(0.5)
    assert panel.s_mark.value() == pytest.approx(2.0)


def test_markers_follow_the_sliders_and_animation(panel):
    lab = DivergenceLab(seed=0)
    lab.set_param("theta", -1.25)
    lab.set_param("mu_g", -3.0)
    panel.render(lab.snapshot())
    assert panel.th_mark.value() == pytest.approx(-1.25)
    assert panel.s_mark.value() == pytest.approx(-3.0)
    np.testing.assert_allclose(panel.q_pts.getData()[0], -1.25)
    lab.set_param("animate", "theta")
    lab.step(10)
    panel.render(lab.snapshot())
    assert panel.th_mark.value() == pytest.approx(lab.values["theta"])
