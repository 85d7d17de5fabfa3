"""engine.data.digits: stroke digits, shapes, bars and the test card."""
import numpy as np
import pytest

from engine.data import (
    BAR_ANGLES,
    SHAPE_CLASSES,
    center_of_mass_align,
    digits_split,
    make_bars,
    make_digits,
    make_shapes,
    make_test_card,
)


def _check_images(X, n, size):
    assert X.shape == (n, size, size) and X.dtype == np.float32
    assert np.isfinite(X).all() and X.min() >= 0.0 and X.max() <= 1.0


def test_digits_shapes_dtypes_and_range():
    X, y = make_digits(120, size=16, noise=0.1, rng=0)
    _check_images(X, 120, 16)
    assert y.shape == (120,) and y.dtype == np.int64
    assert set(y.tolist()) == set(range(10))
    # Strokes are bright on a dark background: most pixels dark, some near full ink.
    assert np.median(X) < 0.2 and (X.max(axis=(1, 2)) > 0.7).all()
    X28, _ = make_digits(20, size=28, noise=0.0, rng=0)
    _check_images(X28, 20, 28)


def test_digits_balanced_and_shuffled():
    _, y = make_digits(1003, rng=3)
    counts = np.bincount(y, minlength=10)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 1003
    assert not np.array_equal(y, np.sort(y))


def test_digits_deterministic_per_seed():
    a = make_digits(50, rng=7)
    b = make_digits(50, rng=7)
    c = make_digits(50, rng=8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    g = np.random.default_rng(7)
    assert np.array_equal(make_digits(50, rng=g)[0], a[0])


def test_digit_classes_differ():
    X, y = make_digits(500, noise=0.0, rng=1)
    means = np.stack([X[y == k].mean(0) for k in range(10)]).reshape(10, -1)
    dist = np.sqrt(((means[:, None] - means[None]) ** 2).sum(-1))
    off = dist[~np.eye(10, dtype=bool)]
    assert off.min() > 0.5, "two digits have (nearly) the same mean image"
    # Samples of one class vary (random affine, pen and wobble).
    assert X[y == 3].std(axis=0).mean() > 0.1


def test_nearest_centroid_is_clearly_below_a_cnn():
    # The set must need more than template matching (a small CNN reaches ~99 %; see report).
    Xtr, ytr, Xte, yte = digits_split(1000, 300, rng=0)
    cent = np.stack([Xtr[ytr == k].mean(0) for k in range(10)]).reshape(10, -1)
    d = ((Xte.reshape(len(Xte), -1)[:, None] - cent[None]) ** 2).sum(-1)
    acc = (d.argmin(1) == yte).mean()
    assert 0.5 < acc < 0.9


def test_digits_split_disjoint_balanced_and_seeded():
    Xtr, ytr, Xte, yte = digits_split(200, 50, size=16, noise=0.1, rng=0)
    _check_images(Xtr, 200, 16)
    _check_images(Xte, 50, 16)
    assert np.bincount(ytr).tolist() == [20] * 10 and np.bincount(yte).tolist() == [5] * 10
    flat_tr = {x.tobytes() for x in Xtr}
    assert not any(x.tobytes() in flat_tr for x in Xte)
    again = digits_split(200, 50, size=16, noise=0.1, rng=0)
    assert all(np.array_equal(u, v) for u, v in zip((Xtr, ytr, Xte, yte), again))


def test_shapes():
    X, y = make_shapes(60, size=16, rng=0)
    _check_images(X, 60, 16)
    assert np.bincount(y).tolist() == [10] * 6
    means = np.stack([X[y == k].mean(0) for k in range(6)])
    # hbar is wide, vbar is tall: their mean images lean along different axes.
    hbar, vbar = means[SHAPE_CLASSES.index("hbar")], means[SHAPE_CLASSES.index("vbar")]
    assert hbar.sum(0).std() < hbar.sum(1).std() and vbar.sum(1).std() < vbar.sum(0).std()
    Xs, ys = make_shapes(10, size=12, classes=("circle", "cross"), rng=2, noise=0.05)
    _check_images(Xs, 10, 12)
    assert set(ys.tolist()) == {0, 1}
    assert np.array_equal(make_shapes(20, rng=4)[0], make_shapes(20, rng=4)[0])


def test_bars_orientations():
    X, y = make_bars(40, size=16, rng=0)
    _check_images(X, 40, 16)
    assert np.bincount(y).tolist() == [10] * len(BAR_ANGLES)
    # A horizontal bar has its ink in few rows, a vertical one in few columns.
    h, v = X[y == BAR_ANGLES.index(0)], X[y == BAR_ANGLES.index(90)]
    rows_h = (h.sum(2) > 1).sum(1).mean()
    cols_h = (h.sum(1) > 1).sum(1).mean()
    rows_v = (v.sum(2) > 1).sum(1).mean()
    cols_v = (v.sum(1) > 1).sum(1).mean()
    assert rows_h < cols_h and cols_v < rows_v
    assert np.array_equal(make_bars(8, rng=1)[0], make_bars(8, rng=1)[0])


def test_test_card():
    card = make_test_card(32)
    assert card.shape == (32, 32) and card.dtype == np.float32
    assert card.min() >= 0 and card.max() <= 1
    assert np.array_equal(card, make_test_card(32))
    assert len(np.unique(card)) > 10  # ramps, not just two levels
    # It has strong edges in both directions.
    assert np.abs(np.diff(card, axis=0)).max() > 0.5 and np.abs(np.diff(card, axis=1)).max() > 0.5
    assert make_test_card(8).shape == (8, 8)


@pytest.mark.parametrize("call", [
    lambda: make_digits(5),
    lambda: make_digits(100, size=4),
    lambda: make_digits(100, size=16.5),
    lambda: make_digits(100, noise=-0.1),
    lambda: make_digits(100, noise=float("nan")),
    lambda: make_digits(100, rng=-1),
    lambda: make_digits(100, rng=None),
    lambda: digits_split(0, 10),
    lambda: digits_split(150_000, 60_000),
    lambda: make_shapes(10, classes=("circle", "star")),
    lambda: make_shapes(10, classes=("circle", "circle")),
    lambda: make_shapes(3),
    lambda: make_shapes(10, size=500),
    lambda: make_bars(2),
    lambda: make_test_card(4),
    lambda: make_test_card("big"),
])
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_center_of_mass_align_moves_the_mass_to_the_middle():
    img = np.zeros((1, 16, 16), np.float32)
    img[0, 2:5, 10:13] = 1.0                      # a blob centred at (3, 11)
    out = center_of_mass_align(img)[0]
    r, c = np.indices(out.shape)
    assert (r * out).sum() / out.sum() == pytest.approx(7.5, abs=1e-4)
    assert (c * out).sum() / out.sum() == pytest.approx(7.5, abs=1e-4)
    assert out.sum() == pytest.approx(9.0, abs=1e-4)
