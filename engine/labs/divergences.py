r"""Divergences lab (book 12.5-12.6): why a GAN's JS stalls and the Wasserstein distance doesn't.

Two pictures.

*The book's parallel lines.*  :math:`P` is uniform on the segment :math:`\{0\}\times[0, 1]`
and :math:`Q_\theta` on :math:`\{\theta\}\times[0, 1]`.  For any :math:`\theta \ne 0` the
supports are disjoint, so

.. math:: KL(P\|Q_\theta) = KL(Q_\theta\|P) = \infty, \qquad JS(P, Q_\theta) = \log 2,
          \qquad W_1(P, Q_\theta) = |\theta|,

and only :math:`W_1` tells a generator which way to move :math:`\theta`.  Next to the closed
forms the lab measures :math:`W_1` from :math:`n` samples of each (the optimal assignment,
:func:`engine.gan_math.w1_assign`) and JS from histograms.

*Two 1-D Gaussians* :math:`p_r = \mathcal N(\mu_r, \sigma_r^2)`, :math:`p_g = \mathcal N(\mu_g,
\sigma_g^2)` with the optimal discriminator :math:`D^*(x) = p_r/(p_r + p_g)` and the GAN value
at it, :math:`L(G, D^*) = 2\,JS(p_r, p_g) - \log 4`; and, as :math:`\mu_g` slides away, JS
levelling off at :math:`\log 2` while :math:`W_1` keeps growing.

Nothing is trained: ``step`` moves :math:`\theta` or :math:`\mu_g` when ``animate`` is on.
"""
from __future__ import annotations

import math

import numpy as np

from engine.gan_math import (
    LOG4,
    gauss_pdf,
    js,
    kl_gauss,
    optimal_discriminator,
    pq_divergences,
    value_at_optimum,
    w1_assign,
    w1_grid,
)
from engine.labs.base import Lab, Param, Snapshot

THETA_MAX = 2.0
MU_MAX = 4.0
X_LO, X_HI, X_N = -12.0, 12.0, 2401       # 1-D grid for the Gaussians (dx = 0.01)
SWEEP_N = 121                              # mu_g values in the sweep plot
THETA_N = 401                              # theta values in the theta plot (includes 0)
BIN = 0.05                                 # histogram bin width for the discretised JS
KL_CAP = 2.5                               # where an infinite KL is drawn (marked as such)
N_LINKS = 30                               # assignment pairs drawn in the P/Q picture
ANIMATE = ("off", "theta", "mu_g")


