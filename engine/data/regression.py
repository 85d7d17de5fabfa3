"""Seeded regression sets: 1-D curves with outliers, a 2-D surface, and a housing-like table.

Each generator comes with its noise-free truth function, so a panel can draw the curve a
model should find and a test can measure how close it got.  ``rng`` is a
``numpy.random.Generator`` or an int seed; the same seed gives identical arrays.
"""
from __future__ import annotations

import numpy as np

from engine.data._common import as_rng, check_float, check_int

__all__ = [
    "HOUSING_FEATURES",
    "REGRESSION_FNS",
    "housing_truth",
    "make_housing_like",
    "make_regression_1d",
    "make_surface_2d",
    "regression_truth",
    "surface_truth",
]

#: The 1-D target curves on x in [-1, 1], each with values in [-1, 1].
REGRESSION_FNS = {
    "sin": "sin(pi x)",
    "cubic": "2 x^3 - x",
    "step": "-1/2 for x < 0, +1/2 for x >= 0",
    "abs": "|x|",
    "line": "0.75 x + 0.25",
}


def _check_fn(fn) -> str:
    key = str(fn).strip().lower()
    if key not in REGRESSION_FNS:
        raise ValueError(f"unknown fn {fn!r}; allowed: {', '.join(REGRESSION_FNS)}")
    return key


def regression_truth(fn, x):
    """The noise-free 1-D target curve.

    Parameters
    ----------
    fn : str
        One of ``"sin"`` (:math:`\\sin \\pi x`), ``"cubic"`` (:math:`2x^3 - x`), ``"step"``
        (:math:`\\pm 1/2` by the sign of x), ``"abs"`` (:math:`|x|`), ``"line"``
        (:math:`0.75x + 0.25`).
    x : array_like
        Inputs of any shape (a grid of shape (m,) or the (n, 1) design matrix).

    Returns
    -------
    ndarray of float32, same shape as ``x``
    """
    key = _check_fn(fn)
    x = np.asarray(x, dtype=np.float64)
    if key == "sin":
        y = np.sin(np.pi * x)
    elif key == "cubic":
        y = 2.0 * x ** 3 - x
    elif key == "step":
        y = np.where(x < 0.0, -0.5, 0.5)
    elif key == "abs":
        y = np.abs(x)
    else:
        y = 0.75 * x + 0.25
    return y.astype(np.float32)


def make_regression_1d(n=60, fn="sin", noise=0.1, outlier_frac=0.0, outlier_scale=3.0, rng=0):
    """Noisy samples of a 1-D curve, optionally with gross outliers.

    .. math::  y_i = f(x_i) + \\varepsilon_i,\\quad x_i \\sim U[-1, 1],\\quad
               \\varepsilon_i \\sim \\mathcal N(0, \\text{noise}^2)

    Then ``round(outlier_frac * n)`` targets, chosen at random, are moved by
    ``outlier_scale`` up or down (random sign): the points a squared loss chases and an
    absolute or Huber loss shrugs off.  Rows are in random order; sort by ``x`` to draw lines.

    Parameters
    ----------
    n : int
        Number of points, 2 to 1,000,000.
    fn : str
        Curve name, see :func:`regression_truth`.
    noise : float
        Standard deviation of the Gaussian target noise, in [0, 2].
    outlier_frac : float
        Fraction of targets turned into outliers, in [0, 1].
    outlier_scale : float
        Size of the outlier displacement, in [0, 20].
    rng : int or numpy.random.Generator

    Returns
    -------
    x : ndarray of float32, shape (n, 1)
        Inputs in [-1, 1].
    y : ndarray of float32, shape (n,)
    """
    key = _check_fn(fn)
    n = check_int("n", n, 2, 1_000_000)
    noise = check_float("noise", noise, 0.0, 2.0)
    outlier_frac = check_float("outlier_frac", outlier_frac, 0.0, 1.0)
    outlier_scale = check_float("outlier_scale", outlier_scale, 0.0, 20.0)
    rng = as_rng(rng)
    x = rng.uniform(-1.0, 1.0, size=n)
    y = regression_truth(key, x).astype(np.float64) + noise * rng.normal(size=n)
    n_out = round(outlier_frac * n)
    if n_out:
        idx = rng.choice(n, size=n_out, replace=False)
        y[idx] += outlier_scale * rng.choice(np.array([-1.0, 1.0]), size=n_out)
    return x.astype(np.float32)[:, None], y.astype(np.float32)


