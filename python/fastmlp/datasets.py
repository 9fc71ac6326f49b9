"""The data sets that ship with fastmlp."""

from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = ["IRIS_CLASSES", "load_iris"]


def __dir__() -> list[str]:
    return sorted(__all__)

IRIS_CLASSES = ("setosa", "virginica", "versicolor")
"""The species of ``load_iris()``'s one-hot columns, in column order: the
article's order (setosa, virginica, versicolor), not alphabetical. Name
classes with it: ``np.array(IRIS_CLASSES)[Y.argmax(axis=1)]``, or
``plot.confusion_matrix(Y, P, labels=IRIS_CLASSES)``."""


def load_iris() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The article's Iris split: ``(X_train, Y_train, X_test, Y_test)``.

    120 training and 30 test rows (an 80/20 split with a fixed seed, made by
    ``data/make_splits.py``). ``X`` holds the four features min-max scaled to
    [0, 1], shape (n, 4); ``Y`` the species one-hot in the order of
    ``IRIS_CLASSES`` (setosa, virginica, versicolor: column 1 is
    virginica), shape (n, 3). All float64 and C-contiguous.
    """
    return (*_load_split("train.csv"), *_load_split("test.csv"))


def _load_split(name: str) -> tuple[np.ndarray, np.ndarray]:
    with resources.files("fastmlp").joinpath("data", name).open("r") as f:
        table = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float64)
    return np.ascontiguousarray(table[:, :4]), np.ascontiguousarray(table[:, 4:])
