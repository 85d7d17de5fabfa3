"""One gradient-check table: a row per op (and per broadcasting / axis / indexing variant).

Every row compares the engine's reverse-mode Jacobian with float64 central differences
(:func:`engine.autodiff.gradcheck`).  Rows named ``2nd-*`` check second derivatives: they
gradcheck the *gradient function* ``x -> grad(sum(w * f(x)), x, create_graph=True)``.

Input kinds keep every row away from kinks and ties, where a finite difference straddles a
non-differentiable point: ``pos`` for log/sqrt/division, ``away`` (|x| >= 0.2) for
abs/relu/clip, and continuous random draws, which have no ties, for max/min.
"""
import numpy as np
import pytest

import engine.nn.functional as F
from engine import autodiff as ad
from engine.autodiff import Tensor, grad, gradcheck


def _draw(rng, shape, kind):
    if kind == "any":
        return rng.standard_normal(shape)
    if kind == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "away":
        return rng.uniform(0.2, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
    if kind == "unit":
        return rng.uniform(0.1, 0.9, shape)
    raise ValueError(kind)


def _second(f):
    """The gradient function of sum(w * f(*xs)) w.r.t. every input (fixed random weights w)."""
    def gradient(*xs):
        out = f(*xs)
        w = Tensor(out.xp.asarray(np.random.default_rng(7).standard_normal(out.shape)))
        return grad((out * w).sum(), list(xs), create_graph=True, allow_unused=True)
    return gradient


_W34 = np.random.default_rng(3).standard_normal((3, 4))
_LABELS = np.array([2, 0, 1, 2])
_MASK = np.array([[True, False, True, True], [False, True, False, True],
                  [True, True, False, False]])
_COND = np.array([[True], [False], [True]])

# (id, function, input specs as (shape, kind)); kind "any" when only a shape is given.
ROWS = [
    # -- arithmetic and broadcasting --
    ("add", lambda a, b: a + b, [(3, 4), (3, 4)]),
    ("add-bcast-(3,1)+(1,4)", lambda a, b: a + b, [(3, 1), (1, 4)]),
    ("add-scalar", lambda a: a + 2.5, [(3,)]),
    ("radd-scalar", lambda a: 2.5 + a, [(3,)]),
    ("add-0d+tensor", lambda a, b: a + b, [(), (2, 3)]),
    ("sub-bcast-(2,3)-(3,)", lambda a, b: a - b, [(2, 3), (3,)]),
    ("rsub-scalar", lambda a: 1.0 - a, [(4,)]),
    ("mul", lambda a, b: a * b, [(2, 3), (2, 3)]),
    ("mul-bcast-(2,3)*(3,)", lambda a, b: a * b, [(2, 3), (3,)]),
    ("mul-scalar*tensor", lambda a: 3.0 * a, [(2, 3)]),
    ("mul-array-operand", lambda a: a * np.arange(3.0), [(2, 3)]),
    ("div", lambda a, b: a / b, [(2, 3), ((2, 3), "pos")]),
    ("div-bcast", lambda a, b: a / b, [(2, 3), ((3,), "pos")]),
    ("rdiv-scalar", lambda a: 2.0 / a, [((3,), "pos")]),
    ("neg", lambda a: -a, [(2, 3)]),
    ("pow-2", lambda a: a ** 2, [(5,)]),
    ("pow-3", lambda a: a ** 3, [(5,)]),
    ("pow-half", lambda a: a ** 0.5, [((5,), "pos")]),
    ("pow-neg", lambda a: a ** -1.5, [((5,), "pos")]),
    ("pow-tensor", lambda a, b: a ** b, [((2, 3), "pos"), (2, 3)]),
    ("pow-tensor-bcast", lambda a, b: a ** b, [((2, 3), "pos"), (3,)]),
    ("rpow-scalar-base", lambda a: 2.0 ** a, [(4,)]),
    ("pow-fn", lambda a: ad.pow(a, 3), [(4,)]),
    # -- matmul --
    ("matmul-2d", lambda a, b: a @ b, [(3, 4), (4, 5)]),
    ("matmul-batched", lambda a, b: a @ b, [(2, 3, 4), (2, 4, 5)]),
    ("matmul-batch-bcast", lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    ("matmul-batch-bcast-left", lambda a, b: a @ b, [(3, 4), (2, 4, 2)]),
    ("matmul-1d-left", lambda a, b: a @ b, [(4,), (4, 5)]),
    ("matmul-1d-right", lambda a, b: a @ b, [(3, 4), (4,)]),
    ("matmul-dot", lambda a, b: a @ b, [(4,), (4,)]),
    ("matmul-1d-batched", lambda a, b: a @ b, [(4,), (2, 4, 3)]),
    ("matmul-batched-1d", lambda a, b: a @ b, [(2, 3, 4), (4,)]),
    ("matmul-fn-T", lambda a, b: ad.matmul(a, b.T), [(3, 4), (5, 4)]),
    # -- reductions: axis None / int / negative / tuple, keepdims both --
    ("sum-all", lambda a: a.sum(), [(3, 4)]),
    ("sum-axis0", lambda a: a.sum(axis=0), [(3, 4)]),
    ("sum-axis-1-keepdims", lambda a: a.sum(axis=-1, keepdims=True), [(3, 4)]),
    ("sum-tuple", lambda a: a.sum(axis=(0, 2)), [(2, 3, 4)]),
    ("sum-tuple-keepdims", lambda a: a.sum(axis=(0, 2), keepdims=True), [(2, 3, 4)]),
    ("sum-all-keepdims", lambda a: a.sum(keepdims=True), [(2, 3)]),
    ("sum-dim-keepdim-torch", lambda a: a.sum(dim=1, keepdim=True), [(2, 3)]),
    ("mean-all", lambda a: a.mean(), [(3, 4)]),
    ("mean-axis0", lambda a: a.mean(axis=0), [(3, 4)]),
    ("mean-axis-1-keepdims", lambda a: a.mean(axis=-1, keepdims=True), [(3, 4)]),
    ("mean-tuple", lambda a: a.mean(axis=(0, 1)), [(2, 3, 4)]),
    ("max-all", lambda a: a.max(), [(3, 4)]),
    ("max-axis0", lambda a: a.max(axis=0), [(3, 4)]),
    ("max-axis-1-keepdims", lambda a: a.max(axis=-1, keepdims=True), [(3, 4)]),
    ("max-tuple", lambda a: a.max(axis=(0, 2)), [(2, 3, 4)]),
    ("max-dim-torch", lambda a: a.max(dim=1), [(3, 4)]),
    ("min-all", lambda a: a.min(), [(3, 4)]),
    ("min-axis1-keepdims", lambda a: a.min(axis=1, keepdims=True), [(3, 4)]),
    ("var-axis1", lambda a: a.var(axis=1), [(3, 4)]),
    ("var-all-biased", lambda a: a.var(ddof=0), [(3, 4)]),
    ("std-axis0", lambda a: a.std(axis=0), [(3, 4)]),
    ("logsumexp-dim1", lambda a: a.logsumexp(dim=1), [(3, 4)]),
    # -- shape --
    ("reshape", lambda a: a.reshape(4, 3), [(3, 4)]),
    ("view-minus1", lambda a: a.view(-1), [(3, 4)]),
    ("transpose-reverse", lambda a: a.transpose(), [(2, 3, 4)]),
    ("transpose-swap", lambda a: a.transpose(0, 2), [(2, 3, 4)]),
    ("permute", lambda a: a.permute(2, 0, 1), [(2, 3, 4)]),
    ("T", lambda a: a.T * _W34.T, [(3, 4)]),
    ("swapaxes", lambda a: a.swapaxes(-1, -2), [(2, 3, 4)]),
    ("flatten", lambda a: a.flatten(1), [(2, 3, 4)]),
    ("squeeze", lambda a: a.squeeze(), [(3, 1, 4)]),
    ("unsqueeze", lambda a: a.unsqueeze(1), [(3, 4)]),
    ("expand", lambda a: a.expand(2, 3, 4), [(3, 1)]),
    ("broadcast_to", lambda a: ad.broadcast_to(a, (3, 4)), [(4,)]),
    # -- indexing --
    ("index-int", lambda a: a[1], [(3, 4)]),
    ("index-slice", lambda a: a[1:, ::2], [(3, 4)]),
    ("index-ellipsis-none", lambda a: a[..., None, 1], [(2, 3, 4)]),
    ("index-negative-step", lambda a: a[::-1, 1:3], [(3, 4)]),
    ("index-int-array-repeats", lambda a: a[[0, 2, 2, 0]], [(3, 4)]),
    ("index-int-arrays-pairs", lambda a: a[np.array([0, 1, 1]), np.array([3, 0, 0])], [(3, 4)]),
    ("index-int-array-tensor", lambda a: a[Tensor(np.array([1, 0]))], [(3, 4)]),
    ("index-bool-mask", lambda a: a[_MASK], [(3, 4)]),
    ("index-bool-rows", lambda a: a[np.array([True, False, True])], [(3, 4)]),
    ("index-slice-and-array", lambda a: a[:, [3, 1, 1]], [(3, 4)]),
    # -- concatenate / stack --
    ("cat-axis0", lambda a, b: ad.cat([a, b], 0), [(2, 3), (4, 3)]),
    ("cat-axis-1-three", lambda a, b, c: ad.concatenate([a, b, c], axis=-1),
     [(2, 3), (2, 1), (2, 2)]),
    ("cat-with-constant", lambda a: ad.cat([a, np.zeros((1, 3))], dim=0), [(2, 3)]),
    ("stack-axis0", lambda a, b: ad.stack([a, b]), [(2, 3), (2, 3)]),
    ("stack-axis-1", lambda a, b, c: ad.stack([a, b, c], axis=-1), [(2, 3), (2, 3), (2, 3)]),
    # -- elementwise math --
    ("exp", lambda a: a.exp(), [(2, 3)]),
    ("exp-fn", lambda a: ad.exp(a), [(3,)]),
    ("log", lambda a: a.log(), [((2, 3), "pos")]),
    ("log1p", lambda a: ad.log1p(a), [((2, 3), "pos")]),
    ("sqrt", lambda a: a.sqrt(), [((2, 3), "pos")]),
    ("abs", lambda a: a.abs(), [((2, 3), "away")]),
    ("sin", lambda a: ad.sin(a), [(2, 3)]),
    ("cos", lambda a: ad.cos(a), [(2, 3)]),
    ("tanh", lambda a: a.tanh(), [(2, 3)]),
    ("sigmoid", lambda a: a.sigmoid(), [(2, 3)]),
    ("sigmoid-large", lambda a: ad.sigmoid(a * 15.0), [(2, 3)]),
    ("relu", lambda a: a.relu(), [((2, 3), "away")]),
    ("clip", lambda a: a.clip(-0.5, 0.5), [((3, 4), "away")]),
    ("clamp-min-only", lambda a: ad.clamp(a, min=0.0), [((3, 4), "away")]),
    ("where", lambda a, b: ad.where(_COND, a, b), [(3, 4), (3, 4)]),
    ("where-bcast-scalar", lambda a: ad.where(_MASK, a, 0.0), [(4,)]),
    ("maximum", lambda a, b: ad.maximum(a, b), [(3, 4), (3, 4)]),
    ("maximum-bcast", lambda a, b: ad.maximum(a, b), [(3, 4), (4,)]),
    ("minimum", lambda a, b: ad.minimum(a, b), [(3, 4), (3, 1)]),
    # -- nn.functional composites --
    ("F.linear", lambda x, w, b: F.linear(x, w, b), [(5, 4), (3, 4), (3,)]),
    ("F.linear-nobias", lambda x, w: F.linear(x, w), [(5, 4), (3, 4)]),
    ("F.linear-3d-input", lambda x, w, b: F.linear(x, w, b), [(2, 5, 4), (3, 4), (3,)]),
    ("F.linear-1d-input", lambda x, w, b: F.linear(x, w, b), [(4,), (3, 4), (3,)]),
    ("F.leaky_relu", lambda a: F.leaky_relu(a, 0.1), [((3, 4), "away")]),
    ("F.elu", lambda a: F.elu(a), [((3, 4), "away")]),
    ("F.softplus", lambda a: F.softplus(a, beta=2.0), [(3, 4)]),
    ("F.softmax-dim-1", lambda a: F.softmax(a, dim=-1), [(3, 4)]),
    ("F.softmax-dim0", lambda a: F.softmax(a, dim=0), [(3, 4)]),
    ("F.log_softmax", lambda a: F.log_softmax(a, dim=1), [(3, 4)]),
    ("F.mse_loss", lambda a, b: F.mse_loss(a, b), [(3, 4), (3, 4)]),
    ("F.mse_loss-none", lambda a, b: F.mse_loss(a, b, reduction="none"), [(3, 4), (3, 4)]),
    ("F.l1_loss", lambda a: F.l1_loss(a, np.zeros((3, 4))), [((3, 4), "away")]),
    ("F.cross_entropy", lambda a: F.cross_entropy(a, _LABELS), [(4, 3)]),
    ("F.cross_entropy-sum-weight",
     lambda a: F.cross_entropy(a, _LABELS, weight=np.array([0.2, 1.0, 3.0]),
                               reduction="sum"), [(4, 3)]),
    ("F.cross_entropy-probs", lambda a, p: F.cross_entropy(a, F.softmax(p, dim=1)),
     [(4, 3), (4, 3)]),
    ("F.bce_with_logits", lambda a, y: F.binary_cross_entropy_with_logits(a, y),
     [(3, 4), ((3, 4), "unit")]),
    ("F.bce_with_logits-pos_weight",
     lambda a: F.binary_cross_entropy_with_logits(a, _MASK.astype(float), pos_weight=2.0),
     [(3, 4)]),
    ("F.binary_cross_entropy", lambda p, y: F.binary_cross_entropy(p, y),
     [((3, 4), "unit"), ((3, 4), "unit")]),
    # -- second order: gradcheck of the gradient function --
    ("2nd-tanh", _second(lambda a: a.tanh()), [(2, 3)]),
    ("2nd-sigmoid", _second(lambda a: a.sigmoid()), [(2, 3)]),
    ("2nd-exp", _second(lambda a: a.exp()), [(2, 3)]),
    ("2nd-log", _second(lambda a: a.log()), [((2, 3), "pos")]),
    ("2nd-sqrt", _second(lambda a: a.sqrt()), [((2, 3), "pos")]),
    ("2nd-sin-cos", _second(lambda a: ad.sin(a) * ad.cos(a)), [(2, 3)]),
    ("2nd-mul", _second(lambda a, b: a * b * a), [(2, 3), (3,)]),
    ("2nd-div", _second(lambda a, b: a / b), [(2, 3), ((2, 3), "pos")]),
    ("2nd-matmul", _second(lambda a, b: (a @ b) * (a @ b)), [(3, 4), (4, 2)]),
    ("2nd-matmul-1d", _second(lambda a, b: (a @ b) ** 2), [(4,), (2, 4, 3)]),
    ("2nd-pow-scalar", _second(lambda a: a ** 3), [(4,)]),
    ("2nd-pow-tensor", _second(lambda a, b: a ** b), [((2, 3), "pos"), (2, 3)]),
    ("2nd-softmax", _second(lambda a: F.softmax(a, dim=-1)), [(3, 4)]),
    ("2nd-log_softmax", _second(lambda a: F.log_softmax(a, dim=0)), [(3, 4)]),
    ("2nd-cross_entropy", _second(lambda a: F.cross_entropy(a, _LABELS)), [(4, 3)]),
    ("2nd-linear-tanh", _second(lambda x, w, b: F.linear(x, w, b).tanh()),
     [(5, 4), (3, 4), (3,)]),
    ("2nd-mean-max", _second(lambda a: (a * a).max(axis=1) + a.mean(0).sum()), [(3, 4)]),
    ("2nd-index-cat", _second(lambda a: ad.cat([a[[0, 0]], a[1:]], 0) ** 2), [(3, 4)]),
    ("2nd-where-relu", _second(lambda a: ad.where(_MASK, a.relu() * a, a.exp())),
     [((3, 4), "away")]),
    ("2nd-var", _second(lambda a: a.var(axis=1)), [(3, 4)]),
]


@pytest.mark.parametrize("fn, specs", [pytest.param(f, s, id=i) for i, f, s in ROWS])
def test_gradcheck(fn, specs):
    rng = np.random.default_rng(0)
    inputs = []
    for spec in specs:
        shape, kind = spec if (len(spec) == 2 and isinstance(spec[1], str)) else (spec, "any")
        inputs.append(Tensor(np.asarray(_draw(rng, shape, kind), dtype=np.float64),
                             requires_grad=True))
    assert gradcheck(fn, inputs)


def test_table_covers_every_primitive():
    """Every Function subclass in the ops package has at least one forward use in the table."""
    import inspect

    from engine.autodiff import ops
    from engine.autodiff.function import Function

    primitives = {name for name, obj in vars(ops).items()
                  if inspect.isclass(obj) and issubclass(obj, Function)}
    # Reached by the rows above through the operators, methods and F.* functions.
    reached = {"Add", "Sub", "Mul", "Div", "Neg", "Pow", "PowScalar", "MatMul", "Linear",
               "Sum", "Mean", "Max", "Min", "Reshape", "Transpose", "Expand", "Index",
               "ScatterAdd", "Concat", "Stack", "Exp", "Log", "Log1p", "Sqrt", "Abs", "Sin",
               "Cos", "Tanh", "Sigmoid", "Relu", "Clip", "Where", "Maximum", "Minimum"}
    # Cast and Clone are identities for gradients; they have their own tests.
    assert primitives - reached == {"Cast", "Clone"}
