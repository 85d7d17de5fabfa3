"""Autodiff semantics: accumulation, leaves, grad mode, un-broadcasting, dtypes, higher order,
PyTorch parity and the errors a user sees."""
import threading

import numpy as np
import pytest

import engine.nn.functional as F
from engine import autodiff as ad
from engine.autodiff import (
    Function,
    Tensor,
    enable_grad,
    grad,
    gradcheck,
    is_grad_enabled,
    no_grad,
    tensor,
)


def _leaf(shape, seed=0, dtype=np.float64):
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype),
                  requires_grad=True)


# -- construction and basics -------------------------------------------------------------------
def test_construction_dtypes():
    assert Tensor(1.5).dtype == np.float32
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor([[1, 2]]).dtype == np.int64
    assert Tensor(np.zeros(3)).dtype == np.float64       # arrays keep their dtype
    assert Tensor(np.zeros(3, np.float32)).dtype == np.float32
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    t = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6 and t.size() == (2, 3)
    assert t.T.shape == (3, 2) and t.is_leaf and t.grad is None and t.grad_fn is None
    assert Tensor([[2.5]]).item() == 2.5


def test_numpy_is_a_host_copy_and_tensor_copies():
    a = np.arange(3.0)
    t = Tensor(a)                 # shares memory, like torch.from_numpy
    assert np.shares_memory(t.data, a)
    n = t.numpy()
    n[0] = 99.0
    assert t.data[0] == 0.0
    c = tensor(a)                 # tensor() copies, like torch.tensor
    assert not np.shares_memory(c.data, a)


def test_repr_is_readable():
    assert repr(Tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(Tensor([1.0], requires_grad=True))
    x = Tensor([1.0], requires_grad=True)
    assert "grad_fn=<Mul>" in repr(x * 2)
    assert "dtype=float64" in repr(Tensor(np.zeros(2)))


def test_tensors_are_hashable_by_identity():
    a, b = Tensor([1.0]), Tensor([1.0])
    state = {a: 1, b: 2}
    assert state[a] == 1 and state[b] == 2


def test_comparisons_return_bool_tensors_without_grad():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r in (x < 2, x <= 2, x > 2, x >= 2, x == 2, x != 2):
        assert r.dtype == bool and not r.requires_grad and r.grad_fn is None
    assert (x > 1.5).numpy().tolist() == [False, True, True]


# -- accumulation, leaves, retain_grad ---------------------------------------------------------
def test_grads_accumulate_across_backward_calls():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])
    x.grad = None
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_tensor_used_twice_sums_its_gradients():
    x = Tensor([3.0], requires_grad=True)
    y = x * x + x          # dy/dx = 2x + 1
    y.backward()
    assert x.grad.item() == 7.0


def test_leaf_and_non_leaf():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h2 = h * 3
    h2.retain_grad()
    h2.sum().backward()
    assert x.is_leaf and not h.is_leaf
    assert h.grad is None                  # non-leaves keep no grad ...
    np.testing.assert_allclose(h2.grad.numpy(), [1.0, 1.0])   # ... unless retained
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])
    assert h2.retains_grad and not h.retains_grad


def test_constants_get_no_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([5.0, 6.0])
    (x * c).sum().backward()
    assert c.grad is None


def test_leaf_grads_never_share_memory():
    # Add's backward hands the same gradient to both inputs; an optimizer that updates one
    # grad in place must not change the other.
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    g = Tensor([1.0, 1.0])
    (a + b).backward(g)
    assert not np.shares_memory(a.grad.data, b.grad.data)
    assert not np.shares_memory(a.grad.data, g.data)
    a.grad.data += 10
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])
    # A broadcast (read-only) view is materialised before it becomes a leaf's grad.
    x = Tensor(np.zeros((2, 3)), requires_grad=True)
    x.sum().backward()
    assert x.grad.data.flags.writeable
    x.grad.data += 1.0


def test_backward_needs_gradient_for_non_scalar_and_grad_for_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="one-element"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 0.5], np.float32))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()
    with pytest.raises(ValueError, match="does not match"):
        (x * 2).backward(Tensor([1.0, 2.0, 3.0]))


def test_graph_exposes_op_names_and_inputs():
    x = Tensor([[1.0, 2.0]], requires_grad=True)
    w = Tensor([[3.0], [4.0]], requires_grad=True)
    y = (x @ w).tanh()
    assert y.grad_fn.name == "Tanh"
    (mm,) = y.grad_fn.inputs
    assert mm.grad_fn.name == "MatMul"
    assert mm.grad_fn.inputs[0] is x and mm.grad_fn.inputs[1] is w
    assert y.grad_fn.next_functions == (mm.grad_fn,)


