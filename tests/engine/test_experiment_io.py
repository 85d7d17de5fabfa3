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
    assert doc["format"] == "mathdl-experiment" and doc["version"] == 2
    assert doc["seed"] == 5 and doc["step"] == 12 and doc["params"]["n"] == 4
    assert len(doc["histories"]["x"]) == 13
    back = experiment.load_experiment(path, Walk)
    assert back.step_count == 12 and back.values == lab.values
    np.testing.assert_array_equal(back.x, lab.x)


def test_an_interactive_session_replays_exactly(tmp_path):
    lab = Walk(seed=5, sigma=0.5)
    lab.step(3)
    lab.do_action("jump", to=7)
    lab.step(4)
    lab.set_param("sigma", 0.2)
    lab.step(2)
    lab.set_param("n", 5)            # rebuilds: the run restarts at step 0
    lab.step(6)
    lab.reset(9)
    lab.step(2)
    lab.do_action("jump", to=-1)
    lab.step(3)
    with pytest.raises(ValueError):
        lab.set_param("sigma", 99)   # refused: changes nothing and is not journaled
    assert [(e["at"], e["do"]) for e in lab.journal] == [
        (3, "action"), (7, "param"), (9, "param"), (6, "reset"), (2, "action")]
    path = experiment.save_experiment(lab, tmp_path / "session.json")
    seen = []
    back = experiment.load_experiment(path, Walk, progress=lambda d, t: seen.append((d, t)))
    assert back.step_count == 5 and back.seed == 9 and back.values == lab.values
    np.testing.assert_array_equal(back.x, lab.x)
    np.testing.assert_array_equal(np.asarray(back.trace), np.asarray(lab.trace))
    assert back.journal == json.loads(path.read_text())["journal"]
    assert seen and seen[-1][0] == seen[-1][1]
    # Replaying only the final params, as version 1 did, would not give this run.
    flat = Walk(seed=9, sigma=0.2, n=5)
    flat.step(5)
    assert not np.allclose(flat.x, lab.x)


def test_version_1_files_still_load(tmp_path):
    path = _corrupt(tmp_path / "v1.json", json.dumps({
        "format": "mathdl-experiment", "version": 1, "lab": "walk", "seed": 3, "step": 4,
        "params": {"sigma": 0.3}}))
    back = experiment.load_experiment(path, Walk)
    ref = Walk(seed=3, sigma=0.3)
    ref.step(4)
    np.testing.assert_array_equal(back.x, ref.x)


def _v2(journal, initial=None):
    return json.dumps({"format": "mathdl-experiment", "version": 2, "lab": "walk", "seed": 1,
                       "step": 5, "params": {},
                       "initial": initial or {"seed": 1, "params": {}}, "journal": journal})


@pytest.mark.parametrize("text, message", [
    (_v2([{"at": 1, "do": "delete_files"}]), "not a param, action, reset"),
    (_v2([{"at": 1, "do": "action", "name": "explode", "args": {}}]), "no action 'explode'"),
    (_v2([{"at": 1, "do": "param", "name": "sigma", "value": 50}]), "journal entry 1: sigma"),
    (_v2([{"at": -1, "do": "reset", "seed": 1}]), "step 'at'"),
    (_v2([{"at": 1, "do": "action", "name": "jump", "args": "to=1"}]), "'args' must be"),
    (_v2([], initial={"seed": 1, "params": {"n": 99}}), "initial params: n"),
    (_v2([{"at": 3, "do": "action", "name": "jump", "args": {"to": 1}},
          {"at": 2, "do": "action", "name": "jump", "args": {"to": 2}}]), "already at step 3"),
    (_v2([{"at": 1, "do": "action", "name": "jump", "args": {}}]), "needs arguments to"),
])
def test_bad_journals_are_refused_with_a_reason(tmp_path, text, message):
    path = _corrupt(tmp_path / "bad.json", text)
    with pytest.raises(ValueError, match=message):
        experiment.load_experiment(path, Walk)


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
