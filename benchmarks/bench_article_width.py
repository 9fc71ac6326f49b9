"""Workload A over the hidden width: a 4-H-3 sigmoid network on the 120 Iris rows.

Full batch, float64, one thread; time per epoch of fastmlp's fused path and of
its general path (each forced in its own child process with FASTMLP_FUSED=on /
off; the fused path takes hidden widths up to 32 only) and of the article's
loop in NumPy, for H = 4, 8, ..., 256. Draws `article_width.png`: where the
fused path hands over to the general one (fastmlp's default takes the fused
path up to fastmlp's kFusedMaxWidth, 32 units).

    python3 benchmarks/bench_article_width.py [--rounds 5] [--epochs 2000]
"""

from __future__ import annotations

import _common  # first: re-executes without OPENBLAS_* before NumPy loads

import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np

import fastmlp
from bench_article import LR, numpy_article

WIDTHS = [4, 8, 16, 32, 64, 128, 256]
FUSED_MAX_WIDTH = 32  # csrc/fastmlp/fused.hpp's kFusedMaxWidth
HERE = os.path.dirname(os.path.abspath(__file__))


def initial(hidden):
    """Seed-1 starting weights of a 4-hidden-3 network, as fresh NumPy copies."""
    net = fastmlp.Network([4, hidden, 3], seed=1)
    return [p.copy() for p in (net.weights[0], net.biases[0], net.weights[1], net.biases[1])]


def child(mode, rounds, epochs) -> None:
    """In a child with FASTMLP_FUSED=mode: fastmlp's and NumPy's seconds per epoch, as JSON."""
    X, Y, _, _ = fastmlp.datasets.load_iris()
    widths = [w for w in WIDTHS if mode != "on" or w <= FUSED_MAX_WIDTH]
    systems = {}
    for h in widths:
        systems[f"fastmlp {h}"] = lambda h=h: lambda: fastmlp.train(
            X, Y, hidden=h, epochs=epochs, learning_rate=LR, seed=1, threads=1)
        if mode == "off":  # NumPy once, beside the general path
            systems[f"numpy {h}"] = lambda h=h: (lambda p=initial(h): numpy_article(X, Y, *p, epochs=epochs))
    times = _common.interleave(systems, rounds)
    print(json.dumps({name: [t / epochs for t in ts] for name, ts in times.items()}))


def run_child(mode, rounds, epochs):
    env = dict(os.environ, FASTMLP_FUSED=mode)
    res = subprocess.run([sys.executable, os.path.join(HERE, "bench_article_width.py"), "--child", mode,
                          "--rounds", str(rounds), "--epochs", str(epochs)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2000)
    parser.add_argument("--child", choices=["on", "off"])
    args = parser.parse_args()
    with _common.limit_threads(1):
        if args.child:
            child(args.child, args.rounds, args.epochs)
            return
        _common.print_header(f"A over the hidden width: 4-H-3 sigmoid, full batch, float64, {args.epochs} epochs",
                             threads=1)
        # the paths' results are the same bits (tests/test_fused.py); only their times are
        # compared, a child per path and round, alternating, so that drift hits both alike
        rounds = {"fused": {}, "general": {}, "numpy": {}}
        for _ in range(args.rounds):
            for mode in ("on", "off"):
                for name, ts in run_child(mode, 1, args.epochs).items():
                    system, h = name.split()
                    key = "numpy" if system == "numpy" else ("fused" if mode == "on" else "general")
                    rounds[key].setdefault(int(h), []).extend(ts)
    times = {key: {h: statistics.median(ts) for h, ts in per.items()} for key, per in rounds.items()}

    print("| hidden | fused µs/epoch | general µs/epoch | general / fused, paired (min-max) | numpy µs/epoch | numpy / fastmlp's default |")
    print("|---|---|---|---|---|---|")
    for h in WIDTHS:
        f, g, n = times["fused"].get(h), times["general"][h], times["numpy"][h]
        if f is not None:
            ratios = [b / a for a, b in zip(rounds["fused"][h], rounds["general"][h])]
            paired = f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        default = f if f is not None else g
        print(f"| {h} | {f * 1e6:.2f} | {g * 1e6:.2f} | {paired} | {n * 1e6:.1f} | {n / default:.2f}x |"
              if f is not None else f"| {h} | - | {g * 1e6:.2f} | - | {n * 1e6:.1f} | {n / default:.2f}x |")
    plot(times)


def plot(times) -> None:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, style in [("fused", "fastmlp, fused path", "o-"), ("general", "fastmlp, general path", "s-"),
                              ("numpy", "NumPy (the article's loop)", "^--")]:
        hs = sorted(times[key])
        ax.plot(hs, [times[key][h] * 1e6 for h in hs], style, label=label)
    ax.axvline(FUSED_MAX_WIDTH, color="grey", linestyle=":", label="widest layer the fused path takes")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(WIDTHS, [str(w) for w in WIDTHS])
    ax.set_xlabel("hidden units (4-H-3, 120 rows, float64, 1 thread)")
    ax.set_ylabel("µs per epoch")
    ax.set_title("Workload A over the hidden width")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = os.path.join(HERE, "article_width.png")
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
