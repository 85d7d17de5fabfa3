"""Tests of engine.optim: PyTorch parity, the book's test vectors (spec ch. 4), Newton, state.

First-order optimizers are driven with analytic gradients set by hand (``p.grad = Tensor(g)``),
so a failure here points at the optimizer, not at the autodiff.  Newton needs the autodiff's
double backward and uses it.  The ``xp`` fixture (NumPy, and CuPy where a CUDA device is
present) comes from ``tests/engine/conftest.py``.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine import backend, optim
from engine.autodiff import Tensor
from engine.optim.newton import _newton_direction

F64 = np.float64


# -- problems with analytic gradients ------------------------------------------------------------
class Rosenbrock:
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from the classic start (-1.2, 1); one (2,) param."""

    name = "rosenbrock"

    @staticmethod
    def init(xp=np):
        return [xp.asarray([-1.2, 1.0], dtype=F64)]

    @staticmethod
    def grads(arrays):
        (v,) = arrays
        x, y = v[0], v[1]
        xp = backend.xp_of(v)
        return [xp.stack([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])]


class LeastSquares:
    """L(W, b) = |X W + b - Y|^2 / (2N) with W (5, 3), b (3,), N = 8: two params."""

    name = "lstsq"
    _rng = np.random.default_rng(1234)
    X = _rng.normal(size=(8, 5))
    Y = _rng.normal(size=(8, 3))
    W0 = 0.5 * _rng.normal(size=(5, 3))
    b0 = np.full(3, 0.1)

    @classmethod
    def init(cls, xp=np):
        return [xp.asarray(cls.W0.copy()), xp.asarray(cls.b0.copy())]

    @classmethod
    def grads(cls, arrays):
        w, b = arrays
        xp = backend.xp_of(w)
        x, y = xp.asarray(cls.X), xp.asarray(cls.Y)
        r = x @ w + b - y
        return [x.T @ r / len(x), r.sum(axis=0) / len(x)]


PROBLEMS = {"rosenbrock": Rosenbrock, "lstsq": LeastSquares}


def run_ours(cls_name, kwargs, problem, steps, xp=np, edit=None, params=None, opt=None):
    """``steps`` steps of an engine optimizer; returns (iterates per step, params, optimizer)."""
    if params is None:
        params = [Tensor(a, requires_grad=True) for a in problem.init(xp)]
    if opt is None:
        opt = getattr(optim, cls_name)(params, **kwargs)
    traj = []
    for k in range(steps):
        if edit is not None:
            edit(k, opt.param_groups)
        for p, g in zip(params, problem.grads([p.data for p in params])):
            p.grad = Tensor(g)
        opt.step()
        traj.append([backend.to_numpy(p.data).copy() for p in params])
    return traj, params, opt


def run_torch(torch, cls_name, kwargs, problem, steps, edit=None, groups=None):
    """The same run with ``torch.optim``; ``groups`` maps torch params to param-group dicts."""
    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in problem.init()]
    arg = params if groups is None else groups(params)
    opt = getattr(torch.optim, cls_name)(arg, **kwargs)
    traj = []
    for k in range(steps):
        if edit is not None:
            edit(k, opt.param_groups)
        arrays = [p.detach().numpy().copy() for p in params]
        for p, g in zip(params, problem.grads(arrays)):
            p.grad = torch.from_numpy(np.ascontiguousarray(g))
        opt.step()
        traj.append([p.detach().numpy().copy() for p in params])
    return traj, params, opt


def assert_same_path(ours, theirs, rtol=1e-6, atol=1e-10):
    assert len(ours) == len(theirs)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        for pa, pb in zip(a, b):
            assert np.all(np.isfinite(pb)), f"torch diverged at step {k + 1}: pick a smaller lr"
            np.testing.assert_allclose(pa, pb, rtol=rtol, atol=atol,
                                       err_msg=f"iterates differ at step {k + 1}")


@pytest.fixture(scope="module")
def torch():
    mod = pytest.importorskip("torch")
    mod.set_num_threads(1)
    return mod


