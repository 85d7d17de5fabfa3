"""When a window cannot open, the app says why and how to fix it instead of Qt aborting."""
import ctypes

from mathdl_gui import app


def test_offscreen_needs_nothing(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app.display_problem() is None


def test_no_display(monkeypatch):
    monkeypatch.setattr(app.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "No display found" in app.display_problem()


def test_missing_xcb_libraries_give_the_install_line(monkeypatch):
    monkeypatch.setattr(app.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    real = ctypes.CDLL

    def fake(name, *a, **k):
        if name in ("libxcb-cursor.so.0", "libxcb-shape.so.0"):
            raise OSError(name)
        return real("libc.so.6")

    monkeypatch.setattr(app.ctypes, "CDLL", fake)
    msg = app.display_problem()
    assert "sudo apt-get install libxcb-cursor0 libxcb-shape0" in msg
