"""Types of attention (book ch. 11.1, 11.3): Bahdanau and scaled-dot vectors from the spec,
Luong's local window, hard sampling, and the lab built on them."""
import math

import numpy as np
import pytest

from engine import attention_math as am
from engine.autodiff import Tensor
from engine.labs.attention_types import MAX_SAMPLES, AttentionTypesLab, embed, tokenize
from engine.nn import functional as F

# Spec 11.1 "D": Bahdanau's additive score.
WA = np.array([[1.0, 0, 0, 1], [0, 1, 1, 0]])
VA = np.array([1.0, -1])
S0 = np.array([0.5, -0.5])
H = np.array([[1.0, 0], [0, 1], [1, 1]])
ALPHA = [0.15427, 0.60546, 0.24027]
CTX = [0.39454, 0.84573]
# Spec 11.4 "D": scaled dot-product attention.
Q = np.array([[1.0, 0, 1, 0], [0, 1, 0, 1]])
K = np.array([[1.0, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]])
V = np.array([[1.0, 0], [0, 1], [1, 1]])


def test_bahdanau_vector():
    e = am.additive_score(S0, H, WA, VA)
    alpha = am.softmax(e)
    np.testing.assert_allclose(alpha, ALPHA, atol=5e-6)
    np.testing.assert_allclose(am.context(alpha, H), CTX, atol=5e-6)
    # Several queries at once give the same row for each.
    e2 = am.additive_score(np.stack([S0, S0]), H, WA, VA)
    np.testing.assert_allclose(e2, [e, e])
    # The definition, one pair at a time: v_a . tanh(W_a [s; h]).
    np.testing.assert_allclose(e, [VA @ np.tanh(WA @ np.r_[S0, h]) for h in H])


def test_additive_score_checks_shapes():
    with pytest.raises(ValueError, match="W_a"):
        am.additive_score(S0, H, WA[:, :3], VA)


def test_scaled_dot_vector_and_engine_sdpa():
    A = am.softmax(am.dot_scores(Q, K, scale=1 / math.sqrt(4)))
    np.testing.assert_allclose(A, [[0.42232, 0.15536, 0.42232], [0.15536, 0.42232, 0.42232]],
                               atol=5e-6)
    np.testing.assert_allclose(am.context(A, V), [[0.84464, 0.57768], [0.57768, 0.84464]],
                               atol=5e-6)
    out, W = F.scaled_dot_product_attention(Tensor(Q), Tensor(K), Tensor(V), need_weights=True)
    np.testing.assert_allclose(W.data, A, atol=1e-6)
    np.testing.assert_allclose(out.data, am.context(A, V), atol=1e-6)
    # The book's sqrt(n) scaling (E1) gives the other numbers.
    B = am.softmax(am.dot_scores(Q, K, scale=1 / math.sqrt(3)))
    np.testing.assert_allclose(B[0], [0.43194, 0.13613, 0.43194], atol=5e-6)


def test_softmax_temperature_and_mask():
    e = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(am.softmax(e, 1000.0), 1 / 3, atol=1e-3)
    assert am.softmax(e, 0.01)[2] == pytest.approx(1.0)
    m = am.softmax(e, 1.0, mask=np.array([True, False, True]))
    assert m[1] == 0.0 and m.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="temperature"):
        am.softmax(e, 0.0)


def test_local_p_is_the_window_softmax_times_the_gaussian():
    rng = np.random.default_rng(0)
    e = rng.standard_normal((3, 9))
    p = np.array([0.0, 4.3, 8.0])
    D = 2
    a = am.local_p(e, p, D)
    for t in range(3):
        inside = np.abs(np.arange(9) - p[t]) <= D
        assert np.all(a[t, ~inside] == 0)
        soft = np.exp(e[t, inside]) / np.exp(e[t, inside]).sum()
        gauss = np.exp(-(np.arange(9)[inside] - p[t]) ** 2 / (2 * (D / 2) ** 2))
        np.testing.assert_allclose(a[t, inside], soft * gauss)
    assert np.all(a.sum(1) <= 1 + 1e-12)          # not renormalised (Luong)
    with pytest.raises(ValueError, match="at least 1"):
        am.local_p(e, p, 0)


def test_predicted_position_stays_inside_the_source():
    rng = np.random.default_rng(1)
    p = am.predicted_position(rng.standard_normal((5, 4)), rng.standard_normal((3, 4)) * 5,
                              rng.standard_normal(3) * 5, 7)
    assert p.shape == (5,) and np.all((p > 0) & (p < 6))


def test_hard_samples_follow_the_weights():
    rng = np.random.default_rng(0)
    alpha = np.array([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5]])
    # 20000 independent draws per row in one call: the rows broadcast over a batch axis.
    idx = am.hard_attention_sample(np.broadcast_to(alpha, (20000, 2, 3)), rng)
    for r in range(2):
        freq = np.bincount(idx[:, r], minlength=3) / len(idx)
        np.testing.assert_allclose(freq, alpha[r], atol=0.015)
    assert not np.any(idx[:, 1] == 0)            # zero weight is never drawn
    # Sub-normalised rows (local attention) are sampled in proportion.
    half = np.array([0.3, 0.1, 0.0])
    idx = am.hard_attention_sample(np.broadcast_to(half, (8000, 3)), rng)
    assert np.mean(idx == 0) == pytest.approx(0.75, abs=0.02)
    with pytest.raises(ValueError, match="positive"):
        am.hard_attention_sample(np.zeros(3), rng)


