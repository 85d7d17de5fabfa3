"""Convolution explorer lab: the book's vectors (shared/spec ch. 9) through the lab, the
per-cell arithmetic against the engine's outputs, and refusals of bad input."""
import numpy as np
import pytest

from engine.autodiff.ops.conv import conv_out_size
from engine.labs.conv_explorer import (
    MODES,
    PRESETS,
    ConvExplorerLab,
    conv_size_formula,
    preset_kernel,
    separable_costs,
)

BOOK = [[5, -8, 2], [4, -7, 3], [-3, -4, 4]]


def _lab(**values):
    return ConvExplorerLab(seed=0, **values)


def _set_kernel(lab, K):
    K = np.atleast_2d(K)
    for r in range(K.shape[0]):
        for c in range(K.shape[1]):
            lab.do_action("set_kernel_cell", row=r, col=c, value=float(K[r, c]))


def _cells(lab):
    """(window, output) for every position, stepping the lab once round."""
    out = []
    for _ in range(int(lab.snapshot().scalars["positions"])):
        out.append(lab.window())
        lab.step()
    return out


# -- 9.2: the book's 5x5 example ---------------------------------------------------------------
def test_default_is_the_books_example():
    lab = _lab()
    assert np.array_equal(lab.res["out"], BOOK)
    assert lab.values["preset"] == "book" and lab.values["source"] == "example"
    np.testing.assert_array_equal(lab.weights["kernel"], [[1, 0, -1]] * 3)


def test_book_cells_by_stepping():
    lab = _lab()
    first = lab.window()
    assert first["cell"] == (0, 0) and first["value"] == 5          # O_11 = 5
    lab.step(4)
    assert lab.window()["cell"] == (1, 1) and lab.window()["value"] == -7   # O_22
    lab.step(3)
    assert lab.window()["cell"] == (2, 1) and lab.window()["value"] == -4   # O_32
    lab.step(2)
    assert lab.window()["cell"] == (0, 0), "the window wraps round after the last cell"


def test_products_table_sums_to_every_output_cell():
    lab = _lab(bias=0.5)
    for win in _cells(lab):
        assert win["products"].sum() + win["bias"] == pytest.approx(win["value"])
        np.testing.assert_allclose(win["products"].ravel(), win["x"] * win["w"])


@pytest.mark.parametrize("settings,expected", [
    ({"stride": 2}, [[5, 2], [-3, 4]]),
    ({"padding": 1}, [[-5, 1, -5, 4, 10], [-7, 5, -8, 2, 15], [-10, 4, -7, 3, 17],
                      [-11, -3, -4, 4, 15], [-9, -7, -1, 6, 10]]),
    ({"dilation": 2}, [[1]]),
])
def test_stride_padding_dilation_vectors(settings, expected):
    lab = _lab(**settings)
    np.testing.assert_array_equal(lab.res["out"], expected)
    for win in _cells(lab):
        assert win["products"].sum() == pytest.approx(win["value"])


def test_dilated_taps_are_spread():
    lab = _lab(dilation=2)
    win = lab.window()
    # Taps at rows/cols 0, 2, 4: the whole 5x5 is covered by one window.
    assert sorted(set(win["taps"][:, 0].tolist())) == [0, 2, 4]
    assert lab.snapshot().data["window"].tolist() == [[0, 0, 5, 5]]


def test_flip_reverses_every_sign_and_reports_true_convolution():
    lab = _lab(flip=True)
    np.testing.assert_array_equal(lab.res["out"], -np.asarray(BOOK))
    for win in _cells(lab):
        assert win["products"].sum() == pytest.approx(win["value"])
    # Window tap (0, 0) meets the stored weight K[2, 2] when flipped.
    assert lab.window()["kernel_taps"][0].tolist() == [2, 2]


def test_integer_example_and_reflect_padding():
    lab = _lab(source="drawn", kernel_size=2)
    lab.do_action("set_image", pixels=np.arange(1, 10).reshape(3, 3) / 10)
    _set_kernel(lab, [[1, 2], [3, 4]])
    np.testing.assert_allclose(lab.res["out"] * 10, [[37, 47], [67, 77]])
    lab.set_param("pad_mode", "reflect")
    lab.set_param("padding", 1)
    assert lab.res["xpad"][0, 0] == lab.res["xpad"][2, 2]     # mirrored, edge not repeated
    assert not lab.snapshot().alerts
    for win in _cells(lab):
        assert win["products"].sum() == pytest.approx(win["value"])


