"""Test functions for the optimizer race (book ch. 4), each with its bounds, minima and presets.

Every function is written once, with operators only, so the same code evaluates a NumPy grid
for the contour picture and an autodiff ``Tensor`` for gradients and Hessians (Newton).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from engine import backend


def _cos(t):
    """cos for arrays and Tensors alike (Tensors go through autodiff)."""
    if hasattr(t, "grad_fn"):
        from engine.autodiff import cos  # noqa: PLC0415  (autodiff only when differentiating)
        return cos(t)
    return backend.xp_of(t).cos(t)


@dataclasses.dataclass(frozen=True)
class TestFunction:
    """A named objective with what the race needs to show it well.

    Attributes
    ----------
    f : callable
        ``f(x, y)`` for 2-D functions, ``f(x)`` for 1-D; operands are arrays or Tensors of any
        (broadcastable) shape, the result has that shape.
    dim : int
        1 or 2.
    bounds : tuple of (low, high)
        Plot box per coordinate.
    minima : tuple of tuples
        Known global (and notable local) minimisers.
    start : tuple
        A start point that gives a telling race.
    lrs : dict
        Step sizes per optimizer key that make every racer behave well here, and ``noise``,
        the SGD gradient-noise level that suits the function's scale.
    formula : str
        HTML for the math view.
    """

    name: str
    f: Callable
    dim: int
    bounds: tuple
    minima: tuple
    start: tuple
    lrs: dict
    formula: str
    note: str = ""

    def __call__(self, *xs):
        return self.f(*xs)


def quadratic(kappa: float) -> Callable:
    """f(x, y) = (x^2 + kappa y^2) / 2: Hessian diag(1, kappa), condition number kappa."""
    return lambda x, y: 0.5 * (x * x + kappa * (y * y))


def rosenbrock(x, y):
    """f = (1 - x)^2 + 100 (y - x^2)^2, a curved valley with its minimum at (1, 1)."""
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def beale(x, y):
    """f = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2, minimum (3, 0.5)."""
    return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2
            + (2.625 - x + x * y ** 3) ** 2)


def himmelblau(x, y):
    """f = (x^2 + y - 11)^2 + (x + y^2 - 7)^2: four minima, all with f = 0."""
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def booth(x, y):
    """f = (x + 2y - 7)^2 + (2x + y - 5)^2, a convex quadratic with minimum (1, 3)."""
    return (x + 2.0 * y - 7.0) ** 2 + (2.0 * x + y - 5.0) ** 2


def saddle(x, y):
    """f = x^2 - y^2: a saddle at the origin; unbounded below along y."""
    return x * x - y * y


def rastrigin(x, y):
    """f = 20 + sum(x_i^2 - 10 cos(2 pi x_i)): a grid of local minima, global minimum (0, 0)."""
    return 20.0 + x * x - 10.0 * _cos(2.0 * math.pi * x) + y * y - 10.0 * _cos(2.0 * math.pi * y)


QUARTIC_COEFFS = (1.0, 8.0, 10.0, -14.0, -4.0)


def quartic(x):
    """The book's f(x) = x^4 + 8x^3 + 10x^2 - 14x - 4 (Horner form)."""
    return (((x + 8.0) * x + 10.0) * x - 14.0) * x - 4.0


def poly_stationary(coeffs) -> list[tuple[float, str, float]]:
    """Stationary points of a real polynomial, classified by the sign of f''.

    Parameters
    ----------
    coeffs : sequence of float
        Highest power first, as in ``numpy.polyval``.

    Returns
    -------
    list of (x, kind, f(x))
        ``kind`` is ``'min'``, ``'max'`` or ``'flat'``; sorted by x.
    """
    p = np.poly1d(coeffs)
    d1, d2 = p.deriv(), p.deriv(2)
    out = []
    for r in np.roots(d1.coeffs):
        if abs(r.imag) > 1e-9:
            continue
        x = float(r.real)
        curv = d2(x)
        kind = "min" if curv > 1e-12 else "max" if curv < -1e-12 else "flat"
        out.append((x, kind, float(p(x))))
    return sorted(out)


_LR_DEFAULT = dict(gd=0.1, sgd=0.1, momentum=0.02, nesterov=0.02, adagrad=0.5,
                   rmsprop=0.02, adam=0.1, newton=1.0)

FUNCTIONS: dict[str, TestFunction] = {}


def _add(tf: TestFunction) -> None:
    FUNCTIONS[tf.name] = tf


_add(TestFunction(
    "quadratic", quadratic(10.0), 2, ((-2.0, 2.0), (-2.0, 2.0)), ((0.0, 0.0),), (-1.8, 1.2),
    dict(_LR_DEFAULT, gd=0.15, sgd=0.15, momentum=0.05, nesterov=0.05, adagrad=0.5, noise=0.5),
    "f(x, y) = &frac12;(x<sup>2</sup> + &kappa; y<sup>2</sup>)",
    "The Hessian is diag(1, &kappa;): a larger condition number &kappa; makes plain gradient "
    "descent zig-zag across the narrow valley."))
_add(TestFunction(
    "rosenbrock", rosenbrock, 2, ((-2.0, 2.0), (-1.0, 3.0)), ((1.0, 1.0),), (-1.2, 1.0),
    dict(gd=1e-3, sgd=1e-3, momentum=5e-4, nesterov=5e-4, adagrad=0.5, rmsprop=0.01,
         adam=0.1, newton=1.0, noise=20.0),
    "f(x, y) = (1 &minus; x)<sup>2</sup> + 100(y &minus; x<sup>2</sup>)<sup>2</sup>",
    "A long curved valley: easy to fall into, slow to follow to the minimum at (1, 1)."))
