"""Array backend choke point: NumPy by default, CuPy on a CUDA GPU.

This is the only module that imports CuPy, and only lazily, the first time it is asked for.
Engine code never picks a library itself: it asks ``xp_of(array)`` for the module that owns its
inputs, so NumPy in gives NumPy out and CuPy in gives CuPy out.

``auto`` chooses by work size. At playground sizes a GPU is slower than NumPy (kernel launches
cost ~14 us each; a 2-8-8-8 MLP step is 8x slower on an H100, shared/MEASUREMENTS.md), so ``auto``
means CuPy only when a CUDA device is present *and* the work is large enough to pay for it.
"""
from __future__ import annotations

import contextlib
import functools
import types

import numpy as np

BACKENDS = ("numpy", "cupy", "auto")

#: Work size (forward multiply-adds per training step) from which ``auto`` prefers CuPy.
#: Measured on an H100 (README, Performance): a 784-256-256-10 MLP at batch 128 (3.4e7 MACs)
#: is still 1.6x slower on CuPy than NumPy, a 64-256x4 MLP at batch 512 (1.1e8 MACs) is 3.4x
#: faster, and a 784-1024x4-10 MLP at batch 4096 (1.6e10 MACs) is 43x faster.
AUTO_GPU_MIN_WORK = 1e8

_state = {"name": "numpy"}


@functools.lru_cache(maxsize=1)
def _cupy_probe() -> tuple[types.ModuleType | None, str]:
    """Import CuPy once and check for a usable CUDA device.

    Returns
    -------
    (module or None, reason)
        The module when usable, else ``None`` and a sentence saying why not.
    """
    try:
        import cupy  # noqa: PLC0415  (lazy on purpose: most users have no GPU)
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        return None, (f"CuPy is not installed ({type(exc).__name__}); "
                      "install the GPU extra: pip install 'mathdl-playground[gpu]'")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"CuPy found no usable CUDA device ({exc})"
    if count < 1:
        return None, "CuPy is installed but no CUDA device is present"
    return cupy, ""


def cupy_available() -> tuple[bool, str]:
    """Whether the CuPy backend can be used, and if not, why (a sentence for the user)."""
    mod, reason = _cupy_probe()
    return mod is not None, reason


def _check_name(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    return name


def resolve(name: str, work: float = 0.0) -> str:
    """Turn a backend choice into a concrete library name, ``'numpy'`` or ``'cupy'``.

    Parameters
    ----------
    name : {'numpy', 'cupy', 'auto'}
    work : float
        Rough forward multiply-adds per step of the job at hand; ``auto`` picks CuPy only when
        a device is present and ``work >= AUTO_GPU_MIN_WORK``.

    Raises
    ------
    ValueError
        For an unknown name, or for ``'cupy'`` when CuPy or a CUDA device is missing.
    """
    _check_name(name)
    if name == "numpy":
        return "numpy"
    ok, reason = cupy_available()
    if name == "cupy":
        if not ok:
            raise ValueError(f"the CuPy backend is unavailable: {reason}. Use 'numpy' or 'auto'.")
        return "cupy"
    return "cupy" if ok and work >= AUTO_GPU_MIN_WORK else "numpy"


def use(name: str) -> str:
    """Set the process-wide default backend (``numpy``, ``cupy`` or ``auto``) and return it.

    Raises ``ValueError`` (state unchanged) when the choice is unknown or unavailable.
    """
    if name == "cupy":
        resolve(name)  # raises with the reason before anything changes
    _state["name"] = _check_name(name)
    return name


def current() -> str:
    """The default backend choice as set by :func:`use` (may be ``'auto'``)."""
    return _state["name"]


def get_xp(name: str | None = None, work: float = 0.0) -> types.ModuleType:
    """The array module for a backend choice (default: the current one)."""
    lib = resolve(name or current(), work)
    return np if lib == "numpy" else _cupy_probe()[0]


def xp_of(*arrays) -> types.ModuleType:
    """The array module that owns ``arrays``: CuPy if any of them is a CuPy array, else NumPy.

    Only inspects the type's module name, so it never imports CuPy itself.
    """
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            return _cupy_probe()[0]
    return np


def is_cupy(a) -> bool:
    """True when ``a`` is a CuPy array."""
    return type(a).__module__.startswith("cupy")


def to_numpy(a) -> np.ndarray:
    """Copy a CuPy array to the host; NumPy arrays and scalars pass through as NumPy."""
    if is_cupy(a):
        return a.get()
    return np.asarray(a)


def to_device(a, name: str):
    """Move an array to backend ``name`` (``'numpy'`` or ``'cupy'``; ``'auto'`` is resolved).

    Values and dtype are kept; an array already there is returned as is.
    """
    lib = resolve(name)
    if lib == "numpy":
        return to_numpy(a)
    cp = _cupy_probe()[0]
    return a if is_cupy(a) else cp.asarray(a)


def device_label(name: str | None = None) -> str:
    """Human-readable name of a backend: ``'NumPy (CPU)'`` or e.g. ``'CuPy (NVIDIA H100)'``."""
    lib = resolve(name or current())
    if lib == "numpy":
        return "NumPy (CPU)"
    cp = _cupy_probe()[0]
    try:
        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        dev = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    except Exception:
        dev = "CUDA"
    return f"CuPy ({dev})"


@functools.lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415
    except ImportError:  # an optional nicety: without it BLAS keeps its own thread count
        return None
    return ThreadpoolController()


@contextlib.contextmanager
def blas_threads(n: int | None):
    """Run NumPy's BLAS on ``n`` threads inside the block (``None``: leave it alone).

    The labs' matrices are small (a few hundred rows).  OpenBLAS still splits them over every
    core, and when the machine is busy (the GUI painting, other programs) its threads'
    busy-waiting made a training step 10-50x slower: 10 ms on one thread against 100-490 ms
    on two, measured on the 2-core machine.  Limiting costs about 10 us per block.
    """
    ctl = _blas_controller() if n is not None else None
    if ctl is None:
        yield
        return
    with ctl.limit(limits=n, user_api="blas"):
        yield


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


@functools.lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Let glibc reuse freed NumPy buffers instead of returning them to the OS at each free.

    By default glibc serves every block over ~128 KiB-32 MiB with a fresh ``mmap`` and unmaps
    it on free, so each training step pays a page fault per 4 KiB of every temporary it
    creates (im2col matrices, activations, gradients) as the kernel zeroes new pages.  On the
    2-core machine that was half the time of a conv2d forward+backward: 8.1 ms against 4.3 ms
    with the buffers kept (bench_cnn, (32,16,14,14)x(32,16,3,3)).  PyTorch avoids the same cost
    with its caching allocator; raising the two thresholds is the NumPy equivalent.  Freed
    memory stays with the process for reuse (up to 1 GiB kept before trimming).

    Called once when the engine is imported; ``MATHDL_KEEP_FREED_MEMORY=0`` turns it off.
    Does nothing outside glibc (macOS, Windows, musl).

    Returns
    -------
    bool
        Whether both thresholds were set.
    """
    import ctypes  # noqa: PLC0415
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415
    if os.environ.get("MATHDL_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith(
            "linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    # 32 MiB is glibc's largest mmap threshold on 64-bit; blocks above it still use mmap.
    return bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and bool(
        mallopt(_M_TRIM_THRESHOLD, 1 << 30))
