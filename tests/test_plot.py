"""fastmlp.plot: each plot rendered to a PNG with the Agg backend and read back;
the data drawn checked against the model and against scikit-learn's metrics."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import fastmlp

matplotlib = pytest.importorskip("matplotlib", reason="the plot extra is not installed")
matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from fastmlp import plot  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def render(ax, path):
    """Save the Axes' figure; returns the pixels (h, w, channels) read back."""
    ax.figure.savefig(path, dpi=50)
    assert path.stat().st_size > 2000
    pixels = matplotlib.image.imread(str(path))
    w, h = ax.figure.get_size_inches() * 50
    assert pixels.shape[:2] == (round(h), round(w))
    return pixels


def ink(pixels):
    """The fraction of pixels that are not white."""
    return float(np.mean(np.any(pixels[..., :3] < 0.95, axis=-1)))


def test_loss_curve_of_a_network(tmp_path, iris):
    X, Y, _, _ = iris
    net = fastmlp.train(X, Y, hidden=5, epochs=60, seed=1)
    ax = plot.loss_curve(net)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), net.history["loss"])
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.arange(1, 61))
    assert ink(render(ax, tmp_path / "loss.png")) > 0.02


def test_loss_curve_with_validation_and_log_scale(tmp_path):
    est = SimpleNamespace(loss_curve_=[1.0, 0.5, 0.3, 0.2], validation_scores_=[0.5, 0.7, 0.8, 0.85])
    ax = plot.loss_curve(est, log_scale=True)
    assert ax.get_yscale() == "log"
    (twin,) = [other for other in ax.figure.axes if other is not ax]
    np.testing.assert_array_equal(twin.lines[0].get_ydata(), est.validation_scores_)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation score"]
    render(ax, tmp_path / "validation.png")


def test_loss_curve_of_a_network_with_validation(tmp_path, iris):
    X, Y, _, _ = iris
    net = fastmlp.Network([4, 8, 3], activation="tanh", output="softmax", loss="cross_entropy", reduction="mean",
                          init="glorot", seed=2)
    net.fit(X, Y, epochs=40, learning_rate=0.1, validation_fraction=0.2)
    ax = plot.loss_curve(net)
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), net.history["val_loss"])
    (twin,) = [other for other in ax.figure.axes if other is not ax]
    np.testing.assert_array_equal(twin.lines[0].get_ydata(), net.history["val_accuracy"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation loss",
                                                                   "validation accuracy"]
    render(ax, tmp_path / "network_validation.png")


def test_confusion_matrix_with_string_labels(tmp_path):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    names = np.array(["cat", "dog", "emu"])
    y_true = names[rng.integers(0, 3, 90)]
    y_pred = np.where(rng.random(90) < 0.7, y_true, names[rng.integers(0, 3, 90)])
    order = ["emu", "cat", "dog"]
    ax = plot.confusion_matrix(y_true, y_pred, order)
    np.testing.assert_array_equal(ax.images[0].get_array(), metrics.confusion_matrix(y_true, y_pred, labels=order))
    assert [t.get_text() for t in ax.get_xticklabels()] == order
    assert len(ax.texts) == 9
    assert ink(render(ax, tmp_path / "cm.png")) > 0.05
    ax = plot.confusion_matrix(y_true, y_pred, normalize=True)
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="'emu' is not among labels"):
        plot.confusion_matrix(y_true, y_pred, ["cat", "dog"])


def test_confusion_matrix_of_network_outputs(iris):
    X, Y, X_te, Y_te = iris
    net = fastmlp.train(X, Y, hidden=5, epochs=300, seed=1)
    P = net.predict(X_te)
    ax = plot.confusion_matrix(Y_te, P, ["setosa", "versicolor", "virginica"])
    np.testing.assert_array_equal(ax.images[0].get_array(), fastmlp.confusion_matrix(Y_te, P))
    with pytest.raises(ValueError, match="labels names 2 classes"):
        plot.confusion_matrix(Y_te, P, ["a", "b"])


def test_decision_regions(tmp_path, iris):
    X, Y, _, _ = iris
    net = fastmlp.train(X, Y, hidden=5, epochs=2000, seed=1)
    ax = plot.decision_regions(net, X, Y, features=(2, 3), resolution=60)
    np.testing.assert_array_equal(ax.collections[-1].get_offsets(), X[:, [2, 3]])
    pixels = render(ax, tmp_path / "regions.png")
    assert ink(pixels) > 0.3
    colours = {tuple(p) for p in np.round(pixels[..., :3].reshape(-1, 3), 2)}
    assert len(colours) > 10  # regions of several classes, points, text


def test_decision_regions_of_an_estimator_with_string_labels():
    class Nearest:  # predicts the label of the nearer of two centres
        def predict(self, X):
            return np.where(X[:, 0] < 0, "left", "right")

    X = np.random.default_rng(1).normal(size=(40, 3))
    y = np.where(X[:, 0] < 0, "left", "right")
    ax = plot.decision_regions(Nearest(), X, y, features=(0, 2), resolution=20)
    assert ax.get_xlabel() == "feature 0" and ax.get_ylabel() == "feature 2"


def test_errors(iris):
    X, Y, _, _ = iris
    net = fastmlp.Network([4, 5, 3])
    with pytest.raises(ValueError, match="no loss history"):
        plot.loss_curve(net)
    with pytest.raises(TypeError, match="loss_curve_"):
        plot.loss_curve(object())
    with pytest.raises(ValueError, match="two different columns"):
        plot.decision_regions(net, X, Y, features=(1, 1))
    with pytest.raises(ValueError, match="two different columns"):
        plot.decision_regions(net, X, Y, features=(0, 4))
    with pytest.raises(TypeError, match="predict"):
        plot.decision_regions(object(), X, Y)
    with pytest.raises(ValueError, match="same number of rows"):
        plot.confusion_matrix([0, 1], [0])
