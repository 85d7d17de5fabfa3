r"""Elementwise math primitives: exp, log, sqrt, abs, trig, activations, clip, where, max/min.

Derivatives (:math:`g = \partial L/\partial y`, :math:`y` the output):

============ ================================== ===========================================
op           forward                            backward
============ ================================== ===========================================
Exp          :math:`e^x`                        :math:`g\,y`
Log          :math:`\ln x`                      :math:`g / x`
Log1p        :math:`\ln(1+x)`                   :math:`g / (1+x)`
Sqrt         :math:`\sqrt x`                    :math:`g / (2y)`
Abs          :math:`|x|`                        :math:`g\,\mathrm{sign}(x)` (0 at 0)
Sin, Cos     :math:`\sin x,\ \cos x`            :math:`g\cos x,\ -g\sin x`
Tanh         :math:`\tanh x`                    :math:`g\,(1-y^2)`
Sigmoid      :math:`1/(1+e^{-x})`               :math:`g\,y(1-y)`
Relu         :math:`\max(x, 0)`                 :math:`g\,[x>0]` (0 at 0)
Clip         :math:`\min(\max(x,l),h)`          :math:`g\,[l \le x \le h]`
Where        :math:`c\ ?\ a : b`                :math:`[c]g,\ [\lnot c]g`
Maximum      :math:`\max(a,b)`                  split :math:`g` by :math:`[a>b]`, halves at ties
============ ================================== ===========================================

Multiplying by a mask (a constant) keeps every backward differentiable: the second derivative
of relu, abs and clip is 0 almost everywhere, which is what the mask's zero derivative gives.
"""
from __future__ import annotations

from engine import backend
from engine.autodiff.function import Function
from engine.autodiff.ops.arithmetic import _pair
from engine.autodiff.tensor import Tensor, _lift, _raw, _wrap


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


class Exp(Function):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return backend.xp_of(a).exp(a)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_output()


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        return backend.xp_of(a).log(a)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.inputs[0]


class Log1p(Function):
    @staticmethod
    def forward(ctx, a):
        return backend.xp_of(a).log1p(a)

    @staticmethod
    def backward(ctx, g):
        return g / (ctx.inputs[0] + 1.0)


