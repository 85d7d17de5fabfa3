"""Convolution and pooling: the spec's vectors (ch. 9), output sizes, gradient checks (first
and second order) and PyTorch parity over stride / padding / dilation / groups."""
from __future__ import annotations

import numpy as np
import pytest

from engine import backend
from engine.autodiff import Tensor, gradcheck, gradgradcheck
from engine.autodiff.ops.conv import conv_out_size, conv_transpose_out_size
from engine.nn import functional as F

I5 = np.array([[2, 4, 3, 7, 2], [6, 1, 4, 3, 1], [7, 2, 3, 5, 5], [1, 7, 3, 9, 1],
               [4, 2, 9, 1, 5]], float)[None, None]
K3 = np.array([[1, 0, -1]] * 3, float)[None, None]
P4 = np.array([[2, 1, 1, 3], [4, 5, 2, 1], [1, 4, 5, 3], [5, 1, 7, 6]], float)[None, None]


def _c(x, w, **kw):
    return F.conv2d(Tensor(x), Tensor(w), **kw).data[0, 0]


def test_book_conv_vectors():
    np.testing.assert_array_equal(_c(I5, K3), [[5, -8, 2], [4, -7, 3], [-3, -4, 4]])
    np.testing.assert_array_equal(_c(I5, K3, stride=2), [[5, 2], [-3, 4]])
    np.testing.assert_array_equal(_c(I5, K3, padding=1), [
        [-5, 1, -5, 4, 10], [-7, 5, -8, 2, 15], [-10, 4, -7, 3, 17], [-11, -3, -4, 4, 15],
        [-9, -7, -1, 6, 10]])
    np.testing.assert_array_equal(_c(I5, K3, dilation=2), [[1]])
    i3 = np.arange(1, 10, dtype=float).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(_c(i3, np.array([[[[1, 2], [3, 4]]]], float)),
                                  [[37, 47], [67, 77]])


def test_conv1d_book_vector():
    x = np.array([2, 1, 4, 1, 1, 0, 3, 2, 2], float)[None, None]
    k = np.array([2, 0, -1], float)[None, None]
    np.testing.assert_array_equal(F.conv1d(Tensor(x), Tensor(k), stride=2).data[0, 0],
                                  [0, 7, -1, 4])
    np.testing.assert_array_equal(F.conv1d(Tensor(x), Tensor(k)).data[0, 0],
                                  [0, 1, 7, 2, -1, -2, 4])


def test_output_sizes_including_the_3d_erratum():
    assert conv_out_size(52, 12, 2) == 21
    assert conv_out_size(21, 8) == 14
    assert conv_out_size(21, 5) == 17          # the book's 16x16x11 is wrong: 17x17x11
    assert conv_out_size(227, 11, 4) == 55
    assert conv_transpose_out_size(2, 3) == 4
    assert conv_transpose_out_size(4, 4, 2, 1) == 8
    x = Tensor(np.zeros((1, 15, 21, 21, 21)))
    assert F.conv3d(x, Tensor(np.zeros((11, 15, 5, 5, 5)))).shape == (1, 11, 17, 17, 17)


def test_backprop_through_conv_integer_case():
    x = Tensor(np.arange(1, 10, dtype=float).reshape(1, 1, 3, 3), requires_grad=True)
    k = Tensor(np.array([[[[1, 2], [3, 4]]]], float), requires_grad=True)
    y = F.conv2d(x, k)
    (y * Tensor(np.array([[[[1, 0], [0, -1]]]], float))).sum().backward()
    np.testing.assert_array_equal(k.grad.data[0, 0], [[-4, -4], [-4, -4]])
    np.testing.assert_array_equal(x.grad.data[0, 0], [[1, 2, 0], [3, 3, -2], [0, -3, -4]])


def test_transposed_conv_vector_and_checkerboard_overlap():
    y = np.array([[1, 2], [3, 4]], float)[None, None]
    k = np.arange(1, 10, dtype=float).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(F.conv_transpose2d(Tensor(y), Tensor(k)).data[0, 0], [
        [1, 4, 7, 6], [7, 23, 33, 24], [19, 53, 63, 42], [21, 52, 59, 36]])
    ones = Tensor(np.ones((1, 1, 4, 4)))
    overlap = F.conv_transpose2d(ones, Tensor(np.ones((1, 1, 3, 3))), stride=2,
                                 padding=1).data[0, 0]
    assert set(np.unique(overlap)) == {1, 2, 4}             # uneven overlap: checkerboard
    even = F.conv_transpose2d(ones, Tensor(np.ones((1, 1, 4, 4))), stride=2,
                              padding=1).data[0, 0]
    assert (even[1:-1, 1:-1] == 4).all()


