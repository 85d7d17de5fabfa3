r"""The multilayer perceptron of book chapter 7, with its hidden values on request.

.. math:: z^{[l]} = h^{[l-1]} W^{[l]\top} + \mathbf 1 b^{[l]\top}, \qquad
          h^{[l]} = \phi^{[l]}(z^{[l]}), \qquad W^{[l]} \in \mathbb R^{n_l \times n_{l-1}}

for a batch ``h[0] = X`` of shape ``(N, n_0)``.  The output layer is linear (logits); the
loss applies the sigmoid or softmax, which is both stabler and what PyTorch does.

An MLP is described by a plain, JSON-able *config* (sizes, activations, dropout), which is what
model files store: weights are only ever loaded into a network rebuilt from a validated config.
"""
from __future__ import annotations

import numpy as np

from engine.nn import functional as F
from engine.nn import init
from engine.nn.layers import Dropout, Linear, ModuleList
from engine.nn.module import Module

#: Hidden activations by name, each a function of a Tensor.
ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "tanh": F.tanh,
    "sigmoid": F.sigmoid,
    "softplus": F.softplus,
}

MAX_LAYERS = 32
MAX_WIDTH = 4096


def param_count(sizes) -> int:
    r"""Weights and biases of a dense net: :math:`\sum_l (n_{l-1} n_l + n_l)`."""
    sizes = [int(s) for s in sizes]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


class MLP(Module):
    """Dense network ``sizes[0] -> ... -> sizes[-1]``.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, output last (at least two entries).
    activations : str or sequence of str
        One name from :data:`ACTIVATIONS` per hidden layer (a single name applies to all).
    init : str
        Weight scheme from :data:`engine.nn.init.SCHEMES`; biases start at zero.
    dropout : float or sequence of float
        Drop rate after each hidden layer (inverted dropout, training mode only).
    generator : numpy.random.Generator, optional
        Source of the initial weights and dropout masks.
    init_scale : float
        Scale of the plain ``uniform``/``normal`` schemes.
    """

    def __init__(self, sizes, activations="tanh", init="xavier", dropout=0.0, generator=None,
                 init_scale=1.0, dtype=np.float32):
        super().__init__()
        sizes = [int(s) for s in sizes]
        hidden = len(sizes) - 2
        if isinstance(activations, str):
            activations = [activations] * hidden
        if isinstance(dropout, (int, float)):
            dropout = [float(dropout)] * hidden
        self.config = validate_config({"sizes": sizes, "activations": list(activations),
                                       "dropout": [float(d) for d in dropout]})
        gen = generator if generator is not None else np.random.default_rng()
        self.layers = ModuleList(Linear(a, b, dtype=dtype, generator=gen)
                                 for a, b in zip(sizes[:-1], sizes[1:]))
        self.drops = ModuleList(Dropout(p, generator=gen) for p in self.config["dropout"])
        self.reinit(init, gen, init_scale)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: dict, generator=None) -> "MLP":
        cfg = validate_config(config)
        return cls(cfg["sizes"], cfg["activations"], dropout=cfg["dropout"], generator=generator)

    def reinit(self, scheme: str, generator=None, scale: float = 1.0) -> None:
        """Re-draw every weight with ``scheme``; biases to zero."""
        for lin in self.layers:
            init.init_weights(lin.weight, scheme, generator, scale=scale)
            init.zeros_(lin.bias)

    @property
    def sizes(self) -> list[int]:
        return list(self.config["sizes"])

    @property
    def activations(self) -> list[str]:
        return list(self.config["activations"])

    # -- forward --------------------------------------------------------------------------------
    def forward(self, x, return_hidden: bool = False):
        """Logits ``(N, sizes[-1])``; with ``return_hidden`` also the lists ``zs`` and ``hs``
        of every hidden layer's pre-activation and activation, each ``(N, n_l)``."""
        zs, hs = [], []
        h = x
        n = len(self.layers)
        for i, lin in enumerate(self.layers):
            z = lin(h)
            if i == n - 1:
                return (z, zs, hs) if return_hidden else z
            h = ACTIVATIONS[self.config["activations"][i]](z)
            zs.append(z)
            hs.append(h)
            h = self.drops[i](h)
        raise AssertionError("unreachable: an MLP has at least one layer")


def validate_config(config) -> dict:
    """Check an MLP config (from code or a file) and return a clean copy.

    Raises ``ValueError`` naming the field and what is allowed.
    """
    if not isinstance(config, dict):
        raise ValueError("network config must be a JSON object")
    sizes = config.get("sizes")
    if (not isinstance(sizes, (list, tuple)) or not 2 <= len(sizes) <= MAX_LAYERS + 1
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                       and 1 <= s <= MAX_WIDTH for s in sizes)):
        raise ValueError(f"network sizes must be a list of 2 to {MAX_LAYERS + 1} integers in "
                         f"1..{MAX_WIDTH}, got {sizes!r}")
    hidden = len(sizes) - 2
    acts = config.get("activations", [])
    if (not isinstance(acts, (list, tuple)) or len(acts) != hidden
            or not all(a in ACTIVATIONS for a in acts)):
        raise ValueError(f"activations must list {hidden} names from "
                         f"{', '.join(ACTIVATIONS)}, got {acts!r}")
    drops = config.get("dropout", [0.0] * hidden)
    if (not isinstance(drops, (list, tuple)) or len(drops) != hidden
            or not all(isinstance(d, (int, float)) and 0.0 <= d < 1.0 for d in drops)):
        raise ValueError(f"dropout must list {hidden} rates in [0, 1), got {drops!r}")
    return {"sizes": [int(s) for s in sizes], "activations": list(acts),
            "dropout": [float(d) for d in drops]}
