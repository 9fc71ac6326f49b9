"""scipy.sparse input: Network and the estimators on CSR (and CSC/COO) matrices,
against the same data made dense (scipy's own toarray, which sums repeated
indices as its products do), the checks of hostile CSR structures, thread-count
independence, zero-copy and the memory of a large sparse fit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastmlp
from fastmlp import _sparse

sp = pytest.importorskip("scipy.sparse")

# (hidden activation, output, loss) pairs that cover every activation and loss
COMBOS = [
    ("sigmoid", "sigmoid", "mse"),
    ("tanh", "softmax", "cross_entropy"),
    ("relu", "identity", "mse"),
    ("leaky_relu", "sigmoid", "cross_entropy"),
    ("identity", "softmax", "cross_entropy"),
]


def random_csr(rng: np.random.Generator, n: int, d: int, per_row: int, *, index_dtype=np.int32,
               canonical: bool = False, dtype=np.float64) -> sp.csr_matrix:
    """A CSR matrix with `per_row` stored values a row (some rows empty); unless
    `canonical`, its columns unsorted and some repeated within a row."""
    indptr = [0]
    indices: list[int] = []
    for i in range(n):
        k = 0 if i % 7 == 3 else per_row
        cols = rng.integers(0, d, size=k)
        if canonical:
            cols = np.unique(cols)
        elif k > 1:
            cols[-1] = cols[0]  # a repeat
        indices.extend(cols.tolist())
        indptr.append(len(indices))
    data = rng.normal(size=len(indices)).astype(dtype)
    X = sp.csr_matrix((data, np.array(indices, index_dtype), np.array(indptr, index_dtype)), shape=(n, d))
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)  # scipy may narrow them
    assert X.indices.dtype == X.indptr.dtype == index_dtype
    return X


def targets(rng: np.random.Generator, n: int, k: int, output: str) -> np.ndarray:
    if output == "identity":
        return rng.normal(size=(n, k))
    return np.eye(k)[rng.integers(0, k, size=n)] if output == "softmax" else rng.integers(0, 2, size=(n, k)) * 1.0


def network(d: int, k: int, activation: str, output: str, loss: str, dtype="float64", seed=3) -> fastmlp.Network:
    return fastmlp.Network([d, 6, 5, k], activation=activation, output=output, loss=loss, reduction="mean",
                           init="glorot", seed=seed, dtype=dtype)


# --- the products against scipy and a dense fit ------------------------------------------------


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_predict_equals_the_dense_input(index_dtype, dtype):
    rng = np.random.default_rng(0)
    X = random_csr(rng, 300, 40, 5, index_dtype=index_dtype, dtype=dtype)
    net = network(40, 3, "tanh", "softmax", "cross_entropy", dtype=dtype)
    # scipy's X @ W (duplicates summed) is the first layer's product
    Z = np.tanh(X @ net.weights[0].astype(np.float64) + net.biases[0])
    dense = X.toarray()
    assert np.allclose(np.tanh(dense @ net.weights[0].astype(np.float64) + net.biases[0]), Z)
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(net.predict(X), net.predict(dense), rtol=tol, atol=tol)
    out = np.empty((300, 3), dtype=dtype)
    assert net.predict(sp.csr_array(X), out=out) is out
    np.testing.assert_allclose(out, net.predict(dense), rtol=tol, atol=tol)


@pytest.mark.parametrize("activation,output,loss", COMBOS)
def test_loss_and_gradient_equal_the_dense_input(activation, output, loss):
    rng = np.random.default_rng(1)
    X = random_csr(rng, 120, 30, 4)
    Y = targets(rng, 120, 3, output)
    w = rng.uniform(0, 2, size=120)
    net = network(30, 3, activation, output, loss)
    assert net.loss(X, Y) == pytest.approx(net.loss(X.toarray(), Y), rel=1e-12)
    dW, db = net.gradient(X, Y, sample_weight=w)
    dW_dense, db_dense = net.gradient(X.toarray(), Y, sample_weight=w)
    assert np.abs(dW[0]).max() > 0  # not trivially zero
    for a, b in zip(dW + db, dW_dense + db_dense):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("activation,output,loss", COMBOS)
@pytest.mark.parametrize("batch_size", [None, 16])
def test_fit_equals_a_dense_fit(activation, output, loss, batch_size):
    rng = np.random.default_rng(2)
    X = random_csr(rng, 100, 25, 4)
    Y = targets(rng, 100, 3, output)
    sparse_net = network(25, 3, activation, output, loss)
    dense_net = network(25, 3, activation, output, loss)
    options = dict(epochs=5, learning_rate=0.05, batch_size=batch_size, optimizer="momentum", momentum=0.9)
    sparse_net.fit(X, Y, **options)
    dense_net.fit(X.toarray(), Y, **options)
    for a, b in zip(sparse_net.weights + sparse_net.biases, dense_net.weights + dense_net.biases):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(sparse_net.history["loss"], dense_net.history["loss"], rtol=1e-10)


def test_fit_float32_int64_equals_a_dense_fit():
    rng = np.random.default_rng(3)
    X = random_csr(rng, 90, 20, 3, index_dtype=np.int64, dtype=np.float32)
    Y = targets(rng, 90, 2, "softmax")
    a = network(20, 2, "relu", "softmax", "cross_entropy", dtype="float32")
    b = network(20, 2, "relu", "softmax", "cross_entropy", dtype="float32")
    a.fit(X, Y, epochs=4, learning_rate=0.1, batch_size=10)
    b.fit(X.toarray(), Y, epochs=4, learning_rate=0.1, batch_size=10)
    np.testing.assert_allclose(a.weights[0], b.weights[0], rtol=1e-4, atol=1e-6)


def test_validation_split_and_validation_rows_equal_dense():
    rng = np.random.default_rng(4)
    X = random_csr(rng, 150, 20, 3)
    Y = targets(rng, 150, 3, "softmax")
    results = []
    for X_in, X_val in ((X, X[:40]), (X.toarray(), X[:40].toarray())):
        net = network(20, 3, "tanh", "softmax", "cross_entropy")
        net.fit(X_in, Y, epochs=3, learning_rate=0.1, batch_size=20, validation_fraction=0.2)
        other = network(20, 3, "tanh", "softmax", "cross_entropy")
        other.fit(X_in, Y, epochs=3, learning_rate=0.1, validation=(X_val, Y[:40]))
        results.append((net.history, other.history))
    (h_sparse, o_sparse), (h_dense, o_dense) = results
    for key in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(h_sparse[key], h_dense[key], rtol=1e-10)
        np.testing.assert_allclose(o_sparse[key], o_dense[key], rtol=1e-10)


@pytest.mark.parametrize("fmt", ["csc", "coo"])
def test_other_formats_are_converted(fmt):
    rng = np.random.default_rng(5)
    X = random_csr(rng, 50, 12, 3, canonical=True)
    net = network(12, 2, "sigmoid", "sigmoid", "mse")
    np.testing.assert_array_equal(net.predict(X.asformat(fmt)), net.predict(X))


def test_train_takes_sparse_input():
    rng = np.random.default_rng(6)
    X = random_csr(rng, 60, 15, 3)
    Y = targets(rng, 60, 3, "softmax")
    a = fastmlp.train(X, Y, hidden=4, epochs=20, seed=2)
    b = fastmlp.train(X.toarray(), Y, hidden=4, epochs=20, seed=2)
    np.testing.assert_allclose(a.weights[0], b.weights[0], rtol=1e-10, atol=1e-13)


# --- threads, zero copy, imports -----------------------------------------------------------------


def test_results_do_not_depend_on_the_thread_count():
    # large enough that batches go over the pool (rows x parameters >= 2^18)
    rng = np.random.default_rng(7)
    X = random_csr(rng, 1024, 3000, 30)
    Y = targets(rng, 1024, 4, "softmax")
    nets = []
    for threads in (1, 2, 3):
        net = fastmlp.Network([3000, 32, 4], activation="relu", output="softmax", loss="cross_entropy",
                              reduction="mean", init="he", seed=1)
        net.fit(X, Y, epochs=2, learning_rate=0.05, batch_size=512, threads=threads)
        nets.append(net)
        np.testing.assert_array_equal(net.predict(X, threads=threads), nets[0].predict(X, threads=1))
    for net in nets[1:]:
        for a, b in zip(net.weights + net.biases, nets[0].weights + nets[0].biases):
            np.testing.assert_array_equal(a, b)
    dense = fastmlp.Network([3000, 32, 4], activation="relu", output="softmax", loss="cross_entropy",
                            reduction="mean", init="he", seed=1)
    dense.fit(X.toarray(), Y, epochs=2, learning_rate=0.05, batch_size=512, threads=2)
    np.testing.assert_allclose(nets[0].weights[0], dense.weights[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_matching_arrays_are_read_in_place(index_dtype):
    rng = np.random.default_rng(8)
    X = random_csr(rng, 40, 10, 3, index_dtype=index_dtype)
    for a in (X.data, X.indices, X.indptr):
        a.flags.writeable = False  # read-only arrays are accepted as they are
    rows, cols, data, indices, indptr = _sparse.as_csr(X, "X", np.dtype("float64"))
    assert (rows, cols) == (40, 10)
    assert data is X.data and indices is X.indices and indptr is X.indptr
    net = network(10, 2, "tanh", "softmax", "cross_entropy")
    net.fit(X, targets(rng, 40, 2, "softmax"), epochs=2, learning_rate=0.1)
    # another value dtype or mixed index dtypes: converted once
    mixed = sp.csr_matrix(X)
    mixed.indptr = mixed.indptr.astype(np.int64 if index_dtype == np.int32 else np.int32)
    converted = _sparse.as_csr(mixed, "X", np.dtype("float32"))
    assert converted[2].dtype == np.float32 and converted[3].dtype == converted[4].dtype == np.int64
    np.testing.assert_allclose(net.predict(mixed), net.predict(X.toarray()), rtol=1e-12)


def test_importing_fastmlp_does_not_import_scipy():
    code = "import sys, fastmlp, fastmlp.network; assert 'scipy' not in sys.modules, 'scipy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- refused input -------------------------------------------------------------------------------


def hostile(mutate) -> sp.csr_matrix:
    X = random_csr(np.random.default_rng(9), 20, 8, 3, index_dtype=np.int64)
    mutate(X)
    return X


@pytest.mark.parametrize("mutate,message", [
    (lambda X: X.indices.__setitem__(0, 8), "indices must be in"),
    (lambda X: X.indices.__setitem__(1, -1), "indices must be in"),
    (lambda X: X.indices.__setitem__(2, 2**62), "indices must be in"),
    (lambda X: X.indptr.__setitem__(5, X.indptr[5] + 100), "indptr must not decrease"),
    (lambda X: X.indptr.__setitem__(-1, X.indptr[-1] - 1), "indptr must end at"),
    (lambda X: X.indptr.__setitem__(0, 1), "indptr must start at 0"),
    (lambda X: X.indptr.__setitem__(slice(1, None), 10**12), "indptr must end at"),
    (lambda X: X.data.__setitem__(4, np.nan), "must be finite"),
    (lambda X: X.data.__setitem__(4, -np.inf), "must be finite"),
])
def test_hostile_structures_are_refused(mutate, message):
    X = hostile(mutate)
    net = network(8, 2, "tanh", "softmax", "cross_entropy")
    Y = targets(np.random.default_rng(0), 20, 2, "softmax")
    before = [w.copy() for w in net.weights]
    dense = np.zeros((20, 8))
    for call in (lambda: net.predict(X), lambda: net.fit(X, Y, epochs=1), lambda: net.gradient(X, Y),
                 lambda: net.fit(dense, Y, epochs=1, validation=(X, Y))):
        with pytest.raises(ValueError, match=message):
            call()
    for a, b in zip(net.weights, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("which", ["indices", "indptr"])
def test_an_unsigned_index_past_int64_is_shown_as_it_is(which):
    # a uint64 2**64 - 1 wrapped to int64 and was reported as -1, a value the matrix does not hold
    X = random_csr(np.random.default_rng(11), 20, 8, 3, index_dtype=np.int64)
    net = network(8, 2, "tanh", "softmax", "cross_entropy")
    signed = net.predict(X)
    X.indices, X.indptr = X.indices.astype(np.uint64), X.indptr.astype(np.uint64)
    np.testing.assert_array_equal(net.predict(X), signed)  # in range: the same matrix
    getattr(X, which)[3] = 2**64 - 1
    message = (r"X.indices must be in \[0, 8\); found 18446744073709551615" if which == "indices" else
               r"X.indptr must hold offsets from 0 to the number of stored values \(\d+\); "
               r"found 18446744073709551615 at position 3")
    Y = targets(np.random.default_rng(0), 20, 2, "softmax")
    for call in (lambda: net.predict(X), lambda: net.fit(X, Y, epochs=1)):
        with pytest.raises(ValueError, match=message) as refused:
            call()
        assert "-1" not in str(refused.value)


def test_structures_of_the_wrong_size_are_refused():
    X = random_csr(np.random.default_rng(10), 20, 8, 3)
    net = network(8, 2, "tanh", "softmax", "cross_entropy")
    with pytest.raises(ValueError, match="8 columns|9 columns"):
        network(9, 2, "tanh", "softmax", "cross_entropy").predict(X)
    short = sp.csr_matrix(X)
    short.indices = short.indices[:-1]  # one index fewer than values
    with pytest.raises(ValueError, match="not a valid CSR"):
        net.predict(short)
    with pytest.raises(ValueError, match="empty"):
        net.predict(sp.csr_matrix((0, 8)))
    with pytest.raises(ValueError, match="same number of rows"):
        net.fit(X, np.zeros((19, 2)), epochs=1)
    with pytest.raises(TypeError, match="real numbers"):
        net.predict(sp.csr_matrix(X.toarray().astype(complex)))


# --- memory ---------------------------------------------------------------------------------------


def test_a_large_sparse_fit_stays_small():
    # 40,000 x 200,000 with 20 values a row: 64 GB dense; trained on its nonzeros
    code = textwrap.dedent("""
        import resource
        import numpy as np, scipy.sparse as sp, fastmlp
        n, d, k = 40_000, 200_000, 20
        rng = np.random.default_rng(0)
        X = sp.csr_matrix((rng.random(n * k), rng.integers(0, d, n * k), np.arange(0, n * k + 1, k)), shape=(n, d))
        Y = np.eye(2)[rng.integers(0, 2, n)]
        net = fastmlp.Network([d, 16, 2], activation="relu", output="softmax", loss="cross_entropy",
                              reduction="mean", init="he", seed=0)
        net.fit(X, Y, epochs=1, learning_rate=0.1, batch_size=200, threads=2)
        P = net.predict(X[:1000])
        assert np.isfinite(P).all() and np.isfinite(net.history["loss"]).all()
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        """)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    peak_kib = int(out.stdout.split()[-1])
    assert peak_kib < 1024 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"


# --- the estimators --------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_classifier_on_sparse_equals_dense(solver):
    from fastmlp.sklearn import MLPClassifier

    rng = np.random.default_rng(11)
    X = random_csr(rng, 120, 30, 4)
    y = rng.integers(0, 3, 120)
    kw = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=5, random_state=0, n_threads=1)
    with pytest.warns(Warning):  # not converged in 5 iterations
        a = MLPClassifier(**kw).fit(X, y)
    with pytest.warns(Warning):
        b = MLPClassifier(**kw).fit(X.toarray(), y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X.toarray()), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(a.predict_proba(X.tocsc()), a.predict_proba(X.toarray()), rtol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimators_early_stopping_and_partial_fit_on_sparse():
    from fastmlp.sklearn import MLPClassifier, MLPRegressor

    rng = np.random.default_rng(12)
    X = random_csr(rng, 200, 30, 4)
    y = rng.integers(0, 2, 200)
    a = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, max_iter=8, n_iter_no_change=100,
                      random_state=0).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, max_iter=8, n_iter_no_change=100,
                      random_state=0).fit(X.toarray(), y)
    np.testing.assert_allclose(a.validation_scores_, b.validation_scores_)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-9)
    r = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    s = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    t = rng.normal(size=200)
    for _ in range(3):
        r.partial_fit(X, t)
        s.partial_fit(X.toarray(), t)
    np.testing.assert_allclose(r.predict(X), s.predict(X.toarray()), rtol=1e-9, atol=1e-12)
