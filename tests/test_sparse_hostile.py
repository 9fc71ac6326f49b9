"""CSR input that turns hostile after it was checked: a fit callback that
rewrites X's indices or indptr between epochs, a thread that rewrites them
during predict, and a predict ``out=`` that shares memory with X's structure
or with the network's own parameters.

The structure is checked once before any kernel runs (check_csr); the kernels
check each row's indptr and each index again as they read them, so a change
made since raises ValueError instead of reading out of bounds. Each scenario
runs in a fresh interpreter (``_in_child``): a crash fails its test rather
than ending the pytest run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastmlp

sp = pytest.importorskip("scipy.sparse")

HERE = os.path.dirname(os.path.abspath(__file__))

# 512 rows of 400 features, 8 values a row (every seventh row empty), into a
# 400-32-3 network: a batch of 256 rows is rows x parameters >= 2^18, so with
# threads=2 its blocks and its weight gradient go over the pool.
N, D, PER_ROW, HIDDEN, K = 512, 400, 8, 32, 3

# How a callback (or a thread) spoils X: (name, function of X) pairs, each
# leaving a structure check_csr would refuse.
CORRUPTIONS = {
    "index_at_n_features": lambda X: X.indices.__setitem__(len(X.indices) // 2, X.shape[1]),
    "index_far_beyond": lambda X: X.indices.__setitem__(len(X.indices) // 2, np.iinfo(X.indices.dtype).max),
    "index_negative": lambda X: X.indices.__setitem__(len(X.indices) // 2, -1),
    "index_most_negative": lambda X: X.indices.__setitem__(-1, np.iinfo(X.indices.dtype).min),
    "indptr_decreasing": lambda X: X.indptr.__setitem__(N // 2, X.indptr[N // 2 + 1] + 5),
    "indptr_beyond_nnz": lambda X: X.indptr.__setitem__(N // 2, X.indptr[-1] + 10**6),
    "indptr_end_beyond_nnz": lambda X: X.indptr.__setitem__(-1, X.indptr[-1] + 1),
    "indptr_negative": lambda X: X.indptr.__setitem__(1, -(10**6)),
    "indptr_first_not_zero": lambda X: X.indptr.__setitem__(0, 3),
}
MESSAGE = "sparse structure changed .*or is malformed"


def _in_child(function: str, *args: object) -> str:
    """Runs this module's `function(*args)` in a fresh interpreter and returns
    what it printed; fails the test (instead of ending pytest) when that
    interpreter dies of a signal or raises."""
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import test_sparse_hostile as t; "
            f"t.{function}(*{args!r})")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        how = f"killed by signal {-res.returncode}" if res.returncode < 0 else f"exit status {res.returncode}"
        pytest.fail(f"{function}{args}: {how}\n--- stdout\n{res.stdout}\n--- stderr\n{res.stderr[-4000:]}")
    return res.stdout


def make_csr(dtype: str, index_dtype: str, seed: int = 0, n: int = N, d: int = D, per_row: int = PER_ROW):
    """A CSR matrix with `per_row` values a row (every seventh row empty), its
    arrays of exactly `dtype` and `index_dtype`, so that fit reads them in place."""
    rng = np.random.default_rng(seed)
    counts = np.where(np.arange(n) % 7 == 3, 0, per_row)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index_dtype)
    indices = rng.integers(0, d, size=int(indptr[-1])).astype(index_dtype)
    data = rng.normal(size=int(indptr[-1])).astype(dtype)
    X = sp.csr_matrix((data, indices, indptr), shape=(n, d))
    X.indices, X.indptr = indices, indptr  # scipy may have narrowed them
    assert X.data.dtype == dtype and X.indices.dtype == X.indptr.dtype == index_dtype
    return X


def make_network(dtype: str, outputs: int = K) -> fastmlp.Network:
    return fastmlp.Network([D, HIDDEN, outputs], activation="tanh", output="softmax" if outputs > 1 else "sigmoid",
                           loss="cross_entropy", reduction="mean", init="glorot", seed=4, dtype=dtype)


def parameters(net: fastmlp.Network) -> list[np.ndarray]:
    return [a.copy() for a in net.weights + net.biases]


def check_usable(net: fastmlp.Network, dtype: str, index_dtype: str) -> None:
    """The network predicts finite numbers on fresh input, and trains again."""
    X = make_csr(dtype, index_dtype, seed=11)
    P = net.predict(X, threads=2)
    assert np.isfinite(P).all()
    Y = np.eye(K)[np.arange(N) % K] if net.sizes[-1] > 1 else (np.arange(N) % 2)[:, None] * 1.0
    net.fit(X, Y, epochs=1, learning_rate=0.1, batch_size=256, threads=2)
    assert np.isfinite(net.predict(X)).all()


# --- scenarios (each run in a child interpreter) ------------------------------------------------------


def corrupt_during_fit(dtype: str, threads: int, index_dtype: str, which: str, where: str) -> None:
    """A callback rewrites X (where="X") or the validation X (where="X_val")
    after epoch 2 of 5: fit raises ValueError in epoch 3, the network holds the
    parameters the callback saw (those at the start of epoch 3), its history
    the two epochs completed, and it predicts and trains again."""
    X = make_csr(dtype, index_dtype)
    X_val = make_csr(dtype, index_dtype, seed=1)
    Y = np.eye(K)[np.arange(N) % K]
    net = make_network(dtype)
    seen: dict[str, list[np.ndarray]] = {}

    def callback(epoch, logs):
        if epoch == 2:
            seen["params"] = parameters(net)
            CORRUPTIONS[which](X if where == "X" else X_val)

    validation = (X_val, Y) if where == "X_val" else None
    for batch_size in (256, None):  # batches over the pool, and one batch of every row
        if batch_size is None:  # again, on fresh matrices and a fresh network
            X, X_val, net = make_csr(dtype, index_dtype), make_csr(dtype, index_dtype, seed=1), make_network(dtype)
            validation = (X_val, Y) if where == "X_val" else None
        try:
            net.fit(X, Y, epochs=5, learning_rate=0.1, batch_size=batch_size, shuffle=True, threads=threads,
                    validation=validation, callback=callback)
        except ValueError as error:
            message = str(error)
        else:
            raise AssertionError(f"{which} in {where}: no error")
        assert "sparse structure changed" in message and "malformed" in message, message
        assert ("X_val" if where == "X_val" else "X's") in message, message
        assert "epoch 3" in message, message
        for a, b in zip(parameters(net), seen["params"]):
            np.testing.assert_array_equal(a, b)
        assert net.history["loss"].size == 2, net.history
        check_usable(net, dtype, index_dtype)
    print("ok")


def corrupt_during_predict(dtype: str, threads: int, index_dtype: str) -> None:
    """A thread flips X's indices and indptr between good and bad values while
    predict runs (the GIL released): every predict returns the right answer
    (bit for bit) or raises ValueError; none crashes."""
    X = make_csr(dtype, index_dtype, n=4096)
    net = make_network(dtype)
    want = net.predict(X.copy(), threads=1)
    good_index, good_ptr = X.indices[100], X.indptr[300]
    stop = threading.Event()

    def spoil():
        bad_index = np.iinfo(X.indices.dtype).max
        while not stop.is_set():
            X.indices[100] = bad_index
            X.indptr[300] = 10**9
            X.indices[100] = good_index
            X.indptr[300] = good_ptr

    spoiler = threading.Thread(target=spoil)
    spoiler.start()
    outcomes = {"right": 0, "refused": 0}
    try:
        for _ in range(200):
            try:
                got = net.predict(X, threads=threads)
            except ValueError as error:  # the kernels', or check_csr's when it saw the change first
                assert re.search(f"{MESSAGE}|indices must be in|indptr must not decrease|indptr must end at",
                                 str(error)), error
                outcomes["refused"] += 1
            else:  # it read only good values: each bad one is refused where it is read
                np.testing.assert_array_equal(got, want)
                outcomes["right"] += 1
    finally:
        stop.set()
        spoiler.join()
    np.testing.assert_array_equal(net.predict(X, threads=threads), want)
    print(outcomes)


# --- the tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_callback_that_rewrites_X_raises_and_keeps_the_epochs_start(dtype, threads):
    # every corruption, both index widths; X and the validation X; in one child per (dtype, threads)
    _in_child("corrupt_all_during_fit", dtype, threads)


def corrupt_all_during_fit(dtype: str, threads: int) -> None:
    for index_dtype in ("int32", "int64"):
        for which in CORRUPTIONS:
            print(f"{index_dtype} {which}", flush=True)
            corrupt_during_fit(dtype, threads, index_dtype, which, "X")
        for which in ("index_far_beyond", "indptr_beyond_nnz"):
            print(f"{index_dtype} {which} in X_val", flush=True)
            corrupt_during_fit(dtype, threads, index_dtype, which, "X_val")


@pytest.mark.parametrize("threads", [1, 2])
def test_a_thread_that_rewrites_X_during_predict_never_crashes_it(threads):
    _in_child("corrupt_during_predict", "float64", threads, "int64")
    _in_child("corrupt_during_predict", "float32", threads, "int32")


def predict_into_structure(dtype: str, index_dtype: str, part: str, threads: int) -> None:
    """predict(X, out=...) where out is (a view of) X.indices or X.indptr: the
    answer of a separate out, bit for bit."""
    X = make_csr(dtype, index_dtype, n=600)  # several of predict's blocks of rows
    outputs = 1 if part == "indptr" else 2
    net = make_network(dtype, outputs)
    want = net.predict(X.copy(), threads=threads)
    target = X.indices if part == "indices" else X.indptr
    raw = target.view(np.uint8)
    # out's first rows over entries the kernels read for later rows: indptr
    # from its second entry, the indices at their end
    size = 600 * outputs * np.dtype(dtype).itemsize
    start = target.itemsize if part == "indptr" else raw.size - size
    assert 0 < start and start + size <= raw.size
    out = raw[start:start + size].view(dtype).reshape(600, outputs)
    assert np.shares_memory(out, target)
    got = net.predict(X, out=out, threads=threads)
    assert got is out
    np.testing.assert_array_equal(got, want)
    print("ok")


def predict_into_structure_all(part: str) -> None:
    for dtype, index_dtype in [("float32", "int32"), ("float64", "int64"), ("float32", "int64")]:
        for threads in (1, 2):
            print(dtype, index_dtype, threads, flush=True)
            predict_into_structure(dtype, index_dtype, part, threads)


@pytest.mark.parametrize("part", ["indices", "indptr"])
def test_predict_into_an_out_that_shares_memory_with_X_structure(part):
    # both value dtypes, both index widths, threads 1 and 2, in one child
    _in_child("predict_into_structure_all", part)


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_into_an_out_that_shares_memory_with_the_weights(dtype, sparse):
    X = make_csr(dtype, "int32", n=600)  # several of predict's blocks of rows
    X_in = X if sparse else X.toarray()
    net = make_network(dtype)
    want = net.predict(X_in)
    before = parameters(net)
    out = net.weights[0].reshape(-1)[: 600 * K].reshape(600, K)  # a view of the first layer's weights
    assert np.shares_memory(out, net.weights[0])
    got = net.predict(X_in, out=out)
    assert got is out
    np.testing.assert_array_equal(got, want)  # predicted with the weights as they were
    after = parameters(net)
    np.testing.assert_array_equal(after[0].reshape(-1)[: 600 * K], want.reshape(-1))  # then written
    for a, b in zip(after[1:], before[1:]):
        np.testing.assert_array_equal(a, b)
