"""GUI fixtures: a themed QApplication (pytest-qt's qapp) for every GUI test."""
import pytest

from mathdl_gui.widgets import style


@pytest.fixture(autouse=True)
def themed(qapp):
    style.apply_theme(qapp, "dark")
    yield
