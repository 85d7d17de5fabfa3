"""The benchmarks still import and run (they are not tests of speed: nothing here is timed)."""
import importlib

import pytest

MODULES = ["bench.bench_mlp", "bench.bench_network", "bench.bench_cnn",
           "bench.bench_transformer", "bench.bench_rnn", "bench.bench_gui", "bench.gpu_check",
           "bench.__main__"]


@pytest.mark.parametrize("name", MODULES)
def test_bench_module_imports(name):
    assert importlib.import_module(name) is not None


def test_bench_cnn_runs_and_reports_every_workload():
    from bench import bench_cnn
    res = bench_cnn.main(["--reps", "1"])
    assert set(res) == {"conv (64, 1, 28, 28)x(16, 1, 3, 3)",
                        "conv (32, 16, 14, 14)x(32, 16, 3, 3)", "step batch 64",
                        "step batch 256"}
    assert all(row["numpy"] > 0 for row in res.values())
