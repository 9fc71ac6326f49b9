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


# --- one rule for a single output: class 1 where it is > 0.5 (scikit-learn's) ----------


def _sklearn_binary(p):
    """scikit-learn's decoding of one output column (LabelBinarizer, as MLPClassifier.predict)."""
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    return preprocessing.LabelBinarizer().fit([0, 1]).inverse_transform(np.ravel(p))


def test_one_output_metrics_follow_scikit_learn():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 2))
    y = (X[:, 0] + 0.3 * rng.standard_normal(200) > 0).astype(np.int64)
    net = fastmlp.Network([2, 4, 1], init="glorot", seed=4).fit(X, y[:, None], epochs=200, learning_rate=0.05)
    P = net.predict(X)
    reference = _sklearn_binary(P)
    assert 0 < reference.sum() < len(reference)  # both classes predicted: an argmax would say 0 throughout
    assert fastmlp.accuracy(P, y[:, None]) == sklearn_metrics.accuracy_score(y, reference)
    assert fastmlp.accuracy(P, y) == sklearn_metrics.accuracy_score(y, reference)
    np.testing.assert_array_equal(fastmlp.confusion_matrix(y, P),
                                  sklearn_metrics.confusion_matrix(y, reference, labels=[0, 1]))
    np.testing.assert_array_equal(fastmlp.confusion_matrix(y[:, None], P),
                                  sklearn_metrics.confusion_matrix(y, reference, labels=[0, 1]))
    np.testing.assert_array_equal(net.predict_classes(X), reference)


def test_exactly_one_half_is_class_0_for_every_metric():
    P = np.array([[0.5], [0.5000001], [0.4999999], [0.0], [-3.0], [7.0]])
    y = np.array([1, 1, 0, 0, 0, 1])
    reference = _sklearn_binary(P)
    assert fastmlp.accuracy(P, y) == sklearn_metrics.accuracy_score(y, reference)
    assert fastmlp.accuracy(P, y[:, None].astype(float)) == sklearn_metrics.accuracy_score(y, reference)
    np.testing.assert_array_equal(fastmlp.confusion_matrix(y, P),
                                  sklearn_metrics.confusion_matrix(y, reference, labels=[0, 1]))


def test_one_identity_output_uses_the_same_threshold():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 3))
    net = fastmlp.Network([3, 6, 1], output="identity", init="glorot", seed=6)
    net.biases[-1][...] += 0.25 - np.median(net.predict(X))  # outputs on both sides of 0 and of 0.5
    P = net.predict(X)
    assert np.any((P > 0) & (P <= 0.5))  # rows where a threshold of 0 would say class 1
    np.testing.assert_array_equal(net.predict_classes(X), _sklearn_binary(P))


def test_validation_accuracy_uses_the_rule():
    # zero weights: every sigmoid output is exactly 0.5, which is class 0
    X = np.random.default_rng(7).standard_normal((20, 2))
    Y = np.ones((20, 1))
    net = fastmlp.Network([2, 3, 1], seed=1)
    for w in (*net.weights, *net.biases):
        w[...] = 0
    net.fit(X, Y, epochs=1, learning_rate=0.0, validation=(X, Y))
    assert np.all(net.predict(X) == 0.5)
    assert net.history["val_accuracy"][0] == sklearn_metrics.accuracy_score(Y[:, 0], _sklearn_binary(net.predict(X)))


def test_balanced_class_weights_use_the_rule():
    utils = pytest.importorskip("sklearn.utils.class_weight")
    from fastmlp import _core

    Y = np.array([[0.5], [0.5], [1.0], [0.0], [0.9]])
    expected = utils.compute_sample_weight("balanced", _sklearn_binary(Y))
    np.testing.assert_allclose(_core.class_weights(Y, []), expected, rtol=1e-15)


# --- outputs that are not finite have no class ---------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_metrics_refuse_outputs_that_are_not_finite(bad):
    P = np.eye(3)[[0, 1, 2, 0]].astype(float)
    P[2, 1] = bad
    with pytest.raises(ValueError, match="P row 2 .*not finite"):
        fastmlp.accuracy(P, np.eye(3)[[0, 1, 2, 0]])
    with pytest.raises(ValueError, match="y_pred row 2 .*not finite"):
        fastmlp.confusion_matrix([0, 1, 2, 0], P)
    with pytest.raises(ValueError, match="P row 1 .*not finite"):
        fastmlp.accuracy(np.array([[0.2], [bad]]), [0, 1])


def test_predict_classes_refuses_overflowed_outputs():
    net = fastmlp.Network([2, 2, 3], activation="relu", output="identity", seed=1)
    net.weights[0][...] = 1e200
    net.weights[1][...] = 1e200
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    P = net.predict(X)
    bad_rows = np.flatnonzero(~np.isfinite(P).all(axis=1))
    assert bad_rows.size  # the outputs did overflow
    with pytest.raises(ValueError, match=f"predictions row {bad_rows[0]} .*not finite"):
        net.predict_classes(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_classifier_predict_refuses_outputs_that_are_not_finite():
    fastmlp_sklearn = pytest.importorskip("fastmlp.sklearn")
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 2))
    y = (X[:, 0] > 0).astype(int)
    clf = fastmlp_sklearn.MLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), _sklearn_binary(clf.predict_proba(X)[:, 1]))
    clf.network_.biases[-1][...] = np.nan
    with pytest.raises(ValueError, match="predictions row 0 .*not finite"):
        clf.predict(X)
    # multi-label: each column by the same rule, as scikit-learn's LabelBinarizer decodes it
    Y = np.column_stack([y, 1 - y, X[:, 1] > 0]).astype(int)
    multi = fastmlp_sklearn.MLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(multi.predict(X), (multi.predict_proba(X) > 0.5).astype(int))
    multi.network_.weights[-1][0, 1] = np.nan
    with pytest.raises(ValueError, match="predictions row 0 .*not finite"):
        multi.predict(X)


# --- labels that name no class ---------------------------------------------------------------


def test_all_zero_one_hot_rows_are_refused():
    P = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    Y = np.array([[1, 0], [0, 1], [0, 0]])
    with pytest.raises(ValueError, match="Y row 2 has no single largest value"):
        fastmlp.accuracy(P, Y)
    with pytest.raises(ValueError, match="y_true row 2 has no single largest value"):
        fastmlp.confusion_matrix(Y, P)


@pytest.mark.parametrize("y,match", [
    ([0, 1, 3], "class index 3"),        # P's 3 columns make classes 0..2
    ([0, 1, 0.5], "integer class indices"),
    ([0, 1, np.nan], "integer class indices"),
    ([0, -1, 1], "negative class index"),
])
def test_accuracy_refuses_class_indices_that_name_no_class(y, match):
    P = np.eye(3)
    with pytest.raises(ValueError, match=match):
        fastmlp.accuracy(P, y)


def test_a_single_label_column_holds_binary_labels():
    P = np.array([[0.9], [0.2], [0.7]])
    with pytest.raises(ValueError, match="Y row 2 holds 2.0+, not a binary label from 0 to 1"):
        fastmlp.accuracy(P, [[1], [0], [2]])  # class indices in a column: not one output's labels
    with pytest.raises(ValueError, match="y_true row 1 holds -1.0+, not a binary label"):
        fastmlp.confusion_matrix([[1], [-1], [0]], P)
