"""Rebuild a lab from its journal: for experiment files, Undo and Step back.

A lab is deterministic given its seed, its starting params and the changes made to it while
it ran, and :attr:`engine.labs.base.Lab.journal` records those changes with the step each one
happened at.  So any earlier state can be rebuilt by replay: build the lab as it started,
step to each entry, apply it, and step on.  This module does that:

* :func:`replay` - the general form (experiment files use it);
* :func:`undo` - the state just before the last change (a param, a clicked point, a reset...);
* :func:`step_back` - the same run ``n`` steps earlier, changes made up to then kept.

Each returns a *new* lab and leaves the given one alone, so a failure changes nothing.
Replay costs the steps it re-runs; ``progress(done, total)`` reports them.  A
:class:`Checkpoints` store, filled while the lab runs, lets Undo and Step back start from the
latest copy that lies on the way instead of from the beginning.
"""
from __future__ import annotations

import base64
import copy
import dataclasses
import tempfile
import time
from pathlib import Path

from engine.labs.base import Lab

__all__ = ["Checkpoints", "Record", "replay", "undo", "step_back", "segment_start"]

def replay(lab_cls: type[Lab], initial: dict, journal: list[dict], step: int,
           backend_name: str = "auto", progress=None) -> Lab:
    """Build ``lab_cls`` from ``initial`` (seed, params), replay ``journal``, step to ``step``.

    Parameters
    ----------
    lab_cls : Lab subclass
    initial : dict
        ``{"seed": int, "params": dict}``, as in :attr:`Lab.initial`.
    journal : list of dict
        Entries as in :attr:`Lab.journal`, in order.
    step : int
        The step count to finish at (in the numbering after the last entry).
    backend_name : str
    progress : callable, optional
        ``progress(done, total)`` while stepping; it may raise to cancel.

    Raises
    ------
    ValueError
        When an entry cannot be applied (the lab says why) or the entries are out of order.
    """
    lab = lab_cls(seed=initial["seed"], backend_name=backend_name, **initial["params"])
    return _continue(lab, journal, step, progress)


def _continue(lab: Lab, entries: list[dict], step: int, progress=None) -> Lab:
    """Apply ``entries`` to ``lab`` (stepping to each one's step first), then step to
    ``step``; ``lab`` already holds every entry before these."""
    # Steps to run in all, for the progress bar: each entry's step counted from the last one,
    # or from 0 after a rebuild.
    total, pos = 0, lab.step_count
    for at in [e["at"] for e in entries] + [step]:
        total += at - pos if at >= pos else at
        pos = at
    meter = _Meter(total, progress)
    first = len(lab.journal)
    for i, e in enumerate(entries, first):
        if e["at"] < lab.step_count:
            raise ValueError(f"journal entry {i + 1} is at step {e['at']}, but the replay is "
                             f"already at step {lab.step_count}")
        meter.step_to(lab, e["at"])
        try:
            _apply(lab, e)
        except ValueError as exc:
            raise ValueError(f"replaying journal entry {i + 1} ({e['do']} at step {e['at']}) "
                             f"failed: {exc}") from None
    meter.step_to(lab, step)
    meter.report(force=True)
    return lab


class _Meter:
    """Steps a lab in small chunks and calls ``progress(done, total)`` at most every
    ``PERIOD`` seconds: often enough that a window calling back into its event loop stays
    responsive (and can cancel), rarely enough to cost nothing on fast labs."""

    PERIOD = 0.05
    CHUNK = 10

    def __init__(self, total: int, progress):
        self.total, self.progress, self.done = total, progress, 0
        self._last = time.perf_counter()

    def step_to(self, lab: Lab, target: int) -> None:
        while lab.step_count < target and not lab.finished:
            before = lab.step_count
            lab.step(min(self.CHUNK, target - before))
            self.done += lab.step_count - before
            self.report()

    def report(self, force: bool = False) -> None:
        now = time.perf_counter()
        if self.progress is not None and (force or now - self._last >= self.PERIOD):
            self._last = now
            self.progress(min(self.done, self.total), self.total)


class Checkpoints:
    """Deep copies of a running lab, taken every ``every`` steps it runs, newest last.

    Replaying to an earlier moment then starts from the latest copy on the way there: a copy
    taken when the journal had ``j`` entries, at step ``s``, lies on the way to "the first
    ``m`` entries, then step ``t``" when ``j < m``, or ``j == m`` and ``s <= t`` (the journal
    only grows, and between entries the lab only steps).  At most ``keep`` copies are held;
    past that, every other one in the older half is dropped, so old moments stay reachable at
    a coarser spacing.  A lab that cannot be copied (it should not happen) turns the store
    off; replay then starts from the beginning, as without it.

    The copies are taken on the lab's own thread and never changed afterwards (a replay starts
    from a copy of the copy), so another thread may read them.
    """

    def __init__(self, every: int = 200, keep: int = 10):
        self.every, self.keep = int(every), int(keep)
        self.items: list[tuple[int, int, Lab]] = []
        self._since = 0
        self.off = False

    def note(self, lab: Lab, stepped: int) -> None:
        """Count ``stepped`` more steps of ``lab``; take a copy when ``every`` have run."""
        self._since += int(stepped)
        if self.off or self._since < self.every:
            return
        self._since = 0
        try:
            copy_ = copy.deepcopy(lab)
        except Exception:       # an attribute that cannot be copied: no checkpoints then
            self.off = True
            self.items.clear()
            return
        self.items.append((len(lab.journal), lab.step_count, copy_))
        if len(self.items) > self.keep:
            half = len(self.items) // 2
            self.items = self.items[:half][::2] + self.items[half:]

    def _on_the_way(self, m: int, step: int) -> list[tuple[int, int, Lab]]:
        return [(j, s, lab) for j, s, lab in self.items if j < m or (j == m and s <= step)]

    def start_for(self, m: int, step: int) -> Lab | None:
        """A fresh copy of the latest checkpoint on the way to (first ``m`` entries, step
        ``step``), or None."""
        on_way = self._on_the_way(m, step)
        best = max(on_way, key=lambda item: item[:2], default=None)
        return None if best is None else copy.deepcopy(best[2])

    def for_lab(self, lab: Lab) -> "Checkpoints":
        """A store for ``lab``, a lab rebuilt from this one's journal (Undo, Back): the copies
        on the way to its state stay valid for it, so a second Back is as quick as the first."""
        new = Checkpoints(self.every, self.keep)
        new.items = self._on_the_way(len(lab.journal), lab.step_count)
        new.off = self.off
        return new


