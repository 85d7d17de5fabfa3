"""CNN lab and SmallCNN: learning the digits, feature maps, confusion, drawing, model files,
ONNX, and PyTorch parity of a whole CNN's loss and gradients."""
from __future__ import annotations

import numpy as np
import pytest

from engine.autodiff import Tensor, no_grad
from engine.io.model_file import ModelFileError, read_model, save_model
from engine.labs.cnn import CNNLab
from engine.nn import functional as F
from engine.nn.cnn import SmallCNN, validate_cnn_config


@pytest.fixture(scope="module")
def trained():
    lab = CNNLab(seed=0, n_train=1500)
    lab.step(300)
    return lab


def test_learns_the_digits(trained):
    s = trained.snapshot()
    assert s.scalars["test_accuracy"] >= 0.9 and not s.alerts
    c = s.data["curves"]
    assert c["test_loss"][-1] < c["test_loss"][0] / 5


def test_snapshot_has_maps_filters_confusion_and_mistakes(trained):
    d = trained.snapshot().data
    assert [m.shape for m in d["maps"]] == [(8, 16, 16), (16, 8, 8)]
    assert [f.shape for f in d["filters"]] == [(8, 3, 3), (16, 3, 3)]
    conf = d["confusion"]
    assert conf.shape == (10, 10) and conf.sum() == 500
    assert np.trace(conf) / 500 == pytest.approx(trained.hist["test_acc"][-1])
    n = len(d["worst_true"])
    assert d["worst_images"].shape == (n, 16, 16) and np.all(d["worst_true"] != d["worst_pred"])
    assert np.all(np.diff(d["worst_conf"]) <= 0)            # most confident first
    np.testing.assert_allclose(d["probs"].sum(), 1, rtol=1e-5)


def test_drawing_becomes_the_probe(trained):
    one = np.zeros((16, 16))
    one[3:13, 7:9] = 1.0                                     # a vertical stroke
    trained.do_action("draw", pixels=one)
    d = trained.snapshot().data
    assert d["probe_label"] == -1 and np.array_equal(d["probe_image"], one.astype(np.float32))
    before = trained.drawn.copy()
    for bad in (np.zeros((8, 8)), np.full((16, 16), 2.0), np.full((16, 16), np.nan)):
        with pytest.raises(ValueError):
            trained.do_action("draw", pixels=bad)
    np.testing.assert_array_equal(trained.drawn, before)
    trained.do_action("set_probe", index=7)
    assert trained.snapshot().data["probe_label"] == int(trained.yte[7])


def test_experiment_file_brings_back_the_drawing_and_the_run(tmp_path):
    from engine.io import experiment  # noqa: PLC0415
    lab = CNNLab(seed=3, n_train=500)
    lab.step(4)
    canvas = np.zeros((16, 16))
    canvas[2:14, 4:6] = 1.0
    lab.do_action("draw", pixels=canvas)
    canvas[:] = 0.5                 # the panel reuses its canvas: the journal kept a copy
    lab.step(3)
    lab.set_param("lr", 0.01)
    lab.step(2)
    path = experiment.save_experiment(lab, tmp_path / "cnn.json")
    back = experiment.load_experiment(path, CNNLab)
    np.testing.assert_array_equal(back.drawn, lab.drawn)
    assert back.drawn[2, 4] == 1.0 and back.drawn[0, 0] == 0.0
    assert back.values == lab.values and back.step_count == 9
    for a, b in zip(back.model.parameters(), lab.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("name, value", [("channels", "0"), ("channels", "8,8,8,8,8"),
                                         ("channels", "a"), ("kernel", "4"), ("lr", 5.0)])
def test_bad_params_change_nothing(name, value):
    lab = CNNLab(seed=0, n_train=500)
    before = dict(lab.values)
    with pytest.raises(ValueError):
        lab.set_param(name, value)
    assert lab.values == before


def test_gap_head_and_architecture_rebuild():
    lab = CNNLab(seed=0, n_train=500, channels="4,8,8", head="gap", pool="avg")
    assert lab.model.out.weight.shape == (10, 8)
    lab.step(3)
    assert [m.shape for m in lab.snapshot().data["maps"]] == [(4, 16, 16), (8, 8, 8),
                                                               (8, 4, 4)]
    with pytest.raises(ValueError, match="below one pixel"):
        validate_cnn_config({"input": [1, 4, 4], "channels": [4, 4, 4], "classes": 10})


def test_divergence_is_reported():
    lab = CNNLab(seed=0, n_train=500, optimizer="sgd", lr=1.0, activation="linear")
    lab.step(200)
    s = lab.snapshot()
    assert lab.finished and s.alerts and f"step {s.step}" in s.alerts[0]


def test_model_file_round_trip_and_onnx(trained, tmp_path):
    path = tmp_path / "cnn.safetensors"
    trained.save_model(path)
    fresh = CNNLab(seed=1, n_train=500)
    fresh.load_model(path)
    X = trained.Xte[:50]
    with no_grad():
        a = trained.model(Tensor(X)).data
        b = fresh.model(Tensor(X)).data
    np.testing.assert_array_equal(a, b)
    assert fresh.step_count == trained.step_count
    mlp_file = tmp_path / "mlp.safetensors"
    from engine.nn import MLP
    m = MLP([2, 3, 2], "tanh", generator=np.random.default_rng(0))
    save_model(mlp_file, m, {"kind": "mlp", **m.config})
    with pytest.raises(ModelFileError, match="loads CNNs"):
        fresh.load_model(mlp_file)
    ort = pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "cnn.onnx"
    trained.export_onnx(onnx_path)
    _, probs = ort.InferenceSession(str(onnx_path)).run(None, {"x": X})
    e = np.exp(a - a.max(1, keepdims=True))
    np.testing.assert_allclose(probs, e / e.sum(1, keepdims=True), atol=1e-5)


def test_cnn_file_with_wrong_tensor_shape_is_refused(tmp_path):
    import safetensors.numpy
    m = SmallCNN(channels=[4], generator=np.random.default_rng(0))
    path = tmp_path / "c.safetensors"
    save_model(path, m, {"kind": "cnn", **m.config})
    from safetensors import safe_open
    with safe_open(str(path), "np") as fh:
        meta = dict(fh.metadata())
    t = {k: np.asarray(v) for k, v in m.state_dict().items()}
    t["convs.0.weight"] = np.zeros((4, 1, 5, 5), np.float32)
    path.write_bytes(safetensors.numpy.save(t, metadata=meta))
    with pytest.raises(ModelFileError, match="shape"):
        read_model(path)


@pytest.mark.torch
def test_whole_cnn_loss_and_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(0)
    m = SmallCNN(channels=[3, 5], kernel=3, pool="max", head="flatten", generator=g,
                 dtype=np.float64)
    x = g.random((6, 1, 16, 16))
    y = g.integers(0, 10, 6)
    loss = F.cross_entropy(m(Tensor(x)), y)
    loss.backward()
    tf = torch.nn.functional
    tp = [torch.tensor(p.data, requires_grad=True) for p in m.parameters()]
    h = torch.tensor(x)
    for i in range(2):
        h = tf.max_pool2d(torch.relu(tf.conv2d(h, tp[2 * i], tp[2 * i + 1], padding=1)), 2)
    tl = tf.cross_entropy(tf.linear(h.reshape(6, -1), tp[4], tp[5]), torch.tensor(y))
    tl.backward()
    assert float(loss.data) == pytest.approx(tl.item(), rel=1e-12)
    for p, t in zip(m.parameters(), tp):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-9, atol=1e-12)
