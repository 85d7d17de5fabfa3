"""Linear models (book ch. 6): test vectors T6.1-T6.5, gradients, fits, and the three labs."""
import json
import math

import numpy as np
import pytest

from engine import linear_models as lm
from engine.autodiff import Tensor
from engine.labs.linear_models import LinearRegressionLab, LogisticLab, PolynomialLab
from engine.nn import functional as F

X41 = np.array([1.0, 2.0, 3.0, 4.0])
Y41 = np.array([2.0, 3.0, 5.0, 4.0])


# -- 6.1 linear regression: T6.1 ----------------------------------------------------------------
def test_T6_1_closed_form_loss_and_gradient():
    w, b = lm.linreg_fit(X41, Y41)
    assert w.shape == (1,)
    assert w[0] == pytest.approx(0.8, abs=1e-12) and b == pytest.approx(1.5, abs=1e-12)
    assert lm.linreg_loss(w, b, X41, Y41) == pytest.approx(0.225, abs=1e-12)
    assert lm.linreg_loss([0.0], 0.0, X41, Y41) == pytest.approx(6.75)
    gw, gb = lm.linreg_grad(np.zeros(1), 0.0, X41, Y41)
    np.testing.assert_allclose([gw[0], gb], [-9.75, -3.5])


def test_T6_1_gradient_descent_converges_to_closed_form():
    w, b = np.zeros(1), 0.0
    for _ in range(6000):
        gw, gb = lm.linreg_grad(w, b, X41, Y41)
        w, b = w - 0.05 * gw, b - 0.05 * gb
    np.testing.assert_allclose([w[0], b], [0.8, 1.5], atol=1e-8)


def test_normal_equations_T4_20_and_multifeature_fit():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.01 * rng.normal(size=30)
    w, b = lm.linreg_fit(X, y)
    A = np.c_[X, np.ones(30)]
    np.testing.assert_allclose(np.r_[w, b], np.linalg.solve(A.T @ A, A.T @ y), atol=1e-10)
    gw, gb = lm.linreg_grad(w, b, X, y)
    assert np.abs(gw).max() < 1e-12 and abs(gb) < 1e-12


def test_singular_fit_returns_minimum_norm_and_reports_rank():
    x = np.full(5, 2.0)  # every x equal: any line through (2, mean y) is optimal
    y = np.array([1.0, 2.0, 3.0, 2.0, 2.0])
    w, b = lm.linreg_fit(x, y)
    # minimum-norm among w*2 + b = 2: (w, b) = (0.8, 0.4)
    np.testing.assert_allclose([w[0], b], [0.8, 0.4], atol=1e-12)
    _, rank = lm.fit_lstsq(np.c_[x, np.ones(5)], y, return_rank=True)
    assert rank == 1


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="shape"):
        lm.linreg_fit(np.ones((3, 2, 1)), np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        lm.linreg_loss([0.0], 0.0, X41, np.ones(3))
    with pytest.raises(ValueError, match="inf or NaN"):
        lm.linreg_fit(np.array([1.0, np.nan]), np.ones(2))
    with pytest.raises(ValueError, match="ridge"):
        lm.fit_lstsq(np.ones((3, 1)), np.ones(3), ridge=-1.0)
    with pytest.raises(ValueError, match="empty"):
        lm.linreg_fit(np.zeros((0, 1)), np.zeros(0))


def test_loss_grid_matches_pointwise_loss():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 25)
    y = 0.7 * x - 0.2 + 0.1 * rng.normal(size=25)
    W, B = np.meshgrid(np.linspace(-3, 3, 7), np.linspace(-2, 2, 5))
    L = lm.linreg_loss_grid(W, B, x, y)
    assert L.shape == (5, 7)
    direct = [lm.linreg_loss([w], b, x, y) for w, b in zip(W.ravel(), B.ravel())]
    np.testing.assert_allclose(L.ravel(), direct, rtol=1e-12)


