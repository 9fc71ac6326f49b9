"""Small contract points of Network.fit: what a callback's answer means, and a
callback fitting its own network."""

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
