"""MLP training-step benchmark: the engine against PyTorch CPU at the same thread count.

One step = forward, loss, backward, SGD update (``engine.optim.SGD`` / ``torch.optim.SGD``).

Workloads:

(a) 2-8-8-1, batch 256, tanh, MSE: a TensorFlow-Playground-size net where per-op Python
    overhead is everything (target: engine/torch <= 1.0);
(b) 784-256-256-10, batch 128, relu, cross-entropy: MNIST-size, dominated by GEMMs
    (target: engine/torch <= 1.5).

Run ``python -m bench.bench_mlp [--reps N] [--rounds R] [--profile a|b]``.  Engine and torch
steps run in alternating rounds so that a noisy, shared machine biases neither side; the
reported figure is the median over all steps.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time

import numpy as np

from engine.autodiff import Tensor
from engine.nn import functional as F
from engine.optim import SGD as EngineSGD

LR = 0.01

WORKLOADS = {
    "a": dict(sizes=(2, 8, 8, 1), batch=256, act="tanh", loss="mse", target=1.0),
    "b": dict(sizes=(784, 256, 256, 10), batch=128, act="relu", loss="ce", target=1.5),
}


def blas_threads() -> tuple[int, str]:
    """Threads NumPy's BLAS uses, and how that was found out."""
    try:
        import threadpoolctl  # noqa: PLC0415  (optional)
        infos = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
        if infos:
            return int(infos[0]["num_threads"]), f"threadpoolctl ({infos[0]['internal_api']})"
    except ImportError:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var]), f"${var}"
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return int(n), "OpenBLAS default (one per available core; threadpoolctl not installed)"


def init_params(sizes, seed=0):
    """He-uniform-ish float32 weights (out, in) and zero-ish biases, as NumPy arrays."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, (fan_out,)).astype(np.float32))
    return params


def make_data(cfg, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg["batch"], cfg["sizes"][0])).astype(np.float32)
    if cfg["loss"] == "mse":
        y = rng.standard_normal((cfg["batch"], cfg["sizes"][-1])).astype(np.float32)
    else:
        y = rng.integers(0, cfg["sizes"][-1], cfg["batch"]).astype(np.int64)
    return x, y


def engine_step_fn(cfg, params_np, x_np, y_np):
    params = [Tensor(p.copy(), requires_grad=True) for p in params_np]
    x, y = Tensor(x_np), Tensor(y_np)
    act = F.tanh if cfg["act"] == "tanh" else F.relu
    loss_fn = F.mse_loss if cfg["loss"] == "mse" else F.cross_entropy
    n_layers = len(params) // 2
    opt = EngineSGD(params, lr=LR)

    def step():
        h = x
        for i in range(n_layers):
            h = F.linear(h, params[2 * i], params[2 * i + 1])
            if i < n_layers - 1:
                h = act(h)
        loss = loss_fn(h, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def torch_step_fn(cfg, params_np, x_np, y_np, device="cpu"):
    import torch  # noqa: PLC0415
    params = [torch.tensor(p, device=device, requires_grad=True) for p in params_np]
    x, y = torch.tensor(x_np, device=device), torch.tensor(y_np, device=device)
    act = torch.tanh if cfg["act"] == "tanh" else torch.relu
    tf = torch.nn.functional
    loss_fn = tf.mse_loss if cfg["loss"] == "mse" else tf.cross_entropy
    n_layers = len(params) // 2
    opt = torch.optim.SGD(params, lr=LR)

    def step():
        h = x
        for i in range(n_layers):
            h = tf.linear(h, params[2 * i], params[2 * i + 1])
            if i < n_layers - 1:
                h = act(h)
        loss = loss_fn(h, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def _time(step, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        out.append(time.perf_counter() - t0)
    return out


def run(key, reps, rounds, torch_mod):
    cfg = WORKLOADS[key]
    params_np = init_params(cfg["sizes"])
    x_np, y_np = make_data(cfg)
    eng = engine_step_fn(cfg, params_np, x_np, y_np)
    # Same start, same data: the first losses must agree (a cheap end-to-end sanity check).
    l_eng = float(eng().item())
    res = {"engine": []}
    if torch_mod is not None:
        tor = torch_step_fn(cfg, params_np, x_np, y_np)
        l_tor = float(tor().item())
        if abs(l_eng - l_tor) > 1e-4 * max(1.0, abs(l_tor)):
            print(f"  WARNING ({key}): first-step losses differ: engine {l_eng}, "
                  f"torch {l_tor}")
        res["torch"] = []
    warm = max(20, reps // 5)
    _time(eng, warm)
    if torch_mod is not None:
        _time(tor, warm)
    for _ in range(rounds):
        res["engine"] += _time(eng, reps)
        if torch_mod is not None:
            res["torch"] += _time(tor, reps)
    return {k: statistics.median(v) * 1e3 for k, v in res.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200, help="steps per round (default 200)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    ap.add_argument("--only", choices=sorted(WORKLOADS), help="run one workload")
    ap.add_argument("--profile", choices=sorted(WORKLOADS),
                    help="cProfile the engine step of one workload instead")
    args = ap.parse_args(argv)

    n_threads, how = blas_threads()
    try:
        import torch  # noqa: PLC0415
        torch.set_num_threads(n_threads)
    except ImportError:
        torch = None

    if args.profile:
        cfg = WORKLOADS[args.profile]
        step = engine_step_fn(cfg, init_params(cfg["sizes"]), *make_data(cfg))
        _time(step, 50)
        prof = cProfile.Profile()
        prof.enable()
        _time(step, 500)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return 0

    print(f"numpy {np.__version__}, BLAS threads {n_threads} ({how}); "
          + (f"torch {torch.__version__}, threads {torch.get_num_threads()}" if torch
             else "torch not installed: engine timings only"))
    print("update: engine.optim.SGD vs torch.optim.SGD")
    print(f"median of {args.rounds} x {args.reps} steps per side, after warm-up\n")
    print(f"{'workload':44s} {'engine ms':>10s} {'torch ms':>10s} {'ratio':>7s} {'target':>7s}")
    ok = True
    for key, cfg in WORKLOADS.items():
        if args.only and key != args.only:
            continue
        r = run(key, args.reps, args.rounds, torch)
        label = (f"({key}) {'-'.join(map(str, cfg['sizes']))} batch {cfg['batch']} "
                 f"{cfg['act']} {cfg['loss']}")
        if torch is None:
            print(f"{label:44s} {r['engine']:10.3f}")
            continue
        ratio = r["engine"] / r["torch"]
        ok &= ratio <= cfg["target"]
        print(f"{label:44s} {r['engine']:10.3f} {r['torch']:10.3f} {ratio:7.2f} "
              f"{'<= ' + str(cfg['target']):>7s}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
