"""Experiment files: round trip, atomic writes, and refusal of bad files without side effects."""
import json

import numpy as np
import pytest

from engine.io import experiment
from engine.io.atomic import write_text
from tests.engine.test_lab_base import Walk


@pytest.fixture
def saved(tmp_path):
    lab = Walk(seed=5, sigma=0.5)
    lab.set_param("n", 4)
    lab.step(12)
    path = experiment.save_experiment(lab, tmp_path / "walk.json")
    return lab, path


def test_round_trip_replays_the_same_run(saved):
    lab, path = saved
    doc = json.loads(path.read_text())
    assert doc["format"] == "mathdl-experiment" and doc["version"] == 1
    assert doc["seed"] == 5 and doc["step"] == 12 and doc["params"]["n"] == 4
    assert len(doc["histories"]["x"]) == 13
    back = experiment.load_experiment(path, Walk)
    assert back.step_count == 12 and back.values == lab.values
    np.testing.assert_array_equal(back.x, lab.x)


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "a.json"
    write_text(target, "old")

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        write_text(target, Boom())
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temp file left behind


def _corrupt(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("", "not valid JSON"),
    ('{"format": "mathdl-experiment", "version": 1, "lab": "walk"', "truncated"),
    ("[1, 2, 3]", "not a MathDL experiment"),
    ('{"format": "other"}', "not a MathDL experiment"),
    ('{"format": "mathdl-experiment", "version": 99}', "version 99"),
    ('{"format": "mathdl-experiment", "version": 1, "lab": "walk", "seed": 1, "step": 1}',
     "'params' is missing"),
    ('{"format": "mathdl-experiment", "version": 1, "lab": "other", "seed": 1, "step": 1, '
     '"params": {}}', "lab 'other'"),
    ('{"format": "mathdl-experiment", "version": 1, "lab": "walk", "seed": 1, "step": 1, '
     '"params": {"sigma": 50}}', "sigma"),
    ('{"format": "mathdl-experiment", "version": 1, "lab": "walk", "seed": 1, "step": 1, '
     '"params": {"evil": "__import__(\'os\')"}}', "no param 'evil'"),
    ('{"format": "mathdl-experiment", "version": 1, "lab": "walk", "seed": -4, "step": 1, '
     '"params": {}}', "seed"),
    ('{"format": "mathdl-experiment", "version": 1, "lab": "walk", "seed": 1, "step": 1, '
     '"params": {"sigma": NaN}}', "NaN"),
])
def test_bad_files_are_refused_with_a_reason(tmp_path, text, message):
    path = _corrupt(tmp_path / "bad.json", text)
    with pytest.raises(ValueError, match=message):
        experiment.load_experiment(path, Walk)


def test_binary_and_missing_files(tmp_path):
    blob = tmp_path / "x.json"
    blob.write_bytes(b"\x80\x04\x95pickle!\xff")
    with pytest.raises(ValueError, match="not a text file"):
        experiment.read_experiment(blob)
    with pytest.raises(ValueError, match="cannot read"):
        experiment.read_experiment(tmp_path / "nope.json")


def test_truncated_copy_of_real_file_is_refused(saved, tmp_path):
    _, path = saved
    raw = path.read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated"):
        experiment.load_experiment(cut, Walk)
