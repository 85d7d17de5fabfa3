r"""Neural Turing machine addressing and memory access (book ch. 11, section 11.2).

A head turns a few controller outputs into a weighting :math:`w \in \Delta^{N-1}` over the
:math:`N` rows of a memory :math:`M \in \mathbb R^{N \times W}` in four stages, then reads
and writes through it:

==============  ================================================================================
content         :math:`w^c(i) = \mathrm{softmax}_i\big(\beta\,\cos(k, M(i))\big)`
interpolate     :math:`w^g = g\,w^c + (1 - g)\,w_{t-1}`
shift           :math:`\tilde w(i) = \sum_j w^g(j)\,s\big((i - j) \bmod N\big)` (circular)
sharpen         :math:`w(i) = \tilde w(i)^\gamma / \sum_j \tilde w(j)^\gamma`, :math:`\gamma \ge 1`
read            :math:`r = \sum_i w(i)\,M(i)`
write           :math:`M'(i) = M(i) \odot (1 - w(i)\,e) + w(i)\,a`
==============  ================================================================================

Every function takes either plain arrays (NumPy or CuPy; the result is an array of the same
kind, for display) or engine :class:`~engine.autodiff.Tensor` objects (the result is a Tensor
in the autodiff graph, for training a controller).  Both go through the same code: plain
arrays are wrapped in grad-free Tensors and unwrapped at the end, so what the panel shows is
exactly what training differentiates.

Shapes broadcast over leading batch axes ``...``: memory ``(..., N, W)``, key/erase/add
``(..., W)``, weightings ``(..., N)``, shift kernels ``(..., K)`` with odd ``K`` (entry
``K // 2`` is "stay", lower entries shift toward row 0), and scalars ``beta``, ``g``,
``gamma`` of shape ``(...)`` or plain numbers.
"""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np

from engine import backend
from engine.autodiff import (
    Tensor,
    cat,
    log,
    no_grad,
    sigmoid,
    softmax,
    sqrt,
    stack,
    tanh,
)
from engine.autodiff import sum as tsum
from engine.nn import functional as F
from engine.nn.layers import Linear

#: Added under the square root of the norms: an all-zero memory row (a fresh memory) has a
#: cosine of 0 instead of 0/0, and its gradient stays finite.
NORM_EPS = 1e-8
#: Added before the logarithm in ``sharpen``: a weight of exactly 0 stays (almost) 0 instead
#: of producing log(0) = -inf and a NaN gradient for gamma.
SHARPEN_EPS = 1e-12


# -- plumbing -------------------------------------------------------------------------------------
def _wrap(args):
    """Wrap the arguments as Tensors; returns ``(tensors, track)``.

    ``track`` is True when any argument already is a Tensor: then the caller's graph is
    extended.  Arrays and numbers take the dtype of the first Tensor or floating array
    (float64 when there is none) so nothing is silently down- or up-cast.
    """
    track = any(isinstance(a, Tensor) for a in args)
    ref = None
    for a in args:
        data = a.data if isinstance(a, Tensor) else a
        if hasattr(data, "dtype") and np.dtype(data.dtype).kind == "f":
            ref = data
            break
    dtype = ref.dtype if ref is not None else np.float64
    xp = backend.xp_of(ref) if ref is not None else np
    out = []
    for a in args:
        if isinstance(a, Tensor):
            out.append(a)
        else:
            out.append(Tensor(xp.asarray(a, dtype=dtype)))
    return out, track


def _unwrap(result, track):
    if track:
        return result
    if isinstance(result, dict):
        return {k: v.data for k, v in result.items()}
    return result.data


def _col(x):
    """``(...)`` -> ``(..., 1)``: a per-batch scalar that broadcasts over the last axis."""
    return x.reshape(tuple(x.shape) + (1,))


# -- the stages -----------------------------------------------------------------------------------
def _cosine(M, k):
    dots = tsum(M * k.reshape(tuple(k.shape[:-1]) + (1, k.shape[-1])), axis=-1)
    norm_m = sqrt(tsum(M * M, axis=-1) + NORM_EPS)
    norm_k = sqrt(tsum(k * k, axis=-1) + NORM_EPS)
    return dots / (norm_m * _col(norm_k))


def cosine(M, k):
    r"""Cosine similarity of the key with every memory row.

    .. math::  K(k, M(i)) = \frac{k \cdot M(i)}{\lVert k\rVert\,\lVert M(i)\rVert}

    Parameters
    ----------
    M : array or Tensor, shape ``(..., N, W)``
    k : array or Tensor, shape ``(..., W)``

    Returns
    -------
    shape ``(..., N)``, values in [-1, 1] (0 for an all-zero row or key).
    """
    (M, k), track = _wrap((M, k))
    with no_grad() if not track else nullcontext():
        return _unwrap(_cosine(M, k), track)


