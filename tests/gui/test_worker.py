"""The worker runs labs off the GUI thread, takes commands while running, and stops cleanly."""
import time

from PySide6 import QtCore

from mathdl_gui.worker import LabWorker
from tests.engine.test_lab_base import Walk


def _wait_for(qtbot, cond, timeout=5000):
    qtbot.waitUntil(cond, timeout=timeout)


def test_play_pause_step_stop(qtbot):
    w = LabWorker(Walk(seed=0), steps_per_frame=5)
    w.start()
    try:
        first = w.latest()
        assert first.snapshot.step == 0
        w.send("play")
        _wait_for(qtbot, lambda: w.latest().snapshot.step >= 50)
        assert w.latest().seq > first.seq
        # The GUI thread is free while training runs.
        t0 = time.perf_counter()
        QtCore.QCoreApplication.processEvents()
        assert time.perf_counter() - t0 < 0.1
        w.send("set_param", "sigma", 0.25)
        _wait_for(qtbot, lambda: w.latest().values["sigma"] == 0.25)
        w.send("pause")
        _wait_for(qtbot, lambda: not w.latest().playing)
        paused_at = w.latest().snapshot.step
        qtbot.wait(100)
        assert w.latest().snapshot.step == paused_at
        w.send("step", 1)
        _wait_for(qtbot, lambda: w.latest().snapshot.step == paused_at + 1)
        w.send("reset", 3)
        _wait_for(qtbot, lambda: w.latest().snapshot.step == 0)
    finally:
        assert w.stop()


class Inbox(QtCore.QObject):
    """Receives worker signals on the GUI thread (a queued connection), as the window does."""

    def __init__(self):
        super().__init__()
        self.messages = []

    @QtCore.Slot(str)
    def take(self, message):
        assert QtCore.QThread.currentThread() is self.thread()
        self.messages.append(message)


def test_bad_command_reports_and_keeps_state(qtbot):
    w = LabWorker(Walk(seed=0))
    inbox = Inbox()
    w.failed.connect(inbox.take)
    w.start()
    try:
        w.send("set_param", "sigma", 1000)
        qtbot.waitUntil(lambda: len(inbox.messages) == 1, timeout=3000)
        assert "sigma" in inbox.messages[0] and "[0, 5]" in inbox.messages[0]
        w.send("action", "fly", {})
        qtbot.waitUntil(lambda: len(inbox.messages) == 2, timeout=3000)
        assert "no action" in inbox.messages[1]
        assert w.latest().values["sigma"] == 1.0
    finally:
        assert w.stop()


def test_stop_while_running_returns_quickly(qtbot):
    w = LabWorker(Walk(seed=0), steps_per_frame=1000)
    w.start()
    w.send("play")
    qtbot.wait(50)
    t0 = time.perf_counter()
    assert w.stop()
    assert time.perf_counter() - t0 < 2.0


def test_play_interval_slows_steppers_meant_to_be_watched(qtbot):
    class SlowWalk(Walk):
        play_interval = 0.2

    fast, slow = LabWorker(Walk(seed=0), steps_per_frame=1), LabWorker(SlowWalk(seed=0), 1)
    for w in (fast, slow):
        w.start()
    try:
        for w in (fast, slow):
            w.send("play")
        qtbot.wait(1000)
        for w in (fast, slow):
            w.send("pause")
        _wait_for(qtbot, lambda: not fast.latest().playing and not slow.latest().playing)
        assert slow.latest().snapshot.step <= 7            # about 5 steps in one second
        assert 2 <= slow.latest().snapshot.step < fast.latest().snapshot.step
    finally:
        assert fast.stop() and slow.stop()


def test_worker_takes_checkpoints_as_the_lab_runs(qtbot):
    w = LabWorker(Walk(seed=0), steps_per_frame=50)
    w.checkpoints.every = 100
    w.start()
    try:
        w.send("step", 250)
        _wait_for(qtbot, lambda: w.latest().snapshot.step == 250)
        items = w.call(lambda lab: list(w.checkpoints.items))
        assert [s for _, s, _ in items] == [250]          # one copy per 100 steps run
        w.send("play")
        _wait_for(qtbot, lambda: w.latest().snapshot.step >= 500)
        w.send("pause")
        items = w.call(lambda lab: list(w.checkpoints.items))
        steps = [s for _, s, _ in items]
        assert len(steps) >= 3 and steps == sorted(steps)
        assert all(copy_.step_count == s for _, s, copy_ in items)
    finally:
        assert w.stop()
