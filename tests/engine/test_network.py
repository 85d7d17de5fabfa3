"""Network lab: training reaches the documented accuracy, tasks and params are validated, the
gradient and activation monitors show what the book says, model files and ONNX round-trip."""
from __future__ import annotations

import numpy as np
import pytest

from engine.data import save_points_csv
from engine.io.model_file import ModelFileError
from engine.labs.network import NetworkLab


@pytest.fixture(scope="module")
def trained():
    lab = NetworkLab(seed=0)
    lab.step(3000)
    return lab


def test_default_spiral_reaches_95_percent_test_accuracy(trained):
    s = trained.snapshot()
    assert s.step == 3000 and not s.alerts
    assert s.scalars["test_accuracy"] >= 0.95
    assert s.scalars["loss"] < s.data["curves"]["train_loss"][0] / 10


def test_snapshot_shapes_follow_the_architecture(trained):
    d = trained.snapshot().data
    assert [t.shape for t in d["thumbs"]] == [(16, 28, 28), (16, 28, 28)]
    assert d["out_thumbs"].shape == (1, 28, 28)               # binary: one sigmoid unit
    assert d["probs"].shape == (80, 80, 2)
    np.testing.assert_allclose(d["probs"].sum(-1), 1, atol=1e-6)
    assert [w.shape for w in d["weights"]] == [(16, 2), (16, 16), (1, 16)]
    assert d["grad_norms"].shape[1] == 3 and len(d["activations"]) == 2
    assert len(d["train"]["X"]) + len(d["test"]["X"]) == 600


def test_multiclass_uses_softmax_cross_entropy():
    lab = NetworkLab(seed=1, dataset="blobs", classes=4)
    assert (lab.task, lab.loss_kind, lab.n_out) == ("multiclass", "cross_entropy", 4)
    lab.step(300)
    s = lab.snapshot()
    assert s.data["probs"].shape[-1] == 4 and s.scalars["test_accuracy"] > 0.9


def test_regression_surface_learns_with_mse():
    lab = NetworkLab(seed=0, dataset="surface", activation="tanh")
    first = lab.hist["train_loss"][0]
    lab.step(800)
    s = lab.snapshot()
    assert lab.loss_kind == "mse" and "value" in s.data and "test_accuracy" not in s.scalars
    assert s.scalars["loss"] < first / 5


def test_no_hidden_layer_is_logistic_regression_and_cannot_do_xor():
    lab = NetworkLab(seed=0, dataset="xor", layers="")
    lab.step(500)
    assert lab.model.sizes == [2, 1]
    assert lab.snapshot().scalars["test_accuracy"] < 0.75      # a line cannot split XOR
    deep = NetworkLab(seed=0, dataset="xor", layers="8")
    deep.step(500)
    assert deep.snapshot().scalars["test_accuracy"] > 0.9


@pytest.mark.parametrize("name, value, match", [
    ("layers", "40", "1-32"),
    ("layers", "1,2,3,4,5,6,7,8,9", "at most 8"),
    ("layers", "8,x", "integer"),
    ("activation", "swish", "unknown activation"),
    ("activation", "relu,tanh,relu", "activations given"),
    ("loss", "bce", None),
    ("lr", 10.0, "learning rate|lr"),
    ("batch_size", 0, "batch_size"),
])
def test_bad_params_are_refused_and_change_nothing(name, value, match):
    lab = NetworkLab(seed=0, dataset="blobs", classes=3)
    before = dict(lab.values)
    w = lab.model.layers[0].weight.data.copy()
    with pytest.raises(ValueError) as exc:
        lab.set_param(name, value)
    if match:
        assert any(m in str(exc.value) for m in match.split("|")), str(exc.value)
    assert lab.values == before
    np.testing.assert_array_equal(lab.model.layers[0].weight.data, w)


def test_regression_refuses_classification_losses():
    lab = NetworkLab(seed=0, dataset="surface")
    with pytest.raises(ValueError, match="regression"):
        lab.set_param("loss", "cross_entropy")