def test_hard_variance_is_the_mean_squared_distance_of_a_sample():
    rng = np.random.default_rng(2)
    alpha = np.array([0.5, 0.3, 0.2])
    Hs = rng.standard_normal((3, 4))
    var = am.hard_variance(alpha, Hs)
    idx = am.hard_attention_sample(np.broadcast_to(alpha, (40000, 3)), rng)
    c = alpha @ Hs
    assert np.mean(((Hs[idx] - c) ** 2).sum(1)) == pytest.approx(var, rel=0.03)


# -- the lab -----------------------------------------------------------------------------------
def test_tokenize_words_or_letters():
    assert tokenize("The  cat sat") == ["the", "cat", "sat"]
    assert tokenize("hello") == ["h", "e", "l", "l", "o"]


def test_embeddings_are_fixed_per_token():
    a = embed(["cat", "the", "cat"], 0)
    np.testing.assert_array_equal(a[0], a[2])
    np.testing.assert_array_equal(embed(["cat"], 0)[0], a[0])
    assert not np.allclose(embed(["cat"], 1)[0], a[0])


def test_default_lab_is_global_self_attention_with_rows_summing_to_one():
    lab = AttentionTypesLab(seed=0)
    d = lab.snapshot().data
    assert d["q_tokens"] == d["k_tokens"] == ("the", "cat", "sat", "on", "the", "mat")
    W = d["weights"]
    np.testing.assert_allclose(W.sum(1), 1.0)
    # Equal tokens ("the" at 0 and 4) have equal rows and columns.
    np.testing.assert_allclose(W[0], W[4])
    np.testing.assert_allclose(W[:, 0], W[:, 4])
    # The explained row and its context agree with the matrix.
    t = d["query"]
    np.testing.assert_allclose(d["row_weights"], W[t])
    np.testing.assert_allclose(d["context"], W[t] @ d["values"])
    X = embed(list(d["q_tokens"]), 0)
    np.testing.assert_allclose(d["scores"], X @ X.T / math.sqrt(X.shape[1]))
    assert lab.finished and "soft" in lab.finished_reason
    text = lab.snapshot().text["rules"]
    assert f"{W[t].max():.3f}" in text and "context" in text


def test_encoder_decoder_attends_to_the_source():
    lab = AttentionTypesLab(seed=0, mode="encoder_decoder")
    d = lab.snapshot().data
    assert d["k_tokens"] == ("on", "the", "mat", "sat", "the", "cat")
    assert d["scores"].shape == (6, 6)
    # With dot scores a shared token is its own best match: 'cat' looks at 'cat' ...
    lab.set_param("scoring", "dot")
    W = lab.snapshot().data["weights"]
    assert np.argmax(W[1]) == 5 and np.argmax(W[5]) == 2


def test_additive_scoring_uses_the_lab_weights():
    lab = AttentionTypesLab(seed=3, scoring="additive")
    d = lab.snapshot().data
    Wa, va, _, _ = lab._weights_for(3)
    X = embed(list(d["q_tokens"]), 3)
    np.testing.assert_allclose(d["scores"], am.additive_score(X, X, Wa, va))


def test_local_window_zeroes_far_positions():
    lab = AttentionTypesLab(seed=0, text="a b c d e f g h i j", local=True, window=2,
                            centre="monotonic")
    d = lab.snapshot().data
    W = d["weights"]
    np.testing.assert_allclose(d["centres"], np.arange(10))
    for t in range(10):
        far = np.abs(np.arange(10) - t) > 2
        assert np.all(W[t, far] == 0)
    assert np.all(W.sum(1) < 1)
    np.testing.assert_array_equal(d["windows"][3], [1, 6])


def test_hard_attention_samples_and_converges():
    lab = AttentionTypesLab(seed=0, kind="hard")
    assert not lab.finished
    lab.step(400)
    d = lab.snapshot().data
    assert d["n_samples"] == 400 and len(d["samples"]) == 6
    np.testing.assert_allclose(d["freq"], d["row_weights"], atol=0.08)
    assert len(d["mc_error"]) == 400
    # The mean of the samples ends far closer to E[c] than a single draw is on average.
    assert d["mc_error"][-1] < d["variance"] / 20
    # A param change starts the sampling afresh.
    lab.set_param("temperature", 2.0)
    assert lab.snapshot().data["n_samples"] == 0


def test_hard_error_matches_variance_over_n_on_average():
    errs = []
    for seed in range(40):
        lab = AttentionTypesLab(seed=seed, kind="hard")
        lab.step(50)
        d = lab.snapshot().data
        errs.append(d["mc_error"][-1] / (d["variance"] / 50))
    assert np.mean(errs) == pytest.approx(1.0, abs=0.3)


def test_hard_sampling_stops_at_the_cap():
    lab = AttentionTypesLab(seed=0, kind="hard")
    lab.step(MAX_SAMPLES + 10)
    assert lab.n_samples == MAX_SAMPLES and lab.finished


def test_query_index_is_clamped_and_explained():
    lab = AttentionTypesLab(seed=0, text="one two three", query_index=9)
    snap = lab.snapshot()
    assert snap.data["query"] == 2
    assert "past the last token" in snap.text["status"]


@pytest.mark.parametrize("name, value", [
    ("text", " ".join(["w"] * 17)), ("text", "   "), ("text", "abcdefghijklmnopq"),
    ("source_text", "averyveryverylongword x"), ("temperature", 0.0), ("window", 0),
    ("mode", "cross"), ("scoring", "cosine"), ("query_index", 16)])
def test_bad_params_raise_and_change_nothing(name, value):
    lab = AttentionTypesLab(seed=0, kind="hard")
    lab.step(3)
    before, old = lab.snapshot(), dict(lab.values)
    with pytest.raises(ValueError, match=name):
        lab.set_param(name, value)
    after = lab.snapshot()
    assert lab.values == old
    np.testing.assert_array_equal(after.data["weights"], before.data["weights"])
    assert after.data["n_samples"] == 3
