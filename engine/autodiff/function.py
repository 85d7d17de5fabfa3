"""The reverse-mode machinery: grad mode, the :class:`Function` base class and the backward pass.

Every differentiable primitive is a subclass of :class:`Function` with two static methods:

``forward(ctx, *arrays, **params) -> array``
    works on raw NumPy/CuPy arrays (``ctx.inputs`` holds the input Tensors when a graph is
    being recorded) and stores on ``ctx`` whatever ``backward`` needs;
``backward(ctx, grad_output) -> grad or tuple of grads``
    one gradient per input (``None`` where an input needs none), written with **Tensor** ops.

Writing backward formulas with Tensor ops is what makes higher-order derivatives work: with
``create_graph=True`` the backward pass runs with grad mode on, so its own operations are
recorded and can be differentiated again (Hessians for Newton's method, Hessian-vector
products for MAML).  With ``create_graph=False`` it runs under :class:`no_grad`, the same code
records nothing and costs little more than raw array code.

Un-broadcasting is done once, here, not in every op: if a forward broadcast an input of shape
``s`` up to the output shape, the gradient that comes back has the output shape and is summed
back to ``s`` (over leading axes and over axes where ``s`` has size 1).  After that the engine
checks ``grad.shape == input.shape`` and names the op when the check fails.

The node of a result, ``t.grad_fn``, is the ``ctx`` object itself: it exposes ``.name``
(``"Mul"``, ``"MatMul"``, ...) and ``.inputs`` (the input Tensors), so a panel can walk and draw
the computation graph.
"""
from __future__ import annotations

import functools
import threading
import weakref

import numpy as np

_new = object.__new__
_np_generic = np.generic
_np_asarray = np.asarray


# -- grad mode ---------------------------------------------------------------------------------
class _GradMode(threading.local):
    """Per-thread switch: the GUI worker may train while the GUI thread evaluates under no_grad."""

    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether operations on Tensors that require grad are being recorded (per thread)."""
    return _mode.enabled


class _GradModeContext:
    """Shared body of :class:`no_grad`, :class:`enable_grad` and :class:`set_grad_enabled`."""

    _target = True

    def __new__(cls, func=None, *args, **kwargs):
        # ``@no_grad`` without parentheses: wrap the function at once (torch allows both).
        self = super().__new__(cls)
        if callable(func):
            return self(func)
        return self

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = self._target
        return self

    def __exit__(self, *exc):
        _mode.enabled = self._prev
        return False

    def __call__(self, fn):
        """Use as a decorator: run ``fn`` with this grad mode."""
        target = self._target

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _mode.enabled
            _mode.enabled = target
            try:
                return fn(*args, **kwargs)
            finally:
                _mode.enabled = prev

        return wrapper


class no_grad(_GradModeContext):
    """Context manager / decorator that disables graph recording (like ``torch.no_grad``).

    Inside it every op returns a Tensor with ``requires_grad=False`` and no ``grad_fn``; use it
    for evaluation and for parameter updates.
    """

    _target = False


class enable_grad(_GradModeContext):
    """Context manager / decorator that re-enables graph recording inside a :class:`no_grad`."""

    _target = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode`` now, or for a ``with`` block (``torch.set_grad_enabled``)."""

    def __init__(self, mode: bool):
        self._target = bool(mode)
        self._prev = _mode.enabled
        _mode.enabled = self._target

    def __enter__(self):
        return self  # the mode was set on construction; __exit__ restores the one before