def test_pooling_vectors():
    t = Tensor(P4)
    np.testing.assert_array_equal(F.max_pool2d(t, 2, 1).data[0, 0],
                                  [[5, 5, 3], [5, 5, 5], [5, 7, 7]])
    np.testing.assert_array_equal(F.max_pool2d(t, 2).data[0, 0], [[5, 3], [5, 7]])
    np.testing.assert_array_equal(F.avg_pool2d(t, 2).data[0, 0], [[3, 1.75], [2.75, 5.25]])
    np.testing.assert_array_equal(F.avg_pool2d(t, 2, 1).data[0, 0],
                                  [[3, 2.25, 1.75], [3.5, 4, 2.75], [2.75, 4.25, 5.25]])
    assert F.global_avg_pool2d(Tensor(np.ones((2, 72, 6, 6)))).shape == (2, 72)


def test_max_pool_gradient_goes_to_the_argmax_only():
    x = Tensor(P4.copy(), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, 0], [[0, 0, 0, 1], [0, 1, 0, 0],
                                                      [0, 0, 0, 0], [1, 0, 1, 0]])


def test_max_pool_ties_go_to_the_first_tap_and_nan_propagates():
    x = Tensor(np.array([[[[1.0, 1.0], [1.0, 0.0]]]]), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, 0], [[1, 0], [0, 0]])
    y = F.max_pool2d(Tensor(np.array([[[[1.0, np.nan], [5.0, 0.0]]]])), 2)
    assert np.isnan(y.data).all()


def test_max_pool_overlapping_windows_match_a_direct_loop():
    g = np.random.default_rng(3)
    x = g.standard_normal((2, 3, 7, 7))
    y = F.max_pool2d(Tensor(x), 3, stride=2, padding=1).data
    xp_ = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)], constant_values=-np.inf)
    ref = np.array([[[[xp_[n, c, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max() for j in range(4)]
                      for i in range(4)] for c in range(3)] for n in range(2)])
    np.testing.assert_array_equal(y, ref)


def test_no_add_at_in_the_conv_module():
    import inspect

    from engine.autodiff.ops import conv
    assert "add.at" not in inspect.getsource(conv)


CONV2D_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), dict()),
    ((2, 4, 9, 8), (6, 2, 3, 2), dict(stride=2, padding=1, dilation=2, groups=2)),
    ((1, 4, 6, 6), (4, 1, 3, 3), dict(groups=4, stride=(1, 2), padding=(1, 0))),
    ((2, 2, 5, 5), (3, 2, 1, 1), dict(stride=2)),
]


@pytest.mark.parametrize("xs, ws, kw", CONV2D_CASES)
def test_conv2d_gradcheck_first_and_second_order(xs, ws, kw):
    g = np.random.default_rng(0)
    x = Tensor(g.normal(size=xs), requires_grad=True)
    w = Tensor(g.normal(size=ws), requires_grad=True)
    b = Tensor(g.normal(size=ws[0]), requires_grad=True)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), [x, w, b])
    gradgradcheck(lambda x, w: F.conv2d(x, w, **kw), [x, w])


@pytest.mark.parametrize("op, kw", [
    (F.max_pool2d, dict(kernel_size=2)), (F.max_pool2d, dict(kernel_size=3, stride=1,
                                                             padding=1)),
    (F.avg_pool2d, dict(kernel_size=2, stride=1)), (F.avg_pool2d, dict(kernel_size=3,
                                                                       stride=2, padding=1)),
])
def test_pool_gradcheck(op, kw):
    # Distinct values so the max is never tied (the kink would fool finite differences).
    x = Tensor(np.random.default_rng(1).permutation(2 * 2 * 5 * 5).reshape(2, 2, 5, 5) / 7.0,
               requires_grad=True)
    gradcheck(lambda x: op(x, **kw), [x])
    gradgradcheck(lambda x: op(x, **kw), [x])


def test_conv_transpose_and_1d_3d_gradcheck():
    g = np.random.default_rng(2)
    x = Tensor(g.normal(size=(1, 4, 3, 3)), requires_grad=True)
    w = Tensor(g.normal(size=(4, 3, 3, 3)), requires_grad=True)
    gradcheck(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1,
                                              ), [x, w])
    x1 = Tensor(g.normal(size=(2, 2, 9)), requires_grad=True)
    w1 = Tensor(g.normal(size=(3, 2, 3)), requires_grad=True)
    gradcheck(lambda x, w: F.conv1d(x, w, stride=2, dilation=2, padding=2), [x1, w1])
    x3 = Tensor(g.normal(size=(1, 2, 4, 4, 4)), requires_grad=True)
    w3 = Tensor(g.normal(size=(2, 2, 2, 2, 2)), requires_grad=True)
    gradcheck(lambda x, w: F.conv3d(x, w, stride=(1, 2, 1)), [x3, w3])


