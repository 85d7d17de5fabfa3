"""Regularization (book ch. 8): spec vectors of engine.regularizers and the lab's behaviour.

Vectors are from shared/spec/ch07-08-feedforward-regularization.md sections 8.2-8.7.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.autodiff import Tensor
from engine.labs.network import EVAL_EVERY
from engine.labs.regularization import RegularizationLab
from engine.nn import functional as F
from engine.regularizers import (
    EarlyStopping,
    ModeDropout,
    augment,
    boundary_length,
    dropout,
    dropout_scales,
    fgsm,
    l1_prox,
    penalty,
    reg_path_quadratic,
    sgd_step,
    tie_penalty,
)

W = np.array([1.0, -2.0, 0.05])
GJ = np.array([0.5, 0.5, 0.0])


# -- 8.2 norm penalties --------------------------------------------------------------------------
def test_l2_step_vector():
    np.testing.assert_allclose(sgd_step(W, GJ, 0.1, l2=0.1), [0.94, -2.03, 0.0495], atol=1e-12)
    # the same step from penalty()'s gradient
    _, (g,) = penalty([W], "l2", 0.1, skip_bias=False)
    np.testing.assert_allclose(W - 0.1 * (GJ + g), [0.94, -2.03, 0.0495], atol=1e-12)


@pytest.mark.parametrize("lam, expected", [(0.1, [0.94, -2.04, 0.04]), (1.0, [0.85, -1.95, 0.0])])
def test_l1_prox_step_vector(lam, expected):
    out = sgd_step(W, GJ, 0.1, l1=lam)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    if lam == 1.0:
        assert out[2] == 0.0  # exactly zero, not merely small


def test_l1_subgradient_overshoots_instead_of_zeroing():
    out = sgd_step(W, GJ, 0.1, l1=1.0, l1_mode="subgradient")
    assert out[2] == pytest.approx(-0.05)  # jumps past 0; the prox step lands on it


def test_l1_prox_thresholds():
    w = np.array([-0.3, -0.1, 0.0, 0.05, 0.2])
    out = l1_prox(w, 0.1)
    np.testing.assert_allclose(out, [-0.2, 0.0, 0.0, 0.0, 0.1], atol=1e-15)
    assert np.all(out[1:4] == 0.0)
    with pytest.raises(ValueError, match=">= 0"):
        l1_prox(w, -1.0)


def test_penalty_values_and_bias_skipping():
    params = {"layers.0.weight": np.array([[1.0, -2.0]]), "layers.0.bias": np.array([3.0])}
    val, grads = penalty(params, "l2", 0.5)
    assert val == pytest.approx(0.5 * 0.5 * 5.0)
    np.testing.assert_allclose(grads[0], [[0.5, -1.0]])
    np.testing.assert_array_equal(grads[1], [0.0])           # bias skipped
    val, grads = penalty(params, "l1", 0.5, skip_bias=False)
    assert val == pytest.approx(0.5 * 6.0)
    np.testing.assert_allclose(grads[1], [0.5])
    val, grads = penalty(list(params.values()), "none", 0.5)
    assert val == 0.0 and all(not g.any() for g in grads)
    with pytest.raises(ValueError, match="l2"):
        penalty(params, "l3", 0.1)
    with pytest.raises(ValueError, match=">= 0"):
        penalty(params, "l2", -1.0)


@pytest.mark.parametrize("kind", ["l2", "l1"])
def test_penalty_tensor_gradient_matches(kind):
    w = Tensor(np.array([[0.3, -1.2], [2.0, 0.7]]), requires_grad=True)
    b = Tensor(np.array([0.5, -0.5]), requires_grad=True)
    val, grads = penalty([w, b], kind, 0.2)
    val.backward()
    np.testing.assert_allclose(w.grad.data, grads[0], atol=1e-12)
    assert b.grad is None or not np.asarray(b.grad.data).any()


def test_reg_path_quadratic_vectors():
    H, ws = np.diag([2.0, 0.5]), np.array([1.0, 1.0])
    np.testing.assert_allclose(reg_path_quadratic(H, ws, 0.6, "l2"), [0.769231, 0.454545],
                               atol=1e-6)
    np.testing.assert_allclose(reg_path_quadratic(H, ws, 0.6, "l1"), [0.7, 0.0], atol=1e-12)
    path = reg_path_quadratic(H, ws, [0.0, 0.6, 10.0], "l2")
    assert path.shape == (3, 2)
    np.testing.assert_allclose(path[0], ws)
    with pytest.raises(ValueError, match="diagonal"):
        reg_path_quadratic(np.array([[2.0, 0.1], [0.1, 1.0]]), ws, 0.6, "l1")


# -- 8.3 early stopping --------------------------------------------------------------------------
def test_early_stopping_vector():
    vals = [1.0, 0.8, 0.7, 0.72, 0.69, 0.75, 0.76, 0.80]
    es = EarlyStopping(patience=2)
    p = np.zeros(2)
    stops = []
    for epoch, v in enumerate(vals):
        p[:] = epoch
        stops.append(es.update(epoch, v, [p]))
        if stops[-1]:
            break
    assert es.best_epoch == 4 and es.stop_epoch == 6 and len(stops) == 7
    np.testing.assert_array_equal(es.best_params[0], [4.0, 4.0])
    assert es.restore([p]) and np.all(p == 4.0)


def test_early_stopping_min_delta_and_validation():
    es = EarlyStopping(patience=5, min_delta=0.05)
    for e, v in enumerate([1.0, 0.97, 0.96, 0.9]):
        es.update(e, v)
    assert es.best_epoch == 3          # 0.97 and 0.96 were not better by more than 0.05
    assert not es.update(4, float("nan")) and es.wait == 1
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(0)


# -- 8.4 tying -----------------------------------------------------------------------------------
def test_tie_penalty_vector():
    val, ga, gb = tie_penalty(np.array([1.0, 2.0]), np.array([0.0, 4.0]), 1.0)
    assert val == pytest.approx(5.0)
    np.testing.assert_allclose(ga, [2.0, -4.0])
    np.testing.assert_allclose(gb, [-2.0, 4.0])
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    val, _, _ = tie_penalty([a], [b], 0.5)
    val.backward()
    np.testing.assert_allclose(a.grad.data, [1.0, -2.0])
    np.testing.assert_allclose(b.grad.data, [-1.0, 2.0])
    with pytest.raises(ValueError, match="same shapes"):
        tie_penalty(np.zeros(2), np.zeros(3))


# -- 8.5 augmentation ----------------------------------------------------------------------------
def test_augment_is_seeded_and_does_nothing_when_off():
    X = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    a = augment(X, np.random.default_rng(7), 0.1, 20.0)
    b = augment(X, np.random.default_rng(7), 0.1, 20.0)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == X.shape and not np.allclose(a, X)
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    np.testing.assert_array_equal(augment(X, rng), X)
    assert rng.bit_generator.state == state       # no draws when off
    r = np.linalg.norm(augment(X, np.random.default_rng(1), 0.0, 30.0), axis=1)
    np.testing.assert_allclose(r, np.linalg.norm(X, axis=1), rtol=1e-5)  # rotation only
    with pytest.raises(ValueError, match="rotate_deg"):
        augment(X, rng, 0.0, 200.0)


# -- 8.6 dropout ---------------------------------------------------------------------------------
def test_dropout_expectations_monte_carlo():
    h = np.array([1.0, 2.0, 3.0, 4.0])
    H = np.broadcast_to(h, (40_000, 4))
    rng = np.random.default_rng(0)
    inv, _ = dropout(H, 0.2, rng, train=True, mode="inverted")
    cls, mask = dropout(H, 0.2, rng, train=True, mode="classic")
    np.testing.assert_allclose(inv.mean(0), h, rtol=0.02)
    np.testing.assert_allclose(cls.mean(0), 0.8 * h, rtol=0.02)
    assert mask.dtype == bool and abs(mask.mean() - 0.8) < 0.01
    # evaluation: inverted does nothing, classic multiplies by keep, the bug does nothing
    np.testing.assert_allclose(dropout(h, 0.2, rng, False, "inverted")[0], h)
    np.testing.assert_allclose(dropout(h, 0.2, rng, False, "classic")[0], 0.8 * h)
    np.testing.assert_allclose(dropout(h, 0.2, rng, False, "classic_no_test_scaling")[0], h)
    assert dropout_scales(0.2, "inverted") == pytest.approx((1.25, 1.0))
    with pytest.raises(ValueError, match="drop_rate"):
        dropout_scales(1.0)
    with pytest.raises(ValueError, match="inverted"):
        dropout_scales(0.5, "sometimes")


def test_exactly_half_dropped_is_not_certain():
    _, mask = dropout(np.ones((200_000, 10)), 0.5, np.random.default_rng(1))
    p5 = float(((~mask).sum(1) == 5).mean())
    assert p5 == pytest.approx(252 / 1024, abs=0.005)


def test_dropout_masks_are_seeded():
    H = np.ones((5, 8))
    a = dropout(H, 0.5, np.random.default_rng(3))[1]
    b = dropout(H, 0.5, np.random.default_rng(3))[1]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode, train_mean, eval_factor",
                         [("inverted", 1.0, 1.0), ("classic", 0.75, 0.75),
                          ("classic_no_test_scaling", 0.75, 1.0)])
def test_mode_dropout_layer(mode, train_mean, eval_factor):
    layer = ModeDropout(0.25, mode, np.random.default_rng(0))
    x = Tensor(np.ones((20_000, 4)))
    layer.train()
    assert float(layer(x).data.mean()) == pytest.approx(train_mean, rel=0.02)
    layer.eval()
    np.testing.assert_allclose(layer(x).data, eval_factor)


# -- 8.7 adversarial examples --------------------------------------------------------------------
def _logistic():
    w = Tensor(np.array([[1.0, -2.0]]))
    b = Tensor(np.array([0.0]))

    def model(x):
        return F.linear(x, w, b)

    def loss(out, y):
        return F.binary_cross_entropy_with_logits(out.reshape(-1), y)
    return model, loss


def test_fgsm_vector():
    model, loss = _logistic()
    x, y = np.array([[0.5, 0.5]]), np.array([1.0])
    x_adv, g = fgsm(model, x, y, 0.1, loss, return_grad=True)
    np.testing.assert_allclose(g, [[-0.622459, 1.244919]], atol=1e-6)
    np.testing.assert_allclose(x_adv, [[0.4, 0.6]], atol=1e-12)

    def bce(pt):
        return float(loss(model(Tensor(pt)), y).item())

    assert bce(x) == pytest.approx(0.974077, abs=1e-6)
    assert bce(x_adv) == pytest.approx(1.171101, abs=1e-6)
    assert bce(x - 0.1 * np.sign(g)) == pytest.approx(0.798139, abs=1e-6)


@pytest.mark.torch
def test_fgsm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    W1, b1, W2 = rng.normal(size=(5, 2)), rng.normal(size=5), rng.normal(size=(1, 5))
    X, y = rng.normal(size=(7, 2)), (rng.random(7) > 0.5).astype(np.float64)

    def model(x):
        return F.linear(F.tanh(F.linear(x, Tensor(W1), Tensor(b1))), Tensor(W2))

    ours, g = fgsm(model, X, y, 0.05,
                   lambda o, t: F.binary_cross_entropy_with_logits(o.reshape(-1), t),
                   return_grad=True)
    xt = torch.tensor(X, requires_grad=True)
    out = torch.tanh(xt @ torch.tensor(W1).T + torch.tensor(b1)) @ torch.tensor(W2).T
    torch.nn.functional.binary_cross_entropy_with_logits(out.reshape(-1),
                                                         torch.tensor(y)).backward()
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(ours, X + 0.05 * np.sign(xt.grad.numpy()))


def test_boundary_length_of_a_straight_line():
    n = 100
    labels = np.zeros((n, n), int)
    labels[:, n // 2:] = 1             # a vertical line across the unit square
    assert boundary_length(labels, 1.0 / n) == pytest.approx(math.pi / 4, rel=0.01)


# -- the lab -------------------------------------------------------------------------------------
def _weights(lab):
    return np.concatenate([lin.weight.numpy().ravel() for lin in lab.model.layers])


def test_l1_gives_exact_zeros_and_l2_shrinks():
    labs = {k: RegularizationLab(seed=0, penalty=k, lam=0.1) for k in ("none", "l1", "l2")}
    for lab in labs.values():
        lab.step(300)
    zeros = {k: int((_weights(lab) == 0).sum()) for k, lab in labs.items()}
    assert zeros["l1"] > 50 and zeros["none"] == 0
    snap = {k: lab.snapshot() for k, lab in labs.items()}
    assert snap["l1"].scalars["zero_weights"] > snap["none"].scalars["zero_weights"]
    assert snap["l2"].scalars["weight_norm"] < 0.7 * snap["none"].scalars["weight_norm"]
    assert snap["l2"].scalars["penalty"] > 0


def test_no_regularization_overfits():
    lab = RegularizationLab(seed=0)
    lab.step(1500)
    val = np.array(lab.hist["val_loss"])
    assert lab.hist["train_loss"][-1] < 0.1
    assert val[-1] > 2 * val.min()     # validation loss turned and rose


def test_early_stopping_stops_and_restores_best_weights():
    lab = RegularizationLab(seed=0, early_stop=True, patience=10)
    lab.step(3000)
    st = lab.stopper
    assert lab.finished and lab.stopped and lab.step_count < 3000
    assert lab.step_count == st.stop_epoch == st.best_epoch + 10 * EVAL_EVERY
    for p, best in zip(lab.model.parameters(), st.best_params):
        np.testing.assert_array_equal(p.data, best)
    snap = lab.snapshot()
    assert snap.data["early"]["best_step"] == st.best_epoch
    assert snap.data["early"]["stop_step"] == lab.step_count
    assert any("Early stopping" in a for a in snap.alerts)
    # the restored net scores the best validation loss again
    assert lab._score(lab.Xval, lab.yval)[0] == pytest.approx(st.best_val, rel=1e-5)
    lab.set_param("early_stop", False)            # carry on from the best weights
    assert not lab.finished
    lab.step(5)
    assert lab.step_count == st.stop_epoch + 5


def test_same_seed_same_augmented_batches():
    batches = []
    for _ in range(2):
        lab = RegularizationLab(seed=3, aug_noise=0.1, aug_jitter=15)
        X = lab.Xtr[:8]
        batches.append(lab._train_inputs(X, lab.ytr[:8])[0])
        lab.step(20)
        batches.append(_weights(lab))
    np.testing.assert_array_equal(batches[0], batches[2])
    np.testing.assert_array_equal(batches[1], batches[3])
    assert not np.allclose(batches[0], lab.Xtr[:8])


def test_adversarial_training_raises_adversarial_accuracy():
    acc = {}
    for adv in (False, True):
        lab = RegularizationLab(seed=0, noise=0.1, layers="16,16", lr=0.01, fgsm_eps=0.2,
                                adv_train=adv)
        lab.step(500)
        acc[adv] = float(np.mean(lab.hist["adv_acc"][-5:]))
    assert acc[True] > acc[False] + 0.15
    snap = lab.snapshot()
    adv = snap.data["adv"]
    np.testing.assert_allclose(np.abs(adv["X_adv"] - adv["X"]).max(), 0.2, rtol=1e-5)


def test_dropout_modes_in_the_lab():
    loss = {}
    for mode in ("inverted", "classic", "classic_no_test_scaling"):
        lab = RegularizationLab(seed=0, dropout=0.5, dropout_mode=mode)
        lab.step(300)
        assert all(isinstance(d, ModeDropout) and d.mode == mode for d in lab.model.drops)
        loss[mode] = lab.hist["train_loss"][-1]
        assert np.isfinite(lab.hist["train_loss_dropout"][-1])
    # Forgetting the test-time factor feeds the next layer inputs 1/q = 2x too large.
    assert loss["classic_no_test_scaling"] > 1.3 * loss["classic"]
    lab.set_param("dropout_mode", "inverted")     # live switch, no rebuild
    assert all(d.mode == "inverted" for d in lab.model.drops) and lab.step_count == 300


def test_task_b_tying_pulls_the_nets_together():
    dist = {}
    for lam in (1e-4, 10.0):
        lab = RegularizationLab(seed=0, task_b=True, tie_lam=lam, layers="8")
        lab.step(200)
        dist[lam] = lab.hist["tie_dist"][-1]
        snap = lab.snapshot()
        assert snap.data["task_b"]["probs"].shape[-1] == 2
        assert 0 <= snap.scalars["task_b_test_accuracy"] <= 1
    assert dist[10.0] < 0.2 * dist[1e-4]


def test_bad_params_raise_and_change_nothing():
    lab = RegularizationLab(seed=0)
    lab.step(20)
    before = (dict(lab.values), lab.step_count, _weights(lab).copy())
    for name, value in (("penalty", "l3"), ("lam", 0.0), ("lam", 5.0), ("patience", 0),
                        ("dropout_mode", "sometimes"), ("aug_jitter", 90), ("fgsm_eps", -0.1),
                        ("adv_alpha", 1.5), ("dataset", "surface"), ("tie_lam", 0),
                        ("nonsense", 1)):
        with pytest.raises(ValueError):
            lab.set_param(name, value)
    assert lab.values == before[0] and lab.step_count == before[1]
    np.testing.assert_array_equal(_weights(lab), before[2])


def test_snapshot_contents():
    lab = RegularizationLab(seed=0, aug_noise=0.05)
    lab.step(50)
    snap = lab.snapshot()
    d = snap.data
    assert d["weight_hist"]["counts"].sum() == d["n_weights"] == _weights(lab).size
    assert len(d["curves"]["val_loss"]) == len(d["curves"]["step"]) == 7  # 0, 1, 10, ..., 50
    assert len(d["val"]["X"]) == len(d["test"]["X"]) == 25
    assert len(d["aug_preview"]["X"]) == 4 * len(d["train"]["X"])
    assert 0 < snap.scalars["boundary_length"] < 20
    assert "\u03bb" in snap.text["equation"] or "penalty" in snap.text["equation"]


def test_model_files_refuse_classic_dropout_and_loading_keeps_the_lab_whole(tmp_path):
    lab = RegularizationLab(seed=0, dropout=0.3, dropout_mode="classic", layers="8")
    lab.step(5)
    with pytest.raises(ValueError, match="inverted"):
        lab.export_onnx(tmp_path / "net.onnx")
    assert not (tmp_path / "net.onnx").exists()
    lab.set_param("dropout_mode", "inverted")
    lab.save_model(tmp_path / "net.safetensors")
    other = RegularizationLab(seed=1, task_b=True, layers="4,4", dropout_mode="classic")
    other.load_model(tmp_path / "net.safetensors")
    assert other.model.sizes == other.model_b.sizes == [2, 8, 1]
    assert all(isinstance(d, ModeDropout) and d.mode == "classic" for d in other.model.drops)
    other.step(12)
    assert len({len(v) for v in other.hist.values()}) == 1   # every curve on the same steps
