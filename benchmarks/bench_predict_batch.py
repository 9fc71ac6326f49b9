"""Workload D, predict 1000 rows: the workload-B network (784-256-128-10), float32.

Throughput inference on 2 threads: fastmlp against the same forward pass
(relu, softmax) in NumPy, onnxruntime, PyTorch (no_grad) and scikit-learn,
all holding the weights fastmlp trained in one epoch of workload B, their
outputs checked equal first.

    python3 benchmarks/bench_predict_batch.py [--rounds 7]
"""

from __future__ import annotations

import _common  # first: re-executes without OPENBLAS_* before NumPy loads

import argparse
import statistics
import warnings

import numpy as np

from bench_train import BATCH, LR, SIZES, make_data, new_network

ROWS, THREADS = 1000, 2


def numpy_predict(weights, biases):
    """relu(X W + b) per hidden layer, then a stable softmax, in float32."""
    def predict(X):
        A = X
        for W, b in zip(weights[:-1], biases[:-1]):
            A = A @ W
            A += b
            np.maximum(A, 0, out=A)
        P = A @ weights[-1]
        P += biases[-1]
        P -= P.max(axis=1, keepdims=True)
        np.exp(P, out=P)
        P /= P.sum(axis=1, keepdims=True)
        return P
    return predict


def torch_predict(torch, net):
    """nn.Linear + ReLU layers and a Softmax, with fastmlp's weights; NumPy in and out."""
    layers = []
    for W, b in zip(net.weights, net.biases):
        lin = torch.nn.Linear(*W.shape, dtype=torch.float32)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1], torch.nn.Softmax(dim=1)).eval()

    def predict(X):
        with torch.no_grad():
            return model(torch.from_numpy(X)).numpy()
    return predict


def sklearn_predict(neural_network, net, X, labels):
    """An MLPClassifier (softmax output for 10 classes) holding fastmlp's weights."""
    clf = neural_network.MLPClassifier(hidden_layer_sizes=tuple(SIZES[1:-1]), max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after max_iter=1
        clf.fit(X[:1000], labels[:1000])  # only to build it: every class appears in 1000 rows
    clf.coefs_ = [W.copy() for W in net.weights]
    clf.intercepts_ = [b.copy() for b in net.biases]
    return clf.predict_proba


def run(rounds, torch, neural_network) -> None:
    """Trains the network one epoch, checks every system's outputs, then times them."""
    X_train, labels = make_data()
    net = new_network("float32")
    Y = np.eye(SIZES[-1], dtype=np.float32)[labels]
    net.fit(X_train, Y, epochs=1, learning_rate=LR, batch_size=BATCH, shuffle=True, threads=THREADS)
    X = np.random.default_rng(1).standard_normal((ROWS, SIZES[0]), dtype=np.float32)
    out = np.empty((ROWS, SIZES[-1]), dtype=np.float32)

    predictors = {
        "fastmlp": lambda: net.predict(X, threads=THREADS),
        "fastmlp out=": lambda: net.predict(X, out=out, threads=THREADS),
    }
    numpy_call = numpy_predict([W.copy() for W in net.weights], [b.copy() for b in net.biases])
    predictors["numpy"] = lambda: numpy_call(X)
    session = _common.onnx_session(net, THREADS)
    if session:
        predictors["onnxruntime"] = lambda: session.run(None, {"X": X})[0]
    if torch:
        torch_call = torch_predict(torch, net)
        predictors["pytorch"] = lambda: torch_call(X)
    if neural_network:
        sklearn_call = sklearn_predict(neural_network, net, X_train, labels)
        predictors["scikit-learn"] = lambda: sklearn_call(X)

    want = net.predict(X, threads=THREADS).copy()
    for name, predict in predictors.items():
        _common.check_close(name, [predict()], [want], 1e-5)
    print()

    repeat = {name: _common.calls_for(predict) for name, predict in predictors.items()}
    systems = {name: (lambda p=predict: p) for name, predict in predictors.items()}
    times = _common.interleave(systems, rounds, repeat)
    gflop = sum(2 * ROWS * a * b for a, b in zip(SIZES[:-1], SIZES[1:])) / 1e9
    _common.print_table(times, unit=f"ms per {ROWS} rows", scale=1e3,
                        rates={"rows/s": lambda s: ROWS / s, "GFLOP/s": lambda s: gflop / s})
    if "onnxruntime" in times:
        # round by round: the two ran within a second of each other
        paired = sorted(b / a for a, b in zip(times["fastmlp out="], times["onnxruntime"]))
        print(f"onnxruntime / fastmlp out=: median {statistics.median(paired):.2f}x "
              f"(rounds {paired[0]:.2f}x to {paired[-1]:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    torch = _common.optional("torch")
    neural_network = _common.optional("sklearn.neural_network")
    with _common.limit_threads(THREADS):
        _common.print_header(f"D. Predict {ROWS} rows: the workload-B network, float32", threads=THREADS)
        run(args.rounds, torch, neural_network)


if __name__ == "__main__":
    main()
