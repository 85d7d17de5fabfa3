"""engine.data: seeded generators, splits, one-hot, standardising and the points CSV loader."""
import subprocess
import sys

import numpy as np
import pytest

from engine import data
from engine.data import (
    CLASSIFICATION,
    DOMAIN,
    GLYPH_FONT,
    HOUSING_FEATURES,
    DataFileError,
    as_rng,
    glyph_template,
    housing_truth,
    load_points_csv,
    make_blobs,
    make_checkerboard,
    make_circles,
    make_classification,
    make_glyphs,
    make_housing_like,
    make_logic,
    make_moons,
    make_regression_1d,
    make_spirals,
    make_surface_2d,
    make_two_tasks,
    make_xor,
    n_classes,
    one_hot,
    regression_truth,
    rotate2d,
    save_points_csv,
    standardize,
    surface_truth,
    train_test_split,
    train_val_test_split,
    unstandardize,
)

NAMES = sorted(CLASSIFICATION)


# --------------------------------------------------------------------------- seeds

def test_as_rng_accepts_seeds_and_generators():
    g = np.random.default_rng(3)
    assert as_rng(g) is g
    assert as_rng(3).integers(1 << 30) == np.random.default_rng(3).integers(1 << 30)
    assert as_rng(np.int64(3)).integers(1 << 30) == np.random.default_rng(3).integers(1 << 30)
    for bad in (None, 1.5, -1, "3", True):
        with pytest.raises(ValueError, match="rng|seed"):
            as_rng(bad)


# --------------------------------------------------------------------------- 2-D classification

@pytest.mark.parametrize("name", NAMES)
def test_classification_shapes_dtypes_labels(name):
    X, y = make_classification(name, n=120, noise=0.05, rng=1)
    k = n_classes(name)
    assert X.shape == (120, 2) and X.dtype == np.float32
    assert y.shape == (120,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(k))
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("name", NAMES)
def test_classification_deterministic(name):
    X1, y1 = make_classification(name, n=90, noise=0.1, rng=7)
    X2, y2 = make_classification(name, n=90, noise=0.1, rng=7)
    X3, _ = make_classification(name, n=90, noise=0.1, rng=8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    # A seed and a generator built from it give the same set.
    X4, y4 = make_classification(name, n=90, noise=0.1, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(X1, X4)
    np.testing.assert_array_equal(y1, y4)


def test_generator_stream_continues():
    g = np.random.default_rng(0)
    a, _ = make_moons(50, rng=g)
    b, _ = make_moons(50, rng=g)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [101, 200])
def test_classes_balanced(name, n):
    _, y = make_classification(name, n=n, rng=0)
    counts = np.bincount(y, minlength=n_classes(name))
    assert counts.sum() == n
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("name", [n for n in NAMES if n != "blobs"])   # blobs: Gaussian
def test_inside_unit_square_without_noise(name):
    X, _ = make_classification(name, n=500, noise=0.0, rng=2)
    assert np.all(np.abs(X) <= 1.0 + 1e-6)
    assert DOMAIN == (-1.5, 1.5)


def test_rows_are_shuffled():
    _, y = make_xor(200, rng=0)
    assert 0 < y[:20].sum() < 20     # a prefix mixes both classes


def test_xor_quadrants_and_margin():
    X, y = make_xor(400, rng=3)
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(np.int64))
    assert np.abs(X).min() >= 0.1 - 1e-6
    quadrant = (X[:, 0] > 0) * 2 + (X[:, 1] > 0)
    assert np.all(np.bincount(quadrant, minlength=4) == 100)


def test_circles_radii():
    X, y = make_circles(400, factor=0.5, rng=4)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r[y == 1].max() <= 0.5 + 1e-6
    assert r[y == 0].min() >= 0.7 - 1e-6 and r[y == 0].max() <= 1.0 + 1e-6
    with pytest.raises(ValueError, match="factor"):
        make_circles(factor=1.0)


