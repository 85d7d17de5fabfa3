"""widgets.colorize: one vectorised pass from values to RGBA bytes, per-image levels."""
import numpy as np

from mathdl_gui.widgets import style
from mathdl_gui.widgets.colorize import colorize, lookup_table


def test_ends_middle_and_nan_map_to_the_table():
    table = lookup_table(style.diverging())
    assert table.shape == (256, 4) and table.dtype == np.uint8
    out = colorize(np.array([[[-2.0, 0.0, 2.0, np.nan]]]), -2.0, 2.0, table)
    assert out.shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(out[0, 0, 0], [33, 102, 172, 255])    # low end: blue
    np.testing.assert_array_equal(out[0, 0, 2], [178, 24, 43, 255])     # high end: red
    assert out[0, 0, 1, :3].min() > 240                                  # centre: near white
    np.testing.assert_array_equal(out[0, 0, 3], [0, 0, 0, 0])           # NaN: transparent


def test_levels_apply_per_image_and_clip():
    table = lookup_table(style.viridis())
    stack = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 10.0)])
    lo = np.zeros((2, 1, 1))
    hi = np.array([1.0, 20.0])[:, None, None]
    out = colorize(stack, lo, hi, table)
    np.testing.assert_array_equal(out[0, 0, 0], table[-1])               # 1 of 1: the top
    np.testing.assert_array_equal(out[1, 0, 0], table[128])              # 10 of 20: middle
    np.testing.assert_array_equal(colorize(np.full((1, 1), 5.0), 0, 1, table)[0, 0], table[-1])
    flat = colorize(np.zeros((1, 2, 2)), 0.0, 0.0, table)                # empty span: no NaN
    np.testing.assert_array_equal(flat[0, 0, 0], table[0])
