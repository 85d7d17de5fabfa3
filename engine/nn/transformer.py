r"""Attention modules with PyTorch's names and parameter layout (book ch. 11).

``MultiheadAttention`` keeps PyTorch's ``in_proj_weight (3E, E)``, ``in_proj_bias (3E,)`` and
``out_proj``, and the encoder/decoder layers keep ``self_attn``, ``linear1/2``, ``norm1/2/3``,
so a ``torch.nn`` module's ``state_dict`` loads as it is (that is how the parity tests work).

Multi-head attention, for ``h`` heads of width :math:`d_k = E/h`:

.. math:: \mathrm{head}_i = \mathrm{softmax}\Big(\frac{(XW_i^Q)(YW_i^K)^\top}{\sqrt{d_k}}
          + M\Big)\,Y W_i^V, \qquad \mathrm{MHA} = [\mathrm{head}_1, \dots,
          \mathrm{head}_h]\,W^O
"""
from __future__ import annotations

import math

import numpy as np

from engine.autodiff.tensor import Tensor
from engine.nn import functional as F
from engine.nn import init
from engine.nn.layers import Dropout, Linear
from engine.nn.module import Module, Parameter


class LayerNorm(Module):
    """Normalise the last axes to zero mean and unit variance, then scale and shift."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 dtype=np.float32):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) \
            else tuple(normalized_shape)
        self.eps = eps
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype))
            self.bias = Parameter(np.zeros(self.normalized_shape, dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim`` (init N(0, 1))."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype=np.float32,
                 generator=None):
        super().__init__()
        self.weight = Parameter(np.zeros((num_embeddings, embedding_dim), dtype))
        init.normal_(self.weight, 0.0, 1.0, generator)

    def forward(self, idx):
        return F.embedding(idx, self.weight)


class MultiheadAttention(Module):
    """PyTorch's ``nn.MultiheadAttention`` (no bias_kv / add_zero_attn / kdim options).

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns ``(output, weights)``; weights are
    ``(N, L, S)`` averaged over heads, or ``(N, heads, L, S)`` with
    ``average_attn_weights=False`` (what the attention panels draw).
    ``key_padding_mask (N, S)``: ``True`` marks padding to ignore (PyTorch's convention).
    ``attn_mask (L, S)``: boolean ``True`` = *blocked* (PyTorch's convention for this module)
    or additive float.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, dtype=np.float32, generator=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.batch_first, self.dropout = batch_first, dropout
        self.in_proj_weight = Parameter(np.zeros((3 * embed_dim, embed_dim), dtype))
        init.xavier_uniform_(self.in_proj_weight, generator=generator)
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype, generator=generator)
        if bias:
            init.zeros_(self.out_proj.bias)
        self.generator = generator

    def _project(self, x, i):
        e = self.embed_dim
        w = self.in_proj_weight[i * e:(i + 1) * e]
        b = None if self.in_proj_bias is None else self.in_proj_bias[i * e:(i + 1) * e]
        return F.linear(x, w, b)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False, scale=None):
        # ``scale`` (not in PyTorch's module, but in its SDPA) overrides 1/sqrt(d_k): the
        # attention labs use it for the book's 1/sqrt(n) variant and for a softmax temperature.
        if not self.batch_first:     # (L, N, E) -> (N, L, E)
            query, key, value = (t.swapaxes(0, 1) for t in (query, key, value))
        n, L, e = query.shape
        S = key.shape[1]
        h, d = self.num_heads, self.head_dim

        def heads(t, length):        # (N, T, E) -> (N, h, T, d)
            return t.reshape(n, length, h, d).swapaxes(1, 2)

        q = heads(self._project(query, 0), L)
        k = heads(self._project(key, 1), S)
        v = heads(self._project(value, 2), S)
        xp = q.xp
        allowed = None
        if attn_mask is not None:
            m = attn_mask.data if isinstance(attn_mask, Tensor) else xp.asarray(attn_mask)
            allowed = ~m if m.dtype == bool else None
            additive = None if m.dtype == bool else m
        if key_padding_mask is not None:
            kp = key_padding_mask.data if isinstance(key_padding_mask, Tensor) \
                else xp.asarray(key_padding_mask)
            keep = ~kp.astype(bool)[:, None, None, :]              # (N, 1, 1, S)
            allowed = keep if allowed is None else (allowed & keep)
        mask = allowed
        if attn_mask is not None and additive is not None:
            mask = additive if allowed is None else \
                xp.where(allowed, additive, -np.inf).astype(additive.dtype)
        out, w = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=is_causal,
            dropout_p=self.dropout if self.training else 0.0, need_weights=True,
            generator=self.generator, scale=scale)
        out = self.out_proj(out.swapaxes(1, 2).reshape(n, L, e))
        if not self.batch_first:
            out = out.swapaxes(0, 1)
        if not need_weights:
            return out, None
        return out, (w.mean(axis=1) if average_attn_weights else w)


