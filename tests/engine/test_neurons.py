"""Neurons (book ch. 7.2, 7.4, 7.5): MP neuron, perceptron, activations, losses, divergences,
and the two labs built on them.  Vectors from shared/spec/ch07-08 (derived by the spec)."""
import math

import numpy as np
import pytest

from engine import neurons_math as nm
from engine.labs.neurons import ActivationsLab, PerceptronLab

X5 = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])


# -- 7.2 MP neuron ------------------------------------------------------------------------------
def test_mp_neuron_gates_and_majority():
    X, _ = nm.logic_gate("and")
    assert nm.mp_neuron(X, 2).tolist() == [0, 0, 0, 1]
    assert nm.mp_neuron(X, 1).tolist() == [0, 1, 1, 1]
    X3, t3 = nm.logic_gate("maj3")
    assert nm.mp_neuron(X3, 2).tolist() == [0, 0, 0, 1, 0, 1, 1, 1] == t3.tolist()


def test_mp_threshold_interval_and_impossible_gates():
    assert nm.mp_threshold_interval(*nm.logic_gate("and")) == (1.0, 2.0)
    assert nm.mp_threshold_interval(*nm.logic_gate("or")) == (0.0, 1.0)
    for gate in ("xor", "nand", "xnor"):
        assert nm.mp_threshold_interval(*nm.logic_gate(gate)) is None
    # No threshold at all reproduces XOR (E2): try a dense sweep too.
    X, t = nm.logic_gate("xor")
    assert not any(np.array_equal(nm.mp_neuron(X, b), t) for b in np.linspace(-1, 3, 81))


# -- 7.2 perceptron -----------------------------------------------------------------------------
@pytest.mark.parametrize("gate, w, epoch", [("and", [-3, 2, 1], 6), ("or", [-1, 1, 1], 4),
                                            ("nand", [2, -2, -1], 6)])
def test_perceptron_learns_separable_gates(gate, w, epoch):
    X, t = nm.logic_gate(gate)
    r = nm.perceptron_fit(X, t, lr=1.0)
    assert r.converged and r.epochs == epoch and r.cycle is None
    np.testing.assert_array_equal(r.w, w)
    np.testing.assert_array_equal(nm.perceptron_predict(r.w, X), t)
    assert r.trace.mistakes[-1] == 0 and len(r.trace.mistakes) == epoch
    assert r.trace.w.shape == (4 * epoch + 1, 3)


def test_perceptron_xor_never_converges_and_cycles():
    X, t = nm.logic_gate("xor")
    r = nm.perceptron_fit(X, t, lr=1.0, epochs=100)
    assert not r.converged and r.epochs == 100
    np.testing.assert_array_equal(r.w, [0, -1, 0])
    assert nm.perceptron_predict(r.w, X).tolist() == [1, 1, 0, 0]
    assert r.cycle is not None and r.trace.mistakes.min() > 0


def test_perceptron_half_rate_scales_weights_and_float_trap():
    X, t = nm.logic_gate("and")
    np.testing.assert_allclose(nm.perceptron_fit(X, t, lr=0.5).w, [-1.5, 1.0, 0.5])
    # eta = 0.1: float sums miss the tie s = 0, and training stops early at another w...
    trap = nm.perceptron_fit(X, t, lr=0.1)
    np.testing.assert_allclose(trap.w, [-0.2, 0.2, 0.1])
    assert trap.epochs == 4
    # ...while a tie tolerance restores exact arithmetic: 0.1 times the eta = 1 run.
    exact = nm.perceptron_fit(X, t, lr=0.1, tie_tol=1e-9)
    np.testing.assert_allclose(exact.w, [-0.3, 0.2, 0.1], atol=1e-12)
    assert exact.epochs == 6


def test_perceptron_fit_rejects_bad_input():
    X, t = nm.logic_gate("and")
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        nm.perceptron_fit(X, t, lr=0.0)
    with pytest.raises(ValueError, match="each 0 or 1"):
        nm.perceptron_fit(X, t + 1)
    with pytest.raises(ValueError, match="shape"):
        nm.perceptron_predict([1.0, 2.0], X)


