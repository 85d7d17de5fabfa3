"""Helpers for optimizers that re-evaluate the loss themselves (line searches, step control).

They treat all parameters as one flat vector :math:`x`, which only suits small problems.
"""
from __future__ import annotations

import math

from engine import autodiff, backend


def params_of(opt) -> list:
    return [p for group in opt.param_groups for p in group["params"]]


def flat_loss_and_grad(closure, params):
    """Evaluate ``closure()`` and its gradient with respect to every parameter.

    Returns
    -------
    (loss Tensor, g)
        ``g`` is the flat gradient (one xp vector over all parameters, in order).

    Raises
    ------
    ValueError
        When the closure does not return a scalar Tensor computed from the parameters.
    """
    with autodiff.enable_grad():
        loss = closure()
        if not getattr(loss, "requires_grad", False) or int(loss.data.size) != 1:
            raise ValueError("the closure must return a scalar Tensor computed from the "
                             "parameters (with requires_grad=True)")
        grads = autodiff.grad(loss, params, allow_unused=True)
    xp = backend.xp_of(params[0].data)
    g = xp.concatenate([(xp.zeros(p.data.size, dtype=p.data.dtype) if t is None
                         else t.data.reshape(-1)) for t, p in zip(grads, params)])
    return loss, g


def get_flat(params):
    xp = backend.xp_of(params[0].data)
    return xp.concatenate([p.data.reshape(-1) for p in params])


def set_flat(params, x) -> None:
    """Write the flat vector ``x`` back into the parameters, in place."""
    i = 0
    for p in params:
        n = int(p.data.size)
        p.data[...] = x[i:i + n].reshape(p.data.shape)
        i += n


def loss_at(closure) -> float:
    """The closure's loss as a float, without recording a graph (inf/NaN pass through)."""
    with autodiff.no_grad():
        value = float(closure().item())
    return value if not math.isnan(value) else math.inf


def begin_step(opt, closure, why: str):
    """The common start of a closure-driven step on a one-group optimizer.

    Checks the closure and the (possibly live-edited) hyperparameters, then evaluates the loss
    and its gradient at the current point.

    Returns
    -------
    (group, params, loss, g, x, state)
        ``g`` and ``x`` are flat vectors; ``state`` is the state dict of the first parameter,
        where these optimizers keep their (whole-vector) state.
    """
    if closure is None:
        raise ValueError(f"{type(opt).__name__}.step needs a closure that returns the loss, "
                         f"e.g. opt.step(lambda: f(x)); {why}")
    group = opt.param_groups[0]
    opt._check_group(group, initial=False)
    params = params_of(opt)
    loss, g = flat_loss_and_grad(closure, params)
    return group, params, loss, g, get_flat(params), opt.state[params[0]]
