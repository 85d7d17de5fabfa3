r"""Neural Turing machine addressing, stage by stage (book ch. 11, section 11.2).

:class:`NTMLab` holds a small memory :math:`M \in \mathbb R^{N\times W}` and one head.  Each
step reveals the next stage of one time step of the head:

0. content      :math:`w^c = \mathrm{softmax}(\beta \cos(k, M(i)))`
1. gate         :math:`w^g = g\,w^c + (1-g)\,w_{t-1}`
2. shift        :math:`\tilde w(i) = \sum_j w^g(j)\,s((i-j) \bmod N)`
3. sharpen      :math:`w = \tilde w^\gamma / \sum \tilde w^\gamma`
4. read         :math:`r = \sum_i w(i) M(i)`
5. write        :math:`M'(i) = M(i)\odot(1 - w(i)e) + w(i)a`

after which the next time step starts from the written memory with :math:`w_{t-1} = w`, so a
weak key (small :math:`g`) and a lopsided shift kernel make the head walk row by row.  The
params (key, strengths, kernel, erase and add vectors) apply at once to the time step in
progress; clicking a memory cell edits the memory the head is reading.

In ``copy_task`` mode the lab trains a tiny NTM instead (:class:`engine.ntm.NTMCopyModel`: a
feed-forward controller, one read and one write head) to repeat a sequence of random bit
vectors after a delimiter.  The controller has no memory of its own, so the copy must go
through the memory; the snapshot shows the loss and, for one fixed test sequence, where the
heads wrote and read at each time step.

The formulas live in :mod:`engine.ntm` (the same functions train the copy model on engine
Tensors); this class holds the state and builds snapshots.
"""
from __future__ import annotations

import math

import numpy as np

from engine import ntm
from engine.autodiff import Tensor, no_grad
from engine.labs.base import Action, Lab, Param, Snapshot
from engine.nn import functional as F
from engine.optim import Adam

STAGES = ("content", "gate", "shift", "sharpen", "read", "write")
STAGE_LABELS = ("content w\u1d9c", "gate w\u1d4d", "shift w\u0303", "sharpen w",
                "read r", "write M\u2032")
#: The worked example of the spec (11.2): its memory, key and head state are the defaults.
EXAMPLE_MEMORY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
MAX_ROWS = 16
MAX_WIDTH = 8
MAX_VALUE = 10.0          # largest |entry| a user may type in the memory, key or add vector
HISTORY = 24              # time steps kept in the head-position picture
#: The copy task's machine: 4-bit vectors, an 8 x 6 memory, a 64-unit controller, batches of
#: 32; the training lengths are drawn from 1 .. seq_len, the test uses seq_len.
COPY_BITS, COPY_ROWS, COPY_WIDTH, COPY_HIDDEN, COPY_BATCH = 4, 8, 6, 64, 32
COPY_EVAL_EVERY = 10      # test batch every this many steps
COPY_MAX_STEPS = 3000
CLIP_NORM = 10.0          # gradient-norm clip: NTM training spikes now and then without it


def _vector_parser(what: str, low: float, high: float):
    """A ``parse`` for comma-separated vectors of 1..MAX_WIDTH numbers in [low, high]."""

    def parse(value: str) -> str:
        parts = [p for p in str(value).replace(";", ",").replace(" ", ",").split(",") if p]
        if not parts:
            raise ValueError(f"type the {what} as numbers separated by commas, e.g. 1, 0.5, 0")
        if len(parts) > MAX_WIDTH:
            raise ValueError(f"{len(parts)} numbers; the {what} has at most {MAX_WIDTH} "
                             "(one per memory column)")
        nums = []
        for p in parts:
            try:
                x = float(p)
            except ValueError:
                raise ValueError(f"{p!r} is not a number") from None
            if not math.isfinite(x) or not low <= x <= high:
                raise ValueError(f"every entry of the {what} must lie in [{low:g}, {high:g}], "
                                 f"got {p}")
            nums.append(x)
        return ", ".join(f"{x:g}" for x in nums)

    return parse


