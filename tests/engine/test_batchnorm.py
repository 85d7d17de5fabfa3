"""Batch norm: train/eval statistics, buffers in the state dict and across backends, gradient
check, bad input, and parity with PyTorch (outputs, gradients, running statistics)."""
from __future__ import annotations

import numpy as np
import pytest

from engine import backend, nn, optim
from engine.autodiff import Tensor, gradcheck


def test_training_normalises_and_moves_running_statistics():
    bn = nn.BatchNorm1d(3)
    x = np.random.default_rng(0).normal(2.0, 3.0, (64, 3)).astype(np.float32)
    y = bn(Tensor(x)).numpy()
    assert y.mean(0) == pytest.approx(np.zeros(3), abs=1e-5)
    assert y.std(0) == pytest.approx(np.ones(3), abs=1e-3)
    assert bn.running_mean == pytest.approx(0.1 * x.mean(0), rel=1e-4)
    assert bn.running_var == pytest.approx(0.9 + 0.1 * x.var(0, ddof=1), rel=1e-4)
    bn.eval()
    one = bn(Tensor(x[:1])).numpy()
    expect = (x[:1] - bn.running_mean) / np.sqrt(bn.running_var + 1e-5)
    assert one == pytest.approx(expect, rel=1e-4)


def test_running_statistics_are_buffers_not_parameters():
    bn = nn.BatchNorm2d(4)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    net = nn.Sequential(nn.Conv2d(1, 4, 3), bn)
    assert "1.running_var" in net.state_dict()
    opt = optim.Adam(list(net.parameters()), lr=0.1)   # optimizers never see buffers
    assert sum(p.data.size for g in opt.param_groups for p in g["params"]) == 4 * 9 + 4 + 8
    # load_state_dict restores buffers and checks them like parameters
    sd = {k: np.asarray(v).copy() for k, v in net.state_dict().items()}
    sd["1.running_mean"][:] = 7.0
    net.load_state_dict(sd)
    assert bn.running_mean == pytest.approx(np.full(4, 7.0))
    bad = dict(sd, **{"1.running_var": np.ones(5)})
    with pytest.raises(ValueError, match="shape"):
        net.load_state_dict(bad)
    assert bn.running_var.shape == (4,)


def test_gradients_match_finite_differences():
    g = np.random.default_rng(1)
    bn = nn.BatchNorm2d(2)
    bn.weight.data = g.normal(size=2)
    bn.bias.data = g.normal(size=2)
    x = Tensor(g.normal(size=(3, 2, 2, 2)), requires_grad=True)
    assert gradcheck(lambda t: bn(t), [x])


@pytest.mark.parametrize("bad, match", [
    (lambda: nn.BatchNorm1d(0), "num_features"),
    (lambda: nn.BatchNorm1d(3, momentum=2.0), "momentum"),
    (lambda: nn.BatchNorm2d(3)(Tensor(np.ones((2, 3)))), "rank 4"),
    (lambda: nn.BatchNorm1d(3)(Tensor(np.ones((2, 4)))), "3 channels"),
    (lambda: nn.BatchNorm1d(3)(Tensor(np.ones((1, 3)))), "more than one value"),
])
def test_bad_input_is_explained(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_buffers_move_between_backends(xp):
    bn = nn.BatchNorm1d(3)
    bn(Tensor(np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)))
    before = bn.running_mean.copy()
    bn.to_backend("cupy" if xp is not np else "numpy")
    assert backend.xp_of(bn.running_mean) is xp
    np.testing.assert_array_equal(backend.to_numpy(bn.running_mean), before)
    bn(Tensor(xp.ones((4, 3), dtype=np.float32)))
    assert backend.xp_of(bn.running_var) is xp


@pytest.mark.torch
@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (16, 5)), ("BatchNorm1d", (8, 5, 7)),
                                        ("BatchNorm2d", (6, 5, 4, 3))])
def test_matches_pytorch_in_train_and_eval(cls, shape):
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(2)
    ours = getattr(nn, cls)(5, momentum=0.3)
    ref = getattr(torch.nn, cls)(5, momentum=0.3).double()
    w, b = g.normal(size=5), g.normal(size=5)
    ours.weight.data, ours.bias.data = w.copy(), b.copy()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(w))
        ref.bias.copy_(torch.tensor(b))
    ours.running_mean = ours.running_mean.astype(np.float64)
    ours.running_var = ours.running_var.astype(np.float64)
    for _ in range(2):
        x = g.normal(1.0, 2.0, size=shape)
        xt = torch.tensor(x, requires_grad=True)
        xe = Tensor(x, requires_grad=True)
        up = g.normal(size=shape)
        (ours(xe) * Tensor(up)).sum().backward()
        (ref(xt) * torch.tensor(up)).sum().backward()
        np.testing.assert_allclose(xe.grad.data, xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours.weight.grad.data, ref.weight.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours.running_mean, ref.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_var, ref.running_var.numpy(), rtol=1e-12)
    ours.eval()
    ref.eval()
    x = g.normal(size=shape)
    np.testing.assert_allclose(ours(Tensor(x)).data, ref(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    # A PyTorch state dict loads once its step counter is dropped.
    sd = {k: v.numpy() for k, v in ref.state_dict().items() if k != "num_batches_tracked"}
    fresh = getattr(nn, cls)(5)
    fresh.load_state_dict(sd)
    np.testing.assert_allclose(fresh.running_var, ref.running_var.numpy(), rtol=1e-6)
