r"""Architecture calculator (book ch. 9.2, 9.6, 9.7, 9.9, 9.10): shapes, parameters, MACs, RF.

A network is a list of layer specs (small frozen dataclasses: :class:`Conv`, :class:`MaxPool`,
:class:`AvgPool`, :class:`GlobalAvgPool`, :class:`Flatten`, :class:`Dense`, :class:`Inception`
and the parameter-free :class:`ReLU`, :class:`LRN`, :class:`Dropout`, :class:`Softmax`).
:func:`summarize` walks it from an input shape ``(C, H, W)`` and returns one :class:`Row` per
layer:

* output size per spatial axis (floor, as PyTorch; the book omits the floor, erratum 3)

  .. math:: o = \left\lfloor \frac{n + 2p - (k - 1) - 1}{s} \right\rfloor + 1

* weights :math:`k_h k_w (C_\text{in}/g)\, C_\text{out}` of a convolution with ``g`` groups
  (plus :math:`C_\text{out}` biases), :math:`n_\text{in} n_\text{out}` (+ :math:`n_\text{out}`) of
  a dense layer; pooling, activations, LRN and dropout have none;
* multiply-adds :math:`\text{MACs} = \text{weights} \times H_\text{out} W_\text{out}` (every
  weight is used once per output position; bias additions are not multiplies);
* receptive field and jump (distance in input pixels between neighbouring outputs)

  .. math:: r_l = r_{l-1} + (k_l - 1)\, j_{l-1}, \qquad j_l = j_{l-1} s_l,
            \qquad r_0 = j_0 = 1.

  A dense layer or global pooling on an :math:`H \times W` map acts as a :math:`H \times W`
  kernel, so it adds :math:`(H - 1) j`; an Inception block adds the largest of its branches
  (the 5×5 one: :math:`4j`).

The presets :data:`ALEXNET`, :data:`VGG16` and :data:`INCEPTION_V1` reproduce the book's
networks, and :data:`BOOK_FIGURES` holds the figures the book prints, so :func:`errata` can set
them beside the recomputed ones.  :func:`parse_architecture` reads a custom network from a
line of text such as ``"conv 16 3 p1; relu; pool 2; conv 32 3 p1; gap; dense 10"``.

Pure Python: no Qt, no arrays needed (layer counts are small).
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from engine.autodiff.ops.conv import conv_out_size

#: Largest input side the calculator accepts (the lab's ``input_size`` bound).
MAX_INPUT = 512
#: Limits of the custom-text language (they keep typos such as ``conv 160000 3`` harmless).
MAX_LAYERS = 120
MAX_CHANNELS = 65536
MAX_KERNEL = 64
MAX_STRIDE = 64
MAX_PADDING = 64


# -- layer specs ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Conv:
    """2-D convolution with a square ``k``×``k`` kernel (cross-correlation, as PyTorch)."""

    out_channels: int
    k: int
    stride: int = 1
    padding: int = 0
    groups: int = 1
    bias: bool = True
    name: str = ""


@dataclasses.dataclass(frozen=True)
class MaxPool:
    """Max pooling over ``k``×``k`` windows; ``stride`` defaults to ``k``."""

    k: int
    stride: int | None = None
    padding: int = 0
    name: str = ""


@dataclasses.dataclass(frozen=True)
class AvgPool:
    """Average pooling over ``k``×``k`` windows; ``stride`` defaults to ``k``."""

    k: int
    stride: int | None = None
    padding: int = 0
    name: str = ""


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool:
    """Average of each whole map: ``(C, H, W) -> (C, 1, 1)``."""

    name: str = ""


@dataclasses.dataclass(frozen=True)
class Flatten:
    """``(C, H, W) -> (C·H·W,)``."""

    name: str = ""


@dataclasses.dataclass(frozen=True)
class Dense:
    """Fully connected layer; a ``(C, H, W)`` input is flattened first (``C·H·W`` inputs)."""

    out: int
    bias: bool = True
    name: str = ""


@dataclasses.dataclass(frozen=True)
class ReLU:
    name: str = ""


@dataclasses.dataclass(frozen=True)
class LRN:
    """Local response normalisation (AlexNet, GoogLeNet): no parameters, shape unchanged."""

    name: str = ""


@dataclasses.dataclass(frozen=True)
class Dropout:
    p: float = 0.5
    name: str = ""


@dataclasses.dataclass(frozen=True)
class Softmax:
    name: str = ""


@dataclasses.dataclass(frozen=True)
class Inception:
    """GoogLeNet block: four stride-1 branches concatenated on channels.

    Branches: 1×1 (``c1``); 1×1 reduce (``c3r``) -> 3×3 (``c3``); 1×1 reduce (``c5r``) -> 5×5
    (``c5``); 3×3 max-pool (stride 1) -> 1×1 projection (``pool_proj``).  Output depth is
    ``c1 + c3 + c5 + pool_proj``; the spatial size is kept ("same" padding everywhere).
    """

    c1: int
    c3r: int
    c3: int
    c5r: int
    c5: int
    pool_proj: int
    bias: bool = True
    name: str = ""


LAYER_TYPES = (Conv, MaxPool, AvgPool, GlobalAvgPool, Flatten, Dense, ReLU, LRN, Dropout,
               Softmax, Inception)
#: Row kinds, for colouring and filtering (``act`` = no parameters and shape unchanged).
KINDS = ("conv", "inception", "dense", "pool", "gap", "flatten", "act")
_KIND = {Conv: "conv", Inception: "inception", Dense: "dense", MaxPool: "pool",
         AvgPool: "pool", GlobalAvgPool: "gap", Flatten: "flatten", ReLU: "act", LRN: "act",
         Dropout: "act", Softmax: "act"}
_PREFIX = {Conv: "conv", Inception: "inception", Dense: "fc", MaxPool: "pool",
           AvgPool: "avgpool", GlobalAvgPool: "gap", Flatten: "flatten", ReLU: "relu",
           LRN: "lrn", Dropout: "dropout", Softmax: "softmax"}


# -- summary --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Row:
    """One layer of a :func:`summarize` table.

    Attributes
    ----------
    name, kind, config : str
        Layer name, one of :data:`KINDS`, and its settings in short: ``"11×11/4, 96"`` (k×k /
        stride, then ``pP`` padding, ``gG`` groups, then output channels), ``"max 3×3/2"``,
        ``"64 | 96→128 | 16→32 | 32"`` (Inception branch widths: 1×1 | 3×3 reduce→3×3 | 5×5
        reduce→5×5 | pool projection), ``"9,216 → 4,096"`` (dense fan-in → units).
    out_shape : tuple of int
        ``(C, H, W)``, or ``(N,)`` once flattened.
    params, weights : int
        Parameters with biases, and weights only.
    macs : int
        Multiply-adds for one input image.
    rf, jump : int
        Receptive field side and jump in input pixels (along the height axis).
    """

    name: str
    kind: str
    config: str
    out_shape: tuple
    params: int
    weights: int
    macs: int
    rf: int
    jump: int

    @property
    def biases(self) -> int:
        return self.params - self.weights


class SizeError(ValueError):
    """A layer's output would be smaller than 1×1 (the input is too small for the network)."""

    def __init__(self, message: str, layer: str):
        super().__init__(message)
        self.layer = layer


