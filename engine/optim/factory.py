"""Build an optimizer from the short name a lab's parameter form offers.

The labs let the user pick an optimizer by name; each name is one class with its usual
settings, so every lab means the same thing by "momentum" and a new choice is added once.
"""
from __future__ import annotations

from engine.optim.adagrad import Adagrad
from engine.optim.adam import Adam
from engine.optim.optimizer import Optimizer
from engine.optim.rmsprop import RMSprop
from engine.optim.sgd import SGD

#: Name -> (class, its settings besides the learning rate).
CHOICES = {
    "sgd": (SGD, {}),
    "momentum": (SGD, {"momentum": 0.9}),
    "nesterov": (SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (Adagrad, {}),
    "rmsprop": (RMSprop, {}),
    "adam": (Adam, {}),
}


def make_optimizer(name: str, params, lr: float, **settings) -> Optimizer:
    """The optimizer called ``name`` over ``params`` with step size ``lr``.

    Parameters
    ----------
    name : str
        One of :data:`CHOICES`: ``sgd``, ``momentum`` (heavy ball, 0.9), ``nesterov``,
        ``adagrad``, ``rmsprop``, ``adam``.
    params : iterable of Parameter
        What to optimize.
    lr : float
        Learning rate.
    **settings
        Overrides of that optimizer's other arguments (``betas=(0.5, 0.9)`` for a GAN's Adam).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    """
    if name not in CHOICES:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(CHOICES)}")
    cls, defaults = CHOICES[name]
    return cls(list(params), lr=lr, **{**defaults, **settings})
