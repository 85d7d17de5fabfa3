"""The :class:`Tensor`: an array (NumPy or CuPy) plus what reverse-mode autodiff needs.

A Tensor wraps ``data``, a raw ``xp`` array, and records, when it requires grad, the node that
made it (``grad_fn``).  Operators and methods dispatch to the primitives in
:mod:`engine.autodiff.ops`, so NumPy data stays NumPy and CuPy data stays CuPy.

dtype rules (as in PyTorch):

* Python floats and lists of them become float32; NumPy/CuPy arrays keep their dtype (float64
  stays float64, which gradient checks rely on).
* Python and NumPy scalars in an operation adopt the Tensor's dtype, so ``0.5 * x`` stays
  float32 for a float32 ``x`` instead of being silently upcast.
"""
from __future__ import annotations

import weakref

import numpy as np

from engine import backend
from engine.autodiff.function import _mode
from engine.autodiff.function import backward as _backward_fn

_new = object.__new__
_SCALARS = (float, int, bool)


def _wrap(data):
    """A Tensor around ``data`` with no grad and no copy (internal fast path)."""
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = False
    t.grad_fn = None
    return t


def _default_xp():
    return backend.get_xp()


def _to_array(data, dtype=None):
    """Turn user data into an ``xp`` array with PyTorch's default-dtype rule."""
    if isinstance(data, Tensor):
        data = data.data
    mod = type(data).__module__
    if mod.startswith("numpy") or mod.startswith("cupy"):
        if isinstance(data, np.generic):  # a NumPy scalar: a 0-d array of the same dtype
            return _default_xp().asarray(data, dtype=dtype)
        xp = backend.xp_of(data)
        return xp.asarray(data, dtype=dtype)
    xp = _default_xp()
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], Tensor):
        # A list of (equal-shape) Tensors: their data, stacked; the result is a new leaf.
        data = [_raw(d) for d in data]
        xp = backend.xp_of(*data)
        arr = xp.stack([xp.asarray(d) for d in data])
        return arr if dtype is None else arr.astype(dtype)
    arr = xp.asarray(data, dtype=dtype)
    if dtype is None and arr.dtype == np.float64:
        arr = arr.astype(np.float32)  # Python floats default to float32, like torch
    return arr


def _lift(x, like):
    """Make an operand a Tensor; scalars take ``like``'s dtype (no silent float64 upcast)."""
    if isinstance(x, Tensor):
        return x
    ld = like.data
    if type(x) in _SCALARS or isinstance(x, np.generic):
        kind = ld.dtype.kind
        if kind in "fc":
            dt = ld.dtype
        elif isinstance(x, (float, np.floating)):
            dt = np.float32  # an integer tensor times a float: float32, like torch
        else:
            dt = None
        return _wrap(backend.xp_of(ld).asarray(x, dtype=dt))
    if isinstance(x, (list, tuple)):
        arr = backend.xp_of(ld).asarray(x)
        if arr.dtype == np.float64 and ld.dtype.kind == "f":
            arr = arr.astype(ld.dtype)
        return _wrap(arr)
    return _wrap(backend.xp_of(ld, x).asarray(x))


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _operand(x, like):
    """Raw operand for an array op with ``like``'s data: host arrays move to CuPy if needed."""
    x = x.data if isinstance(x, Tensor) else x
    if isinstance(x, np.ndarray) and backend.is_cupy(like):
        return backend.xp_of(like).asarray(x)
    return x