def _rebuild(rec: "Record", m: int, step: int, progress, checkpoints) -> Lab:
    """The lab after the first ``m`` journal entries of ``rec``, at ``step``."""
    start = checkpoints.start_for(m, step) if checkpoints is not None else None
    if start is None:
        return replay(rec.lab_cls, rec.initial, rec.journal[:m], step, rec.backend_name,
                      progress)
    if start.backend_name != rec.backend_name:
        start.to_backend(rec.backend_name)
    return _continue(start, rec.journal[len(start.journal):m], step, progress)


@dataclasses.dataclass(frozen=True)
class Record:
    """What replay needs of a lab, copied, so a running lab can be read once (on its own
    thread) and rebuilt elsewhere."""

    lab_cls: type
    initial: dict
    journal: list
    step_count: int
    backend_name: str

    @classmethod
    def of(cls, lab: Lab) -> "Record":
        return cls(type(lab), copy.deepcopy(lab.initial), copy.deepcopy(lab.journal),
                   lab.step_count, lab.backend_name)


def _record(lab) -> Record:
    return lab if isinstance(lab, Record) else Record.of(lab)


def undo(lab: Lab | Record, progress=None, checkpoints: Checkpoints | None = None) -> Lab:
    """The lab as it was just before its last journaled change, at the step it was made.

    Raises
    ------
    ValueError
        When nothing has been changed since the lab was built.
    """
    rec = _record(lab)
    if not rec.journal:
        raise ValueError("nothing to undo: no param, action or reset since the lab started")
    return _rebuild(rec, len(rec.journal) - 1, rec.journal[-1]["at"], progress, checkpoints)


def segment_start(journal: list[dict]) -> tuple[int, int]:
    """Where the current run began: the index of its first journal entry and its first step.

    A run begins after the last entry that moved the step count (``after != at``): a reset,
    a param that rebuilds, a clicked point that changes the data (back to 0), or a loaded
    model (on to the file's step).  Stepping back never crosses that entry.
    """
    for i in range(len(journal) - 1, -1, -1):
        e = journal[i]
        if e.get("after", e["at"]) != e["at"] or e["do"] == "reset":
            return i + 1, e.get("after", 0)
    return 0, 0


def step_back(lab: Lab | Record, n: int = 1, progress=None,
              checkpoints: Checkpoints | None = None) -> Lab:
    """The same run ``n`` steps earlier, keeping the changes made up to that step.

    It stops at the start of the current run (after the last restart or model load).

    Raises
    ------
    ValueError
        For ``n < 1``, or when the run is at its first step already.
    """
    if int(n) < 1:
        raise ValueError(f"step back by at least 1 step, got {n}")
    rec = _record(lab)
    start, first = segment_start(rec.journal)
    if rec.step_count <= first:
        raise ValueError(f"already at the first step ({first}) of this run: nothing to step "
                         "back to (Undo reverts the change that started it)")
    target = max(rec.step_count - int(n), first)
    # Within a run the entries' steps only grow, so those kept are a prefix of the journal.
    m = start + sum(1 for e in rec.journal[start:] if e["at"] <= target)
    return _rebuild(rec, m, target, progress, checkpoints)


def _apply(lab: Lab, e: dict) -> None:
    """Apply one journal entry to ``lab`` (files recorded with their bytes are rewritten to a
    temporary file first, so the replay does not need the original)."""
    if e["do"] == "param":
        lab.set_param(e["name"], e["value"])
    elif e["do"] == "reset":
        lab.reset(e["seed"])
    elif "file" not in e:
        _call(lab, e, e["args"])
    else:
        try:
            data = base64.b64decode(e["file"], validate=True)
        except ValueError:
            raise ValueError("its recorded file is not valid base64") from None
        suffix = Path(str(e["args"].get("path", ""))).suffix
        with tempfile.TemporaryDirectory() as tmp:
            copy_path = Path(tmp) / f"recorded{suffix}"
            copy_path.write_bytes(data)
            _call(lab, e, {**e["args"], "path": str(copy_path)})


def _call(lab: Lab, e: dict, args: dict) -> None:
    if e["do"] == "load_model":
        lab.load_model(args["path"])
    else:
        lab.do_action(e["name"], **args)
