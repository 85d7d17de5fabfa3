"""engine.nn modules: registration, state dicts, init schemes, dropout, MLP, and PyTorch parity
of a random network's loss and gradients (spec ch. 7 vectors included)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine import backend, nn
from engine.autodiff import Tensor, gradcheck
from engine.nn import functional as F
from engine.nn import init


def test_parameters_are_registered_in_order_and_counted():
    g = np.random.default_rng(0)
    net = nn.Sequential(nn.Linear(4, 5, generator=g), nn.Tanh(), nn.Linear(5, 3, generator=g),
                        nn.ReLU(), nn.Linear(3, 5, generator=g), nn.Sigmoid(),
                        nn.Linear(5, 1, generator=g))
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias",
                     "6.weight", "6.bias"]
    # The book's 4-5-3-5-1 example: W1 5x4, W2 3x5, W3 5x3, W4 1x5 and 69 parameters.
    assert [tuple(p.shape) for n, p in net.named_parameters() if n.endswith("weight")] == [
        (5, 4), (3, 5), (5, 3), (1, 5)]
    assert net.num_parameters() == 69 == nn.param_count([4, 5, 3, 5, 1])


def test_param_counts_of_wide_and_deep_nets_spec_7_9():
    assert nn.param_count([20, 1024, 1024, 8]) == 1_079_304
    assert nn.param_count([20, 1024, 1024, 6]) == 1_077_254
    assert nn.param_count([20] + [150] * 12 + [6]) == 253_206


def test_shared_parameter_is_listed_once_and_gets_both_gradients():
    a = nn.Linear(3, 3, bias=False, generator=np.random.default_rng(0))
    b = nn.Linear(3, 3, bias=False)
    b.weight = a.weight                       # hard sharing: one stored tensor
    net = nn.Sequential(a, b)
    assert len(list(net.parameters())) == 1
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 5)
    net(x).sum().backward()
    # The same net with two separate copies of W: the shared gradient is their sum.
    c1, c2 = nn.Linear(3, 3, bias=False), nn.Linear(3, 3, bias=False)
    c1.weight.data[...] = a.weight.data
    c2.weight.data[...] = a.weight.data
    nn.Sequential(c1, c2)(x).sum().backward()
    np.testing.assert_allclose(a.weight.grad.data, c1.weight.grad.data + c2.weight.grad.data,
                               rtol=1e-6)


def test_state_dict_round_trip_and_rejections_change_nothing():
    g = np.random.default_rng(1)
    m1 = nn.MLP([2, 4, 3], "tanh", generator=g)
    m2 = nn.MLP([2, 4, 3], "tanh", generator=np.random.default_rng(2))
    before = {k: v.copy() for k, v in m2.state_dict().items()}
    bad = dict(m1.state_dict())
    bad["layers.1.weight"] = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="shape"):
        m2.load_state_dict(bad)
    with pytest.raises(ValueError, match="missing layers.1.bias"):
        m2.load_state_dict({k: v for k, v in m1.state_dict().items() if k != "layers.1.bias"})
    nan = dict(m1.state_dict())
    nan["layers.0.bias"] = np.full(4, np.nan, np.float32)
    with pytest.raises(ValueError, match="inf or NaN"):
        m2.load_state_dict(nan)
    for k, v in m2.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    m2.load_state_dict(m1.state_dict())
    for k, v in m2.state_dict().items():
        np.testing.assert_array_equal(v, m1.state_dict()[k])


def test_xavier_bound_is_the_corrected_formula_E13():
    w = Tensor(np.zeros((5, 4), np.float32))
    init.xavier_uniform_(w, generator=np.random.default_rng(0))
    bound = math.sqrt(6 / 9)
    assert bound == pytest.approx(0.816497, abs=1e-6)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.5 * bound
    big = Tensor(np.zeros((256, 784), np.float32))
    init.xavier_uniform_(big, generator=np.random.default_rng(0))
    assert np.abs(big.data).max() == pytest.approx(0.075955, rel=0.01)


def test_he_init_keeps_relu_activations_stable_with_depth():
    """Spec 7.7: ReLU + He keeps the activation std near 0.8 over 10 layers; N(0,1) explodes."""
    g = np.random.default_rng(0)
    X = Tensor(g.normal(size=(1000, 256)).astype(np.float32))
    for scheme, ok in (("he", lambda s: 0.3 < s < 3), ("normal", lambda s: s > 1e6)):
        net = nn.MLP([256] * 11 + [1], "relu", init=scheme, generator=np.random.default_rng(0))
        _, _, hs = net(X, return_hidden=True)
        assert ok(float(hs[-1].data.std())), (scheme, float(hs[-1].data.std()))


def test_zero_init_keeps_hidden_units_identical():
    """Spec 7.7 / E12: zero init makes every hidden unit of a layer the same forever."""
    from engine import optim
    net = nn.MLP([2, 3, 1], "sigmoid", init="zeros", generator=np.random.default_rng(0))
    opt = optim.SGD(net.parameters(), lr=0.5)
    g = np.random.default_rng(0)
    X, y = g.normal(size=(32, 2)).astype(np.float32), (g.random(32) > 0.5).astype(np.float32)
    for _ in range(20):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(net(Tensor(X)).reshape(-1), y).backward()
        opt.step()
    w1 = net.layers[0].weight.data
    assert np.allclose(w1, w1[0])            # all rows equal: symmetry never breaks


def test_dropout_is_inverted_seeded_and_off_in_eval():
    h = Tensor(np.tile(np.array([1.0, 2.0, 3.0, 4.0], np.float32), (20000, 1)))
    d = nn.Dropout(0.2, generator=np.random.default_rng(0))
    out = d(h).data
    np.testing.assert_allclose(out.mean(0), [1, 2, 3, 4], rtol=0.02)   # E[r h / keep] = h
    assert set(np.unique(out[:, 0]).round(4)) <= {0.0, 1.25}
    a = F.dropout(h, 0.5, True, np.random.default_rng(7)).data
    b = F.dropout(h, 0.5, True, np.random.default_rng(7)).data
    np.testing.assert_array_equal(a, b)
    d.eval()
    np.testing.assert_array_equal(d(h).data, h.data)
    with pytest.raises(ValueError, match="drop rate"):
        nn.Dropout(1.0)


def test_huber_and_prelu_values_and_gradients():
    # Spec 7.5: y=[1,2,3,4], yhat=[1.5,2,2,7]; delta=1 per-sample [0.125,0,0.5,2.5].
    yhat = Tensor(np.array([1.5, 2, 2, 7]), requires_grad=True)
    y = np.array([1.0, 2, 3, 4])
    np.testing.assert_allclose(F.huber_loss(yhat, y, reduction="none").data,
                               [0.125, 0, 0.5, 2.5])
    assert float(F.huber_loss(yhat, y, delta=0.1).data) == pytest.approx(0.10875)
    assert float(F.huber_loss(yhat, y, delta=100).data) == pytest.approx(1.28125)
    F.huber_loss(yhat, y, reduction="sum").backward()
    np.testing.assert_allclose(yhat.grad.data, np.clip(yhat.data - y, -1, 1))
    x = Tensor(np.array([-2, -0.5, 0.0, 0.5, 2]))
    np.testing.assert_allclose(F.prelu(x, Tensor(np.array([0.25]))).data,
                               [-0.5, -0.125, 0, 0.5, 2])
    gradcheck(lambda a, w: F.prelu(a, w), [Tensor(np.array([[-1.3, 0.7], [0.4, -2.0]]),
                                                  requires_grad=True),
                                           Tensor(np.array([0.25]), requires_grad=True)])


def test_derived_2_2_1_network_spec_7_3():
    net = nn.MLP([2, 2, 1], "sigmoid", dtype=np.float64)
    net.layers[0].weight.data[...] = [[0.1, -0.2], [0.4, 0.3]]
    net.layers[0].bias.data[...] = [0, 0.1]
    net.layers[1].weight.data[...] = [[0.5, -0.6]]
    net.layers[1].bias.data[...] = [0.2]
    x = Tensor(np.array([[1.0, 2.0]]))
    z2, zs, hs = net(x, return_hidden=True)
    np.testing.assert_allclose(zs[0].data, [[-0.3, 1.1]], atol=1e-12)
    np.testing.assert_allclose(hs[0].data, [[0.425557, 0.750260]], atol=1e-6)
    assert z2.data.item() == pytest.approx(-0.037377, abs=1e-6)
    loss = F.binary_cross_entropy_with_logits(z2.reshape(-1), np.array([1.0]))
    assert float(loss.data) == pytest.approx(0.712010, abs=1e-6)
    loss.backward()
    # Output delta for sigmoid + BCE is (yhat - y); dJ/dW2 = delta h1^T.
    yhat = 1 / (1 + math.exp(0.037377))
    np.testing.assert_allclose(net.layers[1].weight.grad.data,
                               [[(yhat - 1) * 0.425557, (yhat - 1) * 0.750260]], atol=1e-5)


def test_mlp_config_validation():
    with pytest.raises(ValueError, match="activations"):
        nn.MLP([2, 4, 1], ["tanh", "relu"])
    with pytest.raises(ValueError, match="sizes"):
        nn.mlp.validate_config({"sizes": [2, 0, 1], "activations": ["tanh"]})
    with pytest.raises(ValueError, match="dropout"):
        nn.mlp.validate_config({"sizes": [2, 3, 1], "activations": ["tanh"], "dropout": [1.5]})


@pytest.mark.torch
def test_random_network_loss_and_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(3)
    sizes, acts = [2, 7, 5, 4, 3], ["tanh", "relu", "elu"]
    net = nn.MLP(sizes, acts, init="xavier", generator=g, dtype=np.float64)
    X = g.normal(size=(16, 2))
    y = g.integers(0, 3, 16)
    loss = F.cross_entropy(net(Tensor(X)), y)
    loss.backward()
    tl = []
    tact = {"tanh": torch.tanh, "relu": torch.relu, "elu": torch.nn.functional.elu}
    ws = [torch.tensor(lin.weight.data, requires_grad=True) for lin in net.layers]
    bs = [torch.tensor(lin.bias.data, requires_grad=True) for lin in net.layers]
    h = torch.tensor(X)
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = torch.nn.functional.linear(h, w, b)
        if i < len(acts):
            h = tact[acts[i]](h)
    tloss = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    tloss.backward()
    assert float(loss.data) == pytest.approx(tloss.item(), rel=1e-12)
    for lin, w, b in zip(net.layers, ws, bs):
        np.testing.assert_allclose(lin.weight.grad.data, w.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(lin.bias.grad.data, b.grad.numpy(), rtol=1e-10, atol=1e-12)
    tl.append(tloss)


@pytest.mark.torch
def test_huber_prelu_dropout_scaling_match_pytorch():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(0)
    a, b = g.normal(size=20), g.normal(size=20)
    for delta in (0.3, 1.0, 2.5):
        ours = F.huber_loss(Tensor(a), b, delta=delta)
        ref = torch.nn.functional.huber_loss(torch.tensor(a), torch.tensor(b), delta=delta)
        assert float(ours.data) == pytest.approx(ref.item(), rel=1e-12)
    x = g.normal(size=(4, 3))
    w = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(F.prelu(Tensor(x), Tensor(w)).data,
                               torch.nn.functional.prelu(torch.tensor(x), torch.tensor(w)))
    # torch's Linear default init: U(+-1/sqrt(in)) for weight and bias.
    lin = nn.Linear(50, 40, generator=g)
    assert np.abs(lin.weight.data).max() <= 1 / math.sqrt(50)


def test_module_moves_between_backends_and_keeps_values(xp):
    net = nn.MLP([2, 3, 2], "tanh", generator=np.random.default_rng(0))
    before = {k: backend.to_numpy(v).copy() for k, v in net.state_dict().items()}
    name = "cupy" if xp is not np else "numpy"
    net.to_backend(name)
    out = net(Tensor(xp.asarray(np.ones((1, 2), np.float32))))
    assert backend.xp_of(out.data) is xp
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(backend.to_numpy(v), before[k])
