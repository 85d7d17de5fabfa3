"""Recurrent lab (book ch. 10): the toy tasks, training reaches the task, the probe's heatmaps
and gradient meter agree with the model, clipping is measured, bad params are refused."""
import numpy as np
import pytest

from engine import backend
from engine.autodiff import Tensor, grad
from engine.data.recurrent_tasks import IGNORE, make_delayed_recall, make_sine_sequences
from engine.labs.recurrent import RecurrentLab


def test_delayed_recall_targets_are_the_token_d_steps_back():
    x, y = make_delayed_recall(50, 12, 3, 5, rng=1)
    assert x.shape == y.shape == (50, 12) and x.min() >= 0 and x.max() <= 4
    assert (y[:, :3] == IGNORE).all()
    np.testing.assert_array_equal(y[:, 3:], x[:, :-3])
    with pytest.raises(ValueError, match="delay"):
        make_delayed_recall(5, 4, 4, 3)


def test_sine_targets_are_the_next_clean_value():
    x, y, w = make_sine_sequences(20, 15, noise=0.0, rng=2)
    np.testing.assert_allclose(x[:, 1:], y[:, :-1], atol=1e-6)     # no noise: next = shifted
    assert ((0.15 <= w) & (w <= 0.6)).all()
    noisy, _, _ = make_sine_sequences(20, 15, noise=0.1, rng=2)
    assert 0.05 < np.std(noisy - x) < 0.15


@pytest.fixture(scope="module")
def trained():
    lab = RecurrentLab(seed=0)          # LSTM, recall d = 4 of T = 20
    lab.step(300)
    return lab


def test_lstm_learns_delayed_recall(trained):
    s = trained.snapshot()
    assert s.scalars["test_accuracy"] >= 0.95 and not s.alerts
    c = s.data["curves"]
    assert c["test_loss"][-1] < c["test_loss"][0] / 10


def test_probe_heatmaps_match_the_model(trained):
    d = trained.snapshot().data
    p = d["probe"]
    H, T = 16, 20
    assert p["hidden"].shape == (H, T) and set(p["gates"]) == {"i", "f", "g", "o", "c"}
    assert all(g.shape == (H, T) for g in p["gates"].values())
    for name in ("i", "f", "o"):
        assert 0 <= p["gates"][name].min() and p["gates"][name].max() <= 1
    # h = o * tanh(c), step by step
    np.testing.assert_allclose(p["hidden"], p["gates"]["o"] * np.tanh(p["gates"]["c"]),
                               atol=1e-6)
    # the prediction is the argmax of the probabilities; scored steps start at d
    np.testing.assert_array_equal(p["pred"], p["probs"].argmax(-1))
    assert (p["target"][:4] == IGNORE).all() and (p["target"][4:] == p["tokens"][:-4]).all()


def test_gradient_meter_is_the_gradient_of_the_last_steps_loss(trained):
    lab = trained
    p = lab.snapshot().data["probe"]
    dh = p["dh_norms"]
    assert dh.shape == (20,) and np.all(dh >= 0) and dh[-1] > 0
    # Recompute dL_T/dh_t by finite differences on h_{T-2}'s effect: check one entry exactly.
    x = Tensor(lab.Xte_dev[0:1])
    out = lab.model(x)
    from engine.nn import functional as F  # noqa: PLC0415
    loss = F.cross_entropy(out[0, -1].reshape(1, -1), np.array([lab.yte[0, -1]]))
    g = grad(loss, lab.model.rnn.states, allow_unused=True)
    assert float(np.linalg.norm(backend.to_numpy(g[-3].data))) == pytest.approx(dh[-3],
                                                                                rel=1e-5)


def test_gradient_norms_are_recorded_and_clipping_bounds_the_step():
    lab = RecurrentLab(seed=1, cell="rnn", lr=0.05, clip=0.5)
    lab.step(30)
    d = lab.snapshot().data
    assert d["grad_norms"].shape == (30,) and np.all(np.isfinite(d["grad_norms"]))
    assert list(d["norm_steps"]) == list(range(1, 31))
    lab.set_param("clip", 0.0)          # off: the norm is still measured
    lab.step(5)
    assert len(lab.snapshot().data["grad_norms"]) == 35


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_other_cells_and_the_sine_task(cell):
    lab = RecurrentLab(seed=0, cell=cell, task="sine", hidden=8, length=12)
    first = lab.snapshot().scalars["test_mse"]
    lab.step(150)
    s = lab.snapshot()
    assert s.scalars["test_mse"] < first / 2
    p = s.data["probe"]
    assert p["x"].shape == p["target"].shape == p["pred"].shape == (12,)
    assert set(p["gates"]) == ({"r", "z", "n"} if cell == "gru" else set())


