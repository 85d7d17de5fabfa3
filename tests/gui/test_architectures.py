"""Architecture calculator panel: every preset renders a table with totals, the bar chart and
the receptive-field plot have content, the errata box lists the book's figures, and the
export adds the table as CSV."""
import csv

import pytest

from engine.labs.architectures import PRESETS, ArchitectureLab
from mathdl_gui.panels.architectures import ArchitecturePanel
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = ArchitecturePanel(ArchitectureLab)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def _row(table, label):
    for r in range(table.rowCount()):
        item = table.item(r, 0)
        if item is not None and item.text() == label:
            return [table.item(r, c).text() if table.item(r, c) else ""
                    for c in range(table.columnCount())]
    raise AssertionError(f"no row {label!r}")


@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_renders(panel, qtbot, preset):
    lab = ArchitectureLab(preset=preset)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    names = lab.snapshot().data["names"]
    # input row + one per layer + total, conv part, FC part
    assert panel.table.rowCount() == len(names) + 4
    assert panel.table.item(1, 0).text() == names[0]
    assert_not_blank(panel.chart.widget.grab().toImage())
    assert_not_blank(panel.rf_w.grab().toImage())
    assert "figure" in panel.errata.toPlainText() or preset == "custom"


def test_vgg16_totals_row_and_thousands_separators(panel, qtbot):
    lab = ArchitectureLab(preset="vgg16")
    panel.render(lab.snapshot())
    total = _row(panel.table, "total")
    assert total[3] == "138,357,544"
    assert total[4] == "15,470,264,320"
    assert _row(panel.table, "conv part")[3] == "14,714,688"
    assert _row(panel.table, "fc1")[3] == "102,764,544"
    assert _row(panel.table, "conv1_1")[2] == "64\u00d7224\u00d7224"
    assert "approximately 138 million" in panel.errata.toPlainText()
    # Weights only: the header and the totals follow.
    lab.set_param("count_bias", False)
    panel.render(lab.snapshot())
    assert panel.table.horizontalHeaderItem(3).text() == "weights"
    assert _row(panel.table, "total")[3] == "138,344,128"


def test_alexnet_errata_and_bars(panel, qtbot):
    lab = ArchitectureLab(preset="alexnet")
    panel.render(lab.snapshot())
    text = panel.errata.toPlainText()
    assert "62.3 million" in text and "62,367,776" in text
    fc1 = panel.chart.labels["params"][lab.snapshot().data["names"].index("fc1")]
    assert fc1.toPlainText() == "60.5%"  # FC1 alone: 60.5 % of all parameters
    assert "FC: 94.0%" in panel.chart.plot.titleLabel.text


def test_switching_presets_and_scales_rebuilds_rows(panel, qtbot):
    lab = ArchitectureLab(preset="inception_v1")
    panel.render(lab.snapshot())
    n_inception = panel.table.rowCount()
    lab.set_param("preset", "custom")
    lab.set_param("scale", "log")
    panel.render(lab.snapshot())
    assert panel.table.rowCount() == 6 + 4 < n_inception
    assert len(panel.chart.labels["macs"]) == 6
    ticks = panel.chart.plot.getAxis("bottom")._tickLevels
    assert ticks is not None and ("1k" in [s for _, s in ticks[0]])
    qtbot.wait(20)
    assert_not_blank(panel.chart.widget.grab().toImage())


def test_export_writes_plots_and_the_table_as_csv(panel, qtbot, tmp_path):
    lab = ArchitectureLab(preset="vgg16")
    panel.render(lab.snapshot())
    qtbot.wait(20)
    written = panel.export_all(tmp_path)
    names = {w.name for w in written}
    assert {"params_and_macs_per_layer.png", "receptive_field.csv", "layer_table.csv",
            "errata.csv"} <= names
    with open(tmp_path / "layer_table.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:6] == ["row", "layer", "kind", "type", "output", "params"]
    assert rows[1][1] == "input" and rows[2][1] == "conv1_1"
    assert rows[-1][1] == "total" and rows[-1][5] == "138357544"
    with open(tmp_path / "params_and_macs_per_layer.csv", encoding="utf-8") as fh:
        assert "parameters" in fh.read()
    for png in (w for w in written if w.suffix == ".png"):
        assert_not_blank(png)
