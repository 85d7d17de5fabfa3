"""Command line: ``gui`` (default), ``list`` and ``run``.

``python main.py``                          opens the window (``--panel NAME`` picks the lab)
``python main.py list [--json]``            labs and their params
``python main.py run LAB --steps N ...``    runs headless; writes metrics, plots, experiment file
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from engine import backend
from engine.labs.base import describe_params
from mathdl_gui import registry


class UsageError(Exception):
    """Bad command-line input; the message says what is valid."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mathdl", description="MathDL Playground: see and play "
                                "with the mathematics of deep learning.")
    sub = p.add_subparsers(dest="command")
    g = sub.add_parser("gui", help="open the window (the default)")
    for q in (p, g):
        q.add_argument("--panel", help="lab to open: " + ", ".join(registry.names()))
        q.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        q.add_argument("--backend", default="auto", choices=backend.BACKENDS,
                       help="array backend (default auto)")
    lst = sub.add_parser("list", help="list labs and their params")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    r = sub.add_parser("run", help="run a lab headless")
    r.add_argument("lab", help="lab name: " + ", ".join(registry.names()))
    r.add_argument("--steps", type=int, required=True, help="number of steps to run")
    r.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    r.add_argument("--backend", default="auto", choices=backend.BACKENDS)
    r.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="set a param (repeatable; applied in order)")
    r.add_argument("--out", help="folder for metrics.json, plots (PNG, SVG) and experiment.json")
    r.add_argument("--screenshot", help="PNG file of the window after the steps")
    sw = sub.add_parser("sweep", help="run a lab over a grid of param values and seeds")
    sw.add_argument("lab", help="lab name: " + ", ".join(registry.names()))
    sw.add_argument("--steps", type=int, required=True, help="steps per run")
    sw.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2,...",
                    help="a param and its values (use ';' between values that hold commas); "
                         "repeat for a grid")
    sw.add_argument("--seeds", default="0", help="seeds, e.g. 0,1,2 (default 0)")
    sw.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a fixed param for every run (repeatable)")
    sw.add_argument("--metrics", help="scalars to compare, e.g. loss,test_accuracy "
                                      "(default: the lab's loss and accuracy figures)")
    sw.add_argument("--backend", default="auto", choices=backend.BACKENDS)
    sw.add_argument("--out", help="folder for sweep.csv (one row per run) and sweep.json")
    return p


def cmd_list(as_json: bool) -> int:
    rows = []
    for e in registry.ENTRIES:
        cls = e.lab_class()
        rows.append({"name": e.name, "chapter": e.chapter, "title": e.title,
                     "section": cls.section, "params": describe_params(cls)})
    if as_json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        print(f"{r['name']}  (ch. {r['chapter']} {registry.CHAPTERS[r['chapter']]}: "
              f"{r['title']})")
        for p in r["params"]:
            print(f"    {p['name']:<16} default {p['default']!s:<12} {p['allowed']}")
    return 0


