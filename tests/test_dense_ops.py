"""The dense operations backprop needs, against NumPy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fastmlp import _core

SIZES = [0, 1, 2, 3, 7, 13, 31, 64, 97, 130]
# Relative tolerance per dtype: a k-term dot product in a different summation
# order differs by about k * eps * sum|a b|; these bounds hold for k <= 300.
TOL = {np.float64: 1e-12, np.float32: 2e-5}


def _shapes():
    rng = np.random.default_rng(0)
    # every size 0..1 and a random draw of the rest, to keep the run short
    picks = [(m, n, k) for m, n, k in itertools.product(SIZES, repeat=3) if min(m, n, k) <= 1 or rng.random() < 0.12]
    return picks + [(257, 129, 300), (1, 300, 257)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)))
def test_gemm_matches_numpy(dtype, trans_a, trans_b):
    rng = np.random.default_rng(1)
    for m, n, k in _shapes():
        A = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
        B = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
        opA = A.T if trans_a else A
        opB = B.T if trans_b else B
        exact = opA.astype(np.float64) @ opB.astype(np.float64)
        scale = np.abs(opA).astype(np.float64) @ np.abs(opB).astype(np.float64) + 1.0
        for alpha, beta in [(1.0, 0.0), (1.0, 1.0), (-0.5, 2.0)]:
            C0 = rng.standard_normal((m, n)).astype(dtype)
            C = C0.copy() if beta else np.full((m, n), np.nan, dtype=dtype)  # beta 0: C unread
            _core.gemm(trans_a, trans_b, alpha, A, B, beta, C)
            want = alpha * exact + (beta * C0.astype(np.float64) if beta else 0.0)
            err = np.max(np.abs(C - want) / (abs(alpha) * scale + abs(beta) * np.abs(C0)), initial=0.0)
            assert err <= TOL[dtype], f"m={m} n={n} k={k} alpha={alpha} beta={beta}: max rel diff {err:.3g}"


def test_gemm_rejects_mismatched_shapes():
    A, B, C = np.ones((2, 3)), np.ones((4, 5)), np.ones((2, 5))
    with pytest.raises(ValueError, match="shapes"):
        _core.gemm(False, False, 1.0, A, B, 0.0, C)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,n_in,n_out", [(1, 1, 1), (7, 4, 5), (120, 5, 3), (31, 13, 97), (0, 3, 2)])
def test_dense_forward_matches_numpy(dtype, n, n_in, n_out):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((n, n_in)).astype(dtype)
    W = rng.standard_normal((n_in, n_out)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    want = 1.0 / (1.0 + np.exp(-(X.astype(np.float64) @ W + b)))
    np.testing.assert_allclose(_core.dense_forward(X, W, b, "sigmoid"), want, rtol=TOL[dtype] * 10, atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,n_in,n_out", [(1, 1, 1), (7, 4, 5), (120, 5, 3), (31, 13, 97)])
def test_dense_backward_matches_numpy(dtype, n, n_in, n_out):
    rng = np.random.default_rng(3)
    dZ = rng.standard_normal((n, n_out)).astype(dtype)
    X = rng.standard_normal((n, n_in)).astype(dtype)
    W = rng.standard_normal((n_in, n_out)).astype(dtype)
    dX, dW, db = _core.dense_backward(dZ, X, W)
    d64, x64, w64 = (a.astype(np.float64) for a in (dZ, X, W))
    tol = dict(rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)
    np.testing.assert_allclose(dX, d64 @ w64.T, **tol)
    np.testing.assert_allclose(dW, x64.T @ d64, **tol)
    np.testing.assert_allclose(db, d64.sum(axis=0), **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_out", list(range(1, 11)) + [33])
@pytest.mark.parametrize("n", [0, 1, 120])
def test_dense_backward_bias_sums_the_rows_in_order(dtype, n, n_out):
    """db bit for bit: the rows of dZ added one at a time in row order, as
    training's results promise, whatever the layer's width."""
    rng = np.random.default_rng(4)
    dZ = (rng.standard_normal((n, n_out)) * 10.0 ** rng.integers(-8, 8, (n, n_out))).astype(dtype)
    want = np.zeros(n_out, dtype=dtype)
    for row in dZ:
        want = want + row  # one rounding per addition, in the dtype
    _, _, db = _core.dense_backward(dZ, np.zeros((n, 1), dtype=dtype), np.zeros((1, n_out), dtype=dtype))
    assert np.array_equal(db, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "identity", "softmax"])
def test_activations_match_numpy_over_a_wide_range(dtype, activation):
    """The core's own exp (not libm's) behind sigmoid, tanh and softmax: within
    a few ulps of NumPy's, finite and in range even at +-1000."""
    z = np.concatenate([np.linspace(-40, 40, 4001), [-1000.0, -750.0, -100.0, -1e-300, 0.0, 1e-300, 100.0, 750.0, 1000.0]])
    Z = z.reshape(-1, 1).astype(dtype) if activation != "softmax" else z[: 4008].reshape(-1, 8).astype(dtype)
    k = Z.shape[1]
    got = _core.dense_forward(Z, np.eye(k, dtype=dtype), np.zeros(k, dtype=dtype), activation, 0.125)
    z64 = Z.astype(np.float64)
    with np.errstate(over="ignore"):
        want = {
            "sigmoid": lambda: 1 / (1 + np.exp(-z64)),
            "tanh": lambda: np.tanh(z64),
            "relu": lambda: np.maximum(z64, 0),
            "leaky_relu": lambda: np.where(z64 > 0, z64, 0.125 * z64),
            "identity": lambda: z64,
            "softmax": lambda: np.exp(z64 - z64.max(1, keepdims=True)) / np.exp(z64 - z64.max(1, keepdims=True)).sum(1, keepdims=True),
        }[activation]()
    eps = np.finfo(dtype).eps
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=8 * eps, atol=4 * eps)
