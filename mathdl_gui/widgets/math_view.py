"""Rendered math (HTML with real sub/superscripts and symbols) plus a short explanation."""
from __future__ import annotations

from PySide6 import QtWidgets

from mathdl_gui.widgets import style


class MathView(QtWidgets.QTextBrowser):
    """Shows a lab's equations with their live numbers.  Re-renders only when text changes."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenExternalLinks(False)
        self._html = None
        self.setMinimumHeight(160)

    def show_math(self, equation: str, rules: str = "", summary: str = "") -> bool:
        """Display the blocks; returns True when the text changed."""
        t = style.theme()
        html = (f"<div style='color:{t['text']}; font-size:10pt'>{equation}{rules}"
                f"<hr><p style='color:{t['foreground']}'>{summary}</p></div>")
        if html == self._html:
            return False
        self._html = html
        bar = self.verticalScrollBar()
        pos = bar.value()
        self.setHtml(html)
        bar.setValue(pos)  # keep the reader's place while numbers update
        return True
