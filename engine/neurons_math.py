r"""The math of book chapter 7, sections 7.2, 7.4 and 7.5: single neurons, activations, losses.

Three families, each in plain array code (NumPy in, NumPy out; CuPy works for the
elementwise parts through :func:`engine.backend.xp_of`):

* **Threshold units** (7.2).  The McCulloch-Pitts neuron :math:`y = \mathbb 1[\sum_i x_i \ge b]`
  and the perceptron :math:`\hat y = \mathbb 1[w_0 + \sum_i w_i x_i \ge 0]` with its online rule
  :math:`w \leftarrow w + \eta (t - \hat y)\,(1, x)`.  The rule converges only on linearly
  separable data (book errata E2-E4): on XOR it cycles for ever.
* **Activations** (7.4), each with its analytic derivative from the table in the spec and, for
  the gallery, the same derivative from the engine's autodiff (:func:`autodiff_derivative`).
* **Losses and divergences** (7.5), with analytic gradients (:func:`loss_grad`).

Conventions: the ReLU family takes :math:`f'(0) = 1`, as the book does (the autodiff ops take
the other subgradient, 0, as PyTorch does; the two agree everywhere except at the kink).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from engine import backend
from engine.data import make_logic

# -- 7.2 threshold units -------------------------------------------------------------------------
#: The two-input gates (truth tables in :data:`engine.data.LOGIC_GATES`).
GATES = ("and", "or", "nand", "nor", "xor", "xnor")


def logic_gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Truth table of a logic gate, in float64 (the perceptron's arithmetic stays exact).

    Parameters
    ----------
    name : {'and', 'or', 'nand', 'nor', 'xor', 'xnor', 'maj3'}
        ``'maj3'`` is the 3-input majority function.  Rows in binary counting order:
        (0,0), (0,1), (1,0), (1,1), the book's sample order.

    Returns
    -------
    X : (4, 2) or (8, 3) float array of 0/1 inputs
    t : (4,) or (8,) int array of targets
    """
    X, t = make_logic(name)
    return X.astype(np.float64), t


def mp_neuron(X, b: float) -> np.ndarray:
    r"""McCulloch-Pitts neuron :math:`y = \mathbb 1[\sum_i x_i \ge b]` (no weights).

    Parameters
    ----------
    X : (N, n) array
        Inputs; the book's neuron takes 0/1 inputs, but any reals are accepted.
    b : float
        Threshold.

    Returns
    -------
    (N,) int array of 0/1 outputs
    """
    X = _as_2d(X, "mp_neuron")
    return (X.sum(axis=1) >= b).astype(np.int64)


def mp_threshold_interval(X, t) -> tuple[float, float] | None:
    r"""The thresholds :math:`b` for which the MP neuron reproduces targets ``t``.

    With :math:`s = \sum_i x_i`, the neuron is right iff every target-1 row has :math:`s \ge b`
    and every target-0 row has :math:`s < b`, i.e. :math:`b \in (\max_{t=0} s, \min_{t=1} s]`.

    Returns
    -------
    (lo, hi) or None
        ``b`` works iff ``lo < b <= hi`` (``-inf``/``inf`` when a class is empty); ``None`` when
        no threshold works (NAND and XOR: the MP neuron has only excitatory inputs).
    """
    X = _as_2d(X, "mp_threshold_interval")
    t = np.asarray(t)
    s = X.sum(axis=1)
    lo = float(s[t == 0].max()) if np.any(t == 0) else -math.inf
    hi = float(s[t == 1].min()) if np.any(t == 1) else math.inf
    return (lo, hi) if lo < hi else None


def _as_2d(X, fn: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{fn}: X must be a 2-D array (N samples, n inputs), got shape "
                         f"{X.shape}")
    return X


def _augment(X) -> np.ndarray:
    """Prepend the constant input :math:`x_0 = 1` that carries the bias weight :math:`w_0`."""
    return np.concatenate([np.ones((len(X), 1)), X], axis=1)


def perceptron_predict(w, X, tie_tol: float = 0.0) -> np.ndarray:
    r"""Perceptron outputs :math:`\hat y = \mathbb 1[w_0 + \sum_i w_i x_i \ge 0]`.

    Parameters
    ----------
    w : (n + 1,) array
        ``[w0, w1, ..., wn]``; :math:`w_0 = -\theta` is the bias.
    X : (N, n) array
    tie_tol : float
        Predict 1 when :math:`s \ge -\text{tie\_tol}`: absorbs rounding so that a float sum
        such as 0.1 + 0.2 - 0.3 counts as the tie 0 it means (the spec's float trap).

    Returns
    -------
    (N,) int array
    """
    X = _as_2d(X, "perceptron_predict")
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (X.shape[1] + 1,):
        raise ValueError(f"perceptron_predict: w must have shape ({X.shape[1] + 1},) = "
                         f"(1 + inputs,), got {w.shape}")
    return (_augment(X) @ w >= -tie_tol).astype(np.int64)


