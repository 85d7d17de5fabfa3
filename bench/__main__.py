"""Run every benchmark: ``python -m bench`` (``make bench``)."""
from bench import (
    bench_cnn,
    bench_gui,
    bench_mlp,
    bench_network,
    bench_rnn,
    bench_transformer,
)

if __name__ == "__main__":
    bench_mlp.main()
    bench_network.main()
    bench_cnn.main([])
    bench_transformer.main([])
    bench_rnn.main([])
    bench_gui.main([])
