"""Workload C, predict one row through Python: the trained Iris network (4-5-3).

The latency a caller sees for one row: a NumPy (1, 4) row in, an array of
three probabilities out, one thread everywhere. fastmlp against the same
forward pass in NumPy, onnxruntime, PyTorch (no_grad) and scikit-learn, all
holding the weights fastmlp trained, their outputs checked equal first.

    python3 benchmarks/bench_predict_one.py [--rounds 7]
"""

from __future__ import annotations

import _common  # first: re-executes without OPENBLAS_* before NumPy loads

import argparse
import warnings

import numpy as np

import fastmlp

THREADS = 1


def numpy_predict(W1, b1, W2, b2):
    """The article's forward pass: sigmoid(sigmoid(x W1 + b1) W2 + b2)."""
    def predict(x):
        A1 = 1.0 / (1.0 + np.exp(-(x @ W1 + b1)))
        return 1.0 / (1.0 + np.exp(-(A1 @ W2 + b2)))
    return predict


def torch_predict(torch, net):
    """nn.Linear + Sigmoid layers with fastmlp's weights; NumPy in, NumPy out."""
    layers = []
    for W, b in zip(net.weights, net.biases):
        lin = torch.nn.Linear(*W.shape, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers).eval()

    def predict(x):
        with torch.no_grad():
            return model(torch.from_numpy(x)).numpy()
    return predict


def sklearn_predict(neural_network, net, X, Y):
    """An MLPClassifier whose weights are replaced by fastmlp's.

    Fitted once on one-hot Y (a multi-label problem to scikit-learn), so its
    output layer is the logistic function, as the article's is.
    """
    clf = neural_network.MLPClassifier(hidden_layer_sizes=(5,), activation="logistic", max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after max_iter=1
        clf.fit(X, Y)
    clf.coefs_ = [W.copy() for W in net.weights]
    clf.intercepts_ = [b.copy() for b in net.biases]
    return clf.predict_proba


def run(rounds, torch, neural_network) -> None:
    """Checks every system's outputs against fastmlp's, then times one-row calls."""
    X, Y, X_te, _ = fastmlp.datasets.load_iris()
    net = fastmlp.train(X, Y, hidden=5, epochs=8000, learning_rate=0.2, seed=1, threads=THREADS)
    row = X_te[:1].copy()  # (1, 4) float64, C-contiguous: read in place by fastmlp
    out = np.empty((1, 3))

    predictors = {
        "fastmlp": lambda x: net.predict(x, threads=THREADS),
        "fastmlp out=": lambda x: net.predict(x, out=out, threads=THREADS),
        "numpy": numpy_predict(*(p.copy() for p in (net.weights[0], net.biases[0], net.weights[1], net.biases[1]))),
    }
    session = _common.onnx_session(net, THREADS)
    if session:
        predictors["onnxruntime"] = lambda x: session.run(None, {"X": x})[0]
    if torch:
        predictors["pytorch"] = torch_predict(torch, net)
    if neural_network:
        predictors["scikit-learn"] = sklearn_predict(neural_network, net, X, Y)

    # Row by row, the path that is timed, against fastmlp's batch prediction.
    want = net.predict(X_te, threads=THREADS)
    for name, predict in predictors.items():
        got = np.vstack([predict(X_te[i:i + 1]).copy() for i in range(len(X_te))])  # copy: out= is reused
        _common.check_close(name, [got], [want], 1e-12)
    print()

    # Each round times enough calls to last ~0.2 s, so the clock's own cost
    # and resolution vanish from a per-call time of about a microsecond.
    repeat = {name: _common.calls_for(lambda p=predict: p(row)) for name, predict in predictors.items()}
    systems = {name: (lambda p=predict: lambda: p(row)) for name, predict in predictors.items()}
    times = _common.interleave(systems, rounds, repeat)
    _common.print_table(times, unit="us/row", scale=1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    torch = _common.optional("torch")
    neural_network = _common.optional("sklearn.neural_network")
    with _common.limit_threads(THREADS):
        _common.print_header("C. Predict one row through Python: the trained Iris network, float64",
                             threads=THREADS)
        run(args.rounds, torch, neural_network)


if __name__ == "__main__":
    main()
