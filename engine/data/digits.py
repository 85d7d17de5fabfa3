r"""Seeded images for the convolution chapter: handwritten-looking digits, shapes, bars, a card.

Everything is drawn in NumPy from a few lines of geometry written in this file, so nothing is
downloaded and nothing carries a licence.

* :func:`make_digits` / :func:`digits_split` - the digits 0-9 as pen strokes.  Each digit is a
  few polylines in a unit box; every sample gets its own random affine map (rotation, scale,
  shear, shift), a small wobble of the stroke's vertices, its own pen width and ink, and
  Gaussian pixel noise.  A pixel's ink falls off smoothly with its distance to the nearest
  stroke segment.  The set is meant to need a CNN: a nearest-centroid classifier is
  clearly worse than a small convolutional net.
* :func:`make_shapes` - filled shapes (circle, square, triangle, cross, bars) drawn from
  their signed distance functions.
* :func:`make_bars` - single oriented bars (0, 45, 90, 135 degrees) to try edge kernels on.
* :func:`make_test_card` - one fixed image with edges, ramps, a disc and text-like blocks.
* :func:`center_of_mass_align` - shift images so their ink's centre of mass is central
  (MNIST's normalisation; the autoencoder lab's 2-D codes need translation removed).

Conventions (as in the rest of :mod:`engine.data`): ``rng`` is a ``numpy.random.Generator``
or a non-negative int seed and equal seeds give equal arrays; images are float32 of shape
``(n, size, size)`` with values in [0, 1], row 0 at the top; labels are int64 and balanced
over the classes; rows come in a seeded random order; bad arguments raise ``ValueError``
saying what is allowed.
"""
from __future__ import annotations

import numpy as np

from engine.data._common import as_rng, balanced_labels, check_float, check_int

__all__ = ["BAR_ANGLES", "DIGIT_STROKES", "SHAPE_CLASSES", "center_of_mass_align",
           "digits_split", "make_bars", "make_digits", "make_shapes", "make_test_card"]

#: Classes of :func:`make_shapes`, in label order when the default ``classes`` are used.
SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "hbar", "vbar")

#: Bar orientations of :func:`make_bars` in degrees (label ``i`` is ``BAR_ANGLES[i]``),
#: measured anticlockwise from the horizontal as seen on screen (row 0 at the top).
BAR_ANGLES = (0, 45, 90, 135)

#: Largest image side the generators draw (the explorer and the trainers stay far below it).
MAX_SIZE = 128
MAX_N = 200_000

# Pixels x samples handled at once while rasterising; bounds the memory of the distance
# arrays (about 8 bytes x this) without a Python loop over individual samples.
_CHUNK = 1 << 21


def _arc(cx, cy, rx, ry, a0, a1, n):
    """Points of an elliptic arc in the unit box (y points down, angles in degrees).

    ``a = 0`` is to the right of the centre, ``90`` below it, ``-90`` above it.
    """
    a = np.deg2rad(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)


def _line(*pts):
    return np.asarray(pts, dtype=np.float64)


#: Each digit as polylines (arrays of (x, y) vertices) in the unit box, x right, y down.
#: The shapes follow how the digits are usually written by hand: one or two pen strokes.
DIGIT_STROKES = {
    0: [_arc(0.5, 0.5, 0.25, 0.37, -90, 270, 17)],
    1: [_line((0.33, 0.27), (0.52, 0.1), (0.52, 0.9))],
    2: [np.concatenate([_arc(0.5, 0.3, 0.24, 0.2, 175, 385, 9),
                        _line((0.25, 0.9), (0.78, 0.9))])],
    3: [np.concatenate([_arc(0.48, 0.29, 0.22, 0.19, 200, 450, 9),
                        _arc(0.48, 0.69, 0.25, 0.21, -90, 160, 9)[1:]])],
    4: [_line((0.66, 0.9), (0.66, 0.1), (0.2, 0.64), (0.82, 0.64))],
    5: [np.concatenate([_line((0.74, 0.1), (0.32, 0.1)),
                        _arc(0.49, 0.66, 0.26, 0.23, -130, 150, 10)])],
    6: [np.concatenate([_line((0.68, 0.12), (0.5, 0.2), (0.36, 0.35), (0.29, 0.54)),
                        _arc(0.5, 0.69, 0.21, 0.2, 180, 540, 13)])],
    7: [_line((0.22, 0.1), (0.78, 0.1), (0.42, 0.9))],
    8: [_arc(0.5, 0.29, 0.19, 0.18, 90, 450, 13), _arc(0.5, 0.69, 0.23, 0.21, -90, 270, 13)],
    9: [np.concatenate([_arc(0.5, 0.32, 0.22, 0.21, 0, 360, 13),
                        _line((0.7, 0.6), (0.58, 0.9))])],
}


