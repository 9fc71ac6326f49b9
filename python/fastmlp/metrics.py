"""Evaluation figures for a network's outputs."""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["accuracy", "confusion_matrix"]


def accuracy(P: ArrayLike, Y: ArrayLike) -> float:
    """The fraction of rows whose predicted class is the true class.

    Parameters
    ----------
    P : array of shape (n, k)
        Network outputs (scores or probabilities); the class is the argmax of
        each row (the first on ties).
    Y : array of shape (n, k) or (n,)
        True classes, one-hot (or scored: the argmax is used) or as integer
        class indices.

    Raises
    ------
    ValueError
        If the shapes do not fit together or there are no rows.
    """
    P = np.asarray(P)
    Y = np.asarray(Y)
    if P.ndim != 2:
        raise ValueError(f"P must be 2-D (n, classes); got {P.ndim}-D")
    if Y.ndim not in (1, 2):
        raise ValueError(f"Y must be 1-D class indices or 2-D one-hot; got {Y.ndim}-D")
    if Y.shape[0] != P.shape[0]:
        raise ValueError(f"P and Y must have the same number of rows; got {P.shape[0]} and {Y.shape[0]}")
    if Y.ndim == 2 and Y.shape[1] != P.shape[1]:
        raise ValueError(f"P has {P.shape[1]} columns but Y has {Y.shape[1]}")
    if P.shape[0] == 0:
        raise ValueError("P and Y have no rows")
    truth = Y.argmax(axis=1) if Y.ndim == 2 else Y
    return float(np.mean(P.argmax(axis=1) == truth))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int | None = None) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: C[i, j] is the number of
    rows of class i predicted as class j, shape (n_classes, n_classes), int64.

    Parameters
    ----------
    y_true, y_pred : array of shape (n,) or (n, k)
        Class indices (non-negative integers), or one-hot / scored rows whose
        argmax is the class (a network's outputs, say).
    n_classes : int, optional
        The number of classes; default: k for 2-D inputs, else one more than
        the largest index seen.

    Raises
    ------
    ValueError
        Shapes that do not fit, no rows, negative or non-integer indices, or
        indices >= n_classes.
    """
    true, k_true = _class_indices(y_true, "y_true")
    pred, k_pred = _class_indices(y_pred, "y_pred")
    if true.shape[0] != pred.shape[0]:
        raise ValueError(f"y_true and y_pred must have the same number of rows; got {true.shape[0]} and {pred.shape[0]}")
    if true.shape[0] == 0:
        raise ValueError("y_true and y_pred have no rows")
    if n_classes is None:
        n_classes = max(k for k in (k_true, k_pred, int(max(true.max(), pred.max())) + 1) if k is not None)
    elif isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive int; got {n_classes!r}")
    top = int(max(true.max(), pred.max()))
    if top >= n_classes:
        raise ValueError(f"class index {top} is out of range for n_classes={n_classes}")
    counts = np.bincount(true * n_classes + pred, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)


def _class_indices(y: ArrayLike, name: str) -> tuple[np.ndarray, int | None]:
    """Class indices of y (argmax of 2-D rows) and the class count 2-D rows imply."""
    y = np.asarray(y)
    if y.ndim == 2:
        if y.shape[1] == 0:
            raise ValueError(f"{name} has no columns")
        return y.argmax(axis=1).astype(np.int64), y.shape[1]
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices or 2-D rows; got {y.ndim}-D")
    if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0)):
        raise ValueError(f"{name} must hold integer class indices; got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise ValueError(f"{name} has a negative class index ({y.min()})")
    return y.astype(np.int64), None
