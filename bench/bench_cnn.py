"""Convolution and CNN-training benchmark: the engine (NumPy, and CuPy where a CUDA device is
present) against PyTorch (CPU, and CUDA where present), in one run.  Engine-only: no Qt, so it
runs on a GPU machine as ``python -m bench.bench_cnn``.

Workloads:

* ``conv2d`` forward + backward on (64,1,28,28) x (16,1,3,3) and (32,16,14,14) x (32,16,3,3),
  padding 1 (target: engine <= 3x PyTorch CPU);
* one training step of the digits CNN of the CNN lab (conv 8 -> pool -> conv 16 -> pool ->
  dense 10, Adam) at batch 64 and 256 (targets: a batch-64 step short enough for >= 10 steps
  per painted frame; on a GPU, CuPy >= 20x NumPy at batch 256 and within 2x of PyTorch CUDA).

Each figure is the median of ``--reps`` timed runs after warm-up; GPU timings synchronise the
device.  Results are checked for agreement before timing.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from engine import backend, optim
from engine.autodiff import Tensor
from engine.nn import functional as F
from engine.nn.cnn import SmallCNN

CONV_CASES = [((64, 1, 28, 28), (16, 1, 3, 3)), ((32, 16, 14, 14), (32, 16, 3, 3))]


def _median_ms(fn, reps: int, sync=lambda: None) -> float:
    return _interleaved({"x": (fn, sync)}, reps)["x"]


def _interleaved(runners: dict, reps: int, rounds: int = 5) -> dict:
    """Median ms of each ``name -> (fn, sync)``, timed in ``rounds`` turns of ``reps/rounds``.

    Taking turns (A A A B B B A A A B B B ...) rather than all of A, then all of B, means a
    neighbour's load or a clock change on a shared machine hits every contestant alike, so
    the ratios hold.  Turns of several runs, not single ones: PyTorch's OpenMP threads spin for
    a while after each call and would slow whatever runs next on a 2-core machine.
    """
    per = max(reps // rounds, 1)
    times = {name: [] for name in runners}
    for _ in range(rounds):
        for name, (fn, sync) in runners.items():
            fn()                     # a warm-up run per turn, not timed
            sync()
            for _ in range(per):
                t0 = time.perf_counter()
                fn()
                sync()
                times[name].append((time.perf_counter() - t0) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


def _cupy_sync():
    import cupy  # noqa: PLC0415
    cupy.cuda.Device().synchronize()


def engine_conv(xs, ws, name: str):
    xp = backend.get_xp(name)
    g = np.random.default_rng(0)
    x = Tensor(xp.asarray(g.standard_normal(xs, dtype=np.float32)), requires_grad=True)
    w = Tensor(xp.asarray(g.standard_normal(ws, dtype=np.float32)), requires_grad=True)

    def run():
        x.grad = w.grad = None
        F.conv2d(x, w, padding=1).sum().backward()
    return run, x, w


def torch_conv(torch, xs, ws, device):
    g = np.random.default_rng(0)
    x = torch.tensor(g.standard_normal(xs, dtype=np.float32), device=device,
                     requires_grad=True)
    w = torch.tensor(g.standard_normal(ws, dtype=np.float32), device=device,
                     requires_grad=True)

    def run():
        x.grad = w.grad = None
        torch.nn.functional.conv2d(x, w, padding=1).sum().backward()
    return run, x, w


def engine_step(batch: int, name: str):
    xp = backend.get_xp(name)
    g = np.random.default_rng(0)
    model = SmallCNN((1, 16, 16), [8, 16], generator=g).to_backend(name)
    opt = optim.Adam(list(model.parameters()), lr=3e-3)
    x = xp.asarray(g.random((batch, 1, 16, 16), dtype=np.float32))
    y = xp.asarray(g.integers(0, 10, batch))

    def run():
        opt.zero_grad()
        F.cross_entropy(model(Tensor(x)), y).backward()
        opt.step()
    return run


def torch_step(torch, batch: int, device):
    tnn = torch.nn
    model = tnn.Sequential(tnn.Conv2d(1, 8, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                           tnn.Conv2d(8, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                           tnn.Flatten(), tnn.Linear(256, 10)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x = torch.rand(batch, 1, 16, 16, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def run():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return run


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args(argv)
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        torch = None
    gpu, why = backend.cupy_available()
    cuda = torch is not None and torch.cuda.is_available()
    tsync = (lambda: torch.cuda.synchronize()) if cuda else (lambda: None)
    res = {}
    print(f"conv2d forward+backward, padding 1, float32, median ms of {args.reps} "
          f"(torch threads {torch.get_num_threads() if torch else '-'}; CuPy: "
          f"{'yes' if gpu else why})")
    nosync = lambda: None  # noqa: E731
    for xs, ws in CONV_CASES:
        run, x, w = engine_conv(xs, ws, "numpy")
        runners = {"numpy": (run, nosync)}
        if torch is not None:
            trun, tx, tw = torch_conv(torch, xs, ws, "cpu")
            run()
            trun()
            np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-3, atol=1e-3)
            runners["torch_cpu"] = (trun, nosync)
        if gpu:
            runners["cupy"] = (engine_conv(xs, ws, "cupy")[0], _cupy_sync)
        if cuda:
            runners["torch_cuda"] = (torch_conv(torch, xs, ws, "cuda")[0], tsync)
        row = res[f"conv {xs}x{ws}"] = _interleaved(runners, args.reps)
        ratio = f"  engine/torch CPU {row['numpy'] / row['torch_cpu']:.2f}" \
            if "torch_cpu" in row else ""
        print(f"  {xs} x {ws}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()) + ratio)
    print("digits CNN training step (conv8-pool-conv16-pool-dense10, Adam), median ms")
    for batch in (64, 256):
        runners = {"numpy": (engine_step(batch, "numpy"), nosync)}
        if torch is not None:
            runners["torch_cpu"] = (torch_step(torch, batch, "cpu"), nosync)
        if gpu:
            runners["cupy"] = (engine_step(batch, "cupy"), _cupy_sync)
        if cuda:
            runners["torch_cuda"] = (torch_step(torch, batch, "cuda"), tsync)
        row = res[f"step batch {batch}"] = _interleaved(runners, args.reps)
        extra = ""
        if "torch_cpu" in row:
            extra += f"  engine/torch CPU {row['numpy'] / row['torch_cpu']:.2f}"
        if "cupy" in row:
            extra += f"  CuPy speed-up over NumPy {row['numpy'] / row['cupy']:.1f}x"
        if "cupy" in row and "torch_cuda" in row:
            extra += f", CuPy / torch CUDA {row['cupy'] / row['torch_cuda']:.2f}"
        print(f"  batch {batch}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()) + extra)
    return res


if __name__ == "__main__":
    main()
