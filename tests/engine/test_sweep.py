"""Parameter sweeps: the plan checks every value with the lab's own rules, runs are the same
as single runs, and the summary gives the mean and spread over seeds."""
import math

import numpy as np
import pytest

from engine import sweep
from tests.engine.test_lab_base import Walk


def test_values_split_on_commas_or_semicolons():
    assert sweep.parse_values("0.01, 0.1") == ["0.01", "0.1"]
    assert sweep.parse_values("8;16,16;32,32") == ["8", "16,16", "32,32"]
    with pytest.raises(ValueError, match="empty value"):
        sweep.parse_values("0.1,,0.2")


def test_plan_is_the_grid_times_the_seeds_with_coerced_values():
    runs = sweep.plan(Walk, {"sigma": ["0.5", "1"], "kind": ["gauss", "uniform"]}, [0, 7])
    assert len(runs) == 8
    assert runs[0] == {"seed": 0, "params": {"sigma": 0.5, "kind": "gauss"}}
    assert {r["seed"] for r in runs} == {0, 7}
    assert sweep.plan(Walk, {}, [3]) == [{"seed": 3, "params": {}}]


@pytest.mark.parametrize("vary, seeds, match", [
    ({"nope": ["1"]}, [0], "no param 'nope'"),
    ({"sigma": ["99"]}, [0], "sigma"),
    ({"sigma": ["1"]}, [-1], "seeds"),
    ({"sigma": ["1"]}, [], "nothing to run"),
    ({"sigma": [str(v / 1000) for v in range(1001)]}, [0], "at most 1000"),
])
def test_bad_plans_are_refused_with_a_reason(vary, seeds, match):
    with pytest.raises(ValueError, match=match):
        sweep.plan(Walk, vary, seeds)


def test_runs_match_single_runs_and_the_summary_groups_seeds():
    runs = sweep.plan(Walk, {"sigma": ["0.5", "2"]}, [1, 2, 3])
    seen = []
    rows = sweep.run_sweep(Walk, runs, 20, fixed={"n": 4}, on_row=lambda i, r: seen.append(i))
    assert seen == list(range(6)) and all(r["step"] == 20 for r in rows)
    ref = Walk(seed=2, sigma=2.0, n=4)
    ref.step(20)
    row = next(r for r in rows if r["seed"] == 2 and r["params"]["sigma"] == 2.0)
    assert row["scalars"]["loss"] == ref.snapshot().scalars["loss"]
    summary = sweep.summarise(rows, ["loss"])
    assert [e["params"] for e in summary] == [{"sigma": 0.5}, {"sigma": 2.0}]
    losses = [r["scalars"]["loss"] for r in rows if r["params"]["sigma"] == 2.0]
    assert summary[1]["loss"] == pytest.approx((np.mean(losses), np.std(losses)))
    assert summary[1]["runs"] == 3 and summary[1]["elapsed_s"][0] > 0


def test_a_missing_or_diverged_metric_shows_as_nan():
    rows = [{"params": {"a": 1}, "scalars": {"loss": 1.0}, "elapsed_s": 0.1},
            {"params": {"a": 1}, "scalars": {"loss": math.inf}, "elapsed_s": 0.1}]
    (entry,) = sweep.summarise(rows, ["loss", "accuracy"])
    assert math.isnan(entry["loss"][0]) and math.isnan(entry["accuracy"][0])


def test_a_refused_combination_is_a_row_with_its_reason_and_the_rest_run():
    from engine.labs.recurrent import RecurrentLab  # noqa: PLC0415
    runs = sweep.plan(RecurrentLab, {"delay": ["2", "9"]}, [0])
    rows = sweep.run_sweep(RecurrentLab, runs, 2, fixed={"length": "8", "hidden": "4"})
    assert "error" not in rows[0] and rows[0]["step"] == 2
    assert "smaller than the sequence length" in rows[1]["error"] and rows[1]["scalars"] == {}
    (ok, bad) = sweep.summarise(rows, ["loss"])
    assert math.isfinite(ok["loss"][0]) and math.isnan(bad["loss"][0])
