"""``Module`` and ``Parameter``: PyTorch's container contract on the engine's tensors.

A module owns :class:`Parameter` tensors and child modules, found by attribute assignment (as
in PyTorch), so ``parameters()``, ``named_parameters()``, ``state_dict()`` and
``load_state_dict()`` need no bookkeeping by the layer author.  *Buffers*
(:meth:`Module.register_buffer`) are arrays that are state but not learned, such as batch
norm's running statistics: they travel in the state dict and across backends, and optimizers
never see them.  ``train()`` / ``eval()`` switch
layers such as dropout between their two behaviours.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

from engine import backend
from engine.autodiff.tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a learnable weight of a module: ``requires_grad`` is on by default."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and networks.

    Subclasses assign ``Parameter`` s and sub-modules as attributes in ``__init__`` (after
    calling ``super().__init__()``) and implement ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration ---------------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("call Module.__init__() before assigning attributes")
        if name in self._buffers:   # assigning a new array to a buffer keeps it a buffer
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` under ``name``; ``None`` records an absent optional weight (no bias)."""
        if param is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, array) -> None:
        """Add a non-learned state array (NumPy or CuPy) under ``name``, read as ``self.name``.

        Reassigning ``self.name = new_array`` later updates the buffer.
        """
        if name in self._parameters or name in self._modules:
            raise KeyError(f"{name!r} is already a parameter or a sub-module")
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    def add_module(self, name: str, module: "Module") -> None:
        setattr(self, name, module)

    # -- calling --------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- traversal ------------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator["Module"]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(dotted_name, parameter)`` pairs in registration order, each parameter once."""
        seen = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                if id(p) in seen:  # shared (tied) weights are reported once, as in PyTorch
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, object]]:
        """``(dotted_name, array)`` pairs of every buffer, in registration order."""
        for mod_name, mod in self.named_modules(prefix):
            for name, b in mod._buffers.items():
                yield (f"{mod_name}.{name}" if mod_name else name), b

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def num_parameters(self) -> int:
        """Total count of learnable numbers."""
        return sum(int(p.data.size) for p in self.parameters())

    # -- modes ----------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, object]":
        """Dotted name -> array for every parameter, then every buffer (live arrays, as PyTorch
        returns live tensors)."""
        out = OrderedDict((name, p.data) for name, p in self.named_parameters())
        out.update(self.named_buffers())
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers, after checking every name, shape and value.

        Nothing is changed unless the whole dict is valid, so a bad file leaves the model as it
        was.  Arrays are cast to each parameter's dtype and moved to its backend.

        Raises
        ------
        ValueError
            Missing or unexpected names (when ``strict``), a shape mismatch, or non-finite values.
        """
        params = {name: p.data for name, p in self.named_parameters()}
        params.update(self.named_buffers())
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in params]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected {', '.join(unexpected)}")
            raise ValueError("state dict does not match the model: " + "; ".join(parts))
        staged = {}
        for name, value in state_dict.items():
            if name not in params:
                continue
            p = params[name]
            arr = backend.to_numpy(value.data if isinstance(value, Tensor) else value)
            arr = np.asarray(arr)
            if arr.shape != tuple(p.shape):
                raise ValueError(f"state dict entry {name!r} has shape {arr.shape}, the model "
                                 f"needs {tuple(p.shape)}")
            if arr.dtype.kind not in "fiu":
                raise ValueError(f"state dict entry {name!r} has dtype {arr.dtype}; numbers "
                                 "are required")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"state dict entry {name!r} holds inf or NaN values")
            staged[name] = arr.astype(p.dtype, copy=False)
        for name, arr in staged.items():
            p = params[name]
            p[...] = backend.xp_of(p).asarray(arr)

    def to_backend(self, name: str) -> "Module":
        """Move every parameter (and gradient) and every buffer to backend ``name`` in place."""
        for p in self.parameters():
            p.data = backend.to_device(p.data, name)
            if p.grad is not None:
                p.grad.data = backend.to_device(p.grad.data, name)
        for m in self.modules():
            for key, b in list(m._buffers.items()):
                setattr(m, key, backend.to_device(b, name))
        return self

    # -- display --------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        if self._modules:
            for name, child in self._modules.items():
                sub = repr(child).replace("\n", "\n  ")
                lines.append(f"\n  ({name}): {sub}")
            lines.append("\n")
        return "".join(lines) + ")"
