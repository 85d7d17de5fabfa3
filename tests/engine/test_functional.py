"""engine.nn.functional: reference values, numerical guards, validation and PyTorch parity."""
import numpy as np
import pytest

import engine.nn.functional as F
from engine.autodiff import Tensor


# -- reference values --------------------------------------------------------------------------
def test_softmax_values():
    np.testing.assert_allclose(F.softmax(Tensor([1.0, 2.0, 3.0])).numpy(),
                               [0.090031, 0.244728, 0.665241], atol=1e-6)


def test_softmax_does_not_overflow():
    out = F.softmax(Tensor([1000.0, 1001.0, 1002.0])).numpy()
    np.testing.assert_allclose(out, [0.090031, 0.244728, 0.665241], atol=1e-6)
    lp = F.log_softmax(Tensor([[1000.0, 0.0], [-1000.0, 0.0]]), dim=1).numpy()
    np.testing.assert_allclose(lp, [[0.0, -1000.0], [-1000.0, 0.0]])
    loss = F.cross_entropy(Tensor([[1000.0, 0.0]], requires_grad=True), np.array([1]))
    assert loss.item() == pytest.approx(1000.0)


def test_sigmoid_values_and_extremes():
    np.testing.assert_allclose(F.sigmoid(Tensor([0.0, 2.0])).numpy(), [0.5, 0.880797],
                               atol=1e-6)
    x = Tensor(np.array([-1000.0, -40.0, 40.0, 1000.0]), requires_grad=True)
    y = F.sigmoid(x)
    np.testing.assert_allclose(y.numpy(), [0.0, 4.248354255291589e-18, 1.0, 1.0], rtol=1e-12)
    y.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))


def test_mse_reference():
    loss = F.mse_loss(Tensor([1.5, 2.0, 5.0]), Tensor([1.0, 2.0, 3.0]))
    assert loss.item() == pytest.approx(1.416667, abs=1e-6)
    assert F.mse_loss(Tensor([1.5, 2.0, 5.0]), [1.0, 2.0, 3.0], reduction="sum").item() \
        == pytest.approx(4.25)
    assert F.mse_loss(Tensor([1.5, 2.0, 5.0]), [1.0, 2.0, 3.0], reduction="none").shape == (3,)


def test_bce_with_logits_is_finite_for_huge_logits():
    x = Tensor(np.array([-500.0, 500.0]), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, np.array([1.0, 0.0]), reduction="sum")
    assert loss.item() == pytest.approx(1000.0)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 1.0])


def test_activations_reference():
    x = Tensor([-2.0, -0.5, 0.0, 1.5])
    np.testing.assert_allclose(F.relu(x).numpy(), [0, 0, 0, 1.5])
    np.testing.assert_allclose(F.leaky_relu(x, 0.1).numpy(), [-0.2, -0.05, 0, 1.5], rtol=1e-6)
    np.testing.assert_allclose(F.elu(x).numpy(), [np.expm1(-2), np.expm1(-0.5), 0, 1.5],
                               rtol=1e-6)
    np.testing.assert_allclose(F.tanh(x).numpy(), np.tanh(x.numpy()), rtol=1e-6)
    np.testing.assert_allclose(F.softplus(Tensor([-1000.0, 0.0, 1000.0])).numpy(),
                               [0.0, np.log(2), 1000.0], rtol=1e-6)
    assert F.elu(Tensor([1000.0])).item() == 1000.0          # no overflow warning either


def test_cross_entropy_forms_agree():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 4))
    y = np.array([0, 3, 1, 1, 2])
    onehot = np.eye(4)[y]
    a = F.cross_entropy(Tensor(logits), y).item()
    b = F.cross_entropy(Tensor(logits), Tensor(onehot)).item()
    c = F.nll_loss(F.log_softmax(Tensor(logits), dim=1), y).item()
    ref = -np.mean(logits[np.arange(5), y] - np.log(np.exp(logits).sum(1)))
    np.testing.assert_allclose([a, b, c], ref, rtol=1e-12)
    ignored = F.cross_entropy(Tensor(logits), np.array([0, 3, -100, 1, 2])).item()
    keep = [0, 1, 3, 4]
    np.testing.assert_allclose(ignored, F.cross_entropy(Tensor(logits[keep]), y[keep]).item())
    single = F.cross_entropy(Tensor(logits[0]), np.array(0)).item()
    np.testing.assert_allclose(single, F.cross_entropy(Tensor(logits[:1]), y[:1]).item())


