"""The article's network and update rule, against the NumPy reference in reference.py.

The article's run (lr 0.2 on a gradient summed over 120 rows) is chaotic: two
correct implementations that only sum in a different order drift apart over
hundreds of epochs. So trajectories are compared step by step: each epoch starts
from the reference's parameters, and only one epoch's difference is bounded.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastmlp
import reference

BOUND = 1e-12


def _set_params(net, weights, biases):
    for dst, src in zip((*net.weights, *net.biases), (*weights, *biases)):
        dst[...] = src


def _max_diffs(net, weights, biases):
    """Labelled max absolute differences, per parameter group."""
    names = [f"W{i}" for i in range(len(weights))] + [f"b{i}" for i in range(len(biases))]
    got = (*net.weights, *net.biases)
    return {n: float(np.abs(g - w).max()) for n, g, w in zip(names, got, (*weights, *biases))}


def test_initialisation_is_the_documented_rng():
    for seed in (0, 1, 2**64 - 1):
        net = fastmlp.Network([4, 5, 3], seed=seed)
        weights, biases = reference.uniform_init([4, 5, 3], seed)
        assert _max_diffs(net, weights, biases) == dict.fromkeys(["W0", "W1", "b0", "b1"], 0.0)
    net32 = fastmlp.Network([4, 5, 3], seed=7, dtype="float32")
    w32, b32 = reference.uniform_init([4, 5, 3], 7, np.float32)
    assert all(np.array_equal(g, w) for g, w in zip((*net32.weights, *net32.biases), (*w32, *b32)))


def test_one_step_by_hand():
    """A 2-1-1 network whose single epoch is worked out on paper."""
    net = fastmlp.Network([2, 1, 1])
    net.weights[0][...] = [[0.5], [-0.5]]
    net.biases[0][...] = [0.0]
    net.weights[1][...] = [[1.0]]
    net.biases[1][...] = [0.0]
    X, Y = np.array([[1.0, 1.0]]), np.array([[1.0]])
    # forward: z1 = 0, a1 = 1/2; z2 = 1/2, a2 = s = sigmoid(1/2)
    s = 1 / (1 + np.exp(-0.5))
    # output delta d2 = (y - a2) a2 (1 - a2); hidden delta d1 = d2 * w2 * a1 (1 - a1)
    d2 = (1 - s) * s * (1 - s)
    d1 = d2 * 1.0 * 0.25
    lr = 0.2
    net.fit(X, Y, epochs=1, learning_rate=lr)
    np.testing.assert_allclose(net.weights[1], [[1.0 + lr * 0.5 * d2]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.biases[1], [lr * d2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.weights[0], [[0.5 + lr * d1], [-0.5 + lr * d1]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(net.biases[0], [lr * d1], rtol=0, atol=1e-15)
    assert net.history["loss"][0] == pytest.approx(0.5 * (1 - s) ** 2, rel=1e-15)


def test_one_epoch_matches_reference(iris):
    X, Y, _, _ = iris
    net = fastmlp.Network([4, 5, 3], seed=1)
    weights, biases = reference.uniform_init([4, 5, 3], 1)
    net.fit(X, Y, epochs=1, learning_rate=0.2)
    weights, biases = reference.epoch(weights, biases, X, Y, 0.2)
    diffs = _max_diffs(net, weights, biases)
    assert max(diffs.values()) <= BOUND, diffs
    # and the update really moved every parameter group
    assert all(np.any(p != q) for p, q in zip(net.weights, reference.uniform_init([4, 5, 3], 1)[0]))


@pytest.mark.parametrize("sizes", [[4, 5, 3], [4, 8, 6, 3]])
def test_trajectory_matches_reference_step_by_step(iris, sizes):
    X, Y, _, _ = iris
    net = fastmlp.Network(sizes, seed=2)
    weights, biases = reference.uniform_init(sizes, 2)
    worst = {}
    for step in range(100):
        _set_params(net, weights, biases)
        net.fit(X, Y, epochs=1, learning_rate=0.2)
        assert net.history["loss"][-1] == pytest.approx(reference.loss(weights, biases, X, Y), rel=1e-12)
        weights, biases = reference.epoch(weights, biases, X, Y, 0.2)
        diffs = _max_diffs(net, weights, biases)
        assert max(diffs.values()) <= BOUND, f"epoch {step}: {diffs}"
        worst = {k: max(v, worst.get(k, 0.0)) for k, v in diffs.items()}
    # the reference's own trajectory went somewhere: training reduced the loss
    assert reference.loss(weights, biases, X, Y) < 0.5 * reference.loss(*reference.uniform_init(sizes, 2), X, Y)


def test_article_accuracy(iris):
    X, Y, Xt, Yt = iris
    net = fastmlp.train(X, Y, hidden=5, epochs=8000, learning_rate=0.2, seed=1)
    assert fastmlp.accuracy(fastmlp.predict(net, Xt), Yt) >= 0.9
    assert net.history["loss"].shape == (8000,)
    assert net.history["loss"][-1] < net.history["loss"][0] / 10