_add(TestFunction(
    "beale", beale, 2, ((-4.5, 4.5), (-4.5, 4.5)), ((3.0, 0.5),), (1.0, 1.5),
    dict(gd=2e-3, sgd=2e-3, momentum=5e-4, nesterov=5e-4, adagrad=0.3, rmsprop=5e-3,
         adam=0.03, newton=1.0, noise=1.0),
    "f = (1.5 &minus; x + xy)<sup>2</sup> + (2.25 &minus; x + xy<sup>2</sup>)<sup>2</sup> "
    "+ (2.625 &minus; x + xy<sup>3</sup>)<sup>2</sup>",
    "Flat plateaus and steep walls; the minimum is at (3, 0.5)."))
_add(TestFunction(
    "himmelblau", himmelblau, 2, ((-5.0, 5.0), (-5.0, 5.0)),
    ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
    (-0.3, -0.9),
    dict(gd=5e-3, sgd=5e-3, momentum=1e-3, nesterov=1e-3, adagrad=0.3, rmsprop=0.01,
         adam=0.05, newton=1.0, noise=3.0),
    "f = (x<sup>2</sup> + y &minus; 11)<sup>2</sup> + (x + y<sup>2</sup> &minus; 7)<sup>2</sup>",
    "Four minima with f = 0; from near the central maximum, racers pick different ones."))
_add(TestFunction(
    "booth", booth, 2, ((-10.0, 10.0), (-10.0, 10.0)), ((1.0, 3.0),), (-8.0, -6.0),
    dict(gd=0.02, sgd=0.02, momentum=5e-3, nesterov=5e-3, adagrad=1.0, rmsprop=0.05,
         adam=0.2, newton=1.0, noise=3.0),
    "f = (x + 2y &minus; 7)<sup>2</sup> + (2x + y &minus; 5)<sup>2</sup>",
    "A convex quadratic bowl: Newton's method lands on the minimum in one step."))
_add(TestFunction(
    "saddle", saddle, 2, ((-2.0, 2.0), (-2.0, 2.0)), (), (1.8, 0.02),
    dict(gd=0.05, sgd=0.05, momentum=0.02, nesterov=0.02, adagrad=0.1, rmsprop=0.01,
         adam=0.02, newton=1.0, noise=0.5),
    "f(x, y) = x<sup>2</sup> &minus; y<sup>2</sup>",
    "A saddle at the origin: gradient methods crawl past it, Newton's method jumps right to it "
    "(the Hessian is indefinite)."))
_add(TestFunction(
    "rastrigin", rastrigin, 2, ((-5.12, 5.12), (-5.12, 5.12)), ((0.0, 0.0),), (3.3, -2.6),
    dict(gd=2e-3, sgd=2e-3, momentum=1e-3, nesterov=1e-3, adagrad=0.3, rmsprop=0.01,
         adam=0.1, newton=1.0, noise=5.0),
    "f = 20 + &Sigma;<sub>i</sub> (x<sub>i</sub><sup>2</sup> &minus; 10 cos 2&pi;x<sub>i</sub>)",
    "A grid of local minima: gradient methods settle in the nearest one; noise or a large "
    "step can shake a racer loose."))
_add(TestFunction(
    "quartic", quartic, 1, ((-6.5, 2.5),), ((-4.808918,), (0.444884,)), (2.0,),
    dict(gd=0.02, sgd=0.02, momentum=5e-3, nesterov=5e-3, adagrad=0.5, rmsprop=0.02,
         adam=0.1, newton=1.0, noise=5.0),
    "f(x) = x<sup>4</sup> + 8x<sup>3</sup> + 10x<sup>2</sup> &minus; 14x &minus; 4",
    "The book's quartic: a global minimum at x = &minus;4.81, a local one at 0.445 and a "
    "maximum between; the step size decides which one gradient descent finds."))


for _tf in FUNCTIONS.values():
    # Adaptive GD starts from plain GD's step and tunes it; BFGS tries the full step first.
    _tf.lrs.setdefault("adaptive", _tf.lrs["gd"])
    _tf.lrs.setdefault("bfgs", 1.0)


def get(name: str, kappa: float = 10.0) -> TestFunction:
    """The test function ``name`` (``quadratic`` uses condition number ``kappa``).

    Raises ``ValueError`` listing the valid names.
    """
    if name not in FUNCTIONS:
        raise ValueError(f"unknown function {name!r}: choose one of {', '.join(FUNCTIONS)}")
    tf = FUNCTIONS[name]
    if name == "quadratic":
        tf = dataclasses.replace(tf, f=quadratic(float(kappa)))
    return tf


def grid(tf: TestFunction, n: int = 160):
    """Evaluate ``tf`` on an ``n``-point (1-D) or ``n x n`` (2-D) grid over its bounds.

    Returns
    -------
    xs : (n,) array, ys : (n,) array or None, z : (n,) or (n, n) array
        For 2-D, ``z[i, j] = f(xs[i], ys[j])`` (x along the first axis, as pyqtgraph images).
    """
    xs = np.linspace(*tf.bounds[0], n)
    if tf.dim == 1:
        return xs, None, tf(xs)
    ys = np.linspace(*tf.bounds[1], n)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    return xs, ys, tf(gx, gy)
