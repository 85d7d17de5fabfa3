r"""Autoencoders and the VAE latent space (book 12.2-12.4) on 16x16 handwritten digits.

Three models share one MLP encoder :math:`f_\theta` and decoder :math:`g_\phi` with a 2-D code,
so every code is a point on the screen:

* **ae** - :math:`z = f_\theta(x)`, :math:`\hat x = \sigma(g_\phi(z))`, trained on the squared
  error (the book drops the square, erratum E9);
* **dae** - the same network fed a corrupted :math:`\tilde x` and asked for the clean
  :math:`x`, so it learns to project noisy digits back onto the digits;
* **vae** - the encoder outputs :math:`\mu(x)` and :math:`\log\sigma^2(x)`; a code is sampled
  as :math:`z = \mu + \sigma\odot\epsilon` and the loss is the negative ELBO with a weight
  :math:`\beta` on its KL term.

One step is one Adam update on a mini-batch.  Every ``EVAL_EVERY`` steps (every
``EARLY_EVAL_EVERY`` before that, so the curves start at once) the held-out digits are
encoded (their :math:`\mu`), which gives the latent scatter and the nearest-centroid
accuracy: how well the unsupervised codes separate the ten classes.

Digits are centred on their centre of mass before training, as MNIST's are: the generator
shifts each digit by up to 1.6 pixels, and with only two latent numbers an autoencoder would
otherwise spend them on *where* the digit is rather than *which* digit it is (measured: the
VAE's nearest-centroid accuracy is about 45 % without centring, 84 % with it).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from engine import backend, optim
from engine import vae_math as vm
from engine.autodiff import Tensor, no_grad
from engine.data import EpochSampler, center_of_mass_align, digits_split
from engine.io.model_file import ModelFileError, read_model, save_model
from engine.io.onnx_export import export_onnx
from engine.labs.base import Action, Lab, Param, Snapshot
from engine.nn import MLP
from engine.nn import functional as F
from engine.nn.module import Module

SIZE = 16
PIXELS = SIZE * SIZE
CLASSES = 10
LATENT = 2
N_TEST = 500
N_CENTROID = 2000          # training codes used for the class centroids
EVAL_EVERY = 50
EARLY_EVAL_EVERY = 10
N_RECON = 8                # digits in the reconstruction strip
GRID = 12                  # decoded grid is GRID x GRID
N_INTERP = 10              # images along the interpolation path
MODELS = ("ae", "dae", "vae")
AE_ACTIVATIONS = ("relu", "tanh", "elu", "softplus")
MAX_HIDDEN_LAYERS = 3
#: Half-width of the VAE's decoded grid: +-3 standard deviations of the prior N(0, I).
VAE_BOX = 3.0
#: Range of the latent sliders: the VAE's codes stay near the prior, an AE's wander further.
Z_RANGE = 8.0


# -- data -------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _digits(seed: int, n_train: int, center: bool):
    """Flattened train/test digits for a seed, cached: a rebuild that keeps the data (a new
    architecture, say) should not redraw 5,000 digits.  Arrays are read-only."""
    Xtr, ytr, Xte, yte = digits_split(n_train, N_TEST, SIZE, 0.0, np.random.default_rng(seed))
    if center:
        Xtr, Xte = center_of_mass_align(Xtr), center_of_mass_align(Xte)
    out = (Xtr.reshape(n_train, PIXELS), ytr, Xte.reshape(N_TEST, PIXELS), yte)
    for a in out:
        a.flags.writeable = False
    return out


# -- the model --------------------------------------------------------------------------------
def parse_hidden(text: str) -> str:
    """``"256, 128"`` -> ``"256,128"``: 1-3 hidden layers of 8-1024 units."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    if not 1 <= len(parts) <= MAX_HIDDEN_LAYERS:
        raise ValueError(f"give 1-{MAX_HIDDEN_LAYERS} hidden widths, e.g. 256,128")
    for p in parts:
        if not p.isdigit() or not 8 <= int(p) <= 1024:
            raise ValueError(f"each hidden width must be an integer 8-1024, got {p!r}")
    return ",".join(str(int(p)) for p in parts)


