"""Architecture calculator: the book's AlexNet / VGG-16 / Inception-v1 figures (spec 9.7, 9.9,
9.10 and errata 12-18), receptive fields, the custom-network parser and the lab's refusals."""
import pytest

from engine import architectures as A
from engine.labs.architectures import ArchitectureLab


def _by_name(arch, n):
    return {r.name: r for r in A.summarize(arch, (3, n, n))}


# -- AlexNet --------------------------------------------------------------------------------------
ALEX_WEIGHTS = {"conv1": 34_848, "conv2": 614_400, "conv3": 884_736, "conv4": 1_327_104,
                "conv5": 884_736, "fc1": 37_748_736, "fc2": 16_777_216, "fc3": 4_096_000}


def test_alexnet_sizes_at_227():
    rows = _by_name(A.ALEXNET, 227)
    sides = {name: rows[name].out_shape[1:] for name in
             ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool3")}
    assert sides == {"conv1": (55, 55), "pool1": (27, 27), "conv2": (27, 27), "pool2": (13, 13),
                     "conv3": (13, 13), "conv4": (13, 13), "conv5": (13, 13), "pool3": (6, 6)}
    assert rows["conv1"].out_shape == (96, 55, 55)
    assert rows["pool3"].out_shape == (256, 6, 6)
    assert rows["flatten"].out_shape == (9216,)
    assert rows["fc3"].out_shape == (1000,)


def test_alexnet_params_per_layer_and_totals():
    rows = _by_name(A.ALEXNET, 227)
    assert {k: rows[k].weights for k in ALEX_WEIGHTS} == ALEX_WEIGHTS
    assert rows["conv1"].params == 34_848 + 96
    t = A.totals(list(rows.values()))
    assert t["weights"] == 62_367_776
    assert t["params"] == 62_378_344
    assert t["biases"] == 10_568
    assert round(t["conv_weights_share"], 3) == 0.060   # the book's "roughly 6%"
    assert round(t["dense_weights_share"], 2) == 0.94   # FC holds 94 %
    # Pooling, activations, LRN and flatten have no parameters and no multiply-adds.
    assert all(r.params == 0 and r.macs == 0 for r in rows.values()
               if r.kind in ("pool", "act", "flatten"))


def test_alexnet_macs_are_weights_times_output_positions():
    rows = _by_name(A.ALEXNET, 227)
    assert rows["conv1"].macs == 34_848 * 55 * 55
    assert rows["conv2"].macs == 614_400 * 27 * 27
    assert rows["fc1"].macs == 37_748_736


def test_alexnet_at_224_gives_the_books_fractional_54():
    # Erratum 12: (224 - 11)/4 + 1 = 54.25, so a 224 input gives 54 with the floor.
    assert _by_name(A.ALEXNET, 224)["conv1"].out_shape == (96, 54, 54)


def test_original_grouped_alexnet():
    t = A.totals(A.summarize(A.ALEXNET_GROUPED, (3, 227, 227)))
    assert t["weights"] == 62_367_776 - (614_400 + 1_327_104 + 884_736) // 2
    assert t["params"] == 60_965_224


# -- VGG-16 ---------------------------------------------------------------------------------------
VGG_PARAMS = [1_792, 36_928, 73_856, 147_584, 295_168, 590_080, 590_080, 1_180_160,
              2_359_808, 2_359_808, 2_359_808, 2_359_808, 2_359_808,
              102_764_544, 16_781_312, 4_097_000]


def test_vgg16_sizes_per_block():
    rows = _by_name(A.VGG16, 224)
    assert [rows[f"conv{b}_1"].out_shape[1] for b in range(1, 6)] == [224, 112, 56, 28, 14]
    assert rows["pool5"].out_shape == (512, 7, 7)
    assert rows["flatten"].out_shape == (25_088,)


def test_vgg16_params_per_layer_and_totals():
    rows = A.summarize(A.VGG16, (3, 224, 224))
    assert [r.params for r in rows if r.kind in ("conv", "dense")] == VGG_PARAMS
    t = A.totals(rows)
    assert t["params"] == 138_357_544
    assert t["conv_params"] == 14_714_688
    assert t["dense_params"] == 138_357_544 - 14_714_688


# -- Inception-v1 ---------------------------------------------------------------------------------
INCEPTION = {"3a": (256, 163_328), "3b": (480, 388_096), "4a": (512, 375_552),
             "4b": (512, 448_512), "4c": (512, 509_440), "4d": (528, 604_672),
             "4e": (832, 867_328), "5a": (832, 1_042_432), "5b": (1024, 1_442_816)}


def test_inception_modules_depths_and_weights():
    rows = _by_name(A.INCEPTION_V1, 224)
    assert {k: (rows[k].out_shape[0], rows[k].weights) for k in INCEPTION} == INCEPTION


def test_inception_stem_and_head():
    rows = _by_name(A.INCEPTION_V1, 224)
    assert rows["conv1"].weights == 9_408
    assert rows["conv1"].out_shape == (64, 112, 112)
    assert rows["conv2_reduce"].weights == 4_096
    assert rows["conv2"].weights == 110_592
    assert rows["conv2_reduce"].weights + rows["conv2"].weights == 114_688
    assert rows["linear"].weights == 1_024_000
    assert [rows[k].out_shape[1] for k in ("pool1", "pool2", "pool3", "pool4", "avgpool")] \
        == [56, 28, 14, 7, 1]


def test_inception_ops_are_params_times_positions():
    rows = _by_name(A.INCEPTION_V1, 224)
    assert rows["3a"].macs == 163_328 * 28 * 28
    assert round(rows["3a"].macs / 1e6, 1) == 128.0
    for name, (_, weights) in INCEPTION.items():
        side = rows[name].out_shape[1]
        assert rows[name].macs == weights * side * side
    # The book's ops column (in M) agrees wherever its params do (erratum 18).
    book_ops = {"3b": 304, "4a": 73, "4b": 88, "4c": 100, "4d": 119, "4e": 170, "5b": 71}
    for name, ops in book_ops.items():
        assert abs(rows[name].macs / 1e6 - ops) < 1.0, name


def test_inception_block_with_biases():
    rows = _by_name(A.INCEPTION_V1, 224)
    assert rows["3a"].params - rows["3a"].weights == 64 + 96 + 128 + 16 + 32 + 32


# -- receptive field ------------------------------------------------------------------------------
def test_receptive_field_of_stacked_3x3():
    three = [A.Conv(8, 3, padding=1)] * 3
    assert [rf for rf, _ in A.receptive_field(three, (3, 32, 32))] == [3, 5, 7]
    assert [j for _, j in A.receptive_field(three, (3, 32, 32))] == [1, 1, 1]


def test_receptive_field_and_jump_with_strides():
    rows = _by_name(A.ALEXNET, 227)
    assert [(rows[k].rf, rows[k].jump) for k in
            ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool3")] == \
        [(11, 4), (19, 8), (51, 8), (67, 16), (99, 16), (131, 16), (163, 16), (195, 32)]
    # A dense layer on a 6x6 map acts as a 6x6 kernel: 195 + 5 * 32.
    assert rows["fc1"].rf == 355


def test_inception_block_grows_rf_by_its_5x5_branch():
    rf = A.receptive_field([A.Conv(8, 3, stride=2), A.Inception(4, 4, 4, 4, 4, 4)],
                           (3, 32, 32))
    assert rf == [(3, 2), (3 + 4 * 2, 2)]


# -- errors ---------------------------------------------------------------------------------------
def test_too_small_input_names_the_layer():
    with pytest.raises(A.SizeError, match="pool3") as info:
        A.summarize(A.ALEXNET, (3, 40, 40))
    assert info.value.layer == "pool3"
    assert A.min_input_size(A.ALEXNET) == 67
    assert A.min_input_size(A.VGG16) == 32
    A.summarize(A.ALEXNET, (3, 67, 67))


def test_malformed_networks_are_refused():
    with pytest.raises(ValueError, match="conv2 needs a C×H×W feature map"):
        A.summarize([A.Conv(4, 3), A.Flatten(), A.Conv(4, 3, name="conv2")], (3, 8, 8))
    with pytest.raises(ValueError, match="groups = 2 must divide"):
        A.summarize([A.Conv(4, 3, groups=2)], (3, 8, 8))
    with pytest.raises(ValueError, match="input_shape"):
        A.summarize(A.VGG16, (224, 224))


# -- errata ---------------------------------------------------------------------------------------
def test_errata_set_book_figures_beside_ours():
    alex = {e.figure: e for e in A.errata("alexnet")}
    total = alex["total parameters (L5447)"]
    assert total.book == "62.3 million" and "62,367,776" in total.ours
    assert "62.4" in total.ours and total.status == "wrong"
    inc = {e.figure.split()[0]: e for e in A.errata("inception_v1")}
    assert {k for k, e in inc.items() if e.status == "wrong"} == {"conv1", "4c", "5a",
                                                                   "accuracy"}
    assert inc["conv1"].book.startswith("2.7K") and "9,408" in inc["conv1"].ours
    assert "114,688" in inc["conv2"].ours and "128.0M" in inc["3a"].ours
    vgg = {e.figure: e for e in A.errata("vgg16")}
    assert "138,357,544" in vgg["total parameters (L5552)"].ours
    assert "4,097,000" in vgg["layer list (L5546–5550)"].ours
    assert A.errata("custom") == []


# -- custom text ----------------------------------------------------------------------------------
def test_parser_reads_the_example():
    arch = A.parse_architecture("conv 16 3 s1 p1; relu; pool 2; conv 32 3 p1; gap; dense 10")
    assert arch == (A.Conv(16, 3, 1, 1), A.ReLU(), A.MaxPool(2, 2), A.Conv(32, 3, 1, 1),
                    A.GlobalAvgPool(), A.Dense(10))
    rows = A.summarize(arch, (3, 32, 32))
    assert [r.name for r in rows] == ["conv1", "relu1", "pool1", "conv2", "gap1", "fc1"]
    assert rows[-1].params == 32 * 10 + 10
    assert rows[3].out_shape == (32, 16, 16)


def test_parser_options_aliases_and_round_trip():
    text = ("CONV 8 5 s2 same g1 nobias\nmaxpool 3 s=2 p1; avgpool 2; inception 4 4 8 2 4 4;"
            " flatten; fc 20; dropout 0.3; linear 5 nobias; lrn; softmax")
    arch = A.parse_architecture(text)
    assert arch[0] == A.Conv(8, 5, 2, 2, bias=False)
    assert arch[1] == A.MaxPool(3, 2, 1)
    assert arch[3] == A.Inception(4, 4, 8, 2, 4, 4)
    assert arch[6] == A.Dropout(0.3) and arch[7] == A.Dense(5, bias=False)
    canon = A.format_architecture(arch)
    assert A.parse_architecture(canon) == arch
    assert A.parse_custom(canon) == canon


@pytest.mark.parametrize("text, words", [
    ("", ["empty"]),
    ("convv 3", ["layer 1", "'convv'", "allowed"]),
    ("conv 16", ["missing", "conv C K"]),
    ("conv 16 x", ["'x'", "whole number", "conv C K"]),
    ("conv 16 3 q1", ["'q1'", "sN (stride)"]),
    ("pool 2 g2", ["'g2'", "pool takes"]),
    ("conv 0 3", ["channels C", "allowed 1-"]),
    ("conv 8 4 same", ["odd kernel"]),
    ("pool 2 p2", ["at most half"]),
    ("dropout 2", ["[0, 1)"]),
    ("inception 1 2 3", ["6 channel counts"]),
    ("gap 2", ["no arguments"]),
    ("dense 10; conv 8 3", ["conv1 needs a C×H×W", "flatten"]),
    ("conv 8 3 g2", ["groups = 2 must divide"]),
    ("conv 8 3 s2; " * 10, ["512×512", "conv9", "remove some downsampling"]),
    ("conv 8 3 s1 s2", ["repeats"]),
])
def test_parser_refuses_bad_text_in_words(text, words):
    with pytest.raises(ValueError) as info:
        A.parse_custom(text)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


# -- the lab --------------------------------------------------------------------------------------
def _state(lab):
    s = lab.snapshot()
    return dict(lab.values), dict(s.scalars), tuple(s.data["shapes"])


def test_lab_defaults_to_vgg16_and_is_static():
    lab = ArchitectureLab()
    assert lab.finished
    before = _state(lab)
    lab.step(5)
    assert lab.step_count == 0 and _state(lab) == before
    s = lab.snapshot()
    assert s.scalars["total_params"] == 138_357_544
    assert s.data["totals"]["params"] == 138_357_544
    assert s.data["totals"]["conv_params"] == 14_714_688
    assert "FC: 89.4%" in s.text["bars_note"]
    # Activation rows are hidden by default: 13 conv + 5 pool + flatten + 3 FC.
    assert len(s.data["names"]) == 22
    assert len(s.data["rf_curve"]["x"]) == 23


def test_preset_switch_moves_to_the_networks_own_size():
    lab = ArchitectureLab()
    lab.set_param("preset", "alexnet")
    assert lab.values["input_size"] == 227 and "227" in lab.notice
    s = lab.snapshot()
    assert s.scalars["total_weights"] == 62_367_776
    assert s.scalars["total_params"] == 62_378_344
    assert "FC: 94.0%" in s.text["bars_note"]
    # A size the user chose and that fits is kept.
    lab.set_param("input_size", 300)
    lab.set_param("preset", "vgg16")
    assert lab.values["input_size"] == 300
    # Constructing with a preset and no size uses the preset's size.
    assert ArchitectureLab(preset="alexnet").values["input_size"] == 227
    assert ArchitectureLab(preset="custom").values["input_size"] == 32


def test_too_small_input_raises_naming_the_layer_and_changes_nothing():
    lab = ArchitectureLab(preset="alexnet")
    before = _state(lab)
    with pytest.raises(ValueError) as info:
        lab.set_param("input_size", 40)
    msg = str(info.value)
    assert "pool3" in msg and "67" in msg and "AlexNet" in msg
    assert _state(lab) == before


def test_custom_network_checks_and_leaves_state_on_error():
    lab = ArchitectureLab(preset="custom")
    assert lab.snapshot().data["names"] == ("conv1", "pool1", "conv2", "pool2", "gap1", "fc1")
    before = _state(lab)
    with pytest.raises(ValueError, match="custom = 'conv 16 x' is not allowed.*'x'"):
        lab.set_param("custom", "conv 16 x")
    # Six 2x2 pools do not fit a 32x32 input: refused, naming the layer and the least size.
    with pytest.raises(ValueError, match="pool6.*at least 64|pool6.*is 64"):
        lab.set_param("custom", "conv 8 3 p1; " + "pool 2; " * 6 + "gap; dense 10")
    assert _state(lab) == before
    lab.set_param("custom", "conv 8 3 p1; pool 2; flatten; dense 10")
    assert lab.snapshot().data["totals"]["params"] == 8 * 27 + 8 + 8 * 16 * 16 * 10 + 10


def test_count_bias_show_activations_and_scales():
    lab = ArchitectureLab(preset="alexnet", count_bias=False)
    s = lab.snapshot()
    assert s.data["totals"]["params"] == 62_367_776
    assert list(s.data["params"][:3]) == [34_848, 0, 614_400]
    assert s.data["counted"] == "weights"
    lab.set_param("show_activations", True)
    assert "relu1" in lab.snapshot().data["names"]
    lab.set_param("scale", "log")
    bars = lab.snapshot().data["bars"]
    assert bars["params"]["value"][0] == pytest.approx(4.542, abs=1e-3)  # log10(34,848)
    assert lab.snapshot().data["log_ticks"][6] == (6, "1M")
    lab.set_param("scale", "linear")
    assert lab.snapshot().data["bars"]["macs"]["value"][0] == pytest.approx(105.4152)
    lab.set_param("scale", "percent")
    share = lab.snapshot().data["bars"]["params"]["value"]
    assert share.sum() == pytest.approx(100.0)


def test_equations_substitute_the_current_numbers():
    lab = ArchitectureLab(preset="alexnet")
    eq = lab.snapshot().text["equation"]
    assert "&lfloor;(227 + 2&middot;0 &minus; 11)/4&rfloor; + 1 = 55" in eq
    assert "34,848 &times; 55 &times; 55 = 105,415,200" in eq
    assert "9,216&middot;4,096 + 4,096 = 37,752,832" in eq
    lab.set_param("preset", "inception_v1")
    eq = lab.snapshot().text["equation"]
    assert "= 163,328 weights" in eq


def test_snapshot_has_errata_rows():
    lab = ArchitectureLab(preset="inception_v1")
    errata = lab.snapshot().data["errata"]
    assert any(row[0].startswith("4c") and row[3] == "wrong" for row in errata)
    lab.set_param("preset", "custom")
    assert lab.snapshot().data["errata"] == ()


# -- PyTorch cross-check --------------------------------------------------------------------------
def _torch_layers(arch, rows, c):
    """Our specs as torch modules (one per layer), built on the meta device."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    mods = []
    for layer, row in zip(arch, rows):
        if isinstance(layer, A.Conv):
            mod = nn.Conv2d(c, layer.out_channels, layer.k, layer.stride, layer.padding,
                            groups=layer.groups, bias=layer.bias, device="meta")
            c = layer.out_channels
        elif isinstance(layer, A.MaxPool):
            mod = nn.MaxPool2d(layer.k, layer.stride, layer.padding)
        elif isinstance(layer, A.Flatten):
            mod = nn.Flatten()
        elif isinstance(layer, A.Dense):
            # torch wants the fan-in spelled out; ours follows from the previous shape.
            mod = nn.Linear(row.weights // layer.out, layer.out, bias=layer.bias,
                            device="meta")
        else:
            mod = nn.ReLU() if isinstance(layer, A.ReLU) else nn.Identity()
        mods.append(mod)
    return mods


@pytest.mark.torch
@pytest.mark.parametrize("arch, n", [(A.VGG16, 224), (A.ALEXNET, 227), (A.ALEXNET_GROUPED, 227)])
def test_param_counts_and_shapes_match_torch(arch, n):
    torch = pytest.importorskip("torch")
    rows = A.summarize(arch, (3, n, n))
    mods = _torch_layers(arch, rows, 3)
    # Shapes without arithmetic: the meta device only propagates sizes.
    x = torch.empty(1, 3, n, n, device="meta")
    with torch.no_grad():
        for mod, row in zip(mods, rows):
            x = mod(x)
            assert tuple(x.shape[1:]) == row.out_shape, row.name
            count = sum(p.numel() for p in mod.parameters())
            assert count == row.params, row.name
    assert sum(r.params for r in rows) == sum(
        sum(p.numel() for p in m.parameters()) for m in mods)


@pytest.mark.torch
def test_inception_block_matches_torch():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    c_in, (c1, c3r, c3, c5r, c5, pp) = 192, A.INCEPTION_BLOCKS["3a"]
    branches = nn.ModuleList([
        nn.Conv2d(c_in, c1, 1),
        nn.Sequential(nn.Conv2d(c_in, c3r, 1), nn.Conv2d(c3r, c3, 3, padding=1)),
        nn.Sequential(nn.Conv2d(c_in, c5r, 1), nn.Conv2d(c5r, c5, 5, padding=2)),
        nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c_in, pp, 1)),
    ]).to("meta")
    x = torch.empty(1, c_in, 28, 28, device="meta")
    out = torch.cat([b(x) for b in branches], 1)
    row = A.summarize([A.Inception(c1, c3r, c3, c5r, c5, pp)], (c_in, 28, 28))[0]
    assert tuple(out.shape[1:]) == row.out_shape == (256, 28, 28)
    assert sum(p.numel() for p in branches.parameters()) == row.params
    weights = sum(p.numel() for name, p in branches.named_parameters() if "weight" in name)
    assert weights == row.weights == 163_328
