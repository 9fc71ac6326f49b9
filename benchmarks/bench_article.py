"""Workload A, the article: Iris 4-5-3 sigmoid, full batch, float64, 8000 epochs.

fastmlp against the same algorithm in NumPy, in PyTorch (manual gradient and
autograd) and scikit-learn's MLPClassifier, interleaved over several rounds in
one process, one thread each (the matrices are 120x4: threads only cost here).

    python3 benchmarks/bench_article.py [--rounds 5]
"""

from __future__ import annotations

import _common  # first: re-executes without OPENBLAS_* before NumPy loads

import argparse
import warnings

import numpy as np

import fastmlp

EPOCHS = 8000
LR = 0.2


# --- the article's algorithm in each system ------------------------------------
# Error Y - A, deltas through sigma'(Z) = A (1 - A), gradient summed over the
# 120 rows, W += lr * X^T delta: fastmlp.train's defaults.


def numpy_article(X, Y, W1, b1, W2, b2, epochs=EPOCHS):
    """The article's loop in NumPy; updates the parameters in place."""
    for _ in range(epochs):
        A1 = 1.0 / (1.0 + np.exp(-(X @ W1 + b1)))
        A2 = 1.0 / (1.0 + np.exp(-(A1 @ W2 + b2)))
        d2 = (Y - A2) * (A2 * (1.0 - A2))
        d1 = (d2 @ W2.T) * (A1 * (1.0 - A1))
        W2 += LR * (A1.T @ d2)
        b2 += LR * d2.sum(axis=0)
        W1 += LR * (X.T @ d1)
        b1 += LR * d1.sum(axis=0)


def torch_manual(torch, X, Y, W1, b1, W2, b2, epochs=EPOCHS):
    """The same loop on torch tensors, gradients by hand (no autograd graph)."""
    for _ in range(epochs):
        A1 = torch.sigmoid(X @ W1 + b1)
        A2 = torch.sigmoid(A1 @ W2 + b2)
        d2 = (Y - A2) * (A2 * (1.0 - A2))
        d1 = (d2 @ W2.T) * (A1 * (1.0 - A1))
        W2.add_(A1.T @ d2, alpha=LR)
        b2.add_(d2.sum(dim=0), alpha=LR)
        W1.add_(X.T @ d1, alpha=LR)
        b1.add_(d1.sum(dim=0), alpha=LR)


def torch_autograd(torch, X, Y, params, epochs=EPOCHS):
    """The article's loss, 1/2 sum((A - Y)^2), differentiated by autograd."""
    W1, b1, W2, b2 = params
    for _ in range(epochs):
        A2 = torch.sigmoid(torch.sigmoid(X @ W1 + b1) @ W2 + b2)
        loss = 0.5 * ((A2 - Y) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None


def run(rounds, torch, neural_network) -> None:
    """Checks every system against fastmlp, then times them all, interleaved."""
    X, Y, _, _ = fastmlp.datasets.load_iris()

    def initial():
        """The article's starting weights, seed 1, as fresh NumPy copies."""
        net = fastmlp.Network([4, 5, 3], seed=1)
        return [p.copy() for p in (net.weights[0], net.biases[0], net.weights[1], net.biases[1])]

    def tensors(params, grad=False):
        return [torch.tensor(p, requires_grad=grad) for p in params]

    # Every system's algorithm is checked over a few epochs against fastmlp's
    # before anything is timed (not over 8000: the run is chaotic, and
    # summation order alone makes implementations drift apart).
    steps = 10
    want = fastmlp.Network([4, 5, 3], seed=1).fit(X, Y, epochs=steps, learning_rate=LR, threads=1)
    want = [want.weights[0], want.biases[0], want.weights[1], want.biases[1]]
    got = initial()
    numpy_article(X, Y, *got, epochs=steps)
    _common.check_close("numpy", got, want, 1e-12)
    if torch:
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
        got = tensors(initial())
        torch_manual(torch, Xt, Yt, *got, epochs=steps)
        _common.check_close("pytorch manual", [t.numpy() for t in got], want, 1e-12)
        got = tensors(initial(), grad=True)
        torch_autograd(torch, Xt, Yt, got, epochs=steps)
        _common.check_close("pytorch autograd", [t.detach().numpy() for t in got], want, 1e-12)
    print()

    systems = {
        "fastmlp": lambda: lambda: fastmlp.train(X, Y, hidden=5, epochs=EPOCHS, learning_rate=LR, seed=1, threads=1),
        "numpy": lambda: (lambda p=initial(): numpy_article(X, Y, *p)),
    }
    if torch:
        systems["pytorch manual"] = lambda: (lambda p=tensors(initial()): torch_manual(torch, Xt, Yt, *p))
        systems["pytorch autograd"] = lambda: (lambda p=tensors(initial(), True): torch_autograd(torch, Xt, Yt, p))
    if neural_network:
        # Not the same algorithm, noted in the README: MLPClassifier averages
        # the gradient and, with one-hot targets, minimises the logistic loss
        # (delta = A - Y, without sigma'); lr 0.2 trains it to the article's
        # accuracy. The time per epoch does not depend on either choice.
        # n_iter_no_change = EPOCHS turns off its early stop: all epochs run.
        def sklearn_setup():
            clf = neural_network.MLPClassifier(
                hidden_layer_sizes=(5,), activation="logistic", solver="sgd", batch_size=len(X),
                learning_rate_init=LR, momentum=0.0, alpha=0.0, max_iter=EPOCHS,
                n_iter_no_change=EPOCHS, shuffle=False, random_state=1)

            def fit():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
                    clf.fit(X, Y)
                assert clf.n_iter_ == EPOCHS, clf.n_iter_
            return fit
        systems["scikit-learn"] = sklearn_setup

    times = _common.interleave(systems, rounds)
    per_epoch = {name: [t / EPOCHS for t in ts] for name, ts in times.items()}
    _common.print_table(per_epoch, unit="us/epoch", scale=1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    torch = _common.optional("torch")
    neural_network = _common.optional("sklearn.neural_network")
    with _common.limit_threads(1):
        _common.print_header(f"A. The article: Iris 4-5-3 sigmoid, full batch, float64, {EPOCHS} epochs", threads=1)
        run(args.rounds, torch, neural_network)


if __name__ == "__main__":
    main()
