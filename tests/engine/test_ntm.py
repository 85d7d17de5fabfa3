"""NTM addressing (book ch. 11.2): the spec's derived chain through every stage, the stage
properties, gradients of the whole pipeline, and the stepping lab built on it."""
import numpy as np
import pytest

from engine import ntm
from engine.autodiff import Tensor, gradcheck
from engine.labs.ntm import STAGES, NTMLab

# The spec's worked example (shared/spec ch11-14, 11.2 "D").
M = np.array([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])
K = np.array([1.0, 0.5, 0.0])
BETA, G, GAMMA = 2.0, 0.7, 2.0
W_PREV = np.array([0.0, 0, 1, 0])
S = np.array([0.1, 0.8, 0.1])           # s(-1), s(0), s(+1)
E, A = np.array([1.0, 0, 0.5]), np.array([0.0, 1, 1])
WC = [0.37166, 0.15195, 0.06212, 0.41426]
WG = [0.26016, 0.10637, 0.34349, 0.28998]
WT = [0.24777, 0.14546, 0.31442, 0.29235]
W = [0.23002, 0.07928, 0.37044, 0.32026]
R = [0.55028, 0.39954, 0.37044]
ROW0 = [0.76998, 0.23002, 0.23002]


# -- the derived chain ------------------------------------------------------------------------
def test_spec_chain_stage_by_stage():
    wc = ntm.content(M, K, BETA)
    np.testing.assert_allclose(wc, WC, atol=5e-6)
    wg = ntm.interpolate(wc, W_PREV, G)
    np.testing.assert_allclose(wg, WG, atol=5e-6)
    wt = ntm.shift(wg, S)
    np.testing.assert_allclose(wt, WT, atol=5e-6)
    w = ntm.sharpen(wt, GAMMA)
    np.testing.assert_allclose(w, W, atol=5e-6)
    np.testing.assert_allclose(ntm.read(M, w), R, atol=5e-6)
    after = ntm.write(M, w, E, A)
    np.testing.assert_allclose(after[0], ROW0, atol=5e-6)
    # Every row follows the erase-then-add rule (E3: the erase is partial).
    np.testing.assert_allclose(after, M * (1 - np.outer(w, E)) + np.outer(w, A), atol=1e-12)


def test_address_returns_every_stage_and_numpy_in_gives_numpy_out():
    st = ntm.address(M, K, BETA, G, S, GAMMA, W_PREV, stages=True)
    for key, want in (("wc", WC), ("wg", WG), ("wt", WT), ("w", W)):
        assert isinstance(st[key], np.ndarray) and st[key].dtype == np.float64
        np.testing.assert_allclose(st[key], want, atol=5e-6)
    np.testing.assert_allclose(st["cos"], [2 / np.sqrt(5), 1 / np.sqrt(5), 0,
                                           1.5 / np.sqrt(2 * 1.25)], atol=1e-7)
    w = ntm.address(M, K, BETA, G, S, GAMMA, W_PREV)
    np.testing.assert_allclose(w, W, atol=5e-6)


def test_lab_snapshot_reproduces_the_chain():
    lab = NTMLab(seed=0)
    snap = lab.snapshot()
    assert snap.data["stage"] == 0
    np.testing.assert_allclose(snap.data["memory"], M)
    np.testing.assert_allclose(snap.data["wc"], WC, atol=5e-6)
    lab.step(len(STAGES) - 1)                           # content ... write revealed
    d = lab.snapshot().data
    assert d["stage"] == STAGES.index("write")
    for key, want in (("wc", WC), ("wg", WG), ("wt", WT), ("w", W), ("r", R)):
        np.testing.assert_allclose(d[key], want, atol=5e-6)
    np.testing.assert_allclose(d["memory_after"][0], ROW0, atol=5e-6)
    np.testing.assert_allclose(d["pipeline"], [W_PREV, WC, WG, WT, W], atol=5e-6)
    # The formulas carry the live numbers.
    eq = lab.snapshot().text["equation"]
    assert "0.372" in eq and "0.230" in eq and "0.550" in eq and "1.185" in eq


