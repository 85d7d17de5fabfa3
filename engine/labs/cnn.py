r"""CNN lab (book ch. 9): a small ConvNet trained live on handwritten digits.

One step is one mini-batch update of :class:`engine.nn.cnn.SmallCNN` with softmax
cross-entropy.  Every ``EVAL_EVERY`` steps the test set (and as many training images) is scored,
which also gives the confusion matrix and the most confidently misclassified test images.
Snapshots show, for one probe image (a test image or one the user draws), the feature maps of
every conv block, the class probabilities, and the learned filters.

The convolutions are the engine's: strided windows and one GEMM per layer (see
:mod:`engine.autodiff.ops.conv`), on NumPy or CuPy.
"""
from __future__ import annotations

import math

import numpy as np

from engine import backend, optim
from engine.autodiff import Tensor, no_grad
from engine.data import EpochSampler, digits_split
from engine.io.model_file import ModelFileError, read_model, save_model
from engine.io.onnx_export import export_onnx
from engine.labs.base import Action, Lab, Param, Snapshot
from engine.nn import functional as F
from engine.nn.cnn import HEADS, MAX_BLOCKS, POOLS, SmallCNN
from engine.nn.mlp import ACTIVATIONS

SIZE = 16
CLASSES = 10
EVAL_EVERY = 25
N_TEST = 500
N_WORST = 8
OPTIMIZERS = ("adam", "sgd", "momentum", "rmsprop")