def perceptron_update(w, x, t: int, lr: float, tie_tol: float = 0.0):
    r"""One visit of the perceptron rule :math:`w \leftarrow w + \eta (t - \hat y)(1, x)`.

    Parameters
    ----------
    w : (n + 1,) array
    x : (n,) array
        One sample (without the constant input).
    t : {0, 1}
    lr : float
        :math:`\eta` in (0, 1].

    Returns
    -------
    w_new : (n + 1,) array (a new array; ``w`` is not modified)
    y_hat : int, the prediction before the update
    s : float, the weighted sum :math:`w^\top (1, x)` before the update
    """
    xa = np.concatenate([[1.0], np.asarray(x, dtype=np.float64)])
    s = float(xa @ w)
    y_hat = int(s >= -tie_tol)
    return w + lr * (int(t) - y_hat) * xa, y_hat, s


@dataclasses.dataclass(frozen=True)
class PerceptronTrace:
    """What happened during :func:`perceptron_fit`.

    Attributes
    ----------
    w : (V + 1, n + 1) array, the weights before the first visit and after each of V visits
    index : (V,) int array, the sample visited
    corrected : (V,) bool array, whether that visit changed w
    mistakes : (E,) int array, mistakes in each epoch
    """

    w: np.ndarray
    index: np.ndarray
    corrected: np.ndarray
    mistakes: np.ndarray


@dataclasses.dataclass(frozen=True)
class PerceptronResult:
    """Result of :func:`perceptron_fit`.

    Attributes
    ----------
    w : (n + 1,) array, final weights
    converged : bool, an epoch passed without a mistake
    epochs : int, epochs run (the error-free one included when converged)
    trace : PerceptronTrace
    cycle : (first, period) or None
        The weights at the end of epoch ``first + period`` equal those at the end of epoch
        ``first``: the rule is periodic from there on and can never converge.
    """

    w: np.ndarray
    converged: bool
    epochs: int
    trace: PerceptronTrace
    cycle: tuple[int, int] | None = None


def perceptron_fit(X, t, lr: float = 1.0, epochs: int = 100, w0=None,
                   tie_tol: float = 0.0) -> PerceptronResult:
    r"""Online perceptron training, samples in the given order, ``epochs`` passes at most.

    Stops after the first epoch without a mistake.  On data that no line separates the rule
    never stops changing ``w``; the first repeat of an end-of-epoch ``w`` is reported as
    ``cycle`` (with exact arithmetic such as 0/1 inputs and :math:`\eta = 1` it always shows).

    Parameters
    ----------
    X : (N, n) array
    t : (N,) array of 0/1 targets
    lr : float in (0, 1]
    epochs : int >= 1
    w0 : (n + 1,) array, optional
        Start weights (default zeros).
    tie_tol : float >= 0
        See :func:`perceptron_predict`.

    Returns
    -------
    PerceptronResult
    """
    X = _as_2d(X, "perceptron_fit")
    t = np.asarray(t)
    if t.shape != (len(X),) or not np.all((t == 0) | (t == 1)):
        raise ValueError(f"perceptron_fit: t must be {len(X)} targets, each 0 or 1")
    if not 0 < lr <= 1:
        raise ValueError(f"perceptron_fit: lr = {lr!r} is not allowed: it must be in (0, 1]")
    if int(epochs) < 1:
        raise ValueError(f"perceptron_fit: epochs must be >= 1, got {epochs!r}")
    if tie_tol < 0:
        raise ValueError(f"perceptron_fit: tie_tol must be >= 0, got {tie_tol!r}")
    w = np.zeros(X.shape[1] + 1) if w0 is None else np.array(w0, dtype=np.float64)
    if w.shape != (X.shape[1] + 1,):
        raise ValueError(f"perceptron_fit: w0 must have shape ({X.shape[1] + 1},), got "
                         f"{w.shape}")
    ws, idx, fixed, mistakes = [w.copy()], [], [], []
    seen = {w.tobytes(): 0}
    cycle, converged, e = None, False, 0
    for e in range(1, int(epochs) + 1):
        wrong = 0
        for i in range(len(X)):  # the rule is online: one sample at a time, by definition
            w, y_hat, _ = perceptron_update(w, X[i], t[i], lr, tie_tol)
            wrong += y_hat != t[i]
            ws.append(w.copy())
            idx.append(i)
            fixed.append(y_hat != t[i])
        mistakes.append(wrong)
        if wrong == 0:
            converged = True
            break
        key = w.tobytes()
        if cycle is None and key in seen:
            cycle = (seen[key], e - seen[key])
        seen.setdefault(key, e)
    trace = PerceptronTrace(np.asarray(ws), np.asarray(idx, dtype=np.int64),
                            np.asarray(fixed, dtype=bool), np.asarray(mistakes, dtype=np.int64))
    return PerceptronResult(w, converged, e, trace, None if converged else cycle)


