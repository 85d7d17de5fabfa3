r"""Recurrent networks (book ch. 10): an RNN, LSTM or GRU trained live, its gates over time.

Two toy tasks (:mod:`engine.data.recurrent_tasks`):

* **delayed recall** - output the token seen ``delay`` steps ago.  The net must carry each
  token through ``delay`` state updates; the loss is the cross-entropy over the scored steps.
* **sine** - predict the next value of a noisy sine of unknown frequency (mean squared error).

The model is one recurrent layer (:mod:`engine.nn.recurrent`, PyTorch's formulas) and a linear
read-out of every state.  Gradients are clipped to norm ``clip`` (book 10.1) before each
optimizer step; the norm before clipping is recorded, so explosions show.

For a probe sequence the snapshot carries the hidden state and every gate as ``units x time``
heatmaps, the prediction against the target, and the *vanishing-gradient meter*
:math:`\|\partial L_T / \partial h_t\|` for :math:`t \le T`, the loss taken at the last step
only.  Its ratio from the first to the last step (``gradient_reach``) says how far back a
training signal still arrives: at initialisation it falls by orders of magnitude over 40 steps
for all three cells (measured: 1e-8 to 1e-11), and training changes it.
"""
from __future__ import annotations

import math

import numpy as np

from engine import backend, optim
from engine.autodiff import Tensor, grad, no_grad
from engine.data import EpochSampler
from engine.data.recurrent_tasks import IGNORE, make_delayed_recall, make_sine_sequences
from engine.io.model_file import ModelFileError, read_model, save_model
from engine.labs.base import Lab, Param, Snapshot
from engine.nn import GRU, LSTM, RNN, Linear, clip_grad_norm_
from engine.nn import functional as F
from engine.nn.module import Module

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
TASKS = ("recall", "sine")
N_TRAIN, N_TEST = 512, 128
EVAL_EVERY = 10

#: Gate rows shown for each cell, in display order, and what each one means.
GATE_NAMES = {"rnn": (), "lstm": ("i", "f", "g", "o", "c"), "gru": ("r", "z", "n")}
GATE_TITLES = {"i": "input gate i", "f": "forget gate f", "g": "candidate g",
               "o": "output gate o", "c": "cell state c", "r": "reset gate r",
               "z": "update gate z", "n": "candidate n"}


def validate_sequence_config(config) -> dict:
    """Check a :class:`SequenceModel` config (from code or a model file); ``ValueError`` says
    which field is wrong."""
    if not isinstance(config, dict):
        raise ValueError("a recurrent model config must be a JSON object")
    if config.get("cell") not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {config.get('cell')!r}")
    out = {"cell": config["cell"]}
    for name, hi in (("n_in", 64), ("hidden", 256), ("n_out", 64)):
        v = config.get(name)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= hi:
            raise ValueError(f"{name} must be an integer in 1..{hi}, got {v!r}")
        out[name] = int(v)
    return out


class SequenceModel(Module):
    """One recurrent layer and a linear read-out of every state: ``(N, T, D) -> (N, T, O)``."""

    def __init__(self, cell: str, n_in: int, hidden: int, n_out: int, generator=None):
        super().__init__()
        self.config = validate_sequence_config(
            {"cell": cell, "n_in": n_in, "hidden": hidden, "n_out": n_out})
        self.rnn = CELLS[cell](n_in, hidden, batch_first=True, generator=generator)
        self.head = Linear(hidden, n_out, generator=generator)

    @classmethod
    def from_config(cls, config: dict, generator=None) -> "SequenceModel":
        c = validate_sequence_config(config)
        return cls(c["cell"], c["n_in"], c["hidden"], c["n_out"], generator)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


