"""Backprop lab: spec 7.3/7.6 vectors, the graph walk, stepping, the update and validation."""
import math

import numpy as np
import pytest

from engine import autodiff as ad
from engine.autodiff import Tensor
from engine.labs.backprop import (
    BOOK,
    BOOK_NET,
    GRAD_CHECK_OK,
    BackpropLab,
    fmt,
    layout,
    trace_graph,
)

# Derived 2-2-1 vectors of spec section 7.3 (hidden activation -> h1, y-hat, BCE).
BOOK_FORWARD = {
    "sigmoid": ([0.425557, 0.750260], 0.490657, 0.712010),
    "tanh": ([-0.291313, 0.800499], 0.395092, 0.928635),
    "relu": ([0.0, 1.1], 0.386986, 0.949367),
}
# Gradients of the sigmoid 2-2-1 example, spec section 7.6.
BOOK_GRADS = {
    "W2": [[-0.216755, -0.382140]], "b2": [-0.509343],
    "W1": [[-0.062257, -0.124513], [0.057261, 0.114523]], "b1": [-0.062257, 0.057261],
}

PHI = {"sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)), "tanh": np.tanh,
       "relu": lambda z: np.maximum(z, 0.0)}
DPHI = {"sigmoid": lambda z: PHI["sigmoid"](z) * (1.0 - PHI["sigmoid"](z)),
        "tanh": lambda z: 1.0 - np.tanh(z) ** 2,
        "relu": lambda z: (z > 0).astype(float)}


def weights(lab):
    """The lab's current parameters as float64 NumPy arrays: [W1, b1, W2, b2, ...]."""
    return [np.array(p.data, dtype=np.float64) for p in lab.params_list]


def hand_loss(ps, x, y, act, loss):
    """The net's loss written out in NumPy (the reference for finite differences)."""
    h = np.asarray(x, dtype=np.float64)
    n = len(ps) // 2
    for layer in range(n):
        z = ps[2 * layer] @ h + ps[2 * layer + 1]
        h = PHI[act](z) if layer < n - 1 else z
    if loss == "bce":
        p = 1.0 / (1.0 + np.exp(-h[0]))
        return -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    return (h[0] - y) ** 2


def hand_backprop(ps, x, y, act, loss):
    """The delta-recursion by hand: delta^[l] = (W^[l+1]^T delta^[l+1]) * phi'(z^[l]).

    Returns the gradients [dW1, db1, dW2, db2, ...] and the deltas per layer.
    """
    n = len(ps) // 2
    hs, zs = [np.asarray(x, dtype=np.float64)], []
    for layer in range(n):
        z = ps[2 * layer] @ hs[-1] + ps[2 * layer + 1]
        zs.append(z)
        hs.append(PHI[act](z) if layer < n - 1 else z)
    if loss == "bce":
        delta = 1.0 / (1.0 + np.exp(-zs[-1])) - y          # sigmoid + BCE
    else:
        delta = 2.0 * (zs[-1] - y)                          # linear + squared error
    grads, deltas = [None] * (2 * n), [None] * n
    for layer in reversed(range(n)):
        deltas[layer] = delta
        grads[2 * layer] = np.outer(delta, hs[layer])
        grads[2 * layer + 1] = delta
        if layer:
            delta = (ps[2 * layer].T @ delta) * DPHI[act](zs[layer - 1])
    return grads, deltas


def central_differences(ps, x, y, act, loss, eps=1e-6):
    out = []
    for k, p in enumerate(ps):
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            plus = [q.copy() for q in ps]
            minus = [q.copy() for q in ps]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = (hand_loss(plus, x, y, act, loss) - hand_loss(minus, x, y, act, loss)) / (
                2 * eps)
        out.append(g)
    return out


def node_value(lab, key):
    return lab.values_np[lab.graph.index(key)]


def node_grad(lab, key):
    return lab.grads_np[lab.graph.index(key)]


