"""ONNX export of the tiny transformer, the digit GAN's generator and the autoencoders: graphs
pass ``onnx.checker`` and ONNX Runtime reproduces the engine's eval-mode forward pass on batch
sizes and sequence lengths the export never saw.  (MLP and CNN exports are tested in
test_model_file.py, test_network.py and test_cnn.py.)"""
from __future__ import annotations

import numpy as np
import pytest

from engine.autodiff import Tensor, no_grad
from engine.io.onnx_export import (
    autoencoder_to_onnx,
    export_onnx,
    generator_to_onnx,
    model_to_onnx,
    transformer_to_onnx,
)
from engine.labs.autoencoder import Autoencoder
from engine.labs.image_gan import DigitGAN
from engine.nn import BatchNorm1d
from engine.nn import functional as F
from engine.nn.tiny_transformer import TinyTransformer

onnx = pytest.importorskip("onnx")
ATOL = 1e-5


def _session(path_or_proto):
    ort = pytest.importorskip("onnxruntime")
    src = path_or_proto if isinstance(path_or_proto, str) else \
        path_or_proto.SerializeToString()
    return ort.InferenceSession(src, providers=["CPUExecutionProvider"])


def _io(proto):
    """``{name: shape}`` of the graph's inputs and outputs (dim names or sizes)."""
    def dims(v):
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    return ({v.name: dims(v) for v in proto.graph.input},
            {v.name: dims(v) for v in proto.graph.output})


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# -- transformer ----------------------------------------------------------------------------------
@pytest.mark.parametrize("pos, scale, causal, norm_first", [
    ("sinusoidal", "sqrt_dk", False, False),
    ("learned", "sqrt_n", True, False),
    ("none", "1", True, False),
    ("sinusoidal", "sqrt_n", False, True),
])
def test_transformer_matches_the_engine(tmp_path, pos, scale, causal, norm_first):
    rng = np.random.default_rng(0)
    model = TinyTransformer(7, d_model=12, heads=3, layers=2, max_len=10, pos=pos, ff=20,
                            out_vocab=9, scale=scale, causal=causal, generator=rng)
    for layer in model.layers:
        layer.norm_first = norm_first
        for norm in (layer.norm1, layer.norm2):      # not the identity the init gives
            norm.weight.data[:] = rng.uniform(0.5, 1.5, 12)
            norm.bias.data[:] = rng.normal(0, 0.1, 12)
    model.eval()
    path = export_onnx(tmp_path / "t.onnx", model)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    ins, outs = _io(onnx.load(str(path)))
    assert ins == {"tokens": ["N", "L"]}
    assert outs == {"logits": ["N", "L", 9], "probs": ["N", "L", 9]}
    sess = _session(str(path))
    assert sess.get_inputs()[0].type == "tensor(int64)"
    for n, length in ((1, 1), (5, 4), (3, 10)):
        tokens = rng.integers(0, 7, (n, length))
        with no_grad():
            ref = model(tokens).numpy()
        logits, probs = sess.run(None, {"tokens": tokens.astype(np.int64)})
        assert logits.shape == (n, length, 9)
        np.testing.assert_allclose(logits, ref, atol=ATOL)
        np.testing.assert_allclose(probs, _softmax(ref), atol=ATOL)


def test_transformer_causal_export_ignores_the_future():
    rng = np.random.default_rng(1)
    model = TinyTransformer(6, d_model=8, heads=2, layers=1, max_len=8, causal=True,
                            generator=rng)
    sess = _session(transformer_to_onnx(model))
    a = rng.integers(0, 6, (2, 8))
    b = a.copy()
    b[:, 5:] = (b[:, 5:] + 1) % 6
    la, _ = sess.run(None, {"tokens": a})
    lb, _ = sess.run(None, {"tokens": b})
    np.testing.assert_allclose(la[:, :5], lb[:, :5], atol=ATOL)
    assert np.abs(la[:, 5:] - lb[:, 5:]).max() > 1e-3


def test_transformer_export_refuses_what_it_cannot_map():
    model = TinyTransformer(5, d_model=8, heads=2, layers=1, max_len=6, pos="none",
                            generator=np.random.default_rng(0))
    sess = _session(transformer_to_onnx(model))
    with pytest.raises(Exception, match="out of"):        # longer than max_len, as the engine
        sess.run(None, {"tokens": np.zeros((2, 7), np.int64)})
    with pytest.raises(ValueError, match="max_len"):
        model(np.zeros((2, 7), np.int64))
    model.layers[0].act = lambda x: F.tanh(x)
    with pytest.raises(ValueError, match="ReLU"):
        transformer_to_onnx(model)
    with pytest.raises(ValueError, match="TinyTransformer"):
        transformer_to_onnx(DigitGAN(generator=np.random.default_rng(0)))


