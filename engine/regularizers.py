r"""The math of book chapter 8 (regularization), written once for the labs and the tests.

* Norm penalties (8.2): :func:`penalty` for :math:`\lambda\Omega(w)` and its gradient,
  :func:`l1_prox` and :func:`sgd_step` for the proximal L1 update that produces exact zeros,
  :func:`reg_path_quadratic` for the closed-form regularized optimum of a quadratic loss.
* Early stopping (8.3): :class:`EarlyStopping`.
* Parameter tying (8.4): :func:`tie_penalty`.
* Augmentation and noise injection (8.5): :func:`augment` for 2-D points.
* Dropout (8.6): :func:`dropout_scales`, :func:`dropout` (arrays, with the mask) and
  :class:`ModeDropout` (a layer), each with the inverted, classic and "forgot to scale at
  test time" conventions.
* Adversarial examples (8.7): :func:`fgsm` through the autodiff input gradient.
* :func:`boundary_length`, a readout of how wiggly a decision boundary is.

Everything here works on NumPy or CuPy arrays (``xp`` comes from the inputs) and, where the
result must join a loss, on :class:`~engine.autodiff.Tensor` too.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from engine import backend
from engine.autodiff import Tensor, grad
from engine.nn import functional as F
from engine.nn.layers import Dropout

__all__ = [
    "DROPOUT_MODES", "PENALTIES", "EarlyStopping", "ModeDropout", "augment",
    "boundary_length", "dropout", "dropout_scales", "fgsm", "l1_prox", "penalty",
    "reg_path_quadratic", "sgd_step", "tie_penalty",
]

PENALTIES = ("none", "l2", "l1")
DROPOUT_MODES = ("inverted", "classic", "classic_no_test_scaling")


def _raw(p):
    """The array behind a Tensor; arrays pass through."""
    return p.data if isinstance(p, Tensor) else p


def _xp(a):
    return backend.xp_of(_raw(a))


def _check_lam(lam, name="lam") -> float:
    if isinstance(lam, bool) or not isinstance(lam, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(lam)) or float(lam) < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {lam!r}")
    return float(lam)


# -- norm penalties (8.2) ------------------------------------------------------------------------
def penalty(params, kind, lam, skip_bias=True):
    r"""Norm penalty :math:`\lambda\,\Omega(w)` and its (sub)gradient.

    .. math:: \Omega_{L2} = \tfrac12 \textstyle\sum_i w_i^2, \quad \nabla = \lambda w;
              \qquad \Omega_{L1} = \textstyle\sum_i |w_i|, \quad
              \nabla = \lambda\,\mathrm{sign}(w) \;(\text{0 at } w = 0)

    Biases are left out by default: they shift a unit rather than scale an input, so shrinking
    them does not make the function smoother, it only biases it.

    Parameters
    ----------
    params : sequence or mapping of arrays or Tensors
        Any shapes.  As a mapping (``dict(model.named_parameters())``) a bias is a name whose
        last dotted part is ``bias``; as a sequence a bias is a 1-D entry.
    kind : {'none', 'l2', 'l1'}
    lam : float
        :math:`\lambda \ge 0`.
    skip_bias : bool
        Leave biases out of the penalty (their gradient is zero).

    Returns
    -------
    val : float or Tensor
        :math:`\lambda\Omega`; a differentiable Tensor when ``params`` are Tensors, so it can be
        added to a loss.
    grads : list of arrays
        One per entry of ``params`` (mapping order), each of that entry's shape.
    """
    if kind not in PENALTIES:
        raise ValueError(f"penalty kind must be one of {', '.join(PENALTIES)}, got {kind!r}")
    lam = _check_lam(lam)
    if isinstance(params, Mapping):
        items = [(name.rsplit(".", 1)[-1] == "bias", p) for name, p in params.items()]
    else:
        items = [(_raw(p).ndim == 1, p) for p in params]
    val, grads = 0.0, []
    for is_bias, p in items:
        w = _raw(p)
        xp = backend.xp_of(w)
        if kind == "none" or (skip_bias and is_bias):
            grads.append(xp.zeros_like(w))
            continue
        if kind == "l2":
            val = val + (p * p).sum() * (0.5 * lam)
            grads.append(lam * w)
        else:
            val = val + abs(p).sum() * lam
            grads.append(lam * xp.sign(w))
    if not isinstance(val, Tensor):
        val = float(val)
    return val, grads


def l1_prox(w, thresh):
    r"""Soft thresholding, the proximal map of :math:`t\|w\|_1`:
    :math:`\mathrm{sign}(w)\max(|w| - t, 0)` elementwise.

    Every entry with :math:`|w| \le t` becomes exactly 0, which a subgradient step never
    achieves (it overshoots 0 and oscillates around it).

    Parameters
    ----------
    w : array, any shape
    thresh : float or array broadcastable to ``w``
        :math:`t \ge 0` (for a gradient step, :math:`\eta\lambda`).

    Returns
    -------
    array, shape of ``w``
    """
    xp = backend.xp_of(w)
    if float(xp.min(xp.asarray(thresh))) < 0:
        raise ValueError(f"l1_prox: the threshold must be >= 0, got {thresh!r}")
    return xp.sign(w) * xp.maximum(xp.abs(w) - thresh, 0)


def sgd_step(w, grad_j, lr, l2=0.0, l1=0.0, l1_mode="prox"):
    r"""One gradient step on :math:`J + \tfrac{l_2}2\|w\|^2 + l_1\|w\|_1`.

    .. math:: u = w - \eta(\nabla J + l_2 w), \qquad
              w \leftarrow \mathrm{sign}(u)\max(|u| - \eta l_1, 0) \;\; (\text{prox})
              \quad\text{or}\quad w \leftarrow u - \eta l_1 \mathrm{sign}(w) \;\;
              (\text{subgradient})

    The L2 part is the book's :math:`w \leftarrow (1-\eta\lambda)w - \eta\nabla J`.

    Parameters
    ----------
    w, grad_j : array, same shape
    lr : float
        :math:`\eta > 0`.
    l2, l1 : float
        Penalty strengths (>= 0).
    l1_mode : {'prox', 'subgradient'}

    Returns
    -------
    array, shape of ``w``
    """
    if l1_mode not in ("prox", "subgradient"):
        raise ValueError(f"l1_mode must be 'prox' or 'subgradient', got {l1_mode!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    l2, l1 = _check_lam(l2, "l2"), _check_lam(l1, "l1")
    xp = backend.xp_of(w)
    u = w - lr * (grad_j + l2 * w)
    if l1_mode == "subgradient":
        return u - lr * l1 * xp.sign(w)
    return l1_prox(u, lr * l1)


def reg_path_quadratic(H, w_star, lams, kind):
    r"""Minimiser of :math:`\tfrac12(w-w^*)^\top H (w-w^*) + \lambda\Omega(w)` for each λ.

    .. math:: \tilde w_{L2} = (H + \lambda I)^{-1} H w^*, \qquad
              \tilde w_{L1,i} = \mathrm{sign}(w^*_i)\max(|w^*_i| - \lambda / H_{ii}, 0)

    L2 shrinks most along the directions of small curvature; L1 (diagonal ``H`` only, where the
    problem separates per coordinate) sets the weakly curved coordinates exactly to 0.

    Parameters
    ----------
    H : array, shape (d, d)
        Symmetric positive definite (diagonal for ``'l1'``).
    w_star : array, shape (d,)
    lams : float or array, shape (L,)
        :math:`\lambda \ge 0`.
    kind : {'l2', 'l1'}

    Returns
    -------
    ndarray, shape (L, d), or (d,) for a scalar ``lams``
    """
    H = np.asarray(H, np.float64)
    w_star = np.asarray(w_star, np.float64)
    d = w_star.shape[0]
    if w_star.ndim != 1 or H.shape != (d, d):
        raise ValueError(f"H must be (d, d) and w_star (d,); got {H.shape} and {w_star.shape}")
    scalar = np.ndim(lams) == 0
    lam = np.atleast_1d(np.asarray(lams, np.float64))
    if not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError("every lambda must be a finite number >= 0")
    if kind == "l2":
        rhs = H @ w_star
        out = np.stack([np.linalg.solve(H + lj * np.eye(d), rhs) for lj in lam])
    elif kind == "l1":
        diag = np.diag(H)
        if np.any(H != np.diag(diag)) or np.any(diag <= 0):
            raise ValueError("the L1 closed form needs a diagonal H with a positive diagonal")
        out = np.sign(w_star) * np.maximum(np.abs(w_star) - lam[:, None] / diag, 0.0)
    else:
        raise ValueError(f"kind must be 'l2' or 'l1', got {kind!r}")
    return out[0] if scalar else out


# -- early stopping (8.3) ------------------------------------------------------------------------
class EarlyStopping:
    r"""Stop when the validation loss has not improved for ``patience`` evaluations.

    An evaluation *improves* when :math:`v < v_{best} - \delta_{min}`; then the parameters are
    copied as the best so far.  After ``patience`` evaluations in a row without improvement
    :meth:`update` returns True.  The point kept is the minimum of the *validation* curve (the
    book's "where train and test errors are closest" would pick the very first epoch, where
    the gap is smallest).

    Parameters
    ----------
    patience : int
        Evaluations without improvement tolerated (>= 1).
    min_delta : float
        Smallest decrease that counts as an improvement (>= 0).
    restore_best : bool
        Whether :meth:`restore` writes the best parameters back.

    Attributes
    ----------
    best_epoch : int or None
        The epoch (or step) given with the best value.
    best_val : float
    best_params : list of arrays or None
        Copies of the parameters at ``best_epoch``.
    wait : int
        Evaluations since the last improvement.
    stop_epoch : int or None
        The epoch at which :meth:`update` first returned True.
    """

    def __init__(self, patience, min_delta=0.0, restore_best=True):
        if isinstance(patience, bool) or int(patience) != patience or patience < 1:
            raise ValueError(f"patience must be an integer >= 1, got {patience!r}")
        self.patience = int(patience)
        self.min_delta = _check_lam(min_delta, "min_delta")
        self.restore_best = bool(restore_best)
        self.best_epoch = None
        self.best_val = math.inf
        self.best_params = None
        self.wait = 0
        self.stop_epoch = None

    def update(self, epoch, val, params=()) -> bool:
        """Record validation loss ``val`` at ``epoch``; True when training should stop.

        ``params`` (arrays or Tensors) are copied when ``val`` is a new best.  A non-finite
        ``val`` never improves.
        """
        val = float(val)
        if math.isfinite(val) and val < self.best_val - self.min_delta:
            self.best_val, self.best_epoch, self.wait = val, epoch, 0
            self.best_params = [_raw(p).copy() for p in params]
        else:
            self.wait += 1
        stop = self.wait >= self.patience
        if stop and self.stop_epoch is None:
            self.stop_epoch = epoch
        return stop

    def restore(self, params) -> bool:
        """Write the best parameters back into ``params`` in place (if ``restore_best``).

        Returns whether anything was written.
        """
        if not self.restore_best or self.best_params is None:
            return False
        for p, best in zip(params, self.best_params):
            dst = _raw(p)
            dst[...] = backend.xp_of(dst).asarray(best)   # the params may have changed backend
        return True


# -- parameter tying (8.4) -----------------------------------------------------------------------
def tie_penalty(pA, pB, lam=1.0):
    r"""Soft tying :math:`\lambda\,\Omega`, :math:`\Omega = \|\theta_A - \theta_B\|_2^2`.

    .. math:: \nabla_{\theta_A} = 2\lambda(\theta_A - \theta_B) = -\nabla_{\theta_B}

    (Hard sharing is :math:`\lambda \to \infty`: one stored copy used by both models.)

    Parameters
    ----------
    pA, pB : array or Tensor, or sequences of them with matching shapes
    lam : float
        :math:`\lambda \ge 0`.

    Returns
    -------
    val : float or Tensor
        A Tensor when the inputs are Tensors (to add to a loss).
    gA, gB : array or list of arrays
        Matching the structure of ``pA`` and ``pB``.
    """
    lam = _check_lam(lam)
    single = not isinstance(pA, (list, tuple))
    As, Bs = ([pA], [pB]) if single else (list(pA), list(pB))
    if len(As) != len(Bs) or any(_raw(a).shape != _raw(b).shape for a, b in zip(As, Bs)):
        raise ValueError("tie_penalty: theta_A and theta_B must have the same shapes")
    val, gA, gB = 0.0, [], []
    for a, b in zip(As, Bs):
        diff = a - b
        val = val + (diff * diff).sum() * lam
        g = 2.0 * lam * (_raw(a) - _raw(b))
        gA.append(g)
        gB.append(-g)
    if not isinstance(val, Tensor):
        val = float(val)
    return (val, gA[0], gB[0]) if single else (val, gA, gB)


# -- augmentation (8.5) --------------------------------------------------------------------------
def augment(X, rng, noise=0.0, rotate_deg=0.0):
    r"""Randomly perturbed copies of 2-D points: a small rotation, then Gaussian noise.

    .. math:: \tilde x_i = R(\theta_i)\,x_i + \varepsilon_i, \qquad
              \theta_i \sim U[-\theta_{max}, \theta_{max}], \quad
              \varepsilon_i \sim \mathcal N(0, \sigma^2 I)

    Each point gets its own angle about the origin (the 2-D stand-in for rotating an image).
    Nothing is drawn for a zero setting, so turning augmentation off leaves the random stream
    as it was; the same generator state gives the same batch.

    Parameters
    ----------
    X : array, shape (N, 2)
    rng : numpy.random.Generator
    noise : float
        :math:`\sigma \ge 0`.
    rotate_deg : float
        :math:`\theta_{max}` in degrees, in [0, 180].

    Returns
    -------
    array, shape (N, 2), the dtype of ``X``
    """
    noise, rotate_deg = _check_lam(noise, "noise"), _check_lam(rotate_deg, "rotate_deg")
    if rotate_deg > 180:
        raise ValueError(f"rotate_deg must be in [0, 180], got {rotate_deg:g}")
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"augment expects points of shape (N, 2), got {X.shape}")
    out = X.astype(np.float64)
    if rotate_deg > 0:
        a = np.deg2rad(rng.uniform(-rotate_deg, rotate_deg, len(X)))
        c, s = np.cos(a), np.sin(a)
        out = np.stack([c * out[:, 0] - s * out[:, 1], s * out[:, 0] + c * out[:, 1]], 1)
    if noise > 0:
        out = out + rng.normal(0.0, noise, out.shape)
    return out.astype(X.dtype)


# -- dropout (8.6) -------------------------------------------------------------------------------
def dropout_scales(drop_rate, mode="inverted") -> tuple[float, float]:
    r"""Factors applied to the kept units in training and to every unit at evaluation.

    With keep probability :math:`q = 1 - \text{drop\_rate}`:

    ============================  ==========  ==========
    mode                          training    evaluation
    ============================  ==========  ==========
    inverted                      :math:`1/q`  1
    classic                       1           :math:`q`
    classic_no_test_scaling       1           1 (a bug: evaluation is :math:`1/q` too big)
    ============================  ==========  ==========

    In the first two :math:`E[\tilde h_{train}] = h_{eval}`, so the next layer sees the same
    scale in both phases.
    """
    if not 0.0 <= float(drop_rate) < 1.0:
        raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate!r}")
    if mode not in DROPOUT_MODES:
        raise ValueError(f"dropout mode must be one of {', '.join(DROPOUT_MODES)}, "
                         f"got {mode!r}")
    keep = 1.0 - float(drop_rate)
    if mode == "inverted":
        return 1.0 / keep, 1.0
    return 1.0, (keep if mode == "classic" else 1.0)


def dropout(H, drop_rate, rng, train=True, mode="inverted"):
    r"""Dropout on an array: :math:`\tilde h = s\, r \odot h`, :math:`r_j \sim
    \mathrm{Bernoulli}(1 - \text{drop\_rate})`, scale :math:`s` from :func:`dropout_scales`.

    Parameters
    ----------
    H : array, any shape
    drop_rate : float
        Probability of zeroing a unit, in [0, 1).
    rng : numpy.random.Generator
        Masks are drawn with NumPy (then moved to ``H``'s backend), so a seed fixes them.
    train : bool
        Training draws a mask; evaluation only scales.
    mode : {'inverted', 'classic', 'classic_no_test_scaling'}

    Returns
    -------
    H_out : array, shape of ``H``
    mask : bool array, shape of ``H`` (all True at evaluation)
    """
    s_train, s_eval = dropout_scales(drop_rate, mode)
    xp = backend.xp_of(H)
    if not train:
        return H * s_eval, xp.ones(H.shape, bool)
    mask = xp.asarray(rng.random(H.shape) >= drop_rate)
    return H * mask * s_train, mask


class ModeDropout(Dropout):
    """:class:`~engine.nn.layers.Dropout` with a choice of scaling convention (see
    :func:`dropout_scales`); ``mode='inverted'`` is the plain layer."""

    def __init__(self, p=0.5, mode="inverted", generator=None):
        super().__init__(p, generator)
        dropout_scales(p, mode)  # validates mode
        self.mode = mode

    def forward(self, x):
        if self.p == 0:
            self.last_mask = None
            return x
        s_train, s_eval = dropout_scales(self.p, self.mode)
        if not self.training:
            self.last_mask = None
            return x if s_eval == 1.0 else x * s_eval
        # F.dropout scales by 1/q; undo that for the classic conventions.
        out = F.dropout(x, self.p, True, self.generator)
        self.last_mask = out.data != 0
        return out if s_train != 1.0 else out * (1.0 - self.p)

    def extra_repr(self):
        return f"p={self.p}, mode={self.mode}"


# -- adversarial examples (8.7) ------------------------------------------------------------------
def fgsm(model_fn, X, y, eps, loss_fn, return_grad=False):
    r"""Fast gradient sign method: :math:`x' = x + \epsilon\,\mathrm{sign}(\nabla_x J)`.

    The first-order worst case inside the box :math:`\|x' - x\|_\infty \le \epsilon`.  The
    input gradient comes from the autodiff core; the model's parameter gradients are not
    touched.

    Parameters
    ----------
    model_fn : callable
        Tensor ``(N, d)`` -> Tensor of outputs (logits).
    X : array, shape (N, d)
    y : array, shape (N,) or what ``loss_fn`` expects
    eps : float
        :math:`\epsilon \ge 0`.
    loss_fn : callable
        ``loss_fn(outputs, y)`` -> scalar Tensor :math:`J` (a mean over the batch scales each
        row's gradient by :math:`1/N`, which leaves its sign unchanged).
    return_grad : bool
        Also return :math:`\nabla_x J`.

    Returns
    -------
    X_adv : array, shape (N, d), ``X``'s dtype and backend
    grad_x : array, shape (N, d), only with ``return_grad``
    """
    eps = _check_lam(eps, "eps")
    xp = backend.xp_of(X)
    x = Tensor(xp.asarray(X), requires_grad=True)
    loss = loss_fn(model_fn(x), y)
    g = grad(loss, [x])[0].data
    X_adv = (X + eps * xp.sign(g)).astype(X.dtype)
    return (X_adv, g) if return_grad else X_adv


# -- readouts ------------------------------------------------------------------------------------
def boundary_length(labels, h) -> float:
    r"""Approximate total length of the class boundaries in a grid of predicted labels.

    Counts neighbouring cells with different labels along rows and columns and applies the
    Cauchy-Crofton correction: a curve of length :math:`L` crosses axis-aligned grid lines
    :math:`(4/\pi) L / h` times on average over orientations, so
    :math:`L \approx (\pi/4)\, h \cdot \#\text{crossings}`.

    Parameters
    ----------
    labels : array, shape (n, m)
        Predicted class per grid cell.
    h : float
        Grid spacing.

    Returns
    -------
    float
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be a 2-D grid, got shape {labels.shape}")
    crossings = (np.count_nonzero(labels[:, 1:] != labels[:, :-1])
                 + np.count_nonzero(labels[1:, :] != labels[:-1, :]))
    return float(math.pi / 4 * h * crossings)
