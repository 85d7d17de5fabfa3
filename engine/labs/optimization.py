"""Optimization lab (book ch. 4, sections 4.10-4.14): descent methods racing on 2-D test functions.

Each racer is a point ``x`` (an autodiff ``Tensor``) with its own optimizer from
:mod:`engine.optim`; every step evaluates ``f(x)``, back-propagates, and lets the optimizer move
the point.  Newton's method gets its Hessian from the engine's double backward.  A racer that
produces inf/NaN is stopped and reported with its step and the likely cause; the rest go on.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from engine import backend, optim, testfns
from engine.autodiff import Tensor
from engine.labs.base import Action, Lab, Param, Snapshot

#: Racer key -> (label, optimizer class, extra hyperparameter params).
RACERS = {
    "gd": "Gradient descent",
    "adaptive": "Adaptive-step GD",
    "sgd": "SGD (noisy gradient)",
    "momentum": "Momentum",
    "nesterov": "Nesterov",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "newton": "Newton",
    "bfgs": "BFGS",
}
#: Racers whose optimizer re-evaluates f itself (Hessians, line searches, step control).
CLOSURE_RACERS = ("adaptive", "newton", "bfgs")
#: Racers left out of the default race (tick them in the form), to keep the first picture
#: readable: the default race is the eight methods of book sections 4.10-4.14 and 4.6.
OFF_BY_DEFAULT = ("adaptive", "bfgs")

_ROS = testfns.FUNCTIONS["rosenbrock"]


def _racer_params() -> list[Param]:
    out = []
    for key, label in RACERS.items():
        out.append(Param(key, "bool", key not in OFF_BY_DEFAULT, label="race", group=label,
                         rebuild=True,
                         help=f"Include {label} in the race (restarts the race)."))
        lo, hi = (0.05, 2.0) if key in ("newton", "bfgs") else (1e-5, 2.0)
        out.append(Param(f"{key}_lr", "float", _ROS.lrs[key], lo, hi, log=True, label="step c",
                         symbol="c", group=label,
                         help=f"Step size (learning rate) c of {label}. Too large diverges."))
    extra = [
        Param("sgd_noise", "float", _ROS.lrs["noise"], 0.0, 200.0, step=0.5, label="noise \u03c3",
              symbol="\u03c3", group=RACERS["sgd"],
              help="Std. dev. \u03c3 of the Gaussian noise added to each gradient component, "
                   "standing in for mini-batch sampling."),
        Param("momentum_alpha", "float", 0.9, 0.0, 0.999, step=0.001, label="momentum \u03b1",
              symbol="\u03b1", group=RACERS["momentum"],
              help="Heavy-ball momentum \u03b1: the fraction of the last step carried over."),
        Param("nesterov_alpha", "float", 0.9, 0.0, 0.999, step=0.001, label="momentum \u03b1",
              symbol="\u03b1", group=RACERS["nesterov"],
              help="Nesterov momentum \u03b1; the gradient is taken at the look-ahead point."),
        Param("adagrad_eps", "float", 1e-10, 1e-12, 1e-2, log=True, label="\u03b5",
              symbol="\u03b5", group=RACERS["adagrad"],
              help="\u03b5 keeps the Adagrad division finite while the sum of g\u00b2 is tiny."),
        Param("rmsprop_alpha", "float", 0.99, 0.0, 0.9999, step=0.0001, label="decay \u03b3",
              symbol="\u03b3", group=RACERS["rmsprop"],
              help="RMSprop decay \u03b3 of the running mean of g\u00b2."),
        Param("adam_beta1", "float", 0.9, 0.0, 0.999, step=0.001, label="\u03b2\u2081",
              symbol="\u03b2\u2081", group=RACERS["adam"],
              help="Adam \u03b2\u2081: decay of the first moment (mean of g)."),
        Param("adam_beta2", "float", 0.999, 0.0, 0.99999, step=0.00001, label="\u03b2\u2082",
              symbol="\u03b2\u2082", group=RACERS["adam"],
              help="Adam \u03b2\u2082: decay of the second moment (mean of g\u00b2)."),
        Param("newton_damping", "float", 0.0, 0.0, 100.0, step=0.01, label="damping \u03bb",
              symbol="\u03bb", group=RACERS["newton"],
              help="Newton solves (H + \u03bbI) d = \u2207f; \u03bb > 0 tames indefinite "
                   "Hessians."),
    ]
    # Keep each extra next to its racer's other params in the form.
    order = {label: i for i, label in enumerate(RACERS.values())}
    return sorted(out + extra, key=lambda p: order[p.group])


def _general_params() -> list[Param]:
    return [
        Param("function", "choice", "rosenbrock", choices=tuple(testfns.FUNCTIONS),
              label="function", group="Problem", rebuild=True,
              help="The objective f. Choosing one also loads its start point and step sizes."),
        Param("condition", "float", 10.0, 1.0, 1000.0, log=True, label="condition \u03ba",
              symbol="\u03ba", group="Problem", rebuild=True,
              help="Condition number \u03ba of the quadratic (ratio of its Hessian's "
                   "eigenvalues)."),
        Param("x0", "float", _ROS.start[0], -10.0, 10.0, step=0.01, label="start x\u2080",
              symbol="x\u2080", group="Problem", rebuild=True,
              help="First coordinate of the start point (or click the contour plot)."),
        Param("y0", "float", _ROS.start[1], -10.0, 10.0, step=0.01, label="start y\u2080",
              symbol="y\u2080", group="Problem", rebuild=True,
              help="Second coordinate of the start point (2-D functions)."),
        Param("tolerance", "float", 1e-6, 1e-12, 1e-1, log=True, label="stop at |\u2207f| \u2264",
              symbol="\u03b7", group="Problem",
              help="A racer stops once its gradient norm falls to \u03b7."),
    ]


@dataclasses.dataclass
class _Racer:
    key: str
    label: str
    x: Tensor
    opt: object
    path: list
    fs: list
    gnorms: list
    grad: np.ndarray            # grad f at the current point (float64, NumPy)
    status: str = "running"     # running | converged | diverged | escaped
    stopped_at: int = -1
    extras: dict = dataclasses.field(default_factory=dict)


class OptimizationLab(Lab):
    """Optimizer race on 2-D test functions and the book's 1-D quartic."""

    name = "optimization"
    chapter = 4
    title = "Optimizer race"
    section = "4.10-4.14 Descent methods"
    summary = (
        "Each coloured point follows one optimizer's rule from the same start. Plain gradient "
        "descent steps against the gradient; momentum remembers its last step and rolls through "
        "narrow valleys; Adagrad, RMSprop and Adam divide each coordinate's step by a running "
        "size of its gradients, so flat and steep directions move alike; Newton's method jumps "
        "to the minimum of the local quadratic model, using the Hessian. Click the plot to "
        "choose a start point; watch f and the gradient norm fall on log scales below.")
    params = tuple(_general_params() + _racer_params())
    actions = (Action("set_start", "Set start point", ("x", "y"),
                      "Restart the race from (x, y); clicking the contour plot does this."),)

    #: Racers stop once they leave this many plot-widths away (f unbounded below, e.g. saddle).
    ESCAPE_FACTOR = 50.0

    # -- params ---------------------------------------------------------------------------------
    def _on_param(self, name, old):
        v = self.values
        if name == "function" and v["function"] != old:
            # A new function brings the start point, step sizes and noise that suit it.
            tf = testfns.get(v["function"])
            v["x0"] = tf.start[0]
            v["y0"] = tf.start[1] if tf.dim == 2 else 0.0
            for key in RACERS:
                v[f"{key}_lr"] = tf.lrs[key]
            v["sgd_noise"] = tf.lrs["noise"]
            return
        if not hasattr(self, "racers"):
            return
        for r in self.racers:  # live hyperparameter changes go straight into the optimizers
            r.opt.param_groups[0].update(self._hyper(r.key))

    def _hyper(self, key: str) -> dict:
        v = self.values
        h = {"lr": v[f"{key}_lr"]}
        if key == "momentum":
            h["momentum"] = v["momentum_alpha"]
        elif key == "nesterov":
            # Nesterov needs momentum > 0; at alpha = 0 it is plain gradient descent anyway.
            h["momentum"] = v["nesterov_alpha"]
            h["nesterov"] = v["nesterov_alpha"] > 0
        elif key == "adagrad":
            h["eps"] = v["adagrad_eps"]
        elif key == "rmsprop":
            h["alpha"] = v["rmsprop_alpha"]
        elif key == "adam":
            h["betas"] = (v["adam_beta1"], v["adam_beta2"])
        elif key == "newton":
            h["damping"] = v["newton_damping"]
        return h

    def _make_opt(self, key: str, x: Tensor):
        cls = {"gd": optim.SGD, "adaptive": optim.AdaptiveGD, "sgd": optim.SGD,
               "momentum": optim.SGD, "nesterov": optim.SGD, "adagrad": optim.Adagrad,
               "rmsprop": optim.RMSprop, "adam": optim.Adam, "newton": optim.Newton,
               "bfgs": optim.BFGS}[key]
        return cls([x], **self._hyper(key))

    # -- building and stepping ------------------------------------------------------------------
    @property
    def fn(self) -> testfns.TestFunction:
        return testfns.get(self.values["function"], self.values["condition"])

    def _objective(self, x: Tensor):
        tf = self.fn_cached
        return tf(x[0]) if tf.dim == 1 else tf(x[0], x[1])

    def _build(self):
        self.fn_cached = tf = self.fn
        xp = self.xp
        start = [self.values["x0"]] if tf.dim == 1 else [self.values["x0"], self.values["y0"]]
        self.start = np.array(start, dtype=np.float64)
        self.grid = testfns.grid(tf, 161 if tf.dim == 2 else 600)
        # Log display keeps both the valley floor and the steep walls readable.
        z = self.grid[2]
        self.grid_display = np.log10(1.0 + z - z.min()) if tf.dim == 2 else None
        self.stationary = (testfns.poly_stationary(testfns.QUARTIC_COEFFS)
                           if tf.name == "quartic" else [])
        f0, grad0 = self._evaluate(self.start[None, :])
        f0, grad0 = float(f0[0]), grad0[0]
        g0 = float(np.linalg.norm(grad0))
        # The best known value f*, for the log-scale plot of f(x_k) - f*.
        self.f_star = min((float(tf(*m)) for m in tf.minima), default=None)
        self.racers = []
        for key, label in RACERS.items():
            if not self.values[key]:
                continue
            x = Tensor(xp.asarray(self.start.copy()), requires_grad=True)
            self.racers.append(_Racer(key, label, x, self._make_opt(key, x),
                                      [self.start.copy()], [f0], [g0], grad=grad0.copy()))
        self.f_start = f0
        self.alerts = []
        # One Gaussian stream for SGD's gradient noise, from the lab's seed.
        self.noise_rng = np.random.default_rng(self.seed)

    @property
    def finished(self):
        return all(r.status != "running" for r in self.racers)

    def _step(self):
        k = self.step_count + 1
        running = [r for r in self.racers if r.status == "running"]
        for r in running:
            self._update(r)
        # f and grad f at every racer's new point in one batched forward/backward pass.
        points = np.stack([backend.to_numpy(r.x.data).astype(np.float64) for r in running])
        fs, grads = self._evaluate(points)
        for r, xk, fk, g in zip(running, points, fs, grads):
            self._record(r, k, xk, float(fk), g)

    def _update(self, r: _Racer) -> None:
        """One optimizer update of racer ``r`` from the gradient at its current point."""
        if r.key in CLOSURE_RACERS:
            # These evaluate f themselves: Newton differentiates twice (Hessian by double
            # backward), BFGS line-searches, adaptive GD tries a step and may undo it.
            r.opt.step(lambda: self._objective(r.x))
            r.extras["singular"] = bool(r.opt.state.get(r.x, {}).get("singular", False))
            return
        g = r.grad  # grad f at the current point, kept from the last evaluation
        if r.key == "sgd" and self.values["sgd_noise"] > 0:
            g = g + self.noise_rng.normal(0.0, self.values["sgd_noise"], g.shape)
        r.extras["g"] = g
        r.x.grad = Tensor(backend.xp_of(r.x.data).asarray(g))
        r.opt.step()

    def _record(self, r: _Racer, k: int, xk: np.ndarray, fk: float, grad: np.ndarray) -> None:
        """Append the new point to the racer's history and apply the stop tests."""
        r.grad = grad
        gk = float(np.linalg.norm(grad))
        r.path.append(xk)
        r.fs.append(fk)
        r.gnorms.append(gk)
        box = np.array([b[1] - b[0] for b in self.fn_cached.bounds])
        if not (np.all(np.isfinite(xk)) and math.isfinite(fk)) or abs(fk) > 1e15:
            r.status, r.stopped_at = "diverged", k
            self.alerts.append(self._divergence_message(r, k, fk))
        elif np.any(np.abs(xk - self.start) > self.ESCAPE_FACTOR * box):
            r.status, r.stopped_at = "escaped", k
            self.alerts.append(f"{r.label} left the plotted region at step {k} "
                               f"(f = {fk:.4g}): f is unbounded below in that direction.")
        elif gk <= self.values["tolerance"]:
            r.status, r.stopped_at = "converged", k

    def _evaluate(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """f and grad f at ``m`` NumPy points at once (float64).

        Parameters
        ----------
        points : (m, d) array

        Returns
        -------
        f : (m,) array, grad : (m, d) array
            NaN rows for non-finite points.  The racers are independent, so the gradient of
            ``sum_i f(x_i)`` with respect to the stacked points is every ``grad f(x_i)``.
        """
        ok = np.all(np.isfinite(points), axis=1)
        fs = np.full(len(points), np.nan)
        grads = np.full_like(points, np.nan)
        if ok.any():
            with np.errstate(all="ignore"):  # a diverging racer may overflow; it is stopped
                x = Tensor(points[ok].copy(), requires_grad=True)
                f = self._objective_rows(x)
                f.sum().backward()
                fs[ok] = f.numpy()
                grads[ok] = x.grad.numpy()
        return fs, grads

    def _objective_rows(self, x: Tensor):
        """f of each row of an (m, d) Tensor."""
        tf = self.fn_cached
        return tf(x[:, 0]) if tf.dim == 1 else tf(x[:, 0], x[:, 1])

    def _divergence_message(self, r: _Racer, k: int, fk: float) -> str:
        lr = self.values[f"{r.key}_lr"]
        if r.key == "newton":
            cause = ("the Hessian is singular or indefinite near here; add damping \u03bb or "
                     "start elsewhere")
        else:
            cause = (f"the step size c = {lr:.3g} is too large for the curvature here; "
                     "lower it")
        return f"{r.label} diverged at step {k} (f = {fk:.3g}). Likely cause: {cause}."

    # -- actions --------------------------------------------------------------------------------
    def action_set_start(self, x, y=0.0):
        """Restart the race from ``(x, y)``, a finite point inside the params' range."""
        px, py = self._params["x0"], self._params["y0"]
        x, y = px.coerce(x), py.coerce(y if self.fn.dim == 2 else self.values["y0"])
        self.values["x0"], self.values["y0"] = x, y
        self.reset(self.seed)

    # -- backend --------------------------------------------------------------------------------
    def _move_to_backend(self):
        xp = self.xp
        for r in self.racers:
            r.x.data = xp.asarray(backend.to_numpy(r.x.data))
            if r.x.grad is not None:
                r.x.grad = None
            r.opt.to_backend(backend.resolve(self.backend_name, self.work_size()))

    # -- output ---------------------------------------------------------------------------------
    def history(self):
        return {r.key: {"x": np.asarray(r.path).tolist(), "f": r.fs, "grad_norm": r.gnorms,
                        "status": r.status, "stopped_at": r.stopped_at}
                for r in self.racers}

    def _snapshot(self) -> Snapshot:
        tf = self.fn_cached
        xs, ys, z = self.grid
        scalars = {"f_start": self.f_start}
        racers = {}
        for r in self.racers:
            path = np.asarray(r.path)
            fs, gn = np.asarray(r.fs), np.asarray(r.gnorms)
            gap = fs - self.f_star if self.f_star is not None else fs
            racers[r.key] = {"path": _thin(path), "f": _thin(fs), "grad_norm": _thin(gn),
                             "k": _thin(np.arange(len(r.fs), dtype=np.float64)),
                             # Log plots need positive finite values: floor at 1e-16 (the
                             # float64 noise level), blank out inf/NaN after a divergence.
                             "gap": _thin(_loggable(gap) if self.f_star is not None
                                          else np.where(np.isfinite(gap), gap, np.nan)),
                             "grad_norm_plot": _thin(_loggable(gn))}
            scalars[f"f_{r.key}"] = r.fs[-1]
            scalars[f"grad_norm_{r.key}"] = r.gnorms[-1]
        finite = [r.fs[-1] for r in self.racers if math.isfinite(r.fs[-1])]
        if finite:
            scalars["loss"] = min(finite)
        data = {"dim": tf.dim, "bounds": np.asarray(tf.bounds, dtype=np.float64),
                "grid_x": xs, "grid_z": z, "racers": racers,
                "order": tuple(r.key for r in self.racers),
                "status": {r.key: r.status for r in self.racers},
                "minima": np.asarray(tf.minima, dtype=np.float64).reshape(-1, tf.dim),
                "start": self.start, "start_f": self.f_start,
                "f_star": math.nan if self.f_star is None else self.f_star,
                "gap_log": self.f_star is not None,
                "gap_label": ("f(x\u2096) \u2212 f*" if self.f_star is not None
                              else "f(x\u2096)  (unbounded below)")}
        if tf.dim == 2:
            data["grid_y"] = ys
            data["grid_display"] = self.grid_display
        else:
            data["stationary"] = np.asarray([(x, fx) for x, _, fx in self.stationary]
                                            ).reshape(-1, 2)
            data["stationary_kind"] = tuple(kind for _, kind, _ in self.stationary)
        text = {"equation": self._equation_html(), "rules": self._rules_html(),
                "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text, self.alerts)

    def _equation_html(self) -> str:
        tf = self.fn_cached
        kappa = (f" with &kappa; = {self.values['condition']:.4g}"
                 if tf.name == "quadratic" else "")
        return f"<p><b>{tf.formula}</b>{kappa}</p><p>{tf.note}</p>"

    def _rules_html(self) -> str:
        rows = [_rule_html(r, self.values) for r in self.racers]
        return "".join(rows)


def _thin(a: np.ndarray, max_points: int = 4000) -> np.ndarray:
    """At most ``max_points`` evenly spaced rows of ``a``, always keeping the last one."""
    n = len(a)
    if n <= max_points:
        return a
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return a[idx]


def _loggable(a: np.ndarray) -> np.ndarray:
    """Values safe for a log axis: floored at 1e-16, NaN where not finite."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(a), np.maximum(a, 1e-16), np.nan)


def _vec(a) -> str:
    a = np.atleast_1d(backend.to_numpy(a)).astype(float)
    return "(" + ", ".join(f"{v:.4g}" for v in a) + ")"


def _rule_html(r: _Racer, v: dict) -> str:
    """The update rule of one racer as HTML math, with its current numbers."""
    st = r.opt.state.get(r.x, {})
    x = _vec(r.x.data)
    g = r.extras.get("g")
    gs = _vec(g) if g is not None else "&ndash;"
    c = v[f"{r.key}_lr"]
    sub = "<sub>k</sub>"
    head = f"<p><b>{r.label}</b> &nbsp; <i>{r.status}</i><br>"
    if r.key in ("gd", "sgd"):
        noise = (" + &sigma;&xi;, &xi; ~ N(0, I)" if r.key == "sgd" else "")
        body = (f"x<sub>k+1</sub> = x{sub} &minus; c(&nabla;f(x{sub}){noise})<br>"
                f"c = {c:.3g}, g = {gs}, x = {x}")
    elif r.key in ("momentum", "nesterov"):
        a = v[f"{r.key}_alpha"]
        buf = _vec(st["momentum_buffer"]) if "momentum_buffer" in st else "0"
        look = " (taken at the look-ahead point)" if r.key == "nesterov" else ""
        body = (f"v{sub} = &alpha;v<sub>k&minus;1</sub> + &nabla;f{look}; "
                f"x<sub>k+1</sub> = x{sub} &minus; c v{sub}<br>"
                f"c = {c:.3g}, &alpha; = {a:.3g}, v = {buf}, x = {x}")
    elif r.key == "adagrad":
        s = _vec(st["sum"]) if "sum" in st else "0"
        body = (f"s{sub} = s<sub>k&minus;1</sub> + g{sub}<sup>2</sup>; "
                f"x<sub>k+1</sub> = x{sub} &minus; c g{sub} / (&radic;s{sub} + &epsilon;)<br>"
                f"c = {c:.3g}, s = {s}, x = {x}")
    elif r.key == "rmsprop":
        s = _vec(st["square_avg"]) if "square_avg" in st else "0"
        body = (f"v{sub} = &gamma;v<sub>k&minus;1</sub> + (1&minus;&gamma;)g{sub}<sup>2</sup>; "
                f"x<sub>k+1</sub> = x{sub} &minus; c g{sub} / (&radic;v{sub} + &epsilon;)<br>"
                f"c = {c:.3g}, &gamma; = {v['rmsprop_alpha']:.4g}, v = {s}, x = {x}")
    elif r.key == "adam":
        m = _vec(st["exp_avg"]) if "exp_avg" in st else "0"
        s = _vec(st["exp_avg_sq"]) if "exp_avg_sq" in st else "0"
        b1, b2 = "&beta;<sub>1</sub>", "&beta;<sub>2</sub>"
        body = (f"m{sub} = {b1}m<sub>k&minus;1</sub> + (1&minus;{b1})g{sub}; "
                f"v{sub} = {b2}v<sub>k&minus;1</sub> + (1&minus;{b2})g{sub}<sup>2</sup><br>"
                f"x<sub>k+1</sub> = x{sub} &minus; c m&#770;{sub} / "
                f"(&radic;v&#770;{sub} + &epsilon;), "
                f"m&#770; = m/(1&minus;&beta;<sub>1</sub><sup>k</sup>), "
                f"v&#770; = v/(1&minus;&beta;<sub>2</sub><sup>k</sup>)<br>"
                f"c = {c:.3g}, m = {m}, v = {s}, x = {x}")
    elif r.key == "adaptive":
        cur = st.get("step_size", c)
        last = {True: "kept, c grew", False: "undone, c halved"}.get(st.get("accepted"), "")
        body = (f"x<sub>k+1</sub> = x{sub} &minus; c{sub}&nabla;f(x{sub}); if f rose: undo and "
                f"c &larr; c/2, else c &larr; 1.1c<br>"
                f"c{sub} = {cur:.3g} (last step {last or '&ndash;'}), x = {x}")
    elif r.key == "bfgs":
        q = st.get("inv_hessian")
        qs = ("[" + "; ".join(_vec(row) for row in np.atleast_2d(backend.to_numpy(q))) + "]"
              if q is not None else "I")
        t = st.get("step_size")
        body = (f"p{sub} = &minus;Q{sub}&nabla;f(x{sub}); x<sub>k+1</sub> = x{sub} + t p{sub} "
                f"(t halved from c until f drops enough); "
                f"Q<sup>+</sup> = (I &minus; &rho;sy<sup>T</sup>)Q(I &minus; &rho;ys<sup>T</sup>) "
                f"+ &rho;ss<sup>T</sup>, &rho; = 1/s<sup>T</sup>y<br>"
                f"Q = {qs}, t = {'&ndash;' if t is None else f'{t:.3g}'}, x = {x}")
    else:
        h = st.get("hessian")
        hs = ("[" + "; ".join(_vec(row) for row in np.atleast_2d(backend.to_numpy(h))) + "]"
              if h is not None else "&ndash;")
        d = _vec(st["newton_step"]) if "newton_step" in st else "&ndash;"
        sing = " <i>(H singular: least-squares step)</i>" if r.extras.get("singular") else ""
        body = (f"(H(x{sub}) + &lambda;I) d{sub} = &nabla;f(x{sub}); "
                f"x<sub>k+1</sub> = x{sub} &minus; c d{sub}<br>"
                f"H = {hs}, d = {d}, x = {x}{sing}")
    return head + body + "</p>"
