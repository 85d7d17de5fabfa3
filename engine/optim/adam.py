"""Adam: bias-corrected running moments of the gradient (book 4.14)."""
from __future__ import annotations

import math

import numpy as np

from engine import backend
from engine.optim.optimizer import Optimizer, _ieee, check_number

__all__ = ["Adam"]


class Adam(Optimizer):
    r"""Adam, exactly as ``torch.optim.Adam`` (L2 weight decay, optional AMSGrad).

    With :math:`g_k = \nabla L(x_k) + \lambda x_k`, element-wise:

    .. math::

        m_k = \beta_1 m_{k-1} + (1-\beta_1) g_k, \qquad
        v_k = \beta_2 v_{k-1} + (1-\beta_2) g_k^2, \qquad m_0 = v_0 = 0

        \hat m_k = \frac{m_k}{1-\beta_1^k}, \qquad \hat v_k = \frac{v_k}{1-\beta_2^k}, \qquad
        x_{k+1} = x_k - c\,\frac{\hat m_k}{\sqrt{\hat v_k} + \epsilon}

    The bias corrections undo the pull of the zero start: at :math:`k = 1`,
    :math:`\hat m_1 = g_1` and :math:`\hat v_1 = g_1^2`, so the first step is
    :math:`-c\,\mathrm{sign}(g_1)` per coordinate (up to :math:`\epsilon`; test vector T4.14).
    The book prints the exponent :math:`+\tfrac12`, :math:`G_k = \beta G_k` and no second
    moment or bias correction (erratum E11); this is the complete, correct rule.

    *AMSGrad* (``amsgrad=True``) divides by the running maximum
    :math:`\hat v^{\max}_k = \max(\hat v^{\max}_{k-1}, v_k)` instead of :math:`v_k`, so the
    per-coordinate step size never grows.

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float, >= 0
        Learning rate :math:`c`.
    betas : (float, float), each in [0, 1)
        :math:`(\beta_1, \beta_2)`, decays of the first and second moment.
    eps : float, >= 0
        :math:`\epsilon`.
    weight_decay : float, >= 0
        L2 penalty :math:`\lambda`, added to the gradient (Adam, not AdamW).
    amsgrad : bool
        Use the AMSGrad variant.
    maximize : bool
        Ascend instead of descend (keyword only).

    Notes
    -----
    Computed in PyTorch's order: :math:`x \mathrel{-}= \frac{c}{1-\beta_1^k}\, m_k /
    (\sqrt{v_k}/\sqrt{1-\beta_2^k} + \epsilon)`, which equals the formula above.
    State per parameter: ``'step'`` (int), ``'exp_avg'`` (:math:`m_k`), ``'exp_avg_sq'``
    (:math:`v_k`) and, with AMSGrad, ``'max_exp_avg_sq'``; arrays shaped like the parameter.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group, initial):
        check_number("lr", group["lr"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), each in [0, 1), "
                             f"got {betas!r}")
        check_number("betas[0]", betas[0], 0.0, 1.0, high_open=True)
        check_number("betas[1]", betas[1], 0.0, 1.0, high_open=True)
        check_number("eps", group["eps"])
        check_number("weight_decay", group["weight_decay"])

    def _update(self, p, x, g, group, state, xp):
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(x)
            state["exp_avg_sq"] = xp.zeros_like(x)
        state["step"] += 1
        k = state["step"]
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * x
        beta1, beta2 = group["betas"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (g - m)  # = beta1 m + (1 - beta1) g, PyTorch's lerp form
        v *= beta2
        v += (1 - beta2) * (g * g)
        step_size = group["lr"] / (1 - beta1 ** k)
        bc2_sqrt = math.sqrt(1 - beta2 ** k)
        if group["amsgrad"]:
            vmax = state.get("max_exp_avg_sq")
            if vmax is None:  # AMSGrad switched on mid-run: the max starts from here
                vmax = state["max_exp_avg_sq"] = xp.zeros_like(x)
            xp.maximum(vmax, v, out=vmax)
            denom = xp.sqrt(vmax)
        else:
            denom = xp.sqrt(v)
        denom /= bc2_sqrt
        denom += group["eps"]
        x -= step_size * (m / denom)

    def describe(self, p):
        r"""Live numbers for ``p`` after its last step.

        Keys: ``step`` k, ``betas``, ``eps``, ``m`` and ``v`` (the raw moments), ``m_hat`` and
        ``v_hat`` (bias-corrected; ``v_hat`` uses the AMSGrad maximum when that is on),
        ``bias_correction1`` :math:`1-\beta_1^k`, ``bias_correction2`` :math:`1-\beta_2^k`,
        ``effective_lr`` :math:`c/(\sqrt{\hat v}+\epsilon)` per coordinate and ``update``
        :math:`-c\,\hat m/(\sqrt{\hat v}+\epsilon)`, the step that was applied; plus ``lr``,
        ``x`` and ``grad``.  Arrays are ``None`` before the first step.
        """
        out = super().describe(p)
        group = self.group_of(p)
        state = self.state.get(p, {})
        beta1, beta2 = group["betas"]
        k = int(state.get("step", 0))
        out.update(step=k, betas=(float(beta1), float(beta2)), eps=float(group["eps"]),
                   m=None, v=None, m_hat=None, v_hat=None, bias_correction1=None,
                   bias_correction2=None, effective_lr=None, update=None)
        if k == 0 or "exp_avg" not in state:
            return out
        m = backend.to_numpy(state["exp_avg"]).copy()
        v = backend.to_numpy(state["exp_avg_sq"]).copy()
        vmax = state.get("max_exp_avg_sq") if group["amsgrad"] else None
        bc1, bc2 = 1 - beta1 ** k, 1 - beta2 ** k
        with _ieee(np):
            m_hat = m / bc1
            v_hat = (v if vmax is None else backend.to_numpy(vmax)) / bc2
            eff = group["lr"] / (np.sqrt(v_hat) + group["eps"])
            update = -eff * m_hat
        out.update(m=m, v=v, m_hat=m_hat, v_hat=v_hat, bias_correction1=bc1,
                   bias_correction2=bc2, effective_lr=eff, update=update)
        return out
