r"""A GAN on 16x16 handwritten digits (book 12.5), on NumPy or CuPy.

A generator :math:`G` maps noise :math:`z \sim \mathcal N(0, I)` to an image and a
discriminator :math:`D` outputs the logit of "this image is real".  They play

.. math:: \min_G \max_D\ \mathbb E_{x \sim p_r} \log D(x) + \mathbb E_z \log(1 - D(G(z))).

One step is one update of :math:`D` on a batch of real and a batch of generated digits, then
one update of :math:`G`.  With the *minimax* loss :math:`G` minimises
:math:`\mathbb E \log(1 - D(G(z)))`, whose gradient vanishes exactly when :math:`D` rejects the
fakes confidently (early in training); the *non-saturating* loss
:math:`-\mathbb E \log D(G(z))` (Goodfellow et al. 2014; not in the book) has the same fixed
point and a strong gradient there.  Both networks use Adam with :math:`\beta_1 = 0.5`, as in
DCGAN.

Two architectures: an MLP pair (fast on a CPU) and a small DCGAN-style conv pair built from
the engine's ``Conv2d`` / ``ConvTranspose2d`` (strided windows and one GEMM per layer), where
the CuPy backend pays.  Images are scaled to :math:`[-1, 1]` for training (the generator ends
in tanh) and back to :math:`[0, 1]` for display.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from engine import backend, optim
from engine.autodiff import Tensor, no_grad
from engine.data import EpochSampler, digits_split
from engine.gan_math import d_loss, g_loss
from engine.io.model_file import ModelFileError, read_model, save_model
from engine.io.onnx_export import export_onnx
from engine.labs.base import Action, Lab, Param, Snapshot
from engine.nn import BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Linear
from engine.nn import functional as F
from engine.nn.module import Module

SIZE = 16
PIXELS = SIZE * SIZE
N_SAMPLES = 64             # fixed-noise grid, 8 x 8
N_REAL = 16                # real digits shown for comparison
N_INTERP = 10
EVAL_EVERY = 25
N_EVAL = 256               # real and fake images scored for the D(x) histograms
HIST_BINS = 20
ARCHS = ("mlp", "conv")
LOSSES = ("non_saturating", "minimax")
INTERPOLATIONS = ("slerp", "linear")
SLOPE = 0.2                # LeakyReLU slope of the discriminator (DCGAN's choice)


@functools.lru_cache(maxsize=2)
def _digits(seed: int, n_train: int):
    """Training digits ``(n, 1, 16, 16)`` scaled to the generator's tanh range [-1, 1], and
    their labels; cached (read-only) so a rebuild that keeps the data does not redraw it."""
    X, y, _, _ = digits_split(n_train, 10, SIZE, 0.0, np.random.default_rng([seed, 11]))
    X = (2.0 * X[:, None] - 1.0).astype(np.float32)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


# -- the networks -----------------------------------------------------------------------------
def validate_gan_config(config) -> dict:
    """Check a GAN config (from code or a model file); ``ValueError`` says what is allowed."""
    if not isinstance(config, dict):
        raise ValueError("GAN config must be a JSON object")
    arch = config.get("arch")
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")

    def whole(name, lo, hi):
        v = config.get(name)
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not lo <= v <= hi:
            raise ValueError(f"{name} must be an integer {lo}-{hi}, got {v!r}")
        return int(v)

    out = {"arch": arch, "latent": whole("latent", 1, 512), "width": whole("width", 8, 2048),
           "size": whole("size", 4, 128)}
    if arch == "conv" and out["size"] % 4:
        raise ValueError(f"a conv GAN needs an image size divisible by 4, got {out['size']}")
    return out


def conv_channels(width: int) -> int:
    """Channels of the conv pair's first layer for a given ``width`` (width / 8, at least 4)."""
    return max(4, int(width) // 8)


class Generator(Module):
    r"""``z (N, latent)`` -> images ``(N, 1, size, size)`` in :math:`(-1, 1)` (tanh).

    MLP: latent -> width -> 2 width -> size^2, batch norm and ReLU after each hidden layer.
    Conv: a linear layer to a :math:`2C \times \frac s4 \times \frac s4` map, then two
    stride-2 transposed convolutions (kernel 4, padding 1) that double the side each time,
    :math:`\frac s4 \to \frac s2 \to s` (DCGAN's generator in miniature).
    """

    def __init__(self, arch, latent, width, size, generator):
        super().__init__()
        self.arch, self.size = arch, size
        if arch == "mlp":
            self.fc1 = Linear(latent, width, generator=generator)
            self.bn1 = BatchNorm1d(width)
            self.fc2 = Linear(width, 2 * width, generator=generator)
            self.bn2 = BatchNorm1d(2 * width)
            self.out = Linear(2 * width, size * size, generator=generator)
        else:
            c = conv_channels(width)
            self.c, self.s4 = c, size // 4
            self.fc1 = Linear(latent, 2 * c * self.s4 ** 2, generator=generator)
            self.bn1 = BatchNorm2d(2 * c)
            self.up1 = ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, generator=generator)
            self.bn2 = BatchNorm2d(c)
            self.out = ConvTranspose2d(c, 1, 4, stride=2, padding=1, generator=generator)

    def forward(self, z):
        n = z.shape[0]
        if self.arch == "mlp":
            h = F.relu(self.bn1(self.fc1(z)))
            h = F.relu(self.bn2(self.fc2(h)))
            return F.tanh(self.out(h)).reshape(n, 1, self.size, self.size)
        h = F.relu(self.bn1(self.fc1(z).reshape(n, 2 * self.c, self.s4, self.s4)))
        h = F.relu(self.bn2(self.up1(h)))
        return F.tanh(self.out(h))


