"""Seeded splits, one-hot targets and feature standardisation (book section 7.8).

These take NumPy arrays whose first axis indexes the samples (points, table rows or images)
and return NumPy arrays; move the results to a device afterwards if training runs there.
"""
from __future__ import annotations

import math

import numpy as np

from engine.data._common import as_rng, check_float, check_int

__all__ = [
    "one_hot",
    "split_sizes",
    "standardize",
    "train_test_split",
    "train_val_test_split",
    "unstandardize",
]

#: Floor on a feature's standard deviation in :func:`standardize`, so a constant column maps
#: to zeros instead of dividing by zero.
STD_FLOOR = 1e-8


def _check_xy(X, y):
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim < 1 or y.ndim < 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of samples along axis 0, "
                         f"got shapes {X.shape} and {y.shape}")
    return X, y


def split_sizes(n: int, fracs) -> np.ndarray:
    """Integer part sizes for ``n`` samples in proportions ``fracs`` (they sum to ``n``).

    Largest-remainder rounding: each part gets ``floor(frac * n)``, then the leftover samples
    go to the parts with the largest fractional remainders (earlier parts win ties).  So
    ``split_sizes(1000, (.8, .1, .1))`` is exactly ``[800, 100, 100]`` despite
    ``0.1 * 1000`` being ``100.00000000000001`` in floating point.

    Parameters
    ----------
    n : int
    fracs : sequence of float
        Non-negative, summing to 1.

    Returns
    -------
    ndarray of int64, shape (len(fracs),)
    """
    raw = np.asarray(fracs, dtype=np.float64) * n
    # Round away float dust (0.1 * 1000) before flooring, then hand out the remainder.
    base = np.floor(np.round(raw, 9)).astype(np.int64)
    remainder = raw - base
    extra = n - int(base.sum())
    if extra >= 0:
        order = np.argsort(-remainder, kind="stable")
        base[order[:extra]] += 1
    else:
        # Only when fracs sum to a hair over 1: take back from the smallest remainders.
        order = np.argsort(np.where(base > 0, remainder, np.inf), kind="stable")
        base[order[:-extra]] -= 1
    return base


def train_test_split(X, y, test_frac=0.3, rng=0):
    """Split samples into a training and a test part by a seeded permutation.

    ``round(test_frac * n)`` samples, chosen at random, form the test part.

    Parameters
    ----------
    X : array_like, shape (n, ...)
    y : array_like, shape (n, ...)
    test_frac : float
        Fraction of samples held out, in (0, 1); each part must get at least one sample.
    rng : int or numpy.random.Generator

    Returns
    -------
    Xtr, ytr, Xte, yte : ndarray
        Rows of ``X`` and ``y``; the two parts are disjoint and together cover every sample.

    Raises
    ------
    ValueError
        If ``test_frac`` is outside (0, 1) or leaves one part empty.
    """
    X, y = _check_xy(X, y)
    test_frac = check_float("test_frac", test_frac, 0.0, 1.0, low_open=True, high_open=True)
    n = X.shape[0]
    n_test = round(test_frac * n)
    if n_test < 1 or n_test > n - 1:
        raise ValueError(f"test_frac={test_frac:g} of {n} samples gives {n_test} test and "
                         f"{n - n_test} training samples; each part needs at least 1, so "
                         f"test_frac must be between {0.5 / n:.3g} and {1 - 0.5 / n:.3g}")
    perm = as_rng(rng).permutation(n)
    test, train = perm[:n_test], perm[n_test:]
    return X[train], y[train], X[test], y[test]


def train_val_test_split(X, y, fracs=(0.8, 0.1, 0.1), rng=0):
    """Split samples into training, validation and test parts by a seeded permutation.

    Part sizes come from :func:`split_sizes`, so N=1000 with ``(.8, .1, .1)`` gives exactly
    800 / 100 / 100.  The book suggests 80-90 % for training and the rest split between
    validation (for choosing hyperparameters and early stopping) and test (touched once).

    Parameters
    ----------
    X : array_like, shape (n, ...)
    y : array_like, shape (n, ...)
    fracs : sequence of 3 floats
        (train, validation, test) fractions, each in [0, 1], summing to 1 within 1e-9.
        A zero fraction gives an empty part; the training part must not be empty.
    rng : int or numpy.random.Generator

    Returns
    -------
    Xtr, ytr, Xva, yva, Xte, yte : ndarray
        Disjoint parts that together cover every sample.

    Raises
    ------
    ValueError
        For fractions of the wrong length or range, not summing to 1, or an empty training
        part.
    """
    X, y = _check_xy(X, y)
    try:
        fr = [float(f) for f in fracs]
    except (TypeError, ValueError):
        raise ValueError(f"fracs must be 3 numbers (train, val, test), got {fracs!r}") from None
    if len(fr) != 3 or not all(math.isfinite(f) and 0.0 <= f <= 1.0 for f in fr):
        raise ValueError(f"fracs must be 3 numbers in [0, 1] (train, val, test), got {fracs!r}")
    if abs(sum(fr) - 1.0) > 1e-9:
        raise ValueError(f"fracs must sum to 1 (within 1e-9), got {fracs!r} "
                         f"summing to {sum(fr):.12g}")
    n = X.shape[0]
    n_tr, n_va, _ = split_sizes(n, fr)
    if n_tr < 1:
        raise ValueError(f"fracs {fracs!r} leave no training samples out of {n}")
    perm = as_rng(rng).permutation(n)
    tr, va, te = perm[:n_tr], perm[n_tr:n_tr + n_va], perm[n_tr + n_va:]
    return X[tr], y[tr], X[va], y[va], X[te], y[te]


