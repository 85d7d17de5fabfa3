"""Image GAN lab (book 12.5): losses at the game's fixed point, backends, training sanity,
interpolation, model files and bad input."""
import math

import numpy as np
import pytest

from engine import backend
from engine.autodiff import Tensor
from engine.io.model_file import ModelFileError, read_model
from engine.labs.image_gan import DigitGAN, ImageGANLab, interpolate, validate_gan_config

SMALL = dict(n_train=500, width=64)


def test_interpolation_paths():
    rng = np.random.default_rng(0)
    za, zb = rng.standard_normal(32), rng.standard_normal(32)
    for kind in ("linear", "slerp"):
        p = interpolate(za, zb, 7, kind)
        assert p.shape == (7, 32)
        assert p[0] == pytest.approx(za) and p[-1] == pytest.approx(zb)
    s = interpolate(za, zb, 5, "slerp")
    norms = np.linalg.norm(s, axis=1)
    assert norms == pytest.approx(np.linspace(np.linalg.norm(za), np.linalg.norm(zb), 5))
    mid = interpolate(za, zb, 3, "linear")[1]
    assert np.linalg.norm(mid) < norms[2] * 0.9          # the straight line cuts inside
    with pytest.raises(ValueError, match="slerp, linear"):
        interpolate(za, zb, 3, "cubic")


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_networks_shapes_and_range(arch):
    gan = DigitGAN(arch, 8, 64, 16, generator=np.random.default_rng(0))
    z = Tensor(np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32))
    x = gan.generator(z)
    assert x.shape == (5, 1, 16, 16) and np.abs(x.numpy()).max() < 1
    assert gan.discriminator(x).shape == (5,)
    assert validate_gan_config(gan.config) == gan.config
    for bad in ({"arch": "rnn", "latent": 8, "width": 64, "size": 16},
                {"arch": "mlp", "latent": 0, "width": 64, "size": 16},
                {"arch": "conv", "latent": 8, "width": 64, "size": 18}):
        with pytest.raises(ValueError):
            validate_gan_config(bad)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_one_training_step_matches_numpy_on_every_backend(xp, arch):
    ref = ImageGANLab(seed=0, backend_name="numpy", arch=arch, **SMALL)
    lab = ImageGANLab(seed=0, backend_name="cupy" if xp is not np else "numpy", arch=arch,
                      **SMALL)
    assert backend.xp_of(lab.Xtr_dev) is xp
    assert backend.xp_of(next(lab.model.parameters()).data) is xp
    ref.step(1)
    lab.step(1)
    for (name, a), (_, b) in zip(ref.model.state_dict().items(),
                                 lab.model.state_dict().items()):
        np.testing.assert_allclose(backend.to_numpy(b), a, rtol=1e-4, atol=1e-5, err_msg=name)
    sa, sb = ref.snapshot(), lab.snapshot()
    np.testing.assert_allclose(sb.data["samples"], sa.data["samples"], atol=1e-4)
    assert sb.scalars["loss_d"] == pytest.approx(sa.scalars["loss_d"], rel=1e-4)


@pytest.fixture(scope="module")
def trained():
    lab = ImageGANLab(seed=0, n_train=2000)
    first = lab.snapshot()
    lab.step(300)
    return lab, first


def test_samples_are_images_in_range(trained):
    lab, _ = trained
    d = lab.snapshot().data
    assert d["samples"].shape == (64, 16, 16) and d["interp_images"].shape == (10, 16, 16)
    for key in ("samples", "interp_images", "real"):
        assert d[key].min() >= 0 and d[key].max() <= 1
    assert d["d_hist"]["real"].sum() == d["d_hist"]["fake"].sum() == 256


def test_training_changes_the_generator_and_the_game_stays_open(trained):
    lab, first = trained
    snap = lab.snapshot()
    change = np.abs(snap.data["samples"] - first.data["samples"]).mean()
    assert change > 0.05
    acc = np.asarray(lab.hist["d_accuracy"][1:])
    assert 0.0 < acc.min() and acc.max() < 1.0          # D never wins or loses outright
    assert 0.5 < snap.scalars["d_accuracy"] < 0.99
    assert snap.scalars["d_real"] > snap.scalars["d_fake"]
    assert len(lab.hist["step"]) == 1 + 300 // 25


