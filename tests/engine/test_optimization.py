"""Optimization lab (book ch. 4): test functions, the race, divergence, presets, actions."""
import math

import numpy as np
import pytest

from engine import backend, testfns
from engine.autodiff import Tensor
from engine.labs.optimization import OFF_BY_DEFAULT, RACERS, OptimizationLab


def only(lab, *keys, **values):
    """Race just ``keys`` (others off), with extra param values, restarted."""
    for key in RACERS:
        lab.values[key] = key in keys
    for k, v in values.items():
        lab.values[k] = lab.validate(k, v)
    lab.reset(lab.seed)
    return lab


# -- test functions ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in testfns.FUNCTIONS if testfns.FUNCTIONS[n].minima])
def test_known_minima_are_stationary_with_zero_gradient(name):
    tf = testfns.get(name)
    for m in tf.minima:
        x = Tensor(np.array(m, dtype=np.float64), requires_grad=True)
        f = tf(x[0]) if tf.dim == 1 else tf(x[0], x[1])
        f.backward()
        assert np.linalg.norm(x.grad.numpy()) < 1e-4, (name, m)
        if name != "quartic":
            assert abs(f.item()) < 1e-9


def test_quartic_stationary_points_book_T4_1():
    pts = testfns.poly_stationary(testfns.QUARTIC_COEFFS)
    xs = [round(x, 6) for x, _, _ in pts]
    assert xs == [-4.808918, -1.635965, 0.444884]
    assert [k for _, k, _ in pts] == ["min", "max", "min"]
    np.testing.assert_allclose([f for _, _, f in pts], [-60.297044, 17.802611, -7.505567],
                               atol=1e-6)


def test_grid_matches_pointwise_and_quadratic_condition():
    tf = testfns.get("quadratic", kappa=100.0)
    xs, ys, z = testfns.grid(tf, 21)
    assert z.shape == (21, 21)
    assert z[3, 7] == pytest.approx(0.5 * (xs[3] ** 2 + 100 * ys[7] ** 2))
    with pytest.raises(ValueError, match="choose one of quadratic"):
        testfns.get("sphere")


# -- the race ---------------------------------------------------------------------------------
def test_gd_on_quadratic_matches_T4_11():
    """f = x^2 + 10 y^2 is our quadratic with kappa = 10 scaled by 2: GD with c = 0.05 on
    f equals GD with c = 0.1 on f/2; from (1, 1): (0.9, 0), (0.81, 0), (0.729, 0)."""
    lab = only(OptimizationLab(seed=0), "gd", function="quadratic", condition=10.0,
               x0=1.0, y0=1.0, gd_lr=0.1)
    lab.step(3)
    path = np.asarray(lab.racers[0].path)
    np.testing.assert_allclose(path[1:], [[0.9, 0.0], [0.81, 0.0], [0.729, 0.0]], atol=1e-12)


def test_newton_uses_engine_hessian_and_lands_on_quadratic_minimum():
    lab = only(OptimizationLab(seed=0), "newton", function="booth", x0=-8.0, y0=-6.0)
    lab.step(1)
    r = lab.racers[0]
    np.testing.assert_allclose(r.path[-1], [1.0, 3.0], atol=1e-10)
    np.testing.assert_allclose(r.opt.state[r.x]["hessian"], [[10.0, 8.0], [8.0, 10.0]],
                               atol=1e-10)
    assert r.status == "converged"


def test_default_race_descends_and_newton_converges_on_rosenbrock():
    lab = OptimizationLab(seed=0)
    assert lab.values["function"] == "rosenbrock"
    assert [r.key for r in lab.racers] == [k for k in RACERS if k not in OFF_BY_DEFAULT]
    lab.step(300)
    s = lab.snapshot()
    for r in lab.racers:
        assert s.scalars[f"f_{r.key}"] < s.scalars["f_start"], r.key
    assert s.data["status"]["newton"] == "converged"
    np.testing.assert_allclose(lab.racers[-1].path[-1], [1.0, 1.0], atol=1e-6)


