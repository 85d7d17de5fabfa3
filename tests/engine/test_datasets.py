"""Datasets lab (section 7.8): seeded splits, standardization with training statistics,
one-hot targets, the housing stand-in, CSV load/save, and bad input refused unchanged."""
import numpy as np
import pytest

from engine.data import HOUSING_FEATURES, DataFileError, load_points_csv, one_hot
from engine.labs.datasets import GENERATORS, DatasetsLab, parse_glyph_classes


def _parts(lab):
    return [np.asarray(lab.parts[s]) for s in ("train", "val", "test")]


def test_spec_vector_split_800_100_100_disjoint_and_complete():
    lab = DatasetsLab(seed=0, generator="moons", n=1000, val_frac=0.1, test_frac=0.1)
    tr, va, te = _parts(lab)
    assert (len(tr), len(va), len(te)) == (800, 100, 100)
    snap = lab.snapshot()
    assert snap.data["sizes"].tolist() == [800, 100, 100]
    assert (snap.scalars["n_train"], snap.scalars["n_val"], snap.scalars["n_test"]) == \
        (800, 100, 100)
    allidx = np.concatenate([tr, va, te])
    assert np.array_equal(np.sort(allidx), np.arange(1000))   # disjoint and covering
    assert "800" in snap.text["sizes"] and "100" in snap.text["sizes"]


@pytest.mark.parametrize("generator", GENERATORS[:-1])   # every generator but csv
def test_every_generator_splits_and_snapshots(generator):
    lab = DatasetsLab(seed=3, generator=generator, n=200, val_frac=0.2, test_frac=0.15)
    tr, va, te = _parts(lab)
    assert (len(tr), len(va), len(te)) == (130, 40, 30)
    snap = lab.snapshot()
    assert not snap.alerts
    assert snap.text["equation"] and snap.text["table"]
    h = snap.data["hist"]
    for edges, counts in h["raw"] + h["z"]:
        assert len(edges) == len(counts) + 1 and counts.sum() > 0


def test_moving_a_split_slider_moves_the_cut_not_the_shuffle():
    lab = DatasetsLab(seed=5, generator="xor", n=500)
    X0 = lab._raw["X"].copy()
    train_before = set(_parts(lab)[0].tolist())
    lab.set_param("val_frac", 0.3)
    assert np.array_equal(lab._raw["X"], X0)          # same data
    train_after = set(_parts(lab)[0].tolist())
    assert len(train_after) == 300 and train_after < train_before


