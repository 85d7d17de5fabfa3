r"""Finite-difference checks of the analytical gradients (float64, central differences).

For every input :math:`x` that requires grad and every element :math:`j` of it,

.. math::  \frac{\partial f_i}{\partial x_j} \approx
           \frac{f_i(x + \varepsilon e_j) - f_i(x - \varepsilon e_j)}{2\varepsilon},

with error :math:`O(\varepsilon^2)`, is compared with the Jacobian the engine computes by
reverse mode, one backward pass per output element.  Both are full matrices, so keep the test
tensors small.  Entries pass when :math:`|a - n| \le \text{atol} + \text{rtol}\,|n|`.
"""
from __future__ import annotations

import numpy as np

from engine import backend
from engine.autodiff.function import enable_grad, grad
from engine.autodiff.tensor import Tensor


def _as_list(out, what):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)) and all(isinstance(o, Tensor) for o in out):
        return list(out)
    raise TypeError(f"gradcheck: {what} must return a Tensor or a tuple of Tensors, "
                    f"got {type(out).__name__}")


def _checked_inputs(inputs):
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    check = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not check:
        raise ValueError("gradcheck: no input requires grad; create the inputs with "
                         "requires_grad=True")
    for i in check:
        t = inputs[i]
        if t.data.dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} has dtype {t.data.dtype}; finite "
                             "differences need float64 (with float32 the rounding error "
                             "swamps eps)")
        if t.grad_fn is not None:
            raise ValueError(f"gradcheck: input {i} is not a leaf; pass leaf tensors")
    return inputs, check


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4):
    """Compare the reverse-mode Jacobian of ``fn`` with central differences.

    Parameters
    ----------
    fn : callable
        ``fn(*inputs)`` returns a Tensor (any shape) or a tuple of Tensors.
    inputs : Tensor or sequence
        float64 leaf Tensors; those with ``requires_grad=True`` are checked, other entries
        are passed through unchanged.
    eps : float
        Finite-difference step.
    atol, rtol : float
        Tolerances: pass when ``|analytical - numerical| <= atol + rtol * |numerical|``.

    Returns
    -------
    True

    Raises
    ------
    AssertionError
        At the first mismatch, naming the input, the element index, the output and both
        values.
    ValueError
        When no input requires grad, or a checked input is not float64.
    """
    inputs, check = _checked_inputs(inputs)
    with enable_grad():
        outs = _as_list(fn(*inputs), "fn")
    targets = [inputs[i] for i in check]

    # Analytical Jacobians: one vector-Jacobian product per output element.
    analytical = []  # per output: list over checked inputs of (n_out, n_in) arrays
    for k, o in enumerate(outs):
        xp = backend.xp_of(o.data)
        n_out = o.data.size
        jac = [np.zeros((n_out, t.data.size)) for t in targets]
        if o.requires_grad:
            for r in range(n_out):
                v = xp.zeros(o.data.shape, dtype=o.data.dtype)
                v.reshape(-1)[r] = 1
                gs = grad(o, targets, grad_outputs=Tensor(v), allow_unused=True)
                for c, gi in enumerate(gs):
                    if gi is not None:
                        jac[c][r] = backend.to_numpy(gi.data).reshape(-1)
        analytical.append(jac)

    # Numerical Jacobians, column by column; evaluated with grad mode on so that fn may
    # itself differentiate (a gradient function, for second-order checks).
    for c, i in enumerate(check):
        t = inputs[i]
        data = t.data
        for j in range(data.size):
            idx = tuple(int(v) for v in np.unravel_index(j, data.shape))
            orig = data[idx].item()
            data[idx] = orig + eps
            with enable_grad():
                plus = [backend.to_numpy(o.data).reshape(-1).astype(np.float64)
                        for o in _as_list(fn(*inputs), "fn")]
            data[idx] = orig - eps
            with enable_grad():
                minus = [backend.to_numpy(o.data).reshape(-1).astype(np.float64)
                         for o in _as_list(fn(*inputs), "fn")]
            data[idx] = orig
            for k in range(len(outs)):
                num = (plus[k] - minus[k]) / (2 * eps)
                ana = analytical[k][c][:, j]
                bad = np.abs(ana - num) > atol + rtol * np.abs(num)
                if bad.any():
                    r = int(np.argmax(bad))
                    oidx = np.unravel_index(r, outs[k].data.shape)
                    raise AssertionError(
                        f"gradcheck failed for input {i} (shape {tuple(data.shape)}) at index "
                        f"{idx}, output {k} index {tuple(int(v) for v in oidx)}: "
                        f"analytical={float(ana[r])!r}, numerical={float(num[r])!r} "
                        f"(atol={atol}, rtol={rtol})")
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, seed=0):
    r"""Check second derivatives: :func:`gradcheck` of :math:`x \mapsto \nabla_x (v \cdot f(x))`.

    ``v`` is a fixed random vector per output (``seed``), so every second-order term of the
    backward formulas is exercised without building the full Hessian tensor.
    """
    inputs, check = _checked_inputs(inputs)
    with enable_grad():
        outs = _as_list(fn(*inputs), "fn")
    rng = np.random.default_rng(seed)
    vs = [backend.xp_of(o.data).asarray(rng.standard_normal(o.data.shape)) for o in outs]

    def first_derivative(*xs):
        res = _as_list(fn(*xs), "fn")
        s = None
        for o, v in zip(res, vs):
            term = (o * Tensor(v)).sum()
            s = term if s is None else s + term
        gs = grad(s, [xs[i] for i in check], create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(backend.xp_of(xs[i].data)
                                                       .zeros_like(xs[i].data))
                     for g, i in zip(gs, check))

    return gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol)
