"""MathDL Playground engine: NumPy/CuPy arrays, autodiff, layers, optimizers and the labs.

Pure Python and array code; it never imports Qt, so it runs headless, in tests, and on GPU
machines without a display.
"""
__version__ = "0.1.0"

from engine import backend as _backend

_backend.keep_freed_memory()