class Discriminator(Module):
    r"""Images ``(N, 1, size, size)`` -> one logit each, ``(N,)``.

    MLP: size^2 -> 2 width -> width -> 1.  Conv: two stride-2 convolutions (kernel 4,
    padding 1) :math:`s \to \frac s2 \to \frac s4` with :math:`C` and :math:`2C` channels,
    then a linear layer.  LeakyReLU (slope 0.2) keeps a gradient flowing to :math:`G` through
    every unit.
    """

    def __init__(self, arch, width, size, generator):
        super().__init__()
        self.arch = arch
        if arch == "mlp":
            self.fc1 = Linear(size * size, 2 * width, generator=generator)
            self.fc2 = Linear(2 * width, width, generator=generator)
            self.out = Linear(width, 1, generator=generator)
        else:
            c = conv_channels(width)
            self.down1 = Conv2d(1, c, 4, stride=2, padding=1, generator=generator)
            self.down2 = Conv2d(c, 2 * c, 4, stride=2, padding=1, generator=generator)
            self.out = Linear(2 * c * (size // 4) ** 2, 1, generator=generator)

    def forward(self, x):
        n = x.shape[0]
        if self.arch == "mlp":
            h = F.leaky_relu(self.fc1(x.reshape(n, -1)), SLOPE)
            h = F.leaky_relu(self.fc2(h), SLOPE)
            return self.out(h).reshape(n)
        h = F.leaky_relu(self.down1(x), SLOPE)
        h = F.leaky_relu(self.down2(h), SLOPE)
        return self.out(h.reshape(n, -1)).reshape(n)


class DigitGAN(Module):
    """A generator and a discriminator, saved and loaded together (``generator.*`` and
    ``discriminator.*`` in the state dict) so a run can be continued from a file.

    Parameters
    ----------
    arch : {'mlp', 'conv'}
    latent : int
        Noise dimension.
    width : int
        The MLP pair's hidden layers have ``width`` and ``2 width`` units; the conv pair
        uses ``width // 8`` channels (min 4) and twice that.
    size : int
        Image side.
    generator : numpy.random.Generator, optional
        Source of the initial weights.
    """

    def __init__(self, arch="mlp", latent=32, width=128, size=SIZE, generator=None):
        super().__init__()
        self.config = validate_gan_config(dict(arch=arch, latent=latent, width=width,
                                               size=size))
        c = self.config
        gen = generator if generator is not None else np.random.default_rng()
        self.generator = Generator(c["arch"], c["latent"], c["width"], c["size"], gen)
        self.discriminator = Discriminator(c["arch"], c["width"], c["size"], gen)

    @classmethod
    def from_config(cls, config: dict, generator=None) -> "DigitGAN":
        return cls(generator=generator, **validate_gan_config(config))

    def forward(self, z):
        return self.generator(z)


# -- losses -----------------------------------------------------------------------------------
def interpolate(za: np.ndarray, zb: np.ndarray, n: int, kind: str) -> np.ndarray:
    r"""``n`` latent points from ``za`` to ``zb``.

    ``linear``: :math:`(1-t)z_a + t z_b`.  ``slerp``: along the great circle,
    :math:`\frac{\sin((1-t)\Omega)}{\sin\Omega} z_a + \frac{\sin(t\Omega)}{\sin\Omega} z_b`
    with :math:`\cos\Omega = \hat z_a \cdot \hat z_b` and the norm interpolated linearly.
    Gaussian noise in :math:`d` dimensions lies near the sphere of radius :math:`\sqrt d`;
    the midpoint of a straight line is shorter by about :math:`\sqrt 2`, a region the
    generator never saw in training, while slerp stays on the shell.
    """
    t = np.linspace(0.0, 1.0, n)[:, None]
    if kind == "linear":
        return (1 - t) * za + t * zb
    if kind != "slerp":
        raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, "
                         f"got {kind!r}")
    na, nb = np.linalg.norm(za), np.linalg.norm(zb)
    ua, ub = za / max(na, 1e-12), zb / max(nb, 1e-12)
    omega = float(np.arccos(np.clip(ua @ ub, -1.0, 1.0)))
    if omega < 1e-6:
        return (1 - t) * za + t * zb
    direction = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    return direction * ((1 - t) * na + t * nb)


# -- the lab ----------------------------------------------------------------------------------
class ImageGANLab(Lab):
    name = "image_gan"
    chapter = 12
    title = "GAN on handwritten digits"
    section = "12.5"
    summary = ("Two networks play a game: the generator turns random noise into images and "
               "the discriminator tries to tell them from real digits. Each improves against "
               "the other until the fakes look like digits. The 8x8 grid always decodes the "
               "same 64 noise vectors, so you watch the same samples sharpen. Watch D(real) "
               "and D(fake): when D wins too easily the minimax generator stops learning; the "
               "non-saturating loss keeps it going.")

    params = (
        Param("arch", "choice", "mlp", choices=ARCHS, rebuild=True, group="Model",
              label="architecture",
              help="mlp: dense generator and discriminator (fast on a CPU); conv: a small "
                   "DCGAN (transposed convolutions up, strided convolutions down) - use the "
                   "CuPy backend on a GPU for it."),
        Param("latent", "int", 32, 2, 128, rebuild=True, group="Model", symbol="d",
              label="noise dimension", help="Size of the noise vector z ~ N(0, I)."),
        Param("width", "int", 128, 32, 512, step=32, rebuild=True, group="Model",
              help="MLP pair: hidden layers of width and 2 x width units; conv pair: "
                   "width/8 channels in the first layer and twice that in the second."),
        Param("loss", "choice", "non_saturating", choices=LOSSES, group="Training",
              help="Generator loss: non_saturating -log D(G(z)) (strong gradient when D "
                   "wins), or the book's minimax log(1 - D(G(z))), whose gradient vanishes "
                   "then."),
        Param("lr", "float", 2e-4, 1e-6, 1e-2, log=True, group="Training", symbol="\u03b7",
              label="learning rate", help="Adam learning rate \u03b7 of both networks "
                                          "(\u03b2\u2081 = 0.5, \u03b2\u2082 = 0.999)."),
        Param("d_steps", "int", 1, 1, 5, group="Training", label="D steps per G step",
              help="Discriminator updates before each generator update."),
        Param("batch_size", "int", 64, 8, 256, group="Training", label="batch size",
              symbol="B", help="Real and generated images per update."),
        Param("n_train", "int", 5000, 500, 20000, step=500, rebuild=True, group="Data",
              label="training images", help="Number of generated training digits."),
        Param("interpolation", "choice", "slerp", choices=INTERPOLATIONS, group="View",
              help="Path between the two latent points: slerp follows the sphere where "
                   "Gaussian noise lives; linear cuts through its middle."),
    )
    actions = (
        Action("new_start", "New start point", (),
               "Draw a new noise vector for the left end of the interpolation strip."),
        Action("new_end", "New end point", (),
               "Draw a new noise vector for the right end of the interpolation strip."),
    )

    # -- build ------------------------------------------------------------------------------------
    def _build(self) -> None:
        v = self.values
        self.Xtr, self.ytr = _digits(self.seed, v["n_train"])
        self.model = DigitGAN(v["arch"], v["latent"], v["width"], SIZE, generator=self.rng)
        view = np.random.default_rng([self.seed, 7])     # display draws, apart from training
        self.fixed_z = view.standard_normal((N_SAMPLES, v["latent"])).astype(np.float32)
        self.z_ends = view.standard_normal((2, v["latent"])).astype(np.float32)
        self._view_rng = view
        self._start_training()

    def _start_training(self) -> None:
        self._to_device()
        self._make_optimizers()
        self.hist = {k: [] for k in ("step", "loss_d", "loss_g", "d_real", "d_fake",
                                     "d_accuracy")}
        self._run = {k: [] for k in self.hist if k != "step"}
        self.alerts: list[str] = []
        self.diverged = False
        self.sampler = EpochSampler(self.rng)
        self._evaluate(self.step_count)

    def _make_optimizers(self):
        lr = self.values["lr"]
        # Batch-norm running estimates are parameters without gradients: not optimised.
        self.opt_g = optim.Adam([p for p in self.model.generator.parameters()
                                 if p.requires_grad], lr=lr, betas=(0.5, 0.999))
        self.opt_d = optim.Adam([p for p in self.model.discriminator.parameters()
                                 if p.requires_grad], lr=lr, betas=(0.5, 0.999))

    def _to_device(self) -> None:
        dev = self._device()
        self.model.to_backend(dev)
        self.Xtr_dev = backend.get_xp(dev).asarray(self.Xtr)

    def work_size(self) -> float:
        """Forward multiply-adds of one step (G once, D on real and fake)."""
        v = self.values
        w, d = v["width"], v["latent"]
        if v["arch"] == "mlp":
            g = d * w + 2 * w * w + 2 * w * PIXELS
            dis = PIXELS * 2 * w + 2 * w * w + w
        else:
            c, s2, s4 = conv_channels(w), (SIZE // 2) ** 2, (SIZE // 4) ** 2
            g = d * 2 * c * s4 + s2 * 16 * 2 * c * c + SIZE ** 2 * 16 * c
            dis = s2 * 16 * c + s4 * 16 * c * 2 * c + 2 * c * s4
        return float(v["batch_size"] * (g + 2 * dis))

    def _on_param(self, name, old):
        if name == "lr" and hasattr(self, "opt_g"):
            for opt in (self.opt_g, self.opt_d):
                for g in opt.param_groups:
                    g["lr"] = self.values["lr"]

    # -- training ---------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.diverged

    @property
    def epoch(self) -> int:
        return self.sampler.epoch

    def _batch(self) -> np.ndarray:
        """Indices of the next mini-batch: epochs of seeded permutations."""
        return self.sampler.take(len(self.Xtr), self.values["batch_size"])

    def _noise(self, n: int):
        """Noise on the model's device, drawn on the host so every backend sees the same z."""
        xp = backend.xp_of(self.Xtr_dev)
        return Tensor(xp.asarray(self.rng.standard_normal((n, self.values["latent"]))
                                 .astype(np.float32)))

    def _step(self) -> None:
        v = self.values
        G, D = self.model.generator, self.model.discriminator
        xp = backend.xp_of(self.Xtr_dev)
        step = self.step_count + 1
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(v["d_steps"]):
                real = Tensor(self.Xtr_dev[xp.asarray(self._batch())])
                with no_grad():
                    fake = G(self._noise(real.shape[0]))
                self.opt_d.zero_grad()
                real_logits, fake_logits = D(real), D(fake)
                loss_d = d_loss(real_logits, fake_logits, v["loss"])
                ld = float(loss_d.item())
                if not math.isfinite(ld):
                    return self._diverge(step, "discriminator", ld)
                loss_d.backward()
                self.opt_d.step()
            self.opt_g.zero_grad()
            fake_logits_g = D(G(self._noise(v["batch_size"])))
            loss_g = g_loss(fake_logits_g, v["loss"])
            lg = float(loss_g.item())
            if not math.isfinite(lg):
                return self._diverge(step, "generator", lg)
            loss_g.backward()
            self.opt_g.step()    # D's gradients from this pass are cleared before D's update
        pr = backend.to_numpy(F.sigmoid(real_logits.detach()).data)
        pf = backend.to_numpy(F.sigmoid(fake_logits.detach()).data)
        run = self._run
        run["loss_d"].append(ld)
        run["loss_g"].append(lg)
        run["d_real"].append(float(pr.mean()))
        run["d_fake"].append(float(pf.mean()))
        run["d_accuracy"].append(float(0.5 * ((pr > 0.5).mean() + (pf < 0.5).mean())))
        if step % EVAL_EVERY == 0:
            self._evaluate(step)

    def _diverge(self, step, who, value):
        self.diverged = True
        self.alerts.append(f"Training diverged at step {step} (the {who} loss is {value:g}). "
                           "Likely cause: the learning rate is too high; lower \u03b7.")

    def _evaluate(self, step: int) -> None:
        """Close a point of the curves and score fresh real and fake images for the D(x)
        histograms (fixed draws, so the training stream is not disturbed)."""
        ev = np.random.default_rng([self.seed, step, 3])
        xp = backend.xp_of(self.Xtr_dev)
        idx = ev.choice(len(self.Xtr), min(N_EVAL, len(self.Xtr)), replace=False)
        z = xp.asarray(ev.standard_normal((N_EVAL, self.values["latent"])).astype(np.float32))
        D, G = self.model.discriminator, self.model.generator
        G.eval()
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            fake = G(Tensor(z))
            pr = F.sigmoid(D(Tensor(self.Xtr_dev[xp.asarray(idx)]))).numpy()
            pf = F.sigmoid(D(fake)).numpy()
        G.train()
        edges = np.linspace(0.0, 1.0, HIST_BINS + 1)
        self.d_hist = {"edges": edges, "real": np.histogram(pr, edges)[0],
                       "fake": np.histogram(pf, edges)[0]}
        if not self._run["loss_d"]:
            # Nothing trained since the last point: describe the current networks instead.
            self._run["d_real"], self._run["d_fake"] = [float(pr.mean())], [float(pf.mean())]
            self._run["d_accuracy"] = [float(0.5 * ((pr > 0.5).mean() + (pf < 0.5).mean()))]
            with no_grad(), np.errstate(over="ignore", invalid="ignore"):
                lr_, lf_ = D(Tensor(self.Xtr_dev[xp.asarray(idx)])), D(fake)
                self._run["loss_d"] = [float(d_loss(lr_, lf_, self.values["loss"]).item())]
                self._run["loss_g"] = [float(g_loss(lf_, self.values["loss"]).item())]
        h = self.hist
        h["step"].append(step)
        for k, vals in self._run.items():
            h[k].append(float(np.mean(vals)))
            self._run[k] = []

    def history(self) -> dict:
        return {k: list(map(float, v)) for k, v in self.hist.items()}

    # -- snapshot ---------------------------------------------------------------------------------
    def _generate(self, z: np.ndarray) -> np.ndarray:
        """Images ``(n, 16, 16)`` in [0, 1] for noise ``(n, latent)``."""
        xp = backend.xp_of(self.Xtr_dev)
        G = self.model.generator
        G.eval()          # running batch-norm statistics: each image independent of the rest
        try:
            with no_grad(), np.errstate(over="ignore", invalid="ignore"):
                out = G(Tensor(xp.asarray(np.asarray(z, np.float32)))).numpy()
        finally:
            G.train()
        return np.clip((out[:, 0] + 1.0) / 2.0, 0.0, 1.0)

    def _snapshot(self) -> Snapshot:
        v = self.values
        path = interpolate(self.z_ends[0].astype(np.float64), self.z_ends[1].astype(np.float64),
                           N_INTERP, v["interpolation"])
        imgs = self._generate(np.concatenate([self.fixed_z, path]))
        h = self.hist
        data = {
            "samples": imgs[:N_SAMPLES], "interp_images": imgs[N_SAMPLES:],
            "interp_norms": np.linalg.norm(path, axis=1),
            "real": (self.Xtr[:N_REAL, 0] + 1.0) / 2.0,
            "curves": {k: np.asarray(val, np.float64) for k, val in h.items()},
            "d_hist": self.d_hist,
        }
        scalars = {"loss": h["loss_g"][-1], "loss_d": h["loss_d"][-1],
                   "loss_g": h["loss_g"][-1], "d_real": h["d_real"][-1],
                   "d_fake": h["d_fake"][-1], "d_accuracy": h["d_accuracy"][-1],
                   "epoch": self.epoch, "parameters": self.model.num_parameters(),
                   "sample_mean": float(imgs[:N_SAMPLES].mean())}
        text = {"equation": self._equation_html(), "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text, self.alerts)

    def _equation_html(self) -> str:
        v = self.values
        h = self.hist
        g = ("L<sub>G</sub> = \u2212E<sub>z</sub> log D(G(z)) &nbsp;(non-saturating)"
             if v["loss"] == "non_saturating"
             else "L<sub>G</sub> = E<sub>z</sub> log(1 \u2212 D(G(z))) &nbsp;(minimax)")
        return (
            "<p>min<sub>G</sub> max<sub>D</sub> E<sub>x~p<sub>r</sub></sub> log D(x) + "
            "E<sub>z~N(0,I)</sub> log(1 \u2212 D(G(z)))</p>"
            "<p>L<sub>D</sub> = \u2212E log D(x) \u2212 E log(1 \u2212 D(G(z))) = "
            f"{h['loss_d'][-1]:.4g}</p>"
            f"<p>{g} = {h['loss_g'][-1]:.4g}</p>"
            f"<p>D(real) = {h['d_real'][-1]:.3f}, D(fake) = {h['d_fake'][-1]:.3f}, "
            f"D accuracy {h['d_accuracy'][-1]:.1%}</p>"
            "<p>For a fixed G the best D is D*(x) = p<sub>r</sub>(x) / (p<sub>r</sub>(x) + "
            "p<sub>g</sub>(x)); at the game's end p<sub>g</sub> = p<sub>r</sub>, D* = \u00bd "
            "and L<sub>D</sub> = 2 log 2 = 1.386.</p>"
            f"<p>Adam \u03b7 = {v['lr']:.3g}, \u03b2 = (0.5, 0.999); step {self.step_count:,},"
            f" epoch {self.epoch}</p>")

    # -- actions ----------------------------------------------------------------------------------
    def action_new_start(self) -> None:
        self.z_ends[0] = self._view_rng.standard_normal(self.values["latent"])

    def action_new_end(self) -> None:
        self.z_ends[1] = self._view_rng.standard_normal(self.values["latent"])

    # -- model files ------------------------------------------------------------------------------
    def save_model(self, path) -> None:
        hyper = {k: self.values[k] for k in ("loss", "lr", "d_steps", "batch_size",
                                            "n_train")}
        save_model(path, self.model, {"kind": "image_gan", **self.model.config},
                   hyperparameters={"optimizer": "adam", "betas": [0.5, 0.999], **hyper},
                   task={"task": "generation", "dataset": "digits",
                         "output": [1, SIZE, SIZE], "range": [-1, 1]},
                   seed=self.seed, step=self.step_count, lab=self.name)

    def load_model(self, path) -> None:
        """Load a GAN file (both networks) and continue training from its step."""
        mf = read_model(path, expect=("image_gan", "digit GANs"))
        cfg = mf.model.config
        if cfg["size"] != SIZE:
            raise ModelFileError(f"this lab draws {SIZE}x{SIZE} digits; the GAN makes "
                                 f"{cfg['size']}x{cfg['size']} images")
        latent_changed = cfg["latent"] != self.values["latent"]
        self.model = mf.model
        self.values.update(arch=cfg["arch"], latent=cfg["latent"], width=cfg["width"])
        if latent_changed:
            view = np.random.default_rng([self.seed, 7])
            self.fixed_z = view.standard_normal((N_SAMPLES, cfg["latent"])).astype(np.float32)
            self.z_ends = view.standard_normal((2, cfg["latent"])).astype(np.float32)
            self._view_rng = view
        self.step_count = mf.step
        self._start_training()
        self.notice = f"loaded {cfg['arch']} GAN trained for {mf.step:,} steps"

    def export_onnx(self, path) -> None:
        """Write the generator as ONNX: ``z`` (N, latent) -> ``images`` (N, 1, 16, 16) in
        (-1, 1) and ``pixels`` in [0, 1]; batch norm on its running statistics.  The
        discriminator is not exported (save a model file to keep both networks)."""
        export_onnx(path, self.model)

    def _move_to_backend(self) -> None:
        self._to_device()
        dev = self._device()
        self.opt_g.to_backend(dev)
        self.opt_d.to_backend(dev)
