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
    r"""Adjoint of the convolution in ``x``: :math:`\bar x = T(g, w)`, shape ``x_shape``.

    One GEMM makes the per-tap gradients ``gcols (N, C, K, P)``; col2im then adds each tap's
    slab onto the padded input grid.  With stride 1 the adds run on the *flattened* padded
    grid: ``g`` is first placed in the corner of a zero grid of the padded size, so a tap is a
    single shift of the flat index and each add runs over whole rows of that grid at once
    instead of ``O``-wide pieces (1.4 ms against 2.2 ms on (32,16,14,14)x(32,16,3,3)).  The
    zero margin contributes nothing, and no valid position can wrap onto the next row because
    ``O + d(k-1) = padded size`` when the stride is 1.
    """
    xp = backend.xp_of(g)
    gr = groups
    n, f = g.shape[:2]
    out = g.shape[2:]
    d = len(out)
    ksize = tuple(w.shape[2:])
    c = x_shape[1]
    padded = tuple(x_shape[2 + i] + 2 * padding[i] for i in range(d))
    flat = all(s == 1 for s in stride)
    if flat:
        wide = xp.zeros((n, f) + padded, dtype=g.dtype)
        wide[(slice(None), slice(None)) + tuple(slice(0, o) for o in out)] = g
        g, grid = wide, padded
    else:
        grid = tuple(out)
    gm = g.reshape(n, gr, f // gr, math.prod(grid))
    wm = w.reshape(1, gr, f // gr, -1)
    gcols = (wm.transpose(0, 1, 3, 2) @ gm).reshape((n, c, math.prod(ksize), math.prod(grid)))
    taps_all = list(itertools.product(*(range(k) for k in ksize)))
    if flat:
        size = math.prod(padded)
        row = [math.prod(padded[i + 1:]) for i in range(d)]     # flat stride of each axis
        gx = xp.zeros((n, c, size), dtype=gcols.dtype)
        for k, taps in enumerate(taps_all):
            s = sum(t * dilation[i] * row[i] for i, t in enumerate(taps))
            gx[:, :, s:] += gcols[:, :, k, :size - s]
        gx = gx.reshape((n, c) + padded)
    else:
        gcols = gcols.reshape((n, c) + ksize + grid)
        gx = xp.zeros((n, c) + padded, dtype=gcols.dtype)
        # col2im: one strided slice-add per kernel tap (no scatter-add ufunc).
        for taps in taps_all:
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
def _scatter_taps(tap_values, out, x_shape, ksize, stride, padding, dilation):
    """Sum per-tap values back onto the input grid, one strided slice-add per kernel tap.

    ``tap_values(k)`` gives the ``(N, C, *O)`` values of tap ``k`` (row-major over ``ksize``);
    ``out`` is their shape.  Returns the ``x_shape`` gradient (padding cropped off).
    """
    d = len(ksize)
    out = tuple(out[2:])
    padded = tuple(x_shape[2 + i] + 2 * padding[i] for i in range(d))
    first = tap_values(0)
    xp = backend.xp_of(first)
    gx = xp.zeros(tuple(x_shape[:2]) + padded, dtype=first.dtype)
    for k, taps in enumerate(itertools.product(*(range(k) for k in ksize))):
        sl = tuple(slice(t * dilation[i], t * dilation[i] + stride[i] * (out[i] - 1) + 1,
                         stride[i]) for i, t in enumerate(taps))
        gx[(slice(None), slice(None)) + sl] += first if k == 0 else tap_values(k)
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
        v, _ = windows(_pad(x, padding, -xp.inf), ksize, stride, dilation)
        # A running maximum over the taps' strided views, then the first tap equal to it,
        # instead of copying every window and calling argmax along a 4- or 9-long axis:
        # 2x faster.  Ties go to the first tap, as in PyTorch.  A NaN propagates to the
        # output; its gradient then goes to the window's last tap.
        views = [v[(Ellipsis,) + tap] for tap in itertools.product(*(range(k) for k in ksize))]
        best = views[0]
        for view in views[1:]:
            best = xp.maximum(best, view)
        idx = xp.full(best.shape, len(views) - 1, dtype=xp.int8 if len(views) < 128 else xp.int32)
        for k in range(len(views) - 2, -1, -1):
            xp.copyto(idx, k, where=views[k] == best)
        ctx.geom = (tuple(x.shape), ksize, stride, padding, dilation)
        ctx.idx = idx
        return xp.ascontiguousarray(best)

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
        zero = xp.zeros((), dtype=g.dtype)
        return _scatter_taps(lambda k: xp.where(idx == k, g, zero), g.shape, x_shape, ksize,
                             stride, padding, dilation)

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
        out = xp.zeros(idx.shape, dtype=u.dtype)
        for k, tap in enumerate(itertools.product(*(range(k) for k in ksize))):
            out = xp.where(idx == k, v[(Ellipsis,) + tap], out)
        return out

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
        x_shape, ksize, stride, padding = geom
        ctx.geom = geom
        share = g / math.prod(ksize)
        return _scatter_taps(lambda k: share, g.shape, x_shape, ksize, stride, padding,
                             (1,) * len(ksize))

    @staticmethod
    def backward(ctx, u):
        x_shape, ksize, stride, padding = ctx.geom
        return (AvgPoolNd.apply(u, ksize=ksize, stride=stride, padding=padding),)
