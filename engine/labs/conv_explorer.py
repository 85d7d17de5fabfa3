r"""Convolution explorer (book ch. 9, sections 9.2-9.6): a kernel sliding over an input.

Each step moves the window to the next output cell (row by row, wrapping round) and the
snapshot spells out that cell's arithmetic: which input values sit under which kernel
weights, their products, and their sum plus the bias, which is exactly the output value.

Modes:

* ``conv2d`` - cross-correlation as in every DL library,
  :math:`O_{ij} = b + \sum_{m,n} I_{is+md,\,js+nd}\,K_{mn}`, or true convolution with the
  kernel turned 180 degrees (``flip``); zero or reflect padding.
* ``conv1d`` - the same along one axis of a signal.
* ``conv3d`` - a cube kernel sliding through a short clip (frames x rows x columns); the size
  formula holds per axis.
* ``pointwise_1x1`` - a 1x1 kernel mixes the channels of each pixel:
  :math:`O_{ij} = b + \sum_c w_c I_{c,ij}`.
* ``depthwise_separable`` - one k x k kernel per channel (``groups = C``), then a 1x1 mix,
  with the multiply count against a full convolution with ``F`` kernels.
* ``transposed`` - each output cell gathers the products :math:`y_{ij}K_{mn}` whose scatter
  position :math:`(is+md-p,\ js+nd-p)` lands on it; the overlap-count map shows why stride 2
  with k = 3 leaves a checkerboard.
* ``pooling`` - max, average or global-average pooling, with the backward pass's gradient
  map (max pooling sends it only to each window's arg-max).

Every output is computed once per change by :mod:`engine.nn.functional` (``conv1d``,
``conv2d``, ``conv3d``, ``conv_transpose2d``, ``max_pool2d``, ``avg_pool2d``,
``global_avg_pool2d``); the per-cell tables only re-read the inputs and weights of one window,
and the tests check that their sums equal the engine's outputs.

Display conventions of the snapshot (what the panel draws): every picture is a 2-D array,
row 0 at the top, ``x`` = column and ``y`` = row in pixel units (a cell spans
``[x, x+1) x [y, y+1)``); several slices of a volume are tiled side by side with a one-cell
gap filled with NaN.
"""
from __future__ import annotations

import math

import numpy as np

from engine.autodiff import Tensor, no_grad
from engine.autodiff.ops.conv import conv_out_size, conv_transpose_out_size
from engine.data import (
    BAR_ANGLES,
    SHAPE_CLASSES,
    make_bars,
    make_digits,
    make_shapes,
    make_test_card,
)
from engine.labs.base import Action, Lab, Param, Snapshot
from engine.nn import functional as F

MODES = ("conv2d", "conv1d", "conv3d", "pointwise_1x1", "depthwise_separable", "transposed",
         "pooling")
SOURCES = ("example", "digit", "shape", "bars", "test_card", "drawn")
PRESETS = ("identity", "edge", "sobel_x", "sobel_y", "blur", "gaussian", "sharpen", "emboss",
           "laplacian", "book")
POOLS = ("max", "avg", "global")
PAD_MODES = ("zeros", "reflect")

MAX_IMAGE = 64          # largest side of an image the user sets or draws
MIN_IMAGE = 2
MAX_KERNEL = 7
MAX_WEIGHT = 100.0      # largest |kernel weight| a user may type
CHANNELS = 3            # channels of the pointwise / depthwise-separable input
FRAMES = 8              # frames of the clip built from a 2-D image in conv3d mode
MAX_VOLUME_SIDE = 16    # conv3d downsamples larger images to keep the clip small
LABEL_CELLS = 144       # write every cell's value when a picture has at most this many cells
MAX_TERMS = 27          # terms written out in the arithmetic line before "..."

#: The book's worked examples, one per mode (see shared/spec, ch. 9).
EXAMPLE_IMAGE = np.array([[2, 4, 3, 7, 2], [6, 1, 4, 3, 1], [7, 2, 3, 5, 5],
                          [1, 7, 3, 9, 1], [4, 2, 9, 1, 5]], dtype=np.float64)   # L5108
EXAMPLE_SIGNAL = np.array([2, 1, 4, 1, 1, 0, 3, 2, 2], dtype=np.float64)      # L5200
EXAMPLE_POOL = np.array([[2, 1, 1, 3], [4, 5, 2, 1], [1, 4, 5, 3], [5, 1, 7, 6]],
                        dtype=np.float64)                                      # 9.6
EXAMPLE_TCONV = np.array([[1, 2], [3, 4]], dtype=np.float64)                   # L5309


def _example_channels() -> np.ndarray:
    """An 8x8x3 input of small integers (the size of the book's separable example, L5275).

    Channel 0 is the test card at 8 px scaled to 0-9, channel 1 its transpose, channel 2 its
    photographic negative: three different but related maps, so a 1x1 mix visibly changes
    the picture.
    """
    card = np.round(9 * make_test_card(8).astype(np.float64))
    return np.stack([card, card.T, 9 - card])


def _example_volume() -> np.ndarray:
    """A 15-frame clip of 21x21 frames with a 5x5 square moving one pixel a frame diagonally.

    It has the sizes of the book's 3-D example (21x21x15, L5233).
    """
    vol = np.zeros((15, 21, 21))
    t = np.arange(15)
    rows = t[:, None] + np.arange(5)[None]                       # (15, 5)
    vol[t[:, None, None], rows[:, :, None], rows[:, None, :]] = 1.0
    return vol


# -- kernels ------------------------------------------------------------------------------------
def _binomial(n: int) -> np.ndarray:
    """Row ``n`` of Pascal's triangle: the discrete Gaussian of ``n + 1`` taps."""
    row = np.ones(1)
    for _ in range(n):
        row = np.convolve(row, [1.0, 1.0])
    return row


def _axis_profile(vec: np.ndarray, axis: int, nd: int) -> np.ndarray:
    shape = [1] * nd
    shape[axis] = vec.size
    return vec.reshape(shape)


