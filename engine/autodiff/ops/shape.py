r"""Shape and indexing primitives: reshape, transpose, expand, indexing, concatenate, stack.

These move or copy elements without arithmetic, so each backward moves the gradient back:

=========== =========================================== ===================================
op          forward                                     backward
=========== =========================================== ===================================
Reshape     ``a.reshape(shape)``                        ``g.reshape(a.shape)``
Transpose   ``a.transpose(axes)``                       ``g.transpose(inverse(axes))``
Expand      ``broadcast_to(a, shape)``                  ``g`` (the engine sums it back)
Index       ``a[key]``                                  ``ScatterAdd``: zeros, ``+= g`` at key
ScatterAdd  zeros(shape), ``add.at(out, key, g)``       ``g[key]``
Concat      ``concatenate(arrays, axis)``               slices of ``g``
Stack       ``stack(arrays, axis)``                     ``g`` indexed along ``axis``
=========== =========================================== ===================================

Index's backward is a primitive of its own so that second derivatives through indexing work.
Integer-array keys may repeat an element (``x[[0, 0]]``); their gradients are summed with
``xp.add.at``.  Slices, integers and boolean masks never repeat, so a plain assignment does.
"""
from __future__ import annotations

import numpy as np

from engine import backend
from engine.autodiff.function import Function
from engine.autodiff.tensor import Tensor, _lift

