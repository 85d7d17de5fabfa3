"""The lab contract: Qt-free, declared params, seeded reset, stepping, frozen NumPy snapshots.

A lab is plain Python.  The GUI, the CLI and the tests drive every lab through the same small
surface, so nothing about a lab is wired by hand:

* class attributes carry metadata (``name``, ``chapter``, ``title``, ``section``, ``summary``);
* ``params`` declares the knobs as data (:class:`Param`), from which the GUI builds its form and
  the CLI parses ``--set NAME=VALUE``;
* ``actions`` declares the things a user can do besides turning knobs (click a start point);
* ``reset(seed)``, ``step(n)`` and ``snapshot()`` run it; a snapshot is frozen NumPy-only data;
* every outside change (a param, an action, a reset, a loaded model) is written to
  :attr:`Lab.journal` with the step it happened at, so an experiment file can replay an
  interactive session exactly, clicked points and drawings included.

Data flows one way: param -> lab -> snapshot -> panel.  ``set_param`` validates and raises
``ValueError`` with a message a user can act on, leaving the lab exactly as it was.
"""
from __future__ import annotations

import base64
import copy
import dataclasses
import functools
import math
import os
import types
from typing import Any, Mapping, Sequence

import numpy as np

from engine import backend

PARAM_KINDS = ("float", "int", "bool", "choice", "text")


@dataclasses.dataclass(frozen=True)
class Param:
    """One declared knob of a lab.

    Parameters
    ----------
    name : str
        Identifier used by ``set_param`` and ``--set name=value``.
    kind : {'float', 'int', 'bool', 'choice', 'text'}
        ``text`` is a short string checked by ``parse`` (e.g. layer widths ``"16,16"``).
    default : object
    low, high : float, optional
        Inclusive range for numeric kinds.
    step : float, optional
        Slider resolution for numeric kinds (ignored when ``log``).
    log : bool
        Slider moves in log space (learning rates, condition numbers).
    choices : tuple of str
        Allowed values for ``choice``; example values for ``text`` (the smoke test uses them).
    label, symbol, help : str
        Short label, the symbol used in the equations (``c``, ``\u03b2\u2081``), and a tooltip.
    group : str
        Heading under which the form shows the control.
    rebuild : bool
        Changing it rebuilds the run (``reset`` with the current seed).
    parse : callable, optional
        For ``text``: ``parse(str) -> canonical str``, raising ``ValueError`` with the reason.
    hint : str
        For ``text``: what is allowed, in words.
    """

    name: str
    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple = ()
    label: str = ""
    symbol: str = ""
    help: str = ""
    group: str = "General"
    rebuild: bool = False
    parse: Any = None
    hint: str = ""

    def __post_init__(self):
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"param {self.name}: kind must be one of {PARAM_KINDS}")
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"param {self.name}: default {self.default!r} not in choices")
        if self.log and (self.low is None or self.low <= 0):
            raise ValueError(f"param {self.name}: a log-scale param needs low > 0")
        self.coerce(self.default)  # a declaration with a bad default fails at import

    @property
    def display(self) -> str:
        return self.label or self.name.replace("_", " ")

    def allowed(self) -> str:
        """What values are allowed, as a phrase for error messages and ``main.py list``."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "text":
            return self.hint or "text"
        what = "an integer" if self.kind == "int" else "a number"
        return f"{what} in [{_fmt(self.low)}, {_fmt(self.high)}]"

    def coerce(self, value: Any) -> Any:
        """Convert ``value`` (possibly a string from the command line) and check it.

        Raises
        ------
        ValueError
            Naming the param, the bad value and what is allowed.
        """
        bad = ValueError(f"{self.name} = {value!r} is not allowed: it must be {self.allowed()}")
        if self.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
                return False
            if isinstance(value, (int, np.integer)) and value in (0, 1):
                return bool(value)
            raise bad
        if self.kind == "choice":
            if isinstance(value, str) and value.strip() in self.choices:
                return value.strip()
            raise bad
        if self.kind == "text":
            if not isinstance(value, str):
                raise bad
            if self.parse is None:
                return value.strip()
            try:
                return self.parse(value)
            except ValueError as exc:
                raise ValueError(f"{self.name} = {value!r} is not allowed: {exc}") from None
        try:
            if isinstance(value, (bool, np.bool_)):
                raise TypeError
            num = float(value.strip()) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            raise bad from None
        if not math.isfinite(num):
            raise bad
        if self.kind == "int":
            if num != round(num):
                raise bad
            num = int(round(num))
        if (self.low is not None and num < self.low) or (self.high is not None and num > self.high):
            raise bad
        return num


@dataclasses.dataclass(frozen=True)
class Action:
    """Something a user can do to a lab besides setting a param (a click, a button).

    ``args`` names the arguments ``do_action`` expects, e.g. ``('x', 'y')``.  ``journal`` says
    how the action goes into :attr:`Lab.journal`: ``"args"`` (its arguments), ``"file"`` (it
    reads the file at its ``path`` argument, whose bytes are recorded so a replay does not
    need the file) or ``"skip"`` (it changes nothing in the run, e.g. writing a CSV).
    """

    name: str
    label: str
    args: tuple = ()
    help: str = ""
    journal: str = "args"

    def __post_init__(self):
        if self.journal not in ("args", "file", "skip"):
            raise ValueError(f"Action {self.name}: journal must be args, file or skip")


def _fmt(v) -> str:
    return "-inf" if v is None else f"{v:g}"


def _freeze(value):
    """Deep-freeze snapshot data: arrays become read-only NumPy, dicts become read-only views."""
    if isinstance(value, Mapping):
        return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, np.generic):
        return value.item()
    arr = backend.to_numpy(value)
    if arr.flags.writeable:
        arr = arr.copy() if arr.base is not None else arr
        arr.flags.writeable = False
    return arr


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What a panel paints: frozen, NumPy-only, safe to hand across threads.

    Attributes
    ----------
    lab : str
    step : int
    scalars : Mapping[str, float]
        Headline numbers; ``loss`` (if present) goes to the status bar.
    data : Mapping[str, object]
        Arrays and nested mappings of arrays (curves, paths, images).
    text : Mapping[str, str]
        Rendered-math HTML and other strings.
    alerts : tuple of str
        Banners to show, e.g. a divergence naming its step and likely cause.
    """

    lab: str
    step: int
    scalars: Mapping[str, float]
    data: Mapping[str, Any]
    text: Mapping[str, str]
    alerts: tuple = ()

    def __deepcopy__(self, memo):
        return self    # immutable all the way down (read-only arrays, mapping proxies)

    @classmethod
    def make(cls, lab, step, scalars=None, data=None, text=None, alerts=()):
        return cls(lab=lab, step=int(step),
                   scalars=types.MappingProxyType(
                       {k: float(v) for k, v in (scalars or {}).items()}),
                   data=_freeze(data or {}), text=types.MappingProxyType(dict(text or {})),
                   alerts=tuple(alerts))


