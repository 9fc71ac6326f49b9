"""GridSearchCV over fastmlp's MLPClassifier on digits: n_jobs=2 against n_jobs=1.

With n_jobs=2 joblib starts two worker processes (loky) and gives each an
inner thread limit of cpu_count // 2 (OMP_NUM_THREADS), which fastmlp's
default thread count honours; the fits inside do not each start one thread
per CPU. Paired runs: each round times n_jobs=1 then n_jobs=2 (the order
alternating), and the script prints each round's ratio and the median, with
the CPU seconds each search got (this process and its workers) over its wall
time: a search that got less than two CPUs' worth could not show what two
processes gain. `--n-jobs N` runs one search in this process, worker start
included, for timing whole processes from outside. `--fit-threads` times
what n_jobs=1 gets from its threads instead: one fit of the pipeline on a
fold's rows with one thread against two, in paired rounds.

    uv run python benchmarks/bench_grid_search.py               # --rounds 3
    uv run python benchmarks/bench_grid_search.py --n-jobs 2    # one search, workers started cold
    uv run python benchmarks/bench_grid_search.py --fit-threads # one fit, 1 thread against 2
"""

from __future__ import annotations

import _common  # noqa: F401  (a clean BLAS environment before NumPy loads)

import argparse
import os
import statistics
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fastmlp import _core
from fastmlp.sklearn import MLPClassifier


def cpu_seconds() -> float:
    """CPU seconds of this process and of its live children (joblib's workers,
    which are not reaped while the executor keeps them)."""
    t = os.times()
    total = t.user + t.system
    tick = os.sysconf("SC_CLK_TCK")
    me = str(os.getpid())
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if fields[1] == me:  # the parent's pid; utime and stime follow at 11 and 12
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def pipeline():
    return make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), max_iter=60, random_state=0))


def search(X, y, n_jobs: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one search."""
    grid = {"mlpclassifier__alpha": [1e-4, 1e-2], "mlpclassifier__learning_rate_init": [1e-3, 1e-2]}
    cpu, start = cpu_seconds(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        GridSearchCV(pipeline(), grid, cv=3, n_jobs=n_jobs).fit(X, y)
    wall = time.perf_counter() - start
    return wall, cpu_seconds() - cpu


def fit_threads(X, y, rounds: int) -> None:
    """One fit of the search's pipeline on a fold's rows (two thirds), with
    one thread and with two, paired: what n_jobs=1 gets from fastmlp's threads."""
    rows = len(X) * 2 // 3

    def fit(threads: int) -> float:
        start = time.perf_counter()
        with threadpool_limits(limits={"fastmlp": threads}), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipeline().fit(X[:rows], y[:rows])
        return time.perf_counter() - start

    fit(2)  # warm up
    one, two = [], []
    for r in range(rounds):
        for threads in (1, 2) if r % 2 == 0 else (2, 1):
            (one if threads == 1 else two).append(fit(threads))
    ratios = [a / b for a, b in zip(one, two)]
    print(f"one fit on {rows} rows, {rounds} paired rounds: 1 thread {statistics.median(one):.3f} s, "
          f"2 threads {statistics.median(two):.3f} s (medians); per-pair ratio 1 thread / 2 threads: "
          f"median {statistics.median(ratios):.2f}x (min {min(ratios):.2f}x, max {max(ratios):.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, choices=(1, 2), help="one search with this n_jobs, then exit")
    parser.add_argument("--fit-threads", action="store_true",
                        help="time one fit with 1 thread against 2 (--rounds pairs), then exit")
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    if args.fit_threads:
        fit_threads(X, y, args.rounds)
        return
    if args.n_jobs is not None:
        wall, cpu = search(X, y, args.n_jobs)
        print(f"n_jobs={args.n_jobs}: {wall:.2f} s, {cpu / wall:.2f} CPUs")
        return
    search(X, y, 2)  # start the worker processes once, as a session's later searches find them
    print(f"CPUs this process may use: {len(os.sched_getaffinity(0))}; fastmlp's default threads here: "
          f"{_core.default_threads()}; load average before: {os.getloadavg()[0]:.2f}")
    ratios = []
    print("| round | n_jobs=1 | CPUs used | n_jobs=2 | CPUs used | ratio |\n|---|---|---|---|---|---|")
    for r in range(args.rounds):
        order = (1, 2) if r % 2 == 0 else (2, 1)
        runs = {n: search(X, y, n) for n in order}
        (wall1, cpu1), (wall2, cpu2) = runs[1], runs[2]
        ratios.append(wall1 / wall2)
        print(f"| {r + 1} | {wall1:.2f} s | {cpu1 / wall1:.2f} | {wall2:.2f} s | {cpu2 / wall2:.2f} | "
              f"{ratios[-1]:.2f}x |")
    print(f"median ratio n_jobs=1 / n_jobs=2: {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x); load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
