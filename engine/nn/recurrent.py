r"""Recurrent layers (book ch. 10) with PyTorch's formulas, parameter names and layouts.

For input :math:`x_t` and the previous state :math:`h_{t-1}` (all products batched over ``N``):

* **RNN**: :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`,
  :math:`\phi` = tanh or ReLU.
* **LSTM** (gate rows in the order i, f, g, o):
  :math:`i, f, o = \sigma(\cdot)`, :math:`g = \tanh(\cdot)`,
  :math:`c_t = f \odot c_{t-1} + i \odot g`, :math:`h_t = o \odot \tanh c_t`.
  The additive path :math:`\partial c_t / \partial c_{t-1} = \mathrm{diag}(f_t)` is why its
  gradients survive long sequences.
* **GRU** (rows r, z, n; PyTorch's candidate, the reset gate applied *after* :math:`W_{hn}`):
  :math:`r, z = \sigma(\cdot)`,
  :math:`n = \tanh(W_{in} x_t + b_{in} + r \odot (W_{hn} h_{t-1} + b_{hn}))`,
  :math:`h_t = (1 - z) \odot n + z \odot h_{t-1}`.

Weights are ``weight_ih_l{k}`` ``(G·H, D)``, ``weight_hh_l{k}`` ``(G·H, H)`` and the two biases
(``_reverse`` for the backward direction), so PyTorch state dicts load as they are.  RNN and
GRU steps are built from autodiff primitives; an LSTM step is one fused node
(:class:`LSTMStep`) with its derivative written out.  Either way backpropagation through time,
gradients of any order and gradient checks come from the core.

Every forward pass also keeps, for the gate viewers, :attr:`_RNNBase.trace`: per layer and
direction the gates and states as NumPy arrays ``(T, N, H)``.
"""
from __future__ import annotations

import math

import numpy as np

from engine import backend
from engine.autodiff import Function, Tensor, concatenate, is_grad_enabled, stack
from engine.nn import functional as F
from engine.nn import init
from engine.nn.module import Module, Parameter

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]

#: Gate rows per hidden unit, and their names in PyTorch's order.
GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def _positive(name, v, who):
    if int(v) != v or v < 1:
        raise ValueError(f"{who}: {name} must be a positive integer, got {v}")
    return int(v)


def _sigmoid(xp, a):
    return 0.5 * (1.0 + xp.tanh(0.5 * a))          # no overflow for any input


class LSTMStep(Function):
    r"""One fused LSTM step: ``(xw, h, c, W_hh, b_hh) -> [h', c', i, f, g, o, tanh c']``,
    the seven ``(N, H)`` blocks side by side ``(N, 7H)``.

    A step built from primitives is about fifteen graph nodes; this is one, with the
    derivative written out (:math:`a` the gate pre-activations, :math:`\bar x` upstream
    gradients):

    .. math:: \bar c = \bar c' + \bar h'\, o\,(1 - \tanh^2 c'),\quad
              \bar a_i = \bar c\, g\, i(1-i),\ \bar a_f = \bar c\, c\, f(1-f),\
              \bar a_g = \bar c\, i\,(1-g^2),\ \bar a_o = \bar h' \tanh c'\, o(1-o),

    then :math:`\bar{xw} = \bar a`, :math:`\bar h = \bar a W_{hh}`,
    :math:`\bar W_{hh} = \bar a^\top h`, :math:`\bar b_{hh} = \sum_n \bar a` and
    :math:`\bar c_{prev} = \bar c\, f` (plus any gradient sent to the gate blocks
    themselves).  Backward runs on arrays; when the backward pass is itself recorded
    (``create_graph``) it runs on Tensors, so gradients of gradients still work.
    """

    name = "LSTMStep"
    save_output = True

    @staticmethod
    def forward(ctx, xw, h, c, w_hh, b_hh):
        xp = backend.xp_of(xw)
        H = h.shape[-1]
        pre = xw + h @ w_hh.T
        if b_hh is not None:
            pre = pre + b_hh
        i, f = _sigmoid(xp, pre[:, :H]), _sigmoid(xp, pre[:, H:2 * H])
        g, o = xp.tanh(pre[:, 2 * H:3 * H]), _sigmoid(xp, pre[:, 3 * H:])
        c2 = f * c + i * g
        tc = xp.tanh(c2)
        return xp.concatenate([o * tc, c2, i, f, g, o, tc], axis=1)

    @staticmethod
    def backward(ctx, gout):
        xw, h, c, w_hh, b_hh = ctx.inputs
        out = ctx.saved_output()
        if is_grad_enabled():               # a recorded backward: stay on Tensors
            raw, cat = False, concatenate
            gout_, out_, h_, c_, w_ = gout, out, h, c, w_hh
        else:
            xp = backend.xp_of(out.data)
            raw, cat = True, (lambda parts, axis: xp.concatenate(parts, axis=axis))
            gout_, out_, h_, c_, w_ = gout.data, out.data, h.data, c.data, w_hh.data
        H = h_.shape[-1]
        blk = [out_[:, k * H:(k + 1) * H] for k in range(7)]
        gb = [gout_[:, k * H:(k + 1) * H] for k in range(7)]
        _, _, i, f, g, o, tc = blk
        # Upstream: h', c', the gate blocks i, f, g, o and tanh c' (normally only h', c').
        dc = gb[1] + (gb[0] * o + gb[6]) * (1.0 - tc * tc)
        da = cat([(dc * g + gb[2]) * i * (1.0 - i),
                  (dc * c_ + gb[3]) * f * (1.0 - f),
                  (dc * i + gb[4]) * (1.0 - g * g),
                  (gb[0] * tc + gb[5]) * o * (1.0 - o)], axis=1)
        grads = [da, da @ w_, dc * f, da.T @ h_,
                 da.sum(axis=0) if b_hh is not None else None]
        if raw:
            grads = [None if a is None else Tensor(a) for a in grads]
        return tuple(gr if need else None for gr, need in zip(grads, ctx.needs_input_grad))


