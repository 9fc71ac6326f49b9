"""Evaluation helpers: accuracy, confusion_matrix, predict_proba and
predict_classes, against scikit-learn's metrics and NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import fastmlp

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def test_confusion_matrix_matches_scikit_learn():
    rng = np.random.default_rng(0)
    true, pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    np.testing.assert_array_equal(fastmlp.confusion_matrix(true, pred),
                                  sklearn_metrics.confusion_matrix(true, pred, labels=range(4)))
    # one-hot truth and scored predictions give the same counts as their argmax
    scores = rng.random((200, 4))
    np.testing.assert_array_equal(fastmlp.confusion_matrix(np.eye(4)[true], scores),
                                  sklearn_metrics.confusion_matrix(true, scores.argmax(1), labels=range(4)))
    # classes absent from both still get a row and a column
    counts = fastmlp.confusion_matrix([0, 0, 1], [0, 1, 1], n_classes=3)
    np.testing.assert_array_equal(counts, sklearn_metrics.confusion_matrix([0, 0, 1], [0, 1, 1], labels=range(3)))


def test_network_helpers_on_iris(iris):
    X_tr, Y_tr, X_te, Y_te = iris
    net = fastmlp.train(X_tr, Y_tr, hidden=5, epochs=2000, seed=1)
    P = net.predict(X_te)
    np.testing.assert_array_equal(net.predict_proba(X_te), P)
    np.testing.assert_array_equal(net.predict_classes(X_te), P.argmax(axis=1))
    assert fastmlp.accuracy(P, Y_te) == sklearn_metrics.accuracy_score(Y_te.argmax(1), P.argmax(1))
    counts = fastmlp.confusion_matrix(Y_te, P)
    assert counts.sum() == 30 and np.trace(counts) / 30 == fastmlp.accuracy(P, Y_te)


def test_single_output_classes_threshold():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 3))
    net = fastmlp.Network([3, 4, 1], init="glorot", seed=2)
    np.testing.assert_array_equal(net.predict_classes(X), (net.predict(X)[:, 0] > 0.5).astype(int))
    regressor = fastmlp.Network([3, 4, 1], output="identity", init="glorot", seed=2)
    with pytest.raises(ValueError, match="predict_proba needs a 'softmax' or 'sigmoid' output"):
        regressor.predict_proba(X)


@pytest.mark.parametrize("args,match", [
    (([0, 1], [0]), "same number of rows"),
    (([], []), "no rows"),
    (([0, -1], [0, 0]), "negative class index"),
    (([0.5, 1], [0, 0]), "integer class indices"),
    (([0, 3], [0, 0], 3), "out of range"),
    (([[[0]]], [0]), "1-D class indices or 2-D"),
])
def test_confusion_matrix_rejects(args, match):
    with pytest.raises(ValueError, match=match):
        fastmlp.confusion_matrix(*args)