def shape_text(shape: Sequence[int]) -> str:
    """``(96, 55, 55)`` -> ``'96×55×55'``."""
    return "\u00d7".join(str(int(s)) for s in shape)


def layer_names(arch: Sequence) -> list[str]:
    """The given names, with unnamed layers numbered per type (``conv1``, ``conv2``, ``fc1``)."""
    counts: dict[str, int] = {}
    names = []
    for layer in arch:
        prefix = _PREFIX[type(layer)]
        counts[prefix] = counts.get(prefix, 0) + 1
        names.append(layer.name or f"{prefix}{counts[prefix]}")
    return names


def _check_ints(name: str, **values) -> None:
    for key, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < (0 if key == "padding" else 1):
            low = 0 if key == "padding" else 1
            raise ValueError(f"{name}: {key} must be an integer >= {low}, got {v!r}")


def summarize(arch: Sequence, input_shape: Sequence[int]) -> list[Row]:
    """Per-layer output shape, parameters, multiply-adds, receptive field and jump.

    Parameters
    ----------
    arch : sequence of layer specs
    input_shape : (C, H, W)

    Returns
    -------
    list of Row
        One per layer, in order.

    Raises
    ------
    SizeError
        When a layer's output would be smaller than 1×1, naming the layer and its input size.
    ValueError
        For a malformed network (a convolution after flattening, groups that do not divide
        the channels, ...), naming the layer.
    """
    if len(input_shape) != 3 or any(int(s) < 1 for s in input_shape):
        raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got "
                         f"{tuple(input_shape)!r}")
    c, h, w = (int(s) for s in input_shape)
    flat = None          # number of features once flattened, else None
    rf, jump = 1, 1
    rows = []
    for layer, name in zip(arch, layer_names(arch)):
        kind = _KIND.get(type(layer))
        if kind is None:
            raise ValueError(f"{name}: unknown layer type {type(layer).__name__}; use one of "
                             + ", ".join(t.__name__ for t in LAYER_TYPES))
        weights = biases = macs = 0
        if isinstance(layer, (Conv, MaxPool, AvgPool, Inception, GlobalAvgPool)) \
                and flat is not None:
            raise ValueError(f"{name} needs a C×H×W feature map, but the data were flattened "
                             f"to {flat} features before it; put convolutions and pooling "
                             "before flatten/dense")
        if isinstance(layer, Conv):
            _check_ints(name, out_channels=layer.out_channels, k=layer.k,
                        stride=layer.stride, padding=layer.padding, groups=layer.groups)
            g = layer.groups
            if c % g or layer.out_channels % g:
                raise ValueError(f"{name}: groups = {g} must divide both the input channels "
                                 f"({c}) and the output channels ({layer.out_channels})")
            oh, ow = _out(name, "convolution", h, w, layer.k, layer.stride, layer.padding)
            weights = layer.k * layer.k * (c // g) * layer.out_channels
            biases = layer.out_channels if layer.bias else 0
            macs = weights * oh * ow
            rf, jump = rf + (layer.k - 1) * jump, jump * layer.stride
            config = f"{layer.k}\u00d7{layer.k}/{layer.stride}"
            config += f" p{layer.padding}" if layer.padding else ""
            config += f" g{g}" if g > 1 else ""
            config += f", {layer.out_channels}"
            c, h, w = layer.out_channels, oh, ow
        elif isinstance(layer, (MaxPool, AvgPool)):
            stride = layer.k if layer.stride is None else layer.stride
            _check_ints(name, k=layer.k, stride=stride, padding=layer.padding)
            if 2 * layer.padding > layer.k:
                raise ValueError(f"{name}: pooling padding {layer.padding} must be at most "
                                 f"half the window ({layer.k // 2} for a {layer.k}×{layer.k} "
                                 "window)")
            what = "max-pool" if isinstance(layer, MaxPool) else "average-pool"
            oh, ow = _out(name, what, h, w, layer.k, stride, layer.padding)
            rf, jump = rf + (layer.k - 1) * jump, jump * stride
            config = f"{'max' if isinstance(layer, MaxPool) else 'avg'} " \
                     f"{layer.k}\u00d7{layer.k}/{stride}"
            config += f" p{layer.padding}" if layer.padding else ""
            h, w = oh, ow
        elif isinstance(layer, Inception):
            _check_ints(name, c1=layer.c1, c3r=layer.c3r, c3=layer.c3, c5r=layer.c5r,
                        c5=layer.c5, pool_proj=layer.pool_proj)
            # Four branches read the same C-channel input: three 1x1 convs and the 1x1
            # projection after pooling, plus the 3x3 and 5x5 convs on the reduced maps.
            weights = (c * (layer.c1 + layer.c3r + layer.c5r + layer.pool_proj)
                       + 9 * layer.c3r * layer.c3 + 25 * layer.c5r * layer.c5)
            biases = (layer.c1 + layer.c3r + layer.c3 + layer.c5r + layer.c5
                      + layer.pool_proj) if layer.bias else 0
            macs = weights * h * w
            rf = rf + 4 * jump  # the widest branch is the 5x5 conv; all branches have stride 1
            c = layer.c1 + layer.c3 + layer.c5 + layer.pool_proj
            # Branch widths: 1x1 | 3x3 reduce -> 3x3 | 5x5 reduce -> 5x5 | pool projection.
            config = (f"{layer.c1} | {layer.c3r}\u2192{layer.c3} | {layer.c5r}\u2192{layer.c5} "
                      f"| {layer.pool_proj}")
        elif isinstance(layer, GlobalAvgPool):
            rf = rf + (max(h, w) - 1) * jump  # a window as large as the map
            config = f"global avg {h}\u00d7{w}"
            h = w = 1
        elif isinstance(layer, Flatten):
            if flat is None:
                flat = c * h * w
            config = "to a vector"
        elif isinstance(layer, Dense):
            _check_ints(name, out=layer.out)
            n_in = flat if flat is not None else c * h * w
            # Each unit sees every position of the last map: an h x w "kernel".
            rf = rf + (max(h, w) - 1) * jump
            h = w = 1
            weights = n_in * layer.out
            biases = layer.out if layer.bias else 0
            macs = weights
            config = f"{n_in:,} \u2192 {layer.out:,}"
            flat = layer.out
        else:  # ReLU, LRN, Dropout, Softmax: elementwise, nothing to count
            config = {ReLU: "max(0, x)", LRN: "local response norm", Softmax: "softmax",
                      Dropout: f"drop {getattr(layer, 'p', 0):.0%}"}[type(layer)]
        out_shape = (flat,) if flat is not None else (c, h, w)
        rows.append(Row(name, kind, config, out_shape, weights + biases, weights, macs,
                        rf, jump))
    return rows


def _out(name, what, h, w, k, stride, padding) -> tuple[int, int]:
    oh = conv_out_size(h, k, stride, padding)
    ow = conv_out_size(w, k, stride, padding)
    if oh < 1 or ow < 1:
        raise SizeError(
            f"{name} ({what} {k}×{k}, stride {stride}, padding {padding}) gets a {h}×{w} "
            f"input, smaller than its {k}×{k} window even after padding: its output would be "
            f"{max(oh, 0)}×{max(ow, 0)}", name)
    return oh, ow


def totals(rows: Sequence[Row]) -> dict:
    """Sums over a summary: all layers, the convolutional part (conv + Inception) and the
    fully connected part, with shares of all parameters; the last RF and output shape."""
    conv = [r for r in rows if r.kind in ("conv", "inception")]
    dense = [r for r in rows if r.kind == "dense"]
    out = {
        "params": sum(r.params for r in rows), "weights": sum(r.weights for r in rows),
        "macs": sum(r.macs for r in rows),
        "conv_params": sum(r.params for r in conv), "conv_weights": sum(r.weights for r in conv),
        "conv_macs": sum(r.macs for r in conv),
        "dense_params": sum(r.params for r in dense),
        "dense_weights": sum(r.weights for r in dense), "dense_macs": sum(r.macs for r in dense),
        "rf": rows[-1].rf if rows else 1, "jump": rows[-1].jump if rows else 1,
        "out_shape": rows[-1].out_shape if rows else (),
    }
    out["biases"] = out["params"] - out["weights"]
    for part in ("conv", "dense"):
        for what in ("params", "weights"):
            whole = out[what]
            out[f"{part}_{what}_share"] = out[f"{part}_{what}"] / whole if whole else 0.0
    return out


def receptive_field(arch: Sequence, input_shape: Sequence[int] = (3, MAX_INPUT, MAX_INPUT)
                    ) -> list[tuple[int, int]]:
    """``(rf, jump)`` after each layer (see :func:`summarize`)."""
    return [(r.rf, r.jump) for r in summarize(arch, input_shape)]


def min_input_size(arch: Sequence, channels: int = 3, limit: int = MAX_INPUT) -> int:
    """Smallest square input side (<= ``limit``) for which no layer's output is below 1×1.

    Output sizes never shrink when the input grows, so the sizes that fit form a range
    ``[m, inf)`` and a binary search finds ``m``.

    Raises
    ------
    ValueError
        If even a ``limit``×``limit`` input is too small (the message names the layer), or the
        network is malformed.
    """
    try:
        summarize(arch, (channels, limit, limit))
    except SizeError as exc:
        raise ValueError(f"the network does not fit even a {limit}×{limit} input: {exc}; "
                         "remove some downsampling (strides, pools) or shrink kernels"
                         ) from None
    lo, hi = 1, limit  # hi fits
    while lo < hi:
        mid = (lo + hi) // 2
        try:
            summarize(arch, (channels, mid, mid))
            hi = mid
        except SizeError:
            lo = mid + 1
    return lo


# -- presets --------------------------------------------------------------------------------------
def _alexnet(grouped: bool) -> tuple:
    g = 2 if grouped else 1
    return (
        Conv(96, 11, 4, name="conv1"), ReLU(name="relu1"), LRN(name="lrn1"),
        MaxPool(3, 2, name="pool1"),
        Conv(256, 5, 1, 2, groups=g, name="conv2"), ReLU(name="relu2"), LRN(name="lrn2"),
        MaxPool(3, 2, name="pool2"),
        Conv(384, 3, 1, 1, name="conv3"), ReLU(name="relu3"),
        Conv(384, 3, 1, 1, groups=g, name="conv4"), ReLU(name="relu4"),
        Conv(256, 3, 1, 1, groups=g, name="conv5"), ReLU(name="relu5"),
        MaxPool(3, 2, name="pool3"),
        Flatten(name="flatten"),
        Dense(4096, name="fc1"), ReLU(name="relu6"),
        Dense(4096, name="fc2"), ReLU(name="relu7"),
        # No ReLU on the logits (the book lists one, erratum 13): softmax reads them directly.
        Dense(1000, name="fc3"), Softmax(name="softmax"),
    )


#: AlexNet as the book lists it (227×227 input, one tower: no groups).
ALEXNET = _alexnet(grouped=False)
#: The original two-GPU AlexNet: conv2, conv4 and conv5 split into 2 groups.
ALEXNET_GROUPED = _alexnet(grouped=True)


def _vgg16() -> tuple:
    layers = []
    for block, (width, n) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), 1):
        for i in range(1, n + 1):
            layers += [Conv(width, 3, 1, 1, name=f"conv{block}_{i}"),
                       ReLU(name=f"relu{block}_{i}")]
        layers.append(MaxPool(2, 2, name=f"pool{block}"))  # no padding (erratum 17)
    layers += [Flatten(name="flatten"),
               Dense(4096, name="fc1"), ReLU(name="relu_fc1"),
               Dense(4096, name="fc2"), ReLU(name="relu_fc2"),
               Dense(1000, name="fc3"), Softmax(name="softmax")]
    return tuple(layers)