# -- parity with torch.optim --------------------------------------------------------------------
# (id, class, hyperparameters, lr on Rosenbrock, lr on least squares)
PARITY = [
    ("sgd", "SGD", {}, 5e-4, 0.1),
    ("sgd-momentum", "SGD", {"momentum": 0.9}, 5e-4, 0.05),
    ("sgd-nesterov", "SGD", {"momentum": 0.9, "nesterov": True}, 5e-4, 0.05),
    ("sgd-weight_decay", "SGD", {"momentum": 0.5, "weight_decay": 0.1}, 5e-4, 0.1),
    ("sgd-dampening", "SGD", {"momentum": 0.9, "dampening": 0.3}, 5e-4, 0.05),
    ("sgd-maximize", "SGD", {"maximize": True}, 1e-5, 0.01),
    ("adagrad", "Adagrad", {}, 0.1, 0.1),
    ("adagrad-lr_decay", "Adagrad", {"lr_decay": 0.05}, 0.1, 0.1),
    ("adagrad-init-wd", "Adagrad", {"initial_accumulator_value": 0.5, "weight_decay": 0.01,
                                    "eps": 1e-6}, 0.1, 0.1),
    ("rmsprop", "RMSprop", {}, 1e-2, 1e-2),
    ("rmsprop-momentum", "RMSprop", {"momentum": 0.9}, 1e-3, 1e-3),
    ("rmsprop-centered", "RMSprop", {"centered": True}, 1e-3, 1e-2),
    ("rmsprop-all", "RMSprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.01,
                                "alpha": 0.9, "eps": 1e-6}, 1e-3, 1e-2),
    ("adam", "Adam", {}, 0.05, 0.05),
    ("adam-weight_decay", "Adam", {"weight_decay": 0.1}, 0.05, 0.05),
    ("adam-amsgrad", "Adam", {"amsgrad": True}, 0.05, 0.05),
    ("adam-betas", "Adam", {"betas": (0.3, 0.9), "eps": 1e-6}, 0.05, 0.05),
    ("adam-maximize", "Adam", {"maximize": True}, 0.05, 0.05),
]


@pytest.mark.torch
@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("cls_name, hyper, lr_ros, lr_lsq",
                         [pytest.param(*row[1:], id=row[0]) for row in PARITY])
def test_parity_with_torch(torch, cls_name, hyper, lr_ros, lr_lsq, problem):
    prob = PROBLEMS[problem]
    kwargs = dict(hyper, lr=lr_ros if problem == "rosenbrock" else lr_lsq)
    ours, params, opt = run_ours(cls_name, kwargs, prob, 50)
    theirs, tparams, topt = run_torch(torch, cls_name, kwargs, prob, 50)
    assert_same_path(ours, theirs)
    # Same state, under PyTorch's key names.
    assert len(opt.state) == len(topt.state)
    for p, tp in zip(params, tparams):
        mine, ref = opt.state.get(p, {}), topt.state[tp]
        assert set(mine) == set(ref)
        for key, val in ref.items():
            want = float(val) if key == "step" else val.numpy()
            np.testing.assert_allclose(mine[key], want, rtol=1e-6, atol=1e-10, err_msg=key)


@pytest.mark.torch
@pytest.mark.parametrize("cls_name, kwargs", [
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.3}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
])
def test_param_groups_match_torch(torch, cls_name, kwargs):
    """Per-group hyperparameters: W and b get different learning rates (and more)."""
    extra = {"SGD": {"momentum": 0.5}, "Adagrad": {"eps": 1e-3}, "RMSprop": {"alpha": 0.8},
             "Adam": {"betas": (0.5, 0.99)}}[cls_name]

    def groups(ps):
        return [{"params": [ps[0]]}, dict({"params": [ps[1]], "lr": kwargs["lr"] / 5}, **extra)]

    ours_params = [Tensor(a, requires_grad=True) for a in LeastSquares.init()]
    opt = getattr(optim, cls_name)(groups(ours_params), **kwargs)
    assert opt.param_groups[1]["lr"] == kwargs["lr"] / 5
    assert opt.param_groups[0]["lr"] == kwargs["lr"]
    ours, _, _ = run_ours(cls_name, kwargs, LeastSquares, 50, params=ours_params, opt=opt)
    theirs, _, _ = run_torch(torch, cls_name, kwargs, LeastSquares, 50, groups=groups)
    assert_same_path(ours, theirs)


