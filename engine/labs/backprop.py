r"""Backpropagation, step by step (book ch. 7, section 7.6): a small net's autodiff graph.

A net with 2 inputs, one or two hidden layers of 1-3 units and one output is run on one
example :math:`(x, y)` with the engine's autodiff, layer by layer:

.. math::

    z^{[l]} = W^{[l]} h^{[l-1]} + b^{[l]}, \qquad h^{[l]} = \phi(z^{[l]}), \qquad
    h^{[0]} = x,

with :math:`\hat y = \sigma(z^{[L]})` and binary cross-entropy, or :math:`\hat y = z^{[L]}` and
the squared error.  The graph the panel draws is **read from the autodiff graph itself**
(:func:`trace_graph` walks ``grad_fn`` / ``inputs`` from the loss), so it shows what the engine
really recorded; each node's forward value is its tensor's data and its gradient
:math:`\partial L/\partial(\text{node})` comes from :func:`engine.autodiff.grad`.

Stepping walks one training cycle: the forward pass node by node in topological order, the
backward pass node by node in reverse order (each with the local rule that produced the
gradient, e.g. :math:`\delta^{[l]} = (W^{[l+1]\top}\delta^{[l+1]}) \odot \phi'(z^{[l]})`),
then one SGD update :math:`\theta \leftarrow \theta - \eta \nabla_\theta L`; the next cycle
starts from the updated weights.  Every cycle is also checked against central finite
differences in float64 (the "grad-check light").
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from engine import backend, optim
from engine.autodiff import Tensor, grad, no_grad
from engine.labs.base import Lab, Param, Snapshot
from engine.nn import MLP
from engine.nn import functional as F

ACTIVATIONS = ("sigmoid", "tanh", "relu")
LOSSES = ("bce", "mse")
BOOK = "book 2-2-1"
WEIGHTS = (BOOK, "random")
STEPPING = ("node", "pass", "cycle")

#: The derived 2-2-1 example of spec section 7.3 (all numbers exact as given there).
BOOK_NET = {
    "W": (np.array([[0.1, -0.2], [0.4, 0.3]]), np.array([[0.5, -0.6]])),
    "b": (np.array([0.0, 0.1]), np.array([0.2])),
    "x": (1.0, 2.0),
    "y": 1.0,
}

#: Central-difference step and the agreement that turns the grad-check light green.
GRAD_CHECK_EPS = 1e-6
GRAD_CHECK_OK = 1e-6
#: A loss above this (for targets in [0, 1]) means the updates are blowing up.
DIVERGED_LOSS = 1e8

#: Rows of the leaves around the main chain: weights above, biases and the target below.
LEAF_ROWS = {"W": 1.0, "b": -1.0, "y": -1.0}

_PHI = {"sigmoid": "\u03c3", "tanh": "tanh", "relu": "ReLU"}
_DPHI = {"sigmoid": "\u03c3(z)(1 \u2212 \u03c3(z)) = h \u2299 (1 \u2212 h)",
         "tanh": "1 \u2212 tanh\u00b2(z) = 1 \u2212 h \u2299 h",
         "relu": "<b>1</b>[z &gt; 0]"}


# -- reading the autodiff graph ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class GraphNode:
    """One node of a traced graph.

    Attributes
    ----------
    key : str
        The name the caller gave the tensor (``'W1'``, ``'z1'``, ``'L'``).
    tensor : Tensor
    op : str
        ``''`` for a leaf; the ``grad_fn.name`` of the primitive that made the tensor; or, when
        several unnamed primitives lie between this tensor and its named inputs, the composite
        name the caller gave (``'BCE'``), else the primitives joined by ``'+'``.
    primitives : tuple of str
        ``grad_fn.name`` of every primitive the node stands for, in forward order.
    inputs : tuple of int
        Indices (into the node list) of the named tensors the node was computed from.
    """

    key: str
    tensor: Tensor
    op: str
    primitives: tuple
    inputs: tuple


@dataclasses.dataclass(frozen=True)
class Graph:
    """Named tensors of an autodiff graph in topological order (inputs before consumers).

    Attributes
    ----------
    nodes : tuple of GraphNode
    edges : (m, 2) int array
        ``(source, destination)`` index pairs, data flowing from source to destination.
    """

    nodes: tuple
    edges: np.ndarray

    def index(self, key: str) -> int:
        for i, n in enumerate(self.nodes):
            if n.key == key:
                return i
        raise KeyError(key)

    @property
    def keys(self) -> tuple:
        return tuple(n.key for n in self.nodes)


def trace_graph(output: Tensor, names: Mapping[str, Tensor],
                composites: Mapping[str, str] | None = None) -> Graph:
    """Walk the autodiff graph from ``output`` back to the named tensors it depends on.

    Starting at ``output.grad_fn``, every input is followed through ``grad_fn.inputs``:
    a named tensor ends the path (it becomes a node and an edge), a tensor without a
    ``grad_fn`` that is not named is a constant and is dropped, and an unnamed intermediate
    result is looked through, its primitive's name being recorded on the named node it feeds.
    So ``L = F.binary_cross_entropy(y_hat, y)``, nine primitives, becomes one node ``L`` with
    inputs ``y_hat`` and ``y``.

    Parameters
    ----------
    output : Tensor
        The root, usually the scalar loss; it must be one of ``names``.
    names : mapping str -> Tensor
        The tensors to show as nodes (leaves and intermediate results).
    composites : mapping str -> str, optional
        Display names of nodes made of several primitives (``{'L': 'BCE'}``).

    Returns
    -------
    Graph
        Nodes reachable from ``output``, in topological order.

    Raises
    ------
    ValueError
        If ``output`` is not one of the named tensors.
    """
    composites = dict(composites or {})
    by_id = {id(t): k for k, t in names.items()}
    if id(output) not in by_id:
        raise ValueError("trace_graph: the output tensor must be one of the named tensors")
    nodes: list[GraphNode] = []
    index: dict[int, int] = {}

    def named_inputs(fn):
        """Named tensors feeding ``fn`` and the primitives in between (post-order DFS)."""
        found, prims, seen = [], [], {fn}
        stack = [(fn, iter(fn.inputs))]
        while stack:
            node, it = stack[-1]
            for t in it:
                if id(t) in by_id:
                    if all(f is not t for f in found):
                        found.append(t)
                    continue
                f = t.grad_fn
                if f is None or f in seen:  # a constant, or a primitive already recorded
                    continue
                seen.add(f)
                stack.append((f, iter(f.inputs)))
                break
            else:
                stack.pop()
                prims.append(node.name)
        return found, prims

    def visit(t):
        # Recursion over *named* nodes only: a few dozen at most in this lab's nets.
        if id(t) in index:
            return index[id(t)]
        key = by_id[id(t)]
        if t.grad_fn is None:
            node = GraphNode(key, t, "", (), ())
        else:
            found, prims = named_inputs(t.grad_fn)
            # Differentiable inputs first, constants (targets) after: y then sits next to L.
            found.sort(key=lambda u: not u.requires_grad)
            ins = tuple(visit(u) for u in found)
            op = prims[0] if len(prims) == 1 else composites.get(key, "+".join(prims))
            node = GraphNode(key, t, op, tuple(prims), ins)
        index[id(t)] = len(nodes)
        nodes.append(node)
        return index[id(t)]

    visit(output)
    edges = np.array([(j, i) for i, n in enumerate(nodes) for j in n.inputs],
                     dtype=np.int64).reshape(-1, 2)
    return Graph(tuple(nodes), edges)


def layout(graph: Graph, leaf_rows: Mapping[str, float] | None = None) -> np.ndarray:
    """Left-to-right positions of a traced graph's nodes by topological depth.

    Op nodes sit on row 0 in column ``1 + max(column of their op inputs)``.  An op whose
    inputs are all leaves takes its first leaf (the data, ``x``) one column to its left on its
    own row; every other leaf sits in its consumer's column, above or below it: on the row
    ``leaf_rows[key[0]]`` if given (``{'W': 1, 'b': -1}``), otherwise alternately +1, -1, ...
    Ops sharing a column are spread over rows 0, 2, -2, ...

    Parameters
    ----------
    graph : Graph
    leaf_rows : mapping str -> float, optional
        Preferred row of leaves by the first letter of their key.

    Returns
    -------
    (n, 2) float array
        ``(column, row)`` of each node.
    """
    leaf_rows = dict(leaf_rows or {})
    n = len(graph.nodes)
    pos = np.full((n, 2), np.nan)
    col_count: dict[float, int] = {}
    for i, node in enumerate(graph.nodes):
        if not node.inputs:
            continue
        op_cols = [pos[j, 0] for j in node.inputs if graph.nodes[j].inputs]
        c = 1.0 + max(op_cols, default=0.0)
        k = col_count.get(c, 0)
        col_count[c] = k + 1
        row = 0.0 if k == 0 else 2.0 * ((k + 1) // 2) * (1 if k % 2 else -1)
        pos[i] = (c, row)
        used: dict[float, int] = {}
        alternate = 0
        for rank, j in enumerate(node.inputs):
            leaf = graph.nodes[j]
            if leaf.inputs or not np.isnan(pos[j, 0]):
                continue
            if not op_cols and rank == 0:
                pos[j] = (c - 1.0, row)
                continue
            r = leaf_rows.get(leaf.key[:1])
            if r is None:
                r = 1.0 if alternate % 2 == 0 else -1.0
                alternate += 1
            stack = used.get(r, 0)
            used[r] = stack + 1
            pos[j] = (c, row + r + math.copysign(stack, r))
    pos[np.isnan(pos[:, 0])] = (0.0, 0.0)  # a lone leaf (the output itself was a leaf)
    return pos


# -- formatting (every number on screen comes from here) -----------------------------------------
def fmt(v: float, digits: int = 3) -> str:
    """``v`` with ``digits`` significant digits and a real minus sign (no ``-0``)."""
    v = float(v)
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("\u221e" if v > 0 else "\u2212\u221e")
    s = f"{v:.{digits}g}"
    if s in ("-0", "0"):
        return "0"
    return s.replace("-", "\u2212")


def fmt_array(a, digits: int = 4) -> str:
    """A scalar, vector ``[a, b]`` or matrix ``[[a, b], [c, d]]`` on one line."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return fmt(a, digits)
    if a.ndim == 1:
        if a.size == 1:
            return fmt(a[0], digits)
        return "[" + ", ".join(fmt(v, digits) for v in a) + "]"
    return "[" + ", ".join(fmt_array(r, digits) if r.size > 1 else "[" + fmt(r[0], digits) + "]"
                           for r in a) + "]"