def preset_kernel(name: str, k: int, nd: int = 2) -> np.ndarray:
    r"""The preset ``name`` as a ``k``-tap kernel in ``nd`` dimensions (float64, shape k^nd).

    The 3x3 cases are the textbook ones: identity :math:`\delta`; ``edge`` (all -1, centre
    :math:`k^{nd}-1`, sums to 0); ``sobel_x`` = smoothing :math:`[1,2,1]^\top` times the
    derivative :math:`[-1,0,1]` along x (``sobel_y`` along the rows); ``blur`` the box mean;
    ``gaussian`` the normalised binomial; ``laplacian`` the sum of second differences
    :math:`[1,-2,1]` along each axis; ``sharpen`` = :math:`\delta` - laplacian; ``emboss`` =
    :math:`\delta` + the signed distance from the centre along the diagonal; ``book`` the
    book's :math:`[1, 0, -1]` in every row.  Larger ``k`` uses longer binomials and
    derivatives; a laplacian needs ``k >= 3`` (smaller kernels get zeros, so sharpen is
    :math:`\delta`).  In 1-D ``sobel_x`` and ``sobel_y`` are both the derivative.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown kernel preset {name!r}: choose one of {', '.join(PRESETS)}")
    shape = (k,) * nd
    c = (k - 1) // 2
    delta = np.zeros(shape)
    delta[(c,) * nd] = 1.0
    if name == "identity":
        return delta
    if name == "blur":
        return np.full(shape, 1.0 / k ** nd)
    if name == "gaussian":
        g = _binomial(k - 1) / _binomial(k - 1).sum()
        out = np.ones(shape)
        for ax in range(nd):
            out = out * _axis_profile(g, ax, nd)
        return out
    if name in ("sobel_x", "sobel_y"):
        deriv = np.convolve(_binomial(k - 2), [-1.0, 1.0]) if k >= 2 else np.zeros(1)
        smooth = _binomial(k - 1)
        along = nd - 1 if name == "sobel_x" or nd == 1 else nd - 2
        out = np.ones(shape)
        for ax in range(nd):
            out = out * _axis_profile(deriv if ax == along else smooth, ax, nd)
        return out
    if name == "edge":
        out = -np.ones(shape)
        out[(c,) * nd] = k ** nd - 1
        return out
    if name in ("laplacian", "sharpen"):
        lap = np.zeros(shape)
        if k >= 3:
            for ax in range(nd):
                for off, w in ((-1, 1.0), (0, -2.0), (1, 1.0)):
                    idx = [c] * nd
                    idx[ax] = c + off
                    lap[tuple(idx)] += w
        return lap if name == "laplacian" else delta - lap
    if name == "emboss":
        ctr = (k - 1) / 2
        grids = np.meshgrid(*([np.arange(k) - ctr] * nd), indexing="ij")
        return sum(grids) + delta
    # book: [1, 0, -1] along the last axis, repeated over the others (L5108).
    ctr = (k - 1) / 2
    row = np.sign(ctr - np.arange(k))
    return np.broadcast_to(_axis_profile(row, nd - 1, nd), shape).astype(np.float64)


def pointwise_preset(name: str, c: int = CHANNELS) -> np.ndarray:
    """1x1 weights over ``c`` channels for a preset: identity keeps channel 0, blur and
    gaussian average the channels, anything else uses a fixed signed mix."""
    if name == "identity":
        return np.eye(c)[0]
    if name in ("blur", "gaussian"):
        return np.full(c, 1.0 / c)
    return np.resize(np.array([1.0, 0.5, -1.0]), c)


# -- formulas -----------------------------------------------------------------------------------
def _n(v: float) -> str:
    """A number as written on screen: integers plainly, otherwise 3 significant digits;
    a real minus sign."""
    v = float(v)
    if not math.isfinite(v):
        return "\u2212\u221e" if v < 0 else ("\u221e" if v > 0 else "NaN")
    if abs(v - round(v)) < 1e-9 and abs(v) < 1e7:
        s = str(round(v))
    else:
        s = f"{v:.3g}"
    return s.replace("-", "\u2212")


def _short(v: float) -> str:
    """A cell label: integers plainly, otherwise two decimals (or 2 significant digits)."""
    v = float(v)
    if abs(v - round(v)) < 1e-9 and abs(v) < 1e5:
        s = str(round(v))
    elif abs(v) < 10:
        s = f"{v:.2f}"
    else:
        s = f"{v:.2g}"
    return s.replace("-", "\u2212")


def _paren(v: float) -> str:
    s = _n(v)
    return f"({s})" if s.startswith("\u2212") else s


RED = "#e0533d"


def conv_size_formula(n: int, k: int, stride: int = 1, padding: int = 0,
                      dilation: int = 1, axis: str = "") -> tuple[int, bool, str]:
    r"""Output size of a convolution along one axis, and the formula with its numbers.

    .. math:: o = \Big\lfloor \frac{n + 2p - d(k-1) - 1}{s} \Big\rfloor + 1

    Returns
    -------
    o : int
        The size (may be < 1: the kernel does not fit).
    exact : bool
        Whether the division is exact.  When it is not, the last ``(num mod s)`` rows (or
        columns) of the padded input are never reached by a window: the formula is shown in
        red, as the book's version without the floor would give a fraction.
    html : str
        e.g. ``o = ⌊(52 + 2·0 − 1·(12−1) − 1)/2⌋ + 1 = ⌊40/2⌋ + 1 = 21``.
    """
    num = n + 2 * padding - dilation * (k - 1) - 1
    o = conv_out_size(n, k, stride, padding, dilation)
    sub = f"<sub>{axis}</sub>" if axis else ""
    head = (f"o{sub} = \u230a({n} + 2\u00b7{padding} \u2212 {dilation}\u00b7({k}\u22121) "
            f"\u2212 1)/{stride}\u230b + 1 = \u230a{_n(num)}/{stride}\u230b + 1")
    exact = num % stride == 0
    if o < 1:
        return o, exact, (f"<span style='color:{RED}'>{head} = {o}: the kernel does not fit "
                          f"(no output)</span>")
    if exact:
        return o, True, f"{head} = {o}"
    frac = f"{num / stride:.4g}".replace("-", "\u2212")
    return o, False, (f"<span style='color:{RED}'>{head}: {_n(num)}/{stride} = {frac} "
                      f"\u2192 {num // stride}, so o{sub} = {o} ({num % stride} padded "
                      f"row(s)/column(s) never reached)</span>")


def pool_size_formula(n: int, r: int, stride: int, padding: int,
                      axis: str = "") -> tuple[int, bool, str]:
    r""":math:`o = \lfloor (n + 2p - r)/s \rfloor + 1` with its numbers (see
    :func:`conv_size_formula`)."""
    num = n + 2 * padding - r
    o = conv_out_size(n, r, stride, padding)
    sub = f"<sub>{axis}</sub>" if axis else ""
    head = (f"o{sub} = \u230a({n} + 2\u00b7{padding} \u2212 {r})/{stride}\u230b + 1 = "
            f"\u230a{_n(num)}/{stride}\u230b + 1")
    exact = num % stride == 0
    if o < 1:
        return o, exact, f"<span style='color:{RED}'>{head} = {o}: no output</span>"
    if exact:
        return o, True, f"{head} = {o}"
    frac = f"{num / stride:.4g}"
    return o, False, (f"<span style='color:{RED}'>{head}: {frac} \u2192 {num // stride}, "
                      f"so o{sub} = {o}</span>")


def tconv_size_formula(n: int, k: int, stride: int, padding: int, dilation: int = 1,
                       axis: str = "") -> tuple[int, str]:
    r""":math:`o = (n-1)s - 2p + d(k-1) + 1` (no output padding) with its numbers."""
    o = conv_transpose_out_size(n, k, stride, padding, dilation)
    sub = f"<sub>{axis}</sub>" if axis else ""
    html = (f"o{sub} = ({n}\u22121)\u00b7{stride} \u2212 2\u00b7{padding} + "
            f"{dilation}\u00b7({k}\u22121) + 1 = {o}")
    if o < 1:
        html = f"<span style='color:{RED}'>{html}: padding crops everything</span>"
    return o, html


def separable_costs(h: int, w: int, c: int, f: int, k: int) -> dict:
    r"""Multiplies and weights of a standard vs a depthwise-separable convolution.

    For an ``oh x ow`` output: standard :math:`k^2 C F\,o_h o_w` multiplies and
    :math:`k^2CF` weights; depthwise-separable :math:`k^2 C\,o_h o_w + C F\,o_h o_w`
    multiplies and :math:`k^2 C + CF` weights (biases left out, as in the book), a ratio
    of :math:`1/F + 1/k^2`.  ``h, w`` are the output sizes here.
    """
    o2 = h * w
    std = k * k * c * f * o2
    dw, pw = k * k * c * o2, c * f * o2
    return {"standard": std, "depthwise": dw, "pointwise": pw, "separable": dw + pw,
            "ratio": (dw + pw) / std if std else float("nan"),
            "params_standard": k * k * c * f, "params_separable": k * k * c + c * f}


# -- small array helpers ------------------------------------------------------------------------
def _tile(slices, gap=1):
    """Tile 2-D arrays left to right with ``gap`` NaN columns; returns (mosaic, x offsets)."""
    h = max(s.shape[0] for s in slices)
    offs, x = [], 0
    for s in slices:
        offs.append(x)
        x += s.shape[1] + gap
    out = np.full((h, x - gap), np.nan)
    for s, o in zip(slices, offs):
        out[:s.shape[0], o:o + s.shape[1]] = s
    return out, offs


def _pad_nd(x, p, mode, axes):
    """Pad the ``axes`` of ``x`` by ``p`` (zeros, or a mirror without repeating the edge)."""
    if p == 0:
        return x.copy()
    width = [(p, p) if ax in axes else (0, 0) for ax in range(x.ndim)]
    return np.pad(x, width, mode="constant" if mode == "zeros" else "reflect")


def _downsample(img, side):
    """Block-mean ``img`` until both sides are at most ``side`` (cropping the remainder)."""
    f = max(1, math.ceil(max(img.shape) / side))
    if f == 1:
        return img
    h, w = img.shape[0] // f, img.shape[1] // f
    return img[:h * f, :w * f].reshape(h, f, w, f).mean(axis=(1, 3))


def _check_image(pixels) -> np.ndarray:
    """Validate an image a user sets: 2-D, finite, values in [0, 1], sides 2-64."""
    try:
        img = np.array(pixels, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("an image must be a 2-D array (rows of numbers in [0, 1]); the "
                         "rows given have different lengths or are not numbers") from None
    if img.ndim != 2:
        raise ValueError(f"an image must be 2-D (grayscale rows x columns), got "
                         f"{img.ndim} dimension(s) of shape {img.shape}")
    h, w = img.shape
    if not (MIN_IMAGE <= h <= MAX_IMAGE and MIN_IMAGE <= w <= MAX_IMAGE):
        raise ValueError(f"an image must be between {MIN_IMAGE}x{MIN_IMAGE} and "
                         f"{MAX_IMAGE}x{MAX_IMAGE} pixels, got {h}x{w}: scale it down first")
    if not np.isfinite(img).all():
        raise ValueError("the image contains NaN or infinite values; every pixel must be a "
                         "number in [0, 1]")
    if img.min() < 0 or img.max() > 1:
        raise ValueError(f"pixel values must lie in [0, 1], got {img.min():.4g} to "
                         f"{img.max():.4g}")
    return img


def _arithmetic(xs, ws, total, bias, op="\u00b7"):
    """``x₁·w₁ + x₂·w₂ + … + b = total`` with at most MAX_TERMS terms written out."""
    terms = [f"{_paren(x)}{op}{_paren(w)}" for x, w in zip(xs[:MAX_TERMS], ws[:MAX_TERMS])]
    more = len(xs) - MAX_TERMS
    s = " + ".join(terms)
    if more > 0:
        s += f" + \u2026 ({more} more)"
    if bias:
        s += f" + {_paren(bias)}"
    return f"{s} = <b>{_n(total)}</b>"


class ConvExplorerLab(Lab):
    name = "conv_explorer"
    chapter = 9
    title = "Convolution explorer"
    section = "9.2-9.6"
    summary = ("A small grid of weights slides over the input. At each stop it multiplies "
               "the values under it by its weights, adds the products and the bias, and "
               "writes one output number; the table spells out that sum for the cell being "
               "computed. Stride skips positions, padding adds a border of zeros, dilation "
               "spreads the taps apart, and the size formula shows how all three set the "
               "output's size. Libraries compute cross-correlation; 'flip' turns the kernel "
               "half a turn for a true convolution, which reverses an edge kernel's signs. "
               "The other modes show the 1-D, 3-D, 1x1, depthwise-separable and transposed "
               "versions and pooling.")

    play_interval = 0.3  # one output cell per step: slow enough to read its arithmetic
    params = (
        Param("mode", "choice", "conv2d", choices=MODES, rebuild=True, group="Operation",
              help="Which operation slides over the input: 2-D, 1-D or 3-D convolution, a "
                   "1x1 channel mix, a depthwise-separable convolution, a transposed "
                   "convolution, or pooling."),
        Param("source", "choice", "example", choices=SOURCES, rebuild=True, group="Input",
              help="The input: the book's worked example for the mode, a generated digit, "
                   "shape, bar or test card, or your drawn / opened image ('drawn')."),
        Param("digit_index", "int", 3, 0, 9, rebuild=True, group="Input", label="image #",
              help="Which generated image: the digit drawn, or the shape / bar orientation "
                   "(counted round the classes)."),
        Param("size", "int", 16, 8, 32, rebuild=True, group="Input", label="image size",
              help="Side in pixels of the generated digit, shape, bar or test card."),
        Param("preset", "choice", "book", choices=PRESETS, group="Kernel",
              help="Kernel preset; picking one replaces your edits. 'book' is [1, 0, \u22121] "
                   "in every row, the book's example."),
        Param("kernel_size", "int", 3, 1, MAX_KERNEL, group="Kernel", symbol="k",
              label="kernel size k", help="Kernel (or pooling window) side k."),
        Param("stride", "int", 1, 1, 4, group="Geometry", symbol="s",
              help="Stride s: how far the window jumps between output cells."),
        Param("padding", "int", 0, 0, 3, group="Geometry", symbol="p",
              help="Padding p: rows/columns added on every side before sliding."),
        Param("dilation", "int", 1, 1, 4, group="Geometry", symbol="d",
              help="Dilation d: spacing between the kernel's taps (1 = adjacent)."),
        Param("pad_mode", "choice", "zeros", choices=PAD_MODES, group="Geometry",
              label="padding mode", help="Fill the border with zeros, or mirror the image "
                                         "into it (reflect; needs p smaller than the image)."),
        Param("flip", "bool", False, group="Kernel", label="flip (true convolution)",
              help="Turn the kernel 180\u00b0 before sliding: true convolution instead of the "
                   "cross-correlation libraries compute. An edge kernel's output changes "
                   "sign."),
        Param("bias", "float", 0.0, -5.0, 5.0, step=0.1, group="Kernel", symbol="b",
              help="Bias b added to every output cell."),
        Param("pool", "choice", "max", choices=POOLS, group="Operation",
              help="Pooling kind (pooling mode): max, average, or global average over the "
                   "whole map."),
        Param("out_channels", "int", 72, 1, 256, group="Operation", symbol="F",
              label="output channels F",
              help="Number of kernels F assumed in the multiply counts (1x1 and "
                   "depthwise-separable modes); the book's example uses 72."),
    )
    actions = (
        Action("set_image", "Use an image", ("pixels",),
               "Use a grayscale image (2-D, values in [0, 1], at most 64x64) as the input."),
        Action("paint", "Paint a pixel", ("x", "y", "value"),
               "Set pixel (row y, column x) of the input image to value in [0, 1] (switches "
               "to the drawn image, starting from the current one)."),
        Action("clear_image", "Clear the drawing",
               help="Start a blank drawn image of the current size."),
        Action("set_kernel_cell", "Set a kernel weight", ("row", "col", "value"),
               "Set the kernel weight shown at (row, col) of the kernel picture."),
        Action("reset_kernel", "Reset the kernel", help="Back to the preset's weights."),
    )

    # -- build ------------------------------------------------------------------------------------
    def __init__(self, seed: int = 0, backend_name: str = "auto", **values):
        self.drawn = np.zeros((16, 16))
        self._weights_key = None
        self.weights: dict[str, np.ndarray] = {}
        self.pos = 0
        super().__init__(seed, backend_name, **values)

    def _build(self) -> None:
        self.pos = 0
        self._commit(self._compute(self._source_image()))

    def _on_param(self, name, old) -> None:
        # Everything is recomputed from the params: a new kernel only when the kernel's
        # definition (mode, preset, size) changed, so hand edits survive stride/padding moves.
        self._commit(self._compute(self._source_image()))

    def _commit(self, res) -> None:
        self.image, self.res = res["image"], res
        self.weights, self._weights_key = res["weights"], res["weights_key"]
        self.pos = self.pos % max(1, res["positions"])

    def _source_image(self) -> np.ndarray:
        """The 2-D base image of the current source (for 'example' the 2-D example)."""
        v = self.values
        src, size, idx = v["source"], v["size"], v["digit_index"]
        if src == "example":
            return EXAMPLE_IMAGE.copy()
        if src == "drawn":
            return self.drawn.copy()
        if src == "test_card":
            return np.round(make_test_card(size).astype(np.float64), 2)
        if src == "digit":
            X, y = make_digits(10, size=size, noise=0.05, rng=self.seed)
            img = X[int(np.flatnonzero(y == idx)[0])]
        elif src == "shape":
            X, y = make_shapes(len(SHAPE_CLASSES), size=size, rng=self.seed)
            img = X[int(np.flatnonzero(y == idx % len(SHAPE_CLASSES))[0])]
        else:
            X, y = make_bars(len(BAR_ANGLES), size=size, rng=self.seed)
            img = X[int(np.flatnonzero(y == idx % len(BAR_ANGLES))[0])]
        # Two decimals keep the arithmetic table readable; the pictures look the same.
        return np.round(img.astype(np.float64), 2)

    def _kernel_weights(self) -> tuple[tuple, dict]:
        """Current weights (kept if their definition did not change) and their key."""
        v = self.values
        mode, k, preset = v["mode"], v["kernel_size"], v["preset"]
        key = (mode, k, preset)
        if key == self._weights_key:
            return key, {n: w.copy() for n, w in self.weights.items()}
        if mode in ("conv2d", "transposed"):
            return key, {"kernel": preset_kernel(preset, k, 2)}
        if mode == "conv1d":
            return key, {"kernel": preset_kernel(preset, k, 1)}
        if mode == "conv3d":
            return key, {"kernel": preset_kernel(preset, k, 3)}
        if mode == "pointwise_1x1":
            return key, {"pw": pointwise_preset(preset)}
        if mode == "depthwise_separable":
            kern = preset_kernel(preset, k, 2)
            return key, {"kernel": np.stack([kern] * CHANNELS), "pw": pointwise_preset(preset)}
        return key, {}

    # -- the engine computations -----------------------------------------------------------------
    def _compute(self, image) -> dict:
        """Everything that depends on params and input but not on the window position."""
        key, weights = self._kernel_weights()
        res = {"image": image, "weights": weights, "weights_key": key, "alerts": [],
               "positions": 0}
        mode = self.values["mode"]
        getattr(self, "_compute_" + mode)(res)
        return res

    def _geometry_ok(self, res, sizes) -> bool:
        if min(sizes) >= 1:
            return True
        res["alerts"].append("The kernel does not fit: the output size formula gives "
                             f"{' x '.join(map(str, sizes))}. Use a smaller kernel or "
                             "dilation, or more padding.")
        return False

    def _padded(self, res, x, axes):
        """Pad by ``p`` with the padding mode; reflect needs p < every padded side."""
        v = self.values
        p, mode = v["padding"], v["pad_mode"]
        if mode == "reflect" and any(p >= x.shape[a] for a in axes):
            res["alerts"].append(f"Reflect padding needs p smaller than the input (p = {p}, "
                                 f"input {' x '.join(str(x.shape[a]) for a in axes)}); "
                                 "zeros are used instead.")
            mode = "zeros"
        return _pad_nd(x, p, mode, axes), mode

    def _kernel_applied(self, kern):
        """The kernel as slid: turned 180 degrees (every axis reversed) for true convolution."""
        return kern[(slice(None, None, -1),) * kern.ndim].copy() if self.values["flip"] \
            else kern

    def _conv(self, fn, x, w, **kw):
        with no_grad():
            return fn(Tensor(x), Tensor(w), **kw).numpy()

    def _compute_conv2d(self, res):
        v = self.values
        x = res["image"]
        k, s, p, d = v["kernel_size"], v["stride"], v["padding"], v["dilation"]
        sizes = [conv_size_formula(n, k, s, p, d, ax) for n, ax in zip(x.shape, "hw")]
        res["formula"] = sizes
        res["xpad"], pad_mode = self._padded(res, x, (0, 1))
        ka = self._kernel_applied(res["weights"]["kernel"])
        res["applied"] = ka
        if not self._geometry_ok(res, [o for o, _, _ in sizes]):
            res["out"] = np.zeros((0, 0))
            return
        bias = np.array([v["bias"]])
        if pad_mode == "zeros":   # the engine pads with zeros itself
            y = self._conv(F.conv2d, x[None, None], ka[None, None], bias=bias, stride=s,
                           padding=p, dilation=d)
        else:
            y = self._conv(F.conv2d, res["xpad"][None, None], ka[None, None], bias=bias,
                           stride=s, dilation=d)
        res["out"] = y[0, 0]
        res["positions"] = res["out"].size

    def _compute_conv1d(self, res):
        v = self.values
        img = res["image"]
        if v["source"] == "example":
            sig = EXAMPLE_SIGNAL.copy()
            res["signal_note"] = ""      # the note already names the book's signal
        else:
            # The row with the most contrast: the most interesting line through the image.
            row = int(np.argmax(img.std(axis=1)))
            sig = img[row].copy()
            res["signal_note"] = f"row {row} of the image (the one with the most contrast)"
        res["signal"] = sig
        k, s, p, d = v["kernel_size"], v["stride"], v["padding"], v["dilation"]
        res["formula"] = [conv_size_formula(sig.size, k, s, p, d)]
        xpad, _ = self._padded(res, sig[None], (1,))
        res["xpad"] = xpad
        ka = self._kernel_applied(res["weights"]["kernel"])
        res["applied"] = ka
        if not self._geometry_ok(res, [res["formula"][0][0]]):
            res["out"] = np.zeros((1, 0))
            return
        y = self._conv(F.conv1d, xpad[None], ka[None, None], bias=np.array([v["bias"]]),
                       stride=s, dilation=d)
        res["out"] = y[0]                     # (1, O)
        res["positions"] = res["out"].size

    def _volume(self, res):
        if self.values["source"] == "example":
            res["volume_note"] = ("a 5\u00d75 square moving diagonally through 15 frames "
                                  "of 21\u00d721")
            return _example_volume()
        img = _downsample(res["image"], MAX_VOLUME_SIDE)
        res["volume_note"] = (f"{FRAMES} frames of the image ({img.shape[0]}x{img.shape[1]}"
                              "), shifted one pixel right per frame")
        # Column shifts by frame index, all frames in one fancy-indexed gather.
        cols = (np.arange(img.shape[1])[None] - np.arange(FRAMES)[:, None]) % img.shape[1]
        return img[:, cols].transpose(1, 0, 2)

    def _compute_conv3d(self, res):
        v = self.values
        vol = self._volume(res)
        res["volume"] = vol
        k, s, p, d = v["kernel_size"], v["stride"], v["padding"], v["dilation"]
        sizes = [conv_size_formula(n, k, s, p, d, ax) for n, ax in zip(vol.shape, "dhw")]
        res["formula"] = sizes
        res["xpad"], _ = self._padded(res, vol, (0, 1, 2))
        ka = self._kernel_applied(res["weights"]["kernel"])
        res["applied"] = ka
        if not self._geometry_ok(res, [o for o, _, _ in sizes]):
            res["out"] = np.zeros((0, 0, 0))
            return
        y = self._conv(F.conv3d, res["xpad"][None, None], ka[None, None],
                       bias=np.array([v["bias"]]), stride=s, dilation=d)
        res["out"] = y[0, 0]
        res["positions"] = res["out"].size

    def _channels(self, res):
        if self.values["source"] == "example":
            res["channel_note"] = ("8\u00d78\u00d73 small integers: the test card, its "
                                   "transpose and its negative")
            return _example_channels()
        img = res["image"]
        res["channel_note"] = "the image, its mirror image and its negative"
        return np.stack([img, img[:, ::-1], 1.0 - img])

    def _compute_pointwise_1x1(self, res):
        v = self.values
        X = self._channels(res)
        res["channels"] = X
        s, p = v["stride"], v["padding"]
        sizes = [conv_size_formula(n, 1, s, p, 1, ax) for n, ax in zip(X.shape[1:], "hw")]
        res["formula"] = sizes
        res["xpad"], _ = self._padded(res, X, (1, 2))
        pw = res["weights"]["pw"]
        y = self._conv(F.conv2d, res["xpad"][None], pw[None, :, None, None],
                       bias=np.array([v["bias"]]), stride=s)
        res["out"] = y[0, 0]
        res["positions"] = res["out"].size
        oh, ow = res["out"].shape
        c, f = X.shape[0], v["out_channels"]
        res["costs"] = {"per_kernel": c * oh * ow, "all": c * f * oh * ow,
                        "params": f * (c + 1)}

    def _compute_depthwise_separable(self, res):
        v = self.values
        X = self._channels(res)
        res["channels"] = X
        k, s, p, d = v["kernel_size"], v["stride"], v["padding"], v["dilation"]
        sizes = [conv_size_formula(n, k, s, p, d, ax) for n, ax in zip(X.shape[1:], "hw")]
        res["formula"] = sizes
        res["xpad"], _ = self._padded(res, X, (1, 2))
        # Flip turns each channel's kernel, not the order of the channels.
        ka = res["weights"]["kernel"][:, ::-1, ::-1].copy() if v["flip"] \
            else res["weights"]["kernel"]
        res["applied"] = ka
        c = X.shape[0]
        if not self._geometry_ok(res, [o for o, _, _ in sizes]):
            res["out"] = np.zeros((0, 0))
            res["mid"] = np.zeros((c, 0, 0))
            res["costs"] = separable_costs(0, 0, c, v["out_channels"], k)
            return
        # Depthwise: one kernel per channel is conv2d with groups = C.
        mid = self._conv(F.conv2d, res["xpad"][None], ka[:, None], stride=s, dilation=d,
                         groups=c)
        pw = res["weights"]["pw"]
        y = self._conv(F.conv2d, mid, pw[None, :, None, None], bias=np.array([v["bias"]]))
        res["mid"], res["out"] = mid[0], y[0, 0]
        res["positions"] = res["out"].size
        oh, ow = res["out"].shape
        res["costs"] = separable_costs(oh, ow, c, v["out_channels"], k)

    def _compute_transposed(self, res):
        v = self.values
        y_in = EXAMPLE_TCONV.copy() if v["source"] == "example" else res["image"]
        res["tin"] = y_in
        k, s, p, d = v["kernel_size"], v["stride"], v["padding"], v["dilation"]
        sizes = [tconv_size_formula(n, k, s, p, d, ax) for n, ax in zip(y_in.shape, "hw")]
        res["formula"] = sizes
        ka = self._kernel_applied(res["weights"]["kernel"])
        res["applied"] = ka
        if min(o for o, _ in sizes) < 1:
            res["alerts"].append(f"Padding p = {p} crops the whole output: the transposed "
                                 "size formula gives no rows. Lower the padding.")
            res["out"], res["overlap"] = np.zeros((0, 0)), np.zeros((0, 0))
            return
        with no_grad():
            out = F.conv_transpose2d(Tensor(y_in[None, None]), Tensor(ka[None, None]),
                                     bias=Tensor(np.array([v["bias"]])), stride=s, padding=p,
                                     dilation=d)
            # How many products land on each output cell: the same scatter with all ones.
            overlap = F.conv_transpose2d(Tensor(np.ones((1, 1) + y_in.shape)),
                                         Tensor(np.ones((1, 1, k, k))), stride=s, padding=p,
                                         dilation=d)
        res["out"] = out.numpy()[0, 0]
        res["overlap"] = overlap.numpy()[0, 0]
        res["positions"] = res["out"].size
        if res["overlap"].min() < res["overlap"].max():
            res["checkerboard"] = True

    def _compute_pooling(self, res):
        v = self.values
        x = EXAMPLE_POOL.copy() if v["source"] == "example" else res["image"]
        res["pin"] = x
        kind = v["pool"]
        r, s, p = v["kernel_size"], v["stride"], v["padding"]
        xt = Tensor(x[None, None], requires_grad=True)
        if kind == "global":
            res["formula"] = []
            res["xpad"] = x.copy()
            y = F.global_avg_pool2d(xt)
            y.sum().backward()
            res["out"] = y.numpy().reshape(1, 1)
            res["grad"] = xt.grad.numpy()[0, 0]
            res["positions"] = 1
            return
        sizes = [pool_size_formula(n, r, s, p, ax) for n, ax in zip(x.shape, "hw")]
        res["formula"] = sizes
        res["xpad"] = _pad_nd(x, p, "zeros", (0, 1))
        if p > r // 2:
            res["alerts"].append(f"Pooling padding must be at most half the window "
                                 f"(p \u2264 {r // 2} for r = {r}); lower p or widen the "
                                 "window.")
            res["out"], res["grad"] = np.zeros((0, 0)), np.zeros_like(x)
            return
        if not self._geometry_ok(res, [o for o, _, _ in sizes]):
            res["out"], res["grad"] = np.zeros((0, 0)), np.zeros_like(x)
            return
        fn = F.max_pool2d if kind == "max" else F.avg_pool2d
        y = fn(xt, r, stride=s, padding=p)
        # The backward pass of sum(y) is the gradient map: for max pooling each window's
        # arg-max gets 1 (summed over the windows that pick it), for average pooling every
        # covered pixel gets 1/r^2 per window.
        y.sum().backward()
        res["out"] = y.numpy()[0, 0]
        res["grad"] = xt.grad.numpy()[0, 0]
        res["positions"] = res["out"].size

    # -- stepping ---------------------------------------------------------------------------------
    def _step(self) -> None:
        n = self.res["positions"]
        if n:
            self.pos = (self.pos + 1) % n

    # -- the current window -----------------------------------------------------------------------
    def window(self) -> dict:
        """The current output cell's window: taps, weights, products and the value.

        Returns a dict with ``cell`` (output index), ``x`` (input values under the taps),
        ``w`` (weights they meet), ``products``, ``bias``, ``value`` (the engine's output at
        the cell) and mode-specific positions for drawing.
        """
        return getattr(self, "_window_" + self.values["mode"])()

    def _taps_2d(self, i, j, k, s, d):
        r = i * s + np.arange(k) * d
        c = j * s + np.arange(k) * d
        return np.meshgrid(r, c, indexing="ij")      # (k, k) rows, cols in padded coords

    def _window_conv2d(self):
        res, v = self.res, self.values
        if not res["positions"]:
            return None
        ow = res["out"].shape[1]
        i, j = divmod(self.pos, ow)
        k, s, d = v["kernel_size"], v["stride"], v["dilation"]
        rr, cc = self._taps_2d(i, j, k, s, d)
        xs = res["xpad"][rr, cc]
        ws = res["applied"]
        kr, kc = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        if v["flip"]:       # window tap (m, n) meets stored weight K[k-1-m, k-1-n]
            kr, kc = k - 1 - kr, k - 1 - kc
        return {"cell": (i, j), "x": xs.ravel(), "w": ws.ravel(), "products": (xs * ws),
                "bias": v["bias"], "value": float(res["out"][i, j]),
                "taps": np.stack([cc.ravel(), rr.ravel()], 1),
                "kernel_taps": np.stack([kc.ravel(), kr.ravel()], 1),
                "rects": [(j * s, i * s, d * (k - 1) + 1, d * (k - 1) + 1)]}

    def _window_conv1d(self):
        res, v = self.res, self.values
        if not res["positions"]:
            return None
        j = self.pos
        k, s, d = v["kernel_size"], v["stride"], v["dilation"]
        cc = j * s + np.arange(k) * d
        xs = res["xpad"][0, cc]
        ws = res["applied"]
        kc = np.arange(k)[::-1] if v["flip"] else np.arange(k)
        return {"cell": (0, j), "x": xs, "w": ws, "products": (xs * ws)[None],
                "bias": v["bias"], "value": float(res["out"][0, j]),
                "taps": np.stack([cc, np.zeros(k)], 1),
                "kernel_taps": np.stack([kc, np.zeros(k)], 1),
                "rects": [(j * s, 0, d * (k - 1) + 1, 1)]}

    def _window_conv3d(self):
        res, v = self.res, self.values
        if not res["positions"]:
            return None
        _, oh, ow = res["out"].shape
        t, rem = divmod(self.pos, oh * ow)
        i, j = divmod(rem, ow)
        k, s, d = v["kernel_size"], v["stride"], v["dilation"]
        zs = t * s + np.arange(k) * d
        rr, cc = self._taps_2d(i, j, k, s, d)
        xs = res["xpad"][zs[:, None, None], rr[None], cc[None]]     # (k, k, k)
        ws = res["applied"]
        return {"cell": (t, i, j), "x": xs.ravel(), "w": ws.ravel(), "products": xs * ws,
                "bias": v["bias"], "value": float(res["out"][t, i, j]), "depths": zs,
                "rr": rr, "cc": cc}

    def _window_pointwise_1x1(self):
        res, v = self.res, self.values
        ow = res["out"].shape[1]
        i, j = divmod(self.pos, ow)
        s = v["stride"]
        xs = res["xpad"][:, i * s, j * s]
        ws = res["weights"]["pw"]
        return {"cell": (i, j), "x": xs, "w": ws, "products": (xs * ws)[None],
                "bias": v["bias"], "value": float(res["out"][i, j]), "row": i * s,
                "col": j * s}

    def _window_depthwise_separable(self):
        res, v = self.res, self.values
        if not res["positions"]:
            return None
        ow = res["out"].shape[1]
        i, j = divmod(self.pos, ow)
        k, s, d = v["kernel_size"], v["stride"], v["dilation"]
        rr, cc = self._taps_2d(i, j, k, s, d)
        xs = res["xpad"][:, rr, cc]                       # (C, k, k)
        ws = res["applied"]                               # (C, k, k)
        mids = res["mid"][:, i, j]
        pw = res["weights"]["pw"]
        return {"cell": (i, j), "x": xs.ravel(), "w": ws.ravel(), "products": xs * ws,
                "mid": mids, "pw": pw, "bias": v["bias"], "value": float(res["out"][i, j]),
                "rr": rr, "cc": cc}

    def _window_transposed(self):
        res, v = self.res, self.values
        if not res["positions"]:
            return None
        ow = res["out"].shape[1]
        r, c = divmod(self.pos, ow)
        k, s, p, d = v["kernel_size"], v["stride"], v["padding"], v["dilation"]
        h, w = res["tin"].shape
        # Input cell i with tap m lands on output row i*s + m*d - p: solve for i per m.
        m = np.arange(k)
        num_r, num_c = r + p - m * d, c + p - m * d
        ok_r = (num_r % s == 0) & (num_r >= 0) & (num_r // s < h)
        ok_c = (num_c % s == 0) & (num_c >= 0) & (num_c // s < w)
        mr, mc = m[ok_r], m[ok_c]
        ir, ic = num_r[ok_r] // s, num_c[ok_c] // s
        MR, MC = np.meshgrid(mr, mc, indexing="ij")
        IR, IC = np.meshgrid(ir, ic, indexing="ij")
        xs = res["tin"][IR, IC]
        ws = res["applied"][MR, MC]
        kr, kc = (k - 1 - MR, k - 1 - MC) if v["flip"] else (MR, MC)
        return {"cell": (r, c), "x": xs.ravel(), "w": ws.ravel(), "products": xs * ws,
                "bias": v["bias"], "value": float(res["out"][r, c]),
                "taps": np.stack([IC.ravel(), IR.ravel()], 1),
                "kernel_taps": np.stack([kc.ravel(), kr.ravel()], 1)}

    def _window_pooling(self):
        res, v = self.res, self.values
        if not res["positions"]:
            return None
        x = res["pin"]
        kind = v["pool"]
        if kind == "global":
            h, w = x.shape
            rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
            return {"cell": (0, 0), "x": x.ravel(), "value": float(res["out"][0, 0]),
                    "taps": np.stack([cc.ravel(), rr.ravel()], 1), "rects": [(0, 0, w, h)],
                    "argmax": None}
        ow = res["out"].shape[1]
        i, j = divmod(self.pos, ow)
        r, s, p = v["kernel_size"], v["stride"], v["padding"]
        rr, cc = self._taps_2d(i, j, r, s, 1)
        xs = res["xpad"][rr, cc].astype(np.float64)
        if kind == "max":
            # Padding is -inf for max pooling (PyTorch): a border never wins.
            inside = ((rr >= p) & (rr < p + x.shape[0]) & (cc >= p) & (cc < p + x.shape[1]))
            xs = np.where(inside, xs, -np.inf)
        arg = int(np.argmax(xs)) if kind == "max" else None
        return {"cell": (i, j), "x": xs.ravel(), "value": float(res["out"][i, j]),
                "taps": np.stack([cc.ravel(), rr.ravel()], 1),
                "rects": [(j * s, i * s, r, r)], "argmax": arg}

    # -- snapshot ---------------------------------------------------------------------------------
    def _snapshot(self) -> Snapshot:
        mode = self.values["mode"]
        win = self.window()
        data = getattr(self, "_display_" + mode)(win)
        data["mode"] = mode
        data["paintable"] = mode in ("conv2d", "transposed", "pooling")
        self._label(data)
        scalars = {"position": self.pos, "positions": self.res["positions"]}
        if win is not None:
            scalars["output"] = win["value"]
        out = self.res["out"]
        for i, n in enumerate(out.shape[-2:] if out.ndim >= 2 else out.shape):
            scalars[("out_h", "out_w")[i]] = n
        if mode == "conv3d":
            scalars["out_d"] = out.shape[0]
        costs = self.res.get("costs")
        if costs and mode == "depthwise_separable":
            scalars.update(mult_standard=costs["standard"], mult_separable=costs["separable"],
                           params_standard=costs["params_standard"],
                           params_separable=costs["params_separable"])
        if costs and mode == "pointwise_1x1":
            scalars.update(multiplies=costs["all"], parameters=costs["params"])
        text = {"note": self._note_html(), "arithmetic": self._arithmetic_html(win),
                "formula": self._formula_html(),
                "cost": self._cost_html(), "equation": self._equation_html(win),
                "rules": "<hr>" + self._cost_html() + self._formula_html(),
                "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text,
                             tuple(self.res["alerts"]))

    def _label(self, data) -> None:
        """Which cells get their value written: all of a small picture, else the marked."""
        labels = {}
        for key, marks in (("input", "taps"), ("kernel", "kernel_taps"), ("output", "cell_xy"),
                           ("extra", "extra_marks")):
            img = data[key]
            finite = np.isfinite(img)
            if finite.sum() <= LABEL_CELLS:
                ys, xs = np.nonzero(finite)
            else:
                pts = np.asarray(data.get(marks, np.zeros((0, 2))), dtype=np.int64)
                pts = pts.reshape(-1, 2)
                pts = pts[(pts[:, 0] >= 0) & (pts[:, 1] >= 0) & (pts[:, 0] < img.shape[1])
                          & (pts[:, 1] < img.shape[0])][:LABEL_CELLS]
                xs, ys = pts[:, 0], pts[:, 1]
            over = data.get(key + "_text", {})
            labels[key] = {"xy": np.stack([xs + 0.5, ys + 0.5], 1).astype(np.float64)
                           if len(xs) else np.zeros((0, 2)),
                           "text": tuple(over.get((int(y), int(x)), _short(img[y, x]))
                                         for y, x in zip(ys, xs))}
            data.pop(key + "_text", None)
        data["labels"] = labels

    def _base_display(self, win, inp, kern, out, extra, titles, **more):
        """Assemble the display dict shared by the 2-D-picture modes."""
        cell = win["cell"][-2:] if win is not None else None
        d = {"input": inp, "kernel": kern, "output": out, "extra": extra,
             "titles": titles, "cell_xy": np.array([[cell[1], cell[0]]]) if cell else
             np.zeros((0, 2)),
             "window": np.asarray(more.pop("rects", []), dtype=np.float64).reshape(-1, 4),
             "taps": np.asarray(more.pop("taps", np.zeros((0, 2))), np.float64).reshape(-1, 2),
             "kernel_taps": np.asarray(more.pop("kernel_taps", np.zeros((0, 2))),
                                       np.float64).reshape(-1, 2),
             "extra_marks": np.asarray(more.pop("extra_marks", np.zeros((0, 2))),
                                       np.float64).reshape(-1, 2),
             "frames": np.asarray(more.pop("frames", []), np.float64).reshape(-1, 4),
             "input_ticks": more.pop("input_ticks", ()),
             "kernel_ticks": more.pop("kernel_ticks", ()),
             "extra_ticks": more.pop("extra_ticks", ()),
             "signed": more.pop("signed", None),
             "paint_origin": more.pop("paint_origin", (0, 0))}
        # Where index 0 of the unpadded input sits in the picture (axis labels count from it).
        d["origin"] = more.pop("origin", d["paint_origin"])
        d.update(more)
        if d["signed"] is None:
            # Weights always get the diverging map; pictures only when they go negative.
            d["signed"] = {key: key == "kernel" or bool(np.nanmin(d[key]) < 0)
                           if np.isfinite(d[key]).any() else False
                           for key in ("input", "kernel", "output", "extra")}
        return d

    def _display_conv2d(self, win):
        res, v = self.res, self.values
        p = v["padding"]
        h, w = res["image"].shape
        k = v["kernel_size"]
        titles = {"input": f"Input {h}\u00d7{w}" + (f", padding {p} ({v['pad_mode']})"
                                                     if p else ""),
                  "kernel": f"Kernel K {k}\u00d7{k}" + (" (turned 180\u00b0)"
                                                        if v["flip"] else ""),
                  "output": "Output" + (" (true convolution)" if v["flip"] else ""),
                  "extra": "Products x\u00b7w in the window"}
        extra = win["products"] if win else np.full((k, k), np.nan)
        oh, ow = res["out"].shape
        if win:
            titles["output"] += f" {oh}\u00d7{ow}, cell ({win['cell'][0]}, {win['cell'][1]})"
        more = {} if not win else {"rects": win["rects"], "taps": win["taps"],
                                   "kernel_taps": win["kernel_taps"]}
        return self._base_display(win, res["xpad"], res["weights"]["kernel"],
                                  res["out"] if res["out"].size else np.full((1, 1), np.nan),
                                  extra, titles, frames=[(p, p, w, h)] if p else [],
                                  paint_origin=(p, p), **more)

    def _display_conv1d(self, win):
        res, v = self.res, self.values
        k, p = v["kernel_size"], v["padding"]
        n = res["signal"].size
        titles = {"input": f"Signal x, length {n}" + (f", padding {p}" if p else ""),
                  "kernel": f"Kernel k ({k})",
                  "output": f"Output, length {res['out'].shape[1]}"
                            + (f": cell {win['cell'][1]}" if win else ""),
                  "extra": "Products x\u00b7k in the window"}
        extra = win["products"] if win else np.full((1, k), np.nan)
        more = {} if not win else {"rects": win["rects"], "taps": win["taps"],
                                   "kernel_taps": win["kernel_taps"]}
        return self._base_display(win, res["xpad"], res["weights"]["kernel"][None],
                                  res["out"] if res["out"].size else np.full((1, 1), np.nan),
                                  extra, titles, frames=[(p, 0, n, 1)] if p else [],
                                  origin=(0, p), **more)

    def _display_conv3d(self, win):
        res, v = self.res, self.values
        k, p = v["kernel_size"], v["padding"]
        kern = res["weights"]["kernel"]
        ktiles, koffs = _tile(list(kern))
        D, H, W = res["volume"].shape
        titles = {"kernel": f"Kernel {k}\u00d7{k}\u00d7{k}",
                  "extra": "Products x\u00b7w per slice"}
        if win is None:
            titles.update(input=f"Clip {D}\u00d7{H}\u00d7{W}", output="No output")
            blank = np.full((1, 1), np.nan)
            return self._base_display(None, res["xpad"][0], ktiles, blank, blank, titles)
        zs = win["depths"]
        tiles, offs = _tile([res["xpad"][z] for z in zs])
        t, i, j = win["cell"]
        s, d = v["stride"], v["dilation"]
        span = d * (k - 1) + 1
        rects = [(o + j * s, i * s, span, span) for o in offs]
        taps = np.concatenate([np.stack([o + win["cc"].ravel(), win["rr"].ravel()], 1)
                               for o in offs])
        ptiles, _ = _tile(list(win["products"]))
        kr, kc = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        ktaps = np.concatenate([np.stack([o + kc.ravel(), kr.ravel()], 1) for o in koffs])
        od, oh, ow = res["out"].shape
        titles.update(input=f"Clip {D}\u00d7{H}\u00d7{W}: frames in the window",
                      output=f"Output {od}\u00d7{oh}\u00d7{ow}: frame {t}, cell ({i}, {j})")
        frames = [(o + p, p, W, H) for o in offs] if p else []
        return self._base_display(
            win, tiles, ktiles, res["out"][t], ptiles, titles, rects=rects, taps=taps,
            kernel_taps=ktaps, extra_marks=ktaps, frames=frames, origin=(p, 0),
            input_ticks=tuple((o + res["xpad"].shape[2] / 2,
                               f"frame {z - p}" if 0 <= z - p < D else "pad")
                              for o, z in zip(offs, zs)),
            kernel_ticks=tuple((o + k / 2, f"\u0394t = {a}") for a, o in enumerate(koffs)),
            extra_ticks=tuple((o + k / 2, f"\u0394t = {a}") for a, o in enumerate(koffs)))

    def _display_pointwise_1x1(self, win):
        res, v = self.res, self.values
        X = res["xpad"]
        tiles, offs = _tile(list(X))
        i, j = win["cell"]
        rects = [(o + win["col"], win["row"], 1, 1) for o in offs]
        taps = [(o + win["col"], win["row"]) for o in offs]
        C, H, W = res["channels"].shape
        p = v["padding"]
        oh, ow = res["out"].shape
        titles = {"input": f"Input {H}\u00d7{W}\u00d7{C} (channels)",
                  "kernel": f"1\u00d71 kernel (C = {C} weights)",
                  "output": f"Output {oh}\u00d7{ow}, cell ({i}, {j})",
                  "extra": "Products w\u00b7x per channel"}
        return self._base_display(
            win, tiles, res["weights"]["pw"][None], res["out"], win["products"], titles,
            rects=rects, taps=taps, kernel_taps=[(c, 0) for c in range(C)], origin=(p, 0),
            frames=[(o + p, p, W, H) for o in offs] if p else [],
            input_ticks=tuple((o + X.shape[2] / 2, f"channel {c}")
                              for c, o in enumerate(offs)),
            kernel_ticks=tuple((c + 0.5, f"c{c}") for c in range(C)),
            extra_ticks=tuple((c + 0.5, f"c{c}") for c in range(C)))

    def _kernel_mosaic_dw(self):
        """Depthwise kernels tiled left to right, a gap row, then the 1x1 weights row."""
        kern, pw = self.res["weights"]["kernel"], self.res["weights"]["pw"]
        tiles, offs = _tile(list(kern))
        k = kern.shape[1]
        width = max(tiles.shape[1], pw.size)
        mosaic = np.full((k + 2, width), np.nan)
        mosaic[:k, :tiles.shape[1]] = tiles
        mosaic[k + 1, :pw.size] = pw
        return mosaic, offs

    def _display_depthwise_separable(self, win):
        res, v = self.res, self.values
        X = res["xpad"]
        C = X.shape[0]
        tiles, offs = _tile(list(X))
        kmos, koffs = self._kernel_mosaic_dw()
        k, s, d, p = v["kernel_size"], v["stride"], v["dilation"], v["padding"]
        _, H, W = res["channels"].shape
        F_ = v["out_channels"]
        titles = {"input": f"Input {H}\u00d7{W}\u00d7{C} (channels)",
                  "kernel": "Depthwise K, 1\u00d71 w below",
                  "extra": "Depthwise outputs (before the 1\u00d71 mix)"}
        kticks = tuple((o + k / 2, f"c{c}") for c, o in enumerate(koffs))
        if win is None:
            titles["output"] = "No output"
            blank = np.full((1, 1), np.nan)
            return self._base_display(None, tiles, kmos, blank, blank, titles,
                                      kernel_ticks=kticks)
        i, j = win["cell"]
        span = d * (k - 1) + 1
        rects = [(o + j * s, i * s, span, span) for o in offs]
        taps = np.concatenate([np.stack([o + win["cc"].ravel(), win["rr"].ravel()], 1)
                               for o in offs])
        kr, kc = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        if v["flip"]:
            kr, kc = k - 1 - kr, k - 1 - kc
        ktaps = np.concatenate([np.stack([o + kc.ravel(), kr.ravel()], 1) for o in koffs]
                               + [np.stack([np.arange(C), np.full(C, k + 1)], 1)])
        mid_tiles, moffs = _tile(list(res["mid"]))
        oh, ow = res["out"].shape
        titles["output"] = f"Output {oh}\u00d7{ow} (1 of F = {F_}), cell ({i}, {j})"
        return self._base_display(
            win, tiles, kmos, res["out"], mid_tiles, titles, rects=rects, taps=taps,
            kernel_taps=ktaps, extra_marks=[(o + j, i) for o in moffs], origin=(p, 0),
            frames=[(o + p, p, W, H) for o in offs] if p else [],
            input_ticks=tuple((o + X.shape[2] / 2, f"channel {c}")
                              for c, o in enumerate(offs)),
            kernel_ticks=kticks,
            extra_ticks=tuple((o + res["mid"].shape[2] / 2, f"channel {c}")
                              for c, o in enumerate(moffs)))

    def _display_transposed(self, win):
        res, v = self.res, self.values
        k = v["kernel_size"]
        h, w = res["tin"].shape
        titles = {"input": f"Input y {h}\u00d7{w}",
                  "kernel": f"Kernel K {k}\u00d7{k}",
                  "extra": "Overlap count (products per output cell)"}
        if win is None:
            titles["output"] = "No output"
            blank = np.full((1, 1), np.nan)
            return self._base_display(None, res["tin"], res["weights"]["kernel"], blank,
                                      blank, titles)
        oh, ow = res["out"].shape
        r, c = win["cell"]
        titles["output"] = f"Output {oh}\u00d7{ow}, cell ({r}, {c})"
        if res.get("checkerboard"):
            titles["extra"] = "Overlap count: uneven \u2192 checkerboard"
        return self._base_display(
            win, res["tin"], res["weights"]["kernel"], res["out"], res["overlap"], titles,
            taps=win["taps"], kernel_taps=win["kernel_taps"], extra_marks=[(c, r)])

    def _display_pooling(self, win):
        res, v = self.res, self.values
        kind = v["pool"]
        x = res["pin"]
        h, w = x.shape
        p = v["padding"] if kind != "global" else 0
        r = v["kernel_size"]
        name = {"max": "Max", "avg": "Average", "global": "Global average"}[kind]
        titles = {"input": f"Input {h}\u00d7{w}" + (f", padding {p}" if p else ""),
                  "extra": "Backward: \u2202(\u03a3 output)/\u2202input"}
        signed = {"input": False, "kernel": False, "output": False, "extra": False}
        if win is None:
            titles.update(output="No output", kernel="Window (no weights)")
            blank = np.full((1, 1), np.nan)
            return self._base_display(None, res["xpad"], blank, blank, res["grad"], titles,
                                      signed=signed)
        i, j = win["cell"]
        if kind == "global":
            kern = np.full((h, w), 1.0 / (h * w))
            titles["kernel"] = f"Weights 1/(HW) = 1/{h * w}"
            ktaps = np.zeros((0, 2))
        elif kind == "avg":
            kern = np.full((r, r), 1.0 / (r * r))
            titles["kernel"] = f"Weights 1/r\u00b2 = 1/{r * r}"
            ktaps = np.zeros((0, 2))
        else:
            kern = np.zeros((r, r))
            kern.flat[win["argmax"]] = 1.0
            titles["kernel"] = "Weights: 1 at arg-max"
            ktaps = np.array([[win["argmax"] % r, win["argmax"] // r]])
        oh, ow = res["out"].shape
        titles["output"] = f"{name} pool output {oh}\u00d7{ow}, cell ({i}, {j})"
        pad_text = {}
        if kind == "max" and p:
            # Show the -inf that max pooling pads with (the picture shows 0 there).
            ys, xs = np.nonzero(np.pad(np.zeros((h, w), bool), p, constant_values=True))
            pad_text = {(int(a), int(b)): "\u2212\u221e" for a, b in zip(ys, xs)}
        return self._base_display(
            win, res["xpad"], kern, res["out"], res["grad"], titles, rects=win["rects"],
            taps=win["taps"], kernel_taps=ktaps, frames=[(p, p, w, h)] if p else [],
            paint_origin=(p, p), signed=signed, input_text=pad_text,
            extra_marks=np.asarray(win["taps"]) - p if kind != "global" else np.zeros((0, 2)))

    # -- text -------------------------------------------------------------------------------------
    def _note_html(self) -> str:
        """One line saying what the input is."""
        res, v = self.res, self.values
        mode, src = v["mode"], v["source"]
        what = {"example": "the book's worked example", "digit": f"a generated digit "
                f"{v['digit_index']}", "shape": "a generated shape", "bars": "a generated bar",
                "test_card": "the test card", "drawn": "your image"}[src]
        if src == "example" and mode in ("conv3d", "pointwise_1x1", "depthwise_separable"):
            what = "an example at the book's sizes"
        elif src == "example":
            what += {"conv2d": " (the 5\u00d75 matrix I with K = [1, 0, \u22121] rows, L5108)",
                     "conv1d": " (x from L5200; try k = [2, 0, \u22121] and s = 2)",
                     "transposed": " (y = [[1, 2], [3, 4]]; try K = 1\u20269, L5309)",
                     "pooling": " (the 4\u00d74 P of section 9.6)"}.get(mode, "")
        extra = res.get("signal_note") or res.get("volume_note") or res.get("channel_note")
        if extra:
            what += f": {extra}"
        return f"<p><i>Input: {what}.</i></p>"

    def _arithmetic_html(self, win) -> str:
        mode, v = self.values["mode"], self.values
        if win is None:
            return "<p>No output cell: the kernel does not fit (see the size formula).</p>"
        cell = ", ".join(map(str, win["cell"][1:] if mode == "conv1d" else win["cell"]))
        if mode == "pooling":
            kind = v["pool"]
            vals = ", ".join(_n(x) for x in win["x"][:MAX_TERMS])
            if len(win["x"]) > MAX_TERMS:
                vals += f", \u2026 ({len(win['x']) - MAX_TERMS} more)"
            if kind == "max":
                return f"<p>O<sub>{cell}</sub> = max({vals}) = <b>{_n(win['value'])}</b></p>"
            n = len(win["x"])
            return (f"<p>O<sub>{cell}</sub> = ({vals.replace(', ', ' + ')}) / {n} = "
                    f"{_n(win['x'].sum())} / {n} = <b>{_n(win['value'])}</b></p>")
        if mode == "depthwise_separable":
            k = v["kernel_size"]
            C = len(win["mid"])
            xs = win["x"].reshape(C, -1)
            ws = win["w"].reshape(C, -1)
            lines = "".join(f"<p>channel {c}: {_arithmetic(xs[c], ws[c], win['mid'][c], 0)}"
                            "</p>" for c in range(C))
            mix = _arithmetic(win["mid"], win["pw"], win["value"], win["bias"])
            return (f"<p><b>Depthwise</b> ({k}\u00d7{k} per channel), cell ({cell}):</p>"
                    f"{lines}<p><b>1\u00d71 mix</b>: {mix}</p>")
        if mode == "conv3d":
            k = v["kernel_size"]
            prods = win["products"].reshape(k, -1)
            sums = prods.sum(axis=1)
            per = " + ".join(_paren(sm) for sm in sums)
            head = _arithmetic(win["x"], win["w"], win["value"], win["bias"])
            bias = f" + {_paren(win['bias'])}" if win["bias"] else ""
            return (f"<p>O<sub>{cell}</sub> = {head}</p><p>per frame offset "
                    f"\u0394t = 0\u2026{k - 1}: {per}{bias} = <b>{_n(win['value'])}</b></p>")
        note = ""
        if mode == "transposed":
            note = (f" <i>({len(win['x'])} product(s) land on this cell: y<sub>ij</sub>"
                    "\u00b7K<sub>mn</sub> with i\u00b7s + m\u00b7d \u2212 p = row, "
                    "j\u00b7s + n\u00b7d \u2212 p = column)</i>")
            if not len(win["x"]):
                return (f"<p>O<sub>{cell}</sub> = {_n(win['value'])}: no product lands "
                        f"here{(' (only the bias)' if win['bias'] else '')}.{note}</p>")
        return (f"<p>O<sub>{cell}</sub> = "
                f"{_arithmetic(win['x'], win['w'], win['value'], win['bias'])}{note}</p>")

    def _formula_html(self) -> str:
        res, v = self.res, self.values
        mode = v["mode"]
        if mode == "pooling" and v["pool"] == "global":
            h, w = res["pin"].shape
            return (f"<p>Global average pooling: y = (1/HW) \u03a3 x<sub>ij</sub>, "
                    f"{h}\u00d7{w} \u2192 1\u00d71</p>")
        lines = [item[-1] for item in res["formula"]]
        head = {"transposed": "Output size (transposed): o = (n\u22121)s \u2212 2p + d(k\u22121) "
                              "+ 1",
                "pooling": "Output size: o = \u230a(n + 2p \u2212 r)/s\u230b + 1"}.get(
            mode, "Output size: o = \u230a(n + 2p \u2212 d(k\u22121) \u2212 1)/s\u230b + 1")
        return f"<p><b>{head}</b></p>" + "".join(f"<p>{ln}</p>" for ln in lines)

    def _cost_html(self) -> str:
        res, v = self.res, self.values
        mode = v["mode"]
        k = v["kernel_size"]
        out = res["out"]
        if mode == "depthwise_separable":
            c = res["costs"]
            oh, ow = out.shape
            C, F_ = CHANNELS, v["out_channels"]
            return (f"<p><b>Multiplies</b> for F = {F_} output channels, output {oh}\u00d7{ow}:"
                    f" standard k\u00b2CF\u00b7o\u00b2 = {k}\u00b2\u00b7{C}\u00b7{F_}\u00b7"
                    f"{oh * ow} = <b>{c['standard']:,}</b>; depthwise-separable "
                    f"k\u00b2C\u00b7o\u00b2 + CF\u00b7o\u00b2 = {c['depthwise']:,} + "
                    f"{c['pointwise']:,} = <b>{c['separable']:,}</b> "
                    f"(\u00d7{c['ratio']:.3g} = 1/F + 1/k\u00b2). Weights: "
                    f"{c['params_standard']:,} vs {c['params_separable']:,}.</p>")
        if mode == "pointwise_1x1":
            c = res["costs"]
            C, (oh, ow), F_ = CHANNELS, out.shape, v["out_channels"]
            return (f"<p><b>Shapes</b>: {res['channels'].shape[1]}\u00d7"
                    f"{res['channels'].shape[2]}\u00d7{C} with F = {F_} kernels of 1\u00d71"
                    f"\u00d7{C} \u2192 {oh}\u00d7{ow}\u00d7{F_}; multiplies "
                    f"C\u00b7F\u00b7o\u00b2 = {c['all']:,}, weights F(C+1) = "
                    f"{c['params']:,}</p>")
        if mode == "pooling":
            return "<p>Pooling has no weights: nothing to learn.</p>"
        if not out.size:
            return ""
        if mode == "transposed":
            h, w = res["tin"].shape
            return (f"<p><b>Multiplies</b>: every input cell scatters k\u00b2 products: "
                    f"{k}\u00b2\u00b7{h * w} = {k * k * h * w:,}</p>")
        taps = k ** (3 if mode == "conv3d" else 1 if mode == "conv1d" else 2)
        return (f"<p><b>Multiplies</b>: {taps} per output cell \u00d7 {out.size:,} cells = "
                f"{taps * out.size:,}; weights {taps} + 1 bias</p>")

    def _equation_html(self, win) -> str:
        v = self.values
        mode = v["mode"]
        s, p, d, k, b = v["stride"], v["padding"], v["dilation"], v["kernel_size"], v["bias"]
        if mode == "pointwise_1x1":
            k, d = 1, 1
        nums = (f"<p>k = {k}, s = {s}, p = {p}, d = {d}, b = {_n(b)}</p>")
        kk = "K<sub>k\u22121\u2212m, k\u22121\u2212n</sub>" if v["flip"] else "K<sub>m,n</sub>"
        eq = {
            "conv2d": (f"<p>O<sub>i,j</sub> = b + \u03a3<sub>m,n</sub> I<sub>i\u00b7s + m\u00b7d,"
                       f" j\u00b7s + n\u00b7d</sub> \u00b7 {kk}</p>"),
            "conv1d": ("<p>O<sub>t</sub> = b + \u03a3<sub>m</sub> x<sub>t\u00b7s + m\u00b7d</sub>"
                       " \u00b7 k<sub>" + ("k\u22121\u2212m" if v["flip"] else "m")
                       + "</sub></p>"),
            "conv3d": ("<p>O<sub>t,i,j</sub> = b + \u03a3<sub>a,m,n</sub> V<sub>t\u00b7s+a\u00b7d,"
                       " i\u00b7s+m\u00b7d, j\u00b7s+n\u00b7d</sub> \u00b7 K<sub>a,m,n</sub></p>"),
            "pointwise_1x1": ("<p>O<sub>i,j</sub> = b + \u03a3<sub>c</sub> w<sub>c</sub> "
                              "I<sub>c, i\u00b7s, j\u00b7s</sub></p>"),
            "depthwise_separable": (
                "<p>D<sub>c,i,j</sub> = \u03a3<sub>m,n</sub> I<sub>c, i\u00b7s+m\u00b7d, "
                "j\u00b7s+n\u00b7d</sub> K<sub>c,m,n</sub> &nbsp; (groups = C)</p>"
                "<p>O<sub>i,j</sub> = b + \u03a3<sub>c</sub> w<sub>c</sub> D<sub>c,i,j</sub>"
                "</p>"),
            "transposed": ("<p>O<sub>r,c</sub> = b + \u03a3 y<sub>i,j</sub> K<sub>m,n</sub> "
                           "over i\u00b7s + m\u00b7d \u2212 p = r, j\u00b7s + n\u00b7d \u2212 p "
                           "= c</p><p>(the adjoint of the convolution: x\u2032 = "
                           "C<sup>\u22a4</sup>y)</p>"),
            "pooling": {"max": "<p>O<sub>i,j</sub> = max<sub>m,n</sub> x<sub>i\u00b7s+m, "
                               "j\u00b7s+n</sub></p>",
                        "avg": "<p>O<sub>i,j</sub> = (1/r\u00b2) \u03a3<sub>m,n</sub> "
                               "x<sub>i\u00b7s+m, j\u00b7s+n</sub></p>",
                        "global": "<p>y = (1/HW) \u03a3<sub>i,j</sub> x<sub>i,j</sub></p>"}[
                v["pool"]],
        }[mode]
        return eq + nums + ("" if win is None else self._arithmetic_html(win))

    # -- actions ----------------------------------------------------------------------------------
    def action_set_image(self, pixels) -> None:
        """Use ``pixels`` (2-D, values in [0, 1], 2-64 per side) as the drawn input."""
        img = _check_image(pixels)
        self._use_drawn(img)
        self.notice = f"using your {img.shape[0]}\u00d7{img.shape[1]} image"

    def _use_drawn(self, img) -> None:
        old = (self.drawn, self.values["source"])
        self.drawn = img
        self.values["source"] = "drawn"
        try:
            self._commit(self._compute(self._source_image()))
        except Exception:
            self.drawn, self.values["source"] = old
            raise

    def action_paint(self, x, y, value) -> None:
        """Set pixel (row ``y``, column ``x``) of the current 2-D image to ``value``."""
        try:
            x, y, value = int(x), int(y), float(value)
        except (TypeError, ValueError):
            raise ValueError("paint needs integer pixel coordinates x, y and a value in "
                             "[0, 1]") from None
        img = self._current_2d()
        h, w = img.shape
        if not (0 <= x < w and 0 <= y < h):
            raise ValueError(f"pixel (x={x}, y={y}) is outside the {h}\u00d7{w} image")
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"a painted value must be in [0, 1], got {value}")
        if self.values["source"] == "drawn":
            new = self.drawn.copy()
        else:   # start the drawing from what is shown (an example is scaled into [0, 1])
            lo, hi = float(img.min()), float(img.max())
            new = img.copy() if lo >= 0 and hi <= 1 else \
                (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        new[y, x] = value
        self._use_drawn(new)

    def _current_2d(self) -> np.ndarray:
        """The 2-D picture the paintable modes show (the mode's example when selected)."""
        mode = self.values["mode"]
        if mode == "transposed":
            return self.res["tin"]
        if mode == "pooling":
            return self.res["pin"]
        return self.image

    def action_clear_image(self) -> None:
        h, w = self._current_2d().shape if self.values["source"] == "drawn" else \
            (self.values["size"],) * 2
        self._use_drawn(np.zeros((h, w)))

    def action_set_kernel_cell(self, row, col, value) -> None:
        """Set the weight drawn at (``row``, ``col``) of the kernel picture to ``value``."""
        try:
            row, col, value = int(row), int(col), float(value)
        except (TypeError, ValueError):
            raise ValueError("set_kernel_cell needs integer row and col and a number") \
                from None
        if not (math.isfinite(value) and abs(value) <= MAX_WEIGHT):
            raise ValueError(f"a kernel weight must be a number in [\u2212{MAX_WEIGHT:g}, "
                             f"{MAX_WEIGHT:g}], got {value}")
        target = self._kernel_cell_target(row, col)
        weights = {n: w.copy() for n, w in self.weights.items()}
        name, idx = target
        weights[name][idx] = value
        old = (self.weights, self._weights_key)
        self.weights = weights
        try:
            self._commit(self._compute(self._source_image()))
        except Exception:
            self.weights, self._weights_key = old
            raise

    def _kernel_cell_target(self, row, col) -> tuple[str, tuple]:
        """Map a cell of the kernel picture to (weights name, index); ValueError if none."""
        mode = self.values["mode"]
        k = self.values["kernel_size"]
        if mode == "pooling":
            raise ValueError("pooling has no weights to edit: it takes the max or the mean "
                             "of each window")
        if mode in ("conv2d", "transposed"):
            if 0 <= row < k and 0 <= col < k:
                return "kernel", (row, col)
        elif mode == "conv1d":
            if row == 0 and 0 <= col < k:
                return "kernel", (col,)
        elif mode == "conv3d":
            a, c = divmod(col, k + 1)
            if 0 <= row < k and 0 <= a < k and c < k:
                return "kernel", (a, row, c)
        elif mode == "pointwise_1x1":
            if row == 0 and 0 <= col < CHANNELS:
                return "pw", (col,)
        else:  # depthwise_separable: tiles of k x k, a gap row, then the 1x1 row
            a, c = divmod(col, k + 1)
            if 0 <= row < k and 0 <= a < CHANNELS and c < k:
                return "kernel", (a, row, c)
            if row == k + 1 and 0 <= col < CHANNELS:
                return "pw", (col,)
        shape = self._kernel_picture_shape()
        raise ValueError(f"({row}, {col}) is not a weight of the kernel picture "
                         f"({shape[0]}\u00d7{shape[1]}, gaps excluded)")

    def _kernel_picture_shape(self):
        return self.snapshot().data["kernel"].shape

    def action_reset_kernel(self) -> None:
        self._weights_key = None
        self._commit(self._compute(self._source_image()))
