"""Workload S, sparse TF-IDF-shaped training: one epoch over a 20000 x 50000 CSR matrix.

50 nonzeros a row (positive, each row scaled to unit length as TfidfVectorizer's
are), network 50000-64-2, relu, cross-entropy averaged over the batch, plain
SGD (no momentum, no penalty), batch 200, shuffled, 2 threads, float64.
fastmlp trains on the CSR matrix natively; scikit-learn's MLPClassifier takes
the same matrix and does its first layer's products through scipy.sparse.

    python3 benchmarks/bench_sparse.py [--rounds 3]
"""

from __future__ import annotations

import _common  # first: re-executes without OPENBLAS_* before NumPy loads

import argparse
import warnings

import numpy as np

import fastmlp

ROWS, FEATURES, PER_ROW, HIDDEN = 20_000, 50_000, 50, 64
BATCH, LR, THREADS = 200, 0.01, 2


def make_data(seed=0):
    """A TF-IDF-shaped CSR matrix (sorted, distinct columns a row) and two classes."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    cols = np.sort(rng.choice(FEATURES, size=(ROWS, PER_ROW), replace=True), axis=1)
    X = sp.csr_matrix((rng.random(ROWS * PER_ROW), cols.ravel(), np.arange(0, ROWS * PER_ROW + 1, PER_ROW)),
                      shape=(ROWS, FEATURES))
    X.sum_duplicates()
    X = sp.csr_matrix(X.multiply(1.0 / np.sqrt(X.multiply(X).sum(axis=1))))
    labels = rng.integers(0, 2, ROWS)
    return X, labels


def new_network():
    return fastmlp.Network([FEATURES, HIDDEN, 2], activation="relu", output="softmax", loss="cross_entropy",
                           reduction="mean", init="glorot", seed=0)


def check_gradient(X, Y):
    """fastmlp's gradient on the first batch against NumPy with scipy's products."""
    net = new_network()
    (W1, W2), (b1, b2) = net.weights, net.biases
    Xb, Yb = X[:BATCH], Y[:BATCH]
    Z1 = Xb @ W1 + b1
    A1 = np.maximum(Z1, 0)
    Z2 = A1 @ W2 + b2
    P = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    dZ2 = (P - Yb) / BATCH
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    want = [Xb.T @ dZ1, A1.T @ dZ2]
    dW, _ = net.gradient(Xb, Yb)
    _common.check_close("numpy + scipy", dW, want, 1e-12)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    X, labels = make_data()
    Y = np.eye(2)[labels]
    sklearn = _common.optional("sklearn.neural_network")
    with _common.limit_threads(THREADS):
        _common.print_header("S. Sparse TF-IDF-shaped training, one epoch (float64)", THREADS)
        print(f"X: {ROWS} x {FEATURES} CSR, {X.nnz} stored values ({X.nnz / ROWS:.1f} a row), "
              f"network {FEATURES}-{HIDDEN}-2, batch {BATCH}\n")
        check_gradient(X, Y)

        def fastmlp_setup():
            net = new_network()
            return lambda: net.fit(X, Y, epochs=1, learning_rate=LR, batch_size=BATCH, threads=THREADS)

        systems = {"fastmlp": fastmlp_setup}
        if sklearn is not None:
            def sklearn_setup():
                clf = sklearn.MLPClassifier(hidden_layer_sizes=(HIDDEN,), solver="sgd", momentum=0.0, alpha=0.0,
                                            batch_size=BATCH, learning_rate_init=LR, max_iter=1, shuffle=True,
                                            random_state=0)

                def run():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # one epoch: "not converged"
                        clf.fit(X, labels)
                return run

            systems["scikit-learn"] = sklearn_setup
        times = _common.interleave(systems, args.rounds)
        _common.print_table(times, unit="s/epoch", scale=1.0, rates={"samples/s": lambda s: ROWS / s})


if __name__ == "__main__":
    main()
