r"""Normalizing flows (book 12.7-12.8): RealNVP affine coupling layers on the autodiff core.

A coupling layer keeps the first ``d`` coordinates and moves the rest by an affine map whose
scale and shift depend only on the kept ones:

.. math:: y_{1:d} = x_{1:d}, \qquad
          y_{d+1:D} = x_{d+1:D} \odot e^{s(x_{1:d})} + t(x_{1:d})

Its Jacobian is triangular, so :math:`\log|\det J| = \sum_j s_j(x_{1:d})`, and its inverse is
exact: :math:`x_{d+1:D} = (y_{d+1:D} - t(y_{1:d})) \odot e^{-s(y_{1:d})}`.

A flow :math:`g = g_K \circ \dots \circ g_1` maps data to a standard normal :math:`z`; by the
change of variables

.. math:: \log p(x) = \log \mathcal N(g(x); 0, I) + \sum_k \log|\det J_{g_k}|

and samples are :math:`x = g^{-1}(z)`, :math:`z \sim \mathcal N(0, I)`.  Alternating which
coordinates are kept lets every coordinate move.
"""
from __future__ import annotations

import math

import numpy as np

from engine.autodiff import Tensor, concatenate
from engine.nn import functional as F
from engine.nn.layers import Linear, ModuleList
from engine.nn.module import Module

LOG_2PI = math.log(2 * math.pi)


def affine_coupling(x, d: int, s_fn, t_fn):
    """One coupling step on ``x (N, D)`` keeping the first ``d`` columns.

    ``s_fn``, ``t_fn`` map the kept ``(N, d)`` block to ``(N, D - d)``.  Returns
    ``(y, logdet (N,))``; works on Tensors (differentiable) and, through them, on arrays.
    """
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=float))
    keep, move = x[:, :d], x[:, d:]
    s, t = s_fn(keep), t_fn(keep)
    y = _cat(keep, move * s.exp() + t)
    return y, s.sum(axis=1)


def affine_coupling_inverse(y, d: int, s_fn, t_fn):
    """Exact inverse of :func:`affine_coupling`."""
    y = y if isinstance(y, Tensor) else Tensor(np.asarray(y, dtype=float))
    keep, moved = y[:, :d], y[:, d:]
    s, t = s_fn(keep), t_fn(keep)
    return _cat(keep, (moved - t) * (-s).exp())


def _cat(a, b):
    return concatenate([a, b], axis=1)


class Coupling2D(Module):
    """A 2-D affine coupling layer: coordinate ``keep`` (0 or 1) conditions the other one
    through a small MLP ``1 -> hidden -> hidden -> 2`` giving ``(s, t)``; ``s`` is bounded by
    ``scale * tanh`` so early training cannot blow up the exponent."""

    def __init__(self, keep: int, hidden: int = 64, scale: float = 2.0, dtype=np.float32,
                 generator=None):
        super().__init__()
        if keep not in (0, 1):
            raise ValueError(f"keep must be 0 or 1, got {keep!r}")
        self.keep, self.scale = keep, float(scale)
        self.l1 = Linear(1, hidden, dtype=dtype, generator=generator)
        self.l2 = Linear(hidden, hidden, dtype=dtype, generator=generator)
        self.l3 = Linear(hidden, 2, dtype=dtype, generator=generator)
        # Start as the identity map: zero last layer gives s = t = 0.
        self.l3.weight.data[...] = 0
        self.l3.bias.data[...] = 0

    def _st(self, cond):
        h = F.tanh(self.l2(F.tanh(self.l1(cond))))
        out = self.l3(h)
        return F.tanh(out[:, :1]) * self.scale, out[:, 1:]

    def _split(self, x):
        c, m = x[:, self.keep:self.keep + 1], x[:, 1 - self.keep:2 - self.keep]
        return c, m

    def _join(self, c, m):
        return _cat(c, m) if self.keep == 0 else _cat(m, c)

    def forward(self, x):
        """Data side -> latent side: ``(y, logdet (N,))``."""
        c, m = self._split(x)
        s, t = self._st(c)
        return self._join(c, m * s.exp() + t), s.sum(axis=1)

    def inverse(self, y):
        c, m = self._split(y)
        s, t = self._st(c)
        return self._join(c, (m - t) * (-s).exp())


