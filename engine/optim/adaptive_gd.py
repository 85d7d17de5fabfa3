"""Gradient descent with an adaptive step size (book 4.10), for small problems."""
from __future__ import annotations

import math

from engine import backend
from engine.optim.closure import begin_step, loss_at, set_flat
from engine.optim.optimizer import Optimizer, _ieee, check_number

__all__ = ["AdaptiveGD"]


class AdaptiveGD(Optimizer):
    r"""Gradient descent that tunes its own step: :math:`x_{k+1} = x_k - c_k \nabla f(x_k)`.

    If the step would raise :math:`f` (or make it inf/NaN), it is undone and
    :math:`c \leftarrow` ``shrink`` :math:`\cdot c`; otherwise it is kept and
    :math:`c \leftarrow` ``grow`` :math:`\cdot c`.  So the step size climbs until it overshoots,
    then halves: it hovers near the largest stable step (``2/L`` on a quadratic whose largest
    curvature is ``L``) without anyone choosing it.  (The book's text swaps "increase" and
    "decrease", erratum E13.)

    Parameters
    ----------
    params : iterable of Tensor
    lr : float, > 0
        Initial step size :math:`c_0`.
    grow : float, >= 1
    shrink : float in (0, 1)

    Notes
    -----
    ``step(closure)`` needs a closure returning the loss.  State (on the first parameter):
    ``step_size`` (the current :math:`c_k`), ``accepted`` (last step kept) and ``step``.
    """

    MAX_PARAMS = 10_000

    def __init__(self, params, lr=0.1, grow=1.1, shrink=0.5):
        super().__init__(params, dict(lr=lr, grow=grow, shrink=shrink))

    def _check_group(self, group, initial):
        check_number("lr", group["lr"], low_open=True)
        check_number("grow", group["grow"], 1.0)
        check_number("shrink", group["shrink"], 0.0, 1.0, low_open=True, high_open=True)

    def _on_add_group(self, group):
        if self.param_groups:
            raise ValueError("AdaptiveGD works on one parameter group (one flat vector)")

    def step(self, closure=None):
        """One trial step; returns the loss at the old iterate."""
        group, params, loss, g, x, st = begin_step(self, closure, "it checks whether f went up")
        c = st.get("step_size", float(group["lr"]))
        with _ieee(backend.xp_of(x)):
            set_flat(params, x - c * g)
            f_new = loss_at(closure)
            accepted = math.isfinite(f_new) and f_new <= float(loss.item())
            if accepted:
                c *= group["grow"]
            else:
                set_flat(params, x)
                c *= group["shrink"]
        st.update(step_size=c, accepted=accepted, step=st.get("step", 0) + 1)
        return loss

    def describe(self, p):
        """``lr``, ``x``, ``grad`` plus the current ``step_size`` and ``accepted``."""
        out = super().describe(p)
        st = self.state.get(p, {})
        out.update(step_size=st.get("step_size"), accepted=st.get("accepted"))
        return out
