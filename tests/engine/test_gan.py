"""GAN lab and GAN math (book 12.5-12.6): spec vectors for the losses, the gradient penalty
against finite differences, weight clipping, mode coverage, training that covers the ring with
WGAN-GP and collapses with the minimax loss, stepping modes, drawn targets, model files."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.autodiff import Tensor
from engine.gan_math import clip_, d_loss, g_loss, grad_penalty, mode_coverage
from engine.io.model_file import ModelFileError
from engine.labs.gan import (
    ARROW_MAX,
    FIELD,
    GRID_LINES,
    GRID_POINTS,
    GANLab,
    densify_stroke,
    sample_target,
    target_centers,
)
from engine.labs.network import NetworkLab
from engine.nn import MLP

LOG2 = math.log(2.0)


# -- losses -------------------------------------------------------------------------------------
def test_spec_value_at_d_star_half_is_minus_log4():
    # D* = 1/2 everywhere is a logit of 0: V(D, G) = -L_D = 2 log(1/2) = -log 4.
    z = np.zeros(7)
    assert -d_loss(z, z, "minimax").item() == pytest.approx(-1.386294, abs=1e-6)
    assert d_loss(z, z, "non_saturating").item() == pytest.approx(math.log(4))


def test_generator_losses_and_their_saturation():
    logits = np.array([-8.0, 0.0, 3.0])
    p = 1 / (1 + np.exp(-logits))
    assert g_loss(logits, "minimax").item() == pytest.approx(np.mean(np.log(1 - p)))
    assert g_loss(logits, "non_saturating").item() == pytest.approx(-np.mean(np.log(p)))
    # Where D confidently rejects a fake (logit -8) the minimax gradient nearly vanishes,
    # the non-saturating one does not.
    slopes = {}
    for kind in ("minimax", "non_saturating"):
        t = Tensor(np.array([-8.0]), requires_grad=True)
        g_loss(t, kind).backward()
        slopes[kind] = abs(float(t.grad.data[0]))
    assert slopes["minimax"] < 1e-3
    assert slopes["non_saturating"] > 0.99


def test_wgan_losses_have_the_corrected_signs():
    dr, df = np.array([2.0, 4.0]), np.array([-1.0, 1.0])
    for kind in ("wgan_clip", "wgan_gp"):
        assert d_loss(dr, df, kind).item() == pytest.approx(0.0 - 3.0)   # E D(G(z)) - E D(x)
        assert g_loss(df, kind).item() == pytest.approx(0.0)               # -E D(G(z))
    with pytest.raises(ValueError, match="minimax"):
        d_loss(dr, df, "hinge")


# -- critic constraints -------------------------------------------------------------------------
def test_gradient_penalty_of_a_linear_critic_is_exact():
    D = MLP([2, 1], generator=np.random.default_rng(0), dtype=np.float64)
    D.layers[0].weight.data[...] = [[3.0, 4.0]]                     # |grad D| = 5 everywhere
    x = np.random.default_rng(1).normal(size=(10, 2))
    gp = grad_penalty(D, x, -x, np.random.default_rng(2))
    assert gp.item() == pytest.approx(16.0)


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_gradient_penalty_gradient_matches_finite_differences(act):
    rng = np.random.default_rng(0)
    D = MLP([2, 6, 5, 1], act, generator=rng, dtype=np.float64)
    xr, xf = rng.normal(size=(12, 2)), rng.normal(size=(12, 2))
    xh = 0.3 * xr + 0.7 * xf

    def penalty():
        return grad_penalty(D, xr, xf, None, x_hat=xh)

    penalty().backward()
    h = 1e-6
    for lin in D.layers:
        for w in (lin.weight, lin.bias):
            # The last bias shifts D, not its slope: the penalty leaves it without a grad.
            ana = np.zeros_like(w.data) if w.grad is None else w.grad.data.copy()
            num = np.zeros_like(w.data)
            for idx in np.ndindex(w.data.shape):
                old = w.data[idx]
                w.data[idx] = old + h
                up = penalty().item()
                w.data[idx] = old - h
                down = penalty().item()
                w.data[idx] = old
                num[idx] = (up - down) / (2 * h)
            np.testing.assert_allclose(ana, num, atol=1e-6, rtol=1e-5)


def test_clip_bounds_every_weight():
    D = MLP([2, 8, 1], generator=np.random.default_rng(0))
    out = clip_(D.parameters(), 0.01)
    assert len(out) == 4
    assert all(np.abs(p.data).max() <= 0.01 for p in D.parameters())
    with pytest.raises(ValueError, match="positive"):
        clip_(D.parameters(), 0)


# -- mode coverage ------------------------------------------------------------------------------
def test_mode_coverage_counts_modes_with_enough_good_samples():
    c = target_centers("ring")
    rng = np.random.default_rng(0)
    full = sample_target("ring", 4000, rng, 0.05)
    cov = mode_coverage(full, c, 0.05)
    assert cov.covered == 8 and cov.high_quality > 0.98 and cov.counts.sum() <= 4000
    three = c[rng.integers(3, size=900)] + 0.05 * rng.normal(size=(900, 2))
    assert mode_coverage(three, c, 0.05).covered == 3
    # A handful of samples on a mode is not coverage (less than a fifth of the fair share).
    mixed = np.vstack([np.repeat(c[:1], 995, 0), np.repeat(c[1:2], 5, 0)])
    assert mode_coverage(mixed, c, 0.05).covered == 1
    assert mode_coverage(np.zeros((100, 2)), c, 0.05) .covered == 0      # all between modes
    assert len(target_centers("grid")) == 25 and len(target_centers("moons")) == 0


# -- training -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    """Default lab (ring, WGAN-GP) and the same seed with the minimax loss."""
    out = {}
    for loss in ("wgan_gp", "minimax"):
        lab = GANLab(seed=0, backend_name="numpy", loss=loss)
        lab.step(TRAIN_STEPS)
        out[loss] = lab
    return out


TRAIN_STEPS = 1000


def test_wgan_gp_covers_the_ring_and_improves(trained):
    lab = trained["wgan_gp"]
    s = lab.snapshot()
    assert s.scalars["modes_covered"] >= 7 and not s.alerts
    cov = s.data["curves"]["coverage"]
    assert cov[1][0] <= 1 and cov[1][-1] >= 7                      # improved with training
    assert s.scalars["g_updates"] == TRAIN_STEPS
    assert s.scalars["d_updates"] == 5 * TRAIN_STEPS


def test_minimax_collapses_with_the_same_seed(trained):
    good = trained["wgan_gp"].snapshot().scalars["modes_covered"]
    bad = trained["minimax"].snapshot().scalars["modes_covered"]
    assert bad <= good - 3


def test_snapshot_pictures(trained):
    s = trained["wgan_gp"].snapshot()
    d = s.data
    assert d["field"].shape == (FIELD, FIELD) and d["field_kind"] == "critic"
    assert d["grid"].shape == (2 * GRID_LINES, GRID_POINTS, 2)
    assert d["real"].shape == d["fake"].shape == (500, 2)
    lengths = np.linalg.norm(d["arrows"][:, 1] - d["arrows"][:, 0], axis=1)
    assert lengths.max() == pytest.approx(ARROW_MAX, rel=1e-4)
    p = trained["minimax"].snapshot().data["field"]
    assert p.min() >= 0 and p.max() <= 1                         # a probability map


def test_arrows_point_uphill_on_the_critic():
    lab = GANLab(seed=3, backend_name="numpy")
    lab.step(20)
    a = lab.snapshot().data["arrows"]
    start, end = a[:, 0], a[:, 1]
    step = 1e-3 * (end - start) / np.linalg.norm(end - start, axis=1, keepdims=True)
    gain = lab.discriminate(start + step) - lab.discriminate(start)
    assert (gain > 0).mean() > 0.95


# -- stepping modes -----------------------------------------------------------------------------
def test_one_step_is_n_critic_d_updates_then_one_g_update():
    lab = GANLab(seed=0, n_critic=3, batch_size=32, g_width=8, d_width=8)
    lab.step(2)
    assert (lab.d_updates, lab.g_updates) == (6, 2)
    lab.set_param("phase", "d_only")
    lab.step(1)
    assert (lab.d_updates, lab.g_updates) == (9, 2)
    lab.set_param("phase", "g_only")
    lab.step(2)
    assert (lab.d_updates, lab.g_updates) == (9, 4)


def test_slow_motion_does_one_sub_update_per_step():
    lab = GANLab(seed=0, n_critic=2, batch_size=32, g_width=8, d_width=8, slow_motion=True)
    assert lab.play_interval > 0.3
    seen = []
    for _ in range(6):
        seen.append(lab.snapshot().data["next"])
        lab.step(1)
    assert seen == ["D", "D", "G", "D", "D", "G"]
    assert (lab.d_updates, lab.g_updates, lab.step_count) == (4, 2, 6)
    assert "next" in lab.snapshot().text["equation"]
    lab.do_action("step_g")
    lab.do_action("step_d")
    assert (lab.d_updates, lab.g_updates) == (5, 3)


# -- params, divergence, drawn targets ----------------------------------------------------------
def test_bad_params_raise_and_change_nothing():
    lab = GANLab(seed=0, batch_size=32, g_width=8, d_width=8)
    lab.step(2)
    before = dict(lab.values)
    weights = lab.G.layers[0].weight.data.copy()
    for name, value in (("n_critic", 0), ("loss", "hinge"), ("d_lr", 5.0), ("target", "cat"),
                        ("noise_dim", 2.5), ("slow_motion", "maybe")):
        with pytest.raises(ValueError, match=name):
            lab.set_param(name, value)
    assert lab.values == before and lab.step_count == 2
    np.testing.assert_array_equal(lab.G.layers[0].weight.data, weights)


def test_divergence_stops_the_run_with_a_banner():
    lab = GANLab(seed=0, batch_size=32, loss="wgan_gp", gp_weight=0.0, d_optimizer="sgd",
                 d_lr=1.0)
    lab.step(200)
    assert lab.finished and lab.diverged
    s = lab.snapshot()
    assert s.alerts and "diverged" in s.alerts[0] and "learning rate" in s.alerts[0]
    steps = lab.step_count
    lab.step(5)
    assert lab.step_count == steps


def test_drawn_target():
    lab = GANLab(seed=0, batch_size=32, g_width=8, d_width=8)
    lab.set_param("target", "drawn")
    assert lab.finished and "draw" in lab.finished_reason
    lab.step(3)
    assert lab.step_count == 0 and lab.snapshot().data["real"].shape == (0, 2)
    lab.do_action("add_target_points", points=[[0, 0], [0.5, 0.0], [0.5, 0.5]])
    assert lab.values["target"] == "drawn" and not lab.finished
    assert len(lab.drawn) == 51                        # filled in every 0.02 along the stroke
    real = lab.snapshot().data["real"]
    assert np.abs(real - [0.25, 0.25]).max() < 0.5
    lab.step(3)
    assert lab.step_count == 3
    for bad in ([[0, 0, 0]], [[9.0, 0.0]], [[math.nan, 0]], []):
        with pytest.raises(ValueError):
            lab.do_action("add_target_points", points=bad)
    assert len(lab.drawn) == 51
    lab.do_action("clear_drawn")
    assert lab.finished and len(lab.drawn) == 0


def test_densify_keeps_separate_clicks_apart():
    out = densify_stroke(np.array([[0.0, 0.0], [2.0, 0.0]]))
    assert len(out) == 2


@pytest.mark.parametrize("target", ["grid", "moons", "spiral", "line"])
def test_every_target_samples_inside_the_plane(target):
    x = sample_target(target, 2000, np.random.default_rng(0), 0.05)
    assert x.shape == (2000, 2) and x.dtype == np.float32 and np.abs(x).max() < 3.0
    lab = GANLab(seed=0, target=target, batch_size=32, g_width=8, d_width=8)
    lab.step(2)
    s = lab.snapshot()
    assert ("modes_covered" in s.scalars) == (target == "grid")


def test_one_dimensional_noise_draws_one_curve():
    lab = GANLab(seed=0, noise_dim=1, noise="uniform", batch_size=32, g_width=8, d_width=8)
    g = lab.snapshot().data["grid"]
    assert g.shape[0] == 1 and g.shape[2] == 2


# -- model files --------------------------------------------------------------------------------
def test_generator_round_trips_through_a_model_file(tmp_path):
    lab = GANLab(seed=0, noise_dim=3, g_width=16, g_depth=2, batch_size=32, d_width=8)
    lab.step(5)
    path = tmp_path / "g.safetensors"
    lab.save_model(path)
    other = GANLab(seed=9, batch_size=32, d_width=8)
    other.load_model(path)
    assert (other.values["noise_dim"], other.values["g_width"], other.values["g_depth"]) == (
        3, 16, 2)
    z = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    np.testing.assert_allclose(other.generate(z), lab.generate(z), rtol=1e-6)
    assert "loaded" in other.notice
    other.step(2)                                  # trains on with the loaded generator


def test_foreign_model_files_are_refused_and_change_nothing(tmp_path):
    net = NetworkLab(seed=0, dataset="moons", layers="8")
    path = tmp_path / "net.safetensors"
    net.save_model(path)
    lab = GANLab(seed=0, batch_size=32, g_width=8, d_width=8)
    before = (dict(lab.values), lab.G)
    with pytest.raises(ModelFileError, match="not a GAN generator"):
        lab.load_model(path)
    assert (lab.values, lab.G) == before
    tanh = GANLab(seed=0, batch_size=32, g_width=8, d_width=8, activation="tanh")
    gpath = tmp_path / "g.safetensors"
    tanh.save_model(gpath)
    with pytest.raises(ModelFileError, match="activation"):
        lab.load_model(gpath)
    assert lab.G is before[1]


def test_generator_exports_to_onnx(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    lab = GANLab(seed=0, batch_size=32, g_width=8, d_width=8)
    path = tmp_path / "g.onnx"
    lab.export_onnx(path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    z = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    out = sess.run(None, {sess.get_inputs()[0].name: z})
    np.testing.assert_allclose(out[-1], lab.generate(z), rtol=1e-4, atol=1e-5)
