r"""Transformer lab (book ch. 11.4): attention heads learning toy sequence tasks live.

A :class:`engine.nn.tiny_transformer.TinyTransformer` (1-3 encoder layers, 1-4 heads) reads a
random sequence of ``length`` tokens and predicts every output position at once, trained with
per-token cross-entropy on fresh random batches:

.. math:: J(\theta) = -\frac{1}{BL}\sum_{b=1}^{B}\sum_{i=0}^{L-1}
          \log p_\theta\big(y^{(b)}_i \,\big|\, x^{(b)}\big)

The tasks are those of :mod:`engine.data.sequences` (copy, reverse, sort, shift, histogram).
Every ``EVAL_EVERY`` steps a fixed held-out batch is scored: loss, token accuracy (fraction of
positions right), sequence accuracy (all ``L`` positions right), and the mean entropy of each
head's attention rows, :math:`\bar H = -\frac1L\sum_i\sum_j \alpha_{ij}\log\alpha_{ij}`
(0 = every query looks at one key; :math:`\log L` = uniform).

Snapshots show, for a probe sequence the user can type, the attention matrix of every layer x
head, the output distribution at each position, and the positional code with its Gram matrix
:math:`PP^\top` (how similar the codes of two positions are).

The attention temperature :math:`T` divides the score scale at read-out time only (probe and
evaluation): it shows what sharper or flatter softmaxes do to a trained model without changing
what is learned.  The score scale itself (:math:`1/\sqrt{d_k}`, 1, or the book's
:math:`1/\sqrt n`, erratum E1), the positional code and the causal mask are architecture
choices and restart the run.
"""
from __future__ import annotations

import math

import numpy as np

from engine import backend, optim
from engine.autodiff import no_grad
from engine.data.sequences import (
    SEQUENCE_TASKS,
    TOKEN_ALPHABET,
    make_sequence_task,
    n_outputs,
    sequence_targets,
)
from engine.io.model_file import ModelFileError, read_model, save_model
from engine.io.onnx_export import export_onnx
from engine.labs.base import Lab, Param, Snapshot
from engine.nn import functional as F
from engine.nn.tiny_transformer import POSITIONAL, SCALES, TinyTransformer

MAX_LEN = 16          # positions the model can read (probes may differ from the train length)
MAX_VOCAB = 32        # tokens 0-9 then a-v
EVAL_EVERY = 25       # steps between held-out evaluations
N_EVAL = 256          # held-out sequences
WARMUP = 100          # steps of linear learning-rate warm-up (Adam's early steps are large)
ALPHABET = TOKEN_ALPHABET[:MAX_VOCAB]


def parse_probe(text: str) -> str:
    """``"3 1 4 1 5"`` or ``"31415"`` -> ``"31415"``: a probe sequence as token characters.

    Tokens are ``0-9`` then ``a-v`` (token 10 is ``a``); spaces and commas are ignored and
    letters may be upper case.  The empty string means "a held-out example".

    Raises
    ------
    ValueError
        For other characters or more than ``MAX_LEN`` tokens.
    """
    if not isinstance(text, str):
        raise ValueError("the probe must be text")
    clean = "".join(ch for ch in text.strip().lower() if ch not in " ,;")
    bad = sorted({ch for ch in clean if ch not in ALPHABET})
    if bad:
        raise ValueError(f"characters {' '.join(repr(b) for b in bad)} are not tokens; use "
                         f"digits 0-9 and letters a-v (token 10 = a, 31 = v)")
    if len(clean) > MAX_LEN:
        raise ValueError(f"at most {MAX_LEN} tokens, got {len(clean)}")
    return clean


def tokens_of(text: str) -> np.ndarray:
    """Token ids of a parsed probe string, ``int64 (len,)``."""
    return np.array([ALPHABET.index(ch) for ch in text], np.int64)


def token_text(tokens, counts: bool = False) -> list[str]:
    """Display strings of token ids: alphabet characters, or decimal counts (histogram)."""
    return [str(int(t)) if counts else ALPHABET[int(t)] if 0 <= t < len(ALPHABET) else "?"
            for t in tokens]


