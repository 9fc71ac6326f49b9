"""The products of one training step of 784-2048-2048-10 (batch 128, 2 threads), each
alone, against NumPy's float32 matmul of the same shape on the same threads.

gemm_bench (built with the native tests) times fastmlp's GEMM; NumPy's BLAS is held
to the same threads with threadpoolctl. Rounds alternate the two, and each round's
ratio is printed as the median and the range over the rounds. With --clock cpu both
are timed in process CPU time, which on a machine shared with other work measures the
product rather than the sharing (compare like with like: the same thread counts).

    python3 benchmarks/bench_gemm_shapes.py build/native/gemm_bench [--rounds 5] [--clock cpu] [--kernel avx512]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

import numpy as np
from threadpoolctl import threadpool_limits

# (m x n x k : op(A) : op(B), threads, what): phase 1 runs a batch through wide layers
# as one block with its products over both threads; phase 2 runs parts of dW, each on
# one thread (784 / 4 and 2048 / 4 rows of dW against the batch's 128 rows).
SHAPES = [
    ("128x2048x784:n:n", 2, "X W1 (forward)"),
    ("128x2048x2048:n:n", 2, "A1 W2 (forward)"),
    ("128x2048x2048:n:t", 2, "dZ2 W2^T (dX)"),
    ("196x2048x128:t:n", 1, "part of X^T dZ1 (dW1)"),
    ("512x2048x128:t:n", 1, "part of A1^T dZ2 (dW2)"),
    ("2048x2048x2048:n:n", 2, "square"),
]


def numpy_gflops(shape: str, threads: int, clock, seconds: float = 0.5) -> float:
    dims, ta, tb = shape.split(":")
    m, n, k = map(int, dims.split("x"))
    rng = np.random.default_rng(0)
    A = rng.standard_normal((k, m) if ta == "t" else (m, k), dtype=np.float32)
    B = rng.standard_normal((n, k) if tb == "t" else (k, n), dtype=np.float32)
    a, b = (A.T if ta == "t" else A), (B.T if tb == "t" else B)
    C = np.empty((m, n), np.float32)
    best, end = float("inf"), time.perf_counter() + seconds
    with threadpool_limits(threads, user_api="blas"):
        while time.perf_counter() < end:
            start = clock()
            np.matmul(a, b, out=C)
            best = min(best, clock() - start)
    return 2 * m * n * k / best / 1e9


def ours_gflops(bench: str, kernel: str, shape: str, threads: int, clock: str) -> float:
    out = subprocess.run([bench, "--type", "float", "--kernel", kernel, "--threads", str(threads),
                          "--clock", clock, "--shape", shape], capture_output=True, text=True, check=True).stdout
    words = out.split()
    return float(words[words.index("GFLOP/s") - 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gemm_bench")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    parser.add_argument("--kernel", choices=["avx2", "avx512", "ref"], default="avx2")
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"| product | threads | fastmlp GFLOP/s | NumPy GFLOP/s | fastmlp / NumPy, median (range) |")
    print("|---|---|---|---|---|")
    for shape, threads, what in SHAPES:
        ours, theirs, ratios = [], [], []
        for _ in range(args.rounds):
            theirs.append(numpy_gflops(shape, threads, clock))
            ours.append(ours_gflops(args.gemm_bench, args.kernel, shape, threads, args.clock))
            ratios.append(ours[-1] / theirs[-1])
        print(f"| {shape} {what} | {threads} | {statistics.median(ours):.1f} | {statistics.median(theirs):.1f} | "
              f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |", flush=True)


if __name__ == "__main__":
    main()