def build_lab(name: str, seed: int, backend_name: str, sets: list[str]):
    """Make lab ``name`` and apply ``NAME=VALUE`` settings in order (UsageError if invalid)."""
    try:
        entry = registry.get(name)
        backend.resolve(backend_name)
        if not 0 <= seed < 2**32:
            raise ValueError(f"--seed must be in [0, 2^32), got {seed}")
        lab = entry.lab_class()(seed=seed, backend_name=backend_name)
        for item in sets:
            key, eq, value = item.partition("=")
            if not eq:
                raise ValueError(f"--set {item!r}: expected NAME=VALUE")
            lab.set_param(key.strip(), value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return entry, lab


def cmd_run(args) -> int:
    from engine.io import experiment  # noqa: PLC0415
    from engine.io.atomic import write_text  # noqa: PLC0415
    from engine.runner import Runner  # noqa: PLC0415

    if args.steps < 0:
        raise UsageError(f"--steps must be >= 0, got {args.steps}")
    entry, lab = build_lab(args.lab, args.seed, args.backend, args.set)
    runner = Runner(lab, chunk=max(1, min(500, args.steps // 20 or 1)))
    t0 = time.perf_counter()
    last = [t0]

    def progress(snap):
        now = time.perf_counter()
        if now - last[0] > 2.0:
            last[0] = now
            print(f"  step {snap.step}/{args.steps}", file=sys.stderr, flush=True)

    snap = runner.run(args.steps, on_snapshot=progress)
    elapsed = time.perf_counter() - t0
    metrics = {"lab": lab.name, "step": snap.step, "seed": lab.seed,
               "backend": backend.resolve(lab.backend_name, lab.work_size()),
               "elapsed_s": round(elapsed, 3), "scalars": dict(snap.scalars),
               "alerts": list(snap.alerts), "params": dict(lab.values)}
    # Headline numbers also at the top level (metrics["test_accuracy"]), next to "scalars".
    metrics.update({k: v for k, v in snap.scalars.items() if k not in metrics})
    metrics = experiment._jsonable(metrics)
    for a in snap.alerts:
        print(f"warning: {a}", file=sys.stderr)
    print(json.dumps({k: metrics[k] for k in ("lab", "step", "elapsed_s", "scalars")}))
    if args.out or args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "metrics.json", json.dumps(metrics, indent=1, allow_nan=False))
        experiment.save_experiment(lab, out / "experiment.json")
    if args.out or args.screenshot:
        _render_outputs(lab, args.out, args.screenshot)
    return 0


def _default_metrics(scalars) -> list[str]:
    keys = [k for k in scalars if k == "loss" or "accuracy" in k or k.startswith("test_")]
    return (keys or list(scalars))[:4]


def cmd_sweep(args) -> int:
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    from engine import sweep  # noqa: PLC0415
    from engine.io import experiment  # noqa: PLC0415
    from engine.io.atomic import write_text  # noqa: PLC0415

    try:
        lab_cls = registry.get(args.lab).lab_class()
        backend.resolve(args.backend)
        vary = {}
        for item in args.vary:
            key, eq, values = item.partition("=")
            if not eq:
                raise ValueError(f"--vary {item!r}: expected NAME=V1,V2,...")
            vary[key.strip()] = sweep.parse_values(values)
        fixed = {}
        for item in args.set:
            key, eq, value = item.partition("=")
            if not eq:
                raise ValueError(f"--set {item!r}: expected NAME=VALUE")
            fixed[key.strip()] = value
        try:
            seeds = [int(v) for v in sweep.parse_values(args.seeds)]
        except ValueError:
            raise ValueError(f"--seeds {args.seeds!r}: expected integers such as 0,1,2") \
                from None
        runs = sweep.plan(lab_cls, vary, seeds)
        if args.steps < 0:
            raise ValueError(f"--steps must be >= 0, got {args.steps}")
        lab_cls(seed=seeds[0], backend_name=args.backend, **fixed)   # check --set up front
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    def report(i, row):
        shown = ", ".join(f"{k}={v}" for k, v in row["params"].items()) or "defaults"
        done = f"refused: {row['error']}" if "error" in row else f"{row['elapsed_s']:.1f} s"
        print(f"  run {i + 1}/{len(runs)}: {shown}, seed {row['seed']}: {done}",
              file=sys.stderr, flush=True)

    rows = sweep.run_sweep(lab_cls, runs, args.steps, fixed, args.backend, report)
    ran = [r for r in rows if "error" not in r]
    if not ran:
        raise UsageError("the lab refused every combination: " + rows[0]["error"])
    scalars = ran[0]["scalars"]
    metrics = sweep.parse_values(args.metrics) if args.metrics else _default_metrics(scalars)
    unknown = [m for m in metrics if m not in scalars]
    if unknown:
        raise UsageError(f"--metrics: {', '.join(unknown)} not among this lab's scalars: "
                         + ", ".join(scalars))
    summary = sweep.summarise(rows, metrics)
    names = list(vary)
    head = names + ["runs"] + metrics + ["seconds"]
    table = [head]
    for e in summary:
        cells = [str(e["params"][n]) for n in names] + [str(e["runs"])]
        for m in metrics + ["elapsed_s"]:
            mean, std = e[m]
            cells.append(f"{mean:.4g}" + (f" \u00b1 {std:.2g}" if e["runs"] > 1 else ""))
        table.append(cells)
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        fields = ["seed"] + names + ["step", "elapsed_s", "steps_per_s"] + \
            list(scalars) + ["alerts", "error"]
        w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({"seed": r["seed"], **r["params"], "step": r["step"],
                        "elapsed_s": round(r["elapsed_s"], 4),
                        "steps_per_s": round(r["steps_per_s"], 1), **r["scalars"],
                        "alerts": " | ".join(r["alerts"]), "error": r.get("error", "")})
        write_text(out / "sweep.csv", buf.getvalue())
        doc = experiment._jsonable({"lab": args.lab, "steps": args.steps, "fixed": fixed,
                                    "vary": vary, "seeds": seeds, "metrics": metrics,
                                    "runs": rows, "summary": summary})
        write_text(out / "sweep.json", json.dumps(doc, indent=1, allow_nan=False))
    return 0


def _render_outputs(lab, out, screenshot):
    """Paint the lab's panel offscreen; export its plots and/or grab the window."""
    from PySide6 import QtCore  # noqa: PLC0415

    from engine.io.atomic import atomic_path  # noqa: PLC0415
    from mathdl_gui.app import make_app  # noqa: PLC0415
    from mathdl_gui.main_window import MainWindow  # noqa: PLC0415

    def quiet(_mode, _context, message):
        # The offscreen platform warns that it ignores window size hints; that is expected.
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    QtCore.qInstallMessageHandler(quiet)
    app = make_app()
    win = MainWindow(lab=lab, autoplay=False, seed=lab.seed, backend_name=lab.backend_name)
    try:
        win.resize(1600, 950)
        win.show()
        for _ in range(5):
            app.processEvents()
            win.paint_latest(force_math=True)
        if out:
            win.panel.export_all(out, formats=("png", "svg"))
        if screenshot:
            with atomic_path(screenshot) as tmp:
                if not win.grab().save(tmp, "PNG"):
                    raise OSError(f"could not write {screenshot}")
    finally:
        win.close()


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args.json)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "sweep":
            return cmd_sweep(args)
        if args.panel is not None:
            registry.get(args.panel)
        backend.resolve(args.backend)
        from mathdl_gui.app import run_gui  # noqa: PLC0415

        return run_gui(args.panel, args.seed, args.backend)
    except (UsageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