def _step(kind, act, xw, h, c, w_hh, b_hh, tensors=False):
    """One time step from the precomputed input part ``xw = W_ih x_t + b_ih`` ``(N, G·H)``.

    Returns ``(h, c, gates)``: ``c`` is None except for the LSTM; ``gates`` maps names to
    ``(N, H)`` blocks, Tensors when ``tensors`` (cells hand them out) or else arrays where
    that saves graph nodes (the sequence loop only records them).
    """
    H = h.shape[-1]
    if kind == "lstm":
        if b_hh is None:      # a layer without biases: a constant zero, no gradient
            b_hh = Tensor(backend.xp_of(xw.data).zeros(4 * H, dtype=xw.data.dtype))
        out = LSTMStep.apply(xw, h, c, w_hh, b_hh)
        h, c = out[:, :H], out[:, H:2 * H]
        src = out if tensors else out.data
        gates = {name: src[:, k * H:(k + 1) * H] for k, name in enumerate("ifgo", 2)}
        return h, c, dict(gates, c=c if tensors else c.data, h=h if tensors else h.data)
    hw = F.linear(h, w_hh, b_hh)
    if kind == "rnn":
        z = xw + hw
        h = z.tanh() if act == "tanh" else F.relu(z)
        return h, None, {"h": h}
    r = (xw[..., 0:H] + hw[..., 0:H]).sigmoid()
    z = (xw[..., H:2 * H] + hw[..., H:2 * H]).sigmoid()
    n = (xw[..., 2 * H:] + r * hw[..., 2 * H:]).tanh()
    h = (1 - z) * n + z * h
    return h, None, {"r": r, "z": z, "n": n, "h": h}


