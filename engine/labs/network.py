r"""Network lab (book ch. 7): a multilayer perceptron trained live on 2-D data.

TensorFlow Playground's ground, with what its users asked for: any depth (0-8 hidden layers) and
width (1-32), an activation per layer, multi-class softmax with cross-entropy, binary sigmoid
with BCE, regression with MSE, initialisation schemes, every optimizer of :mod:`engine.optim`,
dropout, clicked or CSV points, hand-edited weights, and models saved (safetensors) and
exported (ONNX).

One step is one mini-batch update:

.. math:: \theta \leftarrow \theta - \eta\, \mathrm{opt}\big(\nabla_\theta
          \tfrac1B \textstyle\sum_{i \in \text{batch}} \ell(f_\theta(x_i), y_i)\big)

Every ``EVAL_EVERY`` steps the full train and test sets are scored, and the per-layer gradient
norms :math:`\|\partial J/\partial W^{[l]}\|` of that step are kept (vanishing gradients show as
the first layers' norms falling by decades).  Snapshots evaluate the net on a grid over the
plane: the output (decision boundary) and every hidden unit's activation (the thumbnails).
"""
from __future__ import annotations

import math

import numpy as np

from engine import optim
from engine.autodiff import Tensor, no_grad
from engine.data import (
    DOMAIN,
    EpochSampler,
    load_points_csv,
    make_classification,
    make_surface_2d,
    n_classes,
    train_test_split,
)
from engine.io.model_file import ModelFileError, read_model, save_model
from engine.io.onnx_export import export_onnx
from engine.labs.base import Action, Lab, Param, Snapshot
from engine.nn import MLP
from engine.nn import functional as F
from engine.nn.init import SCHEMES
from engine.nn.mlp import ACTIVATIONS

DATASETS = ("spiral", "spiral3", "xor", "circles", "moons", "blobs", "checkerboard",
            "clicked", "surface")
REGRESSION = ("surface",)
LOSSES = ("auto", "cross_entropy", "bce", "mse")
OPTIMIZERS = ("adam", "sgd", "momentum", "rmsprop", "adagrad")
MAX_HIDDEN = 8
MAX_WIDTH = 32
MAX_CLASSES = 5
EVAL_EVERY = 10
GRID = 80        # decision-boundary resolution (GRID x GRID points)
THUMB = 28       # per-neuron thumbnail resolution
HIST_BINS = 30