@pytest.mark.torch
@pytest.mark.parametrize("cls_name, kwargs, change", [
    ("SGD", {"lr": 0.05, "momentum": 0.9}, {"lr": 0.01, "momentum": 0.5}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, {"lr": 0.2}),
    ("Adagrad", {"lr": 0.1}, {"lr": 0.03, "lr_decay": 0.1}),
    ("RMSprop", {"lr": 0.01}, {"lr": 0.002, "alpha": 0.9}),
    ("Adam", {"lr": 0.05}, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-4}),
])
def test_live_hyperparameter_change_matches_torch(torch, cls_name, kwargs, change):
    """The GUI edits ``param_groups`` between steps; torch does the same mid-run."""
    def edit(k, groups):
        if k == 20:
            for g in groups:
                g.update(change)

    ours, _, _ = run_ours(cls_name, kwargs, LeastSquares, 50, edit=edit)
    theirs, _, _ = run_torch(torch, cls_name, kwargs, LeastSquares, 50, edit=edit)
    assert_same_path(ours, theirs)
    plain, _, _ = run_ours(cls_name, kwargs, LeastSquares, 50)
    assert not np.allclose(plain[-1][0], ours[-1][0])  # the edit did take effect


@pytest.mark.torch
def test_closure_matches_torch(torch):
    """step(closure): the closure zeroes, evaluates, back-propagates and returns the loss."""
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    tx = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt, topt = optim.Adam([x], lr=0.1), torch.optim.Adam([tx], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (x * x * x * x).sum() + (x * 3.0).sum()
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = (tx ** 4).sum() + (3 * tx).sum()
        loss.backward()
        return loss

    for _ in range(20):
        loss, tloss = opt.step(closure), topt.step(tclosure)
        assert float(loss.item()) == pytest.approx(tloss.item(), rel=1e-9)
        np.testing.assert_allclose(x.data, tx.detach().numpy(), rtol=1e-9)


# -- book / spec test vectors ---------------------------------------------------------------------
def test_t4_11_gradient_descent():
    """GD on f = x^2 + 10 y^2 with c = 0.05 from (1, 1): (0.9, 0), (0.81, 0), (0.729, 0)."""
    p = Tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.05)
    got = []
    for _ in range(3):
        p.grad = Tensor(np.array([2, 20]) * p.data)
        opt.step()
        got.append(p.data.copy())
    np.testing.assert_allclose(got, [[0.9, 0], [0.81, 0], [0.729, 0]], atol=1e-15)


def test_t4_12_heavy_ball_is_torch_momentum():
    """Heavy ball on x^2/2, c = .1, alpha = .9, x0 = x_-1 = 1: 0.9, 0.72, 0.486.

    SGD's momentum form b_k = mu b_{k-1} + g_k, x_{k+1} = x_k - c b_k is the heavy-ball rule
    x_{k+1} = x_k - c g_k + alpha (x_k - x_{k-1}) with alpha = mu: since x_k - x_{k-1} =
    -c b_{k-1}, the two produce the same iterates (checked over 30 steps).
    """
    c, alpha = 0.1, 0.9
    p = Tensor(np.array([1.0]), requires_grad=True)
    opt = optim.SGD([p], lr=c, momentum=alpha)
    x_prev, x = 1.0, 1.0
    ours, ball = [], []
    for _ in range(30):
        before = p.data.copy()
        p.grad = Tensor(p.data.copy())            # grad of x^2/2
        opt.step()
        # The identity behind the equivalence: the step taken is -c times the buffer.
        np.testing.assert_allclose(p.data - before, -c * opt.state[p]["momentum_buffer"])
        ours.append(p.data[0])
        x_prev, x = x, x - c * x + alpha * (x - x_prev)   # heavy ball, literally (E9 fixed)
        ball.append(x)
    np.testing.assert_allclose(ours[:3], [0.9, 0.72, 0.486], rtol=1e-12)
    np.testing.assert_allclose(ours, ball, rtol=1e-12, atol=1e-15)


