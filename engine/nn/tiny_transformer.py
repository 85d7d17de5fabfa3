r"""A tiny encoder-only transformer for toy sequence tasks (book ch. 11.4).

Tokens :math:`x \in \{0..V-1\}^L` are embedded, a positional code is added, ``layers``
encoder layers (multi-head self-attention and a ReLU feed-forward net, each with a residual
connection and layer norm) mix the positions, and a linear head gives per-position logits:

.. math:: H^{(0)} = E[x] + P_{0:L}, \qquad
          H^{(l)} = \mathrm{EncoderLayer}_l\big(H^{(l-1)}\big), \qquad
          Z = H^{(n)} W_{out}^\top + b_{out} \in \mathbb R^{L \times V_{out}}

with attention :math:`\mathrm{softmax}(s\,QK^\top + M)V` per head.  The score scale :math:`s`
is :math:`1/\sqrt{d_k}` (the correct one, erratum E1), or, to compare, :math:`1` or the
book's :math:`1/\sqrt{n}` (``n`` the sequence length); a temperature :math:`T` divides it
at call time.  :math:`M` is the optional causal mask (query ``i`` sees keys ``j <= i``).

The positional code :math:`P` is the fixed sinusoid
:math:`P_{p,2i} = \sin(p / 10000^{2i/d})`, :math:`P_{p,2i+1} = \cos(p / 10000^{2i/d})`, a
learned ``(max_len, d)`` table, or absent.  Without it self-attention is permutation
equivariant: permuting the input permutes the outputs the same way, so the model can copy
but cannot reverse or sort.

Like the other networks the model is described by a JSON-able config, which model files
store; the encoder layers keep PyTorch's parameter names.
"""
from __future__ import annotations

import math

import numpy as np

from engine import backend
from engine.autodiff.tensor import Tensor
from engine.nn import functional as F
from engine.nn import init
from engine.nn.layers import Linear, ModuleList
from engine.nn.module import Module, Parameter
from engine.nn.transformer import Embedding, TransformerEncoderLayer

POSITIONAL = ("sinusoidal", "learned", "none")
#: Attention score scales: ``sqrt_dk`` divides by sqrt(d_k) (correct), ``1`` does not scale,
#: ``sqrt_n`` divides by sqrt(sequence length) (the book's printed formula, erratum E1).
SCALES = ("sqrt_dk", "1", "sqrt_n")
MAX_VOCAB = 64
MAX_LEN = 256
MAX_D_MODEL = 512
MAX_HEADS = 16
MAX_LAYERS = 8
MAX_FF = 4096


def attention_scale(mode: str, d_k: int, length: int, temperature: float = 1.0) -> float:
    r"""The factor :math:`s/T` that multiplies :math:`QK^\top` before the softmax.

    Parameters
    ----------
    mode : {'sqrt_dk', '1', 'sqrt_n'}
        :math:`s = 1/\sqrt{d_k}`, :math:`1` or :math:`1/\sqrt{n}`.
    d_k : int
        Width of one head, ``d_model / heads``.
    length : int
        Sequence length :math:`n` (used by ``sqrt_n`` only).
    temperature : float, > 0
        :math:`T`; above 1 flattens the attention weights, below 1 sharpens them.
    """
    if mode not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {mode!r}")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature)
            and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    base = {"sqrt_dk": 1.0 / math.sqrt(d_k), "1": 1.0, "sqrt_n": 1.0 / math.sqrt(length)}[mode]
    return base / float(temperature)


def validate_transformer_config(config) -> dict:
    """Check a tiny-transformer config (from code or a file); ``ValueError`` names the field.

    Keys: ``vocab``, ``out_vocab``, ``d_model``, ``heads``, ``layers``, ``max_len``, ``ff``
    (integers), ``pos`` (one of :data:`POSITIONAL`), ``scale`` (one of :data:`SCALES`) and
    ``causal`` (bool).  ``out_vocab`` defaults to ``vocab``, ``ff`` to ``2 * d_model``.
    """
    if not isinstance(config, dict):
        raise ValueError("transformer config must be a JSON object")
    known = {"vocab", "out_vocab", "d_model", "heads", "layers", "max_len", "ff", "pos",
             "scale", "causal"}
    extra = sorted(set(config) - known)
    if extra:
        raise ValueError(f"unknown transformer config keys: {', '.join(extra)}")

    def integer(name, lo, hi, default=None):
        value = config.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not lo <= value <= hi:
            raise ValueError(f"{name} must be an integer {lo}..{hi}, got {value!r}")
        return int(value)

    vocab = integer("vocab", 2, MAX_VOCAB)
    out_vocab = integer("out_vocab", 2, MAX_VOCAB + MAX_LEN, vocab)
    d_model = integer("d_model", 2, MAX_D_MODEL)
    heads = integer("heads", 1, MAX_HEADS)
    if d_model % heads:
        raise ValueError(f"d_model {d_model} must be divisible by heads {heads} (each head "
                         "gets d_k = d_model / heads dimensions)")
    layers = integer("layers", 1, MAX_LAYERS)
    max_len = integer("max_len", 1, MAX_LEN)
    ff = integer("ff", 1, MAX_FF, 2 * d_model)
    pos = config.get("pos", "sinusoidal")
    if pos not in POSITIONAL:
        raise ValueError(f"pos must be one of {', '.join(POSITIONAL)}, got {pos!r}")
    if pos == "sinusoidal" and d_model % 2:
        raise ValueError(f"sinusoidal positions need an even d_model, got {d_model}")
    scale = config.get("scale", "sqrt_dk")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    causal = config.get("causal", False)
    if not isinstance(causal, bool):
        raise ValueError(f"causal must be true or false, got {causal!r}")
    return {"vocab": vocab, "out_vocab": out_vocab, "d_model": d_model, "heads": heads,
            "layers": layers, "max_len": max_len, "ff": ff, "pos": pos, "scale": scale,
            "causal": causal}