def parse_channels(text: str) -> str:
    """``"8, 16"`` -> ``"8,16"``: 1-4 conv blocks of 1-64 channels."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not 1 <= len(parts) <= MAX_BLOCKS:
        raise ValueError(f"give 1-{MAX_BLOCKS} conv blocks, e.g. 8,16")
    for p in parts:
        if not p.isdigit() or not 1 <= int(p) <= 64:
            raise ValueError(f"each block's channel count must be an integer 1-64, got {p!r}")
    return ",".join(str(int(p)) for p in parts)


class CNNLab(Lab):
    name = "cnn"
    chapter = 9
    title = "CNN on handwritten digits"
    section = "9.2-9.8"
    summary = ("A small convolutional network learns to read 16x16 handwritten digits. Each "
               "conv layer slides its learned filters over the image; the feature maps show "
               "where each filter responds. Pooling halves the maps so deeper filters see "
               "larger regions. Draw a digit to see how the trained network reads it.")

    params = (
        Param("n_train", "int", 3000, 500, 8000, step=100, rebuild=True, group="Data",
              label="training images", help="Number of generated training digits."),
        Param("noise", "float", 0.1, 0.0, 0.4, step=0.02, rebuild=True, group="Data",
              help="Std. dev. of the pixel noise added to the digits."),
        Param("channels", "text", "8,16", parse=parse_channels, rebuild=True,
              choices=("4", "16,32,32"), group="Architecture", label="channels per block",
              hint=f"comma-separated channel counts of 1-{MAX_BLOCKS} conv blocks, each 1-64",
              help="Output channels of each conv block (conv -> activation -> pool)."),
        Param("kernel", "choice", "3", choices=("3", "5"), rebuild=True, group="Architecture",
              label="kernel size", symbol="k", help="Kernel size k x k (same padding)."),
        Param("pool", "choice", "max", choices=POOLS, rebuild=True, group="Architecture",
              help="2x2 pooling after each block: max, average or none."),
        Param("head", "choice", "flatten", choices=HEADS, rebuild=True, group="Architecture",
              help="flatten: every map pixel feeds the classifier; gap: global average "
                   "pooling, one number per channel (far fewer weights)."),
        Param("activation", "choice", "relu", choices=tuple(ACTIVATIONS), rebuild=True,
              group="Architecture", symbol="\u03c6", help="Activation after each conv."),
        Param("optimizer", "choice", "adam", choices=OPTIMIZERS, group="Training",
              help="Update rule; switching keeps the weights."),
        Param("lr", "float", 3e-3, 1e-5, 1.0, log=True, group="Training", symbol="\u03b7",
              label="learning rate", help="Learning rate \u03b7."),
        Param("batch_size", "int", 64, 1, 256, group="Training", label="batch size",
              symbol="B", help="Images per update."),
        Param("probe", "int", 0, 0, N_TEST - 1, group="View", label="probe image",
              help="Index of the test image whose feature maps are shown."),
        Param("show_drawn", "bool", False, group="View", label="show my drawing",
              help="Show the feature maps of the digit you drew instead of the probe."),
    )
    actions = (
        Action("draw", "Use a drawn digit", ("pixels",),
               "A 16x16 array in [0, 1] (the drawing canvas) becomes the probe image."),
        Action("set_probe", "Probe a test image", ("index",)),
    )

    def __init__(self, seed: int = 0, backend_name: str = "auto", **values):
        self.drawn = np.zeros((SIZE, SIZE), np.float32)
        super().__init__(seed, backend_name, **values)

    # -- build ------------------------------------------------------------------------------------
    def _build(self) -> None:
        v = self.values
        self.Xtr, self.ytr, self.Xte, self.yte = digits_split(
            v["n_train"], N_TEST, SIZE, v["noise"], self.rng)
        self.Xtr = self.Xtr[:, None].astype(np.float32)
        self.Xte = self.Xte[:, None].astype(np.float32)
        self.model = SmallCNN((1, SIZE, SIZE), [int(c) for c in v["channels"].split(",")],
                              int(v["kernel"]), v["pool"], v["head"], v["activation"], CLASSES,
                              generator=self.rng)
        self._to_device()
        self.optimizer = self._make_optimizer()
        self.hist = {k: [] for k in ("step", "train_loss", "test_loss", "train_acc",
                                     "test_acc")}
        self.alerts: list[str] = []
        self.diverged = False
        self.sampler = EpochSampler(self.rng)
        self._evaluate(0)

    def _to_device(self) -> None:
        dev = self._device()
        self.model.to_backend(dev)
        xp = backend.get_xp(dev)
        self.Xtr_dev, self.ytr_dev = xp.asarray(self.Xtr), xp.asarray(self.ytr)
        self.Xte_dev, self.yte_dev = xp.asarray(self.Xte), xp.asarray(self.yte)

    def _make_optimizer(self):
        return optim.make_optimizer(self.values["optimizer"], self.model.parameters(),
                                    self.values["lr"])

    def work_size(self) -> float:
        """Forward multiply-adds of one batch (conv layers dominate)."""
        chans = [int(c) for c in self.values["channels"].split(",")]
        k2 = int(self.values["kernel"]) ** 2
        c_in, hw, macs = 1, SIZE * SIZE, 0
        for c in chans:
            macs += hw * k2 * c_in * c
            c_in = c
            if self.values["pool"] != "none":
                hw //= 4
        return float(self.values["batch_size"] * macs)

    def _on_param(self, name, old):
        if name == "lr" and hasattr(self, "optimizer"):
            for g in self.optimizer.param_groups:
                g["lr"] = self.values["lr"]
        elif name == "optimizer" and hasattr(self, "model"):
            self.optimizer = self._make_optimizer()

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

    def _step(self) -> None:
        idx = self._batch()
        xp = backend.xp_of(self.Xtr_dev)
        sel = xp.asarray(idx)
        with np.errstate(over="ignore", invalid="ignore"):
            self.optimizer.zero_grad()
            loss = F.cross_entropy(self.model(Tensor(self.Xtr_dev[sel])), self.ytr_dev[sel])
            value = float(loss.item())
            step = self.step_count + 1
            if not math.isfinite(value):
                self.diverged = True
                self.alerts.append(f"Training diverged at step {step} (loss = {value:g}). "
                                   "Likely cause: the learning rate is too high; lower \u03b7.")
                return
            loss.backward()
            self.optimizer.step()
        if step % EVAL_EVERY == 0:
            self._evaluate(step)

    def _forward_eval(self, X_dev):
        """Logits of many images in eval mode, in chunks (bounded memory), as NumPy."""
        out = []
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            for i in range(0, len(X_dev), 500):
                out.append(backend.to_numpy(self.model(Tensor(X_dev[i:i + 500])).data))
        return np.concatenate(out)

    def _evaluate(self, step: int) -> None:
        def score(logits, y):
            z = logits - logits.max(1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(1, keepdims=True))
            return float(-logp[np.arange(len(y)), y].mean()), logp

        te_logits = self._forward_eval(self.Xte_dev)
        te_loss, te_logp = score(te_logits, self.yte)
        tr_logits = self._forward_eval(self.Xtr_dev[:N_TEST])
        tr_loss, _ = score(tr_logits, self.ytr[:N_TEST])
        pred = te_logits.argmax(1)
        h = self.hist
        h["step"].append(step)
        h["train_loss"].append(tr_loss)
        h["test_loss"].append(te_loss)
        h["train_acc"].append(float((tr_logits.argmax(1) == self.ytr[:N_TEST]).mean()))
        h["test_acc"].append(float((pred == self.yte).mean()))
        self.confusion = np.bincount(self.yte * CLASSES + pred,
                                     minlength=CLASSES ** 2).reshape(CLASSES, CLASSES)
        conf = np.exp(te_logp.max(1))
        wrong = np.flatnonzero(pred != self.yte)
        worst = wrong[np.argsort(-conf[wrong])][:N_WORST]
        self.worst = {"index": worst, "true": self.yte[worst], "pred": pred[worst],
                      "confidence": conf[worst]}

    def history(self) -> dict:
        return {k: list(map(float, v)) for k, v in self.hist.items()}

    # -- snapshot ---------------------------------------------------------------------------------
    def _probe_image(self) -> np.ndarray:
        if self.values["show_drawn"]:
            return self.drawn
        return self.Xte[self.values["probe"], 0]

    def _snapshot(self) -> Snapshot:
        img = self._probe_image()
        xp = backend.xp_of(self.Xte_dev)
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            logits, maps = self.model(Tensor(xp.asarray(img[None, None])), return_maps=True)
            probs = F.softmax(logits, -1).numpy()[0]
        w1 = self.model.convs[0].weight.numpy()[:, 0]                 # (F1, k, k)
        deeper = [c.weight.numpy().mean(axis=1) for c in list(self.model.convs)[1:]]
        h = self.hist
        data = {
            "probe_image": img,
            "probe_label": -1 if self.values["show_drawn"] else int(self.yte[self.values[
                "probe"]]),
            "probs": probs,
            "maps": [m.numpy()[0] for m in maps],
            "filters": [w1] + deeper,
            "curves": {k: np.asarray(v, np.float64) for k, v in h.items()},
            "confusion": self.confusion,
            "worst_images": self.Xte[self.worst["index"], 0],
            "worst_true": self.worst["true"], "worst_pred": self.worst["pred"],
            "worst_conf": self.worst["confidence"], "worst_index": self.worst["index"],
        }
        scalars = {"loss": h["train_loss"][-1], "test_loss": h["test_loss"][-1],
                   "train_accuracy": h["train_acc"][-1], "test_accuracy": h["test_acc"][-1],
                   "epoch": self.epoch, "parameters": self.model.num_parameters(),
                   "prediction": int(probs.argmax())}
        text = {"equation": self._equation_html(probs), "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text, self.alerts)

    def _equation_html(self, probs) -> str:
        cfg = self.model.config
        k = cfg["kernel"]
        rows = []
        c_in, hw = 1, SIZE
        for i, c in enumerate(cfg["channels"]):
            n_par = k * k * c_in * c + c
            pooled = hw // 2 if cfg["pool"] != "none" else hw
            rows.append(f"<tr><td>conv {i + 1}</td><td>{c_in}\u2192{c}</td><td>{hw}\u00d7{hw}"
                        f" \u2192 {pooled}\u00d7{pooled}</td><td>{n_par:,}</td></tr>")
            c_in, hw = c, pooled
        feat = c_in if cfg["head"] == "gap" else c_in * hw * hw
        rows.append(f"<tr><td>dense</td><td>{feat}\u219210</td><td></td>"
                    f"<td>{feat * 10 + 10:,}</td></tr>")
        h = self.hist
        return (
            "<p>y<sub>f,i,j</sub> = b<sub>f</sub> + \u03a3<sub>c,m,n</sub> "
            "x<sub>c,i+m,j+n</sub> K<sub>f,c,m,n</sub> &nbsp;(cross-correlation, same "
            f"padding p = {(k - 1) // 2})</p>"
            "<p>o = \u230a(n + 2p \u2212 k)/s\u230b + 1; &nbsp; params = k\u00b2"
            "C<sub>in</sub>C<sub>out</sub> + C<sub>out</sub></p>"
            "<table><tr><th>layer</th><th>channels</th><th>size</th><th>params</th></tr>"
            + "".join(rows) + "</table>"
            f"<p>step {self.step_count:,}, epoch {self.epoch}: test accuracy "
            f"{h['test_acc'][-1]:.1%}, J<sub>test</sub> = {h['test_loss'][-1]:.4g}</p>"
            f"<p>probe: predicted {int(probs.argmax())} with p = {probs.max():.3f}</p>")

    # -- actions ----------------------------------------------------------------------------------
    def action_draw(self, pixels) -> None:
        arr = np.asarray(pixels, dtype=np.float64)
        if arr.shape != (SIZE, SIZE):
            raise ValueError(f"a drawing must be {SIZE}x{SIZE} pixels, got shape {arr.shape}")
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ValueError("drawn pixels must be finite values in [0, 1]")
        self.drawn = arr.astype(np.float32)
        self.values["show_drawn"] = True

    def action_set_probe(self, index) -> None:
        self.set_param("probe", int(index))
        self.values["show_drawn"] = False

    # -- model files ------------------------------------------------------------------------------
    def save_model(self, path) -> None:
        hyper = {k: self.values[k] for k in ("optimizer", "lr", "batch_size", "n_train",
                                            "noise")}
        save_model(path, self.model, {"kind": "cnn", **self.model.config},
                   hyperparameters=hyper,
                   task={"task": "multiclass", "classes": CLASSES, "dataset": "digits",
                         "input": [1, SIZE, SIZE], "head": "softmax"},
                   seed=self.seed, step=self.step_count, lab=self.name)

    def load_model(self, path) -> None:
        mf = read_model(path, expect=("cnn", "CNNs"))
        cfg = mf.model.config
        if cfg["input"] != [1, SIZE, SIZE] or cfg["classes"] != CLASSES:
            raise ModelFileError(f"this lab reads 1x{SIZE}x{SIZE} digits into {CLASSES} "
                                 f"classes; the model expects {cfg['input']} -> "
                                 f"{cfg['classes']}")
        self.model = mf.model
        self.values.update(channels=",".join(map(str, cfg["channels"])),
                           kernel=str(cfg["kernel"]), pool=cfg["pool"], head=cfg["head"],
                           activation=cfg["activation"])
        self._to_device()
        self.optimizer = self._make_optimizer()
        self.step_count = mf.step
        self.hist = {k: [] for k in self.hist}
        self.alerts, self.diverged = [], False
        self._evaluate(mf.step)
        self.notice = f"loaded CNN trained for {mf.step:,} steps"

    def export_onnx(self, path) -> None:
        export_onnx(path, self.model, head="softmax")

    def _move_to_backend(self) -> None:
        self._to_device()
        self.optimizer.to_backend(self._device())
