"""clip_log_loss: the training loss of cross_entropy as scikit-learn's
log_loss computes it (each probability clipped to [eps, 1 - eps]), against
NumPy and against scikit-learn's own loss functions, and the estimators'
loss_ with it."""

from __future__ import annotations

import numpy as np
import pytest

import fastmlp


def confident(seed=0, n=60, features=4, classes=3, scale=40.0):
    """Unscaled data and a network whose logits are far apart: many rows get
    a probability below eps for their class."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, scale, (n, features))
    y = rng.integers(0, classes, n)
    return X, y


def clipped_log_loss(P, Y, eps):
    P = np.clip(P, eps, 1 - eps)
    return -(Y * np.log(P)).sum()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_softmax_training_loss_is_the_clipped_log_loss(dtype, reduction):
    X, y = confident()
    Y = np.eye(3)[y]
    net = fastmlp.Network([4, 8, 3], activation="relu", output="softmax", loss="cross_entropy",
                          reduction=reduction, init="he", seed=1, dtype=dtype)
    P = net.predict(X).astype(np.float64)
    eps = np.finfo(dtype).eps
    want = clipped_log_loss(P, Y, eps) / (len(y) if reduction == "mean" else 1)
    exact = net.loss(X, Y)
    assert exact > want * 1.5  # some rows are far past the clip
    net.fit(X, Y, epochs=1, learning_rate=0.0, clip_log_loss=True)
    np.testing.assert_allclose(net.history["loss"][0], want, rtol=1e-5 if dtype == "float32" else 1e-12)
    net.fit(X, Y, epochs=1, learning_rate=0.0)  # off: the exact loss from the logits
    np.testing.assert_allclose(net.history["loss"][1], exact, rtol=1e-12)


@pytest.mark.parametrize("outputs", [1, 3])
def test_sigmoid_training_loss_clips_each_output(outputs):
    X, y = confident(seed=2)
    Y = (np.random.default_rng(3).random((len(y), outputs)) < 0.5).astype(float)
    net = fastmlp.Network([4, 8, outputs], activation="relu", output="sigmoid", loss="cross_entropy",
                          reduction="sum", init="he", seed=1)
    logits = fastmlp.Network([4, 8, outputs], activation="relu", output="identity", loss="mse", seed=1)
    for mine, theirs in zip(logits.weights + logits.biases, net.weights + net.biases):
        mine[:] = theirs
    Z = logits.predict(X)
    eps = np.finfo(np.float64).eps
    low, high = -np.log1p(-eps), -np.log(eps)
    # -log p = log(1 + e^-z), -log(1 - p) = log(1 + e^z), each clamped as a
    # clipped p would make it (NumPy's log(1 - P) from a rounded P near 1 is
    # too coarse to be the reference)
    want = (Y * np.clip(np.logaddexp(0, -Z), low, high) + (1 - Y) * np.clip(np.logaddexp(0, Z), low, high)).sum()
    assert np.mean(np.abs(Z) > high) > 0.1  # many terms are clipped
    net.fit(X, Y, epochs=1, learning_rate=0.0, clip_log_loss=True)
    np.testing.assert_allclose(net.history["loss"][0], want, rtol=1e-12)


def test_the_gradient_is_unchanged():
    X, y = confident()
    Y = np.eye(3)[y]
    nets = []
    for clip in (False, True):
        net = fastmlp.Network([4, 8, 3], activation="relu", output="softmax", loss="cross_entropy",
                              reduction="mean", init="he", seed=1)
        net.fit(X, Y, epochs=3, learning_rate=1e-3, clip_log_loss=clip)
        nets.append(net)
    for a, b in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_array_equal(a, b)


def test_mse_and_poisson_ignore_it():
    X, _ = confident()
    Y = np.abs(X[:, :2]) / 40
    for output, loss in (("identity", "mse"), ("exp", "poisson")):
        runs = []
        for clip in (False, True):
            net = fastmlp.Network([4, 3, 2], output=output, loss=loss, reduction="mean", seed=0)
            net.fit(X / 40, Y, epochs=2, learning_rate=0.01, clip_log_loss=clip)
            runs.append(net.history["loss"])
        np.testing.assert_array_equal(*runs)


sklearn = pytest.importorskip("sklearn", reason="the sklearn extra is not installed")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("load", ["load_wine", "load_breast_cancer"])
def test_estimators_loss_is_scikit_learns_log_loss(load):
    # unscaled data, where most rows start far past the clip: the first
    # epoch's loss is scikit-learn's log_loss (or binary_log_loss) of the
    # starting probabilities plus its L2 term; Adam's first step is at most
    # about learning_rate_init, so the parameters after one epoch are the
    # starting ones to 1e-300
    from sklearn import datasets
    from sklearn.neural_network import _base

    from fastmlp.sklearn import MLPClassifier

    X, y = getattr(datasets, load)(return_X_y=True)
    clf = MLPClassifier(random_state=0, max_iter=1, learning_rate_init=1e-300, batch_size=len(y)).fit(X, y)
    P = clf.predict_proba(X)
    Y = np.eye(len(clf.classes_))[np.searchsorted(clf.classes_, y)]
    if P.shape[1] == 2:
        want = _base.binary_log_loss(Y[:, 1:], P[:, 1:])
    else:
        want = _base.log_loss(Y, P)
    want += 0.5 * clf.alpha * sum(float((W**2).sum()) for W in clf.coefs_) / len(y)
    assert want > 5  # the clip is what bounds it
    np.testing.assert_allclose(clf.loss_curve_[0], want, rtol=1e-6)  # NumPy's log(1 - P): see above