class RecurrentLab(Lab):
    name = "recurrent"
    chapter = 10
    title = "Recurrent networks: gates over time"
    section = "10.1-10.4"
    summary = ("An RNN, LSTM or GRU learns to recall a token from a few steps back, or to "
               "continue a sine. Watch its hidden state and gates as heatmaps over time, the "
               "gradient norm before clipping, and how far back through time the gradient of "
               "the last step's loss still reaches.")
    params = (
        Param("cell", "choice", "lstm", choices=tuple(CELLS), rebuild=True, group="Model",
              help="RNN: h = tanh(W h + U x + b). LSTM: gated cell state with an additive "
                   "path. GRU: update and reset gates."),
        Param("hidden", "int", 16, 2, 64, step=1, rebuild=True, group="Model",
              label="hidden units", symbol="H", help="Size of the state h."),
        Param("task", "choice", "recall", choices=TASKS, rebuild=True, group="Task",
              help="recall: output the token seen `delay` steps ago. sine: predict the next "
                   "value of a noisy sine."),
        Param("length", "int", 20, 5, 60, step=1, rebuild=True, group="Task",
              label="sequence length", symbol="T"),
        Param("delay", "int", 4, 1, 19, step=1, rebuild=True, group="Task", symbol="d",
              help="How many steps back the recall task asks for (must be < T)."),
        Param("vocab", "int", 4, 2, 8, step=1, rebuild=True, group="Task", symbol="V",
              help="Number of different tokens in the recall task."),
        Param("optimizer", "choice", "adam", choices=("adam", "rmsprop", "momentum", "sgd"),
              rebuild=True, group="Training"),
        Param("lr", "float", 0.01, 1e-4, 1.0, log=True, group="Training",
              label="learning rate", symbol="\u03b7"),
        Param("clip", "float", 1.0, 0.0, 10.0, step=0.1, group="Training",
              label="clip norm (0 = off)", symbol="\u03b8",
              help="If the gradient's norm exceeds \u03b8, scale it down to \u03b8."),
        Param("batch_size", "int", 32, 4, 128, step=4, rebuild=True, group="Training",
              label="batch size"),
        Param("probe", "int", 0, 0, N_TEST - 1, step=1, group="View", label="probe sequence",
              help="Which test sequence the heatmaps show."),
    )

    # -- building -------------------------------------------------------------------------------
    @staticmethod
    def _check_delay(v) -> None:
        if v["task"] == "recall" and v["delay"] >= v["length"]:
            raise ValueError(f"delay must be smaller than the sequence length ({v['length']}), "
                             f"got {v['delay']}")

    def validate(self, name, value):
        value = super().validate(name, value)
        self._check_delay(dict(self.values, **{name: value}))
        return value

    def _build(self) -> None:
        v = self.values
        self._check_delay(v)          # values given to the constructor skip ``validate``
        g = self.rng
        n_in, n_out = self._make_data(g)
        self.model = SequenceModel(v["cell"], n_in, v["hidden"], n_out, g)
        self._fresh_run()
        self._evaluate(0)

    def _make_data(self, g) -> tuple[int, int]:
        """The task's train and test sequences; returns the model's (input, output) sizes."""
        v = self.values
        if v["task"] == "recall":
            V = v["vocab"]
            tr_x, tr_y = make_delayed_recall(N_TRAIN, v["length"], v["delay"], V, g)
            te_x, te_y = make_delayed_recall(N_TEST, v["length"], v["delay"], V, g)
            eye = np.eye(V, dtype=np.float32)
            self.Xtr, self.Xte = eye[tr_x], eye[te_x]           # one-hot (N, T, V)
            self.ytr, self.yte = tr_y, te_y
            self.tokens_te = te_x
            n_in = n_out = V
        else:
            tr_x, tr_y, _ = make_sine_sequences(N_TRAIN, v["length"], rng=g)
            te_x, te_y, self.omega_te = make_sine_sequences(N_TEST, v["length"], rng=g)
            self.Xtr, self.Xte = tr_x[..., None], te_x[..., None]
            self.ytr, self.yte = tr_y, te_y
            n_in = n_out = 1
        return n_in, n_out

    def _fresh_run(self) -> None:
        """Optimizer, sampler and histories for ``self.model``, moved to the device."""
        v = self.values
        self.optimizer = optim.make_optimizer(v["optimizer"], self.model.parameters(), v["lr"])
        self.sampler = EpochSampler(self.rng)
        self.hist = {k: [] for k in ("step", "train_loss", "test_loss", "test_metric")}
        self.norm_steps: list[int] = []
        self.norms: list[float] = []
        self._run: list[float] = []
        self.diverged = False
        self.alerts: list[str] = []
        self._to_device()

    def _to_device(self) -> None:
        dev = self._device()
        self.model.to_backend(dev)
        xp = backend.get_xp(dev)
        self.Xtr_dev, self.ytr_dev = xp.asarray(self.Xtr), xp.asarray(self.ytr)
        self.Xte_dev, self.yte_dev = xp.asarray(self.Xte), xp.asarray(self.yte)

    def _move_to_backend(self) -> None:
        self._to_device()
        self.optimizer.to_backend(self._device())

    def work_size(self) -> float:
        v = self.values
        gates = {"rnn": 1, "lstm": 4, "gru": 3}[v["cell"]]
        d = self.values["vocab"] if v["task"] == "recall" else 1
        return float(v["batch_size"] * v["length"] * gates * v["hidden"] * (v["hidden"] + d))

    def _on_param(self, name, old):
        if name == "lr" and hasattr(self, "optimizer"):
            for grp in self.optimizer.param_groups:
                grp["lr"] = self.values["lr"]

    # -- training -------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.diverged

    finished_reason = "training diverged (see the banner); lower the learning rate and Reset"

    def _loss(self, logits, y):
        """Mean loss over the scored steps: cross-entropy (recall) or squared error (sine)."""
        if self.values["task"] == "recall":
            n_out = logits.shape[-1]
            return F.cross_entropy(logits.reshape(-1, n_out), y.reshape(-1),
                                   ignore_index=IGNORE)
        return F.mse_loss(logits.reshape(logits.shape[0], -1), y)

    def _step(self) -> None:
        step = self.step_count + 1
        xp = backend.xp_of(self.Xtr_dev)
        idx = xp.asarray(self.sampler.take(N_TRAIN, self.values["batch_size"]))
        with np.errstate(over="ignore", invalid="ignore"):
            self.optimizer.zero_grad()
            loss = self._loss(self.model(Tensor(self.Xtr_dev[idx])), self.ytr_dev[idx])
            value = float(loss.item())
            if not math.isfinite(value):
                self._diverge(step, value)
                return
            loss.backward()
            clip = self.values["clip"]
            params = list(self.model.parameters())
            norm = clip_grad_norm_(params, clip if clip > 0 else math.inf)   # inf: measure
            self.optimizer.step()
        self._run.append(value)
        self.norm_steps.append(step)
        self.norms.append(norm)
        if not math.isfinite(norm):
            self._diverge(step, norm)
            return
        if step % EVAL_EVERY == 0 or step == 1:
            self._evaluate(step)

    def _diverge(self, step, value) -> None:
        self.diverged = True
        self.alerts.append(f"Training diverged at step {step} (loss or gradient = {value:g}). "
                           "Likely cause: the learning rate is too high, or clipping is off; "
                           "lower \u03b7 or set a clip norm, then Reset.")

    def _metric(self, logits, y) -> float:
        """Accuracy over the scored steps (recall) or mean squared error (sine)."""
        if self.values["task"] == "recall":
            pred = backend.to_numpy(logits.data).argmax(-1)
            y = backend.to_numpy(y)
            mask = y != IGNORE
            return float((pred[mask] == y[mask]).mean())
        return float(backend.to_numpy(((logits.data[..., 0] - y) ** 2).mean()))

    def _evaluate(self, step: int) -> None:
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            logits = self.model(Tensor(self.Xte_dev))
            test_loss = float(self._loss(logits, self.yte_dev).item())
            metric = self._metric(logits, self.yte_dev)
            if not self._run:     # nothing trained yet: score the training set itself
                self._run = [float(self._loss(self.model(Tensor(self.Xtr_dev)),
                                              self.ytr_dev).item())]
        h = self.hist
        h["step"].append(step)
        h["train_loss"].append(float(np.mean(self._run)))
        h["test_loss"].append(test_loss)
        h["test_metric"].append(metric)
        self._run = []

    def history(self) -> dict:
        return {k: list(map(float, v)) for k, v in self.hist.items()}

    # -- model files ----------------------------------------------------------------------------
    def save_model(self, path) -> None:
        v = self.values
        save_model(path, self.model, {"kind": "recurrent", **self.model.config},
                   hyperparameters={k: v[k] for k in ("optimizer", "lr", "clip", "batch_size")},
                   task={k: v[k] for k in ("task", "length", "delay", "vocab")},
                   seed=self.seed, step=self.step_count, lab=self.name)

    def load_model(self, path) -> None:
        """Load a saved model with its task (length, delay, vocabulary): the data are remade
        for that task and training goes on from the file's step."""
        mf = read_model(path, expect=("recurrent", "recurrent sequence models"))
        task = mf.task or {}
        new = dict(self.values)
        try:
            for k in ("task", "length", "delay", "vocab"):
                if k in task:
                    new[k] = self._param(k).coerce(task[k])
        except ValueError as exc:
            raise ModelFileError(f"the model file's task is not one this lab runs: {exc}") \
                from None
        sizes = (new["vocab"], new["vocab"]) if new["task"] == "recall" else (1, 1)
        cfg = mf.model.config
        if (cfg["n_in"], cfg["n_out"]) != sizes:
            raise ModelFileError(f"the model reads {cfg['n_in']} inputs into {cfg['n_out']} "
                                 f"outputs; the {new['task']} task needs {sizes[0]} -> "
                                 f"{sizes[1]}")
        if new["task"] == "recall" and new["delay"] >= new["length"]:
            raise ModelFileError("the model file's delay is not smaller than its length")
        new.update(cell=cfg["cell"], hidden=cfg["hidden"])
        self.values = new
        self._make_data(np.random.default_rng(self.seed))
        self.model = mf.model
        self._fresh_run()
        self.step_count = mf.step
        self._evaluate(mf.step)
        self.notice = f"loaded {cfg['cell'].upper()} trained for {mf.step:,} steps"

    def export_onnx(self, path) -> None:
        """Write the model as ONNX: ``x (N, T, D)`` -> ``y (N, T, O)`` (see
        :func:`engine.io.onnx_export.sequence_model_to_onnx`)."""
        from engine.io.onnx_export import export_onnx  # noqa: PLC0415  (needs onnx)
        export_onnx(path, self.model)

    # -- the probe ------------------------------------------------------------------------------
    def _probe(self) -> dict:
        """Heatmaps, prediction and the vanishing-gradient meter for one test sequence."""
        v = self.values
        k = v["probe"]
        x = Tensor(self.Xte_dev[k:k + 1])
        rnn = self.model.rnn
        with np.errstate(over="ignore", invalid="ignore"):
            out = self.model(x)                                  # (1, T, O), with a graph
            trace = {name: a[:, 0, :].T for name, a in rnn.trace[0][0].items()}   # (H, T)
            hidden = np.stack([backend.to_numpy(h.data[0]) for h in rnn.states], axis=1)
            # dL_T/dh_t: the loss at the last scored step only, back through every state.
            last = out[0, -1]
            y_last = self.yte[k, -1]
            if v["task"] == "recall":
                loss_T = F.cross_entropy(last.reshape(1, -1),
                                         backend.xp_of(last.data).asarray([y_last]))
            else:
                loss_T = (last[0] - float(y_last)) ** 2
            grads = grad(loss_T, rnn.states, allow_unused=True)
        with np.errstate(over="ignore", invalid="ignore"):
            dh = np.array([float(np.linalg.norm(backend.to_numpy(g_.data)))
                           if g_ is not None else 0.0 for g_ in grads])
        logits = backend.to_numpy(out.data[0])
        probe = {"index": k, "hidden": hidden, "dh_norms": dh,
                 "gates": {n: trace[n] for n in GATE_NAMES[v["cell"]]}}
        if v["task"] == "recall":
            z = logits - logits.max(-1, keepdims=True)
            p = np.exp(z)
            probe.update(tokens=self.tokens_te[k], target=self.yte[k],
                         probs=p / p.sum(-1, keepdims=True), pred=logits.argmax(-1))
        else:
            probe.update(x=self.Xte[k, :, 0], target=self.yte[k], pred=logits[:, 0],
                         omega=float(self.omega_te[k]))
        return probe

    def _snapshot(self) -> Snapshot:
        v = self.values
        h = self.hist
        metric_name = "test_accuracy" if v["task"] == "recall" else "test_mse"
        probe = self._probe()
        scalars = {"loss": h["train_loss"][-1], "test_loss": h["test_loss"][-1],
                   metric_name: h["test_metric"][-1],
                   "grad_norm": self.norms[-1] if self.norms else 0.0,
                   "gradient_reach": float(probe["dh_norms"][0] / max(probe["dh_norms"][-1],
                                                                     1e-30)),
                   "epoch": float(self.sampler.epoch),
                   "parameters": float(self.model.num_parameters())}
        data = {"task": v["task"], "cell": v["cell"], "metric_name": metric_name,
                "gate_names": GATE_NAMES[v["cell"]],
                "gate_titles": tuple(GATE_TITLES[n] for n in GATE_NAMES[v["cell"]]),
                "curves": {k: np.asarray(val, np.float64) for k, val in h.items()},
                "norm_steps": np.asarray(self.norm_steps, np.float64),
                "grad_norms": np.asarray(self.norms, np.float64), "clip": v["clip"],
                "delay": v["delay"], "probe": probe}
        return Snapshot.make(self.name, self.step_count, scalars, data,
                             {"equation": self._equations(probe), "summary": self.summary},
                             self.alerts)

    def _equations(self, probe) -> str:
        v = self.values
        cell = v["cell"]
        if cell == "rnn":
            eq = ("h<sub>t</sub> = tanh(W<sub>hh</sub>h<sub>t\u22121</sub> + "
                  "W<sub>ih</sub>x<sub>t</sub> + b)")
            why = ("\u2202h<sub>t</sub>/\u2202h<sub>t\u22121</sub> = diag(1 \u2212 h<sub>t</sub>"
                   "\u00b2) W<sub>hh</sub>: a product of these over many steps shrinks (or "
                   "grows) geometrically.")
        elif cell == "lstm":
            eq = ("i, f, o = \u03c3(\u00b7), g = tanh(\u00b7); c<sub>t</sub> = f \u2299 "
                  "c<sub>t\u22121</sub> + i \u2299 g; h<sub>t</sub> = o \u2299 tanh c<sub>t</sub>")
            why = ("\u2202c<sub>t</sub>/\u2202c<sub>t\u22121</sub> = diag(f<sub>t</sub>): while "
                   "the forget gate stays near 1 the gradient passes back almost unchanged.")
        else:
            eq = ("r, z = \u03c3(\u00b7); n = tanh(W<sub>in</sub>x + b + r \u2299 "
                  "(W<sub>hn</sub>h<sub>t\u22121</sub> + b)); h<sub>t</sub> = (1\u2212z) \u2299 n"
                  " + z \u2299 h<sub>t\u22121</sub>")
            why = ("Where z \u2248 1 the state is copied forward, and so is its gradient.")
        dh = probe["dh_norms"]
        task = (f"recall the token from d = {v['delay']} steps back" if v["task"] == "recall"
                else "predict the next value of a sine")
        clip = (f"gradient clipped to norm \u03b8 = {v['clip']:g}" if v["clip"] > 0
                else "no clipping")
        return (f"<p><b>{cell.upper()}</b>: {eq}</p><p>{why}</p>"
                f"<p>Task: {task}; T = {v['length']}, H = {v['hidden']}; {clip}.</p>"
                f"<p>Gradient reach on the probe: \u2016\u2202L<sub>T</sub>/\u2202h<sub>1"
                f"</sub>\u2016 / \u2016\u2202L<sub>T</sub>/\u2202h<sub>T</sub>\u2016 = "
                f"{dh[0] / max(dh[-1], 1e-30):.3g}</p>")
