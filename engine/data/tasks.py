"""Paired tasks for parameter tying (book section 8.4): a well-sampled task and a related,
rotated one with few samples."""
from __future__ import annotations

import numpy as np

from engine.data._common import as_rng, balanced_labels, check_float, check_int
from engine.data.toy2d import _check_noise, _finish, _moons_raw

__all__ = ["make_two_tasks", "rotate2d"]


def rotate2d(X, angle_deg):
    """Rotate 2-D points anticlockwise about the origin.

    Parameters
    ----------
    X : array_like, shape (n, 2)
    angle_deg : float

    Returns
    -------
    ndarray, shape (n, 2), float32 for float32 input (float64 otherwise)
    """
    X = np.asarray(X)
    a = np.deg2rad(angle_deg)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    # Row vectors: x' = R x  <=>  X' = X R^T.
    out = X @ R.T
    return out.astype(np.float32) if X.dtype == np.float32 else out


def make_two_tasks(n_a=200, n_b=20, angle_deg=20, noise=0.1, rng=0):
    """Two related moons tasks: A with many samples, B rotated and with few.

    Task B's moons are task A's turned by ``angle_deg`` about the origin, so the two optimal
    boundaries are similar but not equal: tying B's weights to A's (penalty
    :math:`\\lambda\\|\\theta_A - \\theta_B\\|^2`) lets B borrow A's data, and a very large
    :math:`\\lambda` forces B onto A's boundary, which is wrong by the rotation.  Both use
    :func:`~engine.data.toy2d.make_moons`'s layout; rotated points can reach about 1.02 from
    the origin, so they may stick out of [-1, 1]^2 by a hair.

    Parameters
    ----------
    n_a, n_b : int
        Points in task A and task B (each >= 2).
    angle_deg : float
        Rotation of task B in degrees, in [-180, 180].
    noise : float
        Coordinate noise of both tasks, in [0, 1].
    rng : int or numpy.random.Generator
        One stream draws A first, then B.

    Returns
    -------
    (Xa, ya), (Xb, yb)
        ``X*`` float32 of shape (n_*, 2), ``y*`` int64 of shape (n_*,), labels 0/1.
    """
    n_a = check_int("n_a", n_a, 2, 1_000_000)
    n_b = check_int("n_b", n_b, 2, 1_000_000)
    angle = check_float("angle_deg", angle_deg, -180.0, 180.0)
    noise, rng = _check_noise(noise), as_rng(rng)
    ya = balanced_labels(n_a, 2)
    task_a = _finish(rng, _moons_raw(rng, ya), ya, noise)
    yb = balanced_labels(n_b, 2)
    Xb = rotate2d(_moons_raw(rng, yb), angle)
    task_b = _finish(rng, Xb, yb, noise)
    return task_a, task_b
