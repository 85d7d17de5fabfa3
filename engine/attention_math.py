r"""Scores, weights and contexts of the classic attention variants (book ch. 11, 11.1 and 11.3).

Every variant computes the same three things for a query :math:`s_t` over the states
:math:`h_1 \dots h_n` it may look at:

.. math::  e_{t,i} = \mathrm{score}(s_t, h_i), \qquad
           \alpha_{t,i} = \frac{e^{e_{t,i}/T}}{\sum_j e^{e_{t,j}/T}}, \qquad
           c_t = \sum_i \alpha_{t,i}\,h_i

and differs in the score (:func:`dot_scores`, :func:`additive_score`), in which positions
take part (:func:`local_p`: a window around a centre :math:`p_t`, Luong et al. 2015) and in
how the weights are used (soft: the expectation :math:`c_t`; hard: one sampled state,
:func:`hard_attention_sample`).

Plain arrays (NumPy or CuPy) in, arrays of the same kind out; these are display-side
formulas, the trainable versions live in :mod:`engine.nn` (``scaled_dot_product_attention``).
"""
from __future__ import annotations

import numpy as np

from engine import backend


def _xp(*arrays):
    return backend.xp_of(*arrays)


def dot_scores(Q, K, scale=None):
    r"""Dot-product scores :math:`e_{t,i} = \lambda\, q_t \cdot k_i`.

    Parameters
    ----------
    Q : array, shape ``(..., m, d)``
        Queries, one per row.
    K : array, shape ``(..., n, d)``
        Keys.
    scale : float, optional
        :math:`\lambda`; ``None`` means 1 (Luong's plain "dot").  The transformer's scaled
        dot product uses :math:`1/\sqrt d`, which keeps the scores' spread independent of
        the width :math:`d` (for unit-variance entries :math:`q\cdot k` has variance
        :math:`d`).

    Returns
    -------
    array, shape ``(..., m, n)``
    """
    xp = _xp(Q, K)
    Q, K = xp.asarray(Q, dtype=float), xp.asarray(K, dtype=float)
    if Q.shape[-1] != K.shape[-1]:
        raise ValueError(f"dot_scores: queries of width {Q.shape[-1]} and keys of width "
                         f"{K.shape[-1]} cannot be multiplied; both need the same width d")
    S = Q @ xp.swapaxes(K, -1, -2)
    return S if scale is None else S * float(scale)


def additive_score(s, H, Wa, va):
    r"""Bahdanau's additive (concat) score :math:`e_i = v_a^\top \tanh(W_a [s; h_i])`.

    :math:`W_a [s; h] = W_s s + W_h h` with :math:`W_a = [W_s\ W_h]` split by columns, so
    every pair (query, state) is scored in one broadcast, without building the
    concatenations.

    Parameters
    ----------
    s : array, shape ``(d_s,)`` or ``(m, d_s)``
        Decoder state(s) (queries).
    H : array, shape ``(n, d_h)``
        Encoder states.
    Wa : array, shape ``(d_a, d_s + d_h)``
    va : array, shape ``(d_a,)``

    Returns
    -------
    array, shape ``(n,)`` for one query, ``(m, n)`` for ``m`` queries.
    """
    xp = _xp(s, H, Wa, va)
    s, H = xp.asarray(s, dtype=float), xp.asarray(H, dtype=float)
    Wa, va = xp.asarray(Wa, dtype=float), xp.asarray(va, dtype=float)
    d_s, d_h = s.shape[-1], H.shape[-1]
    if Wa.shape != (va.shape[0], d_s + d_h):
        raise ValueError(f"additive_score: W_a must have shape (d_a, d_s + d_h) = "
                         f"({va.shape[0]}, {d_s + d_h}) for v_a of length {va.shape[0]}, "
                         f"s of width {d_s} and h of width {d_h}; got {tuple(Wa.shape)}")
    Ws, Wh = Wa[:, :d_s], Wa[:, d_s:]
    ps = s @ Ws.T                                   # (..., d_a)
    ph = H @ Wh.T                                   # (n, d_a)
    hidden = xp.tanh(ps[..., None, :] + ph)         # (..., n, d_a)
    return hidden @ va


def softmax(scores, temperature=1.0, mask=None):
    r"""Row-wise :math:`\alpha_i = e^{e_i/T} / \sum_j e^{e_j/T}`, optionally over ``mask`` only.

    Parameters
    ----------
    scores : array, shape ``(..., n)``
    temperature : float, ``> 0``
        :math:`T`: small T sharpens toward the arg-max, large T flattens toward uniform.
    mask : bool array broadcastable to ``scores``, optional
        Positions that take part; the others get weight exactly 0.  A row with no position
        gets all zeros.

    Returns
    -------
    array, shape ``(..., n)``
    """
    if not temperature > 0:
        raise ValueError(f"the temperature must be positive, got {temperature!r}")
    xp = _xp(scores)
    z = xp.asarray(scores, dtype=float) / float(temperature)
    if mask is not None:
        z = xp.where(mask, z, -xp.inf)
    top = xp.max(z, axis=-1, keepdims=True)
    top = xp.where(xp.isfinite(top), top, 0.0)      # an all-masked row: no inf - inf
    ex = xp.exp(z - top)
    total = ex.sum(axis=-1, keepdims=True)
    return ex / xp.where(total > 0, total, 1.0)


