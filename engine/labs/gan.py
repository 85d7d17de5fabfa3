r"""GAN lab (book 12.5-12.6): a GAN or WGAN learns a 2-D distribution, live.

A generator :math:`G: \mathbb R^{n_z} \to \mathbb R^2` maps noise :math:`z \sim p_z` to points;
a discriminator :math:`D: \mathbb R^2 \to \mathbb R` scores points.  One **step** is one
generator update preceded by :math:`n_{critic}` discriminator updates, each on a fresh batch of
real samples and fresh noise:

.. math::

    \text{repeat } n_{critic}: \quad
        \phi \leftarrow \phi - \eta_D\,\mathrm{opt}\big(\nabla_\phi L_D\big)
    \qquad\text{then}\qquad
        \theta \leftarrow \theta - \eta_G\,\mathrm{opt}\big(\nabla_\theta L_G\big)

with the losses of :mod:`engine.gan_math` (minimax, non-saturating, WGAN with weight clipping,
WGAN-GP).  ``phase`` trains only D (one step = :math:`n_{critic}` D updates) or only G (one step
= one G update); ``slow_motion`` makes every step a single sub-update (one D update or one G
update) so the algorithm can be followed line by line.

What a snapshot shows: real and generated samples; :math:`\sigma(D(x))` (a GAN's probability
of "real") or :math:`D(x)` (a WGAN critic's value) over the plane; the generator's warped noise
grid :math:`G(z)` for a square grid of :math:`(z_1, z_2)`; arrows on the fakes pointing along
:math:`-\nabla_x L_G`, where the generator is pushing each sample; both losses; and for the
mixtures (ring, grid) the number of modes the generator covers (:func:`mode_coverage`).
"""
from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

from engine import backend, optim
from engine.autodiff import Tensor, grad, no_grad
from engine.gan_math import LOSSES, WGAN_LOSSES, clip_, d_loss, g_loss, grad_penalty, mode_coverage
from engine.io.model_file import ModelFileError, read_model, save_model
from engine.io.onnx_export import export_onnx
from engine.labs.base import Action, Lab, Param, Snapshot
from engine.nn import MLP

TARGETS = ("ring", "grid", "moons", "spiral", "line", "drawn")
MIXTURES = ("ring", "grid")
NOISES = ("gaussian", "uniform")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
PHASES = ("both", "d_only", "g_only")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh")
EXTENT = 3.0        # the plane shown and drawn on: [-EXTENT, EXTENT]^2
FIELD = 64          # discriminator heatmap resolution (FIELD x FIELD)
N_SHOW = 500        # real and generated samples drawn
N_ARROWS = 100      # fakes that carry a gradient arrow
ARROW_MAX = 0.4     # length of the longest arrow, in plane units
N_EVAL = 2000       # fixed noise batch for the mode-coverage count
EVAL_EVERY = 25     # generator updates between two coverage counts
GRID_LINES = 11     # noise-grid lines per direction
GRID_POINTS = 41    # points per noise-grid line
MAX_DRAWN = 5000
STROKE_SPACING = 0.02   # drawn strokes are filled in at this spacing ...
STROKE_JOIN = 1.5       # ... between consecutive points closer than this (a quarter plane)
MAX_CURVE = 3000    # longest curve a snapshot carries (longer ones are averaged in blocks)

_LOSS_LABEL = {"minimax": "original minimax", "non_saturating": "non-saturating",
               "wgan_clip": "WGAN, weight clipping", "wgan_gp": "WGAN-GP"}


# -- targets ------------------------------------------------------------------------------------
def target_centers(kind: str) -> np.ndarray:
    """Mode centres of the mixture targets, ``(K, 2)``: 8 on a circle of radius 2, or the 5x5
    grid ``{-2, ..., 2}^2``.  Other targets have no modes: ``(0, 2)``."""
    if kind == "ring":
        a = 2 * np.pi * np.arange(8) / 8
        return 2.0 * np.stack([np.cos(a), np.sin(a)], 1)
    if kind == "grid":
        g = np.arange(-2.0, 2.5, 1.0)
        gx, gy = np.meshgrid(g, g)
        return np.stack([gx.ravel(), gy.ravel()], 1)
    return np.zeros((0, 2))