def parse_vector(text: str) -> np.ndarray:
    """The numbers of a canonical vector string, as float64."""
    return np.array([float(p) for p in text.split(",")], dtype=np.float64)


def _fit(vec: np.ndarray, width: int) -> np.ndarray:
    """Pad with zeros or cut to ``width`` entries (the memory width may change after the
    vector was typed)."""
    out = np.zeros(width)
    k = min(width, vec.size)
    out[:k] = vec[:k]
    return out


def _num(v: float) -> str:
    """Whole numbers plainly, else 3 decimals below 1 in size and 4 significant digits
    above; a real minus sign; no "-0"."""
    v = float(v)
    if v == round(v) and abs(v) < 1e6:
        text = str(round(v))
    else:
        text = f"{v:.3f}" if abs(v) < 1 else f"{v:.4g}"
    if text.strip("-0.") == "":
        text = text.lstrip("-")
    return text.replace("-", "\u2212")


def _vec(a) -> str:
    return "(" + ", ".join(_num(x) for x in np.ravel(a)) + ")"


def _short(v: float) -> str:
    """A memory cell's label: 2 decimals, integers plainly."""
    v = float(v)
    if abs(v - round(v)) < 5e-3:
        text = str(round(v))
    else:
        text = f"{v:.2f}".rstrip("0")
    return text.replace("-", "\u2212")


def _sub(i) -> str:
    return f"<sub>{i}</sub>"


