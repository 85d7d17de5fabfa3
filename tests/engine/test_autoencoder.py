"""Autoencoder lab and the VAE maths (book 12.2-12.4): spec vectors, the reparameterisation
gradient, latent-class separation, denoising, model files and bad input."""
import math

import numpy as np
import pytest

from engine import backend
from engine import vae_math as vm
from engine.autodiff import Tensor, gradcheck
from engine.io.model_file import ModelFileError, read_model
from engine.labs.autoencoder import (
    Autoencoder,
    AutoencoderLab,
    parse_hidden,
    validate_autoencoder_config,
)

SMALL = dict(n_train=1000, hidden="64")


# -- maths ------------------------------------------------------------------------------------
def test_ae_loss_squares_the_error_e9():
    x, x_hat = np.array([1.0, 2.0]), np.array([1.5, 1.5])
    assert float(vm.reconstruction_mse(x, x_hat).item()) == pytest.approx(0.25)
    assert float(np.mean(x - x_hat)) == 0.0       # the book's unsquared formula


def test_kl_spec_vector_and_zero_at_the_prior():
    kl = vm.kl_std_normal(np.array([[0.5, -1.0], [0.0, 0.0]]),
                          np.array([[0.0, math.log(0.25)], [0.0, 0.0]]))
    assert kl.shape == (2,)
    assert kl.numpy() == pytest.approx([0.943147, 0.0], abs=1e-6)


def test_kl_matches_a_reparameterised_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    mu, logvar = np.array([[0.5, -1.0]]), np.array([[0.0, math.log(0.25)]])
    z = vm.reparameterize(np.repeat(mu, 200_000, 0), np.repeat(logvar, 200_000, 0),
                          rng).numpy()
    sig2 = np.exp(logvar)
    log_q = -0.5 * (np.log(2 * np.pi * sig2) + (z - mu) ** 2 / sig2).sum(1)
    log_p = -0.5 * (np.log(2 * np.pi) + z ** 2).sum(1)
    assert float(np.mean(log_q - log_p)) == pytest.approx(0.943147, abs=0.01)


def test_reparameterisation_gradient_reaches_mu_and_logvar():
    rng = np.random.default_rng(1)
    mu = Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    logvar = Tensor(rng.normal(size=(3, 2)) * 0.5, requires_grad=True)
    eps = rng.standard_normal((3, 2))
    assert gradcheck(lambda m, lv: vm.reparameterize(m, lv, None, eps=eps), [mu, logvar])
    # dz/dmu = 1 and dz/dlogvar = sigma * eps / 2, element by element.
    vm.reparameterize(mu, logvar, None, eps=eps).sum().backward()
    assert mu.grad.numpy() == pytest.approx(np.ones((3, 2)))
    assert logvar.grad.numpy() == pytest.approx(0.5 * np.exp(0.5 * logvar.data) * eps)


def test_vae_loss_terms_and_their_gradients():
    rng = np.random.default_rng(2)
    x = rng.random((4, 6))
    logits = Tensor(rng.normal(size=(4, 6)), requires_grad=True)
    mu = Tensor(rng.normal(size=(4, 2)), requires_grad=True)
    logvar = Tensor(rng.normal(size=(4, 2)) * 0.3, requires_grad=True)
    total, recon, kl = vm.vae_loss(x, logits, mu, logvar, beta=0.5)
    p = 1 / (1 + np.exp(-logits.data))
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum() / 4
    assert float(recon.item()) == pytest.approx(bce)
    assert float(kl.item()) == pytest.approx(vm.kl_std_normal(mu, logvar).numpy().mean())
    assert float(total.item()) == pytest.approx(bce + 0.5 * float(kl.item()))
    assert gradcheck(lambda a, b, c: vm.vae_loss(x, a, b, c, 0.5)[0], [logits, mu, logvar])
    with pytest.raises(ValueError, match="beta"):
        vm.vae_loss(x, logits, mu, logvar, beta=-1)


def test_corruptions():
    rng = np.random.default_rng(3)
    x = np.full((200, 50), 0.5, np.float32)
    g = vm.corrupt(x, "gaussian", 0.3, rng)
    assert g.shape == x.shape and g.dtype == x.dtype and np.all(x == 0.5)
    assert float(np.std(g - x)) == pytest.approx(0.3, rel=0.05)
    m = vm.corrupt(x, "masking", 0.25, rng)
    assert float(np.mean(m == 0)) == pytest.approx(0.25, abs=0.02)
    assert set(np.unique(m)) <= {0.0, 0.5}
    sp = vm.corrupt(x, "salt_pepper", 0.4, rng)
    assert float(np.mean(sp != 0.5)) == pytest.approx(0.4, abs=0.02)
    assert set(np.unique(sp)) == {0.0, 0.5, 1.0}
    assert np.array_equal(vm.corrupt(x, "gaussian", 0.0, rng), x)
    with pytest.raises(ValueError, match="gaussian, masking, salt_pepper"):
        vm.corrupt(x, "blur", 0.1, rng)
    with pytest.raises(ValueError, match="probability"):
        vm.corrupt(x, "masking", 1.5, rng)