def one_hot(y, K):
    """One-hot encode integer labels: row ``i`` is row ``y[i]`` of the ``K`` x ``K`` identity.

    Parameters
    ----------
    y : array_like of int, shape (n,)
        Labels in ``0..K-1`` (integral floats such as 2.0 are accepted).
    K : int
        Number of classes, >= 1.

    Returns
    -------
    ndarray of float32, shape (n, K)

    Raises
    ------
    ValueError
        For non-integral labels or labels outside ``0..K-1``.

    Examples
    --------
    >>> one_hot([0, 2], 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    K = check_int("K", K, 1)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of labels, got shape {y.shape}")
    integral = y.dtype.kind in "iub" or (
        y.dtype.kind == "f" and bool(np.all(np.isfinite(y))) and bool(np.all(y == np.round(y))))
    if not integral:
        raise ValueError(f"labels must be integers 0..{K - 1}")
    yi = y.astype(np.int64)
    bad = (yi < 0) | (yi >= K)
    if np.any(bad):
        raise ValueError(f"labels must be in 0..{K - 1} for K={K}; found {yi[bad][0]}")
    return np.eye(K, dtype=np.float32)[yi]


def standardize(X, stats=None):
    """Shift and scale each feature (column) to zero mean and unit variance.

    .. math::  x'_{ij} = (x_{ij} - \\mu_j) / \\max(\\sigma_j, 10^{-8})

    Fit the statistics on the training part only and pass them in for validation and test
    data, so no information leaks from the held-out parts.

    Parameters
    ----------
    X : array_like, shape (n, d) (or (n, ...): statistics are per entry over axis 0)
    stats : (mean, std), optional
        Saved statistics from an earlier call, each of shape ``X.shape[1:]``; ``None``
        computes them from ``X`` (population std, floored at 1e-8).

    Returns
    -------
    Xs : ndarray, shape of ``X``
        float32 unless ``X`` is float64.
    stats : (mean, std)
        The statistics used, float64 arrays of shape ``X.shape[1:]``.
    """
    X = np.asarray(X)
    dtype = np.float64 if X.dtype == np.float64 else np.float32
    if X.ndim < 1 or X.shape[0] < 1:
        raise ValueError(f"X must have at least one sample along axis 0, got shape {X.shape}")
    if stats is None:
        Xd = X.astype(np.float64)
        mean = Xd.mean(axis=0)
        std = np.maximum(Xd.std(axis=0), STD_FLOOR)
    else:
        try:
            mean, std = (np.asarray(s, dtype=np.float64) for s in stats)
        except (TypeError, ValueError):
            raise ValueError("stats must be a (mean, std) pair") from None
        if mean.shape != X.shape[1:] or std.shape != X.shape[1:]:
            raise ValueError(f"stats shapes {mean.shape}, {std.shape} do not match the "
                             f"feature shape {X.shape[1:]}")
        std = np.maximum(std, STD_FLOOR)
    return ((X - mean) / std).astype(dtype), (mean, std)


def unstandardize(Xs, stats):
    """Undo :func:`standardize`: ``Xs * std + mean``, in the dtype of ``Xs``."""
    Xs = np.asarray(Xs)
    mean, std = (np.asarray(s, dtype=np.float64) for s in stats)
    return (Xs * std + mean).astype(Xs.dtype if Xs.dtype.kind == "f" else np.float64)


class EpochSampler:
    """Mini-batch indices drawn epoch by epoch: each epoch is a fresh seeded permutation, so
    every example is seen once per epoch.  ``epoch`` counts the permutations started."""

    def __init__(self, rng):
        self.rng = rng
        self.epoch = 0
        self._order = np.zeros(0, np.int64)

    def take(self, n: int, batch: int) -> np.ndarray:
        """The next ``min(batch, n)`` indices into a set of ``n`` examples."""
        b = min(batch, n)
        if len(self._order) < b:
            self._order = np.concatenate([self._order, self.rng.permutation(n)])
            self.epoch += 1
        idx, self._order = self._order[:b], self._order[b:]
        return idx
