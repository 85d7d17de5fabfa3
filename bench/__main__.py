"""Run every benchmark: ``python -m bench`` (``make bench``)."""
from bench import bench_gui, bench_mlp

if __name__ == "__main__":
    bench_mlp.main()
    bench_gui.main()
