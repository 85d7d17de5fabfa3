"""Attention engine (ch. 11): the spec's vectors, masks, gradient checks and PyTorch parity of
SDPA, MultiheadAttention, LayerNorm, Embedding and the encoder/decoder layers."""
from __future__ import annotations

import numpy as np
import pytest

from engine import nn
from engine.autodiff import Tensor, gradcheck
from engine.nn import functional as F

Q = np.array([[1.0, 0, 1, 0], [0, 1, 0, 1]])
K = np.array([[1.0, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]])
V = np.array([[1.0, 0], [0, 1], [1, 1]])


def test_sdpa_spec_vector_uses_sqrt_dk():
    out, w = F.scaled_dot_product_attention(Tensor(Q), Tensor(K), Tensor(V), need_weights=True)
    np.testing.assert_allclose(w.data, [[.42232, .15536, .42232], [.15536, .42232, .42232]],
                               atol=5e-6)
    np.testing.assert_allclose(out.data, [[.84464, .57768], [.57768, .84464]], atol=5e-6)
    _, wb = F.scaled_dot_product_attention(Tensor(Q), Tensor(K), Tensor(V), scale=3 ** -0.5,
                                           need_weights=True)
    np.testing.assert_allclose(wb.data[0], [.43194, .13613, .43194], atol=5e-6)   # book's √n


def test_causal_mask_gives_exactly_zero_weight_to_the_future():
    s = np.arange(9.0).reshape(3, 3) / 3
    # With q = s rows and k = identity the scores are s itself (scale 1).
    _, w = F.scaled_dot_product_attention(Tensor(s), Tensor(np.eye(3)), Tensor(np.eye(3)),
                                          is_causal=True, scale=1.0, need_weights=True)
    np.testing.assert_allclose(w.data, [[1, 0, 0], [.41743, .58257, 0],
                                        [.23024, .32132, .44844]], atol=5e-6)
    assert np.all(w.data[np.triu_indices(3, 1)] == 0.0)
    g = np.random.default_rng(0)
    q, k, v = (Tensor(g.normal(size=(2, 6, 4))) for _ in range(3))
    _, w2 = F.scaled_dot_product_attention(q, k, v, attn_mask=~nn.causal_mask(6),
                                           need_weights=True)
    assert np.all(w2.data[:, np.triu(np.ones((6, 6), bool), 1)] == 0.0)


def test_layer_norm_and_positional_encoding_vectors():
    y = F.layer_norm(Tensor(np.array([1.0, 2, 3, 4])), 4, eps=0.0)
    np.testing.assert_allclose(y.data, [-1.34164, -.44721, .44721, 1.34164], atol=5e-6)
    pe = F.sinusoidal_positions(4, 4)
    np.testing.assert_allclose(pe[1:], [[.84147, .54030, .01000, .99995],
                                        [.90930, -.41615, .02000, .99980],
                                        [.14112, -.98999, .03000, .99955]], atol=5e-6)


def test_embedding_gradient_accumulates_repeated_rows():
    w = Tensor(np.random.default_rng(0).normal(size=(6, 3)), requires_grad=True)
    F.embedding(np.array([[1, 4, 1], [0, 1, 5]]), w).sum().backward()
    np.testing.assert_array_equal(w.grad.data[:, 0], [1, 3, 0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"\[0, 5\]"):
        F.embedding(np.array([6]), w)
    with pytest.raises(ValueError, match="integers"):
        F.embedding(np.array([0.5]), w)


def test_gradchecks():
    g = np.random.default_rng(1)
    q, k, v = (Tensor(g.normal(size=(2, 3, 4)), requires_grad=True) for _ in range(3))
    gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
              [q, k, v])
    x = Tensor(g.normal(size=(3, 5)), requires_grad=True)
    ga = Tensor(g.normal(size=5), requires_grad=True)
    be = Tensor(g.normal(size=5), requires_grad=True)
    gradcheck(lambda x, a, b: F.layer_norm(x, 5, a, b), [x, ga, be])
    m = nn.MultiheadAttention(4, 2, batch_first=True, dtype=np.float64,
                              generator=np.random.default_rng(2))
    xs = Tensor(g.normal(size=(2, 3, 4)), requires_grad=True)
    gradcheck(lambda x: m(x, x, x)[0], [xs])


