"""Differentiable operations, by family.

* :mod:`.arithmetic`: ``add sub mul div neg pow matmul`` and the ``Linear`` primitive;
* :mod:`.reductions`: ``sum mean max min var std logsumexp softmax log_softmax``;
* :mod:`.shape`: ``reshape view transpose permute swapaxes flatten squeeze unsqueeze expand
  broadcast_to getitem concatenate cat stack``;
* :mod:`.elementwise`: ``exp log log1p sqrt abs sin cos tanh sigmoid relu clip clamp where
  maximum minimum``.

Each primitive is a :class:`~engine.autodiff.function.Function` subclass (``Add``, ``MatMul``,
...); the lower-case functions accept Tensors, arrays and scalars.
"""
from engine.autodiff.ops.arithmetic import (  # noqa: F401
    Add, Cast, Clone, Div, Linear, MatMul, Mul, Neg, Pow, PowScalar, Sub, add, div, matmul,
    mul, neg, pow, sub)
from engine.autodiff.ops.elementwise import (  # noqa: F401
    Abs, Clip, Cos, Exp, Log, Log1p, Maximum, Minimum, Relu, Sigmoid, Sin, Sqrt, Tanh, Where,
    abs, clamp, clip, cos, exp, log, log1p, maximum, minimum, relu, sigmoid, sin, sqrt, tanh,
    where)
from engine.autodiff.ops.reductions import (  # noqa: F401
    Max, Mean, Min, Sum, amax, amin, log_softmax, logsumexp, max, mean, min, softmax, std, sum,
    var)
from engine.autodiff.ops.shape import (  # noqa: F401
    Concat, Expand, Index, Reshape, ScatterAdd, Stack, Transpose, broadcast_to, cat,
    concatenate, expand, flatten, getitem, permute, reshape, squeeze, stack, swapaxes,
    transpose, unsqueeze, view)
