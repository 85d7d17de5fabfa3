r"""Types of attention (book ch. 11, sections 11.1 and 11.3) on a short typed sequence.

:class:`AttentionTypesLab` scores every query of a typed sequence against the states of
itself (self-attention) or of a second, source sequence (encoder-decoder attention), turns
the scores into weights with a softmax at temperature :math:`T`, and forms the context
vector of the query the user picks:

.. math::  e_{t,i} = \mathrm{score}(s_t, h_i), \qquad
           \alpha_{t,i} = \mathrm{softmax}_i(e_{t,i}/T), \qquad c_t = \sum_i \alpha_{t,i} h_i

Variants, each one param: the score (plain dot, scaled dot, Bahdanau's additive), global or
Luong's local window (centre predicted, local-p, or moving along the diagonal, local-m), and
soft or hard attention.  Everything is a fixed function of the params (the lab has nothing
to train), except hard attention, whose every step draws one position per query; the
sample frequencies and the running mean of the sampled states then converge to
:math:`\alpha` and :math:`c` at the rate the variance predicts.

The formulas live in :mod:`engine.attention_math`; this class holds the state and builds
snapshots.
"""
from __future__ import annotations

import math
import zlib
from html import escape

import numpy as np

from engine import attention_math as am
from engine.labs.base import Lab, Param, Snapshot

MAX_TOKENS = 16
MAX_TOKEN_CHARS = 12      # a longer word would not fit under a heatmap column
DIM = 8                   # width d of the token vectors
ATT_DIM = 8               # width d_a of the additive score's hidden layer
MAX_SAMPLES = 5000        # hard attention stops here (the error curve is flat by then)
SCORINGS = ("dot", "scaled_dot", "additive")
_SCORING_LABEL = {"dot": "dot product", "scaled_dot": "scaled dot product",
                  "additive": "additive (Bahdanau)"}
_TEMPS = np.geomspace(0.05, 10.0, 61)   # the temperature sweep (the T param's range)


def tokenize(text: str) -> list[str]:
    """Words if ``text`` has spaces, otherwise its characters; lower-cased.

    >>> tokenize("The cat"), tokenize("abc")
    (['the', 'cat'], ['a', 'b', 'c'])
    """
    text = text.strip().lower()
    return text.split() if any(c.isspace() for c in text) else list(text)


def _parse_sequence(value: str) -> str:
    text = " ".join(str(value).split())   # canonical: single spaces
    toks = tokenize(text)
    if not toks:
        raise ValueError("type at least one token (words separated by spaces, or one word "
                         "to attend over its letters)")
    if len(toks) > MAX_TOKENS:
        raise ValueError(f"{len(toks)} tokens; at most {MAX_TOKENS} are allowed (words "
                         "separated by spaces, or the letters of one word)")
    long = [t for t in toks if len(t) > MAX_TOKEN_CHARS]
    if long:
        raise ValueError(f"the word {long[0]!r} is longer than {MAX_TOKEN_CHARS} characters")
    return text


_SEQ_HINT = (f"up to {MAX_TOKENS} words separated by spaces, or one word of up to "
             f"{MAX_TOKENS} letters (then each letter is a token)")


def embed(tokens, seed: int) -> np.ndarray:
    r"""Fixed vectors for tokens: :math:`h(\text{tok}) \sim \mathcal N(0, I_d)` drawn from a
    generator seeded by the lab seed and the CRC-32 of the token's spelling.

    The same token therefore always gets the same vector (for one seed), whatever sequence
    it appears in, and distinct tokens get independent, nearly orthogonal vectors.
    Shape ``(len(tokens), DIM)``.
    """
    rows = [np.random.default_rng([int(seed), zlib.crc32(t.encode("utf-8"))]).standard_normal(DIM)
            for t in tokens]
    return np.array(rows, dtype=np.float64).reshape(len(rows), DIM)


def _num(v: float, digits: int = 3) -> str:
    """3 significant digits (4 for small magnitudes), a real minus sign, no "-0"."""
    v = float(v)
    if not math.isfinite(v):
        return "\u2212\u221e" if v < 0 else "\u221e"
    text = f"{v:.{digits}g}" if abs(v) >= 1 else f"{v:.{digits}f}"
    if text.strip("-0.") == "":
        text = text.lstrip("-")
    return text.replace("-", "\u2212")