def test_per_layer_activations_and_rebuild():
    lab = NetworkLab(seed=0, layers="8,8,8", activation="relu,relu,tanh")
    assert lab.model.activations == ["relu", "relu", "tanh"]
    lab.set_param("layers", "4,4")              # a per-layer list that no longer fits resets
    assert lab.values["activation"] == "relu" and lab.model.sizes == [2, 4, 4, 1]


def test_deep_sigmoid_gradients_vanish_but_relu_he_flows():
    sig = NetworkLab(seed=0, layers=",".join(["8"] * 8), activation="sigmoid", init="normal")
    sig.step(20)
    g = sig.last_grad_norms
    assert g[0] < g[-1] / 100                   # the first layer hardly learns
    relu = NetworkLab(seed=0, layers=",".join(["8"] * 8), activation="relu", init="he")
    relu.step(20)
    g = relu.last_grad_norms
    assert g[0] > g[-1] / 10


def test_zero_init_shows_identical_hidden_units():
    lab = NetworkLab(seed=0, dataset="moons", layers="4", init="zeros")
    lab.step(50)
    thumbs = lab.snapshot().data["thumbs"][0]
    assert np.allclose(thumbs, thumbs[0])       # symmetry: every unit computes the same map


def test_divergence_stops_with_a_banner_naming_the_step():
    lab = NetworkLab(seed=0, dataset="surface", optimizer="sgd", lr=3.0)
    lab.step(300)
    s = lab.snapshot()
    assert lab.finished and s.step < 300
    assert s.alerts and f"step {s.step}" in s.alerts[0] and "learning rate" in s.alerts[0]


def test_clicked_points_and_csv(tmp_path):
    lab = NetworkLab(seed=0)
    for x, y, c in ((-0.5, 0.5, 0), (0.5, 0.5, 1), (-0.5, -0.5, 2), (0.5, -0.5, 0)):
        lab.set_param("click_class", c)
        lab.do_action("add_point", x=x, y=y)
    assert lab.values["dataset"] == "clicked" and lab.k == 3 and len(lab.Xtr) == 4
    lab.step(20)
    good = tmp_path / "pts.csv"
    X = np.random.default_rng(0).uniform(-1, 1, (40, 2)).astype(np.float32)
    save_points_csv(good, X, (X[:, 0] > 0).astype(np.int64))
    lab.do_action("load_csv", path=str(good))
    assert lab.k == 2 and len(lab.Xtr) + len(lab.Xte) == 40
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,label\n0.1,0.2,1\n0.3,oops,0\n")
    before = lab.clicked_X.copy()
    with pytest.raises(ValueError, match="line 3"):
        lab.do_action("load_csv", path=str(bad))
    np.testing.assert_array_equal(lab.clicked_X, before)
    lab.do_action("clear_points")
    assert len(lab.clicked_X) == 0 and len(lab.Xtr) == 0
    lab.step(5)                                  # nothing to train on: a no-op, no crash
    assert lab.snapshot().data["train"]["X"].shape == (0, 2)