class TinyTransformer(Module):
    """Embedding + positions -> ``layers`` post-norm encoder layers -> linear head.

    Parameters
    ----------
    vocab : int
        Input vocabulary :math:`V` (tokens ``0..V-1``).
    d_model : int
        Model width :math:`d`; divisible by ``heads`` (and even for sinusoidal positions).
    heads : int
        Attention heads :math:`h`, each of width :math:`d_k = d/h`.
    layers : int
        Encoder layers.
    max_len : int
        Longest sequence the model reads (rows of the positional table).
    pos : {'sinusoidal', 'learned', 'none'}
    ff : int, optional
        Hidden width of each feed-forward net (default ``2 * d_model``).
    out_vocab : int, optional
        Output classes (default ``vocab``; counting tasks need more).
    scale : {'sqrt_dk', '1', 'sqrt_n'}
        Attention score scale (see :func:`attention_scale`).
    causal : bool
        Mask the future in every self-attention layer.
    generator : numpy.random.Generator, optional
        Source of the initial weights.
    """

    def __init__(self, vocab: int, d_model: int = 32, heads: int = 2, layers: int = 2,
                 max_len: int = 16, pos: str = "sinusoidal", ff: int | None = None,
                 out_vocab: int | None = None, scale: str = "sqrt_dk", causal: bool = False,
                 generator=None, dtype=np.float32):
        super().__init__()
        cfg = {"vocab": vocab, "d_model": d_model, "heads": heads, "layers": layers,
               "max_len": max_len, "pos": pos, "scale": scale, "causal": causal}
        if ff is not None:
            cfg["ff"] = ff
        if out_vocab is not None:
            cfg["out_vocab"] = out_vocab
        self.config = validate_transformer_config(cfg)
        c = self.config
        gen = generator if generator is not None else np.random.default_rng()
        self.embed = Embedding(c["vocab"], c["d_model"], dtype=dtype, generator=gen)
        if c["pos"] == "learned":
            # Same N(0, 1) scale as the token embedding, so neither drowns the other at start.
            self.pos_embed = Parameter(np.zeros((c["max_len"], c["d_model"]), dtype))
            init.normal_(self.pos_embed, 0.0, 1.0, gen)
        self._sinusoid = F.sinusoidal_positions(c["max_len"], c["d_model"]).astype(dtype) \
            if c["pos"] == "sinusoidal" else None
        self.layers = ModuleList([
            TransformerEncoderLayer(c["d_model"], c["heads"], c["ff"], dropout=0.0,
                                    batch_first=True, dtype=dtype, generator=gen)
            for _ in range(c["layers"])])
        self.head = Linear(c["d_model"], c["out_vocab"], dtype=dtype, generator=gen)

    @classmethod
    def from_config(cls, config: dict, generator=None) -> TinyTransformer:
        return cls(generator=generator, **validate_transformer_config(config))

    @property
    def head_dim(self) -> int:
        """:math:`d_k = d_{model} / h`."""
        return self.config["d_model"] // self.config["heads"]

    def positional_encoding(self, length: int | None = None) -> np.ndarray:
        """The positional code :math:`P_{0:length}` added to the embeddings, NumPy
        ``(length, d_model)`` (zeros for ``pos='none'``)."""
        c = self.config
        length = c["max_len"] if length is None else int(length)
        if not 1 <= length <= c["max_len"]:
            raise ValueError(f"length must be 1..{c['max_len']}, got {length}")
        if c["pos"] == "learned":
            return backend.to_numpy(self.pos_embed.data[:length]).copy()
        if c["pos"] == "sinusoidal":
            return self._sinusoid[:length].copy()
        return np.zeros((length, c["d_model"]), np.float32)

    def scale_for(self, length: int, temperature: float = 1.0) -> float:
        """The score factor :math:`s/T` this model uses for sequences of ``length``."""
        return attention_scale(self.config["scale"], self.head_dim, length, temperature)

    def forward(self, tokens, return_attention: bool = False, temperature: float = 1.0):
        """Per-position logits of integer ``tokens``.

        Parameters
        ----------
        tokens : array of int, shape (N, L), L <= max_len
        return_attention : bool
            Also return each layer's attention weights.
        temperature : float, > 0
            Divides the attention scores' scale (1 = as trained).

        Returns
        -------
        logits : Tensor, shape (N, L, out_vocab)
        weights : list of Tensor, each (N, heads, L, L)
            Only with ``return_attention``; row ``i`` of a head is the distribution query
            ``i`` puts over the keys (it sums to 1).
        """
        xp = backend.xp_of(self.embed.weight.data)
        idx = tokens.data if isinstance(tokens, Tensor) else xp.asarray(tokens)
        if idx.ndim != 2:
            raise ValueError(f"tokens must be an (N, L) integer array, got shape {idx.shape}")
        length = idx.shape[1]
        if not 1 <= length <= self.config["max_len"]:
            raise ValueError(f"sequence length {length} is outside 1..{self.config['max_len']}"
                             " (the model's max_len)")
        h = self.embed(idx)                                            # (N, L, d)
        if self.config["pos"] == "learned":
            h = h + self.pos_embed[:length]
        elif self.config["pos"] == "sinusoidal":
            h = h + Tensor(xp.asarray(self._sinusoid[:length]))
        scale = self.scale_for(length, temperature)
        weights = []
        for layer in self.layers:
            h = layer(h, is_causal=self.config["causal"], scale=scale)
            weights.append(layer.last_weights)
        logits = self.head(h)
        return (logits, weights) if return_attention else logits