def line_in_box(w, box) -> np.ndarray:
    r"""The segment of the line :math:`w_0 + w_1 x + w_2 y = 0` inside a box.

    Parameters
    ----------
    w : (3,) array
    box : (2, 2) array ``[[x_min, x_max], [y_min, y_max]]``

    Returns
    -------
    (2, 2) array of the two end points, or (0, 2) when the line misses the box (or
    :math:`w_1 = w_2 = 0`, when there is no line at all).
    """
    w0, w1, w2 = (float(v) for v in w)
    (x0, x1), (y0, y1) = np.asarray(box, dtype=np.float64)
    pts = []
    if w2 != 0:  # crossings of the left and right edges
        pts += [(x, -(w0 + w1 * x) / w2) for x in (x0, x1)]
    if w1 != 0:  # crossings of the bottom and top edges
        pts += [(-(w0 + w2 * y) / w1, y) for y in (y0, y1)]
    if not pts:
        return np.zeros((0, 2))
    p = np.asarray(pts)
    tol = 1e-9 * max(x1 - x0, y1 - y0)
    p = p[(p[:, 0] >= x0 - tol) & (p[:, 0] <= x1 + tol) & (p[:, 1] >= y0 - tol)
          & (p[:, 1] <= y1 + tol)]
    if len(p) < 2:
        return np.zeros((0, 2))
    d = np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1)
    i, j = np.unravel_index(np.argmax(d), d.shape)
    if d[i, j] <= tol:
        return np.zeros((0, 2))
    return p[[i, j]]


# -- 7.4 activations -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Activation:
    r"""An activation with its analytic derivatives.

    Attributes
    ----------
    name : str
    f : callable, array -> array (same shape; for softmax along the last axis)
    df : callable
        :math:`f'(x)` elementwise; for softmax the Jacobian, shape ``(..., K, K)``.
    dparam : callable or None
        :math:`\partial f/\partial\alpha` elementwise for the activations with a slope
        parameter (leaky ReLU, PReLU, ELU).
    params : dict
    """

    name: str
    f: Callable
    df: Callable
    dparam: Callable | None = None
    params: dict = dataclasses.field(default_factory=dict)


ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "softmax")
_ALPHA_DEFAULT = {"leaky_relu": 0.01, "prelu": 0.25, "elu": 1.0}


def sigmoid(x):
    r""":math:`1/(1+e^{-x})`, via :math:`e^{-|x|}` so ``exp`` never overflows."""
    xp = backend.xp_of(x)
    x = xp.asarray(x, dtype=float)
    e = xp.exp(-xp.abs(x))
    r = 1.0 / (1.0 + e)
    return xp.where(x >= 0, r, e * r)