def test_moons_box_and_layout():
    X, y = make_moons(400, rng=5)
    assert np.all(np.abs(X[:, 0]) <= 1 + 1e-6) and np.all(np.abs(X[:, 1]) <= 0.5 + 1e-6)
    # The upper moon (class 0) sits higher on average than the lower one.
    assert X[y == 0, 1].mean() > X[y == 1, 1].mean()


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_spirals_lie_on_their_arms(classes):
    turns = 1.0
    X, y = make_spirals(300, classes=classes, turns=turns, noise=0.0, rng=6)
    r = np.hypot(X[:, 0], X[:, 1]).astype(np.float64)
    assert r.min() >= 0.05 - 1e-6 and r.max() <= 1 + 1e-6
    t = (r - 0.05) / 0.95
    # theta - 2 pi turns t must equal the arm's offset 2 pi k / K (mod 2 pi).
    phase = np.arctan2(X[:, 1], X[:, 0]) - 2 * np.pi * (turns * t + y / classes)
    err = np.angle(np.exp(1j * phase))
    assert np.abs(err).max() < 1e-4


def test_spiral_arms_interleave():
    """Walking out along a ray crosses the two arms alternately (no single cut separates)."""
    X, y = make_spirals(4000, classes=2, turns=1.0, noise=0.0, rng=7)
    angle = np.arctan2(X[:, 1], X[:, 0])
    near_ray = np.abs(angle) < 0.05                 # a thin wedge around the +x axis
    labels = y[near_ray][np.argsort(np.hypot(*X[near_ray].T))]
    changes = np.count_nonzero(np.diff(labels))
    assert changes == 2                             # arm 0, arm 1, arm 0 from the inside out


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_spirals_learnable_by_nearest_neighbour(noise):
    """Held-out 1-NN accuracy: the arms are separated well enough to learn at default turns."""
    X, y = make_spirals(400, noise=noise, rng=8)
    Xt, yt = make_spirals(400, noise=noise, rng=9)
    d = ((Xt[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    acc = (y[d.argmin(1)] == yt).mean()
    assert acc >= 0.95


def test_spiral3_and_validation():
    _, y = make_classification("spiral3", n=99, rng=0)
    assert np.bincount(y).tolist() == [33, 33, 33]
    with pytest.raises(ValueError, match="classes"):
        make_spirals(classes=6)
    with pytest.raises(ValueError, match="turns"):
        make_spirals(turns=0)


def test_blobs_centres():
    X, y = make_blobs(3000, centers=4, std=0.1, rng=10)
    centres = data.blob_centers(4)
    np.testing.assert_allclose(np.hypot(*centres.T), 0.6)
    np.testing.assert_allclose(centres[0], [0.0, 0.6], atol=1e-12)
    for k in range(4):
        np.testing.assert_allclose(X[y == k].mean(0), centres[k], atol=0.02)
        np.testing.assert_allclose(X[y == k].std(0), 0.1, atol=0.01)
    assert n_classes("blobs", centers=4) == 4


def test_checkerboard_parity():
    X, y = make_checkerboard(800, k=4, rng=11)
    cell = np.clip(np.floor((X + 1) / 2 * 4), 0, 3).astype(int)
    np.testing.assert_array_equal(y, (cell[:, 0] + cell[:, 1]) % 2)
    _, y3 = make_checkerboard(101, k=3, rng=0)
    assert abs(np.bincount(y3)[0] - np.bincount(y3)[1]) <= 1


@pytest.mark.parametrize("name", [n for n in NAMES if n != "blobs"])
def test_noise_only_jitters_the_same_points(name):
    """For one seed, noise scales one fixed jitter field: labels and clean points stay put."""
    X0, y0 = make_classification(name, n=200, noise=0.0, rng=12)
    X1, y1 = make_classification(name, n=200, noise=0.1, rng=12)
    X2, y2 = make_classification(name, n=200, noise=0.2, rng=12)
    np.testing.assert_array_equal(y0, y1)
    np.testing.assert_array_equal(y0, y2)
    np.testing.assert_allclose(X2 - X0, 2 * (X1 - X0), atol=1e-5)
    assert np.abs(X1 - X0).mean() > 0.005


def test_two_tasks_noise_only_jitters():
    clean = make_two_tasks(noise=0.0, rng=4)
    noisy = make_two_tasks(noise=0.1, rng=4)
    for (Xc, yc), (Xn, yn) in zip(clean, noisy):
        np.testing.assert_array_equal(yc, yn)
        assert 0.01 < np.abs(Xn - Xc).mean() < 0.2


@pytest.mark.parametrize("kwargs", [
    {"n": 1}, {"n": 2.5}, {"noise": -0.1}, {"noise": float("nan")}, {"rng": None}])
def test_generator_arguments_validated(kwargs):
    with pytest.raises(ValueError):
        make_classification("moons", **{"n": 100, **kwargs})


def test_unknown_dataset_lists_names():
    with pytest.raises(ValueError, match="moons.*spiral"):
        make_classification("swirl", 100)
    with pytest.raises(ValueError):
        n_classes("swirl")


# --------------------------------------------------------------------------- logic tables

@pytest.mark.parametrize("gate, expected", [
    ("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1]), ("nand", [1, 1, 1, 0]),
    ("nor", [1, 0, 0, 0]), ("xor", [0, 1, 1, 0]), ("xnor", [1, 0, 0, 1])])
def test_logic_tables(gate, expected):
    X, y = make_logic(gate)
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    assert X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(y, expected)


def test_logic_maj3_and_unknown():
    X, y = make_logic("MAJ3")
    assert X.shape == (8, 3)
    np.testing.assert_array_equal(X[:4], [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1]])
    np.testing.assert_array_equal(X[4], [1, 0, 0])
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="and.*xor.*maj3"):
        make_logic("implies")


# --------------------------------------------------------------------------- regression

@pytest.mark.parametrize("fn", ["sin", "cubic", "step", "abs", "line"])
def test_regression_1d(fn):
    x, y = make_regression_1d(80, fn=fn, noise=0.0, rng=0)
    assert x.shape == (80, 1) and x.dtype == np.float32
    assert y.shape == (80,) and y.dtype == np.float32
    assert np.all(np.abs(x) <= 1)
    np.testing.assert_allclose(y, regression_truth(fn, x[:, 0]), atol=1e-6)
    _, y2 = make_regression_1d(80, fn=fn, noise=0.1, rng=0)
    _, y3 = make_regression_1d(80, fn=fn, noise=0.1, rng=0)
    np.testing.assert_array_equal(y2, y3)


def test_regression_truth_values():
    np.testing.assert_allclose(regression_truth("sin", [0.5, -0.5]), [1.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(regression_truth("cubic", [1.0]), [1.0])
    np.testing.assert_allclose(regression_truth("step", [-0.1, 0.1]), [-0.5, 0.5])
    with pytest.raises(ValueError, match="sin"):
        regression_truth("exp", [0.0])


def test_regression_outliers():
    x, y = make_regression_1d(60, fn="line", noise=0.0, outlier_frac=0.1, outlier_scale=3.0,
                              rng=1)
    dev = np.abs(y - regression_truth("line", x[:, 0]))
    assert np.count_nonzero(dev > 1e-5) == 6
    np.testing.assert_allclose(dev[dev > 1e-5], 3.0, atol=1e-5)
    with pytest.raises(ValueError, match="outlier_frac"):
        make_regression_1d(outlier_frac=1.5)


def test_surface_2d():
    X, y = make_surface_2d(200, noise=0.0, rng=2)
    assert X.shape == (200, 2) and y.shape == (200,) and y.dtype == np.float32
    assert np.all(np.abs(X) <= 1)
    np.testing.assert_allclose(y, surface_truth(X), atol=1e-6)
    np.testing.assert_allclose(surface_truth([[0.5, 0.0]]), [0.8 + 0.15], atol=1e-6)
    _, yn = make_surface_2d(2000, noise=0.05, rng=2)
    Xn, _ = make_surface_2d(2000, noise=0.05, rng=2)
    assert 0.04 < np.std(yn - surface_truth(Xn)) < 0.06


def test_housing_like():
    X, y, names = make_housing_like(rng=0)
    assert X.shape == (506, 13) and X.dtype == np.float32
    assert y.shape == (506,) and y.dtype == np.float32
    assert names == HOUSING_FEATURES and len(names) == 13
    assert all(isinstance(s, str) for s in names)
    lowered = {s.lower() for s in names}
    assert not lowered & {"b", "black", "race", "african_american"}
    assert y.min() >= 5 and y.max() <= 50 and 15 < y.mean() < 30
    col = {s: X[:, i] for i, s in enumerate(names)}
    assert set(np.unique(col["river"])) <= {0.0, 1.0}
    assert np.all(col["crime"] > 0) and np.all((col["zoning"] >= 0) & (col["zoning"] <= 100))
    assert np.all((col["rooms"] > 3) & (col["rooms"] < 9))
    corr = np.corrcoef(X.T)
    i = names.index
    assert corr[i("nox"), i("industry")] > 0.5
    assert corr[i("distance"), i("nox")] < -0.5
    assert corr[i("rooms"), i("lower_status")] < 0
    # The noise feature is unrelated to the target; rooms are strongly related.
    assert abs(np.corrcoef(col["noise_feature"], y)[0, 1]) < 0.15
    assert np.corrcoef(col["rooms"], y)[0, 1] > 0.5
    # Without noise the target is the documented truth, capped to [5, 50].
    X0, y0, _ = make_housing_like(300, noise=0.0, rng=1)
    np.testing.assert_allclose(y0, np.clip(housing_truth(X0), 5, 50), atol=1e-5)
    Xa, ya, _ = make_housing_like(rng=3)
    Xb, yb, _ = make_housing_like(rng=3)
    np.testing.assert_array_equal(Xa, Xb)
    np.testing.assert_array_equal(ya, yb)


# --------------------------------------------------------------------------- glyphs

def test_glyph_font_complete_and_distinct():
    assert set("0123456789bdpq") <= set(GLYPH_FONT)
    templates = {c: glyph_template(c) for c in GLYPH_FONT}
    for t in templates.values():
        assert t.shape == (7, 5) and set(np.unique(t)) <= {0.0, 1.0}
    flat = {c: t.tobytes() for c, t in templates.items()}
    assert len(set(flat.values())) == len(flat)        # every template differs
    # b/d and p/q are mirror images: the h-flip hazard of section 8.5.
    np.testing.assert_array_equal(templates["b"][:, ::-1], templates["d"])
    np.testing.assert_array_equal(templates["p"][:, ::-1], templates["q"])
    with pytest.raises(ValueError):
        glyph_template("z")


def test_make_glyphs_shapes_and_values():
    X, y, classes = make_glyphs(n_per_class=5, classes="0123456789bdpq", size=8, jitter=1,
                                noise=0.2, rng=0)
    assert classes == "0123456789bdpq"
    assert X.shape == (70, 8, 8) and X.dtype == np.float32
    assert y.shape == (70,) and y.dtype == np.int64
    assert X.min() >= 0 and X.max() <= 1
    assert np.bincount(y).tolist() == [5] * 14
    X2, y2, _ = make_glyphs(n_per_class=5, classes="0123456789bdpq", noise=0.2, rng=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _, _ = make_glyphs(n_per_class=5, classes="0123456789bdpq", noise=0.2, rng=1)
    assert not np.array_equal(X, X3)


def test_make_glyphs_placement():
    # No jitter, no noise: each image is its template centred in the canvas.
    X, y, classes = make_glyphs(n_per_class=2, classes="bd8", size=9, jitter=0, rng=0)
    for img, label in zip(X, y):
        np.testing.assert_array_equal(img[1:8, 2:7], glyph_template(classes[label]))
        assert img.sum() == glyph_template(classes[label]).sum()
    # With jitter, glyphs move but never lose ink at the canvas edge.
    X, y, classes = make_glyphs(n_per_class=30, classes="0123", size=10, jitter=2, rng=1)
    ink = np.array([glyph_template(c).sum() for c in classes])
    np.testing.assert_array_equal(X.sum(axis=(1, 2)), ink[y])
    assert len({img.tobytes() for img in X[y == 0]}) > 1


@pytest.mark.parametrize("kwargs", [
    {"size": 6}, {"classes": "0z"}, {"classes": "00"}, {"classes": ""}, {"jitter": -1},
    {"noise": 2.0}, {"n_per_class": 0}])
def test_make_glyphs_validation(kwargs):
    with pytest.raises(ValueError):
        make_glyphs(**kwargs)


# --------------------------------------------------------------------------- two tasks

def test_two_tasks():
    (Xa, ya), (Xb, yb) = make_two_tasks(n_a=200, n_b=20, angle_deg=30, noise=0.0, rng=0)
    assert Xa.shape == (200, 2) and Xb.shape == (20, 2)
    assert Xa.dtype == Xb.dtype == np.float32 and ya.dtype == yb.dtype == np.int64
    assert np.bincount(ya).tolist() == [100, 100] and np.bincount(yb).tolist() == [10, 10]
    back = rotate2d(Xb, -30)
    # Rotated back, task B lies in the moons' box; unrotated it does not.
    assert np.all(np.abs(back[:, 0]) <= 1 + 1e-5) and np.all(np.abs(back[:, 1]) <= 0.5 + 1e-5)
    assert np.abs(Xb[:, 1]).max() > 0.5
    again = make_two_tasks(n_a=200, n_b=20, angle_deg=30, noise=0.0, rng=0)
    np.testing.assert_array_equal(again[1][0], Xb)


def test_rotate2d():
    np.testing.assert_allclose(rotate2d([[1.0, 0.0]], 90), [[0.0, 1.0]], atol=1e-12)


# --------------------------------------------------------------------------- splits

def test_train_val_test_split_800_100_100():
    X = np.arange(1000, dtype=np.float32)[:, None]
    y = np.arange(1000) * 2
    parts = train_val_test_split(X, y, (0.8, 0.1, 0.1), rng=0)
    Xtr, ytr, Xva, yva, Xte, yte = parts
    assert (len(Xtr), len(Xva), len(Xte)) == (800, 100, 100)
    for Xp, yp in ((Xtr, ytr), (Xva, yva), (Xte, yte)):
        np.testing.assert_array_equal(yp, Xp[:, 0].astype(np.int64) * 2)   # rows stay paired
    ids = np.concatenate([Xtr[:, 0], Xva[:, 0], Xte[:, 0]])
    np.testing.assert_array_equal(np.sort(ids), np.arange(1000))          # disjoint, covering
    again = train_val_test_split(X, y, (0.8, 0.1, 0.1), rng=0)
    for a, b in zip(parts, again):
        np.testing.assert_array_equal(a, b)
    other = train_val_test_split(X, y, (0.8, 0.1, 0.1), rng=1)
    assert not np.array_equal(parts[0], other[0])


def test_split_sizes_round_exactly():
    assert data.split_sizes(1000, (0.8, 0.1, 0.1)).tolist() == [800, 100, 100]
    assert data.split_sizes(7, (0.8, 0.1, 0.1)).sum() == 7
    assert data.split_sizes(10, (0.7, 0.2, 0.1)).tolist() == [7, 2, 1]


@pytest.mark.parametrize("fracs", [(0.8, 0.1), (0.8, 0.1, 0.05), (0.9, 0.2, -0.1),
                                   (0.0, 0.5, 0.5), "abc", (0.8, 0.1, float("nan"))])
def test_train_val_test_split_bad_fracs(fracs):
    X, y = np.zeros((50, 2)), np.zeros(50)
    with pytest.raises(ValueError, match="fracs"):
        train_val_test_split(X, y, fracs)


def test_train_test_split():
    X = np.arange(100)[:, None] * np.ones((1, 2))
    y = np.arange(100)
    Xtr, ytr, Xte, yte = train_test_split(X, y, 0.3, rng=0)
    assert len(Xtr) == 70 and len(Xte) == 30
    np.testing.assert_array_equal(np.sort(np.concatenate([ytr, yte])), y)
    np.testing.assert_array_equal(Xte[:, 0], yte)
    for bad in (0.0, 1.0, -0.2, 1.2):
        with pytest.raises(ValueError, match="test_frac"):
            train_test_split(X, y, bad)
    with pytest.raises(ValueError, match="at least 1"):
        train_test_split(X[:3], y[:3], 0.1)        # 0.3 of a point rounds to no test sample
    with pytest.raises(ValueError, match="same number"):
        train_test_split(X, y[:10])


def test_split_works_on_images():
    X, y, _ = make_glyphs(n_per_class=10, classes="01", rng=0)
    Xtr, _, Xte, _ = train_test_split(X, y, 0.25, rng=0)
    assert Xtr.shape == (15, 8, 8) and Xte.shape == (5, 8, 8)


def test_one_hot():
    np.testing.assert_array_equal(one_hot([0, 1, 2, 3], 4), np.eye(4))
    out = one_hot(np.array([2, 0]), 3)
    assert out.dtype == np.float32 and out.shape == (2, 3)
    np.testing.assert_array_equal(one_hot(np.array([1.0, 0.0]), 2), [[0, 1], [1, 0]])
    for bad in ([0, 4], [-1], [0.5]):
        with pytest.raises(ValueError, match="labels"):
            one_hot(bad, 4)
    with pytest.raises(ValueError, match="K"):
        one_hot([0], 0)


def test_standardize_round_trip():
    X, _, _ = make_housing_like(200, rng=0)
    Xs, stats = standardize(X)
    assert Xs.dtype == np.float32
    np.testing.assert_allclose(Xs.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(Xs.std(0), 1, atol=1e-4)
    Xs2, stats2 = standardize(X, stats)                   # saved stats reproduce
    np.testing.assert_array_equal(Xs, Xs2)
    np.testing.assert_array_equal(stats[0], stats2[0])
    np.testing.assert_allclose(unstandardize(Xs, stats), X, rtol=1e-5, atol=1e-4)
    # Held-out data uses the training statistics, not its own.
    Xnew, _, _ = make_housing_like(50, rng=1)
    np.testing.assert_allclose(standardize(Xnew, stats)[0],
                               (Xnew - stats[0]) / stats[1], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        standardize(X[:, :3], stats)


def test_standardize_constant_column():
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    Xs, (_, std) = standardize(X)
    assert Xs.dtype == np.float64
    np.testing.assert_array_equal(Xs[:, 1], 0.0)
    assert std[1] == 1e-8


# --------------------------------------------------------------------------- CSV points

GOOD_CSV = """\
# my points
x1,x2,label

0.5,-0.25,0
  -1.0 , 2.0 , 1
# a comment in the middle
3e-1,0,2.0
"""


def test_load_points_csv_good(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    X, y = load_points_csv(path)
    assert X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(X, [[0.5, -0.25], [-1.0, 2.0], [0.3, 0.0]])
    np.testing.assert_array_equal(y, [0, 1, 2])


def test_load_points_csv_no_header_crlf_bom(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_bytes("\ufeff1,2,0\r\n3,4,1\r\n".encode())
    X, y = load_points_csv(path)
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(y, [0, 1])


def test_load_points_csv_single_class_allowed(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("0,0,3\n1,1,3\n")
    _, y = load_points_csv(path)
    np.testing.assert_array_equal(y, [3, 3])


@pytest.mark.parametrize("content, line, fragment", [
    ("x1,x2,label\n0,0,0\n\n# c\n1,1\n", 5, "expected 3 comma-separated values"),
    ("0,0,0\n1,2,3,4\n", 2, "got 4"),
    ("x1,x2,label\n0,0,0\nabc,1,0\n", 3, "'abc' is not a number"),
    ("0,0,0\n0,,1\n", 2, "x2 is empty"),
    ("0,0,0\n1,1,1\n2,2,0\nnan,1,0\n", 4, "x1 is not finite"),
    ("0,0,0\n1,inf,1\n", 2, "x2 is not finite"),
    ("0,0,0\n1,1e300,1\n", 2, "too large"),
    ("0,0,0\n1,1,1\n1,1,1\n1,1,1\n1,1,1\n1,1,1\n1,1,1\n1,1,1\n1,1,2.5\n", 9,
     "label 2.5 must be an integer 0-9"),
    ("0,0,0\n1,1,10\n", 2, "label 10 must be an integer 0-9"),
    ("0,0,-1\n", 1, "label -1"),
    ("0,0,zero\n", 1, "'zero' is not a number"),
    ("x1,x2,label\n1;2;0\n", 2, "expected 3"),
])
def test_load_points_csv_bad_lines(tmp_path, content, line, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_points_csv(path)
    msg = str(info.value)
    assert f"line {line}:" in msg and fragment in msg and "bad.csv" in msg
    assert info.value.line == line
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("content", ["", "x1,x2,label\n", "# only a comment\n\n"])
def test_load_points_csv_no_data(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(DataFileError, match="no data rows"):
        load_points_csv(path)


def test_load_points_csv_not_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"x1,x2,label\n0,0,0\n\xe9\xff,1,1\n")
    with pytest.raises(DataFileError, match="line 3: file is not UTF-8 text"):
        load_points_csv(path)


def test_load_points_csv_too_many_rows(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("x1,x2,label\n" + "0,0,0\n" * 5)
    with pytest.raises(DataFileError, match="line 5: too many rows"):
        load_points_csv(path, max_rows=3)
    assert load_points_csv(path, max_rows=5)[0].shape == (5, 2)


def test_load_points_csv_too_large_refused_before_reading(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as fh:
        fh.truncate(21 * 1024 * 1024)            # sparse: no real 21 MB written
    with pytest.raises(DataFileError, match="limit is 20 MB"):
        load_points_csv(path)


def test_load_points_csv_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="cannot read"):
        load_points_csv(tmp_path / "nope.csv")


def test_save_load_round_trip(tmp_path):
    X, y = make_spirals(150, classes=3, noise=0.05, rng=3)
    path = tmp_path / "sub" / "spiral.csv"
    save_points_csv(path, X, y)
    X2, y2 = load_points_csv(path)
    np.testing.assert_array_equal(X2, X)                   # float32 survives exactly
    np.testing.assert_array_equal(y2, y)
    assert path.read_text().startswith("x1,x2,label\n")
    assert [p.name for p in path.parent.iterdir()] == ["spiral.csv"]   # no temp file left
    save_points_csv(path, X[:3], y[:3], header=False)
    assert load_points_csv(path)[0].shape == (3, 2)


@pytest.mark.parametrize("X, y", [
    (np.zeros((3, 3)), np.zeros(3, int)), (np.zeros((3, 2)), np.zeros(2, int)),
    (np.array([[np.nan, 0.0]]), np.zeros(1, int)), (np.zeros((1, 2)), np.array([10]))])
def test_save_points_csv_validates(tmp_path, X, y):
    path = tmp_path / "out.csv"
    with pytest.raises(ValueError):
        save_points_csv(path, X, y)
    assert not path.exists()


# --------------------------------------------------------------------------- import hygiene

def test_engine_data_imports_no_qt():
    code = ("import sys, engine.data; "
            "bad = [m for m in sys.modules if m.startswith(('PySide', 'PyQt', 'pyqtgraph'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
