"""The optimizer base class: parameter groups, per-parameter state, state dicts, backends.

Shaped like ``torch.optim.Optimizer`` so that code written for PyTorch reads the same here:

* ``params`` is an iterable of Tensors, or of dicts (*parameter groups*) each with a
  ``'params'`` list and its own hyperparameters; missing hyperparameters come from the
  optimizer's defaults.
* ``param_groups`` is that list of dicts.  Editing ``param_groups[i]['lr']`` (or any other
  hyperparameter) between steps takes effect at the next step; the GUI does this live.
* ``state[p]`` is a dict per parameter with PyTorch's key names (``'step'``,
  ``'momentum_buffer'``, ``'exp_avg'``, ...), created on first use.
* ``step(closure=None)`` updates every parameter that has a gradient, in place, and returns
  what the closure returned; ``zero_grad(set_to_none=True)`` clears the gradients.

What is ours: :meth:`Optimizer.state_dict` returns NumPy copies (no pickle, ready for
safetensors + JSON), :meth:`Optimizer.to_backend` moves the state between NumPy and CuPy, and
:meth:`Optimizer.describe` returns the live numbers of the update rule for one parameter.

Update code is written once for NumPy and CuPy: it asks ``backend.xp_of(p.data)`` for the
array module and only calls ``xp.*`` on parameter data.
"""
from __future__ import annotations

import contextlib
import copy
import math
import numbers
from collections.abc import Iterable, MutableMapping

import numpy as np

from engine import backend
from engine.autodiff import enable_grad

__all__ = ["Optimizer", "ParamState", "check_number"]


# -- small helpers -----------------------------------------------------------------------------
def _is_array(x) -> bool:
    """True for a raw NumPy or CuPy array (not a Tensor, not a Python scalar)."""
    return isinstance(x, np.ndarray) or backend.is_cupy(x)


def _array(t):
    """The raw array of a Tensor; raw arrays pass through.

    Checked this way round because a NumPy array has a ``.data`` attribute too (a buffer).
    """
    return t if _is_array(t) else t.data


def _backend_name(a) -> str:
    return "cupy" if backend.is_cupy(a) else "numpy"


@contextlib.contextmanager
def _ieee(xp):
    """Let inf/NaN propagate silently through an update, as they do in PyTorch.

    A diverging run (step size too large) is an expected event in the playground; the caller
    detects non-finite parameters and says why.  NumPy would otherwise warn on every overflow
    (and the test suite turns engine RuntimeWarnings into errors).  CuPy never warns.
    """
    if xp is np:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            yield
    else:
        yield


def check_number(name: str, value, low: float | None = 0.0, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False) -> float:
    """Check that a hyperparameter is a finite real number in a range; return it as a float.

    Parameters
    ----------
    name : str
        Name used in the error message (``'lr'``, ``'betas[0]'``, ...).
    value : object
        The value to check.
    low, high : float or None
        Bounds; ``None`` means unbounded on that side.
    low_open, high_open : bool
        Exclude the bound itself (``[0, 1)`` is ``low=0, high=1, high_open=True``).

    Raises
    ------
    ValueError
        Saying what was given and what is allowed, e.g.
        ``"betas[0] must be a number in [0, 1), got 1.2"``.
    """
    lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
    hi = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
    allowed = f"a number in {lo}, {hi}"
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(float(value))):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    v = float(value)
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return v