def test_t4_13_nesterov_forms_agree():
    """The two Nesterov forms give identical iterates (30 steps), and torch's form is the second.

    Form 1: x_{k+1} = x_k + a dx_k - c grad f(x_k + a dx_k), dx_k = x_k - x_{k-1}.
    Form 2: x_{k+1} = y_k - c grad f(y_k), y_{k+1} = x_{k+1} + a (x_{k+1} - x_k).
    ``SGD(nesterov=True)`` stores the look-ahead point: its iterates are the y_k.
    """
    hess = np.diag([1.0, 10.0])
    grad = lambda v: hess @ v  # noqa: E731
    c, a, x0 = 0.05, 0.9, np.array([1.0, 1.0])
    x_prev, x = x0.copy(), x0.copy()
    form1 = []
    for _ in range(30):
        look = x + a * (x - x_prev)
        x_prev, x = x, look - c * grad(look)
        form1.append(x)
    x, y = x0.copy(), x0.copy()
    form2, ys = [], []
    for _ in range(30):
        x_new = y - c * grad(y)
        y = x_new + a * (x_new - x)
        x = x_new
        form2.append(x)
        ys.append(y)
    np.testing.assert_allclose(form1, form2, rtol=1e-12, atol=1e-15)
    p = Tensor(x0.copy(), requires_grad=True)
    opt = optim.SGD([p], lr=c, momentum=a, nesterov=True)
    for k in range(30):
        p.grad = Tensor(grad(p.data))
        opt.step()
        np.testing.assert_allclose(p.data, ys[k], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("cls_name", ["Adam", "Adagrad"])
def test_t4_14_first_adaptive_step(cls_name):
    """Step 1 with g = (2, -0.5), c = .1 from 0: (-0.1, +0.1) for Adam and (eps tiny) Adagrad."""
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = getattr(optim, cls_name)([p], lr=0.1, eps=1e-12)
    p.grad = Tensor(np.array([2.0, -0.5]))
    opt.step()
    np.testing.assert_allclose(p.data, [-0.1, 0.1], rtol=1e-10)


def test_t4_15_rmsprop_weighted_sum_is_the_recursion():
    """(1 - g) sum_i g^(k-i) g_i^2 equals v_k = g v_{k-1} + (1 - g) g_k^2 with v_0 = 0."""
    rng = np.random.default_rng(7)
    gamma, grads = 0.9, rng.normal(size=(25, 3))
    p = Tensor(np.ones(3), requires_grad=True)
    opt = optim.RMSprop([p], lr=1e-3, alpha=gamma)
    for k, g in enumerate(grads, start=1):
        p.grad = Tensor(g.copy())
        opt.step()
        weights = (1 - gamma) * gamma ** (k - np.arange(1, k + 1))
        np.testing.assert_allclose(opt.state[p]["square_avg"], weights @ grads[:k] ** 2,
                                   rtol=1e-12)


# -- Newton ---------------------------------------------------------------------------------------
A_T48 = np.array([[3.0, 1.0], [1.0, 2.0]])
B_T48 = np.array([1.0, -1.0])


def quadratic(x, a=A_T48, b=B_T48):
    """f = 1/2 x^T A x - b^T x, from Tensor ops."""
    at, bt = Tensor(backend.xp_of(x.data).asarray(a)), Tensor(backend.xp_of(x.data).asarray(b))
    return 0.5 * (x * (at @ x)).sum() - (bt * x).sum()


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def test_t4_8_newton_one_step_on_a_quadratic():
    x = Tensor(np.array([5.0, 5.0]), requires_grad=True)
    opt = optim.Newton([x])
    loss = opt.step(lambda: quadratic(x))
    assert float(loss.item()) == pytest.approx(0.5 * 5 * 5 * 7 - 0.0)  # f(5, 5) = 87.5
    np.testing.assert_allclose(x.data, [0.6, -0.8], rtol=1e-12)
    st = opt.state[x]
    np.testing.assert_allclose(st["hessian"], A_T48, rtol=1e-12)
    np.testing.assert_allclose(st["gradient"], A_T48 @ [5, 5] - B_T48, rtol=1e-12)
    np.testing.assert_allclose(st["newton_step"], [5 - 0.6, 5 + 0.8], rtol=1e-12)
    assert st["singular"] is False and st["solver"] == "solve" and st["step"] == 1
    assert x.grad is None  # Newton computes its own derivatives and leaves .grad alone
    info = opt.describe(x)
    np.testing.assert_allclose(info["eigenvalues"], np.linalg.eigvalsh(A_T48))


def test_newton_damping_and_lr():
    x = Tensor(np.array([5.0, 5.0]), requires_grad=True)
    opt = optim.Newton([x], lr=0.5, damping=2.0)
    opt.step(lambda: quadratic(x))
    d = np.linalg.solve(A_T48 + 2 * np.eye(2), A_T48 @ [5, 5] - B_T48)
    np.testing.assert_allclose(x.data, np.array([5, 5]) - 0.5 * d, rtol=1e-12)


def test_newton_rosenbrock_converges():
    """From (-1.2, 1) pure Newton reaches (1, 1) within 10 steps (the spec's run takes 7)."""
    x = Tensor(np.array([-1.2, 1.0]), requires_grad=True)
    opt = optim.Newton([x])
    steps = 0
    while steps < 10 and not np.allclose(x.data, 1.0, rtol=0, atol=1e-10):
        opt.step(lambda: rosenbrock(x))
        steps += 1
    np.testing.assert_allclose(x.data, [1.0, 1.0], rtol=0, atol=1e-10)
    assert steps <= 7  # quadratic convergence at the end: the spec's reference run takes 7


def test_newton_over_two_params_equals_one_vector():
    """Parameters are stacked into one vector; the full Hessian couples them."""
    x = Tensor(np.array([-1.2, 1.0]), requires_grad=True)
    u, v = (Tensor(np.array(a), requires_grad=True) for a in (-1.2, 1.0))
    one, two = optim.Newton([x]), optim.Newton([u, v])
    for _ in range(4):
        one.step(lambda: rosenbrock(x))
        two.step(lambda: (1 - u) ** 2 + 100 * (v - u ** 2) ** 2)
        np.testing.assert_allclose([u.data, v.data], x.data, rtol=1e-12)
    assert two.state[v]["index"] == (1, 2)
    assert two.state[u]["hessian"].shape == (2, 2)


def test_newton_singular_hessian_takes_least_squares_step():
    """f = (x + y)^2 has H = [[2, 2], [2, 2]]: no crash, lstsq lands on the valley x + y = 0."""
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.Newton([x])
    opt.step(lambda: (x[0] + x[1]) ** 2)
    assert opt.state[x]["singular"] is True and opt.state[x]["solver"] == "lstsq"
    np.testing.assert_allclose(x.data, [-0.5, 0.5], atol=1e-12)
    # A linear f has H = 0: the least-squares step is zero, nothing moves, nothing crashes.
    opt.step(lambda: (x * 3.0).sum())
    np.testing.assert_allclose(x.data, [-0.5, 0.5], atol=1e-12)
    assert opt.state[x]["singular"] is True
    # Damping makes the same system solvable again.
    opt.param_groups[0]["damping"] = 1.0
    opt.step(lambda: (x[0] + x[1]) ** 2 + x[0])
    assert opt.state[x]["singular"] is False


def test_newton_direction_fallbacks():
    g = np.array([1.0, 2.0])
    d, how = _newton_direction(np.array([[np.nan, 0.0], [0.0, 1.0]]), g, np)
    assert how == "gradient" and np.array_equal(d, g)
    d, how = _newton_direction(np.array([[1.0, 1.0], [1.0, 1.0 + 1e-17]]), g, np)
    assert how == "lstsq" and np.all(np.isfinite(d))
    d, how = _newton_direction(np.diag([2.0, 4.0]), g, np)
    assert how == "solve"
    np.testing.assert_allclose(d, [0.5, 0.5])


def test_newton_limits_and_closure():
    with pytest.raises(ValueError, match="limited to 200"):
        optim.Newton([Tensor(np.zeros(201), requires_grad=True)])
    a = Tensor(np.zeros(150), requires_grad=True)
    opt = optim.Newton([a])
    with pytest.raises(ValueError, match="limited to 200"):
        opt.add_param_group({"params": [Tensor(np.zeros(60), requires_grad=True)]})
    assert len(opt.param_groups) == 1
    with pytest.raises(ValueError, match="closure"):
        opt.step()
    with pytest.raises(ValueError, match="scalar Tensor"):
        opt.step(lambda: a * 2.0)


# -- state: save, load, move ----------------------------------------------------------------------
STATEFUL = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
]


