r"""The math of GANs and WGANs (book 12.5-12.6): losses, critic constraints, divergences.

Losses take the discriminator's raw outputs :math:`d = D(x)` (logits for a GAN, critic values
for a WGAN), so the sigmoid never has to be taken and then logged again:

* ``minimax``: D minimises :math:`-\mathbb E\log\sigma(d_r) - \mathbb E\log(1-\sigma(d_f))`,
  G minimises :math:`\mathbb E\log(1-\sigma(d_f))` (the book's game);
* ``non_saturating``: same D loss, G minimises :math:`-\mathbb E\log\sigma(d_f)`;
* ``wgan_clip``: the critic minimises :math:`\mathbb E\,d_f - \mathbb E\,d_r` and its weights
  are clipped (:func:`clip_`), G minimises :math:`-\mathbb E\,d_f`;
* ``wgan_gp``: the same critic loss plus :func:`grad_penalty`, same G loss.

With :math:`\log\sigma(d) = -\mathrm{softplus}(-d)` and :math:`\log(1-\sigma(d)) =
-\mathrm{softplus}(d)` every GAN loss is a softplus, which is finite for any logit.  The WGAN
signs are the corrected ones (book erratum E14: as printed they would be maximised).

Divergences (the book's P/Q example and the optimal discriminator) live here too: :func:`kl`,
:func:`js`, :func:`w1_assign`, :func:`w1_grid` and the Gaussian closed forms.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from engine import backend
from engine.autodiff import Tensor, grad
from engine.nn import functional as F

LOSSES = ("minimax", "non_saturating", "wgan_clip", "wgan_gp")
WGAN_LOSSES = ("wgan_clip", "wgan_gp")
LOG4 = math.log(4.0)


def _check_kind(kind: str) -> str:
    if kind not in LOSSES:
        raise ValueError(f"loss kind must be one of {', '.join(LOSSES)}, got {kind!r}")
    return kind


def _tensor(d) -> Tensor:
    return d if isinstance(d, Tensor) else Tensor(np.asarray(d, np.float64))


def d_loss(d_real, d_fake, kind: str) -> Tensor:
    r"""Loss the discriminator (critic) minimises, from its outputs on real and fake samples.

    Parameters
    ----------
    d_real, d_fake : Tensor or array, shape (N,) or (N, 1)
        Raw outputs :math:`D(x)` on a real batch and :math:`D(G(z))` on a generated one
        (logits for ``minimax``/``non_saturating``, critic values for the WGANs).
    kind : {'minimax', 'non_saturating', 'wgan_clip', 'wgan_gp'}

    Returns
    -------
    Tensor
        A scalar.  For a GAN it is :math:`-V(D, G)`, the negated value function, so at the
        optimum :math:`D^* = \tfrac12` it equals :math:`\log 4`.  For a WGAN it is
        :math:`\mathbb E\,d_f - \mathbb E\,d_r`, minus the critic's estimate of :math:`W_1`
        (the gradient penalty is added by the caller).
    """
    kind = _check_kind(kind)
    dr, df = _tensor(d_real), _tensor(d_fake)
    if kind in WGAN_LOSSES:
        return df.mean() - dr.mean()
    return F.softplus(-dr).mean() + F.softplus(df).mean()


def g_loss(d_fake, kind: str) -> Tensor:
    r"""Loss the generator minimises, from the discriminator's outputs on its samples.

    ``minimax`` is the book's :math:`\mathbb E\log(1 - D(G(z)))`: its gradient vanishes
    where the discriminator confidently rejects the fakes (:math:`\sigma(d_f) \to 0`), which
    is exactly early in training.  ``non_saturating`` flips it to :math:`-\mathbb E\log
    D(G(z))`, same fixed point, strong gradient where the fakes are rejected.
    """
    kind = _check_kind(kind)
    df = _tensor(d_fake)
    if kind in WGAN_LOSSES:
        return -df.mean()
    if kind == "minimax":
        return -F.softplus(df).mean()
    return F.softplus(-df).mean()


def clip_(params, c: float):
    r"""Clip every parameter in place to :math:`[-c, c]` (the original WGAN's crude way of
    keeping the critic :math:`K`-Lipschitz); returns ``params`` as a list."""
    c = float(c)
    if not c > 0 or not math.isfinite(c):
        raise ValueError(f"the clipping bound c must be a positive number, got {c}")
    params = list(params)
    for p in params:
        xp = backend.xp_of(p.data)
        xp.clip(p.data, -c, c, out=p.data)
    return params


def interpolates(x_real, x_fake, rng: np.random.Generator):
    r""":math:`\hat x = \epsilon x_r + (1 - \epsilon) x_f`, one :math:`\epsilon \sim U(0, 1)` per
    pair (raw arrays in, a raw array out)."""
    xr = x_real.data if isinstance(x_real, Tensor) else x_real
    xf = x_fake.data if isinstance(x_fake, Tensor) else x_fake
    if xr.shape != xf.shape:
        raise ValueError(f"real and fake batches must have the same shape, got {xr.shape} "
                         f"and {xf.shape}")
    xp = backend.xp_of(xr)
    eps = xp.asarray(rng.random((xr.shape[0],) + (1,) * (xr.ndim - 1)), dtype=xr.dtype)
    return eps * xr + (1 - eps) * xf


def grad_penalty(D, x_real, x_fake, rng: np.random.Generator, x_hat=None) -> Tensor:
    r"""WGAN-GP's two-sided penalty :math:`\mathbb E_{\hat x}(\|\nabla_{\hat x} D(\hat x)\|_2
    - 1)^2` on random points of the segments between real and fake samples.

    The gradient with respect to :math:`\hat x` is taken with ``create_graph=True``, so the
    penalty can itself be differentiated with respect to the critic's weights (double
    backward).  A tiny :math:`10^{-12}` inside the square root keeps its derivative finite
    where the gradient vanishes.

    Parameters
    ----------
    D : callable
        The critic, ``(N, d) Tensor -> (N, 1) Tensor``.
    x_real, x_fake : array or Tensor, shape (N, d)
    rng : numpy.random.Generator
        Draws the interpolation weights.
    x_hat : array, optional
        Use these points instead of drawing interpolates (for tests).

    Returns
    -------
    Tensor
        A scalar (multiply by :math:`\lambda`, 10 in the paper).
    """
    xh = interpolates(x_real, x_fake, rng) if x_hat is None else x_hat
    xh = Tensor(xh, requires_grad=True)
    out = D(xh)
    g, = grad(out.sum(), xh, create_graph=True)
    norm = ((g * g).sum(1) + 1e-12) ** 0.5
    return ((norm - 1.0) ** 2).mean()


# -- mode coverage ------------------------------------------------------------------------------
class Coverage(NamedTuple):
    """What :func:`mode_coverage` measures."""

    covered: int             #: modes that got at least their share of good samples
    high_quality: float      #: fraction of samples within 3 std of their nearest centre
    counts: np.ndarray       #: good samples per mode, shape (K,)


def mode_coverage(samples, centers, std: float, min_share: float = 0.2) -> Coverage:
    r"""How many modes of a Gaussian mixture a generator reproduces.

    Each sample is assigned to its nearest centre and counts as *high quality* when it lies
    within :math:`3\sigma` of it.  A mode is *covered* when it holds at least ``min_share`` of
    its fair share :math:`N/K` of high-quality samples (0.2: 20 of 100 expected, the usual
    threshold in the mode-collapse literature), so a few stray samples don't count.

    Parameters
    ----------
    samples : array, shape (N, 2)
    centers : array, shape (K, 2)
    std : float
        The mixture components' standard deviation :math:`\sigma`.
    min_share : float
        Fraction of the fair share a mode needs.
    """
    s = np.asarray(backend.to_numpy(samples), np.float64)
    c = np.asarray(centers, np.float64)
    if s.ndim != 2 or c.ndim != 2 or s.shape[1] != c.shape[1] or len(c) == 0:
        raise ValueError(f"samples (N, d) and centers (K, d) must share d; got {s.shape} and "
                         f"{c.shape}")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    if len(s) == 0:
        return Coverage(0, 0.0, np.zeros(len(c), np.int64))
    d2 = ((s[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    nearest = d2.argmin(1)
    good = d2[np.arange(len(s)), nearest] <= (3.0 * std) ** 2
    counts = np.bincount(nearest[good], minlength=len(c))
    need = max(1.0, min_share * len(s) / len(c))
    return Coverage(int((counts >= need).sum()), float(good.mean()), counts)


# -- divergences --------------------------------------------------------------------------------
def _prob_pair(p, q):
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    if (p < 0).any() or (q < 0).any() or not (np.isfinite(p).all() and np.isfinite(q).all()):
        raise ValueError("p and q must be finite and non-negative")
    return p, q


def kl(p, q, dx: float | None = None) -> float:
    r"""Kullback-Leibler divergence :math:`KL(p\|q) = \sum_x p(x)\log\frac{p(x)}{q(x)}`.

    Discrete distributions by default; with ``dx`` the arrays are densities on a uniform grid
    of spacing ``dx`` and the sum becomes :math:`\int p\log(p/q)\,dx`.  Terms with
    :math:`p = 0` contribute 0; any :math:`p > 0` where :math:`q = 0` makes it :math:`+\infty`
    (what happens for distributions on disjoint supports).
    """
    p, q = _prob_pair(p, q)
    on = p > 0
    if (q[on] == 0).any():
        return math.inf
    val = float(np.sum(p[on] * np.log(p[on] / q[on])))
    return val * dx if dx is not None else val


def js(p, q, dx: float | None = None) -> float:
    r"""Jensen-Shannon divergence :math:`\tfrac12 KL(p\|m) + \tfrac12 KL(q\|m)`,
    :math:`m = \tfrac12(p + q)`: symmetric, always finite, at most :math:`\log 2` (reached
    exactly when the supports are disjoint, however far apart)."""
    p, q = _prob_pair(p, q)
    m = 0.5 * (p + q)
    return 0.5 * kl(p, m, dx) + 0.5 * kl(q, m, dx)


def w1_assign(X, Y) -> float:
    r"""Earth mover's distance :math:`W_1` between two equal-size samples, exactly.

    With equal weights :math:`1/n` the optimal transport plan is a permutation, so
    :math:`W_1 = \min_\pi \frac1n\sum_i \|x_i - y_{\pi(i)}\|_2`.  In 1-D the sorted order is
    optimal; otherwise the assignment problem is solved with the Hungarian method
    (``scipy.optimize.linear_sum_assignment``, :math:`O(n^3)`).

    Parameters
    ----------
    X, Y : array, shape (n,) or (n, d)
    """
    X = np.asarray(backend.to_numpy(X), np.float64)
    Y = np.asarray(backend.to_numpy(Y), np.float64)
    if X.shape != Y.shape or X.ndim not in (1, 2) or len(X) == 0:
        raise ValueError(f"X and Y must be non-empty samples of the same shape (n,) or (n, d), "
                         f"got {X.shape} and {Y.shape}")
    if X.ndim == 1 or X.shape[1] == 1:
        return float(np.abs(np.sort(X.ravel()) - np.sort(Y.ravel())).mean())
    from scipy.optimize import linear_sum_assignment

    cost = np.sqrt(((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1))
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def w1_grid(p, q, dx: float) -> float:
    r"""1-D :math:`W_1` between two densities on a uniform grid: :math:`\int |F_p - F_q|\,dx`
    (in one dimension the optimal plan moves mass in order, so the distance is the area
    between the two CDFs)."""
    p, q = _prob_pair(p, q)
    return float(np.abs(np.cumsum(p - q) * dx).sum() * dx)


def gauss_pdf(x, mu: float, sigma: float) -> np.ndarray:
    """Density of :math:`\\mathcal N(\\mu, \\sigma^2)` at ``x``."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    x = np.asarray(x, np.float64)
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def kl_gauss(mu1: float, s1: float, mu2: float, s2: float) -> float:
    r""":math:`KL(\mathcal N(\mu_1, s_1^2)\|\mathcal N(\mu_2, s_2^2)) = \log\frac{s_2}{s_1} +
    \frac{s_1^2 + (\mu_1-\mu_2)^2}{2 s_2^2} - \frac12`."""
    if not (s1 > 0 and s2 > 0):
        raise ValueError("standard deviations must be positive")
    return math.log(s2 / s1) + (s1 ** 2 + (mu1 - mu2) ** 2) / (2 * s2 ** 2) - 0.5


def optimal_discriminator(p_r, p_g) -> np.ndarray:
    r"""The best discriminator for a fixed generator, :math:`D^*(x) = \frac{p_r(x)}{p_r(x) +
    p_g(x)}` (½ where both densities vanish)."""
    p_r, p_g = _prob_pair(p_r, p_g)
    tot = p_r + p_g
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, p_r / np.where(tot > 0, tot, 1.0), 0.5)


def value_at_optimum(p_r, p_g, dx: float) -> float:
    r""":math:`L(G, D^*) = \int p_r\log D^* + p_g\log(1 - D^*)\,dx`, integrated directly (it
    equals :math:`2\,JS(p_r\|p_g) - \log 4`, which the tests check)."""
    p_r, p_g = _prob_pair(p_r, p_g)
    tot = p_r + p_g
    a = p_r > 0
    b = p_g > 0
    # log D* = log p_r - log(p_r + p_g) and log(1 - D*) = log p_g - log(p_r + p_g): written
    # from the densities, not from D*, which rounds to exactly 1 where p_g is tiny.
    return float((np.sum(p_r[a] * (np.log(p_r[a]) - np.log(tot[a])))
                  + np.sum(p_g[b] * (np.log(p_g[b]) - np.log(tot[b])))) * dx)


def pq_divergences(theta: float) -> dict:
    r"""Closed forms for the book's example :math:`P = \{0\}\times U(0,1)`,
    :math:`Q = \{\theta\}\times U(0,1)` (two parallel vertical segments).

    For :math:`\theta \ne 0` the supports are disjoint: :math:`KL = KL_{rev} = \infty`,
    :math:`JS = \log 2` whatever :math:`\theta` is, while :math:`W_1 = |\theta|` (every unit of
    mass moves straight across).  At :math:`\theta = 0` all four are 0.
    """
    theta = float(theta)
    if not math.isfinite(theta):
        raise ValueError(f"theta must be finite, got {theta}")
    if theta == 0:
        return {"kl": 0.0, "kl_reverse": 0.0, "js": 0.0, "w1": 0.0}
    return {"kl": math.inf, "kl_reverse": math.inf, "js": math.log(2.0), "w1": abs(theta)}
