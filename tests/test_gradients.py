"""Backpropagation against central finite differences of the loss."""

from __future__ import annotations

import numpy as np
import pytest

import fastmlp


def _numeric_gradient(net, X, Y, h=1e-5):
    """Central differences of net.loss over every weight and bias."""
    grads = []
    for param in (*net.weights, *net.biases):
        g = np.zeros_like(param)
        flat, gflat = param.reshape(-1), g.reshape(-1)  # views: writes reach the network
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            up = net.loss(X, Y)
            flat[i] = old - h
            down = net.loss(X, Y)
            flat[i] = old
            gflat[i] = (up - down) / (2 * h)
        grads.append(g)
    n = net.n_layers
    return grads[:n], grads[n:]


@pytest.mark.parametrize("sizes", [[4, 5, 3], [3, 1], [6, 8, 7, 2], [2, 3, 3, 3, 2]])
def test_gradient_matches_finite_differences(sizes):
    rng = np.random.default_rng(sum(sizes))
    X = rng.standard_normal((17, sizes[0]))
    Y = rng.random((17, sizes[-1]))
    net = fastmlp.Network(sizes, seed=3)
    # spread the weights around zero so no sigmoid saturates (saturation would
    # make the gradient tiny and the check weak)
    for W in net.weights:
        W[...] = rng.standard_normal(W.shape) / np.sqrt(W.shape[0])
    for b in net.biases:
        b[...] = 0.1 * rng.standard_normal(b.shape)
    dW, db = net.gradient(X, Y)
    num_dW, num_db = _numeric_gradient(net, X, Y)
    for layer, (got, want) in enumerate(zip(dW + db, num_dW + num_db)):
        assert np.abs(want).max() > 1e-3, f"parameter group {layer}: gradient trivially small"
        err = np.abs(got - want).max() / np.abs(want).max()
        assert err < 1e-6, f"parameter group {layer}: max relative difference {err:.3g}"


def test_gradient_is_zero_at_a_perfect_fit():
    net = fastmlp.Network([2, 3, 2], seed=5)
    X = np.random.default_rng(0).random((9, 2))
    Y = net.predict(X)
    dW, db = net.gradient(X, Y)
    assert net.loss(X, Y) == 0.0
    assert all(not g.any() for g in dW + db)
