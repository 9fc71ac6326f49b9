"""Network behaviour: seeds, zero-copy views, continued training, dtypes, threads."""

from __future__ import annotations

import _thread
import threading
import tracemalloc

import numpy as np
import pytest

import fastmlp


def _params(net):
    return [p.copy() for p in (*net.weights, *net.biases)]


def test_same_seed_same_network_different_seed_different(iris):
    X, Y, _, _ = iris
    a = fastmlp.train(X, Y, epochs=200, seed=11)
    b = fastmlp.train(X, Y, epochs=200, seed=11)
    c = fastmlp.train(X, Y, epochs=200, seed=12)
    assert all(np.array_equal(p, q) for p, q in zip(_params(a), _params(b)))
    assert not any(np.array_equal(p, q) for p, q in zip(_params(a), _params(c)))


def test_fit_continues_from_current_weights(iris):
    X, Y, _, _ = iris
    once = fastmlp.train(X, Y, epochs=300, seed=4)
    twice = fastmlp.train(X, Y, epochs=100, seed=4).fit(X, Y, epochs=200)
    assert all(np.array_equal(p, q) for p, q in zip(_params(once), _params(twice)))
    np.testing.assert_array_equal(once.history["loss"], twice.history["loss"])
    assert fastmlp.Network([4, 5, 3], seed=4).fit(X, Y, epochs=0).history["loss"].size == 0


def test_weights_are_views_of_the_network(iris):
    X, _, _, _ = iris
    net = fastmlp.Network([4, 5, 3], seed=1)
    W0, b1 = net.weights[0], net.biases[1]
    assert W0.shape == (4, 5) and b1.shape == (3,)
    assert np.shares_memory(W0, net.weights[0]) and np.shares_memory(b1, net.biases[1])
    before = net.predict(X)
    W0[...] = 0.0
    b1[...] = 10.0
    after = net.predict(X)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, 1 / (1 + np.exp(-(1 / (1 + np.exp(-net.biases[0])) @ net.weights[1] + 10))) *
                               np.ones((X.shape[0], 1)), rtol=1e-15)
    del net  # the views keep the storage alive
    assert W0.sum() == 0.0 and b1.sum() == 30.0


def test_predict_writes_into_out(iris):
    _, _, Xt, _ = iris
    net = fastmlp.Network([4, 5, 3], seed=1)
    buf = np.empty((Xt.shape[0], 3))
    res = net.predict(Xt, out=buf)
    assert res is buf
    np.testing.assert_array_equal(buf, net.predict(Xt))
    assert np.array_equal(fastmlp.predict(net, Xt), buf)


def test_predict_reads_input_in_place():
    net = fastmlp.Network([64, 8, 2], seed=1)
    X = np.random.default_rng(0).random((20000, 64))  # 10 MB
    out = np.empty((20000, 2))
    net.predict(X, out=out)  # warm-up (scratch buffers)
    tracemalloc.start()
    net.predict(X, out=out)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < X.nbytes // 100, f"predict allocated {peak} bytes through NumPy for a {X.nbytes}-byte input"


def test_other_layouts_and_dtypes_are_converted(iris):
    X, _, Xt, _ = iris
    net = fastmlp.Network([4, 5, 3], seed=1)
    want = net.predict(Xt)
    np.testing.assert_array_equal(net.predict(np.asfortranarray(Xt)), want)
    np.testing.assert_array_equal(net.predict(Xt.tolist()), want)
    wide = np.zeros((Xt.shape[0], 8))
    wide[:, ::2] = Xt
    np.testing.assert_array_equal(net.predict(wide[:, ::2]), want)
    np.testing.assert_array_equal(net.predict((Xt > 0.5).astype(np.int32)), net.predict((Xt > 0.5) * 1.0))


def test_predict_rows_are_independent_of_batch():
    net = fastmlp.Network([5, 7, 3], seed=9)
    X = np.random.default_rng(1).random((1000, 5))
    whole = net.predict(X)
    rows = np.vstack([net.predict(X[i : i + 1]) for i in range(0, 1000, 37)])
    np.testing.assert_array_equal(rows, whole[::37])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes, rows", [([300, 200, 100, 10], 1000), ([1500, 1500, 10], 300)])
