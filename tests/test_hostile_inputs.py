"""Odd but valid inputs work and match the contiguous float64 result; the
process survives concurrent use and repeated cycles.

Every layout NumPy can hand over (integer, bool and float32 data, Fortran
order, strided and zero-stride views, read-only and memory-mapped arrays,
nested lists) goes through every public entry point that takes data. Bad
values and shapes are test_errors.py's table.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import fastmlp

rng = np.random.default_rng(2026)
X = rng.integers(0, 5, (24, 4)).astype(np.float64)  # small integers: exact in every dtype
Y = np.eye(3)[rng.integers(0, 3, 24)]


def _memmap(a, path):
    m = np.lib.format.open_memmap(path, mode="w+", dtype=a.dtype, shape=a.shape)
    m[...] = a
    m.flush()
    return np.load(path, mmap_mode="r")


def _read_only(a, path):
    a = a.copy()
    a.flags.writeable = False
    return a


def _zero_stride(a, path):
    """Every row the same: a broadcast view with row stride 0."""
    return np.broadcast_to(a[:1], a.shape)


LAYOUTS = {
    "int64": lambda a, path: a.astype(np.int64),
    "int32": lambda a, path: a.astype(np.int32),
    "uint8": lambda a, path: a.astype(np.uint8),
    "bool": lambda a, path: a.astype(bool),
    "float32": lambda a, path: a.astype(np.float32),
    "Fortran": lambda a, path: np.asfortranarray(a),
    "strided rows": lambda a, path: np.repeat(a, 2, axis=0)[::2],
    "strided columns": lambda a, path: np.repeat(a, 2, axis=1)[:, ::2],
    "reversed": lambda a, path: a[::-1][::-1],
    "read-only": _read_only,
    "memory-mapped": _memmap,
    "zero-stride": _zero_stride,
    "list": lambda a, path: a.tolist(),
}


def _reference(layout, a):
    """What the layout holds, as a contiguous float64 array."""
    if layout == "zero-stride":
        return np.ascontiguousarray(np.broadcast_to(a[:1], a.shape), dtype=np.float64)
    if layout == "bool":
        return a.astype(bool).astype(np.float64)
    return np.ascontiguousarray(a, dtype=np.float64)


def _params(net):
    return [p.copy() for p in (*net.weights, *net.biases)]


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_entry_point_accepts_the_layout(layout, tmp_path):
    odd_x = LAYOUTS[layout](X, tmp_path / "x.npy")
    odd_y = LAYOUTS[layout](Y, tmp_path / "y.npy")
    ref_x, ref_y = _reference(layout, X), _reference(layout, Y)

    # train / fit
    got = fastmlp.train(odd_x, odd_y, hidden=3, epochs=5, seed=4)
    want = fastmlp.train(ref_x, ref_y, hidden=3, epochs=5, seed=4)
    for g, w in zip(_params(got), _params(want)):
        np.testing.assert_array_equal(g, w)
    # predict (method and function), loss, gradient, the helpers
    np.testing.assert_array_equal(want.predict(odd_x), want.predict(ref_x))
    np.testing.assert_array_equal(fastmlp.predict(want, odd_x), want.predict(ref_x))
    assert want.loss(odd_x, odd_y) == want.loss(ref_x, ref_y)
    for g, w in zip(sum(want.gradient(odd_x, odd_y), []), sum(want.gradient(ref_x, ref_y), [])):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(want.predict_classes(odd_x), want.predict_classes(ref_x))
    P = want.predict(ref_x)
    assert fastmlp.accuracy(P, odd_y) == fastmlp.accuracy(P, ref_y)
    np.testing.assert_array_equal(fastmlp.confusion_matrix(odd_y, P), fastmlp.confusion_matrix(ref_y, P))


def test_the_input_is_never_written():
    x, y = X.copy(), Y.copy()
    net = fastmlp.train(x, y, hidden=3, epochs=5)
    net.predict(x)
    net.gradient(x, y)
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(y, Y)


def test_threads_train_their_own_networks_while_others_predict_on_a_shared_one():
    shared = fastmlp.train(X, Y, hidden=4, epochs=50, seed=1)
    expected = shared.predict(X)
    solo = fastmlp.train(X, Y, hidden=4, epochs=200, seed=7, batch_size=5, threads=1)
    errors, results = [], {}

    def trainer(i):
        try:
            results[i] = fastmlp.train(X, Y, hidden=4, epochs=200, seed=7, batch_size=5, threads=1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def predictor():
        try:
            for _ in range(200):
                np.testing.assert_array_equal(shared.predict(X, threads=2), expected)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=trainer, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=predictor) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for net in results.values():  # each thread's network is the one it would train alone
        for g, w in zip(_params(net), _params(solo)):
            np.testing.assert_array_equal(g, w)


def _resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc/self/statm (Linux)")
def test_resident_memory_stays_flat_over_many_cycles():
    def cycle():  # a network of 14 KiB: a leak of it, or of its workspace, grows 28 MiB
        net = fastmlp.Network([4, 256, 3], activation="relu", output="softmax", loss="cross_entropy", seed=3)
        net.fit(X, Y, epochs=3, batch_size=8)
        net.predict(X)
        net.gradient(X, Y)

    for _ in range(200):  # warm up: allocator pools, thread pools, caches
        cycle()
    before = _resident_bytes()
    for _ in range(2000):
        cycle()
    grown = _resident_bytes() - before
    assert grown < 8 << 20, f"resident memory grew by {grown / 2**20:.1f} MiB over 2000 cycles"
