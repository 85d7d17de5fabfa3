"""Recurrent layers (book ch. 10): the spec's vectors, gradient checks, the gate trace,
gradient clipping, bad input, and parity with PyTorch (outputs, states, every gradient)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine import nn
from engine.autodiff import Tensor, gradcheck


def _ones(module):
    for p in module.parameters():
        p.data[...] = 1.0
    for name, p in module.named_parameters():
        if "bias" in name:
            p.data[...] = 0.0
    return module


def test_tanh_rnn_sequence_spec_10_1():
    rnn = nn.RNN(1, 1, dtype=np.float64)
    rnn.weight_ih_l0.data[...] = 1.0
    rnn.weight_hh_l0.data[...] = 0.5
    rnn.bias_ih_l0.data[...] = rnn.bias_hh_l0.data[...] = 0.0
    out, h_n = rnn(Tensor(np.array([1.0, 0, 0, 0])[:, None]))       # unbatched (T, D)
    np.testing.assert_allclose(out.data[:, 0], [0.761594, 0.363399, 0.179726, 0.089622],
                               atol=5e-7)
    assert h_n.shape == (1, 1) and h_n.data[0, 0] == out.data[-1, 0]


def test_lstm_and_gru_vectors_spec_10_3_and_10_4():
    x = Tensor(np.ones((2, 1, 1)))
    lstm = _ones(nn.LSTM(1, 1, dtype=np.float64))
    out, (h_n, c_n) = lstm(x)
    np.testing.assert_allclose(out.data[:, 0, 0], [0.369606, 0.650535], atol=5e-7)
    np.testing.assert_allclose(c_n.data[0, 0, 0], 1.144446, atol=5e-7)
    gates = lstm.trace[0][0]
    np.testing.assert_allclose(gates["f"][:, 0, 0], [0.731059, 0.797317], atol=5e-7)
    np.testing.assert_allclose(gates["g"][:, 0, 0], [0.761594, 0.878602], atol=5e-7)
    np.testing.assert_allclose(gates["c"][:, 0, 0], [0.556770, 1.144446], atol=5e-7)
    gru = _ones(nn.GRU(1, 1, dtype=np.float64))
    out, _ = gru(x)
    np.testing.assert_allclose(out.data[:, 0, 0], [0.204824, 0.346753], atol=5e-7)
    np.testing.assert_allclose(gru.trace[0][0]["z"][:, 0, 0], [0.731059, 0.769382], atol=5e-7)
    np.testing.assert_allclose(gru.trace[0][0]["n"][:, 0, 0], [0.761594, 0.820252], atol=5e-7)


def test_trace_shapes_and_directions():
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True,
                   generator=np.random.default_rng(0))
    out, (h_n, c_n) = lstm(Tensor(np.zeros((4, 7, 3), np.float32)))
    assert out.shape == (4, 7, 10) and h_n.shape == c_n.shape == (4, 4, 5)
    assert len(lstm.trace) == 2 and len(lstm.trace[0]) == 2
    assert set(lstm.trace[1][1]) == {"i", "f", "g", "o", "c", "h"}
    assert lstm.trace[1][1]["o"].shape == (7, 4, 5)
    # The backward direction's final state is its state at t = 0.
    np.testing.assert_allclose(h_n.data[3], out.data[:, 0, 5:], atol=1e-7)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_backprop_through_time_matches_finite_differences(cls):
    g = np.random.default_rng(1)
    m = cls(2, 3, num_layers=2, bidirectional=True, dtype=np.float64, generator=g)
    x = Tensor(g.normal(size=(4, 2, 2)), requires_grad=True)

    def loss(x, *_weights):        # the weights are read from the module: gradcheck moves them
        out, _ = m(x)
        return (out * out).sum()
    assert gradcheck(loss, [x, m.weight_hh_l0, m.weight_ih_l1_reverse])


def test_cells_step_like_one_layer():
    g = np.random.default_rng(2)
    for cell_cls, seq_cls in ((nn.RNNCell, nn.RNN), (nn.LSTMCell, nn.LSTM),
                              (nn.GRUCell, nn.GRU)):
        cell = cell_cls(3, 4, dtype=np.float64, generator=g)
        seq = seq_cls(3, 4, dtype=np.float64)
        seq.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
        x = g.normal(size=(5, 2, 3))
        out, _ = seq(Tensor(x))
        state = None
        for t in range(5):
            state = cell(Tensor(x[t]), state)
            h = state[0] if isinstance(state, tuple) else state
            np.testing.assert_allclose(h.data, out.data[t], atol=1e-12)
        assert cell.gates and all(v.shape == (2, 4) for v in cell.gates.values())


def test_clip_grad_norm_spec_vector_and_inf_norm():
    a = Tensor(np.zeros(2), requires_grad=True)
    a.grad = Tensor(np.array([3.0, 4.0]))
    assert nn.clip_grad_norm_([a], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad.data, [0.6, 0.8], atol=1e-6)
    assert nn.clip_grad_norm_([a], 10.0) == pytest.approx(1.0, abs=1e-5)   # no change
    assert nn.clip_grad_norm_([a], math.inf) == pytest.approx(1.0, abs=1e-5)  # measure only
    np.testing.assert_allclose(a.grad.data, [0.6, 0.8], atol=1e-6)
    b = Tensor(np.zeros(3), requires_grad=True)
    b.grad = Tensor(np.array([-2.0, 1.0, 0.5]))
    assert nn.clip_grad_norm_([a, b], 1.0, norm_type=math.inf) == pytest.approx(2.0)
    np.testing.assert_allclose(b.grad.data, [-1.0, 0.5, 0.25], atol=1e-6)
    assert nn.clip_grad_norm_([Tensor(np.zeros(2), requires_grad=True)], 1.0) == 0.0
    with pytest.raises(ValueError, match="max_norm"):
        nn.clip_grad_norm_([a], 0.0)


@pytest.mark.parametrize("bad, match", [
    (lambda: nn.LSTM(0, 4), "input_size"),
    (lambda: nn.RNN(2, 3, nonlinearity="gelu"), "tanh or relu"),
    (lambda: nn.GRU(2, 3)(Tensor(np.zeros((4, 1, 5), np.float32))), r"\(T, N, 2\)"),
    (lambda: nn.RNN(2, 3)(Tensor(np.zeros((4, 1, 2), np.float32)),
                          Tensor(np.zeros((2, 1, 3), np.float32))), "initial state"),
    (lambda: nn.LSTM(2, 3)(Tensor(np.zeros((4, 1, 2), np.float32)),
                           Tensor(np.zeros((1, 1, 3), np.float32))), "pair"),
    (lambda: nn.LSTMCell(2, 3)(Tensor(np.zeros((1, 4), np.float32))), r"\(N, 2\)"),
])
def test_bad_input_is_explained(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers, bidirectional, batch_first", [
    (1, False, False), (2, True, False), (2, False, True)])
def test_matches_pytorch(kind, layers, bidirectional, batch_first):
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(3)
    kw = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    ours = getattr(nn, kind)(3, 4, dtype=np.float64, generator=g, **kw)
    ref = getattr(torch.nn, kind)(3, 4, **kw).double()
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = g.normal(size=(2, 5, 3) if batch_first else (5, 2, 3))
    dirs = 2 if bidirectional else 1
    h0 = g.normal(size=(layers * dirs, 2, 4))
    c0 = g.normal(size=(layers * dirs, 2, 4))
    xe, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if kind == "LSTM":
        oe, (he, ce) = ours(xe, (Tensor(h0), Tensor(c0)))
        ot, (ht, ct) = ref(xt, (torch.tensor(h0), torch.tensor(c0)))
        np.testing.assert_allclose(ce.data, ct.detach().numpy(), atol=1e-12)
    else:
        oe, he = ours(xe, Tensor(h0))
        ot, ht = ref(xt, torch.tensor(h0))
    np.testing.assert_allclose(oe.data, ot.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(he.data, ht.detach().numpy(), atol=1e-12)
    up = g.normal(size=oe.shape)
    (oe * Tensor(up)).sum().backward()
    (ot * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(xe.grad.data, xt.grad.numpy(), atol=1e-11)
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), atol=1e-11, err_msg=name)


@pytest.mark.torch
def test_clip_grad_norm_matches_pytorch():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(4)
    grads = [g.normal(size=(3, 4)), g.normal(size=5)]
    ours = [Tensor(np.zeros_like(a), requires_grad=True) for a in grads]
    ref = [torch.zeros(a.shape, dtype=torch.float64, requires_grad=True) for a in grads]
    for o, r, a in zip(ours, ref, grads):
        o.grad = Tensor(a.copy())
        r.grad = torch.tensor(a)
    for norm in (2.0, 1.0, math.inf):
        total = nn.clip_grad_norm_(ours, 0.7, norm)
        assert total == pytest.approx(float(torch.nn.utils.clip_grad_norm_(ref, 0.7, norm)))
        for o, r in zip(ours, ref):
            np.testing.assert_allclose(o.grad.data, r.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_runs_on_every_backend(xp, kind):
    from engine import backend  # noqa: PLC0415
    g = np.random.default_rng(5)
    cpu = getattr(nn, kind)(3, 4, generator=g)
    dev = getattr(nn, kind)(3, 4)
    dev.load_state_dict(cpu.state_dict())
    dev.to_backend("cupy" if xp is not np else "numpy")
    x = g.normal(size=(6, 2, 3)).astype(np.float32)
    out_cpu, _ = cpu(Tensor(x))
    out_dev, _ = dev(Tensor(xp.asarray(x)))
    assert backend.xp_of(out_dev.data) is xp
    np.testing.assert_allclose(backend.to_numpy(out_dev.data), out_cpu.data, atol=1e-5)
    (out_dev * out_dev).sum().backward()
    assert backend.xp_of(dev.weight_hh_l0.grad.data) is xp
    assert dev.trace[0][0]["h"].shape == (6, 2, 4)


def test_recurrent_lab_on_every_backend(xp):
    from engine.labs.recurrent import RecurrentLab  # noqa: PLC0415
    name = "cupy" if xp is not np else "numpy"
    a = RecurrentLab(seed=0, backend_name="numpy", hidden=4, length=8, delay=2)
    b = RecurrentLab(seed=0, backend_name=name, hidden=4, length=8, delay=2)
    a.step(5)
    b.step(5)
    sa, sb = a.snapshot(), b.snapshot()
    assert sb.scalars["loss"] == pytest.approx(sa.scalars["loss"], rel=1e-4)
    np.testing.assert_allclose(sb.data["probe"]["hidden"], sa.data["probe"]["hidden"],
                               atol=1e-5)


def test_fused_lstm_step_second_derivatives_and_gate_gradients():
    from engine.autodiff import gradgradcheck  # noqa: PLC0415
    from engine.nn.recurrent import LSTMStep  # noqa: PLC0415
    g = np.random.default_rng(6)
    N, H = 2, 3
    args = [Tensor(g.normal(size=s), requires_grad=True)
            for s in ((N, 4 * H), (N, H), (N, H), (4 * H, H), (4 * H,))]

    def every_block(*a):           # all seven output blocks carry gradient
        out = LSTMStep.apply(*a)
        return (out * Tensor(np.linspace(-1, 1, 7 * H))).sum()
    assert gradcheck(every_block, args)
    assert gradgradcheck(lambda *a: LSTMStep.apply(*a), args)
