"""Adagrad: per-coordinate steps scaled by the root of the summed squared gradients (book 4.14)."""
from __future__ import annotations

from engine import backend
from engine.optim.optimizer import Optimizer, check_number

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, exactly as ``torch.optim.Adagrad``.

    With :math:`g_k = \nabla L(x_k) + \lambda x_k`, per coordinate (all operations
    element-wise, :math:`s_0` = ``initial_accumulator_value``):

    .. math::

        s_k = s_{k-1} + g_k^2, \qquad
        c_k = \frac{c}{1 + (k - 1)\,\eta}, \qquad
        x_{k+1} = x_k - c_k \frac{g_k}{\sqrt{s_k} + \epsilon}

    Coordinates that have seen large gradients take small steps and vice versa.  The book
    prints this rule multiplied by :math:`\sqrt{\sum g^2}` and with a "+" (erratum E10), which
    ascends with growing steps; the rule above divides and descends.

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float, >= 0
        Learning rate :math:`c`.
    lr_decay : float, >= 0
        :math:`\eta`: the learning rate at step :math:`k` is :math:`c / (1 + (k-1)\eta)`.
    weight_decay : float, >= 0
        L2 penalty :math:`\lambda`.
    initial_accumulator_value : float, >= 0
        Start value :math:`s_0` of the sum of squares.
    eps : float, >= 0
        :math:`\epsilon`, keeps the division finite while :math:`s` is tiny.
    maximize : bool
        Ascend instead of descend (keyword only).

    Notes
    -----
    State per parameter (created with the optimizer, as in PyTorch): ``'step'`` (int, steps
    taken) and ``'sum'`` (:math:`s_k`, shape of the parameter).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group, initial):
        check_number("lr", group["lr"])
        check_number("lr_decay", group["lr_decay"])
        check_number("weight_decay", group["weight_decay"])
        check_number("initial_accumulator_value", group["initial_accumulator_value"])
        check_number("eps", group["eps"])

    def _on_add_group(self, group):
        for p in group["params"]:
            self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        if "sum" not in state:
            xp = backend.xp_of(p.data)
            state["step"] = 0
            state["sum"] = xp.full_like(p.data, group["initial_accumulator_value"])
        return state

    def _update(self, p, x, g, group, state, xp):
        if "sum" not in state:  # e.g. after load_state_dict of an empty state
            self._init_state(p, group)
        state["step"] += 1
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * x
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g
        std = xp.sqrt(s)
        std += group["eps"]
        x -= clr * (g / std)

    def describe(self, p):
        r"""Live numbers for ``p``: ``step`` k, ``sum`` :math:`s_k`, the decayed rate ``clr``
        :math:`c_k`, and ``effective_lr`` :math:`c_k / (\sqrt{s_k} + \epsilon)` per coordinate
        (the factor that multiplied the gradient in the last step), plus ``x`` and ``grad``."""
        out = super().describe(p)
        group = self.group_of(p)
        state = self.state.get(p, {})
        k = int(state.get("step", 0))
        clr = group["lr"] / (1 + max(k - 1, 0) * group["lr_decay"])
        s = state.get("sum")
        out.update(step=k, clr=float(clr), eps=float(group["eps"]))
        if s is None:
            out.update(sum=None, effective_lr=None)
        else:
            s = backend.to_numpy(s).copy()
            out.update(sum=s, effective_lr=clr / (s ** 0.5 + group["eps"]))
        return out