@pytest.mark.parametrize("bad, match", [
    (lambda: F.conv2d(Tensor(np.zeros((1, 3, 5, 5))), Tensor(np.zeros((2, 2, 3, 3)))),
     "in_channels"),
    (lambda: F.conv2d(Tensor(np.zeros((1, 1, 2, 2))), Tensor(np.zeros((1, 1, 3, 3)))),
     "does not fit"),
    (lambda: F.conv2d(Tensor(np.zeros((1, 1, 5))), Tensor(np.zeros((1, 1, 3, 3)))), "4-D"),
    (lambda: F.conv2d(Tensor(np.zeros((1, 1, 5, 5))), Tensor(np.zeros((1, 1, 3, 3))),
                      stride=0), "stride"),
    (lambda: F.max_pool2d(Tensor(np.zeros((1, 1, 4, 4))), 2, padding=2), "half the kernel"),
])
def test_bad_arguments_are_explained(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_conv_runs_on_every_backend(xp):
    g = np.random.default_rng(0)
    x, w = g.normal(size=(2, 3, 8, 8)), g.normal(size=(4, 3, 3, 3))
    ref = F.conv2d(Tensor(x), Tensor(w), padding=1).data
    out = F.conv2d(Tensor(xp.asarray(x)), Tensor(xp.asarray(w)), padding=1).data
    assert backend.xp_of(out) is xp
    np.testing.assert_allclose(backend.to_numpy(out), ref, rtol=1e-10)
    p = F.max_pool2d(Tensor(xp.asarray(x)), 2).data
    np.testing.assert_allclose(backend.to_numpy(p), F.max_pool2d(Tensor(x), 2).data)


# -- PyTorch parity ------------------------------------------------------------------------------
def _parity(torch, ours, theirs, inputs):
    ts = [Tensor(a, requires_grad=True) for a in inputs]
    tt = [torch.tensor(a, requires_grad=True) for a in inputs]
    y, ty = ours(*ts), theirs(*tt)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-9, atol=1e-10)
    gout = np.random.default_rng(9).normal(size=y.shape)
    (y * Tensor(gout)).sum().backward()
    (ty * torch.tensor(gout)).sum().backward()
    for a, b in zip(ts, tt):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.torch
@pytest.mark.parametrize("xs, ws, kw", CONV2D_CASES + [
    ((3, 6, 10, 10), (6, 1, 3, 3), dict(groups=6, padding=1)),
    ((2, 3, 11, 9), (5, 3, 5, 3), dict(stride=(3, 2), padding=(2, 1), dilation=(1, 2))),
])
def test_conv2d_matches_pytorch(xs, ws, kw):
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(4)
    inputs = [g.normal(size=xs), g.normal(size=ws), g.normal(size=ws[0])]
    _parity(torch, lambda x, w, b: F.conv2d(x, w, b, **kw),
            lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw), inputs)


@pytest.mark.torch
def test_conv1d_conv3d_transpose_and_pools_match_pytorch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    g = np.random.default_rng(5)
    _parity(torch, lambda x, w: F.conv1d(x, w, stride=2, padding=1, dilation=2, groups=2),
            lambda x, w: tf.conv1d(x, w, stride=2, padding=1, dilation=2, groups=2),
            [g.normal(size=(2, 4, 12)), g.normal(size=(6, 2, 3))])
    _parity(torch, lambda x, w: F.conv3d(x, w, stride=(1, 2, 2), padding=1),
            lambda x, w: tf.conv3d(x, w, stride=(1, 2, 2), padding=1),
            [g.normal(size=(1, 2, 5, 6, 6)), g.normal(size=(3, 2, 3, 3, 3))])
    for kw in (dict(stride=2, padding=1, output_padding=1), dict(stride=3, dilation=2),
               dict(stride=2, groups=2)):
        ws = (4, 3, 3, 3)
        _parity(torch, lambda x, w, kw=kw: F.conv_transpose2d(x, w, **kw),
                lambda x, w, kw=kw: tf.conv_transpose2d(x, w, **kw),
                [g.normal(size=(2, 4, 5, 4)), g.normal(size=ws)])
    x = g.permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7) / 10.0
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
               dict(kernel_size=(2, 3), stride=1)):
        _parity(torch, lambda x, kw=kw: F.max_pool2d(x, **kw),
                lambda x, kw=kw: tf.max_pool2d(x, **kw), [x])
        _parity(torch, lambda x, kw=kw: F.avg_pool2d(x, **kw),
                lambda x, kw=kw: tf.avg_pool2d(x, **kw), [x])


def test_cnn_training_step_matches_across_backends(xp):
    from engine import optim
    from engine.nn.cnn import SmallCNN

    def one_step(model, x, y):
        opt = optim.Adam(list(model.parameters()), lr=1e-2)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(Tensor(x)), y).backward()
            opt.step()
        return [backend.to_numpy(p.data) for p in model.parameters()]

    g = np.random.default_rng(0)
    x = g.random((8, 1, 16, 16))
    y = g.integers(0, 10, 8)
    ref = one_step(SmallCNN(channels=[4, 6], generator=np.random.default_rng(1),
                            dtype=np.float64), x, y)
    name = "numpy" if xp is np else "cupy"
    model = SmallCNN(channels=[4, 6], generator=np.random.default_rng(1), dtype=np.float64)
    out = one_step(model.to_backend(name), xp.asarray(x), xp.asarray(y))
    for a, b in zip(out, ref):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)