class Lab:
    """Base class of every lab.  Subclasses declare metadata, ``params``, ``actions``, and
    implement ``_build`` (set up from params and ``self.rng``), ``_step`` and ``_snapshot``.

    Attributes
    ----------
    name, chapter, title, section, summary : str
        Registry metadata: CLI name, book chapter number, navigator title, book section, and a
        few lines (our words) explaining what the lab shows.
    params : tuple of Param
    actions : tuple of Action
    """

    name: str = ""
    chapter: int = 0
    title: str = ""
    section: str = ""
    summary: str = ""
    params: Sequence[Param] = ()
    actions: Sequence[Action] = ()

    #: Largest file whose bytes a journal entry keeps (a loaded CSV or model file); a bigger
    #: one is recorded by path only, so replaying it needs the file.
    JOURNAL_FILE_BYTES = 16 * 2**20

    def __init__(self, seed: int = 0, backend_name: str = "auto", **values):
        self._params = {p.name: p for p in self.params}
        self.values: dict[str, Any] = {p.name: p.default for p in self.params}
        for k, v in values.items():
            self.values[k] = self._param(k).coerce(v)
        self.backend_name = backend_name
        self.notice = ""
        self.journal: list[dict] | None = None   # None while building: nothing is recorded
        self._journal_depth = 0
        self.reset(seed)
        #: Where the journal starts: the seed and params the lab was built with.
        self.initial = {"seed": self.seed, "params": dict(self.values)}
        self.journal = []

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A lab's own ``load_model`` is journaled like an action (see ``_journaled``).
        if "load_model" in cls.__dict__:
            cls.load_model = _journal_model_load(cls.__dict__["load_model"])

    def _journaled(self, entry: dict, run):
        """Run ``run()`` and, if it succeeds and is not nested in another journaled call,
        append ``entry`` to :attr:`journal`, stamped with the step it happened at (``at``) and
        the step count it left (``after``).

        Nesting matters: a param that rebuilds the run calls ``reset`` itself, and replaying
        the param change will do so again.
        """
        at = getattr(self, "step_count", 0)
        self._journal_depth += 1
        try:
            result = run()
        finally:
            self._journal_depth -= 1
        if self._journal_depth == 0 and self.journal is not None:
            # ``after`` != ``at`` marks a change that moved the step count: a restart, or a
            # loaded model's step (see replay.step_back).
            entry = {"at": at, **entry, "after": self.step_count}
            last = self.journal[-1] if self.journal else None
            if (last is not None and entry["do"] == "param" and last["do"] == "param"
                    and last["name"] == entry["name"] and last["at"] == at
                    and last["after"] == entry["after"]):
                # A slider dragged while paused sends many values at one step: keep the last,
                # so the journal stays short and Undo reverts the whole drag.
                self.journal[-1] = entry
            else:
                self.journal.append(entry)
        return result

    # -- params ---------------------------------------------------------------------------------
    def _param(self, name: str) -> Param:
        try:
            return self._params[name]
        except KeyError:
            raise ValueError(f"{self.name} has no param {name!r}; its params are: "
                             + ", ".join(self._params)) from None

    def param_spec(self, name: str) -> Param:
        """The declaration of param ``name`` (``ValueError`` listing valid names if unknown)."""
        return self._param(name)

    def validate(self, name: str, value: Any) -> Any:
        """Coerce and check a value without changing anything; returns the coerced value."""
        return self._param(name).coerce(value)

    def set_param(self, name: str, value: Any) -> None:
        """Validate and apply one param.  On ``ValueError`` nothing changes.

        Params declared ``rebuild`` reset the run (same seed) and set :attr:`notice`.
        """
        value = self.validate(name, value)
        self._journaled({"do": "param", "name": name, "value": value},
                        lambda: self._set_param(name, value))

    def _set_param(self, name: str, value: Any) -> None:
        old = self.values[name]
        self.values[name] = value
        try:
            self._on_param(name, old)
        except Exception:
            self.values[name] = old
            raise
        if self._param(name).rebuild and value != old:
            self.reset(self.seed)
            self.notice = f"{self._param(name).display} changed: run restarted"

    def _on_param(self, name: str, old: Any) -> None:
        """Hook: apply a live param change (e.g. push a learning rate into an optimizer)."""

    # -- running --------------------------------------------------------------------------------
    @property
    def xp(self):
        return backend.get_xp(self._device())

    def _device(self) -> str:
        """The backend this lab's arrays live on: ``backend_name`` resolved for its work."""
        return backend.resolve(self.backend_name, self.work_size())

    def work_size(self) -> float:
        """Rough forward multiply-adds per step, for the ``auto`` backend choice."""
        return 0.0

    def reset(self, seed: int | None = None) -> None:
        """Rebuild from the current params with ``seed`` (default: keep the current seed)."""
        if seed is not None:
            if not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**32:
                raise ValueError(f"seed must be an integer in [0, 2^32), got {seed!r}")
        self._journaled({"do": "reset", "seed": None if seed is None else int(seed)},
                        lambda: self._reset(seed))

    def _reset(self, seed) -> None:
        if seed is not None:
            self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.step_count = 0
        self._build()

    def step(self, n: int = 1) -> None:
        """Advance ``n`` steps."""
        # Whatever a step does to the lab is replayed by stepping: journal none of it.
        self._journal_depth += 1
        try:
            with backend.blas_threads(self.blas_threads):
                for _ in range(int(n)):
                    if self.finished:
                        break
                    self._step()
                    self.step_count += 1
        finally:
            self._journal_depth -= 1

    @property
    def finished(self) -> bool:
        """True when nothing is left to run (every racer converged or diverged, say)."""
        return False

    #: What Play says when :attr:`finished` is true (a lab with nothing to train overrides it).
    finished_reason = "the run has stopped (see the banner)"

    #: BLAS threads while stepping and snapshotting (see :func:`engine.backend.blas_threads`):
    #: one, because the labs' small matrices run faster on one thread than on contended two.
    blas_threads: int | None = 1

    #: Least seconds between steps while playing at one step per frame: 0 trains as fast as
    #: frames allow; steppers meant to be followed by eye (a sliding kernel) set ~0.2 s.
    play_interval = 0.0

    def snapshot(self) -> Snapshot:
        with backend.blas_threads(self.blas_threads):
            return self._snapshot()

    def do_action(self, name: str, **kwargs) -> None:
        """Run declared action ``name``; ``ValueError`` for unknown actions or bad arguments."""
        names = {a.name: a for a in self.actions}
        if name not in names:
            raise ValueError(f"{self.name} has no action {name!r}; its actions are: "
                             + (", ".join(names) or "none"))
        missing = set(names[name].args) - set(kwargs)
        if missing:
            raise ValueError(f"action {name} needs arguments {', '.join(sorted(missing))}")
        run = functools.partial(getattr(self, "action_" + name), **kwargs)
        how = names[name].journal
        if how == "skip":
            run()
            return
        # A copy: the caller may reuse and change its arrays (a drawing canvas) later.
        entry = {"do": "action", "name": name, "args": copy.deepcopy(kwargs)}
        if how == "file":
            entry.update(_file_record(kwargs.get("path"), self.JOURNAL_FILE_BYTES))
        self._journaled(entry, run)

    def to_backend(self, name: str) -> None:
        """Move parameters and optimizer state to another backend without losing them."""
        backend.resolve(name, self.work_size())  # raises before anything changes
        self.backend_name = name
        self._journal_depth += 1     # a backend is not part of the run: not journaled
        try:
            self._move_to_backend()
        finally:
            self._journal_depth -= 1

    def _move_to_backend(self) -> None:
        """Hook: move arrays to ``self.xp``.  Default: rebuild and replay to the same step."""
        target = self.step_count
        self.reset(self.seed)
        self.step(target)

    def history(self) -> dict[str, list]:
        """Plain lists of the run's histories, for experiment files and CSV."""
        return {}

    # -- to be written by subclasses -------------------------------------------------------------
    def _build(self) -> None:
        raise NotImplementedError

    def _step(self) -> None:
        raise NotImplementedError

    def _snapshot(self) -> Snapshot:
        raise NotImplementedError


