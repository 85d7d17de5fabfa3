r"""Arithmetic primitives: ``+ - * / ** @``, negation, the affine map of a linear layer, casts.

Every ``backward`` is written with Tensor ops so it can itself be differentiated.  Gradients
are returned with the *output* shape where the forward broadcast; the engine sums them back
to each input's shape (see :mod:`engine.autodiff.function`).

======== ============================= =====================================================
op       forward                       backward (:math:`g = \partial L/\partial y`)
======== ============================= =====================================================
Add      :math:`y = a + b`             :math:`g,\ g`
Sub      :math:`y = a - b`             :math:`g,\ -g`
Mul      :math:`y = a b`               :math:`g b,\ g a`
Div      :math:`y = a / b`             :math:`g / b,\ -g y / b`
Pow      :math:`y = a^b`               :math:`g b a^{b-1},\ g y \ln a`
MatMul   :math:`Y = A B`               :math:`G B^\top,\ A^\top G`
Linear   :math:`Y = X W^\top + b`      :math:`G W,\ G^\top X,\ \textstyle\sum_n G_n`
======== ============================= =====================================================
"""
from __future__ import annotations

import numpy as np

from engine.autodiff.function import Function
from engine.autodiff.tensor import Tensor, _lift


def _pair(a, b):
    """Lift two operands to Tensors; scalars adopt the dtype of the Tensor operand."""
    if not isinstance(a, Tensor):
        a = _lift(a, b) if isinstance(b, Tensor) else Tensor(a)
    if not isinstance(b, Tensor):
        b = _lift(b, a)
    return a, b


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return (g * b if na else None), (g * a if nb else None)


class Div(Function):
    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        return a / b

    @staticmethod
    def backward(ctx, g):
        b = ctx.inputs[1]
        ga = g / b
        gb = -(ga * ctx.saved_output()) if ctx.needs_input_grad[1] else None
        return (ga if ctx.needs_input_grad[0] else None), gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    r"""Elementwise :math:`a^b` with a Tensor exponent.

    The exponent's gradient :math:`g\,a^b \ln a` is taken as 0 where :math:`a \le 0` (there the
    real power is not differentiable in :math:`b`); use :class:`PowScalar` (``x ** 2``) for a
    constant exponent.
    """

    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        return a ** b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        ga = g * b * a ** (b - 1.0) if na else None
        gb = None
        if nb:
            from engine.autodiff.ops.elementwise import log, where  # noqa: PLC0415
            safe = where(a.data > 0, a, 1.0)
            gb = g * ctx.saved_output() * log(safe)
        return ga, gb


class PowScalar(Function):
    r""":math:`y = a^p`, constant :math:`p`; :math:`\partial y/\partial a = p a^{p-1}`."""

    name = "Pow"

    @staticmethod
    def forward(ctx, a, p):
        ctx.p = p
        return a ** p

    @staticmethod
    def backward(ctx, g):
        p = ctx.p
        a = ctx.inputs[0]
        if p == 2:
            return (g * a) * 2.0
        if p == 1:
            return g
        if p == 0:
            return g * 0.0
        return g * (a ** (p - 1) * p)


def pow(a, exponent):
    """``a ** exponent``; a scalar exponent uses the cheaper :class:`PowScalar`."""
    if isinstance(exponent, (int, float, np.integer, np.floating)) and isinstance(a, Tensor):
        if isinstance(exponent, np.generic):
            exponent = exponent.item()
        return PowScalar.apply(a, p=exponent)
    return Pow.apply(*_pair(a, exponent))


def _matmul_error(a, b, exc):
    if a.ndim == 0 or b.ndim == 0:
        return ValueError(f"matmul needs tensors with at least 1 dimension, got shapes "
                          f"{tuple(a.shape)} and {tuple(b.shape)}; use * for scalars")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        return ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not "
                          f"match: the last dimension of the first ({ka}) must equal the "
                          f"{'first' if b.ndim == 1 else 'second-to-last'} dimension of the "
                          f"second ({kb})")
    return ValueError(f"matmul: batch dimensions of {tuple(a.shape)} and {tuple(b.shape)} "
                      f"do not broadcast ({exc})")


