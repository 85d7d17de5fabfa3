"""Neural-network building blocks on the autodiff core.

:mod:`engine.nn.functional` (imported as ``F``) holds the stateless functions: ``linear``,
activations, ``softmax``/``log_softmax`` and the losses, with PyTorch's names and semantics.
"""
from engine.nn import functional  # noqa: F401
