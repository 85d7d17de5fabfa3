"""Preview one panel in its own window: ``python -m mathdl_gui.panels.<stem>``."""
from __future__ import annotations

import sys


def preview(name: str) -> int:
    from mathdl_gui.app import run_gui  # noqa: PLC0415

    return run_gui(panel=name)


if __name__ == "__main__":
    sys.exit(preview(sys.argv[1] if len(sys.argv) > 1 else "optimization"))
