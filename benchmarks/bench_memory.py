"""Workload B's memory: peak resident memory while training one epoch, above the data.

Each system trains in a fresh child process (so nothing else it loaded or
freed counts), which reports its peak RSS from getrusage; the table gives the
peak minus the data set's bytes, and what `fit` added on top of the process
as it stood just before training. fastmlp's target: at most 64 MiB above the data.

    python3 benchmarks/bench_memory.py
"""

from __future__ import annotations

import _common  # first: re-executes without OPENBLAS_* before NumPy loads

import argparse
import json
import resource
import subprocess
import sys

import numpy as np

import bench_train as B

MIB = 2**20


def current_rss() -> int:
    """Resident bytes now (/proc/self/statm counts pages)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def child(system: str) -> None:
    """Trains one epoch with `system` and prints its memory figures as JSON."""
    torch = _common.optional("torch") if system == "pytorch" else None
    with _common.limit_threads(B.THREADS):
        X, labels = B.make_data()
        Y = np.eye(B.SIZES[-1], dtype=np.float32)[labels]
        data = X.nbytes + Y.nbytes
        net = B.new_network("float32")
        if system == "fastmlp":
            before = current_rss()
            net.fit(X, Y, epochs=1, learning_rate=B.LR, batch_size=B.BATCH, shuffle=True, threads=B.THREADS)
        elif system == "numpy":
            params = B.params_of(net)
            before = current_rss()
            B.numpy_epoch(X, labels, params, np.random.default_rng(1).permutation(B.ROWS))
        else:
            model = B.torch_model(torch, net)
            Xt, yt = torch.from_numpy(X), torch.from_numpy(labels)
            before = current_rss()
            B.torch_epoch(torch, model, Xt, yt, torch.randperm(B.ROWS))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"data": data, "before": before, "peak": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=["fastmlp", "numpy", "pytorch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)

    with _common.limit_threads(B.THREADS):
        _common.print_header("B, memory: peak RSS while training one epoch, float32", threads=B.THREADS)
    systems = ["fastmlp", "numpy"] + (["pytorch"] if _common.version("torch") else [])
    print("| system | data MiB | peak RSS MiB | peak - data MiB | added by training MiB |")
    print("|---|---|---|---|---|")
    for system in systems:
        run = subprocess.run([sys.executable, __file__, "--child", system],
                             capture_output=True, text=True, check=True)
        m = json.loads(run.stdout.splitlines()[-1])
        print(f"| {system} | {m['data'] / MIB:.1f} | {m['peak'] / MIB:.1f} | {(m['peak'] - m['data']) / MIB:.1f} "
              f"| {(m['peak'] - m['before']) / MIB:.1f} |")
    print("\n(peak - data includes the interpreter and the loaded libraries; "
          "added by training = peak - RSS just before fit)\n")


if __name__ == "__main__":
    main()
