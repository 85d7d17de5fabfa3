r"""Regularization lab (book ch. 8): the ways to make a network generalise, on one live MLP.

A wide network trained on a few noisy points overfits: the training loss keeps falling while
the validation loss turns and rises.  Every regularizer of chapter 8 is a knob here, and they
all act on the same training loop (:class:`~engine.labs.network.NetworkLab`'s, through its
hooks), so they can be compared and combined:

* norm penalties (8.2): L2 adds :math:`\tfrac\lambda2\|W\|^2` to the loss; L1 is applied as the
  proximal step :math:`w \leftarrow \mathrm{sign}(u)\max(|u| - \eta\lambda, 0)` after each
  optimizer step, which makes weights exactly 0;
* early stopping (8.3) on a validation split, restoring the best weights;
* parameter tying (8.4): a second net trained on a rotated copy of the task with few points,
  pulled towards the main net by :math:`\lambda_{tie}\|\theta_A - \theta_B\|^2`;
* augmentation and input noise (8.5): each mini-batch is rotated and jittered;
* dropout (8.6) with the inverted, classic and buggy "classic without test scaling" variants;
* adversarial training (8.7): FGSM examples mixed into each batch,
  :math:`\alpha J(x) + (1-\alpha) J(x')`.

The held-out points are split in half: a *validation* set, which early stopping watches, and a
*test* set, which nothing trains or selects on.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from engine import backend
from engine.autodiff import Tensor, no_grad
from engine.data import make_classification, rotate2d, train_test_split
from engine.labs.base import Param, Snapshot
from engine.labs.network import EVAL_EVERY, NetworkLab
from engine.nn import MLP
from engine.nn.layers import ModuleList
from engine.regularizers import (
    DROPOUT_MODES,
    PENALTIES,
    EarlyStopping,
    ModeDropout,
    augment,
    boundary_length,
    dropout_scales,
    fgsm,
    l1_prox,
    penalty,
    tie_penalty,
)

DATASETS = ("moons", "circles", "xor", "spiral", "spiral3", "blobs", "checkerboard")
SMALL = 1e-3          # |w| below this counts as "zero" in the sparsity readout
WEIGHT_BINS = 41      # odd, so one bin is centred on 0 (the L1 spike)
TASK_B_TRAIN = 12     # task B: few training points ...
TASK_B_TEST = 100     # ... scored on plenty of fresh ones
TASK_B_ANGLE = 30.0   # degrees task B is turned against task A
B_GRID = 50           # resolution of task B's map
PREVIEW_COPIES = 4    # augmented copies of the training set drawn on the map
DROPOUT_PASSES = 4    # training-mode passes averaged for the "dropout on" loss

_BASE = {p.name: p for p in NetworkLab.params}
_OVERRIDES = {
    "dataset": {"default": "moons", "choices": DATASETS},
    "n_points": {"default": 100, "low": 40, "high": 600},
    "noise": {"default": 0.2},
    "test_frac": {"default": 0.5, "high": 0.8, "label": "held-out fraction",
                  "help": "Share of the points held out; half of them form the validation "
                          "set (watched by early stopping), half the test set."},
    "layers": {"default": "32,32"},
    "activation": {"default": "tanh"},
    "lr": {"default": 0.005, "high": 0.3},
    "dropout": {"group": "Dropout",
                "help": "Drop rate: the probability that a hidden unit is zeroed in a training "
                        "pass (keep probability q = 1 - drop rate)."},
}


def _base(name: str, **changes) -> Param:
    return dataclasses.replace(_BASE[name], **{**_OVERRIDES.get(name, {}), **changes})


class RegularizationLab(NetworkLab):
    name = "regularization"
    chapter = 8
    title = "Regularization lab"
    section = "8.1-8.7"
    summary = ("A wide network on a few noisy points learns the noise: training loss falls "
               "while validation loss rises. Each regularizer fights this differently. L2 "
               "shrinks every weight and smooths the boundary; L1 switches weights off "
               "entirely (the spike at 0). Early stopping keeps the weights from the "
               "validation minimum. Dropout, augmentation and input noise make the training "
               "signal noisier so it cannot be memorised. Tying borrows strength from a "
               "related task, and adversarial training pushes the boundary away from the "
               "points so small worst-case nudges no longer flip them.")

    params = (
        _base("dataset"), _base("n_points"), _base("noise"), _base("test_frac"),
        _base("classes"),
        _base("layers"), _base("activation"), _base("init"), _base("loss"),
        _base("optimizer"), _base("lr"), _base("batch_size"),
        Param("penalty", "choice", "none", choices=PENALTIES, group="Norm penalty",
              symbol="\u03a9",
              help="Norm penalty on the weights (not the biases): l2 adds "
                   "(\u03bb/2)\u2016W\u2016\u00b2 to the loss; l1 shrinks every weight by "
                   "\u03b7\u03bb after each step and sets the small ones to exactly 0."),
        Param("lam", "float", 0.01, 1e-4, 1.0, log=True, group="Norm penalty",
              symbol="\u03bb", label="\u03bb strength",
              help="Penalty strength \u03bb."),
        Param("early_stop", "bool", False, group="Early stopping", label="stop early",
              help="Stop when the validation loss has not improved for 'patience' "
                   "evaluations (one every 10 steps) and go back to the best weights. The "
                   "best point is marked either way."),
        Param("patience", "int", 20, 1, 200, group="Early stopping",
              help="Evaluations (one every 10 steps) without improvement before stopping."),
        Param("min_delta", "float", 0.0, 0.0, 0.1, step=0.001, group="Early stopping",
              label="min \u0394", symbol="\u03b4",
              help="A validation loss counts as better only if it beats the best by more "
                   "than \u03b4."),
        Param("restore_best", "bool", True, group="Early stopping", label="restore best",
              help="When stopping, put back the weights of the best validation loss."),
        _base("dropout"),
        Param("dropout_mode", "choice", "inverted", choices=DROPOUT_MODES, group="Dropout",
              label="scaling",
              help="inverted: scale kept units by 1/q in training, nothing at test. "
                   "classic: no scaling in training, multiply by q at test. "
                   "classic_no_test_scaling: the bug of forgetting the test-time factor."),
        Param("aug_noise", "float", 0.0, 0.0, 0.3, step=0.01, group="Augmentation",
              symbol="\u03c3", label="input noise \u03c3",
              help="Std. dev. of Gaussian noise added to every training point in each "
                   "mini-batch (noise injection)."),
        Param("aug_jitter", "float", 0.0, 0.0, 45.0, step=1.0, group="Augmentation",
              symbol="\u03b8", label="rotation jitter (\u00b0)",
              help="Each training point of a mini-batch is turned about the origin by a "
                   "random angle in \u00b1\u03b8 degrees. Large angles change what the "
                   "label should be: augmentation can hurt."),
        Param("task_b", "bool", False, rebuild=True, group="Parameter tying",
              label="train task B",
              help=f"Also train a second, identical net on task B: the same data turned by "
                   f"{TASK_B_ANGLE:g}\u00b0 with only {TASK_B_TRAIN} training points, its "
                   f"parameters tied to the main net's."),
        Param("tie_lam", "float", 0.1, 1e-4, 10.0, log=True, group="Parameter tying",
              symbol="\u03bb\u209c", label="tie strength \u03bb\u209c",
              help="Strength of the tie \u03bb\u209c\u2016\u03b8_A \u2212 \u03b8_B\u2016\u00b2: "
                   "small = independent nets, large = one shared net."),
        Param("fgsm_eps", "float", 0.1, 0.0, 0.5, step=0.01, group="Adversarial",
              symbol="\u03b5", label="FGSM \u03b5",
              help="Size \u03b5 of the fast-gradient-sign attack x' = x + \u03b5 "
                   "sign(\u2207\u2093J) drawn on the test points and used in adversarial "
                   "training."),
        Param("adv_train", "bool", False, group="Adversarial", label="adversarial training",
              help="Train on \u03b1J(x) + (1\u2212\u03b1)J(x'), with x' the FGSM example of "
                   "each batch point against the current net."),
        Param("adv_alpha", "float", 0.5, 0.0, 1.0, step=0.05, group="Adversarial",
              symbol="\u03b1", label="clean weight \u03b1",
              help="Weight \u03b1 of the clean loss (1 \u2212 \u03b1 goes to the adversarial "
                   "loss); 0.5 as in Goodfellow et al."),
    )
    actions = ()

    # -- build ------------------------------------------------------------------------------------
    def _build(self) -> None:
        self._ready = False      # the base's _build evaluates once before our parts exist
        self._adv_split = None
        super()._build()
        self._wrap_dropout()
        self._reset_stopper()
        self._build_task_b()
        extra = ("val_loss", "val_acc", "adv_loss", "adv_acc", "train_loss_dropout",
                 "w_norm", "sparse_frac", "b_train_acc", "b_test_acc", "tie_dist")
        self.hist = {k: [] for k in (*self.hist, *extra)}
        self.grad_hist = []
        self._ready = True
        self._evaluate()

    def _wrap_dropout(self) -> None:
        """Swap the MLP's dropout layers for ones that know the scaling conventions."""
        self.model.drops = ModuleList(
            ModeDropout(d.p, self.values["dropout_mode"], d.generator)
            for d in self.model.drops)

    def _reset_stopper(self) -> None:
        v = self.values
        self.stopper = EarlyStopping(v["patience"], v["min_delta"], v["restore_best"])
        self.stopped = False
        self.restored_scores = None

    def _make_data(self) -> None:
        super()._make_data()
        if len(self.Xte) >= 2:   # half of the held-out points validate, half test
            self.Xval, self.yval, self.Xte, self.yte = train_test_split(
                self.Xte, self.yte, 0.5, self.rng)
        else:
            self.Xval, self.yval = self.Xte[:0], self.yte[:0]

    def _build_task_b(self) -> None:
        v = self.values
        self.model_b = self.opt_b = None
        if not v["task_b"]:
            return
        extra = {"centers": v["classes"]} if v["dataset"] == "blobs" else {}
        X, y = make_classification(v["dataset"], TASK_B_TRAIN + TASK_B_TEST, v["noise"],
                                   self.rng, **extra)
        X = rotate2d(np.asarray(X, np.float32), TASK_B_ANGLE)
        perm = self.rng.permutation(len(X))
        tr, te = perm[:TASK_B_TRAIN], perm[TASK_B_TRAIN:]
        self.Xb, self.yb = X[tr], np.asarray(y, np.int64)[tr]
        self.Xb_test, self.yb_test = X[te], np.asarray(y, np.int64)[te]
        m = self.model
        self.model_b = MLP(m.sizes, m.activations, init=v["init"], generator=self.rng)
        self.model_b.to_backend(self._device())
        self._make_opt_b()

    def _make_opt_b(self) -> None:
        # Same update rule and hyperparameters as the main net's optimizer (the learning
        # rate from the params: a live change edits param_groups, not the defaults).
        self.opt_b = type(self.optimizer)(list(self.model_b.parameters()),
                                          **{**self.optimizer.defaults, "lr": self.values["lr"]})

    def _on_param(self, name, old):
        super()._on_param(name, old)
        v = self.values
        if not getattr(self, "_ready", False):
            return
        if name == "dropout_mode":
            for d in self.model.drops:
                d.mode = v["dropout_mode"]
        elif name in ("patience", "min_delta", "restore_best"):
            self.stopper.patience = v["patience"]
            self.stopper.min_delta = v["min_delta"]
            self.stopper.restore_best = v["restore_best"]
        elif name == "optimizer" and self.model_b is not None:
            self._make_opt_b()
        elif name == "lr" and self.model_b is not None:
            for g in self.opt_b.param_groups:
                g["lr"] = v["lr"]
        # Stopped, but the rule no longer says stop: carry on from the restored weights.
        if (name in ("early_stop", "patience") and self.stopped
                and (not v["early_stop"] or self.stopper.wait < self.stopper.patience)):
            self.stopped = False
            self.alerts = [a for a in self.alerts if not a.startswith("Early stopping")]

    # -- model files and backends -----------------------------------------------------------------
    def _check_exportable(self) -> None:
        if self.values["dropout"] > 0 and self.values["dropout_mode"] != "inverted":
            raise ValueError("model files and ONNX assume inverted dropout (nothing to do at "
                             f"test time); this net was trained with {self.values['dropout_mode']}"
                             " dropout and would lose its test-time factor. Switch the scaling "
                             "to inverted, or set the drop rate to 0, and train again.")

    def save_model(self, path) -> None:
        self._check_exportable()
        super().save_model(path)

    def export_onnx(self, path) -> None:
        self._check_exportable()
        super().export_onnx(path)

    def load_model(self, path) -> None:
        self._ready = False         # the base scores the new net before our parts fit it
        try:
            super().load_model(path)
        finally:
            self._ready = True
        self._wrap_dropout()
        self._reset_stopper()
        self._build_task_b()        # a fresh task-B net of the loaded architecture
        self.hist = {k: [] for k in self.hist}
        self.grad_hist = []
        self._evaluate()

    def _move_to_backend(self) -> None:
        super()._move_to_backend()
        if self.model_b is not None:
            self.model_b.to_backend(self._device())
            self.opt_b.to_backend(self._device())

    # -- training hooks ---------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return super().finished or getattr(self, "stopped", False)

    def _weights(self):
        return [lin.weight for lin in self.model.layers]

    def _train_inputs(self, X, y):
        v = self.values
        if v["aug_noise"] > 0 or v["aug_jitter"] > 0:
            X = augment(X, self.rng, v["aug_noise"], v["aug_jitter"])
        if v["adv_train"] and v["fgsm_eps"] > 0:
            X_adv = self._attack(X, y, v["fgsm_eps"])
            # _loss weights the two halves alpha : 1 - alpha (read once, in this step).
            self._adv_split = len(X)
            return np.concatenate([X, X_adv]), np.concatenate([y, y])
        return X, y

    def _loss(self, out, y):
        n, self._adv_split = self._adv_split, None
        if n is None:
            return super()._loss(out, y)
        a = self.values["adv_alpha"]
        return (super()._loss(out[:n], y[:n]) * a
                + super()._loss(out[n:], y[n:]) * (1.0 - a))

    def _penalty(self):
        v = self.values
        terms = []
        if v["penalty"] == "l2":
            terms.append(penalty(self._weights(), "l2", v["lam"])[0])
        if self.model_b is not None:
            # Joint objective J_A + J_B + lam_tie ||theta_A - theta_B||^2: its gradient
            # reaches both nets; net B is stepped in _after_update.
            xp = self.model_b.layers[0].weight.xp
            self.opt_b.zero_grad()
            self.model_b.train()
            out_b = self.model_b(Tensor(xp.asarray(self.Xb)))
            terms.append(super()._loss(out_b, xp.asarray(self.yb)))
            terms.append(tie_penalty(list(self.model.parameters()),
                                     list(self.model_b.parameters()), v["tie_lam"])[0])
        if not terms:
            return None
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total

    def _after_update(self) -> None:
        v = self.values
        if v["penalty"] == "l1":
            thresh = v["lr"] * v["lam"]
            for w in self._weights():
                w.data[...] = l1_prox(w.data, thresh)
        if self.model_b is not None:
            self.opt_b.step()

    def _attack(self, X, y, eps):
        """FGSM examples of ``X`` (N, 2) against the current net in evaluation mode."""
        self.model.eval()
        xp = self.model.layers[0].weight.xp
        X_adv = fgsm(self.model, xp.asarray(X), xp.asarray(y), eps, super()._loss)
        return backend.to_numpy(X_adv).astype(np.float32)

    # -- evaluation -------------------------------------------------------------------------------
    def _evaluate(self, step: int | None = None) -> None:
        super()._evaluate(step)
        if not getattr(self, "_ready", False):
            return
        v, h = self.values, self.hist
        val_loss, val_acc = self._score(self.Xval, self.yval)
        h["val_loss"].append(val_loss)
        h["val_acc"].append(val_acc)
        if len(self.Xte) and v["fgsm_eps"] > 0:
            adv_loss, adv_acc = self._score(self._attack(self.Xte, self.yte, v["fgsm_eps"]),
                                            self.yte)
        else:
            adv_loss, adv_acc = h["test_loss"][-1], h["test_acc"][-1]
        h["adv_loss"].append(adv_loss)
        h["adv_acc"].append(adv_acc)
        h["train_loss_dropout"].append(self._train_mode_loss())
        w = np.concatenate([lin.weight.numpy().ravel() for lin in self.model.layers])
        h["w_norm"].append(float(np.sqrt((w.astype(np.float64) ** 2).sum())))
        h["sparse_frac"].append(float((np.abs(w) < SMALL).mean()))
        b_tr = b_te = dist = float("nan")
        if self.model_b is not None:
            b_tr = self._score_b(self.Xb, self.yb)
            b_te = self._score_b(self.Xb_test, self.yb_test)
            dist = math.sqrt(tie_penalty(
                [p.data for p in self.model.parameters()],
                [p.data for p in self.model_b.parameters()], 1.0)[0])
        h["b_train_acc"].append(b_tr)
        h["b_test_acc"].append(b_te)
        h["tie_dist"].append(dist)
        stop = self.stopper.update(h["step"][-1], val_loss, list(self.model.parameters()))
        if stop and v["early_stop"] and not self.stopped and not self.diverged:
            self.stopped = True
            restored = self.stopper.restore(list(self.model.parameters()))
            # The curves end with the stop step's scores; these are the restored net's.
            self.restored_scores = self._score(self.Xte, self.yte) if restored else None
            what = (f"restored the weights of step {self.stopper.best_epoch:,}" if restored
                    else "kept the last weights")
            self.alerts.append(
                f"Early stopping at step {h['step'][-1]:,}: the validation loss has not "
                f"improved for {self.stopper.patience} evaluations; {what} "
                f"(validation loss {self.stopper.best_val:.4g}). Turn 'stop early' off or "
                "raise the patience to continue.")

    def _train_mode_loss(self) -> float:
        """Training-set loss with dropout on (mean of a few masks); NaN without dropout."""
        if self.values["dropout"] == 0 or not len(self.model.drops) or not len(self.Xtr):
            return float("nan")
        xp = self.model.layers[0].weight.xp
        self.model.train()
        with no_grad():
            X, y = Tensor(xp.asarray(self.Xtr)), xp.asarray(self.ytr)
            total = sum(float(super(RegularizationLab, self)._loss(self.model(X), y).item())
                        for _ in range(DROPOUT_PASSES))
        self.model.eval()
        return total / DROPOUT_PASSES

    def _logits_b(self, X) -> np.ndarray:
        self.model_b.eval()
        xp = self.model_b.layers[0].weight.xp
        with no_grad():
            return self.model_b(Tensor(xp.asarray(np.asarray(X, np.float32)))).numpy()

    def _score_b(self, X, y) -> float:
        o = self._logits_b(X)
        pred = (o[:, 0] > 0).astype(np.int64) if o.shape[1] == 1 else o.argmax(1)
        return float((pred == y).mean())

    def _probs_b(self, X) -> np.ndarray:
        o = self._logits_b(X).astype(np.float64)
        if o.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-np.clip(o[:, 0], -60, 60)))
            return np.stack([1 - p, p], 1)
        e = np.exp(o - o.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    # -- snapshot ---------------------------------------------------------------------------------
    def _snapshot(self) -> Snapshot:
        base = super()._snapshot()
        v = self.values
        d = dict(base.data)
        w = np.concatenate([lin.weight.numpy().ravel() for lin in self.model.layers])
        top = float(np.abs(w).max()) or 1.0
        counts, edges = np.histogram(w, bins=WEIGHT_BINS, range=(-top, top))
        n_small = int((np.abs(w) < SMALL).sum())
        d["weight_hist"] = {"counts": counts, "edges": edges}
        d["n_weights"], d["n_small"] = int(w.size), n_small
        d["val"] = {"X": self.Xval, "y": self.yval}
        eps = v["fgsm_eps"]
        if len(self.Xte) and eps > 0:
            d["adv"] = {"X": self.Xte, "X_adv": self._attack(self.Xte, self.yte, eps),
                        "y": self.yte}
        else:
            d["adv"] = {"X": self.Xte[:0], "X_adv": self.Xte[:0], "y": self.yte[:0]}
        d["aug_preview"] = self._aug_preview()
        st = self.stopper
        best = -1 if st.best_epoch is None else int(st.best_epoch)
        d["early"] = {"best_step": best, "window_end": best + st.patience * EVAL_EVERY,
                      "stop_step": -1 if not self.stopped else int(st.stop_epoch),
                      "active": bool(v["early_stop"])}
        if "probs" in d:
            labels = np.asarray(d["probs"]).argmax(-1)
            axis = np.asarray(d["axis"])
            blen = boundary_length(labels, float(axis[1] - axis[0]))
        else:
            blen = float("nan")
        if self.model_b is not None:
            ax = np.linspace(float(d["axis"][0]), float(d["axis"][-1]), B_GRID,
                             dtype=np.float32)
            gx, gy = np.meshgrid(ax, ax)
            probs = self._probs_b(np.stack([gx.ravel(), gy.ravel()], 1))
            d["task_b"] = {"axis": ax, "probs": probs.reshape(B_GRID, B_GRID, -1),
                           "train": {"X": self.Xb, "y": self.yb},
                           "test": {"X": self.Xb_test, "y": self.yb_test}}
        else:
            d["task_b"] = {}
        d["dropout"] = {"rate": float(v["dropout"]), "mode": v["dropout_mode"]}
        d["eps"] = float(eps)
        h = self.hist
        scalars = dict(base.scalars)
        pen_val = (0.0 if v["penalty"] == "none" else
                   penalty([lin.weight.data for lin in self.model.layers], v["penalty"],
                           v["lam"])[0])
        scalars.update(val_loss=h["val_loss"][-1], val_accuracy=h["val_acc"][-1],
                       adv_accuracy=h["adv_acc"][-1],
                       # now, not at the last evaluation: early stopping may have restored
                       weight_norm=float(np.sqrt((w.astype(np.float64) ** 2).sum())),
                       sparsity=h["sparse_frac"][-1], zero_weights=n_small,
                       penalty=pen_val, boundary_length=blen,
                       best_step=best, best_val_loss=st.best_val)
        if self.model_b is not None:
            scalars.update(task_b_test_accuracy=h["b_test_acc"][-1],
                           tie_distance=h["tie_dist"][-1])
        text = dict(base.text)
        text["equation"] = self._equation_html(pen_val, blen, n_small, w.size,
                                               scalars["weight_norm"])
        text["rules"] = self._rules_html()
        return Snapshot.make(self.name, self.step_count, scalars, d, text, base.alerts)

    def _aug_preview(self) -> dict:
        """A few augmented copies of the training set, from a generator of their own so the
        picture is steady and training's random stream is untouched."""
        v = self.values
        if not (v["aug_noise"] > 0 or v["aug_jitter"] > 0) or not len(self.Xtr):
            return {"X": self.Xtr[:0], "y": self.ytr[:0]}
        rng = np.random.default_rng(self.seed + 1)
        X = np.concatenate([augment(self.Xtr, rng, v["aug_noise"], v["aug_jitter"])
                            for _ in range(PREVIEW_COPIES)])
        return {"X": X, "y": np.tile(self.ytr, PREVIEW_COPIES)}

    # -- the math ---------------------------------------------------------------------------------
    def _equation_html(self, pen_val=0.0, blen=float("nan"), n_small=0, n_w=1,
                       w_norm=float("nan")) -> str:
        v, h, st = self.values, self.hist, self.stopper
        lam, eta = v["lam"], v["lr"]
        if v["penalty"] == "l2":
            pen = (f"<p>J\u0303 = J + (\u03bb/2)\u2016W\u2016\u00b2, &nbsp; \u03bb = {lam:.3g}, "
                   f"&nbsp; \u03bb\u03a9 = {pen_val:.4g}</p>")
        elif v["penalty"] == "l1":
            pen = (f"<p>u = w \u2212 \u03b7\u00b7step(\u2207J), &nbsp; w \u2190 sign(u)"
                   f"\u00b7max(|u| \u2212 \u03b7\u03bb, 0), &nbsp; \u03b7\u03bb = "
                   f"{eta * lam:.3g}, &nbsp; \u03bb\u2016W\u2016\u2081 = {pen_val:.4g}</p>")
        else:
            pen = "<p>J\u0303 = J &nbsp; (no norm penalty)</p>"
        stats = (f"<p>\u2016W\u2016 = {w_norm:.4g}, &nbsp; |w| &lt; 10\u207b\u00b3: "
                 f"{n_small:,} of {n_w:,} ({n_small / max(n_w, 1):.1%}), &nbsp; boundary "
                 f"length \u2248 {blen:.3g}</p>")
        best = ("\u2014" if st.best_epoch is None else
                f"step {st.best_epoch:,} (J<sub>val</sub> = {st.best_val:.4g})")
        stopped = " \u2014 stopped" if self.stopped else ""
        if self.stopped and self.restored_scores is not None:
            loss, acc = self.restored_scores
            stopped += (f"; with the restored weights J<sub>test</sub> = {loss:.4g}, test "
                        f"accuracy {acc:.1%}")
        early = (f"<p>early stopping: best {best}; {st.wait} evaluations since without a "
                 f"gain &gt; \u03b4 = {v['min_delta']:.3g} (patience {st.patience})"
                 f"{stopped}</p>")
        rate = v["dropout"]
        s_tr, s_ev = dropout_scales(rate, v["dropout_mode"])
        bug = (f" \u2014 wrong: test should use {1 - rate:.2f}\u00b7h"
               if v["dropout_mode"] == "classic_no_test_scaling" else "")
        drop = (f"<p>dropout: h\u0303 = {s_tr:.3g}\u00b7r\u2299h (train), "
                f"{s_ev:.3g}\u00b7h (test), &nbsp; r \u223c Bern({1 - rate:.2f})"
                f"{bug}</p>" if rate > 0 else "<p>dropout off</p>")
        eps = v["fgsm_eps"]
        adv = (f"<p>x\u2032 = x + \u03b5\u00b7sign(\u2207\u2093J), &nbsp; \u03b5 = {eps:.3g}: "
               f"test accuracy {h['test_acc'][-1]:.1%} clean, {h['adv_acc'][-1]:.1%} "
               "attacked</p>")
        if v["adv_train"]:
            a = v["adv_alpha"]
            adv += (f"<p>trained on {a:.2g}\u00b7J(x) + {1 - a:.2g}\u00b7J(x\u2032)</p>")
        aug = ""
        if v["aug_noise"] > 0 or v["aug_jitter"] > 0:
            aug = (f"<p>x\u0303 = R(\u03b8)x + \u03b5, &nbsp; \u03b8 \u223c "
                   f"U[\u00b1{v['aug_jitter']:.3g}\u00b0], &nbsp; \u03b5 \u223c "
                   f"N(0, {v['aug_noise']:.3g}\u00b2)</p>")
        tie = ""
        if self.model_b is not None:
            tie = (f"<p>J<sub>A</sub> + J<sub>B</sub> + \u03bb\u209c\u2016\u03b8<sub>A</sub> "
                   f"\u2212 \u03b8<sub>B</sub>\u2016\u00b2, &nbsp; \u03bb\u209c = "
                   f"{v['tie_lam']:.3g}, &nbsp; \u2016\u03b8<sub>A</sub> \u2212 "
                   f"\u03b8<sub>B</sub>\u2016 = {h['tie_dist'][-1]:.3g}, &nbsp; task B test "
                   f"accuracy {h['b_test_acc'][-1]:.1%}</p>")
        nums = (f"<p>step {self.step_count:,}: J<sub>train</sub> = {h['train_loss'][-1]:.4g}, "
                f"J<sub>val</sub> = {h['val_loss'][-1]:.4g}, J<sub>test</sub> = "
                f"{h['test_loss'][-1]:.4g}</p>")
        return pen + stats + early + drop + aug + adv + tie + nums

    def _rules_html(self) -> str:
        return ("<p>L2 pulls each weight towards 0 in proportion to its size; weights the data "
                "barely need end up small, so the function bends less. L1 pulls with the same "
                "force whatever the size, and the proximal step stops a weight at exactly 0 "
                "instead of letting it flicker around it.</p>"
                "<p>Early stopping watches the validation loss (half of the held-out points); "
                "the test half is never used to choose anything. Dropout trains many thinned "
                "nets at once; the scaling keeps the expected input of the next layer the same "
                "in training and at test. Adversarial examples move each point a step \u03b5 "
                "in the direction that increases its loss fastest, per coordinate.</p>")
