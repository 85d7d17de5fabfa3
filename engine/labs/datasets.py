r"""Datasets lab (book ch. 7, section 7.8): browse the seeded data sets, split and scale them.

Nothing trains here.  The lab draws one data set from :mod:`engine.data`, shuffles it once
with the lab's seed and cuts it into training, validation and test parts, then shows what a
model would be fed:

* the points (or glyph images), their part marked by the marker shape and frame colour;
* per-feature statistics of the training part and the standardized features

  .. math:: z_{ij} = \frac{x_{ij} - \mu_j}{\sigma_j}, \qquad
            \mu_j = \frac1{N_\text{tr}} \sum_{i \in \text{tr}} x_{ij}, \qquad
            \sigma_j^2 = \frac1{N_\text{tr}} \sum_{i \in \text{tr}} (x_{ij} - \mu_j)^2

  with :math:`\mu, \sigma` fitted on the training part only and reused for the other two;
* one-hot targets :math:`e_{y}` (row :math:`y` of :math:`I_K`) for classification sets, and
  the Pearson correlation of each feature with the target for regression sets.

The data are static, so :attr:`DatasetsLab.finished` is always true and stepping does nothing;
every param change rebuilds the snapshot at once.  Boston Housing is deliberately absent
(erratum E14): ``housing`` is the synthetic :func:`engine.data.make_housing_like`.
"""
from __future__ import annotations

import math
from html import escape
from pathlib import Path

import numpy as np

from engine.data import (
    CLASSIFICATION,
    GLYPH_FONT,
    HOUSING_FEATURES,
    REGRESSION_FNS,
    DataFileError,
    load_points_csv,
    make_classification,
    make_glyphs,
    make_housing_like,
    make_regression_1d,
    make_surface_2d,
    n_classes,
    one_hot,
    regression_truth,
    save_points_csv,
    standardize,
    train_val_test_split,
)
from engine.labs.base import Action, Lab, Param, Snapshot

#: Generators by kind; ``csv`` is the user's own file (Load CSV).
POINTS_2D = tuple(CLASSIFICATION)
REGRESSION = ("curve_1d", "surface_2d", "housing")
GENERATORS = POINTS_2D + REGRESSION + ("glyphs", "csv")
SPLITS = ("train", "val", "test")

#: The training part keeps at least this share of the data (the spec: 80-90 % is usual).
MIN_TRAIN = 0.10
#: A loaded file needs this many points, so that even a 10 % training part is not empty.
MIN_CSV_POINTS = 10
#: Blob classes offered (labels must stay 0-9 for CSV files; 8 keeps colours distinct).
MAX_BLOBS = 8
#: Housing target noise in $1000s per unit of the common ``noise`` knob.
HOUSING_NOISE_SCALE = 10.0
ONEHOT_ROWS = 12
HIST_BINS = 30
GLYPH_SIZE = 8
MOSAIC_COLS = 12
MOSAIC_ROWS = 6
TRUTH_POINTS = 200
_GLYPH_CHARS = "".join(GLYPH_FONT)
_SUB = str.maketrans("0123456789", "\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088"
                     "\u2089")


def parse_glyph_classes(text: str) -> str:
    """Canonical glyph class string: 2-14 distinct characters of the built-in font."""
    chars = "".join(text.split())
    unknown = sorted(set(chars) - set(_GLYPH_CHARS))
    if unknown:
        raise ValueError(f"no glyph for {''.join(unknown)!r}; use characters from "
                         f"{_GLYPH_CHARS}")
    if len(set(chars)) != len(chars):
        raise ValueError("each character may appear once")
    if len(chars) < 2:
        raise ValueError(f"give at least 2 characters from {_GLYPH_CHARS}")
    return chars


def _num(v: float) -> str:
    """3-4 significant digits with a real minus sign (and no "-0")."""
    v = float(v)
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    return f"{v:.4g}".replace("-", "\u2212")


def _num3(v: float) -> str:
    """3 significant digits for table cells; a dash for a missing value."""
    v = float(v)
    if not math.isfinite(v):
        return "\u2013"
    return "0" if v == 0 else f"{v:.3g}".replace("-", "\u2212")


