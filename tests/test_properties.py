"""Property-based tests (Hypothesis) of the Python API.

For random networks, inputs of every dtype and memory layout, option
combinations and extreme values, ``Network.predict``, ``loss``, ``gradient``
and ``fit`` either refuse with ValueError or TypeError naming the argument, or
agree with the NumPy MLP of tests/reference.py; ``save`` + ``fastmlp.load``
and pickling give bit-identical networks. Hypothesis's database lives in
tests/hypothesis-db (see conftest.py), so every run replays what it once found.
"""

from __future__ import annotations

import math
import os
import pickle
import tempfile

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

import fastmlp
import reference

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
OUTPUTS = ("sigmoid", "softmax", "identity", "tanh", "relu", "leaky_relu")
INITS = ("uniform", "glorot", "he", "glorot_normal", "he_normal")
# Per dtype: the rounding unit, and the magnitude below which no intermediate overflows.
EPS = {np.float64: 2.0**-52, np.float32: 2.0**-23}
SAFE = {np.float64: 1e150, np.float32: 1e18}


# --- strategies ------------------------------------------------------------------------


@st.composite
def networks(draw, max_width=40, max_hidden=2):
    """A network of any supported configuration, with widths 1..max_width."""
    sizes = draw(st.lists(st.integers(1, max_width), min_size=2, max_size=max_hidden + 2))
    n_hidden = len(sizes) - 2
    activation = draw(st.sampled_from(ACTIVATIONS)
                      | st.lists(st.sampled_from(ACTIVATIONS), min_size=n_hidden, max_size=n_hidden).map(tuple))
    output = draw(st.sampled_from(OUTPUTS))
    loss = draw(st.sampled_from(("mse", "cross_entropy") if output in ("softmax", "sigmoid") else ("mse",)))
    return fastmlp.Network(
        sizes, activation=activation, output=output, loss=loss,
        reduction=draw(st.sampled_from(("sum", "mean"))), init=draw(st.sampled_from(INITS)),
        seed=draw(st.integers(0, 2**64 - 1)), dtype=draw(st.sampled_from(("float64", "float32"))),
        # at most 1, so that every activation is 1-Lipschitz (see _forward_bound)
        leaky_slope=draw(st.floats(0, 1)))


REAL_DTYPES = ("float16", "float32", "float64", "int8", "int32", "int64", "uint8", "uint64", "bool")


@st.composite
def real_arrays(draw, shape, *, low=-8.0, high=8.0, extreme=False):
    """A real array of ``shape`` in any real dtype: values in [low, high] (with
    tiny and subnormal ones), or with ``extreme`` anything the dtype holds."""
    dtype = np.dtype(draw(st.sampled_from(REAL_DTYPES)))
    if dtype.kind == "f":
        if extreme:
            elements = hnp.from_dtype(dtype)
        else:
            elements = st.floats(low, high, width=8 * dtype.itemsize) | st.sampled_from(
                [0.0, -0.0, 1e-300, 5e-324, float(np.finfo(dtype).smallest_subnormal)]).map(dtype.type)
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        info = np.iinfo(dtype)
        elements = st.integers(info.min, info.max) if extreme else st.integers(max(info.min, int(low)), int(high))
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def presented(draw, a):
    """``a`` as a caller may hand it over: any memory layout, or a nested list."""
    how = draw(st.sampled_from(("c", "fortran", "strided", "reversed", "read-only", "swapped", "list")))
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "strided":  # a view into every other row and column of a larger array
        big = np.zeros((2 * a.shape[0], 2 * a.shape[1]) if a.ndim == 2 else (2 * a.size,), dtype=a.dtype)
        view = big[::2, ::2] if a.ndim == 2 else big[::2]
        view[...] = a
        return view
    if how == "reversed":  # negative strides
        rev = np.zeros_like(a)
        view = rev[::-1, ::-1] if a.ndim == 2 else rev[::-1]
        view[...] = a
        return view
    if how == "read-only":
        a = a.copy()
        a.flags.writeable = False
        return a
    if how == "swapped":  # the other byte order
        return a.astype(a.dtype.newbyteorder())
    if how == "list":
        return a.tolist()
    return np.ascontiguousarray(a)


def _any_shape(rows, cols):
    """A 2-D (rows, cols) shape mostly; sometimes 0-d, 1-d, 3-d, empty or another width."""
    return st.sampled_from([(rows, cols)] * 6 + [(), (cols,), (1, rows, cols), (0, cols), (rows, 0), (rows, cols + 1)])


@st.composite
def inputs(draw, rows, cols, **kwargs):
    """(what to pass, as float64 or None when it is no valid input): any real dtype,
    shape and layout, or something that holds no real numbers at all."""
    kind = draw(st.sampled_from(["real"] * 8 + ["complex", "object", "str", "datetime", "ragged"]))
    shape = draw(_any_shape(rows, cols))
    if kind == "real":
        a = draw(real_arrays(shape, **kwargs))
        return draw(presented(a)), a
    if kind == "complex":
        return draw(hnp.arrays(np.complex128, shape, elements=st.complex_numbers(max_magnitude=8))), None
    if kind == "object":  # real numbers, but held as Python objects
        return draw(hnp.arrays(np.float64, shape, elements=st.floats(-8, 8))).astype(object), None
    if kind == "str":
        return np.full(shape, "1.5"), None
    if kind == "datetime":
        return np.zeros(shape, dtype="datetime64[s]"), None
    return [[1.0] * cols, [1.0] * (cols + 1)], None  # ragged rows


