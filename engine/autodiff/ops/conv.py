r"""Convolution and pooling primitives (1-D, 2-D, 3-D) on strided views and one matrix product.

Cross-correlation, as in PyTorch: for input ``x (N, C, *S)`` and weight ``w (F, C/g, *K)``

.. math:: y_{n,f,\mathbf o} = \sum_{c,\mathbf k} x_{n,\,c,\,\mathbf o \odot s + \mathbf k \odot d}
          \; w_{f,c,\mathbf k}

(``s`` stride, ``d`` dilation, zero padding ``p`` applied first), with output size
:math:`o = \lfloor (n + 2p - d(k-1) - 1)/s \rfloor + 1` per axis.

How it is fast:

* **im2col as a view.** ``as_strided`` gives the windows ``(N, C, *O, *K)`` of the padded input
  without copying; one ``reshape`` makes the ``(N·P, C·K)`` matrix (the only copy), and one GEMM
  with the ``(F, C·K)`` weight matrix gives every output (``groups`` become a batched GEMM).
* **col2im without a scatter-add ufunc.** The input gradient is scattered back with one strided
  slice-add per kernel tap (9 for 3×3): ``gx[..., i*d : i*d + s*O : s, ...] += gcols[..., i]``.

The three primitives are closed under differentiation, as in PyTorch:
``ConvNd`` (``y = conv(x, w)``), ``ConvNdInputGrad`` (``T(g, w)``, the adjoint in ``x``, which is
also the transposed convolution) and ``ConvNdWeightGrad`` (``W(x, g)``, the adjoint in ``w``).
Their backwards are built from each other, so gradients of gradients work.
"""
from __future__ import annotations

import itertools
import math

from engine import backend
from engine.autodiff.function import Function

__all__ = ["ConvNd", "ConvNdInputGrad", "ConvNdWeightGrad", "MaxPoolNd", "AvgPoolNd",
           "conv_out_size", "conv_transpose_out_size", "windows"]


