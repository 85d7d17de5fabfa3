"""Recurrent training-step benchmark: the recurrent lab's model (one RNN / LSTM / GRU layer and
a linear read-out, delayed recall, Adam) on the engine against the same network in PyTorch
CPU.  Engine-only (no Qt): ``python -m bench.bench_rnn``.

One step = forward over the whole sequence, cross-entropy on the scored steps, backpropagation
through time, gradient clipping, Adam.  Shapes: the lab's default (batch 32, T = 20, H = 16,
V = 4) and a larger one (batch 128, T = 50, H = 64).  BLAS on one thread for both, as in the
lab.  Timed in turns (see ``bench.bench_cnn._interleaved``); outputs are checked to agree.
"""
from __future__ import annotations

import argparse

import numpy as np

from bench.bench_cnn import _interleaved
from engine import optim
from engine.autodiff import Tensor
from engine.backend import blas_threads
from engine.data.recurrent_tasks import IGNORE, make_delayed_recall
from engine.labs.recurrent import SequenceModel
from engine.nn import clip_grad_norm_
from engine.nn import functional as F

CASES = {"lab default": dict(batch=32, length=20, hidden=16, vocab=4, delay=4),
         "larger": dict(batch=128, length=50, hidden=64, vocab=8, delay=10)}


def _data(c):
    x, y = make_delayed_recall(c["batch"], c["length"], c["delay"], c["vocab"], rng=0)
    return np.eye(c["vocab"], dtype=np.float32)[x], y


def engine_step(cell, c):
    model = SequenceModel(cell, c["vocab"], c["hidden"], c["vocab"],
                          generator=np.random.default_rng(0))
    opt = optim.Adam(list(model.parameters()), lr=0.01)
    x, y = _data(c)

    def run():
        with blas_threads(1):
            opt.zero_grad()
            logits = model(Tensor(x))
            loss = F.cross_entropy(logits.reshape(-1, c["vocab"]), y.reshape(-1),
                                   ignore_index=IGNORE)
            loss.backward()
            clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    return run, model


def torch_step(torch, cell, c, model):
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    rnn = cls(c["vocab"], c["hidden"], batch_first=True)
    head = torch.nn.Linear(c["hidden"], c["vocab"])
    sd = {k: torch.tensor(np.asarray(v)) for k, v in model.state_dict().items()}
    rnn.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("rnn.")})
    head.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("head.")})
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=0.01)
    x, y = _data(c)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def forward():
        return head(rnn(xt)[0])

    def run():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(forward().reshape(-1, c["vocab"]),
                                                 yt.reshape(-1), ignore_index=IGNORE)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return run, forward


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args(argv)
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        torch = None
    res = {}
    print(f"recurrent training step (BPTT + clip + Adam), float32, median ms of {args.reps}; "
          "BLAS and torch on 1 thread")
    if torch is not None:
        torch.set_num_threads(1)
    for label, c in CASES.items():
        for cell in ("rnn", "lstm", "gru"):
            run, model = engine_step(cell, c)
            runners = {"engine": (run, lambda: None)}
            if torch is not None:
                trun, fwd = torch_step(torch, cell, c, model)
                x, _ = _data(c)
                with torch.no_grad():
                    np.testing.assert_allclose(model(Tensor(x)).data, fwd().numpy(),
                                               atol=1e-4)
                runners["torch_cpu"] = (trun, lambda: None)
            row = res[f"{label} {cell}"] = _interleaved(runners, args.reps)
            ratio = f"  engine/torch {row['engine'] / row['torch_cpu']:.2f}" \
                if "torch_cpu" in row else ""
            print(f"  {label} ({c['batch']}x{c['length']}, H {c['hidden']}) {cell}: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in row.items()) + ratio)
    return res


if __name__ == "__main__":
    main()