# -- spec vectors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("act", sorted(BOOK_FORWARD))
def test_book_forward_vectors(act):
    lab = BackpropLab(activation=act)
    h1, yhat, loss = BOOK_FORWARD[act]
    assert lab.values["weights"] == BOOK
    np.testing.assert_allclose(node_value(lab, "z1"), [-0.3, 1.1], atol=1e-12)
    np.testing.assert_allclose(node_value(lab, "h1"), h1, atol=5e-7)
    np.testing.assert_allclose(node_value(lab, "yhat"), [yhat], atol=5e-7)
    assert float(node_value(lab, "L")) == pytest.approx(loss, abs=5e-7)
    if act == "sigmoid":
        assert float(node_value(lab, "z2")[0]) == pytest.approx(-0.037377, abs=5e-7)


def test_book_gradients_match_spec_delta_recursion_and_finite_differences():
    lab = BackpropLab()
    for key, want in BOOK_GRADS.items():
        np.testing.assert_allclose(node_grad(lab, key), want, atol=5e-7)
    ps = [np.array(a) for pair in zip(BOOK_NET["W"], BOOK_NET["b"]) for a in pair]
    hand, deltas = hand_backprop(ps, BOOK_NET["x"], BOOK_NET["y"], "sigmoid", "bce")
    num = central_differences(ps, BOOK_NET["x"], BOOK_NET["y"], "sigmoid", "bce")
    for key, h, n in zip(lab.param_keys, hand, num):
        np.testing.assert_allclose(node_grad(lab, key), h, rtol=0, atol=1e-12)
        np.testing.assert_allclose(node_grad(lab, key), n, rtol=0, atol=1e-8)
    # delta^[l] is dL/dz^[l], an intermediate node's gradient from engine.autodiff.grad.
    np.testing.assert_allclose(node_grad(lab, "z2"), deltas[1], atol=1e-12)
    np.testing.assert_allclose(node_grad(lab, "z1"), deltas[0], atol=1e-12)
    np.testing.assert_allclose(node_grad(lab, "yhat"),
                               -1.0 / node_value(lab, "yhat"), atol=1e-12)  # y = 1
    assert float(node_grad(lab, "L")) == 1.0


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("loss", ["bce", "mse"])
@pytest.mark.parametrize("hidden,depth", [(1, 1), (3, 1), (2, 2), (3, 2)])
def test_random_nets_match_delta_recursion_and_finite_differences(act, loss, hidden, depth):
    lab = BackpropLab(seed=3, weights="random", activation=act, loss=loss, hidden=hidden,
                      depth=depth, x1=0.7, x2=-1.3, y=0.25)
    ps = weights(lab)
    x, y = (0.7, -1.3), 0.25
    hand, _ = hand_backprop(ps, x, y, act, loss)
    num = central_differences(ps, x, y, act, loss)
    assert float(node_value(lab, "L")) == pytest.approx(hand_loss(ps, x, y, act, loss),
                                                        abs=1e-12)
    for key, h, n in zip(lab.param_keys, hand, num):
        np.testing.assert_allclose(node_grad(lab, key), h, rtol=0, atol=1e-12)
        np.testing.assert_allclose(node_grad(lab, key), n, rtol=0, atol=1e-8)
    err, per_param = lab.grad_check()
    assert err < GRAD_CHECK_OK and set(per_param) == set(lab.param_keys)


# -- the graph walk -------------------------------------------------------------------------------
def test_graph_walk_gives_op_names_in_topological_order():
    lab = BackpropLab()
    g = lab.graph
    assert [n.op for n in g.nodes if n.inputs] == ["Linear", "Sigmoid", "Linear", "Sigmoid",
                                                   "BCE"]
    assert g.keys == ("x", "W1", "b1", "z1", "h1", "W2", "b2", "z2", "yhat", "y", "L")
    # The loss node stands for the primitives of F.binary_cross_entropy, as recorded.
    loss = g.nodes[g.index("L")]
    assert loss.primitives[-1] == "Mean" and "Log" in loss.primitives
    assert [g.nodes[j].key for j in loss.inputs] == ["yhat", "y"]
    assert [g.nodes[j].key for j in g.nodes[g.index("z1")].inputs] == ["x", "W1", "b1"]
    # Topological: every edge goes from an earlier node to a later one.
    assert np.all(g.edges[:, 0] < g.edges[:, 1])
    assert len(g.edges) == 3 + 1 + 3 + 1 + 2

    deep = BackpropLab(weights="random", depth=2, hidden=3, activation="relu", loss="mse")
    assert [n.op for n in deep.graph.nodes if n.inputs] == ["Linear", "Relu", "Linear", "Relu",
                                                            "Linear", "MSE"]
    assert "yhat" not in deep.graph.keys


