"""Linear models labs (book ch. 6): linear, polynomial, and logistic/softmax regression.

Three labs share this module because they share their math (:mod:`engine.linear_models`) and
their data (:mod:`engine.data`):

* :class:`LinearRegressionLab` fits a line to 1-D data twice, by the closed-form least-squares
  solution and by gradient descent, and draws GD's path on the (w, b) loss landscape;
* :class:`PolynomialLab` fits polynomials of degree 1-15 and shows training and test error
  against the degree: the classic picture of overfitting;
* :class:`LogisticLab` trains logistic (2 classes) or softmax (K classes) regression on 2-D
  points and paints the class probabilities over the plane.

These problems have at most a few hundred samples and a few dozen unknowns, so they run in
float64 NumPy: the cost is nothing, and the iterative fits are compared with closed-form
answers to many more digits than float32 holds.
"""
from __future__ import annotations

import math

import numpy as np

from engine import linear_models as lm
from engine.data import (
    DOMAIN,
    make_blobs,
    make_classification,
    make_regression_1d,
    one_hot,
    regression_truth,
    train_test_split,
)
from engine.labs.base import Action, Lab, Param, Snapshot
from engine.labs.optimization import _loggable, _thin

#: Curves offered as the truth f(x) of the 1-D regression sets (engine.data's names).
REGRESSION_CHOICES = ("line", "sin", "cubic", "abs", "step")
#: The x-range the 1-D data are drawn from, and the range shown around it.
X_RANGE = (-1.0, 1.0)
X_VIEW = (-1.1, 1.1)


def _fmt(v: float, digits: int = 4) -> str:
    """A number with ``digits`` significant digits, minus sign as a real minus."""
    return f"{v:.{digits}g}".replace("-", "\u2212")


def _vec(a, digits: int = 3) -> str:
    return "(" + ", ".join(_fmt(float(v), digits) for v in np.ravel(a)) + ")"


class _SmallLab(Lab):
    """A lab small enough that NumPy is always the fastest backend.

    A backend switch keeps the run as it is (clicked points, probes, the path so far) instead
    of the default rebuild-and-replay, which would lose what was clicked.
    """

    def _move_to_backend(self) -> None:
        pass


