"""The parameter form, generated from a lab's declared params, bound two ways.

Every control is made by :func:`make_control` from a :class:`engine.labs.base.Param`:
floats get a slider (linear or log ticks) with a typed value field, ints a spin box, bools a
check box, choices a combo box.  Slider drags are rate-limited to ~30 updates/s; typed values
are validated by the param itself, and a rejected value shows why and reverts.
"""
from __future__ import annotations

import math

from PySide6 import QtCore, QtWidgets

from engine.labs.base import Param

TICKS = 1000
THROTTLE_MS = 33


def fmt(v) -> str:
    """3-4 significant digits, as everywhere on screen."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}"


class _FloatControl(QtWidgets.QWidget):
    """Slider + typed value field for one float/int param (log ticks when declared)."""

    committed = QtCore.Signal(object)
    rejected = QtCore.Signal(str)

    def __init__(self, p: Param, parent=None):
        super().__init__(parent)
        self.p = p
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, TICKS)
        self.edit = QtWidgets.QLineEdit()
        self.edit.setFixedWidth(72)
        self.edit.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.edit)
        self._pending = None
        self._timer = QtCore.QTimer(self, singleShot=True, interval=THROTTLE_MS)
        self._timer.timeout.connect(self._flush)
        self.slider.valueChanged.connect(self._on_slider)
        self.slider.sliderReleased.connect(self._flush)
        self.edit.editingFinished.connect(self._on_edit)
        self.value = p.default
        self.set_value(p.default)

    # tick <-> value
    def _to_value(self, tick: int):
        p, t = self.p, tick / TICKS
        if p.log:
            v = math.exp(math.log(p.low) + t * (math.log(p.high) - math.log(p.low)))
            v = float(f"{v:.3g}")  # log sliders land on round numbers
        else:
            v = p.low + t * (p.high - p.low)
            if p.step:
                v = p.low + round((v - p.low) / p.step) * p.step
            v = round(v, 10)
        if p.kind == "int":
            v = int(round(v))
        return min(max(v, p.low), p.high)

    def _to_tick(self, v) -> int:
        p = self.p
        if p.high == p.low:
            return 0
        if p.log:
            t = (math.log(v) - math.log(p.low)) / (math.log(p.high) - math.log(p.low))
        else:
            t = (v - p.low) / (p.high - p.low)
        return int(round(min(max(t, 0.0), 1.0) * TICKS))

    def set_value(self, v) -> None:
        """Show ``v`` without emitting anything."""
        self.value = v
        with QtCore.QSignalBlocker(self.slider):
            self.slider.setValue(self._to_tick(v))
        self.edit.setText(fmt(v))
        self.edit.setStyleSheet("")

    def _on_slider(self, tick: int):
        v = self._to_value(tick)
        self.edit.setText(fmt(v))
        self._pending = v
        if not self._timer.isActive():
            self._timer.start()

    def _flush(self):
        self._timer.stop()
        if self._pending is not None and self._pending != self.value:
            self.value = self._pending
            self.committed.emit(self._pending)
        self._pending = None

    def _on_edit(self):
        text = self.edit.text()
        try:
            v = self.p.coerce(text)
        except ValueError as exc:
            self.edit.setStyleSheet("border: 1px solid #e0533d;")
            self.edit.setToolTip(str(exc))
            self.rejected.emit(str(exc))
            self.edit.setText(fmt(self.value))
            return
        self.edit.setStyleSheet("")
        with QtCore.QSignalBlocker(self.slider):
            self.slider.setValue(self._to_tick(v))
        if v != self.value:
            self.value = v
            self.committed.emit(v)


class ParamForm(QtWidgets.QWidget):
    """All of a lab's params, grouped as declared.

    Signals
    -------
    param_changed(name, value)
        A control committed a valid value.
    input_rejected(message)
        A typed value was refused; the message says what is allowed.
    """

    param_changed = QtCore.Signal(str, object)
    input_rejected = QtCore.Signal(str)

    def __init__(self, params, parent=None):
        super().__init__(parent)
        self.controls: dict[str, QtWidgets.QWidget] = {}
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        groups: dict[str, QtWidgets.QFormLayout] = {}
        for p in params:
            if p.group not in groups:
                box = QtWidgets.QGroupBox(p.group)
                form = QtWidgets.QFormLayout(box)
                form.setContentsMargins(6, 4, 6, 4)
                form.setVerticalSpacing(2)
                groups[p.group] = form
                outer.addWidget(box)
            ctl = self._make(p)
            tip = f"<b>{p.display}</b>"
            if p.symbol:
                tip += f" ({p.symbol})"
            tip += f"<br>{p.help}<br><i>Allowed: {p.allowed()}</i>"
            ctl.setToolTip(tip)
            label = QtWidgets.QLabel(p.display)
            label.setToolTip(tip)
            groups[p.group].addRow(label, ctl)
            self.controls[p.name] = ctl
        outer.addStretch(1)
        self._values = {p.name: p.default for p in params}

    def _make(self, p: Param) -> QtWidgets.QWidget:
        name = p.name
        if p.kind in ("float", "int") and p.low is not None and p.high is not None:
            w = _FloatControl(p)
            w.committed.connect(lambda v, n=name: self._emit(n, v))
            w.rejected.connect(self.input_rejected)
            return w
        if p.kind == "int":
            w = QtWidgets.QSpinBox()
            w.setRange(int(p.low if p.low is not None else -2**31),
                       int(p.high if p.high is not None else 2**31 - 1))
            w.setValue(p.default)
            w.valueChanged.connect(lambda v, n=name: self._emit(n, int(v)))
            return w
        if p.kind == "text":
            w = QtWidgets.QLineEdit(str(p.default))
            if p.choices:
                w.setPlaceholderText("e.g. " + " or ".join(p.choices[:2]))

            def commit(p=p, w=w):
                try:
                    value = p.coerce(w.text())
                except ValueError as exc:
                    self.input_rejected.emit(str(exc))
                    w.setText(str(self._values[p.name]))  # show the value still in force
                    return
                w.setText(value)
                if value != self._values.get(p.name):
                    self._emit(p.name, value)
            w.editingFinished.connect(commit)
            return w
        if p.kind == "bool":
            w = QtWidgets.QCheckBox()
            w.setChecked(p.default)
            w.toggled.connect(lambda v, n=name: self._emit(n, bool(v)))
            return w
        w = QtWidgets.QComboBox()
        w.addItems(list(p.choices))
        w.setCurrentText(p.default)
        w.currentTextChanged.connect(lambda v, n=name: self._emit(n, v))
        return w

    def _emit(self, name, value):
        self._values[name] = value
        self.param_changed.emit(name, value)

    def set_values(self, values: dict) -> None:
        """Show the lab's current values (e.g. presets it loaded) without emitting."""
        for name, v in values.items():
            if name not in self.controls or self._values.get(name) == v:
                continue
            self._values[name] = v
            w = self.controls[name]
            if isinstance(w, _FloatControl):
                w.set_value(v)
                continue
            with QtCore.QSignalBlocker(w):
                if isinstance(w, QtWidgets.QCheckBox):
                    w.setChecked(bool(v))
                elif isinstance(w, QtWidgets.QComboBox):
                    w.setCurrentText(str(v))
                elif isinstance(w, QtWidgets.QLineEdit):
                    w.setText(str(v))
                else:
                    w.setValue(v)

    def value_of(self, name: str):
        return self._values[name]