# -- 6.2 polynomial regression: T6.2, T6.5 ------------------------------------------------------
@pytest.mark.parametrize("degree", range(7))
def test_T6_2_number_of_terms_two_inputs(degree):
    X = np.random.default_rng(0).normal(size=(4, 2))
    assert lm.poly_features(X, degree).shape == (4, (degree + 1) * (degree + 2) // 2)
    assert lm.n_poly_terms(2, degree) == (degree + 1) * (degree + 2) // 2
    assert lm.n_poly_terms(2, 3) == 10


def test_poly_features_book_order():
    X = np.array([[2.0, 3.0]])
    got = lm.poly_features(X, 3)[0]
    x1, x2 = 2.0, 3.0
    want = [1, x1, x2, x1**2, x1 * x2, x2**2, x1**3, x1**2 * x2, x1 * x2**2, x2**3]
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(lm.poly_features(np.array([2.0]), 4)[0], [1, 2, 4, 8, 16])


def test_T6_5_noise_free_sine_train_mse():
    x = np.linspace(0.0, 2.0 * np.pi, 20)
    y = np.sin(x)
    got = []
    for d in (1, 3, 5):
        Phi = lm.poly_features(x, d)  # raw x in [0, 2 pi]: lstsq (SVD) copes at degree 5
        got.append(lm.mse(Phi @ lm.fit_lstsq(Phi, y), y))
    np.testing.assert_allclose(got, [0.23131, 6.0273e-3, 2.5657e-5], rtol=1e-4)
    # The same fits on x scaled to [-1, 1] (what the lab does) give the same MSEs.
    xs = lm.scale_to_unit(x, 0.0, 2.0 * np.pi)
    tr, _ = lm.poly_fit_curve(xs, y, xs, y, [1, 3, 5])
    np.testing.assert_allclose(tr, got, rtol=1e-9)


def test_ridge_matches_regularised_normal_equations():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 15)
    y = np.cos(3 * x) + 0.1 * rng.normal(size=15)
    Phi = lm.poly_features(x, 6)
    lam = 0.01
    c = lm.fit_lstsq(Phi, y, ridge=lam)
    P = np.eye(7)
    P[0, 0] = 0.0
    want = np.linalg.solve(Phi.T @ Phi / 15 + lam * P, Phi.T @ y / 15)
    np.testing.assert_allclose(c, want, atol=1e-10)
    _, g = lm.ridge_grad(c, Phi, y, lam)
    assert np.abs(g).max() < 1e-10


def test_polynomial_test_error_is_smallest_at_an_interior_degree():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 60)
    y = np.sin(np.pi * x) + 0.25 * rng.normal(size=60)
    tr, te = lm.poly_fit_curve(x[:20], y[:20], x[20:], y[20:], range(1, 16))
    assert np.all(np.diff(tr) <= 1e-12)  # nested models: training error never rises
    best = int(np.argmin(te)) + 1
    assert 1 < best < 15
    assert te[-1] > 3 * te.min()  # degree 15 on 20 points overfits visibly


# -- 6.3 logistic and softmax regression: T6.3, T6.4 --------------------------------------------
def test_T6_3_sigmoid_with_corrected_sign():
    assert lm.sigmoid(0.0) == pytest.approx(0.5)
    assert lm.sigmoid(2.0) == pytest.approx(0.880797, abs=1e-6)
    assert 1.0 / (1.0 + math.exp(2.0)) == pytest.approx(0.119203, abs=1e-6)  # the book's E21
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is fine
        s = lm.sigmoid(np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0]))
    np.testing.assert_allclose(s, [0.0, 4.248354e-18, 0.5, 1.0, 1.0], rtol=1e-6, atol=0)
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(lm.sigmoid(z) + lm.sigmoid(-z), 1.0, atol=1e-15)


def test_T6_4_softmax_and_overflow_guard():
    want = [0.090031, 0.244728, 0.665241]
    np.testing.assert_allclose(lm.softmax(np.array([1.0, 2.0, 3.0])), want, atol=1e-6)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(lm.softmax(np.array([1000.0, 1001.0, 1002.0])), want,
                                   atol=1e-6)
    Z = np.random.default_rng(0).normal(size=(4, 3, 5))
    for axis in (0, 1, -1):
        np.testing.assert_allclose(lm.softmax(Z, axis).sum(axis=axis), 1.0)
        np.testing.assert_allclose(np.exp(lm.log_softmax(Z, axis)), lm.softmax(Z, axis))