def validate_autoencoder_config(config) -> dict:
    """Check an autoencoder config (from code or a model file); ``ValueError`` names the
    field and what is allowed."""
    if not isinstance(config, dict):
        raise ValueError("autoencoder config must be a JSON object")
    model = config.get("model")
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")

    def whole(v, lo, hi):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and lo <= v <= hi

    inp, latent = config.get("input"), config.get("latent")
    if not whole(inp, 1, 65536):
        raise ValueError(f"input must be an integer 1-65536 (pixels), got {inp!r}")
    if not whole(latent, 1, 64):
        raise ValueError(f"latent must be an integer 1-64, got {latent!r}")
    hidden = config.get("hidden")
    if (not isinstance(hidden, (list, tuple)) or not 1 <= len(hidden) <= MAX_HIDDEN_LAYERS
            or not all(whole(h, 1, 4096) for h in hidden)):
        raise ValueError(f"hidden must list 1-{MAX_HIDDEN_LAYERS} widths 1-4096, "
                         f"got {hidden!r}")
    act = config.get("activation", "relu")
    if act not in AE_ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(AE_ACTIVATIONS)}, "
                         f"got {act!r}")
    return {"model": model, "input": int(inp), "hidden": [int(h) for h in hidden],
            "latent": int(latent), "activation": act}


class Autoencoder(Module):
    r"""MLP encoder and decoder; a VAE's encoder has two heads, :math:`\mu` and
    :math:`\log\sigma^2`.

    ``encoder``: input -> hidden... -> latent (x2 for a VAE); ``decoder``: latent ->
    reversed hidden -> input, producing *logits* (the sigmoid turns them into pixels).

    Parameters
    ----------
    model : {'ae', 'dae', 'vae'}
    input : int
        Pixels per image (256 for 16x16).
    hidden : sequence of int
        Encoder widths; the decoder mirrors them.
    latent : int
        Code size :math:`d`.
    activation : str
        Hidden activation, one of :data:`AE_ACTIVATIONS`.
    generator : numpy.random.Generator, optional
    """

    def __init__(self, model="vae", input=PIXELS, hidden=(256, 128), latent=LATENT,
                 activation="relu", generator=None):
        super().__init__()
        self.config = validate_autoencoder_config(dict(
            model=model, input=input, hidden=list(hidden), latent=latent,
            activation=activation))
        c = self.config
        gen = generator if generator is not None else np.random.default_rng()
        heads = 2 if c["model"] == "vae" else 1
        # He initialisation keeps ReLU activations from shrinking layer by layer.
        scheme = "he" if c["activation"] == "relu" else "xavier"
        self.encoder = MLP([c["input"]] + c["hidden"] + [heads * c["latent"]],
                           c["activation"], init=scheme, generator=gen)
        self.decoder = MLP([c["latent"]] + c["hidden"][::-1] + [c["input"]],
                           c["activation"], init=scheme, generator=gen)

    @classmethod
    def from_config(cls, config: dict, generator=None) -> "Autoencoder":
        return cls(generator=generator, **validate_autoencoder_config(config))

    @property
    def variational(self) -> bool:
        return self.config["model"] == "vae"

    def encode(self, x):
        r"""``(mu, logvar)`` of shape ``(N, d)``; ``logvar`` is ``None`` for a plain AE."""
        h = self.encoder(x)
        d = self.config["latent"]
        if self.variational:
            return h[:, :d], h[:, d:]
        return h, None

    def decode(self, z):
        """Pixel logits ``(N, input)`` of codes ``(N, d)``."""
        return self.decoder(z)

    def forward(self, x, rng=None):
        """``(logits, mu, logvar, z)``; a VAE samples ``z`` with ``rng`` (its mean without)."""
        mu, logvar = self.encode(x)
        z = mu
        if self.variational and rng is not None:
            z = vm.reparameterize(mu, logvar, rng)
        return self.decode(z), mu, logvar, z

    def macs(self) -> int:
        """Multiply-adds of one forward pass of one image."""
        return sum(int(lin.weight.data.size) for m in (self.encoder, self.decoder)
                   for lin in m.layers)


