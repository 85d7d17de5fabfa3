"""GUI fixtures: a themed QApplication (pytest-qt's qapp) for every GUI test."""
import pytest

from mathdl_gui.widgets import style


@pytest.fixture(autouse=True)
def themed(qapp):
    style.apply_theme(qapp, "dark")
    yield


@pytest.fixture
def make_window(qtbot):
    """``make_window(**kwargs)``: a shown 1400x850 MainWindow, closed after the test."""
    from mathdl_gui.main_window import MainWindow

    made = []

    def make(**kwargs):
        w = MainWindow(**kwargs)
        qtbot.addWidget(w)
        w.resize(1400, 850)
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