#: VGG-16 (224×224 input): 13 "same" 3×3 convs in five blocks, 2×2/2 pools, three FC layers.
VGG16 = _vgg16()

#: The GoogLeNet blocks: (c1, c3r, c3, c5r, c5, pool_proj) per module (the book's table).
INCEPTION_BLOCKS = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def _inception_v1() -> tuple:
    b = {k: Inception(*v, name=k) for k, v in INCEPTION_BLOCKS.items()}
    # The 3×3/2 max pools use padding 1: with floor sizes that gives the paper's 56/28/14/7
    # (the reference implementation rounds up instead, with the same result here).
    return (
        Conv(64, 7, 2, 3, name="conv1"), ReLU(name="relu1"),
        MaxPool(3, 2, 1, name="pool1"), LRN(name="lrn1"),
        Conv(64, 1, name="conv2_reduce"), ReLU(name="relu2_reduce"),
        Conv(192, 3, 1, 1, name="conv2"), ReLU(name="relu2"), LRN(name="lrn2"),
        MaxPool(3, 2, 1, name="pool2"),
        b["3a"], b["3b"], MaxPool(3, 2, 1, name="pool3"),
        b["4a"], b["4b"], b["4c"], b["4d"], b["4e"], MaxPool(3, 2, 1, name="pool4"),
        b["5a"], b["5b"],
        # Global pooling rather than a fixed 7×7 window, so other input sizes still end
        # in 1×1×1024 (at 224 the two are the same).
        GlobalAvgPool(name="avgpool"), Dropout(0.4, name="dropout"),
        Dense(1000, name="linear"), Softmax(name="softmax"),
    )


