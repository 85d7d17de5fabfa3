r"""Flow lab (book 12.7-12.8): a RealNVP flow learns a 2-D density by maximum likelihood.

Each step is one Adam update on a mini-batch of the negative log-likelihood

.. math:: -\log p(x) = -\log\mathcal N(g(x); 0, I) - \sum_k \sum_j s^{(k)}_j

Snapshots show the learned density :math:`p(x)` on a grid, samples :math:`g^{-1}(z)`, and the
base Gaussian pushed back through the layers one at a time (each column of the panel is one
more coupling layer undone), plus train/test NLL against the best single Gaussian.
"""
from __future__ import annotations

import math

import numpy as np

from engine import backend, optim
from engine.autodiff import Tensor, no_grad
from engine.data import DOMAIN, make_classification, train_test_split
from engine.flows import RealNVP2D, gaussian_nll
from engine.io.model_file import read_model, save_model
from engine.labs.base import Action, Lab, Param, Snapshot

DATASETS = ("moons", "circles", "spiral", "blobs", "checkerboard", "drawn")
GRID = 70
EVAL_EVERY = 25
N_SAMPLES = 600
N_WARP = 400


class FlowLab(Lab):
    name = "flow"
    chapter = 12
    title = "Normalizing flow (RealNVP)"
    section = "12.7-12.8"
    summary = ("A stack of invertible coupling layers learns to turn a round Gaussian into "
               "the data cloud. Every layer moves one coordinate by a scale and a shift that "
               "depend on the other, so the Jacobian is triangular and the exact likelihood is "
               "cheap. Watch the Gaussian bend into the data layer by layer.")

    params = (
        Param("dataset", "choice", "moons", choices=DATASETS, rebuild=True, group="Data",
              help="Target density; 'drawn' uses the points you draw on the density plot."),
        Param("n_points", "int", 1000, 100, 5000, step=100, rebuild=True, group="Data",
              label="points"),
        Param("noise", "float", 0.05, 0.0, 0.3, step=0.01, rebuild=True, group="Data"),
        Param("layers", "int", 6, 1, 16, rebuild=True, group="Flow", label="coupling layers",
              help="Number of affine coupling layers (alternating which coordinate moves)."),
        Param("hidden", "int", 64, 4, 128, rebuild=True, group="Flow", label="hidden units",
              help="Width of the small MLP that gives each layer's scale s and shift t."),
        Param("lr", "float", 3e-3, 1e-5, 0.1, log=True, group="Training", symbol="\u03b7",
              label="learning rate"),
        Param("batch_size", "int", 256, 16, 1024, group="Training", label="batch size"),
    )
    actions = (
        Action("add_points", "Add drawn points", ("points",),
               "A list of (x, y) points drawn with the mouse; switches to the drawn dataset."),
        Action("clear_points", "Clear drawn points"),
    )

    def __init__(self, seed: int = 0, backend_name: str = "auto", **values):
        self.drawn = np.zeros((0, 2), np.float32)
        super().__init__(seed, backend_name, **values)

    def _build(self) -> None:
        v = self.values
        if v["dataset"] == "drawn":
            X = self.drawn
            y = np.zeros(len(X), np.int64)
        else:
            X, y = make_classification(v["dataset"], v["n_points"], v["noise"], self.rng)
        X = np.asarray(X, np.float32)
        if len(X) >= 10:
            self.Xtr, _, self.Xte, _ = train_test_split(X, y, 0.3, self.rng)
        else:
            self.Xtr, self.Xte = X, X[:0]
        self.model = RealNVP2D(v["layers"], v["hidden"], generator=self.rng)
        self.model.to_backend(self._device())
        self.optimizer = optim.Adam(list(self.model.parameters()), lr=v["lr"])
        self.gauss_nll = (gaussian_nll(self.Xtr.astype(np.float64), self.Xte.astype(np.float64))
                          if len(self.Xte) else float("nan"))
        self.hist = {"step": [], "train_nll": [], "test_nll": []}
        self.alerts: list[str] = []
        self.diverged = False
        self.z_fixed = self.rng.standard_normal((N_WARP, 2)).astype(np.float32)
        self.sample_z = self.rng.standard_normal((N_SAMPLES, 2)).astype(np.float32)
        self._evaluate(0)

    def _on_param(self, name, old):
        if name == "lr" and hasattr(self, "optimizer"):
            for g in self.optimizer.param_groups:
                g["lr"] = self.values["lr"]

    @property
    def finished(self) -> bool:
        return self.diverged

    def _t(self, a):
        return Tensor(self.model.layers[0].l1.weight.xp.asarray(a))

    def _nll(self, X) -> float:
        if len(X) == 0:
            return float("nan")
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            return float(-self.model.log_prob(self._t(X)).mean().item())

    def _evaluate(self, step: int) -> None:
        self.hist["step"].append(step)
        self.hist["train_nll"].append(self._nll(self.Xtr))
        self.hist["test_nll"].append(self._nll(self.Xte))

    def _step(self) -> None:
        if len(self.Xtr) == 0:
            return
        b = min(self.values["batch_size"], len(self.Xtr))
        idx = self.rng.integers(0, len(self.Xtr), b)
        step = self.step_count + 1
        with np.errstate(over="ignore", invalid="ignore"):
            self.optimizer.zero_grad()
            loss = -self.model.log_prob(self._t(self.Xtr[idx])).mean()
            value = float(loss.item())
            if not math.isfinite(value):
                self.diverged = True
                self.alerts.append(f"Training diverged at step {step} (NLL = {value:g}). "
                                   "Likely cause: the learning rate is too high; lower \u03b7.")
                return
            loss.backward()
            self.optimizer.step()
        if step % EVAL_EVERY == 0:
            self._evaluate(step)

    def history(self) -> dict:
        return {k: list(map(float, v)) for k, v in self.hist.items()}

    def _snapshot(self) -> Snapshot:
        ax = np.linspace(DOMAIN[0], DOMAIN[1], GRID, dtype=np.float32)
        gx, gy = np.meshgrid(ax, ax)
        pts = np.stack([gx.ravel(), gy.ravel()], 1)
        with no_grad(), np.errstate(over="ignore", invalid="ignore", under="ignore"):
            logp = backend.to_numpy(self.model.log_prob(self._t(pts)).data)
            stages = [backend.to_numpy(s.data)
                      for s in self.model.layers_inverse(self._t(self.z_fixed))]
            samples = backend.to_numpy(self.model.inverse(self._t(self.sample_z)).data)
            z_data, logdet = self.model(self._t(self.Xtr[:5]))
        density = np.exp(np.clip(logp, -50, 50)).reshape(GRID, GRID)
        cell = float(ax[1] - ax[0]) ** 2
        h = self.hist
        data = {
            "axis": ax, "density": density,
            "log_density": logp.reshape(GRID, GRID), "train": self.Xtr, "test": self.Xte,
            "samples": samples, "stages": stages, "curves": {k: np.asarray(v, float)
                                                              for k, v in h.items()},
            "gauss_nll": self.gauss_nll,
        }
        scalars = {"loss": h["train_nll"][-1], "test_nll": h["test_nll"][-1],
                   "gaussian_nll": self.gauss_nll,
                   "density_mass": float(density.sum() * cell)}
        x0 = self.Xtr[0] if len(self.Xtr) else np.zeros(2)
        text = {"equation": self._equation_html(x0, backend.to_numpy(z_data.data)[:1],
                                                backend.to_numpy(logdet.data)[:1]),
                "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text, self.alerts)

    def _equation_html(self, x0, z0, ld0) -> str:
        h = self.hist
        z = z0[0] if len(z0) else np.zeros(2)
        ld = float(ld0[0]) if len(ld0) else 0.0
        logn = float(-0.5 * (z @ z) - math.log(2 * math.pi))
        return (
            "<p>y<sub>keep</sub> = x<sub>keep</sub>, &nbsp; y<sub>move</sub> = "
            "x<sub>move</sub>\u00b7e<sup>s(x<sub>keep</sub>)</sup> + t(x<sub>keep</sub>)</p>"
            "<p>log|det J| = \u03a3 s &nbsp; (triangular Jacobian)</p>"
            "<p>log p(x) = log \ud835\udca9(g(x); 0, I) + \u03a3<sub>k</sub> log|det "
            "J<sub>k</sub>|</p>"
            f"<p>for x = ({x0[0]:.3f}, {x0[1]:.3f}): z = g(x) = ({z[0]:.3f}, {z[1]:.3f}), "
            f"log \ud835\udca9(z) = {logn:.3f}, \u03a3 log|det J| = {ld:.3f}, log p(x) = "
            f"{logn + ld:.3f}</p>"
            f"<p>step {self.step_count:,}: NLL train {h['train_nll'][-1]:.3f}, test "
            f"{h['test_nll'][-1]:.3f}; best single Gaussian {self.gauss_nll:.3f}</p>")

    # -- actions ----------------------------------------------------------------------------------
    def action_add_points(self, points) -> None:
        pts = np.asarray(points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
            raise ValueError("drawn points must be a non-empty list of (x, y) pairs")
        if not np.isfinite(pts).all() or np.abs(pts).max() > 10:
            raise ValueError("drawn points must be finite and within \u00b110")
        self.drawn = np.vstack([self.drawn, pts.astype(np.float32)])
        self.values["dataset"] = "drawn"
        self.reset(self.seed)

    def action_clear_points(self) -> None:
        self.drawn = self.drawn[:0]
        if self.values["dataset"] == "drawn":
            self.reset(self.seed)

    # -- model files ------------------------------------------------------------------------------
    def save_model(self, path) -> None:
        save_model(path, self.model, {"kind": "realnvp2d", **self.model.config},
                   hyperparameters={"lr": self.values["lr"],
                                    "batch_size": self.values["batch_size"]},
                   task={"dataset": self.values["dataset"], "dims": 2}, seed=self.seed,
                   step=self.step_count, lab=self.name)

    def load_model(self, path) -> None:
        mf = read_model(path, expect=("realnvp2d", "2-D RealNVP flows"))
        self.model = mf.model
        self.model.to_backend(self._device())
        self.values["layers"] = mf.model.config["n_layers"]
        self.values["hidden"] = mf.model.config["hidden"]
        self.optimizer = optim.Adam(list(self.model.parameters()), lr=self.values["lr"])
        self.step_count = mf.step
        self.hist = {k: [] for k in self.hist}
        self.alerts, self.diverged = [], False
        self._evaluate(mf.step)
        self.notice = f"loaded flow trained for {mf.step:,} steps"

    def export_onnx(self, path) -> None:
        raise ValueError("ONNX export is not available for flows (their inverse pass has no "
                         "standard ONNX form); save the model file instead")

    def _move_to_backend(self) -> None:
        self.model.to_backend(self._device())
        self.optimizer.to_backend(self._device())