def get_activation(name: str, **p) -> Activation:
    r"""An activation by name, with its parameters.

    Parameters
    ----------
    name : {'sigmoid', 'tanh', 'relu', 'leaky_relu', 'prelu', 'elu', 'softmax'}
    alpha : float, optional
        Slope of the negative side: leaky ReLU (default 0.01), PReLU (0.25); ELU's scale
        :math:`\alpha(e^x - 1)` (1.0).  Must be >= 0.
    T : float, optional
        Softmax temperature (default 1, must be > 0).

    Raises
    ------
    ValueError
        Unknown name or a parameter the activation does not take.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: choose one of {', '.join(ACTIVATIONS)}")
    allowed = {"alpha"} if name in _ALPHA_DEFAULT else {"T"} if name == "softmax" else set()
    extra = set(p) - allowed
    if extra:
        raise ValueError(f"{name} takes {', '.join(sorted(allowed)) or 'no parameters'}, "
                         f"not {', '.join(sorted(extra))}")
    if name == "softmax":
        T = float(p.get("T", 1.0))
        if not T > 0:
            raise ValueError(f"softmax: temperature T must be > 0, got {T!r}")
        return Activation(name, lambda z: softmax(z, T=T),
                          lambda z: softmax_jacobian(softmax(z, T=T), T=T), None, {"T": T})
    a = float(p.get("alpha", _ALPHA_DEFAULT.get(name, 0.0)))
    if name in _ALPHA_DEFAULT and not (math.isfinite(a) and a >= 0):
        raise ValueError(f"{name}: alpha must be a finite number >= 0, got {a!r}")

    def xp(x):
        return backend.xp_of(x)

    table = {
        "sigmoid": (sigmoid, lambda x: sigmoid(x) * (1.0 - sigmoid(x)), None),
        "tanh": (lambda x: xp(x).tanh(x), lambda x: 1.0 - xp(x).tanh(x) ** 2, None),
        # ReLU family: f'(0) = 1 (the x >= 0 branch), as in the book.
        "relu": (lambda x: xp(x).maximum(x, 0.0),
                 lambda x: (xp(x).asarray(x) >= 0).astype(float), None),
        "leaky_relu": (lambda x: xp(x).where(x >= 0, x, a * x),
                       lambda x: xp(x).where(xp(x).asarray(x) >= 0, 1.0, a),
                       lambda x: xp(x).where(x >= 0, 0.0, x)),
        "prelu": (lambda x: xp(x).where(x >= 0, x, a * x),
                  lambda x: xp(x).where(xp(x).asarray(x) >= 0, 1.0, a),
                  lambda x: xp(x).where(x >= 0, 0.0, x)),
        # exp of min(x, 0) only: the discarded branch must not overflow for large x.
        "elu": (lambda x: xp(x).where(x >= 0, x, a * xp(x).expm1(xp(x).minimum(x, 0.0))),
                lambda x: xp(x).where(x >= 0, 1.0, a * xp(x).exp(xp(x).minimum(x, 0.0))),
                lambda x: xp(x).where(x >= 0, 0.0, xp(x).expm1(xp(x).minimum(x, 0.0)))),
    }
    f, df, dparam = table[name]
    return Activation(name, f, df, dparam, {"alpha": a} if name in _ALPHA_DEFAULT else {})


def softmax(z, axis: int = -1, T: float = 1.0):
    r"""Softmax with temperature, :math:`s_i = e^{(z_i - m)/T} / \sum_k e^{(z_k - m)/T}`.

    Subtracting :math:`m = \max_k z_k` leaves the result unchanged and keeps ``exp`` <= 1.

    Parameters
    ----------
    z : (..., K) array
    axis : int
    T : float > 0
    """
    if not T > 0:
        raise ValueError(f"softmax: temperature T must be > 0, got {T!r}")
    xp = backend.xp_of(z)
    z = xp.asarray(z, dtype=float)
    e = xp.exp((z - z.max(axis=axis, keepdims=True)) / T)
    return e / e.sum(axis=axis, keepdims=True)


def softmax_jacobian(s, T: float = 1.0):
    r"""Jacobian of softmax from its output: :math:`J_{ij} = \partial s_i/\partial z_j
    = s_i(\delta_{ij} - s_j)/T`, i.e. :math:`(\mathrm{diag}(s) - s s^\top)/T`.

    (The book gives only the diagonal :math:`s_i - s_i^2`; erratum E7.)  Rows sum to 0.

    Parameters
    ----------
    s : (..., K) array of probabilities
    T : float, the temperature used to make ``s``

    Returns
    -------
    (..., K, K) array
    """
    xp = backend.xp_of(s)
    s = xp.asarray(s, dtype=float)
    eye = xp.eye(s.shape[-1])
    return (s[..., :, None] * eye - s[..., :, None] * s[..., None, :]) / T


def softmax_vjp(s, g, T: float = 1.0):
    r"""Vector-Jacobian product :math:`g^\top J = s \odot (g - g\cdot s)/T` without forming J.

    Parameters
    ----------
    s, g : (..., K) arrays
    """
    return s * (g - (g * s).sum(axis=-1, keepdims=True)) / T


def autodiff_derivative(name: str, x, **p):
    r"""Derivatives of an elementwise activation from the engine's reverse-mode autodiff.

    The activation is built from :mod:`engine.nn.functional` / autodiff primitives (an
    independent implementation of the table), then :math:`\sum_i f(x_i)` is back-propagated:
    its gradient is :math:`f'(x_i)` at every point, and with :math:`\alpha` broadcast to one
    copy per point, :math:`\partial f(x_i)/\partial\alpha` too.

    Parameters
    ----------
    name : one of :data:`ACTIVATIONS` except ``'softmax'`` (see :func:`autodiff_softmax_jacobian`)
    x : (N,) array
    alpha : float, for leaky_relu, prelu and elu

    Returns
    -------
    df : (N,) array
    dparam : (N,) array or None
    """
    import engine.nn.functional as F
    from engine.autodiff import Tensor, where

    act = get_activation(name, **p)  # validates name and params
    if name == "softmax":
        raise ValueError("autodiff_derivative: softmax is not elementwise; use "
                         "autodiff_softmax_jacobian")
    xt = Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    at = None
    if name == "sigmoid":
        y = F.sigmoid(xt)
    elif name == "tanh":
        y = F.tanh(xt)
    elif name == "relu":
        y = F.relu(xt)
    else:
        at = Tensor(np.full(xt.shape, act.params["alpha"]), requires_grad=True)
        neg = (F.elu(xt, 1.0) * at) if name == "elu" else xt * at
        y = where(xt.data > 0, xt, neg)
    y.sum().backward()
    return xt.grad.numpy(), (None if at is None else at.grad.numpy())


def autodiff_softmax_jacobian(z, T: float = 1.0) -> np.ndarray:
    r"""The softmax Jacobian :math:`\partial s_i/\partial z_j` by one autodiff backward pass.

    Row :math:`i` of a ``(K, K)`` stack of copies of ``z`` only feeds output :math:`s_i` into
    the sum, so the gradient of :math:`\sum_i s_i(z^{(i)})` is the whole Jacobian.

    Parameters
    ----------
    z : (K,) array
    """
    import engine.nn.functional as F
    from engine.autodiff import Tensor

    z = np.asarray(z, dtype=np.float64)
    k = len(z)
    zt = Tensor(np.tile(z, (k, 1)), requires_grad=True)
    (F.softmax(zt * (1.0 / T), dim=-1) * np.eye(k)).sum().backward()
    return zt.grad.numpy()


def saturation_intervals(x, d, frac: float = 0.05) -> np.ndarray:
    r"""Intervals of ``x`` where :math:`|f'| < \text{frac}\cdot\max|f'|` (saturated or dead).

    Parameters
    ----------
    x : (N,) sorted array
    d : (N,) derivative values

    Returns
    -------
    (m, 2) array of ``[start, end]`` intervals
    """
    a = np.abs(np.asarray(d))
    top = a.max() if a.size else 0.0
    if top <= 0:
        return np.array([[x[0], x[-1]]]) if len(x) else np.zeros((0, 2))
    mask = np.concatenate([[False], a < frac * top, [False]])
    edges = np.flatnonzero(np.diff(mask.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2] - 1
    return np.stack([x[starts], x[ends]], axis=1) if starts.size else np.zeros((0, 2))


# -- 7.5 losses ----------------------------------------------------------------------------------
LOSSES = ("mae", "mse", "rmse", "huber", "bce", "cce", "kl", "js")
_REDUCTIONS = ("mean", "sum", "none")


def _pair(yhat, y, fn: str):
    xp = backend.xp_of(yhat, y)
    yhat, y = xp.asarray(yhat, dtype=float), xp.asarray(y, dtype=float)
    if yhat.shape != y.shape:
        raise ValueError(f"{fn}: prediction shape {yhat.shape} and target shape {y.shape} "
                         "differ; they must be equal")
    return xp, yhat, y


def _reduce(v, reduction: str, fn: str):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {', '.join(_REDUCTIONS)}, got "
                         f"{reduction!r}")
    return v.mean() if reduction == "mean" else v.sum() if reduction == "sum" else v


def mae(yhat, y, reduction: str = "mean"):
    r"""Mean absolute error :math:`\frac1N\sum_i |\hat y_i - y_i|`."""
    xp, yhat, y = _pair(yhat, y, "mae")
    return _reduce(xp.abs(yhat - y), reduction, "mae")


def mse(yhat, y, reduction: str = "mean"):
    r"""Mean squared error :math:`\frac1N\sum_i (\hat y_i - y_i)^2`."""
    _, yhat, y = _pair(yhat, y, "mse")
    return _reduce((yhat - y) ** 2, reduction, "mse")


def rmse(yhat, y, axis=None):
    r"""Root mean squared error :math:`\sqrt{\frac1N\sum_i (\hat y_i - y_i)^2}` over ``axis``."""
    xp, yhat, y = _pair(yhat, y, "rmse")
    return xp.sqrt(((yhat - y) ** 2).mean(axis=axis))


def huber(yhat, y, eps: float = 1.0, reduction: str = "mean"):
    r"""Huber loss of the residual :math:`r = \hat y - y`:
    :math:`\tfrac12 r^2` for :math:`|r| \le \varepsilon`, else
    :math:`\varepsilon|r| - \tfrac12\varepsilon^2`.

    Continuous with a continuous slope at :math:`|r| = \varepsilon`; its gradient is
    :math:`\mathrm{clip}(r, -\varepsilon, \varepsilon)`.  As :math:`\varepsilon \to \infty` it
    is half the MSE; as :math:`\varepsilon \to 0`, :math:`\varepsilon` times the MAE.
    """
    if not eps > 0:
        raise ValueError(f"huber: eps must be > 0, got {eps!r}")
    xp, yhat, y = _pair(yhat, y, "huber")
    a = xp.abs(yhat - y)
    return _reduce(xp.where(a <= eps, 0.5 * a * a, eps * a - 0.5 * eps * eps), reduction,
                   "huber")


def bce(p, y, clip: float = 1e-12, reduction: str = "mean"):
    r"""Binary cross-entropy :math:`-[y\log p + (1-y)\log(1-p)]` (from the Bernoulli likelihood
    :math:`p^y(1-p)^{1-y}`; the book drops the brackets, erratum E10).

    ``p`` is clipped to :math:`[\text{clip}, 1-\text{clip}]` so a confident wrong answer costs a
    large finite loss instead of ``inf``.
    """
    xp, p, y = _pair(p, y, "bce")
    if xp.any((p < 0) | (p > 1)):
        raise ValueError("bce: probabilities p must lie in [0, 1]")
    p = xp.clip(p, clip, 1.0 - clip)
    return _reduce(-(y * xp.log(p) + (1.0 - y) * xp.log1p(-p)), reduction, "bce")


def cce(P, Y, clip: float = 1e-12, reduction: str = "mean"):
    r"""Categorical cross-entropy of each row, :math:`-\sum_k Y_k \log P_k`.

    Parameters
    ----------
    P, Y : (N, K) arrays (or (K,)): predicted probabilities and one-hot (or soft) targets
    reduction : 'mean' over rows, 'sum' or 'none' (one value per row)
    """
    xp, P, Y = _pair(P, Y, "cce")
    return _reduce(-(Y * xp.log(xp.clip(P, clip, 1.0))).sum(axis=-1), reduction, "cce")


def softmax_cce_with_logits(Z, Y, T: float = 1.0):
    r"""Cross-entropy of ``softmax(Z/T)`` against ``Y`` (mean over rows) and its gradient
    :math:`\partial L/\partial Z = (\mathrm{softmax}(Z/T) - Y)/(T N)`.

    Returns
    -------
    value : float or array, grad : same shape as Z
    """
    xp, Z, Y = _pair(Z, Y, "softmax_cce_with_logits")
    z = Z / T
    logp = z - z.max(axis=-1, keepdims=True)
    logp = logp - xp.log(xp.exp(logp).sum(axis=-1, keepdims=True))
    n = Z.shape[0] if Z.ndim == 2 else 1
    return -(Y * logp).sum(axis=-1).mean(), (xp.exp(logp) - Y) / (T * n)


def _xlogy_ratio(p, q, xp):
    r""":math:`p\log(p/q)` with :math:`0\log(0/q) = 0` and :math:`+\infty` where
    :math:`q = 0 < p`, without NumPy's divide-by-zero warnings."""
    pos = p > 0
    safe_p, safe_q = xp.where(pos, p, 1.0), xp.where(q > 0, q, 1.0)
    out = xp.where(pos, p * (xp.log(safe_p) - xp.log(safe_q)), 0.0)
    return xp.where(pos & (q <= 0), xp.inf, out)