class NTMLab(Lab):
    """One NTM head stepping through content, gate, shift, sharpen, read and write."""

    name = "ntm"
    chapter = 11
    title = "Neural Turing machine addressing"
    section = "11.2 Neural Turing machine"
    summary = (
        "A neural Turing machine keeps a memory matrix beside its network and reaches it "
        "with soft heads: a head never picks one row, it spreads a weight over all rows, so "
        "reading and writing stay differentiable. The weights come in four stages. Content: "
        "rows similar to the key k win, more sharply for larger \u03b2. Gate: g blends that "
        "with where the head was last time (g = 0 ignores the key). Shift: the kernel s "
        "moves the weight up or down by a row, wrapping round. Sharpen: \u03b3 \u2265 1 "
        "undoes the blur the shift made. A read returns the weighted mix of rows; a write "
        "first fades each row by w(i)e, then adds w(i)a. Try g = 0 and s = (0, 0, 1): each "
        "time step the head walks one row down, which is how an NTM steps through a "
        "sequence.")
    params = (
        Param("mode", "choice", "addressing", choices=("addressing", "copy_task"),
              group="Mode", rebuild=True,
              help="addressing: step one head through content, gate, shift, sharpen, read "
                   "and write by hand. copy_task: train a small NTM (feed-forward "
                   "controller, 8\u00d76 memory) to repeat a bit sequence; the other groups "
                   "then do not apply."),
        Param("seq_len", "int", 3, 1, 6, label="copy length L", symbol="L",
              group="Copy task", rebuild=True,
              help="Longest sequence trained on (lengths 1..L are mixed, which makes "
                   "learning steadier) and the length of the test sequence (restarts)."),
        Param("lr", "float", 3e-3, 1e-4, 1e-2, log=True, label="learning rate",
              symbol="\u03b7", group="Copy task",
              help="Adam's step size for the copy task (applies at once)."),
        Param("rows", "int", 4, 2, MAX_ROWS, label="memory rows N", symbol="N",
              group="Memory", rebuild=True,
              help="Number of memory locations (restarts the head and the memory)."),
        Param("width", "int", 3, 1, MAX_WIDTH, label="row width W", symbol="W",
              group="Memory", rebuild=True,
              help="Length of each memory row (restarts). Key, erase and add vectors are "
                   "padded with zeros or cut to W."),
        Param("start_row", "int", 2, 0, MAX_ROWS - 1, label="start row", group="Memory",
              rebuild=True,
              help="Where the head starts: w\u2080 is 1 on this row (clamped to N \u2212 1)."),
        Param("key", "text", "1, 0.5, 0", parse=_vector_parser("key", -MAX_VALUE, MAX_VALUE),
              hint=f"1 to {MAX_WIDTH} numbers in [-10, 10], separated by commas",
              label="key k", symbol="k", group="Addressing",
              choices=("1, 0.5, 0", "0, 0, 1", "1, 1, 1, 1, 1, 1, 1, 1"),
              help="The key k compared with every row by cosine similarity."),
        Param("beta", "float", 2.0, 0.0, 50.0, step=0.1, label="key strength \u03b2",
              symbol="\u03b2", group="Addressing",
              help="w\u1d9c = softmax(\u03b2 cos(k, M(i))): 0 gives equal weights, large "
                   "\u03b2 focuses on the best match."),
        Param("g", "float", 0.7, 0.0, 1.0, step=0.01, label="gate g", symbol="g",
              group="Addressing",
              help="w\u1d4d = g w\u1d9c + (1 \u2212 g) w\u209c\u208b\u2081: 1 uses the key "
                   "only, 0 keeps the last weighting."),
        Param("shift_left", "float", 0.1, 0.0, 1.0, step=0.01, label="shift \u22121",
              symbol="s(\u22121)", group="Shift kernel",
              help="Weight of moving up one row (toward row 0). The three shift weights are "
                   "divided by their sum."),
        Param("shift_stay", "float", 0.8, 0.0, 1.0, step=0.01, label="shift 0",
              symbol="s(0)", group="Shift kernel",
              help="Weight of staying on the same row (the three are normalised)."),
        Param("shift_right", "float", 0.1, 0.0, 1.0, step=0.01, label="shift +1",
              symbol="s(+1)", group="Shift kernel",
              help="Weight of moving down one row, wrapping from the last row to row 0 (the "
                   "three are normalised)."),
        Param("gamma", "float", 2.0, 1.0, 20.0, step=0.1, label="sharpening \u03b3",
              symbol="\u03b3", group="Addressing",
              help="w = w\u0303^\u03b3 / \u03a3 w\u0303^\u03b3: 1 changes nothing, larger "
                   "\u03b3 concentrates the weight."),
        Param("erase", "text", "1, 0, 0.5", parse=_vector_parser("erase vector", 0.0, 1.0),
              hint=f"1 to {MAX_WIDTH} numbers in [0, 1], separated by commas",
              label="erase e", symbol="e", group="Write",
              choices=("1, 0, 0.5", "0, 0, 0", "1, 1, 1, 1, 1, 1, 1, 1"),
              help="Each entry says how much of that column the write wipes (times w(i))."),
        Param("add", "text", "0, 1, 1", parse=_vector_parser("add vector", -MAX_VALUE,
                                                             MAX_VALUE),
              hint=f"1 to {MAX_WIDTH} numbers in [-10, 10], separated by commas",
              label="add a", symbol="a", group="Write",
              choices=("0, 1, 1", "0, 0, 0", "1, -1, 1, -1, 1, -1, 1, -1"),
              help="What the write adds to each row, times w(i), after erasing."),
    )
    actions = (
        Action("set_memory_cell", "Edit memory", ("row", "col", "value"),
               "Set memory entry M(row, col) (click a cell of the memory picture)."),
    )

    # -- building ---------------------------------------------------------------------------------
    @property
    def copy_mode(self) -> bool:
        return self.values["mode"] == "copy_task"

    @property
    def play_interval(self) -> float:
        # One stage per step is for the eye (about 0.5 s to read the bars); training should
        # run as fast as frames allow.
        return 0.0 if self.copy_mode else 0.5

    @property
    def finished(self) -> bool:
        return self.copy_mode and self.step_count >= COPY_MAX_STEPS

    @property
    def finished_reason(self) -> str:
        return f"the copy task has trained for {COPY_MAX_STEPS} steps; Reset to train again"

    def _build(self) -> None:
        if self.copy_mode:
            self._build_copy()
        v = self.values
        n, w = v["rows"], v["width"]
        # A reproducible start memory of tenths in [0, 1]; the spec's worked example fills the
        # top-left corner, so the defaults reproduce its numbers.
        mem = np.round(self.rng.random((n, w)), 1)
        r, c = min(n, 4), min(w, 3)
        mem[:r, :c] = EXAMPLE_MEMORY[:r, :c]
        self.memory = mem
        self.start_row = min(int(v["start_row"]), n - 1)
        self.w_prev = np.zeros(n)
        self.w_prev[self.start_row] = 1.0
        self.stage = 0          # the stage last revealed (0 = content)
        self.time = 1           # t of the time step in progress
        self.head_hist = [self.w_prev.copy()]
        self.edits = 0
        self._result = self._compute(v, self.memory, self.w_prev)

    def _kernel(self, v) -> np.ndarray:
        s = np.array([v["shift_left"], v["shift_stay"], v["shift_right"]], dtype=np.float64)
        total = s.sum()
        if total <= 0:
            raise ValueError("the shift weights are all 0: at least one of shift \u22121, 0, "
                             "+1 must be positive (they are divided by their sum)")
        return s / total

    def _compute(self, v, memory, w_prev) -> dict:
        """Every stage of the time step for params ``v`` (pure: nothing is stored)."""
        width = memory.shape[1]
        key = _fit(parse_vector(v["key"]), width)
        erase = _fit(parse_vector(v["erase"]), width)
        add = _fit(parse_vector(v["add"]), width)
        s = self._kernel(v)
        st = ntm.address(memory, key, v["beta"], v["g"], s, v["gamma"], w_prev, stages=True)
        st["r"] = ntm.read(memory, st["w"])
        st["memory_after"] = ntm.write(memory, st["w"], erase, add)
        st.update(key=key, erase=erase, add=add, s=s)
        return st

    def _on_param(self, name, old) -> None:
        if self._param(name).rebuild:
            return          # set_param resets
        if name == "lr":
            if hasattr(self, "optimizer"):
                for group in self.optimizer.param_groups:
                    group["lr"] = self.values["lr"]
            return
        self._result = self._compute(self.values, self.memory, self.w_prev)  # may raise

    # -- the copy task ----------------------------------------------------------------------------
    def _build_copy(self) -> None:
        L = int(self.values["seq_len"])
        self.model = ntm.NTMCopyModel(COPY_BITS + 2, COPY_BITS, COPY_ROWS, COPY_WIDTH,
                                      COPY_HIDDEN, self.rng)
        self.optimizer = Adam(self.model.parameters(), lr=self.values["lr"])
        # The test data come from their own generator, so they are the same whatever the
        # training draws (one sequence to show, a batch to score).
        test_rng = np.random.default_rng([self.seed, 0xC0B1])
        self.example = ntm.copy_batch(test_rng, 1, L, COPY_BITS)
        self.test = ntm.copy_batch(test_rng, 256, L, COPY_BITS)
        self.losses: list[float] = []
        self.eval_steps: list[int] = []
        self.eval_bits: list[float] = []
        self.eval_exact: list[float] = []
        self._evaluate()

    def _evaluate(self) -> None:
        """Score the test batch: wrong bits per sequence and the share copied exactly."""
        x, y, mask = self.test
        with no_grad():
            logits, _ = self.model(Tensor(x))
        wrong = ((logits.data > 0) != (y > 0.5)) & (mask > 0)
        self.eval_steps.append(self.step_count)
        self.eval_bits.append(float(wrong.sum(axis=(1, 2)).mean()))
        self.eval_exact.append(float((~wrong.any(axis=(1, 2))).mean()))

    def _train_step(self) -> None:
        L = int(self.rng.integers(1, int(self.values["seq_len"]) + 1))
        x, y, mask = ntm.copy_batch(self.rng, COPY_BATCH, L, COPY_BITS)
        logits, _ = self.model(Tensor(x))
        # Mean binary cross-entropy over the scored bits (the recall phase only).
        loss = F.binary_cross_entropy_with_logits(logits, Tensor(y), weight=Tensor(mask),
                                                  reduction="sum") * (1.0 / mask.sum())
        self.optimizer.zero_grad()
        loss.backward()
        params = [p for p in self.model.parameters() if p.grad is not None]
        norm = math.sqrt(sum(float((p.grad.data ** 2).sum()) for p in params))
        if norm > CLIP_NORM:
            for p in params:
                p.grad.data *= CLIP_NORM / norm
        self.optimizer.step()
        self.losses.append(float(loss.item()))
        if (self.step_count + 1) % COPY_EVAL_EVERY == 0:
            self.step_count += 1     # the evaluation is stamped with the step it follows
            self._evaluate()
            self.step_count -= 1

    # -- stepping ---------------------------------------------------------------------------------
    def _step(self) -> None:
        if self.copy_mode:
            self._train_step()
            return
        if self.stage < len(STAGES) - 1:
            self.stage += 1
            return
        # The write was shown: the next time step reads the written memory and starts from
        # this step's weighting (that is what lets the shift make the head walk).
        res = self._result
        self.memory = np.array(res["memory_after"])
        self.w_prev = np.array(res["w"])
        self.head_hist = (self.head_hist + [self.w_prev])[-HISTORY:]
        self.time += 1
        self.stage = 0
        self._result = self._compute(self.values, self.memory, self.w_prev)

    # -- actions ----------------------------------------------------------------------------------
    def action_set_memory_cell(self, row, col, value) -> None:
        """Set ``M(row, col) = value`` in the memory the current time step reads."""
        n, w = self.memory.shape
        try:
            rf, cf, x = float(row), float(col), float(value)
        except (TypeError, ValueError):
            raise ValueError(f"set_memory_cell: row and col must be integers and value a "
                             f"number, got {row!r}, {col!r}, {value!r}") from None
        if not (rf.is_integer() and cf.is_integer()):
            raise ValueError(f"set_memory_cell: row and col must be whole numbers, got "
                             f"{row!r}, {col!r}")
        r, c = int(rf), int(cf)
        if not (0 <= r < n and 0 <= c < w):
            raise ValueError(f"set_memory_cell: ({r}, {c}) is outside the memory; rows run "
                             f"0..{n - 1} and columns 0..{w - 1}")
        if not math.isfinite(x) or abs(x) > MAX_VALUE:
            raise ValueError(f"set_memory_cell: the value must be a number in "
                             f"[-{MAX_VALUE:g}, {MAX_VALUE:g}], got {value!r}")
        mem = self.memory.copy()
        mem[r, c] = x
        result = self._compute(self.values, mem, self.w_prev)
        self.memory, self._result = mem, result
        self.edits += 1

    # -- output -----------------------------------------------------------------------------------
    def history(self) -> dict:
        if self.copy_mode:
            return {"loss": list(self.losses), "eval_step": list(self.eval_steps),
                    "bit_errors": list(self.eval_bits), "exact": list(self.eval_exact)}
        return {"memory": self.memory.tolist(), "w": [h.tolist() for h in self.head_hist]}

    def _heads(self) -> np.ndarray:
        """Head weightings over time: w_0, the finished steps' w, and this step's w once the
        sharpen stage is shown; the newest ``HISTORY`` rows."""
        rows = list(self.head_hist)
        if self.stage >= STAGES.index("sharpen"):
            rows.append(self._result["w"])
        return np.array(rows[-HISTORY:])

    def _snapshot(self) -> Snapshot:
        if self.copy_mode:
            return self._copy_snapshot()
        v, res = self.values, self._result
        mem, after = self.memory, res["memory_after"]
        pipeline = np.stack([self.w_prev, res["wc"], res["wg"], res["wt"], res["w"]])
        heads = self._heads()
        last_t = self.time if self.stage >= STAGES.index("sharpen") else self.time - 1
        first_t = last_t - len(heads) + 1
        data = {
            "mode": "addressing",
            "memory": mem, "memory_after": after, "pipeline": pipeline,
            "pipeline_names": ("w\u209c\u208b\u2081", "content w\u1d9c", "gate w\u1d4d",
                               "shift w\u0303", "sharpen w"),
            "cos": res["cos"], "w_prev": self.w_prev, "wc": res["wc"], "wg": res["wg"],
            "wt": res["wt"], "w": res["w"], "r": res["r"], "key": res["key"],
            "erase": res["erase"], "add": res["add"], "shift": res["s"],
            "stage": self.stage, "stage_names": STAGE_LABELS, "time": self.time,
            "heads": heads, "heads_t0": first_t,
            "memory_labels": self._labels(mem), "after_labels": self._labels(after),
        }
        w = res["w"]
        p = w[w > 0]
        scalars = {"time": self.time, "stage": self.stage, "head_row": int(np.argmax(w)),
                   "focus": float(w.max()), "entropy": float(-(p * np.log(p)).sum()),
                   "beta": v["beta"], "g": v["g"], "gamma": v["gamma"]}
        text = {"equation": self._equation_html(), "rules": self._explain_html(),
                "summary": self.summary, "status": self._status()}
        return Snapshot.make(self.name, self.step_count, scalars, data, text)

    @staticmethod
    def _labels(arr) -> dict:
        """Every cell's value as text at its centre (x = column, y = row)."""
        ys, xs = np.nonzero(np.ones(arr.shape, dtype=bool))
        return {"xy": np.stack([xs + 0.5, ys + 0.5], 1).astype(np.float64),
                "text": tuple(_short(arr[y, x]) for y, x in zip(ys, xs))}

    def _status(self) -> str:
        nxt = STAGES[(self.stage + 1) % len(STAGES)]
        after = " (the next time step starts)" if self.stage == len(STAGES) - 1 else ""
        return (f"Time step t = {self.time}, stage {self.stage + 1} of {len(STAGES)}: "
                f"{STAGES[self.stage]}. Step shows {nxt}{after}.")

    # -- rendered math ----------------------------------------------------------------------------
    def _equation_html(self) -> str:
        """The six formulas with this time step's numbers; stages not yet shown are grey."""
        v, r = self.values, self._result
        t = self.time
        wt, wp = f"w{_sub('t')}", f"w{_sub('t&minus;1')}"
        s = r["s"]
        content = (f"cos(k, M(i)) = {_vec(r['cos'])}<br>w<sup>c</sup> = softmax(&beta; cos) "
                   f"= softmax({_num(v['beta'])}&middot;cos) = {_vec(r['wc'])}")
        gate = (f"w<sup>g</sup> = g w<sup>c</sup> + (1&minus;g) {wp} = {_num(v['g'])}&middot;"
                f"w<sup>c</sup> + {_num(1 - v['g'])}&middot;{_vec(self.w_prev)} = "
                f"{_vec(r['wg'])}")
        shift = (f"w&#771;(i) = &Sigma;<sub>j</sub> w<sup>g</sup>(j) s((i&minus;j) mod "
                 f"{len(self.w_prev)}) = {_num(s[0])}&middot;w<sup>g</sup>(i+1) + "
                 f"{_num(s[1])}&middot;w<sup>g</sup>(i) + {_num(s[2])}&middot;"
                 f"w<sup>g</sup>(i&minus;1) = {_vec(r['wt'])}")
        sharpen = (f"{wt}(i) = w&#771;(i)<sup>&gamma;</sup> / &Sigma;<sub>j</sub> "
                   f"w&#771;(j)<sup>&gamma;</sup>, &gamma; = {_num(v['gamma'])}: "
                   f"{wt} = {_vec(r['w'])}")
        read = f"r{_sub('t')} = &Sigma;<sub>i</sub> {wt}(i) M(i) = {_vec(r['r'])}"
        lines = (content, gate, shift, sharpen, read, self._write_line())
        grey = "#8a8a8a"
        out = [f"<p><b>Time step t = {t}</b> (w{_sub('0')} = row {self.start_row})</p>"]
        for k, body in enumerate(lines):
            head = f"{k + 1}. {STAGES[k]}"
            if k < self.stage:
                out.append(f"<p><b>{head}</b>: {body}</p>")
            elif k == self.stage:
                out.append(f"<p style='background-color:rgba(240,228,66,40)'><b>{head} "
                           f"&larr; now</b>: {body}</p>")
            else:
                out.append(f"<p style='color:{grey}'>{head}: next (press Step)</p>")
        return "".join(out)

    def _write_line(self) -> str:
        r = self._result
        w = r["w"]
        i = int(np.argmax(w))
        row, new = self.memory[i], r["memory_after"][i]
        return (f"M&prime;(i) = M(i) &#8857; (1 &minus; w(i) e) + w(i) a, e = {_vec(r['erase'])}, "
                f"a = {_vec(r['add'])}<br>row {i} (largest w = {_num(w[i])}): {_vec(row)} "
                f"&#8857; (1 &minus; {_num(w[i])}&middot;e) + {_num(w[i])}&middot;a = "
                f"{_vec(new)}")

    def _explain_html(self) -> str:
        v, r = self.values, self._result
        n, width = self.memory.shape
        notes = []
        typed = {name: parse_vector(v[name]).size for name in ("key", "erase", "add")}
        odd = [f"{name} ({size} numbers)" for name, size in typed.items() if size != width]
        if odd:
            notes.append(f"The memory is {width} wide: " + ", ".join(odd) + " padded with "
                         "zeros or cut to W = " + str(width) + ".")
        if int(v["start_row"]) > n - 1:
            notes.append(f"start row {v['start_row']} is past the last row: the head starts "
                         f"on row {n - 1}.")
        raw = np.array([v["shift_left"], v["shift_stay"], v["shift_right"]])
        if abs(raw.sum() - 1.0) > 1e-9:
            notes.append(f"Shift weights {_vec(raw)} divided by their sum {_num(raw.sum())}: "
                         f"s = {_vec(r['s'])}.")
        if self.edits:
            notes.append(f"{self.edits} memory edit(s) this run.")
        if r["w"].max() > 0.9:
            notes.append(f"The head is focused: {_num(r['w'].max())} of its weight is on row "
                         f"{int(np.argmax(r['w']))}.")
        return "".join(f"<p><i>{n_}</i></p>" for n_ in notes)

    # -- the copy task's snapshot ---------------------------------------------------------------
    def _copy_snapshot(self) -> Snapshot:
        x, y, mask = self.example
        with no_grad():
            logits, trace = self.model(Tensor(x))
        # sigmoid written with tanh: no overflow for large logits of a confident model.
        out = 0.5 * (1.0 + np.tanh(0.5 * logits.data[0].astype(np.float64)))   # (T, bits)
        # Only the recall steps are scored; before them the output means nothing (NaN: the
        # picture leaves those cells empty).
        out[mask[0, :, 0] == 0] = np.nan
        L = int(self.values["seq_len"])
        wrong = (np.nan_to_num(out) > 0.5) != (y[0] > 0.5)
        wrong &= mask[0] > 0
        losses = np.asarray(self.losses, dtype=np.float64)
        data = {
            "mode": "copy_task", "seq_len": L,
            # Pictures: rows are channels, bits or memory rows; columns are time steps.
            "input": x[0].T.astype(np.float64), "target": y[0].T.astype(np.float64),
            "output": out.T, "wrong": wrong.T,
            "read_w": trace["read_w"][0].T, "write_w": trace["write_w"][0].T,
            "memory_final": trace["memory"][0].astype(np.float64),
            "loss_steps": np.arange(1, len(losses) + 1, dtype=np.float64), "loss": losses,
            "eval_steps": np.asarray(self.eval_steps, dtype=np.float64),
            "eval_bits": np.asarray(self.eval_bits), "eval_exact": np.asarray(self.eval_exact),
            "phase_marks": np.array([L - 0.5, L + 0.5]),
        }
        scalars = {"exact": self.eval_exact[-1], "bit_errors": self.eval_bits[-1],
                   "wrong_example_bits": int(wrong.sum())}
        if len(losses):
            scalars["loss"] = float(losses[-1])
        text = {"equation": self._copy_equation_html(), "rules": self._copy_rules_html(wrong),
                "summary": self.summary, "status": self._copy_status()}
        return Snapshot.make(self.name, self.step_count, scalars, data, text)

    def _copy_status(self) -> str:
        L = int(self.values["seq_len"])
        return (f"Copy task, L = {L}: step {self.step_count}; test sequences copied exactly: "
                f"{100 * self.eval_exact[-1]:.0f}% (wrong bits per sequence "
                f"{self.eval_bits[-1]:.2f}, checked every {COPY_EVAL_EVERY} steps).")

    def _copy_equation_html(self) -> str:
        return (
            "<p><b>Copy task with a tiny NTM</b><br>"
            "controller: h<sub>t</sub> = tanh(W<sub>c</sub>[x<sub>t</sub>; r<sub>t&minus;1</sub>]"
            " + b<sub>c</sub>), &nbsp; p<sub>t</sub> = W<sub>h</sub>h<sub>t</sub> + "
            "b<sub>h</sub><br>"
            "each head: k, &beta; = softplus, g = &sigma;, s = softmax<sub>3</sub>, "
            "&gamma; = 1 + softplus, all cut from p<sub>t</sub><br>"
            "w = sharpen(shift(g&middot;softmax(&beta; cos(k, M)) + (1&minus;g)w<sub>t&minus;1"
            "</sub>, s), &gamma;)<br>"
            "write: M &larr; M &#8857; (1 &minus; w<sup>W</sup>e<sup>T</sup>) + "
            "w<sup>W</sup>a<sup>T</sup>, e = &sigma;(&middot;), a = tanh(&middot;)<br>"
            "read: r<sub>t</sub> = M<sup>T</sup>w<sup>R</sup>, &nbsp; output y<sub>t</sub> = "
            "&sigma;(W<sub>o</sub>[h<sub>t</sub>; r<sub>t</sub>] + b<sub>o</sub>)<br>"
            "loss: mean binary cross-entropy of y against the sequence, recall steps only</p>")

    def _copy_rules_html(self, wrong) -> str:
        L = int(self.values["seq_len"])
        n = len(self.losses)
        loss = f"{self.losses[-1]:.4f}" if n else "&ndash; (press Play)"
        return (f"<p>Memory {COPY_ROWS}&times;{COPY_WIDTH}, {COPY_BITS}-bit vectors, "
                f"controller {COPY_HIDDEN} units, batches of {COPY_BATCH}, Adam "
                f"&eta; = {self.values['lr']:.3g}, gradient norm clipped at {CLIP_NORM:g}."
                f"<br>Step {n}: training loss {loss}; test sequence: {int(wrong.sum())} "
                f"wrong bit(s) of {L * COPY_BITS}.</p>"
                "<p><i>The sequence goes in during steps 0&ndash;"
                f"{L - 1}, the delimiter at step {L}, and the copy must come out during steps "
                f"{L + 1}&ndash;{2 * L}. A learned solution writes each vector to the next "
                "row (the write head's weight walks down one row per step: gate g &asymp; 0, "
                "shift +1) and later reads the rows back in the same order.</i></p>")
