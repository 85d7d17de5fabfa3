r"""Neurons labs (book ch. 7, sections 7.2, 7.4, 7.5): threshold units, activations, losses.

* :class:`PerceptronLab` -- the McCulloch-Pitts neuron and the perceptron on logic gates, two
  Gaussian blobs or clicked points.  Each step applies the perceptron rule to ONE sample, in a
  fixed order, so the line can be watched moving point by point.
* :class:`ActivationsLab` -- a gallery of activations (with derivatives from the table and from
  the engine's autodiff), softmax with temperature and its Jacobian, regression and
  classification losses with their gradients, and KL / JS divergences of two Gaussians.

The math lives in :mod:`engine.neurons_math`; these classes hold the state and build snapshots.
"""
from __future__ import annotations

import math
from html import escape

import numpy as np

from engine import data as datasets
from engine import neurons_math as nm
from engine.labs.base import Action, Lab, Param, Snapshot

_GATE_LABEL = {"and": "AND", "or": "OR", "nand": "NAND", "nor": "NOR", "xor": "XOR",
               "xnor": "XNOR", "blobs": "two blobs", "custom": "clicked points"}
_SUB = str.maketrans("0123456789", "\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088"
                     "\u2089")


def _num(v: float) -> str:
    """A number with 3-4 significant digits and a real minus sign."""
    if v == 0:
        v = 0.0  # no "-0"
    return f"{v:.4g}".replace("-", "\u2212")


def _par(v: float) -> str:
    """A factor in a product: negative numbers in parentheses."""
    return f"({_num(v)})" if v < 0 else _num(v)


def _vec(a) -> str:
    return "(" + ", ".join(_num(float(v)) for v in np.ravel(a)) + ")"


def _frozen(a) -> np.ndarray:
    """A read-only float array: snapshots then hand it over as is, without a copy, and the
    panel can tell by identity that a cached curve has not changed."""
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


