"""1-D class indices as targets: Network.fit, train, loss, gradient and accuracy
read them as the one-hot rows NumPy's ``np.eye(k)[y]`` makes (the reference),
and refuse every other 1-D target with how to encode it."""

from __future__ import annotations

import numpy as np
import pytest

import fastmlp


def _same_params(a, b):
    return all(p.tobytes() == q.tobytes() for p, q in zip((*a.weights, *a.biases), (*b.weights, *b.biases)))


@pytest.fixture(scope="module")
def data():
    X, Y, _, _ = fastmlp.datasets.load_iris()
    return X, Y.argmax(axis=1)


@pytest.mark.parametrize("output,loss", [("softmax", "cross_entropy"), ("sigmoid", "mse")])
@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.uint16])
def test_fit_with_indices_is_fit_with_their_one_hot_rows(data, output, loss, dtype):
    X, y = data
    kw = dict(activation="tanh", output=output, loss=loss, init="glorot", seed=3)
    a = fastmlp.Network([4, 6, 3], **kw).fit(X, y.astype(dtype), epochs=40, learning_rate=0.01,
                                             validation=(X[:20], y[:20].astype(dtype)))
    b = fastmlp.Network([4, 6, 3], **kw).fit(X, np.eye(3)[y], epochs=40, learning_rate=0.01,
                                             validation=(X[:20], np.eye(3)[y[:20]]))
    assert _same_params(a, b)
    for key in b.history:
        np.testing.assert_array_equal(a.history[key], b.history[key])
    assert a.loss(X, y) == b.loss(X, np.eye(3)[y])
    for g, h in zip(a.gradient(X, y), b.gradient(X, np.eye(3)[y])):
        for p, q in zip(g, h):
            np.testing.assert_array_equal(p, q)
    P = a.predict(X)
    assert fastmlp.accuracy(P, y) == fastmlp.accuracy(P, np.eye(3)[y]) == np.mean(P.argmax(axis=1) == y)


def test_one_sigmoid_output_takes_zero_one_labels_as_its_column(data):
    X, y = data
    binary = (y == 2)  # bool labels, as numpy comparisons make them
    a = fastmlp.Network([4, 3, 1], seed=2).fit(X, binary, epochs=30)
    b = fastmlp.Network([4, 3, 1], seed=2).fit(X, binary.astype(float).reshape(-1, 1), epochs=30)
    assert _same_params(a, b)
    assert fastmlp.accuracy(a.predict(X), binary.astype(int)) == np.mean((a.predict(X)[:, 0] > 0.5) == binary)
    with pytest.raises(ValueError, match=r"Y holds class index 2, but a network with 1 output\(s\) has 2 classes"):
        fastmlp.Network([4, 3, 1]).fit(X, y, epochs=1)


def test_train_sizes_the_output_layer_from_the_indices(data):
    X, y = data
    net = fastmlp.train(X, y, epochs=50, seed=1)  # the article's network, from class indices
    assert net.sizes == (4, 5, 3)
    assert _same_params(net, fastmlp.train(X, np.eye(3)[y], epochs=50, seed=1))
    binary = (y == 0).astype(np.int32)
    assert fastmlp.train(X, binary, epochs=1).sizes == (4, 5, 1)  # scikit-learn's binary layout
    soft = fastmlp.train(X, binary, epochs=1, output="softmax", loss="cross_entropy")
    assert soft.sizes == (4, 5, 2)  # softmax over one output is always 1: two
    pd = pytest.importorskip("pandas")
    assert _same_params(fastmlp.train(X, pd.Series(y), epochs=20, seed=1), fastmlp.train(X, y, epochs=20, seed=1))


@pytest.mark.parametrize("y,kw,message", [
    (np.r_[0, 1, 3, 1], {}, r"Y holds class index 3, but a network with 3 output\(s\) has 3 classes \(0 to 2\)"),
    (np.r_[0, -1, 2, 1], {}, r"Y holds class index -1"),
    (np.r_[0.0, 1.0, 2.0, 1.0], {}, r"Y must be 2-D .* 1-D integer class indices; got 1-D dtype float64: .*astype\(int\)"),
    (np.r_[0, 1, 2, 1], dict(output="identity"), r"'identity' output takes 2-D targets: .*reshape\(-1, 1\).*np\.eye\(k\)\[y\]"),
    (np.r_[0, 1, 2, 1], dict(output="tanh"), r"'tanh' output takes 2-D targets"),
    (np.array(["a", "b", "c", "a"]), {}, r"got 1-D dtype <U1: .*np\.unique\(y, return_inverse=True\)"),
    (np.r_[0, 1, 2, 1][:0], {}, r"Y is empty"),
])
def test_other_one_d_targets_are_refused_with_how_to_encode_them(y, kw, message):
    X = np.random.default_rng(0).random((4, 4))
    net = fastmlp.Network([4, 3, 3], **kw)
    for call in (lambda: net.fit(X, y, epochs=1), lambda: net.loss(X, y), lambda: net.gradient(X, y)):
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(ValueError, match=message.replace("Y ", "Y_val ")):
        fastmlp.Network([4, 3, 3], **kw).fit(X, np.eye(3)[[0, 1, 2, 0]], epochs=1, validation=(X, y))


@pytest.mark.parametrize("y,kw,message", [
    (np.r_[0, -1, 2, 1], {}, r"Y holds class index -1, but a network with 3 output\(s\)"),
    (np.r_[0.0, 1.0, 2.0, 1.0], {}, r"astype\(int\)"),
    (np.r_[0, 1, 2, 1], dict(output="identity"), r"'identity' output takes 2-D targets"),
])
def test_train_refuses_the_same(y, kw, message):
    with pytest.raises(ValueError, match=message):
        fastmlp.train(np.ones((4, 2)), y, epochs=1, **kw)
