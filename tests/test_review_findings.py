"""Findings of the fresh-clone reviews of sparse input, dropout, Poisson and
the estimators, each kept as a test: a NaN through relu, the optimiser's
state after a divergence, warm starts that change the network, replaced
coefs_ of the wrong shape, byte-swapped dtype spellings."""

from __future__ import annotations

import numpy as np
import pytest

import fastmlp

pytestmark = pytest.mark.filterwarnings("ignore:Stochastic Optimizer")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("rows", [4, 600])  # the plain sweep, and the packed GEMM's epilogue
def test_relu_passes_nan_on_as_numpy_does(dtype, rows):
    sp = pytest.importorskip("scipy.sparse")
    X = np.random.default_rng(0).random((rows, 3)).astype(dtype)
    net = fastmlp.Network([3, 64, 2], activation="relu", output="identity", seed=0, dtype=dtype)
    net.weights[0][0, :5] = np.nan
    h = np.maximum(X @ net.weights[0] + net.biases[0], 0)
    want = h @ net.weights[1] + net.biases[1]
    assert np.isnan(want).all()  # the NumPy reference: every output sees a NaN unit
    for got in (net.predict(X), net.predict(sp.csr_matrix(X))):
        assert np.isnan(got).all()
    assert np.isnan(net.loss(X, np.zeros((rows, 2), dtype)))
    # and -0.0, 0 and negatives still give 0
    net = fastmlp.Network([1, 1, 1], activation="relu", output="identity", dtype=dtype)
    for W, b in zip(net.weights, net.biases):
        W[:] = 1
        b[:] = 0
    z = np.array([[-0.0], [0.0], [-3.0], [2.5]], dtype)
    np.testing.assert_array_equal(net.predict(z), np.maximum(z, 0))


@pytest.mark.parametrize("optimizer", ["momentum"])
def test_a_divergence_resets_the_optimisers_state(optimizer):
    # float32, a summed loss finite in double while the gradient overflows
    # float32: the velocity (or moments) became infinite; with the parameters
    # put back and the state kept, every later fit diverged at once
    rng = np.random.default_rng(0)
    X = rng.random((64, 3)).astype(np.float32)
    Y = (X @ np.array([[1.0], [2.0], [-1.0]])).astype(np.float32)
    net = fastmlp.Network([3, 8, 1], activation="identity", output="identity", reduction="sum", seed=0,
                          dtype="float32")
    with pytest.raises(FloatingPointError):
        net.fit(X, Y * 1e18, epochs=5, optimizer=optimizer, learning_rate=1e-3, batch_size=16)
    net.fit(X, Y, epochs=5, optimizer=optimizer, learning_rate=1e-6, batch_size=16)
    assert all(np.isfinite(w).all() for w in net.weights + net.biases)
    fresh = fastmlp.Network([3, 8, 1], activation="identity", output="identity", reduction="sum", seed=0,
                            dtype="float32")
    # the same steps as a network that never diverged, from the same parameters
    fresh.fit(X, Y, epochs=5, optimizer=optimizer, learning_rate=1e-6, batch_size=16)
    for a, b in zip(fresh.weights + fresh.biases, net.weights + net.biases):
        np.testing.assert_array_equal(a, b)


sklearn = pytest.importorskip("sklearn", reason="the sklearn extra is not installed")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("change", [{"activation": "tanh"}, {"dropout": 0.5}, {"loss": "poisson"}])
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_a_warm_start_refuses_a_changed_network(change, how):
    from fastmlp.sklearn import MLPRegressor

    rng = np.random.default_rng(0)
    X, y = rng.random((40, 3)), rng.random(40)
    est = MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, warm_start=how == "warm_start", random_state=0)
    if how == "partial_fit":
        est.partial_fit(X, y)
    else:
        est.fit(X, y)
    est.set_params(**change)
    with pytest.raises(ValueError, match=f"{next(iter(change))} changed since the network was fitted"):
        est.partial_fit(X, y) if how == "partial_fit" else est.fit(X, y)
    est.set_params(warm_start=False)
    est.fit(X, y)  # afresh: the new settings