def test_diverging_racer_is_stopped_and_named_others_go_on():
    lab = only(OptimizationLab(seed=0), "gd", "adam", gd_lr=0.5)
    lab.step(50)
    gd, adam = lab.racers
    assert gd.status == "diverged" and adam.status == "running"
    assert adam.fs[-1] < adam.fs[0]
    (alert,) = lab.snapshot().alerts
    assert f"diverged at step {gd.stopped_at}" in alert and "c = 0.5" in alert
    assert "too large" in alert
    n_gd, n_adam = len(gd.path), len(adam.path)
    lab.step(5)
    assert len(gd.path) == n_gd and len(adam.path) == n_adam + 5


def test_snapshot_curves_are_safe_for_log_axes_after_divergence():
    lab = only(OptimizationLab(seed=0), "gd", "newton", gd_lr=0.5)
    lab.step(40)
    d = lab.snapshot().data
    for key in ("gd", "newton"):
        for name in ("gap", "grad_norm_plot"):
            v = d["racers"][key][name]
            finite = v[np.isfinite(v)]
            assert finite.size and np.all(finite >= 1e-16), (key, name)


def test_saddle_racers_escape_without_divergence_banner_wording():
    lab = OptimizationLab(seed=0)
    lab.set_param("function", "saddle")  # loads the saddle's start and step sizes
    lab = only(lab, "gd", "newton")
    lab.step(200)
    gd, newton = lab.racers
    assert gd.status == "escaped" and "unbounded below" in lab.snapshot().alerts[0]
    # Newton jumps straight to the saddle point: the Hessian is indefinite there.
    np.testing.assert_allclose(newton.path[-1], [0.0, 0.0], atol=1e-12)
    assert not lab.snapshot().data["gap_log"]


def test_quartic_is_one_dimensional_and_step_size_picks_the_minimum():
    lab = only(OptimizationLab(seed=0), "gd", function="quartic", x0=2.0, gd_lr=0.02)
    lab.step(400)
    assert lab.racers[0].path[-1] == pytest.approx([0.444884], abs=1e-5)  # local (book T4.2)
    lab = only(OptimizationLab(seed=0), "gd", function="quartic", x0=-2.0, gd_lr=0.02)
    lab.step(400)
    assert lab.racers[0].path[-1] == pytest.approx([-4.808918], abs=1e-5)  # global
    assert lab.snapshot().data["dim"] == 1


def test_function_change_loads_presets_and_restarts():
    lab = OptimizationLab(seed=0)
    lab.step(10)
    lab.set_param("function", "himmelblau")
    tf = testfns.get("himmelblau")
    assert (lab.values["x0"], lab.values["y0"]) == tf.start
    assert lab.values["adam_lr"] == tf.lrs["adam"] and lab.values["sgd_noise"] == tf.lrs["noise"]
    assert lab.step_count == 0 and "restarted" in lab.notice


def test_live_hyperparameter_change_reaches_optimizer_without_restart():
    lab = OptimizationLab(seed=0)
    lab.step(5)
    lab.set_param("adam_lr", 0.01)
    lab.set_param("adam_beta1", 0.5)
    adam = next(r for r in lab.racers if r.key == "adam")
    assert adam.opt.param_groups[0]["lr"] == 0.01
    assert adam.opt.param_groups[0]["betas"][0] == 0.5
    assert lab.step_count == 5


def test_set_start_action_validates_and_restarts():
    lab = OptimizationLab(seed=0)
    lab.step(5)
    lab.do_action("set_start", x=0.5, y=-0.25)
    assert lab.step_count == 0 and np.all(lab.racers[0].path[0] == [0.5, -0.25])
    with pytest.raises(ValueError, match="x0"):
        lab.do_action("set_start", x=float("nan"), y=0.0)
    with pytest.raises(ValueError, match="x0"):
        lab.do_action("set_start", x=99.0, y=0.0)
    assert np.all(lab.start == [0.5, -0.25])


