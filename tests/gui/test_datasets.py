"""Datasets panel: every kind of data set draws a real picture, the views switch with the
kind, exports cover what is shown, and the CSV buttons become lab actions."""
import numpy as np
import pytest
from PySide6 import QtWidgets

from engine.labs.datasets import DatasetsLab
from mathdl_gui.panels.datasets import DatasetsPanel
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def panel(qtbot):
    p = DatasetsPanel(DatasetsLab)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    qtbot.waitExposed(p)
    return p


def _grab(widget):
    return widget.grab().toImage()


@pytest.mark.parametrize("settings,main,side", [
    ({"generator": "blobs"}, "data_w", "onehot_w"),
    ({"generator": "spiral3", "standardize": True}, "data_w", "onehot_w"),
    ({"generator": "housing", "feature": "lower_status"}, "data_w", "corr_w"),
    ({"generator": "curve_1d", "outlier_frac": 0.1}, "data_w", "corr_w"),
    ({"generator": "surface_2d"}, "data_w", "corr_w"),
    ({"generator": "glyphs", "glyph_classes": "0123456789"}, "glyph_w", "onehot_w"),
    ({"generator": "glyphs", "standardize": True}, "glyph_w", "onehot_w"),
])
def test_renders_each_kind(panel, qtbot, settings, main, side):
    lab = DatasetsLab(seed=0, n=600, **settings)
    panel.render(lab.snapshot())
    qtbot.wait(20)
    assert panel.main_stack.currentWidget() is getattr(panel, main)
    assert panel.side_stack.currentWidget() is getattr(panel, side)
    for w in (getattr(panel, main), panel.sizes_w, getattr(panel, side), panel.raw_w,
              panel.z_w):
        assert_not_blank(_grab(w))
    assert "600" in panel.sizes_label.text()
    assert "<table" in panel.table.toHtml() or "pixel" in panel.table.toPlainText()
    # The plot items fit their views: nothing (a long title, say) pushes them past the edge.
    for w in (getattr(panel, main), panel.sizes_w, getattr(panel, side)):
        item = w.getPlotItem()
        assert item.sceneBoundingRect().width() <= w.viewport().width() + 1


def test_points_carry_their_split_and_class(panel):
    lab = DatasetsLab(seed=0, generator="moons", n=1000)
    panel.render(lab.snapshot())
    counts = {s: len(item.data) for s, item in panel.scatter.items()}
    assert counts == {"train": 800, "val": 100, "test": 100}
    x, _ = panel.size_tops.getData()
    assert panel.size_tops.data["y"].tolist() == [800, 100, 100] and len(x) == 3
    ones = panel.onehot_ones.data
    labels = lab.snapshot().data["onehot_labels"]
    np.testing.assert_array_equal(ones["x"], labels)


def test_exports_only_the_views_shown(panel, tmp_path):
    lab = DatasetsLab(seed=0, generator="housing")
    panel.render(lab.snapshot())
    assert set(panel.plots()) == {"data", "split_sizes", "correlation", "histogram_raw",
                                  "histogram_standardized"}
    written = panel.export_all(tmp_path, formats=("png", "csv"))
    for png in (w for w in written if w.suffix == ".png"):
        assert_not_blank(png)
    corr_csv = (tmp_path / "correlation.csv").read_text()
    assert corr_csv.count("\nr,") == 13
    lab.set_param("generator", "glyphs")
    panel.render(lab.snapshot())
    assert {"glyphs", "one_hot"} <= set(panel.plots()) and "data" not in panel.plots()


def test_same_snapshot_is_not_redrawn(panel, monkeypatch):
    lab = DatasetsLab(seed=0)
    panel.render(lab.snapshot())
    calls = []
    monkeypatch.setattr(panel, "_draw_points", lambda d: calls.append(d))
    panel.render(lab.snapshot())
    assert calls == []
    lab.set_param("standardize", True)
    panel.render(lab.snapshot())
    assert len(calls) == 1


def test_empty_csv_state_renders_with_banner(panel, qtbot):
    lab = DatasetsLab(seed=0, generator="csv")
    panel.render(lab.snapshot())
    qtbot.wait(10)
    assert not panel.banner.isHidden() and "Load CSV" in panel.banner.text()


def test_csv_buttons_request_actions(panel, qtbot, monkeypatch, tmp_path):
    path = str(tmp_path / "pts.csv")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (path, "CSV (*.csv)")))
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (path, "CSV (*.csv)")))
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        panel.btn_save.click()
    assert sig.args == ["save_csv", {"path": path}]
    with qtbot.waitSignal(panel.action_requested, timeout=2000) as sig:
        panel.btn_load.click()
    assert sig.args == ["load_csv", {"path": path}]
    # Cancelling the dialog asks for nothing.
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: ("", "")))
    with qtbot.assertNotEmitted(panel.action_requested):
        panel.btn_load.click()


@pytest.fixture
def win(make_window):
    return make_window(lab=DatasetsLab(seed=0, generator="moons", n=200), autoplay=False)


def test_window_reports_a_bad_file_and_loads_a_good_one(win, qtbot, tmp_path):
    good = tmp_path / "mine.csv"
    DatasetsLab(seed=1, generator="xor", n=50).do_action("save_csv", path=str(good))
    bad = tmp_path / "bad.csv"
    bad.write_text("0,0,0\n1,x,1\n")
    win.panel.action_requested.emit("load_csv", {"path": str(bad)})
    qtbot.waitUntil(win.error_bar.isVisible, timeout=3000)
    assert "bad.csv: line 2" in win.error_bar.text()
    assert win.worker.latest().values["generator"] == "moons"
    win.panel.action_requested.emit("load_csv", {"path": str(good)})
    qtbot.waitUntil(lambda: win.worker.latest().values["generator"] == "csv", timeout=3000)
    qtbot.waitUntil(lambda: "mine.csv" in win.panel.sizes_label.text(), timeout=3000)
    assert "N = 50" in win.panel.sizes_label.text()
    # A static lab: Play does not start a run.
    win.toggle_play()
    qtbot.wait(100)
    assert not win.worker.playing