def _content(M, k, beta):
    return softmax(_col(beta) * _cosine(M, k), dim=-1)


def content(M, k, beta):
    r"""Content addressing: a softmax over rows of the key strength times the cosine.

    .. math::  w^c(i) = \frac{\exp\big(\beta\,K(k, M(i))\big)}
                             {\sum_j \exp\big(\beta\,K(k, M(j))\big)}

    ``beta = 0`` gives the uniform weighting; large ``beta`` puts (almost) all weight on the
    most similar row.

    Parameters
    ----------
    M : shape ``(..., N, W)``
    k : shape ``(..., W)``
    beta : number or shape ``(...)``, ``>= 0``

    Returns
    -------
    w_c : shape ``(..., N)``, sums to 1 over the last axis.
    """
    (M, k, beta), track = _wrap((M, k, beta))
    with no_grad() if not track else nullcontext():
        return _unwrap(_content(M, k, beta), track)


def _interpolate(wc, wprev, g):
    g = _col(g)
    return g * wc + (1.0 - g) * wprev


def interpolate(wc, wprev, g):
    r"""Interpolation gate between the content weighting and last step's weighting.

    .. math::  w^g = g\,w^c + (1 - g)\,w_{t-1}

    ``g = 1`` uses the content weighting alone; ``g = 0`` ignores the key and keeps the
    previous weighting (which the shift then moves: location-based addressing).

    Parameters
    ----------
    wc, wprev : shape ``(..., N)``
    g : number or shape ``(...)``, in [0, 1]

    Returns
    -------
    shape ``(..., N)``
    """
    (wc, wprev, g), track = _wrap((wc, wprev, g))
    with no_grad() if not track else nullcontext():
        return _unwrap(_interpolate(wc, wprev, g), track)


def shift_index(n: int, k: int) -> np.ndarray:
    r"""Gather indices of the circular convolution: ``idx[m, i] = (i - o_m) mod n`` with
    offsets :math:`o_m = m - \lfloor k/2 \rfloor`, shape ``(k, n)``."""
    if k % 2 != 1:
        raise ValueError(f"a shift kernel needs an odd number of entries (got {k}): the "
                         "middle one is 'stay', the others shift by -K//2 .. K//2")
    offsets = np.arange(k) - k // 2
    return (np.arange(n)[None, :] - offsets[:, None]) % n


def _shift(wg, s):
    n, k = wg.shape[-1], s.shape[-1]
    idx = shift_index(n, k)
    # gathered[..., m, i] = w^g((i - o_m) mod N): every offset at once, no loop over rows.
    # Repeated indices (a kernel longer than N) sum in the backward pass (scatter-add).
    gathered = wg[..., idx]
    return tsum(gathered * s.reshape(tuple(s.shape) + (1,)), axis=-2)


def shift(wg, s):
    r"""Circular convolution of the weighting with the shift kernel.

    .. math::  \tilde w(i) = \sum_j w^g(j)\,s\big((i - j) \bmod N\big)
               = \sum_{o} s(o)\,w^g\big((i - o) \bmod N\big)

    A kernel with all its mass on offset :math:`o = +1` moves every weight one row down
    (row :math:`N-1` wraps to row 0).  The total weight is preserved when ``s`` sums to 1.

    Parameters
    ----------
    wg : shape ``(..., N)``
    s : shape ``(..., K)``, ``K`` odd; ``s[..., m]`` is the probability of offset
        :math:`m - \lfloor K/2 \rfloor` (for ``K = 3``: shift -1, stay, +1).

    Returns
    -------
    shape ``(..., N)``
    """
    (wg, s), track = _wrap((wg, s))
    with no_grad() if not track else nullcontext():
        return _unwrap(_shift(wg, s), track)


def _sharpen(w, gamma):
    # w^gamma / sum w^gamma written as softmax(gamma * log w): the same number, but the
    # softmax subtracts the maximum first, so a large gamma cannot underflow every entry.
    return softmax(_col(gamma) * log(w + SHARPEN_EPS), dim=-1)


