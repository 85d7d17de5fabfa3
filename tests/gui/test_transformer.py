"""Transformer panel: one attention heatmap per layer x head (rebuilt when the architecture
changes), the prediction, curves and positional code are drawn."""
import numpy as np
import pytest

from engine.labs.transformer import TransformerLab
from mathdl_gui.panels.transformer import TransformerPanel
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = TransformerPanel(TransformerLab)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_renders_a_heatmap_per_layer_and_head(panel, qtbot):
    lab = TransformerLab(seed=0)
    lab.step(60)
    snap = lab.snapshot()
    panel.render(snap)
    qtbot.wait(20)
    layers, heads = lab.values["layers"], lab.values["heads"]
    assert len(panel.attn_imgs) == layers * heads
    for img, w in zip(panel.attn_imgs, np.asarray(snap.data["attention"]).reshape(-1, 8, 8)):
        np.testing.assert_array_equal(img.image, w)
    x, _ = panel.curves["token_acc"].getData()
    assert len(x) == len(lab.hist["step"])
    assert len(panel.ent_curves) == layers * heads
    assert sum(k.startswith("attention_") for k in panel.plots()) == layers * heads
    for w in (panel.attn_w, panel.pred_w, panel.loss_w, panel.pe_w, panel.dots_w):
        assert_not_blank(w.grab().toImage())


def test_grid_follows_the_architecture_and_probe(panel, qtbot):
    lab = TransformerLab(seed=0, layers=3, heads=4, probe="3141")
    lab.step(5)
    panel.render(lab.snapshot())
    assert len(panel.attn_imgs) == 12 and panel.attn_imgs[0].image.shape == (4, 4)
    lab = TransformerLab(seed=0, layers=1, heads=1, pos="none", task="histogram")
    lab.step(5)
    panel.render(lab.snapshot())
    qtbot.wait(10)
    assert len(panel.attn_imgs) == 1 and len(panel.ent_curves) == 1
    assert_not_blank(panel.attn_w.grab().toImage())
