"""Smoke test over the panel registry: every param at min, default and max, steps, render,
export.  No exceptions; Qt warnings fail (pytest-qt, see pyproject)."""
import xml.etree.ElementTree as ET

import pytest

from mathdl_gui import registry
from tests.gui.helpers import assert_not_blank


def _values(p):
    if p.kind == "bool":
        return [True, False]
    if p.kind == "choice":
        return list(p.choices)
    if p.kind == "text":
        return list(p.choices) + [p.default]
    return [p.low, p.default, p.high]


@pytest.mark.parametrize("name", registry.names())
def test_panel_smoke(name, qtbot, tmp_path):
    entry = registry.get(name)
    lab_cls, panel_cls = entry.lab_class(), entry.panel_class()
    panel = panel_cls(lab_cls)
    qtbot.addWidget(panel)
    panel.resize(1000, 700)
    panel.show()
    for p in lab_cls.params:
        lab = lab_cls(seed=0)
        for v in _values(p):
            lab.set_param(p.name, v)
            lab.step(3)
            panel.render(lab.snapshot())
    lab = lab_cls(seed=0)
    lab.step(5)
    panel.render(lab.snapshot())
    qtbot.wait(10)
    written = panel.export_all(tmp_path)
    pngs = [w for w in written if w.suffix == ".png"]
    assert pngs and all(w.stat().st_size > 0 for w in written)
    for png in pngs:
        assert_not_blank(png)
    for svg in (w for w in written if w.suffix == ".svg"):
        ET.parse(svg)
