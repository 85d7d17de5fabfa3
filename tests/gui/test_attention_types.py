"""Types-of-attention panel: every variant paints, tokens label the matrices, the explained
row, local windows and hard samples are drawn where the snapshot says."""
import numpy as np
import pytest

from engine.labs.attention_types import AttentionTypesLab
from mathdl_gui.panels.attention_types import AttentionTypesPanel
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = AttentionTypesPanel(AttentionTypesLab)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def _show(panel, qtbot, lab):
    panel.render(lab.snapshot())
    qtbot.wait(20)
    panel.render(lab.snapshot())


@pytest.mark.parametrize("kwargs", [
    {}, {"mode": "encoder_decoder", "scoring": "additive"},
    {"kind": "hard", "local": True}, {"text": "attention", "local": True,
                                      "centre": "monotonic", "temperature": 0.3}])
def test_variants_render(panel, qtbot, kwargs):
    lab = AttentionTypesLab(seed=0, **kwargs)
    lab.step(20)
    _show(panel, qtbot, lab)
    for w in (panel.scores.widget, panel.weights.widget, panel.row_w, panel.ctx_w,
              panel.extra_w):
        assert_not_blank(w.grab().toImage())
    text = panel.text.toPlainText()
    assert "softmax" in text and "context" in text


def test_tokens_label_the_axes_and_the_row_is_outlined(panel, qtbot):
    lab = AttentionTypesLab(seed=0, mode="encoder_decoder", query_index=3)
    _show(panel, qtbot, lab)
    bottom = panel.weights.plot.getAxis("bottom")._tickLevels[0]
    left = panel.weights.plot.getAxis("left")._tickLevels[0]
    assert [t for _, t in bottom] == ["on", "the", "mat", "sat", "the", "cat"]
    assert [t for _, t in left][3] == "3 on"
    r = panel.weights.row.rect()
    assert (r.y(), r.height(), r.width()) == (3, 1, 6)
    # Cell values are written when the cells are large enough.
    shown = [item.toPlainText() for item in panel.weights.labels if item.isVisible()]
    assert len(shown) == 36


def test_local_windows_and_hard_samples_are_marked(panel, qtbot):
    lab = AttentionTypesLab(seed=0, kind="hard", local=True, centre="monotonic")
    lab.step(3)
    _show(panel, qtbot, lab)
    d = lab.snapshot().data
    visible = [r for r in panel.weights.windows if r.isVisible()]
    assert len(visible) == 6
    for k, r in enumerate(visible):
        x0, x1 = d["windows"][k]
        assert (r.rect().x(), r.rect().width()) == (x0, x1 - x0)
    xs, ys = panel.weights.samples.getData()
    np.testing.assert_allclose(xs, d["samples"] + 0.5)
    np.testing.assert_allclose(ys, np.arange(6) + 0.5)
    assert panel.freq_bars.isVisible() and panel.window_region.isVisible()
    # Back to soft and global: the marks go away.
    lab.set_param("kind", "soft")
    lab.set_param("local", False)
    _show(panel, qtbot, lab)
    assert not any(r.isVisible() for r in panel.weights.windows)
    assert len(panel.weights.samples.getData()[0]) == 0
    assert not panel.freq_bars.isVisible()


def test_hard_error_plot_thins_both_log_axes(panel, qtbot):
    from mathdl_gui.widgets.style import ThinLogAxis

    lab = AttentionTypesLab(seed=0, kind="hard")
    lab.step(20)
    _show(panel, qtbot, lab)
    for name in ("left", "bottom"):
        axis = panel.extra.getAxis(name)
        assert isinstance(axis, ThinLogAxis) and axis.logMode
    lab = AttentionTypesLab(seed=0)
    lab.step(2)
    _show(panel, qtbot, lab)
    assert not panel.extra.getAxis("left").logMode and panel.extra.getAxis("bottom").logMode
