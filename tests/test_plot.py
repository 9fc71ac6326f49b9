"""fastmlp.plot: each plot rendered to a PNG with the Agg backend and read back;
the data drawn checked against the model and against scikit-learn's metrics."""

from __future__ import annotations

from pathlib import Path
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
    ax = plot.confusion_matrix(Y_te, P, fastmlp.datasets.IRIS_CLASSES)
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


# --- classes named without ambiguity, legends that cover nothing, stable colours ------------


def test_confusion_matrix_names_one_hot_columns_in_column_order(iris):
    # IRIS_CLASSES names the one-hot columns; the matrix counted from the names
    # themselves (by value, scikit-learn) is the same, row for row
    metrics = pytest.importorskip("sklearn.metrics")
    X, Y, X_te, Y_te = iris
    net = fastmlp.train(X, Y, hidden=5, epochs=300, seed=1)
    P = net.predict(X_te)
    names = np.array(fastmlp.datasets.IRIS_CLASSES)
    ax = plot.confusion_matrix(Y_te, P, labels=fastmlp.datasets.IRIS_CLASSES)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(fastmlp.datasets.IRIS_CLASSES)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(fastmlp.datasets.IRIS_CLASSES)
    by_value = metrics.confusion_matrix(names[Y_te.argmax(1)], names[P.argmax(1)], labels=list(names))
    np.testing.assert_array_equal(ax.images[0].get_array(), by_value)
    # without names, one-hot rows are named by column, 1-D labels by value
    ax = plot.confusion_matrix(Y_te, P)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["column 0", "column 1", "column 2"]
    ax = plot.confusion_matrix(np.array([3, 1, 1]), np.array([1, 1, 3]))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3"]


def test_iris_classes_name_the_bundled_columns():
    # the data files' header (Python's csv module) and the species of each row in
    # data/iris.csv, scaled as make_splits.py scales them
    import csv

    root = Path(__file__).resolve().parents[1] / "data"
    with open(root / "train.csv", newline="") as f:
        assert tuple(next(csv.reader(f))[4:]) == fastmlp.datasets.IRIS_CLASSES
    with open(root / "iris.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    raw = np.array([[float(r[c]) for c in ("sepal_length", "sepal_width", "petal_length", "petal_width")]
                    for r in rows])
    scaled = (raw - raw.min(axis=0)) / (raw.max(axis=0) - raw.min(axis=0))
    X, Y, X_te, Y_te = fastmlp.datasets.load_iris()
    for features, onehot in ((X, Y), (X_te, Y_te)):
        for x, y in zip(features, onehot):
            species = {rows[i]["species"] for i in np.flatnonzero(np.abs(scaled - x).max(axis=1) < 1e-12)}
            assert species == {fastmlp.datasets.IRIS_CLASSES[int(y.argmax())]}


def test_the_loss_curves_legend_covers_no_line(iris):
    X, Y, _, _ = iris
    net = fastmlp.Network([4, 8, 3], activation="tanh", output="softmax", loss="cross_entropy", reduction="mean",
                          init="glorot", seed=2)
    net.fit(X, Y, epochs=60, learning_rate=0.1, validation_fraction=0.2)
    ax = plot.loss_curve(net)
    fig = ax.figure
    fig.canvas.draw()
    box = ax.get_legend().get_window_extent()
    assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)  # drawn, not cut off
    lines = [line for a in fig.axes for line in a.lines]
    assert len(lines) == 3  # training loss, validation loss, validation accuracy
    for line in lines:
        points = line.get_transform().transform(line.get_xydata())
        inside = ((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1) & (points[:, 1] >= box.y0)
                  & (points[:, 1] <= box.y1))
        assert not inside.any(), f"the legend covers {line.get_label()}"


def test_decision_regions_names_axes_after_a_dataframes_columns(iris):
    pd = pytest.importorskip("pandas")
    X, Y, _, _ = iris
    net = fastmlp.train(X, Y, hidden=5, epochs=300, seed=1)
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    ax = plot.decision_regions(net, frame, Y, features=("pl", "pw"), resolution=20,
                               class_names=fastmlp.datasets.IRIS_CLASSES)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("pl", "pw")
    np.testing.assert_array_equal(ax.collections[-1].get_offsets(), X[:, [2, 3]])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(fastmlp.datasets.IRIS_CLASSES)
    by_index = plot.decision_regions(net, frame, Y, features=(2, 3), resolution=20)
    assert (by_index.get_xlabel(), by_index.get_ylabel()) == ("pl", "pw")
    with pytest.raises(ValueError, match="'petal' is not a column name"):
        plot.decision_regions(net, frame, Y, features=("petal", "pw"))
    with pytest.raises(ValueError, match="class_names names 2 classes"):
        plot.decision_regions(net, X, Y, class_names=["a", "b"])


def point_colours(ax, labels):
    """The face colour of each class's samples: one colour per class, or an error."""
    faces = ax.collections[-1].get_facecolors()
    colours = {}
    for label, face in zip(labels, faces):
        colours.setdefault(label, tuple(face))
        assert colours[label] == tuple(face), f"class {label} drawn in two colours"
    return colours


def test_decision_regions_colour_a_class_the_same_on_every_plot():
    class Thresholds:  # an estimator with classes_: predicts by the first feature
        classes_ = np.array(["low", "mid", "high"])

        def predict(self, X):
            return self.classes_[np.digitize(X[:, 0], [-0.5, 0.5])]

    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 2))
    model = Thresholds()
    y = model.predict(X)
    everything = point_colours(plot.decision_regions(model, X, y, resolution=20), y)
    assert len(set(everything.values())) == 3  # three classes, three colours
    # a plot that shows only the samples of "mid" and "high" colours them as before
    some = X[:, 0] > -0.5
    again = point_colours(plot.decision_regions(model, X[some], y[some], resolution=20), y[some])
    assert again == {k: everything[k] for k in ("mid", "high")}
    # and the legend lists every class in the same colours
    ax = plot.decision_regions(model, X[some], y[some], resolution=20)
    legend = {t.get_text(): tuple(h.get_markerfacecolor()) for t, h in
              zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles)}
    assert legend == everything
    with pytest.raises(ValueError, match="'other' is not one of the model's classes"):
        plot.decision_regions(model, X[:3], np.array(["low", "mid", "other"]))


def test_dir_of_the_plot_module_is_its_api():
    assert dir(plot) == sorted(plot.__all__)
    assert all(callable(getattr(plot, name)) for name in dir(plot))