def test_replaced_coefs_of_the_wrong_shape_are_refused():
    from fastmlp.sklearn import MLPClassifier

    rng = np.random.default_rng(0)
    X, y = rng.random((40, 4)), rng.integers(0, 3, 40)
    clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X, y)
    clf.coefs_[0] = np.ones((1, 3))
    with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape \(4, 3\); got \(1, 3\)"):
        clf.predict(X)
    clf.coefs_[0] = np.ones((4, 3))
    clf.intercepts_[1] = 7.0
    with pytest.raises(ValueError, match=r"intercepts_\[1\] must have shape \(3,\); got \(\)"):
        clf.predict(X)
    clf.intercepts_[1] = np.full(3, 7.0)
    np.testing.assert_array_equal(clf.network_.biases[1], np.full(3, 7.0))  # a right shape is taken


@pytest.mark.parametrize("spelling", [">f8", "<f8", ">f4", np.dtype(">f4")])
def test_byte_swapped_dtype_spellings_mean_the_native_dtype(spelling):
    from fastmlp.sklearn import MLPRegressor

    rng = np.random.default_rng(0)
    X, y = rng.random((30, 2)), rng.random(30)
    native = np.dtype(np.dtype(spelling).name)
    net = fastmlp.Network([2, 3, 1], output="identity", dtype=spelling)
    assert net.dtype == native
    net.fit(X, y[:, None], epochs=2)
    assert net.predict(X).dtype == native
    est = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, dtype=spelling).fit(X, y)
    assert est.coefs_[0].dtype == native


@pytest.mark.parametrize("flags, want", [
    (["--loss", "poisson"], {"loss": "poisson", "dropout": 0.0}),
    (["--dropout", "0.2"], {"loss": "squared_error", "dropout": 0.2}),
    (["--loss", "poisson", "--dropout", "0.2,0.1", "--hidden", "6,4"], {"loss": "poisson", "dropout": (0.2, 0.1)}),
])
def test_a_command_line_model_loads_as_the_estimator_it_is(tmp_path, flags, want):
    # the file of `fastmlp train --loss poisson` or `--dropout` loaded as an
    # estimator whose loss and dropout were the defaults, beside a network
    # that is Poisson or drops: clone(est).fit trained another model
    import subprocess
    import sys

    from sklearn.base import clone

    from fastmlp.sklearn import load

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = rng.poisson(np.exp(0.3 * X[:, 0] + 0.5))
    data = tmp_path / "counts.csv"
    np.savetxt(data, np.column_stack([X, y]), delimiter=",", header="a,b,c,visits", comments="", fmt="%.6g")
    model = tmp_path / "m.safetensors"
    subprocess.run([sys.executable, "-m", "fastmlp", "train", "--train", str(data), "--target", "visits",
                    "--epochs", "5", "--task", "regression", *flags, "-o", str(model)],
                   check=True, capture_output=True)
    est = load(model)
    params = est.get_params()
    assert {k: params[k] for k in want} == want
    assert est.network_.loss_name == ("poisson" if want["loss"] == "poisson" else "mse")
    refit = clone(est).fit(X, y)
    assert refit.network_.loss_name == est.network_.loss_name
    assert tuple(refit.network_._core.dropout) == tuple(est.network_._core.dropout)


def test_a_sparse_target_is_refused_with_what_to_do():
    sp = pytest.importorskip("scipy.sparse")
    X = sp.random(20, 5, density=0.3, format="csr", random_state=0)
    Y = sp.csr_matrix(np.eye(2)[np.arange(20) % 2])
    net = fastmlp.Network([5, 3, 2], output="softmax", loss="cross_entropy")
    with pytest.raises(TypeError, match=r"Y must be dense .* pass Y.toarray\(\)"):
        net.fit(X, Y, epochs=1)
    net.fit(X, Y.toarray(), epochs=1)
