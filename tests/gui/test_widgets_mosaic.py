"""Image mosaic widget helper: the vectorised tiling equals a tile-by-tile placement, scales
each tile on its own when asked, and leaves NaN between and after the tiles."""
import numpy as np
import pytest

from mathdl_gui.widgets.mosaic import GAP, mosaic


def _loop_mosaic(stack, cols, normalise=True, gap=GAP):
    """Reference: place tile i at row i // cols, column i % cols, one at a time."""
    n, h, w = stack.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + gap), cols * (w + gap)), np.nan, np.float32)
    if normalise:
        top = np.abs(stack).reshape(n, -1).max(1)
        stack = stack / np.where(top > 0, top, 1)[:, None, None]
    for i in range(n):
        r, c = divmod(i, cols)
        y0, x0 = r * (h + gap) + gap, c * (w + gap)
        out[y0:y0 + h, x0:x0 + w] = stack[i]
    return out


@pytest.mark.parametrize("n, h, w, cols, gap", [
    (1, 3, 3, 1, 1), (5, 2, 3, 2, 1), (6, 4, 4, 3, 0), (7, 5, 2, 3, 6), (3, 2, 2, 8, 2),
    (12, 8, 8, 5, 1),
])
@pytest.mark.parametrize("normalise", [False, True])
def test_equals_tile_by_tile_placement(n, h, w, cols, gap, normalise):
    rng = np.random.default_rng(n * 100 + cols)
    stack = rng.normal(size=(n, h, w)) * rng.uniform(0.01, 50.0, size=(n, 1, 1))
    stack[0] = 0.0     # an all-zero tile is left as it is, not divided by 0
    got = mosaic(stack, cols, normalise=normalise, gap=gap)
    want = _loop_mosaic(stack, cols, normalise=normalise, gap=gap)
    assert got.dtype == np.float32
    assert got.shape == want.shape == (-(-n // cols) * (h + gap), cols * (w + gap))
    np.testing.assert_array_equal(got, want)    # NaN in the same places, values bit-equal


def test_normalise_scales_each_tile_to_its_own_largest_magnitude():
    stack = np.stack([np.array([[1.0, -4.0], [2.0, 0.5]]),     # signed: to [-1, 1]
                      np.array([[0.01, 0.02], [0.0, 0.005]]),  # faint, non-negative: to [0, 1]
                      np.zeros((2, 2))])                       # all zero: stays zero
    m = mosaic(stack, cols=3, normalise=True, gap=1)
    tiles = [m[1:3, c * 3:c * 3 + 2] for c in range(3)]
    np.testing.assert_allclose(tiles[0], [[0.25, -1.0], [0.5, 0.125]])
    np.testing.assert_allclose(tiles[1], [[0.5, 1.0], [0.0, 0.25]])
    np.testing.assert_array_equal(tiles[2], 0.0)
    raw = mosaic(stack, cols=3, normalise=False, gap=1)
    np.testing.assert_allclose(raw[1:3, 0:2], stack[0])


def test_gaps_and_missing_tiles_are_nan():
    h, w, gap, cols = 2, 3, 2, 3
    stack = np.arange(4 * h * w, dtype=float).reshape(4, h, w) + 1.0
    m = mosaic(stack, cols, normalise=False, gap=gap)
    assert m.shape == (2 * (h + gap), cols * (w + gap))
    filled = np.zeros(m.shape, bool)
    for i in range(4):
        r, c = divmod(i, cols)
        y0, x0 = r * (h + gap) + gap, c * (w + gap)
        np.testing.assert_array_equal(m[y0:y0 + h, x0:x0 + w], stack[i])
        filled[y0:y0 + h, x0:x0 + w] = True
    # Gap rows above each tile (its label), gap columns to its right, and the two empty
    # cells after the fourth tile: NaN, drawn transparent.
    assert np.isnan(m[~filled]).all()
    assert np.isfinite(m[filled]).all()
    assert np.isnan(m[h + gap:, w + gap:]).all()
