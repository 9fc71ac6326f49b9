"""Workload A, the article: Iris 4-5-3 sigmoid, full batch, float64, 8000 epochs.

fastmlp against the same algorithm written in NumPy, interleaved over several
rounds in one process; prints the median time per epoch and the ratio.

    uv run python benchmarks/bench_article.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fastmlp

EPOCHS = 8000


def numpy_article(X, Y, W1, b1, W2, b2, lr=0.2, epochs=EPOCHS):
    """The article's loop in NumPy: forward, error, deltas, summed update."""
    for _ in range(epochs):
        A1 = 1.0 / (1.0 + np.exp(-(X @ W1 + b1)))
        A2 = 1.0 / (1.0 + np.exp(-(A1 @ W2 + b2)))
        d2 = (Y - A2) * (A2 * (1.0 - A2))
        d1 = (d2 @ W2.T) * (A1 * (1.0 - A1))
        W2 += lr * (A1.T @ d2)
        b2 += lr * d2.sum(axis=0)
        W1 += lr * (X.T @ d1)
        b1 += lr * d1.sum(axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    X, Y, _, _ = fastmlp.datasets.load_iris()
    times = {"fastmlp": [], "numpy": []}
    for _ in range(args.rounds):
        start = time.perf_counter()
        fastmlp.train(X, Y, hidden=5, epochs=EPOCHS, learning_rate=0.2, seed=1)
        times["fastmlp"].append(time.perf_counter() - start)

        net = fastmlp.Network([4, 5, 3], seed=1)
        params = [p.copy() for p in (net.weights[0], net.biases[0], net.weights[1], net.biases[1])]
        start = time.perf_counter()
        numpy_article(X, Y, *params)
        times["numpy"].append(time.perf_counter() - start)

    med = {k: statistics.median(v) / EPOCHS * 1e6 for k, v in times.items()}
    print(f"Iris 4-5-3, {EPOCHS} epochs, median of {args.rounds} rounds (GEMM kernel: {fastmlp._core.gemm_kernel()})")
    print(f"  fastmlp {med['fastmlp']:8.2f} us/epoch")
    print(f"  numpy   {med['numpy']:8.2f} us/epoch")
    print(f"  fastmlp is {med['numpy'] / med['fastmlp']:.1f}x faster than NumPy")


if __name__ == "__main__":
    main()