#: Inception-v1 / GoogLeNet (224×224 input, no auxiliary classifiers).
INCEPTION_V1 = _inception_v1()

PRESETS = {"alexnet": ALEXNET, "vgg16": VGG16, "inception_v1": INCEPTION_V1}
PRESET_LABELS = {"alexnet": "AlexNet", "vgg16": "VGG-16", "inception_v1": "Inception-v1",
                 "custom": "custom network"}
#: Input side each network was designed for (AlexNet needs 227 for its 55×55 maps).
NATIVE_INPUT = {"alexnet": 227, "vgg16": 224, "inception_v1": 224}


# -- the book's printed figures -------------------------------------------------------------------
#: GoogLeNet table rows -> the layers whose weights they count (conv2 includes its 1×1 reduce).
INCEPTION_TABLE_ROWS = {
    "conv1": ("conv1",), "conv2": ("conv2_reduce", "conv2"),
    **{k: (k,) for k in INCEPTION_BLOCKS}, "linear": ("linear",),
}

#: What the book prints (L5447, L5552, L5570-5584).  Inception: (params, ops) as in its
#: table, where "K" is 1024 and "M" is 10^6; ``wrong`` marks the entries erratum 18 flags.
BOOK_FIGURES = {
    "alexnet": {"total": "62.3 million", "conv_share": "roughly 6%", "input": "256×256 crops",
                "fc3": "ReLU, then softmax"},
    "vgg16": {"total": "approximately 138 million",
              "fc": "FC 4096, FC 4096, softmax over 1,000", "pool": "2×2/2, same padding"},
    "inception_v1": {
        "conv1": ("2.7K", "34M", True), "conv2": ("112K", "360M", False),
        "3a": ("159K", "128M", False), "3b": ("380K", "304M", False),
        "4a": ("364K", "73M", False), "4b": ("437K", "88M", False),
        "4c": ("463K", "100M", True), "4d": ("580K", "119M", False),
        "4e": ("840K", "170M", False), "5a": ("1072K", "54M", True),
        "5b": ("1388K", "71M", False), "linear": ("1000K", "1M", False),
    },
}