def test_shape_errors_are_explained():
    with pytest.raises(ValueError, match="d_k"):
        F.scaled_dot_product_attention(Tensor(np.zeros((2, 3))), Tensor(np.zeros((2, 4))),
                                       Tensor(np.zeros((2, 4))))
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(Tensor(np.zeros((2, 3))), 4)


@pytest.mark.torch
def test_sdpa_and_mha_match_pytorch_with_copied_weights():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(0)
    q, k, v = (g.normal(size=(2, 3, 5, 4)) for _ in range(3))
    mask = g.random((5, 5)) > 0.3
    np.fill_diagonal(mask, True)
    for kw in (dict(is_causal=True), dict(attn_mask=mask), dict(scale=0.3)):
        ours = [Tensor(a, requires_grad=True) for a in (q, k, v)]
        theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
        tkw = dict(kw)
        if "attn_mask" in tkw:
            tkw["attn_mask"] = torch.tensor(mask)
        o = F.scaled_dot_product_attention(*ours, **kw)
        t = torch.nn.functional.scaled_dot_product_attention(*theirs, **tkw)
        np.testing.assert_allclose(o.data, t.detach().numpy(), atol=1e-12)
        gout = g.normal(size=o.shape)
        (o * Tensor(gout)).sum().backward()
        (t * torch.tensor(gout)).sum().backward()
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.data, b.grad.numpy(), atol=1e-12)
    torch.manual_seed(0)
    for batch_first in (True, False):
        tm = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first).double()
        m = nn.MultiheadAttention(8, 2, batch_first=batch_first, dtype=np.float64)
        m.load_state_dict({k: t.detach().numpy() for k, t in tm.state_dict().items()})
        shape_q, shape_k = ((3, 5, 8), (3, 6, 8)) if batch_first else ((5, 3, 8), (6, 3, 8))
        x, y = g.normal(size=shape_q), g.normal(size=shape_k)
        kpm = np.zeros((3, 6), bool)
        kpm[0, -2:] = True
        am = np.triu(np.ones((5, 6), bool), 2)
        X, Y = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
        o, w = m(X, Y, Y, key_padding_mask=kpm, attn_mask=am, average_attn_weights=False)
        tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
        to, tw = tm(tx, ty, ty, key_padding_mask=torch.tensor(kpm),
                    attn_mask=torch.tensor(am), average_attn_weights=False)
        np.testing.assert_allclose(o.data, to.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(w.data, tw.detach().numpy(), atol=1e-12)
        (o ** 2).sum().backward()
        (to ** 2).sum().backward()
        np.testing.assert_allclose(X.grad.data, tx.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(m.in_proj_weight.grad.data, tm.in_proj_weight.grad.numpy(),
                                   atol=1e-12)


@pytest.mark.torch
def test_encoder_and_decoder_layers_match_pytorch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    g = np.random.default_rng(1)
    x, mem = g.normal(size=(2, 5, 8)), g.normal(size=(2, 4, 8))
    for norm_first in (False, True):
        te = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                              norm_first=norm_first).double()
        e = nn.TransformerEncoderLayer(8, 2, 16, norm_first=norm_first, dtype=np.float64)
        e.load_state_dict({k: t.detach().numpy() for k, t in te.state_dict().items()})
        np.testing.assert_allclose(e(Tensor(x)).data, te(torch.tensor(x)).detach().numpy(),
                                   atol=1e-12)
        td = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                              norm_first=norm_first).double()
        d = nn.TransformerDecoderLayer(8, 2, 16, norm_first=norm_first, dtype=np.float64)
        d.load_state_dict({k: t.detach().numpy() for k, t in td.state_dict().items()})
        cm = nn.causal_mask(5)
        np.testing.assert_allclose(
            d(Tensor(x), Tensor(mem), tgt_mask=cm).data,
            td(torch.tensor(x), torch.tensor(mem), tgt_mask=torch.tensor(cm)).detach().numpy(),
            atol=1e-12)