# -- Function ----------------------------------------------------------------------------------
class Function:
    """Base class of differentiable primitives; an instance is one node of the graph.

    Subclass it, write ``forward`` and ``backward`` as static methods, and call
    ``MyFn.apply(*tensors, **params)``.  Positional inputs must be Tensors (they are the graph
    edges); non-differentiable parameters (axes, shapes, constants) go in keyword arguments and
    are passed to ``forward`` unchanged.

    Attributes
    ----------
    name : str
        Op name for display, the class name unless set (``"Mul"``, ``"MatMul"``).
    inputs : tuple of Tensor
        The input Tensors (only kept while a graph is recorded).
    needs_input_grad : tuple of bool
        ``inputs[i].requires_grad`` for each input; backward may skip the others.
    recording : bool
        True when a graph is being recorded, so ``forward`` can skip saving what only
        ``backward`` needs.
    save_output : bool, class attribute
        Set to True when ``backward`` needs the output (``exp``, ``tanh``, ``sigmoid``); the
        engine then keeps a weak reference to it, read back with :meth:`saved_output`.  A weak
        reference avoids a Tensor -> node -> Tensor reference cycle; the output is always alive
        during backward because the downstream node (or the caller) holds it.
    """

    name = "Function"
    save_output = False
    inputs = ()
    needs_input_grad = ()
    recording = False
    _out = None
    _retained = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__

    @staticmethod
    def forward(ctx, *arrays, **params):
        """Compute the output array from input arrays; save on ``ctx`` what backward needs."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_output):
        """Return one gradient Tensor (or None) per input, given dL/d(output) as a Tensor."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        """Run ``forward`` on the inputs' data and, when recording, link the result into the graph.

        A graph node is created only if grad mode is on and at least one input requires grad;
        otherwise the result is a plain Tensor and nothing is kept.
        """
        ctx = _new(cls)
        if _mode.enabled:
            needs = tuple([t.requires_grad for t in inputs])
            if True in needs:
                ctx.inputs = inputs
                ctx.needs_input_grad = needs
                ctx.recording = True
                data = cls.forward(ctx, *[t.data for t in inputs], **params)
                if isinstance(data, _np_generic):  # NumPy reductions return scalars, not 0-d
                    data = _np_asarray(data)
                out = _new(Tensor)
                out.data = data
                out.grad = None
                out.requires_grad = True
                out.grad_fn = ctx
                if cls.save_output:
                    ctx._out = weakref.ref(out)
                return out
        data = cls.forward(ctx, *[t.data for t in inputs], **params)
        if isinstance(data, _np_generic):
            data = _np_asarray(data)
        out = _new(Tensor)
        out.data = data
        out.grad = None
        out.requires_grad = False
        out.grad_fn = None
        return out

    def saved_output(self):
        """The output Tensor of this node (for ops with ``save_output = True``)."""
        out = self._out() if self._out is not None else None
        if out is None:
            raise RuntimeError(f"{self.name}: the output of this node is no longer alive; "
                               "keep a reference to the graph's result while calling backward")
        return out

    @property
    def next_functions(self):
        """The grad_fn of each input (None for leaves and constants), as torch names it."""
        return tuple(t.grad_fn for t in self.inputs)

    def __repr__(self):
        return f"<{self.name}>"


# -- the backward pass -------------------------------------------------------------------------
def _unbroadcast(g, shape, node, index):
    """Sum ``g`` back to ``shape`` (reverse of NumPy broadcasting) and check the result.

    Parameters
    ----------
    g : Tensor
        Gradient with the broadcast (output) shape.
    shape : tuple of int
        Shape of the input the gradient belongs to.

    Raises
    ------
    AssertionError
        When ``g`` cannot be a broadcast of ``shape``: a bug in ``node``'s backward.
    """
    gs = g.data.shape
    lead = len(gs) - len(shape)
    if lead >= 0:
        axes = tuple(range(lead)) + tuple(
            i + lead for i, s in enumerate(shape) if s == 1 and gs[i + lead] != 1)
        if axes:
            g = g.sum(axis=axes)
            if g.data.shape != shape:
                g = g.reshape(shape)
    if g.data.shape != shape:
        raise AssertionError(
            f"{node.name}.backward returned a gradient of shape {tuple(gs)} for input {index} "
            f"of shape {tuple(shape)}; it is not a broadcast of that shape (bug in {node.name})")
    return g


def _toposort(roots):
    """Nodes reachable from ``roots``, each after every node that consumes its output.

    Iterative depth-first search (recursion would overflow on long chains such as an RNN
    unrolled over many steps); returns reverse post-order.
    """
    order = []
    seen = set()
    for root in roots:
        if root is None or root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.inputs))]
        while stack:
            node, it = stack[-1]
            for t in it:
                fn = t.grad_fn
                if fn is not None and fn not in seen:
                    seen.add(fn)
                    stack.append((fn, iter(fn.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _run_backward(outputs, grad_outputs, create_graph, targets=None):
    """Propagate ``grad_outputs`` from ``outputs`` back through the graph.

    Parameters
    ----------
    outputs, grad_outputs : list of Tensor
        Roots and dL/d(root), shapes equal.
    create_graph : bool
        Record the backward pass itself (grad mode on) for higher-order derivatives.
    targets : list of Tensor or None
        ``None``: accumulate into ``.grad`` of every leaf that requires grad (``backward``).
        A list: return the gradients w.r.t. exactly these tensors, touching no ``.grad``
        (:func:`grad`).

    Returns
    -------
    dict or None
        For ``targets``: ``id(tensor) -> gradient Tensor`` for the targets that were reached.
    """
    prev_mode = _mode.enabled
    _mode.enabled = create_graph
    try:
        return _propagate(outputs, grad_outputs, create_graph, targets)
    finally:
        _mode.enabled = prev_mode


def _propagate(outputs, grad_outputs, create_graph, targets):
    grads = {}              # node -> gradient of its output, summed over consumers
    captured = None
    # Arrays that must not become a leaf's .grad without a copy: user-supplied root gradients
    # and gradients already handed out.  A leaf's .grad may be changed in place later (an
    # optimizer, ``grad.data += noise``), so it must not share memory with anything else.
    claimed = set()
    if targets is not None:
        captured = {}
        target_ids = {id(t) for t in targets}
        target_nodes = {t.grad_fn: id(t) for t in targets if t.grad_fn is not None}

    def deliver_leaf(t, g):
        if captured is not None:
            if id(t) in target_ids:
                prev = captured.get(id(t))
                captured[id(t)] = g if prev is None else prev + g
            return
        if not t.requires_grad:
            return
        if t.grad is None:
            if not create_graph:
                a = g.data
                # (CuPy flags have no ``writeable``: its read-only views all have a base.)
                if (a.base is not None or id(a) in claimed
                        or not getattr(a.flags, "writeable", True)):
                    a = a.copy()
                claimed.add(id(a))
                if a is not g.data:
                    g = _wrap(a)
            t.grad = g
        else:
            t.grad = t.grad + g

    roots = []
    for t, g in zip(outputs, grad_outputs):
        claimed.add(id(g.data))
        fn = t.grad_fn
        if fn is None:
            deliver_leaf(t, g)
        else:
            prev = grads.get(fn)
            grads[fn] = g if prev is None else prev + g
            roots.append(fn)

    order = _toposort(roots)
    if targets is not None:
        # Keep only nodes with a path to a target: grad() w.r.t. a few tensors should not pay
        # for the rest of the graph.  ``order`` is consumers-first, so walk it backwards.
        # A node's backward is worth running when one of its inputs is a target or leads to
        # one; target nodes themselves only need to receive their gradient.
        useful = set()
        for node in reversed(order):
            for t in node.inputs:
                fn = t.grad_fn
                if fn is None:
                    if id(t) in target_ids:
                        useful.add(node)
                        break
                elif fn in useful or fn in target_nodes:
                    useful.add(node)
                    break
        receivers = useful | set(target_nodes)
    else:
        receivers = None

    for node in order:
        g = grads.pop(node, None)
        if g is None:
            continue
        if node._retained is not None:
            t = node._retained()
            if t is not None:
                claimed.add(id(g.data))
                t.grad = g if t.grad is None else t.grad + g
        if captured is not None:
            tid = target_nodes.get(node)
            if tid is not None:
                captured[tid] = g
            if node not in useful:
                continue
        # Via the class: works whether backward was declared static or as a plain function.
        in_grads = type(node).backward(node, g)
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        inputs = node.inputs
        if len(in_grads) != len(inputs):
            raise AssertionError(f"{node.name}.backward returned {len(in_grads)} gradients "
                                 f"for {len(inputs)} inputs")
        for i, (t, need, gi) in enumerate(zip(inputs, node.needs_input_grad, in_grads)):
            if gi is None or not need:
                continue
            if not isinstance(gi, Tensor):   # a custom backward may return raw arrays
                gi = _wrap(backend.xp_of(t.data).asarray(gi))
            td = t.data
            if gi.data.shape != td.shape:
                gi = _unbroadcast(gi, td.shape, node, i)
            if gi.data.dtype != td.dtype:
                gi = gi.astype(td.dtype)
            fn = t.grad_fn
            if fn is None:
                deliver_leaf(t, gi)
            elif receivers is None or fn in receivers:
                prev = grads.get(fn)
                grads[fn] = gi if prev is None else prev + gi
    return captured


def _as_tensor_list(x, what):
    if isinstance(x, Tensor):
        return [x]
    try:
        items = list(x)
    except TypeError:
        raise TypeError(f"{what} must be a Tensor or a sequence of Tensors, "
                        f"got {type(x).__name__}") from None
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}[{i}] must be a Tensor, got {type(t).__name__}")
    return items


def _root_grads(outputs, grad_outputs, caller):
    """Default dL/d(out) = 1 for one-element outputs; check shapes of the given ones."""
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"{caller}: got {len(grad_outputs)} grad_outputs for "
                         f"{len(outputs)} outputs")
    result = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not t.requires_grad:
            raise RuntimeError(f"{caller}: output {i} does not require grad and has no "
                               "grad_fn; nothing to differentiate (was it computed under "
                               "no_grad, or from tensors without requires_grad=True?)")
        if g is None:
            if t.data.size != 1:
                raise RuntimeError(
                    f"{caller}: gradient can be implicitly created only for one-element "
                    f"outputs, but output {i} has shape {tuple(t.data.shape)}; pass "
                    "gradient= (or grad_outputs=) with that shape")
            xp = backend.xp_of(t.data)
            g = _wrap(xp.ones_like(t.data))
        else:
            if not isinstance(g, Tensor):
                g = _wrap(backend.xp_of(t.data).asarray(g, dtype=t.data.dtype))
            if g.data.shape != t.data.shape:
                raise ValueError(f"{caller}: gradient shape {tuple(g.data.shape)} does not "
                                 f"match output {i} shape {tuple(t.data.shape)}")
        result.append(g)
    return result


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate d(tensors)/d(leaf) into the ``.grad`` of every leaf that requires grad.

    Same as ``torch.autograd.backward``; ``Tensor.backward`` calls it.  ``retain_graph`` is
    accepted for compatibility: the graph lives as long as its result Tensors are referenced,
    so it can always be walked again.
    """
    outputs = _as_tensor_list(tensors, "tensors")
    roots = _root_grads(outputs, grad_tensors, "backward")
    _run_backward(outputs, roots, bool(create_graph))


def grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None,
         allow_unused=False):
    r"""Gradients of ``outputs`` w.r.t. ``inputs``, returned rather than stored in ``.grad``.

    Computes the vector-Jacobian product :math:`\sum_k v_k^\top \partial y_k / \partial x_i`
    for each input :math:`x_i`, with :math:`v_k` = ``grad_outputs[k]`` (ones for one-element
    outputs).  Like ``torch.autograd.grad``.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
    inputs : Tensor or sequence of Tensor
        Leaves or intermediate tensors of the graph.
    grad_outputs : Tensor, array or sequence, optional
        Same shapes as ``outputs``; required for outputs with more than one element.
    create_graph : bool
        Record the backward pass so the returned gradients can be differentiated again
        (Hessians: ``H[i] = grad(g[i], x)`` with ``g = grad(f, x, create_graph=True)[0]``).
    retain_graph : bool, optional
        Accepted for compatibility (graphs are always retained while referenced).
    allow_unused : bool
        If False, an input that ``outputs`` do not depend on raises; if True its gradient is
        ``None``.

    Returns
    -------
    tuple of Tensor
        One gradient per input, each with that input's shape.
    """
    outs = _as_tensor_list(outputs, "outputs")
    ins = _as_tensor_list(inputs, "inputs")
    for i, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad; create it with "
                               "requires_grad=True")
    roots = _root_grads(outs, grad_outputs, "grad")
    captured = _run_backward(outs, roots, bool(create_graph), targets=ins)
    result = []
    for i, t in enumerate(ins):
        g = captured.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {tuple(t.data.shape)}) was not used "
                               "to compute the outputs; pass allow_unused=True to get None")
        result.append(g)
    return tuple(result)


