"""The bundled Iris split, against data/iris.csv recomputed with NumPy."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

import fastmlp

IRIS_CSV = Path(__file__).resolve().parents[1] / "data" / "iris.csv"


def test_load_iris_is_the_scaled_one_hot_split(iris):
    X_tr, Y_tr, X_te, Y_te = iris
    assert X_tr.shape == (120, 4) and Y_tr.shape == (120, 3)
    assert X_te.shape == (30, 4) and Y_te.shape == (30, 3)
    for a in iris:
        assert a.dtype == np.float64 and a.flags.c_contiguous

    with open(IRIS_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    features = np.array([[float(r[k]) for k in ("sepal_length", "sepal_width", "petal_length", "petal_width")]
                         for r in rows])
    scaled = (features - features.min(axis=0)) / np.ptp(features, axis=0)
    species = np.array([fastmlp.datasets.IRIS_CLASSES.index(r["species"]) for r in rows])

    X = np.vstack([X_tr, X_te])
    labels = np.concatenate([Y_tr.argmax(axis=1), Y_te.argmax(axis=1)])
    assert set(np.unique(np.vstack([Y_tr, Y_te]))) == {0.0, 1.0}
    assert (np.vstack([Y_tr, Y_te]).sum(axis=1) == 1).all()
    # every bundled row is exactly one of the 150, with its species; all 150 are used
    matched = []
    for x, label in zip(X, labels):
        i = np.flatnonzero((np.abs(scaled - x) < 1e-15).all(axis=1) & (species == label))
        assert i.size >= 1, f"row {x} with label {label} is not in iris.csv"
        matched.append(tuple(scaled[i[0]]) + (label,))
    assert len(matched) == 150
    assert X.min() == 0.0 and X.max() == 1.0