# -- size formulas -----------------------------------------------------------------------------
def test_size_formula_numbers():
    o, exact, html = conv_size_formula(52, 12, stride=2)
    assert o == 21 and exact and "\u230a40/2\u230b" in html and html.endswith("= 21")
    assert o == conv_out_size(52, 12, 2)
    o, exact, html = conv_size_formula(6, 3, stride=2)      # (6-3)/2 = 1.5 -> 1
    assert o == 2 and not exact and "1.5" in html and "color" in html
    o, _, html = conv_size_formula(5, 7)
    assert o < 1 and "does not fit" in html


def test_lab_formula_flags_a_fractional_size():
    lab = _lab(stride=2, source="drawn")
    lab.do_action("set_image", pixels=np.zeros((6, 6)))
    text = lab.snapshot().text["formula"]
    assert "1.5" in text and "never reached" in text


def test_3d_sizes_per_axis():
    lab = _lab(mode="conv3d", kernel_size=5)      # 15 frames of 21x21, 5x5x5 kernel
    assert lab.res["volume"].shape == (15, 21, 21)
    assert lab.res["out"].shape == (11, 17, 17)     # the book says 16x16x11 (erratum 6)
    text = lab.snapshot().text["formula"]
    assert "= 11" in text and "= 17" in text
    win = lab.window()
    assert win["products"].shape == (5, 5, 5)
    assert win["products"].sum() == pytest.approx(win["value"])


def test_3d_from_an_image_is_a_moving_clip():
    lab = _lab(mode="conv3d", source="digit", size=16)
    vol = lab.res["volume"]
    assert vol.shape == (8, 16, 16)
    np.testing.assert_array_equal(vol[1], np.roll(vol[0], 1, axis=1))


# -- 9.3: 1-D and 1x1 ------------------------------------------------------------------------------
def test_conv1d_book_signal():
    lab = _lab(mode="conv1d", stride=2)
    _set_kernel(lab, [2, 0, -1])
    np.testing.assert_array_equal(lab.res["out"][0], [0, 7, -1, 4])
    lab.set_param("stride", 1)
    np.testing.assert_array_equal(lab.res["out"][0], [0, 1, 7, 2, -1, -2, 4])
    for win in _cells(lab):
        assert win["products"].sum() == pytest.approx(win["value"])


def test_pointwise_mixes_channels_at_each_pixel():
    lab = _lab(mode="pointwise_1x1", out_channels=12)
    X = lab.res["channels"]
    w = lab.weights["pw"]
    np.testing.assert_allclose(lab.res["out"], np.tensordot(w, X, axes=1))
    win = lab.window()
    assert win["products"].sum() == pytest.approx(win["value"])
    s = lab.snapshot().scalars
    assert s["multiplies"] == 3 * 12 * 8 * 8 and s["parameters"] == 12 * 4


# -- 9.4: depthwise separable ------------------------------------------------------------------
def test_depthwise_separable_counts_from_the_book():
    lab = _lab(mode="depthwise_separable", kernel_size=3, out_channels=72)
    s = lab.snapshot().scalars
    assert lab.res["channels"].shape == (3, 8, 8) and lab.res["out"].shape == (6, 6)
    assert s["mult_standard"] == 69_984 and s["mult_separable"] == 8_748
    assert s["params_standard"] == 1_944 and s["params_separable"] == 243
    c = separable_costs(6, 6, 3, 72, 3)
    assert c["ratio"] == pytest.approx(1 / 72 + 1 / 9)
    assert "69,984" in lab.snapshot().text["cost"]


def test_depthwise_separable_arithmetic_matches_the_engine():
    lab = _lab(mode="depthwise_separable", bias=1.0)
    for win in _cells(lab)[:10]:
        mids = win["products"].reshape(3, -1).sum(1)
        np.testing.assert_allclose(mids, win["mid"])
        assert mids @ win["pw"] + win["bias"] == pytest.approx(win["value"])


# -- 9.5: transposed -------------------------------------------------------------------------------
def test_transposed_book_vector():
    lab = _lab(mode="transposed")                  # y = [[1, 2], [3, 4]]
    _set_kernel(lab, np.arange(1, 10).reshape(3, 3))
    np.testing.assert_array_equal(lab.res["out"], [[1, 4, 7, 6], [7, 23, 33, 24],
                                                   [19, 53, 63, 42], [21, 52, 59, 36]])
    for win in _cells(lab):
        assert win["products"].sum() == pytest.approx(win["value"])