def test_trace_graph_looks_through_unnamed_primitives_and_drops_constants():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0, -1.0]), requires_grad=True)
    c = a * b
    d = (ad.exp(c) * 2.0 + c).sum()
    g = trace_graph(d, {"a": a, "b": b, "c": c, "d": d})
    assert g.keys == ("a", "b", "c", "d")
    node_d = g.nodes[g.index("d")]
    assert node_d.op == "Exp+Mul+Add+Sum" and node_d.primitives == ("Exp", "Mul", "Add", "Sum")
    assert [g.nodes[j].key for j in node_d.inputs] == ["c"]
    assert g.nodes[g.index("c")].op == "Mul"
    named = trace_graph(d, {"a": a, "b": b, "c": c, "d": d}, {"d": "Head"})
    assert named.nodes[-1].op == "Head"
    with pytest.raises(ValueError, match="output"):
        trace_graph(d, {"a": a})


def test_layout_runs_left_to_right_without_overlaps():
    for kw in ({}, {"weights": "random", "depth": 2, "hidden": 3}):
        lab = BackpropLab(**kw)
        pos = layout(lab.graph, {"W": 1, "b": -1, "y": -1})
        np.testing.assert_array_equal(pos, lab.pos)
        src, dst = lab.graph.edges.T
        assert np.all(pos[src, 0] <= pos[dst, 0])
        assert len({tuple(p) for p in pos}) == len(pos)
        ops = [i for i, n in enumerate(lab.graph.nodes) if n.inputs]
        assert np.all(np.diff(pos[ops, 0]) > 0) and np.all(pos[ops, 1] == 0)
        g = lab.graph
        assert pos[g.index("W1"), 1] == 1 and pos[g.index("b1"), 1] == -1
        assert pos[g.index("x"), 0] == 0


# -- stepping -------------------------------------------------------------------------------------
def test_stepping_reveals_forward_then_backward_then_update():
    lab = BackpropLab()
    g = lab.graph
    nf, nb = len(lab.fwd_order), len(lab.bwd_order)
    assert (nf, nb) == (5, 10)
    s = lab.snapshot()
    assert s.data["phase"] == "ready" and s.data["current"] == -1
    assert not any(s.data["value_shown"][i] for i in lab.fwd_order)
    assert all(s.data["value_shown"][g.index(k)] for k in ("x", "W1", "b1", "y"))
    assert "loss" not in s.scalars
    for k in range(1, nf + 1):
        lab.step()
        s = lab.snapshot()
        assert s.data["phase"] == "forward"
        assert s.data["current"] == lab.fwd_order[k - 1]
        assert int(np.sum(s.data["value_shown"][lab.fwd_order])) == k
        assert not np.any(s.data["grad_shown"])
    assert s.scalars["loss"] == pytest.approx(0.712010, abs=5e-7)
    assert [g.nodes[i].key for i in lab.bwd_order] == [
        "L", "yhat", "z2", "W2", "b2", "h1", "z1", "W1", "b1", "x"]
    for k in range(1, nb + 1):
        lab.step()
        s = lab.snapshot()
        assert s.data["phase"] == "backward"
        assert s.data["current"] == lab.bwd_order[k - 1]
        assert int(np.sum(s.data["grad_shown"])) == k
        key = g.nodes[s.data["current"]].key
        if key == "z1":
            assert "\u03b4<sup>[1]</sup>" in s.text["stage"] and "\u03c6\u2032" in s.text["stage"]
    assert not s.data["grad_shown"][g.index("y")]  # a constant has no gradient
    old = weights(lab)
    grads = [node_grad(lab, k) for k in lab.param_keys]
    lab.step()
    s = lab.snapshot()
    assert s.data["phase"] == "update"
    for o, gr, new in zip(old, grads, weights(lab)):
        np.testing.assert_allclose(new, o - 0.5 * gr, atol=1e-15)
    assert all(s.data["highlight"][g.index(k)] for k in lab.param_keys)
    assert "\u2192" in s.text["stage"] and "new" in s.text["deltas"]
    # the label of W2 shows the new value during the update
    assert s.data["value_rows"][g.index("W2")][0][0] == fmt(0.5 + 0.5 * 0.216755)
    lab.step()
    s = lab.snapshot()
    assert lab.cycle == 2 and s.data["phase"] == "forward"
    np.testing.assert_allclose(node_value(lab, "z1"), old[0] @ [1, 2] + old[1]
                               - 0.5 * (grads[0] @ [1, 2] + grads[1]), atol=1e-14)
    assert not lab.finished


