"""Evaluation figures for a network's outputs."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


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