def test_line_in_box():
    seg = nm.line_in_box([-1.5, 1, 1], [[-0.5, 1.5], [-0.5, 1.5]])
    assert sorted(map(tuple, seg.round(9))) == [(0.0, 1.5), (1.5, 0.0)]
    assert nm.line_in_box([1, 0, 0], [[0, 1], [0, 1]]).shape == (0, 2)
    assert nm.line_in_box([-5, 1, 0], [[0, 1], [0, 1]]).shape == (0, 2)  # misses the box


# -- 7.4 activations ----------------------------------------------------------------------------
ACT_VECTORS = {
    "sigmoid": ({}, [0.119203, 0.377541, 0.5, 0.622459, 0.880797],
                [0.104994, 0.235004, 0.25, 0.235004, 0.104994]),
    "tanh": ({}, [-0.964028, -0.462117, 0, 0.462117, 0.964028],
             [0.070651, 0.786448, 1, 0.786448, 0.070651]),
    "relu": ({}, [0, 0, 0, 0.5, 2], [0, 0, 1, 1, 1]),
    "leaky_relu": ({}, [-0.02, -0.005, 0, 0.5, 2], [0.01, 0.01, 1, 1, 1]),
    "prelu": ({"alpha": 0.25}, [-0.5, -0.125, 0, 0.5, 2], [0.25, 0.25, 1, 1, 1]),
    "elu": ({"alpha": 1.0}, [-0.864665, -0.393469, 0, 0.5, 2],
            [0.135335, 0.606531, 1, 1, 1]),
}


@pytest.mark.parametrize("name", list(ACT_VECTORS))
def test_activation_values_and_derivatives(name):
    p, f, df = ACT_VECTORS[name]
    act = nm.get_activation(name, **p)
    np.testing.assert_allclose(act.f(X5), f, atol=1e-6)
    np.testing.assert_allclose(act.df(X5), df, atol=1e-6)  # ReLU family: f'(0) = 1


@pytest.mark.parametrize("name", list(ACT_VECTORS))
def test_autodiff_matches_analytic_derivative(name):
    p = ACT_VECTORS[name][0]
    x = np.linspace(-4, 4, 400)  # even count: no grid point sits on the kink at 0
    act = nm.get_activation(name, **p)
    df, dparam = nm.autodiff_derivative(name, x, **p)
    np.testing.assert_allclose(df, act.df(x), atol=1e-12)
    if act.dparam is not None:
        np.testing.assert_allclose(dparam, act.dparam(x), atol=1e-12)
    h = 1e-6
    away = np.abs(x) > 1e-3
    fd = (act.f(x + h) - act.f(x - h)) / (2 * h)
    np.testing.assert_allclose(fd[away], act.df(x)[away], atol=1e-7)


def test_activation_is_stable_and_validates():
    x = np.array([-1000.0, 1000.0])
    with np.errstate(over="raise", invalid="raise"):  # exp never overflows
        np.testing.assert_allclose(nm.sigmoid(x), [0, 1])
        np.testing.assert_allclose(nm.get_activation("elu").f(x), [-1, 1000])
        np.testing.assert_allclose(nm.softmax([1000.0, 0.0]), [1, 0])
    with pytest.raises(ValueError, match="choose one of"):
        nm.get_activation("swish")
    with pytest.raises(ValueError, match="no parameters"):
        nm.get_activation("tanh", alpha=1)
    with pytest.raises(ValueError, match=">= 0"):
        nm.get_activation("elu", alpha=-1)


def test_softmax_and_jacobian_vectors():
    s = nm.softmax([1.0, 2.0, 3.0])
    np.testing.assert_allclose(s, [0.090031, 0.244728, 0.665241], atol=1e-6)
    J = nm.softmax_jacobian(s)
    np.testing.assert_allclose(np.diag(J), [0.081925, 0.184836, 0.222695], atol=1e-6)
    np.testing.assert_allclose([J[0, 1], J[0, 2], J[1, 2]], [-0.022033, -0.059892, -0.162803],
                               atol=1e-6)
    np.testing.assert_allclose(J.sum(axis=1), 0, atol=1e-15)
    np.testing.assert_allclose(J, J.T)
    np.testing.assert_allclose(nm.autodiff_softmax_jacobian([1.0, 2.0, 3.0]), J, atol=1e-12)
    g = np.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(nm.softmax_vjp(s, g), g @ J, atol=1e-12)