def test_pass_and_cycle_granularity():
    lab = BackpropLab(stepping="pass")
    phases = []
    for _ in range(4):
        lab.step()
        phases.append(lab.phase())
    assert phases == ["forward", "backward", "update", "forward"]
    assert lab.phase_pos == len(lab.fwd_order) and lab.cycle == 2
    cyc = BackpropLab(stepping="cycle")
    cyc.step(2)
    assert cyc.phase() == "update" and cyc.cycle == 2 and len(cyc.losses) == 2
    lab.set_param("stepping", "node")  # live: no restart
    assert lab.cycle == 2 and lab.phase_pos == len(lab.fwd_order)


@pytest.mark.parametrize("cfg", [{}, {"loss": "mse"}, {"activation": "tanh"},
                                 {"weights": "random", "depth": 2, "hidden": 3,
                                  "activation": "relu"}])
def test_loss_goes_down_over_cycles(cfg):
    lab = BackpropLab(seed=1, stepping="cycle", lr=0.3, **cfg)
    lab.step(6)
    assert len(lab.losses) == 6
    assert np.all(np.diff(lab.losses) < 0), lab.losses
    snap = lab.snapshot()
    np.testing.assert_array_equal(snap.data["loss"], lab.losses)
    np.testing.assert_array_equal(snap.data["loss_cycle"], np.arange(1, 7))


def test_reset_returns_to_the_start():
    lab = BackpropLab()
    first = lab.snapshot()
    lab.step(40)
    lab.reset()
    again = lab.snapshot()
    assert again.data["phase"] == "ready" and lab.cycle == 1 and lab.losses == []
    np.testing.assert_array_equal(weights(lab)[0], BOOK_NET["W"][0])
    assert again.text["equation"] == first.text["equation"]


def test_divergence_stops_the_run_with_an_alert():
    lab = BackpropLab(seed=0, stepping="cycle", loss="mse", lr=5.0, x1=3.0, x2=-3.0, y=0.0)
    lab.step(50)
    assert lab.finished and lab.snapshot().alerts
    assert "lower it" in lab.snapshot().alerts[0]
    lab.reset()
    assert not lab.finished and not lab.snapshot().alerts


# -- params ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,value", [
    ("hidden", 4), ("hidden", 0), ("hidden", 1.5), ("depth", 3), ("activation", "gelu"),
    ("loss", "hinge"), ("y", 1.5), ("x1", 3.5), ("x2", "abc"), ("lr", 0.0), ("lr", 10.0),
    ("weights", "xavier"), ("stepping", "epoch"), ("nope", 1)])
def test_bad_params_raise_and_change_nothing(name, value):
    lab = BackpropLab()
    lab.step(7)
    before = (dict(lab.values), lab.phase_pos, lab.cycle, [w.copy() for w in weights(lab)])
    with pytest.raises(ValueError) as exc:
        lab.set_param(name, value)
    msg = str(exc.value)
    assert name in msg and ("allowed" in msg or "params are" in msg)
    assert lab.values == before[0] and (lab.phase_pos, lab.cycle) == before[1:3]
    for a, b in zip(weights(lab), before[3]):
        np.testing.assert_array_equal(a, b)