def _jsonish(sd):
    """What a JSON round trip does to the non-array part: int keys -> str, tuples -> lists."""
    def conv(v):
        if isinstance(v, np.ndarray):
            return v
        if isinstance(v, dict):
            return {str(k): conv(u) for k, u in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(u) for u in v]
        return v
    return conv(sd)


def _plain_types(v):
    """True when ``v`` holds only JSON types and NumPy arrays (nothing that needs pickle)."""
    if isinstance(v, dict):
        return all(isinstance(k, (int, str)) and _plain_types(u) for k, u in v.items())
    if isinstance(v, (list, tuple)):
        return all(_plain_types(u) for u in v)
    return v is None or isinstance(v, (bool, int, float, str, np.ndarray))


@pytest.mark.parametrize("cls_name, kwargs", STATEFUL)
def test_state_dict_round_trip_continues_identically(cls_name, kwargs):
    ref, _, _ = run_ours(cls_name, kwargs, LeastSquares, 20)
    _, params, opt = run_ours(cls_name, kwargs, LeastSquares, 10)
    sd = opt.state_dict()
    assert _plain_types(sd)
    json.dumps({k: v for k, v in sd.items() if k != "state"})  # hyperparameters are JSON
    before = {k: v.copy() for k, v in sd["state"][0].items() if isinstance(v, np.ndarray)}
    run_ours(cls_name, kwargs, LeastSquares, 3, params=params, opt=opt)
    for k, v in before.items():  # a snapshot: later steps do not change it
        np.testing.assert_array_equal(sd["state"][0][k], v)

    fresh = [Tensor(p.copy(), requires_grad=True) for p in ref[9]]
    opt2 = getattr(optim, cls_name)(fresh, lr=123.0)  # hyperparameters come from the dict
    opt2.load_state_dict(_jsonish(sd))
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    rest, _, _ = run_ours(cls_name, kwargs, LeastSquares, 10, params=fresh, opt=opt2)
    for a, b in zip(rest, ref[10:]):
        for pa, pb in zip(a, b):
            np.testing.assert_array_equal(pa, pb)


