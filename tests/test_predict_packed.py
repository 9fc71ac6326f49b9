"""Predict keeps a network's packed weights between calls: they must never
outlive the weights they were packed from, however those change (through
NumPy views, fit, a fit's callback, threads). Each prediction is checked
against a plain NumPy forward pass of the weights as they are then."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import fastmlp

# Wide enough, and enough rows, that predict packs every hidden layer's weights.
SIZES = [100, 96, 64, 10]
ROWS = 300


def reference(net: fastmlp.Network, X: np.ndarray) -> np.ndarray:
    """relu hidden layers and an identity output, in NumPy."""
    A = X
    for i, (W, b) in enumerate(zip(net.weights, net.biases)):
        Z = A @ W + b
        A = np.maximum(Z, 0) if i + 1 < net.n_layers else Z
    return A


def check(net: fastmlp.Network, X: np.ndarray, threads: int = 1) -> None:
    np.testing.assert_allclose(net.predict(X, threads=threads), reference(net, X), rtol=1e-10, atol=1e-12)


@pytest.fixture
def net_and_x():
    net = fastmlp.Network(SIZES, activation="relu", output="identity", init="he", seed=4)
    X = np.random.default_rng(0).standard_normal((ROWS, SIZES[0]))
    return net, X


@pytest.mark.parametrize("threads", [1, 2])
def test_a_write_through_a_view_is_seen(net_and_x, threads):
    net, X = net_and_x
    check(net, X, threads)
    net.weights[0][...] *= -0.5  # the view dies at once
    net.biases[1][...] = 0.25
    check(net, X, threads)


def test_writes_through_a_view_kept_alive_are_seen(net_and_x):
    net, X = net_and_x
    W = net.weights[1]
    check(net, X)
    W[:5] = 3.0
    check(net, X)
    W[:, :7] = -1.0
    check(net, X)
    del W
    check(net, X)


def test_a_view_of_a_view_keeps_watching(net_and_x):
    net, X = net_and_x
    part = net.weights[0][:10]  # the view it came from is gone
    check(net, X)
    part[...] = 0.0
    check(net, X)
    alias = memoryview(part)
    del part
    check(net, X)
    np.asarray(alias)[...] = 1.0
    check(net, X)


def test_fit_and_its_callback_are_seen(net_and_x):
    net, X = net_and_x
    Y = np.random.default_rng(1).standard_normal((ROWS, SIZES[-1]))
    check(net, X)
    seen = []

    def callback(epoch, logs):
        seen.append((net.predict(X), reference(net, X)))

    net.fit(X, Y, epochs=3, learning_rate=1e-3, callback=callback)
    assert len(seen) == 3
    for got, want in seen:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert not np.allclose(seen[0][1], seen[-1][1])  # the weights moved between callbacks
    check(net, X)
    net.fit(X, Y, epochs=1, learning_rate=1e-3)
    check(net, X)


def test_predictions_from_threads_side_by_side(net_and_x):
    net, X = net_and_x
    want = reference(net, X)
    results: list[np.ndarray] = []

    def work():
        for _ in range(20):
            results.append(net.predict(X, threads=2))

    workers = [threading.Thread(target=work) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(results) == 60
    for got in results:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_a_loaded_copy_predicts_as_the_original(net_and_x, tmp_path):
    net, X = net_and_x
    first = net.predict(X)
    net.save(tmp_path / "net.safetensors")
    loaded = fastmlp.load(tmp_path / "net.safetensors")
    np.testing.assert_array_equal(loaded.predict(X), first)
    net.weights[2][...] = 0.0
    np.testing.assert_array_equal(loaded.predict(X), first)  # its own weights, its own packing
    check(net, X)


@pytest.mark.parametrize("threads", [0, -1, True, 2.0, "2", 2**70])
def test_predict_refuses_threads_as_fit_does(net_and_x, threads):
    net, X = net_and_x
    with pytest.raises((TypeError, ValueError)) as by_fit:
        net.fit(X, np.zeros((ROWS, SIZES[-1])), epochs=1, threads=threads)
    with pytest.raises(type(by_fit.value)) as by_predict:
        net.predict(X[:1], threads=threads)
    assert str(by_predict.value) == str(by_fit.value)


@pytest.mark.parametrize("threads", [1, 2, np.int64(2), 1024])
def test_predict_takes_any_count_in_range(net_and_x, threads):
    net, X = net_and_x
    check(net, X, threads)