def surface_truth(X):
    """The noise-free 2-D surface :math:`0.8\\sin(\\pi x_1)\\cos(\\pi x_2) + 0.3 x_1`.

    Parameters
    ----------
    X : array_like, shape (..., 2)

    Returns
    -------
    ndarray of float32, shape (...)
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[-1:] != (2,):
        raise ValueError(f"X must have shape (..., 2), got {X.shape}")
    x1, x2 = X[..., 0], X[..., 1]
    return (0.8 * np.sin(np.pi * x1) * np.cos(np.pi * x2) + 0.3 * x1).astype(np.float32)


def make_surface_2d(n=300, noise=0.05, rng=0):
    """Noisy samples of a smooth bumpy surface over [-1, 1]^2 (see :func:`surface_truth`).

    Parameters
    ----------
    n : int
        Number of points, 2 to 1,000,000.
    noise : float
        Standard deviation of the Gaussian target noise, in [0, 2].
    rng : int or numpy.random.Generator

    Returns
    -------
    X : ndarray of float32, shape (n, 2)
        Uniform in [-1, 1]^2.
    y : ndarray of float32, shape (n,)
    """
    n = check_int("n", n, 2, 1_000_000)
    noise = check_float("noise", noise, 0.0, 2.0)
    rng = as_rng(rng)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = surface_truth(X).astype(np.float64) + noise * rng.normal(size=n)
    return X.astype(np.float32), y.astype(np.float32)


#: Column names of :func:`make_housing_like`, in order.  Modelled on the 13 Boston Housing
#: features, minus the ethically and statistically broken "B" column (book erratum E14), plus
#: a pure-noise feature that the target ignores.
HOUSING_FEATURES = (
    "crime", "zoning", "industry", "river", "nox", "rooms", "age", "distance", "highway",
    "tax", "pt_ratio", "lower_status", "noise_feature",
)

#: Median values are capped at 50 (in $1000s), as in the 1970 census data Boston came from.
HOUSING_RANGE = (5.0, 50.0)


def housing_truth(X):
    """The noise-free, uncapped target of :func:`make_housing_like` (median value, $1000s).

    .. math::
        \\text{value} = 23 + 4.5(\\text{rooms} - 6.3) + 6\\max(\\text{rooms} - 7, 0)
        - 7 \\ln(\\text{lower\\_status} / 11) - 0.8(\\text{pt\\_ratio} - 18.5)
        - 15(\\text{nox} - 0.55) - 1.2 \\ln(1 + \\text{crime}) + 2.5\\,\\text{river}
        - 0.6\\,(\\text{distance} - 3.5)^2 / \\text{distance}

    Non-linear in rooms (a premium for big houses), lower_status and crime (diminishing
    effects), and distance (both very close and very far cost value).  ``zoning``,
    ``industry``, ``age``, ``highway``, ``tax`` and ``noise_feature`` have no direct effect;
    the first five still correlate with the target through the features they move with.

    Parameters
    ----------
    X : array_like, shape (n, 13)
        Columns in :data:`HOUSING_FEATURES` order.

    Returns
    -------
    ndarray of float32, shape (n,)
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(HOUSING_FEATURES):
        raise ValueError(f"X must have shape (n, {len(HOUSING_FEATURES)}), got {X.shape}")
    c = {name: X[:, i] for i, name in enumerate(HOUSING_FEATURES)}
    value = (23.0 + 4.5 * (c["rooms"] - 6.3) + 6.0 * np.maximum(c["rooms"] - 7.0, 0.0)
             - 7.0 * np.log(c["lower_status"] / 11.0) - 0.8 * (c["pt_ratio"] - 18.5)
             - 15.0 * (c["nox"] - 0.55) - 1.2 * np.log1p(c["crime"]) + 2.5 * c["river"]
             - 0.6 * (c["distance"] - 3.5) ** 2 / c["distance"])
    return value.astype(np.float32)


