"""GridSearchCV over fastmlp's MLPClassifier on digits: n_jobs=2 against n_jobs=1.

With n_jobs=2 joblib starts two worker processes (loky) and gives each an
inner thread limit of cpu_count // 2 (OMP_NUM_THREADS), which fastmlp's
default thread count honours; the fits inside do not each start one thread
per CPU. Paired runs: each round times n_jobs=1 then n_jobs=2 (the order
alternating), and the script prints each round's ratio and the median.

    uv run python benchmarks/bench_grid_search.py            # --rounds 3
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

from fastmlp import _core
from fastmlp.sklearn import MLPClassifier


def search(X, y, n_jobs: int) -> float:
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), max_iter=60, random_state=0))
    grid = {"mlpclassifier__alpha": [1e-4, 1e-2], "mlpclassifier__learning_rate_init": [1e-3, 1e-2]}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs).fit(X, y)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    search(X, y, 2)  # start the worker processes once, as a session's later searches find them
    print(f"CPUs this process may use: {len(os.sched_getaffinity(0))}; fastmlp's default threads here: "
          f"{_core.default_threads()}; load average before: {os.getloadavg()[0]:.2f}")
    ratios = []
    print("| round | n_jobs=1 | n_jobs=2 | ratio |\n|---|---|---|---|")
    for r in range(args.rounds):
        order = (1, 2) if r % 2 == 0 else (2, 1)
        times = {n: search(X, y, n) for n in order}
        ratios.append(times[1] / times[2])
        print(f"| {r + 1} | {times[1]:.2f} s | {times[2]:.2f} s | {ratios[-1]:.2f}x |")
    print(f"median ratio n_jobs=1 / n_jobs=2: {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
