"""Transformer training-step benchmark: the engine's :class:`TinyTransformer` against the same
network in PyTorch on the CPU.  Engine-only (no Qt): ``python -m bench.bench_transformer``.

One step = embedding + sinusoidal positions -> post-norm encoder layers (ReLU FFN of width
2d) -> linear head, per-token cross-entropy, backward, Adam.  Shapes:

* the transformer lab's defaults: batch 64, n = 8, V = 10, d = 32, 2 heads, 2 layers;
* its largest setting: batch 256, n = 16, V = 32, d = 64, 4 heads, 3 layers.

Target: engine <= 2x PyTorch CPU.  Both run their BLAS on one thread (the lab does so, see
``Lab.blas_threads``); PyTorch is also timed with its default thread
count.  The forward logits are checked to agree before timing.  Each figure is the median of
``--reps`` runs after warm-up.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from engine import optim
from engine.autodiff import no_grad
from engine.backend import blas_threads
from engine.nn import functional as F
from engine.nn.tiny_transformer import TinyTransformer

CASES = {
    "lab default": {"batch": 64, "length": 8, "vocab": 10, "d_model": 32, "heads": 2,
                    "layers": 2},
    "lab largest": {"batch": 256, "length": 16, "vocab": 32, "d_model": 64, "heads": 4,
                    "layers": 3},
}


def _median_ms(fn, reps: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def engine_step(c):
    g = np.random.default_rng(0)
    model = TinyTransformer(c["vocab"], c["d_model"], c["heads"], c["layers"], 16,
                            generator=g)
    opt = optim.Adam(list(model.parameters()), lr=3e-3)
    x = g.integers(0, c["vocab"], (c["batch"], c["length"]))
    y = x[:, ::-1].reshape(-1).copy()

    def run():
        opt.zero_grad()
        F.cross_entropy(model(x).reshape(-1, c["vocab"]), y).backward()
        opt.step()
    return run, model, x


def torch_step(torch, c, model):
    """The same network in PyTorch, with the engine model's initial weights."""
    tnn = torch.nn

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embed = tnn.Embedding(c["vocab"], c["d_model"])
            self.layers = tnn.ModuleList([
                tnn.TransformerEncoderLayer(c["d_model"], c["heads"], 2 * c["d_model"],
                                            dropout=0.0, batch_first=True)
                for _ in range(c["layers"])])
            self.head = tnn.Linear(c["d_model"], c["vocab"])
            self.register_buffer("pe", torch.tensor(model.positional_encoding(c["length"])))

        def forward(self, x):
            h = self.embed(x) + self.pe
            for layer in self.layers:
                h = layer(h)
            return self.head(h)

    net = Net()
    state = {k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()}
    net.load_state_dict(state, strict=False)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = np.random.default_rng(0)
    x = torch.tensor(g.integers(0, c["vocab"], (c["batch"], c["length"])))
    y = torch.flip(x, [1]).reshape(-1)

    def run():
        opt.zero_grad()
        tnn.functional.cross_entropy(net(x).reshape(-1, c["vocab"]), y).backward()
        opt.step()
    return run, net


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        torch = None
    default_threads = torch.get_num_threads() if torch else None
    print(f"transformer training step (forward + backward + Adam), float32, median ms of "
          f"{args.reps}; torch default threads {default_threads or '-'}")
    res = {}
    for name, c in CASES.items():
        row = {}
        run, model, x = engine_step(c)
        with blas_threads(1):
            if torch is not None:
                trun, net = torch_step(torch, c, model)
                with no_grad(), torch.no_grad():
                    want = net(torch.tensor(x)).numpy()
                    np.testing.assert_allclose(model(x).data, want, atol=1e-4)
            row["engine"] = _median_ms(run, args.reps)
            if torch is not None:
                torch.set_num_threads(1)
                row["torch_cpu_1thread"] = _median_ms(trun, args.reps)
        if torch is not None:
            torch.set_num_threads(default_threads)
            row[f"torch_cpu_{default_threads}threads"] = _median_ms(trun, args.reps)
        res[name] = row
        shape = ", ".join(f"{k} {v}" for k, v in c.items())
        ratio = (f"  engine / torch (1 thread) {row['engine'] / row['torch_cpu_1thread']:.2f}"
                 if torch is not None else "")
        print(f"  {name} ({shape}): " + ", ".join(f"{k} {v:.2f}" for k, v in row.items())
              + ratio)
    return res


if __name__ == "__main__":
    main()
