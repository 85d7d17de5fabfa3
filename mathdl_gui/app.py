"""QApplication set-up, and a clear message instead of Qt's abort when the display can't open."""
from __future__ import annotations

import ctypes
import os
import sys

#: Libraries Qt's X11 (xcb) platform plugin needs, with the Debian package that ships each.
XCB_LIBS = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-shape.so.0": "libxcb-shape0",
}


def display_problem() -> str | None:
    """Why a window cannot open here, with what to do; ``None`` when it should open.

    Qt aborts the whole process (no exception) when its platform plugin cannot load, so we
    check the usual causes on Linux before creating the application.
    """
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal", "vnc", "eglfs", "linuxfb")):
        return None
    if platform.startswith("wayland") or (not platform and os.environ.get("WAYLAND_DISPLAY")
                                          and not os.environ.get("DISPLAY")):
        return None
    if not os.environ.get("DISPLAY"):
        return ("No display found (DISPLAY is not set). Run it on a desktop, or headless with "
                "QT_QPA_PLATFORM=offscreen, or use `python main.py run LAB ... --screenshot "
                "FILE`.")
    missing = []
    for lib, pkg in XCB_LIBS.items():
        try:
            ctypes.CDLL(lib)
        except OSError:
            missing.append(pkg)
    if missing:
        return ("Qt's X11 platform needs system libraries that are missing here. Install them "
                "with:\n    sudo apt-get install " + " ".join(missing))
    return None


def make_app(argv=None, theme: str = "dark"):
    """The QApplication (created once), themed."""
    from PySide6 import QtGui, QtWidgets  # noqa: PLC0415  (Qt loads only for a window)

    from mathdl_gui.widgets import style  # noqa: PLC0415

    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(list(argv or sys.argv[:1]))
        app.setApplicationName("MathDL Playground")
        app.setOrganizationName("MathDL")
    style.apply_theme(app, theme)
    # Axes, titles and legends are painted from pixmap caches (widgets/style.py); Qt's default
    # 10 MB pixmap cache is too small for a few full-size plots and would thrash.
    QtGui.QPixmapCache.setCacheLimit(128 * 1024)
    return app


def run_gui(panel: str | None = None, seed: int = 0, backend_name: str = "auto") -> int:
    """Open the main window; returns the exit code."""
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    app = make_app()
    from mathdl_gui.main_window import MainWindow  # noqa: PLC0415

    win = MainWindow(panel=panel, seed=seed, backend_name=backend_name)
    win.show()
    return app.exec()
