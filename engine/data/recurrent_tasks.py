r"""Toy sequence tasks for recurrent networks (book ch. 10), generated with a seed.

* :func:`make_delayed_recall` - tokens :math:`x_t \in \{0..V-1\}`; the target at step
  :math:`t \ge d` is :math:`x_{t-d}`, the token seen :math:`d` steps ago.  A recurrent net must
  carry each token through :math:`d` updates of its state, which is exactly where a plain RNN's
  gradient :math:`\prod \mathrm{diag}(\phi') W` vanishes and an LSTM's additive cell path does
  not.  Steps before :math:`d` have no target (``-1``).
* :func:`make_sine_sequences` - :math:`x_t = \sin(\omega t + \varphi) + \epsilon_t` with a
  random frequency and phase per sequence; the target is the next clean value
  :math:`\sin(\omega (t+1) + \varphi)`, so the net has to infer the frequency from what it has
  seen so far.
"""
from __future__ import annotations

import numpy as np

from engine.data._common import as_rng, check_float, check_int

__all__ = ["IGNORE", "make_delayed_recall", "make_sine_sequences"]

#: Target value of a step that is not scored (as ``ignore_index`` in a cross-entropy).
IGNORE = -1


def make_delayed_recall(n: int, length: int, delay: int, vocab: int, rng=0):
    """``(tokens (n, T) int64, targets (n, T) int64)``; targets are ``IGNORE`` before ``delay``.

    Raises
    ------
    ValueError
        Unless ``1 <= delay < length`` and ``2 <= vocab <= 36``.
    """
    n = check_int("n", n, 1)
    length = check_int("length", length, 2)
    delay = check_int("delay", delay, 1, length - 1)
    vocab = check_int("vocab", vocab, 2, 36)
    tokens = as_rng(rng).integers(0, vocab, size=(n, length))
    targets = np.full((n, length), IGNORE, np.int64)
    targets[:, delay:] = tokens[:, :-delay]
    return tokens.astype(np.int64), targets


def make_sine_sequences(n: int, length: int, noise: float = 0.05, rng=0,
                        omega=(0.15, 0.6)):
    """``(inputs (n, T), targets (n, T), omegas (n,))``, float32; see the module docstring."""
    n = check_int("n", n, 1)
    length = check_int("length", length, 2)
    noise = check_float("noise", noise, 0.0, 1.0)
    g = as_rng(rng)
    w = g.uniform(*omega, size=(n, 1))
    phase = g.uniform(0, 2 * np.pi, size=(n, 1))
    t = np.arange(length + 1)[None, :]
    clean = np.sin(w * t + phase)
    x = clean[:, :-1] + noise * g.standard_normal((n, length))
    return x.astype(np.float32), clean[:, 1:].astype(np.float32), w[:, 0].astype(np.float32)