def test_nearest_centroid_accuracy():
    z_tr = np.array([[0, 0], [0, 1], [10, 0], [10, 1]], float)
    y_tr = np.array([0, 0, 1, 1])
    assert vm.nearest_centroid_accuracy(z_tr, y_tr, [[1, 0], [9, 0], [6, 0]], [0, 1, 0],
                                        n_classes=2) == pytest.approx(2 / 3)


# -- the model --------------------------------------------------------------------------------
def test_model_config_and_shapes():
    m = Autoencoder("vae", 256, [32, 16], 2, "tanh", generator=np.random.default_rng(0))
    x = Tensor(np.random.default_rng(1).random((5, 256)).astype(np.float32))
    logits, mu, logvar, z = m(x, rng=np.random.default_rng(2))
    assert logits.shape == (5, 256) and mu.shape == (5, 2) and logvar.shape == (5, 2)
    assert not np.allclose(z.numpy(), mu.numpy())
    ae = Autoencoder.from_config({"model": "ae", "input": 256, "hidden": [8], "latent": 2})
    assert ae.encode(x)[1] is None
    for bad in ({"model": "gan", "input": 256, "hidden": [8], "latent": 2},
                {"model": "ae", "input": 256, "hidden": [], "latent": 2},
                {"model": "ae", "input": 256, "hidden": [8], "latent": 0},
                {"model": "ae", "input": 256, "hidden": [8], "latent": 2, "activation": "x"}):
        with pytest.raises(ValueError):
            validate_autoencoder_config(bad)
    assert parse_hidden(" 64 ; 32 ") == "64,32"
    for bad in ("", "0", "4", "1,2,3,4", "a"):
        with pytest.raises(ValueError):
            parse_hidden(bad)


# -- the lab ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vae():
    """The documented defaults, trained briefly (seed 0)."""
    lab = AutoencoderLab(seed=0)
    lab.step(400)
    return lab


def test_vae_latent_space_separates_digit_classes(vae):
    snap = vae.snapshot()
    assert snap.data["model"] == "vae"
    assert snap.scalars["latent_centroid_accuracy"] >= 0.70
    assert snap.scalars["kl"] > 0


def test_snapshot_pictures(vae):
    d = vae.snapshot().data
    n = d["grid_size"]
    assert d["grid_images"].shape == (n * n, 16, 16)
    assert d["latent"].shape == (500, 2) and d["labels"].shape == (500,)
    for key in ("grid_images", "decoded", "interp_images", "recon_output"):
        assert d[key].min() >= 0 and d[key].max() <= 1
    assert d["interp_images"].shape == (10, 16, 16)
    ia, ib = vae._pair()
    assert (d["labels"][ia], d["labels"][ib]) == tuple(d["interp_labels"])
    assert d["interp_path"][0] == pytest.approx(d["latent"][ia])
    assert d["interp_path"][-1] == pytest.approx(d["latent"][ib])
    assert set(d["probe"]) >= {"mu", "sigma", "eps", "z", "kl", "ellipse"}
    p = d["probe"]
    assert p["z"] == pytest.approx(p["mu"] + p["sigma"] * p["eps"])


def test_latent_sliders_decode_that_point(vae):
    vae.do_action("set_latent", z1=1.5, z2=-0.5)
    d = vae.snapshot().data
    assert d["z_point"] == pytest.approx([1.5, -0.5])
    assert d["decoded"] == pytest.approx(vae._decode([[1.5, -0.5]])[0], abs=1e-6)
    before = d["decoded"]
    vae.set_param("z1", -2.0)
    assert not np.allclose(vae.snapshot().data["decoded"], before)
    pair = vae._pair()
    vae.do_action("new_pair")
    assert vae._pair() != pair


def test_dae_reconstructs_clean_digits_better_than_the_noisy_input():
    lab = AutoencoderLab(seed=0, model="dae", n_train=2000)
    untrained = lab.snapshot().scalars["denoised_mse"]
    lab.step(200)
    s = lab.snapshot().scalars
    assert s["denoised_mse"] < s["noisy_mse"] / 3
    assert s["denoised_mse"] < untrained / 2
    d = lab.snapshot().data
    assert not np.allclose(d["recon_input"], d["recon_clean"])
    # Better than the best guess that ignores the input (the mean training digit), so the
    # network reads the noisy digit rather than drawing an average one.
    clean = d["recon_clean"].reshape(len(d["recon_clean"]), -1)
    assert s["denoised_mse"] < 0.8 * float(np.mean((lab.Xtr.mean(0) - clean) ** 2))