@dataclasses.dataclass(frozen=True)
class Erratum:
    """A figure as the book prints it beside the recomputed one.

    ``status`` is ``'ok'`` (agrees), ``'wrong'`` (an erratum) or ``'info'`` (the book gives no
    figure; ours adds one).
    """

    figure: str
    book: str
    ours: str
    status: str
    note: str = ""


def _k(n: int) -> str:
    """The book's table unit: K = 1024 weights (159K = 163,328)."""
    return f"{n / 1024:,.1f}K"


_INCEPTION_NOTES = {
    "conv1": "7·7·3·64 = 9,408; the 34M ops follow from the wrong 2.7K",
    "4c": "the ops are right (509,440·14·14); only the params are wrong",
    "5a": "params and ops both off (copied from the paper's table)",
}


def errata(preset: str) -> list[Erratum]:
    """Book figures for ``preset`` beside the figures recomputed by :func:`summarize`.

    Computed at the book's own input size (:data:`NATIVE_INPUT`) and, like the book, from
    weights only (biases listed separately).  A ``custom`` network has no book figures.
    """
    if preset not in PRESETS:
        return []
    n = NATIVE_INPUT[preset]
    rows = summarize(PRESETS[preset], (3, n, n))
    t = totals(rows)
    book = BOOK_FIGURES[preset]
    if preset == "alexnet":
        grouped = totals(summarize(ALEXNET_GROUPED, (3, n, n)))
        at224 = (224 - 11) / 4 + 1
        return [
            Erratum("total parameters (L5447)", book["total"],
                    f"{t['weights']:,} ≈ {t['weights'] / 1e6:.1f} million", "wrong",
                    "the sum of the eight counts rounds up, not down"),
            Erratum("with biases (L5433)", "not counted", f"{t['params']:,}", "info",
                    f"the formula k·k·C_in·C_out leaves out {t['biases']:,} biases"),
            Erratum("conv share (L5447)", book["conv_share"],
                    f"{t['conv_weights_share']:.1%}", "ok", "FC layers hold the rest"),
            Erratum("input size (L5405)", book["input"], "227×227", "wrong",
                    f"(227 − 11)/4 + 1 = 55; a 224 input gives {at224:g}"),
            Erratum("last layer (L5428)", book["fc3"], "softmax on the logits", "wrong",
                    "no ReLU before the softmax"),
            Erratum("original AlexNet", "one tower", f"{grouped['params']:,} with biases",
                    "info", "groups = 2 on conv2, conv4, conv5 (two GPUs)"),
        ]
    if preset == "vgg16":
        fc3 = next(r for r in rows if r.name == "fc3")
        return [
            Erratum("total parameters (L5552)", book["total"], f"{t['params']:,}", "ok",
                    "weights and biases"),
            Erratum("conv layers only", "—", f"{t['conv_params']:,}", "info",
                    f"{t['conv_params_share']:.1%} of the total"),
            Erratum("layer list (L5546–5550)", book["fc"], f"+ fc3 4,096 → 1,000: "
                    f"{fc3.params:,}", "wrong", "the third FC layer is missing"),
            Erratum("pooling (L5509)", book["pool"], "2×2/2, no padding", "wrong",
                    "a padded 2×2/2 pool (p = 1) would give 113, not 112"),
        ]
    by_name = {r.name: r for r in rows}
    out = []
    for key, layers in INCEPTION_TABLE_ROWS.items():
        params_b, ops_b, wrong = book[key]
        weights = sum(by_name[name].weights for name in layers)
        macs = sum(by_name[name].macs for name in layers)
        ours = f"{weights:,} ({_k(weights)}), {macs / 1e6:.1f}M ops"
        dev = weights / (float(params_b[:-1]) * 1024) - 1
        note = "matches" if abs(dev) < 5e-4 else f"within {abs(dev):.1%} (the table rounds)"
        if key == "conv2":
            note += "; 1×1 reduce (4,096) + 3×3 (110,592)"
        note = _INCEPTION_NOTES.get(key, note)
        out.append(Erratum(f"{key} params, ops", f"{params_b}, {ops_b}", ours,
                           "wrong" if wrong else "ok", note))
    out.append(Erratum("accuracy (L5556)", "93.3%", "93.3% top-5", "wrong",
                       "a top-5 figure, not plain accuracy"))
    return out