# ================================================================================================
class PerceptronLab(Lab):
    """The MP neuron and the perceptron learning rule on 2-D points."""

    name = "perceptron"
    chapter = 7
    title = "Perceptron & logic gates"
    section = "7.2 McCulloch-Pitts neuron and perceptron"
    summary = (
        "A single threshold unit splits the plane with one straight line: on one side it "
        "answers 1, on the other 0. The McCulloch-Pitts neuron only adds its 0/1 inputs and "
        "compares the sum with a threshold b, so it cannot learn and cannot say NAND. The "
        "perceptron has weights and learns them one sample at a time: a point on the wrong "
        "side pulls the line toward itself (w gains \u03b7(t \u2212 \u0177)(1, x)); a point "
        "on the right side changes nothing. If some line separates the two classes the "
        "corrections stop after finitely many; for XOR no line exists and the weights go "
        "round in a loop for ever.")
    play_interval = 0.15  # one sample per step: each correction visibly moves the line
    params = (
        Param("mode", "choice", "perceptron", choices=("perceptron", "mp_neuron"),
              label="neuron", group="Neuron", rebuild=True,
              help="perceptron: learns weights w by the perceptron rule. mp_neuron: the "
                   "McCulloch-Pitts unit y = 1[x\u2081 + x\u2082 \u2265 b], no weights and no "
                   "learning; move b."),
        Param("gate", "choice", "and",
              choices=("and", "or", "nand", "nor", "xor", "xnor", "blobs", "custom"),
              label="data", group="Data", rebuild=True,
              help="The four rows of a logic gate, two Gaussian blobs, or points you click "
                   "(custom). XOR and XNOR are not linearly separable."),
        Param("lr", "float", 1.0, 0.01, 1.0, step=0.01, label="learning rate \u03b7",
              symbol="\u03b7", group="Neuron",
              help="\u03b7 in w \u2190 w + \u03b7(t \u2212 \u0177)(1, x). Takes effect at the "
                   "next step."),
        Param("b", "float", 2.0, -1.0, 3.0, step=0.1, label="MP threshold b", symbol="b",
              group="Neuron",
              help="Threshold of the McCulloch-Pitts neuron: it fires when "
                   "x\u2081 + x\u2082 \u2265 b (mp_neuron mode)."),
        Param("max_epochs", "int", 100, 1, 500, label="max epochs", group="Neuron",
              help="Stop after this many passes over the data if no pass is error-free."),
        Param("w0_init", "float", 0.0, -3.0, 3.0, step=0.1, label="start w\u2080",
              symbol="w\u2080", group="Perceptron start", rebuild=True,
              help="Start value of the bias weight w\u2080 = \u2212\u03b8 (restarts the run)."),
        Param("w1_init", "float", 0.0, -3.0, 3.0, step=0.1, label="start w\u2081",
              symbol="w\u2081", group="Perceptron start", rebuild=True,
              help="Start value of the weight w\u2081 of x\u2081 (restarts the run)."),
        Param("w2_init", "float", 0.0, -3.0, 3.0, step=0.1, label="start w\u2082",
              symbol="w\u2082", group="Perceptron start", rebuild=True,
              help="Start value of the weight w\u2082 of x\u2082 (restarts the run)."),
        Param("n_points", "int", 40, 4, 200, label="blob points", group="Data", rebuild=True,
              help="Number of points in the two blobs (half in each class)."),
        Param("spread", "float", 0.15, 0.02, 1.0, step=0.01, label="blob spread \u03c3",
              symbol="\u03c3", group="Data", rebuild=True,
              help="Standard deviation of each blob (centres 1.2 apart). Past about 0.3 the "
                   "blobs overlap and no line separates them."),
        Param("click_class", "choice", "1", choices=("1", "0"), label="click adds class",
              group="Data",
              help="Class t of the points a click adds (custom data)."),
    )
    actions = (
        Action("add_point", "Add point", ("x", "y"),
               "Add a point of class click_class at (x, y) (custom data; click the plane)."),
        Action("clear_points", "Clear points", (), "Remove every clicked point."),
    )

    #: Ties s = 0 count as 1.  Float sums such as 0.1 + 0.2 - 0.3 miss 0 by ~1e-17; the
    #: tolerance makes them ties again, so eta = 0.1 behaves like exact arithmetic.
    TIE_TOL = 1e-9
    GATE_BOX = ((-0.5, 1.5), (-0.5, 1.5))
    WIDE_BOX = (datasets.DOMAIN, datasets.DOMAIN)  # where the project's 2-D data sets live
    REGION_RES = 120

    def __init__(self, seed: int = 0, backend_name: str = "auto", **values):
        self._custom: list[tuple[float, float, int]] = []  # clicked points survive resets
        super().__init__(seed, backend_name, **values)

    # -- building ---------------------------------------------------------------------------------
    def _build(self):
        v = self.values
        gate = v["gate"]
        if gate == "blobs":
            X, self.t = datasets.make_blobs(v["n_points"], centers=2, std=v["spread"],
                                            rng=self.rng)
            self.X = X.astype(np.float64)
        elif gate == "custom":
            pts = np.asarray(self._custom, dtype=np.float64).reshape(-1, 3)
            self.X, self.t = pts[:, :2].copy(), pts[:, 2].astype(np.int64)
        else:
            self.X, self.t = nm.logic_gate(gate)
        self.box = np.asarray(self.GATE_BOX if gate in nm.GATES else self.WIDE_BOX)
        self.w = np.array([v["w0_init"], v["w1_init"], v["w2_init"]], dtype=np.float64)
        self._restart_learning()
        # The shading and the line reach past the box: the aspect-locked plot shows more than
        # the box when the window is not square.
        size = self.box[:, 1] - self.box[:, 0]
        self.view = self.box + np.outer(size, [-0.5, 0.5])
        (x0, x1), (y0, y1) = self.view
        gx, gy = np.linspace(x0, x1, self.REGION_RES), np.linspace(y0, y1, self.REGION_RES)
        gxx, gyy = np.meshgrid(gx, gy)  # rows are y, as a row-major image
        self._grid = np.stack([gxx.ravel(), gyy.ravel()], axis=1)

    def _restart_learning(self):
        """Forget the run's bookkeeping (not the weights): epochs, mistakes, cycle check."""
        self.idx = 0                 # next sample to visit
        self.epoch = 1               # the epoch in progress (1-based)
        self.wrong = 0               # mistakes so far in this epoch
        self.mistakes: list[int] = []
        self.converged_epoch: int | None = None
        self.cycle: tuple[int, int] | None = None
        self._seen = {self.w.tobytes(): 0}  # end-of-epoch weights -> epoch, to spot cycles
        self.visit: dict | None = None
        self.w_trace = [self.w.copy()]

    def _on_param(self, name, old):
        if name == "lr" and hasattr(self, "_seen"):
            # A new step size makes old end-of-epoch weights meaningless for the cycle test.
            self._seen = {}
            self.cycle = None

    # -- stepping ---------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return (self.values["mode"] == "mp_neuron" or len(self.X) == 0
                or self.converged_epoch is not None
                or len(self.mistakes) >= self.values["max_epochs"])

    def _step(self):
        i = self.idx
        w_before = self.w
        self.w, y_hat, s = nm.perceptron_update(self.w, self.X[i], self.t[i],
                                                self.values["lr"], self.TIE_TOL)
        corrected = y_hat != self.t[i]
        self.wrong += int(corrected)
        self.visit = {"index": i, "epoch": self.epoch, "s": s, "y_hat": y_hat,
                      "t": int(self.t[i]), "corrected": bool(corrected), "w_before": w_before,
                      "lr": self.values["lr"]}
        self.w_trace.append(self.w.copy())
        self.idx += 1
        if self.idx < len(self.X):
            return
        # End of an epoch: an error-free pass means converged; a repeated end-of-epoch w
        # means the rule has entered a loop (the data are visited in the same order, so
        # the same w gives the same next epoch for ever).
        self.mistakes.append(self.wrong)
        if self.wrong == 0:
            self.converged_epoch = self.epoch
        else:
            key = self.w.tobytes()
            if self.cycle is None and key in self._seen:
                self.cycle = (self._seen[key], self.epoch - self._seen[key])
            self._seen.setdefault(key, self.epoch)
        self.epoch += 1
        self.idx = 0
        self.wrong = 0

    # -- actions ----------------------------------------------------------------------------------
    def action_add_point(self, x, y, cls=None):
        """Add a point to the custom data; the run continues from the current weights."""
        if self.values["gate"] != "custom":
            raise ValueError("Points can only be added to custom data: set data to custom "
                             "first.")
        try:
            x, y = float(x), float(y)
        except (TypeError, ValueError):
            raise ValueError(f"add_point: x and y must be numbers, got {x!r}, {y!r}") from None
        (x0, x1), (y0, y1) = self.box
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            raise ValueError(f"add_point: ({x:.3g}, {y:.3g}) is outside the plane shown; x must "
                             f"lie in [{x0:g}, {x1:g}] and y in [{y0:g}, {y1:g}]")
        cls = self._params["click_class"].coerce(str(cls) if cls is not None
                                                 else self.values["click_class"])
        self._custom.append((x, y, int(cls)))
        self.X = np.vstack([self.X, [[x, y]]])
        self.t = np.append(self.t, int(cls))
        # New data: start counting epochs afresh, but keep w so the line visibly adapts.
        w = self.w
        self._restart_learning()
        self.w = w

    def action_clear_points(self):
        """Remove every clicked point and restart."""
        self._custom.clear()
        self.reset(self.seed)

    # -- output -----------------------------------------------------------------------------------
    def _line_w(self) -> np.ndarray:
        """The unit's weights: learned ones, or the MP neuron's fixed (-b, 1, 1)."""
        if self.values["mode"] == "mp_neuron":
            return np.array([-self.values["b"], 1.0, 1.0])
        return self.w

    def _predict(self, X) -> np.ndarray:
        if self.values["mode"] == "mp_neuron":
            return nm.mp_neuron(X, self.values["b"]) if len(X) else np.zeros(0, np.int64)
        return (nm.perceptron_predict(self.w, X, self.TIE_TOL) if len(X)
                else np.zeros(0, np.int64))

    def _arrow(self, w, line) -> np.ndarray:
        r"""The normal :math:`(w_1, w_2)`, drawn from the line toward the side where the unit
        says 1, as a polyline (shaft, NaN, head).

        It starts at the foot of the perpendicular from the box centre :math:`c`,
        :math:`c - \frac{w_0 + n\cdot c}{\|n\|^2}\,n` with :math:`n = (w_1, w_2)`, or at the
        middle of the visible segment when that foot lies outside the box.
        """
        n = np.asarray(w[1:], dtype=np.float64)
        nn = float(n @ n)
        if len(line) < 2 or nn == 0:
            return np.zeros((0, 2))
        c = self.box.mean(axis=1)
        base = c - (w[0] + n @ c) / nn * n
        if not np.all((base >= self.box[:, 0]) & (base <= self.box[:, 1])):
            seg = nm.line_in_box(w, self.box)
            base = (seg if len(seg) == 2 else line).mean(axis=0)
        size = 0.16 * float(self.box[0, 1] - self.box[0, 0])
        d = n / math.sqrt(nn)
        tip = base + size * d
        rot = np.array([[math.cos(2.6), -math.sin(2.6)], [math.sin(2.6), math.cos(2.6)]])
        left, right = tip + 0.3 * size * (rot @ d), tip + 0.3 * size * (rot.T @ d)
        return np.array([base, tip, [np.nan, np.nan], left, tip, right])

    def history(self):
        return {"w": np.asarray(self.w_trace).tolist(), "mistakes_per_epoch": self.mistakes,
                "points": [list(p) for p in self._custom]}

    def _status(self) -> tuple[str, str]:
        """(state, sentence) describing where the run stands."""
        v = self.values
        gate = v["gate"]
        name = _GATE_LABEL[gate]
        if len(self.X) == 0:
            return "empty", ("No points yet: click the plane to add some (choose the class in "
                             "\u2018click adds class\u2019).")
        if v["mode"] == "mp_neuron":
            if gate in nm.GATES:
                iv = nm.mp_threshold_interval(self.X, self.t)
                if iv is None:
                    why = ("its inputs can only push toward firing, so it cannot say NAND or NOR"
                           if gate in ("nand", "nor", "xnor") else
                           "no threshold on x\u2081 + x\u2082 splits these rows")
                    return "impossible", (f"No threshold b makes the MP neuron compute "
                                          f"{name}: {why}.")
                lo, hi = iv
                ok = lo < v["b"] <= hi
                rng = f"{_num(lo)} < b \u2264 {_num(hi)}"
                return ("ok" if ok else "wrong"), (
                    f"b = {_num(v['b'])} {'computes' if ok else 'does not compute'} {name}; "
                    f"the thresholds that work are {rng}.")
            right = int((self._predict(self.X) == self.t).sum())
            return "mp", f"MP neuron with b = {_num(v['b'])}: {right}/{len(self.X)} points right."
        if self.converged_epoch is not None:
            return "converged", (f"Converged at epoch {self.converged_epoch}: a full pass "
                                 f"without a mistake; w = {_vec(self.w)}.")
        not_sep = gate in ("xor", "xnor")
        if self.cycle is not None:
            first, period = self.cycle
            end = first + period
            what = f" ({name} is not linearly separable)" if not_sep else ""
            return "cycling", (
                f"Cycling \u2014 no separating line exists{what}: w after epoch {end} equals w "
                f"after epoch {first}, so the same {period}-epoch loop repeats for ever.")
        if len(self.mistakes) >= v["max_epochs"]:
            return "stopped", (f"No error-free epoch in {len(self.mistakes)} epochs: the points "
                               "are probably not linearly separable.")
        return "running", (f"Epoch {self.epoch}: {self.idx} of {len(self.X)} samples "
                           f"visited, {self.wrong} mistake(s) so far.")

    def _snapshot(self) -> Snapshot:
        v = self.values
        X, t = self.X, self.t
        w = self._line_w()
        pred = self._predict(X)
        line = nm.line_in_box(w, self.view)
        region = (self._grid @ w[1:] + w[0] >= -self.TIE_TOL).astype(np.float64)
        s = (X @ w[1:] + w[0]) if len(X) else np.zeros(0)
        state, status = self._status()
        perceptron = v["mode"] == "perceptron"
        data = {
            "mode": v["mode"], "gate": v["gate"], "gate_label": _GATE_LABEL[v["gate"]],
            "box": self.box, "view": self.view, "points": X, "labels": t, "predictions": pred,
            "correct": pred == t, "w": w, "line": line, "arrow": self._arrow(w, line),
            "region": region.reshape(self.REGION_RES, self.REGION_RES),
            "s": s, "state": state, "click_class": int(v["click_class"]),
            "custom": v["gate"] == "custom", "truth_table": v["gate"] in nm.GATES,
            "mistakes": np.asarray(self.mistakes, dtype=np.float64),
            "epochs": np.arange(1, len(self.mistakes) + 1, dtype=np.float64),
            # The epoch in progress, (epoch, mistakes so far); empty between epochs.
            "current": (np.array([[self.epoch, self.wrong]], dtype=np.float64)
                        if perceptron and self.idx > 0 else np.zeros((0, 2))),
            "visited": -1, "corrected": False, "prev_line": np.zeros((0, 2)),
        }
        if perceptron and self.visit is not None and self.visit["index"] < len(X):
            data["visited"] = self.visit["index"]
            data["corrected"] = self.visit["corrected"]
            if self.visit["corrected"]:
                data["prev_line"] = nm.line_in_box(self.visit["w_before"], self.view)
        if not perceptron:
            # How many rows each threshold gets right: the interval that works, at a glance.
            bs = np.linspace(self._params["b"].low, self._params["b"].high, 401)
            sums = X.sum(axis=1) if len(X) else np.zeros(0)
            right = ((sums[None, :] >= bs[:, None]) == (t[None, :] == 1)).sum(axis=1)
            data["b_grid"], data["b_right"] = bs, right.astype(np.float64)
            data["b"] = v["b"]
        wrong = int((pred != t).sum())
        scalars = {"loss": float(wrong), "misclassified": float(wrong),
                   "epoch": float(self.epoch if perceptron else 0),
                   "w0": float(w[0]), "w1": float(w[1]), "w2": float(w[2])}
        if len(t):  # no accuracy of an empty set (and no NaN in metrics files)
            scalars["accuracy"] = float((pred == t).mean())
        text = {"equation": self._equation_html(w), "rules": self._rules_html(status),
                "summary": self.summary, "status": status}
        return Snapshot.make(self.name, self.step_count, scalars, data, text)

    def _equation_html(self, w) -> str:
        v = self.values
        if v["mode"] == "mp_neuron":
            return ("<p><b>McCulloch-Pitts neuron</b><br>"
                    "y = 1[x<sub>1</sub> + x<sub>2</sub> &ge; b] &nbsp; (inputs 0/1, all "
                    f"weights fixed at 1)<br>b = {_num(v['b'])}: fires on the side "
                    f"x<sub>1</sub> + x<sub>2</sub> &ge; {_num(v['b'])} of the line.</p>")
        return ("<p><b>Perceptron</b><br>"
                "s = w<sub>0</sub> + w<sub>1</sub>x<sub>1</sub> + w<sub>2</sub>x<sub>2</sub>, "
                "&nbsp; ŷ = 1[s &ge; 0], &nbsp; w<sub>0</sub> = &minus;&theta;<br>"
                "after each sample: w &larr; w + &eta;(t &minus; ŷ)(1, x<sub>1</sub>, "
                f"x<sub>2</sub>)<br>w = {_vec(w)}, &eta; = {_num(v['lr'])}<br>"
                "line: s = 0; the arrow (w<sub>1</sub>, w<sub>2</sub>) points to the side "
                "where ŷ = 1.</p>")

    def _rules_html(self, status: str) -> str:
        v = self.values
        parts = [f"<p><i>{escape(status)}</i></p>"]
        if v["mode"] == "perceptron" and self.visit is not None:
            vi = self.visit
            if vi["index"] < len(self.X):
                x = self.X[vi["index"]]
                wb = vi["w_before"]
                head = (f"<p>Last step: epoch {vi['epoch']}, sample {vi['index'] + 1}, "
                        f"x = {_vec(x)}, t = {vi['t']}<br>"
                        f"s = {_num(wb[0])} + {_par(wb[1])}&middot;{_par(x[0])} + "
                        f"{_par(wb[2])}&middot;{_par(x[1])} = {_num(vi['s'])} &rArr; "
                        f"ŷ = {vi['y_hat']}")
                if vi["corrected"]:
                    sign = "+" if vi["t"] > vi["y_hat"] else "&minus;"
                    parts.append(head + f" &#10007; wrong<br>w &larr; {_vec(wb)} {sign} "
                                 f"{_num(vi['lr'])}&middot;(1, {_num(x[0])}, {_num(x[1])}) = "
                                 f"{_vec(self.w)}</p>")
                else:
                    parts.append(head + " &#10003; right, w unchanged</p>")
        if self.mistakes:
            parts.append("<p>Mistakes per epoch: " + ", ".join(map(str, self.mistakes[-12:]))
                         + (" &hellip;" if len(self.mistakes) > 12 else "") + "</p>")
        return "".join(parts)


