"""Scaling sweep: training throughput (GFLOP/s) against hidden width and batch size.

fastmlp and PyTorch, float32, 2 threads, workload B's algorithm (relu,
softmax + mean cross-entropy, SGD, shuffled) on random MNIST-shaped rows:
- width sweep: network 784-w-w-10, batch 128;
- batch sweep: network 784-256-128-10.
The ceiling drawn is NumPy's float32 2048 x 2048 matmul on the same threads.
Writes benchmarks/scaling.png and prints the numbers as Markdown tables.

    python3 benchmarks/bench_scaling.py [--rounds 3]
"""

from __future__ import annotations

import _common  # first: re-executes without OPENBLAS_* before NumPy loads

import argparse
import statistics
from pathlib import Path

import numpy as np

import bench_train as B

WIDTHS = [32, 64, 128, 256, 512, 1024, 2048]
BATCHES = [1, 4, 16, 64, 128, 256, 1024]
FLOP_BUDGET = 8e9  # per measurement: ~0.1 s at 80 GFLOP/s, enough to swamp per-call overheads
PLOT = Path(__file__).with_name("scaling.png")


def point(X, labels, sizes, batch, rounds, torch) -> dict[str, float]:
    """Median GFLOP/s of one epoch over enough rows to cost about FLOP_BUDGET."""
    per_row = _common.train_flops(sizes, 1)
    rows = int(min(len(X), max(16 * batch, FLOP_BUDGET / per_row)) // batch * batch)
    X, labels = X[:rows], labels[:rows]
    Y = np.eye(sizes[-1], dtype=np.float32)[labels]

    def fastmlp_setup():
        net = B.new_network("float32", sizes)
        return lambda: net.fit(X, Y, epochs=1, learning_rate=B.LR, batch_size=batch, shuffle=True,
                               threads=B.THREADS)

    systems = {"fastmlp": fastmlp_setup}
    if torch:
        Xt, yt = torch.from_numpy(X), torch.from_numpy(labels)
        systems["pytorch"] = lambda: (lambda model=B.torch_model(torch, B.new_network("float32", sizes)):
                                      B.torch_epoch(torch, model, Xt, yt, torch.randperm(rows), batch))
    times = _common.interleave(systems, rounds)
    return {name: per_row * rows / statistics.median(t) / 1e9 for name, t in times.items()}


def sweep(label, values, configs, X, labels, rounds, torch) -> dict[str, list[float]]:
    """Runs one sweep and prints it as a Markdown table; returns GFLOP/s per system."""
    print(f"| {label} | " + " | ".join(f"{s} GFLOP/s" for s in ["fastmlp", "pytorch"][:1 + bool(torch)]) + " |")
    print("|---|---|" + ("---|" if torch else ""))
    results: dict[str, list[float]] = {}
    for value, (sizes, batch) in zip(values, configs):
        got = point(X, labels, sizes, batch, rounds, torch)
        for name, gflops in got.items():
            results.setdefault(name, []).append(gflops)
        print(f"| {value} | " + " | ".join(f"{g:.1f}" for g in got.values()) + " |", flush=True)
    print()
    return results


def plot(width_results, batch_results, peak) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    panels = [(axes[0], WIDTHS, width_results, "hidden width w (784-w-w-10, batch 128)"),
              (axes[1], BATCHES, batch_results, "batch size (784-256-128-10)")]
    for ax, xs, results, xlabel in panels:
        for name, ys in results.items():
            ax.plot(xs, ys, marker="o", label=name)
        ax.axhline(peak, color="grey", linestyle="--", label=f"NumPy sgemm 2048², {peak:.0f} GFLOP/s")
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(f"training GFLOP/s, float32, {B.THREADS} threads")
    axes[1].legend(loc="center left")  # the empty corner: the curves start low and rise to the right
    fig.suptitle(f"Training throughput, one epoch of SGD ({_common.cpu_model()})")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    print(f"wrote {PLOT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    torch = _common.optional("torch")
    with _common.limit_threads(B.THREADS):
        _common.print_header("Scaling: training GFLOP/s against hidden width and batch size", threads=B.THREADS)
        peak = B.sgemm_peak()
        print(f"NumPy float32 matmul 2048 x 2048 on {B.THREADS} threads: {peak:.1f} GFLOP/s\n")
        X, labels = B.make_data()
        widths = sweep("width", WIDTHS, [([784, w, w, 10], 128) for w in WIDTHS], X, labels, args.rounds, torch)
        batches = sweep("batch", BATCHES, [(B.SIZES, b) for b in BATCHES], X, labels, args.rounds, torch)
    plot(widths, batches, peak)


if __name__ == "__main__":
    main()