def _vec(a, digits: int = 2) -> str:
    return "(" + ", ".join(_num(x, digits) for x in np.ravel(a)) + ")"


def _par(v: float) -> str:
    return f"({_num(v, 2)})" if v < 0 else _num(v, 2)


def _tok(t: str) -> str:
    return f"\u2018{escape(t)}\u2019"


class AttentionTypesLab(Lab):
    """Soft/hard, global/local, self/encoder-decoder attention with three score functions."""

    name = "attention_types"
    chapter = 11
    title = "Types of attention"
    section = "11.1 Bahdanau attention, 11.3 Types of attention"
    summary = (
        "Attention is a soft look-up. Each query s<sub>t</sub> scores every state "
        "h<sub>i</sub> it may look at, a softmax turns the scores into weights that sum to 1, "
        "and the answer is the weighted average of the states. The token vectors here are "
        "fixed random vectors, one per distinct token, and nothing is trained, so the dot "
        "scores simply find equal tokens and the additive score is an arbitrary fixed "
        "function. Self-attention lets a sequence look at itself; encoder-decoder attention "
        "lets it look at another one. Local attention keeps only a window of 2D+1 positions "
        "around a centre p<sub>t</sub> and fades them with a Gaussian. Hard attention picks "
        "one state at random with probabilities \u03b1: right on average, noisy on each "
        "draw, and not differentiable.")
    play_interval = 0.15   # hard attention: one draw per step, slow enough to follow
    params = (
        Param("text", "text", "the cat sat on the mat", parse=_parse_sequence,
              hint=_SEQ_HINT, label="query sequence", group="Sequences",
              choices=("the cat sat on the mat", "attention",
                       "a b c d e f g h i j k l m n o p"),
              help="The sequence whose tokens ask (queries s\u209c). Words separated by "
                   "spaces, or a single word to use its letters as tokens; at most 16."),
        Param("source_text", "text", "on the mat sat the cat", parse=_parse_sequence,
              hint=_SEQ_HINT, label="source sequence", group="Sequences",
              choices=("on the mat sat the cat", "tension", "the cat sat on the mat"),
              help="Encoder-decoder mode only: the sequence looked at (states h\u1d62). "
                   "Tokens it shares with the query sequence get the same vectors."),
        Param("mode", "choice", "self", choices=("self", "encoder_decoder"),
              label="attention between", group="Attention",
              help="self: the query sequence attends to itself (h\u1d62 = its own tokens). "
                   "encoder_decoder: it attends to the source sequence."),
        Param("scoring", "choice", "scaled_dot", choices=SCORINGS, label="score",
              group="Attention",
              help="dot: e = s\u00b7h. scaled_dot: e = s\u00b7h/\u221ad. additive "
                   "(Bahdanau): e = v\u2090\u1d40tanh(W\u2090[s; h]) with fixed random "
                   "W\u2090, v\u2090."),
        Param("temperature", "float", 1.0, 0.05, 10.0, log=True, label="temperature T",
              symbol="T", group="Attention",
              help="\u03b1 = softmax(e/T): small T sharpens the weights toward the best "
                   "score, large T spreads them toward uniform."),
        Param("kind", "choice", "soft", choices=("soft", "hard"), group="Attention",
              help="soft: c = \u03a3\u03b1\u1d62h\u1d62, the expectation. hard: each step "
                   "samples one position i ~ \u03b1 per query and uses h\u1d62 alone."),
        Param("local", "bool", False, label="local window", group="Local attention",
              help="Luong's local attention: only positions with |i \u2212 p\u209c| \u2264 D "
                   "take part, damped by exp(\u2212(i \u2212 p\u209c)\u00b2/2\u03c3\u00b2), "
                   "\u03c3 = D/2."),
        Param("window", "int", 2, 1, 8, label="half-width D", symbol="D",
              group="Local attention",
              help="The window holds the positions within D of the centre p\u209c."),
        Param("centre", "choice", "predicted", choices=("predicted", "monotonic"),
              label="centre p\u209c", symbol="p\u209c", group="Local attention",
              help="predicted (local-p): p\u209c = (n\u22121)\u00b7\u03c3(v\u209a\u1d40"
                   "tanh(W\u209a s\u209c)) with fixed random W\u209a, v\u209a. monotonic "
                   "(local-m): p\u209c moves evenly along the source, t\u00b7(n\u22121)/"
                   "(m\u22121)."),
        Param("query_index", "int", 1, 0, MAX_TOKENS - 1, label="explained query t",
              symbol="t", group="Display",
              help="Which query row the bars and the worked numbers explain (counted "
                   "from 0; clamped to the last token)."),
    )

    # -- building ---------------------------------------------------------------------------------
    def _build(self) -> None:
        self._state = self._compute(self.values)
        self._restart_sampling()

    def _on_param(self, name, old) -> None:
        if name == "query_index":
            return          # only what is explained changes, not the attention
        state = self._compute(self.values)      # raises before anything changes
        self._state = state
        self._restart_sampling()

    def _weights_for(self, seed):
        """The fixed random matrices of the additive score and of the local-p centre."""
        rng = np.random.default_rng([int(seed), 0xA77E])
        Wa = rng.standard_normal((ATT_DIM, 2 * DIM)) / math.sqrt(2 * DIM)
        va = rng.standard_normal(ATT_DIM) * (2.0 / math.sqrt(ATT_DIM))
        Wp = rng.standard_normal((ATT_DIM, DIM)) / math.sqrt(DIM)
        vp = rng.standard_normal(ATT_DIM) * (2.0 / math.sqrt(ATT_DIM))
        return Wa, va, Wp, vp

    def _compute(self, v) -> dict:
        """Scores, weights and contexts of every query for the params ``v`` (no side
        effects: the caller installs the result)."""
        q_tokens = tokenize(v["text"])
        self_mode = v["mode"] == "self"
        k_tokens = q_tokens if self_mode else tokenize(v["source_text"])
        S = embed(q_tokens, self.seed)                 # queries s_t, (m, d)
        H = S if self_mode else embed(k_tokens, self.seed)   # states h_i, (n, d)
        m, n = len(q_tokens), len(k_tokens)
        Wa, va, Wp, vp = self._weights_for(self.seed)
        scoring = v["scoring"]
        if scoring == "additive":
            scores = am.additive_score(S, H, Wa, va).reshape(m, n)
        else:
            scale = 1.0 / math.sqrt(DIM) if scoring == "scaled_dot" else None
            scores = am.dot_scores(S, H, scale)
        T = v["temperature"]
        if v["local"]:
            D = int(v["window"])
            if v["centre"] == "predicted":
                centres = am.predicted_position(S, Wp, vp, n)
            else:
                centres = np.arange(m) * ((n - 1) / max(m - 1, 1))
            weights = am.local_p(scores, centres, D, T)
            envelope = am.gaussian_envelope(centres, D, n)
            inside = am.local_window(centres, D, n)
        else:
            D = 0
            centres = np.zeros(0)
            weights = am.softmax(scores, T)
            envelope = np.zeros((0, n))
            inside = np.ones((m, n), dtype=bool)
        contexts = am.context(weights, H)
        # Hard attention samples in proportion to the weights, so its expectation uses the
        # normalised rows (they differ from the soft rows only in local mode, where a row
        # may sum to less than 1).
        norm = weights / weights.sum(axis=1, keepdims=True)
        return {"q_tokens": q_tokens, "k_tokens": k_tokens, "S": S, "H": H, "Wa": Wa,
                "va": va, "scores": scores, "weights": weights, "contexts": contexts,
                "expected": am.context(norm, H), "variance": am.hard_variance(weights, H),
                "centres": centres, "envelope": envelope, "inside": inside, "D": D}

    def _restart_sampling(self) -> None:
        st = self._state
        m, n = st["weights"].shape
        self.counts = np.zeros((m, n), dtype=np.int64)
        self.sum_values = np.zeros((m, DIM))
        self.n_samples = 0
        self.last_sample = None
        self.err_hist: list[np.ndarray] = []

    # -- stepping ---------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.values["kind"] == "soft" or self.n_samples >= MAX_SAMPLES

    @property
    def finished_reason(self) -> str:
        if self.values["kind"] == "soft":
            return ("soft attention is a fixed function of the inputs, so there is nothing to "
                    "step; set kind to hard to draw samples")
        return f"{MAX_SAMPLES} samples drawn; change a param (or Reset) to start again"

    def _step(self) -> None:
        st = self._state
        idx = am.hard_attention_sample(st["weights"], self.rng)      # one position per row
        rows = np.arange(len(idx))
        self.counts[rows, idx] += 1
        self.sum_values += st["H"][idx]
        self.n_samples += 1
        self.last_sample = idx
        mean = self.sum_values / self.n_samples
        self.err_hist.append(((mean - st["expected"]) ** 2).sum(axis=1))

    def history(self) -> dict:
        return {"samples": int(self.n_samples), "counts": self.counts.tolist()}

    # -- output -----------------------------------------------------------------------------------
    def _query(self) -> int:
        return min(int(self.values["query_index"]), len(self._state["q_tokens"]) - 1)

    def _temperature_sweep(self, t: int) -> np.ndarray:
        """The explained row's weights at each temperature of the sweep, ``(61, n)``."""
        st = self._state
        row = st["scores"][t][None, :]
        if self.values["local"]:
            return np.stack([am.local_p(row, st["centres"][t:t + 1], st["D"], T)[0]
                             for T in _TEMPS])
        return np.stack([am.softmax(row, T)[0] for T in _TEMPS])

    def _snapshot(self) -> Snapshot:
        v, st = self.values, self._state
        t = self._query()
        n = st["weights"].shape[1]
        w_row = st["weights"][t]
        hard = v["kind"] == "hard"
        local = v["local"]
        data = {
            "q_tokens": tuple(st["q_tokens"]), "k_tokens": tuple(st["k_tokens"]),
            "scores": st["scores"], "weights": st["weights"], "query": t,
            "row_scores": st["scores"][t], "row_weights": w_row,
            "values": st["H"], "query_vector": st["S"][t], "context": st["contexts"][t],
            "local": bool(local), "hard": hard, "scoring": v["scoring"],
            "temperature": float(v["temperature"]),
            "temps": _TEMPS, "temp_weights": self._temperature_sweep(t),
        }
        if local:
            c = st["centres"]
            D = st["D"]
            data["centres"] = c
            data["envelope"] = st["envelope"][t]
            # The window of every row in cell units, for outlines on the heatmaps:
            # (x0, x1) = the first and one-past-the-last position inside.
            inside = st["inside"]
            first = np.argmax(inside, axis=1)
            last = n - np.argmax(inside[:, ::-1], axis=1)
            data["windows"] = np.stack([first, last], axis=1).astype(np.float64)
            data["window_D"] = D
        else:
            data["centres"] = np.zeros(0)
            data["envelope"] = np.zeros(0)
            data["windows"] = np.zeros((0, 2))
            data["window_D"] = 0
        ns = self.n_samples
        if hard and ns:
            data["samples"] = self.last_sample.astype(np.float64)
            data["freq"] = self.counts[t] / ns
            data["sample_value"] = st["H"][self.last_sample[t]]
            data["mean_value"] = self.sum_values[t] / ns
            err = np.array([e[t] for e in self.err_hist])
            data["mc_n"] = np.arange(1, ns + 1, dtype=np.float64)
            data["mc_error"] = err
        else:
            data["samples"] = np.zeros(0)
            data["freq"] = np.zeros(0)
            data["sample_value"] = np.zeros(0)
            data["mean_value"] = np.zeros(0)
            data["mc_n"] = np.zeros(0)
            data["mc_error"] = np.zeros(0)
        data["variance"] = float(st["variance"][t])
        data["expected"] = st["expected"][t]
        data["n_samples"] = ns
        p = w_row / w_row.sum()
        entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum())
        scalars = {"query": t, "row_sum": float(w_row.sum()), "max_weight": float(w_row.max()),
                   "entropy": entropy, "variance": data["variance"], "samples": ns}
        text = {"equation": self._equation_html(), "rules": self._numbers_html(t),
                "summary": self.summary, "status": self._status(t)}
        return Snapshot.make(self.name, self.step_count, scalars, data, text)

    # -- rendered math ----------------------------------------------------------------------------
    def _status(self, t: int) -> str:
        v, st = self.values, self._state
        q = st["q_tokens"]
        where = ("itself" if v["mode"] == "self"
                 else f"the source ({len(st['k_tokens'])} tokens)")
        parts = [f"{len(q)} queries attend to {where} with the "
                 f"{_SCORING_LABEL[v['scoring']]} score"
                 + (f", local window D = {st['D']}" if v["local"] else ", globally")
                 + f"; explaining query t = {t} \u2018{q[t]}\u2019."]
        if int(v["query_index"]) > t:
            parts.append(f"(query index {v['query_index']} is past the last token: showing "
                         f"t = {t}.)")
        if v["kind"] == "hard":
            parts.append(f"Hard attention: {self.n_samples} sample(s) drawn"
                         + ("; press Step or Play to draw." if not self.n_samples else "."))
        return " ".join(parts)

    def _equation_html(self) -> str:
        v, st = self.values, self._state
        scoring = v["scoring"]
        score = {
            "dot": "e<sub>t,i</sub> = s<sub>t</sub> &middot; h<sub>i</sub>",
            "scaled_dot": (f"e<sub>t,i</sub> = s<sub>t</sub> &middot; h<sub>i</sub> / "
                           f"&radic;d, &nbsp; d = {DIM}"),
            "additive": ("e<sub>t,i</sub> = v<sub>a</sub><sup>T</sup> tanh(W<sub>a</sub>"
                         "[s<sub>t</sub>; h<sub>i</sub>])"),
        }[scoring]
        if v["local"]:
            D = st["D"]
            centre = ("p<sub>t</sub> = (n&minus;1)&middot;&sigma;(v<sub>p</sub><sup>T</sup>"
                      "tanh(W<sub>p</sub>s<sub>t</sub>)) &nbsp;(local-p)"
                      if v["centre"] == "predicted" else
                      "p<sub>t</sub> = t&middot;(n&minus;1)/(m&minus;1) &nbsp;(local-m)")
            weights = (f"{centre}<br>&alpha;<sub>t,i</sub> = softmax<sub>|i&minus;p<sub>t"
                       f"</sub>| &le; D</sub>(e<sub>t,i</sub>/T) &middot; exp(&minus;(i &minus; "
                       f"p<sub>t</sub>)<sup>2</sup>/2&sigma;<sup>2</sup>), &nbsp; D = {D}, "
                       f"&sigma; = D/2 = {_num(D / 2)}")
        else:
            weights = ("&alpha;<sub>t,i</sub> = exp(e<sub>t,i</sub>/T) / &Sigma;<sub>j</sub> "
                       "exp(e<sub>t,j</sub>/T)")
        if v["kind"] == "hard":
            ctx = ("i* ~ &alpha;<sub>t</sub>, &nbsp; c<sub>t</sub> = h<sub>i*</sub>, &nbsp; "
                   "E[c<sub>t</sub>] = &Sigma;<sub>i</sub> &alpha;&#771;<sub>t,i</sub> "
                   "h<sub>i</sub>, &nbsp; Var = &Sigma;<sub>i</sub> &alpha;&#771;<sub>t,i</sub>"
                   " &#8214;h<sub>i</sub> &minus; E[c<sub>t</sub>]&#8214;<sup>2</sup>")
        else:
            ctx = "c<sub>t</sub> = &Sigma;<sub>i</sub> &alpha;<sub>t,i</sub> h<sub>i</sub>"
        head = {"self": "Self-attention", "encoder_decoder": "Encoder-decoder attention"}
        return (f"<p><b>{head[v['mode']]}, {_SCORING_LABEL[scoring]} score, "
                f"{'local' if v['local'] else 'global'}, {v['kind']}</b><br>"
                f"score: {score}<br>weights: {weights}, &nbsp; T = {_num(v['temperature'])}"
                f"<br>context: {ctx}</p>")

    def _score_detail(self, t: int, i: int) -> str:
        """One score written out with its numbers."""
        v, st = self.values, self._state
        s, h = st["S"][t], st["H"][i]
        e = st["scores"][t, i]
        name = f"e<sub>{t},{i}</sub>"
        if v["scoring"] == "additive":
            pre = st["Wa"] @ np.concatenate([s, h])
            return (f"{name} = v<sub>a</sub><sup>T</sup> tanh(W<sub>a</sub>[s<sub>{t}</sub>; "
                    f"h<sub>{i}</sub>]): W<sub>a</sub>[s; h] = {_vec(pre)}, tanh &rarr; "
                    f"{_vec(np.tanh(pre))}, v<sub>a</sub>&middot; &rarr; <b>{_num(e)}</b>")
        terms = " + ".join(f"{_par(a)}&middot;{_par(b)}" for a, b in zip(s, h))
        dot = float(s @ h)
        if v["scoring"] == "scaled_dot":
            return (f"{name} = ({terms}) / &radic;{DIM} = {_num(dot)} / {_num(math.sqrt(DIM))}"
                    f" = <b>{_num(e)}</b>")
        return f"{name} = {terms} = <b>{_num(e)}</b>"

    def _numbers_html(self, t: int) -> str:
        v, st = self.values, self._state
        q, k = st["q_tokens"], st["k_tokens"]
        T = v["temperature"]
        e = st["scores"][t]
        w = st["weights"][t]
        local, hard = v["local"], v["kind"] == "hard"
        top = int(np.argmax(w))
        intro = (f"<p><b>Query t = {t} {_tok(q[t])}</b>: s<sub>{t}</sub> = "
                 f"{_vec(st['S'][t])}<br>Each distinct token has a fixed random vector "
                 f"h ~ N(0, I<sub>{DIM}</sub>) drawn from the seed and its spelling, so equal "
                 "tokens have equal vectors.</p>")
        first = ("<p>1. score, largest weight first written out:<br>"
                 f"{self._score_detail(t, top)}</p>")
        parts = [intro, first]
        inside = st["inside"][t]
        if local:
            pt = st["centres"][t]
            z = np.exp(np.where(inside, e / T - np.max(e[inside] / T), -np.inf)).sum()
            parts.append(f"<p>2. window: p<sub>{t}</sub> = {_num(pt)}, positions "
                         f"{int(np.argmax(inside))}&ndash;"
                         f"{len(inside) - 1 - int(np.argmax(inside[::-1]))}; softmax over "
                         "them, times the Gaussian g<sub>i</sub>.</p>")
        else:
            z = np.exp(e / T - np.max(e / T)).sum()
            parts.append(f"<p>2. softmax: &alpha;<sub>{t},i</sub> = exp(e<sub>{t},i</sub>/T "
                         f"&minus; max) / Z, &nbsp; Z = {_num(z)}</p>")
        head = ["i", "h<sub>i</sub>", f"e<sub>{t},i</sub>", "e/T"]
        if local:
            head.append("g<sub>i</sub>")
        head.append(f"&alpha;<sub>{t},i</sub>")
        if hard and local:
            head.append("&alpha;/&Sigma;&alpha;")     # what hard attention samples from
        if hard:
            head.append("sampled")
        rows = []
        freq = self.counts[t] / self.n_samples if self.n_samples else None
        for i, tok in enumerate(k):
            cells = [str(i), escape(tok), _num(e[i]), _num(e[i] / T)]
            if local:
                cells.append(_num(st["envelope"][t, i]))
            a = _num(w[i])
            cells.append(f"<b>{a}</b>" if i == top else a)
            if hard and local:
                cells.append(_num(w[i] / w.sum()))
            if hard:
                cells.append(_num(freq[i]) if freq is not None else "&ndash;")
            style = "" if inside[i] else " style='color:#888888'"
            rows.append(f"<tr{style}>" + "".join(f"<td align='right'>{c}</td>" for c in cells)
                        + "</tr>")
        parts.append("<table cellspacing=0 cellpadding=2><tr>"
                     + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows)
                     + "</table>")
        total = float(w.sum())
        note = ("" if not local else
                " (Luong's local weights are not renormalised: the Gaussian takes some "
                "weight away)")
        terms = " + ".join(f"{_num(w[i], 2)}&middot;h<sub>{i}</sub>" for i in range(len(k))
                           if w[i] >= 0.005)
        parts.append(f"<p>&Sigma;<sub>i</sub> &alpha;<sub>{t},i</sub> = {_num(total)}{note}"
                     f"<br>3. context: c<sub>{t}</sub> = {terms or '0'}<br>"
                     f"&nbsp;&nbsp;&nbsp;= {_vec(st['contexts'][t])}</p>")
        if hard:
            var = float(st["variance"][t])
            if self.n_samples:
                i_s = int(self.last_sample[t])
                mean = self.sum_values[t] / self.n_samples
                err = float(self.err_hist[-1][t])
                parts.append(
                    f"<p>Hard: this step drew i* = {i_s} {_tok(k[i_s])}, so c<sub>{t}</sub> = "
                    f"h<sub>{i_s}</sub>. Over {self.n_samples} draws the mean of the sampled "
                    f"h is {_vec(mean)}; its squared distance from E[c] is {_num(err)}, "
                    f"whose expected value is Var/n = {_num(var)}/{self.n_samples} = "
                    f"{_num(var / self.n_samples)}.</p>")
            else:
                parts.append(f"<p>Hard: a single draw lies &radic;Var = "
                             f"{_num(math.sqrt(var))} from E[c] (root mean square). Step to "
                             "draw.</p>")
        return "".join(parts)