def _rows(a, column: bool, digits: int = 3) -> tuple:
    """Table rows of strings: a vector as a column (``column``) or a row; matrices by rows."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return ((fmt(a, digits),),)
    if a.ndim == 1:
        cells = tuple(fmt(v, digits) for v in a)
        return tuple((c,) for c in cells) if column else (cells,)
    return tuple(tuple(fmt(v, digits) for v in r) for r in a)


def _sup_t(key: str) -> str:
    """HTML of the transpose of node ``key``'s vector: x<sup>T</sup>, h<sup>[1]T</sup>."""
    if key == "x":
        return "x<sup>T</sup>"
    return f"{key[0]}<sup>[{key[1:]}]T</sup>"


def _sup(key: str) -> str:
    """HTML symbol of a node key: ``'W1'`` -> W<sup>[1]</sup>, ``'yhat'`` -> y-hat."""
    if key == "yhat":
        return "\u0177"
    if key in ("x", "y", "L"):
        return key
    return f"{key[0]}<sup>[{key[1:]}]</sup>"


# -- the lab --------------------------------------------------------------------------------------
class BackpropLab(Lab):
    """Forward values, gradients and the SGD update of a small net, one node at a time."""

    name = "backprop"
    chapter = 7
    title = "Backpropagation, step by step"
    section = "7.6 Backpropagation and training"
    summary = (
        "The graph is read from the engine's autodiff record of one forward pass. Stepping "
        "first fills in every node's value from left to right; then the backward pass walks "
        "the same graph from the loss back to the inputs, and each node receives dL/dnode, "
        "computed from the gradient of the node it feeds by that node's local rule (the "
        "chain rule, one link at a time). The gradients of the weights and biases drive one "
        "gradient-descent step, and the next cycle runs with the updated weights, so the loss "
        "curve falls. The grad-check light compares every weight's gradient with a central "
        "finite difference of the loss.")
    play_interval = 0.4  # one graph node per step: time to read its value and gradient
    params = (
        Param("weights", "choice", BOOK, choices=WEIGHTS, label="weights", group="Network",
              rebuild=True,
              help="'book 2-2-1' loads the worked example of section 7.3: W\u00b9 = [[0.1, "
                   "\u22120.2], [0.4, 0.3]], b\u00b9 = [0, 0.1], W\u00b2 = [[0.5, \u22120.6]], "
                   "b\u00b2 = [0.2], x = (1, 2), y = 1. 'random' draws Xavier-uniform weights "
                   "from the seed (biases 0)."),
        Param("hidden", "int", 2, 1, 3, step=1, label="hidden units", symbol="n",
              group="Network", rebuild=True,
              help="Units n in each hidden layer (the book example has 2; other sizes use "
                   "random weights)."),
        Param("depth", "int", 1, 1, 2, step=1, label="hidden layers", symbol="L\u22121",
              group="Network", rebuild=True,
              help="Number of hidden layers (1 or 2; the book example has 1)."),
        Param("activation", "choice", "sigmoid", choices=ACTIVATIONS,
              label="hidden activation \u03c6", symbol="\u03c6", group="Network", rebuild=True,
              help="\u03c6 of the hidden layers; its derivative \u03c6\u2032 appears in the "
                   "\u03b4-recursion."),
        Param("loss", "choice", "bce", choices=LOSSES, label="output + loss", group="Network",
              rebuild=True,
              help="bce: \u0177 = \u03c3(z) with binary cross-entropy, so \u03b4 = \u0177 \u2212 "
                   "y at the output; mse: linear output \u0177 = z with (\u0177 \u2212 y)\u00b2, "
                   "so \u03b4 = 2(\u0177 \u2212 y)."),
        Param("x1", "float", 1.0, -3.0, 3.0, step=0.1, label="input x\u2081", symbol="x\u2081",
              group="Example", help="First input of the training example; restarts the cycle."),
        Param("x2", "float", 2.0, -3.0, 3.0, step=0.1, label="input x\u2082", symbol="x\u2082",
              group="Example", help="Second input of the training example; restarts the cycle."),
        Param("y", "float", 1.0, 0.0, 1.0, step=0.05, label="target y", symbol="y",
              group="Example", help="Target of the example (in [0, 1]); restarts the cycle."),
        Param("lr", "float", 0.5, 1e-3, 5.0, log=True, label="learning rate \u03b7",
              symbol="\u03b7", group="Training",
              help="Step size \u03b7 of the update "
                   "\u03b8 \u2190 \u03b8 \u2212 \u03b7\u2207\u03b8L."),
        Param("stepping", "choice", "node", choices=STEPPING, label="a step moves by",
              group="Training",
              help="node: one node of the forward or backward pass (or the update); pass: a "
                   "whole forward pass, backward pass or update; cycle: all three at once."),
    )

    # -- params ---------------------------------------------------------------------------------
    def _on_param(self, name, old):
        v = self.values
        if name == "weights" and v[name] == BOOK and old != BOOK:
            # The book's example comes with its own sizes and training example.
            v["hidden"], v["depth"] = 2, 1
            v["x1"], v["x2"] = BOOK_NET["x"]
            v["y"] = BOOK_NET["y"]
        elif name in ("hidden", "depth") and v["weights"] == BOOK and not self._book_shape():
            v["weights"] = "random"  # the book's weights exist for 2-2-1 only
        elif name in ("x1", "x2", "y") and hasattr(self, "net"):
            self._start_cycle()  # same weights, new example: the cycle starts over
        elif name == "lr" and hasattr(self, "opt"):
            self.opt.param_groups[0]["lr"] = v["lr"]

    def _book_shape(self) -> bool:
        return self.values["hidden"] == 2 and self.values["depth"] == 1

    # -- building -------------------------------------------------------------------------------
    def _build(self):
        v = self.values
        if v["weights"] == BOOK and not self._book_shape():
            v["weights"] = "random"
        sizes = [2] + [v["hidden"]] * v["depth"] + [1]
        # float64 throughout: the net is tiny, and the gradient check needs it.
        self.net = MLP(sizes, v["activation"], init="xavier", generator=self.rng,
                       dtype=np.float64)
        xp = self.xp
        if v["weights"] == BOOK:
            for lin, w, b in zip(self.net.layers, BOOK_NET["W"], BOOK_NET["b"]):
                lin.weight.data = xp.asarray(w.copy())
                lin.bias.data = xp.asarray(b.copy())
        else:
            for p in self.net.parameters():
                p.data = xp.asarray(backend.to_numpy(p.data))
        # Same order as net.parameters(): W1, b1, W2, b2, ...
        self.param_keys = [k for layer in range(1, len(self.net.layers) + 1)
                           for k in (f"W{layer}", f"b{layer}")]
        self.params_list = list(self.net.parameters())
        self.opt = optim.SGD(self.params_list, lr=v["lr"])
        self.n_layers = len(self.net.layers)
        self.losses: list[float] = []
        self.loss_cycles: list[int] = []
        self.cycle = 0
        self.alerts: list[str] = []
        self.diverged = False
        self.build_id = getattr(self, "build_id", 0) + 1
        self._start_cycle()

    def _forward(self, x: Tensor, y: Tensor):
        """The forward pass with every intermediate tensor kept by name.

        Returns
        -------
        loss : Tensor, shape ()
        names : dict str -> Tensor
            ``x``, ``y``, ``W<l>``, ``b<l>``, ``z<l>``, ``h<l>`` (hidden), ``yhat`` (BCE only)
            and ``L``.
        """
        out, zs, hs = self.net(x, return_hidden=True)
        names = {"x": x}
        for layer, lin in enumerate(self.net.layers, 1):
            names[f"W{layer}"] = lin.weight
            names[f"b{layer}"] = lin.bias
        for layer, (z, h) in enumerate(zip(zs, hs), 1):
            names[f"z{layer}"] = z
            names[f"h{layer}"] = h
        names[f"z{self.n_layers}"] = out
        names["y"] = y
        if self.values["loss"] == "bce":
            # sigmoid then BCE (not the fused logits form) so that y-hat is a node of its own,
            # as in the book's picture; the clip inside BCE is inactive away from 0 and 1.
            yhat = F.sigmoid(out)
            names["yhat"] = yhat
            loss = F.binary_cross_entropy(yhat, y)
        else:
            loss = F.mse_loss(out, y)
        names["L"] = loss
        return loss, names

    def _example(self):
        xp = self.xp
        v = self.values
        x = Tensor(xp.asarray([v["x1"], v["x2"]], dtype=np.float64), requires_grad=True)
        y = Tensor(xp.asarray([v["y"]], dtype=np.float64))
        return x, y

    def _start_cycle(self):
        """Run the forward pass, trace its graph, take every node's gradient; reveal nothing."""
        x, y = self._example()
        loss, names = self._forward(x, y)
        composite = "BCE" if self.values["loss"] == "bce" else "MSE"
        self.graph = g = trace_graph(loss, names, {"L": composite})
        self.pos = layout(g, LEAF_ROWS)
        wanted = [i for i, n in enumerate(g.nodes) if n.tensor.requires_grad]
        grads = grad(loss, [g.nodes[i].tensor for i in wanted])
        self.values_np = [backend.to_numpy(n.tensor.data).astype(np.float64) for n in g.nodes]
        self.grads_np: list[np.ndarray | None] = [None] * len(g.nodes)
        for i, gi in zip(wanted, grads):
            self.grads_np[i] = backend.to_numpy(gi.data).astype(np.float64)
        self.param_grads = {g.nodes[i].key: gi for i, gi in zip(wanted, grads)
                            if g.nodes[i].key in self.param_keys}
        self.cycle_params = [p.data.copy() for p in self.params_list]
        self.loss_value = float(self.values_np[g.index("L")])
        self.fwd_order = [i for i, n in enumerate(g.nodes) if n.inputs]
        self.bwd_order = self._backward_order()
        self.phase_pos = 0  # 0 ready, 1..F forward, F+1..F+B backward, F+B+1 update
        self.update_rows = None
        self._grad_check = None  # computed when first shown (see _grad_check_result)
        self.cycle += 1

    def _backward_order(self) -> list[int]:
        """Reverse-mode order: each op after all its consumers, then its leaf inputs.

        Every node here feeds one consumer, so a leaf's gradient is complete as soon as its
        consumer has been processed; weights come before biases before the data input ``x``.
        """
        g = self.graph
        order = []
        rank = {"W": 0, "b": 1, "x": 2}
        for i in reversed(self.fwd_order):
            order.append(i)
            leaves = [j for j in g.nodes[i].inputs
                      if not g.nodes[j].inputs and self.grads_np[j] is not None]
            order += sorted(leaves, key=lambda j: rank.get(g.nodes[j].key[0], 3))
        return order

    # -- stepping -------------------------------------------------------------------------------
    @property
    def n_phase(self) -> int:
        """Sub-steps in one cycle: forward nodes, backward nodes and the update."""
        return len(self.fwd_order) + len(self.bwd_order) + 1

    @property
    def finished(self) -> bool:
        return self.diverged

    def _step(self):
        mode = self.values["stepping"]
        nf, nb = len(self.fwd_order), len(self.bwd_order)
        stops = {"node": None, "pass": (nf, nf + nb, nf + nb + 1), "cycle": (nf + nb + 1,)}
        stop = stops[mode]
        while True:
            self._advance()
            if self.diverged or stop is None or self.phase_pos in stop:
                return

    def _advance(self):
        """One sub-step: reveal one forward value or gradient, or apply the update."""
        if self.phase_pos >= self.n_phase:
            self._start_cycle()
        self.phase_pos += 1
        nf = len(self.fwd_order)
        if self.phase_pos == nf:  # the loss node was just revealed
            self.losses.append(self.loss_value)
            self.loss_cycles.append(self.cycle)
            if not (math.isfinite(self.loss_value) and self.loss_value < DIVERGED_LOSS):
                self._diverge(f"the loss reached {self.loss_value:.3g} in cycle {self.cycle}")
        elif self.phase_pos == self.n_phase:
            self._update()

    def _update(self):
        """theta <- theta - eta * grad, with the engine's SGD; keeps old and new for display."""
        old = [backend.to_numpy(p.data).copy() for p in self.params_list]
        for p, key in zip(self.params_list, self.param_keys):
            p.grad = self.param_grads[key]
        self.opt.step()
        self.opt.zero_grad()
        new = [backend.to_numpy(p.data).copy() for p in self.params_list]
        self.update_rows = [(k, o, self.grads_np[self.graph.index(k)], n)
                            for k, o, n in zip(self.param_keys, old, new)]
        if not all(np.all(np.isfinite(n)) for n in new):
            self._diverge(f"the weights overflowed in the update of cycle {self.cycle}")

    def _diverge(self, what: str):
        self.diverged = True
        self.alerts.append(f"Training diverged: {what}. The step \u03b7 = "
                           f"{self.values['lr']:.3g} is too large for this net; lower it and "
                           "press Reset.")

    # -- gradient check -------------------------------------------------------------------------
    def grad_check(self) -> tuple[float, dict]:
        """Max relative error between autodiff and central differences over all parameters.

        For each parameter :math:`\\theta` (at the start of the current cycle) and each entry
        :math:`j`, :math:`n_j = (L(\\theta + \\varepsilon e_j) - L(\\theta - \\varepsilon
        e_j)) / 2\\varepsilon` in float64 with :math:`\\varepsilon = 10^{-6}`; the error of a
        parameter is :math:`\\|a - n\\| / \\max(\\|a\\|, \\|n\\|)` (0 when both vanish).

        Returns
        -------
        max_err : float
        per_param : dict str -> float
        """
        saved = [p.data for p in self.params_list]
        x, y = self._example()
        errs = {}
        try:
            with no_grad():
                for p, start in zip(self.params_list, self.cycle_params):
                    p.data = start.copy()
                for p, key in zip(self.params_list, self.param_keys):
                    data = p.data
                    num = np.zeros(data.shape)
                    for j in range(data.size):
                        idx = np.unravel_index(j, data.shape)
                        orig = float(data[idx])
                        data[idx] = orig + GRAD_CHECK_EPS
                        plus = float(self._forward(x, y)[0].data)
                        data[idx] = orig - GRAD_CHECK_EPS
                        minus = float(self._forward(x, y)[0].data)
                        data[idx] = orig
                        num[idx] = (plus - minus) / (2.0 * GRAD_CHECK_EPS)
                    ana = self.grads_np[self.graph.index(key)]
                    scale = max(np.linalg.norm(ana), np.linalg.norm(num))
                    diff = float(np.linalg.norm(ana - num))
                    errs[key] = 0.0 if scale == 0.0 else diff / scale
        finally:
            for p, d in zip(self.params_list, saved):
                p.data = d
        return max(errs.values()), errs

    def _grad_check_result(self):
        if self._grad_check is None:
            if all(np.all(np.isfinite(v)) for v in self.values_np):
                self._grad_check = self.grad_check()
            else:
                self._grad_check = (math.nan, {})
        return self._grad_check

    def _at_relu_kink(self) -> bool:
        """A ReLU input within reach of the finite-difference step (where FD averages slopes)."""
        if self.values["activation"] != "relu":
            return False
        return any(np.any(np.abs(self.values_np[self.graph.index(f"z{layer}")]) < 1e-4)
                   for layer in range(1, self.n_layers))

    # -- output ---------------------------------------------------------------------------------
    def history(self):
        return {"cycle": list(self.loss_cycles), "loss": list(self.losses)}

    def _revealed(self):
        """(value shown, gradient shown, current node) for the current sub-step."""
        g = self.graph
        n = len(g.nodes)
        nf = len(self.fwd_order)
        pos = self.phase_pos
        value = np.array([not node.inputs for node in g.nodes], dtype=bool)
        for i in self.fwd_order[:pos]:
            value[i] = True
        gshow = np.zeros(n, dtype=bool)
        for i in self.bwd_order[:max(0, pos - nf)]:
            gshow[i] = True
        current = -1
        if 1 <= pos <= nf:
            current = self.fwd_order[pos - 1]
        elif nf < pos < self.n_phase:
            current = self.bwd_order[pos - nf - 1]
        return value, gshow, current

    def phase(self) -> str:
        nf, nb = len(self.fwd_order), len(self.bwd_order)
        p = self.phase_pos
        if p == 0:
            return "ready"
        if p <= nf:
            return "forward"
        if p <= nf + nb:
            return "backward"
        return "update"

    def _snapshot(self) -> Snapshot:
        g = self.graph
        n = len(g.nodes)
        value_shown, grad_shown, current = self._revealed()
        phase = self.phase()
        keys = g.keys
        values = list(self.values_np)
        if phase == "update":  # the parameters now hold their new values
            for k, _old, _g, new in self.update_rows:
                values[keys.index(k)] = new
        has_grad = np.array([gr is not None for gr in self.grads_np], dtype=bool)
        column = [not (k[0] in "Wb" or k == "y") for k in keys]
        value_rows = tuple(_rows(values[i], column[i]) if value_shown[i]
                           else tuple(tuple("?" for _ in r) for r in _rows(values[i], column[i]))
                           for i in range(n))
        grad_rows = tuple(
            _rows(self.grads_np[i], column[i]) if grad_shown[i]
            else (tuple(tuple("?" for _ in r) for r in _rows(values[i], column[i]))
                  if has_grad[i] else ())
            for i in range(n))
        # Signed gradient size for the node colour: the largest-magnitude entry, scaled by the
        # largest over all nodes except L itself (whose dL/dL = 1 would flatten the rest).
        peak = np.array([self._peak(self.grads_np[i]) for i in range(n)])
        li = g.index("L")
        others = [abs(p) for i, p in enumerate(peak) if i != li and np.isfinite(p)]
        scale = max(others, default=1.0) or 1.0
        tone = np.clip(peak / scale, -1.0, 1.0)
        tone[li] = 1.0
        tone[~grad_shown] = np.nan
        highlight = np.zeros(n, dtype=bool)
        if current >= 0:
            highlight[current] = True
        if phase == "update":
            highlight[[keys.index(k) for k in self.param_keys]] = True
        edges = g.edges
        # 0 idle, 1 value has flowed along it, 2 gradient has flowed back along it.
        edge_state = np.zeros(len(edges), dtype=np.int64)
        if len(edges):
            edge_state[value_shown[edges[:, 1]]] = 1
            edge_state[grad_shown[edges[:, 0]]] = 2
        side = tuple("above" if k[0] == "W" else "below" if k[0] == "b" or k == "y"
                     else "right" for k in keys)
        kinds = tuple("param" if k in self.param_keys else "input" if k == "x"
                      else "target" if k == "y" else "loss" if k == "L" else "op" for k in keys)
        symbols = tuple(self._symbol(k) for k in keys)
        gc_err, _ = self._grad_check_result()
        cols = self.pos[:, 0]
        data = {
            "structure": f"{self.build_id}:" + ",".join(keys),
            "keys": keys, "symbols": symbols, "ops": tuple(nd.op for nd in g.nodes),
            "kinds": kinds, "pos": self.pos, "label_side": side,
            "bounds": np.array([cols.min() - 0.35, cols.max() + 1.0, -1.95, 1.95]),
            "value_rows": value_rows, "grad_rows": grad_rows,
            "value_shown": value_shown, "grad_shown": grad_shown, "has_grad": has_grad,
            "grad_tone": tone, "highlight": highlight, "current": current,
            "edges": edges, "edge_state": edge_state, "phase": phase,
            "loss_cycle": np.asarray(self.loss_cycles, dtype=np.float64),
            "loss": np.asarray(self.losses, dtype=np.float64),
            "grad_check_error": gc_err,
            "grad_check_ok": bool(math.isfinite(gc_err) and gc_err < GRAD_CHECK_OK),
        }
        scalars = {"cycle": self.cycle, "lr": self.values["lr"], "grad_check_error": gc_err}
        if self.losses:
            scalars["loss"] = self.losses[-1]
        text = {"equation": self._equation_html(value_shown, grad_shown),
                "rules": "<p><b>Now:</b> " + self._stage_html(current, phase) + "</p>",
                "stage": self._stage_html(current, phase),
                "deltas": self._delta_html(value_shown, grad_shown, phase),
                "grad_check": self._grad_check_html(gc_err),
                "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text, self.alerts)

    @staticmethod
    def _peak(a) -> float:
        if a is None:
            return math.nan
        a = np.ravel(a)
        return float(a[np.argmax(np.abs(a))]) if a.size else math.nan

    def _symbol(self, key: str) -> str:
        if key == f"z{self.n_layers}" and self.values["loss"] == "mse":
            return _sup(key) + " = \u0177"
        return _sup(key)

    # -- text -----------------------------------------------------------------------------------
    def _val(self, key: str, shown=None) -> str:
        i = self.graph.index(key)
        if shown is not None and not shown[i]:
            return "?"
        return fmt_array(self.values_np[i])

    def _grd(self, key: str, shown=None) -> str:
        i = self.graph.index(key)
        if self.grads_np[i] is None or (shown is not None and not shown[i]):
            return "?"
        return fmt_array(self.grads_np[i])

    def _prev_h(self, layer: int, transpose: bool = False) -> str:
        key = "x" if layer == 1 else f"h{layer - 1}"
        return _sup_t(key) if transpose else _sup(key)

    def forward_rule(self, key: str) -> str:
        """The forward rule of node ``key`` with its numbers (HTML)."""
        act = self.values["activation"]
        if key.startswith("z"):
            layer = int(key[1:])
            return (f"{_sup(key)} = {_sup(f'W{layer}')} {self._prev_h(layer)} + "
                    f"{_sup(f'b{layer}')} = {self._val(key)}")
        if key.startswith("h"):
            return f"{_sup(key)} = {_PHI[act]}({_sup('z' + key[1:])}) = {self._val(key)}"
        if key == "yhat":
            return f"\u0177 = \u03c3({_sup(f'z{self.n_layers}')}) = {self._val(key)}"
        if key == "L":
            if self.values["loss"] == "bce":
                return ("L = \u2212[y log \u0177 + (1 \u2212 y) log(1 \u2212 \u0177)] = "
                        f"{self._val(key)}")
            return f"L = (\u0177 \u2212 y)\u00b2 = {self._val(key)}"
        return f"{_sup(key)} = {self._val(key)}"

    def backward_rule(self, key: str) -> str:
        """The local rule that gives dL/d(node ``key``) from its consumer's gradient (HTML)."""
        top = self.n_layers
        act = self.values["activation"]
        d = f"\u2202L/\u2202{_sup(key)}"
        g = self._grd(key)
        if key == "L":
            return f"{d} = 1 (the seed of the backward pass)"
        if key == "yhat":
            return (f"{d} = \u2212y/\u0177 + (1 \u2212 y)/(1 \u2212 \u0177) = "
                    f"(\u0177 \u2212 y)/(\u0177(1 \u2212 \u0177)) = {g}")
        if key == f"z{top}":
            if self.values["loss"] == "bce":
                return (f"\u03b4<sup>[{top}]</sup> = {d} = "
                        f"\u03c3\u2032(z)\u00b7\u2202L/\u2202\u0177 = \u0177 \u2212 y = {g}")
            return f"\u03b4<sup>[{top}]</sup> = {d} = 2(\u0177 \u2212 y) = {g}"
        if key.startswith("z"):
            layer = int(key[1:])
            return (f"\u03b4<sup>[{layer}]</sup> = {d} = ({_sup_t(f'W{layer + 1}')} "
                    f"\u03b4<sup>[{layer + 1}]</sup>) \u2299 \u03c6\u2032({_sup(key)}), "
                    f"\u03c6\u2032 = {_DPHI[act]}: {g}")
        if key.startswith("W"):
            layer = int(key[1:])
            return (f"{d} = \u03b4<sup>[{layer}]</sup> {self._prev_h(layer, True)} "
                    f"(shape {self.values_np[self.graph.index(key)].shape[0]}\u00d7"
                    f"{self.values_np[self.graph.index(key)].shape[1]}) = {g}")
        if key.startswith("b"):
            return f"{d} = \u03b4<sup>[{key[1:]}]</sup> = {g}"
        if key.startswith("h"):
            layer = int(key[1:])
            return (f"{d} = {_sup_t(f'W{layer + 1}')} \u03b4<sup>[{layer + 1}]</sup> "
                    f"= {g}")
        if key == "x":
            return f"{d} = {_sup_t('W1')} \u03b4<sup>[1]</sup> = {g}"
        return f"{d} = {g}"

    def _stage_html(self, current: int, phase: str) -> str:
        nf, nb = len(self.fwd_order), len(self.bwd_order)
        c = self.cycle
        if phase == "ready":
            return (f"Cycle {c}: ready. Step to run the forward pass one node at a time.")
        if phase == "forward":
            k = self.phase_pos
            return (f"Cycle {c} \u00b7 forward {k}/{nf}: "
                    + self.forward_rule(self.graph.nodes[current].key))
        if phase == "backward":
            k = self.phase_pos - nf
            return (f"Cycle {c} \u00b7 backward {k}/{nb}: "
                    + self.backward_rule(self.graph.nodes[current].key))
        return (f"Cycle {c} \u00b7 SGD update \u03b8 \u2190 \u03b8 \u2212 \u03b7\u2207\u03b8L "
                f"with \u03b7 = {fmt(self.values['lr'], 4)} applied to every weight and bias "
                "(old \u2192 new in the table); the next step starts cycle "
                f"{c + 1} from the new weights.")

    def _delta_html(self, value_shown, grad_shown, phase) -> str:
        top = self.n_layers
        act = self.values["activation"]
        head = ("<tr><th>l</th><th>z<sup>[l]</sup></th><th>\u03c6\u2032(z<sup>[l]</sup>)</th>"
                "<th>W<sup>[l+1]T</sup>\u03b4<sup>[l+1]</sup></th>"
                "<th>\u03b4<sup>[l]</sup> = \u2202L/\u2202z<sup>[l]</sup></th></tr>")
        rows = []
        for layer in range(top, 0, -1):
            z = f"z{layer}"
            if layer == top:
                dphi = ("\u03c3\u2032 with BCE" if self.values["loss"] == "bce"
                        else "1 (linear)")
                back = "\u0177 \u2212 y" if self.values["loss"] == "bce" else "2(\u0177 \u2212 y)"
            else:
                dphi = fmt_array(self._dphi(layer)) if value_shown[self.graph.index(z)] else "?"
                back = self._grd(f"h{layer}", grad_shown)  # dL/dh^[l] = W^[l+1]T delta^[l+1]
            rows.append(f"<tr><td>{layer}</td><td>{self._val(z, value_shown)}</td>"
                        f"<td>{dphi}</td><td>{back}</td>"
                        f"<td><b>{self._grd(z, grad_shown)}</b></td></tr>")
        html = ("<p><b>\u03b4-recursion</b> \u03b4<sup>[l]</sup> = (W<sup>[l+1]T</sup> "
                f"\u03b4<sup>[l+1]</sup>) \u2299 \u03c6\u2032(z<sup>[l]</sup>), \u03c6 = "
                f"{_PHI[act]}; then \u2202L/\u2202W<sup>[l]</sup> = \u03b4<sup>[l]</sup>"
                "h<sup>[l\u22121]T</sup> and \u2202L/\u2202b<sup>[l]</sup> = \u03b4<sup>[l]"
                "</sup> (on the graph)</p><table border=0 cellspacing=0 cellpadding=3>"
                f"{head}" + "".join(rows) + "</table>")
        if phase == "update" and self.update_rows:
            eta = self.values["lr"]
            ups = "".join(f"<tr><td>{_sup(k)}</td><td>{fmt_array(o)}</td>"
                          f"<td>{fmt_array(-eta * gr)}</td><td><b>{fmt_array(nw)}</b></td></tr>"
                          for k, o, gr, nw in self.update_rows)
            html += (f"<p><b>Update</b> \u03b8 \u2190 \u03b8 \u2212 \u03b7\u2207\u03b8L, \u03b7 = "
                     f"{fmt(eta, 4)}</p><table border=0 cellspacing=0 cellpadding=3>"
                     "<tr><th>\u03b8</th><th>old</th><th>\u2212\u03b7\u2207\u03b8L</th>"
                     f"<th>new</th></tr>{ups}</table>")
        return html

    def _dphi(self, layer: int) -> np.ndarray:
        """phi'(z^[l]) of a hidden layer (for display; the gradients come from autodiff)."""
        act = self.values["activation"]
        z = self.values_np[self.graph.index(f"z{layer}")]
        h = self.values_np[self.graph.index(f"h{layer}")]
        if act == "sigmoid":
            return h * (1.0 - h)
        if act == "tanh":
            return 1.0 - h * h
        return (z > 0).astype(np.float64)  # the engine's ReLU takes slope 0 at z = 0

    def _grad_check_html(self, err: float) -> str:
        if not math.isfinite(err):
            return "grad check: not available (non-finite values)"
        verdict = "agree" if err < GRAD_CHECK_OK else "DISAGREE"
        note = ""
        if err >= GRAD_CHECK_OK and self._at_relu_kink():
            note = (" (a ReLU input is at its kink z = 0, where the finite difference averages "
                    "the two one-sided slopes: a mismatch is expected there)")
        return (f"grad check: autodiff and central differences {verdict}, max relative error "
                f"{err:.2g} (\u03b5 = {GRAD_CHECK_EPS:g}, float64){note}")

    def _erratum_html(self, grad_shown) -> str:
        text = ("<p><i>Erratum E11.</i> The book's chain (L4700) prints "
                "\u2026W<sup>[3]</sup>\u03c6<sup>[2]</sup>(z<sup>[2]</sup>)h<sup>[1]</sup>: "
                "it needs the derivative \u03c6\u2032<sup>[2]</sup>, not \u03c6<sup>[2]</sup>. "
                "Use the \u03b4-recursion above.")
        iw = self.graph.index("W1")
        if not grad_shown[iw]:
            return text + " (The numbers for this net appear when the backward pass reaches "\
                          "W<sup>[1]</sup>.)</p>"
        gh = self.grads_np[self.graph.index("h1")]
        h1 = self.values_np[self.graph.index("h1")]
        x = self.values_np[self.graph.index("x")]
        right = self.grads_np[iw]
        # As printed: phi(z) = h where phi'(z) belongs in delta^[1].
        wrong = np.outer(gh * h1, x)
        denom = np.linalg.norm(right)
        off = np.linalg.norm(wrong - right) / denom * 100 if denom > 0 else math.nan
        return (text + f" Here, \u03c6 in place of \u03c6\u2032 would give \u2202L/\u2202W<sup>[1]"
                f"</sup> = {fmt_array(wrong)} instead of {fmt_array(right)} "
                f"(off by {off:.0f}%).</p>")

    def _equation_html(self, value_shown, grad_shown) -> str:
        top = self.n_layers
        act = self.values["activation"]
        bce = self.values["loss"] == "bce"
        if bce:
            out = ("\u0177 = \u03c3(z<sup>[L]</sup>), L = \u2212[y log \u0177 + (1\u2212y) "
                   "log(1\u2212\u0177)]")
        else:
            out = "\u0177 = z<sup>[L]</sup>, L = (\u0177 \u2212 y)\u00b2"
        loss = self._val("L", value_shown)
        d_top = self._grd(f"z{top}", grad_shown)
        out_delta = "\u0177 \u2212 y" if bce else "2(\u0177 \u2212 y)"
        gc = self._grad_check_result()[0]
        return (
            f"<p><b>Forward</b> z<sup>[l]</sup> = W<sup>[l]</sup>h<sup>[l\u22121]</sup> + "
            f"b<sup>[l]</sup>, h<sup>[l]</sup> = {_PHI[act]}(z<sup>[l]</sup>), h<sup>[0]</sup> = "
            f"x = {self._val('x')}; {out}, y = {fmt(self.values['y'], 4)}, L = {loss}.</p>"
            f"<p><b>Backward</b> \u03b4<sup>[L]</sup> = \u2202L/\u2202z<sup>[L]</sup> = "
            f"{out_delta} = {d_top} (L = {top}); "
            "\u03b4<sup>[l]</sup> = (W<sup>[l+1]T</sup>\u03b4<sup>[l+1]</sup>) \u2299 "
            f"\u03c6\u2032(z<sup>[l]</sup>) with \u03c6\u2032 = {_DPHI[act]}; "
            "\u2202L/\u2202W<sup>[l]</sup> = \u03b4<sup>[l]</sup>h<sup>[l\u22121]T</sup>, "
            "\u2202L/\u2202b<sup>[l]</sup> = \u03b4<sup>[l]</sup>.</p>"
            f"<p><b>Update</b> \u03b8 \u2190 \u03b8 \u2212 \u03b7\u2207<sub>\u03b8</sub>L, "
            f"\u03b7 = {fmt(self.values['lr'], 4)}. <b>Grad check</b> max relative error "
            f"{fmt(gc, 2)}.</p>"
            + self._erratum_html(grad_shown))