# -- custom text ----------------------------------------------------------------------------------
SYNTAX = ("conv C K [sS] [pP|same] [gG] [nobias]; pool K [sS] [pP]; avgpool K [sS] [pP]; "
          "gap; flatten; dense N [nobias]; inception C1 C3R C3 C5R C5 POOL; relu; lrn; "
          "dropout [P]; softmax")
_ALIASES = {"conv": "conv", "conv2d": "conv", "pool": "pool", "maxpool": "pool",
            "max": "pool", "avgpool": "avgpool", "avg": "avgpool", "gap": "gap",
            "globalavgpool": "gap", "flatten": "flatten", "dense": "dense", "fc": "dense",
            "linear": "dense", "inception": "inception", "relu": "relu", "lrn": "lrn",
            "dropout": "dropout", "softmax": "softmax"}
_USAGE = {
    "conv": "conv C K [sS] [pP|same] [gG] [nobias], e.g. conv 32 3 p1",
    "pool": "pool K [sS] [pP], e.g. pool 2 or pool 3 s2",
    "avgpool": "avgpool K [sS] [pP], e.g. avgpool 2",
    "gap": "gap (no arguments)", "flatten": "flatten (no arguments)",
    "dense": "dense N [nobias], e.g. dense 10",
    "inception": "inception C1 C3R C3 C5R C5 POOL, e.g. inception 64 96 128 16 32 32",
    "relu": "relu (no arguments)", "lrn": "lrn (no arguments)",
    "dropout": "dropout [P] with 0 <= P < 1, e.g. dropout 0.5",
    "softmax": "softmax (no arguments)",
}


