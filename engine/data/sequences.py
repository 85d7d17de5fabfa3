r"""Toy sequence-to-sequence tasks for the attention chapter (book ch. 11).

Each task maps an input sequence :math:`x \in \{0, \dots, V-1\}^L` to an output sequence
:math:`y` of the same length, so an encoder can predict every output position from the whole
input at once:

========== ============================================== =========================================
task       :math:`y_i`                                    what attention has to find
========== ============================================== =========================================
copy       :math:`x_i`                                    the token itself (the diagonal)
reverse    :math:`x_{L-1-i}`                              the mirrored position (the anti-diagonal)
sort       :math:`i`-th smallest token of :math:`x`       where the tokens that rank :math:`i` are
shift      :math:`x_{(i-1) \bmod L}`                      the previous position (cyclic)
histogram  :math:`\#\{j : x_j = x_i\}` (in :math:`1..L`)  every position holding the same token
========== ============================================== =========================================

Tokens are drawn uniformly at random; the outputs of ``histogram`` are counts, so a model for it
needs :math:`L + 1` output classes (see :func:`n_outputs`).
"""
from __future__ import annotations

import numpy as np

from engine.data._common import as_rng

__all__ = ["SEQUENCE_TASKS", "TOKEN_ALPHABET", "make_sequence_task", "n_outputs",
           "sequence_targets"]

SEQUENCE_TASKS = ("copy", "reverse", "sort", "shift", "histogram")

#: How tokens are typed and shown: token ``t`` is ``TOKEN_ALPHABET[t]`` (digits, then letters).
TOKEN_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _check_task(task) -> str:
    if task not in SEQUENCE_TASKS:
        raise ValueError(f"unknown sequence task {task!r}: choose one of "
                         f"{', '.join(SEQUENCE_TASKS)}")
    return task


def n_outputs(task: str, length: int, vocab: int) -> int:
    """Number of output classes a model needs for ``task``: ``vocab`` for the token tasks,
    ``max(vocab, length + 1)`` for ``histogram`` (its outputs are counts ``1..length``)."""
    _check_task(task)
    return max(int(vocab), int(length) + 1) if task == "histogram" else int(vocab)


def sequence_targets(task: str, X) -> np.ndarray:
    """The outputs ``Y`` of ``task`` for inputs ``X`` (vectorised over the batch).

    Parameters
    ----------
    task : str
        One of :data:`SEQUENCE_TASKS`.
    X : array_like of int, shape (n, L)

    Returns
    -------
    ndarray of int64, shape (n, L)
    """
    _check_task(task)
    X = np.asarray(X)
    if X.ndim != 2 or X.dtype.kind not in "iu":
        raise ValueError(f"sequences must be an (n, L) integer array, got shape {X.shape} "
                         f"and dtype {X.dtype}")
    X = X.astype(np.int64)
    if task == "copy":
        return X.copy()
    if task == "reverse":
        return X[:, ::-1].copy()
    if task == "sort":
        return np.sort(X, axis=1)
    if task == "shift":
        return np.roll(X, 1, axis=1)
    # histogram: compare every pair of positions at once, (n, L, 1) == (n, 1, L) -> (n, L, L).
    return (X[:, :, None] == X[:, None, :]).sum(axis=-1).astype(np.int64)


def make_sequence_task(task: str, n: int, length: int, vocab: int, rng=0):
    """Random inputs and their outputs for one of the toy tasks.

    Parameters
    ----------
    task : {'copy', 'reverse', 'sort', 'shift', 'histogram'}
    n : int, >= 1
        Number of sequences.
    length : int, >= 1
        Sequence length :math:`L`.
    vocab : int, 2..36
        Vocabulary size :math:`V`; tokens are ``0..V-1``, drawn uniformly.
    rng : int or numpy.random.Generator

    Returns
    -------
    X, Y : ndarray of int64, shape (n, L)
        Inputs and targets (see the table in the module docstring).
    """
    _check_task(task)
    for name, value, low in (("n", n, 1), ("length", length, 1), ("vocab", vocab, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if vocab > len(TOKEN_ALPHABET):
        raise ValueError(f"vocab must be at most {len(TOKEN_ALPHABET)}, got {vocab}")
    X = as_rng(rng).integers(0, vocab, size=(int(n), int(length)), dtype=np.int64)
    return X, sequence_targets(task, X)
