"""Stochastic gradient descent with optional (heavy-ball or Nesterov) momentum (book 4.10-4.13)."""
from __future__ import annotations

from engine import backend
from engine.optim.optimizer import Optimizer, check_number

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Gradient descent, with momentum and weight decay, exactly as ``torch.optim.SGD``.

    With :math:`g_k = \nabla L(x_k) + \lambda x_k` (weight decay :math:`\lambda`), learning
    rate :math:`c`, momentum :math:`\mu` and dampening :math:`\tau`:

    .. math::

        b_1 = g_1, \qquad b_k = \mu b_{k-1} + (1 - \tau) g_k \quad (k > 1)

        x_{k+1} = x_k - c\,d_k, \qquad
        d_k = \begin{cases} g_k & \mu = 0 \\ b_k & \text{momentum} \\
                            g_k + \mu b_k & \text{Nesterov} \end{cases}

    With :math:`\mu = 0` this is plain (stochastic) gradient descent,
    :math:`x_{k+1} = x_k - c\nabla f(x_k)` (book 4.10/4.11).

    *Momentum is the heavy-ball method.*  Without dampening, :math:`x_{k+1} - x_k = -c b_k` and
    :math:`b_k = \mu b_{k-1} + g_k`, so

    .. math::  x_{k+1} = x_k - c\nabla f(x_k) + \mu (x_k - x_{k-1}),

    which is the book's heavy-ball rule with :math:`\alpha = \mu` and
    :math:`\Delta x_k = x_k - x_{k-1}` (erratum E9: the book prints :math:`x_k - x_{k+1}`).

    *Nesterov* (``nesterov=True``) is PyTorch's reformulation of the look-ahead rule
    :math:`x_{k+1} = x_k + \mu\Delta x_k - c\nabla f(x_k + \mu\Delta x_k)`: the iterate it
    stores is the look-ahead point :math:`y_k`, so its gradient is taken there (book 4.13).

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Tensors to optimize, or parameter groups (see :class:`Optimizer`).
    lr : float, >= 0
        Learning rate (step size) :math:`c`.
    momentum : float, >= 0
        Momentum factor :math:`\mu`.
    dampening : float
        Dampening :math:`\tau` of the gradient's contribution to the buffer (not applied to
        the first step, as in PyTorch).
    weight_decay : float, >= 0
        L2 penalty :math:`\lambda` added to the gradient as :math:`\lambda x`.
    nesterov : bool
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    maximize : bool
        Ascend instead of descend (keyword only).

    Notes
    -----
    The positional order is PyTorch's: ``SGD(params, lr, momentum, dampening, weight_decay,
    nesterov)``.  State per parameter: ``'momentum_buffer'`` (shape of the parameter), created
    at the first step with momentum.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group, initial):
        check_number("lr", group["lr"])
        momentum = check_number("momentum", group["momentum"])
        dampening = check_number("dampening", group["dampening"], None)
        check_number("weight_decay", group["weight_decay"])
        if initial and group["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']!r}, dampening={group['dampening']!r}")

    def _update(self, p, x, g, group, state, xp):
        if group["maximize"]:
            g = -g
        wd = group["weight_decay"]
        if wd != 0:
            g = g + wd * x
        mu = group["momentum"]
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # First step: the buffer starts at g (not (1 - tau) g), as in PyTorch.
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * g
            g = g + mu * buf if group["nesterov"] else buf
        x -= group["lr"] * g

    def describe(self, p):
        """Live numbers for ``p``: ``lr``, ``momentum``, ``x``, ``grad``, ``momentum_buffer``.

        ``direction`` is :math:`d` of the last step when it can be read off the state alone
        (momentum without Nesterov: :math:`d = b`), else it is rebuilt from the current
        gradient (``None`` when the gradient has been cleared).
        """
        out = super().describe(p)
        group = self.group_of(p)
        buf = self.state.get(p, {}).get("momentum_buffer")
        out["momentum"] = float(group["momentum"])
        out["nesterov"] = bool(group["nesterov"])
        out["momentum_buffer"] = None if buf is None else backend.to_numpy(buf).copy()
        d = None
        if group["momentum"] != 0 and not group["nesterov"]:
            d = out["momentum_buffer"]
        elif out["grad"] is not None:
            g = -out["grad"] if group["maximize"] else out["grad"]
            g = g + group["weight_decay"] * out["x"]
            if group["momentum"] != 0 and buf is not None:
                g = g + group["momentum"] * out["momentum_buffer"]
            d = g
        out["direction"] = d
        return out