# -- the lab ----------------------------------------------------------------------------------
class AutoencoderLab(Lab):
    name = "autoencoder"
    chapter = 12
    title = "Autoencoders and the VAE latent space"
    section = "12.2-12.4"
    summary = ("An autoencoder squeezes each 16x16 digit through two numbers and rebuilds it. "
               "Those two numbers are a point on the plane, so you can watch the digits sort "
               "themselves into clusters without ever seeing a label. A plain AE leaves holes "
               "between its clusters; a VAE encodes a small Gaussian cloud instead of a point "
               "and pays a KL price for straying from N(0, I), so the whole plane decodes to "
               "digit-like images. The denoising AE learns to undo noise you add.")

    params = (
        Param("model", "choice", "vae", choices=MODELS, rebuild=True, group="Model",
              help="ae: plain autoencoder (squared error); dae: denoising autoencoder, fed "
                   "corrupted digits and scored against the clean ones; vae: variational "
                   "autoencoder (negative ELBO)."),
        Param("hidden", "text", "256,128", parse=parse_hidden, rebuild=True, group="Model",
              choices=("64", "512,256,128"), label="hidden widths",
              hint=f"comma-separated widths of 1-{MAX_HIDDEN_LAYERS} hidden layers, each 8-1024",
              help="Encoder widths 256 -> ... -> 2; the decoder mirrors them."),
        Param("activation", "choice", "relu", choices=AE_ACTIVATIONS, rebuild=True,
              group="Model", symbol="\u03c6", help="Hidden activation of encoder and decoder."),
        Param("beta", "float", 1.0, 0.0, 4.0, step=0.05, group="Model", symbol="\u03b2",
              help="VAE only: weight of the KL term. \u03b2 = 1 is the ELBO; smaller \u03b2 "
                   "gives sharper digits and a less Gaussian latent space."),
        Param("corruption", "choice", "gaussian", choices=vm.CORRUPTIONS, group="Denoising",
              help="How the DAE's inputs are corrupted: additive Gaussian noise, masking "
                   "(pixels set to 0) or salt-and-pepper (pixels set to 0 or 1)."),
        Param("noise_level", "float", 0.5, 0.0, 1.0, step=0.05, group="Denoising",
              symbol="\u03c3", label="noise level",
              help="Noise std. dev. \u03c3 (gaussian) or fraction of pixels hit (masking, "
                   "salt-and-pepper). The DAE trains on it; every model is shown it."),
        Param("n_train", "int", 5000, 500, 20000, step=500, rebuild=True, group="Data",
              label="training images", help="Number of generated training digits."),
        Param("center", "bool", True, rebuild=True, group="Data", label="centre digits",
              help="Shift each digit to put its centre of mass in the middle (as MNIST does). "
                   "Off, the 2-D code also has to encode position and classes mix."),
        Param("lr", "float", 2e-3, 1e-5, 0.1, log=True, group="Training", symbol="\u03b7",
              label="learning rate", help="Adam learning rate \u03b7."),
        Param("batch_size", "int", 128, 8, 512, group="Training", label="batch size",
              symbol="B", help="Digits per update."),
        Param("z1", "float", 0.0, -Z_RANGE, Z_RANGE, step=0.05, group="Latent explorer",
              symbol="z\u2081", help="First latent coordinate of the decoded digit (or click "
                                     "the latent plane)."),
        Param("z2", "float", 0.0, -Z_RANGE, Z_RANGE, step=0.05, group="Latent explorer",
              symbol="z\u2082", help="Second latent coordinate of the decoded digit."),
        Param("digit_a", "int", 1, 0, 9, group="Latent explorer", label="interpolate from",
              help="Class of the test digit the interpolation starts at."),
        Param("digit_b", "int", 4, 0, 9, group="Latent explorer", label="interpolate to",
              help="Class of the test digit the interpolation ends at."),
    )
    actions = (
        Action("set_latent", "Decode this point", ("z1", "z2"),
               "Set the latent point (z\u2081, z\u2082) that is decoded live."),
        Action("new_pair", "New interpolation pair", (),
               "Pick other test digits of the two chosen classes to interpolate between."),
    )

    def __init__(self, seed: int = 0, backend_name: str = "auto", **values):
        self.pair_pick = 0
        super().__init__(seed, backend_name, **values)

    # -- build ------------------------------------------------------------------------------------
    def _build(self) -> None:
        v = self.values
        self.Xtr, self.ytr, self.Xte, self.yte = _digits(self.seed, v["n_train"], v["center"])
        self.model = Autoencoder(v["model"], PIXELS, [int(h) for h in v["hidden"].split(",")],
                                 LATENT, v["activation"], generator=self.rng)
        self._start_training()

    def _start_training(self) -> None:
        """Device arrays, optimizer, histories and a first evaluation for ``self.model``."""
        self._to_device()
        self.optimizer = optim.Adam(list(self.model.parameters()), lr=self.values["lr"])
        self.hist = {k: [] for k in ("step", "loss", "recon", "kl", "test_mse",
                                     "latent_accuracy")}
        self._run = {"loss": [], "recon": [], "kl": []}   # batch values since the last eval
        self.alerts: list[str] = []
        self.diverged = False
        self.sampler = EpochSampler(self.rng)
        # Fixed draws for the panels, so the pictures change only because the model does.
        show = np.random.default_rng(self.seed + 1)
        self._recon_idx = np.array([int(np.flatnonzero(self.yte == k)[0])
                                    for k in range(N_RECON)])
        self._recon_noise = show.integers(0, 2**31)
        self._probe_eps = show.standard_normal(LATENT).astype(np.float32)
        self._evaluate(self.step_count)

    def _to_device(self) -> None:
        dev = self._device()
        self.model.to_backend(dev)
        xp = backend.get_xp(dev)
        self.Xtr_dev, self.Xte_dev = xp.asarray(self.Xtr), xp.asarray(self.Xte)

    def work_size(self) -> float:
        """Forward multiply-adds of one batch."""
        sizes = [int(h) for h in self.values["hidden"].split(",")]
        enc = [PIXELS] + sizes + [2 * LATENT]
        macs = 2 * sum(a * b for a, b in zip(enc[:-1], enc[1:]))
        return float(self.values["batch_size"] * macs)

    def _on_param(self, name, old):
        if name == "lr" and hasattr(self, "optimizer"):
            for g in self.optimizer.param_groups:
                g["lr"] = self.values["lr"]
        elif name in ("digit_a", "digit_b"):
            self.pair_pick = 0

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

    def _losses(self, x, rng):
        """``(total, recon, kl)`` of a clean batch ``x`` for the current model (kl is None for
        AE/DAE), with the DAE's corruption and the VAE's sampling drawn from ``rng``."""
        v = self.values
        model = self.model
        if model.variational:
            logits, mu, logvar, _ = model(Tensor(x), rng=rng)
            return vm.vae_loss(x, logits, mu, logvar, v["beta"])
        inp = x
        if v["model"] == "dae":
            inp = vm.corrupt(x, v["corruption"], v["noise_level"], rng)
        logits, _, _, _ = model(Tensor(inp))
        recon = vm.reconstruction_mse(x, F.sigmoid(logits))
        return recon, recon, None

    def _step(self) -> None:
        idx = self._batch()
        xp = backend.xp_of(self.Xtr_dev)
        x = self.Xtr_dev[xp.asarray(idx)]
        step = self.step_count + 1
        with np.errstate(over="ignore", invalid="ignore"):
            self.optimizer.zero_grad()
            total, recon, kl = self._losses(x, self.rng)
            value = float(total.item())
            if not math.isfinite(value):
                self.diverged = True
                self.alerts.append(f"Training diverged at step {step} (loss = {value:g}). "
                                   "Likely cause: the learning rate is too high; lower \u03b7.")
                return
            total.backward()
            self.optimizer.step()
        self._run["loss"].append(value)
        self._run["recon"].append(float(recon.item()))
        self._run["kl"].append(float(kl.item()) if kl is not None else math.nan)
        if step % EVAL_EVERY == 0 or (step < EVAL_EVERY and step % EARLY_EVAL_EVERY == 0):
            self._evaluate(step)

    def _codes(self, X_dev) -> np.ndarray:
        """Latent means of many images (NumPy), in chunks to bound memory."""
        out = []
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            for i in range(0, len(X_dev), 1000):
                out.append(backend.to_numpy(self.model.encode(Tensor(X_dev[i:i + 1000]))[0]
                                            .data))
        return np.concatenate(out).astype(np.float64)

    def _decode(self, z) -> np.ndarray:
        """Images ``(n, 16, 16)`` in [0, 1] of codes ``(n, 2)``."""
        xp = backend.xp_of(self.Xte_dev)
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            logits = self.model.decode(Tensor(xp.asarray(np.asarray(z, np.float32))))
            return F.sigmoid(logits).numpy().reshape(-1, SIZE, SIZE)

    def _reconstruct(self, X_dev) -> np.ndarray:
        """Reconstructions (decoder of the mean code) of device images, flattened NumPy."""
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            mu, _ = self.model.encode(Tensor(X_dev))
            return F.sigmoid(self.model.decode(mu)).numpy()

    def _evaluate(self, step: int) -> None:
        self.z_test = self._codes(self.Xte_dev)
        z_train = self._codes(self.Xtr_dev[:N_CENTROID])
        acc = vm.nearest_centroid_accuracy(z_train, self.ytr[:N_CENTROID], self.z_test,
                                           self.yte, CLASSES)
        rec = self._reconstruct(self.Xte_dev)
        h = self.hist
        h["step"].append(step)
        h["latent_accuracy"].append(acc)
        h["test_mse"].append(float(np.mean((rec - self.Xte) ** 2)))
        if not self._run["loss"]:
            # Nothing trained since the last point (a fresh or loaded model): score the test
            # set with its own fixed draws, so evaluating never moves the training stream.
            with no_grad(), np.errstate(over="ignore", invalid="ignore"):
                t, r, k = self._losses(self.Xte_dev, np.random.default_rng(self.seed + 2))
            self._run = {"loss": [float(t.item())], "recon": [float(r.item())],
                         "kl": [float(k.item()) if k is not None else math.nan]}
        for k in ("loss", "recon", "kl"):
            h[k].append(float(np.mean(self._run[k])))
            self._run[k] = []

    def history(self) -> dict:
        return {k: list(map(float, v)) for k, v in self.hist.items()}

    # -- snapshot ---------------------------------------------------------------------------------
    def latent_box(self) -> tuple[float, float, float, float]:
        """``(z1_min, z1_max, z2_min, z2_max)`` of the decoded grid: the prior's +-3 sigma for
        a VAE; for an AE, where codes can sit anywhere, the codes' 1-99 % range plus margin."""
        if self.model.variational:
            return (-VAE_BOX, VAE_BOX, -VAE_BOX, VAE_BOX)
        lo, hi = np.nanpercentile(self.z_test, [1, 99], axis=0)
        pad = 0.1 * np.maximum(hi - lo, 1e-3)
        lo, hi = lo - pad, hi + pad
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            return (-VAE_BOX, VAE_BOX, -VAE_BOX, VAE_BOX)
        return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))

    def _grid(self, box):
        """Decoded images over a GRID x GRID lattice of the box, row 0 = largest z2 (top)."""
        z1 = np.linspace(box[0], box[1], GRID)
        z2 = np.linspace(box[3], box[2], GRID)
        zz = np.stack(np.meshgrid(z1, z2), -1).reshape(-1, 2)
        return self._decode(zz), zz

    def _pair(self) -> tuple[int, int]:
        """Test indices of the interpolation's two end digits."""
        out = []
        for k, cls in enumerate((self.values["digit_a"], self.values["digit_b"])):
            members = np.flatnonzero(self.yte == cls)
            out.append(int(members[(self.pair_pick + k) % len(members)]))
        return out[0], out[1]

    def _snapshot(self) -> Snapshot:
        v = self.values
        model = self.model
        box = self.latent_box()
        grid, grid_z = self._grid(box)
        z_point = np.array([[v["z1"], v["z2"]]], np.float32)
        ia, ib = self._pair()
        za, zb = self.z_test[ia], self.z_test[ib]
        t = np.linspace(0.0, 1.0, N_INTERP)[:, None]
        path = (1 - t) * za + t * zb                       # straight line in latent space
        decoded = self._decode(np.concatenate([z_point, path]))

        # Reconstruction strip: clean digits, the corrupted input (DAE; others see clean),
        # and what the model returns.  The noise is a fixed draw scaled by the live level.
        clean = self.Xte[self._recon_idx]
        noisy = backend.to_numpy(vm.corrupt(clean, v["corruption"], v["noise_level"],
                                            np.random.default_rng(self._recon_noise)))
        shown_in = noisy if v["model"] == "dae" else clean
        xp = backend.xp_of(self.Xte_dev)
        out = self._reconstruct(xp.asarray(shown_in))
        noisy_out = self._reconstruct(xp.asarray(noisy))

        # Reparameterisation of the first interpolation digit, one fixed epsilon.
        probe = {"mu": za}
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            mu, logvar = model.encode(Tensor(self.Xte_dev[ia:ia + 1]))
            if logvar is not None:
                lv = backend.to_numpy(logvar.data)[0].astype(np.float64)
                sig = np.exp(0.5 * lv)
                probe.update(logvar=lv, sigma=sig, eps=self._probe_eps.astype(np.float64),
                             z=za + sig * self._probe_eps,
                             kl=float(vm.kl_std_normal(mu, logvar).numpy()[0]))
                # The 2-sigma ellipse of q(z|x): where 86 % of this digit's samples land.
                angle = np.linspace(0.0, 2 * np.pi, 65)[:, None]
                probe["ellipse"] = za + 2.0 * sig * np.concatenate(
                    [np.cos(angle), np.sin(angle)], 1)

        h = self.hist
        curves = {k: np.asarray(val, np.float64) for k, val in h.items()}
        data = {
            "model": v["model"],
            "latent": self.z_test, "labels": self.yte,
            "centroids": vm.class_centroids(self.z_test, self.yte, CLASSES),
            "grid_images": grid, "grid_z": grid_z, "grid_box": np.asarray(box),
            "grid_size": GRID,
            "z_point": z_point[0].astype(np.float64), "decoded": decoded[0],
            "interp_images": decoded[1:], "interp_path": path,
            "interp_labels": np.array([v["digit_a"], v["digit_b"]]),
            "recon_clean": clean.reshape(-1, SIZE, SIZE),
            "recon_input": shown_in.reshape(-1, SIZE, SIZE),
            "recon_output": out.reshape(-1, SIZE, SIZE),
            "probe": probe, "curves": curves,
        }
        noisy_mse = float(np.mean((noisy - clean) ** 2))
        denoised_mse = float(np.mean((noisy_out - clean) ** 2))
        scalars = {"loss": h["loss"][-1], "recon": h["recon"][-1],
                   "test_mse": h["test_mse"][-1],
                   "latent_centroid_accuracy": h["latent_accuracy"][-1],
                   "noisy_mse": noisy_mse, "denoised_mse": denoised_mse,
                   "epoch": self.epoch, "parameters": model.num_parameters()}
        if model.variational:
            scalars["kl"] = h["kl"][-1]
        text = {"equation": self._equation_html(probe, noisy_mse, denoised_mse),
                "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text, self.alerts)

    def _equation_html(self, probe, noisy_mse, denoised_mse) -> str:
        v = self.values
        h = self.hist
        acc = h["latent_accuracy"][-1]
        tail = (f"<p>step {self.step_count:,}, epoch {self.epoch}: test MSE "
                f"{h['test_mse'][-1]:.4g} per pixel; nearest-centroid accuracy of the test "
                f"codes {acc:.1%}</p>")

        def vec(a):
            return "(" + ", ".join(f"{x:.3g}" for x in a) + ")"

        if v["model"] == "vae":
            b = v["beta"]
            rec, kl = h["recon"][-1], h["kl"][-1]
            return (
                "<p>q<sub>\u03c6</sub>(z|x) = N(\u03bc(x), diag \u03c3\u00b2(x)), "
                "p(z) = N(0, I)</p>"
                "<p><b>reparameterisation</b>: z = \u03bc + \u03c3 \u2299 \u03b5, "
                "\u03b5 ~ N(0, I), so \u2202z/\u2202\u03bc = 1 and "
                "\u2202z/\u2202log\u03c3\u00b2 = \u00bd\u03c3\u03b5</p>"
                f"<p>digit {v['digit_a']}: \u03bc = {vec(probe['mu'])}, \u03c3 = "
                f"{vec(probe['sigma'])}, \u03b5 = {vec(probe['eps'])} \u2192 z = "
                f"{vec(probe['z'])}</p>"
                "<p>KL = \u2212\u00bd \u03a3<sub>j</sub>(1 + log\u03c3<sub>j</sub>\u00b2 "
                f"\u2212 \u03bc<sub>j</sub>\u00b2 \u2212 \u03c3<sub>j</sub>\u00b2) = "
                f"{probe['kl']:.4g} for this digit</p>"
                "<p>\u2212ELBO = \u2212E<sub>q</sub>[log p(x|z)] + \u03b2\u00b7KL = "
                f"{rec:.4g} + {b:.3g} \u00d7 {kl:.4g} = {rec + b * kl:.4g} nats "
                "(batch mean)</p>" + tail)
        if v["model"] == "dae":
            noise = {"gaussian": f"x\u0303 = x + \u03c3\u03b5, \u03c3 = {v['noise_level']:.3g}",
                     "masking": f"x\u0303 = x with each pixel zeroed w.p. "
                                f"{v['noise_level']:.3g}",
                     "salt_pepper": f"x\u0303 = x with each pixel set to 0 or 1 w.p. "
                                    f"{v['noise_level']:.3g}"}[v["corruption"]]
            return (
                f"<p>{noise}</p>"
                "<p>L = (1/nD) \u03a3<sub>i</sub> \u2016g<sub>\u03c6</sub>(f<sub>\u03b8</sub>"
                f"(x\u0303<sub>i</sub>)) \u2212 x<sub>i</sub>\u2016\u00b2 = "
                f"{h['recon'][-1]:.4g}</p>"
                f"<p>noisy input: MSE(x\u0303, x) = {noisy_mse:.4g}; denoised: "
                f"MSE(g(f(x\u0303)), x) = {denoised_mse:.4g}</p>"
                "<p>The optimum g(f(x\u0303)) estimates E[x | x\u0303], which pulls a noisy "
                "digit back onto the set of clean digits.</p>" + tail)
        return (
            "<p>z = f<sub>\u03b8</sub>(x) \u2208 R\u00b2, x\u2032 = sigmoid(g<sub>\u03c6</sub>"
            "(z))</p>"
            "<p>L = (1/nD) \u03a3<sub>i</sub> \u2016x<sub>i</sub> \u2212 x\u2032<sub>i</sub>"
            f"\u2016\u00b2 = {h['recon'][-1]:.4g}</p>"
            "<p>The book writes the norm without its square (erratum E9): for x = (1, 2), "
            "x\u2032 = (1.5, 1.5) the errors cancel to 0; squared they give 0.25.</p>"
            + tail)

    # -- actions ----------------------------------------------------------------------------------
    def action_set_latent(self, z1, z2) -> None:
        z1, z2 = self.validate("z1", z1), self.validate("z2", z2)   # both checked first
        self.values["z1"], self.values["z2"] = z1, z2

    def action_new_pair(self) -> None:
        self.pair_pick += 1

    # -- model files ------------------------------------------------------------------------------
    def save_model(self, path) -> None:
        hyper = {k: self.values[k] for k in ("lr", "batch_size", "beta", "corruption",
                                            "noise_level", "n_train", "center")}
        save_model(path, self.model, {"kind": "autoencoder", **self.model.config},
                   hyperparameters={"optimizer": "adam", **hyper},
                   task={"task": "reconstruction", "dataset": "digits",
                         "input": [1, SIZE, SIZE], "centred": self.values["center"],
                         "output": "sigmoid"},
                   seed=self.seed, step=self.step_count, lab=self.name)

    def load_model(self, path) -> None:
        """Load an autoencoder file and continue training it from its step."""
        mf = read_model(path, expect=("autoencoder", "autoencoders"))
        cfg = mf.model.config
        if cfg["input"] != PIXELS or cfg["latent"] != LATENT:
            raise ModelFileError(f"this lab needs {PIXELS} pixels and a {LATENT}-D code; the "
                                 f"model has {cfg['input']} pixels and a {cfg['latent']}-D "
                                 "code")
        self.model = mf.model
        self.values.update(model=cfg["model"], hidden=",".join(map(str, cfg["hidden"])),
                           activation=cfg["activation"])
        centred = mf.task.get("centred")
        if isinstance(centred, bool) and centred != self.values["center"]:
            self.values["center"] = centred
            self.Xtr, self.ytr, self.Xte, self.yte = _digits(self.seed, self.values["n_train"],
                                                             centred)
        self.step_count = mf.step
        self._start_training()
        self.notice = f"loaded {cfg['model'].upper()} trained for {mf.step:,} steps"

    def export_onnx(self, path) -> None:
        """Write encoder and decoder as one ONNX graph: ``x`` (N, 256) -> ``code`` (N, 2)
        (a VAE's mean, plus ``logvar``) and ``reconstruction`` (N, 256), the sigmoid of the
        decoded code, as the reconstruction panels show it.  Inputs are flattened digits
        prepared as the lab's (centred when "centre digits" is on)."""
        export_onnx(path, self.model)

    def _move_to_backend(self) -> None:
        self._to_device()
        self.optimizer.to_backend(self._device())
