"""A scikit-learn pipeline with a grid search, fastmlp's MLPClassifier inside.

Standardises scikit-learn's breast-cancer data, searches hidden layer sizes
and the L2 penalty by 3-fold cross-validation, and reports the best setting
and its accuracy on held-out data. The fits run two at a time in threads
(fastmlp releases the GIL, so joblib's threading backend needs no worker
processes). Swapping the import for
``from sklearn.neural_network import MLPClassifier`` runs the same search
with scikit-learn's own estimator.

    uv run python examples/sklearn_grid_search.py
"""

from __future__ import annotations

import time

from joblib import parallel_backend
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastmlp.sklearn import MLPClassifier


def main() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(learning_rate_init=0.01, random_state=0, n_threads=1))
    grid = {
        "mlpclassifier__hidden_layer_sizes": [(16,), (64, 32)],
        "mlpclassifier__alpha": [1e-4, 1e-1, 10.0],
    }
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2)
    start = time.perf_counter()
    with parallel_backend("threading"):
        search.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    print(f"{len(search.cv_results_['params'])} settings x 3 folds in {elapsed:.2f} s")
    print(f"best: {search.best_params_} (cross-validated accuracy {search.best_score_:.4f})")
    print(f"test accuracy: {search.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