class DivergenceLab(Lab):
    name = "divergences"
    chapter = 12
    title = "KL, JS and Wasserstein"
    section = "12.5-12.6"
    summary = ("Two distributions on parallel lines a distance \u03b8 apart never overlap, so "
               "the KL divergence is infinite and the Jensen-Shannon divergence is stuck at "
               "log 2 however close they come: neither says which way to move. The "
               "Wasserstein (earth mover's) distance is simply |\u03b8|, the work of sliding "
               "one line onto the other, and shrinks smoothly. Below, two Gaussians show the "
               "optimal discriminator D* = p_r / (p_r + p_g) and the GAN value at it, "
               "2 JS \u2212 log 4, which flattens out as the Gaussians separate.")
    finished_reason = ("nothing to train here: move \u03b8 or the Gaussians' sliders, or set "
                       "animate")
    play_interval = 0.03

    params = (
        Param("theta", "float", 0.5, -THETA_MAX, THETA_MAX, step=0.01, group="Parallel lines",
              symbol="\u03b8", help="Horizontal offset \u03b8 of Q's segment from P's."),
        Param("n_samples", "int", 300, 10, 600, step=10, rebuild=True, group="Parallel lines",
              label="samples", symbol="n",
              help="Samples of each distribution for the assignment estimate of W\u2081."),
        Param("mu_r", "float", 0.0, -MU_MAX, MU_MAX, step=0.05, group="Gaussians",
              symbol="\u03bc_r", help="Mean \u03bc_r of the real distribution p_r."),
        Param("sigma_r", "float", 1.0, 0.2, 3.0, step=0.05, group="Gaussians",
              symbol="\u03c3_r", help="Standard deviation \u03c3_r of p_r."),
        Param("mu_g", "float", 2.0, -MU_MAX, MU_MAX, step=0.05, group="Gaussians",
              symbol="\u03bc_g", help="Mean \u03bc_g of the generated distribution p_g."),
        Param("sigma_g", "float", 1.0, 0.2, 3.0, step=0.05, group="Gaussians",
              symbol="\u03c3_g", help="Standard deviation \u03c3_g of p_g."),
        Param("animate", "choice", "off", choices=ANIMATE, group="Play",
              help="What Play sweeps back and forth: nothing, \u03b8, or \u03bc_g."),
    )

    # -- build -----------------------------------------------------------------------------------
    def _build(self) -> None:
        n = self.values["n_samples"]
        # Heights of the samples on each segment; moving theta only shifts Q sideways.
        self.u_p = self.rng.random(n)
        self.u_q = self.rng.random(n)
        self.x = np.linspace(X_LO, X_HI, X_N)
        self.dx = float(self.x[1] - self.x[0])
        self._direction = 1.0
        self._w1_cache = None

    @property
    def finished(self) -> bool:
        return self.values["animate"] == "off"

    def _step(self) -> None:
        v = self.values
        name, lo, hi, dv = (("theta", -THETA_MAX, THETA_MAX, 0.02) if v["animate"] == "theta"
                            else ("mu_g", -MU_MAX, MU_MAX, 0.05))
        new = v[name] + self._direction * dv
        if not lo <= new <= hi:
            self._direction = -self._direction
            new = v[name] + self._direction * dv
        v[name] = round(float(np.clip(new, lo, hi)), 6)

    # -- parallel lines --------------------------------------------------------------------------
    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """Samples of P and Q_theta, each ``(n, 2)``."""
        th = self.values["theta"]
        P = np.stack([np.zeros_like(self.u_p), self.u_p], 1)
        Q = np.stack([np.full_like(self.u_q, th), self.u_q], 1)
        return P, Q

    def w1_samples(self) -> tuple[float, np.ndarray]:
        """Assignment :math:`W_1` of the samples and the matched pairs ``(n, 2, 2)``."""
        th = self.values["theta"]
        if self._w1_cache is None or self._w1_cache[0] != th:
            P, Q = self.samples()
            # In this example the optimal plan matches the heights in sorted order (any
            # crossing pair could be uncrossed for less cost), which w1_assign confirms.
            w = w1_assign(P, Q)
            pairs = np.stack([P[np.argsort(P[:, 1])], Q[np.argsort(Q[:, 1])]], 1)
            self._w1_cache = (th, w, pairs)
        return self._w1_cache[1], self._w1_cache[2]

    def histogram_js(self) -> float:
        """JS between P and Q_theta binned on a 2-D grid of ``BIN`` x 0.1 cells."""
        P, Q = self.samples()
        xe = np.arange(-THETA_MAX - 2 * BIN, THETA_MAX + 2 * BIN + 1e-9, BIN) - BIN / 2
        ye = np.linspace(0.0, 1.0, 11)
        hp = np.histogram2d(P[:, 0], P[:, 1], (xe, ye))[0].ravel()
        hq = np.histogram2d(Q[:, 0], Q[:, 1], (xe, ye))[0].ravel()
        return js(hp / hp.sum(), hq / hq.sum())

    def theta_curves(self) -> dict:
        """KL, reverse KL, JS and :math:`W_1` of P vs :math:`Q_\\theta` over a grid of theta
        (infinite KL values drawn at ``KL_CAP``; ``kl_infinite`` marks them)."""
        th = np.linspace(-THETA_MAX, THETA_MAX, THETA_N)
        vals = [pq_divergences(t) for t in th]
        klv = np.array([d["kl"] for d in vals])
        return {"theta": th, "kl": np.where(np.isinf(klv), KL_CAP, klv),
                "kl_infinite": np.isinf(klv),
                "js": np.array([d["js"] for d in vals]),
                "w1": np.array([d["w1"] for d in vals])}

    # -- Gaussians -------------------------------------------------------------------------------
    def gaussians(self, mu_g: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        v = self.values
        mu_g = v["mu_g"] if mu_g is None else mu_g
        return (gauss_pdf(self.x, v["mu_r"], v["sigma_r"]),
                gauss_pdf(self.x, mu_g, v["sigma_g"]))

    def gaussian_numbers(self) -> dict:
        """Every number about the two Gaussians (closed forms and grid integrals)."""
        v = self.values
        pr, pg = self.gaussians()
        j = js(pr, pg, self.dx)
        return {"kl_rg": kl_gauss(v["mu_r"], v["sigma_r"], v["mu_g"], v["sigma_g"]),
                "kl_gr": kl_gauss(v["mu_g"], v["sigma_g"], v["mu_r"], v["sigma_r"]),
                "js": j, "w1": w1_grid(pr, pg, self.dx),
                "value": value_at_optimum(pr, pg, self.dx), "two_js_minus_log4": 2 * j - LOG4,
                "d_star_0": float(optimal_discriminator(
                    gauss_pdf(0.0, v["mu_r"], v["sigma_r"]),
                    gauss_pdf(0.0, v["mu_g"], v["sigma_g"])))}

    def mu_sweep(self) -> dict:
        """KL, JS and :math:`W_1` of :math:`p_r` vs :math:`p_g` as :math:`\\mu_g` slides."""
        v = self.values
        mus = np.linspace(-MU_MAX - 2, MU_MAX + 2, SWEEP_N)
        pr = gauss_pdf(self.x, v["mu_r"], v["sigma_r"])
        pg = gauss_pdf(self.x[None, :], mus[:, None], v["sigma_g"])     # (SWEEP_N, X_N)
        m = 0.5 * (pr + pg)
        with np.errstate(divide="ignore", invalid="ignore"):
            # The vectorised form of js(): 0 log 0 terms are dropped, as there.
            t1 = np.where(pr > 0, pr * np.log(pr / m), 0.0)
            t2 = np.where(pg > 0, pg * np.log(pg / m), 0.0)
        jsv = 0.5 * (t1 + t2).sum(1) * self.dx
        w1 = np.abs(np.cumsum(pr - pg, axis=1) * self.dx).sum(1) * self.dx
        klv = np.array([kl_gauss(v["mu_r"], v["sigma_r"], mu, v["sigma_g"]) for mu in mus])
        return {"mu_g": mus, "js": jsv, "w1": w1, "kl": klv, "current": v["mu_g"]}

    # -- snapshot --------------------------------------------------------------------------------
    def _snapshot(self) -> Snapshot:
        v = self.values
        pq = pq_divergences(v["theta"])
        w_s, pairs = self.w1_samples()
        js_h = self.histogram_js()
        P, Q = self.samples()
        pr, pg = self.gaussians()
        g = self.gaussian_numbers()
        step = max(1, len(pairs) // N_LINKS)
        data = {
            "P": P, "Q": Q, "links": pairs[::step],
            "theta_curves": self.theta_curves(), "kl_cap": KL_CAP,
            "x": self.x, "p_r": pr, "p_g": pg, "d_star": optimal_discriminator(pr, pg),
            "sweep": self.mu_sweep(),
        }
        scalars = {"theta": v["theta"], "kl": pq["kl"], "kl_reverse": pq["kl_reverse"],
                   "js": pq["js"], "w1": pq["w1"], "w1_samples": w_s, "js_histogram": js_h,
                   "gauss_kl": g["kl_rg"], "gauss_kl_reverse": g["kl_gr"],
                   "gauss_js": g["js"], "gauss_w1": g["w1"], "gan_value": g["value"],
                   "d_star_at_0": g["d_star_0"]}
        # JSON files cannot hold infinity: the metrics keep the finite scalars only.
        scalars = {k: val for k, val in scalars.items() if math.isfinite(val)}
        text = {"equation": self._equation_html(pq, w_s, js_h, g), "summary": self.summary}
        return Snapshot.make(self.name, self.step_count, scalars, data, text)

    def _equation_html(self, pq, w_s, js_h, g) -> str:
        v = self.values

        def num(x):
            return "\u221e" if math.isinf(x) else f"{x:.4g}"

        return (
            f"<p><b>Parallel lines</b>, \u03b8 = {v['theta']:.3g}: P = {{0}}\u00d7U(0,1), "
            f"Q = {{\u03b8}}\u00d7U(0,1)</p>"
            f"<p>KL(P\u2016Q) = \u222b p log(p/q) = {num(pq['kl'])}, &nbsp; KL(Q\u2016P) = "
            f"{num(pq['kl_reverse'])}</p>"
            f"<p>JS = \u00bd KL(P\u2016M) + \u00bd KL(Q\u2016M), M = \u00bd(P+Q): "
            f"{num(pq['js'])} (log 2 = 0.6931); from histograms {js_h:.4g}</p>"
            f"<p>W\u2081 = inf<sub>\u03b3</sub> E<sub>(x,y)~\u03b3</sub>\u2016x \u2212 y\u2016 = "
            f"|\u03b8| = {num(pq['w1'])}; optimal assignment of n = {v['n_samples']} "
            f"samples: {w_s:.4g}</p>"
            f"<p><b>Gaussians</b> p<sub>r</sub> = N({v['mu_r']:.3g}, {v['sigma_r']:.3g}\u00b2), "
            f"p<sub>g</sub> = N({v['mu_g']:.3g}, {v['sigma_g']:.3g}\u00b2)</p>"
            f"<p>D*(x) = p<sub>r</sub>(x) / (p<sub>r</sub>(x) + p<sub>g</sub>(x)), "
            f"D*(0) = {g['d_star_0']:.6f}</p>"
            f"<p>L(G, D*) = E<sub>p<sub>r</sub></sub> log D* + E<sub>p<sub>g</sub></sub> "
            f"log(1 \u2212 D*) = {g['value']:.6f}</p>"
            f"<p>2 JS \u2212 log 4 = 2\u00b7{g['js']:.6f} \u2212 1.386294 = "
            f"{g['two_js_minus_log4']:.6f}</p>"
            f"<p>KL(p<sub>r</sub>\u2016p<sub>g</sub>) = log(\u03c3<sub>g</sub>/\u03c3<sub>r</sub>)"
            f" + (\u03c3<sub>r</sub>\u00b2 + (\u03bc<sub>r</sub>\u2212\u03bc<sub>g</sub>)\u00b2)"
            f"/(2\u03c3<sub>g</sub>\u00b2) \u2212 \u00bd = {g['kl_rg']:.4g}, &nbsp; "
            f"W\u2081 = \u222b|F<sub>r</sub> \u2212 F<sub>g</sub>| dx = {g['w1']:.4g}</p>")