def local_window(p_t, D, n):
    r"""Boolean mask of the positions :math:`i` with :math:`|i - p_t| \le D`, shape
    ``(..., n)`` for centres of shape ``(...)``."""
    xp = _xp(p_t)
    p = xp.asarray(p_t, dtype=float)[..., None]
    return xp.abs(xp.arange(n) - p) <= D


def local_p(scores, p_t, D, temperature=1.0):
    r"""Luong's local attention around a centre :math:`p_t` with half-width :math:`D`.

    The scores are normalised over the window :math:`[p_t - D,\ p_t + D]` only, then damped by
    a Gaussian centred on :math:`p_t` with :math:`\sigma = D/2`:

    .. math::  a_t(i) = \mathrm{softmax}_{i \in \mathrm{window}}(e_{t,i}/T)\;
               \exp\!\Big(-\frac{(i - p_t)^2}{2\sigma^2}\Big)

    As in the paper the product is not renormalised, so a row sums to at most 1 (exactly
    1 only when all the window's weight sits on :math:`i = p_t`).  A window of half-width
    :math:`D \ge 1` always holds at least two positions, so no row is empty.

    Parameters
    ----------
    scores : array, shape ``(..., n)``
    p_t : float or array of shape ``(...)``, in ``[0, n - 1]``
    D : int, ``>= 1``
    temperature : float

    Returns
    -------
    array, shape ``(..., n)``; 0 outside the window.
    """
    if D < 1:
        raise ValueError(f"the window half-width D must be at least 1, got {D}")
    xp = _xp(scores)
    scores = xp.asarray(scores, dtype=float)
    n = scores.shape[-1]
    inside = local_window(p_t, D, n)
    align = softmax(scores, temperature, mask=inside)
    return align * gaussian_envelope(p_t, D, n)


def gaussian_envelope(p_t, D, n):
    r""":math:`\exp(-(i - p_t)^2 / 2\sigma^2)` with :math:`\sigma = D/2` for ``i = 0..n-1``,
    shape ``(..., n)`` for centres of shape ``(...)``; ``D >= 1``."""
    xp = _xp(p_t)
    d = xp.arange(n) - xp.asarray(p_t, dtype=float)[..., None]
    sigma = D / 2.0
    return xp.exp(-d * d / (2.0 * sigma * sigma))


def predicted_position(S, Wp, vp, n):
    r"""Luong's local-p centre :math:`p_t = (n - 1)\,\sigma\big(v_p^\top \tanh(W_p s_t)\big)`.

    (The paper scales by the source length :math:`S`; here positions count from 0, so the
    largest is :math:`n - 1`.)

    Parameters
    ----------
    S : array, shape ``(m, d)``
        Queries.
    Wp : array, shape ``(d_p, d)``
    vp : array, shape ``(d_p,)``
    n : int
        Source length.

    Returns
    -------
    array, shape ``(m,)``, values in ``(0, n - 1)``.
    """
    xp = _xp(S, Wp, vp)
    z = xp.tanh(xp.asarray(S, dtype=float) @ xp.asarray(Wp, dtype=float).T) @ vp
    return (n - 1) / (1.0 + xp.exp(-z))


def context(alpha, V):
    r"""The expected state :math:`c_t = \sum_i \alpha_{t,i} v_i`:
    ``(..., n) @ (n, d) -> (..., d)``."""
    return alpha @ V


def hard_attention_sample(alpha, rng):
    r"""Hard attention: one position per row, :math:`i \sim \alpha_t / \sum_j \alpha_{t,j}`.

    The chosen state :math:`h_i` replaces the average :math:`c_t`; its expectation is
    :math:`c_t` (for normalised rows), but the choice is not differentiable, which is why
    hard attention is trained with REINFORCE-style estimators.

    Parameters
    ----------
    alpha : array, shape ``(..., n)``
        Non-negative weights; each row needs a positive sum (local rows that sum to less
        than 1 are sampled in proportion).
    rng : numpy.random.Generator

    Returns
    -------
    int64 array, shape ``(...)``
    """
    a = backend.to_numpy(alpha).astype(np.float64)
    if np.any(a < 0):
        raise ValueError("hard_attention_sample: weights must be non-negative")
    total = a.sum(axis=-1)
    if np.any(total <= 0):
        raise ValueError("hard_attention_sample: every row needs some positive weight")
    cdf = np.cumsum(a, axis=-1) / total[..., None]
    u = rng.random(total.shape)
    # Inverse CDF: the first position whose cumulative weight exceeds u (vectorised over
    # rows); the clip guards against u landing past a cdf that rounds to just below 1.
    idx = (cdf <= u[..., None]).sum(axis=-1)
    return np.minimum(idx, a.shape[-1] - 1).astype(np.int64)


def hard_variance(alpha, V):
    r"""Total variance of the hard-attention context, :math:`\sum_i \tilde\alpha_i
    \lVert v_i - c\rVert^2` with :math:`\tilde\alpha = \alpha/\sum\alpha` and
    :math:`c = \sum_i \tilde\alpha_i v_i`: the expected squared distance of one sample from
    the soft context.  Shape ``(...)`` for weights ``(..., n)`` and values ``(n, d)``."""
    xp = _xp(alpha, V)
    a = xp.asarray(alpha, dtype=float)
    a = a / a.sum(axis=-1, keepdims=True)
    c = a @ V
    sq = ((V - c[..., None, :]) ** 2).sum(-1)     # (..., n): each state's distance from c
    return (a * sq).sum(-1)