def test_load_state_dict_rejects_mismatch_and_changes_nothing():
    _, params, opt = run_ours("Adam", {"lr": 0.05}, LeastSquares, 5)
    sd = opt.state_dict()
    other = optim.Adam([Tensor(np.zeros(3), requires_grad=True)])
    with pytest.raises(ValueError, match="has 1 parameters"):
        other.load_state_dict(sd)
    sd["state"][1]["exp_avg"] = np.zeros(4)
    snapshot = opt.state_dict()
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(sd)
    np.testing.assert_array_equal(opt.state[params[1]]["exp_avg"],
                                  snapshot["state"][1]["exp_avg"])
    bad = opt.state_dict()
    bad["param_groups"][0]["betas"] = (1.5, 0.9)
    with pytest.raises(ValueError, match=r"betas\[0\]"):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)


def test_newton_state_dict_round_trip():
    x = Tensor(np.array([-1.2, 1.0]), requires_grad=True)
    opt = optim.Newton([x], damping=0.1)
    opt.step(lambda: rosenbrock(x))
    sd = opt.state_dict()
    assert _plain_types(sd) and sd["state"][0]["hessian"].shape == (2, 2)
    y = Tensor(x.data.copy(), requires_grad=True)
    opt2 = optim.Newton([y])
    opt2.load_state_dict(_jsonish(sd))
    assert opt2.param_groups[0]["damping"] == 0.1 and opt2.state[y]["index"] == (0, 2)
    opt.step(lambda: rosenbrock(x))
    opt2.step(lambda: rosenbrock(y))
    np.testing.assert_array_equal(x.data, y.data)