class MatMul(Function):
    r"""Matrix product with NumPy's ``matmul`` rules (1-D operands, batched broadcasting).

    Shapes: ``(..., n, k) @ (..., k, m) -> (..., n, m)``; a 1-D left operand is a row
    ``(k,)``, a 1-D right operand a column.  Gradients: :math:`\bar A = G B^\top`,
    :math:`\bar B = A^\top G`, with batch axes summed back by the engine.
    """

    @staticmethod
    def forward(ctx, a, b):
        try:
            return a @ b
        except ValueError as exc:
            raise _matmul_error(a, b, exc) from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        ad, bd = a.data.ndim, b.data.ndim
        if ad == 1 and bd == 1:           # dot product: g is a scalar
            return (g * b if na else None), (g * a if nb else None)
        if ad == 1:                       # (k,) @ (..., k, m) -> (..., m)
            g2 = g.unsqueeze(-2)          # (..., 1, m)
            ga = g2 @ b.swapaxes(-1, -2) if na else None   # (..., 1, k), summed to (k,)
            gb = a.unsqueeze(-1) @ g2 if nb else None       # (..., k, m)
            return ga, gb
        if bd == 1:                       # (..., n, k) @ (k,) -> (..., n)
            g2 = g.unsqueeze(-1)          # (..., n, 1)
            ga = g2 @ b.unsqueeze(0) if na else None        # (..., n, k)
            gb = (a.swapaxes(-1, -2) @ g2).squeeze(-1) if nb else None   # (..., k)
            return ga, gb
        ga = g @ b.swapaxes(-1, -2) if na else None
        gb = None
        if nb:
            if bd == 2 and ad > 2:
                # A weight shared over a batch: one big GEMM instead of a batched one + sum.
                k, m = a.data.shape[-1], g.data.shape[-1]
                gb = a.reshape(-1, k).T @ g.reshape(-1, m)
            else:
                gb = a.swapaxes(-1, -2) @ g
        return ga, gb


class Linear(Function):
    r"""Affine map of a fully connected layer, :math:`Y = X W^\top + b` (PyTorch layout).

    One primitive rather than ``x @ w.T + b`` because it is the hot path of every MLP: one
    graph node and one GEMM with the transpose folded into BLAS.

    Shapes: ``x (..., in)``, ``w (out, in)``, ``b (out,)`` -> ``(..., out)``.
    Gradients: :math:`\bar X = G W`, :math:`\bar W = G^\top X`, :math:`\bar b = \sum_n G_n`
    (batch axes flattened).
    """

    @staticmethod
    def forward(ctx, x, w, b=None):
        try:
            out = x @ w.T
        except ValueError as exc:
            raise _matmul_error(x, w.T, exc) from None
        if b is not None:
            if out.dtype == b.dtype:
                out += b                  # fresh array: add in place, no second temporary
            else:
                out = out + b
        return out

    @staticmethod
    def backward(ctx, g):
        inputs = ctx.inputs
        needs = ctx.needs_input_grad
        x, w = inputs[0], inputs[1]
        need_b = len(inputs) > 2 and needs[2]
        gx = g @ w if needs[0] else None
        gw = gb = None
        if needs[1] or need_b:
            gd = g.data.ndim
            if gd == 2:
                g2, x2 = g, x
            elif gd == 1:
                g2, x2 = g.reshape(1, -1), x.reshape(1, -1)
            else:
                g2, x2 = g.reshape(-1, g.data.shape[-1]), x.reshape(-1, x.data.shape[-1])
            if needs[1]:
                gw = g2.T @ x2
            if need_b:
                gb = g2.sum(axis=0)
        if len(inputs) > 2:
            return gx, gw, gb
        return gx, gw


class Cast(Function):
    """dtype conversion; the gradient is cast back to the input's dtype."""

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.src = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return Cast.apply(g, dtype=ctx.src)


class Clone(Function):
    """A copy of the data; the identity for gradients."""

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


# -- module-level spellings --------------------------------------------------------------------
def add(a, b):
    """Elementwise ``a + b`` with broadcasting."""
    return Add.apply(*_pair(a, b))


def sub(a, b):
    """Elementwise ``a - b`` with broadcasting."""
    return Sub.apply(*_pair(a, b))


def mul(a, b):
    """Elementwise ``a * b`` with broadcasting."""
    return Mul.apply(*_pair(a, b))


def div(a, b):
    """Elementwise ``a / b`` with broadcasting."""
    return Div.apply(*_pair(a, b))


def neg(a):
    return Neg.apply(a if isinstance(a, Tensor) else Tensor(a))


def matmul(a, b):
    """Matrix product ``a @ b`` (NumPy ``matmul`` shape rules)."""
    return MatMul.apply(*_pair(a, b))
