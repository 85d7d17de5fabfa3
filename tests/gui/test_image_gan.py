"""Image GAN panel: the 8x8 sample grid, real digits, interpolation strip, losses and the D(x)
histograms are drawn; the two buttons ask the lab to re-draw an end of the strip."""
import pytest
from PySide6 import QtCore

from engine.labs.image_gan import ImageGANLab
from mathdl_gui.panels.image_gan import ImageGANPanel
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = ImageGANPanel(ImageGANLab)
    qtbot.addWidget(p)
    p.resize(1300, 850)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_renders_samples_strip_curves_and_histograms(panel, qtbot):
    lab = ImageGANLab(seed=0, n_train=500, width=64)
    lab.step(60)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    assert panel.samples_img.image.shape == (8 * 17, 8 * 17)
    assert panel.interp_img.image.shape == (2 * 17, 5 * 17)
    x, _ = panel.loss_d.getData()
    assert len(x) == len(lab.hist["step"]) == 3
    for w in (panel.samples_w, panel.real_w, panel.interp_w, panel.loss_w, panel.dout_w,
              panel.hist_w):
        assert_not_blank(w.grab().toImage())


@pytest.mark.parametrize("button, action", [("btn_start", "new_start"), ("btn_end", "new_end")])
def test_buttons_re_pick_an_interpolation_end(panel, qtbot, button, action):
    lab = ImageGANLab(seed=0, n_train=500, width=64)
    panel.render(lab.snapshot())
    before = lab.snapshot().data["interp_images"]
    with qtbot.waitSignal(panel.action_requested, timeout=1000) as sig:
        qtbot.mouseClick(getattr(panel, button), QtCore.Qt.MouseButton.LeftButton)
    assert sig.args == [action, {}]
    lab.do_action(*sig.args[:1], **sig.args[1])
    assert (lab.snapshot().data["interp_images"] != before).any()
