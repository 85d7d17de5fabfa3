r"""Architecture calculator lab (book ch. 9.7, 9.9, 9.10): what each layer of a CNN costs.

Pick AlexNet, VGG-16, Inception-v1 or type your own network, choose the input size, and the lab
tabulates every layer with :func:`engine.architectures.summarize`: output shape, parameters
(weights, plus biases if counted), multiply-adds and receptive field.  It also sets the book's
printed figures beside the recomputed ones (:func:`engine.architectures.errata`).

Nothing trains, so :attr:`ArchitectureLab.finished` is always true and a step does nothing;
every param change recomputes the table at once.  An input size that makes some layer's output
smaller than 1×1 is refused with a ``ValueError`` naming the layer and the smallest size that
fits, and the lab stays as it was.
"""
from __future__ import annotations

import numpy as np

from engine import architectures as A
from engine.labs.base import Lab, Param, Snapshot

PRESETS = ("alexnet", "vgg16", "inception_v1", "custom")
SCALES = ("percent", "log", "linear")
#: A small CIFAR-style network (32×32 input) as the custom default.
DEFAULT_CUSTOM = "conv 16 3 p1; relu; pool 2; conv 32 3 p1; relu; pool 2; gap; dense 10"
CUSTOM_NATIVE = 32
#: Example networks (LeNet-5-like; grouped conv + one Inception block), used by the smoke test.
EXAMPLES = (("conv 6 5; relu; pool 2; conv 16 5; relu; pool 2; flatten; dense 120; relu; "
             "dense 84; relu; dense 10"),
            ("conv 32 3 same; conv 32 3 same g2; pool 2; inception 16 16 32 4 8 8; gap; "
             "dense 10"))