def _hist(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(edges, counts) of ``values`` over their own range, HIST_BINS bins."""
    values = np.asarray(values, np.float64).ravel()
    if values.size == 0:
        return np.linspace(0.0, 1.0, HIST_BINS + 1), np.zeros(HIST_BINS)
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:  # a constant column still gets a visible bar
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(values, bins=HIST_BINS, range=(lo, hi))
    return edges, counts.astype(np.float64)


def _correlations(F: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of every column of ``F`` (n, d) with ``y`` (n,); 0 for constant columns."""
    Fc = F - F.mean(axis=0)
    yc = y - y.mean()
    den = np.sqrt((Fc ** 2).sum(axis=0) * (yc ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (Fc * yc[:, None]).sum(axis=0) / den
    return np.where(den > 0, r, 0.0)


def _mosaic(images: np.ndarray, cols: int) -> np.ndarray:
    """Tile ``images`` (m, s, s) into one picture with NaN gutters, row by row.

    Returns an array of shape ``(R (s+1) + 1, C (s+1) + 1)``; tile ``k`` starts at pixel
    ``(1 + (k // C)(s+1), 1 + (k % C)(s+1))``.  NaN paints as transparent, so the gutters
    separate the tiles without adding a fake pixel value.
    """
    m, s, _ = images.shape
    cols = min(cols, m)
    rows = -(-m // cols)
    tiles = np.full((rows * cols, s + 1, s + 1), np.nan, np.float32)
    tiles[:m, 1:, 1:] = images
    grid = tiles.reshape(rows, cols, s + 1, s + 1).transpose(0, 2, 1, 3)
    grid = grid.reshape(rows * (s + 1), cols * (s + 1))
    return np.pad(grid, ((0, 1), (0, 1)), constant_values=np.nan)


def _frames(m: int, cols: int, s: int) -> np.ndarray:
    """Outline of each of the first ``m`` mosaic tiles as 4 segments (8 points) for a
    ``connect="pairs"`` curve, in image pixel coordinates; shape (m, 8, 2)."""
    k = np.arange(m)
    # A quarter pixel outside the tile, so neighbouring frames do not share (and hide) edges.
    x0 = (k % cols) * (s + 1) + 0.75
    y0 = (k // cols) * (s + 1) + 0.75
    x1, y1 = x0 + s + 0.5, y0 + s + 0.5
    xs = np.stack([x0, x1, x1, x1, x1, x0, x0, x0], axis=1)
    ys = np.stack([y0, y0, y0, y1, y1, y1, y1, y0], axis=1)
    return np.stack([xs, ys], axis=2)


class DatasetsLab(Lab):
    """Dataset browser: generators, a seeded train/validation/test split, standardization,
    one-hot targets, and the synthetic housing table (see the module docstring)."""

    name = "datasets"
    chapter = 7
    title = "Datasets & splits"
    section = "7.8 The data"
    summary = ("Before any training, data are cut into three parts: the model learns from the "
               "training part, settings are tuned on the validation part, and the test part "
               "is scored once at the end. Features on very different scales are shifted and "
               "scaled to mean 0 and spread 1 using statistics of the training part alone, "
               "and class labels become one-hot vectors. Pick a generator, move the split "
               "sliders and toggle standardization to see each step.")

    params = (
        Param("generator", "choice", "blobs", choices=GENERATORS, rebuild=True, group="Data",
              label="data set",
              help="Which seeded generator draws the data: 2-D classes (xor ... checkerboard), "
                   "a 1-D curve, a 2-D surface, the synthetic 13-feature housing table, glyph "
                   "images, or csv for your own file (Load CSV\u2026)."),
        Param("n", "int", 1000, 20, 5000, step=10, rebuild=True, group="Data", symbol="N",
              label="samples N",
              help="Number of samples N drawn (for glyphs: spread evenly over the classes). "
                   "Ignored for a loaded CSV file."),
        Param("noise", "float", 0.1, 0.0, 1.0, step=0.01, rebuild=True, group="Data",
              help="Noise level: coordinate jitter (2-D classes), target noise (curve, "
                   "surface; housing uses 10x this in $1000s), pixel noise (glyphs)."),
        Param("classes", "int", 4, 2, MAX_BLOBS, rebuild=True, group="Data", symbol="K",
              help="Number of blobs K (blobs only)."),
        Param("fn", "choice", "sin", choices=tuple(REGRESSION_FNS), rebuild=True,
              group="Curve", label="true function",
              help="Curve f(x) the 1-D points scatter around (curve_1d only)."),
        Param("outlier_frac", "float", 0.05, 0.0, 0.5, step=0.01, rebuild=True, group="Curve",
              label="outlier fraction",
              help="Share of curve_1d targets moved far off the curve (curve_1d only)."),
        Param("outlier_scale", "float", 3.0, 0.0, 10.0, step=0.1, rebuild=True, group="Curve",
              label="outlier size", help="How far outliers are moved, up or down (curve_1d)."),
        Param("glyph_classes", "text", "bdpq", parse=parse_glyph_classes, rebuild=True,
              choices=("0123456789", "01", _GLYPH_CHARS), group="Glyphs", label="glyphs",
              hint=f"2-14 distinct characters from {_GLYPH_CHARS}",
              help="The characters drawn as classes (glyphs only); class i is the i-th "
                   "character."),
        Param("val_frac", "float", 0.1, 0.0, 0.5, step=0.01, rebuild=True, group="Split",
              label="validation share", symbol="f_val",
              help="Share of the samples held out for validation (choosing settings, early "
                   "stopping). With the test share it must leave at least 10 % for training."),
        Param("test_frac", "float", 0.1, 0.0, 0.5, step=0.01, rebuild=True, group="Split",
              label="test share", symbol="f_test",
              help="Share of the samples held out for the final test. With the validation "
                   "share it must leave at least 10 % for training."),
        Param("standardize", "bool", False, group="Scaling",
              help="Plot standardized features z = (x \u2212 \u03bc)/\u03c3 (\u03bc, \u03c3 "
                   "from the training part) instead of the raw ones."),
        Param("feature", "choice", "rooms", choices=HOUSING_FEATURES, group="Housing",
              label="x-axis feature",
              help="Housing feature plotted against the target and shown in the histograms."),
    )
    actions = (
        Action("load_csv", "Load points from CSV", ("path",),
               "Load your own labelled 2-D points (x1,x2,label per line, labels 0-9).",
               journal="file"),
        Action("save_csv", "Save points to CSV", ("path",),
               "Write the current labelled 2-D points (raw coordinates, all parts) as CSV.",
               journal="skip"),
    )

    def __init__(self, seed: int = 0, backend_name: str = "auto", **values):
        self.csv_X = np.zeros((0, 2), np.float32)
        self.csv_y = np.zeros(0, np.int64)
        self.csv_name = ""
        super().__init__(seed, backend_name, **values)

    # -- params -----------------------------------------------------------------------------------
    def _check_fracs(self) -> None:
        """Raise ``ValueError`` unless the two held-out shares leave >= 10 % for training."""
        va, te = self.values["val_frac"], self.values["test_frac"]
        if 1.0 - va - te < MIN_TRAIN - 1e-9:
            raise ValueError(
                f"validation share {va:.2f} + test share {te:.2f} = {va + te:.2f} leaves "
                f"{max(0.0, 1.0 - va - te):.0%} for training; at least {MIN_TRAIN:.0%} must "
                f"stay for training, so val_frac + test_frac may be at most "
                f"{1.0 - MIN_TRAIN:.2f} (here: val_frac up to {1.0 - MIN_TRAIN - te:.2f}, or "
                f"test_frac up to {1.0 - MIN_TRAIN - va:.2f})")

    def _on_param(self, name, old):
        if name in ("val_frac", "test_frac"):
            self._check_fracs()
        elif name in ("standardize", "feature") and hasattr(self, "_raw"):
            self._derive()  # a different view of the same data: no regeneration

    @property
    def finished(self) -> bool:
        """Always true: a static lab has nothing to run (Play says so and stays paused)."""
        return True

    finished_reason = "this lab has nothing to train; change a parameter to see its effect"

    def _step(self) -> None:
        """Nothing to advance: the data change only through params and actions."""

    # -- build ------------------------------------------------------------------------------------
    def _build(self) -> None:
        self._check_fracs()
        X, y, info = self._generate()
        n = len(y)
        self._raw = {"X": X, "y": y, **info}
        v = self.values
        fracs = (1.0 - v["val_frac"] - v["test_frac"], v["val_frac"], v["test_frac"])
        idx = np.arange(n)
        if n:
            # Splitting an index array gives the parts as row numbers, so every view (points,
            # images, one-hot rows) can be cut the same way.
            tr, _, va, _, te, _ = train_val_test_split(idx, idx, fracs, self.rng)
        else:
            tr = va = te = idx
        self.parts = {"train": tr, "val": va, "test": te}
        self.split_of = np.zeros(n, np.int64)
        self.split_of[va], self.split_of[te] = 1, 2
        self._derive()

    def _generate(self):
        """(X, y, info) for the current params; X is (n, d) or (n, s, s) for glyphs."""
        v = self.values
        g = v["generator"]
        if g in POINTS_2D:
            kw = {"centers": v["classes"]} if g == "blobs" else {}
            X, y = make_classification(g, v["n"], v["noise"], self.rng, **kw)
            k = n_classes(g, **kw)
            return X, y, {"kind": "points", "task": "classification", "K": k,
                          "class_names": tuple(f"class {i}" for i in range(k)),
                          "features": ("x1", "x2")}
        if g == "csv":
            k = max(2, int(self.csv_y.max()) + 1) if self.csv_y.size else 2
            return self.csv_X, self.csv_y, {
                "kind": "points", "task": "classification", "K": k,
                "class_names": tuple(f"class {i}" for i in range(k)), "features": ("x1", "x2")}
        if g == "curve_1d":
            X, y = make_regression_1d(v["n"], v["fn"], v["noise"], v["outlier_frac"],
                                      v["outlier_scale"], self.rng)
            return X, y, {"kind": "curve", "task": "regression", "features": ("x",)}
        if g == "surface_2d":
            X, y = make_surface_2d(v["n"], v["noise"], self.rng)
            return X, y, {"kind": "surface", "task": "regression", "features": ("x1", "x2")}
        if g == "housing":
            X, y, names = make_housing_like(v["n"], HOUSING_NOISE_SCALE * v["noise"], self.rng)
            return X, y, {"kind": "housing", "task": "regression", "features": tuple(names)}
        chars = v["glyph_classes"]
        per_class = max(1, round(v["n"] / len(chars)))
        X, y, chars = make_glyphs(per_class, chars, GLYPH_SIZE, jitter=1, noise=v["noise"],
                                  rng=self.rng)
        return X, y, {"kind": "glyphs", "task": "classification", "K": len(chars),
                      "class_names": tuple(chars),
                      "features": tuple(f"pixel {i}" for i in range(GLYPH_SIZE ** 2))}

    # -- derived view -----------------------------------------------------------------------------
    def _derive(self) -> None:
        """Statistics, the plotted view and the text; cached as one snapshot."""
        raw, v = self._raw, self.values
        X, y, kind = raw["X"], raw["y"], raw["kind"]
        n = len(y)
        tr, va, te = (self.parts[s] for s in SPLITS)
        F = X.reshape(n, int(np.prod(X.shape[1:]))).astype(np.float64)   # (n, d) features
        d = F.shape[1]
        if len(tr):
            Ztr, stats = standardize(F[tr])
            Z, _ = standardize(F, stats)
            mu, sd = stats
        else:   # no points loaded yet: nothing to scale
            Z, mu, sd = F.copy(), np.zeros(d), np.ones(d)
            Ztr = Z[tr]
        self.stats = (mu, sd)
        shown = Z if v["standardize"] else F
        data: dict = {"kind": kind, "task": raw["task"],
                      "sizes": np.array([len(tr), len(va), len(te)], np.int64),
                      "split_of": self.split_of, "standardized": v["standardize"]}
        names = raw["features"]
        j = HOUSING_FEATURES.index(v["feature"]) if kind == "housing" else 0

        # What the main picture plots, per part: (x, y) and a colour value ``c``.
        if kind in ("points", "surface"):
            px, py = shown[:, 0], shown[:, 1]
            sub = "z" if v["standardize"] else "x"
            data["labels"] = (f"{sub}\u2081", f"{sub}\u2082")
        else:  # curve, housing: one feature against the target
            px, py = shown[:, j], y.astype(np.float64)
            xname = "x" if kind == "curve" else names[j]
            ylab = "y" if kind == "curve" else "median value ($1000s)"
            data["labels"] = (f"z = standardized {xname}" if v["standardize"] else xname, ylab)
        if kind == "surface" and n:
            lo, hi = float(y.min()), float(y.max())
            shade = (y - lo) / (hi - lo) if hi > lo else np.zeros(n)
        else:
            shade = y
        if kind != "glyphs":
            data["parts"] = {s: {"x": px[idx], "y": py[idx], "c": np.asarray(shade)[idx]}
                             for s, idx in self.parts.items()}
        if kind == "curve":
            xs = np.linspace(-1.0, 1.0, TRUTH_POINTS)
            data["truth"] = {"x": (xs - mu[0]) / sd[0] if v["standardize"] else xs,
                             "y": regression_truth(v["fn"], xs)}
        if kind == "glyphs":
            m = min(n, MOSAIC_COLS * MOSAIC_ROWS)
            imgs = shown[:m].reshape(m, GLYPH_SIZE, GLYPH_SIZE)
            cols = min(MOSAIC_COLS, m)
            frames = _frames(m, cols, GLYPH_SIZE)
            data["mosaic"] = _mosaic(imgs, cols)
            data["frames"] = {s: frames[self.split_of[:m] == i].reshape(-1, 2)
                              for i, s in enumerate(SPLITS)}
            data["mosaic_labels"] = np.asarray(y[:m])

        # Histograms of the training part, before and after standardizing.
        if kind == "glyphs":
            hist_cols, hist_names = [slice(None)], ("all pixels",)
        elif kind == "housing":
            hist_cols, hist_names = [j], (names[j],)
        else:
            hist_cols, hist_names = list(range(d)), names
        data["hist"] = {
            "names": tuple(hist_names),
            "raw": tuple(_hist(F[tr][:, c]) for c in hist_cols),
            "z": tuple(_hist(Ztr[:, c]) for c in hist_cols),
            "mean": np.array([float(np.mean(mu[c])) for c in hist_cols]),
        }

        if raw["task"] == "classification":
            K = raw["K"]
            rows = y[:ONEHOT_ROWS]
            data["onehot"] = one_hot(rows, K) if len(rows) else np.zeros((0, K), np.float32)
            data["onehot_labels"] = np.asarray(rows)
            data["class_names"] = raw["class_names"]
            data["K"] = K
        else:
            r = _correlations(F[tr], y[tr].astype(np.float64)) if len(tr) > 1 else np.zeros(d)
            data["corr"] = r
            data["corr_names"] = names
            data["corr_index"] = j
            self.corr = r

        scalars = {"n": n, "n_train": len(tr), "n_val": len(va), "n_test": len(te),
                   "features": d}
        if raw["task"] == "classification":
            scalars["classes"] = raw["K"]
        text = {"equation": self._equation_html(F, Z, y, mu, sd, j),
                "rules": self._rules_html(),
                "summary": self.summary,
                "table": self._table_html(F, Z, mu, sd, j),
                "sizes": self._sizes_text()}
        alerts = ()
        if n == 0:
            alerts = (("No CSV file loaded yet: use Load CSV\u2026 to pick a file of x1,x2,label "
                       "lines (labels 0-9), or choose another data set."),)
        self._snap = Snapshot.make(self.name, self.step_count, scalars, data, text, alerts)

    # -- text -------------------------------------------------------------------------------------
    def _fracs_text(self) -> tuple[str, str, str]:
        v = self.values
        tr = 1.0 - v["val_frac"] - v["test_frac"]
        return tuple(f"{f:.0%}" for f in (tr, v["val_frac"], v["test_frac"]))

    def _sizes_text(self) -> str:
        n_tr, n_va, n_te = (len(self.parts[s]) for s in SPLITS)
        f = self._fracs_text()
        src = (f"{self.csv_name}" if self.values["generator"] == "csv" and self.csv_name
               else self.values["generator"])
        return (f"{src}: N = {n_tr + n_va + n_te:,} \u2192 train {n_tr:,} ({f[0]}) \u00b7 "
                f"validation {n_va:,} ({f[1]}) \u00b7 test {n_te:,} ({f[2]})")

    def _equation_html(self, F, Z, y, mu, sd, j) -> str:
        raw = self._raw
        n_tr, n_va, n_te = (len(self.parts[s]) for s in SPLITS)
        f = self._fracs_text()
        out = [(f"<p><b>Split</b> (one seeded shuffle, then three cuts):<br>"
                f"N = {n_tr + n_va + n_te:,} \u2192 N<sub>train</sub> = {n_tr:,} ({f[0]}), "
                f"N<sub>val</sub> = {n_va:,} ({f[1]}), N<sub>test</sub> = {n_te:,} ({f[2]})</p>"),
               ("<p><b>Standardize</b> each feature j with training statistics:<br>"
                "z<sub>j</sub> = (x<sub>j</sub> \u2212 \u03bc<sub>j</sub>) / \u03c3<sub>j</sub>, "
                "&nbsp; \u03bc<sub>j</sub> = (1/N<sub>train</sub>) \u03a3<sub>i\u2208train</sub> "
                "x<sub>ij</sub>, &nbsp; \u03c3<sub>j</sub>\u00b2 = (1/N<sub>train</sub>) "
                "\u03a3<sub>i\u2208train</sub> (x<sub>ij</sub> \u2212 \u03bc<sub>j</sub>)"
                "\u00b2</p>")]
        va = self.parts["val"]
        if raw["kind"] == "glyphs":
            out.append(f"<p>{F.shape[1]} pixels: \u03bc from {_num(mu.min())} to "
                       f"{_num(mu.max())}, \u03c3 from {_num(sd.min())} to {_num(sd.max())}"
                       f"</p>")
        elif len(self.parts["train"]):
            cols = [j] if raw["kind"] == "housing" else range(F.shape[1])
            for c in cols:
                name = raw["features"][c]
                sym = escape(name).translate(_SUB) if raw["kind"] != "housing" else \
                    f"x = {escape(name)}"
                zv = (f"; on the validation part z\u0304 = {_num(Z[va, c].mean())}, "
                      f"s = {_num(Z[va, c].std())}" if len(va) else "")
                out.append(f"<p>{sym}: \u03bc = {_num(mu[c])}, \u03c3 = {_num(sd[c])} "
                           f"\u2192 x = {_num(F[self.parts['train'][0], c])} becomes z = "
                           f"{_num(Z[self.parts['train'][0], c])}{zv}</p>")
        if raw["task"] == "classification" and len(y):
            K, c = raw["K"], int(y[0])
            vec = ", ".join("1" if i == c else "0" for i in range(K))
            name = raw["class_names"][c]
            out.append(f"<p><b>One-hot</b>: y = {c} ({escape(name)}), K = {K} \u2192 "
                       f"e<sub>{c}</sub> = [{vec}], row {c} of I<sub>{K}</sub></p>")
        elif raw["task"] == "regression":
            r = self.corr[j]
            name = raw["features"][j]
            out.append(f"<p><b>Correlation</b> with the target (train): r<sub>{escape(name)}"
                       f"</sub> = {_num(r)}; standardizing leaves r unchanged.</p>")
        return "".join(out)

    def _rules_html(self) -> str:
        parts = [
            ("<p><b>Why three parts.</b> Weights are fitted to the training part. The "
             "validation part is for decisions made outside the gradient: learning rate, "
             "size of the net, when to stop. The test part is held back and scored once, so "
             "its error is a fair guess of the error on data nobody has seen.</p>"),
            ("<p><b>Why training statistics.</b> \u03bc and \u03c3 are measured on the "
             "training part and then applied unchanged to validation and test, so nothing "
             "about the held-out data leaks into training; that is why their z-values only "
             "come close to mean 0 and spread 1.</p>"),
            ("<p><b>Why one-hot.</b> A class index is a name, not an amount: class 3 is not "
             "\u201cmore\u201d than class 1. Writing label y as the vector with a single 1 in "
             "place y gives every class its own output, which softmax and cross-entropy "
             "compare with the predicted probabilities.</p>"),
            ("<p><b>No Boston Housing (erratum E14).</b> Its B column is not a plain "
             "share of residents: it is 1000(Bk \u2212 0.63)\u00b2 of a town's share of Black "
             "residents Bk, built on a segregation assumption, and scikit-learn removed the "
             "set in version 1.2 for it. <i>housing</i> here is a synthetic table with 13 "
             "Boston-like columns (one is pure noise) and no race column.</p>"),
        ]
        return "".join(parts)

    def _table_html(self, F, Z, mu, sd, j) -> str:
        """Per-feature training statistics (glyphs: a summary over the pixels)."""
        raw = self._raw
        tr, va = self.parts["train"], self.parts["val"]
        if raw["kind"] == "glyphs":
            flat = int(np.count_nonzero(sd <= 1e-8))
            note = (f"<p>{flat} pixels are blank in every training image: their \u03c3 is "
                    f"floored at 10<sup>\u22128</sup>, so their z is 0 instead of 0/0.</p>"
                    if flat else
                    "<p>Rarely inked pixels have a small \u03c3, so the few images that do "
                    "ink them get large z-values: the long tail of the After histogram.</p>")
            return (f"<p><b>{F.shape[1]} pixel features</b> ({GLYPH_SIZE}\u00d7{GLYPH_SIZE}), "
                    f"training part (N = {len(tr):,}):</p><p>\u03bc<sub>j</sub> from "
                    f"{_num(mu.min())} to {_num(mu.max())}, \u03c3<sub>j</sub> from "
                    f"{_num(sd.min())} to {_num(sd.max())}.</p>{note}")
        if len(tr) == 0:
            return "<p>No data.</p>"
        nan = np.full(F.shape[1], np.nan)
        zv_m = Z[va].mean(axis=0) if len(va) else nan
        zv_s = Z[va].std(axis=0) if len(va) else nan
        head = ("<tr><th align=left>feature</th><th>\u03bc</th><th>\u03c3</th>"
                "<th>z\u0304 val</th><th>s<sub>z</sub> val</th></tr>")
        rows = []
        for c, name in enumerate(raw["features"]):
            cells = [_num3(a) for a in (mu[c], sd[c], zv_m[c], zv_s[c])]
            # Non-breaking cells: Qt's rich text would otherwise break "\u22120.0003" at the
            # minus sign or inside a name in a narrow pane.
            row = f"<td>{escape(name).replace('_', '_&#8203;')}</td>" + "".join(
                f"<td align=right style='white-space:nowrap'>&nbsp;{t}</td>" for t in cells)
            bold = raw["kind"] == "housing" and c == j
            rows.append(f"<tr style='font-weight:bold'>{row}</tr>" if bold else f"<tr>{row}</tr>")
        return (f"<p><b>Per-feature statistics</b>: \u03bc, \u03c3 from the training part "
                f"(N = {len(tr):,}); z\u0304, s<sub>z</sub> of the validation part scaled "
                f"with them</p><table cellspacing=0 cellpadding=1>{head}{''.join(rows)}</table>")

    # -- snapshot ---------------------------------------------------------------------------------
    def _snapshot(self) -> Snapshot:
        # The data are static: the snapshot is built when they change, not per call, so the
        # worker and the panel can tell by identity that nothing needs repainting.
        return self._snap

    # -- actions ----------------------------------------------------------------------------------
    def action_load_csv(self, path) -> None:
        """Load labelled 2-D points (``x1,x2,label``); a bad file raises and changes nothing.

        Raises
        ------
        DataFileError
            For an unreadable file or a bad line (the message names the line), or a file with
            fewer than 10 points.
        """
        X, y = load_points_csv(path)
        if len(y) < MIN_CSV_POINTS:
            raise DataFileError(path, f"{len(y)} points; this lab needs at least "
                                      f"{MIN_CSV_POINTS} so that every part of the split can "
                                      f"hold some")
        old = (self.csv_X, self.csv_y, self.csv_name, self.values["generator"])
        self.csv_X, self.csv_y = X, y
        self.csv_name = Path(path).name
        self.values["generator"] = "csv"
        try:
            self.reset(self.seed)
        except Exception:
            self.csv_X, self.csv_y, self.csv_name, self.values["generator"] = old
            self.reset(self.seed)
            raise
        self.notice = f"loaded {len(y):,} points from {self.csv_name}"

    def action_save_csv(self, path) -> None:
        """Write the current labelled 2-D points (raw coordinates, every part) atomically.

        Raises
        ------
        ValueError
            When the current data are not labelled 2-D points (regression sets, glyphs), or
            there are no points; nothing is written then.
        """
        raw = self._raw
        if raw["kind"] != "points":
            raise ValueError(f"Save CSV writes labelled 2-D points (x1,x2,label); "
                             f"{self.values['generator']} is not such a set. Choose one of "
                             f"{', '.join(POINTS_2D)} or csv.")
        if len(raw["y"]) == 0:
            raise ValueError("there are no points to save: load a CSV file or choose a "
                             "generator first")
        save_points_csv(path, raw["X"], raw["y"])
        self.notice = f"saved {len(raw['y']):,} points to {Path(path).name}"