def test_transposed_overlap_checkerboard():
    lab = _lab(mode="transposed", source="drawn", stride=2, padding=1)
    lab.do_action("set_image", pixels=np.full((4, 4), 0.5))
    ov = lab.res["overlap"]
    assert ov.shape == (7, 7)
    assert set(np.unique(ov).tolist()) == {1, 2, 4}
    # The overlap count is the number of products gathered by each output cell.
    for win in _cells(lab):
        r, c = win["cell"]
        assert len(win["x"]) == ov[r, c]
    lab.set_param("kernel_size", 4)
    assert set(np.unique(lab.res["overlap"][1:-1, 1:-1]).tolist()) == {4}   # k = 2s: even
    assert lab.res["out"].shape == (8, 8)


# -- 9.6: pooling ----------------------------------------------------------------------------------
@pytest.mark.parametrize("pool,stride,expected", [
    ("max", 1, [[5, 5, 3], [5, 5, 5], [5, 7, 7]]),
    ("avg", 2, [[3, 1.75], [2.75, 5.25]]),
    ("max", 2, [[5, 3], [5, 7]]),
    ("avg", 1, [[3, 2.25, 1.75], [3.5, 4, 2.75], [2.75, 4.25, 5.25]]),
])
def test_pooling_vectors(pool, stride, expected):
    lab = _lab(mode="pooling", pool=pool, kernel_size=2, stride=stride)
    np.testing.assert_allclose(lab.res["out"], expected)
    for win in _cells(lab):
        agg = win["x"].max() if pool == "max" else win["x"].mean()
        assert agg == pytest.approx(win["value"])


def test_max_pool_gradient_goes_to_the_argmax():
    lab = _lab(mode="pooling", pool="max", kernel_size=2, stride=2)
    g = lab.res["grad"]
    P = lab.res["pin"]
    assert g.sum() == 4 and set(np.unique(g).tolist()) == {0, 1}
    assert sorted(P[g == 1].tolist()) == [3, 5, 5, 7]
    lab.set_param("pool", "avg")
    np.testing.assert_allclose(lab.res["grad"], np.full((4, 4), 0.25))


def test_global_average_pooling():
    lab = _lab(mode="pooling", pool="global")
    assert lab.res["out"].shape == (1, 1)
    assert lab.window()["value"] == pytest.approx(EXAMPLE_POOL_MEAN)
    lab.step(3)
    assert lab.pos == 0


EXAMPLE_POOL_MEAN = float(np.mean([[2, 1, 1, 3], [4, 5, 2, 1], [1, 4, 5, 3], [5, 1, 7, 6]]))