# =============================================================================================
# 6.1 Linear regression
# =============================================================================================
class LinearRegressionLab(_SmallLab):
    """A line fitted by least squares in closed form and by (stochastic) gradient descent."""

    name = "linear_regression"
    chapter = 6
    title = "Linear regression"
    section = "6.1 Linear regression"
    summary = (
        "A line y\u0302 = wx + b is fitted to noisy points in two ways. The closed form solves "
        "the least-squares problem in one go; gradient descent starts from a guess and walks "
        "downhill on the loss L(w, b). Because L is a quadratic in (w, b), its landscape is a "
        "bowl with elliptical contours: the ellipses are long where the data barely pin a "
        "direction down, and that long direction is where GD crawls. Click the landscape to "
        "start GD elsewhere, click the data plot to add a point (watch an outlier drag the "
        "line), raise c past 2/\u03bb\u2098\u2090\u2093 to see GD blow up, or set a batch size "
        "to watch SGD jitter around the optimum instead of settling on it.")
    params = (
        Param("fn", "choice", "line", choices=REGRESSION_CHOICES, label="true function",
              group="Data", rebuild=True,
              help="The curve f the points are sampled from, y = f(x) + noise. A line cannot "
                   "follow the curved ones: the fit is then the best straight compromise."),
        Param("n", "int", 40, 3, 200, step=1, label="points n", symbol="n", group="Data",
              rebuild=True, help="Number of data points n."),
        Param("noise", "float", 0.15, 0.0, 1.0, step=0.01, label="noise \u03c3",
              symbol="\u03c3", group="Data", rebuild=True,
              help="Standard deviation \u03c3 of the Gaussian noise added to each y."),
        Param("outliers", "float", 0.0, 0.0, 0.3, step=0.01, label="outlier fraction",
              group="Data", rebuild=True,
              help="Fraction of points pushed 3 units up or down. The squared loss chases "
                   "them."),
        Param("lr", "float", 0.2, 1e-3, 3.0, log=True, label="step c", symbol="c",
              group="Gradient descent",
              help="Step size c of gradient descent. GD diverges once "
                   "c > 2/\u03bb\u2098\u2090\u2093 of the loss's Hessian (shown in the math)."),
        Param("batch", "int", 0, 0, 64, step=1, label="batch size (0 = all)", symbol="|B|",
              group="Gradient descent",
              help="Mini-batch size |B| of SGD; 0 (or at least n) uses every point each "
                   "step, which is plain gradient descent."),
        Param("w0", "float", -1.5, -5.0, 5.0, step=0.01, label="start w\u2080",
              symbol="w\u2080", group="Gradient descent", rebuild=True,
              help="Starting slope of gradient descent (or click the landscape)."),
        Param("b0", "float", 1.5, -5.0, 5.0, step=0.01, label="start b\u2080",
              symbol="b\u2080", group="Gradient descent", rebuild=True,
              help="Starting intercept of gradient descent (or click the landscape)."),
    )
    actions = (
        Action("set_start", "Set GD start", ("w", "b"),
               "Restart gradient descent from (w, b); clicking the landscape does this."),
        Action("add_point", "Add a data point", ("x", "y"),
               "Add the point (x, y) to the data; clicking the data plot does this."),
    )

    #: Grid resolution of the loss landscape (per axis).
    GRID = 161
    #: Most points the data may hold after clicks.
    MAX_POINTS = 400
    #: Where points may be added: inside the plotted x-range, |y| within this bound.
    Y_LIMIT = 10.0
    #: Stop once the full gradient is this small (the iterate no longer moves on screen).
    TOL = 1e-9

    # -- building -------------------------------------------------------------------------------
    def _build(self):
        v = self.values
        x, y = make_regression_1d(n=v["n"], fn=v["fn"], noise=v["noise"],
                                  outlier_frac=v["outliers"], rng=self.rng)
        self.x = x[:, 0].astype(np.float64)
        self.y = y.astype(np.float64)
        # A separate stream for the SGD batches: changing the batch size mid-run must not
        # change the data a later reset draws.
        self.batch_rng = np.random.default_rng([self.seed, 1])
        self._refit()

    def _refit(self):
        """Closed form, landscape grid and a fresh GD run for the current data."""
        x, y = self.x, self.y
        w, b = lm.linreg_fit(x, y)
        self.w_star, self.b_star = float(w[0]), b
        _, self.rank = lm.fit_lstsq(np.c_[x, np.ones_like(x)], y, return_rank=True)
        self.l_star = lm.linreg_loss(w, b, x, y)
        self.hess_eigs = np.linalg.eigvalsh(lm.linreg_hessian(x))
        start = np.array([self.values["w0"], self.values["b0"]])
        self.start = start
        self.theta = start.copy()
        self.path = [start.copy()]
        self.losses = [lm.linreg_loss(start[:1], start[1], x, y)]
        self.grads = [self._full_grad(start)]
        self.status = "running"
        self.alerts = []
        self._build_grid()

    def _build_grid(self):
        """L(w, b) on a grid over a box that holds the start and the optimum with margins."""
        opt = np.array([self.w_star, self.b_star])
        mid = 0.5 * (self.start + opt)
        half = np.maximum(0.65 * np.abs(self.start - opt), 1.0)
        self.bounds = np.stack([mid - half, mid + half], axis=1)  # ((w0, w1), (b0, b1))
        self.grid_w = np.linspace(*self.bounds[0], self.GRID)
        self.grid_b = np.linspace(*self.bounds[1], self.GRID)
        # Image order: rows are b (the vertical axis), columns are w.
        L = lm.linreg_loss_grid(self.grid_w[None, :], self.grid_b[:, None], self.x, self.y)
        # Log colours show both the floor of the bowl and its walls; floor the range at four
        # decades below the top so a noise-free fit (L* = 0) does not stretch it forever.
        self.grid_display = np.log10(np.maximum(L, 1e-4 * L.max()))

    def _full_grad(self, theta) -> np.ndarray:
        gw, gb = lm.linreg_grad(theta[:1], theta[1], self.x, self.y)
        return np.array([gw[0], gb])

    # -- stepping -------------------------------------------------------------------------------
    @property
    def finished(self):
        return self.status != "running"

    def _step(self):
        n, batch = len(self.x), self.values["batch"]
        if 0 < batch < n:
            idx = self.batch_rng.choice(n, size=batch, replace=False)
            gw, gb = lm.linreg_grad(self.theta[:1], self.theta[1], self.x[idx], self.y[idx])
            g = np.array([gw[0], gb])
        else:
            g = self.grads[-1]  # the full gradient at the current point, kept from last step
        self.theta = self.theta - self.values["lr"] * g
        k = self.step_count + 1
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is stopped below
            loss = lm.linreg_loss(self.theta[:1], self.theta[1], self.x, self.y)
            full = self._full_grad(self.theta)
        self.path.append(self.theta.copy())
        self.losses.append(loss)
        self.grads.append(full)
        if not (math.isfinite(loss) and np.all(np.isfinite(self.theta))) or loss > 1e12:
            self.status = "diverged"
            lim = 2.0 / self.hess_eigs[-1]
            self.alerts.append(
                f"Gradient descent diverged at step {k} (L = {loss:.3g}): the step c = "
                f"{self.values['lr']:.3g} exceeds 2/\u03bb\u2098\u2090\u2093 = {lim:.3g}. "
                "Lower c and reset.")
        elif (not 0 < batch < n) and np.linalg.norm(full) < self.TOL:
            self.status = "converged"

    def _on_param(self, name, old):
        if name == "batch" and self.values["batch"] != old and self.status == "converged":
            self.status = "running"  # SGD may move again from a converged point

    # -- actions --------------------------------------------------------------------------------
    def action_set_start(self, w, b):
        """Restart GD from ``(w, b)`` (each within the start params' range)."""
        w = self._param("w0").coerce(w)
        b = self._param("b0").coerce(b)
        self.values["w0"], self.values["b0"] = w, b
        self.step_count = 0
        self._refit()

    def action_add_point(self, x, y):
        """Add the point ``(x, y)``: refit in closed form and restart GD."""
        try:
            x, y = float(x), float(y)
        except (TypeError, ValueError):
            raise ValueError(f"add_point needs numbers, got x={x!r}, y={y!r}") from None
        if not (X_VIEW[0] <= x <= X_VIEW[1] and abs(y) <= self.Y_LIMIT):
            raise ValueError(f"a new point must have x in [{X_VIEW[0]:g}, {X_VIEW[1]:g}] and "
                             f"|y| <= {self.Y_LIMIT:g}, got ({x:.3g}, {y:.3g})")
        if len(self.x) >= self.MAX_POINTS:
            raise ValueError(f"the data already hold {self.MAX_POINTS} points, the most "
                             "allowed; reset to start over")
        self.x = np.append(self.x, x)
        self.y = np.append(self.y, y)
        self.step_count = 0
        self._refit()

    # -- output ---------------------------------------------------------------------------------
    def history(self):
        return {"w_b": np.asarray(self.path).tolist(), "loss": list(self.losses),
                "status": self.status}

    def _snapshot(self) -> Snapshot:
        x, y = self.x, self.y
        w, b = self.theta
        line_x = np.array(X_VIEW)
        fit_gd = w * line_x + b
        yhat = w * x + b
        # Residual segments (x_i, y_i) -> (x_i, yhat_i), drawn as pairs.
        resid_x = np.repeat(x, 2)
        resid_y = np.stack([y, yhat], axis=1).ravel()
        losses = np.asarray(self.losses)
        k = np.arange(len(losses), dtype=np.float64)
        path = np.asarray(self.path)
        g = self.grads[-1]
        scalars = {"loss": losses[-1], "loss_star": self.l_star, "w": w, "b": b,
                   "w_star": self.w_star, "b_star": self.b_star,
                   "grad_norm": float(np.linalg.norm(g)), "lr": self.values["lr"],
                   "lambda_max": self.hess_eigs[-1], "lambda_min": self.hess_eigs[0]}
        data = {
            "x": x, "y": y, "line_x": line_x,
            "fit_closed": self.w_star * line_x + self.b_star, "fit_gd": fit_gd,
            "resid_x": resid_x, "resid_y": resid_y,
            "grid_w": self.grid_w, "grid_b": self.grid_b, "grid_display": self.grid_display,
            "bounds": self.bounds, "path": _thin(path), "start": self.start,
            "optimum": np.array([self.w_star, self.b_star]),
            "k": _thin(k), "loss": _thin(_loggable(losses)),
            "gap": _thin(_loggable(losses - self.l_star)), "loss_star": self.l_star,
            "status": self.status, "x_view": np.array(X_VIEW),
        }
        text = {"equation": self._equation_html(), "rules": self._rules_html(),
                "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text, self.alerts)

    def _equation_html(self) -> str:
        n = len(self.x)
        unique = "" if self.rank == 2 else (
            " <i>(every x is the same, so many lines fit equally well: this is the one with "
            "the smallest w\u00b2 + b\u00b2)</i>")
        return (
            "<p><b>Model and loss</b><br>"
            "y&#770; = w x + b, &nbsp; r<sub>i</sub> = w x<sub>i</sub> + b &minus; y<sub>i</sub>"
            "<br>L(w, b) = <sup>1</sup>&frasl;<sub>2n</sub> &Sigma;<sub>i</sub> "
            f"r<sub>i</sub><sup>2</sup>, &nbsp; n = {n}</p>"
            "<p><b>Closed form</b> (least squares, solved with an SVD, never by inverting "
            "A<sup>T</sup>A)<br>"
            "(w*, b*) = argmin &#8214;A&theta; &minus; y&#8214;<sup>2</sup>, A = [x &nbsp;1]"
            f"<br>w* = {_fmt(self.w_star)}, b* = {_fmt(self.b_star)}, "
            f"L* = {_fmt(self.l_star)}{unique}</p>")

    def _rules_html(self) -> str:
        v = self.values
        w, b = self.theta
        g = self.grads[-1]
        c = v["lr"]
        lo, hi = self.hess_eigs
        n, batch = len(self.x), v["batch"]
        sgd = 0 < batch < n
        over = ("" if sgd else "i")
        grad_txt = (
            f"&part;L/&part;w = <sup>1</sup>&frasl;<sub>n</sub> &Sigma;<sub>{over}</sub> "
            "r<sub>i</sub> x<sub>i</sub>, &nbsp; "
            f"&part;L/&part;b = <sup>1</sup>&frasl;<sub>n</sub> &Sigma;<sub>{over}</sub> "
            "r<sub>i</sub>")
        if sgd:
            grad_txt = (
                f"SGD: the sums run over a random batch B of |B| = {batch} points and divide by "
                "|B| instead of n")
        return (
            "<p><b>Gradient descent</b><br>"
            "w &larr; w &minus; c &part;L/&part;w, &nbsp; b &larr; b &minus; c &part;L/&part;b"
            f"<br>{grad_txt}<br>"
            f"step {self.step_count}: (w, b) = ({_fmt(w)}, {_fmt(b)}), "
            f"&nabla;L = {_vec(g)}, L = {_fmt(self.losses[-1])}, "
            f"L &minus; L* = {_fmt(self.losses[-1] - self.l_star, 3)}</p>"
            "<p><b>Why it converges (or not)</b><br>"
            "The Hessian H = <sup>1</sup>&frasl;<sub>n</sub>A<sup>T</sup>A is constant, with "
            f"eigenvalues &lambda; = {_fmt(lo, 3)} and {_fmt(hi, 3)}. GD is stable for "
            f"c &lt; 2/&lambda;<sub>max</sub> = {_fmt(2 / hi, 3)}; now c = {_fmt(c, 3)}, and "
            f"each step shrinks the slow direction's error by |1 &minus; c&lambda;<sub>min</sub>| "
            f"= {_fmt(abs(1 - c * lo), 3)}. <i>{self.status}</i></p>")


# =============================================================================================
# 6.2 Polynomial regression
# =============================================================================================
class PolynomialLab(_SmallLab):
    """Polynomials of degree 1-15 by least squares, train vs test error, and GD's early stop."""

    name = "polynomial"
    chapter = 6
    title = "Polynomial regression"
    section = "6.2 Polynomial regression"
    summary = (
        "A polynomial of degree d is still a linear model: linear in its coefficients, with "
        "the powers 1, x, x\u00b2, \u2026, x\u1d48 as features, so least squares fits it "
        "exactly as it fits a line. Raising d always lowers the training error, but past some "
        "degree the curve starts threading the noise between the points and the error on "
        "held-out test points climbs again: that is overfitting, and the U-shaped test curve "
        "shows where it begins. A ridge penalty \u03bb keeps the coefficients small and tames "
        "the wiggles. Pressing Play runs gradient descent on the same features from zero: "
        "stopping it early acts like a penalty too, and its test error often dips before it "
        "rises.")
    params = (
        Param("fn", "choice", "sin", choices=REGRESSION_CHOICES, label="true function",
              group="Data", rebuild=True,
              help="The curve f the points are sampled from, y = f(x) + noise."),
        Param("n", "int", 40, 10, 300, step=1, label="points n", symbol="n", group="Data",
              rebuild=True, help="Total number of points, split into training and test."),
        Param("noise", "float", 0.2, 0.0, 1.0, step=0.01, label="noise \u03c3",
              symbol="\u03c3", group="Data", rebuild=True,
              help="Standard deviation \u03c3 of the noise on y. At 0 nothing can overfit."),
        Param("test_frac", "float", 0.5, 0.1, 0.8, step=0.05, label="test fraction",
              group="Data", rebuild=True,
              help="Share of the points held out for measuring the test error."),
        Param("degree", "int", 3, 1, 15, step=1, label="degree d", symbol="d", group="Model",
              help="Degree d of the polynomial: d + 1 coefficients c\u2080 \u2026 c\u1d48."),
        Param("regularize", "bool", False, label="ridge penalty", group="Model",
              help="Add the ridge penalty (\u03bb/2)\u2016c\u2016\u00b2 (not on c\u2080)."),
        Param("ridge", "float", 1e-3, 1e-8, 1.0, log=True, label="ridge \u03bb",
              symbol="\u03bb", group="Model",
              help="Strength \u03bb of the ridge penalty (used when 'ridge penalty' is on)."),
    )

    DEGREES = np.arange(1, 16)
    CURVE_POINTS = 400

    @property
    def lam(self) -> float:
        return self.values["ridge"] if self.values["regularize"] else 0.0

    # -- building -------------------------------------------------------------------------------
    def _build(self):
        v = self.values
        x, y = make_regression_1d(n=v["n"], fn=v["fn"], noise=v["noise"], rng=self.rng)
        xtr, ytr, xte, yte = train_test_split(x, y, v["test_frac"], self.rng)
        # Powers of x are fitted on x scaled to [-1, 1]: there every power stays within
        # [-1, 1], while on, say, [0, 2 pi] x^15 reaches 1e12 and the least-squares problem's
        # condition number explodes (the data are generated on [-1, 1], so here the map is the
        # identity, but it states the requirement).
        def scale(a):
            return lm.scale_to_unit(np.asarray(a, dtype=np.float64).ravel(), *X_RANGE)
        self.x_train, self.x_test = scale(xtr), scale(xte)
        self.y_train = np.asarray(ytr, dtype=np.float64)
        self.y_test = np.asarray(yte, dtype=np.float64)
        self.curve_x = np.linspace(*X_RANGE, self.CURVE_POINTS)
        self.truth = regression_truth(v["fn"], self.curve_x).astype(np.float64)
        ys = np.concatenate([self.y_train, self.y_test, self.truth])
        pad = 0.25 * (ys.max() - ys.min() + 0.1)
        self.y_view = np.array([ys.min() - pad, ys.max() + pad])
        self.F_curve = lm.poly_features(scale(self.curve_x), 15)
        self._refit()

    def _refit(self):
        """Degree curve, current closed-form fit, and a fresh GD run (after any model change)."""
        self.train_curve, self.test_curve = lm.poly_fit_curve(
            self.x_train, self.y_train, self.x_test, self.y_test, self.DEGREES, self.lam)
        d = self.values["degree"]
        self.Phi_tr = lm.poly_features(self.x_train, d)
        self.Phi_te = lm.poly_features(self.x_test, d)
        self.coef, self.rank = lm.fit_lstsq(self.Phi_tr, self.y_train, self.lam,
                                            return_rank=True)
        self.cond = float(np.linalg.cond(self.Phi_tr))
        self.train_mse = lm.mse(self.Phi_tr @ self.coef, self.y_train)
        self.test_mse = lm.mse(self.Phi_te @ self.coef, self.y_test)
        # GD from zero with c = 1/lambda_max of the Hessian of (1/2n)|Phi c - y|^2 + penalty:
        # the largest step that is safe in every direction.
        H = self.Phi_tr.T @ self.Phi_tr / len(self.y_train)
        pen = np.ones(d + 1)
        pen[0] = 0.0
        self.gd_lr = 1.0 / float(np.linalg.eigvalsh(H + self.lam * np.diag(pen))[-1])
        self.gd_coef = np.zeros(d + 1)
        self.gd_hist = [self._gd_errors()]
        self.step_count = 0

    def _gd_errors(self):
        return (lm.mse(self.Phi_tr @ self.gd_coef, self.y_train),
                lm.mse(self.Phi_te @ self.gd_coef, self.y_test))

    def _on_param(self, name, old):
        if name in ("degree", "regularize", "ridge") and self.values[name] != old:
            self._refit()

    def _step(self):
        _, g = lm.ridge_grad(self.gd_coef, self.Phi_tr, self.y_train, self.lam)
        self.gd_coef = self.gd_coef - self.gd_lr * g
        self.gd_hist.append(self._gd_errors())

    # -- output ---------------------------------------------------------------------------------
    def history(self):
        h = np.asarray(self.gd_hist)
        return {"gd_train_mse": h[:, 0].tolist(), "gd_test_mse": h[:, 1].tolist(),
                "degrees": self.DEGREES.tolist(), "train_mse": self.train_curve.tolist(),
                "test_mse": self.test_curve.tolist()}

    def _snapshot(self) -> Snapshot:
        d = self.values["degree"]
        F = self.F_curve[:, :d + 1]
        h = np.asarray(self.gd_hist)
        best = int(self.DEGREES[np.argmin(self.test_curve)])
        scalars = {"loss": self.train_mse, "train_mse": self.train_mse,
                   "test_mse": self.test_mse, "degree": d, "best_degree": best,
                   "gd_train_mse": h[-1, 0], "gd_test_mse": h[-1, 1], "cond": self.cond,
                   "lambda": self.lam}
        data = {
            "x_train": self.x_train, "y_train": self.y_train,
            "x_test": self.x_test, "y_test": self.y_test,
            "curve_x": self.curve_x, "truth": self.truth, "fit": F @ self.coef,
            "gd_fit": F @ self.gd_coef, "y_view": self.y_view,
            "degrees": self.DEGREES.astype(np.float64),
            "train_curve": _loggable(self.train_curve), "test_curve": _loggable(self.test_curve),
            "degree": d, "best_degree": best,
            "current": np.array([[d, max(self.train_mse, 1e-16)],
                                 [d, max(self.test_mse, 1e-16)]]),
            # GD's curves against the step on a log axis: step k is plotted at k + 1.
            "gd_k": _thin(np.arange(1, len(h) + 1, dtype=np.float64)),
            "gd_train": _thin(_loggable(h[:, 0])), "gd_test": _thin(_loggable(h[:, 1])),
        }
        text = {"equation": self._equation_html(), "rules": self._rules_html(),
                "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text)

    def _equation_html(self) -> str:
        d = self.values["degree"]
        lam = self.lam
        pen = (f" + <sup>&lambda;</sup>&frasl;<sub>2</sub> &Sigma;<sub>j&ge;1</sub> "
               f"c<sub>j</sub><sup>2</sup>, &nbsp; &lambda; = {_fmt(lam, 3)}" if lam > 0 else "")
        terms = " + ".join(f"c<sub>{j}</sub>x<sup>{j}</sup>" if j > 1 else
                           ("c<sub>1</sub>x" if j == 1 else "c<sub>0</sub>")
                           for j in range(min(d, 3) + 1))
        more = f" + &hellip; + c<sub>{d}</sub>x<sup>{d}</sup>" if d > 3 else ""
        coef = _vec(self.coef[:6]) + (" &hellip;" if d > 5 else "")
        rank = ("" if self.rank == d + 1 else
                f" <i>(only {len(self.y_train)} training points for {d + 1} coefficients: "
                "many polynomials fit them exactly; this is the one with the smallest "
                "coefficients)</i>")
        return (
            f"<p><b>Model</b> (degree d = {d})<br>y&#770; = {terms}{more} = "
            "&phi;(x)<sup>T</sup>c, &nbsp; &phi;(x) = (1, x, x<sup>2</sup>, &hellip;, "
            f"x<sup>d</sup>)</p>"
            "<p><b>Least squares</b><br>"
            "c = argmin <sup>1</sup>&frasl;<sub>2n</sub> &#8214;&Phi;c &minus; y&#8214;"
            f"<sup>2</sup>{pen}<br>c = {coef}{rank}<br>"
            f"cond(&Phi;) = {_fmt(self.cond, 3)} on x scaled to [&minus;1, 1] "
            "(on raw x far from 0 the powers differ by many orders of magnitude and the "
            "solve loses digits)</p>")

    def _rules_html(self) -> str:
        d = self.values["degree"]
        best = int(self.DEGREES[np.argmin(self.test_curve)])
        gtr, gte = self.gd_hist[-1]
        return (
            "<p><b>Errors</b> (MSE = <sup>1</sup>&frasl;<sub>n</sub> &Sigma; "
            "(y&#770;<sub>i</sub> &minus; y<sub>i</sub>)<sup>2</sup>)<br>"
            f"train {_fmt(self.train_mse, 3)}, test {_fmt(self.test_mse, 3)} at d = {d}; "
            f"the test error is lowest at d = {best}</p>"
            "<p><b>Gradient descent</b> on the same features, from c = 0<br>"
            "c &larr; c &minus; &eta;(<sup>1</sup>&frasl;<sub>n</sub>&Phi;<sup>T</sup>"
            "(&Phi;c &minus; y) + &lambda;(0, c<sub>1</sub>, &hellip;, c<sub>d</sub>)), "
            "&nbsp; "
            f"&eta; = 1/&lambda;<sub>max</sub>(H) = {_fmt(self.gd_lr, 3)}<br>"
            f"step {self.step_count}: train {_fmt(gtr, 3)}, test {_fmt(gte, 3)}</p>")


# =============================================================================================
# 6.3 Logistic and softmax regression
# =============================================================================================
DATASETS = ("blobs", "moons", "circles", "xor")
FEATURES = ("linear", "quadratic")


class LogisticLab(_SmallLab):
    """Logistic (2 classes) or softmax (K classes) regression on 2-D points, by full-batch GD."""

    name = "logistic"
    chapter = 6
    title = "Logistic & softmax regression"
    section = "6.3 Logistic and softmax regression"
    summary = (
        "A linear score z = w\u1d40\u03c6(x) + b becomes a probability: the sigmoid "
        "\u03c3(z) = 1/(1 + e\u207b\u1dbb) for two classes, the softmax over K scores for more. "
        "Training lowers the cross-entropy, the average surprise at the true labels, by "
        "gradient descent, and its gradient is simply the prediction error p \u2212 y times "
        "the features. With plain (x\u2081, x\u2082) features every boundary is a straight "
        "line, so circles and xor defeat it; add the quadratic features x\u2081\u00b2, "
        "x\u2081x\u2082, x\u2082\u00b2 and the boundary may bend into a conic, which separates "
        "them. Click the plane to see the class probabilities at that point.")
    params = (
        Param("dataset", "choice", "blobs", choices=DATASETS, label="dataset", group="Data",
              rebuild=True,
              help="The point set. Blobs have K classes (below); the others have two."),
        Param("classes", "int", 3, 2, 5, step=1, label="classes K (blobs)", symbol="K",
              group="Data", rebuild=True,
              help="Number of classes K of the blobs set; K = 2 trains a logistic (sigmoid) "
                   "model, K > 2 a softmax model."),
        Param("n", "int", 200, 40, 600, step=10, label="points n", symbol="n", group="Data",
              rebuild=True, help="Total number of points, split into training and test."),
        Param("noise", "float", 0.1, 0.0, 0.5, step=0.01, label="noise", group="Data",
              rebuild=True, help="Gaussian jitter on the point coordinates."),
        Param("test_frac", "float", 0.3, 0.1, 0.5, step=0.05, label="test fraction",
              group="Data", rebuild=True, help="Share of the points held out for testing."),
        Param("features", "choice", "linear", choices=FEATURES, label="features \u03c6(x)",
              symbol="\u03c6", group="Model", rebuild=True,
              help="linear: \u03c6(x) = (x\u2081, x\u2082). quadratic adds x\u2081\u00b2, "
                   "x\u2081x\u2082, x\u2082\u00b2, so boundaries can curve."),
        Param("lr", "float", 2.0, 1e-3, 50.0, log=True, label="step c", symbol="c",
              group="Training", help="Gradient-descent step size c."),
        Param("l2", "float", 1e-3, 0.0, 0.1, step=1e-4, label="L2 penalty \u03bb",
              symbol="\u03bb", group="Training",
              help="Weight decay \u03bb: adds (\u03bb/2)\u2016w\u2016\u00b2 to the loss. On "
                   "separable data without it the weights grow forever."),
    )
    actions = (Action("probe", "Probe a point", ("x", "y"),
                      "Show the class probabilities at (x, y); clicking the plane does this."),)

    #: Heatmap resolution, and the coarser grid the boundaries are traced on (a straight
    #: line or a conic needs few cells, and tracing costs time on every painted frame).
    GRID = 121
    BOUNDARY_GRID = 61

    # -- building -------------------------------------------------------------------------------
    def _build(self):
        v = self.values
        if v["dataset"] == "blobs":
            X, y = make_blobs(n=v["n"], centers=v["classes"], noise=v["noise"], rng=self.rng)
        else:
            X, y = make_classification(v["dataset"], n=v["n"], noise=v["noise"], rng=self.rng)
        self.K = v["classes"] if v["dataset"] == "blobs" else 2
        Xtr, ytr, Xte, yte = train_test_split(X, y, v["test_frac"], self.rng)
        self.X_train, self.X_test = (np.asarray(a, dtype=np.float64) for a in (Xtr, Xte))
        self.y_train, self.y_test = np.asarray(ytr), np.asarray(yte)
        self.P_train, self.P_test = self._phi(self.X_train), self._phi(self.X_test)
        self.Y_train = np.asarray(one_hot(self.y_train, self.K), dtype=np.float64)
        self.Y_test = np.asarray(one_hot(self.y_test, self.K), dtype=np.float64)
        self.grid = np.linspace(*DOMAIN, self.GRID)
        gx, gy = np.meshgrid(self.grid, self.grid)  # rows y, columns x: image order
        self.P_grid = self._phi(np.stack([gx.ravel(), gy.ravel()], axis=1))
        self.boundary_grid = np.linspace(*DOMAIN, self.BOUNDARY_GRID)
        bx, by = np.meshgrid(self.boundary_grid, self.boundary_grid)
        self.P_boundary = self._phi(np.stack([bx.ravel(), by.ravel()], axis=1))
        d = self.P_train.shape[1]
        self.binary = self.K == 2
        # Binary: one weight vector and sigmoid; K classes: a (d, K) matrix and softmax.
        self.W = np.zeros(d) if self.binary else np.zeros((d, self.K))
        self.b = 0.0 if self.binary else np.zeros(self.K)
        self.probe_pt = np.zeros(2)
        self.alerts = []
        self.hist = {"loss": [], "test_loss": [], "acc": [], "test_acc": []}
        self.grad = self._record()

    def _phi(self, X):
        """Feature map: (x1, x2), or with the quadratic terms (x1^2, x1 x2, x2^2) appended."""
        if self.values["features"] == "linear":
            return X
        return lm.poly_features(X, 2)[:, 1:]  # drop the constant: the bias b is separate

    def _loss_grad(self, P, Y, y):
        l2 = self.values["l2"]
        if self.binary:
            return lm.logreg_loss_grad(self.W, self.b, P, y, l2)
        return lm.softmax_loss_grad(self.W, self.b, P, Y, l2)

    def _scores(self, P):
        """Class scores: (m,) logits z for binary, (m, K) for softmax."""
        return P @ self.W + self.b

    def _predict(self, P):
        z = self._scores(P)
        return (z > 0).astype(np.int64) if self.binary else np.argmax(z, axis=1)

    def _record(self):
        """Append loss and accuracy of the current weights; return the training gradient."""
        loss, gW, gb = self._loss_grad(self.P_train, self.Y_train, self.y_train)
        test_loss = self._loss_grad(self.P_test, self.Y_test, self.y_test)[0]
        h = self.hist
        h["loss"].append(loss)
        h["test_loss"].append(test_loss)
        h["acc"].append(float(np.mean(self._predict(self.P_train) == self.y_train)))
        h["test_acc"].append(float(np.mean(self._predict(self.P_test) == self.y_test))
                             if len(self.y_test) else math.nan)
        return gW, gb

    def _on_param(self, name, old):
        if name == "l2" and self.values["l2"] != old:
            # The next step must use the new penalty: recompute the kept gradient.
            _, gW, gb = self._loss_grad(self.P_train, self.Y_train, self.y_train)
            self.grad = (gW, gb)

    # -- stepping -------------------------------------------------------------------------------
    @property
    def finished(self):
        return bool(self.alerts)

    def _step(self):
        gW, gb = self.grad
        c = self.values["lr"]
        self.W = self.W - c * gW
        self.b = self.b - c * gb
        with np.errstate(over="ignore", invalid="ignore"):
            self.grad = self._record()
        loss = self.hist["loss"][-1]
        if not (math.isfinite(loss) and np.all(np.isfinite(self.W))):
            self.alerts.append(f"Training diverged at step {self.step_count + 1}: the step "
                               f"c = {c:.3g} is too large; lower it and reset.")

    # -- actions --------------------------------------------------------------------------------
    def action_probe(self, x, y):
        """Show the model's class probabilities at the point ``(x, y)`` of the plane."""
        try:
            pt = np.array([float(x), float(y)])
        except (TypeError, ValueError):
            raise ValueError(f"probe needs numbers, got x={x!r}, y={y!r}") from None
        lo, hi = DOMAIN
        if not np.all((pt >= lo) & (pt <= hi)):
            raise ValueError(f"probe point must lie in [{lo:g}, {hi:g}]\u00b2, "
                             f"got ({pt[0]:.3g}, {pt[1]:.3g})")
        self.probe_pt = pt

    # -- output ---------------------------------------------------------------------------------
    def history(self):
        return {k: list(v) for k, v in self.hist.items()}

    def _probs(self, P):
        """Class probabilities (m, K) and, for drawing boundaries, (m, B) score margins whose
        zero level is a decision boundary (B = 1 for binary: z itself; B = K for softmax:
        z_k - max_{j != k} z_j, zero where class k ties the best other class)."""
        z = self._scores(P)
        if self.binary:
            p1 = lm.sigmoid(z)
            return np.stack([1.0 - p1, p1], axis=1), z[:, None]
        Z = z
        top2 = np.sort(Z, axis=1)[:, -2:]
        best_other = np.where(Z == top2[:, 1:], top2[:, :1], top2[:, 1:])
        return lm.softmax(Z, axis=1), Z - best_other

    def _snapshot(self) -> Snapshot:
        G, GB = self.GRID, self.BOUNDARY_GRID
        probs, _ = self._probs(self.P_grid)
        _, margins = self._probs(self.P_boundary)
        probe_p, _ = self._probs(self._phi(self.probe_pt[None, :]))
        probe_z = np.atleast_1d(self._scores(self._phi(self.probe_pt[None, :]))[0])
        h = {k: np.asarray(v, dtype=np.float64) for k, v in self.hist.items()}
        k = np.arange(len(h["loss"]), dtype=np.float64)
        if self.binary:
            image = {"p1": probs[:, 1].reshape(G, G)}
        else:
            # The most probable class, and how sure the model is of it: p_max rescaled from
            # [1/K, 1] (a uniform guess .. certainty) to [0, 1].
            conf = (probs.max(axis=1) - 1.0 / self.K) / (1.0 - 1.0 / self.K)
            image = {"pred": np.argmax(probs, axis=1).reshape(G, G),
                     "conf": np.clip(conf, 0.0, 1.0).reshape(G, G)}
        scalars = {"loss": h["loss"][-1], "test_loss": h["test_loss"][-1],
                   "acc": h["acc"][-1], "test_acc": h["test_acc"][-1],
                   "weight_norm": float(np.linalg.norm(self.W))}
        data = {
            "X_train": self.X_train, "y_train": self.y_train,
            "X_test": self.X_test, "y_test": self.y_test,
            "n_classes": self.K, "binary": self.binary,
            "domain": np.array(DOMAIN, dtype=np.float64), "grid": self.grid,
            "boundary_grid": self.boundary_grid, "margins": margins.reshape(GB, GB, -1),
            "probe": self.probe_pt, "probe_p": probe_p[0], "probe_z": probe_z,
            "k": _thin(k), "loss": _thin(_loggable(h["loss"])),
            "test_loss": _thin(_loggable(h["test_loss"])),
            "acc": _thin(h["acc"]), "test_acc": _thin(h["test_acc"]), **image,
        }
        text = {"equation": self._equation_html(probe_p[0], probe_z), "rules": self._rules_html(),
                "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text, self.alerts)

    def _equation_html(self, probe_p, probe_z) -> str:
        phi = ("(x<sub>1</sub>, x<sub>2</sub>)" if self.values["features"] == "linear" else
               "(x<sub>1</sub>, x<sub>2</sub>, x<sub>1</sub><sup>2</sup>, "
               "x<sub>1</sub>x<sub>2</sub>, x<sub>2</sub><sup>2</sup>)")
        px, py = self.probe_pt
        at = f"at the probe ({_fmt(px, 3)}, {_fmt(py, 3)})"
        if self.binary:
            return (
                f"<p><b>Logistic regression</b> &nbsp; &phi;(x) = {phi}<br>"
                "z = w<sup>T</sup>&phi;(x) + b, &nbsp; P(y = 1 | x) = &sigma;(z) = "
                "1 / (1 + e<sup>&minus;z</sup>)<br>"
                "<i>The book prints e<sup>+z</sup> (erratum E21); that would be "
                "P(y = 0 | x) instead, and &sigma;(2) would come out 0.119, not 0.881. "
                "And z weights the features x<sub>i</sub>, not powers x<sup>i</sup> "
                "(E22).</i><br>"
                f"w = {_vec(self.W)}, b = {_fmt(float(self.b), 3)}<br>"
                f"{at}: z = {_fmt(float(probe_z[0]), 3)}, "
                f"&sigma;(z) = {_fmt(float(probe_p[1]), 3)}</p>")
        K = self.K
        probs = ", ".join(_fmt(float(p), 3) for p in probe_p)
        return (
            f"<p><b>Softmax regression</b>, K = {K} classes &nbsp; &phi;(x) = {phi}<br>"
            "z<sub>k</sub> = w<sub>k</sub><sup>T</sup>&phi;(x) + b<sub>k</sub>, &nbsp; "
            "P(y = k | x) = e<sup>z<sub>k</sub></sup> / &Sigma;<sub>j</sub> "
            "e<sup>z<sub>j</sub></sup><br>"
            "(computed as e<sup>z<sub>k</sub> &minus; max z</sup> / &Sigma; "
            "e<sup>z<sub>j</sub> &minus; max z</sup>, which is equal and cannot overflow)<br>"
            f"{at}: z = {_vec(probe_z)}, P = ({probs})</p>")

    def _rules_html(self) -> str:
        h = self.hist
        c, l2 = self.values["lr"], self.values["l2"]
        if self.binary:
            loss = ("L = &minus;<sup>1</sup>&frasl;<sub>n</sub> &Sigma; [y<sub>i</sub> log "
                    "p<sub>i</sub> + (1 &minus; y<sub>i</sub>) log(1 &minus; p<sub>i</sub>)] + "
                    "<sup>&lambda;</sup>&frasl;<sub>2</sub>&#8214;w&#8214;<sup>2</sup>")
            grad = ("&nabla;<sub>w</sub>L = <sup>1</sup>&frasl;<sub>n</sub>&Phi;<sup>T</sup>"
                    "(p &minus; y) + &lambda;w, &nbsp; &part;L/&part;b = "
                    "<sup>1</sup>&frasl;<sub>n</sub>&Sigma;(p<sub>i</sub> &minus; y<sub>i</sub>)")
        else:
            loss = ("L = &minus;<sup>1</sup>&frasl;<sub>n</sub> &Sigma;<sub>i</sub> "
                    "log P(y<sub>i</sub> | x<sub>i</sub>) + "
                    "<sup>&lambda;</sup>&frasl;<sub>2</sub>&#8214;W&#8214;<sup>2</sup>")
            grad = ("&nabla;<sub>W</sub>L = <sup>1</sup>&frasl;<sub>n</sub>&Phi;<sup>T</sup>"
                    "(P &minus; Y) + &lambda;W, &nbsp; &nabla;<sub>b</sub>L = "
                    "<sup>1</sup>&frasl;<sub>n</sub>&Sigma;<sub>i</sub>(P<sub>i</sub> &minus; "
                    "Y<sub>i</sub>), Y one-hot")
        upd = ("(w, b) &larr; (w, b) &minus; c&nabla;L" if self.binary
               else "(W, b) &larr; (W, b) &minus; c&nabla;L")
        return (
            f"<p><b>Cross-entropy and its gradient</b><br>{loss}<br>{grad}<br>"
            f"{upd}, &nbsp; c = {_fmt(c, 3)}, &lambda; = {_fmt(l2, 3)}"
            "</p>"
            f"<p>step {self.step_count}: loss {_fmt(h['loss'][-1], 4)} (test "
            f"{_fmt(h['test_loss'][-1], 4)}), accuracy {100 * h['acc'][-1]:.1f}% "
            f"(test {100 * h['test_acc'][-1]:.1f}%), "
            f"&#8214;W&#8214; = {_fmt(float(np.linalg.norm(self.W)), 3)}</p>")
