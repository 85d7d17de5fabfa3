r"""Stateless neural-network functions with PyTorch's names: ``import engine.nn.functional as F``.

Everything here is a composite of the autodiff primitives (``linear`` wraps the ``Linear``
primitive), so gradients of any order come for free.  Inputs are validated: a wrong shape or
dtype raises ``ValueError`` saying what was passed and what is allowed.

Numerical care:

* ``softmax`` / ``log_softmax`` / ``cross_entropy`` subtract the row maximum first, so
  logits of 1000 do not overflow;
* ``sigmoid`` never evaluates ``exp`` of a positive number;
* ``binary_cross_entropy_with_logits`` uses
  :math:`\max(x,0) - xy + \log(1+e^{-|x|})`, finite for any logit.
"""
from __future__ import annotations

from engine import backend
from engine.autodiff.ops.arithmetic import Linear
from engine.autodiff.ops.elementwise import (
    clip, exp, log, log1p, relu, sigmoid, tanh, where)
from engine.autodiff.ops.reductions import log_softmax as _log_softmax
from engine.autodiff.ops.reductions import softmax as _softmax
from engine.autodiff.tensor import Tensor, _lift, _wrap

__all__ = [
    "linear", "relu", "leaky_relu", "elu", "softplus", "sigmoid", "tanh", "softmax",
    "log_softmax", "mse_loss", "l1_loss", "nll_loss", "cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
]

_REDUCTIONS = ("mean", "sum", "none")


def _t(x, like=None):
    if isinstance(x, Tensor):
        return x
    return _lift(x, like) if like is not None else Tensor(x)


def _target(y, x):
    """Targets given as arrays or lists take the input's float dtype.

    Data made with NumPy is float64 by default; promoting a float32 model's whole loss (and
    its backward) to float64 because of the target would be a silent slowdown.
    """
    if isinstance(y, Tensor):
        return y
    arr = backend.xp_of(x.data).asarray(y)
    if arr.dtype.kind in "fiub" and x.data.dtype.kind == "f" and arr.dtype != x.data.dtype:
        arr = arr.astype(x.data.dtype)
    return _wrap(arr)


def _shape(t):
    return tuple(t.data.shape)


def _check_float(t, fn, what="input"):
    if t.data.dtype.kind != "f":
        raise ValueError(f"{fn}: {what} must be a floating-point tensor, got dtype "
                         f"{t.data.dtype}")


def _check_reduction(reduction, fn):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, "
                         f"got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_dim(x, dim, fn):
    nd = x.data.ndim
    if not -max(nd, 1) <= dim < max(nd, 1):
        raise ValueError(f"{fn}: dim {dim} is out of range for an input of shape {_shape(x)}")


# -- layers ------------------------------------------------------------------------------------
def linear(input, weight, bias=None):
    r"""Affine map :math:`y = x W^\top + b`.

    Parameters
    ----------
    input : Tensor, shape ``(..., in_features)``
    weight : Tensor, shape ``(out_features, in_features)`` (PyTorch layout)
    bias : Tensor, shape ``(out_features,)``, optional

    Returns
    -------
    Tensor, shape ``(..., out_features)``
    """
    x = _t(input)
    w = _t(weight)
    if w.data.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{_shape(w)}")
    if x.data.ndim == 0 or x.data.shape[-1] != w.data.shape[1]:
        raise ValueError(f"linear: input shape {_shape(x)} does not match weight shape "
                         f"{_shape(w)}: the input's last dimension must be in_features = "
                         f"{w.data.shape[1]}")
    if bias is None:
        return Linear.apply(x, w)
    b = _t(bias, w)
    if _shape(b) != (w.data.shape[0],):
        raise ValueError(f"linear: bias must have shape ({w.data.shape[0]},) to match weight "
                         f"{_shape(w)}, got {_shape(b)}")
    return Linear.apply(x, w, b)


# -- activations -------------------------------------------------------------------------------
def leaky_relu(input, negative_slope=0.01):
    r""":math:`x` for :math:`x > 0`, else :math:`\alpha x` (``negative_slope`` :math:`\alpha`)."""
    x = _t(input)
    return where(x.data > 0, x, x * negative_slope)


