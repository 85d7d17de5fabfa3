"""Linear models of book chapter 6: linear, polynomial, logistic and softmax regression.

Plain array functions (no autodiff): every model here has a gradient short enough to write down,
and writing it down is the point of the chapter.  Shapes follow one convention throughout:

* ``X`` is ``(n, d)``: ``n`` samples, ``d`` features (a 1-D ``x`` of shape ``(n,)`` is read as
  one feature, ``(n, 1)``);
* ``y`` is ``(n,)`` (targets, or 0/1 labels), ``Y`` is ``(n, K)`` one-hot;
* ``w`` is ``(d,)``, ``W`` is ``(d, K)``, ``b`` is a scalar or ``(K,)``.

Functions take their array module from their inputs (``xp = backend.xp_of(...)``), so NumPy in
gives NumPy out and CuPy in gives CuPy out.  Least squares is always solved with ``lstsq`` (an
SVD), never by inverting ``X^T X``: forming ``X^T X`` squares the condition number, which for
polynomial features of degree 10 and more loses every significant digit.

Bad input raises ``ValueError`` saying what is allowed.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from engine import backend


# -- checks -------------------------------------------------------------------------------------
def _as_2d(X, xp, name="X"):
    """``X`` as an ``(n, d)`` float array; ``(n,)`` becomes ``(n, 1)``."""
    X = xp.asarray(X)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d) or (n,), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: at least one sample is needed")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(xp.float64)
    return X


def _targets(y, n, xp, name="y"):
    y = xp.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match X, got shape {y.shape}")
    return y


def _check_finite(xp, **arrays):
    for name, a in arrays.items():
        if not bool(xp.all(xp.isfinite(a))):
            raise ValueError(f"{name} contains inf or NaN; only finite values are allowed")


def _check_nonneg(name, value):
    if not (isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value)
            and value >= 0):
        raise ValueError(f"{name} = {value!r} is not allowed: it must be a finite number >= 0")
    return float(value)


# -- linear regression (6.1) --------------------------------------------------------------------
def linreg_predict(w, b, X):
    r"""Predictions :math:`\hat y = Xw + b`.

    Parameters
    ----------
    w : (d,) array
    b : float
    X : (n, d) or (n,) array

    Returns
    -------
    (n,) array
    """
    xp = backend.xp_of(X, w)
    X = _as_2d(X, xp)
    w = xp.asarray(w, dtype=X.dtype).reshape(-1)
    if w.shape[0] != X.shape[1]:
        raise ValueError(f"w has {w.shape[0]} entries but X has {X.shape[1]} features")
    return X @ w + b


def linreg_loss(w, b, X, y) -> float:
    r"""Half mean squared error :math:`L(w,b)=\frac1{2n}\sum_i(w^\top x_i+b-y_i)^2`.

    Parameters
    ----------
    w : (d,) array
    b : float
    X : (n, d) or (n,) array
    y : (n,) array

    Returns
    -------
    float
    """
    xp = backend.xp_of(X, y, w)
    X = _as_2d(X, xp)
    r = linreg_predict(w, b, X) - _targets(y, X.shape[0], xp)
    return float(0.5 * xp.mean(r * r))


def linreg_grad(w, b, X, y):
    r"""Gradient of :func:`linreg_loss`.

    With residuals :math:`r_i=w^\top x_i+b-y_i`:
    :math:`\nabla_wL=\frac1n\sum_i r_ix_i=\frac1nX^\top r` and
    :math:`\partial_bL=\frac1n\sum_i r_i`.

    Returns
    -------
    gw : (d,) array
    gb : float
    """
    xp = backend.xp_of(X, y, w)
    X = _as_2d(X, xp)
    r = linreg_predict(w, b, X) - _targets(y, X.shape[0], xp)
    return X.T @ r / X.shape[0], float(xp.mean(r))


def linreg_fit(X, y):
    r"""Closed-form least-squares line (plane): :math:`\arg\min_{w,b}L(w,b)`.

    Solves :math:`[X\;\mathbf 1]\,\theta\approx y` with ``lstsq`` (SVD).  When the problem does
    not pin down a unique answer (fewer distinct points than unknowns, e.g. every ``x`` equal),
    ``lstsq`` returns the *minimum-norm* minimiser: among all ``(w, b)`` with the least loss,
    the one with the smallest :math:`\|w\|^2+b^2`.  Use :func:`fit_lstsq` with
    ``return_rank=True`` to find out whether that happened.

    Parameters
    ----------
    X : (n, d) or (n,) array
    y : (n,) array

    Returns
    -------
    w : (d,) array
    b : float
    """
    xp = backend.xp_of(X, y)
    X = _as_2d(X, xp)
    A = xp.concatenate([X, xp.ones((X.shape[0], 1), dtype=X.dtype)], axis=1)
    theta = fit_lstsq(A, y)
    return theta[:-1], float(theta[-1])


def linreg_loss_grid(W, B, X, y):
    r"""The loss :math:`L(w,b)` of one-feature regression at every point of a grid, at once.

    :math:`L` is a quadratic in :math:`\theta=(w,b)`, so it equals its exact second-order
    expansion about the least-squares optimum :math:`\theta^*` (where the gradient vanishes):

    .. math:: L(\theta)=L^*+\tfrac12(\theta-\theta^*)^\top H(\theta-\theta^*),\qquad
              H=\begin{pmatrix}\overline{x^2}&\bar x\\ \bar x&1\end{pmatrix}.

    One vectorised expression over the grid, ``O(grid)`` instead of ``O(grid * n)``, and free of
    the cancellation that expanding the square in raw moments suffers near the minimum.

    Parameters
    ----------
    W, B : arrays of the same (broadcastable) shape
        Grid values of the weight and the bias, e.g. from ``meshgrid``.
    X : (n, 1) or (n,) array
    y : (n,) array

    Returns
    -------
    array of the broadcast shape of ``W`` and ``B``
    """
    xp = backend.xp_of(X, y, W, B)
    X = _as_2d(X, xp)
    if X.shape[1] != 1:
        raise ValueError(f"the (w, b) landscape needs one feature, X has {X.shape[1]}")
    y = _targets(y, X.shape[0], xp)
    w_star, b_star = linreg_fit(X, y)
    l_star = linreg_loss(w_star, b_star, X, y)
    x = X[:, 0]
    sxx, sx = float(xp.mean(x * x)), float(xp.mean(x))
    dw = xp.asarray(W) - float(w_star[0])
    db = xp.asarray(B) - b_star
    return l_star + 0.5 * (sxx * dw * dw + 2.0 * sx * dw * db + db * db)


def linreg_hessian(X):
    r"""Hessian :math:`H=\frac1n[X\;\mathbf1]^\top[X\;\mathbf1]` of :func:`linreg_loss`.

    It does not depend on ``(w, b)`` or ``y``.  Gradient descent with step ``c`` converges iff
    :math:`c<2/\lambda_{\max}(H)`, and shrinks the error along the slowest direction by the
    factor :math:`|1-c\lambda_{\min}|` per step.

    Returns
    -------
    (d + 1, d + 1) array
    """
    xp = backend.xp_of(X)
    X = _as_2d(X, xp)
    A = xp.concatenate([X, xp.ones((X.shape[0], 1), dtype=X.dtype)], axis=1)
    return A.T @ A / X.shape[0]


# -- polynomial regression (6.2) ----------------------------------------------------------------
def poly_exponents(n_inputs: int, degree: int) -> np.ndarray:
    r"""Exponents of every monomial of total degree :math:`\le` ``degree``, in the book's order.

    Grouped by total degree, and within one degree by falling power of :math:`x_1`: for two
    inputs :math:`1, x_1, x_2, x_1^2, x_1x_2, x_2^2, x_1^3, x_1^2x_2,\dots`.  There are
    :math:`\binom{d+k}{k}` of them, :math:`(d+1)(d+2)/2` for :math:`k=2` inputs.

    Returns
    -------
    (m, n_inputs) int array
        Row ``j`` holds the power of each input in monomial ``j``.
    """
    if not isinstance(n_inputs, (int, np.integer)) or n_inputs < 1:
        raise ValueError(f"n_inputs = {n_inputs!r} is not allowed: it must be an integer >= 1")
    if not isinstance(degree, (int, np.integer)) or degree < 0:
        raise ValueError(f"degree = {degree!r} is not allowed: it must be an integer >= 0")
    rows = []
    # combinations_with_replacement lists index multisets in lexicographic order, which is
    # exactly "falling power of x1" within one total degree.  This loops over monomials (a few
    # dozen), never over samples.
    for t in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(n_inputs), t):
            rows.append(np.bincount(np.asarray(combo, dtype=np.int64), minlength=n_inputs))
    return np.asarray(rows, dtype=np.int64).reshape(-1, n_inputs)


def n_poly_terms(n_inputs: int, degree: int) -> int:
    r"""Number of polynomial features, :math:`\binom{d+k}{k}`; :math:`(d+1)(d+2)/2` for k=2."""
    return math.comb(int(degree) + int(n_inputs), int(n_inputs))


def poly_features(X, degree: int):
    r"""Polynomial feature map :math:`\Phi(X)`: every monomial of degree :math:`\le` ``degree``.

    Columns in the order of :func:`poly_exponents`; the first column is the constant 1.
    Scale inputs to about [-1, 1] first (:func:`scale_to_unit`): the powers of larger inputs
    differ by orders of magnitude and make the least-squares problem ill-conditioned.

    Parameters
    ----------
    X : (n, k) or (n,) array
    degree : int >= 0

    Returns
    -------
    (n, m) array, :math:`m=\binom{d+k}{k}`
    """
    xp = backend.xp_of(X)
    X = _as_2d(X, xp)
    E = xp.asarray(poly_exponents(X.shape[1], degree))
    # (n, 1, k) ** (1, m, k) -> product over the inputs: one broadcast, no loop over samples.
    return xp.prod(X[:, None, :] ** E[None, :, :].astype(X.dtype), axis=2)


def scale_to_unit(x, lo: float, hi: float):
    r"""Map ``[lo, hi]`` affinely onto ``[-1, 1]``: :math:`(2x-lo-hi)/(hi-lo)`."""
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"scale_to_unit needs finite lo < hi, got lo={lo!r}, hi={hi!r}")
    return (2.0 * x - (lo + hi)) / (hi - lo)


def fit_lstsq(Phi, y, ridge: float = 0.0, penalize_first: bool = False,
              return_rank: bool = False):
    r"""Least squares with optional ridge: :math:`\arg\min_c\frac1{2n}\|\Phi c-y\|^2+
    \frac\lambda2\|c'\|^2`.

    :math:`c'` is ``c`` without its first entry unless ``penalize_first``: the first column of
    polynomial features is the constant 1, and shrinking the intercept would pull the curve
    towards zero rather than towards "simpler".  Solved as one ``lstsq`` on the stacked system

    .. math:: \begin{pmatrix}\Phi/\sqrt n\\ \sqrt\lambda\,P\end{pmatrix}c\approx
              \begin{pmatrix}y/\sqrt n\\ 0\end{pmatrix},

    never through :math:`(\Phi^\top\Phi+n\lambda P)^{-1}`.  If :math:`\Phi` has dependent
    columns and ``ridge`` is 0, ``lstsq`` returns the minimum-norm minimiser.

    Parameters
    ----------
    Phi : (n, m) array
    y : (n,) array
    ridge : float >= 0
    penalize_first : bool
    return_rank : bool
        Also return the numerical rank of the (stacked) system; less than ``m`` means the
        minimum-norm answer was chosen among many.

    Returns
    -------
    c : (m,) array
    rank : int, only with ``return_rank``
    """
    xp = backend.xp_of(Phi, y)
    Phi = _as_2d(Phi, xp, "Phi")
    y = _targets(y, Phi.shape[0], xp)
    ridge = _check_nonneg("ridge", ridge)
    _check_finite(xp, Phi=Phi, y=y)
    n, m = Phi.shape
    A, rhs = Phi / math.sqrt(n), xp.asarray(y, dtype=Phi.dtype) / math.sqrt(n)
    if ridge > 0:
        P = xp.eye(m, dtype=Phi.dtype) * math.sqrt(ridge)
        if not penalize_first:
            P = P[1:]
        A = xp.concatenate([A, P], axis=0)
        rhs = xp.concatenate([rhs, xp.zeros(P.shape[0], dtype=Phi.dtype)])
    c, _, rank, _ = xp.linalg.lstsq(A, rhs, rcond=None)
    return (c, int(rank)) if return_rank else c


def mse(yhat, y) -> float:
    r"""Mean squared error :math:`\frac1n\sum_i(\hat y_i-y_i)^2` (no 1/2)."""
    xp = backend.xp_of(yhat, y)
    r = xp.asarray(yhat) - xp.asarray(y)
    return float(xp.mean(r * r))


def poly_fit_curve(x_train, y_train, x_test, y_test, degrees, ridge: float = 0.0):
    r"""Train and test MSE of the least-squares polynomial of every degree in ``degrees``.

    Builds the features of the largest degree once; the fit of degree ``d`` uses its first
    :math:`d+1` columns.  (A dozen tiny ``lstsq`` solves: each is a different problem, so the
    loop is over models, not samples.)

    Parameters
    ----------
    x_train, x_test : (n,) arrays, already scaled to about [-1, 1]
    y_train, y_test : (n,) arrays
    degrees : sequence of int
    ridge : float >= 0

    Returns
    -------
    train_mse, test_mse : (len(degrees),) float64 arrays
    """
    degrees = [int(d) for d in degrees]
    top = max(degrees)
    F_tr, F_te = poly_features(x_train, top), poly_features(x_test, top)
    train, test = [], []
    for d in degrees:
        c = fit_lstsq(F_tr[:, :d + 1], y_train, ridge)
        train.append(mse(F_tr[:, :d + 1] @ c, y_train))
        test.append(mse(F_te[:, :d + 1] @ c, y_test))
    return np.asarray(train, dtype=np.float64), np.asarray(test, dtype=np.float64)


def ridge_grad(c, Phi, y, ridge: float = 0.0):
    r"""Value and gradient of :math:`J(c)=\frac1{2n}\|\Phi c-y\|^2+\frac\lambda2\|c'\|^2`.

    :math:`\nabla J=\frac1n\Phi^\top(\Phi c-y)+\lambda(0,c_1,\dots,c_{m-1})` (the constant
    column is not penalised, as in :func:`fit_lstsq`).

    Returns
    -------
    J : float
    grad : (m,) array
    """
    xp = backend.xp_of(c, Phi, y)
    r = Phi @ c - y
    pen = c.copy()
    pen[0] = 0.0
    J = 0.5 * float(xp.mean(r * r)) + 0.5 * ridge * float(pen @ pen)
    return J, Phi.T @ r / Phi.shape[0] + ridge * pen


# -- logistic and softmax regression (6.3) ------------------------------------------------------
def sigmoid(z):
    r"""Logistic function :math:`\sigma(z)=1/(1+e^{-z})` (the sign the book drops, erratum E21).

    Computed from :math:`e^{-|z|}\le1`, which never overflows: :math:`1/(1+e^{-z})` for
    :math:`z\ge0`, and the equal :math:`e^{z}/(1+e^{z})` for :math:`z<0`.
    """
    xp = backend.xp_of(z)
    z = xp.asarray(z)
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(z):
    r""":math:`\log(1+e^z)=\max(z,0)+\log(1+e^{-|z|})`, without overflow."""
    xp = backend.xp_of(z)
    z = xp.asarray(z)
    return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))


def softmax(Z, axis: int = -1):
    r"""Softmax :math:`e^{z_i}/\sum_je^{z_j}` along ``axis``.

    Subtracting :math:`\max_j z_j` first changes nothing mathematically (numerator and
    denominator share the factor :math:`e^{-\max z}`) and keeps every exponent :math:`\le 0`,
    so ``softmax([1000, 1001, 1002])`` equals ``softmax([1, 2, 3])`` instead of ``nan``.
    """
    xp = backend.xp_of(Z)
    Z = xp.asarray(Z)
    e = xp.exp(Z - xp.max(Z, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def log_softmax(Z, axis: int = -1):
    r""":math:`z_i-\log\sum_je^{z_j}`, stably (max subtracted)."""
    xp = backend.xp_of(Z)
    Z = xp.asarray(Z)
    s = Z - xp.max(Z, axis=axis, keepdims=True)
    return s - xp.log(xp.sum(xp.exp(s), axis=axis, keepdims=True))


def bce(p, y, eps: float = 1e-12) -> float:
    r"""Binary cross-entropy :math:`-\frac1n\sum_i\big(y_i\log p_i+(1-y_i)\log(1-p_i)\big)`.

    Parameters
    ----------
    p : (n,) array of probabilities in [0, 1]
        Clipped to ``[eps, 1 - eps]`` so a confident mistake costs a large finite loss instead
        of ``inf``.  From logits, prefer :func:`bce_logits`.
    y : (n,) array of labels in {0, 1} (or soft targets in [0, 1])
    """
    xp = backend.xp_of(p, y)
    p, y = xp.asarray(p, dtype=xp.float64), xp.asarray(y, dtype=xp.float64)
    if p.shape != y.shape:
        raise ValueError(f"p and y must have the same shape, got {p.shape} and {y.shape}")
    if bool(xp.any((p < 0) | (p > 1))) or not bool(xp.all(xp.isfinite(p))):
        raise ValueError("p must hold probabilities in [0, 1]")
    p = xp.clip(p, eps, 1.0 - eps)
    return float(-xp.mean(y * xp.log(p) + (1.0 - y) * xp.log1p(-p)))


def bce_logits(z, y) -> float:
    r"""BCE of :math:`p=\sigma(z)`, from the logits: :math:`\frac1n\sum_i\mathrm{softplus}(z_i)
    -y_iz_i`, exact and finite for any real ``z``."""
    xp = backend.xp_of(z, y)
    z, y = xp.asarray(z), xp.asarray(y, dtype=xp.asarray(z).dtype)
    return float(xp.mean(softplus(z) - y * z))


def _check_labels01(y, n, xp):
    y = _targets(y, n, xp)
    if not bool(xp.all((y == 0) | (y == 1))):
        raise ValueError("binary labels y must be 0 or 1")
    return y.astype(xp.float64)


def logreg_loss_grad(w, b, X, y, l2: float = 0.0):
    r"""Loss and gradient of L2-regularised logistic regression.

    :math:`p=\sigma(Xw+b)`, :math:`L=\mathrm{BCE}(p,y)+\frac{\lambda}2\|w\|^2`,
    :math:`\nabla_wL=\frac1nX^\top(p-y)+\lambda w`, :math:`\partial_bL=\frac1n\sum_i(p_i-y_i)`.
    (The sigmoid's derivative :math:`\sigma(1-\sigma)` cancels against the log's, leaving the
    plain error :math:`p-y`.)

    Parameters
    ----------
    w : (d,) array
    b : float
    X : (n, d) array
    y : (n,) array of 0/1
    l2 : float >= 0

    Returns
    -------
    loss : float
    gw : (d,) array
    gb : float
    """
    xp = backend.xp_of(X, y, w)
    X = _as_2d(X, xp)
    y = _check_labels01(y, X.shape[0], xp)
    z = X @ w + b
    p = sigmoid(z)
    loss = bce_logits(z, y) + 0.5 * l2 * float(w @ w)
    return loss, X.T @ (p - y) / X.shape[0] + l2 * w, float(xp.mean(p - y))


def _check_fit_args(lr, n, l2):
    if not (isinstance(lr, (int, float, np.floating)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr = {lr!r} is not allowed: it must be a finite number > 0")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n = {n!r} is not allowed: it must be an integer >= 0 (steps)")
    return _check_nonneg("l2", l2)


def logreg_fit(X, y, lr: float = 0.5, n: int = 500, l2: float = 0.0, w=None, b: float = 0.0):
    r"""Logistic regression by ``n`` full-batch gradient-descent steps of size ``lr``.

    :math:`(w,b)\leftarrow(w,b)-c\,\nabla L` with the gradient of :func:`logreg_loss_grad`.
    On linearly separable data with ``l2 = 0`` the loss has no minimiser: ``w`` grows without
    bound while the boundary settles, so judge the boundary, not the weights.

    Parameters
    ----------
    X : (n_samples, d) array
    y : (n_samples,) array of 0/1
    lr, n, l2 : step size c > 0, number of steps >= 0, L2 strength >= 0
    w, b : start (default zeros)

    Returns
    -------
    w : (d,) array
    b : float
    losses : (n + 1,) float64 array, the loss before each step and after the last
    """
    l2 = _check_fit_args(lr, n, l2)
    xp = backend.xp_of(X, y)
    X = _as_2d(X, xp)
    w = xp.zeros(X.shape[1], dtype=X.dtype) if w is None else xp.array(w, dtype=X.dtype)
    losses = []
    for _ in range(n):  # iterations depend on each other: this loop is GD itself
        loss, gw, gb = logreg_loss_grad(w, b, X, y, l2)
        losses.append(loss)
        w, b = w - lr * gw, b - lr * gb
    losses.append(logreg_loss_grad(w, b, X, y, l2)[0])
    return w, float(b), np.asarray(losses)


def softmax_loss_grad(W, b, X, Y, l2: float = 0.0):
    r"""Loss and gradient of L2-regularised softmax regression (multinomial logistic).

    :math:`P=\mathrm{softmax}(XW+\mathbf1b^\top)`,
    :math:`L=-\frac1n\sum_{i,k}Y_{ik}\log P_{ik}+\frac\lambda2\|W\|_F^2`,
    :math:`\nabla_WL=\frac1nX^\top(P-Y)+\lambda W`, :math:`\nabla_bL=\frac1n\mathbf1^\top(P-Y)`.

    Parameters
    ----------
    W : (d, K) array
    b : (K,) array
    X : (n, d) array
    Y : (n, K) one-hot array
    l2 : float >= 0

    Returns
    -------
    loss : float
    gW : (d, K) array
    gb : (K,) array
    """
    xp = backend.xp_of(X, Y, W)
    X = _as_2d(X, xp)
    Y = xp.asarray(Y, dtype=X.dtype)
    if Y.ndim != 2 or Y.shape != (X.shape[0], W.shape[1]):
        raise ValueError(f"Y must be one-hot of shape ({X.shape[0]}, {W.shape[1]}), "
                         f"got {Y.shape}")
    Z = X @ W + b
    P = softmax(Z, axis=1)
    n = X.shape[0]
    loss = -float(xp.sum(Y * log_softmax(Z, axis=1))) / n + 0.5 * l2 * float(xp.sum(W * W))
    return loss, X.T @ (P - Y) / n + l2 * W, xp.sum(P - Y, axis=0) / n


def softmax_fit(X, Y, lr: float = 0.5, n: int = 500, l2: float = 0.0, W=None, b=None):
    r"""Softmax regression by ``n`` full-batch gradient-descent steps of size ``lr``.

    Parameters
    ----------
    X : (n_samples, d) array
    Y : (n_samples, K) one-hot array
    lr, n, l2 : step size c > 0, number of steps >= 0, L2 strength >= 0
    W, b : start (default zeros)

    Returns
    -------
    W : (d, K) array
    b : (K,) array
    losses : (n + 1,) float64 array
    """
    l2 = _check_fit_args(lr, n, l2)
    xp = backend.xp_of(X, Y)
    X = _as_2d(X, xp)
    Y = xp.asarray(Y, dtype=X.dtype)
    if Y.ndim != 2:
        raise ValueError(f"Y must be one-hot of shape (n, K), got shape {Y.shape}")
    K = Y.shape[1]
    W = xp.zeros((X.shape[1], K), dtype=X.dtype) if W is None else xp.array(W, dtype=X.dtype)
    b = xp.zeros(K, dtype=X.dtype) if b is None else xp.array(b, dtype=X.dtype)
    losses = []
    for _ in range(n):  # iterations depend on each other: this loop is GD itself
        loss, gW, gb = softmax_loss_grad(W, b, X, Y, l2)
        losses.append(loss)
        W, b = W - lr * gW, b - lr * gb
    losses.append(softmax_loss_grad(W, b, X, Y, l2)[0])
    return W, b, np.asarray(losses)
