"""GPU check, engine-only (no Qt): MLP training steps on NumPy, CuPy and PyTorch CUDA.

Run on a CUDA machine: ``python -m bench.gpu_check``.  It prints ms per training step
(forward, loss, backward, SGD update) for each backend at playground, mid and large sizes, and
the speed-ups, so ``auto``'s work threshold can be checked against measurements.
"""
from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from bench.bench_mlp import engine_step_fn, init_params, make_data, torch_step_fn
from engine import backend

SIZES = {
    "2-8-8-1 b256 (playground)": dict(sizes=(2, 8, 8, 1), batch=256, act="tanh", loss="mse"),
    "784-256-256-10 b128 (MNIST)": dict(sizes=(784, 256, 256, 10), batch=128, act="relu",
                                        loss="ce"),
    "784-1024x4-10 b4096 (large)": dict(sizes=(784, 1024, 1024, 1024, 1024, 10), batch=4096,
                                        act="relu", loss="ce"),
}


def _median_ms(step, sync, reps):
    for _ in range(10):
        step()
    sync()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        sync()
        out.append(time.perf_counter() - t0)
    return statistics.median(out) * 1e3


def main() -> int:
    ok, reason = backend.cupy_available()
    if not ok:
        print(f"no GPU check: {reason}")
        return 0
    cp = backend.get_xp("cupy")
    print(f"device: {backend.device_label('cupy')}; numpy {np.__version__}, cupy {cp.__version__}")
    print(f"{'workload':30s} {'numpy':>9s} {'cupy':>9s} {'torch-cuda':>11s} "
          f"{'cupy/numpy speed-up':>20s} {'cupy/torch':>11s}")
    for label, cfg in SIZES.items():
        params = init_params(cfg["sizes"])
        x, y = make_data(cfg)
        reps = 20 if cfg["batch"] >= 4096 else 100
        t_np = _median_ms(engine_step_fn(cfg, params, x, y), lambda: None, reps)
        to_gpu = [cp.asarray(p) for p in params]
        t_cp = _median_ms(engine_step_fn(cfg, to_gpu, cp.asarray(x), cp.asarray(y)),
                          cp.cuda.Device().synchronize, reps)
        try:
            import torch  # noqa: PLC0415

            t_tc = _median_ms(torch_step_fn(cfg, params, x, y, device="cuda"),
                              torch.cuda.synchronize, reps)
        except Exception as exc:  # no CUDA torch: report the rest
            print(f"  torch CUDA unavailable: {exc}")
            t_tc = float("nan")
        print(f"{label:30s} {t_np:9.3f} {t_cp:9.3f} {t_tc:11.3f} {t_np / t_cp:20.2f} "
              f"{t_cp / t_tc:11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