def _axes(axis, dim, keepdims, keepdim):
    """Merge NumPy (axis/keepdims) and torch (dim/keepdim) spellings."""
    if dim is not None:
        if axis is not None:
            raise TypeError("pass either axis= or dim=, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    if isinstance(axis, list):
        axis = tuple(axis)
    return axis, bool(keepdims)


class Tensor:
    """An n-dimensional array that can record operations for automatic differentiation.

    Parameters
    ----------
    data : array_like, Tensor, numpy.ndarray or cupy.ndarray
        Converted with ``xp.asarray`` (no copy for arrays: the Tensor shares their memory).
        Python floats and lists default to float32; arrays keep their dtype.
    requires_grad : bool
        Record operations on this tensor so gradients w.r.t. it can be computed.  Only
        floating-point tensors can require grad.
    dtype : dtype-like, optional
        Convert to this dtype.

    Attributes
    ----------
    data : xp.ndarray
        The raw array; may be replaced or updated in place (optimizers do, under no_grad).
    grad : Tensor or None
        dL/d(self) after ``backward``, same shape as ``data``; accumulates (``+=``) over calls.
    requires_grad : bool
    grad_fn : Function or None
        The node that produced this tensor (``None`` for leaves).  ``grad_fn.name`` and
        ``grad_fn.inputs`` describe the computation graph.

    Examples
    --------
    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4.])
    """

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "__weakref__")
    # NumPy arrays and scalars on the left of an operator defer to our reflected methods.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _to_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # -- properties -----------------------------------------------------------------------------
    @property
    def shape(self):
        """Tuple of dimension sizes."""
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    def size(self, dim=None):
        """The shape, or the size of dimension ``dim`` (PyTorch's ``size``; see :meth:`numel`)."""
        return self.data.shape if dim is None else self.data.shape[dim]

    @property
    def is_leaf(self):
        """True for tensors created by the user (no ``grad_fn``)."""
        return self.grad_fn is None

    @property
    def T(self):
        """All axes reversed (the matrix transpose for 2-D tensors)."""
        return Transpose.apply(self, axes=tuple(range(self.data.ndim - 1, -1, -1)))

    @property
    def mT(self):
        """The last two axes swapped (batched matrix transpose)."""
        return self.swapaxes(-1, -2)

    @property
    def xp(self):
        """The array module (numpy or cupy) that owns ``data``."""
        return backend.xp_of(self.data)

    def dim(self):
        return self.data.ndim

    def numel(self):
        return int(self.data.size)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape "
                             f"{tuple(self.data.shape)}")
        return self.data.item()

    def numpy(self):
        """A host NumPy copy of the data (safe to keep: later updates do not change it)."""
        a = backend.to_numpy(self.data)
        return a.copy() if a is self.data else a

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def __array__(self, dtype=None, copy=None):
        a = backend.to_numpy(self.data)
        return a if dtype is None else a.astype(dtype)

    # -- autodiff -------------------------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place and return self (leaves only)."""
        if requires_grad and self.data.dtype.kind not in "fc":
            raise ValueError(f"only floating-point tensors can require gradients, got dtype "
                             f"{self.data.dtype}; create it with dtype=float32 or float64")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad can only be turned off on leaf tensors; "
                               "use detach() for a non-leaf")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """A new leaf sharing this tensor's data, cut out of the graph."""
        return _wrap(self.data)

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self.grad_fn is not None:
            # A weak reference: the node must not keep its own output alive (a cycle).
            self.grad_fn._retained = weakref.ref(self)
        return self

    @property
    def retains_grad(self):
        fn = self.grad_fn
        return fn is not None and fn._retained is not None and fn._retained() is self

    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        r"""Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Parameters
        ----------
        gradient : Tensor or array, optional
            :math:`v = \partial L / \partial \text{self}`, same shape as self; may be omitted
            for one-element tensors (then 1).
        retain_graph : bool
            Accepted for PyTorch compatibility; the graph is kept while referenced.
        create_graph : bool
            Record the backward pass so ``.grad`` can be differentiated again.
        """
        _backward_fn([self], None if gradient is None else [gradient],
                     retain_graph=retain_graph, create_graph=create_graph)

    # -- conversion -----------------------------------------------------------------------------
    def astype(self, dtype):
        """Cast to ``dtype`` (differentiable between floating dtypes)."""
        dtype = np.dtype(dtype)
        if self.data.dtype == dtype:
            return self
        return Cast.apply(self, dtype=dtype)

    def to(self, dtype):
        """Cast to ``dtype`` (dtype conversion only; move backends with ``engine.backend``)."""
        return self.astype(dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def clone(self):
        """A copy of the data that stays in the graph (gradient flows through unchanged)."""
        return Clone.apply(self)

    # -- repr -----------------------------------------------------------------------------------
    def __repr__(self):
        a = backend.to_numpy(self.data)
        body = np.array2string(a, separator=", ", prefix="tensor(", threshold=200,
                               edgeitems=3, precision=4)
        extras = []
        if a.dtype != np.float32 and not (a.dtype == np.int64 and a.size):
            extras.append(f"dtype={a.dtype}")
        if backend.is_cupy(self.data):
            extras.append("device='cupy'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # -- Python protocol ------------------------------------------------------------------------
    __hash__ = object.__hash__  # identity, so tensors can key dicts (optimizer state)

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        for i in range(len(self.data)):
            yield self[i]

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        return int(self.item())

    # -- arithmetic -----------------------------------------------------------------------------
    def __add__(self, other):
        return Add.apply(self, other if type(other) is Tensor else _lift(other, self))

    def __radd__(self, other):
        return Add.apply(_lift(other, self), self)

    def __sub__(self, other):
        return Sub.apply(self, other if type(other) is Tensor else _lift(other, self))

    def __rsub__(self, other):
        return Sub.apply(_lift(other, self), self)

    def __mul__(self, other):
        return Mul.apply(self, other if type(other) is Tensor else _lift(other, self))

    def __rmul__(self, other):
        return Mul.apply(_lift(other, self), self)

    def __truediv__(self, other):
        return Div.apply(self, other if type(other) is Tensor else _lift(other, self))

    def __rtruediv__(self, other):
        return Div.apply(_lift(other, self), self)

    def __pow__(self, other):
        return pow(self, other)

    def __rpow__(self, other):
        return Pow.apply(_lift(other, self), self)

    def __matmul__(self, other):
        return MatMul.apply(self, other if type(other) is Tensor else _lift(other, self))

    def __rmatmul__(self, other):
        return MatMul.apply(_lift(other, self), self)

    def __neg__(self):
        return Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return Abs.apply(self)

    # In-place operators update ``data`` when nothing is being recorded (the optimizer idiom
    # ``with no_grad(): p -= lr * p.grad``).  While recording they fall back to the
    # out-of-place op, which Python rebinds to the name, except on a leaf that requires grad,
    # where an in-place change would silently corrupt the graph (PyTorch raises there too).
    def _inplace(self, other, op, name):
        if _mode.enabled and (self.requires_grad or getattr(other, "requires_grad", False)):
            if self.requires_grad and self.grad_fn is None:
                raise RuntimeError(
                    f"in-place {name} on a leaf tensor that requires grad would corrupt the "
                    "graph; do parameter updates inside `with no_grad():`")
            return False
        op(self.data, _operand(other, self.data), out=self.data)
        return True

    def __iadd__(self, other):
        return self if self._inplace(other, self.xp.add, "+=") else self + other

    def __isub__(self, other):
        return self if self._inplace(other, self.xp.subtract, "-=") else self - other

    def __imul__(self, other):
        return self if self._inplace(other, self.xp.multiply, "*=") else self * other

    def __itruediv__(self, other):
        return self if self._inplace(other, self.xp.true_divide, "/=") else self / other

    # -- comparisons (no gradient; bool tensors) -------------------------------------------------
    def __lt__(self, other):
        return _wrap(self.data < _operand(other, self.data))

    def __le__(self, other):
        return _wrap(self.data <= _operand(other, self.data))

    def __gt__(self, other):
        return _wrap(self.data > _operand(other, self.data))

    def __ge__(self, other):
        return _wrap(self.data >= _operand(other, self.data))

    def __eq__(self, other):
        return _wrap(self.data == _operand(other, self.data))

    def __ne__(self, other):
        return _wrap(self.data != _operand(other, self.data))

    def __invert__(self):
        return _wrap(~self.data)

    def __and__(self, other):
        return _wrap(self.data & _operand(other, self.data))

    def __or__(self, other):
        return _wrap(self.data | _operand(other, self.data))

    # -- methods mirroring the module-level ops ----------------------------------------------------
    def matmul(self, other):
        return self @ other

    def pow(self, exponent):
        return pow(self, exponent)

    def exp(self):
        return Exp.apply(self)

    def log(self):
        return Log.apply(self)

    def log1p(self):
        return Log1p.apply(self)

    def sqrt(self):
        return Sqrt.apply(self)

    def abs(self):
        return Abs.apply(self)

    def sin(self):
        return Sin.apply(self)

    def cos(self):
        return Cos.apply(self)

    def tanh(self):
        return Tanh.apply(self)

    def sigmoid(self):
        return Sigmoid.apply(self)

    def relu(self):
        return Relu.apply(self)

    def clip(self, min=None, max=None):
        return clip(self, min, max)

    clamp = clip

    def maximum(self, other):
        return maximum(self, other)

    def minimum(self, other):
        return minimum(self, other)

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axes(axis, dim, keepdims, keepdim)
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axes(axis, dim, keepdims, keepdim)
        return Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Largest value(s) along ``axis`` (values only, see :func:`ops.max`)."""
        axis, keepdims = _axes(axis, dim, keepdims, keepdim)
        return Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axes(axis, dim, keepdims, keepdim)
        return Min.apply(self, axis=axis, keepdims=keepdims)

    amax = max
    amin = min

    def var(self, axis=None, keepdims=False, *, dim=None, keepdim=None, ddof=None,
            correction=None, unbiased=None):
        return var(self, axis, keepdims, dim=dim, keepdim=keepdim, ddof=ddof,
                   correction=correction, unbiased=unbiased)

    def std(self, axis=None, keepdims=False, *, dim=None, keepdim=None, ddof=None,
            correction=None, unbiased=None):
        return std(self, axis, keepdims, dim=dim, keepdim=keepdim, ddof=ddof,
                   correction=correction, unbiased=unbiased)

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axes(axis, dim, keepdims, keepdim)
        return logsumexp(self, axis, keepdims)

    def softmax(self, dim=-1):
        return softmax(self, dim)

    def log_softmax(self, dim=-1):
        return log_softmax(self, dim)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Indices of the maxima (an int64 tensor; not differentiable)."""
        axis, keepdims = _axes(axis, dim, keepdims, keepdim)
        return _wrap(self.data.argmax(axis=axis, keepdims=keepdims))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axes(axis, dim, keepdims, keepdim)
        return _wrap(self.data.argmin(axis=axis, keepdims=keepdims))

    # -- shape ----------------------------------------------------------------------------------
    def reshape(self, *shape):
        return reshape(self, *shape)

    view = reshape

    def transpose(self, *axes):
        return transpose(self, *axes)

    def permute(self, *dims):
        return permute(self, *dims)

    def swapaxes(self, axis0, axis1):
        return swapaxes(self, axis0, axis1)

    def flatten(self, start_dim=0, end_dim=-1):
        return flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return squeeze(self, dim)

    def unsqueeze(self, dim):
        return unsqueeze(self, dim)

    def expand(self, *shape):
        return expand(self, *shape)

    def broadcast_to(self, shape):
        return expand(self, shape)

    def expand_as(self, other):
        return expand(self, other.shape)

    def __getitem__(self, key):
        return getitem(self, key)

    def __setitem__(self, key, value):
        if _mode.enabled and self.requires_grad:
            raise RuntimeError("item assignment on a tensor that requires grad would corrupt "
                               "the graph; build a new tensor (where, cat) or do it under "
                               "no_grad()")
        self.data[_index_key(key, self.data)] = _operand(value, self.data)


def tensor(data, requires_grad=False, dtype=None):
    """A new leaf Tensor holding a **copy** of ``data`` (like ``torch.tensor``)."""
    arr = _to_array(data, dtype)
    if isinstance(data, Tensor) or arr is data or getattr(arr, "base", None) is not None:
        arr = arr.copy()
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*shape, dtype=np.float32, requires_grad=False):
    """A leaf of zeros on the current backend (float32 by default)."""
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(_default_xp().zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float32, requires_grad=False):
    """A leaf of ones on the current backend (float32 by default)."""
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(_default_xp().ones(shape, dtype=dtype), requires_grad=requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    """Zeros with ``t``'s shape, dtype and backend."""
    a = _raw(t)
    return Tensor(backend.xp_of(a).zeros_like(a, dtype=dtype), requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    """Ones with ``t``'s shape, dtype and backend."""
    a = _raw(t)
    return Tensor(backend.xp_of(a).ones_like(a, dtype=dtype), requires_grad=requires_grad)


# The ops modules import Tensor from here; bind their names last to close the cycle.
from engine.autodiff.ops.arithmetic import Add, Cast, Clone, Div, MatMul, Mul, Neg, Pow, Sub, pow  # noqa: E402
from engine.autodiff.ops.elementwise import (  # noqa: E402
    Abs,
    Cos,
    Exp,
    Log,
    Log1p,
    Relu,
    Sigmoid,
    Sin,
    Sqrt,
    Tanh,
    clip,
    maximum,
    minimum,
)
from engine.autodiff.ops.reductions import (  # noqa: E402
    Max,
    Mean,
    Min,
    Sum,
    log_softmax,
    logsumexp,
    softmax,
    std,
    var,
)
from engine.autodiff.ops.shape import (  # noqa: E402
    Transpose,
    _index_key,
    expand,
    flatten,
    getitem,
    permute,
    reshape,
    squeeze,
    swapaxes,
    transpose,
    unsqueeze,
)