class RealNVP2D(Module):
    """``n_layers`` 2-D couplings alternating the kept coordinate, base :math:`\\mathcal N(0,I)`.

    ``log_prob(x)`` is the exact log density; ``sample(n, rng)`` draws from the model;
    ``layers_forward(x)`` / ``layers_inverse(z)`` return every intermediate point set (what
    the flow panel draws column by column).
    """

    def __init__(self, n_layers: int = 6, hidden: int = 64, dtype=np.float32, generator=None):
        super().__init__()
        if not 1 <= n_layers <= 32:
            raise ValueError(f"a flow has 1-32 coupling layers, got {n_layers}")
        self.layers = ModuleList(Coupling2D(i % 2, hidden, dtype=dtype, generator=generator)
                                 for i in range(n_layers))
        self.config = {"n_layers": int(n_layers), "hidden": int(hidden)}

    @classmethod
    def from_config(cls, config: dict, generator=None) -> "RealNVP2D":
        cfg = validate_flow_config(config)
        return cls(cfg["n_layers"], cfg["hidden"], generator=generator)

    def forward(self, x):
        """``(z, logdet)`` of data ``x (N, 2)``."""
        logdet = None
        for layer in self.layers:
            x, ld = layer(x)
            logdet = ld if logdet is None else logdet + ld
        return x, logdet

    def log_prob(self, x):
        z, logdet = self(x)
        base = (z * z).sum(axis=1) * -0.5 - LOG_2PI    # log N(z; 0, I) in 2-D
        return base + logdet

    def inverse(self, z):
        for layer in reversed(list(self.layers)):
            z = layer.inverse(z)
        return z

    def sample(self, n: int, rng, dtype=np.float32):
        z = rng.standard_normal((n, 2)).astype(dtype)
        return self.inverse(Tensor(self.layers[0].l1.weight.xp.asarray(z)))

    def layers_forward(self, x):
        out = [x]
        for layer in self.layers:
            x, _ = layer(x)
            out.append(x)
        return out

    def layers_inverse(self, z):
        out = [z]
        for layer in reversed(list(self.layers)):
            z = layer.inverse(z)
            out.append(z)
        return out


def validate_flow_config(config) -> dict:
    if not isinstance(config, dict):
        raise ValueError("flow config must be a JSON object")
    n, h = config.get("n_layers"), config.get("hidden")
    if not isinstance(n, int) or not 1 <= n <= 32:
        raise ValueError(f"n_layers must be an integer 1-32, got {n!r}")
    if not isinstance(h, int) or not 2 <= h <= 512:
        raise ValueError(f"hidden must be an integer 2-512, got {h!r}")
    return {"n_layers": n, "hidden": h}


def gaussian_nll(train: np.ndarray, test: np.ndarray) -> float:
    """Mean negative log-likelihood of ``test`` under the best single Gaussian for ``train``
    (maximum-likelihood mean and covariance): the baseline a flow should beat."""
    mu = train.mean(0)
    cov = np.cov(train.T, bias=True) + 1e-6 * np.eye(train.shape[1])
    d = test - mu
    inv = np.linalg.inv(cov)
    _, logdet = np.linalg.slogdet(cov)
    k = train.shape[1]
    return float(np.mean(0.5 * np.einsum("ni,ij,nj->n", d, inv, d) + 0.5 * logdet
                         + 0.5 * k * LOG_2PI))


__all__ = ["affine_coupling", "affine_coupling_inverse", "Coupling2D", "RealNVP2D",
           "validate_flow_config", "gaussian_nll"]