def _source_positions(task: str, length: int):
    """Where output ``i`` copies from, for the positional tasks (else ``None``)."""
    i = np.arange(length)
    if task == "copy":
        return i
    if task == "reverse":
        return length - 1 - i
    if task == "shift":
        return (i - 1) % length
    return None


def _entropy(w: np.ndarray) -> np.ndarray:
    r"""Mean row entropy :math:`-\sum_j \alpha_{ij}\log\alpha_{ij}` of ``(..., L, L)``
    attention weights over the leading batch axis and the queries -> ``(...)`` (nats).
    ``0 log 0 = 0`` (masked keys have weight exactly 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(w > 0, w * np.log(np.where(w > 0, w, 1.0)), 0.0)
    return -plogp.sum(-1).mean(axis=(0, -1))


class TransformerLab(Lab):
    name = "transformer"
    chapter = 11
    title = "Transformer: attention heads learning"
    section = "11.4"
    summary = ("A tiny transformer learns a toy task (copy, reverse, sort, shift or count) "
               "while you watch its attention. Each heatmap row is one output position's "
               "softmax over the input positions: a head that learned to reverse looks at the "
               "mirrored position, so its map turns into an anti-diagonal. Without positional "
               "encoding the model cannot tell positions apart: copying still works, reversing "
               "and sorting do not. Type a sequence to probe the trained model.")

    params = (
        Param("task", "choice", "reverse", choices=SEQUENCE_TASKS, rebuild=True, group="Task",
              help="copy: y_i = x_i; reverse: y_i = x_(n-1-i); sort: tokens in order; shift: "
                   "y_i = x_(i-1) (cyclic); histogram: how often x_i occurs in the sequence."),
        Param("length", "int", 8, 4, MAX_LEN, rebuild=True, group="Task",
              label="sequence length", symbol="n", help="Tokens per training sequence n."),
        Param("vocab", "int", 10, 4, MAX_VOCAB, rebuild=True, group="Task",
              label="vocabulary", symbol="V",
              help="Number of distinct tokens V (0-9, then a-v)."),
        Param("layers", "int", 2, 1, 3, rebuild=True, group="Architecture",
              help="Encoder layers (attention + feed-forward, each with residual + LayerNorm)."),
        Param("heads", "int", 2, 1, 4, rebuild=True, group="Architecture", symbol="h",
              help="Attention heads per layer; each has width d_k = d_model / h."),
        Param("d_model", "int", 32, 16, 64, step=4, rebuild=True, group="Architecture",
              label="model width", symbol="d",
              help="Width d of embeddings and hidden states (divisible by the heads)."),
        Param("pos", "choice", "sinusoidal", choices=POSITIONAL, rebuild=True,
              group="Architecture", label="positional encoding", symbol="P",
              help="sinusoidal: fixed sin/cos code; learned: a trained table; none: the model "
                   "sees a bag of tokens (permutation-equivariant)."),
        Param("scale", "choice", "sqrt_dk", choices=SCALES, rebuild=True,
              group="Architecture", label="score scale", symbol="s",
              help="Divide the scores QK^T by sqrt(d_k) (correct), by 1, or by sqrt(n) (the "
                   "book's printed formula, erratum E1)."),
        Param("causal", "bool", False, rebuild=True, group="Architecture",
              label="causal mask", symbol="M",
              help="Each position may only attend to itself and earlier positions."),
        Param("lr", "float", 3e-3, 1e-4, 0.1, log=True, group="Training",
              label="learning rate", symbol="\u03b7",
              help="Adam's learning rate \u03b7 (after a 100-step linear warm-up)."),
        Param("batch_size", "int", 64, 8, 256, group="Training", label="batch size",
              symbol="B", help="Sequences per update."),
        Param("temperature", "float", 1.0, 0.1, 10.0, log=True, group="View",
              label="attention temperature", symbol="T",
              help="Divides the attention scale when probing and evaluating: T < 1 sharpens "
                   "every softmax, T > 1 flattens it (training always uses T = 1)."),
        Param("probe", "text", "", parse=parse_probe, group="View", label="probe sequence",
              choices=("31415926", "9876 5432"),
              hint=f"up to {MAX_LEN} tokens: digits 0-9 and letters a-v within the "
                   "vocabulary (empty: a held-out example)",
              help="A sequence to feed the model, e.g. 31415926; empty shows a held-out "
                   "example."),
    )

    # -- params -----------------------------------------------------------------------------------
    def _check_combination(self, v) -> None:
        """Raise ``ValueError`` for settings that are fine alone but not together."""
        if v["d_model"] % 2 and v["pos"] == "sinusoidal":
            raise ValueError(f"model width d = {v['d_model']} must be even for sinusoidal "
                             "positions (they come in sin/cos pairs)")
        if v["d_model"] % v["heads"]:
            ok = [d for d in range(16, 65, 4) if d % v["heads"] == 0]
            raise ValueError(f"model width d = {v['d_model']} is not divisible by "
                             f"h = {v['heads']} heads (each head gets d_k = d / h "
                             f"dimensions); with {v['heads']} heads use d in "
                             f"{', '.join(map(str, ok))}")
        probe = tokens_of(v["probe"])
        if probe.size and probe.max() >= v["vocab"]:
            raise ValueError(f"the probe uses token {ALPHABET[int(probe.max())]!r} = "
                             f"{int(probe.max())}, outside the vocabulary 0-"
                             f"{ALPHABET[v['vocab'] - 1]} (V = {v['vocab']})")

    def _on_param(self, name, old):
        v = self.values
        if name in ("d_model", "heads", "pos") or (name == "probe" and v["probe"]):
            self._check_combination(v)
        if name == "lr" and hasattr(self, "optimizer"):
            self._set_lr()
        elif name == "temperature" and hasattr(self, "model"):
            # Re-score the held-out batch under the new temperature, so the curves' last
            # point and the readouts agree with the heatmaps.
            self._evaluate(self.step_count, record=False)

    # -- build ------------------------------------------------------------------------------------
    def _build(self) -> None:
        v = self.values
        if v["d_model"] % v["heads"] or v["d_model"] % 2:
            self._check_combination(v)
        self.n_out = n_outputs(v["task"], v["length"], v["vocab"])
        self.Xe, self.Ye = make_sequence_task(v["task"], N_EVAL, v["length"], v["vocab"],
                                              self.rng)
        self.model = TinyTransformer(
            v["vocab"], v["d_model"], v["heads"], v["layers"], MAX_LEN, pos=v["pos"],
            out_vocab=self.n_out, scale=v["scale"], causal=v["causal"], generator=self.rng)
        self._to_device()
        self.optimizer = optim.Adam(list(self.model.parameters()), lr=v["lr"])
        self._set_lr()
        self.hist = {k: [] for k in ("step", "train_loss", "test_loss", "token_acc",
                                     "seq_acc")}
        self.entropy_hist: list[np.ndarray] = []
        self.alerts: list[str] = []
        self.diverged = False
        self._losses: list[float] = []
        self._evaluate(0)

    def _to_device(self) -> None:
        dev = self._device()
        self.model.to_backend(dev)
        xp = backend.get_xp(dev)
        self.Xe_dev = xp.asarray(self.Xe)

    def _set_lr(self) -> None:
        warm = min(1.0, (self.step_count + 1) / WARMUP)
        for g in self.optimizer.param_groups:
            g["lr"] = self.values["lr"] * warm

    def work_size(self) -> float:
        """Forward multiply-adds of one batch: projections, scores and feed-forward nets."""
        v = self.values
        tokens = v["batch_size"] * v["length"]
        d = v["d_model"]
        per_layer = tokens * (4 * d * d + 2 * v["length"] * d + 4 * d * d)
        return float(v["layers"] * per_layer + tokens * d * v["vocab"])

    # -- training ---------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.diverged



    def _step(self) -> None:
        v = self.values
        X, Y = make_sequence_task(v["task"], v["batch_size"], v["length"], v["vocab"],
                                  self.rng)
        xp = backend.xp_of(self.Xe_dev)
        step = self.step_count + 1
        self._set_lr()
        with np.errstate(over="ignore", invalid="ignore"):
            self.optimizer.zero_grad()
            logits = self.model(xp.asarray(X))
            loss = F.cross_entropy(logits.reshape(-1, self.n_out), xp.asarray(Y.reshape(-1)))
            value = float(loss.item())
            if not math.isfinite(value):
                self.diverged = True
                self.alerts.append(f"Training diverged at step {step} (loss = {value:g}). "
                                   "Likely cause: the learning rate is too high; lower \u03b7 "
                                   "and reset.")
                return
            loss.backward()
            self.optimizer.step()
        self._losses.append(value)
        if step % EVAL_EVERY == 0:
            self._evaluate(step)

    def _forward(self, X_dev, temperature=None):
        """Logits ``(N, L, out)`` and per-layer weights ``(layers, N, h, L, L)`` as NumPy."""
        T = self.values["temperature"] if temperature is None else temperature
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            logits, ws = self.model(X_dev, return_attention=True, temperature=T)
        return (backend.to_numpy(logits.data).astype(np.float64),
                np.stack([backend.to_numpy(w.data) for w in ws]).astype(np.float64))

    def _evaluate(self, step: int, record: bool = True) -> None:
        logits, ws = self._forward(self.Xe_dev)
        z = logits - logits.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        n, L = self.Ye.shape
        test_loss = float(-logp[np.arange(n)[:, None], np.arange(L), self.Ye].mean())
        right = logits.argmax(-1) == self.Ye
        self.eval_weights_argmax = ws.argmax(-1)                   # (layers, N, h, L)
        entropy = _entropy(np.moveaxis(ws, 1, 0))                   # (layers, h)
        if not record and self.hist["step"]:
            self.hist["test_loss"][-1] = test_loss
            self.hist["token_acc"][-1] = float(right.mean())
            self.hist["seq_acc"][-1] = float(right.all(-1).mean())
            self.entropy_hist[-1] = entropy
            return
        h = self.hist
        h["step"].append(step)
        h["train_loss"].append(float(np.mean(self._losses)) if self._losses else test_loss)
        h["test_loss"].append(test_loss)
        h["token_acc"].append(float(right.mean()))
        h["seq_acc"].append(float(right.all(-1).mean()))
        self.entropy_hist.append(entropy)
        self._losses = []

    def history(self) -> dict:
        out = {k: list(map(float, v)) for k, v in self.hist.items()}
        out["entropy"] = [e.tolist() for e in self.entropy_hist]
        return out

    def alignment(self) -> np.ndarray | None:
        """For copy / reverse / shift: per (layer, head), the fraction of held-out queries
        whose largest attention weight falls on the position the output copies from
        (``None`` for the other tasks).  ``(layers, heads)``."""
        src = _source_positions(self.values["task"], self.values["length"])
        if src is None:
            return None
        return (self.eval_weights_argmax == src).mean(axis=(1, 3))

    # -- snapshot ---------------------------------------------------------------------------------
    def _probe_tokens(self) -> tuple[np.ndarray, str]:
        v = self.values
        probe = tokens_of(v["probe"])
        if probe.size == 0:
            return self.Xe[0], "held-out example"
        if probe.max() >= v["vocab"]:   # the vocabulary shrank after the probe was typed
            return self.Xe[0], (f"your probe uses tokens outside 0-{ALPHABET[v['vocab'] - 1]}"
                                "; showing a held-out example")
        if probe.size != v["length"]:
            return probe, (f"your probe has {probe.size} tokens; the model trained on "
                           f"{v['length']} (this tests length generalisation)")
        return probe, "your probe"

    def _snapshot(self) -> Snapshot:
        v = self.values
        probe, note = self._probe_tokens()
        target = sequence_targets(v["task"], probe[None])[0]
        xp = backend.xp_of(self.Xe_dev)
        logits, ws = self._forward(xp.asarray(probe[None]))
        z = logits[0] - logits[0].max(-1, keepdims=True)
        probs = np.exp(z) / np.exp(z).sum(-1, keepdims=True)        # (m, out)
        pred = probs.argmax(-1)
        attention = ws[:, 0]                                        # (layers, h, m, m)
        m = len(probe)
        pe = self.model.positional_encoding(max(v["length"], m))
        counts = v["task"] == "histogram"
        h = self.hist
        align = self.alignment()
        data = {
            "attention": attention,
            "probe_tokens": probe, "probe_target": target, "probe_pred": pred,
            "probe_probs": probs,
            "probe_labels": token_text(probe),
            "target_labels": token_text(target, counts),
            "pred_labels": token_text(pred, counts),
            "output_labels": token_text(np.arange(self.n_out), counts),
            "probe_entropy": _entropy(attention[None]),               # (layers, h)
            "entropy": np.array(self.entropy_hist),                 # (evals, layers, h)
            "curves": {k: np.asarray(val, np.float64) for k, val in h.items()},
            "pe": pe, "pe_dots": pe @ pe.T,
            "max_entropy": math.log(v["length"]),
            "alignment": np.zeros((0, 0)) if align is None else align,
        }
        scalars = {"loss": h["train_loss"][-1], "test_loss": h["test_loss"][-1],
                   "token_accuracy": h["token_acc"][-1],
                   "sequence_accuracy": h["seq_acc"][-1],
                   "attention_entropy": float(np.mean(self.entropy_hist[-1])),
                   "probe_correct": float((pred == target).mean()),
                   "parameters": self.model.num_parameters(),
                   "score_scale": self.model.scale_for(v["length"], v["temperature"])}
        if align is not None:
            scalars["best_head_alignment"] = float(align.max())
        text = {"equation": self._equation_html(note, probe, target, pred),
                "summary": self.summary, "probe_note": note, "pos": v["pos"]}
        return Snapshot.make(self.name, self.step_count, scalars, data, text, self.alerts)

    def _equation_html(self, note, probe, target, pred) -> str:
        v = self.values
        cfg = self.model.config
        d_k = self.model.head_dim
        n = v["length"]
        T = v["temperature"]
        s = self.model.scale_for(n, 1.0)
        s_name = {"sqrt_dk": f"1/\u221ad<sub>k</sub> = 1/\u221a{d_k} = {s:.4g}",
                  "1": "1 (no scaling)",
                  "sqrt_n": f"1/\u221an = 1/\u221a{n} = {s:.4g} (the book's version)"}
        h = self.hist
        ent = self.entropy_hist[-1]
        ent_rows = "".join(
            f"<tr><td>layer {li + 1}</td>"
            + "".join(f"<td>{e:.3g}</td>" for e in row) + "</tr>"
            for li, row in enumerate(ent))
        counts = v["task"] == "histogram"
        sep = " " if counts else ""
        mask = (" + M (M<sub>ij</sub> = \u2212\u221e for j &gt; i, causal)"
                if cfg["causal"] else "")
        pos = {"sinusoidal": "P<sub>p,2i</sub> = sin(p/10000<sup>2i/d</sup>), "
                             "P<sub>p,2i+1</sub> = cos(p/10000<sup>2i/d</sup>)",
               "learned": "P = a learned n<sub>max</sub>\u00d7d table",
               "none": "P = 0: no positions, so attention cannot tell them apart"}[cfg["pos"]]
        return (
            "<p><b>Att</b>(Q, K, V) = softmax(s\u00b7QK<sup>\u22a4</sup>/T" + mask + ") V"
            f"<br>s = {s_name[cfg['scale']]}, T = {T:.3g} \u2192 scores \u00d7 "
            f"{s / T:.4g}</p>"
            "<p>The book prints \u221an; the correct scale is \u221ad<sub>k</sub> "
            "(erratum E1): dot products of d<sub>k</sub> unit-variance terms have variance "
            "d<sub>k</sub>, so dividing by \u221ad<sub>k</sub> keeps the softmax out of "
            "saturation at any width.</p>"
            f"<p>head<sub>i</sub> = Att(XW<sub>i</sub><sup>Q</sup>, XW<sub>i</sub><sup>K</sup>, "
            f"XW<sub>i</sub><sup>V</sup>), &nbsp;MH = [head<sub>1</sub> \u2026 "
            f"head<sub>{cfg['heads']}</sub>] W<sup>O</sup>; &nbsp;d = {cfg['d_model']}, "
            f"h = {cfg['heads']}, d<sub>k</sub> = {d_k}</p>"
            f"<p>x \u2192 LN(x + MH(x)) \u2192 LN(x + FFN(x)), FFN(x) = max(0, xW<sub>1</sub> + "
            f"b<sub>1</sub>)W<sub>2</sub> + b<sub>2</sub> (LN uses the layer's mean and "
            f"deviation, E6)</p>"
            f"<p>H<sup>(0)</sup> = E[x] + P; &nbsp;{pos}</p>"
            "<p>entropy H = \u2212\u03a3<sub>j</sub> \u03b1<sub>ij</sub> log \u03b1<sub>ij</sub>"
            f" (nats; uniform = log n = {math.log(n):.3g}):</p>"
            "<table><tr><th></th>"
            + "".join(f"<th>head {i + 1}</th>" for i in range(cfg["heads"])) + "</tr>"
            + ent_rows + "</table>"
            f"<p>step {self.step_count:,}: token accuracy {h['token_acc'][-1]:.1%}, "
            f"sequence accuracy {h['seq_acc'][-1]:.1%}, J<sub>test</sub> = "
            f"{h['test_loss'][-1]:.4g}</p>"
            f"<p>probe ({note}): {''.join(token_text(probe))} \u2192 want "
            f"{sep.join(token_text(target, counts))}, got "
            f"{sep.join(token_text(pred, counts))}</p>")

    # -- model files ------------------------------------------------------------------------------
    def save_model(self, path) -> None:
        v = self.values
        save_model(path, self.model, {"kind": "transformer", **self.model.config},
                   hyperparameters={"optimizer": "adam", "lr": v["lr"],
                                    "batch_size": v["batch_size"], "warmup": WARMUP},
                   task={"task": v["task"], "length": v["length"], "vocab": v["vocab"]},
                   seed=self.seed, step=self.step_count, lab=self.name)

    def load_model(self, path) -> None:
        mf = read_model(path, expect=("transformer", "transformers"))
        cfg = mf.model.config
        task = mf.task
        new = dict(self.values)
        try:
            new.update(task=task["task"], length=task["length"], vocab=task["vocab"],
                       layers=cfg["layers"], heads=cfg["heads"], d_model=cfg["d_model"],
                       pos=cfg["pos"], scale=cfg["scale"], causal=cfg["causal"])
            new = {k: self._param(k).coerce(val) for k, val in new.items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"this lab cannot use the model: its task or architecture "
                                 f"is outside the lab's ranges ({exc})") from None
        if cfg["vocab"] != new["vocab"] or cfg["max_len"] != MAX_LEN or \
                cfg["out_vocab"] != n_outputs(new["task"], new["length"], new["vocab"]) or \
                cfg["ff"] != 2 * cfg["d_model"]:
            raise ModelFileError("the model's sizes do not match what this lab builds "
                                 f"(vocab {cfg['vocab']}, max_len {cfg['max_len']}, outputs "
                                 f"{cfg['out_vocab']}, ff {cfg['ff']})")
        if new["probe"] and tokens_of(new["probe"]).max() >= new["vocab"]:
            new["probe"] = ""
        old_values = self.values
        self.values = new
        try:
            self.reset(self.seed)            # fresh held-out set and histories for the task
        except Exception:
            self.values = old_values
            self.reset(self.seed)
            raise
        self.model = mf.model
        self._to_device()
        self.optimizer = optim.Adam(list(self.model.parameters()), lr=new["lr"])
        self.step_count = mf.step
        self._set_lr()
        self.hist = {k: [] for k in self.hist}
        self.entropy_hist = []
        self._evaluate(mf.step)
        self.notice = f"loaded a transformer trained on {new['task']} for {mf.step:,} steps"

    def export_onnx(self, path) -> None:
        """Write the transformer as ONNX: ``tokens`` int64 (N, L), 1 <= L <= max_len ->
        ``logits`` and ``probs`` (N, L, outputs).  The attention temperature is a read-out
        setting and is not exported (the graph is the trained model, T = 1)."""
        export_onnx(path, self.model)

    def _move_to_backend(self) -> None:
        self._to_device()
        self.optimizer.to_backend(self._device())