def _distributions(p, q, fn):
    xp, p, q = _pair(p, q, fn)
    if xp.any(p < 0) or xp.any(q < 0):
        raise ValueError(f"{fn}: p and q must be non-negative (probabilities)")
    return xp, p, q


def kl_div(p, q, axis: int = -1):
    r"""Kullback-Leibler divergence :math:`D_{KL}(p\|q) = \sum_i p_i \log(p_i/q_i)`.

    Asymmetric, :math:`\ge 0`, and :math:`+\infty` when some :math:`q_i = 0 < p_i`.
    """
    xp, p, q = _distributions(p, q, "kl_div")
    return _xlogy_ratio(p, q, xp).sum(axis=axis)


def js_div(p, q, axis: int = -1):
    r"""Jensen-Shannon divergence :math:`\tfrac12 D_{KL}(p\|m) + \tfrac12 D_{KL}(q\|m)`,
    :math:`m = (p+q)/2`.  Symmetric and bounded: :math:`0 \le D_{JS} \le \ln 2`, with
    :math:`\ln 2` exactly when p and q do not overlap (where KL is infinite)."""
    xp, p, q = _distributions(p, q, "js_div")
    m = 0.5 * (p + q)
    return 0.5 * (_xlogy_ratio(p, m, xp) + _xlogy_ratio(q, m, xp)).sum(axis=axis)