def test_book_preset_and_sizes_follow_each_other():
    lab = BackpropLab()
    lab.set_param("hidden", 3)
    assert lab.values["weights"] == "random" and lab.graph.nodes[lab.graph.index("W1")] \
        .tensor.shape == (3, 2)
    lab.set_param("x1", -2.0)
    lab.set_param("weights", BOOK)
    assert (lab.values["hidden"], lab.values["depth"]) == (2, 1)
    assert (lab.values["x1"], lab.values["x2"], lab.values["y"]) == (1.0, 2.0, 1.0)
    assert float(node_value(lab, "L")) == pytest.approx(0.712010, abs=5e-7)
    # Constructed with a size the book lacks: random weights, not an error.
    assert BackpropLab(depth=2).values["weights"] == "random"


def test_changing_the_example_restarts_the_cycle_with_the_same_weights():
    lab = BackpropLab(stepping="cycle")
    lab.step(2)
    w = weights(lab)
    lab.set_param("y", 0.0)
    assert lab.phase() == "ready" and lab.cycle == 3
    for a, b in zip(weights(lab), w):
        np.testing.assert_array_equal(a, b)
    hand, _ = hand_backprop(w, (1.0, 2.0), 0.0, "sigmoid", "bce")
    np.testing.assert_allclose(node_grad(lab, "W1"), hand[0], atol=1e-12)
    lab.set_param("lr", 0.05)
    assert lab.opt.param_groups[0]["lr"] == 0.05


# -- snapshot -------------------------------------------------------------------------------------
def test_snapshot_contents():
    lab = BackpropLab()
    lab.step(15)  # forward and backward complete
    s = lab.snapshot()
    d = s.data
    n = len(lab.graph.nodes)
    assert d["pos"].shape == (n, 2) and len(d["symbols"]) == n == len(d["value_rows"])
    assert d["edges"].shape == (10, 2) and set(d["edge_state"]) == {2, 1}
    assert d["grad_check_ok"] and d["grad_check_error"] < 1e-6
    assert np.all(np.abs(d["grad_tone"][d["grad_shown"]]) <= 1)
    assert d["value_rows"][lab.graph.index("h1")] == (("0.426",), ("0.75",))
    assert d["grad_rows"][lab.graph.index("b2")] == (("\u22120.509",),)
    assert d["grad_rows"][lab.graph.index("y")] == ()
    eq = s.text["equation"]
    assert "E11" in eq and "\u03c6\u2032" in eq and "0.712" in eq and "off by" in eq
    assert "agree" in s.text["grad_check"]
    assert "\u22120.5093" in s.text["deltas"]
    with pytest.raises(ValueError, match="read-only"):
        d["loss"][0] = 1.0  # frozen


def test_number_format():
    assert fmt(-0.0374) == "\u22120.0374" and fmt(-0.0) == "0" and fmt(math.nan) == "nan"
    assert fmt(0.71201046, 4) == "0.712"


# -- PyTorch parity -------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("act,loss", [("sigmoid", "bce"), ("tanh", "mse"), ("relu", "bce")])
def test_gradients_match_torch(act, loss):
    torch = pytest.importorskip("torch")
    lab = BackpropLab(seed=5, weights="random", activation=act, loss=loss, hidden=3, depth=2,
                      x1=0.4, x2=-0.9, y=0.3)
    ps = [torch.tensor(w, requires_grad=True) for w in weights(lab)]
    h = torch.tensor([0.4, -0.9], dtype=torch.float64)
    phi = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[act]
    for layer in range(3):
        z = torch.nn.functional.linear(h, ps[2 * layer], ps[2 * layer + 1])
        h = phi(z) if layer < 2 else z
    y = torch.tensor([0.3], dtype=torch.float64)
    if loss == "bce":
        out = torch.nn.functional.binary_cross_entropy(torch.sigmoid(h), y)
    else:
        out = torch.nn.functional.mse_loss(h, y)
    out.backward()
    assert float(node_value(lab, "L")) == pytest.approx(out.item(), abs=1e-12)
    for key, p in zip(lab.param_keys, ps):
        np.testing.assert_allclose(node_grad(lab, key), p.grad.numpy(), atol=1e-12)
