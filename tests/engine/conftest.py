"""Fixtures shared by the engine tests (no Qt here)."""
import numpy as np
import pytest

from engine import backend


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.cupy)])
def xp(request):
    """The array module under test: NumPy always, CuPy only where a CUDA device is usable."""
    if request.param == "numpy":
        return np
    ok, reason = backend.cupy_available()
    if not ok:
        pytest.skip(reason)
    return backend.get_xp("cupy")
