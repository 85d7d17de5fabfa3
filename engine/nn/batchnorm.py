r"""Batch normalisation, PyTorch semantics and state-dict names.

.. math:: y = \gamma\,\frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta

per channel, with :math:`\mu, \sigma^2` taken over the batch (and spatial) axes.  In training
mode they are the batch's (biased variance), and the running estimates move towards them by
``momentum`` (the variance unbiased by :math:`n/(n-1)`); in eval mode the running estimates
are used, so an output no longer depends on its batch-mates.  The running estimates are
buffers: they travel in the state dict and across backends, and optimizers never see them.

Written from autodiff primitives, so it needs no backward of its own.  Not kept: PyTorch's
``num_batches_tracked`` counter (used only by ``momentum=None``); drop that key when loading a
PyTorch state dict.
"""
from __future__ import annotations

import numpy as np

from engine.autodiff import Tensor, no_grad
from engine.nn.module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    #: Accepted input ranks (with the batch axis).
    ranks: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        if int(num_features) < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be >= 1, got "
                             f"{num_features}")
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1], got "
                             f"{momentum}")
        if not float(eps) > 0:
            raise ValueError(f"{type(self).__name__}: eps must be > 0, got {eps}")
        c = self.num_features = int(num_features)
        self.eps, self.momentum = float(eps), float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if affine:
            self.weight = Parameter(np.ones(c, np.float32))
            self.bias = Parameter(np.zeros(c, np.float32))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(c, np.float32))
            self.register_buffer("running_var", np.ones(c, np.float32))

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if x.ndim not in self.ranks or x.shape[1] != self.num_features:
            raise ValueError(f"{name}({self.num_features}) takes input of rank "
                             f"{' or '.join(map(str, self.ranks))} with {self.num_features} "
                             f"channels on axis 1, got shape {tuple(x.shape)}")
        c = self.num_features
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, c) + (1,) * (x.ndim - 2)
        n = x.data.size // c
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            if self.training and n < 2:
                raise ValueError(f"{name}: training needs more than one value per channel "
                                 f"(got input shape {tuple(x.shape)})")
            mean = x.mean(axis=axes, keepdims=True)
            centred = x - mean
            var = (centred * centred).mean(axis=axes, keepdims=True)
            if self.training and self.track_running_stats:
                m = self.momentum
                with no_grad():
                    dt = self.running_mean.dtype
                    self.running_mean = ((1 - m) * self.running_mean
                                         + m * mean.data.reshape(c)).astype(dt)
                    self.running_var = ((1 - m) * self.running_var
                                        + m * var.data.reshape(c) * (n / (n - 1))).astype(dt)
        else:
            centred = x - self.running_mean.reshape(shape)
            var = Tensor(self.running_var.reshape(shape))
        out = centred * (var + self.eps) ** -0.5
        if self.affine:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        return out

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch norm over ``(N, C)`` or ``(N, C, L)`` inputs (statistics per channel ``C``)."""

    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over ``(N, C, H, W)`` inputs (statistics per channel ``C``)."""

    ranks = (4,)