def _int(tok: str, what: str, low: int, high: int, where: str, usage: str) -> int:
    if not re.fullmatch(r"\d+", tok):
        raise ValueError(f"{where}: {tok!r} is not a whole number for {what}; write {usage}")
    v = int(tok)
    if not low <= v <= high:
        raise ValueError(f"{where}: {what} {v} is out of range; allowed {low}-{high}")
    return v


def parse_architecture(text: str) -> tuple:
    """Read a network from text: layers separated by ``;`` or new lines.

    Grammar (case-insensitive; see :data:`SYNTAX`)::

        conv C K [sS] [pP|same] [gG] [nobias]   C filters of K×K, stride S, padding P
        pool K [sS] [pP]                         max-pool (stride defaults to K)
        avgpool K [sS] [pP]
        gap | flatten | relu | lrn | softmax | dropout [P]
        dense N [nobias]
        inception C1 C3R C3 C5R C5 POOL

    Returns
    -------
    tuple of layer specs

    Raises
    ------
    ValueError
        Naming the layer (by position and text), the bad token and what is allowed.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected text, got {type(text).__name__}")
    parts = [p.strip() for p in re.split(r"[;\n]", text) if p.strip()]
    if not parts:
        raise ValueError(f"the network is empty; write layers separated by ';': {SYNTAX}")
    if len(parts) > MAX_LAYERS:
        raise ValueError(f"{len(parts)} layers is too many; at most {MAX_LAYERS}")
    layers = []
    for i, part in enumerate(parts, 1):
        toks = part.replace(",", " ").lower().split()
        where = f"layer {i} ({part!r})"
        op = _ALIASES.get(toks[0])
        if op is None:
            raise ValueError(f"{where}: unknown layer {toks[0]!r}; allowed: "
                             + ", ".join(sorted(set(_ALIASES.values()))) + f" ({SYNTAX})")
        usage, args = _USAGE[op], toks[1:]
        if op in ("gap", "flatten", "relu", "lrn", "softmax"):
            if args:
                raise ValueError(f"{where}: {op} takes no arguments, got {args[0]!r}")
            layers.append({"gap": GlobalAvgPool, "flatten": Flatten, "relu": ReLU,
                           "lrn": LRN, "softmax": Softmax}[op]())
            continue
        if op == "dropout":
            if len(args) > 1:
                raise ValueError(f"{where}: unexpected {args[1]!r}; write {usage}")
            p = 0.5
            if args:
                try:
                    p = float(args[0])
                except ValueError:
                    raise ValueError(f"{where}: {args[0]!r} is not a number; write {usage}"
                                     ) from None
                if not 0.0 <= p < 1.0:
                    raise ValueError(f"{where}: dropout rate {p:g} must be in [0, 1)")
            layers.append(Dropout(p))
            continue
        if op == "inception":
            if len(args) != 6:
                raise ValueError(f"{where}: inception needs 6 channel counts, got "
                                 f"{len(args)}; write {usage}")
            names = ("C1", "C3R", "C3", "C5R", "C5", "POOL")
            layers.append(Inception(*(_int(a, n, 1, MAX_CHANNELS, where, usage)
                                      for a, n in zip(args, names))))
            continue
        n_pos = {"conv": 2, "pool": 1, "avgpool": 1, "dense": 1}[op]
        pos = [a for a in args if re.fullmatch(r"\d+", a)][:n_pos]
        if len(args) < n_pos or args[:n_pos] != pos:
            bad = next((a for a in args[:n_pos] if not re.fullmatch(r"\d+", a)), None)
            got = f"{bad!r} is not a whole number" if bad else "missing numbers"
            raise ValueError(f"{where}: {got}; write {usage}")
        opts = {"s": None, "p": 0, "g": 1, "bias": True}
        allowed = {"conv": "sN (stride), pN or same (padding), gN (groups), nobias",
                   "pool": "sN (stride), pN (padding)", "avgpool": "sN (stride), pN (padding)",
                   "dense": "nobias"}[op]
        seen = set()
        for a in args[n_pos:]:
            m = re.fullmatch(r"([spg])=?(\d+)", a)
            key = m.group(1) if m else a
            if key in seen:
                raise ValueError(f"{where}: {a!r} repeats an option already given")
            seen.add(key)
            if m and (op != "dense") and (key != "g" or op == "conv"):
                limit = {"s": MAX_STRIDE, "p": MAX_PADDING, "g": MAX_CHANNELS}[key]
                opts[key] = _int(m.group(2), {"s": "stride", "p": "padding",
                                              "g": "groups"}[key],
                                 0 if key == "p" else 1, limit, where, usage)
            elif a == "same" and op == "conv":
                opts["p"] = "same"
            elif a == "nobias" and op in ("conv", "dense"):
                opts["bias"] = False
            else:
                raise ValueError(f"{where}: unknown option {a!r}; {op} takes {allowed}")
        if op == "dense":
            layers.append(Dense(_int(pos[0], "units N", 1, MAX_CHANNELS, where, usage),
                                bias=opts["bias"]))
            continue
        if op == "conv":
            c_out = _int(pos[0], "channels C", 1, MAX_CHANNELS, where, usage)
            k = _int(pos[1], "kernel size K", 1, MAX_KERNEL, where, usage)
        else:
            k = _int(pos[0], "window K", 1, MAX_KERNEL, where, usage)
        pad = opts["p"]
        if pad == "same":
            if k % 2 == 0:
                raise ValueError(f"{where}: 'same' padding needs an odd kernel size, got "
                                 f"{k}; give pN instead")
            pad = (k - 1) // 2
        stride = opts["s"] if opts["s"] is not None else (1 if op == "conv" else k)
        if op == "conv":
            layers.append(Conv(c_out, k, stride, pad, groups=opts["g"], bias=opts["bias"]))
        else:
            cls = MaxPool if op == "pool" else AvgPool
            if 2 * pad > k:
                raise ValueError(f"{where}: pooling padding {pad} must be at most half the "
                                 f"window (at most {k // 2} for {k}×{k})")
            layers.append(cls(k, stride, pad))
    return tuple(layers)


def format_architecture(arch: Sequence) -> str:
    """The canonical text of a network (defaults left out); parses back to the same layers."""
    out = []
    for layer in arch:
        if isinstance(layer, Conv):
            s = f"conv {layer.out_channels} {layer.k}"
            s += f" s{layer.stride}" if layer.stride != 1 else ""
            s += f" p{layer.padding}" if layer.padding else ""
            s += f" g{layer.groups}" if layer.groups != 1 else ""
            s += " nobias" if not layer.bias else ""
        elif isinstance(layer, (MaxPool, AvgPool)):
            stride = layer.k if layer.stride is None else layer.stride
            s = f"{'pool' if isinstance(layer, MaxPool) else 'avgpool'} {layer.k}"
            s += f" s{stride}" if stride != layer.k else ""
            s += f" p{layer.padding}" if layer.padding else ""
        elif isinstance(layer, Dense):
            s = f"dense {layer.out}" + (" nobias" if not layer.bias else "")
        elif isinstance(layer, Inception):
            s = "inception " + " ".join(str(v) for v in (layer.c1, layer.c3r, layer.c3,
                                                          layer.c5r, layer.c5, layer.pool_proj))
        elif isinstance(layer, Dropout):
            s = "dropout" if layer.p == 0.5 else f"dropout {layer.p:g}"
        else:
            s = {GlobalAvgPool: "gap", Flatten: "flatten", ReLU: "relu", LRN: "lrn",
                 Softmax: "softmax"}[type(layer)]
        out.append(s)
    return "; ".join(out)


def parse_custom(text: str) -> str:
    """Check a custom network and return its canonical text (the lab's ``custom`` param).

    Beyond the syntax it checks the network is well formed and fits some input of at most
    :data:`MAX_INPUT` pixels (whether it fits the chosen input size is checked by the lab).
    """
    arch = parse_architecture(text)
    min_input_size(arch)  # raises for malformed networks and for ones no input fits
    return format_architecture(arch)
