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

from bench.bench_mlp import engine_step_fn, init_params, make_data
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


def torch_cuda_step(cfg, params_np, x_np, y_np):
    import torch  # noqa: PLC0415

    dev = "cuda"
    params = [torch.tensor(p, device=dev, requires_grad=True) for p in params_np]
    x, y = torch.tensor(x_np, device=dev), torch.tensor(y_np, device=dev)
    tf = torch.nn.functional
    act = torch.tanh if cfg["act"] == "tanh" else torch.relu
    loss_fn = tf.mse_loss if cfg["loss"] == "mse" else tf.cross_entropy
    opt = torch.optim.SGD(params, lr=0.01)
    n = len(params) // 2

    def step():
        h = x
        for i in range(n):
            h = tf.linear(h, params[2 * i], params[2 * i + 1])
            if i < n - 1:
                h = act(h)
        loss = loss_fn(h, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, torch.cuda.synchronize


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
            step, sync = torch_cuda_step(cfg, params, x, y)
            t_tc = _median_ms(step, sync, reps)
        except Exception as exc:  # no CUDA torch: report the rest
            print(f"  torch CUDA unavailable: {exc}")
            t_tc = float("nan")
        print(f"{label:30s} {t_np:9.3f} {t_cp:9.3f} {t_tc:11.3f} {t_np / t_cp:20.2f} "
              f"{t_cp / t_tc:11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