def test_predict_rows_are_independent_of_blocks_and_threads(dtype, sizes, rows):
    """Networks whose layers take the packed GEMM path (weights packed once per
    call; the second too large for that, so each product packs its own), rows
    cut in blocks that depend on the row count and the threads: any slice of
    rows, on any number of threads, gives the same bits as the whole, and the
    whole agrees with NumPy's forward pass."""
    net = fastmlp.Network(sizes, activation="relu", output="softmax", init="he", seed=3, dtype=dtype)
    X = np.random.default_rng(2).standard_normal((rows, sizes[0])).astype(dtype)
    whole = net.predict(X, threads=1)
    for threads in (1, 2, 3):
        np.testing.assert_array_equal(net.predict(X, threads=threads), whole)
        for first, stop in ((0, 1), (0, 13), (5, 300), (rows - 300, rows), (rows - 1, rows)):
            np.testing.assert_array_equal(net.predict(X[first:stop], threads=threads), whole[first:stop])
    A = X.astype(np.float64)
    for W, b in zip(net.weights[:-1], net.biases[:-1]):
        A = np.maximum(A @ W + b, 0)
    Z = A @ net.weights[-1] + net.biases[-1]
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(whole, P / P.sum(axis=1, keepdims=True), atol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_names_the_first_non_finite_value(threads, bad):
    """Every block of rows is checked, wherever the bad value is; a finite X whose
    products overflow is not an error."""
    net = fastmlp.Network([300, 200, 10], activation="relu", output="softmax", init="he", seed=3,
                          dtype="float32")
    X = np.random.default_rng(2).standard_normal((1000, 300)).astype(np.float32)
    X[900, 7] = X[901, 0] = bad
    with pytest.raises(ValueError, match=f"X must be finite; found {bad} at row 900, column 7"):
        net.predict(X, threads=threads)
    X[900, 7] = X[901, 0] = 0
    X[600] = 3e38  # finite, but X W overflows
    P = net.predict(X, threads=threads)
    assert np.isfinite(P[:600]).all() and np.isfinite(P[601:]).all()


def test_float32_end_to_end(iris):
    X, Y, Xt, Yt = iris
    net = fastmlp.train(X, Y, epochs=2000, seed=1, dtype="float32")
    assert net.dtype == np.float32 and net.weights[0].dtype == np.float32
    P = net.predict(Xt)
    assert P.dtype == np.float32
    net64 = fastmlp.train(X, Y, epochs=2000, seed=1)
    # the two precisions follow the same path; after 2000 epochs the float32
    # run has accumulated rounding of order 1e-4 relative, not more
    np.testing.assert_allclose(P, net64.predict(Xt), atol=5e-3)
    assert fastmlp.accuracy(P, Yt) >= 0.9


def test_ctrl_c_interrupts_fit_promptly(iris):
    X, Y, _, _ = iris
    net = fastmlp.Network([4, 5, 3], seed=1)
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()  # 10**12 epochs never end by themselves: returning at all proves the stop
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, epochs=10**12)
    assert np.all(np.isfinite(net.predict(X)))  # usable, at the last completed epoch


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_predict_into_an_out_that_overlaps_x(threads, dtype):
    # out shares memory with X (one row further on): the result is what a
    # separate out gets, whatever the threads, never rows computed from outputs
    rng = np.random.default_rng(3)
    net = fastmlp.Network([4, 6, 4], activation="tanh", output="identity", seed=2, dtype=dtype)
    B = rng.standard_normal((300, 4)).astype(dtype)
    want = net.predict(B[:-1].copy(), threads=threads)
    got = net.predict(B[:-1], out=B[1:], threads=threads)
    assert got is not None and np.shares_memory(got, B)
    np.testing.assert_array_equal(B[1:], want)
    B = rng.standard_normal((300, 4)).astype(dtype)
    want = net.predict(B[1:].copy(), threads=threads)
    net.predict(B[1:], out=B[:-1], threads=threads)
    np.testing.assert_array_equal(B[:-1], want)
    same = rng.standard_normal((50, 4)).astype(dtype)  # out is X itself
    want = net.predict(same.copy())
    net.predict(same, out=same)
    np.testing.assert_array_equal(same, want)