def test_experiment_file_replays_clicks_csv_and_model_loads_without_the_files(trained,
                                                                              tmp_path):
    from engine.io import experiment  # noqa: PLC0415
    model = tmp_path / "spiral.safetensors"
    trained.save_model(model)
    csv = tmp_path / "pts.csv"
    X = np.random.default_rng(2).uniform(-1, 1, (30, 2)).astype(np.float32)
    save_points_csv(csv, X, (X[:, 1] > 0).astype(np.int64))
    lab = NetworkLab(seed=1)
    lab.step(15)
    lab.do_action("load_csv", path=str(csv))    # restarts on the CSV's points
    lab.step(7)
    lab.set_param("click_class", 1)
    lab.do_action("add_point", x=0.25, y=-0.75)
    lab.step(4)
    lab.load_model(model)                       # the spiral's weights and step 3000
    lab.step(5)
    lab.do_action("set_weight", layer=0, row=0, col=1, value=2.5)
    lab.step(9)
    path = experiment.save_experiment(lab, tmp_path / "session.json")
    model.unlink()
    csv.unlink()                                # the replay must not need either file
    back = experiment.load_experiment(path, NetworkLab)
    assert back.step_count == lab.step_count == 3014
    np.testing.assert_array_equal(back.clicked_X, lab.clicked_X)
    np.testing.assert_array_equal(back.clicked_y, lab.clicked_y)
    for a, b in zip(back.model.parameters(), lab.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_set_weight_by_hand():
    lab = NetworkLab(seed=0, layers="3")
    lab.do_action("set_weight", layer=1, row=0, col=2, value=-4.5)
    assert lab.model.layers[1].weight.data[0, 2] == -4.5
    assert lab.snapshot().data["weights"][1][0, 2] == -4.5
    with pytest.raises(ValueError, match="outside"):
        lab.do_action("set_weight", layer=1, row=3, col=0, value=1.0)
    with pytest.raises(ValueError, match="layer"):
        lab.do_action("set_weight", layer=5, row=0, col=0, value=1.0)
    with pytest.raises(ValueError, match="-100, 100"):
        lab.do_action("set_weight", layer=0, row=0, col=0, value=float("nan"))


def test_saved_model_reloads_with_identical_predictions(trained, tmp_path):
    path = tmp_path / "spiral.safetensors"
    trained.save_model(path)
    grid = np.random.default_rng(0).uniform(-1.5, 1.5, (500, 2)).astype(np.float32)
    ref = trained.predict(grid)["probs"]
    fresh = NetworkLab(seed=0)
    fresh.load_model(path)
    assert fresh.step_count == 3000 and fresh.values["layers"] == "16,16"
    np.testing.assert_array_equal(fresh.predict(grid)["probs"], ref)
    fresh.step(10)                                   # training continues from the file
    assert fresh.step_count == 3010
    multi = NetworkLab(seed=0, dataset="blobs", classes=3)
    w = multi.model.layers[0].weight.data.copy()
    with pytest.raises(ModelFileError, match="outputs"):
        multi.load_model(path)
    np.testing.assert_array_equal(multi.model.layers[0].weight.data, w)


def test_onnx_export_matches_the_lab(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "spiral.onnx"
    trained.export_onnx(path)
    grid = np.random.default_rng(1).uniform(-1.5, 1.5, (500, 2)).astype(np.float32)
    _, probs = ort.InferenceSession(str(path)).run(None, {"x": grid})
    np.testing.assert_allclose(probs[:, 0], trained.predict(grid)["probs"][:, 1], atol=1e-5)


def test_same_seed_same_run():
    a, b = NetworkLab(seed=4, dataset="moons"), NetworkLab(seed=4, dataset="moons")
    a.step(100)
    b.step(100)
    np.testing.assert_array_equal(a.model.layers[0].weight.data, b.model.layers[0].weight.data)


def test_live_changes_keep_the_weights():
    lab = NetworkLab(seed=0)
    lab.step(50)
    w = lab.model.layers[0].weight.data.copy()
    lab.set_param("optimizer", "rmsprop")
    lab.set_param("lr", 0.003)
    lab.set_param("dropout", 0.3)
    np.testing.assert_array_equal(lab.model.layers[0].weight.data, w)
    assert lab.optimizer.param_groups[0]["lr"] == 0.003
    assert all(d.p == 0.3 for d in lab.model.drops)
    lab.step(10)


def test_layer_editing_actions():
    lab = NetworkLab(seed=0, layers="4")
    lab.do_action("resize_layer", layer=0, delta=2)
    assert lab.values["layers"] == "6" and lab.model.sizes == [2, 6, 1]
    lab.do_action("add_layer")
    assert lab.model.sizes == [2, 6, 6, 1]
    lab.do_action("remove_layer")
    lab.do_action("remove_layer")
    assert lab.model.sizes == [2, 1]
    with pytest.raises(ValueError, match="no hidden layer"):
        lab.do_action("remove_layer")
    lab.set_param("layers", "32")
    with pytest.raises(ValueError, match="1-32"):
        lab.do_action("resize_layer", layer=0, delta=1)
    assert lab.values["layers"] == "32"