def _stroke_tables():
    """All digits as padded vertex and segment tables.

    Returns ``V (10, Vmax, 2)`` vertices and ``S (10, Smax, 2)`` vertex indices of each
    segment's ends.  Short digits are padded by repeating their last vertex and last segment:
    a repeated segment does not change a minimum over segments, so every sample can run the
    same ``Smax`` segment loop.
    """
    verts, segs = [], []
    for d in range(10):
        v, s, off = [], [], 0
        for poly in DIGIT_STROKES[d]:
            v.append(poly)
            s.extend((off + i, off + i + 1) for i in range(len(poly) - 1))
            off += len(poly)
        verts.append(np.concatenate(v))
        segs.append(np.array(s))
    vmax = max(len(v) for v in verts)
    smax = max(len(s) for s in segs)
    V = np.stack([np.concatenate([v, np.repeat(v[-1:], vmax - len(v), 0)]) for v in verts])
    S = np.stack([np.concatenate([s, np.repeat(s[-1:], smax - len(s), 0)]) for s in segs])
    return V, S


_VERTS, _SEGS = _stroke_tables()


def _pixel_grid(size: int) -> np.ndarray:
    """``(size*size, 2)`` pixel centres as (x, y) = (column, row), row-major."""
    r, c = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return np.stack([c.ravel(), r.ravel()], 1).astype(np.float64)


def _segment_distance2(grid, a, b):
    r"""Squared distance from every pixel to segment ``[a, b]`` of every sample.

    .. math:: t = \operatorname{clip}\Big(\frac{(p-a)\cdot(b-a)}{\|b-a\|^2}, 0, 1\Big),\qquad
              \operatorname{dist}^2 = \|p - a - t(b-a)\|^2

    grid ``(G, 2)``, a and b ``(n, 2)`` -> ``(n, G)``.  The x and y parts are kept apart
    (no ``(n, G, 2)`` temporaries): this is the generator's inner loop.
    """
    dx = grid[None, :, 0] - a[:, :1]                       # (n, G)
    dy = grid[None, :, 1] - a[:, 1:]
    abx, aby = b[:, :1] - a[:, :1], b[:, 1:] - a[:, 1:]     # (n, 1)
    den = np.maximum(abx * abx + aby * aby, 1e-12)          # degenerate segment -> its point
    t = np.clip((dx * abx + dy * aby) / den, 0.0, 1.0)
    dx -= t * abx
    dy -= t * aby
    return dx * dx + dy * dy


