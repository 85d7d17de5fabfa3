"""Panel base: binds a lab's snapshots to plots.  Panels draw; they hold no math.

A panel builds its plot items once and ``render(snapshot)`` only calls ``setData`` /
``setImage``.  User gestures on plots (a click that sets a start point) become
``action_requested`` signals naming one of the lab's declared actions.
"""
from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from engine.labs.base import Snapshot
from mathdl_gui.widgets import export, style


class Banner(QtWidgets.QLabel):
    """A strip above the plots for alerts (divergence, escaped racers); hidden when empty."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.hide()
        self._shown = ()

    def show_alerts(self, alerts) -> None:
        alerts = tuple(alerts)
        if alerts == self._shown:
            return
        self._shown = alerts
        if not alerts:
            self.hide()
            return
        t = style.theme()
        self.setStyleSheet(f"background:{t['banner']}; color:{t['banner_text']}; padding:6px;"
                           "border-radius:4px; font-weight:bold;")
        more = f"  (+{len(alerts) - 3} more)" if len(alerts) > 3 else ""
        self.setText("\u26a0 " + "<br>\u26a0 ".join(alerts[:3]) + more)
        self.show()


class Panel(QtWidgets.QWidget):
    """Base class of every lab panel.

    Subclasses build their plots in ``__init__`` (calling ``super().__init__`` first and adding
    widgets to ``self.body``), list them in :meth:`plots` and implement :meth:`render`.
    """

    action_requested = QtCore.Signal(str, dict)

    def __init__(self, lab_cls, parent=None):
        super().__init__(parent)
        self.lab_cls = lab_cls
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.banner = Banner()
        lay.addWidget(self.banner)
        self.body = QtWidgets.QVBoxLayout()
        lay.addLayout(self.body, 1)
        self.last_snapshot: Snapshot | None = None

    def two_rows(self, top: int = 3, bottom: int = 2):
        """Add the usual layout to the body: a big row of main pictures over a row of curves,
        both horizontal splitters inside a vertical one; returns ``(top_row, bottom_row)``."""
        vsplit = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.body.addWidget(vsplit, 1)
        rows = []
        for stretch in (top, bottom):
            row = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
            vsplit.addWidget(row)
            rows.append(row)
        vsplit.setStretchFactor(0, top)
        vsplit.setStretchFactor(1, bottom)
        return rows[0], rows[1]

    def plots(self) -> dict:
        """Name -> ``pg.PlotItem`` of every exportable plot."""
        raise NotImplementedError

    def render(self, snap: Snapshot) -> None:
        self.last_snapshot = snap
        self.banner.show_alerts(snap.alerts)
        self._render(snap)

    def _render(self, snap: Snapshot) -> None:
        raise NotImplementedError

    def export_all(self, folder: str | Path, formats=export.FORMATS) -> list[Path]:
        """Write every plot of the panel as PNG, SVG and CSV into ``folder``."""
        return export.export_plots(self.plots(), folder, formats)
