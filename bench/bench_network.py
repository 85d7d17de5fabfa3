"""Network-playground benchmark: training steps/s of the network lab against the same loop in
PyTorch CPU (not a test; prints numbers).  Paint FPS while it trains: ``bench.bench_gui``.

The workload is the lab's default: two-arm spiral, 600 points (70 % train), 2-16-16-1 tanh,
Adam, batch 32, BCE on logits, and every 10 steps a full scoring of the train and test sets.
The PyTorch loop does the same work with the same shapes and the same thread count.

Run ``python -m bench.bench_network``.
"""
from __future__ import annotations

import time

import numpy as np

from engine.labs.network import EVAL_EVERY, NetworkLab

STEPS = 3000


def engine_rate(steps: int = STEPS) -> float:
    lab = NetworkLab(seed=0)
    lab.step(50)  # warm-up
    t0 = time.perf_counter()
    lab.step(steps)
    return steps / (time.perf_counter() - t0)


def torch_rate(steps: int = STEPS) -> float:
    import torch  # noqa: PLC0415

    lab = NetworkLab(seed=0)  # same data and split
    Xtr, ytr = torch.tensor(lab.Xtr), torch.tensor(lab.ytr, dtype=torch.float32)
    Xte, yte = torch.tensor(lab.Xte), torch.tensor(lab.yte, dtype=torch.float32)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16),
                              torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.03)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(0)
    order = np.zeros(0, np.int64)

    def run(n):
        nonlocal order
        for k in range(1, n + 1):
            if len(order) < 32:
                order = np.concatenate([order, rng.permutation(len(Xtr))])
            idx, order = torch.from_numpy(order[:32]), order[32:]
            opt.zero_grad()
            loss = loss_fn(net(Xtr[idx])[:, 0], ytr[idx])
            loss.backward()
            [p.grad.norm() for p in net.parameters() if p.ndim == 2]
            opt.step()
            if k % EVAL_EVERY == 0:
                with torch.no_grad():
                    for X, y in ((Xtr, ytr), (Xte, yte)):
                        out = net(X)[:, 0]
                        loss_fn(out, y)
                        ((out > 0).float() == y).float().mean()

    run(50)
    t0 = time.perf_counter()
    run(steps)
    return steps / (time.perf_counter() - t0)


def main() -> None:
    import torch  # noqa: PLC0415

    print(f"Network lab training (spiral, 2-16-16-1 tanh, Adam, batch 32; torch threads "
          f"{torch.get_num_threads()})")
    rates = {"engine": [], "torch": []}
    for _ in range(3):  # alternate so a noisy machine biases neither side
        rates["engine"].append(engine_rate())
        rates["torch"].append(torch_rate())
    e, t = np.median(rates["engine"]), np.median(rates["torch"])
    print(f"  engine {e:7.0f} steps/s   torch CPU {t:7.0f} steps/s   engine/torch time "
          f"ratio {t / e:.2f} (<= 1 is faster than torch)")


if __name__ == "__main__":
    main()