def parse_layers(text: str) -> str:
    """``"16, 16"`` -> ``"16,16"``; empty for no hidden layer (logistic/softmax regression)."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if len(parts) > MAX_HIDDEN:
        raise ValueError(f"at most {MAX_HIDDEN} hidden layers, got {len(parts)}")
    widths = []
    for p in parts:
        if not p.isdigit() or not 1 <= int(p) <= MAX_WIDTH:
            raise ValueError(f"each width must be an integer 1-{MAX_WIDTH}, got {p!r}")
        widths.append(str(int(p)))
    return ",".join(widths)


def parse_activations(text: str) -> str:
    """One activation name for every layer, or a comma-separated name per layer."""
    parts = [p.strip().lower().replace("-", "_") for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError("give an activation name, e.g. tanh or relu,relu,tanh")
    bad = [p for p in parts if p not in ACTIVATIONS]
    if bad:
        raise ValueError(f"unknown activation {bad[0]!r}; choose from {', '.join(ACTIVATIONS)}")
    return ",".join(parts)


def _widths(text: str) -> list[int]:
    return [int(w) for w in text.split(",") if w]


class NetworkLab(Lab):
    name = "network"
    chapter = 7
    title = "Neural network playground"
    section = "7.3-7.9"
    summary = ("A multilayer perceptron learns to separate the classes in the plane. The big "
               "map is the network's output over every point; the small maps show what each "
               "hidden unit computes, so you can watch deeper layers combine the simple "
               "half-planes of the first layer into curved regions. Edges are coloured by "
               "their weight. Deep sigmoid nets show vanishing gradients in the gradient-norm "
               "plot; poor initialisation shows in the activation histograms.")

    params = (
        Param("dataset", "choice", "spiral", choices=DATASETS, rebuild=True, group="Data",
              help="Training data. 'clicked' uses the points you click onto the plane or "
                   "load from CSV; 'surface' is a 2-D regression target."),
        Param("n_points", "int", 600, 40, 3000, step=20, rebuild=True, group="Data",
              label="points", help="Number of generated points (train + test)."),
        Param("noise", "float", 0.05, 0.0, 0.5, step=0.01, rebuild=True, group="Data",
              help="Std. dev. of the Gaussian jitter added to the generated points."),
        Param("test_frac", "float", 0.3, 0.1, 0.9, step=0.05, rebuild=True, group="Data",
              label="test fraction", help="Share of the points held out for testing."),
        Param("classes", "int", 3, 2, MAX_CLASSES, rebuild=True, group="Data",
              help="Number of blobs (the 'blobs' dataset)."),
        Param("click_class", "int", 0, 0, MAX_CLASSES - 1, group="Data", label="click class",
              help="Class given to points you click onto the plane ('clicked' dataset)."),
        Param("layers", "text", "16,16", parse=parse_layers, rebuild=True,
              choices=("", "8", "32,32,32,32,32,32,32,32"), group="Architecture",
              label="hidden widths",
              hint=f"comma-separated widths of 0-{MAX_HIDDEN} hidden layers, each "
                   f"1-{MAX_WIDTH} (empty = no hidden layer)",
              help="Hidden layer widths n_1, n_2, ... e.g. 16,16. Empty gives logistic or "
                   "softmax regression."),
        Param("activation", "text", "tanh", parse=parse_activations, rebuild=True,
              choices=("relu", "sigmoid,relu"), group="Architecture", label="activations",
              hint="one of " + ", ".join(ACTIVATIONS) + ", or one name per layer separated "
                   "by commas",
              symbol="\u03c6", help="Activation \u03c6 of the hidden layers: one name for all, "
                                    "or one per layer (relu,relu,tanh)."),
        Param("init", "choice", "xavier", choices=SCHEMES, rebuild=True, group="Architecture",
              label="initialisation",
              help="Weight initialisation. Xavier suits tanh/sigmoid, He suits ReLU; zeros "
                   "leaves every unit of a layer identical forever."),
        Param("loss", "choice", "auto", choices=LOSSES, rebuild=True, group="Architecture",
              help="auto: BCE with one sigmoid output for two classes, softmax + cross-entropy "
                   "for more, MSE for regression."),
        Param("dropout", "float", 0.0, 0.0, 0.9, step=0.05, group="Training",
              label="drop rate", help="Inverted dropout after each hidden layer during "
                                      "training (no change at test time)."),
        Param("optimizer", "choice", "adam", choices=OPTIMIZERS, group="Training",
              help="Update rule from engine.optim; switching keeps the weights."),
        Param("lr", "float", 0.03, 1e-4, 3.0, log=True, group="Training", symbol="\u03b7",
              label="learning rate", help="Learning rate \u03b7."),
        Param("batch_size", "int", 32, 1, 512, group="Training", label="batch size",
              symbol="B", help="Examples per update B (capped at the training-set size)."),
    )
    actions = (
        Action("add_point", "Add a point", ("x", "y"),
               "Add a point of the click class at (x, y) (switches to the clicked dataset)."),
        Action("clear_points", "Clear clicked points"),
        Action("set_weight", "Set a weight", ("layer", "row", "col", "value"),
               "Set W[layer][row, col] (the edge from unit col to unit row) by hand."),
        Action("load_csv", "Load points from CSV", ("path",), journal="file"),
        Action("resize_layer", "Add or remove a unit", ("layer", "delta"),
               "Change hidden layer `layer` (0-based) by `delta` units (restarts the run)."),
        Action("add_layer", "Add a hidden layer", (),
               "Append a hidden layer as wide as the last one (restarts the run)."),
        Action("remove_layer", "Remove the last hidden layer", ()),
    )

    # -- build ------------------------------------------------------------------------------------
    def __init__(self, seed: int = 0, backend_name: str = "auto", **values):
        self.clicked_X = np.zeros((0, 2), np.float32)
        self.clicked_y = np.zeros(0, np.int64)
        super().__init__(seed, backend_name, **values)

    def _on_param(self, name, old):
        v = self.values
        if name in ("loss", "dataset", "classes"):
            self._resolve_task()  # raises for impossible combinations; set_param reverts
        if name == "lr" and hasattr(self, "optimizer"):
            for g in self.optimizer.param_groups:
                g["lr"] = v["lr"]
        elif name == "optimizer" and hasattr(self, "model"):
            self.optimizer = self._make_optimizer()
        elif name == "dropout" and hasattr(self, "model"):
            for d in self.model.drops:
                d.p = v["dropout"]
        elif name == "activation":
            n_act = len(v["activation"].split(","))
            if n_act > 1 and n_act != len(_widths(v["layers"])):
                raise ValueError(f"{n_act} activations given for "
                                 f"{len(_widths(v['layers']))} hidden layers; give one name or "
                                 "one per layer")
        elif name == "layers":
            n_act = len(v["activation"].split(","))
            if n_act > 1 and n_act != len(_widths(v["layers"])):
                v["activation"] = v["activation"].split(",")[0]
                self.notice = "activation list reset to one name for all layers"

    def _resolve_task(self) -> tuple[str, int, str]:
        """(task, classes, loss) for the current params; ``ValueError`` if they clash."""
        v = self.values
        if v["dataset"] in REGRESSION:
            task, k = "regression", 1
        elif v["dataset"] == "clicked":
            k = max(2, int(self.clicked_y.max()) + 1 if self.clicked_y.size else 2)
            task = "binary" if k == 2 else "multiclass"
        else:
            k = n_classes(v["dataset"], centers=v["classes"])
            task = "binary" if k == 2 else "multiclass"
        loss = v["loss"]
        if loss == "auto":
            loss = {"regression": "mse", "binary": "bce", "multiclass": "cross_entropy"}[task]
        if task == "regression" and loss != "mse":
            raise ValueError(f"the {v['dataset']} dataset is a regression task: use loss mse "
                             "or auto")
        if loss == "bce" and task != "binary":
            raise ValueError(f"bce needs two classes; {v['dataset']} has {k}: use "
                             "cross_entropy, mse or auto")
        return task, k, loss

    def _build(self) -> None:
        v = self.values
        self.task, self.k, self.loss_kind = self._resolve_task()
        self._make_data()
        widths = _widths(v["layers"])
        acts = v["activation"].split(",")
        acts = acts * len(widths) if len(acts) == 1 else acts
        self.n_out = 1 if self.loss_kind == "bce" or self.task == "regression" else self.k
        self.model = MLP([2] + widths + [self.n_out], acts, init=v["init"],
                         dropout=v["dropout"], generator=self.rng)
        self.model.to_backend(self._device())
        self.optimizer = self._make_optimizer()
        self.hist = {k: [] for k in ("step", "train_loss", "test_loss", "train_acc",
                                     "test_acc")}
        self.grad_hist: list[np.ndarray] = []
        self.last_grad_norms = np.full(len(widths) + 1, np.nan)  # none before the first step
        self.alerts: list[str] = []
        self.diverged = False
        self.sampler = EpochSampler(self.rng)
        self._evaluate()

    def _make_data(self) -> None:
        v = self.values
        if v["dataset"] == "clicked":
            X, y = self.clicked_X, self.clicked_y
        elif v["dataset"] == "surface":
            X, y = make_surface_2d(v["n_points"], v["noise"], self.rng)[:2]
        else:
            X, y = make_classification(v["dataset"], v["n_points"], v["noise"], self.rng,
                                       **({"centers": v["classes"]}
                                          if v["dataset"] == "blobs" else {}))
        X = np.asarray(X, np.float32)
        y = np.asarray(y, np.float32 if self.task == "regression" else np.int64)
        if len(X) >= 5:
            self.Xtr, self.ytr, self.Xte, self.yte = train_test_split(X, y, v["test_frac"],
                                                                      self.rng)
        else:  # too few clicked points to hold any out
            self.Xtr, self.ytr = X, y
            self.Xte, self.yte = X[:0], y[:0]

    def _make_optimizer(self):
        return optim.make_optimizer(self.values["optimizer"], self.model.parameters(),
                                    self.values["lr"])

    def work_size(self) -> float:
        sizes = [2] + _widths(self.values["layers"]) + [5]
        return float(self.values["batch_size"] * sum(a * b for a, b in zip(sizes, sizes[1:])))

    # -- training ---------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.diverged

    def _loss(self, out, y):
        """Data loss of logits ``out`` (N, n_out) against targets ``y`` (N,)."""
        if self.loss_kind == "cross_entropy":
            return F.cross_entropy(out, y)
        if self.loss_kind == "bce":
            return F.binary_cross_entropy_with_logits(out.reshape(-1), y.astype(np.float32))
        if self.task == "regression":
            return F.mse_loss(out.reshape(-1), y)
        # MSE on class probabilities against one-hot targets (TF Playground's loss).
        probs = F.softmax(out, -1)
        onehot = np.eye(self.k, dtype=np.float32)[y]
        return F.mse_loss(probs, onehot)

    def _penalty(self):
        """Extra training objective added to the data loss (regularization labs override)."""
        return None

    @property
    def epoch(self) -> int:
        return self.sampler.epoch

    def _batch(self) -> np.ndarray:
        """Indices of the next mini-batch: epochs of seeded permutations."""
        return self.sampler.take(len(self.Xtr), self.values["batch_size"])

    def _train_inputs(self, X, y):
        """Hook: the mini-batch actually trained on (augmentation, adversarial examples)."""
        return X, y

    def _step(self) -> None:
        if len(self.Xtr) == 0:
            return
        # A diverging run overflows on its way to inf/NaN; that is detected and reported
        # below (banner naming the step), so the floating-point warnings are noise.
        with np.errstate(over="ignore", invalid="ignore"):
            self._train_step()

    def _train_step(self) -> None:
        idx = self._batch()
        xp = self.model.layers[0].weight.xp
        X, y = self._train_inputs(self.Xtr[idx], self.ytr[idx])
        self.model.train()
        self.optimizer.zero_grad()
        loss = self._loss(self.model(Tensor(xp.asarray(X))), xp.asarray(y))
        pen = self._penalty()
        total = loss if pen is None else loss + pen
        value = float(total.item())
        step = self.step_count + 1
        if not math.isfinite(value):
            self._diverge(step, value)
            return
        total.backward()
        self.last_grad_norms = np.array([
            float(xp.sqrt((lin.weight.grad.data ** 2).sum())) for lin in self.model.layers])
        self.optimizer.step()
        self._after_update()
        if not all(bool(xp.isfinite(p.data).all()) for p in self.model.parameters()):
            self._diverge(step, float("nan"))
            return
        if step % EVAL_EVERY == 0 or step == 1:
            self._evaluate(step)

    def _after_update(self) -> None:
        """Hook run after each optimizer step (proximal L1, constraints)."""

    def _diverge(self, step: int, value: float) -> None:
        self.diverged = True
        cause = ("the learning rate is too high for this optimizer and loss; lower \u03b7"
                 if self.values["lr"] > 0.05 else
                 "the weights grew without bound; lower \u03b7 or change the initialisation")
        self.alerts.append(f"Training diverged at step {step} (loss = {value:g}). "
                           f"Likely cause: {cause}.")

    # -- evaluation -------------------------------------------------------------------------------
    def predict(self, X) -> dict:
        """Outputs on ``X`` (N, 2) in eval mode: logits, probabilities (classification) and
        hidden activations, all NumPy."""
        self.model.eval()
        xp = self.model.layers[0].weight.xp
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            out, zs, hs = self.model(Tensor(xp.asarray(np.asarray(X, np.float32))),
                                     return_hidden=True)
            res = {"logits": out.numpy(), "hidden": [h.numpy() for h in hs],
                   "pre": [z.numpy() for z in zs]}
            if self.task == "regression":
                res["value"] = res["logits"][:, 0]
            elif self.n_out == 1:
                p = F.sigmoid(out).numpy()[:, 0]
                res["probs"] = np.stack([1 - p, p], 1)
            else:
                res["probs"] = F.softmax(out, -1).numpy()
        return res

    def _score(self, X, y) -> tuple[float, float]:
        if len(X) == 0:
            return float("nan"), float("nan")
        self.model.eval()
        xp = self.model.layers[0].weight.xp
        with no_grad():
            out = self.model(Tensor(xp.asarray(X)))
            loss = float(self._loss(out, xp.asarray(y)).item())
        if self.task == "regression":
            return loss, float("nan")
        o = out.numpy()
        pred = (o[:, 0] > 0).astype(np.int64) if self.n_out == 1 else o.argmax(1)
        return loss, float((pred == y).mean())

    def _evaluate(self, step: int | None = None) -> None:
        """Score the full train and test sets; record them at ``step`` (default: now)."""
        tr_loss, tr_acc = self._score(self.Xtr, self.ytr)
        te_loss, te_acc = self._score(self.Xte, self.yte)
        h = self.hist
        h["step"].append(self.step_count if step is None else step)
        h["train_loss"].append(tr_loss)
        h["test_loss"].append(te_loss)
        h["train_acc"].append(tr_acc)
        h["test_acc"].append(te_acc)
        self.grad_hist.append(self.last_grad_norms.copy())

    def history(self) -> dict:
        return {k: list(map(float, v)) for k, v in self.hist.items()}

    # -- snapshot ---------------------------------------------------------------------------------
    def _grid(self, res: int) -> tuple[np.ndarray, np.ndarray]:
        ax = np.linspace(DOMAIN[0], DOMAIN[1], res, dtype=np.float32)
        gx, gy = np.meshgrid(ax, ax)  # row = y, column = x
        return ax, np.stack([gx.ravel(), gy.ravel()], 1)

    def _snapshot(self) -> Snapshot:
        axis, pts = self._grid(GRID)
        main = self.predict(pts)
        _, tpts = self._grid(THUMB)
        thumbs = self.predict(tpts)
        in_thumbs = tpts.T.reshape(2, THUMB, THUMB)
        n = GRID
        data = {
            "axis": axis,
            "train": {"X": self.Xtr, "y": self.ytr},
            "test": {"X": self.Xte, "y": self.yte},
            "in_thumbs": in_thumbs,
            "thumbs": [h.T.reshape(h.shape[1], THUMB, THUMB) for h in thumbs["hidden"]],
            "out_thumbs": self._outputs(thumbs).T.reshape(self.n_out, THUMB, THUMB),
            "weights": [lin.weight.numpy() for lin in self.model.layers],
            "biases": [lin.bias.numpy() for lin in self.model.layers],
            "curves": {k: np.asarray(v, np.float64) for k, v in self.hist.items()},
            "grad_norms": np.asarray(self.grad_hist, np.float64).reshape(
                len(self.grad_hist), len(self.model.layers)),
            "activations": self._activation_stats(),
            "task": self.task,
            "classes": self.k,
        }
        if "probs" in main:
            data["probs"] = main["probs"].reshape(n, n, -1)
        else:
            data["value"] = main["value"].reshape(n, n)
        h = self.hist
        scalars = {"loss": h["train_loss"][-1], "test_loss": h["test_loss"][-1],
                   "epoch": self.epoch, "parameters": self.model.num_parameters()}
        if self.task != "regression":
            scalars.update(train_accuracy=h["train_acc"][-1], test_accuracy=h["test_acc"][-1])
        text = {"equation": self._equation_html(), "rules": self._rules_html(),
                "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text, self.alerts)

    def _outputs(self, res) -> np.ndarray:
        """(N, n_out) of what each output unit means: P(class 1) for a single sigmoid unit,
        each class's probability for softmax, the prediction for regression."""
        if "value" in res:
            return res["value"][:, None]
        return res["probs"][:, 1:] if self.n_out == 1 else res["probs"]

    def _activation_stats(self) -> list[dict]:
        """Per hidden layer: histogram of activations over the training set, and the share of
        units that are saturated (|phi'| ~ 0: tanh/sigmoid) or dead (ReLU never fires)."""
        if len(self.Xtr) == 0:
            return []
        res = self.predict(self.Xtr)
        out = []
        for act, h, z in zip(self.model.activations, res["hidden"], res["pre"]):
            lo, hi = float(h.min()), float(h.max())
            if hi - lo < 1e-6:
                lo, hi = lo - 0.5, hi + 0.5
            counts, edges = np.histogram(h, bins=HIST_BINS, range=(lo, hi))
            if act in ("relu", "leaky_relu", "elu", "softplus"):
                inactive = (z <= 0).all(axis=0)         # dead: never positive on any input
            elif act in ("tanh", "sigmoid"):
                mid = 0.0 if act == "tanh" else 0.5
                span = 1.0 if act == "tanh" else 0.5
                inactive = (np.abs(h - mid) > 0.97 * span).mean(axis=0) > 0.9  # saturated
            else:
                inactive = np.zeros(h.shape[1], bool)
            out.append({"counts": counts, "edges": edges, "inactive": float(inactive.mean()),
                        "std": float(h.std())})
        return out

    def _equation_html(self) -> str:
        sizes = self.model.sizes
        acts = self.model.activations
        layers = "".join(
            f"<p>h<sup>[{i + 1}]</sup> = {a}(h<sup>[{i}]</sup>W<sup>[{i + 1}]T</sup> + "
            f"b<sup>[{i + 1}]</sup>), &nbsp; W<sup>[{i + 1}]</sup> \u2208 "
            f"\u211d<sup>{sizes[i + 1]}\u00d7{sizes[i]}</sup></p>"
            for i, a in enumerate(acts))
        L = len(sizes) - 1
        head = {"bce": "p = \u03c3(z<sup>[L]</sup>), &nbsp; J = \u2212[y log p + (1\u2212y) "
                       "log(1\u2212p)]",
                "cross_entropy": "p = softmax(z<sup>[L]</sup>), &nbsp; J = \u2212log "
                                 "p<sub>y</sub>",
                "mse": ("J = (\u0177 \u2212 y)\u00b2" if self.task == "regression" else
                        "J = \u2016softmax(z<sup>[L]</sup>) \u2212 onehot(y)\u2016\u00b2 / K")
                }[self.loss_kind]
        h = self.hist
        nums = (f"<p>step {self.step_count:,} &nbsp; epoch {self.epoch} &nbsp; "
                f"J<sub>train</sub> = {h['train_loss'][-1]:.4g} &nbsp; "
                f"J<sub>test</sub> = {h['test_loss'][-1]:.4g}</p>")
        if self.task != "regression":
            nums += (f"<p>accuracy: train {h['train_acc'][-1]:.1%}, test "
                     f"{h['test_acc'][-1]:.1%}</p>")
        return (f"<p>h<sup>[0]</sup> = x \u2208 \u211d<sup>2</sup></p>{layers}"
                f"<p>z<sup>[L]</sup> = h<sup>[{L - 1}]</sup>W<sup>[{L}]T</sup> + "
                f"b<sup>[{L}]</sup>, &nbsp; {head}</p>"
                f"<p>\u03b8 \u2190 \u03b8 \u2212 \u03b7\u00b7{self.values['optimizer']}"
                f"(\u2207<sub>\u03b8</sub>J), &nbsp; \u03b7 = {self.values['lr']:.3g}, "
                f"B = {min(self.values['batch_size'], max(1, len(self.Xtr)))}</p>{nums}")

    def _rules_html(self) -> str:
        g = self.last_grad_norms
        rows = "".join(f"<tr><td>W<sup>[{i + 1}]</sup></td><td>{v:.3g}</td></tr>"
                       for i, v in enumerate(g))
        return ("<p>Back-propagation: \u03b4<sup>[l]</sup> = (\u03b4<sup>[l+1]</sup>"
                "W<sup>[l+1]</sup>) \u2299 \u03c6\u2032(z<sup>[l]</sup>), &nbsp; "
                "\u2202J/\u2202W<sup>[l]</sup> = \u03b4<sup>[l]T</sup>h<sup>[l\u22121]</sup>"
                "</p><table><tr><th>layer</th><th>\u2016\u2202J/\u2202W\u2016</th></tr>"
                f"{rows}</table><p>{self.model.num_parameters():,} parameters</p>")

    # -- actions ----------------------------------------------------------------------------------
    def action_add_point(self, x, y) -> None:
        x, y = float(x), float(y)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError("a point needs finite coordinates")
        c = self.values["click_class"]
        self.clicked_X = np.vstack([self.clicked_X, np.array([[x, y]], np.float32)])
        self.clicked_y = np.append(self.clicked_y, np.int64(c))
        if self.values["dataset"] != "clicked":
            self.values["dataset"] = "clicked"
            if self.values["loss"] != "auto":
                self.values["loss"] = "auto"
            self.notice = "switched to your clicked points"
        self.reset(self.seed)

    def action_clear_points(self) -> None:
        self.clicked_X = self.clicked_X[:0]
        self.clicked_y = self.clicked_y[:0]
        if self.values["dataset"] == "clicked":
            self.reset(self.seed)

    def action_load_csv(self, path) -> None:
        """Load clicked points from a CSV file (x1,x2,label); a bad file changes nothing."""
        X, y = load_points_csv(path)
        if y.size and int(y.max()) >= MAX_CLASSES:
            raise ValueError(f"labels must be 0-{MAX_CLASSES - 1} for this lab; the file has "
                             f"label {int(y.max())}")
        old = (self.clicked_X, self.clicked_y, dict(self.values))
        self.clicked_X, self.clicked_y = X.astype(np.float32), y.astype(np.int64)
        self.values["dataset"], self.values["loss"] = "clicked", "auto"
        try:
            self.reset(self.seed)
        except Exception:
            self.clicked_X, self.clicked_y, self.values = old[0], old[1], old[2]
            self.reset(self.seed)
            raise
        self.notice = f"loaded {len(X)} points from {path}"

    def action_set_weight(self, layer, row, col, value) -> None:
        layer, row, col, value = int(layer), int(row), int(col), float(value)
        if not 0 <= layer < len(self.model.layers):
            raise ValueError(f"layer must be 0-{len(self.model.layers) - 1}, got {layer}")
        w = self.model.layers[layer].weight
        r, c = w.data.shape
        if not (0 <= row < r and 0 <= col < c):
            raise ValueError(f"W[{layer + 1}] has shape {r}x{c}; ({row}, {col}) is outside it")
        if not (math.isfinite(value) and abs(value) <= 100):
            raise ValueError(f"a weight must be a number in [-100, 100], got {value}")
        w.data[row, col] = value
        self._evaluate()

    def action_resize_layer(self, layer, delta) -> None:
        widths = _widths(self.values["layers"])
        layer, delta = int(layer), int(delta)
        if not 0 <= layer < len(widths):
            raise ValueError(f"hidden layer must be 0-{len(widths) - 1}, got {layer}")
        widths[layer] += delta
        self.set_param("layers", ",".join(map(str, widths)))

    def action_add_layer(self) -> None:
        widths = _widths(self.values["layers"])
        self.set_param("layers", ",".join(map(str, widths + [widths[-1] if widths else 4])))

    def action_remove_layer(self) -> None:
        widths = _widths(self.values["layers"])
        if not widths:
            raise ValueError("there is no hidden layer to remove")
        self.set_param("layers", ",".join(map(str, widths[:-1])))

    # -- model files ------------------------------------------------------------------------------
    def model_task(self) -> dict:
        return {"task": self.task, "classes": self.k, "loss": self.loss_kind,
                "dataset": self.values["dataset"], "inputs": ["x1", "x2"],
                "head": self._head()}

    def _head(self) -> str:
        if self.task == "regression":
            return "identity"
        return "sigmoid" if self.n_out == 1 else "softmax"

    def save_model(self, path) -> None:
        """Write the network, its hyperparameters, seed and step to a safetensors file."""
        hyper = {k: self.values[k] for k in ("optimizer", "lr", "batch_size", "init", "loss",
                                            "dropout", "layers", "activation")}
        save_model(path, self.model, {"kind": "mlp", **self.model.config},
                   hyperparameters=hyper, task=self.model_task(), seed=self.seed,
                   step=self.step_count, lab=self.name)

    def load_model(self, path) -> None:
        """Replace the network by one from a model file; a file that does not fit the current
        task (inputs, outputs) is refused with the reason and nothing changes."""
        mf = read_model(path)
        sizes = mf.model.sizes
        if sizes[0] != 2:
            raise ModelFileError(f"this lab's inputs are 2-D points; the model takes "
                                 f"{sizes[0]} inputs")
        if sizes[-1] != self.n_out:
            raise ModelFileError(f"the model has {sizes[-1]} outputs but the current "
                                 f"{self.values['dataset']} task with loss {self.loss_kind} "
                                 f"needs {self.n_out}; pick a matching dataset first")
        if len(sizes) - 2 > MAX_HIDDEN or any(s > MAX_WIDTH for s in sizes[1:-1]):
            raise ModelFileError(f"this lab shows up to {MAX_HIDDEN} hidden layers of "
                                 f"{MAX_WIDTH} units; the model has widths {sizes[1:-1]}")
        self.model = mf.model
        self.model.to_backend(self._device())
        self.values["layers"] = ",".join(map(str, sizes[1:-1]))
        self.values["activation"] = ",".join(mf.model.activations) or "tanh"
        self.values["dropout"] = max(mf.model.config["dropout"], default=0.0)
        self.optimizer = self._make_optimizer()
        self.step_count = mf.step
        self.hist = {k: [] for k in self.hist}
        self.grad_hist = []
        self.last_grad_norms = np.full(len(self.model.layers), np.nan)
        self.alerts, self.diverged = [], False
        self._evaluate()
        self.notice = f"loaded model trained for {mf.step:,} steps"

    def export_onnx(self, path) -> None:
        """Write the network as ONNX; ``probs`` is the sigmoid/softmax of the logits."""
        export_onnx(path, self.model, head=self._head())

    def _move_to_backend(self) -> None:
        self.model.to_backend(self._device())
        self.optimizer.to_backend(self._device())
