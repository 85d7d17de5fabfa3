"""The backend choke point: choices, clear errors, conversions, and CuPy only when present."""
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from engine import backend


def test_numpy_default_and_auto_small_work_is_numpy():
    assert backend.resolve("numpy") == "numpy"
    assert backend.resolve("auto", work=1e3) == "numpy"
    assert backend.get_xp("numpy") is np


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="choose one of numpy, cupy, auto"):
        backend.resolve("jax")
    with pytest.raises(ValueError):
        backend.use("jax")
    assert backend.current() in backend.BACKENDS


def test_cupy_without_device_gives_reason_and_changes_nothing():
    ok, reason = backend.cupy_available()
    if ok:
        pytest.skip("a CUDA device is present")
    before = backend.current()
    with pytest.raises(ValueError, match="CuPy backend is unavailable"):
        backend.use("cupy")
    assert backend.current() == before
    assert backend.resolve("auto", work=1e12) == "numpy"  # auto never fails
    assert reason


def test_conversions_round_trip(xp):
    a = xp.arange(6, dtype=xp.float32).reshape(2, 3)
    h = backend.to_numpy(a)
    assert isinstance(h, np.ndarray) and h.dtype == np.float32
    assert backend.xp_of(a) is xp
    name = "cupy" if backend.is_cupy(a) else "numpy"
    b = backend.to_device(h, name)
    assert backend.xp_of(b) is xp
    np.testing.assert_array_equal(backend.to_numpy(b), h)


def test_device_label():
    assert backend.device_label("numpy") == "NumPy (CPU)"


def test_engine_import_does_not_import_cupy():
    code = "import engine.backend, engine.autodiff, engine.optim, sys; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_freed_buffers_are_kept_on_glibc_and_the_switch_turns_it_off():
    code = "import engine, sys; sys.exit(0 if engine.backend.keep_freed_memory() else 3)"
    on = subprocess.run([sys.executable, "-c", code], capture_output=True)
    off = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         env={**os.environ, "MATHDL_KEEP_FREED_MEMORY": "0"})
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert on.returncode == 0, on.stderr
    assert off.returncode == 3, off.stderr