@pytest.mark.parametrize("cls_name, kwargs", STATEFUL)
def test_to_backend_numpy_keeps_state(cls_name, kwargs):
    ref, _, _ = run_ours(cls_name, kwargs, LeastSquares, 12)
    _, params, opt = run_ours(cls_name, kwargs, LeastSquares, 6)
    before = opt.state_dict()
    opt.to_backend("numpy")
    after = opt.state_dict()
    for i, s in before["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(after["state"][i][k], v)
    rest, _, _ = run_ours(cls_name, kwargs, LeastSquares, 6, params=params, opt=opt)
    for pa, pb in zip(rest[-1], ref[-1]):
        np.testing.assert_array_equal(pa, pb)
    with pytest.raises(ValueError, match="unknown backend"):
        opt.to_backend("tpu")


# -- validation and bookkeeping -------------------------------------------------------------------
def _p():
    return [Tensor(np.zeros(2), requires_grad=True)]


@pytest.mark.parametrize("cls_name, kwargs, message", [
    ("SGD", {"lr": -0.1}, r"lr must be a number in \[0, inf\), got -0.1"),
    ("SGD", {"lr": float("nan")}, "lr must be"),
    ("SGD", {"lr": "fast"}, "lr must be"),
    ("SGD", {"lr": 0.1, "momentum": -0.5}, "momentum must be"),
    ("SGD", {"lr": 0.1, "weight_decay": -1}, "weight_decay must be"),
    ("SGD", {"lr": 0.1, "nesterov": True}, "nesterov=True needs momentum > 0"),
    ("SGD", {"lr": 0.1, "nesterov": True, "momentum": 0.9, "dampening": 0.1},
     "dampening = 0"),
    ("Adagrad", {"lr_decay": -1}, "lr_decay must be"),
    ("Adagrad", {"initial_accumulator_value": -1}, "initial_accumulator_value must be"),
    ("Adagrad", {"eps": -1e-10}, "eps must be"),
    ("RMSprop", {"alpha": 1.5}, r"alpha must be a number in \[0, 1\]"),
    ("RMSprop", {"alpha": -0.1}, "alpha must be"),
    ("RMSprop", {"momentum": -1}, "momentum must be"),
    ("Adam", {"betas": (1.0, 0.999)}, r"betas\[0\] must be a number in \[0, 1\)"),
    ("Adam", {"betas": (0.9, -0.1)}, r"betas\[1\] must be"),
    ("Adam", {"betas": 0.9}, "betas must be a pair"),
    ("Adam", {"eps": -1}, "eps must be"),
    ("Adam", {"weight_decay": -1}, "weight_decay must be"),
    ("Newton", {"damping": -1}, "damping must be"),
    ("Newton", {"lr": -1}, "lr must be"),
])
def test_bad_hyperparameters_raise(cls_name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(optim, cls_name)(_p(), **kwargs)
    # The same check guards per-group values.
    with pytest.raises(ValueError, match=message):
        getattr(optim, cls_name)([dict({"params": _p()}, **kwargs)])


def test_bad_live_edit_raises_at_step_and_changes_nothing():
    p = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    q = Tensor(np.array([3.0]), requires_grad=True)
    opt = optim.Adam([{"params": [p]}, {"params": [q]}], lr=0.1)
    p.grad, q.grad = Tensor(np.ones(2)), Tensor(np.ones(1))
    opt.step()
    opt.param_groups[1]["betas"] = (0.9, 1.0)
    x_before, m_before = p.data.copy(), opt.state[p]["exp_avg"].copy()
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        opt.step()
    np.testing.assert_array_equal(p.data, x_before)
    np.testing.assert_array_equal(opt.state[p]["exp_avg"], m_before)
    assert opt.state[p]["step"] == 1


def test_params_argument_errors():
    t = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(t, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [t]}, {"params": [t]}], lr=0.1)
    with pytest.raises(TypeError, match="Tensors"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="ordered iterable"):
        optim.SGD({t}, lr=0.1)


def test_zero_grad_and_params_without_grad():
    p, q = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([p, q], lr=0.1)
    p.grad = Tensor(np.array([1.0, -1.0]))
    opt.step()
    np.testing.assert_array_equal(q.data, [1.0, 1.0])  # no grad: skipped, no state
    assert q not in opt.state and p in opt.state
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and np.array_equal(g.data, [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


def test_step_checks_gradient_shape():
    p = Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = Tensor(np.ones(2))
    with pytest.raises(ValueError, match=r"gradient shape \(2,\)"):
        opt.step()


def test_divergence_gives_inf_without_warnings():
    """A too-large step overflows to inf/NaN silently (as in PyTorch); the lab reports it."""
    p = Tensor(np.array([1e200]), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = Tensor(np.array([1e200]))
    opt.step()  # g^2 overflows; RuntimeWarnings from engine code would fail this test
    assert not np.all(np.isfinite(opt.state[p]["exp_avg_sq"]))


# -- describe -------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls_name, kwargs, keys", [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"momentum_buffer", "direction"}),
    ("Adagrad", {"lr": 0.1}, {"sum", "clr", "effective_lr"}),
    ("RMSprop", {"lr": 0.01, "centered": True}, {"square_avg", "grad_avg", "denom",
                                                "effective_lr"}),
    ("Adam", {"lr": 0.05}, {"m", "v", "m_hat", "v_hat", "effective_lr", "update"}),
])
def test_describe_reports_the_last_update(cls_name, kwargs, keys):
    _, params, opt = run_ours(cls_name, kwargs, LeastSquares, 4)
    w = params[0]
    x_before = w.data.copy()
    w.grad = Tensor(LeastSquares.grads([p.data for p in params])[0])
    params[1].grad = None
    opt.step()
    info = opt.describe(w)
    assert keys <= set(info) and info["lr"] == kwargs["lr"]
    assert all(v is None or isinstance(v, (np.ndarray, int, float, bool, tuple, str))
               for v in info.values())
    step = w.data - x_before
    if cls_name == "SGD":
        np.testing.assert_allclose(step, -kwargs["lr"] * info["direction"], rtol=1e-12)
    elif cls_name == "Adam":
        np.testing.assert_allclose(step, info["update"], rtol=1e-9)
    else:
        np.testing.assert_allclose(step, -info["effective_lr"] * info["grad"], rtol=1e-9)


def test_describe_before_any_step():
    p = Tensor(np.ones(2), requires_grad=True)
    for cls in (optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam, optim.Newton):
        info = cls([p], lr=0.1).describe(p)
        assert info["grad"] is None and info["lr"] == 0.1
    with pytest.raises(ValueError, match="not optimized"):
        optim.Adam([p]).describe(Tensor(np.ones(2)))


# -- backends -------------------------------------------------------------------------------------
ALL_FIRST_ORDER = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.01}),
]