class Sqrt(Function):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return backend.xp_of(a).sqrt(a)

    @staticmethod
    def backward(ctx, g):
        return (g / ctx.saved_output()) * 0.5


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        return backend.xp_of(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.inputs[0].data
        return g * _wrap(backend.xp_of(a).sign(a))


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        return backend.xp_of(a).sin(a)

    @staticmethod
    def backward(ctx, g):
        return g * Cos.apply(ctx.inputs[0])


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        return backend.xp_of(a).cos(a)

    @staticmethod
    def backward(ctx, g):
        return g * -Sin.apply(ctx.inputs[0])


class Tanh(Function):
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return backend.xp_of(a).tanh(a)

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_output()
        return g * (1.0 - y * y)


class Sigmoid(Function):
    r"""Logistic function, computed without overflow for any input.

    :math:`\sigma(x) = 1/(1+e^{-x})` for :math:`x \ge 0` and :math:`e^{x}/(1+e^{x})` for
    :math:`x < 0`; both use :math:`e^{-|x|} \le 1`, so ``exp`` never overflows and tiny
    outputs keep their relative precision.
    """

    save_output = True

    @staticmethod
    def forward(ctx, a):
        xp = backend.xp_of(a)
        if a.ndim == 0:                   # 0-d ufunc results are scalars: no out= buffers
            e = xp.exp(-xp.abs(a))
            r = 1.0 / (1.0 + e)
        else:                             # in place: one buffer for e, one for r
            e = xp.abs(a)
            xp.negative(e, out=e)
            xp.exp(e, out=e)              # e = exp(-|a|) in (0, 1]
            r = e + 1.0
            xp.reciprocal(r, out=r)       # r = 1 / (1 + e)
        return xp.where(a >= 0, r, e * r)

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_output()
        return g * (y * (1.0 - y))


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        return backend.xp_of(a).maximum(a, 0)

    @staticmethod
    def backward(ctx, g):
        return g * _wrap(ctx.inputs[0].data > 0)


class Clip(Function):
    """Clamp to ``[lo, hi]`` (either may be None); gradient 1 inside, bounds included."""

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.lo, ctx.hi = lo, hi
        return backend.xp_of(a).clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        a = ctx.inputs[0].data
        lo, hi = ctx.lo, ctx.hi
        if lo is None:
            mask = a <= hi
        elif hi is None:
            mask = a >= lo
        else:
            mask = (a >= lo) & (a <= hi)
        return g * _wrap(mask)


class Where(Function):
    """``cond ? a : b`` elementwise with broadcasting; ``cond`` is a constant bool array."""

    @staticmethod
    def forward(ctx, a, b, cond):
        ctx.cond = cond
        return backend.xp_of(a, b).where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        c = ctx.cond
        zero = _lift(0.0, g)
        ga = Where.apply(g, zero, cond=c) if na else None
        gb = Where.apply(zero, g, cond=c) if nb else None
        return ga, gb


class _Extremum(Function):
    """Shared backward of Maximum/Minimum: the winner gets g, ties split it in half."""

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        ad, bd = a.data, b.data
        win = (ad > bd) if ctx.name == "Maximum" else (ad < bd)
        w = win + (ad == bd) * 0.5
        w = w.astype(g.data.dtype, copy=False)
        na, nb = ctx.needs_input_grad
        return (g * _wrap(w) if na else None), (g * _wrap(1.0 - w) if nb else None)


class Maximum(_Extremum):
    @staticmethod
    def forward(ctx, a, b):
        return backend.xp_of(a, b).maximum(a, b)


class Minimum(_Extremum):
    @staticmethod
    def forward(ctx, a, b):
        return backend.xp_of(a, b).minimum(a, b)


# -- module-level spellings --------------------------------------------------------------------
def exp(x):
    """:math:`e^x` elementwise."""
    return Exp.apply(_t(x))


def log(x):
    """Natural logarithm elementwise (``x > 0``)."""
    return Log.apply(_t(x))


def log1p(x):
    r""":math:`\ln(1 + x)`, accurate for small ``x``."""
    return Log1p.apply(_t(x))


def sqrt(x):
    return Sqrt.apply(_t(x))


def abs(x):  # noqa: A001  (mirrors torch.abs / numpy.abs)
    return Abs.apply(_t(x))


def sin(x):
    return Sin.apply(_t(x))


def cos(x):
    return Cos.apply(_t(x))


def tanh(x):
    return Tanh.apply(_t(x))


def sigmoid(x):
    r"""Numerically stable logistic :math:`1/(1+e^{-x})`."""
    return Sigmoid.apply(_t(x))


def relu(x):
    r""":math:`\max(x, 0)`; the subgradient at 0 is taken as 0 (as in PyTorch)."""
    return Relu.apply(_t(x))


def maximum(a, b):
    """Elementwise maximum with broadcasting; at ties each side gets half the gradient."""
    return Maximum.apply(*_pair(a, b))


def minimum(a, b):
    """Elementwise minimum with broadcasting; at ties each side gets half the gradient."""
    return Minimum.apply(*_pair(a, b))


def clip(x, min=None, max=None):  # noqa: A002  (torch.clamp's argument names)
    """Clamp ``x`` to ``[min, max]``; scalar bounds, or Tensors via maximum/minimum.

    The gradient passes where ``min <= x <= max`` (bounds included, as in PyTorch).
    """
    x = _t(x)
    if min is None and max is None:
        raise ValueError("clip needs at least one of min= or max=")
    if isinstance(min, Tensor) or isinstance(max, Tensor) or (
            hasattr(min, "shape") and min.shape) or (hasattr(max, "shape") and max.shape):
        out = x if min is None else maximum(x, min)
        return out if max is None else minimum(out, max)
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) is greater than max ({max})")
    return Clip.apply(x, lo=min, hi=max)


clamp = clip


def where(cond, a, b):
    """Elementwise ``a`` where ``cond`` else ``b`` (NumPy broadcasting over all three).

    ``cond`` is a bool Tensor or array (not differentiated); ``a`` and ``b`` may be Tensors,
    arrays or scalars (scalars adopt the other operand's dtype).
    """
    c = _raw(cond)
    a, b = _pair(a, b)
    xp = backend.xp_of(a.data, b.data)
    if (not hasattr(c, "dtype") or c.dtype != bool
            or backend.is_cupy(c) != (xp.__name__ == "cupy")):
        c = xp.asarray(c, dtype=bool)   # lists, 0/1 arrays, host masks for CuPy data
    return Where.apply(a, b, cond=c)
