"""Benchmarks (not tests): the engine against PyTorch CPU.

Run one with ``python -m bench.<name>``, e.g. ``python -m bench.bench_mlp``.
"""