def test_interpolation_actions_redraw_one_end(trained):
    lab, _ = trained
    ends = lab.z_ends.copy()
    strip = lab.snapshot().data["interp_images"]
    lab.do_action("new_start")
    assert not np.allclose(lab.z_ends[0], ends[0]) and np.allclose(lab.z_ends[1], ends[1])
    lab.do_action("new_end")
    assert not np.allclose(lab.z_ends[1], ends[1])
    assert not np.allclose(lab.snapshot().data["interp_images"], strip)
    with pytest.raises(ValueError, match="new_start, new_end"):
        lab.do_action("new_middle")


def test_model_file_round_trip_and_continue_training(trained, tmp_path):
    lab, _ = trained
    path = tmp_path / "gan.safetensors"
    lab.save_model(path)
    assert read_model(path).architecture == {"kind": "image_gan", **lab.model.config}
    other = ImageGANLab(seed=0, arch="conv", **SMALL)
    other.load_model(path)
    assert (other.values["arch"], other.values["width"]) == ("mlp", 128)
    assert other.step_count == lab.step_count
    # Batch-norm running statistics travel with the weights, so samples are identical.
    np.testing.assert_array_equal(other.snapshot().data["samples"],
                                  lab.snapshot().data["samples"])
    other.step(3)
    assert other.step_count == lab.step_count + 3


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_lab_exports_the_generator_to_onnx(tmp_path, arch):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    lab = ImageGANLab(seed=0, arch=arch, **SMALL)
    lab.step(5)                        # batch-norm running statistics move off 0 / 1
    path = tmp_path / "gan.onnx"
    lab.export_onnx(path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    z = np.random.default_rng(1).standard_normal((13, lab.values["latent"]))
    images, pixels = sess.run(None, {"z": z.astype(np.float32)})
    assert images.shape == (13, 1, 16, 16)
    # the lab's display images: eval-mode generator scaled to [0, 1]
    np.testing.assert_allclose(pixels[:, 0], lab._generate(z), atol=1e-5)
    np.testing.assert_allclose(images, 2 * pixels - 1, atol=1e-5)
    assert lab.model.generator.training          # the lab's model is left as it was


def test_loading_an_autoencoder_is_refused(tmp_path):
    from engine.labs.autoencoder import AutoencoderLab

    AutoencoderLab(seed=0, n_train=500, hidden="16").save_model(tmp_path / "ae.safetensors")
    lab = ImageGANLab(seed=0, **SMALL)
    before = lab.snapshot().data["samples"]
    with pytest.raises(ModelFileError, match="GAN"):
        lab.load_model(tmp_path / "ae.safetensors")
    np.testing.assert_array_equal(lab.snapshot().data["samples"], before)


def test_minimax_loss_and_several_d_steps_run():
    lab = ImageGANLab(seed=0, loss="minimax", d_steps=3, **SMALL)
    lab.step(2)
    assert lab.epoch >= 1 and math.isfinite(lab.snapshot().scalars["loss_g"])
    assert lab.snapshot().scalars["loss_g"] < 0      # log(1 - D) is negative


@pytest.mark.parametrize("name, value", [
    ("arch", "resnet"), ("latent", 1), ("width", 2048), ("loss", "wgan"), ("lr", 1.0),
    ("d_steps", 0), ("batch_size", 4), ("interpolation", "cubic"), ("n_train", 100)])
def test_bad_params_change_nothing(name, value):
    lab = ImageGANLab(seed=0, **SMALL)
    before = dict(lab.values)
    with pytest.raises(ValueError, match=name):
        lab.set_param(name, value)
    assert lab.values == before


def test_divergence_is_reported():
    lab = ImageGANLab(seed=0, **SMALL)
    lab.model.discriminator.out.weight.data[...] = np.nan
    lab.step(3)
    assert lab.finished and "diverged" in lab.snapshot().alerts[0]