def test_long_chain_does_not_recurse():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


# -- grad mode ---------------------------------------------------------------------------------
def test_no_grad_and_enable_grad():
    x = Tensor([1.0], requires_grad=True)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2
        with enable_grad():
            z = x * 2
    assert is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn.name == "Mul"


def test_no_grad_as_decorator_restores_on_error():
    @no_grad()
    def f(t):
        assert not is_grad_enabled()
        return t * 2

    assert not f(Tensor([1.0], requires_grad=True)).requires_grad

    @no_grad
    def g(t):
        return t * 2

    assert not g(Tensor([1.0], requires_grad=True)).requires_grad
    with ad.set_grad_enabled(False):
        assert not is_grad_enabled()
    assert is_grad_enabled()
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []
    with no_grad():
        t = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_detach_cuts_the_graph_and_shares_data():
    x = Tensor([2.0], requires_grad=True)
    d = (x * 3).detach()
    assert not d.requires_grad and d.is_leaf
    y = x * d
    y.backward()
    assert x.grad.item() == 6.0
    assert np.shares_memory(x.detach().data, x.data)


def test_inplace_update_under_no_grad_and_guard_on_leaves():
    p = Tensor([1.0, 2.0], requires_grad=True)
    data_before = p.data
    (p * p).sum().backward()
    with no_grad():
        p -= 0.5 * p.grad
    assert p.data is data_before                       # updated in place, same array
    np.testing.assert_allclose(p.numpy(), [0.0, 0.0])
    with pytest.raises(RuntimeError, match="in-place"):
        p += 1.0
    with pytest.raises(RuntimeError, match="item assignment"):
        p[0] = 3.0


