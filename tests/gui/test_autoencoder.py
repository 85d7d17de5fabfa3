"""Autoencoder panel: latent scatter, decoded grid, reconstructions and curves are drawn;
clicks on either latent plot and the pair button ask the lab for the right actions."""
import numpy as np
import pytest
from PySide6 import QtCore

from engine.labs.autoencoder import Z_RANGE, AutoencoderLab
from mathdl_gui.panels.autoencoder import AutoencoderPanel
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = AutoencoderPanel(AutoencoderLab)
    qtbot.addWidget(p)
    p.resize(1300, 850)
    p.show()
    qtbot.waitExposed(p)
    return p


@pytest.fixture(scope="module")
def lab():
    lab = AutoencoderLab(seed=0, n_train=1000, hidden="64")
    lab.step(100)
    return lab


def _click(qtbot, panel, plot_widget, x, y):
    view = plot_widget
    target = view.getPlotItem().vb.mapViewToScene(QtCore.QPointF(x, y))
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        qtbot.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton,
                         pos=view.mapFromScene(target))
    return sig.args


def test_renders_latent_grid_reconstructions_and_curves(panel, lab, qtbot):
    panel.render(lab.snapshot())
    qtbot.wait(20)
    for w in (panel.latent_w, panel.grid_w, panel.point_w, panel.recon_w, panel.interp_w,
              panel.loss_w, panel.acc_w):
        assert_not_blank(w.grab().toImage())
    x, _ = panel.scatter.getData()
    assert len(x) == 500
    steps, _ = panel.curves["kl"].getData()
    assert len(steps) == len(lab.hist["step"])
    assert panel.curves["kl"].isVisible()


@pytest.mark.parametrize("which", ["latent_w", "grid_w"])
def test_clicking_a_latent_plot_decodes_that_point(panel, lab, qtbot, which):
    panel.render(lab.snapshot())
    qtbot.wait(20)
    name, kwargs = _click(qtbot, panel, getattr(panel, which), 1.0, -0.5)
    assert name == "set_latent"
    assert kwargs["z1"] == pytest.approx(1.0, abs=0.1)
    assert kwargs["z2"] == pytest.approx(-0.5, abs=0.1)
    lab.do_action(name, **kwargs)     # what the window's worker does with it
    panel.render(lab.snapshot())
    assert panel.point_p.titleLabel.text.startswith(f"z = ({kwargs['z1']:.2f}")


def test_far_clicks_are_clamped_to_the_slider_range(panel, qtbot):
    with qtbot.waitSignal(panel.action_requested, timeout=1000) as sig:
        panel.request_latent(50.0, -50.0)
    assert sig.args == ["set_latent", {"z1": Z_RANGE, "z2": -Z_RANGE}]


def test_pair_button_asks_for_a_new_pair(panel, qtbot):
    with qtbot.waitSignal(panel.action_requested, timeout=1000) as sig:
        qtbot.mouseClick(panel.btn_pair, QtCore.Qt.MouseButton.LeftButton)
    assert sig.args == ["new_pair", {}]


def test_denoising_shows_noisy_output_and_clean_rows(panel, qtbot):
    dae = AutoencoderLab(seed=0, model="dae", n_train=1000, hidden="64")
    dae.step(20)
    panel.render(dae.snapshot())
    qtbot.wait(20)
    ticks = [t for _, t in panel.recon.getAxis("left")._tickLevels[0]]
    assert ticks == ["noisy", "output", "clean"] * 2
    rows = panel.recon_img.image.shape[0]
    assert rows == 6 * 17
    assert not panel.curves["kl"].isVisible()
    assert_not_blank(panel.recon_w.grab().toImage())
    assert np.isfinite(panel.recon_img.image).any()