def test_softmax_temperature():
    z = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(nm.softmax(z, T=2.0), nm.softmax(z / 2.0))
    np.testing.assert_allclose(nm.softmax(z, T=1e-3), [0, 0, 1], atol=1e-12)
    J = nm.softmax_jacobian(nm.softmax(z, T=0.5), T=0.5)
    np.testing.assert_allclose(nm.autodiff_softmax_jacobian(z, T=0.5), J, atol=1e-12)
    with pytest.raises(ValueError, match="> 0"):
        nm.softmax(z, T=0)


def test_saturation_intervals():
    x = np.linspace(-10, 10, 2001)
    bands = nm.saturation_intervals(x, nm.get_activation("sigmoid").df(x))
    # sigma'(x) < 0.05 * 0.25 beyond |x| ~ 4.37 (E6: sigma saturates near |x| 5, not 2)
    np.testing.assert_allclose(np.abs(bands), [[10, 4.38], [4.38, 10]], atol=0.02)
    relu = nm.saturation_intervals(x, nm.get_activation("relu").df(x))
    assert relu.shape == (1, 2) and relu[0, 0] == -10 and relu[0, 1] < 0


# -- 7.5 losses ---------------------------------------------------------------------------------
Y, YHAT = [1, 2, 3, 4], [1.5, 2, 2, 7]


def test_regression_losses():
    assert nm.mae(YHAT, Y) == pytest.approx(1.125)
    assert nm.mse(YHAT, Y) == pytest.approx(2.5625)
    assert nm.rmse(YHAT, Y) == pytest.approx(1.600781, abs=1e-6)
    np.testing.assert_allclose(nm.huber(YHAT, Y, 1.0, reduction="none"), [0.125, 0, 0.5, 2.5])
    assert nm.huber(YHAT, Y, 1.0) == pytest.approx(0.78125)
    assert nm.huber(YHAT, Y, 0.1) == pytest.approx(0.10875)
    assert nm.huber(YHAT, Y, 100.0) == pytest.approx(1.28125)  # = MSE / 2
    with pytest.raises(ValueError, match="shape"):
        nm.mae([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="reduction"):
        nm.mse(YHAT, Y, reduction="avg")


def test_classification_losses():
    p, y = [0.9, 0.2, 0.6, 0.4], [1, 0, 1, 0]
    np.testing.assert_allclose(nm.bce(p, y, reduction="none"),
                               [0.105361, 0.223144, 0.510826, 0.510826], atol=1e-6)
    assert nm.bce(p, y, reduction="sum") == pytest.approx(1.350155, abs=1e-6)
    assert nm.bce(p, y) == pytest.approx(0.337539, abs=1e-6)
    assert math.isfinite(nm.bce([0.0], [1.0]))  # clipped, not inf
    P, Yc = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], [[1, 0, 0], [0, 0, 1]]
    np.testing.assert_allclose(nm.cce(P, Yc, reduction="none"), [0.356675, 0.510826],
                               atol=1e-6)
    assert nm.cce(P, Yc) == pytest.approx(0.433750, abs=1e-6)
    Z = np.log(np.asarray(P))
    val, grad = nm.softmax_cce_with_logits(Z, Yc)
    assert val == pytest.approx(0.433750, abs=1e-6)
    np.testing.assert_allclose(grad, (np.asarray(P) - Yc) / 2)


