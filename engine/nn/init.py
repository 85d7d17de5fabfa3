r"""Weight initialisation, with PyTorch's names (``engine.nn.init.xavier_uniform_`` ...).

Each function fills a tensor in place and returns it.  Random draws come from a
``numpy.random.Generator`` (``generator=``), so a seed reproduces a network on every backend.

Fan-in and fan-out of a weight of shape ``(out, in, *kernel)`` are ``in * prod(kernel)`` and
``out * prod(kernel)``.  The bounds, for the record (the book prints Xavier's without its square
root, erratum E13):

* Xavier/Glorot uniform: :math:`U[\pm\,g\sqrt{6/(n_{in}+n_{out})}]`, variance
  :math:`2/(n_{in}+n_{out})`, keeps tanh/sigmoid activations from shrinking or saturating;
* He/Kaiming normal: :math:`N(0,\,2/n_{in})` (for ReLU, which zeroes half its inputs).
"""
from __future__ import annotations

import math

import numpy as np

from engine import backend

__all__ = ["calculate_gain", "zeros_", "ones_", "constant_", "uniform_", "normal_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "fan_in_and_fan_out", "init_weights", "SCHEMES"]


def _rng(generator):
    return generator if generator is not None else np.random.default_rng()


def _fill(tensor, values):
    t = tensor
    t.data[...] = backend.xp_of(t.data).asarray(values.astype(t.data.dtype, copy=False))
    return t


def fan_in_and_fan_out(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shaped ``(out, in, *kernel)``."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 dimensions, got "
                         f"shape {shape}")
    field = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * field, shape[0] * field


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """PyTorch's recommended gains: 1 (linear, sigmoid), 5/3 (tanh), sqrt(2) (relu)..."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"no gain known for nonlinearity {nonlinearity!r}")


def zeros_(tensor):
    tensor.data[...] = 0
    return tensor


def ones_(tensor):
    tensor.data[...] = 1
    return tensor


def constant_(tensor, val: float):
    tensor.data[...] = val
    return tensor


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    return _fill(tensor, _rng(generator).uniform(a, b, tensor.data.shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    return _fill(tensor, _rng(generator).normal(mean, std, tensor.data.shape))


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    fan_in, fan_out = fan_in_and_fan_out(tensor.data.shape)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    fan_in, fan_out = fan_in_and_fan_out(tensor.data.shape)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan_in, fan_out = fan_in_and_fan_out(tensor.data.shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None):
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None):
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


#: The schemes a user can pick in the labs, by name.
SCHEMES = ("zeros", "uniform", "normal", "xavier", "he")


def init_weights(tensor, scheme: str, generator=None, *, scale: float = 1.0):
    """Fill a weight by a scheme name from :data:`SCHEMES`.

    ``zeros`` (every unit identical: the symmetry trap), ``uniform`` :math:`U[-s, s]`,
    ``normal`` :math:`N(0, s^2)`, ``xavier`` (Glorot uniform), ``he`` (Kaiming normal for ReLU).
    ``scale`` is :math:`s` for the plain uniform and normal schemes.
    """
    if scheme == "zeros":
        return zeros_(tensor)
    if scheme == "uniform":
        return uniform_(tensor, -scale, scale, generator)
    if scheme == "normal":
        return normal_(tensor, 0.0, scale, generator)
    if scheme == "xavier":
        return xavier_uniform_(tensor, generator=generator)
    if scheme == "he":
        return kaiming_normal_(tensor, nonlinearity="relu", generator=generator)
    raise ValueError(f"unknown init scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
