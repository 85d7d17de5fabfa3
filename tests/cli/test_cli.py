"""The command line: list, run (metrics, plots, experiment, screenshot), and clear errors."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args, timeout=240):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_import_engine_loads_no_qt():
    code = ("import sys, pkgutil, importlib, engine\n"
            "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
            "    importlib.import_module(m.name)\n"
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken', 'pyqtgraph'))]\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_list_json():
    out = run("list", "--json")
    assert out.returncode == 0, out.stderr
    labs = json.loads(out.stdout)
    assert labs and {"name", "chapter", "title", "params"} <= set(labs[0])
    opt = next(lab for lab in labs if lab["name"] == "optimization")
    names = {p["name"] for p in opt["params"]}
    assert {"function", "condition", "adam_lr", "newton"} <= names


def test_list_text():
    out = run("list")
    assert out.returncode == 0 and "optimization" in out.stdout


@pytest.mark.parametrize("args, message", [
    (("run", "nosuchlab", "--steps", "3"), "available labs: optimization"),
    (("run", "optimization", "--steps", "3", "--set", "colour=red"), "its params are: function"),
    (("run", "optimization", "--steps", "3", "--set", "function=sphere"), "one of quadratic"),
    (("run", "optimization", "--steps", "3", "--set", "adam_lr=5"), "adam_lr"),
    (("run", "optimization", "--steps", "3", "--set", "adam_lr"), "NAME=VALUE"),
    (("run", "optimization", "--steps", "-3"), "--steps"),
    (("--panel", "nosuchlab"), "available labs"),
])
def test_bad_input_exits_nonzero_listing_valid(args, message):
    out = run(*args)
    assert out.returncode != 0
    assert message in out.stderr


def test_cupy_backend_without_device_is_refused_with_reason():
    from engine import backend

    if backend.cupy_available()[0]:
        pytest.skip("a CUDA device is present")
    out = run("run", "optimization", "--steps", "3", "--backend", "cupy")
    assert out.returncode == 2 and "CuPy backend is unavailable" in out.stderr


def test_run_writes_metrics_plots_experiment_and_screenshot(tmp_path):
    out_dir = tmp_path / "out"
    shot = out_dir / "shot.png"
    res = run("run", "optimization", "--steps", "300", "--set", "function=rosenbrock",
              "--out", str(out_dir), "--screenshot", str(shot))
    assert res.returncode == 0, res.stderr
    m = json.loads((out_dir / "metrics.json").read_text())
    assert m["lab"] == "optimization" and m["step"] == 300
    s = m["scalars"]
    for key in ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "newton"):
        assert s[f"f_{key}"] < s["f_start"], key
    assert m["f_adam"] == s["f_adam"]            # headline numbers also at the top level
    for name in ("race", "objective", "gradient_norm"):
        assert (out_dir / f"{name}.png").stat().st_size > 1000
        ET.parse(out_dir / f"{name}.svg")
    exp = json.loads((out_dir / "experiment.json").read_text())
    assert exp["step"] == 300 and exp["params"]["function"] == "rosenbrock"
    from PySide6 import QtGui  # after the subprocess; the image check needs no window

    img = QtGui.QImage(str(shot))
    assert img.width() >= 1200 and img.height() >= 700


def test_network_done_when_run(tmp_path):
    """The chapter-7 acceptance run: spiral, 3000 steps, >= 95% test accuracy, outputs."""
    out_dir = tmp_path / "out"
    res = run("run", "network", "--steps", "3000", "--set", "dataset=spiral",
              "--out", str(out_dir), "--screenshot", str(out_dir / "net.png"))
    assert res.returncode == 0, res.stderr
    m = json.loads((out_dir / "metrics.json").read_text())
    assert m["test_accuracy"] >= 0.95
    for name in ("output", "network", "loss", "gradient_norms"):
        assert (out_dir / f"{name}.png").stat().st_size > 1000
    assert (out_dir / "net.png").stat().st_size > 10000


def test_sweep_prints_a_table_and_writes_csv_and_json(tmp_path):
    out = run("sweep", "network", "--steps", "60", "--vary", "optimizer=sgd,adam",
              "--vary", "layers=4;8,8", "--seeds", "0,1", "--metrics", "loss,test_accuracy",
              "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].split() == ["optimizer", "layers", "runs", "loss", "test_accuracy",
                                "seconds"]
    assert len(lines) == 1 + 4 and "\u00b1" in lines[1]
    csv_rows = (tmp_path / "sweep.csv").read_text().strip().splitlines()
    assert len(csv_rows) == 1 + 8 and csv_rows[0].startswith("seed,optimizer,layers,step")
    doc = json.loads((tmp_path / "sweep.json").read_text())
    assert len(doc["runs"]) == 8 and len(doc["summary"]) == 4
    assert {r["params"]["layers"] for r in doc["runs"]} == {"4", "8,8"}


@pytest.mark.parametrize("args, message", [
    (["--vary", "lr=0.1,abc"], "lr"),
    (["--vary", "nope=1"], "no param 'nope'"),
    (["--vary", "lr"], "NAME=V1,V2"),
    (["--metrics", "accuracy_of_nothing"], "not among"),
    (["--seeds", "x"], "expected integers"),
])
def test_sweep_refuses_bad_input_with_a_reason(args, message):
    out = run("sweep", "network", "--steps", "5", *args)
    assert out.returncode == 2 and message in out.stderr, out.stderr