def _targets(net, rows):
    """Targets that fit the network's loss: one-hot-like rows in [0, 1] for
    cross-entropy and bounded outputs, anything moderate otherwise."""
    if net.loss_name == "cross_entropy" or net.output in ("sigmoid", "softmax"):
        return hnp.arrays(np.float64, (rows, net.sizes[-1]), elements=st.floats(0, 1))
    return hnp.arrays(np.float64, (rows, net.sizes[-1]), elements=st.floats(-4, 4))


# --- the reference, and how far from it the network may be ---------------------------


def _params64(net):
    return [W.astype(np.float64) for W in net.weights], [b.astype(np.float64) for b in net.biases]


def _config(net):
    return dict(activation=list(net.activations), output=net.output, loss=net.loss_name,
                reduction=net.reduction, leaky_slope=net.leaky_slope)


def _reference_outputs(net, X):
    """The outputs by reference.py's activations, in float64."""
    weights, biases = _params64(net)
    A = X
    for i, (W, b) in enumerate(zip(weights, biases)):
        Z = A @ W + b
        name = net.output if i == net.n_layers - 1 else net.activations[i]
        A = reference.softmax(Z) if name == "softmax" else reference.activation_pair(name, net.leaky_slope)[0](Z)
    return A


def _forward_bound(net, X):
    """Per row, a bound on every |Z| the forward pass meets, computed
    with absolute values: each layer's rounding error is at most a few units
    of it, and no 1-Lipschitz activation amplifies it."""
    weights, biases = _params64(net)
    M = np.abs(X)
    bound = np.zeros(X.shape[0])
    for W, b in zip(weights, biases):
        M = M @ np.abs(W) + np.abs(b)
        bound = np.maximum(bound, M.max(axis=1))
    return bound


def _tolerance(net, bound):
    return 16 * EPS[net.dtype.type] * sum(net.sizes) * np.maximum(bound, 1.0)


def _refusal(call, *names):
    """Run ``call``, which must raise ValueError or TypeError naming one of ``names``."""
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert any(name in str(info.value) for name in names), f"{info.value!r} names none of {names}"


def _expected_matrix(a, net, cols):
    """``a`` as the network should read it: a finite 2-D float array of the network's
    dtype with ``cols`` columns, or None when it must be refused."""
    if a is None or a.ndim != 2 or 0 in a.shape or a.shape[1] != cols:
        return None
    with np.errstate(over="ignore"):
        converted = a.astype(net.dtype)
    return converted if np.all(np.isfinite(converted)) else None


# --- predict -------------------------------------------------------------------------


@given(net=networks(), data=st.data())
def test_predict_refuses_or_matches_reference(net, data):
    rows = data.draw(st.integers(1, 30), label="rows")
    X, values = data.draw(inputs(rows, net.sizes[0], extreme=data.draw(st.booleans())), label="X")
    expected = _expected_matrix(values, net, net.sizes[0])
    if expected is None:
        _refusal(lambda: net.predict(X), "X")
        return
    got = net.predict(X)
    assert got.dtype == net.dtype and got.shape == (expected.shape[0], net.sizes[-1]) and got.flags.c_contiguous
    want = _reference_outputs(net, expected.astype(np.float64))
    bound = _forward_bound(net, expected.astype(np.float64))
    safe = bound < SAFE[net.dtype.type]  # rows whose every intermediate is far from overflowing
    err = np.abs(got[safe] - want[safe]).max(axis=1, initial=0.0)
    tol = _tolerance(net, bound[safe])
    assert np.all(err <= tol), f"max difference {err.max():.3g} (bound {tol[err.argmax()]:.3g})"
    out = np.full_like(got, np.nan)  # out= gives the same bits (never overlapping X: a known bug being fixed)
    assert net.predict(X, out=out) is out
    assert np.array_equal(out.view(np.uint8), got.view(np.uint8))


def test_values_beyond_float32_are_refused_without_a_warning():
    """A finite float64 that float32 cannot hold is named, not turned into inf
    with a RuntimeWarning (an exception under warnings-as-errors)."""
    net = fastmlp.Network([3, 2], dtype="float32")
    X, Y = np.ones((2, 3)), np.ones((2, 2))
    big = 3.5e38  # just past float32's largest, 3.4028235e38
    with np.errstate(over="ignore"):
        assert np.isinf(np.float32(big))
    bad_X = X.copy()
    bad_X[1, 2] = -big
    for call, name in [(lambda: net.predict(bad_X), "X"), (lambda: net.loss(X, Y * big), "Y"),
                       (lambda: net.gradient(X, Y, sample_weight=[1.0, big]), "sample_weight"),
                       (lambda: net.fit(bad_X, Y, epochs=1), "X"),
                       (lambda: fastmlp.Network([3, 2]).predict(bad_X.astype(np.longdouble) * 1e300), "X")]:
        with pytest.raises(ValueError, match=f"^{name} holds .* beyond float(32|64)'s range"):
            call()
    # the largest float32 itself is read as it is
    edge = np.full((2, 3), np.finfo(np.float32).max, dtype=np.float64)
    assert np.array_equal(net.predict(edge), net.predict(edge.astype(np.float32)))


def test_ragged_rows_are_refused_naming_the_argument():
    net = fastmlp.Network([2, 2])
    with pytest.raises(ValueError, match="^X must be an array of numbers"):
        net.predict([[1.0, 2.0], [1.0]])
    with pytest.raises(ValueError, match="^Y must be an array of numbers"):
        net.loss(np.ones((2, 2)), [[1.0, 2.0], [1.0]])
    with pytest.raises(ValueError, match="^sample_weight must be an array of numbers"):
        net.fit(np.ones((2, 2)), np.ones((2, 2)), epochs=1, sample_weight=[1.0, [2.0]])
