"""What people notice first: repr and summary of a network, the progress bar's
last line after early stopping, and dir() showing the public API only."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

import fastmlp
from fastmlp import network


def parameters_by_hand(net):
    """Each layer's weights and biases, counted from the arrays themselves."""
    return [w.size + b.size for w, b in zip(net.weights, net.biases)]


def test_repr_names_the_configuration_and_the_parameter_count():
    net = fastmlp.Network([4, 5, 3], seed=2)
    assert repr(net) == (
        "Network([4, 5, 3]: 43 parameters, activation='sigmoid', output='sigmoid', loss='mse', reduction='sum', "
        "init='uniform', seed=2, dtype='float64')"
    )
    big = fastmlp.Network([784, 256, 128, 10], activation="relu", output="softmax", dtype="float32")
    assert f"Network([784, 256, 128, 10]: {sum(parameters_by_hand(big)):,} parameters," in repr(big)


def test_summary_is_a_table_of_layers_shapes_activations_and_parameters():
    net = fastmlp.Network([6, 300, 7, 2], activation=("leaky_relu", "tanh"), output="softmax")
    out = io.StringIO()
    net.summary(file=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["layer", "shape", "activation", "parameters"]
    by_hand = parameters_by_hand(net)
    for i, (line, (a, b), act, n) in enumerate(zip(lines[1:], zip(net.sizes, net.sizes[1:]),
                                                   ("leaky_relu", "tanh", "softmax"), by_hand)):
        assert line.split() == [str(i + 1), str(a), "->", str(b), act, f"{n:,}"]
    assert lines[-1].split() == ["total", f"{sum(by_hand):,}"]
    assert len(lines) == 5
    # the numbers' column lines up on the right
    assert len({len(line) for line in lines}) == 1


def test_summary_prints_to_standard_output(capsys):
    fastmlp.Network([4, 5, 3]).summary()
    assert capsys.readouterr().out.splitlines()[-1].split() == ["total", "43"]


@pytest.fixture()
def early_stopped():
    """A fit that early stopping ends, on a validation set given by hand."""
    rng = np.random.default_rng(0)
    X = rng.random((80, 3))
    Y = np.eye(2)[(X.sum(axis=1) > 1.5).astype(int)]
    X_val, Y_val = X[:20] + 0.3 * rng.standard_normal((20, 3)), Y[:20]
    net = fastmlp.Network([3, 16, 2], activation="relu", output="softmax", loss="cross_entropy", reduction="mean",
                          init="he", seed=1)
    kwargs = dict(epochs=5000, optimizer="adam", learning_rate=0.05, validation=(X_val, Y_val), early_stopping=5,
                  progress=True)
    return net, X, Y, X_val, Y_val, kwargs


def check_stop_line(text, net, X_val, Y_val):
    m = re.search(r"stopped at epoch (\d+); best epoch (\d+) \(val_loss (\S+)\)", text)
    assert m, text
    epochs, best, figure = int(m.group(1)), int(m.group(2)), m.group(3)
    assert epochs == net.history["loss"].size < 5000
    assert best == net.best_epoch < epochs
    # the figure is the validation loss of the parameters the network now holds
    assert figure == f"{net.loss(X_val, Y_val):.4g}"


def test_the_plain_progress_line_ends_with_where_early_stopping_stopped(early_stopped, capfd, monkeypatch):
    net, X, Y, X_val, Y_val, kwargs = early_stopped
    monkeypatch.setattr(network, "_tqdm", lambda total: None)  # tqdm not installed
    net.fit(X, Y, **kwargs)
    err = capfd.readouterr().err
    assert err.endswith("\n")
    last = err.rstrip("\n").split("\r")[-1]
    assert last.startswith(f"epoch {net.history['loss'].size}/5000  stopped at epoch")
    check_stop_line(last, net, X_val, Y_val)


def test_the_tqdm_bar_ends_with_where_early_stopping_stopped(early_stopped, capfd):
    pytest.importorskip("tqdm")
    net, X, Y, X_val, Y_val, kwargs = early_stopped
    net.fit(X, Y, **kwargs)
    err = capfd.readouterr().err
    check_stop_line(err.rstrip().split("\r")[-1], net, X_val, Y_val)


def test_a_fit_that_runs_its_epochs_says_nothing_of_stopping(capfd, monkeypatch):
    monkeypatch.setattr(network, "_tqdm", lambda total: None)
    X, Y, _, _ = fastmlp.datasets.load_iris()
    fastmlp.Network([4, 5, 3]).fit(X, Y, epochs=30, early_stopping=1000, progress=True)
    err = capfd.readouterr().err
    assert "stopped" not in err and err.rstrip("\n").split("\r")[-1].startswith("epoch 30/30")


def test_dir_shows_the_public_api_only():
    assert dir(fastmlp) == sorted(fastmlp.__all__)
    assert "np" not in dir(fastmlp) and "network" not in dir(fastmlp) and "version" not in dir(fastmlp)
    for module in (fastmlp.plot, fastmlp.datasets, fastmlp.metrics):
        assert dir(module) == sorted(module.__all__)
    # and everything listed is there
    for module in (fastmlp, fastmlp.plot, fastmlp.datasets, fastmlp.metrics):
        for name in dir(module):
            getattr(module, name)