def sample_target(kind: str, n: int, rng: np.random.Generator, std: float,
                  drawn: np.ndarray | None = None) -> np.ndarray:
    r"""``n`` samples ``(n, 2)`` float32 of a target distribution, each jittered by
    :math:`\mathcal N(0, \text{std}^2 I)`.

    ``ring`` / ``grid``: equal-weight Gaussian mixtures at :func:`target_centers`; ``moons``:
    two interleaved half circles; ``spiral``: one arm of 1.5 turns; ``line``: a segment from
    (-2, -1.2) to (2, 1.2); ``drawn``: the points in ``drawn`` (a mouse stroke), chosen
    uniformly.
    """
    if kind in MIXTURES:
        c = target_centers(kind)
        base = c[rng.integers(len(c), size=n)]
    elif kind == "moons":
        t = rng.uniform(0.0, np.pi, n)
        upper = rng.random(n) < 0.5
        x = np.where(upper, np.cos(t), 1.0 - np.cos(t))
        y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
        base = 1.6 * np.stack([x - 0.5, y - 0.25], 1)
    elif kind == "spiral":
        t = np.sqrt(rng.random(n))          # uniform-ish density along the arm's length
        r, a = 0.25 + 2.0 * t, 3 * np.pi * t
        base = np.stack([r * np.cos(a), r * np.sin(a)], 1)
    elif kind == "line":
        t = rng.uniform(-1.0, 1.0, n)
        base = np.stack([2.0 * t, 1.2 * t], 1)
    elif kind == "drawn":
        if drawn is None or len(drawn) == 0:
            raise ValueError("no target drawn yet: drag on the plot to draw one")
        base = drawn[rng.integers(len(drawn), size=n)]
    else:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {kind!r}")
    return (base + std * rng.standard_normal((n, 2))).astype(np.float32)


def densify_stroke(points: np.ndarray, spacing: float = STROKE_SPACING,
                   join: float = STROKE_JOIN) -> np.ndarray:
    """Fill in a mouse stroke ``(N, 2)``: points every ``spacing`` along each segment shorter
    than ``join`` (longer gaps are left open, so separate clicks stay separate)."""
    p = np.asarray(points, np.float64)
    if len(p) < 2:
        return p
    seg = p[1:] - p[:-1]
    length = np.hypot(seg[:, 0], seg[:, 1])
    joined = length <= join
    k = np.where(joined, np.maximum(1, np.ceil(length / spacing)), 1).astype(np.int64)
    idx = np.repeat(np.arange(len(seg)), k)
    start = np.repeat(np.cumsum(k) - k, k)
    frac = (np.arange(k.sum()) - start) / np.repeat(k, k)
    frac = np.where(joined[idx], frac, 0.0)
    return np.vstack([p[idx] + frac[:, None] * seg[idx], p[-1:]])


