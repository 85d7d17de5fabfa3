r"""Gradient utilities with PyTorch's names (``torch.nn.utils``)."""
from __future__ import annotations

import math

from engine import backend

__all__ = ["clip_grad_norm_"]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0) -> float:
    r"""Scale every gradient by one factor so that their joint norm is at most ``max_norm``.

    With :math:`g` all gradients as one vector and :math:`\eta` = ``max_norm``: if
    :math:`\|g\| > \eta` then :math:`g \leftarrow \eta\, g / \|g\|` (book 10.1; PyTorch adds
    ``1e-6`` to the norm, and so do we).  The direction is kept, only the length shrinks,
    which stops one exploding step of an RNN from throwing the weights far away.

    Parameters
    ----------
    parameters : iterable of Tensor
        Those without a gradient are skipped.
    max_norm : float
        :math:`\eta > 0`; ``math.inf`` only measures.
    norm_type : float
        ``2`` (Euclidean), any ``p >= 1``, or ``math.inf`` (largest magnitude).

    Returns
    -------
    float
        The joint norm *before* clipping (PyTorch returns it too; plot it to see explosions).
    """
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not max_norm > 0:        # inf is allowed: it measures the norm and changes nothing
        raise ValueError(f"max_norm must be a positive number, got {max_norm}")
    if not norm_type >= 1:
        raise ValueError(f"norm_type must be >= 1 or inf, got {norm_type}")
    grads = [p.grad.data for p in parameters if getattr(p, "grad", None) is not None]
    if not grads:
        return 0.0
    xp = backend.xp_of(grads[0])
    if math.isinf(norm_type):
        total = max(float(xp.abs(g).max()) for g in grads)
    else:
        total = float(sum(float((xp.abs(g) ** norm_type).sum()) for g in grads)
                      ) ** (1.0 / norm_type)
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= g.dtype.type(coef)
    return total