def _activation(name):
    if name == "relu":
        return F.relu
    if name == "gelu_tanh":
        return lambda x: 0.5 * x * (1.0 + F.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    raise ValueError(f"activation must be 'relu' or 'gelu_tanh', got {name!r}")


class TransformerEncoderLayer(Module):
    """Self-attention + feed-forward, each with a residual connection and layer norm
    (post-norm by default, as the original transformer and PyTorch; ``norm_first`` for
    pre-norm).  ``last_weights`` keeps the latest per-head attention weights."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.0, activation: str = "relu", batch_first: bool = True,
                 norm_first: bool = False, dtype=np.float32, generator=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, batch_first=batch_first,
                                            dtype=dtype, generator=generator)
        self.linear1 = Linear(d_model, dim_feedforward, dtype=dtype, generator=generator)
        self.linear2 = Linear(dim_feedforward, d_model, dtype=dtype, generator=generator)
        self.norm1 = LayerNorm(d_model, dtype=dtype)
        self.norm2 = LayerNorm(d_model, dtype=dtype)
        self.dropout1 = Dropout(dropout, generator)
        self.dropout2 = Dropout(dropout, generator)
        self.dropout = Dropout(dropout, generator)
        self.act = _activation(activation)
        self.norm_first = norm_first
        self.last_weights = None

    def _sa(self, x, attn_mask, key_padding_mask, is_causal, scale=None):
        out, w = self.self_attn(x, x, x, key_padding_mask=key_padding_mask,
                                attn_mask=attn_mask, average_attn_weights=False,
                                is_causal=is_causal, scale=scale)
        self.last_weights = w
        return self.dropout1(out)

    def _ff(self, x):
        return self.dropout2(self.linear2(self.dropout(self.act(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False,
                scale=None):
        x = src
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal, scale)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal, scale))
        return self.norm2(x + self._ff(x))


class TransformerDecoderLayer(Module):
    """Masked self-attention, encoder-decoder (cross) attention and feed-forward, each with a
    residual and layer norm (PyTorch's layout).  ``last_self_weights`` and
    ``last_cross_weights`` keep the latest per-head weights."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.0, activation: str = "relu", batch_first: bool = True,
                 norm_first: bool = False, dtype=np.float32, generator=None):
        super().__init__()
        kw = dict(batch_first=batch_first, dtype=dtype, generator=generator)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, dtype=dtype, generator=generator)
        self.linear2 = Linear(dim_feedforward, d_model, dtype=dtype, generator=generator)
        self.norm1 = LayerNorm(d_model, dtype=dtype)
        self.norm2 = LayerNorm(d_model, dtype=dtype)
        self.norm3 = LayerNorm(d_model, dtype=dtype)
        self.dropout1 = Dropout(dropout, generator)
        self.dropout2 = Dropout(dropout, generator)
        self.dropout3 = Dropout(dropout, generator)
        self.dropout = Dropout(dropout, generator)
        self.act = _activation(activation)
        self.norm_first = norm_first
        self.last_self_weights = self.last_cross_weights = None

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False,
                memory_is_causal=False):
        def sa(x):
            out, w = self.self_attn(x, x, x, key_padding_mask=tgt_key_padding_mask,
                                    attn_mask=tgt_mask, average_attn_weights=False,
                                    is_causal=tgt_is_causal)
            self.last_self_weights = w
            return self.dropout1(out)

        def ca(x):
            out, w = self.multihead_attn(x, memory, memory,
                                         key_padding_mask=memory_key_padding_mask,
                                         attn_mask=memory_mask, average_attn_weights=False,
                                         is_causal=memory_is_causal)
            self.last_cross_weights = w
            return self.dropout2(out)

        def ff(x):
            return self.dropout3(self.linear2(self.dropout(self.act(self.linear1(x)))))

        x = tgt
        if self.norm_first:
            x = x + sa(self.norm1(x))
            x = x + ca(self.norm2(x))
            return x + ff(self.norm3(x))
        x = self.norm1(x + sa(x))
        x = self.norm2(x + ca(x))
        return self.norm3(x + ff(x))


def causal_mask(length: int) -> np.ndarray:
    """Boolean ``(L, L)`` mask for ``MultiheadAttention``: ``True`` above the diagonal
    (the future is blocked), PyTorch's ``nn.Transformer.generate_square_subsequent_mask``
    in boolean form."""
    return np.triu(np.ones((length, length), dtype=bool), 1)