class ParamState(MutableMapping):
    """Per-parameter state, keyed by parameter *identity*.

    Behaves like PyTorch's ``defaultdict(dict)``: ``state[p]`` creates an empty dict on first
    access, while ``state.get(p)`` and ``p in state`` never create one.  Keying by ``id`` (and
    holding a reference to ``p`` so the id cannot be reused) means a Tensor need not be
    hashable and two parameters with equal values never share state.
    """

    def __init__(self):
        self._items: dict[int, tuple[object, dict]] = {}

    def __getitem__(self, p) -> dict:
        entry = self._items.get(id(p))
        if entry is None:
            entry = self._items[id(p)] = (p, {})
        return entry[1]

    def __setitem__(self, p, value: dict) -> None:
        self._items[id(p)] = (p, value)

    def __delitem__(self, p) -> None:
        del self._items[id(p)]

    def __contains__(self, p) -> bool:
        return id(p) in self._items

    def get(self, p, default=None):
        entry = self._items.get(id(p))
        return default if entry is None else entry[1]

    def __iter__(self):
        return (p for p, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __deepcopy__(self, memo):
        # Keys are ids: re-key by the *copied* parameters, or a copied optimizer would find no
        # state for its parameters (a deep-copied lab, say, would restart Adam's moments).
        new = type(self)()
        memo[id(self)] = new
        for p, value in self._items.values():
            p2 = copy.deepcopy(p, memo)
            new._items[id(p2)] = (p2, copy.deepcopy(value, memo))
        return new

    def __repr__(self) -> str:
        return f"ParamState({len(self)} parameters)"


# -- the base class ----------------------------------------------------------------------------
class Optimizer:
    """Base class of all optimizers (PyTorch's ``torch.optim.Optimizer`` contract).

    Subclasses define :meth:`_check_group` (validation of one group's hyperparameters) and
    :meth:`_update` (the rule for one parameter); the base class does the bookkeeping.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The tensors to optimize, or parameter groups: dicts with a ``'params'`` entry (a Tensor
        or an iterable of Tensors) and any hyperparameters that differ from ``defaults``.
    defaults : dict
        Default hyperparameters for every group.

    Attributes
    ----------
    defaults : dict
    param_groups : list of dict
        Each with ``'params'`` (a list of Tensors) and every hyperparameter.
    state : ParamState
        ``state[p]`` is the dict of internal arrays and counters of parameter ``p``.

    Raises
    ------
    TypeError
        When ``params`` is a single Tensor or holds something that is not a Tensor.
    ValueError
        For an empty parameter list, a parameter in two groups, or a bad hyperparameter.
    """

    #: State keys whose arrays are not shaped like their parameter (Newton's Hessian).
    _UNSHAPED_STATE = frozenset()

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._check_group(self.defaults, initial=True)
        self.state = ParamState()
        self.param_groups: list[dict] = []
        if hasattr(params, "data") and not isinstance(params, dict) or _is_array(params):
            raise TypeError("params must be an iterable of Tensors or of dicts (parameter "
                            f"groups), got a single {type(params).__name__}; wrap it: [x]")
        if isinstance(params, (set, frozenset)) or not isinstance(params, Iterable):
            # A set has no order, and state_dict() numbers parameters by their order.
            raise TypeError("params must be an ordered iterable (list, tuple, generator) of "
                            f"Tensors or of dicts (parameter groups), got {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"

    # -- groups ---------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a parameter group (e.g. layers unfrozen later), like PyTorch.

        Hyperparameters missing from ``param_group`` are taken from :attr:`defaults`.  The group
        is validated before it is added; on error nothing changes.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        if "params" not in group:
            raise ValueError("a parameter group needs a 'params' entry (a list of Tensors)")
        params = group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError("a parameter group's 'params' must be an ordered sequence (list or "
                            "tuple), not a set: state_dict() numbers parameters by their order")
        params = [params] if hasattr(params, "data") and not _is_array(params) else list(params)
        for p in params:
            if _is_array(p) or not hasattr(p, "data") or not hasattr(p, "grad"):
                raise TypeError("optimizers update Tensors (with .data and .grad), got "
                                f"{type(p).__name__}; wrap arrays as Tensor(a, requires_grad=True)")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter twice")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group, initial=True)
        self._on_add_group(group)
        self.param_groups.append(group)

    def _on_add_group(self, group: dict) -> None:
        """Hook, run before ``group`` joins :attr:`param_groups`: size checks that may raise
        (Newton) or eager state initialisation (Adagrad)."""

    def _check_group(self, group: dict, initial: bool) -> None:
        """Validate one group's hyperparameters; raise ``ValueError`` saying what is allowed.

        ``initial`` is True at construction and on ``load_state_dict`` (where PyTorch checks
        combinations such as Nesterov-needs-momentum) and False at each step (where only the
        ranges are checked, so live edits that PyTorch would accept keep working).
        """

    # -- gradients ------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters.

        Parameters
        ----------
        set_to_none : bool
            ``True`` (the default, as in PyTorch) drops the gradient Tensors: cheaper, and a
            parameter without a gradient is skipped by :meth:`step`.  ``False`` zeroes them in
            place, so references to ``p.grad`` stay valid.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    _array(p.grad)[...] = 0

    # -- stepping -------------------------------------------------------------------------------
    def step(self, closure=None):
        """Perform one optimization step on every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, optional
            Called first (with grad mode on); it should zero the gradients, re-evaluate the
            loss, call ``backward()`` and return the loss, as in PyTorch.

        Returns
        -------
        The closure's return value, or ``None``.

        Raises
        ------
        ValueError
            If a hyperparameter was edited to a value outside its range (nothing is updated),
            or a gradient's shape differs from its parameter's.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # Validate every group before touching anything, so a bad live edit changes nothing.
        for group in self.param_groups:
            self._check_group(group, initial=False)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                x, g = p.data, _array(p.grad)
                if g.shape != x.shape:
                    raise ValueError(f"gradient shape {tuple(g.shape)} does not match "
                                     f"parameter shape {tuple(x.shape)}")
                xp = backend.xp_of(x)
                state = self.state[p]
                with _ieee(xp):
                    self._update(p, x, g, group, state, xp)
                if not state:  # plain SGD keeps no state; PyTorch then has no entry either
                    del self.state[p]
        return loss

    def _update(self, p, x, g, group: dict, state: dict, xp) -> None:
        """Apply the rule to one parameter: update ``x`` (= ``p.data``) in place.

        ``g`` is the raw gradient array (never modified), ``state`` is ``self.state[p]``.
        """
        raise NotImplementedError

    # -- inspection -----------------------------------------------------------------------------
    def group_of(self, p) -> dict:
        """The parameter group that holds ``p`` (``ValueError`` if none does)."""
        for group in self.param_groups:
            if any(q is p for q in group["params"]):
                return group
        raise ValueError("this parameter is not optimized by this optimizer")

    def describe(self, p) -> dict:
        """The live numbers of the update rule for parameter ``p``, for display.

        Values are NumPy arrays (copies) or Python scalars, so a GUI can print them without
        knowing the backend.  Subclasses add their internal quantities (see each class); the
        base gives ``lr``, the current gradient ``grad`` (``None`` when cleared) and ``x``.
        Cheap: a few element-wise operations on the state of one parameter.
        """
        group = self.group_of(p)
        grad = None if p.grad is None else backend.to_numpy(_array(p.grad)).copy()
        return {"lr": float(group["lr"]), "x": backend.to_numpy(p.data).copy(), "grad": grad}

    # -- saving, loading and moving ---------------------------------------------------------------
    def state_dict(self) -> dict:
        """A snapshot of the optimizer: hyperparameters and state, in PyTorch's layout.

        Returns
        -------
        dict
            ``{'state': {index: {key: value}}, 'param_groups': [{..., 'params': [index]}]}``
            where parameters are numbered in group order.  Arrays are NumPy **copies** (so the
            snapshot does not change as training goes on and can be written with safetensors);
            counters are ints, flags bools; nothing needs pickle.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _plain(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, s in self.state._items.values():
            if id(p) in index:
                state[index[id(p)]] = {k: _export(v) for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a snapshot made by :meth:`state_dict` (possibly read back from JSON).

        Parameters are matched by position, group by group, so the optimizer must have been
        built over the same parameters in the same order.  Arrays are copied onto the backend
        and into the dtype of their parameter; hyperparameters replace the current ones.

        Raises
        ------
        ValueError
            If the group count, group sizes or array shapes do not match, or a saved
            hyperparameter is invalid.  On error nothing changes.
        """
        try:
            saved_groups = list(state_dict["param_groups"])
            saved_state = dict(state_dict["state"])
        except (KeyError, TypeError) as exc:
            raise ValueError("a state dict needs 'state' and 'param_groups' entries, as made "
                             "by Optimizer.state_dict()") from exc
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"the state dict has {len(saved_groups)} parameter groups, this "
                             f"optimizer has {len(self.param_groups)}")
        by_index = {}
        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            ids = list(saved.get("params", []))
            if len(ids) != len(group["params"]):
                raise ValueError(f"parameter group {i} has {len(group['params'])} parameters, "
                                 f"the state dict's has {len(ids)}")
            by_index.update({int(j): p for j, p in zip(ids, group["params"])})
            new = {k: _restore_hyper(k, v) for k, v in saved.items() if k != "params"}
            new["params"] = group["params"]
            self._check_group(new, initial=True)
            new_groups.append(new)
        new_state = ParamState()
        for key, s in saved_state.items():
            p = by_index.get(int(key))
            if p is None:
                raise ValueError(f"the state dict has state for parameter {key}, which is in "
                                 "none of its parameter groups")
            new_state[p] = {k: self._import(k, v, p) for k, v in s.items()}
        self.param_groups[:] = new_groups
        self.state = new_state

    def _import(self, key: str, value, p):
        """One state value onto ``p``'s backend and dtype (arrays copied and shape-checked)."""
        if not _is_array(value):
            return tuple(value) if isinstance(value, list) else value
        x = p.data
        arr = backend.to_device(value, _backend_name(x))
        if arr.dtype.kind in "fc":
            arr = arr.astype(x.dtype, copy=True)
        else:
            arr = arr.copy()
        if key not in self._UNSHAPED_STATE and arr.shape != x.shape:
            raise ValueError(f"state {key!r} has shape {tuple(arr.shape)}, its parameter has "
                             f"shape {tuple(x.shape)}")
        return arr

    def to_backend(self, name: str) -> None:
        """Move every state array to backend ``name`` (``'numpy'``, ``'cupy'`` or ``'auto'``).

        The parameters themselves belong to the model and are moved by whoever owns them;
        call this as well so the optimizer keeps its momentum and moment estimates across a
        NumPy <-> CuPy switch.  Raises ``ValueError`` (nothing moved) for an unavailable
        backend.
        """
        target = backend.resolve(name)  # raises before anything changes
        for _, s in self.state._items.values():
            for k, v in s.items():
                if _is_array(v):
                    s[k] = backend.to_device(v, target)


def _plain(v):
    """A hyperparameter as a plain Python value (tuples kept; NumPy scalars unwrapped)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return tuple(_plain(u) for u in v)
    return v


def _export(v):
    """A state value for :meth:`Optimizer.state_dict`: arrays as NumPy copies."""
    if _is_array(v):
        return backend.to_numpy(v).copy()
    return _plain(v)


def _restore_hyper(key: str, value):
    """Undo what JSON does to a hyperparameter: a list (e.g. ``betas``) back to a tuple."""
    return tuple(value) if isinstance(value, list) else value
