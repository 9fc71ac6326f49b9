"""Export to ONNX and run the model with onnxruntime.

Trains the article's Iris network and a scikit-learn-style classifier with
string labels, writes both as .onnx files, runs them with onnxruntime and
checks that its outputs equal fastmlp's. Needs the onnx extra
(``pip install "fastmlp[onnx,sklearn]"``).

    uv run python examples/onnx_export.py [OUT_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

import fastmlp
from fastmlp.sklearn import MLPClassifier


def main(out_dir: Path) -> None:
    X_train, Y_train, X_test, Y_test = fastmlp.datasets.load_iris()

    # a Network: input "X", outputs "Y" (the network's outputs) and "label" (argmax)
    net = fastmlp.train(X_train, Y_train, hidden=5, epochs=8000, learning_rate=0.2, seed=1)
    path = out_dir / "iris.onnx"
    net.to_onnx(path, labels=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    Y, label = session.run(["Y", "label"], {"X": X_test})
    print(f"{path.name}: largest difference from fastmlp {np.max(np.abs(Y - net.predict(X_test))):.2g}, "
          f"accuracy {np.mean(label == Y_test.argmax(axis=1)):.4f}")

    # an estimator: outputs "label" (the classes themselves, here strings) and "probabilities"
    names = np.array(["setosa", "versicolor", "virginica"])
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=1000, random_state=0)
    clf.fit(X_train, names[Y_train.argmax(axis=1)])
    path = out_dir / "iris_classifier.onnx"
    clf.to_onnx(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], {"X": X_test})
    assert (label == clf.predict(X_test)).all()
    print(f"{path.name}: labels {list(label[:3])}..., largest probability difference "
          f"{np.max(np.abs(proba - clf.predict_proba(X_test))):.2g}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