def loss_grad(name: str, yhat, y, eps: float = 1.0):
    r"""Analytic :math:`\partial L/\partial\hat y` of a mean-reduced loss, per row.

    ``L`` is the loss of each row of ``(..., N)`` arrays, averaged over its N entries (for
    ``'bce'``, ``yhat`` holds probabilities p).  Subgradients at kinks: 0 for MAE at r = 0.

    =====  =========================================================
    mae    :math:`\mathrm{sign}(r)/N`
    mse    :math:`2r/N`
    rmse   :math:`r/(N\,\mathrm{RMSE})` (0 when every residual is 0)
    huber  :math:`\mathrm{clip}(r, -\varepsilon, \varepsilon)/N`
    bce    :math:`(p - y)/(p(1-p)N)`
    =====  =========================================================
    """
    xp, yhat, y = _pair(yhat, y, "loss_grad")
    r, n = yhat - y, yhat.shape[-1]
    if name == "mae":
        return xp.sign(r) / n
    if name == "mse":
        return 2.0 * r / n
    if name == "rmse":
        root = xp.sqrt((r * r).mean(axis=-1, keepdims=True))
        return xp.where(root > 0, r / (n * xp.where(root > 0, root, 1.0)), 0.0)
    if name == "huber":
        return xp.clip(r, -eps, eps) / n
    if name == "bce":
        return (yhat - y) / (yhat * (1.0 - yhat) * n)
    raise ValueError(f"loss_grad: no elementwise gradient for {name!r}; choose one of mae, "
                     "mse, rmse, huber, bce (cce: softmax_cce_with_logits)")