def conv_out_size(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    r""":math:`\lfloor (n + 2p - d(k-1) - 1)/s \rfloor + 1` (may be < 1: nothing fits)."""
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def conv_transpose_out_size(n: int, k: int, stride: int = 1, padding: int = 0,
                            dilation: int = 1, output_padding: int = 0) -> int:
    r""":math:`(n-1)s - 2p + d(k-1) + \text{output\_padding} + 1`."""
    return (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1


def _pad(x, padding, value=0.0):
    if not any(padding):
        return x
    xp = backend.xp_of(x)
    width = [(0, 0), (0, 0)] + [(p, p) for p in padding]
    return xp.pad(x, width, mode="constant", constant_values=value)


def windows(xpad, ksize, stride, dilation):
    """View ``(N, C, *O, *K)`` of every window of a padded ``(N, C, *S)`` array (no copy)."""
    xp = backend.xp_of(xpad)
    d = len(ksize)
    spatial = xpad.shape[2:]
    out = tuple((spatial[i] - dilation[i] * (ksize[i] - 1) - 1) // stride[i] + 1
                for i in range(d))
    st = xpad.strides
    shape = xpad.shape[:2] + out + tuple(ksize)
    strides = st[:2] + tuple(st[2 + i] * stride[i] for i in range(d)) + \
        tuple(st[2 + i] * dilation[i] for i in range(d))
    return xp.lib.stride_tricks.as_strided(xpad, shape=shape, strides=strides), out


def _im2col(x, ksize, stride, padding, dilation, groups):
    """Patch matrices ``(N, g, C/g·K, P)`` (Caffe's layout) and the output spatial shape.

    Putting the output positions P last keeps the copy out of the strided view fast (each
    output row is a contiguous run when the stride is 1) and makes the forward GEMM produce
    ``(N, F, P)``, which is already NCHW: no transpose of the result.
    """
    v, out = windows(_pad(x, padding), ksize, stride, dilation)
    n, c = x.shape[:2]
    d = len(ksize)
    # (N, C, *O, *K) -> (N, C, *K, *O), one copy.
    perm = (0, 1) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(2, 2 + d))
    cols = v.transpose(perm).reshape(n, groups, (c // groups) * math.prod(ksize),
                                     math.prod(out))
    return cols, out


def _conv(x, w, stride, padding, dilation, groups, want_cols=False):
    g = groups
    f = w.shape[0]
    cols, out = _im2col(x, w.shape[2:], stride, padding, dilation, g)
    wm = w.reshape(1, g, f // g, -1)
    y = (wm @ cols).reshape((x.shape[0], f) + out)    # (N, g, F/g, P) -> (N, F, *O)
    return (y, cols) if want_cols else y


def _input_grad(g, w, x_shape, stride, padding, dilation, groups):
    r"""Adjoint of the convolution in ``x``: :math:`\bar x = T(g, w)`, shape ``x_shape``."""
    xp = backend.xp_of(g)
    gr = groups
    n, f = g.shape[:2]
    out = g.shape[2:]
    d = len(out)
    ksize = tuple(w.shape[2:])
    c = x_shape[1]
    gm = g.reshape(n, gr, f // gr, math.prod(out))
    wm = w.reshape(1, gr, f // gr, -1)
    gcols = (wm.transpose(0, 1, 3, 2) @ gm).reshape((n, c) + ksize + tuple(out))
    padded = tuple(x_shape[2 + i] + 2 * padding[i] for i in range(d))
    gx = xp.zeros((n, c) + padded, dtype=g.dtype)
    # col2im: one strided slice-add per kernel tap (no scatter-add ufunc).
    for taps in itertools.product(*(range(k) for k in ksize)):
        sl = tuple(slice(t * dilation[i], t * dilation[i] + stride[i] * (out[i] - 1) + 1,
                         stride[i]) for i, t in enumerate(taps))
        gx[(slice(None), slice(None)) + sl] += gcols[(slice(None), slice(None)) + taps]
    if any(padding):
        gx = gx[(slice(None), slice(None)) + tuple(
            slice(padding[i], padding[i] + x_shape[2 + i]) for i in range(d))]
    return xp.ascontiguousarray(gx)


def _weight_grad(x, g, w_shape, stride, padding, dilation, groups, cols=None):
    r"""Adjoint of the convolution in ``w``: :math:`\bar w = W(x, g)`, shape ``w_shape``."""
    gr = groups
    f = w_shape[0]
    if cols is None:
        cols, _ = _im2col(x, w_shape[2:], stride, padding, dilation, gr)
    n = g.shape[0]
    gm = g.reshape(n, gr, f // gr, -1)
    # sum_n G_n cols_n^T: one GEMM over (N·P) after moving N next to P.
    if n == 1:
        gw = gm[0] @ cols[0].transpose(0, 2, 1)
    else:
        gw = (gm @ cols.transpose(0, 1, 3, 2)).sum(axis=0)   # (g, F/g, C/g·K)
    return gw.reshape(w_shape)


def _geom(ctx, kw):
    ctx.stride, ctx.padding = kw["stride"], kw["padding"]
    ctx.dilation, ctx.groups = kw["dilation"], kw["groups"]


class ConvNd(Function):
    """``y = conv(x, w)``: x ``(N, C, *S)``, w ``(F, C/groups, *K)`` -> ``(N, F, *O)``."""

    name = "Conv"

    @staticmethod
    def forward(ctx, x, w, stride, padding, dilation, groups):
        _geom(ctx, dict(stride=stride, padding=padding, dilation=dilation, groups=groups))
        want = ctx.recording and ctx.needs_input_grad[1]
        res = _conv(x, w, stride, padding, dilation, groups, want_cols=want)
        if want:
            res, ctx.cols = res
        else:
            ctx.cols = None
        ctx.x_shape, ctx.w_shape = x.shape, w.shape
        return res

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.inputs
        geo = dict(stride=ctx.stride, padding=ctx.padding, dilation=ctx.dilation,
                   groups=ctx.groups)
        gx = ConvNdInputGrad.apply(g, w, x_shape=ctx.x_shape, **geo) \
            if ctx.needs_input_grad[0] else None
        gw = ConvNdWeightGrad.apply(x, g, w_shape=ctx.w_shape, cols=ctx.cols, **geo) \
            if ctx.needs_input_grad[1] else None
        return gx, gw


class ConvNdInputGrad(Function):
    """``T(g, w)``: the convolution's input gradient, also the transposed convolution."""

    name = "ConvTranspose"

    @staticmethod
    def forward(ctx, g, w, x_shape, stride, padding, dilation, groups):
        _geom(ctx, dict(stride=stride, padding=padding, dilation=dilation, groups=groups))
        ctx.x_shape, ctx.w_shape = tuple(x_shape), w.shape
        return _input_grad(g, w, tuple(x_shape), stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, u):
        g, w = ctx.inputs
        geo = dict(stride=ctx.stride, padding=ctx.padding, dilation=ctx.dilation,
                   groups=ctx.groups)
        # <u, T(g, w)> = <conv(u, w), g>: linear in g through conv(u, .) and in w through W.
        gg = ConvNd.apply(u, w, **geo) if ctx.needs_input_grad[0] else None
        gw = ConvNdWeightGrad.apply(u, g, w_shape=ctx.w_shape, cols=None, **geo) \
            if ctx.needs_input_grad[1] else None
        return gg, gw


class ConvNdWeightGrad(Function):
    """``W(x, g)``: the convolution's weight gradient."""

    name = "ConvWeightGrad"

    @staticmethod
    def forward(ctx, x, g, w_shape, cols, stride, padding, dilation, groups):
        _geom(ctx, dict(stride=stride, padding=padding, dilation=dilation, groups=groups))
        ctx.x_shape = x.shape
        return _weight_grad(x, g, tuple(w_shape), stride, padding, dilation, groups, cols)

    @staticmethod
    def backward(ctx, v):
        x, g = ctx.inputs
        geo = dict(stride=ctx.stride, padding=ctx.padding, dilation=ctx.dilation,
                   groups=ctx.groups)
        # <v, W(x, g)> = <conv(x, v), g> = <x, T(g, v)>.
        gx = ConvNdInputGrad.apply(g, v, x_shape=ctx.x_shape, **geo) \
            if ctx.needs_input_grad[0] else None
        gg = ConvNd.apply(x, v, **geo) if ctx.needs_input_grad[1] else None
        return gx, gg


# -- pooling -----------------------------------------------------------------------------------
def _scatter_taps(vals, x_shape, ksize, stride, padding, dilation, fill):
    """Sum ``vals (N, C, *O, *K)`` back onto the padded input grid, one slice-add per tap."""
    xp = backend.xp_of(vals)
    d = len(ksize)
    out = vals.shape[2:2 + d]
    padded = tuple(x_shape[2 + i] + 2 * padding[i] for i in range(d))
    gx = xp.zeros(tuple(x_shape[:2]) + padded, dtype=vals.dtype)
    for taps in itertools.product(*(range(k) for k in ksize)):
        sl = tuple(slice(t * dilation[i], t * dilation[i] + stride[i] * (out[i] - 1) + 1,
                         stride[i]) for i, t in enumerate(taps))
        gx[(slice(None), slice(None)) + sl] += vals[(Ellipsis,) + taps]
    if any(padding):
        gx = gx[(slice(None), slice(None)) + tuple(
            slice(padding[i], padding[i] + x_shape[2 + i]) for i in range(d))]
    return xp.ascontiguousarray(gx)


class MaxPoolNd(Function):
    """Max over each window; the gradient goes to the window's argmax (first one on ties)."""

    name = "MaxPool"

    @staticmethod
    def forward(ctx, x, ksize, stride, padding, dilation):
        xp = backend.xp_of(x)
        v, out = windows(_pad(x, padding, -xp.inf), ksize, stride, dilation)
        flat = v.reshape(v.shape[:2 + len(ksize)] + (-1,))
        idx = flat.argmax(axis=-1)
        ctx.geom = (tuple(x.shape), ksize, stride, padding, dilation)
        ctx.idx = idx
        return xp.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]

    @staticmethod
    def backward(ctx, g):
        return (_MaxPoolGrad.apply(g, idx=ctx.idx, geom=ctx.geom),)


class _MaxPoolGrad(Function):
    """Route ``g`` to each window's argmax (linear in ``g``; its adjoint gathers)."""

    name = "MaxPoolBackward"

    @staticmethod
    def forward(ctx, g, idx, geom):
        xp = backend.xp_of(g)
        x_shape, ksize, stride, padding, dilation = geom
        ctx.idx, ctx.geom = idx, geom
        kp = math.prod(ksize)
        onehot = (idx[..., None] == xp.arange(kp)).astype(g.dtype) * g[..., None]
        vals = onehot.reshape(onehot.shape[:-1] + tuple(ksize))
        return _scatter_taps(vals, x_shape, ksize, stride, padding, dilation, 0.0)

    @staticmethod
    def backward(ctx, u):
        return (_MaxPoolGather.apply(u, idx=ctx.idx, geom=ctx.geom),)


class _MaxPoolGather(Function):
    name = "MaxPoolGather"

    @staticmethod
    def forward(ctx, u, idx, geom):
        xp = backend.xp_of(u)
        x_shape, ksize, stride, padding, dilation = geom
        ctx.idx, ctx.geom = idx, geom
        v, _ = windows(_pad(u, padding), ksize, stride, dilation)
        flat = v.reshape(v.shape[:2 + len(ksize)] + (-1,))
        return xp.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]

    @staticmethod
    def backward(ctx, g):
        return (_MaxPoolGrad.apply(g, idx=ctx.idx, geom=ctx.geom),)


class AvgPoolNd(Function):
    """Mean over each window (zero padding counted, as PyTorch's default)."""

    name = "AvgPool"

    @staticmethod
    def forward(ctx, x, ksize, stride, padding):
        v, _ = windows(_pad(x, padding), ksize, stride, (1,) * len(ksize))
        ctx.geom = (tuple(x.shape), ksize, stride, padding)
        d = len(ksize)
        return v.mean(axis=tuple(range(2 + d, 2 + 2 * d)))

    @staticmethod
    def backward(ctx, g):
        return (_AvgPoolGrad.apply(g, geom=ctx.geom),)


class _AvgPoolGrad(Function):
    name = "AvgPoolBackward"

    @staticmethod
    def forward(ctx, g, geom):
        xp = backend.xp_of(g)
        x_shape, ksize, stride, padding = geom
        ctx.geom = geom
        kp = math.prod(ksize)
        vals = xp.broadcast_to((g / kp)[(Ellipsis,) + (None,) * len(ksize)],
                               g.shape + tuple(ksize))
        return _scatter_taps(vals, x_shape, ksize, stride, padding, (1,) * len(ksize), 0.0)

    @staticmethod
    def backward(ctx, u):
        x_shape, ksize, stride, padding = ctx.geom
        return (AvgPoolNd.apply(u, ksize=ksize, stride=stride, padding=padding),)
