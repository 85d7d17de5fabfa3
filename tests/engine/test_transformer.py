"""Transformer lab (ch. 11.4): toy sequence tasks, the tiny transformer, what training learns
(anti-diagonal heads on reversal; no positions -> copy works, reverse fails), model files,
param validation, and PyTorch parity of the forward pass."""
from __future__ import annotations

import numpy as np
import pytest

from engine.autodiff import no_grad
from engine.data import make_sequence_task, n_outputs, sequence_targets
from engine.io.model_file import ModelFileError, read_model, save_model
from engine.labs.transformer import TransformerLab, parse_probe
from engine.nn.tiny_transformer import (
    TinyTransformer,
    attention_scale,
    validate_transformer_config,
)


# -- data ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("task, want", [
    ("copy", [3, 1, 2, 1, 0]),
    ("reverse", [0, 1, 2, 1, 3]),
    ("sort", [0, 1, 1, 2, 3]),
    ("shift", [0, 3, 1, 2, 1]),
    ("histogram", [1, 2, 1, 2, 1]),
])
def test_sequence_targets_by_hand(task, want):
    np.testing.assert_array_equal(sequence_targets(task, np.array([[3, 1, 2, 1, 0]])), [want])


def test_make_sequence_task_is_seeded_and_consistent():
    for task in ("copy", "reverse", "sort", "shift", "histogram"):
        X, Y = make_sequence_task(task, 50, 7, 5, rng=3)
        X2, _ = make_sequence_task(task, 50, 7, 5, rng=3)
        assert X.shape == Y.shape == (50, 7) and X.dtype == Y.dtype == np.int64
        np.testing.assert_array_equal(X, X2)
        assert X.min() >= 0 and X.max() <= 4
        np.testing.assert_array_equal(Y, sequence_targets(task, X))
    X, Y = make_sequence_task("histogram", 200, 6, 3, rng=0)
    # Each count equals the number of positions holding that token, checked the slow way.
    for x, y in zip(X[:20], Y[:20]):
        assert list(y) == [list(x).count(t) for t in x]
    assert n_outputs("histogram", 8, 4) == 9 and n_outputs("sort", 8, 4) == 4
    with pytest.raises(ValueError, match="copy, reverse"):
        make_sequence_task("rotate", 2, 4, 4)
    with pytest.raises(ValueError, match="vocab"):
        make_sequence_task("copy", 2, 4, 1)


# -- model ---------------------------------------------------------------------------------------
def _model(**kw):
    cfg = {"vocab": 6, "d_model": 16, "heads": 2, "layers": 2, "max_len": 10}
    cfg.update(kw)
    return TinyTransformer(generator=np.random.default_rng(0), **cfg)


def test_shapes_rows_sum_to_one_and_causal_mask():
    X = np.random.default_rng(0).integers(0, 6, (3, 7))
    for pos in ("sinusoidal", "learned", "none"):
        m = _model(pos=pos, out_vocab=9)
        with no_grad():
            logits, ws = m(X, return_attention=True)
        assert logits.shape == (3, 7, 9)
        assert len(ws) == 2 and all(w.shape == (3, 2, 7, 7) for w in ws)
        np.testing.assert_allclose(ws[0].data.sum(-1), 1.0, atol=1e-5)
    with no_grad():
        _, ws = _model(causal=True)(X, return_attention=True)
    assert np.all(ws[1].data[..., np.triu_indices(7, 1)[0], np.triu_indices(7, 1)[1]] == 0)
    with pytest.raises(ValueError, match="max_len"):
        _model()(np.zeros((1, 11), np.int64))


def test_score_scales_and_temperature():
    assert attention_scale("sqrt_dk", 16, 8) == pytest.approx(0.25)     # E1: 1/sqrt(d_k)
    assert attention_scale("sqrt_n", 16, 8) == pytest.approx(8 ** -0.5)  # the book's
    assert attention_scale("1", 16, 8, temperature=2.0) == pytest.approx(0.5)
    m = _model()
    X = np.random.default_rng(1).integers(0, 6, (4, 8))

    def entropy(T):
        with no_grad():
            _, ws = m(X, return_attention=True, temperature=T)
        w = ws[0].data
        return float(-(w * np.log(w)).sum(-1).mean())
    assert entropy(0.2) < entropy(1.0) < entropy(5.0) < np.log(8) + 1e-6
    with pytest.raises(ValueError, match="temperature"):
        attention_scale("sqrt_dk", 16, 8, temperature=0.0)


