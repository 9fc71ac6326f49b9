"""Accuracy parity with scikit-learn at its defaults (a slow test: .ci/run runs it
with ``-m slow``; ``-s`` shows the figures).

For each data set, 20 random states: a 75/25 stratified split, standardised
on the training part, then fastmlp.sklearn.MLPClassifier and scikit-learn's
MLPClassifier, both at scikit-learn's defaults with hidden_layer_sizes=(64,)
and the same random_state. The two draw from different random streams (the
same distributions), so each state's pair of accuracies differs by chance;
the mean of the 20 differences must lie within 3 standard errors of zero
(the standard error measured from the differences themselves), or within
one test row where the differences are all but zero. A systematic gap of the
size the first release had on iris (2.8 points, biases starting at 0 and
Adam's epsilon placed after the bias correction) is several standard errors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the sklearn extra is not installed")
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fastmlp.sklearn import MLPClassifier  # noqa: E402

DATASETS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}
STATES = 20


def accuracies(load, states: int = STATES) -> tuple[np.ndarray, np.ndarray, int]:
    """Test accuracy of (ours, scikit-learn's) for each random state, and the test rows."""
    X, y = load(return_X_y=True)
    ours, theirs = [], []
    for state in range(states):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=state)
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours.append(MLPClassifier(hidden_layer_sizes=(64,), random_state=state).fit(X_tr, y_tr).score(X_te, y_te))
            theirs.append(SkMLPClassifier(hidden_layer_sizes=(64,), random_state=state).fit(X_tr, y_tr)
                          .score(X_te, y_te))
    return np.array(ours), np.array(theirs), len(y_te)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(DATASETS))
def test_mean_accuracy_equals_sklearns_at_its_defaults(name):
    ours, theirs, n_test = accuracies(DATASETS[name])
    gap = ours - theirs
    se = gap.std(ddof=1) / np.sqrt(len(gap))
    print(f"\n{name}: fastmlp {100 * ours.mean():.2f}% (sd {100 * ours.std(ddof=1):.2f}), scikit-learn "
          f"{100 * theirs.mean():.2f}% (sd {100 * theirs.std(ddof=1):.2f}), gap {100 * gap.mean():+.2f} points, "
          f"standard error {100 * se:.2f}")
    assert abs(gap.mean()) <= max(3 * se, 1 / n_test)