# -- validation --------------------------------------------------------------------------------
def test_bad_inputs_raise_value_errors():
    x = Tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"input shape \(4, 3\).*weight shape \(2, 5\)"):
        F.linear(x, Tensor(np.zeros((2, 5))))
    with pytest.raises(ValueError, match="weight must be 2-D"):
        F.linear(x, Tensor(np.zeros(3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
        F.linear(x, Tensor(np.zeros((2, 3))), Tensor(np.zeros(3)))
    with pytest.raises(ValueError, match=r"input shape \(4, 1\) and target shape \(4,\)"):
        F.mse_loss(Tensor(np.zeros((4, 1))), np.zeros(4))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match=r"target class 3 is out of range.*0\.\.2"):
        F.cross_entropy(x, np.array([0, 1, 3, 2]))
    with pytest.raises(ValueError, match=r"must have shape \(4,\), got \(4, 1\)"):
        F.cross_entropy(x, np.zeros((4, 1), dtype=np.int64))
    with pytest.raises(ValueError, match=r"probability targets must have the input's shape"):
        F.cross_entropy(x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="integer class indices .* or float probabilities"):
        F.cross_entropy(x, np.zeros(4, dtype=bool))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, np.array([0, 1, 2, 2]), weight=np.ones(4))
    with pytest.raises(ValueError, match="floating-point"):
        F.softmax(Tensor([1, 2]))
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        F.softmax(x, dim=2)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(Tensor([1.5]), np.array([1.0]))


# -- PyTorch parity ----------------------------------------------------------------------------
def _parity_cases(torch):
    tf = torch.nn.functional
    rng = np.random.default_rng(0)
    x34 = rng.standard_normal((3, 4))
    y = np.array([1, 0, 3])
    w = rng.uniform(0.5, 2.0, 4)
    p = rng.uniform(0.05, 0.95, (3, 4))
    t = (rng.uniform(size=(3, 4)) > 0.5).astype(float)
    lin = [rng.standard_normal((2, 4)), rng.standard_normal(2)]
    return [
        ("linear", lambda m, a: m.linear(a, *lin_args(m, lin)), x34),
        ("relu", lambda m, a: m.relu(a), x34),
        ("leaky_relu", lambda m, a: m.leaky_relu(a, 0.2), x34),
        ("elu", lambda m, a: m.elu(a, 0.7), x34),
        ("softplus", lambda m, a: m.softplus(a), x34),
        ("sigmoid", lambda m, a: m.sigmoid(a * 3), x34),
        ("tanh", lambda m, a: m.tanh(a), x34),
        ("softmax", lambda m, a: m.softmax(a, dim=0), x34),
        ("log_softmax", lambda m, a: m.log_softmax(a, dim=-1), x34),
        ("mse_loss", lambda m, a: m.mse_loss(a, arr(m, x34[::-1].copy())), x34),
        ("mse_none", lambda m, a: m.mse_loss(a, arr(m, x34 * 0.5), reduction="none"), x34),
        ("l1_loss", lambda m, a: m.l1_loss(a, arr(m, x34[::-1].copy())), x34),
        ("cross_entropy", lambda m, a: m.cross_entropy(a, arr(m, y)), x34),
        ("ce_sum", lambda m, a: m.cross_entropy(a, arr(m, y), reduction="sum"), x34),
        ("ce_weight", lambda m, a: m.cross_entropy(a, arr(m, y), weight=arr(m, w)), x34),
        ("ce_none", lambda m, a: m.cross_entropy(a, arr(m, y), reduction="none"), x34),
        ("ce_probs", lambda m, a: m.cross_entropy(a, arr(m, p / p.sum(1, keepdims=True))),
         x34),
        ("nll_loss", lambda m, a: m.nll_loss(m.log_softmax(a, dim=1), arr(m, y)), x34),
        ("bce_logits", lambda m, a: m.binary_cross_entropy_with_logits(a, arr(m, t)), x34),
        ("bce_logits_pw", lambda m, a: m.binary_cross_entropy_with_logits(
            a, arr(m, t), pos_weight=arr(m, w)), x34),
        ("bce", lambda m, a: m.binary_cross_entropy(a, arr(m, t)), p),
    ], tf


def arr(m, a):
    if m is F:
        return a
    import torch
    return torch.tensor(a)


def lin_args(m, lin):
    if m is F:
        return [Tensor(v) for v in lin]
    import torch
    return [torch.tensor(v) for v in lin]


@pytest.mark.torch
def test_functional_torch_parity():
    torch = pytest.importorskip("torch")
    cases, tf = _parity_cases(torch)
    for name, fn, x in cases:
        xe = Tensor(x.copy(), requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        ye, yt = fn(F, xe), fn(tf, xt)
        np.testing.assert_allclose(ye.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)
        g = np.random.default_rng(1).standard_normal(yt.shape)
        ye.backward(Tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)


@pytest.mark.torch
def test_functional_float32_parity():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 5)).astype(np.float32) * 4
    y = rng.integers(0, 5, 8)
    xe = Tensor(x.copy(), requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    le = F.cross_entropy(F.elu(xe), y) + F.mse_loss(F.sigmoid(xe), np.full(x.shape, 0.5))
    lt = (torch.nn.functional.cross_entropy(torch.nn.functional.elu(xt), torch.tensor(y))
          + torch.nn.functional.mse_loss(torch.sigmoid(xt), torch.full(x.shape, 0.5)))
    le.backward()
    lt.backward()
    assert le.dtype == np.float32 and xe.grad.dtype == np.float32
    np.testing.assert_allclose(le.item(), lt.item(), rtol=1e-5)
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)
