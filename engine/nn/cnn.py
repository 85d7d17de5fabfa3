r"""A small configurable ConvNet for images (book ch. 9), with its feature maps on request.

Each block is ``conv (k x k, same padding) -> activation -> pool (2 x 2)``; the head is either
``flatten -> dense`` or global average pooling ``-> dense`` (far fewer weights: book 9.6):

.. math:: h^{[b]} = \mathrm{pool}\big(\phi(W^{[b]} \star h^{[b-1]} + b^{[b]})\big), \qquad
          z = W_{out}\,\mathrm{head}(h^{[B]}) + b_{out}

Like :class:`engine.nn.MLP` it is described by a JSON-able config, which model files store.
"""
from __future__ import annotations

import numpy as np

from engine.nn import functional as F
from engine.nn.layers import Conv2d, Linear, ModuleList
from engine.nn.mlp import ACTIVATIONS
from engine.nn.module import Module

POOLS = ("max", "avg", "none")
HEADS = ("flatten", "gap")
MAX_BLOCKS = 4
MAX_CHANNELS = 128


def validate_cnn_config(config) -> dict:
    """Check a CNN config (from code or a file); ``ValueError`` names the field."""
    if not isinstance(config, dict):
        raise ValueError("CNN config must be a JSON object")

    def ints(name, value, lo, hi, n=None):
        ok = (isinstance(value, (list, tuple)) and (n is None or len(value) == n)
              and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                      and lo <= v <= hi for v in value))
        if not ok:
            raise ValueError(f"{name} must be a list of {'' if n is None else n} integers in "
                             f"{lo}..{hi}, got {value!r}")
        return [int(v) for v in value]

    shape = ints("input shape", config.get("input"), 1, 512, 3)
    channels = ints("channels", config.get("channels"), 1, MAX_CHANNELS)
    if not 1 <= len(channels) <= MAX_BLOCKS:
        raise ValueError(f"a CNN has 1-{MAX_BLOCKS} conv blocks, got {len(channels)}")
    kernel = config.get("kernel", 3)
    if kernel not in (1, 3, 5, 7):
        raise ValueError(f"kernel must be 1, 3, 5 or 7, got {kernel!r}")
    pool = config.get("pool", "max")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
    head = config.get("head", "flatten")
    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    act = config.get("activation", "relu")
    if act not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {act!r}")
    classes = config.get("classes")
    if not isinstance(classes, int) or not 2 <= classes <= 1000:
        raise ValueError(f"classes must be an integer 2..1000, got {classes!r}")
    h, w = shape[1], shape[2]
    if pool != "none":
        for _ in channels:
            h, w = h // 2, w // 2
            if h < 1 or w < 1:
                raise ValueError(f"{len(channels)} pooled blocks shrink a {shape[1]}x{shape[2]}"
                                 " input below one pixel; use fewer blocks or no pooling")
    return {"input": shape, "channels": channels, "kernel": int(kernel), "pool": pool,
            "head": head, "activation": act, "classes": classes}


class SmallCNN(Module):
    """``blocks x [conv -> act -> pool] -> (flatten | GAP) -> dense``.

    Parameters
    ----------
    input : (C, H, W)
    channels : list of int
        Output channels of each conv block.
    kernel : int
        Kernel size k (same padding ``(k-1)/2``, stride 1).
    pool : {'max', 'avg', 'none'}
    head : {'flatten', 'gap'}
    activation : str
        Name from :data:`engine.nn.mlp.ACTIVATIONS`.
    classes : int
    """

    def __init__(self, input=(1, 16, 16), channels=(8, 16), kernel=3, pool="max",
                 head="flatten", activation="relu", classes=10, generator=None,
                 dtype=np.float32):
        super().__init__()
        self.config = validate_cnn_config(dict(
            input=list(input), channels=list(channels), kernel=kernel, pool=pool, head=head,
            activation=activation, classes=classes))
        gen = generator if generator is not None else np.random.default_rng()
        c, h, w = self.config["input"]
        k = self.config["kernel"]
        convs = []
        for f in self.config["channels"]:
            convs.append(Conv2d(c, f, k, padding=(k - 1) // 2, dtype=dtype, generator=gen))
            c = f
            if pool != "none":
                h, w = h // 2, w // 2
        self.convs = ModuleList(convs)
        feat = c if head == "gap" else c * h * w
        self.out = Linear(feat, self.config["classes"], dtype=dtype, generator=gen)
        self.map_shapes = []  # (C, H, W) after each block, for the panel's layout

    @classmethod
    def from_config(cls, config: dict, generator=None) -> "SmallCNN":
        return cls(generator=generator, **validate_cnn_config(config))

    def forward(self, x, return_maps: bool = False):
        """Logits ``(N, classes)`` of images ``x (N, C, H, W)``; with ``return_maps`` also the
        activation maps after each conv (before pooling), each ``(N, F, H, W)``."""
        act = ACTIVATIONS[self.config["activation"]]
        pool = self.config["pool"]
        maps = []
        h = x
        for conv in self.convs:
            h = act(conv(h))
            maps.append(h)
            if pool == "max":
                h = F.max_pool2d(h, 2)
            elif pool == "avg":
                h = F.avg_pool2d(h, 2)
        h = F.global_avg_pool2d(h) if self.config["head"] == "gap" else \
            h.reshape(h.shape[0], -1)
        z = self.out(h)
        return (z, maps) if return_maps else z
