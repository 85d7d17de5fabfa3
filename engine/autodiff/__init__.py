"""Reverse-mode automatic differentiation on NumPy/CuPy arrays, shaped like PyTorch's autograd.

>>> from engine.autodiff import Tensor, grad
>>> x = Tensor([1.0, 2.0], requires_grad=True)
>>> (x ** 3).sum().backward()          # first derivative into x.grad
>>> g, = grad((x ** 3).sum(), x, create_graph=True)
>>> h, = grad(g.sum(), x)              # second derivative: 6 x

Modules: :mod:`.tensor` (``Tensor``), :mod:`.function` (``Function``, grad mode, the backward
pass, ``grad``), :mod:`.ops` (the primitives by family), :mod:`.gradcheck`.
"""
# function must be imported first: it closes the import cycle with tensor (see its last lines).
from engine.autodiff.function import (  # noqa: F401
    Function,
    backward,
    enable_grad,
    grad,
    hessian,
    hvp,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from engine.autodiff.gradcheck import gradcheck, gradgradcheck  # noqa: F401
from engine.autodiff.ops import (  # noqa: F401
    abs,
    add,
    amax,
    amin,
    broadcast_to,
    cat,
    clamp,
    clip,
    concatenate,
    cos,
    div,
    exp,
    expand,
    flatten,
    log,
    log1p,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    swapaxes,
    tanh,
    transpose,
    unsqueeze,
    var,
    view,
    where,
)
from engine.autodiff.tensor import Tensor, ones, ones_like, tensor, zeros, zeros_like  # noqa: F401