def test_plain_ae_trains_on_the_squared_error():
    lab = AutoencoderLab(seed=0, model="ae", **SMALL)
    first = lab.hist["recon"][0]
    lab.step(100)
    assert lab.hist["recon"][-1] < first / 2
    assert "kl" not in lab.snapshot().scalars


def test_model_file_round_trip_and_continue_training(vae, tmp_path):
    path = tmp_path / "vae.safetensors"
    vae.save_model(path)
    mf = read_model(path)
    assert mf.architecture == {"kind": "autoencoder", **vae.model.config}
    assert mf.step == vae.step_count
    other = AutoencoderLab(seed=0, model="ae", hidden="64")    # same digits, other net
    other.load_model(path)
    assert other.values["model"] == "vae" and other.values["hidden"] == "256,128"
    assert other.step_count == vae.step_count
    a, b = vae.snapshot().data, other.snapshot().data
    np.testing.assert_array_equal(a["recon_output"], b["recon_output"])
    np.testing.assert_array_equal(a["grid_images"], b["grid_images"])
    other.step(5)
    assert other.step_count == vae.step_count + 5


@pytest.mark.parametrize("model", ["ae", "vae"])
def test_lab_exports_encoder_and_decoder_to_onnx(tmp_path, model):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    lab = AutoencoderLab(seed=0, model=model, **SMALL)
    lab.step(10)
    path = tmp_path / "ae.onnx"
    lab.export_onnx(path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    assert names == (["code", "logvar", "reconstruction"] if model == "vae"
                     else ["code", "reconstruction"])
    x = np.asarray(lab.Xte[:17], np.float32)
    out = dict(zip(names, sess.run(None, {"x": x})))
    # the lab's latent codes (means) and its reconstruction panels
    np.testing.assert_allclose(out["code"], lab._codes(lab.Xte_dev[:17]), atol=1e-5)
    np.testing.assert_allclose(out["reconstruction"], lab._reconstruct(lab.Xte_dev[:17]),
                               atol=1e-5)


def test_loading_another_kind_of_model_is_refused(tmp_path):
    from engine.labs.cnn import CNNLab

    cnn = CNNLab(seed=0, n_train=500)
    cnn.save_model(tmp_path / "cnn.safetensors")
    lab = AutoencoderLab(seed=0, **SMALL)
    before = lab.snapshot().data["recon_output"]
    with pytest.raises(ModelFileError, match="autoencoder"):
        lab.load_model(tmp_path / "cnn.safetensors")
    np.testing.assert_array_equal(lab.snapshot().data["recon_output"], before)


@pytest.mark.parametrize("name, value", [
    ("model", "gan"), ("hidden", "0"), ("hidden", "8,8,8,8"), ("beta", -0.1), ("beta", 5),
    ("noise_level", 1.5), ("corruption", "blur"), ("z1", 9), ("digit_a", 10), ("lr", 0),
    ("batch_size", 1000), ("n_train", 10)])
def test_bad_params_change_nothing(name, value):
    lab = AutoencoderLab(seed=0, **SMALL)
    before = dict(lab.values)
    with pytest.raises(ValueError, match=name):
        lab.set_param(name, value)
    assert lab.values == before


def test_bad_actions_change_nothing():
    lab = AutoencoderLab(seed=0, **SMALL)
    with pytest.raises(ValueError, match="z2"):
        lab.do_action("set_latent", z1=1.0, z2=100.0)
    assert (lab.values["z1"], lab.values["z2"]) == (0.0, 0.0)
    with pytest.raises(ValueError, match="needs arguments"):
        lab.do_action("set_latent", z1=1.0)
    with pytest.raises(ValueError, match="set_latent, new_pair"):
        lab.do_action("explode")


def test_divergence_is_reported():
    lab = AutoencoderLab(seed=0, model="ae", lr=0.1, **SMALL)
    lab.model.decoder.layers[0].weight.data[...] = np.nan
    lab.step(3)
    assert lab.finished and "diverged" in lab.snapshot().alerts[0]


def test_one_step_matches_numpy_on_every_backend(xp):
    """The CuPy lab draws the same numbers as the NumPy one, so one step agrees."""
    ref = AutoencoderLab(seed=0, backend_name="numpy", **SMALL)
    lab = AutoencoderLab(seed=0, backend_name="cupy" if xp is not np else "numpy", **SMALL)
    assert backend.xp_of(lab.Xtr_dev) is xp
    ref.step(2)
    lab.step(2)
    for (_, a), (_, b) in zip(ref.model.state_dict().items(), lab.model.state_dict().items()):
        np.testing.assert_allclose(backend.to_numpy(b), a, rtol=1e-4, atol=1e-5)