def sharpen(w, gamma):
    r"""Sharpening: raise to a power and renormalise.

    .. math::  w(i) = \frac{\tilde w(i)^\gamma}{\sum_j \tilde w(j)^\gamma}, \qquad \gamma \ge 1

    ``gamma = 1`` leaves a normalised weighting unchanged; larger ``gamma`` undoes the blur
    of the shift by moving weight to the largest entries.

    Parameters
    ----------
    w : shape ``(..., N)``, non-negative
    gamma : number or shape ``(...)``

    Returns
    -------
    shape ``(..., N)``, sums to 1.
    """
    (w, gamma), track = _wrap((w, gamma))
    with no_grad() if not track else nullcontext():
        return _unwrap(_sharpen(w, gamma), track)


def _read(M, w):
    return tsum(_col(w) * M, axis=-2)


def read(M, w):
    r"""Read head: the weighted sum of the memory rows.

    .. math::  r = \sum_i w(i)\,M(i)

    Parameters
    ----------
    M : shape ``(..., N, W)``
    w : shape ``(..., N)``

    Returns
    -------
    r : shape ``(..., W)``
    """
    (M, w), track = _wrap((M, w))
    with no_grad() if not track else nullcontext():
        return _unwrap(_read(M, w), track)


def _row(v):
    """``(..., W)`` -> ``(..., 1, W)``."""
    return v.reshape(tuple(v.shape[:-1]) + (1, v.shape[-1]))


def _write(M, w, e, a):
    wc = _col(w)
    return M * (1.0 - wc * _row(e)) + wc * _row(a)


def write(M, w, e, a):
    r"""Write head: erase, then add, each in proportion to the row's weight.

    .. math::  \tilde M(i) = M(i) \odot \big(1 - w(i)\,e\big), \qquad
               M'(i) = \tilde M(i) + w(i)\,a

    The erase is partial: entry :math:`j` of row :math:`i` keeps the fraction
    :math:`1 - w(i)e_j` of its value, so it is wiped only where both the weight and the erase
    entry are 1.

    Parameters
    ----------
    M : shape ``(..., N, W)``
    w : shape ``(..., N)``
    e : shape ``(..., W)``, entries in [0, 1]
    a : shape ``(..., W)``

    Returns
    -------
    M' : shape ``(..., N, W)``
    """
    (M, w, e, a), track = _wrap((M, w, e, a))
    with no_grad() if not track else nullcontext():
        return _unwrap(_write(M, w, e, a), track)


def address(M, k, beta, g, s, gamma, w_prev, *, stages=False):
    r"""The whole addressing pipeline: content, interpolation, shift, sharpening.

    .. math::  w = \mathrm{sharpen}\Big(\mathrm{shift}\big(g\,\mathrm{softmax}(\beta
               \cos(k, M)) + (1 - g)\,w_{t-1},\ s\big),\ \gamma\Big)

    Parameters
    ----------
    M : shape ``(..., N, W)``
    k : shape ``(..., W)``
    beta, g, gamma : numbers or shape ``(...)``
    s : shape ``(..., K)``, ``K`` odd
    w_prev : shape ``(..., N)``
    stages : bool
        Return every intermediate as a dict with keys ``cos``, ``wc``, ``wg``, ``wt`` (the
        shifted weighting) and ``w``, instead of ``w`` alone.

    Returns
    -------
    w : shape ``(..., N)``, or the dict of stages.
    """
    (M, k, beta, g, s, gamma, w_prev), track = _wrap((M, k, beta, g, s, gamma, w_prev))
    with no_grad() if not track else nullcontext():
        cos = _cosine(M, k)
        wc = softmax(_col(beta) * cos, dim=-1)
        wg = _interpolate(wc, w_prev, g)
        wt = _shift(wg, s)
        w = _sharpen(wt, gamma)
        out = {"cos": cos, "wc": wc, "wg": wg, "wt": wt, "w": w} if stages else w
        return _unwrap(out, track)


# -- a tiny NTM that learns to copy ---------------------------------------------------------------
def copy_batch(rng, batch: int, length: int, bits: int, dtype=np.float32):
    r"""A batch of the copy task: show ``length`` random bit vectors, then a delimiter, then
    ask for the same vectors back.

    Time steps :math:`T = 2L + 1`.  Input channels: ``bits`` data bits, an "input present"
    flag (1 while the sequence is shown; without it an all-zero vector would look like the
    recall phase to a controller without memory of its own) and the delimiter flag.

    Returns
    -------
    x : ``(batch, T, bits + 2)``
    y : ``(batch, T, bits)``, the sequence in the last ``L`` steps, 0 elsewhere
    mask : ``(batch, T, bits)``, 1 where the output is scored (the last ``L`` steps)
    """
    T = 2 * length + 1
    seq = (rng.random((batch, length, bits)) < 0.5).astype(dtype)
    x = np.zeros((batch, T, bits + 2), dtype=dtype)
    x[:, :length, :bits] = seq
    x[:, :length, bits] = 1.0
    x[:, length, bits + 1] = 1.0
    y = np.zeros((batch, T, bits), dtype=dtype)
    y[:, length + 1:] = seq
    mask = np.zeros((batch, T, bits), dtype=dtype)
    mask[:, length + 1:] = 1.0
    return x, y, mask