def test_bce_values_T4_19():
    assert lm.bce(np.array([0.8]), np.array([1.0])) == pytest.approx(0.223144, abs=1e-6)
    assert lm.bce(np.array([0.8]), np.array([0.0])) == pytest.approx(1.609438, abs=1e-6)
    z = np.array([-3.0, 0.5, 40.0])
    y = np.array([0.0, 1.0, 0.0])
    assert lm.bce_logits(z, y) == pytest.approx(np.mean(np.log1p(np.exp(z)) - y * z))
    with pytest.raises(ValueError, match="probabilities"):
        lm.bce(np.array([1.2]), np.array([1.0]))


def _blobs(k, n=150, std=0.12, seed=0):
    """Well separated Gaussian blobs on a circle (independent of engine.data)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    ang = 2 * np.pi * np.arange(k) / k
    centres = 0.7 * np.c_[np.cos(ang), np.sin(ang)]
    return centres[y] + std * rng.normal(size=(n, 2)), y


def test_bce_gradient_matches_autodiff_and_finite_differences():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3))
    y = (rng.uniform(size=12) < 0.5).astype(float)
    w, b, l2 = rng.normal(size=3), 0.3, 0.05
    loss, gw, gb = lm.logreg_loss_grad(w, b, X, y, l2)
    # Autodiff oracle: the engine's BCE-with-logits on Tensors.
    wt, bt = Tensor(w.copy(), requires_grad=True), Tensor(np.array(b), requires_grad=True)
    L = F.binary_cross_entropy_with_logits(Tensor(X) @ wt + bt, Tensor(y)) \
        + 0.5 * l2 * (wt * wt).sum()
    L.backward()
    assert loss == pytest.approx(L.item(), rel=1e-12)
    np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-10)
    assert gb == pytest.approx(bt.grad.item(), rel=1e-10)
    # Central differences, and the book's formula (1/n) X^T (p - y) for l2 = 0.
    eps = 1e-6
    fd = [(lm.logreg_loss_grad(w + eps * e, b, X, y, l2)[0]
           - lm.logreg_loss_grad(w - eps * e, b, X, y, l2)[0]) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(gw, fd, rtol=1e-6)
    p = lm.sigmoid(X @ w + b)
    np.testing.assert_allclose(lm.logreg_loss_grad(w, b, X, y)[1], X.T @ (p - y) / 12)


def test_softmax_gradient_matches_autodiff():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, 3))
    y = rng.integers(0, 4, 10)
    Y = np.eye(4)[y]
    W, b, l2 = rng.normal(size=(3, 4)), rng.normal(size=4), 0.1
    loss, gW, gb = lm.softmax_loss_grad(W, b, X, Y, l2)
    Wt, bt = Tensor(W.copy(), requires_grad=True), Tensor(b.copy(), requires_grad=True)
    L = F.cross_entropy(Tensor(X) @ Wt + bt, y) + 0.5 * l2 * (Wt * Wt).sum()
    L.backward()
    assert loss == pytest.approx(L.item(), rel=1e-12)
    np.testing.assert_allclose(gW, Wt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gb, bt.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_logistic_reaches_full_accuracy_on_separable_blobs():
    X, y = _blobs(2)
    w, b, losses = lm.logreg_fit(X, y, lr=1.0, n=300)
    assert np.mean((X @ w + b > 0) == (y == 1)) == 1.0
    assert np.all(np.diff(losses) < 0)


def test_softmax_reaches_95_percent_on_three_blobs():
    X, y = _blobs(3, std=0.2)
    W, b, losses = lm.softmax_fit(X, np.eye(3)[y], lr=1.0, n=400, l2=1e-3)
    assert np.mean(np.argmax(X @ W + b, axis=1) == y) >= 0.95
    assert losses[-1] < losses[0]


def test_fit_argument_checks():
    X, y = _blobs(2, n=10)
    with pytest.raises(ValueError, match="lr"):
        lm.logreg_fit(X, y, lr=0.0)
    with pytest.raises(ValueError, match="0 or 1"):
        lm.logreg_fit(X, y + 1)
    with pytest.raises(ValueError, match="l2"):
        lm.softmax_fit(X, np.eye(2)[y], l2=-1.0)


@pytest.mark.torch
def test_torch_parity_logistic_and_softmax():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 2))
    y = rng.integers(0, 3, 20)
    W, b = rng.normal(size=(2, 3)), rng.normal(size=3)
    loss, gW, gb = lm.softmax_loss_grad(W, b, X, np.eye(3)[y])
    Wt = torch.tensor(W, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    L = torch.nn.functional.cross_entropy(torch.tensor(X) @ Wt + bt, torch.tensor(y))
    L.backward()
    assert loss == pytest.approx(L.item(), rel=1e-12)
    np.testing.assert_allclose(gW, Wt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gb, bt.grad.numpy(), rtol=1e-10, atol=1e-15)
    z = np.linspace(-50, 50, 11)
    np.testing.assert_allclose(lm.sigmoid(z), torch.sigmoid(torch.tensor(z)).numpy(),
                               rtol=1e-12)


# -- the labs -----------------------------------------------------------------------------------
def test_linear_regression_lab_gd_reaches_closed_form_and_stops():
    lab = LinearRegressionLab(seed=0)
    assert lab.values["fn"] == "line"
    lab.step(1000)
    assert lab.status == "converged" and lab.finished
    np.testing.assert_allclose(lab.theta, [lab.w_star, lab.b_star], atol=1e-8)
    s = lab.snapshot()
    assert s.scalars["loss"] == pytest.approx(s.scalars["loss_star"], rel=1e-9)
    (w0, w1), (b0, b1) = s.data["bounds"]
    for w, b in (s.data["start"], s.data["optimum"]):
        assert w0 < w < w1 and b0 < b < b1  # the landscape holds start and optimum
    assert s.data["grid_display"].shape == (lab.GRID, lab.GRID)
    assert len(s.data["resid_x"]) == 2 * len(lab.x)
    json.dumps(lab.history())


def test_linear_regression_lab_divergence_is_reported():
    lab = LinearRegressionLab(seed=0)
    lim = 2.0 / lab.hess_eigs[-1]
    lab.set_param("lr", min(3.0, 1.3 * lim))
    lab.step(200)
    assert lab.status == "diverged" and lab.finished
    assert "diverged" in lab.snapshot().alerts[0] and "2/" in lab.snapshot().alerts[0]


def test_linear_regression_lab_sgd_is_seeded_and_noisy():
    a, b = LinearRegressionLab(seed=3, batch=4), LinearRegressionLab(seed=3, batch=4)
    a.step(300)
    b.step(300)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.status == "running"
    assert abs(a.theta[0] - a.w_star) < 0.3


def test_linear_regression_actions_validate_and_change_nothing_on_error():
    lab = LinearRegressionLab(seed=0)
    lab.step(5)
    before = (lab.theta.copy(), len(lab.x), lab.step_count)
    with pytest.raises(ValueError, match=r"w0 .* in \[-5, 5\]"):
        lab.do_action("set_start", w=9.0, b=0.0)
    with pytest.raises(ValueError, match="x in"):
        lab.do_action("add_point", x=5.0, y=0.0)
    with pytest.raises(ValueError, match="needs numbers"):
        lab.do_action("add_point", x="left", y=0.0)
    np.testing.assert_array_equal(lab.theta, before[0])
    assert (len(lab.x), lab.step_count) == before[1:]
    lab.do_action("set_start", w=2.0, b=-1.0)
    assert lab.step_count == 0 and list(lab.start) == [2.0, -1.0]
    lab.do_action("add_point", x=0.0, y=5.0)
    assert len(lab.x) == before[1] + 1 and lab.y[-1] == 5.0


@pytest.mark.parametrize("lab_cls, name, bad, match", [
    (LinearRegressionLab, "lr", 5.0, r"\[0.001, 3\]"),
    (LinearRegressionLab, "n", 2, r"\[3, 200\]"),
    (LinearRegressionLab, "fn", "tan", "one of line, sin"),
    (PolynomialLab, "degree", 16, r"\[1, 15\]"),
    (PolynomialLab, "degree", 2.5, "integer"),
    (PolynomialLab, "ridge", 0.0, r"\[1e-08, 1\]"),
    (LogisticLab, "classes", 6, r"\[2, 5\]"),
    (LogisticLab, "features", "cubic", "linear, quadratic"),
])
def test_bad_param_values_raise_with_allowed_range_and_change_nothing(lab_cls, name, bad,
                                                                       match):
    lab = lab_cls(seed=0)
    lab.step(3)
    before = (dict(lab.values), lab.step_count, lab.snapshot().scalars["loss"])
    with pytest.raises(ValueError, match=match):
        lab.set_param(name, bad)
    assert (dict(lab.values), lab.step_count, lab.snapshot().scalars["loss"]) == before


def test_polynomial_lab_overfits_and_ridge_helps():
    lab = PolynomialLab(seed=0)
    s = lab.snapshot()
    test = s.data["test_curve"]
    assert 1 < s.scalars["best_degree"] < 15
    assert test[-1] > 10 * test.min()  # degree 15 overfits badly
    assert np.all(np.diff(s.data["train_curve"]) <= 1e-12)
    lab.set_param("degree", 15)
    wild = lab.snapshot().scalars["test_mse"]
    lab.set_param("regularize", True)
    assert lab.snapshot().scalars["test_mse"] < wild / 10
    lab.step(50)
    s = lab.snapshot()
    assert s.step == 50 and len(s.data["gd_k"]) == 51
    assert s.data["gd_train"][-1] < s.data["gd_train"][0]
    lab.set_param("degree", 4)  # a new model restarts gradient descent
    assert lab.step_count == 0 and len(lab.gd_coef) == 5
    json.dumps(lab.history())


def test_logistic_lab_binary_blobs_reach_full_accuracy():
    lab = LogisticLab(seed=0, classes=2)
    assert lab.binary
    lab.step(200)
    s = lab.snapshot()
    assert s.scalars["acc"] == 1.0
    assert s.data["p1"].shape == (lab.GRID, lab.GRID)
    assert s.data["probe_p"].sum() == pytest.approx(1.0)


def test_logistic_lab_softmax_three_blobs():
    lab = LogisticLab(seed=0)
    assert lab.K == 3 and not lab.binary
    lab.step(200)
    s = lab.snapshot()
    assert s.scalars["acc"] >= 0.95 and s.scalars["test_acc"] >= 0.95
    assert set(np.unique(s.data["pred"])) == {0, 1, 2}
    m = s.data["margins"]
    assert m.shape == (lab.BOUNDARY_GRID, lab.BOUNDARY_GRID, 3)
    # z_k - max_{j != k} z_j is positive for exactly the winning class: its zero level is
    # where the winner changes, the decision boundary.
    assert np.mean((m > 0).sum(axis=2) == 1) > 0.999
    json.dumps(lab.history())


def test_logistic_lab_quadratic_features_separate_circles():
    lin = LogisticLab(seed=0, dataset="circles", noise=0.05)
    quad = LogisticLab(seed=0, dataset="circles", noise=0.05, features="quadratic")
    lin.step(300)
    quad.step(300)
    assert lin.snapshot().scalars["acc"] < 0.75  # no line separates a disc from a ring
    assert quad.snapshot().scalars["acc"] > 0.95


def test_logistic_probe_validates():
    lab = LogisticLab(seed=0)
    with pytest.raises(ValueError, match=r"\[-1.5, 1.5\]"):
        lab.do_action("probe", x=3.0, y=0.0)
    lab.do_action("probe", x=0.0, y=0.6)
    p = lab.snapshot().data["probe_p"]
    assert p.shape == (3,) and p.sum() == pytest.approx(1.0)


def test_backend_switch_keeps_clicked_points_and_progress():
    lab = LinearRegressionLab(seed=0)
    lab.do_action("add_point", x=0.5, y=2.0)
    lab.step(7)
    theta, n = lab.theta.copy(), len(lab.x)
    lab.to_backend("numpy")
    assert len(lab.x) == n and lab.step_count == 7
    np.testing.assert_array_equal(lab.theta, theta)


def test_l2_change_applies_from_the_next_step():
    a, b = LogisticLab(seed=0), LogisticLab(seed=0)
    a.set_param("l2", 0.1)
    b.values["l2"] = 0.1
    b.reset(0)  # the same run built with l2 = 0.1 from the start
    a.step(3)
    b.step(3)
    np.testing.assert_allclose(a.W, b.W, rtol=1e-12)
