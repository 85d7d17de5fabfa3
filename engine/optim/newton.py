"""Newton's method with the exact Hessian from double backward, for small problems (book 4.6)."""
from __future__ import annotations

import numpy as np

from engine import autodiff, backend
from engine.optim.optimizer import Optimizer, _ieee, check_number

__all__ = ["Newton"]


class Newton(Optimizer):
    r"""Damped Newton's method: :math:`(H + \lambda I)\,d_k = \nabla f(x_k)`,
    :math:`x_{k+1} = x_k - c\,d_k`.

    :math:`x_k - d_k` minimises the second-order Taylor model
    :math:`f(x_k) + \nabla f^\top \Delta + \tfrac12 \Delta^\top H \Delta`, so on a quadratic one
    full step (:math:`c = 1`, :math:`\lambda = 0`) lands on the minimiser (T4.8), and near a
    minimum with positive-definite :math:`H` the error squares each step,
    :math:`\|x_{k+1} - x^*\| \le C\|x_k - x^*\|^2` (the book drops the square, erratum E4).
    For :math:`H` positive definite the step descends:
    :math:`\nabla f^\top(-d) = -\nabla f^\top H^{-1}\nabla f < 0` (erratum E3 has the sign
    wrong).  Damping :math:`\lambda > 0` shifts the spectrum of :math:`H`, taming indefinite
    or near-singular Hessians and bending the step towards gradient descent.

    The Hessian is exact: the gradient is computed with ``create_graph=True`` and each of its
    :math:`n` components is differentiated again (one extra backward pass per parameter entry,
    :math:`H_{i\cdot} = \nabla (e_i^\top \nabla f)`), which is why this is for small problems.
    The system is solved with ``xp.linalg.solve`` (never an explicit inverse).  If
    :math:`H + \lambda I` is singular to working precision (or the solve gives inf/NaN), the
    minimum-norm least-squares step from ``xp.linalg.lstsq`` is taken instead and
    ``state['singular']`` is set; if the Hessian itself is inf/NaN the step falls back to
    the gradient.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        All parameters together form one vector :math:`x` of at most :attr:`MAX_PARAMS`
        entries; parameter groups may set their own ``lr`` and ``damping`` (damping is then
        added to the diagonal entries of that group's coordinates).
    lr : float, >= 0
        Step scale :math:`c` (1 is the pure Newton step).
    damping : float, >= 0
        :math:`\lambda`.

    Notes
    -----
    ``step(closure)`` requires the closure; it must return the scalar loss computed from the
    parameters (calling ``backward`` in it is not needed, and ``.grad`` is left alone).
    State per parameter: ``'step'``, ``'hessian'`` (the full :math:`n \times n` Hessian
    :math:`H` at the last iterate, without damping; the same array for every parameter),
    ``'index'`` (``(start, stop)`` of this parameter in the flat vector), ``'gradient'`` and
    ``'newton_step'`` (:math:`\nabla f` and :math:`d` for this parameter, its shape),
    ``'singular'`` (bool) and ``'solver'`` (``'solve'``, ``'lstsq'`` or ``'gradient'``).
    """

    #: Largest total number of parameter entries: the Hessian costs n backward passes and n^2
    #: memory, and the solve n^3 operations.
    MAX_PARAMS = 200
    _UNSHAPED_STATE = frozenset({"hessian"})

    def __init__(self, params, lr=1.0, damping=0.0):
        super().__init__(params, dict(lr=lr, damping=damping))

    def _check_group(self, group, initial):
        check_number("lr", group["lr"])
        check_number("damping", group["damping"])

    def _on_add_group(self, group):
        n = sum(int(p.data.size) for g in self.param_groups for p in g["params"])
        n += sum(int(p.data.size) for p in group["params"])
        if n > self.MAX_PARAMS:
            raise ValueError(f"Newton builds the full Hessian, so it is limited to "
                             f"{self.MAX_PARAMS} parameter entries in all; got {n}. Use a "
                             "first-order optimizer (SGD, Adam, ...) for larger problems.")

    def step(self, closure=None):
        """One Newton step; returns the loss the closure computed (at the old iterate).

        Raises
        ------
        ValueError
            Without a closure, when the closure does not return a scalar Tensor that depends
            on the parameters, or for a hyperparameter edited out of range (nothing changes).
        """
        if closure is None:
            raise ValueError("Newton.step needs a closure that re-evaluates and returns the "
                             "loss, e.g. opt.step(lambda: f(x)); it differentiates it twice")
        for group in self.param_groups:
            self._check_group(group, initial=False)
        params = [p for group in self.param_groups for p in group["params"]]
        with autodiff.enable_grad():
            loss = closure()
            if not getattr(loss, "requires_grad", False) or int(loss.data.size) != 1:
                raise ValueError("the closure must return a scalar Tensor computed from the "
                                 "parameters (with requires_grad=True)")
            grads = autodiff.grad(loss, params, create_graph=True, allow_unused=True)
        xp = backend.xp_of(params[0].data)
        dtype = xp.result_type(*[p.data.dtype for p in params])
        sizes = [int(p.data.size) for p in params]
        offsets = np.cumsum([0] + sizes).tolist()
        n = offsets[-1]

        def flat(t, p):
            if t is None:  # f does not depend on p at all
                return xp.zeros(p.data.size, dtype=dtype)
            return t.data.reshape(-1).astype(dtype, copy=False)

        g = xp.concatenate([flat(t, p) for t, p in zip(grads, params)])
        hess = xp.zeros((n, n), dtype=dtype)
        for j, (p, gj) in enumerate(zip(params, grads)):
            if gj is None or not gj.requires_grad:
                continue  # this gradient block is constant in x: its Hessian rows are zero
            for i in range(sizes[j]):
                e = xp.zeros(sizes[j], dtype=gj.data.dtype)
                e[i] = 1
                # d(e_i . g_j)/dx is row offsets[j] + i of H (one reverse pass).
                row = autodiff.grad(gj, params, grad_outputs=e.reshape(gj.shape),
                                    allow_unused=True)
                hess[offsets[j] + i] = xp.concatenate([flat(r, q) for r, q in zip(row, params)])
        # Round-off in double backward can leave H a hair off symmetric; the solve and the
        # eigenvalues shown for it assume symmetry.
        hess = 0.5 * (hess + hess.T)
        damp = xp.concatenate([xp.full(int(p.data.size), float(group["damping"]), dtype=dtype)
                               for group in self.param_groups for p in group["params"]])
        with _ieee(xp):
            d, solver = _newton_direction(hess + xp.diag(damp), g, xp)
            j = 0  # params is in group order, so parameter j owns d[offsets[j]:offsets[j+1]]
            for group in self.param_groups:
                for p in group["params"]:
                    lo, hi = offsets[j], offsets[j + 1]
                    j += 1
                    dp = d[lo:hi].reshape(p.data.shape)
                    p.data -= group["lr"] * dp
                    state = self.state[p]
                    state["step"] = state.get("step", 0) + 1
                    state.update(hessian=hess, index=(lo, hi),
                                 gradient=g[lo:hi].reshape(p.data.shape).copy(),
                                 newton_step=dp.copy(), singular=solver != "solve",
                                 solver=solver)
        return loss

    def describe(self, p):
        """Live numbers for ``p``: ``hessian`` (full), its ``eigenvalues`` (ascending; all
        positive means the quadratic model has a minimum), ``gradient`` and ``newton_step``
        for ``p``, ``index``, ``damping``, ``singular`` and ``solver``, plus ``lr``, ``x`` and
        ``grad``.  ``None`` before the first step."""
        out = super().describe(p)
        group = self.group_of(p)
        state = self.state.get(p, {})
        out.update(step=int(state.get("step", 0)), damping=float(group["damping"]),
                   singular=bool(state.get("singular", False)), solver=state.get("solver"),
                   index=state.get("index"), hessian=None, eigenvalues=None, gradient=None,
                   newton_step=None)
        if "hessian" not in state:
            return out
        h = backend.to_numpy(state["hessian"]).copy()
        eig = (np.linalg.eigvalsh(h) if np.isfinite(h).all()
               else np.full(h.shape[0], np.nan))
        out.update(hessian=h, eigenvalues=eig,
                   gradient=backend.to_numpy(state["gradient"]).copy(),
                   newton_step=backend.to_numpy(state["newton_step"]).copy())
        return out


def _newton_direction(a, g, xp):
    """Solve ``a d = g``; fall back to least squares, or to ``g``, when that is impossible.

    Returns
    -------
    (d, solver)
        ``solver`` is ``'solve'``, ``'lstsq'`` (``a`` singular to working precision: the
        minimum-norm least-squares step) or ``'gradient'`` (``a`` or ``g`` not finite).
    """
    if not (bool(xp.isfinite(a).all()) and bool(xp.isfinite(g).all())):
        return g.copy(), "gradient"
    # Singular "to working precision" uses lstsq's own cut-off (rcond = n * eps): below it,
    # solve would return noise amplified by 1/s_min instead of failing.
    s = xp.linalg.svd(a, compute_uv=False)
    tiny = float(s[0]) * a.shape[0] * float(xp.finfo(a.dtype).eps)
    if float(s[-1]) > tiny:
        try:
            d = xp.linalg.solve(a, g)
            if bool(xp.isfinite(d).all()):
                return d, "solve"
        except np.linalg.LinAlgError:
            pass
    d = xp.linalg.lstsq(a, g, rcond=None)[0]
    return d, "lstsq"