def make_housing_like(n=506, noise=1.0, rng=0):
    """A synthetic stand-in for Boston Housing: 13 named features and a known target.

    The spec forbids shipping Boston (its "B" column encodes race; scikit-learn removed the
    set in 1.2).  This table keeps what a lesson needs from it: mixed scales, skewed and
    binary columns, correlated features, a non-linear target in $1000s, and a pure-noise
    column.  A hidden "urban" factor ``u ~ N(0, 1)`` (closeness to the city centre) drives the
    correlations: industry, nox, crime, age, highway access, tax and pupil-teacher ratio rise
    with it, distance and zoning fall, and nox also rises with industry and falls with
    distance.  Marginals roughly follow Boston's ranges:

    ============  ===========================================  ==============
    column        meaning                                      range
    ============  ===========================================  ==============
    crime         crimes per capita (log-normal, heavy tail)   0.005 - 90
    zoning        % land zoned for large lots (mostly 0)       0 - 100
    industry      % non-retail business acres                  0.5 - 28
    river         1 if the tract bounds the river (~7 %)       0 / 1
    nox           NO_x concentration (parts per 10 million)    0.38 - 0.87
    rooms         average rooms per dwelling                   3.5 - 8.8
    age           % homes built before 1940                    3 - 100
    distance      weighted distance to job centres             1.1 - 12
    highway       radial highway access index                  1 - 8, or 24
    tax           property tax per $10,000                     187 - 711
    pt_ratio      pupil-teacher ratio                          12.6 - 22
    lower_status  % lower-status population                    1.7 - 38
    noise_feature standard normal, unrelated to the target     about -3 - 3
    ============  ===========================================  ==============

    The target is ``clip(housing_truth(X) + N(0, noise^2), 5, 50)``: median home value in
    $1000s, capped at 50 like the census data.

    Parameters
    ----------
    n : int
        Number of rows, 2 to 1,000,000 (Boston had 506).
    noise : float
        Standard deviation of the target noise in $1000s, in [0, 10].
    rng : int or numpy.random.Generator

    Returns
    -------
    X : ndarray of float32, shape (n, 13)
        Columns in :data:`HOUSING_FEATURES` order.
    y : ndarray of float32, shape (n,)
        Values in [5, 50].
    feature_names : tuple of str, length 13
    """
    n = check_int("n", n, 2, 1_000_000)
    noise = check_float("noise", noise, 0.0, 10.0)
    rng = as_rng(rng)
    u = rng.normal(size=n)                       # the hidden "urban" factor
    e = rng.normal(size=(12, n))                 # independent per-column wiggle
    distance = np.clip(np.exp(1.25 - 0.45 * u + 0.25 * e[0]), 1.1, 12.0)
    industry = np.clip(11.0 + 5.5 * u + 3.0 * e[1], 0.5, 28.0)
    nox = np.clip(0.40 + 0.010 * industry + 0.25 * np.exp(-distance / 2.0) + 0.03 * e[2],
                  0.38, 0.87)
    crime = np.clip(np.exp(-1.3 + 1.4 * u + 1.0 * e[3]), 0.005, 90.0)
    # Large-lot zoning only in the suburbs; most tracts have none, as in Boston.
    suburb = -u + 0.5 * e[4]
    zoning = np.where(suburb > 0.7,
                      np.clip(np.round(2.0 * (20.0 + 30.0 * (suburb - 0.7) + 10.0 * e[5])) / 2,
                              0.0, 100.0), 0.0)
    river = (rng.uniform(size=n) < 0.07).astype(np.float64)
    rooms = np.clip(6.28 - 0.2 * u + 0.6 * e[6], 3.5, 8.8)
    age = np.clip(100.0 / (1.0 + np.exp(-(0.9 + 1.2 * u + 0.8 * e[7]))), 2.9, 100.0)
    # Highway access is an index: 1-8 for most tracts, 24 for the inner city.
    inner = u + 0.5 * e[8] > 1.0
    highway = np.where(inner, 24.0, np.clip(np.round(4.5 + 1.5 * u + 1.5 * e[9]), 1.0, 8.0))
    tax = np.where(inner, 666.0,
                   np.clip(np.round(300.0 + 25.0 * highway + 40.0 * u + 30.0 * e[10]),
                           187.0, 711.0))
    pt_ratio = np.clip(18.5 + 1.0 * u + 1.5 * e[11], 12.6, 22.0)
    lower_status = np.clip(np.exp(2.4 + 0.35 * u - 0.35 * (rooms - 6.28)
                                  + 0.3 * rng.normal(size=n)), 1.7, 38.0)
    noise_feature = rng.normal(size=n)
    X = np.stack([crime, zoning, industry, river, nox, rooms, age, distance, highway, tax,
                  pt_ratio, lower_status, noise_feature], axis=1).astype(np.float32)
    # The truth is evaluated on the float32 table so housing_truth(X) reproduces it exactly.
    y = housing_truth(X).astype(np.float64) + noise * rng.normal(size=n)
    y = np.clip(y, *HOUSING_RANGE).astype(np.float32)
    return X, y, HOUSING_FEATURES
