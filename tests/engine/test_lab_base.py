"""The lab contract: params validate, snapshots are frozen, runs are reproducible."""
import numpy as np
import pytest

from engine.labs.base import Action, Lab, Param, Snapshot, describe_params
from engine.runner import Runner


class Walk(Lab):
    """A tiny seeded random walk: enough to exercise the contract without autodiff."""

    name = "walk"
    chapter = 3
    title = "Random walk"
    params = (
        Param("sigma", "float", 1.0, 0.0, 5.0, step=0.1, help="step size"),
        Param("n", "int", 3, 1, 10, rebuild=True),
        Param("drift", "bool", False),
        Param("kind", "choice", "gauss", choices=("gauss", "uniform"), rebuild=True),
        Param("lr", "float", 1e-2, 1e-5, 1.0, log=True),
    )
    actions = (Action("jump", "Jump", ("to",)),)

    def _build(self):
        self.x = np.zeros(self.values["n"])
        self.trace = [self.x.copy()]

    def _step(self):
        draw = (self.rng.normal if self.values["kind"] == "gauss" else self.rng.uniform)
        self.x = self.x + self.values["sigma"] * draw(size=self.x.shape) + self.values["drift"]
        self.trace.append(self.x.copy())

    def action_jump(self, to):
        self.x = np.full_like(self.x, float(to))

    def history(self):
        return {"x": np.asarray(self.trace).tolist()}

    def _snapshot(self):
        return Snapshot.make(self.name, self.step_count, {"loss": float(np.abs(self.x).sum())},
                             {"x": self.x, "nested": {"trace": np.asarray(self.trace)}},
                             {"eq": "x"})


@pytest.mark.parametrize("value, expected", [("0.5", 0.5), (2, 2.0), (" 5 ", 5.0), (0, 0.0)])
def test_float_param_coerces(value, expected):
    assert Walk.params[0].coerce(value) == expected


@pytest.mark.parametrize("value", [-0.1, 5.01, "abc", float("nan"), float("inf"), None, True])
def test_float_param_rejects_with_allowed_range(value):
    with pytest.raises(ValueError, match=r"sigma .* must be a number in \[0, 5\]"):
        Walk.params[0].coerce(value)


def test_int_bool_choice_params():
    n, drift, kind = Walk.params[1], Walk.params[2], Walk.params[3]
    assert n.coerce("4") == 4
    with pytest.raises(ValueError, match="an integer"):
        n.coerce(2.5)
    assert drift.coerce("true") is True and drift.coerce("0") is False
    with pytest.raises(ValueError, match="true or false"):
        drift.coerce("maybe")
    with pytest.raises(ValueError, match="one of gauss, uniform"):
        kind.coerce("cauchy")


def test_bad_declaration_fails_at_definition():
    with pytest.raises(ValueError):
        Param("p", "float", 10.0, 0.0, 1.0)
    with pytest.raises(ValueError):
        Param("p", "float", 1.0, 0.0, 1.0, log=True)


def test_set_param_rejects_and_changes_nothing():
    lab = Walk(seed=1)
    lab.step(5)
    before = (dict(lab.values), lab.step_count, lab.x.copy())
    with pytest.raises(ValueError, match="no param 'sigmaa'; its params are: sigma, n"):
        lab.set_param("sigmaa", 1)
    with pytest.raises(ValueError):
        lab.set_param("sigma", 99)
    assert (lab.values, lab.step_count) == before[:2]
    np.testing.assert_array_equal(lab.x, before[2])


def test_rebuild_param_restarts_and_says_so():
    lab = Walk(seed=1)
    lab.step(5)
    lab.set_param("sigma", 2.0)  # live: no restart
    assert lab.step_count == 5 and lab.notice == ""
    lab.set_param("n", 5)
    assert lab.step_count == 0 and lab.x.shape == (5,) and "restarted" in lab.notice


def test_same_seed_same_run_other_seed_differs():
    a, b, c = Walk(seed=7), Walk(seed=7), Walk(seed=8)
    for lab in (a, b, c):
        lab.step(20)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    a.reset()
    a.step(20)
    np.testing.assert_array_equal(a.x, b.x)


def test_reset_rejects_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        Walk(seed=-1)


def test_snapshot_is_frozen_numpy():
    lab = Walk(seed=0)
    lab.step(3)
    snap = lab.snapshot()
    assert snap.step == 3 and snap.scalars["loss"] > 0
    with pytest.raises(ValueError):
        snap.data["x"][0] = 1.0
    with pytest.raises(TypeError):
        snap.data["nested"]["trace"] = None
    assert snap.data["nested"]["trace"].shape == (4, 3)
    lab.step(1)  # the lab moving on does not change a snapshot already taken
    assert snap.data["nested"]["trace"].shape == (4, 3)


def test_actions_declared_and_checked():
    lab = Walk(seed=0)
    lab.do_action("jump", to=3)
    assert np.all(lab.x == 3)
    with pytest.raises(ValueError, match="no action 'fly'"):
        lab.do_action("fly")
    with pytest.raises(ValueError, match="needs arguments to"):
        lab.do_action("jump")


def test_describe_params_is_json_ready():
    import json

    desc = describe_params(Walk)
    assert [d["name"] for d in desc] == ["sigma", "n", "drift", "kind", "lr"]
    assert desc[4]["log"] is True and desc[3]["choices"] == ["gauss", "uniform"]
    json.dumps(desc)


def test_runner_runs_stops_and_reports():
    lab = Walk(seed=0)
    seen = []
    snap = Runner(lab, chunk=10).run(35, on_snapshot=lambda s: seen.append(s.step))
    assert snap.step == 35 and seen == [10, 20, 30, 35]
    calls = iter([False, True])
    snap = Runner(lab, chunk=10).run(100, should_stop=lambda: next(calls))
    assert snap.step == 45
    with pytest.raises(ValueError):
        Runner(lab).run(-1)