def test_without_positions_the_encoder_is_permutation_equivariant():
    m = _model(pos="none")
    X = np.random.default_rng(2).integers(0, 6, (2, 8))
    perm = np.random.default_rng(3).permutation(8)
    with no_grad():
        a = m(X).data
        b = m(X[:, perm]).data
    np.testing.assert_allclose(b, a[:, perm], atol=1e-5)


def test_config_validation():
    good = validate_transformer_config({"vocab": 10, "d_model": 32, "heads": 2, "layers": 1,
                                        "max_len": 16})
    assert good["ff"] == 64 and good["out_vocab"] == 10 and good["pos"] == "sinusoidal"
    for bad, msg in (({"heads": 3}, "divisible"), ({"pos": "rope"}, "pos"),
                     ({"scale": "2"}, "scale"), ({"vocab": 1}, "vocab"),
                     ({"causal": "yes"}, "causal"), ({"dropout": 0.1}, "unknown")):
        cfg = {"vocab": 10, "d_model": 32, "heads": 2, "layers": 1, "max_len": 16, **bad}
        with pytest.raises(ValueError, match=msg):
            validate_transformer_config(cfg)


# -- what training learns ------------------------------------------------------------------------
def _mirror_fraction(lab):
    """Per (layer, head): fraction of held-out queries whose largest weight sits on the
    mirrored position L-1-i."""
    with no_grad():
        _, ws = lab.model(lab.Xe_dev[:128], return_attention=True)
    L = lab.values["length"]
    mirror = L - 1 - np.arange(L)
    return np.array([(w.data.argmax(-1) == mirror).mean(axis=(0, 2)) for w in ws])


def test_default_lab_learns_reversal_with_anti_diagonal_heads():
    lab = TransformerLab(seed=0)       # defaults: reverse, n = 8, V = 10, 2 layers x 2 heads
    assert lab.values["task"] == "reverse" and lab.values["length"] == 8
    lab.step(300)
    snap = lab.snapshot()
    assert snap.scalars["token_accuracy"] >= 0.95
    frac = _mirror_fraction(lab)
    assert frac.max() >= 0.9, frac
    assert snap.scalars["best_head_alignment"] == pytest.approx(frac.max(), abs=0.05)
    att = snap.data["attention"]
    assert att.shape == (2, 2, 8, 8)
    # Sharpening the softmax (T < 1) at read-out lowers the entropy, without retraining.
    ent = snap.scalars["attention_entropy"]
    lab.set_param("temperature", 0.3)
    assert lab.snapshot().scalars["attention_entropy"] < ent and lab.step_count == 300


def test_without_positional_encoding_copy_works_but_reverse_fails():
    small = {"length": 6, "vocab": 6, "layers": 1, "heads": 1, "d_model": 16, "pos": "none"}
    copy = TransformerLab(seed=1, task="copy", **small)
    rev = TransformerLab(seed=1, task="reverse", **small)
    copy.step(150)
    rev.step(150)
    assert copy.snapshot().scalars["token_accuracy"] >= 0.95
    # Every output position sees the same bag of tokens: it can only guess from token counts.
    assert rev.snapshot().scalars["token_accuracy"] < 0.5


@pytest.mark.parametrize("task", ["sort", "histogram", "shift"])
def test_other_tasks_run_and_improve(task):
    lab = TransformerLab(seed=0, task=task, layers=1, length=6, vocab=5)
    before = lab.snapshot().scalars["token_accuracy"]
    lab.step(100)
    snap = lab.snapshot()
    assert snap.scalars["token_accuracy"] > before
    assert snap.data["probe_probs"].shape[1] == n_outputs(task, 6, 5)


# -- model files ---------------------------------------------------------------------------------
def test_model_file_round_trip_gives_identical_logits(tmp_path):
    m = _model(pos="learned", causal=True, scale="sqrt_n", out_vocab=7)
    path = save_model(tmp_path / "t.safetensors", m, {"kind": "transformer", **m.config})
    mf = read_model(path)
    X = np.random.default_rng(0).integers(0, 6, (3, 9))
    with no_grad():
        np.testing.assert_array_equal(mf.model(X).data, m(X).data)
    assert mf.architecture["causal"] is True and mf.architecture["scale"] == "sqrt_n"


def test_lab_save_and_load_restore_model_and_settings(tmp_path):
    lab = TransformerLab(seed=0, task="copy", layers=1, d_model=24, heads=3, length=6)
    lab.step(30)
    lab.save_model(tmp_path / "m.safetensors")
    other = TransformerLab(seed=5)
    other.load_model(tmp_path / "m.safetensors")
    assert (other.values["task"], other.values["d_model"], other.values["heads"],
            other.values["length"]) == ("copy", 24, 3, 6)
    assert other.step_count == 30
    X = lab.Xe[:4]
    with no_grad():
        np.testing.assert_array_equal(other.model(X).data, lab.model(X).data)
    other.step(2)                      # it keeps training