# -- un-broadcasting ---------------------------------------------------------------------------
def _np_unbroadcast(g, shape):
    """Reference: sum a broadcast gradient back to ``shape`` with plain NumPy."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    return g.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1), keepdims=True)


@pytest.mark.parametrize("sa, sb", [((3, 1), (1, 4)), ((2, 3), (3,)), ((), (2, 3)),
                                    ((2, 1, 3), (4, 1)), ((1,), (5,))])
def test_unbroadcast_gives_input_shapes(sa, sb):
    a, b = _leaf(sa, 1), _leaf(sb, 2)
    (a * b).sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    full = np.broadcast_shapes(sa, sb)
    np.testing.assert_allclose(a.grad.numpy(),
                               _np_unbroadcast(np.broadcast_to(b.numpy(), full), sa))
    np.testing.assert_allclose(b.grad.numpy(),
                               _np_unbroadcast(np.broadcast_to(a.numpy(), full), sb))


def test_scalar_times_tensor_grad():
    x = _leaf((2, 3))
    (2.5 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 2.5))


class _BadShape(Function):
    """A deliberately wrong primitive: returns a gradient that cannot be un-broadcast."""

    @staticmethod
    def forward(ctx, a):
        return a * 2

    @staticmethod
    def backward(ctx, g):
        return Tensor(np.ones(7))


def test_shape_assertion_names_the_op():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(AssertionError, match=r"_BadShape.*shape \(7,\).*\(3,\)"):
        _BadShape.apply(x).sum().backward()


def test_custom_function_participates_in_the_graph():
    class Cube(Function):
        @staticmethod
        def forward(ctx, a):
            return a ** 3

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.inputs
            return g * 3 * a * a

    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    assert gradcheck(lambda t: Cube.apply(t).sin(), [x])
    assert Cube.apply(x).grad_fn.name == "Cube"


# -- dtypes ------------------------------------------------------------------------------------
def test_float32_stays_float32():
    x = Tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    w = Tensor(np.ones((4, 3), np.float32), requires_grad=True)
    outs = [0.5 * x, x / 3, 1 - x, x ** 2, 2 ** x, x + np.float64(1.5), x.exp(), x.sigmoid(),
            x.tanh(), x.sum(), x.mean(axis=0), x.max(), F.softmax(x), F.log_softmax(x),
            F.linear(x, w), ad.where(x.data > 0, x, 0.0), x.clip(-0.5, 0.5), x.var(axis=1),
            F.mse_loss(x, np.zeros((2, 3))), F.cross_entropy(x, np.array([0, 2])),
            F.leaky_relu(x), F.elu(x)]
    for o in outs:
        assert o.dtype == np.float32, o
    sum(o.sum() for o in outs).backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_mixed_dtype_grad_is_cast_back():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    y = Tensor(np.ones(3, np.float64))
    (x * y).sum().backward()
    assert (x * y).dtype == np.float64 and x.grad.dtype == np.float32


def test_requires_grad_needs_a_float_dtype():
    with pytest.raises(ValueError, match="floating-point"):
        Tensor([1, 2], requires_grad=True)


# -- max/min ties, indexing --------------------------------------------------------------------
def test_max_ties_share_the_gradient_equally():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1, 0, 0]])


def test_index_with_repeats_accumulates():
    x = Tensor(np.zeros(4), requires_grad=True)
    x[[1, 1, 3]].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 2, 0, 1])


# -- higher order ------------------------------------------------------------------------------
def _rosenbrock(v):
    x, y = v[0], v[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def test_rosenbrock_hessian_by_double_backward():
    v = Tensor(np.array([-1.2, 1.0]), requires_grad=True)
    (g,) = grad(_rosenbrock(v), v, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [-215.6, -88.0])
    rows = [grad(g[i], v)[0].numpy() for i in range(2)]
    np.testing.assert_allclose(np.stack(rows), [[1330.0, 480.0], [480.0, 200.0]])
    np.testing.assert_allclose(ad.hessian(_rosenbrock, v).numpy(), [[1330, 480], [480, 200]])


def test_backward_create_graph_then_differentiate_grad():
    x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad                                    # 3 x^2, itself differentiable
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())


def test_hessian_vector_product():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    x = Tensor(rng.standard_normal(3), requires_grad=True)
    v = rng.standard_normal(3)

    def f(t):
        return 0.5 * (t @ (Tensor(a) @ t)) + (t ** 3).sum()

    (hv,) = ad.hvp(f(x), x, Tensor(v))
    h = 0.5 * (a + a.T) + np.diag(6 * x.numpy())
    np.testing.assert_allclose(hv.numpy(), h @ v, rtol=1e-10)
    # the same through two explicit grad calls (what MAML's meta-gradient does)
    (g,) = grad(f(x), x, create_graph=True)
    (hv2,) = grad((g * Tensor(v)).sum(), x)
    np.testing.assert_allclose(hv2.numpy(), h @ v, rtol=1e-10)


def test_grad_function_semantics():
    x = Tensor([1.0, 2.0], requires_grad=True)
    u = Tensor([5.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    gx, gh = grad(y, [x, h])                # w.r.t. a leaf and an intermediate
    np.testing.assert_allclose(gx.numpy(), 18 * x.numpy())
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy())
    assert x.grad is None                   # grad() leaves .grad alone
    with pytest.raises(RuntimeError, match="not used"):
        grad((x * 2).sum(), [x, u])
    assert grad((x * 2).sum(), [x, u], allow_unused=True)[1] is None
    (g,) = grad(x * 2, x, grad_outputs=Tensor([1.0, 10.0]))
    np.testing.assert_allclose(g.numpy(), [2.0, 20.0])


def test_gradcheck_reports_input_index_and_values():
    class WrongSquare(Function):
        @staticmethod
        def forward(ctx, a):
            return a * a

        @staticmethod
        def backward(ctx, g):
            return g * ctx.inputs[0]          # missing factor 2

    x = Tensor(np.array([0.5, 1.5]), requires_grad=True)
    with pytest.raises(AssertionError, match=r"input 0 .* index \(0,\).*analytical=0\.5.*"
                                             r"numerical=(1\.0|0\.9999)"):
        gradcheck(lambda t: WrongSquare.apply(t), [x])
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda t: t * 2, [Tensor([1.0], requires_grad=True)])


# -- errors a user sees ------------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors():
    a, b = Tensor(np.ones((3, 4))), Tensor(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(5, 2\).*\(4\).*\(5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"cannot reshape .*\(3, 4\).*\(5,\)"):
        a.reshape(5)
    with pytest.raises(ValueError, match="axis 2 is out of"):
        a.sum(axis=2)
    with pytest.raises(ValueError, match="permutation"):
        Tensor(np.ones((2, 3, 4))).permute(0, 1)
    with pytest.raises(ValueError, match="cannot expand"):
        a.expand(2, 3, 5)
    with pytest.raises(ValueError, match="concatenate"):
        ad.cat([a, b], 0)
    with pytest.raises(ValueError, match="clip needs"):
        a.clip()
    with pytest.raises(TypeError, match="either axis= or dim="):
        a.sum(axis=0, dim=1)


# -- backends ----------------------------------------------------------------------------------
def test_forward_backward_smoke_on_each_backend(xp):
    x = Tensor(xp.asarray(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)))
    w = Tensor(xp.asarray(np.full((2, 3), 0.1, np.float32)), requires_grad=True)
    b = Tensor(xp.zeros(2, dtype=xp.float32), requires_grad=True)
    loss = F.cross_entropy(F.linear(x, w, b).tanh(), xp.asarray(np.array([0, 1, 1, 0])))
    loss.backward()
    assert type(loss.data) is type(x.data) and type(w.grad.data) is type(w.data)
    assert w.grad.dtype == np.float32 and w.grad.shape == (2, 3) and b.grad.shape == (2,)
    (g,) = grad((x.sum() * w * w).sum(), w, create_graph=True)
    (h,) = grad(g.sum(), w)
    np.testing.assert_allclose(h.numpy(), np.full((2, 3), 2 * float(x.sum().item())),
                               rtol=1e-5)


# -- PyTorch parity ----------------------------------------------------------------------------
@pytest.mark.torch
def test_torch_parity_composite_expression():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(4),
              "c": rng.uniform(0.5, 2.0, (3, 1)), "w": rng.standard_normal((4, 2))}

    def expr(m, t):
        a, b, c, w = t["a"], t["b"], t["c"], t["w"]
        h = (a * b).tanh() @ w                                   # (3, 2)
        s = m.sigmoid(h) * (a.exp() / (1 + c ** 2)).sum(1, keepdim=True)
        r = m.relu(a - 0.1).mean(0) - m.sqrt(c).sum() * b.max()
        z = m.cat([s, h.abs()], 1).log_softmax(1)
        q = m.where(a > 0, a * a, -a) + m.clamp(a, -0.5, 0.5)
        return z.sum() + r.sum() + (q[1:, ::2] ** 3).mean() + m.stack([b, b * 2]).var()

    class E:
        sigmoid, relu, sqrt, where, clamp = (ad.sigmoid, ad.relu, ad.sqrt, ad.where, ad.clamp)
        cat = staticmethod(lambda ts, d: ad.cat(ts, dim=d))
        stack = staticmethod(lambda ts: ad.stack(ts))

    class T:
        sigmoid, relu, sqrt, where, clamp = (torch.sigmoid, torch.relu, torch.sqrt,
                                             torch.where, torch.clamp)
        cat = staticmethod(lambda ts, d: torch.cat(ts, dim=d))
        stack = staticmethod(lambda ts: torch.stack(ts))

    te = {k: Tensor(v.copy(), requires_grad=True) for k, v in arrays.items()}
    tt = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    ye, yt = expr(E, te), expr(T, tt)
    ye.backward()
    yt.backward()
    np.testing.assert_allclose(ye.item(), yt.item(), rtol=1e-12)
    for k in arrays:
        np.testing.assert_allclose(te[k].grad.numpy(), tt[k].grad.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=k)


@pytest.mark.torch
def test_torch_parity_mlp_with_cross_entropy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    sizes = (5, 8, 6, 3)
    params = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        params += [rng.standard_normal((o, i)).astype(np.float32) * 0.5,
                   rng.standard_normal(o).astype(np.float32) * 0.1]
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16)

    def run(lib, ps, act, loss_fn, inp, tgt):
        h = inp
        for k in range(3):
            h = lib.linear(h, ps[2 * k], ps[2 * k + 1])
            if k < 2:
                h = act(h)
        return loss_fn(h, tgt)

    pe = [Tensor(p.copy(), requires_grad=True) for p in params]
    pt = [torch.tensor(p, requires_grad=True) for p in params]
    le = run(F, pe, F.relu, F.cross_entropy, Tensor(x), y)
    lt = run(torch.nn.functional, pt, torch.relu, torch.nn.functional.cross_entropy,
             torch.tensor(x), torch.tensor(y))
    le.backward()
    lt.backward()
    assert le.dtype == np.float32
    np.testing.assert_allclose(le.item(), lt.item(), rtol=1e-5)
    for a, b in zip(pe, pt):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.torch
def test_torch_parity_double_backward():
    torch = pytest.importorskip("torch")
    x0 = np.array([0.3, -1.1, 0.8])

    def f(m, t):
        return (m.tanh(t) * m.exp(t * 0.5)).sum() + (t ** 4).sum() * m.sigmoid(t).sum()

    class E:
        tanh, exp, sigmoid = ad.tanh, ad.exp, ad.sigmoid

    xe = Tensor(x0.copy(), requires_grad=True)
    xt = torch.tensor(x0, requires_grad=True)
    (ge,) = grad(f(E, xe), xe, create_graph=True)
    (gt,) = torch.autograd.grad(f(torch, xt), xt, create_graph=True)
    he = np.stack([grad(ge[i], xe)[0].numpy() for i in range(3)])
    ht = torch.autograd.functional.hessian(lambda t: f(torch, t), xt).numpy()
    np.testing.assert_allclose(ge.numpy(), gt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(he, ht, rtol=1e-10)