class _RNNBase(Module):
    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 bidirectional: bool = False, dtype=np.float32, generator=None):
        super().__init__()
        who = type(self).__name__
        self.input_size = _positive("input_size", input_size, who)
        self.hidden_size = H = _positive("hidden_size", hidden_size, who)
        self.num_layers = _positive("num_layers", num_layers, who)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{who}: nonlinearity must be tanh or relu, got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.directions = 2 if bidirectional else 1
        rows = len(GATES[self.kind]) * H
        bound = 1.0 / math.sqrt(H)          # PyTorch: every weight and bias ~ U(+-1/sqrt(H))
        for layer in range(self.num_layers):
            d_in = self.input_size if layer == 0 else H * self.directions
            for suffix in self._suffixes(layer):
                shapes = {"weight_ih": (rows, d_in), "weight_hh": (rows, H)}
                if bias:
                    shapes.update(bias_ih=(rows,), bias_hh=(rows,))
                for name, shape in shapes.items():
                    p = Parameter(np.zeros(shape, dtype=dtype))
                    init.uniform_(p, -bound, bound, generator)
                    setattr(self, name + suffix, p)
        #: Gates and states of the last forward pass, ``trace[layer][direction][name]`` a NumPy
        #: array ``(T, N, H)`` (``N`` = 1 for an unbatched input).
        self.trace: list = []
        #: The top layer's forward-direction states of the last pass, one Tensor ``(N, H)``
        #: per step: pass them to :func:`engine.autodiff.grad` to see how
        #: :math:`\partial L / \partial h_t` shrinks or grows back through time.
        self.states: list = []

    def _suffixes(self, layer):
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.bidirectional else [])

    def _weights(self, suffix):
        get = lambda name: getattr(self, name + suffix, None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _check(self, x, hx):
        who = type(self).__name__
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{who}: input must be (T, N, {self.input_size}) "
                             f"({'(N, T, ...)' if self.batch_first else 'time first'}) or "
                             f"unbatched (T, {self.input_size}); got {tuple(x.shape)}")
        n = 1 if x.ndim == 2 else x.shape[0 if self.batch_first else 1]
        want = (self.num_layers * self.directions, n, self.hidden_size)
        states = (hx if isinstance(hx, tuple) else (hx,)) if hx is not None else ()
        if self.kind == "lstm" and hx is not None and not isinstance(hx, tuple):
            raise ValueError(f"{who}: the initial state is a pair (h0, c0)")
        for s in states:
            shape = tuple(s.shape) if s.ndim == 3 else (s.shape[0], 1) + tuple(s.shape[1:])
            if shape != want:
                raise ValueError(f"{who}: an initial state must have shape {want}, got "
                                 f"{tuple(s.shape)}")

    def forward(self, input, hx=None):
        """Run the sequence.

        Parameters
        ----------
        input : Tensor
            ``(T, N, D)``; ``(N, T, D)`` when ``batch_first``; or unbatched ``(T, D)``.
        hx : Tensor or (Tensor, Tensor), optional
            Initial state(s) ``(layers·directions, N, H)`` (LSTM: ``(h0, c0)``); zeros if None.

        Returns
        -------
        output : Tensor
            Top layer's states for every step, ``(T, N, directions·H)`` (batch-first or
            unbatched like the input).
        h_n : Tensor or (Tensor, Tensor)
            Final states ``(layers·directions, N, H)``; for the LSTM ``(h_n, c_n)``.
        """
        x = input if isinstance(input, Tensor) else Tensor(input)
        self._check(x, hx)
        unbatched = x.ndim == 2
        if unbatched:
            x = x.reshape(x.shape[0], 1, x.shape[1])
            if hx is not None:
                hx = tuple(s.reshape(s.shape[0], 1, s.shape[1]) for s in hx) \
                    if isinstance(hx, tuple) else hx.reshape(hx.shape[0], 1, hx.shape[1])
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        T, N = x.shape[0], x.shape[1]
        H = self.hidden_size
        xp = backend.xp_of(x.data)
        zeros = Tensor(xp.zeros((N, H), dtype=x.data.dtype))
        h0 = hx[0] if isinstance(hx, tuple) else hx
        c0 = hx[1] if isinstance(hx, tuple) else None
        finals_h, finals_c, self.trace = [], [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs, traces = [], []
            for d, suffix in enumerate(self._suffixes(layer)):
                k = layer * self.directions + d
                w_ih, w_hh, b_ih, b_hh = self._weights(suffix)
                h = h0[k] if h0 is not None else zeros
                c = (c0[k] if c0 is not None else zeros) if self.kind == "lstm" else None
                if layer_in.requires_grad:
                    # Every step's input part in one product (the slices' gradients add up).
                    xw = F.linear(layer_in, w_ih, b_ih)
                    x_part = xw.__getitem__
                else:
                    # Plain data in: slicing it records nothing, so take one product per step
                    # and spare backward a full-size scatter per step (O(T^2) for long T).
                    x_part = lambda t: F.linear(layer_in[t], w_ih, b_ih)  # noqa: E731
                order = range(T - 1, -1, -1) if d == 1 else range(T)
                hs, gates = [None] * T, {g: [None] * T for g in self._trace_names()}
                for t in order:
                    h, c, gt = _step(self.kind, self.nonlinearity, x_part(t), h, c, w_hh, b_hh)
                    hs[t] = h
                    for g in gates:
                        gates[g][t] = getattr(gt[g], "data", gt[g])
                if d == 0:
                    self.states = hs
                outs.append(stack(hs, axis=0))
                finals_h.append(h)
                if c is not None:
                    finals_c.append(c)
                traces.append({g: backend.to_numpy(xp.stack(v)) for g, v in gates.items()})
            layer_in = outs[0] if len(outs) == 1 else concatenate(outs, axis=-1)
            self.trace.append(traces)
        output = layer_in
        h_n = stack(finals_h, axis=0)
        c_n = stack(finals_c, axis=0) if finals_c else None
        if unbatched:
            output = output.reshape(T, output.shape[-1])
            h_n = h_n.reshape(h_n.shape[0], H)
            c_n = c_n.reshape(c_n.shape[0], H) if c_n is not None else None
        elif self.batch_first:
            output = output.transpose(1, 0, 2)
        return output, ((h_n, c_n) if self.kind == "lstm" else h_n)

    def _trace_names(self):
        return GATES[self.kind] + (("c", "h") if self.kind == "lstm" else
                                   ("h",) if self.kind == "gru" else ())

    def extra_repr(self):
        extra = f", nonlinearity={self.nonlinearity}" if self.kind == "rnn" else ""
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}{extra}, "
                f"batch_first={self.batch_first}, bidirectional={self.bidirectional}")