MIN_INPUT, MAX_INPUT = 32, A.MAX_INPUT
#: Log-scale bar ticks: (log10 of the count, label); only every third decade is labelled, so
#: the labels fit a narrow plot (the others are unlabelled minor ticks).
LOG_TICKS = tuple((k, ("1", "1k", "1M", "1G", "1T")[k // 3] if k % 3 == 0 else "")
                  for k in range(13))


def _compact(n: float) -> str:
    """3 significant digits with a k/M/G suffix (``37748736 -> '37.7M'``)."""
    n = float(n)
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:.3g}"


def _custom_arch(text: str) -> tuple:
    return A.parse_architecture(text)


class ArchitectureLab(Lab):
    name = "architectures"
    chapter = 9
    title = "Architecture calculator"
    section = "9.2, 9.6, 9.7, 9.9, 9.10"
    summary = ("Where do a network's parameters and its arithmetic sit? Convolutions reuse a "
               "small kernel at every position, so they have few weights but do most of the "
               "multiply-adds; fully connected layers use each weight once per image, so in "
               "AlexNet and VGG-16 they hold over 90% of the parameters but little of the "
               "work. Inception replaces the big FC layers by global pooling and cheap 1×1 "
               "reductions. The receptive field grows by (k − 1) times the jump at every "
               "layer, and the jump multiplies by each stride.")

    params = (
        Param("preset", "choice", "vgg16", choices=PRESETS, group="Network",
              help="The network: AlexNet (227×227 input), VGG-16, Inception-v1 (224×224), or "
                   "'custom' (the text below). Switching moves the input size to the "
                   "network's own size unless you chose another one that still fits."),
        Param("input_size", "int", 224, MIN_INPUT, MAX_INPUT, step=1, group="Network",
              label="input size", symbol="n",
              help="Height = width n of the RGB input image in pixels. Sizes that shrink some "
                   "layer's output below 1×1 are refused, naming the layer."),
        Param("custom", "text", DEFAULT_CUSTOM, parse=A.parse_custom, group="Network",
              label="custom network",
              choices=EXAMPLES,
              hint="layers separated by ';': " + A.SYNTAX,
              help="Used when preset = custom. Layers separated by ';', e.g. conv 16 3 s1 p1 "
                   "(16 filters, 3×3, stride 1, padding 1); pool 2; gap; dense 10. Also: "
                   "avgpool, flatten, relu, lrn, dropout, softmax, inception C1 C3R C3 C5R C5 "
                   "POOL, options gN (groups), same, nobias."),
        Param("count_bias", "bool", True, group="Counting", label="count biases",
              help="Count the biases (one per output channel or unit) in the params column. "
                   "The book's AlexNet and Inception figures leave them out."),
        Param("show_activations", "bool", False, group="Counting",
              label="show ReLU/LRN rows",
              help="List ReLU, LRN, dropout and softmax rows too (no parameters, no MACs, "
                   "shape unchanged)."),
        Param("scale", "choice", "percent", choices=SCALES, group="Counting",
              label="bar scale",
              help="Bars as a share of the whole network (percent), on a log scale (to see "
                   "the small layers), or as plain counts in millions."),
    )
    actions = ()

    def __init__(self, seed: int = 0, backend_name: str = "auto", **values):
        # Asking for a preset without a size means "at its own size" (AlexNet needs 227).
        if "preset" in values and "input_size" not in values:
            spec = {p.name: p for p in self.params}
            preset = spec["preset"].coerce(values["preset"])
            custom = spec["custom"].coerce(values.get("custom", spec["custom"].default))
            values["input_size"] = self._native(preset, custom)
        super().__init__(seed, backend_name, **values)

    # -- params -----------------------------------------------------------------------------------
    @staticmethod
    def _arch_of(preset: str, custom: str) -> tuple:
        return _custom_arch(custom) if preset == "custom" else A.PRESETS[preset]

    @staticmethod
    def _native(preset: str, custom: str) -> int:
        """The input size a network is shown at when chosen."""
        if preset != "custom":
            return A.NATIVE_INPUT[preset]
        return max(CUSTOM_NATIVE, A.min_input_size(_custom_arch(custom)))

    def _on_param(self, name, old):
        v = self.values
        if name == "preset":
            n = v["input_size"]
            arch = self._arch_of(v["preset"], v["custom"])
            target = n
            # Follow the network's own size unless the user picked another size that fits.
            if n == self._native(old, v["custom"]) or n < A.min_input_size(arch):
                target = self._native(v["preset"], v["custom"])
            state = self._compute(target)  # raises before anything changes
            v["input_size"] = target
            self._state = state
            if target != n:
                self.notice = (f"input size set to {target} "
                               f"({A.PRESET_LABELS[v['preset']]}'s own size)")
        elif name in ("input_size", "custom"):
            if name == "custom" and v["preset"] != "custom":
                return  # kept for later; the shown network did not change
            self._state = self._compute(v["input_size"])

    # -- running ----------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """Always true: nothing trains here (Play says so and stays paused)."""
        return True

    finished_reason = "this calculator has nothing to train; change a parameter to see its effect"

    def _step(self) -> None:
        """Nothing to advance: the table changes only through params."""

    def _build(self) -> None:
        self._state = self._compute(self.values["input_size"])

    def _compute(self, n: int) -> dict:
        """Summary of the current network at an n×n RGB input (``ValueError`` if too small)."""
        v = self.values
        arch = self._arch_of(v["preset"], v["custom"])
        label = A.PRESET_LABELS[v["preset"]]
        try:
            rows = A.summarize(arch, (3, n, n))
        except A.SizeError as exc:
            m = A.min_input_size(arch)
            raise ValueError(f"{label} does not fit a {n}×{n} input: {exc}. The smallest "
                             f"input size it allows is {m} (allowed: {m}-{MAX_INPUT})"
                             ) from None
        return {"arch": arch, "rows": rows, "totals": A.totals(rows), "n": n,
                "min_input": A.min_input_size(arch), "label": label,
                "errata": A.errata(v["preset"])}

    # -- snapshot ---------------------------------------------------------------------------------
    def _snapshot(self) -> Snapshot:
        v, st = self.values, self._state
        t = st["totals"]
        bias = v["count_bias"]
        rows = [r for r in st["rows"] if v["show_activations"] or r.kind != "act"]
        params = np.array([r.params if bias else r.weights for r in rows], np.int64)
        macs = np.array([r.macs for r in rows], np.int64)
        total_p = t["params"] if bias else t["weights"]
        conv_p = t["conv_params"] if bias else t["conv_weights"]
        dense_p = t["dense_params"] if bias else t["dense_weights"]
        conv_share = conv_p / total_p if total_p else 0.0
        dense_share = dense_p / total_p if total_p else 0.0
        conv_macs_share = t["conv_macs"] / t["macs"] if t["macs"] else 0.0
        n = st["n"]
        sizes = [r.out_shape[1] if len(r.out_shape) == 3 else 1 for r in rows]
        data = {
            "names": tuple(r.name for r in rows), "kinds": tuple(r.kind for r in rows),
            "configs": tuple(r.config for r in rows),
            "shapes": tuple(A.shape_text(r.out_shape) for r in rows),
            "params": params, "weights": np.array([r.weights for r in rows], np.int64),
            "biases": np.array([r.biases for r in rows], np.int64), "macs": macs,
            "rf": np.array([r.rf for r in rows], np.int64),
            "jump": np.array([r.jump for r in rows], np.int64),
            "input_shape": A.shape_text((3, n, n)),
            # Receptive-field plot: x = table row (0 = the input image).
            "rf_curve": {"x": np.arange(len(rows) + 1, dtype=float),
                         "rf": np.array([1] + [r.rf for r in rows], float),
                         "size": np.array([n] + sizes, float)},
            "input_size": n, "min_input": st["min_input"],
            "counted": "params" if bias else "weights",
            "bars": {"params": self._bars(params, total_p),
                     "macs": self._bars(macs, t["macs"]), "axis": self._bar_axis()},
            "log_ticks": LOG_TICKS if v["scale"] == "log" else (),
            "totals": {"params": total_p, "macs": t["macs"], "rf": t["rf"],
                       "shape": A.shape_text(t["out_shape"]) if t["out_shape"] else "",
                       "conv_params": conv_p, "conv_share": conv_share,
                       "dense_params": dense_p, "dense_share": dense_share,
                       "conv_macs": t["conv_macs"], "dense_macs": t["dense_macs"],
                       "conv_macs_share": conv_macs_share, "biases": t["biases"]},
            "errata": tuple((e.figure, e.book, e.ours, e.status, e.note)
                            for e in st["errata"]),
        }
        native = A.NATIVE_INPUT.get(v["preset"])
        dense_macs_share = t["dense_macs"] / t["macs"] if t["macs"] else 0.0
        text = {
            "bars_note": (f"FC: {dense_share:.1%} of {'params' if bias else 'weights'}, "
                          f"{dense_macs_share:.1%} of MACs ({_compact(t['macs'])})"
                          if dense_p else f"no FC layers; {_compact(t['macs'])} MACs in all"),
            "rf_title": f"Receptive field: {t['rf']:,} px at the output",
            "errata_title": (f"Book vs recomputed ({st['label']} at the book's "
                             f"{native}×{native} input, weights only unless stated)"
                             if native else "No book figures for a custom network"),
            "equation": self._equation_html(st, bias),
            "rules": self._rules_html(st),
            "summary": self.summary,
        }
        scalars = {"total_params": total_p, "total_weights": t["weights"],
                   "total_macs": t["macs"], "conv_share": conv_share,
                   "dense_share": dense_share, "rf": t["rf"], "layers": len(st["rows"])}
        return Snapshot.make(self.name, self.step_count, scalars, data, text)

    def _bar_axis(self) -> str:
        return {"percent": "share of the network's total (%)", "log": "count (log scale)",
                "linear": "count (millions)"}[self.values["scale"]]

    def _bars(self, values: np.ndarray, total: int) -> dict:
        """Bar lengths in the chosen scale and a label for each bar."""
        scale = self.values["scale"]
        if scale == "percent":
            share = values / total * 100 if total else np.zeros(len(values))
            labels = tuple(f"{s:.1f}%" if s else "" for s in share)
            return {"value": share.astype(float), "labels": labels}
        labels = tuple(_compact(x) if x else "" for x in values)
        if scale == "log":
            # log10(count); a zero count gets a zero-length bar (10^0 = 1 is the axis floor).
            return {"value": np.log10(np.maximum(values.astype(float), 1.0)), "labels": labels}
        return {"value": values.astype(float) / 1e6, "labels": labels}

    # -- math text --------------------------------------------------------------------------------
    @staticmethod
    def _equation_html(st: dict, bias: bool) -> str:
        rows, arch = st["rows"], st["arch"]
        t = st["totals"]
        parts = [(f"<p><b>{st['label']}</b>, input 3&times;{st['n']}&times;{st['n']}: "
                  f"{t['params'] if bias else t['weights']:,} "
                  f"{'parameters' if bias else 'weights'}, {t['macs']:,} multiply-adds.</p>")]
        # Substitute the numbers of the first convolution, the largest dense layer, the
        # deepest spatial layer's RF step and (if any) the first Inception block.
        c_in, prev = 3, (st["n"], 1, 1)  # (side, rf, jump) before the layer
        first_conv = dense = rf_step = incep = None
        for layer, row in zip(arch, rows):
            if isinstance(layer, A.Conv) and first_conv is None:
                first_conv = (layer, row, c_in, prev)
            if isinstance(layer, A.Dense) and (dense is None or row.weights > dense[1].weights):
                dense = (layer, row)
            if isinstance(layer, (A.Conv, A.MaxPool, A.AvgPool)) and layer.k > 1:
                rf_step = (layer, row, prev)
            if isinstance(layer, A.Inception) and incep is None:
                incep = (layer, row, c_in)
            if len(row.out_shape) == 3:
                c_in = row.out_shape[0]
                prev = (row.out_shape[1], row.rf, row.jump)
            else:
                prev = (1, row.rf, row.jump)
        if first_conv:
            L, r, c, (n, _, _) = first_conv
            g = L.groups
            cg = f"({c}/{g})" if g > 1 else f"{c}"
            o = r.out_shape[1]
            parts.append(
                f"<p><b>Output size</b> o = &lfloor;(n + 2p &minus; k)/s&rfloor; + 1<br>"
                f"{r.name}: &lfloor;({n} + 2&middot;{L.padding} &minus; {L.k})/{L.stride}"
                f"&rfloor; + 1 = {o}</p>"
                f"<p><b>Conv parameters</b> P = k<sub>h</sub>k<sub>w</sub>"
                f"(C<sub>in</sub>/g)C<sub>out</sub> (+ C<sub>out</sub> biases)<br>"
                f"{r.name}: {L.k}&middot;{L.k}&middot;{cg}&middot;{L.out_channels}"
                + (f" + {r.biases:,}" if bias and r.biases else "") +
                f" = {(r.params if bias else r.weights):,}</p>"
                f"<p><b>Multiply-adds</b> MACs = weights &times; H<sub>out</sub>"
                f"W<sub>out</sub><br>{r.name}: {r.weights:,} &times; {o} &times; "
                f"{r.out_shape[2]} = {r.macs:,}</p>")
        if incep:
            L, r, c = incep
            parts.append(
                f"<p><b>Inception</b> P = C<sub>in</sub>(c<sub>1</sub> + c<sub>3r</sub> + "
                f"c<sub>5r</sub> + c<sub>pool</sub>) + 9c<sub>3r</sub>c<sub>3</sub> + "
                f"25c<sub>5r</sub>c<sub>5</sub><br>{r.name}: {c}&middot;({L.c1} + {L.c3r} + "
                f"{L.c5r} + {L.pool_proj}) + 9&middot;{L.c3r}&middot;{L.c3} + "
                f"25&middot;{L.c5r}&middot;{L.c5} = {r.weights:,} weights</p>")
        if dense:
            L, r = dense
            n_in = r.weights // L.out
            count = r.params if bias else r.weights
            share = count / max(t["params"] if bias else t["weights"], 1)
            parts.append(
                f"<p><b>Dense parameters</b> P = n<sub>in</sub>n<sub>out</sub> (+ "
                f"n<sub>out</sub>)<br>{r.name}: {n_in:,}&middot;{L.out:,}"
                + (f" + {r.biases:,}" if bias and r.biases else "")
                + f" = {count:,} ({share:.1%} of the network); MACs = {r.macs:,}</p>")
        if rf_step:
            L, r, (_, rf0, j0) = rf_step
            s = L.k if getattr(L, "stride", None) is None else L.stride
            parts.append(
                f"<p><b>Receptive field</b> r<sub>l</sub> = r<sub>l&minus;1</sub> + "
                f"(k<sub>l</sub> &minus; 1)j<sub>l&minus;1</sub>, &nbsp; j<sub>l</sub> = "
                f"j<sub>l&minus;1</sub>s<sub>l</sub>, &nbsp; r<sub>0</sub> = j<sub>0</sub> = 1"
                f"<br>{r.name}: {rf0} + ({L.k} &minus; 1)&middot;{j0} = {r.rf}, &nbsp; "
                f"j = {j0}&middot;{s} = {r.jump}</p>")
        return "".join(parts)

    @staticmethod
    def _rules_html(st: dict) -> str:
        return ("<p>Pooling, ReLU, LRN and dropout have no weights and are counted as 0 "
                "multiply-adds here. A dense layer on a C&times;H&times;W map first flattens "
                "it, so its fan-in is C&middot;H&middot;W: that is why the first FC layer "
                "dominates AlexNet and VGG-16. Two stacked 3&times;3 convolutions see 5&times;5 "
                "and three see 7&times;7, with 18C&sup2; and 27C&sup2; weights against "
                "25C&sup2; and 49C&sup2; for one large kernel. The receptive field may exceed "
                "the image: it then also covers padding.</p>")