class GANLab(Lab):
    name = "gan"
    chapter = 12
    title = "GAN and WGAN in 2-D"
    section = "12.5-12.6"
    summary = ("A generator turns random noise into points and a discriminator (a 'critic' "
               "in a WGAN) learns to tell them from the real data. The heatmap is what the "
               "discriminator currently believes; the arrows show where it pushes each fake "
               "point, and the warped grid shows how the generator bends the noise plane. "
               "With the original minimax loss the generator's gradient fades once the "
               "discriminator wins, and it often settles on a few modes of the ring (mode "
               "collapse); the Wasserstein critic with a gradient penalty keeps giving useful "
               "gradients everywhere, so all eight modes fill in.")

    params = (
        Param("target", "choice", "ring", choices=TARGETS, rebuild=True, group="Data",
              help="Real distribution: a ring of 8 Gaussians, a 5x5 grid of Gaussians, two "
                   "moons, a spiral, a line, or points you draw with the mouse ('drawn')."),
        Param("target_std", "float", 0.05, 0.01, 0.5, step=0.01, rebuild=True, group="Data",
              label="target spread", symbol="\u03c3",
              help="Standard deviation \u03c3 of the jitter around each target point; a sample "
                   "within 3\u03c3 of a mode's centre counts towards covering it."),
        Param("noise_dim", "int", 2, 1, 8, rebuild=True, group="Generator",
              label="noise dimension", symbol="n_z",
              help="Dimension n_z of the noise z fed to the generator (the grid shows z\u2081, "
                   "z\u2082; the others are held at 0)."),
        Param("noise", "choice", "gaussian", choices=NOISES, rebuild=True, group="Generator",
              label="noise distribution", symbol="p_z",
              help="p_z: standard normal N(0, I) or uniform on [-1, 1]^n_z."),
        Param("g_depth", "int", 3, 1, 5, rebuild=True, group="Generator", label="G layers",
              help="Hidden layers of the generator."),
        Param("g_width", "int", 64, 4, 256, step=4, rebuild=True, group="Generator",
              label="G width", help="Units per hidden layer of the generator."),
        Param("d_depth", "int", 3, 1, 5, rebuild=True, group="Discriminator", label="D layers",
              help="Hidden layers of the discriminator / critic."),
        Param("d_width", "int", 64, 4, 256, step=4, rebuild=True, group="Discriminator",
              label="D width", help="Units per hidden layer of the discriminator / critic."),
        Param("activation", "choice", "relu", choices=ACTIVATIONS, rebuild=True,
              group="Discriminator", symbol="\u03c6",
              help="Hidden activation \u03c6 of both networks."),
        Param("loss", "choice", "wgan_gp", choices=LOSSES, group="Training",
              help="minimax: the book's min-max game; non_saturating: G maximises log D(G(z)) "
                   "instead; wgan_clip: Wasserstein critic kept Lipschitz by clipping its "
                   "weights to [-c, c]; wgan_gp: critic kept Lipschitz by a gradient penalty."),
        Param("n_critic", "int", 5, 1, 10, group="Training", label="D steps per G step",
              symbol="n_critic", help="Discriminator updates before each generator update."),
        Param("clip", "float", 0.01, 0.001, 1.0, log=True, group="Training",
              label="clip bound", symbol="c",
              help="wgan_clip: every critic weight is clipped to [-c, c] after each update."),
        Param("gp_weight", "float", 10.0, 0.0, 100.0, step=0.5, group="Training",
              label="penalty weight", symbol="\u03bb",
              help="wgan_gp: weight \u03bb of the gradient penalty "
                   "\u03bb E(\u2016\u2207D(x_\u03b5)\u2016 \u2212 1)\u00b2 at random "
                   "points x_\u03b5 between real and generated samples."),
        Param("batch_size", "int", 256, 16, 1024, step=16, group="Training",
              label="batch size", symbol="B", help="Real and fake samples per update."),
        Param("d_optimizer", "choice", "adam", choices=OPTIMIZERS, group="Training",
              label="D optimizer",
              help="Update rule of the discriminator (Adam uses \u03b2 = (0.5, 0.9), as in "
                   "WGAN-GP); switching restarts its moment estimates."),
        Param("d_lr", "float", 2e-3, 1e-5, 1.0, log=True, group="Training", label="D rate",
              symbol="\u03b7_D",
              help="Learning rate \u03b7_D of the discriminator. Four times \u03b7_G by "
                   "default, so the critic stays ahead of the generator it judges (with equal "
                   "rates the two chase each other in circles)."),
        Param("g_optimizer", "choice", "adam", choices=OPTIMIZERS, group="Training",
              label="G optimizer", help="Update rule of the generator."),
        Param("g_lr", "float", 5e-4, 1e-5, 1.0, log=True, group="Training", label="G rate",
              symbol="\u03b7_G", help="Learning rate \u03b7_G of the generator."),
        Param("phase", "choice", "both", choices=PHASES, group="Stepping",
              help="both: n_critic D updates then one G update per step; d_only: only the "
                   "discriminator learns (n_critic updates per step); g_only: only the "
                   "generator learns (one update per step)."),
        Param("slow_motion", "bool", False, group="Stepping", label="slow motion",
              help="Each step is a single sub-update (one D update or one G update), played "
                   "slowly, with the current line of the algorithm highlighted."),
    )
    actions = (
        Action("add_target_points", "Add drawn points", ("points",),
               "Add a stroke of points (N, 2) to the drawn target (switches to it and "
               "restarts the run)."),
        Action("clear_drawn", "Clear the drawing", (),
               "Remove every drawn point."),
        Action("step_d", "Step D", (), "One discriminator update now."),
        Action("step_g", "Step G", (), "One generator update now."),
    )

    def __init__(self, seed: int = 0, backend_name: str = "auto", **values):
        self.drawn = np.zeros((0, 2), np.float32)
        super().__init__(seed, backend_name, **values)

    # -- build -----------------------------------------------------------------------------------
    def _build(self) -> None:
        v = self.values
        act = v["activation"]
        init = "xavier" if act == "tanh" else "he"
        self.G = MLP([v["noise_dim"]] + [v["g_width"]] * v["g_depth"] + [2], act, init=init,
                     generator=self.rng)
        self.D = MLP([2] + [v["d_width"]] * v["d_depth"] + [1], act, init=init,
                     generator=self.rng)
        dev = self._device()
        self.G.to_backend(dev)
        self.D.to_backend(dev)
        self.opt_g = self._make_optimizer("g")
        self.opt_d = self._make_optimizer("d")
        self.centers = target_centers(v["target"])
        # Fixed noise for what is drawn and measured, so the picture and the coverage count
        # change only because the generator does.
        self.z_show = self._noise(N_SHOW)
        self.z_eval = self._noise(N_EVAL)
        self.real_show = (sample_target(v["target"], N_SHOW, self.rng, v["target_std"],
                                        self.drawn)
                          if self._has_target() else np.zeros((0, 2), np.float32))
        self.d_updates = self.g_updates = 0
        self._sub = 0                    # position inside the current step's sub-updates
        self.last = {"d_loss": math.nan, "g_loss": math.nan, "gp": math.nan}
        self.hist = {k: [] for k in ("d_u", "d_loss", "gp", "g_u", "g_loss", "cov_u",
                                     "cov_modes", "cov_hq")}
        self.alerts: list[str] = []
        self.diverged = False
        self._coverage_now = None
        self._record_coverage()

    def _make_optimizer(self, who: str):
        kind, lr = self.values[f"{who}_optimizer"], self.values[f"{who}_lr"]
        params = (self.G if who == "g" else self.D).parameters()
        # beta1 = 0.5 damps the momentum that makes adversarial games orbit (WGAN-GP paper).
        return optim.make_optimizer(kind, params, lr,
                                    **({"betas": (0.5, 0.9)} if kind == "adam" else {}))

    def work_size(self) -> float:
        v = self.values
        g = [v["noise_dim"]] + [v["g_width"]] * v["g_depth"] + [2]
        d = [2] + [v["d_width"]] * v["d_depth"] + [1]
        mults = sum(a * b for a, b in pairwise(g)) + sum(a * b for a, b in pairwise(d))
        return float(v["batch_size"] * mults * (v["n_critic"] + 1))

    def _on_param(self, name, old):
        if name in ("d_lr", "g_lr") and hasattr(self, "opt_d"):
            opt = self.opt_d if name == "d_lr" else self.opt_g
            for group in opt.param_groups:
                group["lr"] = self.values[name]
        elif name in ("d_optimizer", "g_optimizer") and hasattr(self, "opt_d"):
            if name == "d_optimizer":
                self.opt_d = self._make_optimizer("d")
            else:
                self.opt_g = self._make_optimizer("g")
        elif name == "loss" and hasattr(self, "D"):
            if self.values["loss"] == "wgan_clip":
                clip_(self.D.parameters(), self.values["clip"])
            self._coverage_now = None
        elif name == "clip" and hasattr(self, "D") and self.values["loss"] == "wgan_clip":
            clip_(self.D.parameters(), self.values["clip"])

    # -- sampling --------------------------------------------------------------------------------
    def _has_target(self) -> bool:
        return self.values["target"] != "drawn" or len(self.drawn) > 0

    def _noise(self, n: int) -> np.ndarray:
        shape = (n, self.values["noise_dim"])
        if self.values["noise"] == "uniform":
            return self.rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        return self.rng.standard_normal(shape).astype(np.float32)

    def _real(self, n: int) -> np.ndarray:
        v = self.values
        return sample_target(v["target"], n, self.rng, v["target_std"], self.drawn)

    def _xp(self):
        return self.D.layers[0].weight.xp

    def generate(self, z) -> np.ndarray:
        """``G(z)`` for noise ``z`` (n, n_z), as NumPy (n, 2), without recording a graph."""
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            return self.G(Tensor(self._xp().asarray(z))).numpy()

    def discriminate(self, x) -> np.ndarray:
        """Raw ``D(x)`` (logit or critic value) for points ``x`` (n, 2), as NumPy (n,)."""
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            return self.D(Tensor(self._xp().asarray(x, dtype=np.float32))).numpy()[:, 0]

    # -- training --------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.diverged or not self._has_target()

    @property
    def finished_reason(self) -> str:
        if not self._has_target():
            return "no target drawn yet: drag on the plot to draw one"
        return "training diverged (see the banner); lower the learning rates and reset"

    @property
    def play_interval(self) -> float:
        # Slow motion: time to see each single update act on the picture.
        return 0.6 if self.values["slow_motion"] else 0.0

    def _plan(self) -> list[str]:
        """The sub-updates of one step, in order (``'D'`` / ``'G'``)."""
        phase, n = self.values["phase"], self.values["n_critic"]
        if phase == "d_only":
            return ["D"] * n
        if phase == "g_only":
            return ["G"]
        return ["D"] * n + ["G"]

    def _step(self) -> None:
        plan = self._plan()
        self._sub %= len(plan)
        todo = plan[self._sub:self._sub + 1] if self.values["slow_motion"] else plan[self._sub:]
        for who in todo:
            self._update(who)
            if self.diverged:
                return
        self._sub = (self._sub + len(todo)) % len(plan)

    def _update(self, who: str) -> None:
        # A diverging run overflows on its way to inf/NaN; that is caught and reported with a
        # banner, so the floating-point warnings are noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if who == "D":
                self._d_update()
            else:
                self._g_update()

    def _d_update(self) -> None:
        v = self.values
        xp = self._xp()
        B = v["batch_size"]
        xr = xp.asarray(self._real(B))
        with no_grad():
            xf = self.G(Tensor(xp.asarray(self._noise(B)))).data
        self.D.train()
        self.opt_d.zero_grad()
        loss = d_loss(self.D(Tensor(xr)), self.D(Tensor(xf)), v["loss"])
        total = loss
        gp = math.nan
        if v["loss"] == "wgan_gp" and v["gp_weight"] > 0:
            pen = grad_penalty(self.D, xr, xf, self.rng)
            gp = float(pen.item())
            total = loss + v["gp_weight"] * pen
        value = float(loss.item())
        self.d_updates += 1
        if not (math.isfinite(value) and math.isfinite(float(total.item()))):
            self._diverge("discriminator", value)
            return
        total.backward()
        self.opt_d.step()
        if v["loss"] == "wgan_clip":
            clip_(self.D.parameters(), v["clip"])
        self.last["d_loss"], self.last["gp"] = value, gp
        h = self.hist
        h["d_u"].append(self.d_updates + self.g_updates)
        h["d_loss"].append(value)
        h["gp"].append(gp)
        self._coverage_now = None

    def _g_update(self) -> None:
        v = self.values
        xp = self._xp()
        self.G.train()
        self.opt_g.zero_grad()
        fake = self.G(Tensor(xp.asarray(self._noise(v["batch_size"]))))
        loss = g_loss(self.D(fake), v["loss"])
        value = float(loss.item())
        self.g_updates += 1
        if not math.isfinite(value):
            self._diverge("generator", value)
            return
        loss.backward()
        self.opt_g.step()
        self.last["g_loss"] = value
        h = self.hist
        h["g_u"].append(self.d_updates + self.g_updates)
        h["g_loss"].append(value)
        self._coverage_now = None
        if self.g_updates % EVAL_EVERY == 0:
            self._record_coverage()

    def _diverge(self, who: str, value: float) -> None:
        self.diverged = True
        v = self.values
        lr = v["d_lr"] if who == "discriminator" else v["g_lr"]
        cause = ("its learning rate is too high; lower \u03b7" if lr > 0.01 else
                 "the critic is unconstrained; use wgan_gp or wgan_clip, or lower the rates"
                 if v["loss"] in WGAN_LOSSES else "the weights grew without bound; lower "
                 "the learning rates")
        self.alerts.append(f"Training diverged at update {self.d_updates + self.g_updates} "
                           f"(step {self.step_count + 1}): the {who}'s loss became {value:g}. "
                           f"Likely cause: {cause}. Reset to start again.")

    # -- measurements ----------------------------------------------------------------------------
    def coverage(self):
        """:func:`mode_coverage` of ``G`` on the fixed evaluation noise (``None`` when the
        target has no modes)."""
        if len(self.centers) == 0:
            return None
        if self._coverage_now is None:
            fake = self.generate(self.z_eval)
            if not np.isfinite(fake).all():
                fake = np.where(np.isfinite(fake), fake, 1e6)
            self._coverage_now = mode_coverage(fake, self.centers, self.values["target_std"])
        return self._coverage_now

    def _record_coverage(self) -> None:
        cov = self.coverage()
        if cov is None:
            return
        h = self.hist
        h["cov_u"].append(self.d_updates + self.g_updates)
        h["cov_modes"].append(cov.covered)
        h["cov_hq"].append(cov.high_quality)

    def fake_gradients(self, x) -> np.ndarray:
        r"""Per-sample :math:`-\nabla_x \ell_G(x)` at generated points ``x`` (n, 2): the
        direction the generator loss pushes each fake sample (NumPy, (n, 2))."""
        xp = self._xp()
        xt = Tensor(xp.asarray(np.asarray(x, np.float32)), requires_grad=True)
        with np.errstate(over="ignore", invalid="ignore"):
            # L_G is a mean over the batch: times n, the gradient of the sum is per sample.
            out = g_loss(self.D(xt), self.values["loss"]) * float(len(x))
            g, = grad(out, xt)
        return -g.numpy()

    # -- snapshot --------------------------------------------------------------------------------
    def _field(self) -> tuple[np.ndarray, np.ndarray]:
        axis = np.linspace(-EXTENT, EXTENT, FIELD, dtype=np.float32)
        gx, gy = np.meshgrid(axis, axis)   # rows = y, columns = x
        d = self.discriminate(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(FIELD, FIELD)
        if self.values["loss"] not in WGAN_LOSSES:
            with np.errstate(over="ignore"):
                d = 1.0 / (1.0 + np.exp(-d))
        return axis, d

    def _noise_grid(self) -> np.ndarray:
        """``G`` along lines of the noise plane: ``(lines, points, 2)``.  For ``n_z >= 2``
        the lines of constant :math:`z_1` and of constant :math:`z_2` (other coordinates 0);
        for ``n_z = 1`` the single curve :math:`G(z)`."""
        v = self.values
        span = 1.0 if v["noise"] == "uniform" else 2.0
        t = np.linspace(-span, span, GRID_POINTS, dtype=np.float32)
        if v["noise_dim"] == 1:
            z = np.linspace(-span, span, 4 * GRID_POINTS, dtype=np.float32)[:, None]
            return self.generate(z)[None]
        k = np.linspace(-span, span, GRID_LINES, dtype=np.float32)
        a, b = np.meshgrid(k, t, indexing="ij")            # (lines, points)
        z = np.zeros((2, GRID_LINES, GRID_POINTS, v["noise_dim"]), np.float32)
        z[0, ..., 0], z[0, ..., 1] = a, b                  # z1 fixed along each line
        z[1, ..., 0], z[1, ..., 1] = b, a                  # z2 fixed along each line
        out = self.generate(z.reshape(-1, v["noise_dim"]))
        return out.reshape(2 * GRID_LINES, GRID_POINTS, 2)

    @staticmethod
    def _thin(x, y) -> tuple[np.ndarray, np.ndarray]:
        """Block means of a long curve down to at most ``MAX_CURVE`` points."""
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        k = -(-len(x) // MAX_CURVE)
        if k <= 1:
            return x, y
        m = len(x) // k * k
        return x[:m].reshape(-1, k).mean(1), y[:m].reshape(-1, k).mean(1)

    def _snapshot(self) -> Snapshot:
        v = self.values
        axis, field = self._field()
        fake = self.generate(self.z_show)
        arrows_from = fake[:N_ARROWS]
        if np.isfinite(arrows_from).all() and self._has_target():
            g = self.fake_gradients(arrows_from)
        else:
            g = np.zeros_like(arrows_from)
        norms = np.linalg.norm(g, axis=1)
        top = float(norms.max()) if norms.size and np.isfinite(norms).all() else 0.0
        scale = ARROW_MAX / top if top > 0 else 0.0
        h = self.hist
        cov = self.coverage()
        data = {
            "axis": axis,
            "field": field,
            "field_kind": "critic" if v["loss"] in WGAN_LOSSES else "probability",
            "real": self.real_show,
            "fake": fake,
            "arrows": np.stack([arrows_from, arrows_from + scale * g], 1),
            "grid": self._noise_grid(),
            "centers": self.centers,
            "drawn": self.drawn,
            "curves": {
                "d": np.stack(self._thin(h["d_u"], h["d_loss"])),
                "g": np.stack(self._thin(h["g_u"], h["g_loss"])),
                "gp": np.stack(self._thin(h["d_u"], h["gp"])),
                "coverage": np.array([h["cov_u"], h["cov_modes"]], np.float64),
                "high_quality": np.array([h["cov_u"], h["cov_hq"]], np.float64),
            },
            "next": self._plan()[self._sub % len(self._plan())],
            "extent": EXTENT,
        }
        scalars = {"loss": self.last["d_loss"], "d_loss": self.last["d_loss"],
                   "g_loss": self.last["g_loss"], "d_updates": self.d_updates,
                   "g_updates": self.g_updates, "max_push": top}
        if v["loss"] == "wgan_gp":
            scalars["gradient_penalty"] = self.last["gp"]
        if cov is not None:
            scalars.update(modes_covered=cov.covered, modes_total=len(self.centers),
                           high_quality=cov.high_quality)
        text = {"equation": self._equation_html(cov), "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text, self.alerts)

    def _equation_html(self, cov) -> str:
        v = self.values
        kind = v["loss"]
        dl, gl = self.last["d_loss"], self.last["g_loss"]
        if kind in WGAN_LOSSES:
            ld = ("L<sub>D</sub> = E D(G(z)) \u2212 E D(x)"
                  + (" + \u03bb E(\u2016\u2207D(x<sub>\u03b5</sub>)\u2016 \u2212 1)\u00b2"
                     if kind == "wgan_gp" else ""))
            lg = "L<sub>G</sub> = \u2212E D(G(z))"
            extra = (f"every weight of D clipped to [\u2212c, c], c = {v['clip']:.3g}"
                     if kind == "wgan_clip" else
                     f"x<sub>\u03b5</sub> = \u03b5x + (1\u2212\u03b5)G(z), \u03b5 ~ U(0,1), "
                     f"\u03bb = {v['gp_weight']:.3g}, penalty = {self.last['gp']:.3g}")
            w = f"<p>critic's estimate of W\u2081: \u2212(E D(G(z)) \u2212 E D(x)) = {-dl:.4g}</p>"
        else:
            ld = "L<sub>D</sub> = \u2212E log D(x) \u2212 E log(1 \u2212 D(G(z)))"
            lg = ("L<sub>G</sub> = E log(1 \u2212 D(G(z)))" if kind == "minimax" else
                  "L<sub>G</sub> = \u2212E log D(G(z))")
            extra = "D(x) = \u03c3(logit); at D* = \u00bd, L<sub>D</sub> = log 4 = 1.386"
            w = ""
        nxt = self._plan()[self._sub % len(self._plan())]
        slow = v["slow_motion"]

        def line(label, who):
            on = slow and who == nxt
            style = ' style="color:#e69f00;font-weight:bold"' if on else ""
            mark = " \u2190 next" if on else ""
            return f"<li{style}>{label}{mark}</li>"

        algo = ""
        if v["phase"] != "g_only":
            algo += line(f"repeat {v['n_critic']}\u00d7: sample x ~ p<sub>r</sub>, "
                         "z ~ p<sub>z</sub>; "
                         "\u03c6 \u2190 \u03c6 \u2212 \u03b7<sub>D</sub>"
                         "\u00b7opt(\u2207<sub>\u03c6</sub>L<sub>D</sub>)", "D")
        if v["phase"] != "d_only":
            algo += line("sample z ~ p<sub>z</sub>; \u03b8 \u2190 \u03b8 \u2212 "
                         "\u03b7<sub>G</sub>\u00b7opt(\u2207<sub>\u03b8</sub>L<sub>G</sub>)",
                         "G")
        cov_txt = ""
        if cov is not None:
            cov_txt = (f"<p>modes covered: <b>{cov.covered} / {len(self.centers)}</b>, "
                       f"high quality (within 3\u03c3): {cov.high_quality:.1%}</p>")
        return (f"<p><b>{_LOSS_LABEL[kind]}</b></p><p>{ld} = {dl:.4g}</p>"
                f"<p>{lg} = {gl:.4g}</p><p>{extra}</p>{w}<ol>{algo}</ol>"
                f"<p>step {self.step_count:,}: {self.d_updates:,} D updates, "
                f"{self.g_updates:,} G updates</p>{cov_txt}")

    def history(self) -> dict:
        return {k: [float(x) for x in vals] for k, vals in self.hist.items()}

    # -- actions ---------------------------------------------------------------------------------
    def action_add_target_points(self, points) -> None:
        """Append a drawn stroke ``(N, 2)`` inside the plane (filled in by
        :func:`densify_stroke`); switches to the drawn target and restarts the run."""
        try:
            pts = np.asarray(points, np.float64)
        except (TypeError, ValueError):
            raise ValueError("points must be a list of (x, y) pairs") from None
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
            raise ValueError(f"points must have shape (N, 2) with N >= 1, got {pts.shape}")
        if not np.isfinite(pts).all() or np.abs(pts).max() > EXTENT:
            raise ValueError(f"drawn points must be finite and inside [-{EXTENT:g}, "
                             f"{EXTENT:g}] in both coordinates")
        pts = densify_stroke(pts)
        if len(self.drawn) + len(pts) > MAX_DRAWN:
            raise ValueError(f"the drawing would have {len(self.drawn) + len(pts)} points, "
                             f"more than {MAX_DRAWN}; clear the drawing first")
        self.drawn = np.vstack([self.drawn, pts.astype(np.float32)])
        self.values["target"] = "drawn"
        self.reset(self.seed)
        self.notice = f"drawn target: {len(self.drawn)} points, run restarted"

    def action_clear_drawn(self) -> None:
        self.drawn = self.drawn[:0]
        if self.values["target"] == "drawn":
            self.reset(self.seed)

    def action_step_d(self) -> None:
        if not self.finished:
            with backend.blas_threads(self.blas_threads):
                self._update("D")

    def action_step_g(self) -> None:
        if not self.finished:
            with backend.blas_threads(self.blas_threads):
                self._update("G")

    # -- model files -----------------------------------------------------------------------------
    def model_task(self) -> dict:
        v = self.values
        return {"role": "generator", "noise_dim": v["noise_dim"], "noise": v["noise"],
                "target": v["target"], "target_std": v["target_std"], "loss": v["loss"],
                "outputs": ["x1", "x2"]}

    def save_model(self, path) -> None:
        """Write the generator, its noise and target description, seed and step (the critic is
        not saved: sampling needs only G)."""
        hyper = {k: self.values[k] for k in ("loss", "n_critic", "g_optimizer", "g_lr",
                                            "d_optimizer", "d_lr", "batch_size", "clip",
                                            "gp_weight", "activation")}
        save_model(path, self.G, {"kind": "mlp", **self.G.config}, hyperparameters=hyper,
                   task=self.model_task(), seed=self.seed, step=self.step_count, lab=self.name)

    def load_model(self, path) -> None:
        """Replace the generator by one from a model file saved by this lab.  The noise
        dimension, distribution and the generator's width/depth follow the file; a file that
        is not a 2-D generator of this lab's shape is refused and nothing changes."""
        mf = read_model(path)
        task = mf.task
        sizes, acts = mf.model.sizes, mf.model.activations
        if task.get("role") != "generator" or sizes[-1] != 2:
            raise ModelFileError("this is not a GAN generator file (save one from this lab "
                                 "with Save model); it has "
                                 f"{sizes[0]} inputs and {sizes[-1]} outputs")
        hidden = sizes[1:-1]
        if not 1 <= len(hidden) <= 5 or len(set(hidden)) != 1 or not 4 <= hidden[0] <= 256:
            raise ModelFileError("this lab's generators have 1-5 hidden layers of one width "
                                 f"4-256; the file's widths are {hidden}")
        if len(set(acts)) != 1 or acts[0] not in ACTIVATIONS:
            raise ModelFileError(f"the file's activations {acts} are not one of "
                                 f"{', '.join(ACTIVATIONS)} for every layer")
        noise = task.get("noise", "gaussian")
        if noise not in NOISES or not 1 <= sizes[0] <= 8:
            raise ModelFileError(f"the file's noise ({sizes[0]}-D {noise!r}) is not one this "
                                 "lab offers")
        if acts[0] != self.values["activation"]:
            raise ModelFileError(f"the file's generator uses {acts[0]}, the lab uses "
                                 f"{self.values['activation']}: set activation to {acts[0]} "
                                 "first")
        v = self.values
        v["noise_dim"], v["noise"] = sizes[0], noise
        v["g_depth"], v["g_width"] = len(hidden), hidden[0]
        self.G = mf.model
        self.G.to_backend(self._device())
        self.opt_g = self._make_optimizer("g")
        self.z_show = self._noise(N_SHOW)
        self.z_eval = self._noise(N_EVAL)
        self._sub = 0
        self._coverage_now = None
        self._record_coverage()
        note = f"loaded a generator trained for {mf.step:,} steps"
        if task.get("target") not in (None, v["target"]):
            note += f" on the {task['target']} target (now: {v['target']})"
        self.notice = note

    def export_onnx(self, path) -> None:
        """Write the generator as ONNX: input ``x`` is the noise z (N, n_z), ``probs`` the
        generated points (N, 2)."""
        export_onnx(path, self.G, head="identity")

    def _move_to_backend(self) -> None:
        dev = self._device()
        for net, opt in ((self.G, self.opt_g), (self.D, self.opt_d)):
            net.to_backend(dev)
            opt.to_backend(dev)
