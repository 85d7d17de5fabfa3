"""Small helpers shared by the dataset generators: seeds, argument checks, class sizes.

Every generator takes ``rng`` as either a :class:`numpy.random.Generator` or an int seed and
normalises it with :func:`as_rng`, so a panel can pass its lab's generator (one stream for the
whole run) while a test or the CLI passes a plain seed.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

#: Plotting range for both axes of every 2-D classification set.  The data lie in [-1, 1]^2
#: before noise; the extra margin keeps noisy points and the boundary heatmap's edges in view.
DOMAIN = (-1.5, 1.5)


def as_rng(seed_or_rng=0) -> np.random.Generator:
    """Return a NumPy ``Generator`` for a seed or pass a ``Generator`` through unchanged.

    Parameters
    ----------
    seed_or_rng : int or numpy.random.Generator
        A non-negative int seed, or a generator to draw from (it is used, not copied, so
        successive calls continue its stream).

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    ValueError
        For anything else (floats, negative ints, ``None``): a dataset must be reproducible, so
        an unseeded generator is refused rather than silently created.
    """
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if isinstance(seed_or_rng, numbers.Integral) and not isinstance(seed_or_rng, bool):
        if int(seed_or_rng) < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed_or_rng}")
        return np.random.default_rng(int(seed_or_rng))
    raise ValueError(
        f"rng must be a numpy.random.Generator or a non-negative int seed, "
        f"got {type(seed_or_rng).__name__}")


def check_int(name: str, value, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int after checking ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return value


def check_float(name: str, value, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a finite float after checking it lies in the stated interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        # ValueError, not TypeError: callers (lab params, the CLI) report ValueErrors to users.
        raise ValueError(f"{name} must be a number, got {value!r}")  # noqa: TRY004
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}" \
                   f"{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value:g}")
    return value


def class_sizes(n: int, k: int) -> np.ndarray:
    """Split ``n`` points between ``k`` classes as evenly as possible (first classes get more).

    >>> class_sizes(10, 3).tolist()
    [4, 3, 3]
    """
    return n // k + (np.arange(k) < n % k)


def balanced_labels(n: int, k: int) -> np.ndarray:
    """Labels ``0..k-1`` in blocks of :func:`class_sizes`, int64, shape ``(n,)``."""
    return np.repeat(np.arange(k, dtype=np.int64), class_sizes(n, k))


def rank_within_class(y: np.ndarray, k: int) -> np.ndarray:
    """Position of each point inside its class block (``y`` sorted as from balanced_labels)."""
    starts = np.concatenate(([0], np.cumsum(class_sizes(y.size, k))[:-1]))
    return np.arange(y.size) - starts[y]