def hvp(outputs, inputs, v, create_graph=False):
    r"""Hessian-vector product :math:`H v` of a scalar ``outputs`` w.r.t. ``inputs``.

    Two reverse passes (Pearlmutter's trick): :math:`g = \nabla f`, then
    :math:`\nabla (g \cdot v) = H v`, never forming :math:`H`.

    Parameters
    ----------
    outputs : Tensor
        Scalar built from ``inputs`` with grad mode on.
    inputs : Tensor or sequence of Tensor
    v : Tensor, array or sequence of them
        Same shapes as ``inputs``.

    Returns
    -------
    tuple of Tensor
        :math:`H v` split like ``inputs``.
    """
    ins = _as_tensor_list(inputs, "inputs")
    vs = [v] if len(ins) == 1 and not isinstance(v, (list, tuple)) else list(v)
    gs = grad(outputs, ins, create_graph=True, allow_unused=True)
    dot = None
    with enable_grad():
        for g, vi in zip(gs, vs):
            if g is None or not g.requires_grad:
                continue
            term = (g * vi).sum()
            dot = term if dot is None else dot + term
    if dot is None:  # the gradient does not depend on the inputs: H = 0
        return tuple(_wrap(backend.xp_of(t.data).zeros_like(t.data)) for t in ins)
    res = grad(dot, ins, create_graph=create_graph, allow_unused=True)
    return tuple(_wrap(backend.xp_of(t.data).zeros_like(t.data)) if r is None else r
                 for r, t in zip(res, ins))


def hessian(fn, x):
    r"""Dense Hessian :math:`H_{ij} = \partial^2 f / \partial x_i \partial x_j` of scalar ``fn(x)``.

    One double-backward pass per entry of ``x`` (fine for the small problems Newton's method
    is shown on).  ``x`` is a Tensor of shape ``s``; the result has shape ``s + s``.
    """
    with enable_grad():
        x = x.detach().requires_grad_()
        f = fn(x)
        (g,) = grad(f, x, create_graph=True)
    xp = backend.xp_of(x.data)
    n = x.data.size
    rows = []
    gf = g.reshape(-1)
    for i in range(n):
        if not gf.requires_grad:
            rows.append(xp.zeros(n, dtype=x.data.dtype))
            continue
        (r,) = grad(gf[i], x, allow_unused=True)
        rows.append(xp.zeros(n, dtype=x.data.dtype) if r is None else r.data.reshape(-1))
    return _wrap(xp.stack(rows).reshape(x.data.shape + x.data.shape))


# Tensor needs grad mode from this module; this module builds Tensors.  The package __init__
# imports this module first, so by the time the line below runs every name above exists.
from engine import backend  # noqa: E402
from engine.autodiff.tensor import Tensor, _wrap  # noqa: E402