# ================================================================================================
_SLOPE_HELP = ("\u03b1: the slope for x < 0 of leaky ReLU and PReLU, the scale of ELU's "
               "\u03b1(e\u02e3 \u2212 1). Picking one of these activations loads its usual "
               "value (0.01, 0.25, 1).")
_LOGIT_DEFAULTS = (1.0, 2.0, 3.0, 0.5, -1.0, 0.0)
_REG_LOSSES = ("mae", "mse", "rmse", "huber")
_LOSS_LABEL = {"mae": "MAE", "mse": "MSE", "rmse": "RMSE", "huber": "Huber", "bce": "BCE",
               "cce": "cross-entropy", "kl": "KL(p\u2016q)", "js": "JS(p, q)"}
_ACT_LABEL = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "leaky ReLU",
              "prelu": "PReLU", "elu": "ELU", "softmax": "softmax s\u2081"}
#: The example batch of the spec (7.5): y = [1, 2, 3, 4], y-hat = [1.5, 2, 2, 7].
EXAMPLE_Y = np.array([1.0, 2.0, 3.0, 4.0])
EXAMPLE_YHAT = np.array([1.5, 2.0, 2.0, 7.0])


class ActivationsLab(Lab):
    """Activation, softmax, loss and divergence gallery (no training: a probe sweeps x)."""

    name = "activations"
    chapter = 7
    title = "Activation & loss gallery"
    section = "7.4 Activation functions, 7.5 Loss functions"
    summary = (
        "An activation bends a neuron's sum; its slope f\u2032 is what back-propagation "
        "multiplies by, so where f\u2032 is nearly 0 (shaded) learning stalls. Solid f\u2032 is "
        "the formula, dots are the engine's autodiff: they agree except exactly at a kink. "
        "Softmax turns scores into probabilities; the temperature T sharpens or flattens them, "
        "and its Jacobian diag(s) \u2212 ss\u1d40 (over T) couples every output to every input. "
        "A loss scores a prediction, and its slope is the push training receives: MSE pushes in "
        "proportion to the error, MAE always equally hard, Huber like MSE near 0 and like MAE "
        "far out. KL between two distributions is lopsided and unbounded; JS is symmetric and "
        "never exceeds ln 2. Play moves a probe whose tangent has slope f\u2032.")
    params = (
        Param("activation", "choice", "sigmoid", choices=nm.ACTIVATIONS, group="Activation",
              help="The activation f drawn with its derivative f\u2032. softmax: the "
                   "probability s\u2081 as logit z\u2081 varies, the other logits fixed."),
        Param("alpha", "float", 0.25, 0.0, 2.0, step=0.01, label="slope \u03b1",
              symbol="\u03b1", group="Activation", help=_SLOPE_HELP),
        Param("x_max", "float", 6.0, 1.0, 20.0, step=0.5, label="x range \u00b1",
              group="Activation",
              help="Half-width of the x axis of the activation and loss plots."),
        Param("overlay", "bool", False, label="compare all", group="Activation",
              help="Also draw the other activations (and the other regression losses) "
                   "faintly."),
        Param("K", "int", 3, 2, 6, label="logits K", symbol="K", group="Softmax",
              help="Number of classes (logits z\u2081 \u2026 z_K) fed to softmax."),
        Param("T", "float", 1.0, 0.05, 20.0, log=True, label="temperature T", symbol="T",
              group="Softmax",
              help="Softmax temperature: s = softmax(z / T). Small T sharpens toward the "
                   "largest logit; large T flattens toward uniform."),
        *(Param(f"z{k + 1}", "float", _LOGIT_DEFAULTS[k], -5.0, 5.0, step=0.1,
                label=f"logit z{k + 1}".translate(_SUB), symbol=f"z{k + 1}".translate(_SUB),
                group="Softmax",
                help=f"Logit {f'z{k + 1}'.translate(_SUB)} (used when K \u2265 {k + 1}).")
          for k in range(6)),
        Param("loss", "choice", "huber", choices=nm.LOSSES, group="Loss",
              help="mae/mse/rmse/huber: loss of the example batch as the first residual "
                   "r\u2081 varies. bce: \u2212log p and \u2212log(1 \u2212 p). cce: "
                   "\u2212log s\u2081 against logit z\u2081. kl/js: divergence of the two "
                   "Gaussians as \u03bc_q moves."),
        Param("eps", "float", 1.0, 0.05, 10.0, log=True, label="Huber \u03b5",
              symbol="\u03b5", group="Loss",
              help="Huber switches from \u00bdr\u00b2 to \u03b5|r| \u2212 \u00bd\u03b5\u00b2 at "
                   "|r| = \u03b5; its slope is clip(r, \u2212\u03b5, \u03b5)."),
        Param("mu_p", "float", 0.0, -5.0, 5.0, step=0.1, label="\u03bc_p", symbol="\u03bc_p",
              group="Divergence", help="Mean of the Gaussian p."),
        Param("sigma_p", "float", 1.0, 0.2, 3.0, step=0.05, label="\u03c3_p",
              symbol="\u03c3_p", group="Divergence", help="Standard deviation of p."),
        Param("mu_q", "float", 2.0, -5.0, 5.0, step=0.1, label="\u03bc_q", symbol="\u03bc_q",
              group="Divergence", help="Mean of the Gaussian q."),
        Param("sigma_q", "float", 1.0, 0.2, 3.0, step=0.05, label="\u03c3_q",
              symbol="\u03c3_q", group="Divergence", help="Standard deviation of q."),
    )

    #: Steps for the probe to cross the x axis once (then it comes back).
    SWEEP = 240
    N_X = 400           # even: the grid never hits x = 0 exactly, where ReLU has its kink
    N_DIV = 800

    # -- params -----------------------------------------------------------------------------------
    def _on_param(self, name, old):
        v = self.values
        if name == "activation" and v["activation"] != old and v["activation"] in \
                nm._ALPHA_DEFAULT:
            v["alpha"] = nm._ALPHA_DEFAULT[v["activation"]]
        if hasattr(self, "_cache"):
            self._refresh()

    def _build(self):
        self._cache: dict = {}
        self._refresh()

    def _cached(self, key, make):
        """Recompute a section only when the params it reads have changed."""
        hit = self._cache.get(make.__name__)
        if hit is None or hit[0] != key:
            self._cache[make.__name__] = (key, make())
        return self._cache[make.__name__][1]

    def _refresh(self):
        v = self.values
        logits = tuple(v[f"z{k + 1}"] for k in range(v["K"]))
        self.act = self._cached((v["activation"], v["alpha"], v["x_max"], v["overlay"],
                                 logits, v["T"]), self._activation_section)
        self.smx = self._cached((logits, v["T"]), self._softmax_section)
        key = (v["loss"], v["eps"], v["x_max"], v["overlay"])
        if v["loss"] == "cce":
            key += (logits, v["T"])
        if v["loss"] in ("kl", "js"):
            key += (v["mu_p"], v["sigma_p"], v["sigma_q"])
        self.lossd = self._cached(key, self._loss_section)
        self.div = self._cached((v["mu_p"], v["sigma_p"], v["mu_q"], v["sigma_q"]),
                                self._divergence_section)

    def _logits(self) -> np.ndarray:
        return np.array([self.values[f"z{k + 1}"] for k in range(self.values["K"])])

    # -- sections ---------------------------------------------------------------------------------
    def _activation_section(self) -> dict:
        v = self.values
        name = v["activation"]
        x = np.linspace(-v["x_max"], v["x_max"], self.N_X)
        out: dict = {"name": name, "label": _ACT_LABEL[name]}
        if name == "softmax":
            z = self._logits()
            sl = nm.softmax_slice(x, z[1:], v["T"])
            f, df, df_auto = sl["s1"], sl["ds1"], sl["ds1_auto"]
            h = 1e-5
            fd = (nm.softmax_slice(x + h, z[1:], v["T"])["s1"]
                  - nm.softmax_slice(x - h, z[1:], v["T"])["s1"]) / (2 * h)
            dparam = dparam_auto = None
            out["xlabel"] = "logit z\u2081 (others fixed)"
        else:
            p = {"alpha": v["alpha"]} if name in nm._ALPHA_DEFAULT else {}
            act = nm.get_activation(name, **p)
            f, df = act.f(x), act.df(x)
            df_auto, dparam_auto = nm.autodiff_derivative(name, x, **p)
            dparam = act.dparam(x) if act.dparam is not None else None
            h = 1e-6
            fd = (act.f(x + h) - act.f(x - h)) / (2 * h)
            out["xlabel"] = "x"
        # Finite differences straddle a kink at the two grid points next to it; judge the
        # formula away from kinks (where f' jumps), and autodiff everywhere on the grid.
        smooth = np.abs(np.gradient(df, x)) * (x[1] - x[0]) < 0.1
        out.update(x=x, f=f, df=df, df_auto=df_auto,
                   dparam=np.zeros(0) if dparam is None else dparam,
                   dparam_auto=np.zeros(0) if dparam_auto is None else dparam_auto,
                   bands=nm.saturation_intervals(x, df, 0.05),
                   err_auto=float(np.max(np.abs(df - df_auto))),
                   err_fd=float(np.max(np.abs(df - fd)[smooth])) if smooth.any() else 0.0,
                   df_max=float(np.max(np.abs(df))))
        if v["overlay"] and name != "softmax":  # softmax's slice is not comparable to them
            others = {}
            for other in nm.ACTIVATIONS[:-1]:
                if other != name:
                    p = ({"alpha": nm._ALPHA_DEFAULT[other]} if other in nm._ALPHA_DEFAULT
                         else {})
                    others[_ACT_LABEL[other]] = _frozen(nm.get_activation(other, **p).f(x))
            out["overlay"] = others
        else:
            out["overlay"] = {}
        # One y range for the curves, with room for the saturation band and legend.
        lo = min(float(f.min()), float(df.min()), 0.0)
        hi = max(float(f.max()), float(df.max()), 1.0)
        out["yrange"] = (lo - 0.08 * (hi - lo), hi + 0.3 * (hi - lo))
        return _freeze_arrays(out)

    def _softmax_section(self) -> dict:
        v = self.values
        z = self._logits()
        s = nm.softmax(z, T=v["T"])
        J = nm.softmax_jacobian(s, T=v["T"])
        J_auto = nm.autodiff_softmax_jacobian(z, T=v["T"])
        return _freeze_arrays({"z": z, "s": s, "J": J, "J_auto": J_auto,
                               "err": float(np.max(np.abs(J - J_auto))),
                               "s_T1": nm.softmax(z)})

    def _loss_section(self) -> dict:
        v = self.values
        name, xm = v["loss"], v["x_max"]
        out: dict = {"name": name, "label": _LOSS_LABEL[name], "ceiling": math.nan,
                     "series": {}, "overlay": {}}
        if name in _REG_LOSSES:
            r = np.linspace(-xm, xm, self.N_X + 1)
            rest = (EXAMPLE_YHAT - EXAMPLE_Y)[1:]
            yhat = EXAMPLE_Y + np.concatenate([r[:, None], np.broadcast_to(rest, (len(r), 3))],
                                              axis=1)
            y = np.broadcast_to(EXAMPLE_Y, yhat.shape)

            def batch_loss(n):
                if n == "rmse":
                    return nm.rmse(yhat, y, axis=1)
                if n == "huber":
                    return nm.huber(yhat, y, v["eps"], reduction="none").mean(axis=1)
                return getattr(nm, n)(yhat, y, reduction="none").mean(axis=1)

            L = batch_loss(name)
            dL = nm.loss_grad(name, yhat, y, eps=v["eps"])[:, 0]
            dL_auto = nm.autodiff_loss_grad(name, yhat, y, eps=v["eps"])[:, 0]
            out.update(x=r, xlabel="residual r\u2081 = \u0177\u2081 \u2212 y\u2081",
                       ylabel="batch loss L, slope dL/dr\u2081")
            out["series"] = {"L": (f"{_LOSS_LABEL[name]} L(r\u2081)", L),
                             "dL": ("dL/dr\u2081", dL)}
            out["check"] = ("autodiff dL/dr\u2081", dL_auto)
            if v["overlay"]:
                out["overlay"] = {_LOSS_LABEL[n]: batch_loss(n) for n in _REG_LOSSES
                                  if n != name}
            # The spec's batch itself sits at r1 = 0.5.
            out["example"] = {n: float(batch_loss_at(n, v["eps"])) for n in _REG_LOSSES}
        elif name == "bce":
            p = np.linspace(0.01, 0.99, self.N_X)
            ones, zeros = np.ones_like(p)[:, None], np.zeros_like(p)[:, None]
            out.update(x=p, xlabel="predicted probability p", ylabel="loss, slope dL/dp")
            out["series"] = {
                "L": ("\u2212log p  (y = 1)", nm.bce(p, np.ones_like(p), reduction="none")),
                "L2": ("\u2212log(1 \u2212 p)  (y = 0)",
                       nm.bce(p, np.zeros_like(p), reduction="none")),
                "dL": ("dL/dp  (y = 1)", nm.loss_grad("bce", p[:, None], ones)[:, 0]),
                "dL2": ("dL/dp  (y = 0)", nm.loss_grad("bce", p[:, None], zeros)[:, 0])}
            out["check"] = ("autodiff dL/dp", np.concatenate([
                nm.autodiff_loss_grad("bce", p[:, None], ones)[:, 0],
                nm.autodiff_loss_grad("bce", p[:, None], zeros)[:, 0]]))
            out["check_x"] = np.concatenate([p, p])
            out["yrange"] = (-8.0, 8.0)
        elif name == "cce":
            z1 = np.linspace(-xm, xm, self.N_X)
            sl = nm.softmax_slice(z1, self._logits()[1:], v["T"])
            out.update(x=z1, xlabel="logit z\u2081 of the true class",
                       ylabel="loss, slope dL/dz\u2081")
            out["series"] = {"L": ("\u2212log s\u2081", sl["ce"]),
                             "dL": ("dL/dz\u2081 = (s\u2081 \u2212 1)/T", sl["dce"])}
            out["check"] = ("autodiff dL/dz\u2081", sl["dce_auto"])
        else:
            mu = np.linspace(-xm, xm, 241)
            xs = self._integration_grid(mu.min(), mu.max())
            which = "kl" if name == "kl" else "js"
            val, dval = nm.divergence_vs_shift(xs, v["mu_p"], v["sigma_p"], mu, v["sigma_q"],
                                               which)
            out.update(x=mu, xlabel="mean \u03bc_q of q",
                       ylabel="divergence, slope d/d\u03bc_q")
            if name == "kl":
                closed = nm.gaussian_kl(v["mu_p"], v["sigma_p"], mu, v["sigma_q"])
                out["series"] = {"L": ("KL(p\u2016q)", val),
                                 "L2": ("closed form", closed),
                                 "dL": ("d KL/d\u03bc_q (autodiff)", dval)}
                out["check"] = ("(\u03bc_q \u2212 \u03bc_p)/\u03c3_q\u00b2",
                                (mu - v["mu_p"]) / v["sigma_q"] ** 2)
            else:
                out["series"] = {"L": ("JS(p, q)", val),
                                 "dL": ("d JS/d\u03bc_q (autodiff)", dval)}
                out["check"] = ("finite differences", np.gradient(val, mu))
                out["ceiling"] = math.log(2.0)
        if "yrange" not in out:
            ys = [s[1] for s in out["series"].values()]
            lo = min(min(float(np.nanmin(a)) for a in ys), 0.0)
            hi = max(float(np.nanmax(a)) for a in ys)
            if not math.isnan(out["ceiling"]):
                hi = max(hi, out["ceiling"])
            out["yrange"] = (lo - 0.06 * (hi - lo), hi + 0.2 * (hi - lo))
        # The check series: one curve per slope curve, laid end to end (BCE has two).
        slopes = np.concatenate([out["series"][k][1] for k in ("dL", "dL2")
                                 if k in out["series"]])
        out["err"] = float(np.nanmax(np.abs(slopes - out["check"][1])))
        return _freeze_arrays(out)

    def _integration_grid(self, mu_lo: float, mu_hi: float) -> np.ndarray:
        v = self.values
        lo = min(v["mu_p"] - 8 * v["sigma_p"], mu_lo - 8 * v["sigma_q"])
        hi = max(v["mu_p"] + 8 * v["sigma_p"], mu_hi + 8 * v["sigma_q"])
        # Enough points for ~8 per standard deviation of the narrower Gaussian.
        n = int(min(6000, max(1200, 8 * (hi - lo) / min(v["sigma_p"], v["sigma_q"]))))
        return np.linspace(lo, hi, n)

    def _divergence_section(self) -> dict:
        v = self.values
        xs = self._integration_grid(v["mu_q"], v["mu_q"])
        d = nm.gaussian_divergences(xs, v["mu_p"], v["sigma_p"], v["mu_q"], v["sigma_q"])
        # Plot only where something is visible: both densities within 5 sigma.
        lo = min(v["mu_p"] - 5 * v["sigma_p"], v["mu_q"] - 5 * v["sigma_q"])
        hi = max(v["mu_p"] + 5 * v["sigma_p"], v["mu_q"] + 5 * v["sigma_q"])
        keep = (xs >= lo) & (xs <= hi)
        step = max(1, int(keep.sum()) // self.N_DIV)
        sel = np.flatnonzero(keep)[::step]
        out = {k: d[k][sel] for k in ("p", "q", "kl_pq", "kl_qp", "js")}
        out.update(x=xs[sel], KL_pq=d["KL_pq"], KL_qp=d["KL_qp"], JS=d["JS"],
                   KL_pq_closed=float(nm.gaussian_kl(v["mu_p"], v["sigma_p"], v["mu_q"],
                                                     v["sigma_q"])),
                   KL_qp_closed=float(nm.gaussian_kl(v["mu_q"], v["sigma_q"], v["mu_p"],
                                                     v["sigma_p"])),
                   values=np.array([d["KL_pq"], d["KL_qp"], d["JS"]]),
                   ln2=math.log(2.0))
        return _freeze_arrays(out)

    # -- running ----------------------------------------------------------------------------------
    def _step(self):
        """Nothing to train: a step only moves the probe (read from ``step_count``)."""

    def probe_fraction(self) -> float:
        """Where the probe is along the x axis, in [0, 1] (a triangle wave over steps)."""
        k = self.step_count % (2 * self.SWEEP)
        return (k if k <= self.SWEEP else 2 * self.SWEEP - k) / self.SWEEP

    def _probe(self, x, y, dy) -> dict:
        """The probe point on a curve and its tangent segment (slope = the derivative)."""
        u = self.probe_fraction()
        i = round(u * (len(x) - 1))
        px, py, slope = float(x[i]), float(y[i]), float(dy[i])
        half = 0.12 * float(x[-1] - x[0])
        tangent = np.array([[px - half, py - slope * half], [px + half, py + slope * half]])
        return {"x": px, "y": py, "slope": slope, "dy": slope, "tangent": tangent}

    def history(self):
        return {}

    def _snapshot(self) -> Snapshot:
        a, lo = self.act, self.lossd
        probe_act = self._probe(a["x"], a["f"], a["df"])
        L = lo["series"]["L"][1]
        dL = lo["series"]["dL"][1]
        probe_loss = self._probe(lo["x"], L, dL)
        data = {"act": a, "softmax": self.smx, "loss": lo, "div": self.div,
                "probe_act": probe_act, "probe_loss": probe_loss}
        scalars = {"probe_x": probe_act["x"], "f": probe_act["y"], "df": probe_act["slope"],
                   "loss": probe_loss["y"], "KL_pq": self.div["KL_pq"],
                   "KL_qp": self.div["KL_qp"], "JS": self.div["JS"]}
        text = {"equation": self._equation_html(probe_act),
                "rules": self._loss_html(probe_loss), "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text)

    # -- math text --------------------------------------------------------------------------------
    def _equation_html(self, pr) -> str:
        v, a = self.values, self.act
        name, al = v["activation"], _num(v["alpha"])
        forms = {
            "sigmoid": ("&sigma;(x) = 1 / (1 + e<sup>&minus;x</sup>)",
                        "&sigma;&prime;(x) = &sigma;(x)(1 &minus; &sigma;(x)) &le; 0.25"),
            "tanh": (("tanh x = (e<sup>x</sup> &minus; e<sup>&minus;x</sup>) / (e<sup>x</sup> + "
                      "e<sup>&minus;x</sup>)"), "tanh&prime;x = 1 &minus; tanh<sup>2</sup>x"),
            "relu": ("ReLU(x) = max(0, x)", "f&prime;(x) = 1 for x &ge; 0, else 0"),
            "leaky_relu": (f"f(x) = x for x &ge; 0, else &alpha;x &nbsp; (&alpha; = {al})",
                           f"f&prime;(x) = 1 for x &ge; 0, else &alpha; = {al}"),
            "prelu": (f"f(x) = x for x &ge; 0, else &alpha;x &nbsp; (&alpha; = {al}, learned)",
                      ("f&prime;(x) = 1 or &alpha;; &part;f/&part;&alpha; = x for x &lt; 0, "
                       "else 0")),
            "elu": ((f"f(x) = x for x &ge; 0, else &alpha;(e<sup>x</sup> &minus; 1) &nbsp; "
                     f"(&alpha; = {al})"),
                    ("f&prime;(x) = 1 for x &ge; 0, else f(x) + &alpha; "
                     "= &alpha;e<sup>x</sup>")),
            "softmax": ((f"s<sub>1</sub> = e<sup>z<sub>1</sub>/T</sup> / &sum;<sub>k</sub> "
                         f"e<sup>z<sub>k</sub>/T</sup> &nbsp; (T = {_num(v['T'])})"),
                        ("&part;s<sub>1</sub>/&part;z<sub>1</sub> = s<sub>1</sub>(1 &minus; "
                         "s<sub>1</sub>)/T")),
        }
        f_txt, df_txt = forms[name]
        s = self.smx
        K = len(s["s"])
        jac = ("J<sub>ij</sub> = &part;s<sub>i</sub>/&part;z<sub>j</sub> = s<sub>i</sub>"
               "(&delta;<sub>ij</sub> &minus; s<sub>j</sub>)/T, every row sums to 0")
        bands = a["bands"]
        band_txt = ("none on this range" if len(bands) == 0 else
                    ", ".join(f"[{_num(b0)}, {_num(b1)}]" for b0, b1 in bands))
        return (f"<p><b>{_ACT_LABEL[name]}</b><br>{f_txt}<br>{df_txt}<br>"
                f"probe: x = {_num(pr['x'])}, f = {_num(pr['y'])}, f&prime; = "
                f"{_num(pr['slope'])}<br>"
                f"saturated (|f&prime;| &lt; 5% of its max {_num(a['df_max'])}): {band_txt}<br>"
                f"max |formula &minus; autodiff| = {a['err_auto']:.1e}, "
                f"|formula &minus; finite diff.| = {a['err_fd']:.1e}</p>"
                f"<p><b>Softmax</b> (K = {K}, T = {_num(v['T'])})<br>"
                f"z = {_vec(s['z'])}<br>s = {_vec(s['s'])}<br>{jac}<br>"
                f"max |J &minus; J<sub>autodiff</sub>| = {s['err']:.1e}</p>")

    def _loss_html(self, pr) -> str:
        v, lo, d = self.values, self.lossd, self.div
        name = v["loss"]
        eps = _num(v["eps"])
        forms = {
            "mae": "MAE = (1/N) &sum; |r<sub>i</sub>|, &nbsp; dL/dr<sub>i</sub> = "
                   "sign(r<sub>i</sub>)/N",
            "mse": "MSE = (1/N) &sum; r<sub>i</sub><sup>2</sup>, &nbsp; dL/dr<sub>i</sub> = "
                   "2r<sub>i</sub>/N",
            "rmse": "RMSE = &radic;MSE, &nbsp; dL/dr<sub>i</sub> = r<sub>i</sub> / (N RMSE)",
            "huber": f"Huber: &frac12;r<sup>2</sup> if |r| &le; &epsilon;, else &epsilon;|r| "
                     f"&minus; &frac12;&epsilon;<sup>2</sup> (&epsilon; = {eps}); slope "
                     f"clip(r, &minus;&epsilon;, &epsilon;)/N",
            "bce": "BCE = &minus;[y log p + (1 &minus; y) log(1 &minus; p)], &nbsp; dL/dp = "
                   "(p &minus; y) / (p(1 &minus; p))",
            "cce": "CE = &minus;&sum;<sub>k</sub> y<sub>k</sub> log s<sub>k</sub> = &minus;log "
                   "s<sub>1</sub> for true class 1; dL/dz<sub>1</sub> = (s<sub>1</sub> "
                   "&minus; 1)/T",
            "kl": "KL(p&#8214;q) = &int; p log(p/q) dx; for Gaussians log(&sigma;<sub>q</sub>/"
                  "&sigma;<sub>p</sub>) + (&sigma;<sub>p</sub><sup>2</sup> + (&mu;<sub>p</sub> "
                  "&minus; &mu;<sub>q</sub>)<sup>2</sup>)/(2&sigma;<sub>q</sub><sup>2</sup>) "
                  "&minus; &frac12;",
            "js": "JS = &frac12;KL(p&#8214;m) + &frac12;KL(q&#8214;m), m = (p + q)/2; "
                  "0 &le; JS &le; ln 2",
        }
        parts = [(f"<p><b>Loss: {_LOSS_LABEL[name]}</b><br>{forms[name]}<br>"
                  f"probe: {_num(pr['x'])} &rarr; L = {_num(pr['y'])}, slope "
                  f"{_num(pr['slope'])}<br>max |slope &minus; {lo['check'][0]}| = "
                  f"{lo['err']:.1e}</p>")]
        if name in _REG_LOSSES:
            ex = lo["example"]
            parts.append("<p>Example batch y = (1, 2, 3, 4), ŷ = (1.5, 2, 2, 7), so "
                         "r = (0.5, 0, &minus;1, 3): "
                         f"MAE {_num(ex['mae'])}, MSE {_num(ex['mse'])}, RMSE "
                         f"{_num(ex['rmse'])}, Huber(&epsilon; = {eps}) {_num(ex['huber'])}. "
                         "The plot moves r<sub>1</sub> and keeps the others.</p>")
        parts.append(
            f"<p><b>Divergences</b> of p = N({_num(v['mu_p'])}, {_num(v['sigma_p'])}"
            f"<sup>2</sup>) and q = N({_num(v['mu_q'])}, {_num(v['sigma_q'])}<sup>2</sup>)<br>"
            f"KL(p&#8214;q) = {_num(d['KL_pq'])} (closed form {_num(d['KL_pq_closed'])}), "
            f"KL(q&#8214;p) = {_num(d['KL_qp'])} (closed form {_num(d['KL_qp_closed'])})<br>"
            f"JS = {_num(d['JS'])} &le; ln 2 = {_num(d['ln2'])}</p>")
        return "".join(parts)


def batch_loss_at(name: str, eps: float) -> float:
    """A regression loss of the spec's example batch (MAE 1.125, MSE 2.5625, ...)."""
    if name == "rmse":
        return float(nm.rmse(EXAMPLE_YHAT, EXAMPLE_Y))
    if name == "huber":
        return float(nm.huber(EXAMPLE_YHAT, EXAMPLE_Y, eps))
    return float(getattr(nm, name)(EXAMPLE_YHAT, EXAMPLE_Y))


def _freeze_arrays(d):
    """Make every array in a (nested) section read-only, so snapshots share, not copy, them."""
    if isinstance(d, dict):
        return {k: _freeze_arrays(v) for k, v in d.items()}
    if isinstance(d, tuple):
        return tuple(_freeze_arrays(v) for v in d)
    if isinstance(d, np.ndarray):
        return _frozen(d) if d.flags.writeable else d
    return d
