"""Make data/train.csv and data/test.csv from data/iris.csv, in the article's format.

Features are min-max scaled to [0, 1] over all 150 rows (columns scaled_sepal_length,
...); the species becomes
three one-hot columns in the article's order (setosa, virginica, versicolor);
the rows are shuffled with a fixed seed and split 80/20 (120 train, 30 test).
Run it from anywhere: python data/make_splits.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SEED = 20260101
SPECIES = ("setosa", "virginica", "versicolor")
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
# The scaled columns have names of their own: a model trained on them records
# these, so predict and eval refuse iris.csv's raw measurements instead of
# matching them by name and giving a wrong answer.
HEADER = [f"scaled_{name}" for name in FEATURES] + list(SPECIES)
HERE = Path(__file__).resolve().parent


def main() -> None:
    with open(HERE / "iris.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    features = np.array([[float(r[c]) for c in FEATURES] for r in rows])
    labels = np.array([[float(r["species"] == s) for s in SPECIES] for r in rows])
    assert features.shape == (150, 4) and (labels.sum(axis=1) == 1).all()

    low, high = features.min(axis=0), features.max(axis=0)
    scaled = (features - low) / (high - low)

    order = np.random.default_rng(SEED).permutation(len(rows))
    n_train = len(rows) * 4 // 5
    for name, part in (("train.csv", order[:n_train]), ("test.csv", order[n_train:])):
        with open(HERE / name, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(HEADER)
            for i in part:
                writer.writerow([repr(float(v)) for v in scaled[i]] + [int(v) for v in labels[i]])


if __name__ == "__main__":
    main()
