"""The training worker: a QObject living in its own QThread.

It owns the lab while it runs.  The GUI never touches the lab directly: it sends commands
(params, actions, play/pause, reset, backend) through a queue, and reads back only the newest
:class:`Frame` (a frozen snapshot plus a copy of the param values).  Frames never queue up:
there is one slot, overwritten.  While playing, the worker runs ``steps_per_frame`` steps,
publishes a frame, and waits (at most ``PAINT_WAIT_S``) for the window to paint it; see
``__init__`` for why training and painting take turns.
"""
from __future__ import annotations

import collections
import dataclasses
import queue
import threading
import time
import traceback

from PySide6 import QtCore

from engine.labs.base import Lab, Snapshot
from engine.labs.replay import Checkpoints
from engine.runner import Runner

FRAME_S = 1.0 / 75.0  # a little above 60 so painting keeps up with 60 Hz displays
PAINT_WAIT_S = 0.1


@dataclasses.dataclass(frozen=True)
class Frame:
    """What the window paints: the snapshot and the state around it."""

    seq: int
    snapshot: Snapshot
    values: dict
    playing: bool
    steps_per_sec: float
    backend: str


class LabWorker(QtCore.QObject):
    """Runs a lab off the GUI thread.

    Signals
    -------
    failed(str)
        A command or a step raised; the message is for the user.  A failing step pauses the run.
    notice(str)
        Something to say in the status bar (run restarted, backend switched, ...).
    playing_changed(bool)
    frame_ready()
        A new frame was published while playing; the window paints it and answers with
        :meth:`frame_painted`.
    """

    failed = QtCore.Signal(str)
    notice = QtCore.Signal(str)
    playing_changed = QtCore.Signal(bool)
    frame_ready = QtCore.Signal()

    def __init__(self, lab: Lab, steps_per_frame: int = 1):
        super().__init__()
        self._lab = lab
        self._runner = Runner(lab)
        #: Copies of the lab while it runs, so Back and Undo replay only a little (see
        #: :class:`engine.labs.replay.Checkpoints`); filled on this worker's thread.
        self.checkpoints = Checkpoints()
        self._commands: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._seq = 0
        self._playing = False
        self._stop = False
        # Training and painting take turns.  PySide6 releases the GIL around every Qt call, so
        # a worker running Python while the window paints makes each of the hundreds of Qt calls
        # in a paint wait a whole GIL switch interval (paints went from 5 ms to over 100 ms).
        # After publishing a frame the worker waits until the window says it has painted it.
        self._painted = threading.Event()
        self.steps_per_frame = max(1, int(steps_per_frame))
        self._thread: QtCore.QThread | None = None
        self._rate_hist: collections.deque = collections.deque()
        self._publish()

    # -- GUI-thread API -------------------------------------------------------------------------
    def start(self) -> None:
        """Move to a new QThread and start the loop."""
        self._thread = QtCore.QThread()
        self._thread.setObjectName("lab-worker")
        self.moveToThread(self._thread)
        self._thread.started.connect(self._loop)
        self._thread.start()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Ask the loop to end and wait for the thread; returns True when it ended."""
        self._stop = True
        self._painted.set()
        self._commands.put(("stop",))
        if self._thread is None:
            return True
        self._thread.quit()
        ok = self._thread.wait(timeout_ms)
        self._thread = None
        return ok

    def send(self, *command) -> None:
        """Queue a command: ('set_param', name, value), ('action', name, kwargs),
        ('reset', seed), ('play',), ('pause',), ('toggle',), ('step', n), ('backend', name),
        ('steps_per_frame', n), ('call', fn) — ``fn(lab)`` runs on the worker thread."""
        self._commands.put(command)

    @property
    def lab(self) -> Lab:
        """The lab this worker runs (touch its state only through commands while it runs)."""
        return self._lab

    def call(self, fn, timeout: float = 10.0):
        """Run ``fn(lab)`` on the worker thread between steps; return its result or raise its
        exception here.  ``TimeoutError`` if the worker does not get to it in time."""
        done = threading.Event()
        box = {}

        def job(lab):
            try:
                box["result"] = fn(lab)
            except Exception as exc:  # handed back to the caller
                box["error"] = exc
            finally:
                done.set()

        self.send("call", job)
        if not done.wait(timeout):
            raise TimeoutError(f"the lab did not answer within {timeout:g} s")
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def frame_painted(self) -> None:
        """GUI thread: the newest frame is on screen; training may go on."""
        self._painted.set()

    def latest(self) -> Frame | None:
        with self._lock:
            return self._frame

    @property
    def playing(self) -> bool:
        return self._playing

    # -- worker thread --------------------------------------------------------------------------
    def _publish(self) -> None:
        lab = self._lab
        snap = lab.snapshot()
        with self._lock:
            self._seq += 1
            self._frame = Frame(self._seq, snap, dict(lab.values), self._playing,
                                self._wall_rate(lab.step_count), lab.backend_name)

    def _wall_rate(self, step: int) -> float:
        """Steps per second of wall time over the last second (painting included)."""
        now = time.perf_counter()
        hist = self._rate_hist
        hist.append((now, step))
        while len(hist) > 2 and now - hist[0][0] > 1.0:
            hist.popleft()
        (t0, s0) = hist[0]
        return (step - s0) / (now - t0) if now > t0 and step >= s0 else 0.0

    def _set_playing(self, on: bool) -> None:
        if on and self._lab.finished:
            on = False
            self.notice.emit(f"Nothing left to run: {self._lab.finished_reason}. "
                             "Reset (R) to start again.")
        if on != self._playing:
            self._playing = on
            self.playing_changed.emit(on)

    def _apply(self, cmd) -> None:
        kind, *args = cmd
        lab = self._lab
        if kind == "set_param":
            lab.notice = ""
            lab.set_param(*args)
            if lab.notice:
                self.notice.emit(lab.notice)
        elif kind == "action":
            lab.notice = ""
            lab.do_action(args[0], **args[1])
            if lab.notice:
                self.notice.emit(lab.notice)
        elif kind == "reset":
            lab.reset(args[0] if args else None)
            self.notice.emit(f"Reset with seed {lab.seed}")
        elif kind == "play":
            self._set_playing(True)
        elif kind == "pause":
            self._set_playing(False)
        elif kind == "toggle":
            self._set_playing(not self._playing)
        elif kind == "step":
            self._set_playing(False)
            self._advance(int(args[0]) if args else 1)
        elif kind == "backend":
            lab.to_backend(args[0])
            self.notice.emit(f"Backend: {args[0]}")
        elif kind == "call":
            args[0](lab)
        elif kind == "steps_per_frame":
            self.steps_per_frame = max(1, int(args[0]))

    def _advance(self, n: int) -> None:
        self.checkpoints.note(self._lab, self._runner.advance(n))

    def _loop(self) -> None:
        while not self._stop:
            changed = False
            block = not self._playing
            while True:
                try:
                    cmd = self._commands.get(block=block, timeout=0.05) if block else \
                        self._commands.get_nowait()
                except queue.Empty:
                    break
                block = False
                if cmd[0] == "stop":
                    return
                try:
                    self._apply(cmd)
                except ValueError as exc:  # bad user input: say why, state unchanged
                    self.failed.emit(str(exc))
                except Exception as exc:  # a bug: report it in the window, keep the app alive
                    self._set_playing(False)
                    self.failed.emit(f"{type(exc).__name__}: {exc}\n"
                                     + traceback.format_exc(limit=3))
                changed = True
            if self._playing:
                t0 = time.perf_counter()
                try:
                    self._advance(self.steps_per_frame)
                except Exception as exc:
                    self._set_playing(False)
                    self.failed.emit(f"Step {self._lab.step_count + 1} failed: "
                                     f"{type(exc).__name__}: {exc}")
                if self._lab.finished:
                    self._set_playing(False)
                changed = True
                self._painted.clear()
                self._publish()
                self.frame_ready.emit()
                # Wait for the window to paint it (bounded: without a window, or with a
                # minimised one, training still goes on at a frame every PAINT_WAIT_S).
                self._painted.wait(PAINT_WAIT_S)
                # Pace to the frame rate: at 1 step/frame a path visibly crawls.
                # Steppers meant to be watched (a perceptron update, a sliding kernel) ask for
                # a slower pace through play_interval.
                frame = max(FRAME_S, self._lab.play_interval / self.steps_per_frame)
                rest = frame - (time.perf_counter() - t0)
                if rest > 0:
                    time.sleep(rest)
            elif changed:
                self._publish()
