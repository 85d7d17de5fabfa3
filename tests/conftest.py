"""Suite-wide set-up: headless Qt before anything imports it; torch parity made mandatory in CI."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


def pytest_configure(config):
    # `make parity` (run by .ci/run) sets this so parity tests cannot silently skip.
    if os.environ.get("MATHDL_REQUIRE_TORCH") == "1":
        try:
            import torch  # noqa: F401
        except ImportError:
            pytest.exit("MATHDL_REQUIRE_TORCH=1 but torch is not importable", returncode=3)
