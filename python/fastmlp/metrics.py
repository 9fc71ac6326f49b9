"""Evaluation figures for a network's outputs.

A row of outputs (or of one-hot labels) has one class, by one rule that the C++
core defines (``class_of_row`` in metrics.hpp) and every part of fastmlp uses:
with several columns, the index of the largest value (the first on ties); with
a single column, a binary class: 1 where the value is > 0.5, else 0, whatever
the output activation (scikit-learn's threshold, so its estimators agree).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from fastmlp import _core

__all__ = ["accuracy", "confusion_matrix", "predicted_classes", "true_classes"]


def __dir__() -> list[str]:
    return sorted(__all__)


def accuracy(P: ArrayLike, Y: ArrayLike) -> float:
    """The fraction of rows whose predicted class is the true class.

    Parameters
    ----------
    P : array of shape (n, k)
        Network outputs (scores or probabilities); each row's class by the
        rule in this module's docstring (a single column: 1 where > 0.5).
    Y : array of shape (n, k) or (n,)
        True classes: rows of k columns by the same rule (one-hot, or a
        single column of 0/1), or integer class indices below max(k, 2).

    Raises
    ------
    ValueError
        If the shapes do not fit together or there are no rows; for an output
        or label that is not finite, a label row without a single largest
        value (all zeros), or a class index that is not one of the classes.
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
    predicted = predicted_classes(P, "P")
    if Y.ndim == 2:
        truth = true_classes(Y, "Y")
    else:
        truth = _indices(Y, "Y")
        n_classes = max(P.shape[1], 2)
        if truth.max() >= n_classes:
            raise ValueError(f"Y holds class index {truth.max()}, but P's {P.shape[1]} column(s) make "
                             f"{n_classes} classes (0 to {n_classes - 1})")
    return float(np.mean(predicted == truth))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int | None = None) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: C[i, j] is the number of
    rows of class i predicted as class j, shape (n_classes, n_classes), int64.

    Parameters
    ----------
    y_true, y_pred : array of shape (n,) or (n, k)
        Class indices (non-negative integers), or one-hot / scored rows whose
        class is given by the rule in this module's docstring (a network's
        outputs, say; a single column is a binary class, 1 where > 0.5).
    n_classes : int, optional
        The number of classes; default: max(k, 2) for 2-D inputs, else one
        more than the largest index seen.

    Raises
    ------
    ValueError
        Shapes that do not fit, no rows, negative or non-integer indices,
        indices >= n_classes, values that are not finite, or a y_true row
        without a single largest value (an all-zero one-hot row).
    """
    true, k_true = _class_indices(y_true, "y_true", true_classes)
    pred, k_pred = _class_indices(y_pred, "y_pred", predicted_classes)
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


def predicted_classes(P: ArrayLike, name: str = "P") -> np.ndarray:
    """Each row's class in the outputs P (n, k), int64 (n,), by the rule in
    this module's docstring; ValueError naming the first row (from 0) with an
    output that is not finite (NaN or infinite), which has no class."""
    return _core.predicted_classes(_as_rows(P, name), name)


def true_classes(Y: ArrayLike, name: str = "Y") -> np.ndarray:
    """Each row's class in the labels Y (n, k), int64 (n,), by the same rule;
    ValueError naming the first row (from 0) with a value that is not finite or
    without a single largest value (an all-zero one-hot row): such a row has
    no class, and counting it as class 0 would be a guess."""
    return _core.true_classes(_as_rows(Y, name), name)


def _as_rows(a: ArrayLike, name: str) -> np.ndarray:
    """``a`` as the C-contiguous 2-D float array the core reads: float32 as it
    is, other real dtypes as float64."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows, columns); got {arr.ndim}-D")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no columns")
    return np.ascontiguousarray(arr, dtype=np.float32 if arr.dtype == np.float32 else np.float64)


def _class_indices(y: ArrayLike, name: str, rule: Callable[[ArrayLike, str], np.ndarray]
                   ) -> tuple[np.ndarray, int | None]:
    """Class indices of y (2-D rows by ``rule``) and the class count 2-D rows imply."""
    y = np.asarray(y)
    if y.ndim == 2:
        return rule(y, name), max(y.shape[1], 2)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices or 2-D rows; got {y.ndim}-D")
    return _indices(y, name), None


def _indices(y: np.ndarray, name: str) -> np.ndarray:
    """The 1-D class indices y as int64: non-negative whole numbers, else ValueError."""
    if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0)):
        raise ValueError(f"{name} must hold integer class indices; got dtype {y.dtype}"
                         + (" with values that are not whole numbers" if y.dtype.kind == "f" else ""))
    if y.size and y.min() < 0:
        raise ValueError(f"{name} has a negative class index ({y.min()})")
    return y.astype(np.int64)
