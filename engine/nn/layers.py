r"""Layers and containers with PyTorch's names: ``Linear``, activations, ``Dropout``,
``Sequential``, ``ModuleList`` and the loss modules.

Every layer's ``forward`` calls :mod:`engine.nn.functional`, so the math lives in one place and
gradients of any order come from the autodiff core.
"""
from __future__ import annotations

import math

import numpy as np

from engine.nn import functional as F
from engine.nn import init
from engine.nn.module import Module, Parameter


class Linear(Module):
    r"""Affine layer :math:`y = x W^\top + b` with ``W`` of shape ``(out_features, in_features)``.

    Initialised as PyTorch does: :math:`W, b \sim U[\pm 1/\sqrt{n_{in}}]`.  ``generator`` is a
    ``numpy.random.Generator`` for reproducible weights.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=np.float32, generator=None):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if int(v) != v or v < 1:
                raise ValueError(f"Linear: {name} must be a positive integer, got {v}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(np.zeros((out_features, in_features), dtype=dtype))
        bound = 1.0 / math.sqrt(in_features)
        init.uniform_(self.weight, -bound, bound, generator)
        if bias:
            self.bias = Parameter(np.zeros(out_features, dtype=dtype))
            init.uniform_(self.bias, -bound, bound, generator)
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    def forward(self, x):
        return x


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class PReLU(Module):
    """Leaky ReLU whose negative slope is learned (``num_parameters`` slopes, init 0.25)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=np.float32):
        super().__init__()
        self.weight = Parameter(np.full(num_parameters, init, dtype=dtype))

    def forward(self, x):
        return F.prelu(x, self.weight)


class Softplus(Module):
    def forward(self, x):
        return F.softplus(x)


class Softmax(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)


class Flatten(Module):
    """Flatten all axes from ``start_dim`` (default 1: keep the batch axis)."""

    def __init__(self, start_dim: int = 1):
        super().__init__()
        self.start_dim = start_dim

    def forward(self, x):
        return x.reshape(tuple(x.shape[: self.start_dim]) + (-1,))


class Dropout(Module):
    """Inverted dropout with drop rate ``p`` in training mode; the identity in eval mode."""

    def __init__(self, p: float = 0.5, generator=None):
        super().__init__()
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"Dropout: p (the drop rate) must be in [0, 1), got {p}")
        self.p = float(p)
        self.generator = generator
        self.last_mask = None  # the most recent keep-mask, for the diagrams that grey units out

    def forward(self, x):
        if not self.training or self.p == 0:
            self.last_mask = None
            return x
        out = F.dropout(x, self.p, True, self.generator)
        self.last_mask = out.data != 0
        return out

    def extra_repr(self):
        return f"p={self.p}"


class Sequential(Module):
    """Modules applied in order; indexable, iterable and sized like a list."""

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {i} is {type(m).__name__}, not a Module")
            self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return Sequential(*mods[i]) if isinstance(i, slice) else mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of sub-modules whose parameters are registered."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, m: Module) -> "ModuleList":
        self.add_module(str(len(self._modules)), m)
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


# -- losses ------------------------------------------------------------------------------------
class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction


class MSELoss(_Loss):
    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, self.reduction, self.delta)


class CrossEntropyLoss(_Loss):
    def forward(self, input, target):
        return F.cross_entropy(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, reduction=self.reduction)


# -- convolution and pooling -------------------------------------------------------------------
class _ConvNd(Module):
    _dims = 2
    _fn = staticmethod(F.conv2d)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, dtype=np.float32, generator=None):
        super().__init__()
        d = self._dims
        k = (kernel_size,) * d if isinstance(kernel_size, int) else tuple(kernel_size)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: in_channels {in_channels} and "
                             f"out_channels {out_channels} must be divisible by groups {groups}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        fan_in = (in_channels // groups) * int(np.prod(k))
        bound = 1.0 / math.sqrt(fan_in)   # PyTorch's default: kaiming_uniform(a=sqrt(5))
        self.weight = Parameter(np.zeros((out_channels, in_channels // groups) + k, dtype))
        init.uniform_(self.weight, -bound, bound, generator)
        if bias:
            self.bias = Parameter(np.zeros(out_channels, dtype))
            init.uniform_(self.bias, -bound, bound, generator)
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return self._fn(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class Conv1d(_ConvNd):
    _dims = 1
    _fn = staticmethod(F.conv1d)


class Conv2d(_ConvNd):
    """2-D convolution layer (cross-correlation), weight ``(F, C/groups, kh, kw)``."""

    _dims = 2
    _fn = staticmethod(F.conv2d)


class Conv3d(_ConvNd):
    _dims = 3
    _fn = staticmethod(F.conv3d)


class ConvTranspose2d(Module):
    """Transposed 2-D convolution layer, weight ``(C_in, C_out/groups, kh, kw)``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, dtype=np.float32,
                 generator=None):
        super().__init__()
        k = (kernel_size,) * 2 if isinstance(kernel_size, int) else tuple(kernel_size)
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.groups, self.dilation = groups, dilation
        bound = 1.0 / math.sqrt((out_channels // groups) * int(np.prod(k)))
        self.weight = Parameter(np.zeros((in_channels, out_channels // groups) + k, dtype))
        init.uniform_(self.weight, -bound, bound, generator)
        if bias:
            self.bias = Parameter(np.zeros(out_channels, dtype))
            init.uniform_(self.bias, -bound, bound, generator)
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class AvgPool2d(MaxPool2d):
    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class GlobalAvgPool2d(Module):
    """``(N, C, H, W)`` -> ``(N, C)``: the mean of each feature map."""

    def forward(self, x):
        return F.global_avg_pool2d(x)
