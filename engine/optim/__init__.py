"""Optimizers with PyTorch's names, constructors and semantics (book ch. 4, sections 4.6-4.14).

>>> opt = Adam([w, b], lr=1e-3)
>>> for xb, yb in batches:
...     opt.zero_grad()
...     loss_fn(model(xb), yb).backward()
...     opt.step()

* :class:`SGD` - gradient descent, heavy-ball and Nesterov momentum, weight decay.
* :class:`Adagrad`, :class:`RMSprop`, :class:`Adam` - per-coordinate adaptive steps, with the
  book's errata (E9-E11) corrected.
* :class:`Newton` - the exact-Hessian Newton step for small problems (needs a closure).
* :class:`BFGS` - quasi-Newton with an Armijo line search, and :class:`AdaptiveGD` - gradient
  descent that grows or halves its own step; small problems, closure required.
* :func:`make_optimizer` - one of the above from the short name a lab's form offers.

Every optimizer updates ``p.data`` in place on NumPy or CuPy, keeps PyTorch's state keys, saves
to a pickle-free :meth:`~Optimizer.state_dict`, moves its state with
:meth:`~Optimizer.to_backend`, and shows its live quantities with :meth:`~Optimizer.describe`.
"""
from engine.optim.adagrad import Adagrad
from engine.optim.adam import Adam
from engine.optim.adaptive_gd import AdaptiveGD
from engine.optim.bfgs import BFGS
from engine.optim.factory import CHOICES, make_optimizer
from engine.optim.newton import Newton
from engine.optim.optimizer import Optimizer
from engine.optim.rmsprop import RMSprop
from engine.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "Newton", "BFGS", "AdaptiveGD",
           "CHOICES", "make_optimizer"]
