r"""Reductions along axes, and the composites built on them (var, logsumexp, softmax).

All reductions take NumPy's ``axis=`` / ``keepdims=`` and PyTorch's ``dim=`` / ``keepdim=``;
``axis`` may be None (all axes), an int (negative counts from the end) or a tuple.

Backward: the gradient :math:`g` (reduced shape) is reshaped to keep the reduced axes with
size 1 and broadcast back to the input shape, times

* 1 for ``sum``, :math:`1/n` for ``mean`` (:math:`n` = number of reduced elements);
* for ``max``/``min`` the indicator of the elements equal to the extreme value divided by
  their count: **ties share the gradient equally** (PyTorch's ``amax`` rule).
"""
from __future__ import annotations

import builtins
import math

from engine import backend
from engine.autodiff.function import Function
from engine.autodiff.tensor import Tensor, _axes, _wrap


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _norm_axis(axis, ndim):
    """Axis argument as a sorted tuple of non-negative ints (None: every axis)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        axes = (axis,)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions "
                             f"(allowed: {-ndim}..{ndim - 1})")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` set to 1 (the keepdims shape)."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _grad_to_input(ctx, g):
    """Reshape g to the keepdims shape (if needed) so it broadcasts against the input."""
    if ctx.keepdims or g.data.ndim == 0:
        return g
    return g.reshape(_kept_shape(ctx.shape, _norm_axis(ctx.axis, len(ctx.shape))))


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return _grad_to_input(ctx, g).expand(ctx.shape)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return a.mean(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        shape = ctx.shape
        n = math.prod(shape[i] for i in _norm_axis(ctx.axis, len(shape)))
        return _grad_to_input(ctx, g * (1.0 / builtins.max(n, 1))).expand(shape)


class _Extreme(Function):
    """Max/Min reduction; the gradient is shared equally among tied extreme elements."""

    _method = "max"

    @classmethod
    def forward(cls, ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        if a.size == 0:
            raise ValueError(f"{cls._method}() of an empty tensor (shape {a.shape}) has no "
                             "value")
        out = getattr(a, cls._method)(axis=axis, keepdims=True)
        ctx.outk = out
        if keepdims:
            return out
        axes = _norm_axis(axis, a.ndim)
        return out.reshape([s for i, s in enumerate(out.shape) if i not in axes])

    @staticmethod
    def backward(ctx, g):
        a = ctx.inputs[0].data
        m = (a == ctx.outk).astype(a.dtype)
        m /= m.sum(axis=ctx.axis, keepdims=True)
        return _grad_to_input(ctx, g) * _wrap(m)


class Max(_Extreme):
    _method = "max"


class Min(_Extreme):
    _method = "min"


# -- module-level spellings --------------------------------------------------------------------
def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    """Sum over ``axis`` (None: all)."""
    axis, keepdims = _axes(axis, dim, keepdims, keepdim)
    return Sum.apply(_t(x), axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Arithmetic mean over ``axis`` (None: all)."""
    axis, keepdims = _axes(axis, dim, keepdims, keepdim)
    return Mean.apply(_t(x), axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    """Largest value over ``axis``; ties share the gradient equally.

    Returns the values only (like ``torch.amax``), also when ``dim=`` is given; use
    ``x.argmax(dim)`` for the indices.
    """
    axis, keepdims = _axes(axis, dim, keepdims, keepdim)
    return Max.apply(_t(x), axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    """Smallest value over ``axis``; ties share the gradient equally (values only)."""
    axis, keepdims = _axes(axis, dim, keepdims, keepdim)
    return Min.apply(_t(x), axis=axis, keepdims=keepdims)


amax, amin = max, min


def _correction(ddof, correction, unbiased):
    given = [v is not None for v in (ddof, correction, unbiased)]
    if given.count(True) > 1:
        raise TypeError("pass only one of ddof=, correction= or unbiased=")
    if ddof is not None:
        return ddof
    if correction is not None:
        return correction
    if unbiased is not None:
        return 1 if unbiased else 0
    return 1


def var(x, axis=None, keepdims=False, *, dim=None, keepdim=None, ddof=None, correction=None,
        unbiased=None):
    r"""Variance :math:`\frac{1}{n-c}\sum (x - \bar x)^2` over ``axis`` (composite).

    As in PyTorch the default correction is :math:`c = 1` (unbiased); pass ``ddof=0``
    (NumPy), ``correction=0`` or ``unbiased=False`` for the biased estimate used by
    batch/layer normalisation.
    """
    axis, keepdims = _axes(axis, dim, keepdims, keepdim)
    x = _t(x)
    c = _correction(ddof, correction, unbiased)
    axes = _norm_axis(axis, x.data.ndim)
    n = math.prod(x.data.shape[i] for i in axes)
    d = x - x.mean(axis=axes, keepdims=True)
    return (d * d).sum(axis=axes, keepdims=keepdims) * (1.0 / builtins.max(n - c, 1))


def std(x, axis=None, keepdims=False, *, dim=None, keepdim=None, ddof=None, correction=None,
        unbiased=None):
    """Standard deviation, ``sqrt(var(...))`` with the same arguments (default correction 1)."""
    from engine.autodiff.ops.elementwise import sqrt  # noqa: PLC0415
    return sqrt(var(x, axis, keepdims, dim=dim, keepdim=keepdim, ddof=ddof,
                    correction=correction, unbiased=unbiased))


def _shift(x, axis):
    """max(x) over ``axis`` (keepdims) as a constant, with non-finite maxima replaced by 0.

    Subtracting a constant leaves softmax and logsumexp unchanged mathematically (at every
    order of derivative), and keeps ``exp`` from overflowing.
    """
    xp = backend.xp_of(x.data)
    m = x.data.max(axis=axis, keepdims=True)
    # Unconditionally (no ``if m.all()``): a branch on data would stall a GPU every call.
    return _wrap(xp.where(xp.isfinite(m), m, 0))


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    r""":math:`\log\sum_i e^{x_i}` over ``axis``, stable for large inputs (composite).

    Computed as :math:`m + \log\sum_i e^{x_i - m}` with :math:`m = \max_i x_i`.
    """
    from engine.autodiff.ops.elementwise import exp, log  # noqa: PLC0415
    axis, keepdims = _axes(axis, dim, keepdims, keepdim)
    x = _t(x)
    m = _shift(x, axis)
    out = log(exp(x - m).sum(axis=axis, keepdims=True)) + m
    if keepdims:
        return out
    axes = _norm_axis(axis, x.data.ndim)
    return out.reshape(tuple(s for i, s in enumerate(out.data.shape) if i not in axes))


def softmax(x, dim=-1):
    r"""Softmax :math:`e^{x_i - m} / \sum_j e^{x_j - m}` along ``dim`` (composite, stable)."""
    from engine.autodiff.ops.elementwise import exp  # noqa: PLC0415
    x = _t(x)
    e = exp(x - _shift(x, dim))
    return e / e.sum(axis=dim, keepdims=True)


def log_softmax(x, dim=-1):
    r"""Log-softmax :math:`z_i - \log\sum_j e^{z_j}`, :math:`z = x - \max x` (composite, stable)."""
    from engine.autodiff.ops.elementwise import exp, log  # noqa: PLC0415
    x = _t(x)
    z = x - _shift(x, dim)
    return z - log(exp(z).sum(axis=dim, keepdims=True))
