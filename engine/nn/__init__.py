"""Neural-network building blocks on the autodiff core, shaped like ``torch.nn``.

* :mod:`engine.nn.functional` (imported as ``F``): stateless functions (``linear``,
  activations, ``dropout``, ``softmax``, the losses);
* :mod:`engine.nn.module`: ``Module`` and ``Parameter``;
* :mod:`engine.nn.layers`: ``Linear``, activation layers, ``Dropout``, ``Sequential``,
  ``ModuleList``, convolution and pooling layers, and the loss modules;
* :mod:`engine.nn.batchnorm`: ``BatchNorm1d``, ``BatchNorm2d`` (running statistics as buffers);
* :mod:`engine.nn.recurrent`: ``RNN``, ``LSTM``, ``GRU`` and their cells (PyTorch's layouts);
* :mod:`engine.nn.utils`: ``clip_grad_norm_``;
* :mod:`engine.nn.init`: initialisation schemes;
* :mod:`engine.nn.mlp`: the chapter-7 ``MLP`` with its JSON config;
* :mod:`engine.nn.cnn`: the chapter-9 ``SmallCNN``;
* :mod:`engine.nn.transformer`: ``LayerNorm``, ``Embedding``, ``MultiheadAttention`` and the
  transformer encoder/decoder layers (PyTorch's parameter names).
"""
from engine.nn import functional, init  # noqa: F401
from engine.nn.batchnorm import BatchNorm1d, BatchNorm2d  # noqa: F401
from engine.nn.layers import (  # noqa: F401
    ELU,
    AvgPool2d,
    BCELoss,
    BCEWithLogitsLoss,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    HuberLoss,
    Identity,
    L1Loss,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ModuleList,
    MSELoss,
    PReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from engine.nn.mlp import MLP, param_count  # noqa: F401
from engine.nn.module import Module, Parameter  # noqa: F401
from engine.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: F401
from engine.nn.transformer import (  # noqa: F401
    Embedding,
    LayerNorm,
    MultiheadAttention,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    causal_mask,
)
from engine.nn.utils import clip_grad_norm_  # noqa: F401