def test_lab_exports_the_trained_model_to_onnx(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    lab = TransformerLab(seed=0, task="reverse", layers=2, d_model=24, heads=2, length=6,
                         causal=True, scale="sqrt_n")
    lab.step(40)
    lab.set_param("temperature", 3.0)  # a read-out setting: the export is the trained model
    path = tmp_path / "m.onnx"
    lab.export_onnx(path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    X = np.asarray(lab.Xe[:11])
    logits, probs = sess.run(None, {"tokens": X.astype(np.int64)})
    with no_grad():
        ref = lab.model(X).numpy()
    assert logits.shape == (11, 6, lab.model.config["out_vocab"])
    # float32 sums in another order: a few ulps of logits that grow with training
    np.testing.assert_allclose(logits, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    short = X[:3, :4]                  # other lengths too, up to max_len
    with no_grad():
        np.testing.assert_allclose(sess.run(None, {"tokens": short.astype(np.int64)})[0],
                                   lab.model(short).numpy(), rtol=1e-5, atol=1e-5)


def test_load_refuses_other_kinds(tmp_path):
    from engine.nn import MLP
    mlp = MLP([2, 3, 2], generator=np.random.default_rng(0))
    save_model(tmp_path / "mlp.safetensors", mlp, {"kind": "mlp", **mlp.config})
    lab = TransformerLab(seed=0)
    before = dict(lab.values)
    with pytest.raises(ModelFileError, match="transformers"):
        lab.load_model(tmp_path / "mlp.safetensors")
    assert lab.values == before


# -- params --------------------------------------------------------------------------------------
def test_param_validation_changes_nothing_on_error():
    lab = TransformerLab(seed=0)
    before = dict(lab.values)
    with pytest.raises(ValueError, match="divisible"):
        lab.set_param("heads", 3)           # d_model 32 does not split into 3 heads
    with pytest.raises(ValueError, match="tokens"):
        lab.set_param("probe", "12x!")
    with pytest.raises(ValueError, match="vocabulary"):
        lab.set_param("probe", "12ab")      # a = 10, b = 11 are outside V = 10
    with pytest.raises(ValueError, match="one of"):
        lab.set_param("task", "rotate")
    with pytest.raises(ValueError, match=r"\[4, 16\]"):
        lab.set_param("length", 20)
    with pytest.raises(ValueError, match="even"):
        lab.set_param("d_model", 18 - 1)    # sin/cos come in pairs
    assert lab.values == before
    lab.set_param("d_model", 48)
    lab.set_param("heads", 3)               # 48 = 3 x 16 is fine
    assert lab.model.head_dim == 16


def test_probe_text():
    assert parse_probe(" 3 1, 4 1 ") == "3141"
    assert parse_probe("ABC") == "abc"
    with pytest.raises(ValueError, match="at most 16"):
        parse_probe("1" * 17)
    lab = TransformerLab(seed=0)
    lab.set_param("probe", "129")           # shorter than the training length: allowed
    snap = lab.snapshot()
    np.testing.assert_array_equal(snap.data["probe_target"], [9, 2, 1])
    assert snap.data["attention"].shape == (2, 2, 3, 3)
    assert "length generalisation" in snap.text["probe_note"]
    lab.set_param("vocab", 4)               # the typed probe leaves the vocabulary
    assert "held-out" in lab.snapshot().text["probe_note"]


# -- PyTorch parity ------------------------------------------------------------------------------
@pytest.mark.torch
def test_forward_matches_pytorch():
    torch = pytest.importorskip("torch")
    for causal in (False, True):
        m = _model(causal=causal, out_vocab=7)
        X = np.random.default_rng(0).integers(0, 6, (3, 8))
        layers = []
        for layer in m.layers:
            t = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
            t.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in
                               layer.state_dict().items()})
            layers.append(t.eval())
        emb = torch.tensor(m.embed.weight.data)[torch.tensor(X)]
        h = emb + torch.tensor(m.positional_encoding(8))
        mask = torch.nn.Transformer.generate_square_subsequent_mask(8) if causal else None
        with torch.no_grad():
            for t in layers:
                h = t(h, src_mask=mask, is_causal=causal)
            want = h @ torch.tensor(m.head.weight.data).T + torch.tensor(m.head.bias.data)
        with no_grad():
            got = m(X).data
        np.testing.assert_allclose(got, want.numpy(), atol=2e-5)
