"""RMSprop: steps scaled by a running root-mean-square of the gradients (book 4.14)."""
from __future__ import annotations

import numpy as np

from engine import backend
from engine.optim.optimizer import Optimizer, _ieee, check_number

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop, exactly as ``torch.optim.RMSprop``.

    With :math:`g_k = \nabla L(x_k) + \lambda x_k` and decay :math:`\gamma` (``alpha``), all
    operations element-wise:

    .. math::

        v_k = \gamma v_{k-1} + (1 - \gamma) g_k^2, \qquad v_0 = 0

        x_{k+1} = x_k - c\,\frac{g_k}{\sqrt{v_k} + \epsilon}

    Unrolled, :math:`v_k = (1-\gamma)\sum_{i \le k} \gamma^{k-i} g_i^2`: the book's weighted
    sum of past squared gradients (test vector T4.15).  The book writes
    :math:`\sqrt{v + \epsilon}`; PyTorch, and we, add :math:`\epsilon` outside the root.

    *Centered* (``centered=True``) also tracks the mean gradient
    :math:`\bar g_k = \gamma \bar g_{k-1} + (1-\gamma) g_k` and divides by the running standard
    deviation :math:`\sqrt{v_k - \bar g_k^2} + \epsilon` instead.

    *Momentum* :math:`\mu > 0` smooths the scaled step:
    :math:`b_k = \mu b_{k-1} + g_k / (\sqrt{v_k} + \epsilon)`, :math:`x_{k+1} = x_k - c\,b_k`.

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float, >= 0
        Learning rate :math:`c`.
    alpha : float in [0, 1]
        Decay :math:`\gamma` of the running mean of :math:`g^2`.  (PyTorch only asks
        ``alpha >= 0``; above 1 the "mean" can turn negative, so we refuse it.)
    eps : float, >= 0
        :math:`\epsilon`.
    weight_decay : float, >= 0
        L2 penalty :math:`\lambda`.
    momentum : float, >= 0
        :math:`\mu`.
    centered : bool
        Divide by the running standard deviation instead of the root mean square.
    maximize : bool
        Ascend instead of descend (keyword only).

    Notes
    -----
    State per parameter: ``'step'`` (int), ``'square_avg'`` (:math:`v_k`), and when used
    ``'momentum_buffer'`` (:math:`b_k`) and ``'grad_avg'`` (:math:`\bar g_k`); all shaped like
    the parameter.  Buffers for momentum or centering switched on mid-run start at zero
    (PyTorch would fail with a missing key).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group, initial):
        check_number("lr", group["lr"])
        check_number("alpha", group["alpha"], 0.0, 1.0)
        check_number("eps", group["eps"])
        check_number("weight_decay", group["weight_decay"])
        check_number("momentum", group["momentum"])

    def _update(self, p, x, g, group, state, xp):
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(x)
        state["step"] += 1
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * x
        alpha = group["alpha"]
        sq = state["square_avg"]
        sq *= alpha
        sq += (1 - alpha) * (g * g)
        if group["centered"]:
            ga = state.get("grad_avg")
            if ga is None:
                ga = state["grad_avg"] = xp.zeros_like(x)
            ga += (1 - alpha) * (g - ga)  # lerp towards g, as PyTorch computes it
            avg = xp.sqrt(sq - ga * ga)
        else:
            avg = xp.sqrt(sq)
        avg += group["eps"]
        if group["momentum"] > 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = xp.zeros_like(x)
            buf *= group["momentum"]
            buf += g / avg
            x -= group["lr"] * buf
        else:
            x -= group["lr"] * (g / avg)

    def describe(self, p):
        r"""Live numbers for ``p``: ``step``, ``square_avg`` :math:`v_k`, ``grad_avg``
        :math:`\bar g_k` (centered only), ``denom`` (:math:`\sqrt{v_k}+\epsilon`, or the
        centered version), ``effective_lr`` :math:`c/\text{denom}` per coordinate and
        ``momentum_buffer``, plus ``x`` and ``grad``.  Arrays are ``None`` before the first step.
        """
        out = super().describe(p)
        group = self.group_of(p)
        state = self.state.get(p, {})

        def host(key):
            a = state.get(key)
            return None if a is None else backend.to_numpy(a).copy()

        sq, ga = host("square_avg"), host("grad_avg")
        out.update(step=int(state.get("step", 0)), alpha=float(group["alpha"]),
                   eps=float(group["eps"]), square_avg=sq, grad_avg=ga,
                   momentum_buffer=host("momentum_buffer"), denom=None, effective_lr=None)
        if sq is not None:
            with _ieee(np):
                var = sq - ga * ga if group["centered"] and ga is not None else sq
                denom = np.sqrt(var) + group["eps"]
                out.update(denom=denom, effective_lr=group["lr"] / denom)
        return out