def test_sgd_noise_is_seeded():
    a = only(OptimizationLab(seed=3), "sgd")
    b = only(OptimizationLab(seed=3), "sgd")
    c = only(OptimizationLab(seed=4), "sgd")
    for lab in (a, b, c):
        lab.step(20)
    np.testing.assert_array_equal(a.racers[0].path[-1], b.racers[0].path[-1])
    assert not np.array_equal(a.racers[0].path[-1], c.racers[0].path[-1])


def test_race_stops_when_every_racer_stops():
    lab = only(OptimizationLab(seed=0), "newton", function="booth")
    lab.step(100)
    assert lab.finished and lab.step_count == 1


def test_rules_show_live_numbers():
    lab = OptimizationLab(seed=0)
    lab.step(2)
    rules = lab.snapshot().text["rules"]
    adam = next(r for r in lab.racers if r.key == "adam")
    m = adam.opt.state[adam.x]["exp_avg"]
    assert f"{m[0]:.4g}" in rules and "Newton" in rules and "H = " in rules


def test_backend_switch_keeps_points_and_optimizer_state():
    lab = OptimizationLab(seed=0)
    lab.step(20)
    before = {r.key: (r.x.numpy().copy(), {k: np.array(v) for k, v in
                                            r.opt.state_dict()["state"].get(0, {}).items()
                                            if isinstance(v, np.ndarray)}) for r in lab.racers}
    lab.to_backend("numpy")
    for r in lab.racers:
        np.testing.assert_array_equal(r.x.numpy(), before[r.key][0])
        for k, v in before[r.key][1].items():
            np.testing.assert_array_equal(np.asarray(r.opt.state_dict()["state"][0][k]), v)
    lab.step(1)
    assert lab.step_count == 21
    ok, reason = backend.cupy_available()
    if not ok:
        with pytest.raises(ValueError, match="CuPy backend is unavailable"):
            lab.to_backend("cupy")
        assert lab.backend_name == "numpy"


@pytest.mark.cupy
def test_race_on_cupy_matches_numpy():
    ok, reason = backend.cupy_available()
    if not ok:
        pytest.skip(reason)
    a = OptimizationLab(seed=0, backend_name="numpy")
    b = OptimizationLab(seed=0, backend_name="numpy")
    a.step(10)
    b.step(10)
    b.to_backend("cupy")
    assert backend.is_cupy(b.racers[0].x.data)
    a.step(30)
    b.step(30)
    for ra, rb in zip(a.racers, b.racers):
        np.testing.assert_allclose(ra.path[-1], rb.path[-1], rtol=1e-9, atol=1e-12)


def test_history_is_plain_and_complete():
    lab = only(OptimizationLab(seed=0), "gd", "adam")
    lab.step(7)
    h = lab.history()
    assert set(h) == {"gd", "adam"}
    assert len(h["gd"]["x"]) == 8 and len(h["gd"]["f"]) == 8 and not math.isnan(h["gd"]["f"][0])


def test_bfgs_finds_beales_minimum_where_newton_stalls():
    lab = OptimizationLab(seed=0)
    lab.set_param("function", "beale")
    lab = only(lab, "newton", "bfgs", "adaptive")
    lab.step(300)
    newton, bfgs, adaptive = (next(r for r in lab.racers if r.key == k)
                              for k in ("newton", "bfgs", "adaptive"))
    np.testing.assert_allclose(bfgs.path[-1], [3.0, 0.5], atol=1e-6)
    assert newton.fs[-1] > 1.0  # Newton is drawn to a stationary point that is no minimum
    assert all(b <= a for a, b in zip(adaptive.fs, adaptive.fs[1:]))  # never uphill
    rules = lab.snapshot().text["rules"]
    assert "Adaptive-step GD" in rules and "BFGS" in rules and "Q = [" in rules