def elu(input, alpha=1.0):
    r""":math:`x` for :math:`x > 0`, else :math:`\alpha(e^{x} - 1)`.

    ``exp`` is taken of :math:`\min(x, 0)` so large positive inputs cannot overflow in the
    branch that ``where`` discards.
    """
    x = _t(input)
    neg = (exp(clip(x, max=0.0)) - 1.0) * alpha
    return where(x.data > 0, x, neg)


def softplus(input, beta=1.0):
    r""":math:`\frac{1}{\beta}\log(1 + e^{\beta x})`, computed as
    :math:`\max(z,0) + \log(1+e^{-|z|})` over :math:`\beta`, :math:`z = \beta x` (no overflow)."""
    x = _t(input)
    z = x * beta if beta != 1 else x
    out = relu(z) + log1p(exp(-abs(z)))
    return out * (1.0 / beta) if beta != 1 else out


def softmax(input, dim=-1):
    r"""Softmax along ``dim``: :math:`e^{x_i - m} / \sum_j e^{x_j - m}`, :math:`m = \max_j x_j`."""
    x = _t(input)
    _check_float(x, "softmax")
    _check_dim(x, dim, "softmax")
    return _softmax(x, dim)


def log_softmax(input, dim=-1):
    r"""Log-softmax along ``dim``: :math:`z_i - \log\sum_j e^{z_j}`, :math:`z = x - \max x`."""
    x = _t(input)
    _check_float(x, "log_softmax")
    _check_dim(x, dim, "log_softmax")
    return _log_softmax(x, dim)


# -- losses ------------------------------------------------------------------------------------
def _check_same_shape(x, y, fn):
    if _shape(x) != _shape(y):
        raise ValueError(
            f"{fn}: input shape {_shape(x)} and target shape {_shape(y)} differ; they must be "
            "equal (broadcasting them, e.g. (N, 1) against (N,), silently builds an (N, N) "
            "loss); reshape one of them")


def mse_loss(input, target, reduction="mean"):
    r"""Mean squared error :math:`\frac1n\sum_i (x_i - y_i)^2` (``reduction='mean'``).

    ``input`` and ``target`` must have the same shape; ``reduction`` is ``'mean'``, ``'sum'``
    or ``'none'`` (elementwise squared errors).
    """
    x = _t(input)
    y = _target(target, x)
    _check_reduction(reduction, "mse_loss")
    _check_float(x, "mse_loss")
    _check_same_shape(x, y, "mse_loss")
    d = x - y
    return _reduce(d * d, reduction)


def l1_loss(input, target, reduction="mean"):
    r"""Mean absolute error :math:`\frac1n\sum_i |x_i - y_i|`."""
    x = _t(input)
    y = _target(target, x)
    _check_reduction(reduction, "l1_loss")
    _check_float(x, "l1_loss")
    _check_same_shape(x, y, "l1_loss")
    return _reduce(abs(x - y), reduction)


def _class_targets(logp, target, fn, ignore_index):
    """Validate integer class targets; return (one-hot mask, valid mask) as raw arrays."""
    xp = backend.xp_of(logp.data)
    t = target.data if isinstance(target, Tensor) else xp.asarray(target)
    shape = _shape(logp)
    c = shape[1] if len(shape) >= 2 else shape[0]
    want = (shape[0],) + shape[2:] if len(shape) >= 2 else ()
    if tuple(t.shape) != want:
        raise ValueError(f"{fn}: for input of shape {shape} (classes on dim "
                         f"{1 if len(shape) >= 2 else 0}) class-index targets must have shape "
                         f"{want}, got {tuple(t.shape)}")
    valid = t != ignore_index
    tv = xp.where(valid, t, 0)
    lo, hi = xp.stack([tv.min(), tv.max()]).tolist() if t.size else (0, 0)  # one sync
    if lo < 0 or hi >= c:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{fn}: target class {bad} is out of range; with {c} classes the "
                         f"allowed values are 0..{c - 1} (or ignore_index={ignore_index})")
    cls_axis = 1 if len(shape) >= 2 else 0
    ar = xp.arange(c).reshape((c,) + (1,) * (len(shape) - cls_axis - 1))
    onehot = xp.expand_dims(tv, cls_axis) == ar
    onehot &= xp.expand_dims(valid, cls_axis)   # ignored rows pick nothing (no data branch)
    return onehot, valid, tv