def _render_digits(y, size, noise, rng):
    """Draw digit images for labels ``y (n,)``: ``(n, size, size)`` float32 in [0, 1]."""
    n = y.size
    # Per-sample randomness, drawn in a fixed order so a seed fixes the whole set.
    wobble = rng.normal(0.0, 0.02, size=(n,) + _VERTS.shape[1:])
    theta = np.deg2rad(rng.uniform(-15.0, 15.0, n))
    scale = rng.uniform(0.8, 1.1, n)
    aspect = rng.uniform(0.85, 1.1, n)          # narrower or wider hand
    shear = rng.uniform(-0.25, 0.25, n)         # slant
    shift = rng.uniform(-0.1, 0.1, (n, 2))
    half_width = rng.uniform(0.045, 0.085, n) * size
    ink = rng.uniform(0.75, 1.0, n)
    pixel_noise = rng.normal(0.0, 1.0, (n, size, size)) if noise > 0 else None

    # A = R(theta) @ [[s*aspect, shear*s], [0, s]]: maps the centred unit box per sample.
    c, s = np.cos(theta), np.sin(theta)
    m00, m01, m11 = scale * aspect, scale * shear, scale
    A = np.empty((n, 2, 2))
    A[:, 0, 0] = c * m00
    A[:, 0, 1] = c * m01 - s * m11
    A[:, 1, 0] = s * m00
    A[:, 1, 1] = s * m01 + c * m11
    q = _VERTS[y] + wobble - 0.5                                   # (n, V, 2)
    unit = np.einsum("nij,nvj->nvi", A, q) + 0.5 + shift[:, None]  # still in the unit box
    px = unit * size - 0.5                 # unit 0..1 -> pixel edges -0.5..size-0.5
    seg = _SEGS[y]                                                 # (n, S, 2)
    ends_a = np.take_along_axis(px, seg[..., :1], axis=1)          # (n, S, 2)
    ends_b = np.take_along_axis(px, seg[..., 1:], axis=1)

    grid = _pixel_grid(size).astype(np.float32)
    ends_a, ends_b = ends_a.astype(np.float32), ends_b.astype(np.float32)
    X = np.empty((n, size * size), dtype=np.float32)
    step = max(1, _CHUNK // grid.shape[0])
    soft = 0.3 * max(size / 16.0, 0.5)     # edge softness in pixels, scaled with the image
    for lo in range(0, n, step):           # chunks of samples bound the memory
        hi = min(n, lo + step)
        dist2 = np.full((hi - lo, grid.shape[0]), np.inf, dtype=np.float32)
        for k in range(ends_a.shape[1]):   # loop over stroke segments, not samples
            np.minimum(dist2, _segment_distance2(grid, ends_a[lo:hi, k], ends_b[lo:hi, k]),
                       out=dist2)
        dist = np.sqrt(dist2)
        # Smooth pen edge: full ink inside the half-width, a logistic falloff across it.
        z = np.clip((dist - half_width[lo:hi, None].astype(np.float32)) / np.float32(soft),
                    -30.0, 30.0)
        X[lo:hi] = ink[lo:hi, None] / (1.0 + np.exp(z))
    X = X.reshape(n, size, size)
    if pixel_noise is not None:
        X = X + noise * pixel_noise
    return np.clip(X, 0.0, 1.0).astype(np.float32)


def _check_digit_args(size, noise):
    return check_int("size", size, 8, MAX_SIZE), check_float("noise", noise, 0.0, 1.0)


def make_digits(n=2000, size=16, noise=0.1, rng=0):
    r"""Handwritten-looking digits 0-9 drawn from pen strokes.

    Each digit is a few polylines in the unit box.  Per sample, the stroke vertices wobble by
    :math:`\mathcal N(0, 0.02^2)`, then the affine map
    :math:`u \mapsto R_\theta\,\begin{pmatrix} s a & s h\\ 0 & s\end{pmatrix}(u - c) + c + t`
    is applied with :math:`\theta \sim U(\pm 15^\circ)`, scale :math:`s \sim U(0.8, 1.1)`,
    aspect :math:`a \sim U(0.85, 1.1)`, shear :math:`h \sim U(\pm 0.25)` and shift
    :math:`t \sim U(\pm 0.1)` of the box.  A pixel ``p`` gets ink
    :math:`\iota / (1 + e^{(\delta(p) - w)/\tau})`, where :math:`\delta(p)` is its distance
    to the nearest stroke segment, :math:`w` the pen's half-width (4.5-8.5 % of the side),
    :math:`\iota \in [0.75, 1]` the ink and :math:`\tau` a softness of 0.3 pixel at 16 px.
    Finally :math:`\operatorname{clip}(x + \sigma\varepsilon, 0, 1)` adds pixel noise.

    Parameters
    ----------
    n : int
        Number of images, 10 to 200,000; the ten classes get ``n // 10`` each (the first
        ``n % 10`` one more).
    size : int
        Image side in pixels, 8 to 128.
    noise : float
        Standard deviation :math:`\sigma` of the Gaussian pixel noise, in [0, 1].
    rng : int or numpy.random.Generator

    Returns
    -------
    X : ndarray of float32, shape (n, size, size)
        Ink in [0, 1] (bright strokes on a dark background), row 0 at the top.
    y : ndarray of int64, shape (n,)
        The digit of each image, rows in a seeded random order.
    """
    n = check_int("n", n, 10, MAX_N)
    size, noise = _check_digit_args(size, noise)
    rng = as_rng(rng)
    y = balanced_labels(n, 10)[rng.permutation(n)]
    return _render_digits(y, size, noise, rng), y


def digits_split(n_train=2000, n_test=500, size=16, noise=0.1, rng=0):
    """Disjoint train and test digits from one seeded draw.

    Both parts are balanced over the ten digits and drawn in one call of the renderer, so
    every image is an independent sample and no image appears in both parts.

    Parameters
    ----------
    n_train, n_test : int
        Sizes of the two parts, each 10 to 200,000 (together at most 200,000).
    size, noise, rng
        As in :func:`make_digits`.

    Returns
    -------
    Xtr : ndarray of float32, shape (n_train, size, size)
    ytr : ndarray of int64, shape (n_train,)
    Xte : ndarray of float32, shape (n_test, size, size)
    yte : ndarray of int64, shape (n_test,)
    """
    n_train = check_int("n_train", n_train, 10, MAX_N)
    n_test = check_int("n_test", n_test, 10, MAX_N)
    if n_train + n_test > MAX_N:
        raise ValueError(f"n_train + n_test must be at most {MAX_N:,}, got "
                         f"{n_train + n_test:,}")
    size, noise = _check_digit_args(size, noise)
    rng = as_rng(rng)
    ytr = balanced_labels(n_train, 10)[rng.permutation(n_train)]
    yte = balanced_labels(n_test, 10)[rng.permutation(n_test)]
    X = _render_digits(np.concatenate([ytr, yte]), size, noise, rng)
    return X[:n_train], ytr, X[n_train:], yte


# -- shapes -------------------------------------------------------------------------------------
def _box_sdf(px, py, hx, hy):
    """Signed distance to an axis-aligned box of half-sizes ``hx, hy`` centred at 0."""
    qx, qy = np.abs(px) - hx, np.abs(py) - hy
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    return outside + np.minimum(np.maximum(qx, qy), 0.0)


def _shape_sdf(name, px, py, r):
    """Signed distance (negative inside) of shape ``name`` of radius ``r`` at the origin.

    ``px, py (n, G)`` are pixel offsets from each sample's centre (x right, y down); ``r``
    is ``(n, 1)``.
    """
    if name == "circle":
        return np.hypot(px, py) - r
    if name == "square":
        return _box_sdf(px, py, 0.8 * r, 0.8 * r)
    if name == "triangle":
        # Upward triangle as the intersection of three half-planes (a good-enough distance
        # for a filled raster): the base, and two sides at +-60 degrees.
        k = np.sqrt(3.0)
        base = py - 0.5 * r
        left = (-k * px - py) / 2.0 - 0.5 * r
        right = (k * px - py) / 2.0 - 0.5 * r
        return np.maximum(base, np.maximum(left, right))
    if name == "cross":
        return np.minimum(_box_sdf(px, py, r, 0.3 * r), _box_sdf(px, py, 0.3 * r, r))
    if name == "hbar":
        return _box_sdf(px, py, 1.1 * r, 0.3 * r)
    if name == "vbar":
        return _box_sdf(px, py, 0.3 * r, 1.1 * r)
    raise AssertionError(name)  # checked by the caller


def make_shapes(n, size=16, classes=SHAPE_CLASSES, rng=0, noise=0.0):
    """Filled shapes of random size and position, one class per shape.

    A pixel's value is :math:`1/(1 + e^{d/\\tau})` with ``d`` the signed distance to the
    shape's outline (negative inside) and :math:`\\tau` half a pixel, so edges are smooth.
    Radius is 22-38 % of the side; the centre moves at most 12 % of the side from the middle.

    Parameters
    ----------
    n : int
        Number of images, at least ``len(classes)`` and at most 200,000; balanced.
    size : int
        Image side, 8 to 128.
    classes : sequence of str
        Distinct names from :data:`SHAPE_CLASSES`; label ``i`` is ``classes[i]``.
    rng : int or numpy.random.Generator
    noise : float
        Standard deviation of Gaussian pixel noise, in [0, 1] (the result is clipped).

    Returns
    -------
    X : ndarray of float32, shape (n, size, size)
    y : ndarray of int64, shape (n,)
    """
    if isinstance(classes, str):
        classes = (classes,)
    classes = tuple(classes)
    bad = [c for c in classes if c not in SHAPE_CLASSES]
    if not classes or bad or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct names from {', '.join(SHAPE_CLASSES)}; "
                         f"got {classes!r}")
    n = check_int("n", n, len(classes), MAX_N)
    size = check_int("size", size, 8, MAX_SIZE)
    noise = check_float("noise", noise, 0.0, 1.0)
    rng = as_rng(rng)
    y = balanced_labels(n, len(classes))[rng.permutation(n)]
    centre = (size - 1) / 2 + rng.uniform(-0.12, 0.12, (n, 2)) * size
    radius = rng.uniform(0.22, 0.38, (n, 1)) * size
    grid = _pixel_grid(size)
    px = grid[None, :, 0] - centre[:, :1]
    py = grid[None, :, 1] - centre[:, 1:]
    X = np.empty((n, size * size), dtype=np.float32)
    for k, name in enumerate(classes):          # loop over the few classes only
        sel = y == k
        d = _shape_sdf(name, px[sel], py[sel], radius[sel])
        X[sel] = 1.0 / (1.0 + np.exp(np.clip(d / 0.5, -30.0, 30.0)))
    X = X.reshape(n, size, size)
    if noise > 0:
        X = np.clip(X + noise * rng.normal(size=X.shape), 0.0, 1.0).astype(np.float32)
    return X, y


