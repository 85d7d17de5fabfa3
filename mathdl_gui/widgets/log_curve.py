"""Log-axis curves: :class:`LogCurve`, a light ``PlotCurveItem`` for plots with a log y axis
that still exports the original values."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg


class LogCurve(pg.PlotCurveItem):
    """A curve for a log-scale y axis that is cheaper to update than ``PlotDataItem``.

    It draws ``log10(y)`` (what a log axis plots) and reports the original ``y`` for export.
    """

    def set_values(self, x, y, log: bool) -> None:
        """Show ``(x, y)``.

        Parameters
        ----------
        x, y : array_like
            The points, ``y`` in data units.
        log : bool
            Whether the plot's y axis is in log mode: then ``log10(y)`` is drawn (zeros and
            negatives become gaps), else ``y`` itself.
        """
        self._original = (x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.setData(x, np.log10(y) if log else y)

    def getOriginalDataset(self):
        """The ``(x, y)`` last given to :meth:`set_values` (``(None, None)`` before)."""
        return getattr(self, "_original", (None, None))
