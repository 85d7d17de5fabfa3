"""MathDL Playground: ``python main.py`` opens the window; see ``python main.py --help``."""
import sys

from mathdl_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
