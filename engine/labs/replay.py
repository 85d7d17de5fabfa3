"""Rebuild a lab from its journal: for experiment files, Undo and Step back.

A lab is deterministic given its seed, its starting params and the changes made to it while
it ran, and :attr:`engine.labs.base.Lab.journal` records those changes with the step each one
happened at.  So any earlier state can be rebuilt by replay: build the lab as it started,
step to each entry, apply it, and step on.  This module does that:

* :func:`replay` - the general form (experiment files use it);
* :func:`undo` - the state just before the last change (a param, a clicked point, a reset...);
* :func:`step_back` - the same run ``n`` steps earlier, changes made up to then kept.

Each returns a *new* lab and leaves the given one alone, so a failure changes nothing.
Replay costs the steps it re-runs; ``progress(done, total)`` reports them.
"""
from __future__ import annotations

import base64
import copy
import dataclasses
import tempfile
from pathlib import Path

from engine.labs.base import Lab

__all__ = ["Record", "replay", "undo", "step_back", "segment_start"]

CHUNK = 500   # steps between progress reports


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
    # Steps to run in all, for the progress bar: each entry's step counted from the last one,
    # or from 0 after a rebuild.
    total, pos = 0, 0
    for at in [e["at"] for e in journal] + [step]:
        total += at - pos if at >= pos else at
        pos = at
    done = 0
    for i, e in enumerate(journal):
        if e["at"] < lab.step_count:
            raise ValueError(f"journal entry {i + 1} is at step {e['at']}, but the replay is "
                             f"already at step {lab.step_count}")
        done = _step_to(lab, e["at"], progress, done, total)
        try:
            _apply(lab, e)
        except ValueError as exc:
            raise ValueError(f"replaying journal entry {i + 1} ({e['do']} at step {e['at']}) "
                             f"failed: {exc}") from None
    _step_to(lab, step, progress, done, total)
    return lab


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


def undo(lab: Lab | Record, progress=None) -> Lab:
    """The lab as it was just before its last journaled change, at the step it was made.

    Raises
    ------
    ValueError
        When nothing has been changed since the lab was built.
    """
    rec = _record(lab)
    if not rec.journal:
        raise ValueError("nothing to undo: no param, action or reset since the lab started")
    return replay(rec.lab_cls, rec.initial, rec.journal[:-1], rec.journal[-1]["at"],
                  rec.backend_name, progress)


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


def step_back(lab: Lab | Record, n: int = 1, progress=None) -> Lab:
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
    keep = rec.journal[:start] + [e for e in rec.journal[start:] if e["at"] <= target]
    return replay(rec.lab_cls, rec.initial, keep, target, rec.backend_name, progress)


def _step_to(lab: Lab, target: int, progress, done: int, total: int) -> int:
    """Step ``lab`` up to step ``target`` in chunks, reporting progress; returns ``done``."""
    while lab.step_count < target and not lab.finished:
        n = min(CHUNK, target - lab.step_count)
        lab.step(n)
        done += n
        if progress is not None:
            progress(min(done, total), total)
    return done


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
