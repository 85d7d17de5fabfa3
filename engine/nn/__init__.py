"""Neural-network building blocks on the autodiff core, shaped like ``torch.nn``.

* :mod:`engine.nn.functional` (imported as ``F``): stateless functions (``linear``,
  activations, ``dropout``, ``softmax``, the losses);
* :mod:`engine.nn.module`: ``Module`` and ``Parameter``;
* :mod:`engine.nn.layers`: ``Linear``, activation layers, ``Dropout``, ``Sequential``,
  ``ModuleList``, convolution and pooling layers, and the loss modules;
* :mod:`engine.nn.init`: initialisation schemes;
* :mod:`engine.nn.mlp`: the chapter-7 ``MLP`` with its JSON config.
"""
from engine.nn import functional, init  # noqa: F401
from engine.nn.layers import (  # noqa: F401
    ELU, AvgPool2d, Conv1d, Conv2d, Conv3d, ConvTranspose2d, GlobalAvgPool2d, MaxPool2d, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Flatten, HuberLoss, Identity,
    L1Loss, LeakyReLU, Linear, ModuleList, MSELoss, PReLU, ReLU, Sequential, Sigmoid, Softmax,
    Softplus, Tanh)
from engine.nn.mlp import MLP, param_count  # noqa: F401
from engine.nn.module import Module, Parameter  # noqa: F401
