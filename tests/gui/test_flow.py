"""Flow panel: the density, the layer strip and the NLL curve are drawn; a drag draws points."""
import pytest

from engine.labs.flow import FlowLab
from mathdl_gui.panels.flow import FlowPanel
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = FlowPanel(FlowLab)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_renders_density_strip_and_curve(panel, qtbot):
    lab = FlowLab(seed=0, n_points=300, layers=4)
    lab.step(30)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    assert len(panel.warp_plots) == 5
    for w in (panel.dens_w, panel.warp_w, panel.nll_w):
        assert_not_blank(w.grab().toImage())


def test_stroke_becomes_drawn_points(panel, qtbot):
    panel._stroke = [(0.0, 0.0), (0.5, 0.25), (1.0, 0.5)]
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        panel.send_stroke()
    assert sig.args[0] == "add_points" and len(sig.args[1]["points"]) == 3
    assert panel._stroke == []
    with qtbot.assertNotEmitted(panel.action_requested):
        panel.send_stroke()                   # an empty stroke asks for nothing
