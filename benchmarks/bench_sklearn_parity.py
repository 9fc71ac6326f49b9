"""Accuracy parity with scikit-learn: fastmlp.sklearn.MLPClassifier against
sklearn.neural_network.MLPClassifier, the same parameters, side by side.

scikit-learn's iris, wine, breast_cancer and digits sets, each split 75/25
(stratified) and standardised on the training part, for several random
states (the split, the initialisation and the shuffles). Both estimators get
scikit-learn's defaults (one hidden layer of 100 relu units, Adam, lr 1e-3,
batches of min(200, n), alpha 1e-4, at most 200 epochs, stopping after 10
epochs without a 1e-4 improvement) and 2 threads. Prints mean test accuracy
(and its spread over the random states), mean epochs and mean fit time.

    uv run python benchmarks/bench_sklearn_parity.py [--states 5]
"""

from __future__ import annotations

import _common  # first: re-executes without OPENBLAS_* before NumPy loads

import argparse
import statistics
import time
import warnings

from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.preprocessing import StandardScaler

from fastmlp.sklearn import MLPClassifier

THREADS = 2
DATASETS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}
SYSTEMS = {"scikit-learn": lambda state: SkMLPClassifier(random_state=state),
           "fastmlp": lambda state: MLPClassifier(random_state=state, n_threads=THREADS)}


def run(states: int) -> None:
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    for name, load in DATASETS.items():
        X, y = load(return_X_y=True)
        figures: dict[str, dict[str, list[float]]] = {s: {"accuracy": [], "seconds": [], "epochs": []}
                                                       for s in SYSTEMS}
        for state in range(states):
            X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=state)
            scaler = StandardScaler().fit(X_tr)
            X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
            for system, make in SYSTEMS.items():  # interleaved, so both see the same machine load
                est = make(state)
                time.sleep(_common.SETTLE_S)
                start = time.perf_counter()
                est.fit(X_tr, y_tr)
                figures[system]["seconds"].append(time.perf_counter() - start)
                figures[system]["accuracy"].append(est.score(X_te, y_te))
                figures[system]["epochs"].append(est.n_iter_)
        rows.append((name, X.shape, figures))

    print(f"| data set (n x features) | {' | '.join(f'{s} accuracy' for s in SYSTEMS)} | "
          f"{' | '.join(f'{s} epochs' for s in SYSTEMS)} | {' | '.join(f'{s} fit' for s in SYSTEMS)} | speed-up |")
    print("|---" * (1 + 3 * len(SYSTEMS) + 1) + "|")
    for name, shape, figures in rows:
        acc = [f"{100 * statistics.mean(f['accuracy']):.2f}% ± {100 * statistics.pstdev(f['accuracy']):.2f}"
               for f in figures.values()]
        epochs = [f"{statistics.mean(f['epochs']):.0f}" for f in figures.values()]
        secs = [statistics.mean(f["seconds"]) for f in figures.values()]
        times = [f"{1e3 * s:.1f} ms" for s in secs]
        print(f"| {name} ({shape[0]} x {shape[1]}) | {' | '.join(acc)} | {' | '.join(epochs)} | "
              f"{' | '.join(times)} | {secs[0] / secs[1]:.1f}x |")
    print(f"\n(accuracy: mean ± standard deviation over random states 0-{states - 1}; fit: mean wall time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=5, help="random states per data set (default 5)")
    args = parser.parse_args()
    with _common.limit_threads(THREADS):
        _common.print_header("Accuracy parity: fastmlp.sklearn vs scikit-learn's MLPClassifier", THREADS)
        run(args.states)


if __name__ == "__main__":
    main()