# -- GAN generator --------------------------------------------------------------------------------
def _gan_with_running_stats(arch, rng):
    gan = DigitGAN(arch, latent=8, width=32, generator=rng)
    for bn in (gan.generator.bn1, gan.generator.bn2):   # as after training, not 0 / 1
        c = bn.num_features
        bn.running_mean = rng.normal(0, 0.5, c).astype(np.float32)
        bn.running_var = rng.uniform(0.3, 2.0, c).astype(np.float32)
        bn.weight.data[:] = rng.uniform(0.5, 1.5, c)
        bn.bias.data[:] = rng.normal(0, 0.2, c)
    return gan


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_generator_matches_the_engine_in_eval_mode(tmp_path, arch):
    rng = np.random.default_rng(2)
    gan = _gan_with_running_stats(arch, rng)
    path = export_onnx(tmp_path / "g.onnx", gan)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert _io(proto) == ({"z": ["N", 8]},
                          {"images": ["N", 1, 16, 16], "pixels": ["N", 1, 16, 16]})
    ops = {n.op_type for n in proto.graph.node}
    assert "BatchNormalization" in ops and "Tanh" in ops
    assert ("ConvTranspose" in ops) == (arch == "conv")
    sess = _session(str(path))
    gan.eval()
    for n in (1, 7):
        z = rng.standard_normal((n, 8)).astype(np.float32)
        with no_grad():
            ref = gan(Tensor(z)).numpy()
        images, pixels = sess.run(None, {"z": z})
        assert images.shape == (n, 1, 16, 16)
        np.testing.assert_allclose(images, ref, atol=ATOL)
        np.testing.assert_allclose(pixels, np.clip((ref + 1) / 2, 0, 1), atol=ATOL)
        assert np.abs(images).max() < 1
    # The generator alone exports the same graph.
    alone, _ = _session(generator_to_onnx(gan.generator)).run(None, {"z": z})
    np.testing.assert_array_equal(alone, images)


def test_generator_needs_running_statistics():
    gan = DigitGAN("mlp", latent=4, width=16, generator=np.random.default_rng(0))
    gan.generator.bn1 = BatchNorm1d(16, track_running_stats=False)
    with pytest.raises(ValueError, match="running statistics"):
        generator_to_onnx(gan)


# -- autoencoders ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, act", [("ae", "relu"), ("dae", "elu"), ("vae", "softplus"),
                                       ("vae", "tanh")])
def test_autoencoder_matches_the_engine(tmp_path, kind, act):
    rng = np.random.default_rng(3)
    model = Autoencoder(kind, 64, [24, 12], 3, act, generator=rng)
    for lin in (*model.encoder.layers, *model.decoder.layers):    # non-zero biases
        lin.bias.data[:] = rng.normal(0, 0.3, lin.bias.data.shape)
    path = export_onnx(tmp_path / "ae.onnx", model)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    ins, outs = _io(proto)
    assert ins == {"x": ["N", 64]}
    want = {"code": ["N", 3], "reconstruction": ["N", 64]}
    if kind == "vae":
        want["logvar"] = ["N", 3]
    assert outs == want
    sess = _session(str(path))
    names = [o.name for o in sess.get_outputs()]
    model.eval()
    for n in (1, 9):
        x = rng.uniform(0, 1, (n, 64)).astype(np.float32)
        with no_grad():
            mu, logvar = model.encode(Tensor(x))
            recon = F.sigmoid(model.decode(mu)).numpy()
        got = dict(zip(names, sess.run(None, {"x": x})))
        np.testing.assert_allclose(got["code"], mu.numpy(), atol=ATOL)
        np.testing.assert_allclose(got["reconstruction"], recon, atol=ATOL)
        if kind == "vae":
            np.testing.assert_allclose(got["logvar"], logvar.numpy(), atol=ATOL)


def test_autoencoder_builder_checks_its_model():
    with pytest.raises(ValueError, match="Autoencoder"):
        autoencoder_to_onnx(DigitGAN(generator=np.random.default_rng(0)))


# -- dispatch and files ----------------------------------------------------------------------------
def test_unsupported_models_and_options_are_refused_and_nothing_is_written(tmp_path):
    from engine.labs.flow import FlowLab

    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match="ONNX export covers"):
        export_onnx(path, object())
    model = TinyTransformer(5, d_model=8, heads=2, layers=1, max_len=6,
                            generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="head"):
        model_to_onnx(model, head="softmax")
    assert not path.exists() and not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="ONNX"):
        FlowLab(seed=0).export_onnx(path)
    assert not path.exists()


def test_export_replaces_an_existing_file(tmp_path):
    path = tmp_path / "ae.onnx"
    path.write_bytes(b"old")
    model = Autoencoder("ae", 16, [8], 2, generator=np.random.default_rng(0))
    export_onnx(path, model)
    assert onnx.load(str(path)).graph.output[0].name == "code"
    assert [p.name for p in tmp_path.iterdir()] == ["ae.onnx"]
