"""The main window: opens the default lab moving, binds controls, exports, saves and loads."""
import json

import pytest
from PySide6 import QtCore, QtWidgets

from engine import backend
from mathdl_gui import registry
from mathdl_gui.widgets import style
from tests.gui.helpers import assert_not_blank


@pytest.fixture
def win(make_window):
    return make_window()


def test_opens_default_lab_already_moving(win, qtbot):
    assert win.entry.name == registry.DEFAULT
    qtbot.waitUntil(lambda: win.panel.last_snapshot is not None
                    and win.panel.last_snapshot.step >= 10, timeout=2000)
    assert win.act_play.isChecked()
    assert "step" in win.st_step.text() and "FPS" in win.st_fps.text()
    assert_not_blank(win.grab().toImage())


def test_navigator_lists_registry(win):
    titles = []
    it = QtWidgets.QTreeWidgetItemIterator(win.nav)
    while it.value():
        if it.value().data(0, QtCore.Qt.ItemDataRole.UserRole):
            titles.append(it.value().text(0))
        it += 1
    assert titles == [e.title for e in registry.ENTRIES]


def test_shortcuts(win):
    keys = {a.shortcut().toString() for a in win.actions()}
    assert {"Space", "S", "Shift+S", "Ctrl+Z", "R", "Ctrl+E", "Ctrl+S", "Ctrl+O", "Ctrl+Q",
            "F1"} <= keys


def test_cupy_greyed_out_with_reason_when_unavailable(win):
    ok, reason = backend.cupy_available()
    item = win.backend_box.model().item(2)
    assert item.isEnabled() == ok
    if not ok:
        assert reason in win.backend_box.itemData(2, QtCore.Qt.ItemDataRole.ToolTipRole)


def test_param_change_reaches_lab_while_running(win, qtbot):
    name = win.entry.lab_class().params[-1].name
    spec = win.entry.lab_class().params[-1]
    target = spec.high if spec.kind in ("float", "int") else spec.default
    win.form.param_changed.emit(name, target)
    qtbot.waitUntil(lambda: win.worker.latest().values[name] == target, timeout=2000)


def test_export_save_open(win, qtbot, tmp_path):
    win.worker.send("pause")
    qtbot.waitUntil(lambda: not win.worker.latest().playing, timeout=2000)
    written = win.export_panel(str(tmp_path / "exp"))
    assert {p.suffix for p in written} == {".png", ".svg", ".csv"}
    path = win.save_experiment(str(tmp_path / "e.json"))
    doc = json.loads((tmp_path / "e.json").read_text())
    assert path and doc["lab"] == win.entry.name
    step = doc["step"]
    assert win.open_experiment(str(tmp_path / "e.json"))
    qtbot.waitUntil(lambda: win.panel.last_snapshot is not None
                    and win.panel.last_snapshot.step == step, timeout=3000)


def test_undo_and_step_back_rebuild_the_lab_from_its_journal(win, qtbot):
    win.open_lab("network", autoplay=False)
    win.worker.send("step", 30)
    qtbot.waitUntil(lambda: win.worker.latest().snapshot.step == 30, timeout=5000)
    win.worker.send("set_param", "lr", 0.01)
    win.worker.send("step", 10)
    qtbot.waitUntil(lambda: win.worker.latest().snapshot.step == 40, timeout=5000)
    win.speed.setValue(4)
    assert win.step_back()
    qtbot.waitUntil(lambda: win.panel.last_snapshot is not None
                    and win.panel.last_snapshot.step == 36, timeout=5000)
    assert win.worker.call(lambda lab: lab.values["lr"]) == 0.01
    assert win.undo()                                   # the lr change, made at step 30
    qtbot.waitUntil(lambda: win.panel.last_snapshot is not None
                    and win.panel.last_snapshot.step == 30, timeout=5000)
    assert win.worker.call(lambda lab: (lab.values["lr"], lab.journal)) == (0.03, [])
    assert not win.undo()                               # nothing left: a message, no change
    assert "nothing to undo" in win.error_bar.text()
    assert win.worker.call(lambda lab: lab.step_count) == 30


def test_malformed_experiment_shows_error_and_changes_nothing(win, qtbot, tmp_path):
    win.worker.send("pause")
    qtbot.waitUntil(lambda: not win.worker.latest().playing, timeout=2000)
    before = win.worker.latest()
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "mathdl-experiment", "version": 1, "lab": ')
    worker = win.worker
    assert not win.open_experiment(str(bad))
    assert win.error_bar.isVisible() and "JSON" in win.error_bar.text()
    assert win.worker is worker
    assert win.worker.latest().snapshot.step == before.snapshot.step


def test_reopen_lab_and_close_stop_workers(win, qtbot):
    old = win.worker
    win.open_lab(registry.DEFAULT)
    assert old._thread is None  # stopped and joined
    win.close()
    assert win.worker is None


def test_theme_toggle_rebuilds_panel_and_keeps_the_run(win, qtbot):
    qtbot.waitUntil(lambda: win.panel.last_snapshot is not None
                    and win.panel.last_snapshot.step >= 5, timeout=2000)
    old_panel = win.panel
    win.toggle_theme()
    assert win.panel is not old_panel and style.theme_name() == "light"
    qtbot.waitUntil(lambda: win.panel.last_snapshot is not None
                    and win.panel.last_snapshot.step >= 5, timeout=2000)
    assert_not_blank(win.grab().toImage())
    win.toggle_theme()
    assert style.theme_name() == "dark"


def test_save_to_unwritable_place_shows_error(win, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert win.save_experiment(str(blocker / "e.json")) is None
    assert win.error_bar.isVisible() and "Could not save" in win.error_bar.text()
    assert blocker.read_text() == "not a folder"
