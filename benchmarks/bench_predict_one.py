"""Workload C, predict one row through Python: the trained Iris network (4-5-3).

The latency a caller sees for one row: a NumPy (1, 4) row in, an array of
three probabilities out, one thread everywhere. fastmlp against the same
forward pass in NumPy, onnxruntime, PyTorch (no_grad) and scikit-learn, all
holding the weights fastmlp trained, their outputs checked equal first.

And against the floor under any binding: pybind11 functions that take the
same arrays and return ``out`` at once, compiled by this script with the
pybind11 fastmlp builds with (``pip install pybind11`` and a C++ compiler;
skipped with a note otherwise). One is called as fastmlp's core is, ``f(x,
out, None)``; the other as a user calls predict, a method with keywords,
``obj.predict(x, out=out)``, whose keywords pybind11 matches by name.

    python3 benchmarks/bench_predict_one.py [--rounds 7]
"""

from __future__ import annotations

import _common  # first: re-executes without OPENBLAS_* before NumPy loads

import argparse
import importlib.util
import os
import statistics
import subprocess
import sysconfig
import tempfile
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


FLOOR_SOURCE = r"""
#include <pybind11/pybind11.h>
namespace py = pybind11;
struct Holder {};
PYBIND11_MODULE(_predict_floor, m) {
  m.def("call", [](py::handle, py::handle out, py::handle) { return py::reinterpret_borrow<py::object>(out); });
  py::class_<Holder>(m, "Holder")
      .def(py::init<>())
      .def("predict", [](const Holder&, py::handle, py::handle out, py::handle) {
             return py::reinterpret_borrow<py::object>(out);
           }, py::arg("X"), py::kw_only(), py::arg("out") = py::none(), py::arg("threads") = py::none());
}
"""


def floor_module():
    """The floor's extension module, compiled here (-O3, as fastmlp's Release
    build), or None with a note when pybind11 or a compiler is missing."""
    try:
        import pybind11
    except ImportError:
        print("note: skipping the pybind11 floor (pip install pybind11)")
        return None
    where = tempfile.mkdtemp(prefix="fastmlp-floor-")
    source = os.path.join(where, "floor.cpp")
    target = os.path.join(where, "_predict_floor" + sysconfig.get_config_var("EXT_SUFFIX"))
    with open(source, "w") as f:
        f.write(FLOOR_SOURCE)
    command = [os.environ.get("CXX", "c++"), "-O3", "-std=c++17", "-shared", "-fPIC", "-fvisibility=hidden",
               f"-I{pybind11.get_include()}", f"-I{sysconfig.get_paths()['include']}", source, "-o", target]
    try:
        subprocess.run(command, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"note: skipping the pybind11 floor (compiling it failed: {exc})")
        return None
    spec = importlib.util.spec_from_file_location("_predict_floor", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(f"- floor: pybind11 {pybind11.__version__}, {os.path.basename(command[0])} -O3")
    return module


def run(rounds, torch, neural_network, floor) -> None:
    """Checks every system's outputs against fastmlp's, then times one-row calls."""
    X, Y, X_te, _ = fastmlp.datasets.load_iris()
    net = fastmlp.train(X, Y, hidden=5, epochs=8000, learning_rate=0.2, seed=1, threads=THREADS)
    row = X_te[:1].copy()  # (1, 4) float64, C-contiguous: read in place by fastmlp
    out = np.empty((1, 3))

    predictors = {
        "fastmlp": lambda x: net.predict(x, threads=THREADS),
        "fastmlp out=": lambda x: net.predict(x, out=out, threads=THREADS),
        "fastmlp out=, default threads": lambda x: net.predict(x, out=out),
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

    if floor:  # returns `out` untouched: nothing to check
        holder = floor.Holder()
        predictors["floor f(x, out, None)"] = lambda x: floor.call(x, out, None)
        predictors["floor obj.predict(x, out=out)"] = lambda x: holder.predict(x, out=out)

    # Each round times enough calls to last ~0.2 s, so the clock's own cost
    # and resolution vanish from a per-call time of about a microsecond.
    repeat = {name: _common.calls_for(lambda p=predict: p(row)) for name, predict in predictors.items()}
    systems = {name: (lambda p=predict: lambda: p(row)) for name, predict in predictors.items()}
    times = _common.interleave(systems, rounds, repeat)
    _common.print_table(times, unit="us/row", scale=1e6)
    for name in (n for n in times if n.startswith("floor")):
        # round by round: the two ran within a second of each other
        paired = sorted(a / b for a, b in zip(times["fastmlp out="], times[name]))
        print(f"fastmlp out= / {name}: median {statistics.median(paired):.2f}x "
              f"(rounds {paired[0]:.2f}x to {paired[-1]:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    torch = _common.optional("torch")
    neural_network = _common.optional("sklearn.neural_network")
    with _common.limit_threads(THREADS):
        _common.print_header("C. Predict one row through Python: the trained Iris network, float64",
                             threads=THREADS)
        run(args.rounds, torch, neural_network, floor_module())


if __name__ == "__main__":
    main()