@pytest.mark.parametrize("cls_name, kwargs", ALL_FIRST_ORDER)
def test_backend_smoke(xp, cls_name, kwargs):
    """Same iterates on NumPy and (where present) CuPy; state lives with the params and moves."""
    ref, _, _ = run_ours(cls_name, kwargs, LeastSquares, 10)
    got, params, opt = run_ours(cls_name, kwargs, LeastSquares, 5, xp=xp)
    for s in opt.state.values():
        assert all(type(v) is type(params[0].data) for v in s.values() if hasattr(v, "shape"))
    for a, b in zip(got, ref[:5]):
        for pa, pb in zip(a, b):
            np.testing.assert_allclose(pa, pb, rtol=1e-10, atol=1e-12)
    # Switch the run to NumPy mid-way, as the app does, and go on without losing state.
    for p in params:
        p.data = backend.to_numpy(p.data)
    opt.to_backend("numpy")
    rest, _, _ = run_ours(cls_name, kwargs, LeastSquares, 5, params=params, opt=opt)
    for pa, pb in zip(rest[-1], ref[-1]):
        np.testing.assert_allclose(pa, pb, rtol=1e-10, atol=1e-12)


def test_newton_backend_smoke(xp):
    x = Tensor(xp.asarray([5.0, 5.0]), requires_grad=True)
    opt = optim.Newton([x])
    opt.step(lambda: quadratic(x))
    assert type(opt.state[x]["hessian"]) is type(x.data)
    np.testing.assert_allclose(backend.to_numpy(x.data), [0.6, -0.8], rtol=1e-10)
    y = Tensor(xp.asarray([1.0, 2.0]), requires_grad=True)
    opt = optim.Newton([y])
    opt.step(lambda: (y[0] + y[1]) ** 2)
    assert opt.state[y]["singular"] is True
    np.testing.assert_allclose(backend.to_numpy(y.data), [-0.5, 0.5], atol=1e-10)
    assert math.isfinite(float(opt.describe(y)["eigenvalues"][-1]))


def test_make_optimizer_names_and_settings():
    w = Tensor(np.ones(3), requires_grad=True)
    assert type(optim.make_optimizer("adam", [w], 0.1)) is optim.Adam
    mom = optim.make_optimizer("momentum", [w], 0.1)
    assert type(mom) is optim.SGD and mom.param_groups[0]["momentum"] == 0.9
    nest = optim.make_optimizer("nesterov", [w], 0.1)
    assert nest.param_groups[0]["nesterov"] is True
    gan = optim.make_optimizer("adam", [w], 0.2, betas=(0.5, 0.9))
    assert gan.param_groups[0]["betas"] == (0.5, 0.9) and gan.param_groups[0]["lr"] == 0.2
    with pytest.raises(ValueError, match="choose one of sgd, momentum"):
        optim.make_optimizer("lbfgs", [w], 0.1)


def test_a_deep_copied_optimizer_keeps_its_state_for_the_copied_parameters():
    import copy  # noqa: PLC0415
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    w2, opt2 = copy.deepcopy((w, opt))
    assert opt2.param_groups[0]["params"][0] is w2
    np.testing.assert_array_equal(opt2.state[w2]["exp_avg"], opt.state[w]["exp_avg"])
    for p, o in ((w, opt), (w2, opt2)):
        o.zero_grad()
        (p * p).sum().backward()
        o.step()
    np.testing.assert_array_equal(w2.data, w.data)