def nll_loss(input, target, weight=None, reduction="mean", ignore_index=-100):
    r"""Negative log-likelihood :math:`-\,w_{y_n}\,\ell_{n,y_n}` of log-probabilities.

    Parameters
    ----------
    input : Tensor, shape ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)``
        Log-probabilities (e.g. from :func:`log_softmax`).
    target : int Tensor or array, shape ``(N,)``, ``()`` or ``(N, d1, ...)``
        Class indices in ``0..C-1`` (entries equal to ``ignore_index`` are skipped).
    weight : Tensor or array, shape ``(C,)``, optional
        Per-class weights; ``'mean'`` then divides by :math:`\sum_n w_{y_n}` (as PyTorch).
    reduction : {'mean', 'sum', 'none'}
    """
    lp = _t(input)
    _check_reduction(reduction, "nll_loss")
    _check_float(lp, "nll_loss")
    if lp.data.ndim == 0:
        raise ValueError("nll_loss: input must have a class dimension, got a scalar")
    target = target.data if isinstance(target, Tensor) else backend.xp_of(lp.data).asarray(target)
    tdt = target.dtype
    if tdt.kind not in "iu":
        raise ValueError(f"nll_loss: target must hold integer class indices, got dtype {tdt}")
    onehot, valid, tv = _class_targets(lp, target, "nll_loss", ignore_index)
    cls_axis = 1 if lp.data.ndim >= 2 else 0
    xp = backend.xp_of(lp.data)
    dt = lp.data.dtype
    if weight is not None:
        w = _raw_weight(weight, lp, "nll_loss")
        wn = xp.where(valid, w[tv], 0).astype(dt)        # weight of each sample's class
        picked = (lp * _wrap(onehot * xp.expand_dims(wn, cls_axis))).sum(axis=cls_axis)
        denom = wn.sum()
    else:
        picked = (lp * _wrap(onehot)).sum(axis=cls_axis)
        denom = valid.sum()
    loss = -picked
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total * _wrap(xp.asarray(1.0 / float(denom) if float(denom) else float("nan"),
                                    dtype=dt))


def _raw_weight(weight, logits, fn):
    xp = backend.xp_of(logits.data)
    w = weight.data if isinstance(weight, Tensor) else xp.asarray(weight)
    c = logits.data.shape[1] if logits.data.ndim >= 2 else logits.data.shape[0]
    if tuple(w.shape) != (c,):
        raise ValueError(f"{fn}: weight must have shape ({c},), one per class, got "
                         f"{tuple(w.shape)}")
    return w.astype(logits.data.dtype, copy=False)