def autodiff_loss_grad(name: str, yhat, y, eps: float = 1.0) -> np.ndarray:
    r"""The same gradient as :func:`loss_grad`, from the engine's autodiff (one backward pass
    of the sum of the per-row losses; rows are independent, so each gets its own gradient)."""
    from engine.autodiff import Tensor, log, log1p, where

    yt = Tensor(np.array(yhat, dtype=np.float64), requires_grad=True)
    y = np.asarray(y, dtype=np.float64)
    r = yt - y
    if name == "mae":
        per_row = abs(r).mean(axis=-1)
    elif name == "mse":
        per_row = (r * r).mean(axis=-1)
    elif name == "rmse":
        per_row = (r * r).mean(axis=-1).sqrt()
    elif name == "huber":
        a = abs(r)
        per_row = where(a.data <= eps, a * a * 0.5, a * eps - 0.5 * eps * eps).mean(axis=-1)
    elif name == "bce":
        per_row = -(log(yt) * y + log1p(-yt) * (1.0 - y)).mean(axis=-1)
    else:
        raise ValueError(f"autodiff_loss_grad: unknown loss {name!r}")
    per_row.sum().backward()
    return yt.grad.numpy()


# -- divergences of two Gaussians (the divergence lab) -------------------------------------------
def gaussian_logpdf(x, mu, sigma):
    r""":math:`\log\mathcal N(x;\mu,\sigma^2) = -\frac{(x-\mu)^2}{2\sigma^2} - \log\sigma
    - \tfrac12\log 2\pi` (broadcasting)."""
    return -0.5 * ((x - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * math.log(2 * math.pi)


def gaussian_kl(mu_p, s_p, mu_q, s_q):
    r"""Closed form :math:`D_{KL}(\mathcal N_p\|\mathcal N_q) = \log\frac{\sigma_q}{\sigma_p}
    + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{2\sigma_q^2} - \tfrac12` (broadcasting)."""
    return np.log(s_q / s_p) + (s_p ** 2 + (mu_p - mu_q) ** 2) / (2 * s_q ** 2) - 0.5


def trapezoid_weights(x) -> np.ndarray:
    """Weights ``w`` with ``sum(w * f) ==`` the trapezoid rule for ``f`` sampled on ``x``."""
    dx = np.diff(x)
    w = np.zeros_like(x, dtype=np.float64)
    w[:-1] += dx / 2
    w[1:] += dx / 2
    return w


def gaussian_divergences(x, mu_p, s_p, mu_q, s_q) -> dict:
    r"""Pointwise integrands and integrals of KL both ways and JS for two Gaussians on a grid.

    Works from log-densities, so the integrands stay finite where a density underflows
    (:math:`p\log(p/q) = p(\log p - \log q)`, and :math:`\log m` by log-sum-exp).

    Parameters
    ----------
    x : (G,) grid wide enough to hold both densities
    mu_p, s_p, mu_q, s_q : floats (s > 0)

    Returns
    -------
    dict with ``p``, ``q``, ``kl_pq``, ``kl_qp``, ``js`` integrands (each (G,)) and
    ``KL_pq``, ``KL_qp``, ``JS`` values (floats, trapezoid rule).
    """
    lp, lq = gaussian_logpdf(x, mu_p, s_p), gaussian_logpdf(x, mu_q, s_q)
    p, q = np.exp(lp), np.exp(lq)
    lm = np.logaddexp(lp, lq) - math.log(2.0)
    out = {"p": p, "q": q, "kl_pq": p * (lp - lq), "kl_qp": q * (lq - lp),
           "js": 0.5 * (p * (lp - lm) + q * (lq - lm))}
    w = trapezoid_weights(x)
    out.update(KL_pq=float(w @ out["kl_pq"]), KL_qp=float(w @ out["kl_qp"]),
               JS=float(w @ out["js"]))
    return out


def divergence_vs_shift(x, mu_p, s_p, mu_qs, s_q, which: str):
    r"""A divergence between :math:`\mathcal N(\mu_p,\sigma_p^2)` and
    :math:`\mathcal N(\mu_q,\sigma_q^2)` for many :math:`\mu_q` at once, and its derivative
    :math:`d/d\mu_q` from the engine's autodiff (one backward pass for all of them).

    Parameters
    ----------
    x : (G,) integration grid
    mu_qs : (M,) array of means of q
    which : {'kl', 'kl_qp', 'js'}
        ``'kl'`` is :math:`D_{KL}(p\|q)`.

    Returns
    -------
    value : (M,), derivative : (M,)
    """
    from engine.autodiff import Tensor, exp, stack

    if which not in ("kl", "kl_qp", "js"):
        raise ValueError(f"divergence_vs_shift: which must be kl, kl_qp or js, got {which!r}")
    w = trapezoid_weights(x)
    lp = gaussian_logpdf(x, mu_p, s_p)[None, :]
    p = np.exp(lp)
    mu = Tensor(np.asarray(mu_qs, dtype=np.float64)[:, None], requires_grad=True)
    lq = ((mu - x[None, :]) * (1.0 / s_q)) ** 2 * -0.5 - (math.log(s_q)
                                                          + 0.5 * math.log(2 * math.pi))
    if which == "kl":
        val = ((lp - lq) * (p * w)).sum(axis=1)
    elif which == "kl_qp":
        val = (exp(lq) * (lq - lp) * w).sum(axis=1)
    else:
        lm = stack([lq, Tensor(np.broadcast_to(lp, lq.shape).copy())]).logsumexp(axis=0) \
            - math.log(2.0)
        val = ((lp - lm) * (p * w) + exp(lq) * (lq - lm) * w).sum(axis=1) * 0.5
    val.sum().backward()
    return val.numpy(), mu.grad.numpy()[:, 0]


def softmax_slice(x, z_rest, T: float = 1.0):
    r"""Softmax along a line in logit space: logit 1 runs over ``x``, the others stay fixed.

    Returns :math:`s_1`, its analytic slope :math:`\partial s_1/\partial z_1 = s_1(1-s_1)/T`,
    the same slope from autodiff, the cross-entropy :math:`-\log s_1` of the true class 1 and
    its analytic and autodiff slopes :math:`(s_1 - 1)/T`.

    Parameters
    ----------
    x : (M,) values of :math:`z_1`
    z_rest : (K - 1,) the other logits

    Returns
    -------
    dict of (M,) arrays: ``s1``, ``ds1``, ``ds1_auto``, ``ce``, ``dce``, ``dce_auto``
    """
    import engine.nn.functional as F
    from engine.autodiff import Tensor

    x = np.asarray(x, dtype=np.float64)
    Z = np.concatenate([x[:, None], np.broadcast_to(np.asarray(z_rest, float),
                                                    (len(x), len(z_rest)))], axis=1)
    s = softmax(Z, T=T)
    s1 = s[:, 0]
    zt = Tensor(Z.copy(), requires_grad=True)
    F.softmax(zt * (1.0 / T), dim=-1)[:, 0].sum().backward()
    ds1_auto = zt.grad.numpy()[:, 0]
    zt2 = Tensor(Z.copy(), requires_grad=True)
    F.cross_entropy(zt2 * (1.0 / T), np.zeros(len(x), dtype=np.int64),
                    reduction="sum").backward()
    # -log s1 from log-softmax, so a tiny s1 gives a large finite loss, not log(0).
    zs = Z / T
    m = zs.max(axis=1)
    ce = m + np.log(np.exp(zs - m[:, None]).sum(axis=1)) - zs[:, 0]
    return {"s1": s1, "ds1": s1 * (1.0 - s1) / T, "ds1_auto": ds1_auto, "ce": ce,
            "dce": (s1 - 1.0) / T, "dce_auto": zt2.grad.numpy()[:, 0]}
