"""fastmlp: fast, reproducible dense neural networks (multilayer perceptrons).

The numeric work (matrix products, activations, the whole training loop) runs
in C++; NumPy arrays go in and come out without copies.

>>> import fastmlp
>>> X_tr, Y_tr, X_te, Y_te = fastmlp.datasets.load_iris()
>>> net = fastmlp.train(X_tr, Y_tr, hidden=5, epochs=8000, learning_rate=0.2, seed=1)
>>> fastmlp.accuracy(fastmlp.predict(net, X_te), Y_te) > 0.9
True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastmlp import _threadpool, datasets, metrics, onnx, plot
from fastmlp.metrics import accuracy, confusion_matrix
from fastmlp.network import Network, load, predict, train

_threadpool.register()  # threadpoolctl, when installed, sees and limits fastmlp's threads

try:
    __version__ = version("fastmlp")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "unknown"

__all__ = ["Network", "__version__", "accuracy", "confusion_matrix", "datasets", "load", "metrics", "onnx", "plot",
           "predict", "train"]


def __dir__() -> list[str]:
    # the public API, not the helper modules and names the imports leave here
    return sorted(__all__)
