"""BFGS quasi-Newton method with an Armijo backtracking line search (book 4.8), small problems."""
from __future__ import annotations

import math

from engine import backend
from engine.optim.closure import begin_step, loss_at, set_flat
from engine.optim.optimizer import Optimizer, _ieee, check_number

__all__ = ["BFGS"]


class BFGS(Optimizer):
    r"""BFGS: Newton's method with a learned inverse Hessian :math:`Q_k \approx H^{-1}`.

    Each step takes the direction :math:`p_k = -Q_k \nabla f(x_k)` and backtracks from
    :math:`t = c` by the factor ``shrink`` until the Armijo condition
    :math:`f(x_k + t p_k) \le f(x_k) + c_1 t\, \nabla f^\top p_k` holds.  With
    :math:`s = x_{k+1} - x_k`, :math:`y = \nabla f(x_{k+1}) - \nabla f(x_k)` and
    :math:`\rho = 1 / s^\top y` the inverse Hessian is updated as

    .. math:: Q^+ = (I - \rho\, s y^\top)\, Q\, (I - \rho\, y s^\top) + \rho\, s s^\top,

    the book's formula with its errata fixed (E5: :math:`Q_1 = I`, and every denominator is
    :math:`s^\top y`).  It satisfies the secant condition :math:`Q^+ y = s` and keeps
    :math:`Q` positive definite while :math:`s^\top y > 0`; when curvature fails that test the
    update is skipped, and a direction that is not downhill resets :math:`Q` to :math:`I`.

    Parameters
    ----------
    params : iterable of Tensor
        All together at most :attr:`MAX_PARAMS` entries (Q is n x n).
    lr : float, > 0
        First trial step :math:`t` of the line search (1 is the quasi-Newton step).
    c1 : float in (0, 1)
        Armijo constant.
    shrink : float in (0, 1)
        Backtracking factor.

    Notes
    -----
    ``step(closure)`` needs a closure returning the loss.  State (on the first parameter):
    ``inv_hessian`` (Q), ``direction``, ``step_size`` (the accepted t), ``prev_x``,
    ``prev_grad``, ``skipped`` (curvature test failed) and ``step``.
    """

    MAX_PARAMS = 200
    MAX_BACKTRACKS = 40
    _UNSHAPED_STATE = frozenset({"inv_hessian", "direction", "prev_x", "prev_grad"})

    def __init__(self, params, lr=1.0, c1=1e-4, shrink=0.5):
        super().__init__(params, dict(lr=lr, c1=c1, shrink=shrink))

    def _check_group(self, group, initial):
        check_number("lr", group["lr"], low_open=True)
        check_number("c1", group["c1"], 0.0, 1.0, low_open=True, high_open=True)
        check_number("shrink", group["shrink"], 0.0, 1.0, low_open=True, high_open=True)

    def _on_add_group(self, group):
        if self.param_groups:
            raise ValueError("BFGS works on one parameter group (one flat vector)")
        n = sum(int(p.data.size) for p in group["params"])
        if n > self.MAX_PARAMS:
            raise ValueError(f"BFGS keeps an n x n inverse Hessian, so it is limited to "
                             f"{self.MAX_PARAMS} parameter entries; got {n}")

    def step(self, closure=None):
        """One BFGS step with line search; returns the loss at the old iterate."""
        group, params, loss, g, x, st = begin_step(self, closure,
                                                   "the line search re-evaluates it")
        xp = backend.xp_of(x)
        n = x.shape[0]
        q = st.get("inv_hessian")
        q = xp.eye(n, dtype=x.dtype) if q is None else q
        with _ieee(xp):
            skipped = False
            if "prev_x" in st:
                q, skipped = bfgs_update(q, x - st["prev_x"], g - st["prev_grad"], xp)
            p = -(q @ g)
            slope = float(g @ p)
            if not slope < 0:  # not a descent direction (or NaN): start again from GD
                q = xp.eye(n, dtype=x.dtype)
                p, slope = -g, -float(g @ g)
            f0, t = float(loss.item()), float(group["lr"])
            for _ in range(self.MAX_BACKTRACKS):
                set_flat(params, x + t * p)
                f_t = loss_at(closure)
                if f_t <= f0 + group["c1"] * t * slope:
                    break
                t *= group["shrink"]
            st.update(inv_hessian=q, direction=p, step_size=t, prev_x=x.copy(),
                      prev_grad=g.copy(), skipped=skipped, step=st.get("step", 0) + 1)
        return loss

    def describe(self, p):
        """``lr``, ``x``, ``grad`` plus ``inv_hessian``, ``direction`` and ``step_size``."""
        out = super().describe(p)
        st = self.state.get(p, {})
        for key in ("inv_hessian", "direction"):
            out[key] = backend.to_numpy(st[key]).copy() if key in st else None
        out["step_size"] = st.get("step_size")
        return out


def bfgs_update(q, s, y, xp):
    """The BFGS inverse-Hessian update; returns ``(Q+, skipped)``.

    Skipped (Q returned unchanged) when :math:`s^\\top y \\le 10^{-12} \\|s\\|\\|y\\|`, where
    the update would lose positive definiteness.
    """
    sy = float(s @ y)
    if not (math.isfinite(sy) and sy > 1e-12 * float(xp.linalg.norm(s) * xp.linalg.norm(y))):
        return q, True
    rho = 1.0 / sy
    v = xp.eye(q.shape[0], dtype=q.dtype) - rho * xp.outer(s, y)
    return v @ q @ v.T + rho * xp.outer(s, s), False
