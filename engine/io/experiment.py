"""Experiment files: a lab's params, seed, step and histories as versioned JSON.

JSON, never pickle: loading a file can only ever produce numbers, strings and lists.  Loading is
all-or-nothing: the file is parsed and every field checked against the lab's declared params
before a new lab is built, so a malformed file leaves the running lab untouched.
Runs are deterministic given params and seed, so a loaded experiment is rebuilt by replaying
``step`` steps; the saved histories are kept as the record (and for CSV/analysis).
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

FORMAT = "mathdl-experiment"
VERSION = 1
MAX_BYTES = 64 * 2**20   # refuse absurd files before parsing them
MAX_STEPS = 10_000_000


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
    return doc


def _reject_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def load_experiment(path: str | os.PathLike, lab_cls: type[Lab], backend_name: str = "auto",
                    progress=None) -> Lab:
    """Build a new lab from an experiment file and replay it to the saved step.

    The caller's current lab is never touched: on any error nothing has been replaced.
    ``progress(done, total)`` is called while replaying, for long runs.
    """
    doc = read_experiment(path, lab_cls)
    lab = lab_cls(seed=doc["seed"], backend_name=backend_name, **doc["params"])
    total, done = doc["step"], 0
    while done < total and not lab.finished:
        n = min(500, total - done)
        lab.step(n)
        done += n
        if progress is not None:
            progress(done, total)
    return lab
