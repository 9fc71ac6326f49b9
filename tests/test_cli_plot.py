"""The command line's --history, --class-weight and --plot, against the Python
API's own training and plots."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import fastmlp
from fastmlp import _core
from fastmlp.__main__ import main

DATA = Path(__file__).parent.parent / "data"
PYTHON_DOOR = [shutil.which("fastmlp")] if shutil.which("fastmlp") else [sys.executable, "-m", "fastmlp"]
NATIVE = [os.environ["FASTMLP_PROGRAM"]] if os.environ.get("FASTMLP_PROGRAM") else None


def run_in_process(capfd, *args):
    """The console script's function, without the cost of a process per case."""
    status = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return SimpleNamespace(returncode=status, out=out, err=err)


def history_csv(path):
    """A --history file read by NumPy (not by fastmlp's own reader): {column: values}."""
    table = np.genfromtxt(path, delimiter=",", names=True, dtype=np.float64)
    return {name: table[name] for name in table.dtype.names}


def same_parameters(a, b):
    return all(p.tobytes() == q.tobytes() for p, q in zip((*a.weights, *a.biases), (*b.weights, *b.biases)))


# --- --history and --class-weight ------------------------------------------------------------


def test_history_is_the_python_history_of_the_same_training(tmp_path, iris):
    X, Y, _, _ = iris
    history = tmp_path / "history.csv"
    res = subprocess.run([*PYTHON_DOOR, "train", "--epochs", "40", "--seed", "2", "--optimizer", "adam", "--lr",
                          "0.05", "--schedule", "cosine", "--validation-fraction", "0.25", "--history", str(history)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    net = fastmlp.train(X, Y, epochs=40, seed=2, optimizer="adam", learning_rate=0.05, schedule="cosine",
                        validation_fraction=0.25)
    written = history_csv(history)
    assert list(written) == ["epoch", "loss", "learning_rate", "val_loss", "val_accuracy"]
    np.testing.assert_array_equal(written.pop("epoch"), np.arange(1, 41))
    assert set(written) == set(net.history)
    for key, values in net.history.items():  # every digit: the values read back exactly
        np.testing.assert_array_equal(written[key], values, err_msg=key)


def test_history_without_validation_and_with_early_stopping(capfd, tmp_path, iris):
    X, Y, _, _ = iris
    history = tmp_path / "h.csv"
    res = run_in_process(capfd, "train", "--epochs", "500", "--early-stopping", "3", "--tol", "10", "--history",
                         history)
    assert res.returncode == 0, res.err
    net = fastmlp.train(X, Y, epochs=500, early_stopping=3, tol=10.0)
    written = history_csv(history)
    assert list(written) == ["epoch", "loss", "learning_rate"]
    assert 3 < written["epoch"].size == net.history["loss"].size < 500
    np.testing.assert_array_equal(written["loss"], net.history["loss"])


def test_history_is_written_atomically_and_never_over_an_input(capfd, tmp_path):
    data = tmp_path / "train.csv"
    shutil.copy(DATA / "train.csv", data)
    before = data.read_bytes()
    res = run_in_process(capfd, "train", "--train", data, "--epochs", "1", "--history", tmp_path / "." / "train.csv")
    assert res.returncode == 2 and "refusing to overwrite it" in res.err and res.err.count("\n") == 1
    assert data.read_bytes() == before
    res = run_in_process(capfd, "train", "--epochs", "1", "-o", tmp_path / "m.st", "--history", tmp_path / "m.st")
    assert res.returncode == 2 and "--history: " in res.err and "is also -o's model file" in res.err
    res = run_in_process(capfd, "train", "--epochs", "1", "--history", tmp_path / "no" / "h.csv")
    assert res.returncode == 1 and "h.csv: cannot save there" in res.err
    # a second run replaces the file, leaving no temporary beside it
    for epochs in ("3", "2"):
        assert run_in_process(capfd, "train", "--epochs", epochs, "--history", tmp_path / "h.csv").returncode == 0
    assert history_csv(tmp_path / "h.csv")["epoch"].size == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.csv", "train.csv"]


def test_class_weights_are_scikit_learns_balanced_sample_weights(iris):
    from sklearn.utils.class_weight import compute_sample_weight

    _, Y, _, _ = iris
    labels = Y.argmax(axis=1)
    expected = compute_sample_weight("balanced", labels)
    assert len(set(expected)) == 3  # the bundled split is unbalanced (36, 41, 43)
    np.testing.assert_array_equal(_core.class_weights(Y, []), expected)
    np.testing.assert_array_equal(_core.class_weights(Y.astype(np.float32), []), expected.astype(np.float32))
    # a class absent from the rows: the others share n / (present classes * count)
    few = Y[labels != 1]
    np.testing.assert_array_equal(_core.class_weights(few, []), compute_sample_weight("balanced", few.argmax(axis=1)))
    np.testing.assert_array_equal(_core.class_weights(Y, [0.5, 2.0, 1.0]), np.array([0.5, 2.0, 1.0])[labels])
    with pytest.raises(ValueError, match="2 weights for 3 classes"):
        _core.class_weights(Y, [1.0, 2.0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_class_weight_balanced_trains_what_python_trains(capfd, tmp_path, iris, dtype):
    X, Y, X_test, Y_test = iris
    out = tmp_path / "balanced.safetensors"
    res = run_in_process(capfd, "train", "--class-weight", "balanced", "--validation-fraction", "0.2", "--epochs",
                         "60", "--seed", "4", "--dtype", dtype, "-o", out)
    assert res.returncode == 0, res.err
    expected = fastmlp.train(X, Y, epochs=60, seed=4, dtype=dtype, validation_fraction=0.2, class_weight="balanced")
    loaded = fastmlp.load(out)
    assert same_parameters(loaded, expected)
    assert res.out == f"Accuracy: {100 * fastmlp.accuracy(expected.predict(X_test), Y_test):.2f}%\n"
    # the weights change the training
    assert not same_parameters(loaded, fastmlp.train(X, Y, epochs=60, seed=4, dtype=dtype, validation_fraction=0.2))
    bad = run_in_process(capfd, "train", "--class-weight", "{0: 2}")
    assert bad.returncode == 2 and "--class-weight: class_weight must be 'balanced'; got '{0: 2}'" in bad.err


# --- --plot -------------------------------------------------------------------------------------


def test_plot_without_matplotlib_is_a_usage_error_before_any_work(capfd, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if the plot extra were not installed
    res = run_in_process(capfd, "train", "--plot", tmp_path / "a.png")
    assert res.returncode == 2 and res.out == ""
    assert res.err == 'fastmlp train: --plot: drawing needs matplotlib: pip install "fastmlp[plot]"\n'


matplotlib = pytest.importorskip("matplotlib", reason="the plot extra is not installed")
import matplotlib.image  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fastmlp import plot  # noqa: E402


def pixels(path):
    """The image at path as (h, w, channels) floats; it must be 640 x 480 with ink on it."""
    image = matplotlib.image.imread(str(path))
    assert image.shape[:2] == (480, 640)
    assert np.mean(np.any(image[..., :3] < 0.95, axis=-1)) > 0.02  # not blank
    return image


def drawn_by_python(draw, path):
    """The pixels of the same plot drawn through the Python API on the figure the command line uses."""
    figure = Figure(figsize=(6.4, 4.8), layout="constrained")
    draw(figure.subplots())
    figure.savefig(path, dpi=100)
    return pixels(path)


def test_train_plot_draws_the_loss_curve_of_the_training(capfd, tmp_path, iris):
    X, Y, _, _ = iris
    res = run_in_process(capfd, "train", "--epochs", "80", "--validation-fraction", "0.2", "--quiet", "--plot",
                         tmp_path / "loss.png")
    assert res.returncode == 0 and res.err == "", res.err
    assert res.out.startswith("Accuracy: ")
    net = fastmlp.train(X, Y, epochs=80, validation_fraction=0.2)
    expected = drawn_by_python(lambda ax: plot.loss_curve(net, ax=ax), tmp_path / "python.png")
    np.testing.assert_array_equal(pixels(tmp_path / "loss.png"), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png", "python.png"]  # no history left behind


def test_train_plot_with_the_users_history_and_another_format(capfd, tmp_path):
    res = run_in_process(capfd, "train", "--epochs", "5", "--history", tmp_path / "h.csv", "--plot=" +
                         str(tmp_path / "loss.svg"))
    assert res.returncode == 0, res.err
    assert history_csv(tmp_path / "h.csv")["epoch"].size == 5
    assert (tmp_path / "loss.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize("labels", ["one-hot", "index"])
def test_eval_plot_draws_the_confusion_matrix(capfd, tmp_path, iris, labels):
    X, Y, X_test, Y_test = iris
    net = fastmlp.train(X, Y, hidden=4, epochs=100, seed=3)
    model = tmp_path / "m.st"
    net.save(model)
    data, options, names = DATA / "test.csv", [], ["setosa", "virginica", "versicolor"]
    if labels == "index":  # a single column of class indices, no header: classes named by number
        data, options, names = tmp_path / "index.csv", ["--labels", "1"], ["0", "1", "2"]
        np.savetxt(data, np.hstack([X_test, Y_test.argmax(axis=1)[:, None]]), delimiter=",", fmt="%.17g")
    res = run_in_process(capfd, "eval", model, data, *options, "--plot", tmp_path / "cm.png")
    assert res.returncode == 0, res.err
    assert res.out.splitlines()[0] == f"Accuracy: {100 * fastmlp.accuracy(net.predict(X_test), Y_test):.2f}%"

    def draw(ax):
        plot.confusion_matrix(Y_test, net.predict(X_test), names, ax=ax)

    np.testing.assert_array_equal(pixels(tmp_path / "cm.png"), drawn_by_python(draw, tmp_path / "python.png"))


@pytest.mark.parametrize("args,status,message", [
    (("train", "--plot", "{tmp}/loss.txt"), 2, "train: --plot: '{tmp}/loss.txt': expected a file name ending in"),
    (("train", "--plot", "{tmp}/a.png", "--plot={tmp}/b.png"), 2, "train: --plot: given twice"),
    (("train", "--plot="), 2, "train: --plot: expected a file name"),
    (("eval", "{model}", "{csv}", "--plot"), 2, "eval: --plot: missing value"),
    (("train", "--plot", "{tmp}/no/dir/a.png"), 1, "a.png: cannot save there"),
    (("train", "--epochs", "0", "--plot", "{tmp}/a.png"), 1, "--plot: no epochs to draw"),
    (("train", "--epochs", "1", "-o", "{tmp}/m.png", "--plot", "{tmp}/m.png"), 2, "refusing to overwrite it"),
    (("eval", "{model}", "{tmp}/data.png", "--plot", "{tmp}/data.png"), 2, "refusing to overwrite it"),
    (("eval", "{model}", "{tmp}/missing.csv", "--plot", "{tmp}/a.png"), 1, "missing.csv: cannot open for reading"),
])
def test_plot_errors(capfd, tmp_path, args, status, message):
    model = tmp_path / "m.st"
    fastmlp.Network([4, 3, 3]).save(model)
    (tmp_path / "data.png").write_bytes(b"not an image")
    fill = dict(tmp=tmp_path, model=model, csv=DATA / "test.csv")
    res = run_in_process(capfd, *(a.format(**fill) for a in args))
    assert res.returncode == status, res.err
    assert message.format(**fill) in res.err and res.err.count("\n") == 1, res.err
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "m.png").exists()
    assert (tmp_path / "data.png").read_bytes() == b"not an image"


def test_help_mentions_plot_and_does_not_draw(capfd, tmp_path):
    for command in ("train", "eval"):
        res = run_in_process(capfd, command, "--help", "--plot", tmp_path / "a.png")
        assert res.returncode == 0 and "--plot FILE" in res.out
    assert not (tmp_path / "a.png").exists()


@pytest.mark.parametrize("where", ["C++ function", *(["native program"] if NATIVE else [])])
@pytest.mark.parametrize("command", ["train", "eval"])
def test_the_native_program_refuses_plot(capfd, tmp_path, where, command):
    args = [command, "--plot", str(tmp_path / "a.png")] + (["m.st", "d.csv"] if command == "eval" else [])
    if where == "native program":
        res = subprocess.run([*NATIVE, *args], capture_output=True, text=True, timeout=60)
        status, err = res.returncode, res.stderr
    else:  # the function the native program runs, without the console script's front door
        status = _core.cli_main(args, str(DATA))  # no plotter: as the native program
        err = capfd.readouterr().err
    assert status == 2
    assert err == (f"fastmlp {command}: --plot: drawing needs the Python package's fastmlp command "
                   "(pip install \"fastmlp[plot]\"); this program has no plotting\n")
    assert not (tmp_path / "a.png").exists()