# -- stage properties -------------------------------------------------------------------------
@pytest.mark.parametrize("n, k", [(5, 3), (4, 5), (2, 3), (7, 1)])
def test_shift_preserves_the_total_and_is_a_circular_convolution(n, k):
    rng = np.random.default_rng(n * 10 + k)
    w = rng.random(n)
    s = rng.random(k)
    s /= s.sum()
    out = ntm.shift(w, s)
    assert out.sum() == pytest.approx(w.sum(), abs=1e-12)
    # Direct definition: w~(i) = sum_j w(j) s((i - j) mod N) over offsets -k//2 .. k//2.
    want = np.zeros(n)
    for i in range(n):
        for m, o in enumerate(range(-(k // 2), k // 2 + 1)):
            want[i] += s[m] * w[(i - o) % n]
    np.testing.assert_allclose(out, want, atol=1e-12)


def test_shift_by_one_rolls_and_even_kernels_are_refused():
    w = np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(ntm.shift(w, [0, 0, 1]), np.roll(w, 1))
    np.testing.assert_allclose(ntm.shift(w, [1, 0, 0]), np.roll(w, -1))
    with pytest.raises(ValueError, match="odd"):
        ntm.shift(w, [0.5, 0.5])


def test_sharpen_gamma_one_is_identity_and_larger_gamma_focuses():
    rng = np.random.default_rng(3)
    w = rng.random(6)
    w /= w.sum()
    np.testing.assert_allclose(ntm.sharpen(w, 1.0), w, atol=1e-10)
    sharp = ntm.sharpen(w, 5.0)
    assert sharp.sum() == pytest.approx(1.0)
    assert np.argmax(sharp) == np.argmax(w) and sharp.max() > w.max()
    # A weight of exactly 0 stays 0 (no NaN from log 0), even for a huge gamma.
    z = ntm.sharpen(np.array([0.0, 0.3, 0.7]), 50.0)
    assert np.all(np.isfinite(z)) and z[0] < 1e-12 and z[2] == pytest.approx(1.0)


def test_content_limits_and_zero_rows():
    assert np.allclose(ntm.content(M, K, 0.0), 0.25)      # beta = 0: uniform
    assert np.argmax(ntm.content(M, K, 200.0)) == 3       # the best cosine wins
    fresh = np.zeros((3, 2))                               # an all-zero memory: no 0/0
    np.testing.assert_allclose(ntm.content(fresh, [1.0, 0.0], 5.0), 1 / 3)


def test_batched_address_matches_one_at_a_time():
    rng = np.random.default_rng(1)
    B, N, Wd = 3, 5, 4
    Mb = rng.standard_normal((B, N, Wd))
    kb = rng.standard_normal((B, Wd))
    beta, g, gamma = rng.random(B) * 5, rng.random(B), 1 + rng.random(B) * 3
    s = rng.random((B, 3))
    s /= s.sum(1, keepdims=True)
    wp = rng.random((B, N))
    wp /= wp.sum(1, keepdims=True)
    out = ntm.address(Mb, kb, beta, g, s, gamma, wp)
    for b in range(B):
        np.testing.assert_allclose(out[b], ntm.address(Mb[b], kb[b], beta[b], g[b], s[b],
                                                       gamma[b], wp[b]), atol=1e-12)


# -- gradients ---------------------------------------------------------------------------------
def _t(a, grad=True):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def test_gradcheck_address_wrt_key_beta_gate_gamma():
    Mt, st, wpt = _t(M, False), _t(S, False), _t(W_PREV, False)

    def f(k, beta, g, gamma):
        return ntm.address(Mt, k, beta, g, st, gamma, wpt)

    assert gradcheck(f, [_t(K), _t(BETA), _t(G), _t(GAMMA)])


def test_gradcheck_address_wrt_memory_shift_and_previous_weights():
    rng = np.random.default_rng(2)
    Mr = rng.standard_normal((4, 3))
    s = np.array([0.2, 0.5, 0.3])
    wp = np.array([0.1, 0.2, 0.3, 0.4])
    assert gradcheck(lambda m, s_, w_: ntm.address(m, _t(K, False), 1.5, 0.6, s_, 1.7, w_),
                     [_t(Mr), _t(s), _t(wp)])


def test_gradcheck_read_and_write():
    rng = np.random.default_rng(4)
    Mr, w = rng.standard_normal((4, 3)), rng.random(4)
    e, a = rng.random(3), rng.standard_normal(3)
    assert gradcheck(ntm.read, [_t(Mr), _t(w)])
    assert gradcheck(ntm.write, [_t(Mr), _t(w), _t(e), _t(a)])


def test_tensor_in_gives_tensor_out_with_gradients():
    k = _t(K)
    w = ntm.address(M, k, BETA, G, S, GAMMA, W_PREV)
    assert isinstance(w, Tensor)
    np.testing.assert_allclose(w.data, W, atol=5e-6)
    (w * Tensor(np.arange(4.0))).sum().backward()
    assert k.grad is not None and np.all(np.isfinite(k.grad.data))


# -- the lab -----------------------------------------------------------------------------------
def test_steps_walk_through_the_stages_and_carry_the_head_over():
    lab = NTMLab(seed=0)
    names = []
    for _ in range(len(STAGES)):
        names.append(STAGES[lab.snapshot().data["stage"]])
        lab.step()
    assert names == list(STAGES)
    d = lab.snapshot().data
    assert d["stage"] == 0 and d["time"] == 2
    np.testing.assert_allclose(d["w_prev"], W, atol=5e-6)         # w_{t-1} = last w
    np.testing.assert_allclose(d["memory"][0], ROW0, atol=5e-6)  # the written memory


def test_weak_key_and_shift_make_the_head_walk():
    lab = NTMLab(seed=0, g=0.0, shift_left=0.0, shift_stay=0.0, shift_right=1.0)
    rows = []
    for _ in range(5):
        lab.step(len(STAGES))
        rows.append(int(np.argmax(lab.snapshot().data["w_prev"])))
    assert rows == [3, 0, 1, 2, 3]          # from row 2, one row down per time step, wrapping
    heads = lab.snapshot().data["heads"]
    assert heads.shape == (6, 4)


def test_param_changes_apply_to_the_step_in_progress():
    lab = NTMLab(seed=0)
    lab.step(3)
    lab.set_param("beta", 0.0)
    lab.set_param("g", 1.0)
    d = lab.snapshot().data
    np.testing.assert_allclose(d["wc"], 0.25)
    assert d["stage"] == 3
    lab.set_param("shift_stay", 0.4)          # normalised: (.1, .4, .1) / .6
    np.testing.assert_allclose(lab.snapshot().data["shift"], [1 / 6, 2 / 3, 1 / 6])


def test_width_change_pads_the_vectors_and_says_so():
    lab = NTMLab(seed=0)
    lab.set_param("width", 5)
    d = lab.snapshot().data
    assert d["memory"].shape == (4, 5)
    np.testing.assert_allclose(d["key"], [1, 0.5, 0, 0, 0])
    np.testing.assert_allclose(d["memory"][:4, :3], M)        # the example stays in the corner
    assert "padded" in lab.snapshot().text["rules"]
    lab.set_param("width", 2)
    np.testing.assert_allclose(lab.snapshot().data["key"], [1, 0.5])


def test_set_memory_cell_changes_the_addressing():
    lab = NTMLab(seed=0)
    lab.do_action("set_memory_cell", row=2, col=0, value=1.0)
    d = lab.snapshot().data
    assert d["memory"][2, 0] == 1.0
    want = ntm.content(d["memory"], K, BETA)
    np.testing.assert_allclose(d["wc"], want)


@pytest.mark.parametrize("name, value", [
    ("key", "1, x, 0"), ("key", ""), ("key", "1,2,3,4,5,6,7,8,9"), ("key", "1, 11"),
    ("erase", "1.5, 0"), ("erase", "-0.1"), ("add", "nan"), ("gamma", 0.5), ("beta", -1),
    ("g", 1.5), ("shift_left", -0.1), ("rows", 1), ("width", 9)])
def test_bad_params_raise_and_change_nothing(name, value):
    lab = NTMLab(seed=0)
    lab.step(2)
    before, old = lab.snapshot(), dict(lab.values)
    with pytest.raises(ValueError, match=name):
        lab.set_param(name, value)
    after = lab.snapshot()
    assert lab.values == old
    for key in ("memory", "wc", "wg", "w", "memory_after"):
        np.testing.assert_array_equal(after.data[key], before.data[key])
    assert after.data["stage"] == before.data["stage"]


def test_all_shift_weights_zero_is_refused_and_changes_nothing():
    lab = NTMLab(seed=0, shift_left=0.0, shift_right=0.0)
    with pytest.raises(ValueError, match="shift"):
        lab.set_param("shift_stay", 0.0)
    assert lab.values["shift_stay"] == 0.8
    np.testing.assert_allclose(lab.snapshot().data["shift"], [0, 1, 0])


@pytest.mark.parametrize("row, col, value", [(4, 0, 1), (0, 3, 1), (0, 0, float("inf")),
                                             (0, 0, 11), (0.5, 0, 1), ("a", 0, 1)])
def test_bad_memory_edits_raise_and_change_nothing(row, col, value):
    lab = NTMLab(seed=0)
    with pytest.raises(ValueError, match="set_memory_cell"):
        lab.do_action("set_memory_cell", row=row, col=col, value=value)
    np.testing.assert_array_equal(lab.snapshot().data["memory"], M)


def test_start_row_is_clamped_and_reported():
    lab = NTMLab(seed=0, rows=3, start_row=9)
    np.testing.assert_array_equal(lab.snapshot().data["w_prev"], [0, 0, 1])
    assert "start row 9" in lab.snapshot().text["rules"]


# -- the copy task ----------------------------------------------------------------------------
def test_copy_batch_layout():
    x, y, mask = ntm.copy_batch(np.random.default_rng(0), 5, 3, 4)
    assert x.shape == (5, 7, 6) and y.shape == mask.shape == (5, 7, 4)
    np.testing.assert_array_equal(y[:, 4:], x[:, :3, :4])            # recall = the input
    assert np.all(x[:, :3, 4] == 1) and np.all(x[:, 3:, 4] == 0)      # "shown" flag
    assert np.all(x[:, 3, 5] == 1) and x[:, :, 5].sum() == 5          # one delimiter each
    assert np.all(x[:, 3:, :4] == 0) and np.all(y[:, :4] == 0)
    np.testing.assert_array_equal(mask[:, :, 0], [[0, 0, 0, 0, 1, 1, 1]] * 5)


def test_copy_model_runs_heads_over_time():
    rng = np.random.default_rng(0)
    model = ntm.NTMCopyModel(6, 4, 8, 6, 16, rng)
    x, _, _ = ntm.copy_batch(rng, 2, 2, 4)
    logits, trace = model(Tensor(x))
    assert logits.shape == (2, 5, 4)
    assert trace["read_w"].shape == trace["write_w"].shape == (2, 5, 8)
    np.testing.assert_allclose(trace["read_w"].sum(-1), 1.0, atol=1e-5)
    assert trace["memory"].shape == (2, 8, 6)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_copy_task_really_learns():
    lab = NTMLab(seed=0, mode="copy_task")
    assert lab.play_interval == 0.0 and not lab.finished
    first = lab.snapshot()
    assert first.data["mode"] == "copy_task" and first.scalars["exact"] < 0.1
    lab.step(400)
    snap = lab.snapshot()
    # Test sequences (never trained on) come back exactly, through the memory: the
    # controller has no state of its own.
    assert snap.scalars["exact"] >= 0.95 and snap.scalars["bit_errors"] < 0.1
    assert np.mean(lab.losses[-20:]) < np.mean(lab.losses[:20]) / 10
    d = snap.data
    L = d["seq_len"]
    # The write head walks down the rows while the sequence is shown ...
    write_rows = np.argmax(d["write_w"][:, :L], axis=0)
    assert np.all(np.diff(write_rows) == 1)
    # ... and the read head walks the same way while it is recalled.
    read_rows = np.argmax(d["read_w"][:, L + 1:], axis=0)
    assert np.all(np.diff(read_rows) == 1)
    assert np.all(np.isnan(d["output"][:, :L + 1])) and not d["wrong"].any()


def test_copy_mode_learning_rate_applies_at_once_and_mode_switch_restarts():
    lab = NTMLab(seed=0, mode="copy_task")
    lab.step(2)
    lab.set_param("lr", 1e-3)
    assert lab.optimizer.param_groups[0]["lr"] == 1e-3
    lab.set_param("mode", "addressing")
    assert lab.step_count == 0 and "restarted" in lab.notice
    assert lab.snapshot().data["mode"] == "addressing" and lab.play_interval == 0.5