class NTMCopyModel:
    r"""A neural Turing machine with a one-layer feed-forward controller, one read head and
    one write head (Graves et al. 2014, small).

    At each time step :math:`t`, with the last read vector :math:`r_{t-1}`:

    .. math::  h_t = \tanh(W_c [x_t; r_{t-1}] + b_c), \qquad p_t = W_h h_t + b_h

    :math:`p_t` is cut into each head's key :math:`k`, strength :math:`\beta =
    \mathrm{softplus}`, gate :math:`g = \sigma`, shift kernel :math:`s = \mathrm{softmax}`
    over (-1, 0, +1) and sharpening :math:`\gamma = 1 + \mathrm{softplus}`, plus the write
    head's erase :math:`e = \sigma` and add :math:`a = \tanh` vectors.  The heads address
    with :func:`address`, the write head writes, the read head reads :math:`r_t`, and the
    output logits are :math:`y_t = W_o [h_t; r_t] + b_o`.  A feed-forward controller
    remembers nothing itself, so whatever it recalls must have gone through the memory.

    Parameters
    ----------
    n_in, n_out : int
    rows, width : int
        Memory size :math:`N \times W`.
    hidden : int
    generator : numpy.random.Generator
    """

    def __init__(self, n_in: int, n_out: int, rows: int, width: int, hidden: int,
                 generator):
        self.rows, self.width = int(rows), int(width)
        self.head_size = width + 6               # k, beta, g, s(3), gamma
        self.ctrl = Linear(n_in + width, hidden, generator=generator)
        self.heads = Linear(hidden, 2 * self.head_size + 2 * width, generator=generator)
        self.out = Linear(hidden + width, n_out, generator=generator)

    def parameters(self):
        return [*self.ctrl.parameters(), *self.heads.parameters(), *self.out.parameters()]

    def _head(self, p, off):
        W = self.width
        k = p[:, off:off + W]
        beta = F.softplus(p[:, off + W])
        g = sigmoid(p[:, off + W + 1])
        s = softmax(p[:, off + W + 2:off + W + 5], dim=-1)
        gamma = 1.0 + F.softplus(p[:, off + W + 5])
        return (k, beta, g, s, gamma), off + self.head_size

    def forward(self, x):
        r"""Run the batch ``x`` (Tensor ``(B, T, n_in)``) through time.

        Returns
        -------
        logits : Tensor ``(B, T, n_out)``
        trace : dict of NumPy arrays: ``read_w`` and ``write_w`` ``(B, T, N)``, ``memory``
            ``(B, N, W)`` after the last step.
        """
        B, T = x.shape[0], x.shape[1]
        N, W = self.rows, self.width
        dt = x.data.dtype
        xp = backend.xp_of(x.data)
        # A tiny constant memory: content addressing on it is uniform, and the cosine
        # stays defined.  Both heads start on row 0.
        M = Tensor(xp.full((B, N, W), 1e-6, dtype=dt))
        w_read = Tensor(xp.tile(xp.eye(N, dtype=dt)[0], (B, 1)))
        w_write = w_read
        r = Tensor(xp.zeros((B, W), dtype=dt))
        outs, reads, writes = [], [], []
        for t in range(T):             # the controller loops over time, not over samples
            h = tanh(self.ctrl(cat([x[:, t, :], r], axis=-1)))
            p = self.heads(h)
            (k, beta, g, s, gamma), off = self._head(p, 0)
            w_read = address(M, k, beta, g, s, gamma, w_read)
            (k, beta, g, s, gamma), off = self._head(p, off)
            w_write = address(M, k, beta, g, s, gamma, w_write)
            e = sigmoid(p[:, off:off + W])
            a = tanh(p[:, off + W:off + 2 * W])
            M = write(M, w_write, e, a)
            r = read(M, w_read)
            outs.append(self.out(cat([h, r], axis=-1)))
            reads.append(w_read.data)
            writes.append(w_write.data)
        trace = {"read_w": backend.to_numpy(xp.stack(reads, 1)),
                 "write_w": backend.to_numpy(xp.stack(writes, 1)),
                 "memory": backend.to_numpy(M.data)}
        return stack(outs, axis=1), trace

    __call__ = forward
