"""The data sets that ship with fastmlp."""

from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = ["load_iris"]

#: The one-hot label columns of the Iris files, in the article's order.
IRIS_CLASSES = ("setosa", "virginica", "versicolor")


def load_iris() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The article's Iris split: ``(X_train, Y_train, X_test, Y_test)``.

    120 training and 30 test rows (an 80/20 split with a fixed seed, made by
    ``data/make_splits.py``). ``X`` holds the four features min-max scaled to
    [0, 1], shape (n, 4); ``Y`` the species one-hot in the order of
    ``IRIS_CLASSES``, shape (n, 3). All float64 and C-contiguous.
    """
    return (*_load_split("train.csv"), *_load_split("test.csv"))


def _load_split(name: str) -> tuple[np.ndarray, np.ndarray]:
    with resources.files("fastmlp").joinpath("data", name).open("r") as f:
        table = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float64)
    return np.ascontiguousarray(table[:, :4]), np.ascontiguousarray(table[:, 4:])