_BASIC = (int, slice, type(None), type(Ellipsis))


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _shape_arg(shape):
    """Accept ``f(2, 3)`` and ``f((2, 3))`` spellings of a shape."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {a.shape} ({a.size} elements) "
                             f"into shape {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, g):
        return Reshape.apply(g, shape=ctx.shape)


class Transpose(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        inv = [0] * len(ctx.axes)
        for i, ax in enumerate(ctx.axes):
            inv[ax] = i
        return Transpose.apply(g, axes=tuple(inv))


class Expand(Function):
    """Broadcast to a larger shape (a read-only view); backward sums back (in the engine)."""

    @staticmethod
    def forward(ctx, a, shape):
        try:
            return backend.xp_of(a).broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"cannot expand shape {a.shape} to {tuple(shape)}: each "
                             "dimension must match or be 1") from None

    @staticmethod
    def backward(ctx, g):
        return g


def _is_scatter_unique(key):
    """True if ``key`` cannot address one element twice (no integer arrays in it)."""
    if type(key) is not tuple:
        key = (key,)
    for k in key:
        if isinstance(k, _BASIC) or isinstance(k, np.integer):
            continue
        dt = getattr(k, "dtype", None)
        if dt is not None and (dt is bool or getattr(k, "ndim", 1) == 0):
            continue
        return False
    return True


class Index(Function):
    """``a[key]`` with NumPy semantics (basic slicing, integer arrays, boolean masks)."""

    @staticmethod
    def forward(ctx, a, key):
        ctx.shape, ctx.key = a.shape, key
        try:
            return a[key]
        except IndexError as exc:
            raise IndexError(f"index {_describe(key)} is invalid for a tensor of shape "
                             f"{a.shape}: {exc}") from None

    @staticmethod
    def backward(ctx, g):
        return ScatterAdd.apply(g, shape=ctx.shape, key=ctx.key)


class ScatterAdd(Function):
    """``out = zeros(shape); out[key] += g`` (with repeats summed); the adjoint of Index."""

    @staticmethod
    def forward(ctx, g, shape, key):
        ctx.key = key
        xp = backend.xp_of(g)
        out = xp.zeros(shape, dtype=g.dtype)
        if _is_scatter_unique(key):
            out[key] = g
        else:
            xp.add.at(out, key, g)
        return out

    @staticmethod
    def backward(ctx, gg):
        return Index.apply(gg, key=ctx.key)


class Concat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        nd = arrays[0].ndim
        if not -nd <= axis < nd:
            raise ValueError(f"concatenate: axis {axis} is out of range for {nd}-D tensors")
        axis %= nd
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        try:
            return backend.xp_of(*arrays).concatenate(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"concatenate along axis {axis}: shapes {shapes} must agree in "
                             "every other dimension") from None

    @staticmethod
    def backward(ctx, g):
        pre = (slice(None),) * ctx.axis
        out, start = [], 0
        for n, need in zip(ctx.sizes, ctx.needs_input_grad):
            out.append(Index.apply(g, key=pre + (slice(start, start + n),)) if need else None)
            start += n
        return tuple(out)


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        nd = arrays[0].ndim + 1
        if not -nd <= axis < nd:
            raise ValueError(f"stack: axis {axis} is out of range for the {nd}-D result")
        axis %= nd
        ctx.axis = axis
        try:
            return backend.xp_of(*arrays).stack(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"stack needs tensors of equal shape, got {shapes}") from None

    @staticmethod
    def backward(ctx, g):
        pre = (slice(None),) * ctx.axis
        return tuple(Index.apply(g, key=pre + (i,)) if need else None
                     for i, need in enumerate(ctx.needs_input_grad))


def _describe(key):
    if type(key) is not tuple:
        key = (key,)
    parts = []
    for k in key:
        if hasattr(k, "shape") and hasattr(k, "dtype"):
            parts.append(f"<{k.dtype} array {tuple(k.shape)}>")
        else:
            parts.append(repr(k))
    return "[" + ", ".join(parts) + "]"


def _index_key(key, data):
    """Normalise an index: Tensors to arrays, lists to arrays, NumPy arrays to CuPy if needed."""
    if type(key) in _BASIC:
        return key
    on_gpu = backend.is_cupy(data)

    def conv(k):
        if isinstance(k, Tensor):
            k = k.data
        elif isinstance(k, list):
            k = backend.xp_of(data).asarray(k)
        if on_gpu and isinstance(k, np.ndarray):
            k = backend.xp_of(data).asarray(k)
        return k

    if type(key) is tuple:
        return tuple(conv(k) for k in key)
    return conv(key)


# -- module-level spellings --------------------------------------------------------------------
def getitem(x, key):
    """``x[key]`` with NumPy indexing rules, differentiable."""
    return Index.apply(x, key=_index_key(key, x.data))


def reshape(x, *shape):
    """Same data in a new shape (one dimension may be -1); ``view`` is an alias."""
    x = _t(x)
    shape = _shape_arg(shape)
    if shape == x.data.shape:
        return x
    return Reshape.apply(x, shape=shape)


view = reshape


def transpose(x, *axes):
    """Permute axes.

    * ``transpose(x)``: reverse all axes (NumPy);
    * ``transpose(x, d0, d1)``: swap two axes (PyTorch's ``transpose(dim0, dim1)``);
    * ``transpose(x, perm)`` or ``transpose(x, *perm)`` with a full permutation of 3 or more
      axes: NumPy's permutation (same as :func:`permute`).
    """
    x = _t(x)
    nd = x.data.ndim
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        return permute(x, *axes[0])
    if not axes:
        return Transpose.apply(x, axes=tuple(range(nd - 1, -1, -1)))
    if len(axes) == 2:
        return swapaxes(x, *axes)
    return permute(x, *axes)


def permute(x, *dims):
    """Reorder axes: output axis ``i`` is input axis ``dims[i]`` (a permutation of all axes)."""
    x = _t(x)
    dims = _shape_arg(dims)
    nd = x.data.ndim
    perm = tuple(d % nd if -nd <= d < nd else -1 for d in dims) if nd else ()
    if sorted(perm) != list(range(nd)):
        raise ValueError(f"permute needs a permutation of all {nd} axes of a tensor of shape "
                         f"{tuple(x.data.shape)}, got {dims}")
    if perm == tuple(range(nd)):
        return x
    return Transpose.apply(x, axes=perm)


def swapaxes(x, axis0, axis1):
    """Exchange two axes (PyTorch's ``transpose(dim0, dim1)``)."""
    x = _t(x)
    nd = x.data.ndim
    for a in (axis0, axis1):
        if not -nd <= a < nd:
            raise ValueError(f"axis {a} is out of range for a tensor with {nd} dimensions")
    a0, a1 = axis0 % nd, axis1 % nd
    if a0 == a1:
        return x
    perm = list(range(nd))
    perm[a0], perm[a1] = a1, a0
    return Transpose.apply(x, axes=tuple(perm))


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes ``start_dim..end_dim`` (inclusive) into one, as ``torch.flatten``."""
    x = _t(x)
    shape = x.data.shape
    nd = len(shape)
    if nd == 0:
        return x.reshape(1)
    s, e = start_dim % nd, end_dim % nd
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    n = 1
    for d in shape[s:e + 1]:
        n *= d
    return x.reshape(shape[:s] + (n,) + shape[e + 1:])


def squeeze(x, dim=None):
    """Drop axes of size 1 (all of them, or those in ``dim`` that have size 1, like torch)."""
    x = _t(x)
    shape = x.data.shape
    nd = len(shape)
    if dim is None:
        drop = {i for i, s in enumerate(shape) if s == 1}
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        for d in dims:
            if not -nd <= d < max(nd, 1):
                raise ValueError(f"squeeze: dim {d} is out of range for shape {shape}")
        drop = {d % nd for d in dims if nd and shape[d % nd] == 1}
    return x.reshape(tuple(s for i, s in enumerate(shape) if i not in drop))


def unsqueeze(x, dim):
    """Insert an axis of size 1 at ``dim`` (negative counts from the end of the result)."""
    x = _t(x)
    shape = x.data.shape
    nd = len(shape) + 1
    if not -nd <= dim < nd:
        raise ValueError(f"unsqueeze: dim {dim} is out of range for a result with {nd} "
                         "dimensions")
    d = dim % nd
    return x.reshape(shape[:d] + (1,) + shape[d:])


def expand(x, *shape):
    """Broadcast to ``shape`` without copying; -1 keeps a dimension (``torch.expand``)."""
    x = _t(x)
    shape = _shape_arg(shape)
    src = x.data.shape
    lead = len(shape) - len(src)
    if lead < 0:
        raise ValueError(f"cannot expand shape {src} to {shape}: fewer dimensions")
    shape = tuple(src[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
    if shape == src:
        return x
    return Expand.apply(x, shape=shape)


broadcast_to = expand


def _tensors(seq, what):
    seq = list(seq)
    if not seq:
        raise ValueError(f"{what} needs at least one tensor")
    ref = next((t for t in seq if isinstance(t, Tensor)), None)
    return [t if isinstance(t, Tensor) else (_lift(t, ref) if ref is not None else Tensor(t))
            for t in seq]


def concatenate(tensors, axis=0, *, dim=None):
    """Join tensors along an existing axis (``torch.cat``); shapes agree elsewhere."""
    if dim is not None:
        axis = dim
    ts = _tensors(tensors, "concatenate")
    return Concat.apply(*ts, axis=axis)


cat = concatenate


def stack(tensors, axis=0, *, dim=None):
    """Join equal-shape tensors along a new axis."""
    if dim is not None:
        axis = dim
    ts = _tensors(tensors, "stack")
    return Stack.apply(*ts, axis=axis)
