"""Experiment files: a lab's params, seed, step, journal and histories as versioned JSON.

JSON, never pickle: loading a file can only ever produce numbers, strings and lists.  Loading is
all-or-nothing: the file is parsed and every field checked against the lab's declared params
before a new lab is built, so a malformed file leaves the running lab untouched.

Runs are deterministic given params and seed, so a loaded experiment is rebuilt by replay.
Version 2 files also hold the lab's *journal* (:attr:`engine.labs.base.Lab.journal`): the seed
and params the lab was built with, then every change made while it ran (params, actions such
as clicked points or a drawing, resets, loaded CSV and model files with their bytes), each
stamped with its step.  Replaying builds the lab as it started, steps to each entry, applies
it, and steps on to the saved step, so an interactive session comes back exactly.  Version 1
files (params only) replay the final params from step 0.  The histories are kept as the
record (and for CSV/analysis).
"""
from __future__ import annotations

import datetime
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from engine.io.atomic import write_text
from engine.labs.base import Lab
from engine.labs.replay import replay

FORMAT = "mathdl-experiment"
VERSION = 2
MAX_BYTES = 64 * 2**20   # refuse absurd files before parsing them
MAX_STEPS = 10_000_000
MAX_JOURNAL = 200_000    # entries (a long drawing session is a few thousand)


