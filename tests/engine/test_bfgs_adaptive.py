"""BFGS (book 4.8, T4.10) and adaptive-step gradient descent (book 4.10)."""
import numpy as np
import pytest

from engine.autodiff import Tensor
from engine.optim import BFGS, AdaptiveGD
from engine.optim.bfgs import bfgs_update


def rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] * x[0]) ** 2


def test_bfgs_update_secant_symmetry_and_product_form_T4_10():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    q = a @ a.T + 4 * np.eye(4)
    s, y = rng.normal(size=4), rng.normal(size=4)
    y = y if s @ y > 0 else -y
    q2, skipped = bfgs_update(q, s, y, np)
    assert not skipped
    np.testing.assert_allclose(q2 @ y, s, atol=1e-12)
    np.testing.assert_allclose(q2, q2.T, atol=1e-12)
    rho = 1 / (s @ y)
    # The book's expanded form, with erratum E5 fixed, equals the product form.
    expanded = (q - (np.outer(s, y) @ q + q @ np.outer(y, s)) * rho
                + (1 + rho * y @ q @ y) * rho * np.outer(s, s))
    np.testing.assert_allclose(q2, expanded, atol=1e-10)
    assert np.all(np.linalg.eigvalsh(q2) > 0)


def test_bfgs_skips_update_without_positive_curvature():
    q = np.eye(2)
    q2, skipped = bfgs_update(q, np.array([1.0, 0.0]), np.array([-1.0, 0.0]), np)
    assert skipped and q2 is q


def test_bfgs_converges_on_rosenbrock():
    x = Tensor(np.array([-1.2, 1.0]), requires_grad=True)
    opt = BFGS([x])
    for _ in range(100):
        opt.step(lambda: rosenbrock(x))
        if np.linalg.norm(x.numpy() - 1.0) < 1e-8:
            break
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=1e-6)
    st = opt.state[x]
    assert st["inv_hessian"].shape == (2, 2) and 0 < st["step_size"] <= 1.0


def test_bfgs_minimises_quadratic_and_learns_inverse_hessian():
    a = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -1.0])
    x = Tensor(np.array([5.0, 5.0]), requires_grad=True)
    opt = BFGS([x])
    f = lambda: 0.5 * (x @ (Tensor(a) @ x)) - Tensor(b) @ x  # noqa: E731
    for _ in range(30):
        opt.step(f)
    np.testing.assert_allclose(x.numpy(), [0.6, -0.8], atol=1e-8)


def test_adaptive_gd_grows_then_halves_and_never_goes_uphill():
    x = Tensor(np.array([1.0, 1.0]), requires_grad=True)
    f = lambda: x[0] * x[0] + 10.0 * x[1] * x[1]  # noqa: E731
    opt = AdaptiveGD([x], lr=0.01)
    values, sizes, accepted = [f().item()], [], []
    for _ in range(60):
        opt.step(f)
        values.append(f().item())
        sizes.append(opt.state[x]["step_size"])
        accepted.append(opt.state[x]["accepted"])
    assert all(b <= a for a, b in zip(values, values[1:]))
    assert values[-1] < 1e-3 * values[0]
    assert sizes[1] == pytest.approx(sizes[0] * 1.1)
    # It overshot at some point: that step was undone and the step size halved.
    i = accepted.index(False)
    assert sizes[i] == pytest.approx(sizes[i - 1] * 0.5)
    assert values[i + 1] == values[i]


def test_closure_required_and_bad_hyperparameters():
    x = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="closure"):
        BFGS([x]).step()
    with pytest.raises(ValueError, match="closure"):
        AdaptiveGD([x]).step()
    with pytest.raises(ValueError, match="shrink"):
        AdaptiveGD([x], shrink=1.5)
    with pytest.raises(ValueError, match="c1"):
        BFGS([x], c1=0.0)
    with pytest.raises(ValueError, match="limited to 200"):
        BFGS([Tensor(np.zeros(300), requires_grad=True)])