def test_bad_params_change_nothing():
    lab = RecurrentLab(seed=0, length=10, delay=8)
    with pytest.raises(ValueError, match="smaller than the sequence length"):
        lab.set_param("delay", 10)
    with pytest.raises(ValueError, match="smaller than the sequence length"):
        lab.set_param("length", 8)
    assert lab.values["delay"] == 8 and lab.values["length"] == 10
    with pytest.raises(ValueError):
        RecurrentLab(seed=0, length=5, delay=9)


def test_divergence_stops_with_a_banner_naming_the_step():
    lab = RecurrentLab(seed=0, cell="rnn", task="sine")
    lab.step(3)
    lab.model.head.weight.data[...] = np.nan          # as an exploding run would leave it
    lab.step(5)
    s = lab.snapshot()
    assert lab.finished and lab.step_count == 4         # the diverged step, then no more
    assert s.alerts and "diverged at step 4" in s.alerts[0] and "learning rate" in s.alerts[0]


def test_replay_and_deep_copy_are_exact(trained):
    from engine.labs import replay  # noqa: PLC0415
    lab = RecurrentLab(seed=2, cell="gru", hidden=4, length=8, delay=2)
    lab.step(5)
    lab.set_param("lr", 0.02)
    lab.step(5)
    back = replay.step_back(lab, 3)
    ref = RecurrentLab(seed=2, cell="gru", hidden=4, length=8, delay=2)
    ref.step(5)
    ref.set_param("lr", 0.02)
    ref.step(2)
    for a, b in zip(back.model.parameters(), ref.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_model_file_round_trip_brings_its_task_along(tmp_path):
    src = RecurrentLab(seed=4, cell="gru", hidden=6, length=10, delay=6, vocab=3)
    src.step(40)
    path = tmp_path / "gru.safetensors"
    src.save_model(path)
    lab = RecurrentLab(seed=4)                        # LSTM, H 16, d 4, V 4 by default
    lab.load_model(path)
    assert (lab.values["cell"], lab.values["hidden"], lab.values["delay"],
            lab.values["vocab"], lab.values["length"]) == ("gru", 6, 6, 3, 10)
    assert lab.step_count == 40 and "GRU" in lab.notice
    a, b = src.snapshot().data["probe"], lab.snapshot().data["probe"]
    np.testing.assert_allclose(a["probs"], b["probs"], atol=1e-6)
    lab.step(3)
    assert lab.step_count == 43


def test_model_file_of_another_kind_changes_nothing(tmp_path):
    from engine.io.model_file import ModelFileError  # noqa: PLC0415
    from engine.labs.cnn import CNNLab  # noqa: PLC0415
    cnn = CNNLab(seed=0, n_train=500)
    cnn.save_model(tmp_path / "cnn.safetensors")
    lab = RecurrentLab(seed=0)
    before = [p.data.copy() for p in lab.model.parameters()]
    with pytest.raises(ModelFileError, match="recurrent sequence models"):
        lab.load_model(tmp_path / "cnn.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(ModelFileError):
        lab.load_model(tmp_path / "bad.safetensors")
    for p, q in zip(lab.model.parameters(), before):
        np.testing.assert_array_equal(p.data, q)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_onnx_export_matches_the_lab(tmp_path, cell):
    ort = pytest.importorskip("onnxruntime")
    for task in ("recall", "sine"):
        lab = RecurrentLab(seed=0, cell=cell, task=task, hidden=8, length=10, delay=3)
        lab.step(20)
        path = tmp_path / f"{cell}_{task}.onnx"
        lab.export_onnx(path)
        x = lab.Xte[:7]                                   # a batch size not seen in training
        (y,) = ort.InferenceSession(str(path)).run(None, {"x": x})
        np.testing.assert_allclose(y, lab.model(Tensor(x)).data, atol=1e-5)