class RNN(_RNNBase):
    """Elman RNN, :math:`h_t = \\phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`."""

    kind = "rnn"


class LSTM(_RNNBase):
    """Long short-term memory; ``forward`` returns ``(output, (h_n, c_n))``."""

    kind = "lstm"


class GRU(_RNNBase):
    """Gated recurrent unit (PyTorch's form: the reset gate scales :math:`W_{hn} h + b_{hn}`)."""

    kind = "gru"


class _CellBase(Module):
    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype=np.float32, generator=None):
        super().__init__()
        who = type(self).__name__
        self.input_size = _positive("input_size", input_size, who)
        self.hidden_size = H = _positive("hidden_size", hidden_size, who)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{who}: nonlinearity must be tanh or relu, got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        rows = len(GATES[self.kind]) * H
        bound = 1.0 / math.sqrt(H)
        shapes = {"weight_ih": (rows, self.input_size), "weight_hh": (rows, H)}
        if bias:
            shapes.update(bias_ih=(rows,), bias_hh=(rows,))
        for name, shape in shapes.items():
            p = Parameter(np.zeros(shape, dtype=dtype))
            init.uniform_(p, -bound, bound, generator)
            setattr(self, name, p)
        if not bias:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        #: The gates of the last call, Tensors ``(N, H)`` by name.
        self.gates: dict = {}

    def forward(self, input, hx=None):
        """One step: ``input (N, D)`` (or ``(D,)``), state ``(N, H)`` (LSTM: ``(h, c)``)."""
        x = input if isinstance(input, Tensor) else Tensor(input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input must be (N, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(x.shape)}")
        single = x.ndim == 1
        if single:
            x = x.reshape(1, self.input_size)
        xp = backend.xp_of(x.data)
        zeros = Tensor(xp.zeros((x.shape[0], self.hidden_size), dtype=x.data.dtype))
        if self.kind == "lstm":
            h, c = hx if hx is not None else (zeros, zeros)
        else:
            h, c = (hx if hx is not None else zeros), None
        if single and hx is not None:
            h = h.reshape(1, self.hidden_size)
            c = c.reshape(1, self.hidden_size) if c is not None else None
        xw = F.linear(x, self.weight_ih, self.bias_ih)
        h, c, self.gates = _step(self.kind, self.nonlinearity, xw, h, c, self.weight_hh,
                                 self.bias_hh, tensors=True)
        if single:
            h = h.reshape(self.hidden_size)
            c = c.reshape(self.hidden_size) if c is not None else None
        return (h, c) if self.kind == "lstm" else h


class RNNCell(_CellBase):
    kind = "rnn"


class LSTMCell(_CellBase):
    kind = "lstm"


class GRUCell(_CellBase):
    kind = "gru"
