"""Small contract points of Network.fit: what a callback's answer means, a
callback fitting its own network, and pandas DataFrames of mixed columns."""

from __future__ import annotations

import numpy as np
import pytest

import fastmlp


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    return X, np.eye(2)[(X[:, 0] > 0).astype(int)]


@pytest.mark.parametrize("answer,epochs", [
    (False, 1), (np.False_, 1), (0, 1), (np.int64(0), 1),  # false values stop after the first epoch
    (None, 5), (True, 5), (np.True_, 5), (1, 5),
])
def test_callback_answer(answer, epochs):
    X, Y = _data()
    calls = []
    net = fastmlp.Network([3, 4, 2], seed=1)
    net.fit(X, Y, epochs=5, callback=lambda epoch, logs: calls.append(epoch) or answer)
    assert calls == list(range(1, epochs + 1))
    assert net.history["loss"].size == epochs


def test_callback_that_fits_its_own_network_is_told_so():
    X, Y = _data()
    net = fastmlp.Network([3, 4, 2], seed=1)

    def refit(epoch, logs):
        net.fit(X, Y, epochs=1)

    with pytest.raises(RuntimeError, match="callback cannot fit.* the network it is called from"):
        net.fit(X, Y, epochs=2, callback=refit)
    # a callback may still predict, and the network is usable afterwards
    seen = []
    net.fit(X, Y, epochs=2, callback=lambda epoch, logs: seen.append(net.predict(X)))
    assert len(seen) == 2


def test_fit_takes_a_dataframe_of_float_int_and_bool_columns():
    pd = pytest.importorskip("pandas")
    X, Y = _data()
    frame = pd.DataFrame({"a": X[:, 0], "b": (10 * X[:, 1]).astype(np.int64), "c": X[:, 2] > 0})
    as_array = np.column_stack([frame["a"].to_numpy(), frame["b"].to_numpy(), frame["c"].to_numpy()]).astype(float)
    by_frame = fastmlp.Network([3, 4, 2], seed=1).fit(frame, Y, epochs=20)
    by_array = fastmlp.Network([3, 4, 2], seed=1).fit(as_array, Y, epochs=20)
    for w_frame, w_array in zip(by_frame.weights, by_array.weights):
        np.testing.assert_array_equal(w_frame, w_array)
    np.testing.assert_array_equal(by_frame.predict(frame), by_array.predict(as_array))
    # a missing value is refused as a NaN would be, and text columns still are
    missing = frame.astype({"b": "Int64"})
    missing.loc[3, "b"] = pd.NA
    with pytest.raises(ValueError):
        fastmlp.Network([3, 4, 2], seed=1).fit(missing, Y, epochs=1)
    with pytest.raises(TypeError, match="X must hold real numbers"):
        fastmlp.Network([3, 4, 2], seed=1).fit(frame.assign(c=["x"] * len(frame)), Y, epochs=1)
