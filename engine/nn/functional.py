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

import numpy as np

from engine import backend
from engine.autodiff.ops import conv as _conv
from engine.autodiff.ops.arithmetic import Linear
from engine.autodiff.ops.elementwise import clip, exp, log, log1p, relu, sigmoid, tanh, where
from engine.autodiff.ops.reductions import log_softmax as _log_softmax
from engine.autodiff.ops.reductions import softmax as _softmax
from engine.autodiff.tensor import Tensor, _lift, _wrap

__all__ = [
    "linear", "relu", "leaky_relu", "elu", "softplus", "sigmoid", "tanh", "softmax",
    "log_softmax", "mse_loss", "l1_loss", "nll_loss", "cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "prelu", "dropout",
    "huber_loss", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "global_avg_pool2d",
    "scaled_dot_product_attention", "layer_norm", "embedding", "sinusoidal_positions",
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


def prelu(input, weight):
    r""":math:`x` for :math:`x > 0`, else :math:`a x` with a *learned* slope ``weight``
    (shape ``(1,)`` or ``(C,)`` over the channel axis 1), so :math:`\partial f/\partial a = x`
    on the negative side."""
    x = _t(input)
    a = _t(weight, x)
    if a.data.ndim != 1:
        raise ValueError(f"prelu: weight must be 1-D, got shape {_shape(a)}")
    if a.data.shape[0] != 1:
        if x.data.ndim < 2 or x.data.shape[1] != a.data.shape[0]:
            raise ValueError(f"prelu: {a.data.shape[0]} slopes need input channel axis 1 of "
                             f"that size, got input shape {_shape(x)}")
        a = a.reshape((-1,) + (1,) * (x.data.ndim - 2))
    return where(x.data > 0, x, x * a)


def dropout(input, p=0.5, training=True, generator=None):
    r"""Inverted dropout: zero each element with probability ``p`` and scale the survivors by
    :math:`1/(1-p)` during training, so :math:`E[\tilde h] = h` and evaluation needs no change.

    ``generator`` is a ``numpy.random.Generator`` (seeded masks are reproducible); the mask is
    drawn with NumPy and moved to the input's backend.  Identity when not ``training`` or
    ``p == 0``.
    """
    x = _t(input)
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"dropout: p (the drop rate) must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    # Masks come from a NumPy Generator on every backend, so a seed gives the same mask.
    rng = generator if generator is not None else np.random.default_rng()
    keep = rng.random(x.data.shape) >= p
    mask = backend.xp_of(x.data).asarray(keep.astype(x.data.dtype) / (1.0 - p))
    return x * _wrap(mask)


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


def huber_loss(input, target, reduction="mean", delta=1.0):
    r"""Huber loss: :math:`\tfrac12 r^2` for :math:`|r| \le \delta`, else
    :math:`\delta(|r| - \tfrac12\delta)`, with :math:`r = x - y`; its gradient is
    :math:`\mathrm{clip}(r, \pm\delta)`."""
    x = _t(input)
    y = _target(target, x)
    _check_reduction(reduction, "huber_loss")
    _check_float(x, "huber_loss")
    _check_same_shape(x, y, "huber_loss")
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    r = x - y
    a = abs(r)
    quad = r * r * 0.5
    lin = (a - 0.5 * delta) * delta
    return _reduce(where(a.data <= delta, quad, lin), reduction)


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


# -- convolution and pooling -------------------------------------------------------------------
def _tuple(v, d, what, fn, low):
    t = (v,) * d if isinstance(v, (int, np.integer)) else tuple(v)
    if len(t) != d or not all(isinstance(i, (int, np.integer)) and i >= low for i in t):
        raise ValueError(f"{fn}: {what} must be an integer >= {low} or {d} of them, got {v!r}")
    return tuple(int(i) for i in t)


def _conv_args(x, w, d, fn, stride, padding, dilation, groups):
    x, w = _t(x), _t(w)
    _check_float(x, fn)
    if x.data.ndim != d + 2:
        raise ValueError(f"{fn}: input must be {d + 2}-D (N, C, {', '.join('DHW'[3 - d:])}), "
                         f"got shape {_shape(x)}")
    if w.data.ndim != d + 2:
        raise ValueError(f"{fn}: weight must be {d + 2}-D (out_channels, in_channels/groups, "
                         f"{', '.join('k' * d)}), got shape {_shape(w)}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive integer, got {groups!r}")
    return (x, w, _tuple(stride, d, "stride", fn, 1), _tuple(padding, d, "padding", fn, 0),
            _tuple(dilation, d, "dilation", fn, 1), int(groups))


def _add_channel_bias(y, bias, fn):
    b = _t(bias, y)
    if _shape(b) != (y.data.shape[1],):
        raise ValueError(f"{fn}: bias must have shape ({y.data.shape[1]},), got {_shape(b)}")
    return y + b.reshape((1, -1) + (1,) * (y.data.ndim - 2))


def _convnd(d, fn, input, weight, bias, stride, padding, dilation, groups):
    x, w, s, p, dl, g = _conv_args(input, weight, d, fn, stride, padding, dilation, groups)
    c, f = x.data.shape[1], w.data.shape[0]
    if c % g or f % g or w.data.shape[1] != c // g:
        raise ValueError(f"{fn}: input has {c} channels and weight shape {_shape(w)} with "
                         f"groups={g}; need in_channels and out_channels divisible by groups "
                         f"and weight.shape[1] == in_channels/groups = {c // g if g else c}")
    out = [_conv.conv_out_size(x.data.shape[2 + i], w.data.shape[2 + i], s[i], p[i], dl[i])
           for i in range(d)]
    if min(out) < 1:
        raise ValueError(f"{fn}: the kernel {tuple(w.data.shape[2:])} (dilation {dl}) does "
                         f"not fit the padded input {tuple(x.data.shape[2:])} (padding {p}); "
                         f"the output size would be {tuple(out)}")
    y = _conv.ConvNd.apply(x, w, stride=s, padding=p, dilation=dl, groups=g)
    return y if bias is None else _add_channel_bias(y, bias, fn)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    r"""1-D cross-correlation: x ``(N, C, L)``, weight ``(F, C/groups, k)`` -> ``(N, F, O)``."""
    return _convnd(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    r"""2-D cross-correlation (PyTorch's ``conv2d``):

    .. math:: y_{n,f,i,j} = b_f + \sum_{c,m,l} x_{n,c,\,is+md,\,js+ld}\, w_{f,c,m,l}

    x ``(N, C, H, W)``, weight ``(F, C/groups, kh, kw)`` -> ``(N, F, OH, OW)`` with
    :math:`o = \lfloor (n + 2p - d(k-1) - 1)/s \rfloor + 1`.  ``groups = C`` is a depthwise
    convolution.
    """
    return _convnd(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    r"""3-D cross-correlation: x ``(N, C, D, H, W)``, weight ``(F, C/groups, kd, kh, kw)``."""
    return _convnd(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def _conv_transposend(d, fn, input, weight, bias, stride, padding, output_padding, groups,
                      dilation):
    x, w, s, p, dl, g = _conv_args(input, weight, d, fn, stride, padding, dilation, groups)
    op = _tuple(output_padding, d, "output_padding", fn, 0)
    c = x.data.shape[1]
    if c % g or w.data.shape[0] != c:
        raise ValueError(f"{fn}: weight must have shape (in_channels={c}, out_channels/groups,"
                         f" k...), got {_shape(w)} with groups={g}")
    if any(op[i] >= max(s[i], dl[i]) for i in range(d)):
        raise ValueError(f"{fn}: output_padding {op} must be smaller than stride {s} or "
                         f"dilation {dl}")
    out = tuple(_conv.conv_transpose_out_size(x.data.shape[2 + i], w.data.shape[2 + i], s[i],
                                              p[i], dl[i], op[i]) for i in range(d))
    if min(out) < 1:
        raise ValueError(f"{fn}: padding {p} leaves no output (size {out})")
    x_shape = (x.data.shape[0], w.data.shape[1] * g) + out
    y = _conv.ConvNdInputGrad.apply(x, w, x_shape=x_shape, stride=s, padding=p, dilation=dl,
                                    groups=g)
    return y if bias is None else _add_channel_bias(y, bias, fn)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """Transposed 1-D convolution (the adjoint of ``conv1d``): weight ``(C_in, C_out/g, k)``."""
    return _conv_transposend(1, "conv_transpose1d", input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    r"""Transposed 2-D convolution, PyTorch's ``conv_transpose2d``: the input gradient of
    ``conv2d``, i.e. each input pixel scatters ``x_{ij} K`` at ``(i s, j s)``.

    x ``(N, C_in, H, W)``, weight ``(C_in, C_out/groups, kh, kw)``; output size
    :math:`(n-1)s - 2p + d(k-1) + \text{output\_padding} + 1`.
    """
    return _conv_transposend(2, "conv_transpose2d", input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


def _pool_args(x, kernel_size, stride, padding, d, fn):
    x = _t(x)
    _check_float(x, fn)
    if x.data.ndim != d + 2:
        raise ValueError(f"{fn}: input must be {d + 2}-D (N, C, ...), got shape {_shape(x)}")
    k = _tuple(kernel_size, d, "kernel_size", fn, 1)
    s = k if stride is None else _tuple(stride, d, "stride", fn, 1)
    p = _tuple(padding, d, "padding", fn, 0)
    if any(p[i] > k[i] // 2 for i in range(d)):
        raise ValueError(f"{fn}: padding {p} must be at most half the kernel size {k}")
    out = [_conv.conv_out_size(x.data.shape[2 + i], k[i], s[i], p[i]) for i in range(d)]
    if min(out) < 1:
        raise ValueError(f"{fn}: window {k} does not fit the input {_shape(x)[2:]}")
    return x, k, s, p


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1):
    x, k, s, p = _pool_args(input, kernel_size, stride, padding, 1, "max_pool1d")
    return _conv.MaxPoolNd.apply(x, ksize=k, stride=s, padding=p,
                                 dilation=_tuple(dilation, 1, "dilation", "max_pool1d", 1))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1):
    r"""Max over each ``kernel_size`` window (stride defaults to the window, as in PyTorch);
    the gradient flows only to each window's maximum."""
    x, k, s, p = _pool_args(input, kernel_size, stride, padding, 2, "max_pool2d")
    return _conv.MaxPoolNd.apply(x, ksize=k, stride=s, padding=p,
                                 dilation=_tuple(dilation, 2, "dilation", "max_pool2d", 1))


def avg_pool1d(input, kernel_size, stride=None, padding=0):
    x, k, s, p = _pool_args(input, kernel_size, stride, padding, 1, "avg_pool1d")
    return _conv.AvgPoolNd.apply(x, ksize=k, stride=s, padding=p)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    r"""Mean over each window; the gradient is :math:`g / (k_h k_w)` on every tap."""
    x, k, s, p = _pool_args(input, kernel_size, stride, padding, 2, "avg_pool2d")
    return _conv.AvgPoolNd.apply(x, ksize=k, stride=s, padding=p)


def global_avg_pool2d(input):
    r"""Global average pooling :math:`y_{n,c} = \frac{1}{HW}\sum_{i,j} x_{n,c,i,j}`:
    ``(N, C, H, W)`` -> ``(N, C)``."""
    x = _t(input)
    if x.data.ndim != 4:
        raise ValueError(f"global_avg_pool2d: input must be 4-D (N, C, H, W), got {_shape(x)}")
    return x.mean(axis=(2, 3))


# -- attention, normalisation, embeddings ------------------------------------------------------
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, need_weights=False,
                                 generator=None):
    r"""Attention :math:`\mathrm{softmax}\big(QK^\top / \sqrt{d_k} + M\big)\,V` (PyTorch's
    signature; the book omits the square root, see the spec errata).

    Parameters
    ----------
    query : Tensor, shape ``(..., L, d_k)``
    key : Tensor, shape ``(..., S, d_k)``
    value : Tensor, shape ``(..., S, d_v)``
    attn_mask : array or Tensor, broadcastable to ``(..., L, S)``, optional
        Boolean (``True`` = may attend, as in PyTorch) or additive float (``-inf`` blocks).
    is_causal : bool
        Query ``i`` sees keys ``j <= i`` only: the future gets exactly zero weight.
    scale : float, optional
        Defaults to :math:`1/\sqrt{d_k}`.
    need_weights : bool
        Also return the attention weights ``(..., L, S)`` (each row sums to 1).
    """
    q, k, v = _t(query), _t(key), _t(value)
    _check_float(q, "scaled_dot_product_attention", "query")
    if q.data.ndim < 2 or k.data.ndim < 2 or v.data.ndim < 2:
        raise ValueError("scaled_dot_product_attention: query, key and value need at least "
                         "2 dimensions (..., sequence, features)")
    if q.data.shape[-1] != k.data.shape[-1] or k.data.shape[-2] != v.data.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: query {_shape(q)}, key {_shape(k)} "
                         f"and value {_shape(v)} must share d_k (query/key last axis) and "
                         "the key/value sequence length")
    d_k = q.data.shape[-1]
    s = (1.0 / np.sqrt(d_k)) if scale is None else float(scale)
    scores = (q @ k.swapaxes(-1, -2)) * s
    xp = backend.xp_of(scores.data)
    L, S = scores.data.shape[-2:]
    if is_causal:
        causal = xp.tril(xp.ones((L, S), dtype=bool))
        scores = where(causal, scores, -np.inf)
    if attn_mask is not None:
        m = attn_mask.data if isinstance(attn_mask, Tensor) else xp.asarray(attn_mask)
        if m.dtype == bool:
            scores = where(m, scores, -np.inf)
        else:
            scores = scores + _wrap(m.astype(scores.data.dtype))
    weights = _softmax(scores, -1)
    attn = dropout(weights, dropout_p, dropout_p > 0, generator) if dropout_p else weights
    out = attn @ v
    return (out, weights) if need_weights else out


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    r"""Layer normalisation over the trailing ``normalized_shape`` axes:
    :math:`y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}\,\gamma + \beta` with the biased
    variance (as PyTorch)."""
    x = _t(input)
    _check_float(x, "layer_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
        tuple(normalized_shape)
    if tuple(x.data.shape[-len(shape):]) != shape:
        raise ValueError(f"layer_norm: input shape {_shape(x)} does not end with "
                         f"normalized_shape {shape}")
    axes = tuple(range(x.data.ndim - len(shape), x.data.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    d = x - mu
    var = (d * d).mean(axis=axes, keepdims=True)
    y = d * ((var + eps) ** -0.5)
    if weight is not None:
        y = y * _t(weight, x)
    if bias is not None:
        y = y + _t(bias, x)
    return y


def embedding(input, weight):
    r"""Rows of ``weight (num_embeddings, dim)`` picked by integer ``input`` (any shape):
    output ``input.shape + (dim,)``; the gradient scatter-adds into the picked rows."""
    w = _t(weight)
    xp = backend.xp_of(w.data)
    idx = input.data if isinstance(input, Tensor) else xp.asarray(input)
    if idx.dtype.kind not in "iu":
        raise ValueError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    n = w.data.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise ValueError(f"embedding: indices must be in [0, {n - 1}], got "
                         f"{int(idx.min())}..{int(idx.max())}")
    return w[idx]


def sinusoidal_positions(length: int, dim: int, base: float = 10000.0):
    r"""The transformer's fixed positional encoding, a NumPy ``(length, dim)`` array:
    :math:`PE_{p,2i} = \sin(p/b^{2i/d})`, :math:`PE_{p,2i+1} = \cos(p/b^{2i/d})`."""
    if length < 1 or dim < 2:
        raise ValueError(f"sinusoidal_positions needs length >= 1 and dim >= 2, got "
                         f"{length}, {dim}")
    pos = np.arange(length)[:, None]
    freq = base ** (-np.arange(0, dim, 2) / dim)
    pe = np.zeros((length, dim))
    pe[:, 0::2] = np.sin(pos * freq)
    pe[:, 1::2] = np.cos(pos * freq[: dim // 2])
    return pe.astype(np.float32)