def test_divergences():
    assert nm.kl_div([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.510826, abs=1e-6)
    assert nm.kl_div([0.9, 0.1], [0.5, 0.5]) == pytest.approx(0.368064, abs=1e-6)
    assert nm.js_div([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.101749, abs=1e-6)
    assert nm.js_div([0.9, 0.1], [0.5, 0.5]) == pytest.approx(0.101749, abs=1e-6)
    with np.errstate(divide="raise", invalid="raise"):  # inf comes clean, no warnings
        assert nm.kl_div([1.0, 0.0], [0.0, 1.0]) == math.inf
        assert nm.js_div([1.0, 0.0], [0.0, 1.0]) == pytest.approx(math.log(2))
        assert nm.kl_div([0.0, 1.0], [0.5, 0.5]) == pytest.approx(math.log(2))  # 0 log 0 = 0


@pytest.mark.parametrize("name", ["mae", "mse", "rmse", "huber"])
def test_loss_gradients_match_autodiff_and_finite_differences(name):
    rng = np.random.default_rng(0)
    yhat = rng.normal(size=(5, 4))
    y = rng.normal(size=(5, 4))
    g = nm.loss_grad(name, yhat, y, eps=0.7)
    np.testing.assert_allclose(nm.autodiff_loss_grad(name, yhat, y, eps=0.7), g, atol=1e-12)

    def row_loss(a):
        if name == "rmse":
            return nm.rmse(a, y, axis=1)
        if name == "huber":
            return nm.huber(a, y, 0.7, reduction="none").mean(axis=1)
        return getattr(nm, name)(a, y, reduction="none").mean(axis=1)

    h = 1e-6
    for j in range(4):
        e = np.zeros_like(yhat)
        e[:, j] = h
        np.testing.assert_allclose((row_loss(yhat + e) - row_loss(yhat - e)) / (2 * h), g[:, j],
                                   atol=1e-7)


def test_bce_gradient_and_gaussian_divergences():
    p, y = np.array([[0.9, 0.2, 0.6, 0.4]]), np.array([[1.0, 0, 1, 0]])
    np.testing.assert_allclose(nm.autodiff_loss_grad("bce", p, y), nm.loss_grad("bce", p, y),
                               atol=1e-12)
    x = np.linspace(-15, 15, 3001)
    d = nm.gaussian_divergences(x, 0.0, 1.0, 1.0, 2.0)
    assert d["KL_pq"] == pytest.approx(nm.gaussian_kl(0, 1, 1, 2), abs=1e-8)
    assert d["KL_qp"] == pytest.approx(nm.gaussian_kl(1, 2, 0, 1), abs=1e-8)
    assert 0 < d["JS"] < math.log(2)
    far = nm.gaussian_divergences(np.linspace(-10, 40, 5001), 0.0, 1.0, 30.0, 1.0)
    assert far["JS"] == pytest.approx(math.log(2), abs=1e-6)  # the ceiling, KL = 450
    assert far["KL_pq"] == pytest.approx(450.0, rel=1e-6)
    mu = np.array([-1.0, 0.5, 2.0])
    val, dval = nm.divergence_vs_shift(x, 0.0, 1.0, mu, 2.0, "kl")
    np.testing.assert_allclose(val, nm.gaussian_kl(0.0, 1.0, mu, 2.0), atol=1e-8)
    np.testing.assert_allclose(dval, mu / 4.0, atol=1e-8)
    _, djs = nm.divergence_vs_shift(x, 0.0, 1.0, mu, 1.0, "js")
    h = 1e-5
    up, _ = nm.divergence_vs_shift(x, 0.0, 1.0, mu + h, 1.0, "js")
    dn, _ = nm.divergence_vs_shift(x, 0.0, 1.0, mu - h, 1.0, "js")
    np.testing.assert_allclose(djs, (up - dn) / (2 * h), atol=1e-6)


def test_softmax_slice_derivatives():
    sl = nm.softmax_slice(np.linspace(-3, 3, 7), [2.0, 3.0], T=0.7)
    np.testing.assert_allclose(sl["ds1_auto"], sl["ds1"], atol=1e-12)
    np.testing.assert_allclose(sl["dce_auto"], sl["dce"], atol=1e-12)
    np.testing.assert_allclose(sl["ce"], -np.log(sl["s1"]), atol=1e-12)


@pytest.mark.torch
def test_torch_parity_activations_and_losses():
    torch = pytest.importorskip("torch")
    x = torch.tensor(np.linspace(-3, 3, 50), dtype=torch.float64)
    pairs = {"sigmoid": torch.sigmoid, "tanh": torch.tanh,
             "elu": lambda t: torch.nn.functional.elu(t, 1.0),
             "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.01)}
    for name, fn in pairs.items():
        np.testing.assert_allclose(nm.get_activation(name).f(x.numpy()), fn(x).numpy(),
                                   atol=1e-12)
    a, b = torch.tensor(YHAT, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    assert nm.huber(YHAT, Y, 0.1) == pytest.approx(
        float(torch.nn.functional.huber_loss(a, b, delta=0.1)))
    p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.9, 0.1])
    assert nm.kl_div(p.numpy(), q.numpy()) == pytest.approx(
        float(torch.nn.functional.kl_div(q.log(), p, reduction="sum")), abs=1e-6)


# -- the perceptron lab -------------------------------------------------------------------------
def test_perceptron_lab_steps_one_sample_and_matches_fit():
    lab = PerceptronLab(seed=0)
    lab.step(1)
    snap = lab.snapshot()
    assert snap.data["visited"] == 0 and snap.data["corrected"]  # (0,0): s = 0 -> 1, t = 0
    np.testing.assert_array_equal(snap.data["w"], [-1, 0, 0])
    lab.step(100)
    assert lab.finished and lab.step_count == 24
    snap = lab.snapshot()
    np.testing.assert_array_equal(snap.data["w"], [-3, 2, 1])
    assert snap.data["state"] == "converged" and "epoch 6" in snap.text["status"]
    assert snap.data["mistakes"].tolist() == [2, 3, 3, 2, 1, 0]
    assert snap.data["correct"].all() and snap.scalars["loss"] == 0
    assert len(snap.data["line"]) == 2 and len(snap.data["arrow"]) == 6


def test_perceptron_lab_xor_cycles():
    lab = PerceptronLab(seed=0, gate="xor")
    lab.step(1000)
    assert lab.finished and lab.step_count == 400  # max_epochs = 100
    snap = lab.snapshot()
    assert snap.data["state"] == "cycling"
    assert "no separating line" in snap.text["status"] and "XOR" in snap.text["status"]
    np.testing.assert_array_equal(snap.data["w"], [0, -1, 0])


def test_perceptron_lab_small_rate_uses_tie_tolerance():
    lab = PerceptronLab(seed=0, lr=0.1)
    lab.step(1000)
    np.testing.assert_allclose(lab.w, [-0.3, 0.2, 0.1], atol=1e-12)
    assert lab.converged_epoch == 6


def test_perceptron_lab_mp_mode():
    lab = PerceptronLab(seed=0, mode="mp_neuron", gate="and")
    assert lab.finished  # nothing to learn
    snap = lab.snapshot()
    assert snap.data["predictions"].tolist() == [0, 0, 0, 1] and snap.data["state"] == "ok"
    assert snap.data["b_right"].max() == 4
    lab.set_param("b", 0.5)
    assert lab.snapshot().data["state"] == "wrong"
    lab.set_param("gate", "xor")
    snap = lab.snapshot()
    assert snap.data["state"] == "impossible" and snap.data["b_right"].max() == 3


def test_perceptron_lab_blobs_converge():
    lab = PerceptronLab(seed=0, gate="blobs")
    lab.step(2000)
    assert lab.snapshot().data["state"] == "converged"
    assert lab.snapshot().data["correct"].all()


def test_perceptron_lab_custom_points():
    lab = PerceptronLab(seed=0, gate="custom")
    assert lab.finished and lab.snapshot().data["state"] == "empty"
    lab.do_action("add_point", x=1.0, y=1.0)          # class from click_class (default 1)
    lab.set_param("click_class", "0")
    lab.do_action("add_point", x=-1.0, y=-1.5)
    lab.do_action("add_point", x=-1.4, y=0.5, cls=0)
    snap = lab.snapshot()
    assert snap.data["labels"].tolist() == [1, 0, 0]
    lab.step(200)
    assert lab.snapshot().data["state"] == "converged"
    lab.reset(0)  # clicked points survive a reset
    assert len(lab.snapshot().data["points"]) == 3
    with pytest.raises(ValueError, match="outside"):
        lab.do_action("add_point", x=10.0, y=0.0)
    lab.do_action("clear_points")
    assert len(lab.snapshot().data["points"]) == 0
    lab.set_param("gate", "and")
    with pytest.raises(ValueError, match="custom"):
        lab.do_action("add_point", x=0.0, y=0.0)


@pytest.mark.parametrize("name, value", [("lr", 0.0), ("lr", 1.5), ("gate", "maj"),
                                         ("mode", "adaline"), ("b", 9), ("max_epochs", 0),
                                         ("click_class", "2")])
def test_perceptron_lab_rejects_bad_params_and_changes_nothing(name, value):
    lab = PerceptronLab(seed=0)
    lab.step(5)
    before = (dict(lab.values), lab.w.copy(), lab.step_count)
    with pytest.raises(ValueError, match="not allowed"):
        lab.set_param(name, value)
    assert lab.values == before[0] and lab.step_count == before[2]
    np.testing.assert_array_equal(lab.w, before[1])


# -- the activations lab ------------------------------------------------------------------------
def test_activations_lab_snapshot():
    lab = ActivationsLab(seed=0)
    lab.step(3)
    snap = lab.snapshot()
    a = snap.data["act"]
    np.testing.assert_allclose(a["f"], nm.sigmoid(a["x"]))
    assert a["err_auto"] < 1e-12 and a["err_fd"] < 1e-7
    assert len(a["bands"]) == 2  # both tails of the sigmoid
    s = snap.data["softmax"]
    np.testing.assert_allclose(s["s"], [0.090031, 0.244728, 0.665241], atol=1e-6)
    assert s["err"] < 1e-12
    lo = snap.data["loss"]
    assert lo["name"] == "huber" and lo["err"] < 1e-12
    assert lo["example"]["mae"] == pytest.approx(1.125)
    assert lo["example"]["rmse"] == pytest.approx(1.600781, abs=1e-6)
    d = snap.data["div"]
    assert d["KL_pq"] == pytest.approx(2.0, abs=1e-6) and d["JS"] < math.log(2)
    # The curves are shared, read-only arrays: a step that changes nothing copies nothing.
    lab.step(1)
    assert lab.snapshot().data["act"]["f"] is a["f"]
    assert snap.data["probe_act"]["x"] != lab.snapshot().data["probe_act"]["x"]


@pytest.mark.parametrize("act", nm.ACTIVATIONS)
@pytest.mark.parametrize("loss", nm.LOSSES)
def test_activations_lab_every_choice_agrees_with_its_check(act, loss):
    lab = ActivationsLab(seed=0, activation=act, loss=loss, K=4, T=0.7)
    snap = lab.snapshot()
    assert snap.data["act"]["err_auto"] < 1e-9
    tol = 2e-3 if loss == "js" else 1e-9  # JS is checked by finite differences
    assert snap.data["loss"]["err"] < tol
    if loss == "js":
        assert snap.data["loss"]["ceiling"] == pytest.approx(math.log(2))


def test_activations_lab_alpha_follows_activation_and_validates():
    lab = ActivationsLab(seed=0)
    lab.set_param("activation", "elu")
    assert lab.values["alpha"] == 1.0
    lab.set_param("activation", "leaky_relu")
    assert lab.values["alpha"] == 0.01
    lab.set_param("alpha", 0.3)
    np.testing.assert_allclose(lab.snapshot().data["act"]["f"][0], -0.3 * 6.0)
    before = dict(lab.values)
    for name, value in (("T", 0.0), ("K", 7), ("loss", "hinge"), ("eps", -1), ("alpha", 3)):
        with pytest.raises(ValueError, match="not allowed"):
            lab.set_param(name, value)
    assert lab.values == before


def test_activations_lab_probe_sweeps_back_and_forth():
    lab = ActivationsLab(seed=0)
    xs = []
    for _ in range(2 * lab.SWEEP + 1):
        xs.append(lab.snapshot().data["probe_act"]["x"])
        lab.step(1)
    assert xs[0] == -6.0 and xs[lab.SWEEP] == 6.0 and xs[-1] == -6.0
    assert not lab.finished
