"""Parameter sweeps: run a lab headless over a grid of param values and seeds, and compare.

Each run builds the lab from its defaults, applies the fixed settings, then one combination
of the varied params, and trains ``steps`` steps; a row records the combination, the seed,
the wall time and the final headline numbers.  :func:`summarise` groups the rows by
combination and gives the mean and standard deviation over seeds, so "is Adam better than
SGD here?" gets an answer with its spread, not one lucky seed.

Qt-free: the CLI (``main.py sweep``) prints and saves what this returns.
"""
from __future__ import annotations

import itertools
import math
import time
from typing import Callable, Sequence

import numpy as np

from engine.labs.base import Lab

__all__ = ["MAX_RUNS", "parse_values", "plan", "run_sweep", "summarise"]

#: Most runs one sweep may ask for (combinations x seeds): a typo should not start a week.
MAX_RUNS = 1000


def parse_values(text: str) -> list[str]:
    """``"0.01,0.03,0.1"`` -> three values.  When the list holds a ``;`` it separates the
    values instead, for values that contain commas: ``"8;16,16;32,32"``."""
    sep = ";" if ";" in text else ","
    values = [v.strip() for v in text.split(sep)]
    if not values or any(v == "" for v in values):
        raise ValueError(f"empty value in {text!r}: give values separated by '{sep}'")
    return values


def plan(lab_cls: type[Lab], vary: dict[str, Sequence], seeds: Sequence[int]) -> list[dict]:
    """Every combination of the varied params (coerced and checked by the lab's own
    declarations), each with every seed: a list of ``{"seed": s, "params": {...}}``.

    Raises
    ------
    ValueError
        An unknown param, a value it does not allow, a bad seed, or more than
        :data:`MAX_RUNS` runs.
    """
    specs = {p.name: p for p in lab_cls.params}
    axes = {}
    for name, values in vary.items():
        if name not in specs:
            raise ValueError(f"{lab_cls.name} has no param {name!r}; its params are: "
                             + ", ".join(specs))
        axes[name] = [specs[name].coerce(v) for v in values]
    seeds = list(seeds)
    for s in seeds:
        if not isinstance(s, (int, np.integer)) or not 0 <= int(s) < 2**32:
            raise ValueError(f"seeds must be integers in [0, 2^32), got {s!r}")
    combos = [dict(zip(axes, vals)) for vals in itertools.product(*axes.values())]
    runs = [{"seed": int(s), "params": c} for c in combos for s in seeds]
    if not runs:
        raise ValueError("nothing to run: give at least one seed")
    if len(runs) > MAX_RUNS:
        raise ValueError(f"{len(runs)} runs asked for; a sweep runs at most {MAX_RUNS}")
    return runs


def run_sweep(lab_cls: type[Lab], runs: list[dict], steps: int, fixed: dict | None = None,
              backend_name: str = "auto",
              on_row: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Run each planned run for ``steps`` steps; one row per run.

    A row: ``seed``, the varied ``params``, ``step`` reached (a diverged run stops early),
    ``elapsed_s``, ``steps_per_s``, the final ``scalars`` and the ``alerts``.  ``fixed``
    params are applied first (as ``--set`` does), then the run's own; a combination the lab
    refuses gives a row with ``error`` (the lab's message) and empty ``scalars``.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    rows = []
    for i, run in enumerate(runs):
        try:
            lab = lab_cls(seed=run["seed"], backend_name=backend_name)
            for name, value in {**(fixed or {}), **run["params"]}.items():
                lab.set_param(name, value)
        except ValueError as exc:
            # A combination the lab refuses (delay >= length, say): record why, go on.
            row = {"seed": run["seed"], "params": dict(run["params"]), "step": 0,
                   "elapsed_s": 0.0, "steps_per_s": 0.0, "scalars": {}, "alerts": [],
                   "error": str(exc)}
            rows.append(row)
            if on_row is not None:
                on_row(i, row)
            continue
        t0 = time.perf_counter()
        lab.step(steps)
        snap = lab.snapshot()
        elapsed = time.perf_counter() - t0
        row = {"seed": run["seed"], "params": dict(run["params"]), "step": snap.step,
               "elapsed_s": elapsed,
               "steps_per_s": snap.step / elapsed if elapsed > 0 else math.inf,
               "scalars": dict(snap.scalars), "alerts": list(snap.alerts)}
        rows.append(row)
        if on_row is not None:
            on_row(i, row)
    return rows


def summarise(rows: list[dict], metrics: Sequence[str]) -> list[dict]:
    """Group rows by their params; mean and standard deviation (over seeds, ``ddof=0``) of
    each metric and of the wall time.  Non-finite values (a diverged run) count as NaN and
    make the mean NaN: a combination that diverged on any seed shows it."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r["params"].items()), []).append(r)
    out = []
    for key, rs in groups.items():
        entry = {"params": dict(key), "runs": len(rs)}
        for m in list(metrics) + ["elapsed_s"]:
            vals = np.array([r["elapsed_s"] if m == "elapsed_s"
                             else r["scalars"].get(m, math.nan) for r in rs], float)
            vals[~np.isfinite(vals)] = math.nan
            entry[m] = (float(vals.mean()), float(vals.std()))
        out.append(entry)
    return out