def _file_record(path, limit: int) -> dict:
    """``{"file": base64 bytes}`` of the file at ``path`` for a journal entry, or ``{}`` when it
    cannot be read (the action itself then reports that) or is larger than ``limit``."""
    try:
        if path is None or os.path.getsize(path) > limit:
            return {}
        with open(path, "rb") as fh:
            return {"file": base64.b64encode(fh.read()).decode("ascii")}
    except (OSError, TypeError, ValueError):
        return {}


def _journal_model_load(load):
    """Wrap a lab's ``load_model(path)`` so that a successful load enters the journal with the
    file's bytes (when small enough), like an action that reads a file."""
    @functools.wraps(load)
    def load_model(self, path, *args, **kwargs):
        entry = {"do": "load_model", "args": {"path": str(path)}}
        entry.update(_file_record(path, self.JOURNAL_FILE_BYTES))
        return self._journaled(entry, lambda: load(self, path, *args, **kwargs))
    return load_model


def describe_params(lab_cls: type[Lab]) -> list[dict]:
    """JSON-ready description of a lab's params (for ``main.py list --json``)."""
    out = []
    for p in lab_cls.params:
        d = {"name": p.name, "kind": p.kind, "default": p.default, "help": p.help,
             "group": p.group, "allowed": p.allowed()}
        if p.kind in ("float", "int"):
            d.update(low=p.low, high=p.high, log=p.log)
        if p.kind == "choice":
            d["choices"] = list(p.choices)
        if p.kind == "text" and p.choices:
            d["examples"] = list(p.choices)
        out.append(d)
    return out
