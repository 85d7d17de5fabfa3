"""Run every benchmark: ``python -m bench`` (``make bench``)."""
from bench import bench_gui, bench_mlp, bench_network

if __name__ == "__main__":
    bench_mlp.main()
    bench_gui.main()
    bench_network.main()
