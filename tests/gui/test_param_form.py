"""The generated param form: controls from declarations, log sliders, typed-value checks."""
from PySide6 import QtWidgets

from engine.labs.base import Param
from mathdl_gui.widgets.param_form import ParamForm, _FloatControl

PARAMS = (
    Param("lr", "float", 1e-2, 1e-5, 1.0, log=True, symbol="c", help="step size", group="Opt"),
    Param("alpha", "float", 0.5, 0.0, 1.0, step=0.1, group="Opt"),
    Param("layers", "int", 2, 0, 8, group="Net"),
    Param("on", "bool", True, group="Net"),
    Param("act", "choice", "relu", choices=("relu", "tanh"), group="Net"),
)


def test_controls_and_tooltips(qtbot):
    form = ParamForm(PARAMS)
    qtbot.addWidget(form)
    assert isinstance(form.controls["lr"], _FloatControl)
    assert isinstance(form.controls["on"], QtWidgets.QCheckBox)
    assert isinstance(form.controls["act"], QtWidgets.QComboBox)
    tip = form.controls["lr"].toolTip()
    assert "(c)" in tip and "step size" in tip and "[1e-05, 1]" in tip
    boxes = [b.title() for b in form.findChildren(QtWidgets.QGroupBox)]
    assert boxes == ["Opt", "Net"]


def test_log_slider_spans_decades(qtbot):
    form = ParamForm(PARAMS)
    qtbot.addWidget(form)
    ctl = form.controls["lr"]
    seen = []
    form.param_changed.connect(lambda n, v: seen.append((n, v)))
    ctl.slider.setValue(0)
    qtbot.waitUntil(lambda: bool(seen) and seen[-1][1] == 1e-5, timeout=1000)
    ctl.slider.setValue(ctl.slider.maximum() // 2)
    qtbot.waitUntil(lambda: seen[-1][1] == 3.16e-3, timeout=1000)  # the geometric middle
    assert ctl.edit.text() == "0.00316"


def test_slider_drag_is_rate_limited(qtbot):
    form = ParamForm(PARAMS)
    qtbot.addWidget(form)
    seen = []
    form.param_changed.connect(lambda n, v: seen.append(v))
    ctl = form.controls["alpha"]
    for t in range(0, 1000, 10):
        ctl.slider.setValue(t)
    qtbot.waitUntil(lambda: bool(seen), timeout=1000)
    qtbot.wait(100)
    # 100 slider moves in one burst reach the lab as one or two updates, ending at the last
    # (tick 990 of 1000 is 0.99, snapped to the declared step 0.1).
    assert 1 <= len(seen) <= 3 and seen[-1] == 1.0


def test_typed_value_rejected_with_reason_and_reverted(qtbot):
    form = ParamForm(PARAMS)
    qtbot.addWidget(form)
    rejected, changed = [], []
    form.input_rejected.connect(rejected.append)
    form.param_changed.connect(lambda n, v: changed.append(v))
    ctl = form.controls["alpha"]
    ctl.edit.setText("7")
    ctl.edit.editingFinished.emit()
    assert rejected and "[0, 1]" in rejected[0] and not changed
    assert ctl.edit.text() == "0.5"
    ctl.edit.setText("0.25")
    ctl.edit.editingFinished.emit()
    assert changed == [0.25]


def test_set_values_updates_without_emitting(qtbot):
    form = ParamForm(PARAMS)
    qtbot.addWidget(form)
    seen = []
    form.param_changed.connect(lambda n, v: seen.append(n))
    form.set_values({"lr": 0.1, "on": False, "act": "tanh", "layers": 5})
    assert not seen
    assert form.controls["lr"].edit.text() == "0.1"
    assert not form.controls["on"].isChecked()
    assert form.controls["act"].currentText() == "tanh"
    assert form.value_of("layers") == 5
