"""Handwritten digits with a deep relu network, Adam and early stopping.

scikit-learn's 8x8 digits (1797 images), pixels scaled to [0, 1], a
64-128-64-10 relu network with a softmax output trained on mean
cross-entropy by Adam in mini-batches of 32; a tenth of the training rows is
held out for validation and training stops once its loss has not improved
for 10 epochs, returning to the best epoch's parameters.

    uv run python examples/digits_deep_relu.py
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastmlp


def main() -> None:
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    Y_train = np.eye(10)[y_train]

    net = fastmlp.Network([64, 128, 64, 10], activation="relu", output="softmax", loss="cross_entropy",
                          reduction="mean", init="he", seed=0)
    start = time.perf_counter()
    net.fit(X_train, Y_train, epochs=300, optimizer="adam", learning_rate=1e-3, batch_size=32,
            validation_fraction=0.1, early_stopping=10)
    elapsed = time.perf_counter() - start
    epochs = net.history["loss"].size
    print(f"{epochs} epochs in {elapsed:.2f} s; best validation loss "
          f"{np.nanmin(net.history['val_loss']):.4f} after epoch {net.best_epoch}")
    predicted = net.predict_classes(X_test)
    print(f"test accuracy {np.mean(predicted == y_test):.4f}")
    print(fastmlp.confusion_matrix(y_test, predicted, n_classes=10))


if __name__ == "__main__":
    main()
