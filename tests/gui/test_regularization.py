"""Regularization panel beyond the smoke test: markers, attack points, optional parts."""
import pytest

from engine.labs.regularization import RegularizationLab
from mathdl_gui.panels.regularization import RegularizationPanel
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = RegularizationPanel(RegularizationLab)
    qtbot.addWidget(p)
    p.resize(1100, 750)
    p.show()
    qtbot.waitExposed(p)
    return p


def _legend_names(legend):
    return [label.text for _, label in legend.items]


def test_renders_after_steps(panel, qtbot):
    lab = RegularizationLab(seed=0)
    for _ in range(3):
        lab.step(40)
        panel.render(lab.snapshot())
    qtbot.wait(20)
    assert_not_blank(panel.grab().toImage())
    n_test = len(lab.Xte)
    assert len(panel.adv_pts.data) == n_test            # one x' per test point
    assert len(panel.adv_lines.xData) == 2 * n_test     # and a segment from x to x'
    assert "Weights" in panel.whist.titleLabel.text
    assert not panel.b_w.isVisible() and "task_b" not in panel.plots()


def test_best_epoch_marker_after_early_stopping(panel, qtbot):
    lab = RegularizationLab(seed=0, early_stop=True, patience=10)
    lab.step(3000)
    assert lab.finished
    panel.render(lab.snapshot())
    qtbot.wait(20)
    best = lab.stopper.best_epoch
    assert panel.best_line.isVisible() and panel.best_line.value() == pytest.approx(best)
    assert "stopped" in panel.best_line.label.format
    lo, hi = panel.patience.getRegion()
    assert (lo, hi) == pytest.approx((best, lab.step_count))
    assert panel.banner.isVisible() and "Early stopping" in panel.banner.text()
    assert_not_blank(panel.loss_w.grab().toImage())


def test_optional_parts_follow_the_params(panel, qtbot):
    lab = RegularizationLab(seed=0, task_b=True, dropout=0.3, aug_noise=0.1, layers="8")
    lab.step(30)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    assert panel.b_w.isVisible() and "task_b" in panel.plots()
    assert "train, dropout on" in _legend_names(panel.loss.legend)
    assert "augmented train" in _legend_names(panel.map_legend)
    assert len(panel.aug_pts.data) == 4 * len(lab.Xtr)
    assert_not_blank(panel.b_w.grab().toImage())
    lab = RegularizationLab(seed=0, fgsm_eps=0.0)
    lab.step(5)
    panel.render(lab.snapshot())
    assert not panel.b_w.isVisible()
    names = _legend_names(panel.loss.legend) + _legend_names(panel.map_legend)
    assert "train, dropout on" not in names and "augmented train" not in names
    assert not any("FGSM" in n for n in names) and len(panel.adv_pts.data) == 0