def _jsonable(v: Any) -> Any:
    """Plain-JSON copy: arrays become lists, non-finite floats become null (strict JSON)."""
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def experiment_dict(lab: Lab) -> dict:
    """Everything needed to rebuild and inspect ``lab``'s run."""
    snap = lab.snapshot()
    return _jsonable({
        "format": FORMAT, "version": VERSION, "lab": lab.name, "seed": lab.seed,
        "step": lab.step_count, "backend": lab.backend_name, "params": dict(lab.values),
        "initial": lab.initial, "journal": lab.journal,
        "scalars": dict(snap.scalars), "histories": lab.history(),
        "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    })


def save_experiment(lab: Lab, path: str | os.PathLike) -> Path:
    """Write ``lab``'s experiment file atomically; returns the path."""
    text = json.dumps(experiment_dict(lab), separators=(",", ":"), allow_nan=False)
    write_text(path, text)
    return Path(path)


def read_experiment(path: str | os.PathLike, lab_cls: type[Lab] | None = None) -> dict:
    """Read and validate an experiment file without building anything.

    Parameters
    ----------
    path : path-like
    lab_cls : Lab subclass, optional
        When given, the file must be for this lab and its params must pass this lab's checks.

    Raises
    ------
    ValueError
        Saying what is wrong with the file (not JSON, truncated, another format or a newer
        version, another lab, a param out of range, ...).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size > MAX_BYTES:
        raise ValueError(f"{path.name} is {size / 2**20:.0f} MiB; experiment files are at most "
                         f"{MAX_BYTES // 2**20} MiB")
    try:
        raw = path.read_bytes().decode("utf-8")
        doc = json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not a text file; expected a MathDL experiment "
                         "(.json)") from None
    except json.JSONDecodeError as exc:
        # Every experiment file ends with its closing brace; one that doesn't was cut short.
        hint = " (the file looks truncated)" if raw.strip().startswith("{") and \
            not raw.rstrip().endswith("}") else ""
        raise ValueError(f"{path.name} is not valid JSON{hint}: {exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path.name} is not a MathDL experiment file (no \"format\": "
                         f"\"{FORMAT}\")")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise ValueError(f"{path.name} has format version {version!r}; this app reads versions "
                         f"1 to {VERSION}")
    for key, typ in (("lab", str), ("seed", int), ("step", int), ("params", dict)):
        if not isinstance(doc.get(key), typ) or isinstance(doc.get(key), bool):
            raise ValueError(f"{path.name}: field {key!r} is missing or not a {typ.__name__}")
    if not 0 <= doc["seed"] < 2**32:
        raise ValueError(f"{path.name}: seed must be in [0, 2^32), got {doc['seed']}")
    if not 0 <= doc["step"] <= MAX_STEPS:
        raise ValueError(f"{path.name}: step must be in [0, {MAX_STEPS}], got {doc['step']}")
    if lab_cls is not None:
        if doc["lab"] != lab_cls.name:
            raise ValueError(f"{path.name} is an experiment of lab {doc['lab']!r}, "
                             f"not {lab_cls.name!r}")
        specs = {p.name: p for p in lab_cls.params}
        clean = {}
        for name, value in doc["params"].items():
            if name not in specs:
                raise ValueError(f"{path.name}: lab {lab_cls.name} has no param {name!r}")
            try:
                clean[name] = specs[name].coerce(value)
            except ValueError as exc:
                raise ValueError(f"{path.name}: {exc}") from None
        doc["params"] = clean
        if version >= 2:
            doc["initial"], doc["journal"] = _check_journal(doc, lab_cls, path.name)
    return doc


def _check_journal(doc: dict, lab_cls: type[Lab], name: str) -> tuple[dict, list]:
    """Validate a version-2 file's ``initial`` and ``journal`` against ``lab_cls``.

    Param values are coerced by the lab's own declarations; action arguments are only checked
    for shape here, and the lab checks their values while replaying.
    """
    initial, journal = doc.get("initial"), doc.get("journal")
    if not isinstance(initial, dict) or not isinstance(journal, list):
        raise ValueError(f"{name}: fields 'initial' and 'journal' are missing or malformed")
    specs = {p.name: p for p in lab_cls.params}
    seed = initial.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"{name}: initial seed must be an integer in [0, 2^32)")
    params = initial.get("params")
    if not isinstance(params, dict):
        raise ValueError(f"{name}: initial params are missing")

    def coerce(pname, value, where):
        if pname not in specs:
            raise ValueError(f"{name}: {where}: lab {lab_cls.name} has no param {pname!r}")
        try:
            return specs[pname].coerce(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {where}: {exc}") from None

    initial = {"seed": seed,
               "params": {k: coerce(k, v, "initial params") for k, v in params.items()}}
    if len(journal) > MAX_JOURNAL:
        raise ValueError(f"{name}: the journal has {len(journal)} entries; at most "
                         f"{MAX_JOURNAL} are read")
    actions = {a.name: a for a in lab_cls.actions}
    clean = []
    for i, e in enumerate(journal):
        where = f"journal entry {i + 1}"
        if not isinstance(e, dict) or e.get("do") not in ("param", "action", "reset",
                                                            "load_model"):
            raise ValueError(f"{name}: {where} is not a param, action, reset or load_model")
        at = e.get("at")
        if not isinstance(at, int) or isinstance(at, bool) or not 0 <= at <= MAX_STEPS:
            raise ValueError(f"{name}: {where}: step 'at' must be in [0, {MAX_STEPS}]")
        after = e.get("after", at)
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_STEPS:
            raise ValueError(f"{name}: {where}: step 'after' must be in [0, {MAX_STEPS}]")
        e = dict(e)
        if e["do"] == "param":
            e["value"] = coerce(e.get("name"), e.get("value"), where)
        elif e["do"] == "reset":
            s = e.get("seed")
            if s is not None and (not isinstance(s, int) or isinstance(s, bool)
                                  or not 0 <= s < 2**32):
                raise ValueError(f"{name}: {where}: seed must be an integer in [0, 2^32)")
        else:
            if e["do"] == "action" and e.get("name") not in actions:
                raise ValueError(f"{name}: {where}: lab {lab_cls.name} has no action "
                                 f"{e.get('name')!r}")
            if e["do"] == "load_model" and not hasattr(lab_cls, "load_model"):
                raise ValueError(f"{name}: {where}: lab {lab_cls.name} has no model files")
            if not isinstance(e.get("args"), dict):
                raise ValueError(f"{name}: {where}: 'args' must be an object")
            if "file" in e and not isinstance(e["file"], str):
                raise ValueError(f"{name}: {where}: 'file' must be base64 text")
        clean.append(e)
    return initial, clean


def _reject_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def load_experiment(path: str | os.PathLike, lab_cls: type[Lab], backend_name: str = "auto",
                    progress=None) -> Lab:
    """Build a new lab from an experiment file and replay it to the saved step.

    The caller's current lab is never touched: on any error nothing has been replaced.
    ``progress(done, total)`` is called while replaying, for long runs.
    """
    doc = read_experiment(path, lab_cls)
    if doc["version"] < 2:
        initial, journal = {"seed": doc["seed"], "params": doc["params"]}, []
    else:
        initial, journal = doc["initial"], doc["journal"]
    try:
        return replay(lab_cls, initial, journal, doc["step"], backend_name, progress)
    except ValueError as exc:
        raise ValueError(f"{Path(path).name}: {exc}") from None