# -- kernels ---------------------------------------------------------------------------------------
def test_presets():
    assert preset_kernel("sobel_x", 3).tolist() == [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    assert preset_kernel("sobel_y", 3).tolist() == [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    assert preset_kernel("laplacian", 3).tolist() == [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    assert preset_kernel("sharpen", 3).tolist() == [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
    assert preset_kernel("emboss", 3).tolist() == [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]
    assert preset_kernel("edge", 3).sum() == 0 and preset_kernel("edge", 3)[1, 1] == 8
    assert preset_kernel("book", 3).tolist() == [[1, 0, -1]] * 3
    for name in PRESETS:
        for k in range(1, 8):
            for nd in (1, 2, 3):
                K = preset_kernel(name, k, nd)
                assert K.shape == (k,) * nd and np.isfinite(K).all()
    assert preset_kernel("blur", 5).sum() == pytest.approx(1)
    assert preset_kernel("gaussian", 4, 3).sum() == pytest.approx(1)
    with pytest.raises(ValueError):
        preset_kernel("unknown", 3)


def test_kernel_edits_survive_geometry_changes_but_not_a_new_preset():
    lab = _lab()
    lab.do_action("set_kernel_cell", row=1, col=1, value=2.5)
    lab.set_param("stride", 2)
    assert lab.weights["kernel"][1, 1] == 2.5
    lab.reset()
    assert lab.weights["kernel"][1, 1] == 2.5
    lab.do_action("reset_kernel")
    assert lab.weights["kernel"][1, 1] == 0
    lab.do_action("set_kernel_cell", row=0, col=0, value=-3)
    lab.set_param("preset", "identity")
    assert lab.weights["kernel"].tolist() == [[0, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_kernel_cells_in_mosaics():
    lab = _lab(mode="conv3d")
    lab.do_action("set_kernel_cell", row=2, col=4 + 1, value=7)   # slice 1, row 2, col 1
    assert lab.weights["kernel"][1, 2, 1] == 7
    with pytest.raises(ValueError):
        lab.do_action("set_kernel_cell", row=0, col=3, value=1)   # the gap column
    lab = _lab(mode="depthwise_separable")
    lab.do_action("set_kernel_cell", row=4, col=2, value=0.25)    # the 1x1 row
    assert lab.weights["pw"][2] == 0.25
    lab.do_action("set_kernel_cell", row=0, col=8, value=-2)      # channel 2, (0, 0)
    assert lab.weights["kernel"][2, 0, 0] == -2


# -- bad input changes nothing --------------------------------------------------------------------
@pytest.mark.parametrize("pixels", [
    np.zeros(10),                                   # 1-D
    np.zeros((4, 4, 3)),                            # colour, 3-D
    np.full((4, 4), np.nan),                        # NaN
    np.full((4, 4), np.inf),
    np.zeros((65, 10)),                             # too large
    np.zeros((1, 5)),                               # too small
    np.full((4, 4), 1.5),                           # out of [0, 1]
    [[0.1, 0.2], [0.3]],                            # ragged
    "image",
])
def test_set_image_validation(pixels):
    lab = _lab()
    before = (lab.values["source"], lab.res["out"].copy(), lab.drawn.copy())
    with pytest.raises(ValueError):
        lab.do_action("set_image", pixels=pixels)
    assert lab.values["source"] == before[0]
    np.testing.assert_array_equal(lab.res["out"], before[1])
    np.testing.assert_array_equal(lab.drawn, before[2])


def test_set_image_accepts_lists_and_switches_to_drawn():
    lab = _lab()
    lab.do_action("set_image", pixels=[[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    assert lab.values["source"] == "drawn" and lab.res["out"].shape == (1, 1)
    assert lab.res["out"][0, 0] == 0           # symmetric plus: left column = right column


@pytest.mark.parametrize("kwargs", [
    {"row": 3, "col": 0, "value": 1.0},         # outside the 3x3 kernel
    {"row": 0, "col": -1, "value": 1.0},
    {"row": 0, "col": 0, "value": float("nan")},
    {"row": 0, "col": 0, "value": 1e6},
    {"row": "a", "col": 0, "value": 1.0},
])
def test_set_kernel_cell_validation(kwargs):
    lab = _lab()
    before = lab.weights["kernel"].copy()
    with pytest.raises(ValueError):
        lab.do_action("set_kernel_cell", **kwargs)
    np.testing.assert_array_equal(lab.weights["kernel"], before)
    np.testing.assert_array_equal(lab.res["out"], BOOK)


def test_pooling_has_no_weights_to_edit():
    lab = _lab(mode="pooling")
    with pytest.raises(ValueError, match="no weights"):
        lab.do_action("set_kernel_cell", row=0, col=0, value=1.0)


def test_paint_starts_from_the_shown_image_and_validates():
    lab = _lab(source="digit")
    shown = lab.image.copy()
    lab.do_action("paint", x=2, y=3, value=1.0)
    assert lab.values["source"] == "drawn"
    assert lab.drawn[3, 2] == 1.0
    changed = lab.drawn != shown
    assert changed.sum() <= 1
    for bad in ({"x": 16, "y": 0, "value": 1}, {"x": 0, "y": 0, "value": 2},
                {"x": 0, "y": -1, "value": 0}):
        before = lab.drawn.copy()
        with pytest.raises(ValueError):
            lab.do_action("paint", **bad)
        np.testing.assert_array_equal(lab.drawn, before)
    lab.do_action("clear_image")
    assert not lab.drawn.any()


def test_a_kernel_that_does_not_fit_is_an_alert_not_an_error():
    lab = _lab(kernel_size=7)
    snap = lab.snapshot()
    assert snap.alerts and "does not fit" in snap.alerts[0]
    assert snap.scalars["positions"] == 0
    lab.step(5)                                   # nothing to move, nothing raised
    lab.set_param("padding", 1)
    assert lab.res["out"].shape == (1, 1) and not lab.snapshot().alerts


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_snapshots_at_every_source(mode):
    for source in ("example", "digit", "shape", "bars", "test_card", "drawn"):
        lab = _lab(mode=mode, source=source)
        lab.step(3)
        snap = lab.snapshot()
        d = snap.data
        for key in ("input", "kernel", "output", "extra"):
            assert d[key].ndim == 2
        assert snap.text["arithmetic"] and snap.text["formula"]
        if snap.scalars["positions"]:
            assert "output" in snap.scalars


def test_params_at_their_limits_never_raise():
    for p in ConvExplorerLab.params:
        values = list(p.choices) if p.kind == "choice" else \
            [True, False] if p.kind == "bool" else [p.low, p.high]
        for v in values:
            lab = _lab()
            lab.set_param(p.name, v)
            lab.step(2)
            lab.snapshot()