def make_bars(n, size=16, rng=0):
    """Single bright bars at four orientations, to see which edge kernel answers to which.

    Each image holds one bar through a random point near the middle, at angle
    :data:`BAR_ANGLES` ``[y]`` (anticlockwise from horizontal on screen), with half-thickness
    0.6-1.4 px (scaled with ``size / 16``) and length 55-85 % of the side.

    Parameters
    ----------
    n : int
        Number of images, 4 to 200,000; balanced over the four orientations.
    size : int
        Image side, 8 to 128.
    rng : int or numpy.random.Generator

    Returns
    -------
    X : ndarray of float32, shape (n, size, size)
    y : ndarray of int64, shape (n,)
        Orientation index into :data:`BAR_ANGLES`.
    """
    n = check_int("n", n, len(BAR_ANGLES), MAX_N)
    size = check_int("size", size, 8, MAX_SIZE)
    rng = as_rng(rng)
    y = balanced_labels(n, len(BAR_ANGLES))[rng.permutation(n)]
    centre = (size - 1) / 2 + rng.uniform(-0.15, 0.15, (n, 2)) * size
    half_len = rng.uniform(0.275, 0.425, n) * size
    half_thick = rng.uniform(0.6, 1.4, n) * size / 16
    ang = np.deg2rad(np.asarray(BAR_ANGLES, float))[y]
    # Screen y points down, so an anticlockwise angle has direction (cos a, -sin a).
    direction = np.stack([np.cos(ang), -np.sin(ang)], 1)
    a = centre - half_len[:, None] * direction
    b = centre + half_len[:, None] * direction
    dist = np.sqrt(_segment_distance2(_pixel_grid(size), a, b))
    z = np.clip((dist - half_thick[:, None]) / 0.35, -30.0, 30.0)
    return (1.0 / (1.0 + np.exp(z))).reshape(n, size, size).astype(np.float32), y


