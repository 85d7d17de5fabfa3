"""Model files (safetensors + JSON metadata) and ONNX export: round trips, refusals, parity
with ONNX Runtime."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import safetensors.numpy

from engine import nn
from engine.autodiff import Tensor, no_grad
from engine.io.model_file import ModelFileError, read_model, save_model
from engine.io.onnx_export import export_onnx, mlp_to_onnx


def _net(seed=0, sizes=(2, 6, 5, 3), acts=("tanh", "relu")):
    return nn.MLP(list(sizes), list(acts), generator=np.random.default_rng(seed))


def _predict(model, X):
    with no_grad():
        return model(Tensor(X)).data


@pytest.fixture
def saved(tmp_path):
    net = _net()
    path = tmp_path / "net.safetensors"
    save_model(path, net, {"kind": "mlp", **net.config}, hyperparameters={"lr": 0.01},
               task={"classes": 3}, seed=5, step=1234, lab="network")
    return net, path


def test_round_trip_gives_identical_predictions_and_metadata(saved):
    net, path = saved
    mf = read_model(path)
    X = np.random.default_rng(1).normal(size=(64, 2)).astype(np.float32)
    np.testing.assert_array_equal(_predict(mf.model, X), _predict(net, X))
    assert (mf.seed, mf.step, mf.lab) == (5, 1234, "network")
    assert mf.hyperparameters == {"lr": 0.01} and mf.task == {"classes": 3}
    assert mf.architecture == {"kind": "mlp", "sizes": [2, 6, 5, 3],
                               "activations": ["tanh", "relu"], "dropout": [0.0, 0.0]}


def test_no_temporary_files_are_left_behind(saved, tmp_path):
    assert [p.name for p in tmp_path.iterdir()] == ["net.safetensors"]


def _rewrite(path, tensors=None, meta_update=None, drop=()):
    tensors = dict(safetensors.numpy.load_file(str(path)) if tensors is None else tensors)
    from safetensors import safe_open
    with safe_open(str(path), "np") as fh:
        meta = dict(fh.metadata())
    meta.update(meta_update or {})
    for k in drop:
        meta.pop(k)
    path.write_bytes(safetensors.numpy.save(tensors, metadata=meta))


@pytest.mark.parametrize("mutate, reason", [
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "not a readable safetensors"),
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) - 7]), "not a readable"),
    (lambda p: p.write_bytes(b"\x80\x04\x95pickle bytes here" * 5), "not a readable"),
    (lambda p: p.write_bytes(struct.pack("<Q", 10**12) + b"{}"), "not a readable"),
    (lambda p: _rewrite(p, meta_update={"format": "pytorch"}), "not a MathDL model"),
    (lambda p: _rewrite(p, meta_update={"format_version": "9"}), "version 9"),
    (lambda p: _rewrite(p, drop=("architecture",)), "no 'architecture'"),
    (lambda p: _rewrite(p, meta_update={"architecture": "{not json"}), "not valid JSON"),
    (lambda p: _rewrite(p, meta_update={"architecture": json.dumps(
        {"kind": "mlp", "sizes": [2, 6, 5, 3], "activations": ["tanh", "os.system"]})}),
     "invalid architecture"),
    (lambda p: _rewrite(p, meta_update={"architecture": json.dumps(
        {"kind": "lambda", "sizes": [2, 3]})}), "unknown architecture kind"),
    (lambda p: _rewrite(p, meta_update={"architecture": json.dumps(
        {"kind": "mlp", "sizes": [2, 7, 5, 3], "activations": ["tanh", "relu"]})}),
     "shape"),
    (lambda p: _rewrite(p, meta_update={"step": "many"}), "must be an integer"),
])
def test_corrupt_foreign_and_hostile_files_are_refused(saved, mutate, reason):
    _, path = saved
    mutate(path)
    with pytest.raises(ModelFileError, match=reason):
        read_model(path)


def test_tensor_level_problems_are_refused(saved):
    net, path = saved
    good = {k: np.asarray(v) for k, v in net.state_dict().items()}
    cases = [
        ({**good, "layers.0.weight": np.full((6, 2), np.inf, np.float32)}, "inf or NaN"),
        ({**good, "layers.0.weight": good["layers.0.weight"].astype(np.int32)}, "dtype"),
        ({k: v for k, v in good.items() if k != "layers.2.bias"}, "missing: layers.2.bias"),
        ({**good, "evil": np.zeros(1, np.float32)}, "unexpected: evil"),
    ]
    for tensors, reason in cases:
        _rewrite(path, tensors=tensors)
        with pytest.raises(ModelFileError, match=reason):
            read_model(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read"):
        read_model(tmp_path / "nope.safetensors")


def test_save_refuses_an_unknown_architecture(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        save_model(tmp_path / "x.safetensors", _net(), {"kind": "cnn?"})


def test_onnx_graph_is_valid_and_names_its_outputs():
    proto = mlp_to_onnx(_net(), head="softmax")
    assert [o.name for o in proto.graph.output] == ["logits", "probs"]
    ops = [n.op_type for n in proto.graph.node]
    assert ops == ["Gemm", "Tanh", "Gemm", "Relu", "Gemm", "Softmax"]
    with pytest.raises(ValueError, match="head"):
        mlp_to_onnx(_net(), head="argmax")


@pytest.mark.parametrize("acts, head, out", [
    (("tanh", "relu"), "softmax", 3),
    (("sigmoid", "leaky_relu"), "sigmoid", 1),
    (("elu", "softplus"), "identity", 1),
])
def test_onnx_runtime_reproduces_predictions(tmp_path, acts, head, out):
    ort = pytest.importorskip("onnxruntime")
    net = _net(sizes=(2, 6, 5, out), acts=acts)
    path = export_onnx(tmp_path / "net.onnx", net, head=head)
    X = np.random.default_rng(2).normal(size=(200, 2)).astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits, probs = sess.run(None, {"x": X})
    ref = _predict(net, X)
    np.testing.assert_allclose(logits, ref, atol=1e-5)
    if head == "softmax":
        e = np.exp(ref - ref.max(1, keepdims=True))
        np.testing.assert_allclose(probs, e / e.sum(1, keepdims=True), atol=1e-5)
    elif head == "sigmoid":
        np.testing.assert_allclose(probs, 1 / (1 + np.exp(-ref)), atol=1e-5)


def test_onnx_bakes_in_input_standardisation(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    net = _net()
    mean, std = np.array([0.5, -1.0], np.float32), np.array([2.0, 0.5], np.float32)
    path = export_onnx(tmp_path / "n.onnx", net, input_mean=mean, input_std=std)
    X = np.random.default_rng(3).normal(size=(20, 2)).astype(np.float32)
    logits, _ = ort.InferenceSession(str(path)).run(None, {"x": X})
    np.testing.assert_allclose(logits, _predict(net, (X - mean) / std), atol=1e-5)