def test_standardize_uses_training_statistics():
    lab = DatasetsLab(seed=1, generator="housing", n=600)
    tr, va, _ = _parts(lab)
    X = lab._raw["X"].astype(np.float64)
    mu, sd = lab.stats
    np.testing.assert_allclose(mu, X[tr].mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(sd, X[tr].std(axis=0), rtol=1e-9)
    z_tr = (X[tr] - mu) / sd
    np.testing.assert_allclose(z_tr.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(z_tr.std(axis=0), 1.0, atol=1e-9)
    # Held-out parts reuse the training statistics, so they are only close to 0 / 1.
    z_va = (X[va] - mu) / sd
    assert np.abs(z_va.mean(axis=0)).max() > 1e-6
    # The standardized histogram is the training part's z of the chosen feature.
    lab.set_param("feature", "tax")
    j = HOUSING_FEATURES.index("tax")
    edges, counts = lab.snapshot().data["hist"]["z"][0]
    assert counts.sum() == len(tr)
    assert edges[0] == pytest.approx(z_tr[:, j].min(), rel=1e-5)
    assert edges[-1] == pytest.approx(z_tr[:, j].max(), rel=1e-5)


def test_standardize_toggle_changes_the_view_not_the_data():
    lab = DatasetsLab(seed=2, generator="blobs", n=300)
    parts_before = {s: lab.parts[s].copy() for s in lab.parts}
    raw_x = np.asarray(lab.snapshot().data["parts"]["train"]["x"])
    lab.set_param("standardize", True)
    assert all(np.array_equal(lab.parts[s], parts_before[s]) for s in lab.parts)
    z = lab.snapshot().data["parts"]["train"]
    zx = np.asarray(z["x"], np.float64)
    assert zx.mean() == pytest.approx(0.0, abs=1e-6) and zx.std() == pytest.approx(1.0, abs=1e-6)
    mu, sd = lab.stats
    np.testing.assert_allclose(zx, (raw_x - mu[0]) / sd[0], rtol=1e-5, atol=1e-6)


def test_one_hot_rows_are_rows_of_the_identity():
    assert np.array_equal(one_hot([0, 1, 2, 3], 4), np.eye(4))
    lab = DatasetsLab(seed=0, generator="blobs", classes=4)
    d = lab.snapshot().data
    labels = np.asarray(d["onehot_labels"])
    assert d["onehot"].shape == (12, 4)
    assert np.array_equal(d["onehot"], np.eye(4)[labels])
    assert np.array_equal(labels, lab._raw["y"][:12])
    assert "I<sub>4</sub>" in lab.snapshot().text["equation"]


def test_glyphs_one_hot_names_and_mosaic():
    lab = DatasetsLab(seed=0, generator="glyphs", glyph_classes="bdpq", n=400)
    d = lab.snapshot().data
    assert d["class_names"] == ("b", "d", "p", "q") and d["K"] == 4
    assert lab.snapshot().scalars["features"] == 64
    m = d["mosaic"]
    assert m.shape == (6 * 9 + 1, 12 * 9 + 1)
    assert np.isnan(m[0]).all() and np.isfinite(m[1:9, 1:9]).all()
    np.testing.assert_array_equal(m[1:9, 1:9], lab._raw["X"][0])
    assert sum(len(f) for f in d["frames"].values()) == 72 * 8


def test_housing_has_13_named_features_and_no_race_column():
    lab = DatasetsLab(seed=0, generator="housing")
    assert lab._raw["X"].shape == (1000, 13)
    assert lab._raw["features"] == HOUSING_FEATURES and len(HOUSING_FEATURES) == 13
    lowered = [f.lower() for f in HOUSING_FEATURES]
    assert not {"b", "black", "race"} & set(lowered)
    d = lab.snapshot().data
    assert d["corr"].shape == (13,) and np.all(np.abs(d["corr"]) <= 1)
    # Rooms raise and lower-status lowers the value in the generator's known target.
    assert d["corr"][HOUSING_FEATURES.index("rooms")] > 0.5
    assert d["corr"][HOUSING_FEATURES.index("lower_status")] < -0.5
    assert "E14" in lab.snapshot().text["rules"]


def test_same_seed_same_data_other_seed_other_data():
    a = DatasetsLab(seed=7, generator="spiral3", n=300)
    b = DatasetsLab(seed=7, generator="spiral3", n=300)
    c = DatasetsLab(seed=8, generator="spiral3", n=300)
    assert np.array_equal(a._raw["X"], b._raw["X"]) and np.array_equal(a._raw["y"], b._raw["y"])
    assert all(np.array_equal(p, q) for p, q in zip(_parts(a), _parts(b)))
    assert not np.array_equal(a._raw["X"], c._raw["X"])


@pytest.mark.parametrize("first,second", [(("val_frac", 0.5), ("test_frac", 0.45)),
                                          (("test_frac", 0.5), ("val_frac", 0.41))])
def test_bad_split_fractions_raise_and_change_nothing(first, second):
    lab = DatasetsLab(seed=0)
    lab.set_param(*first)
    snap, values = lab.snapshot(), dict(lab.values)
    with pytest.raises(ValueError, match="at least 10% must stay for training"):
        lab.set_param(*second)
    assert lab.values == values and lab.snapshot() is snap


def test_bad_fractions_at_construction_and_bad_params_are_refused():
    with pytest.raises(ValueError, match="val_frac"):
        DatasetsLab(val_frac=0.5, test_frac=0.5)
    lab = DatasetsLab(seed=0)
    snap = lab.snapshot()
    for name, value in (("generator", "boston"), ("val_frac", 0.6), ("n", 5),
                        ("glyph_classes", "xyz"), ("glyph_classes", "bb"),
                        ("glyph_classes", "b")):
        with pytest.raises(ValueError):
            lab.set_param(name, value)
    assert lab.snapshot() is snap


def test_parse_glyph_classes():
    assert parse_glyph_classes(" b d p q ") == "bdpq"
    with pytest.raises(ValueError, match="no glyph"):
        parse_glyph_classes("ab")


def test_step_does_nothing_and_the_lab_is_finished():
    lab = DatasetsLab(seed=0)
    snap = lab.snapshot()
    lab.step(10)
    assert lab.finished and lab.step_count == 0 and lab.snapshot() is snap


def test_csv_round_trip(tmp_path):
    lab = DatasetsLab(seed=4, generator="moons", n=120)
    path = tmp_path / "moons.csv"
    lab.do_action("save_csv", path=str(path))
    assert "saved 120 points" in lab.notice
    X, y = load_points_csv(path)
    np.testing.assert_array_equal(X, lab._raw["X"])
    np.testing.assert_array_equal(y, lab._raw["y"])

    other = DatasetsLab(seed=4, generator="xor")
    other.do_action("load_csv", path=str(path))
    assert other.values["generator"] == "csv"
    np.testing.assert_array_equal(other._raw["X"], lab._raw["X"])
    assert [len(p) for p in _parts(other)] == [96, 12, 12]
    assert "moons.csv" in other.snapshot().text["sizes"]


def test_bad_csv_names_the_line_and_changes_nothing(tmp_path):
    lab = DatasetsLab(seed=0, generator="circles", n=100)
    snap, values = lab.snapshot(), dict(lab.values)
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,label\n0.1,0.2,0\n0.3,oops,1\n")
    with pytest.raises(DataFileError, match=r"bad\.csv: line 3: 'oops' is not a number"):
        lab.do_action("load_csv", path=str(bad))
    few = tmp_path / "few.csv"
    few.write_text("0,0,0\n1,1,1\n")
    with pytest.raises(DataFileError, match="at least 10"):
        lab.do_action("load_csv", path=str(few))
    assert lab.values == values and lab.snapshot() is snap


def test_save_csv_refuses_non_point_sets_and_writes_nothing(tmp_path):
    path = tmp_path / "h.csv"
    for gen in ("housing", "glyphs", "curve_1d"):
        lab = DatasetsLab(seed=0, generator=gen, n=50)
        with pytest.raises(ValueError, match="labelled 2-D points"):
            lab.do_action("save_csv", path=str(path))
    empty = DatasetsLab(seed=0, generator="csv")
    assert empty.snapshot().alerts
    with pytest.raises(ValueError, match="no points"):
        empty.do_action("save_csv", path=str(path))
    assert not path.exists()