def make_test_card(size=32):
    """A fixed image with something for every kernel: edges, ramps, a disc, text blocks.

    Quadrants (in fractions of the side): top-left a left-to-right ramp with a darker band
    across it; top-right a bright disc on grey; bottom-left vertical and horizontal stripes of
    falling width (fine detail for blurs); bottom-right short blocks arranged like lines of
    text, plus a one-pixel frame around the whole card.  The same layout is drawn at any
    size, so kernels can be compared across sizes.

    Parameters
    ----------
    size : int
        Image side, 8 to 128.

    Returns
    -------
    ndarray of float32, shape (size, size), values in [0, 1]
    """
    size = check_int("size", size, 8, MAX_SIZE)
    r, c = np.meshgrid((np.arange(size) + 0.5) / size, (np.arange(size) + 0.5) / size,
                       indexing="ij")
    img = np.zeros((size, size))
    top, left = r < 0.5, c < 0.5
    # Top-left: horizontal ramp 0.1 -> 0.9, with a band at 30 % brightness.
    ramp = 0.1 + 1.6 * c
    band = (r > 0.2) & (r < 0.3)
    img = np.where(top & left, np.where(band, 0.3, ramp), img)
    # Top-right: a disc on mid-grey.
    disc = np.hypot(r - 0.25, c - 0.75) < 0.17
    img = np.where(top & ~left, np.where(disc, 1.0, 0.45), img)
    # Bottom-left: vertical stripes above, horizontal ones below, periods shrinking.
    period = np.where(c < 0.25, 0.125, 0.0625)
    vstripes = (np.floor(c / (period / 2)) % 2) == 0
    hstripes = (np.floor(r / 0.0625) % 2) == 0
    img = np.where(~top & left, np.where(r < 0.75, vstripes, hstripes) * 0.9, img)
    # Bottom-right: "words": blocks on three lines with gaps, dark on light paper.
    line = np.floor((r - 0.55) / 0.14)
    in_line = (line >= 0) & (line < 3) & (((r - 0.55) % 0.14) < 0.07)
    word = (np.floor((c - 0.55) / 0.13) + line) % 3 != 2
    in_word = (c > 0.55) & (c < 0.92) & (((c - 0.55) % 0.13) < 0.1)
    img = np.where(~top & ~left, np.where(in_line & in_word & word, 0.05, 0.85), img)
    frame = np.zeros((size, size), bool)
    frame[[0, -1], :] = frame[:, [0, -1]] = True
    img = np.where(frame, 1.0, img)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def center_of_mass_align(X: np.ndarray) -> np.ndarray:
    r"""Shift each image so that its centre of mass sits at the image centre.

    With :math:`m = \sum_p x_p` and :math:`\bar r = \sum_p r_p x_p / m` (likewise
    :math:`\bar c`), the output samples the input at :math:`(r + \bar r - r_0,\ c + \bar c -
    c_0)` with bilinear interpolation (zero outside), where :math:`(r_0, c_0)` is the centre.
    This is MNIST's normalisation; it removes translation, which a 2-D code cannot afford.

    Parameters
    ----------
    X : ndarray, shape (n, h, w)

    Returns
    -------
    ndarray of float32, shape (n, h, w)
    """
    X = np.asarray(X, np.float32)
    n, h, w = X.shape
    mass = X.sum((1, 2)) + 1e-8
    rows, cols = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)
    dy = X.sum(2) @ rows / mass - (h - 1) / 2
    dx = X.sum(1) @ cols / mass - (w - 1) / 2
    yy = rows[None, :, None] + dy[:, None, None]          # (n, h, 1) source rows
    xx = cols[None, None, :] + dx[:, None, None]          # (n, 1, w) source columns
    y0, x0 = np.floor(yy).astype(np.int64), np.floor(xx).astype(np.int64)
    fy, fx = (yy - y0).astype(np.float32), (xx - x0).astype(np.float32)
    idx = np.arange(n)[:, None, None]

    def tap(yi, xi):
        inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        return np.where(inside, X[idx, np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)], 0.0)

    out = (tap(y0, x0) * (1 - fy) * (1 - fx) + tap(y0, x0 + 1) * (1 - fy) * fx
           + tap(y0 + 1, x0) * fy * (1 - fx) + tap(y0 + 1, x0 + 1) * fy * fx)
    return out.astype(np.float32)