def cross_entropy(input, target, weight=None, reduction="mean", ignore_index=-100):
    r"""Softmax cross-entropy of logits, :math:`-\log \mathrm{softmax}(x_n)_{y_n}`.

    Parameters
    ----------
    input : Tensor, shape ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)``
        Unnormalised logits (classes on dim 1, or dim 0 for a single sample).
    target : Tensor or array
        Either integer class indices of shape ``(N,)`` (``()``, ``(N, d1, ...)``), or class
        probabilities of the same shape and floating dtype as ``input``:
        :math:`-\sum_c p_c \log \mathrm{softmax}(x)_c`.
    weight : Tensor or array, shape ``(C,)``, optional
        Per-class weights.  With class indices and ``'mean'``, divides by the summed weights
        of the targets (PyTorch's rule); with probabilities, by ``N``.
    reduction : {'mean', 'sum', 'none'}
    ignore_index : int
        Class-index targets equal to this contribute nothing (and are not counted).

    Returns
    -------
    Tensor
        A scalar, or shape ``(N, ...)`` for ``reduction='none'``.
    """
    x = _t(input)
    _check_reduction(reduction, "cross_entropy")
    _check_float(x, "cross_entropy", "input (logits)")
    if x.data.ndim == 0:
        raise ValueError("cross_entropy: input must be logits of shape (N, C) or (C,), got a "
                         "scalar")
    traw = target.data if isinstance(target, Tensor) else None
    if traw is None:
        traw = backend.xp_of(x.data).asarray(target)
    kind = traw.dtype.kind
    cls_axis = 1 if x.data.ndim >= 2 else 0
    logp = _log_softmax(x, cls_axis)
    if kind in "iu":
        return nll_loss(logp, traw, weight=weight, reduction=reduction,
                        ignore_index=ignore_index)
    if kind == "f":
        if tuple(traw.shape) != _shape(x):
            raise ValueError(f"cross_entropy: probability targets must have the input's shape "
                             f"{_shape(x)}, got {tuple(traw.shape)}; for class indices pass an "
                             "integer tensor of shape (N,)")
        p = target if isinstance(target, Tensor) else _wrap(traw.astype(x.data.dtype))
        if weight is not None:
            w = _raw_weight(weight, x, "cross_entropy")
            shape = (1,) * cls_axis + (w.shape[0],) + (1,) * (x.data.ndim - cls_axis - 1)
            p = p * _wrap(w.reshape(shape))
        return _reduce(-(p * logp).sum(axis=cls_axis), reduction)
    raise ValueError(f"cross_entropy: target must be integer class indices (shape (N,)) or "
                     f"float probabilities (shape {_shape(x)}), got dtype {traw.dtype}")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    r"""Binary cross-entropy of logits, stable for any :math:`x`.

    .. math:: \ell = -w\,[\,p\,y \log\sigma(x) + (1-y)\log(1-\sigma(x))\,]
              = w\,[\,(1-y)\,x + (1 + (p-1)\,y)\,(\log(1+e^{-|x|}) + \max(-x, 0))\,]

    with ``pos_weight`` :math:`p` (1 when omitted).  ``target`` has ``input``'s shape, values
    in :math:`[0, 1]`.
    """
    x = _t(input)
    y = _target(target, x)
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    _check_float(x, "binary_cross_entropy_with_logits")
    _check_same_shape(x, y, "binary_cross_entropy_with_logits")
    soft = log1p(exp(-abs(x)))                   # log(1 + e^{-|x|}) <= log 2
    if pos_weight is None:
        loss = relu(x) - x * y + soft
    else:
        pw = _t(pos_weight, x)
        loss = (1.0 - y) * x + (1.0 + (pw - 1.0) * y) * (soft + relu(-x))
    if weight is not None:
        loss = loss * _t(weight, x)
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    r"""Binary cross-entropy of probabilities :math:`-[y\log p + (1-y)\log(1-p)]`.

    ``p`` is clipped to ``[tiny, 1 - eps]`` of its dtype before the logs, so ``p = 0`` or 1
    give a large finite loss instead of ``inf`` (PyTorch clamps the logs at -100).  Prefer
    :func:`binary_cross_entropy_with_logits` for training.
    """
    p = _t(input)
    y = _target(target, p)
    _check_reduction(reduction, "binary_cross_entropy")
    _check_float(p, "binary_cross_entropy")
    _check_same_shape(p, y, "binary_cross_entropy")
    xp = backend.xp_of(p.data)
    if p.data.size and (bool((p.data < 0).any()) or bool((p.data > 1).any())):
        raise ValueError("binary_cross_entropy: input must be probabilities in [0, 1]; for "
                         "logits use binary_cross_entropy_with_logits")
    fi = xp.finfo(p.data.dtype)
    lo, hi = float(fi.tiny), 1.0 - float(fi.eps)
    pc = clip(p, lo, hi)
    loss = -(y * log(pc) + (1.0 - y) * log(1.0 - pc))
    if weight is not None:
        loss = loss * _t(weight, p)
    return _reduce(loss, reduction)
