"""scikit-learn's numbers: its initialisation (fastmlp's init "sklearn"), its Adam
(``eps_hat``) step for step against its own AdamOptimizer, its dtype rule, its
early-stopping split and its ending of a diverging fit under early stopping."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the sklearn extra is not installed")
from sklearn.datasets import load_iris, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer  # noqa: E402

import fastmlp  # noqa: E402
import reference  # noqa: E402
from fastmlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

# --- initialisation ---------------------------------------------------------------------

@pytest.mark.parametrize("activation,factor", [("relu", 6), ("tanh", 6), ("sigmoid", 2)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sklearn_init_draws_weights_and_biases_from_sklearns_range(activation, factor, dtype):
    """Layer by layer, W then b, uniform in +-sqrt(factor / (in + out)) from the
    project's RNG (the reference's xoshiro256**), the output layer included."""
    sizes = [30, 20, 10, 3]
    net = fastmlp.Network(sizes, activation=activation, output="softmax", init="sklearn", seed=5, dtype=dtype)
    gen = reference.xoshiro256ss(5)
    if dtype == "float32":
        draw = lambda: np.float32((next(gen) >> 40) * 2.0**-24)  # noqa: E731
    else:
        draw = lambda: (next(gen) >> 11) * 2.0**-53  # noqa: E731
    for W, b in zip(net.weights, net.biases):
        bound = np.sqrt(factor / sum(W.shape))
        limit = W.dtype.type(bound)
        want_W = np.array([limit * (2 * draw() - 1) for _ in range(W.size)], dtype=W.dtype).reshape(W.shape)
        want_b = np.array([limit * (2 * draw() - 1) for _ in range(b.size)], dtype=W.dtype)
        np.testing.assert_allclose(W, want_W, rtol=1e-6 if dtype == "float32" else 1e-15)
        np.testing.assert_allclose(b, want_b, rtol=1e-6 if dtype == "float32" else 1e-15)
        assert np.abs(W).max() <= bound and np.abs(b).max() <= bound and np.abs(b).max() > bound / 2


def test_estimators_start_from_sklearns_distribution():
    """After one epoch at a negligible rate the parameters are the initial ones:
    their spread per layer is scikit-learn's own estimator's (uniform: bound / sqrt(3))."""
    X, y = make_classification(n_samples=300, n_features=40, n_informative=10, n_classes=3, random_state=0)
    for activation in ("relu", "logistic"):
        params = dict(hidden_layer_sizes=(200,), activation=activation, learning_rate_init=1e-12, max_iter=1,
                      random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours, theirs = MLPClassifier(**params).fit(X, y), SkMLPClassifier(**params).fit(X, y)
        for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
            # the standard deviation of m uniform draws is known to about 1/sqrt(m) (relative)
            assert a.std() == pytest.approx(b.std(), rel=5 / np.sqrt(min(a.size, 600)))
            assert np.abs(a).max() <= np.abs(b).max() * (1 + 5 / a.size) + 1e-9


# --- Adam, step for step ----------------------------------------------------------------

@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 2e-5)])
@pytest.mark.parametrize("eps", [1e-8, 1e-3])
def test_eps_hat_adam_steps_equal_sklearns_adam_optimizer(dtype, rtol, eps):
    """Each full-batch step of Network.fit(optimizer="adam", eps_hat=True) moves the
    parameters as scikit-learn's AdamOptimizer does, given the same gradients
    (the loss's plus l2 * W on the weights)."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 5))
    Y = np.eye(3)[rng.integers(0, 3, 40)]
    net = fastmlp.Network([5, 8, 3], activation="tanh", output="softmax", loss="cross_entropy", reduction="mean",
                          init="sklearn", seed=2, dtype=dtype)
    X, Y = X.astype(dtype), Y.astype(dtype)
    lr, b1, b2, l2 = 0.05, 0.8, 0.99, 0.01
    params = [p.copy() for p in (*net.weights, *net.biases)]
    theirs = AdamOptimizer(params, learning_rate_init=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    for step in range(8):
        dW, db = net.gradient(X, Y)
        grads = [g + l2 * W for g, W in zip(dW, net.weights)] + [g.copy() for g in db]
        theirs.update_params(params, grads)
        net.fit(X, Y, epochs=1, learning_rate=lr, optimizer="adam", beta1=b1, beta2=b2, eps=eps, eps_hat=True, l2=l2)
        for mine, want in zip((*net.weights, *net.biases), params):
            assert mine.dtype == np.dtype(dtype)
            np.testing.assert_allclose(mine, want, rtol=rtol, atol=rtol * 1e-3, err_msg=f"step {step + 1}")
    assert net._core.optimizer_steps == 8


def test_eps_hat_is_not_pytorchs_adam():
    """The two placements of eps give different steps (the test above can tell them apart)."""
    X, Y = np.eye(4)[:, :3], np.eye(4)[:, 1:]
    nets = [fastmlp.Network([3, 2, 3], output="softmax", loss="cross_entropy", init="sklearn", seed=1)
            for _ in range(2)]
    for net, eps_hat in zip(nets, (False, True)):
        net.fit(X, Y, epochs=3, learning_rate=0.1, optimizer="adam", eps=1e-3, eps_hat=eps_hat)
    assert np.abs(nets[0].weights[0] - nets[1].weights[0]).max() > 1e-4


def test_changing_eps_hat_starts_the_optimizer_afresh():
    X, Y = np.eye(4)[:, :3], np.eye(4)[:, 1:]
    net = fastmlp.Network([3, 2, 3], init="sklearn", seed=1)
    net.fit(X, Y, epochs=2, optimizer="adam", eps_hat=True)
    assert net._core.optimizer_steps == 2
    net.fit(X, Y, epochs=1, optimizer="adam", eps_hat=False)
    assert net._core.optimizer_steps == 1


# --- dtype follows the input -------------------------------------------------------------

@pytest.mark.parametrize("ours,theirs", [(MLPClassifier, SkMLPClassifier), (MLPRegressor, SkMLPRegressor)])
@pytest.mark.parametrize("X_dtype", [np.float32, np.float64, np.int64])
def test_dtype_follows_the_input_as_sklearns(ours, theirs, X_dtype):
    X, y = make_classification(n_samples=80, n_features=6, random_state=0)
    X = (X * 10).astype(X_dtype)
    params = dict(hidden_layer_sizes=(7,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mine, reference_ = ours(**params).fit(X, y), theirs(**params).fit(X, y)
    predict = "predict_proba" if ours is MLPClassifier else "predict"
    for attribute in ("coefs_", "intercepts_"):
        assert [p.dtype for p in getattr(mine, attribute)] == [p.dtype for p in getattr(reference_, attribute)]
    assert getattr(mine, predict)(X).dtype == getattr(reference_, predict)(X).dtype
    assert mine.coefs_[0].dtype == (np.float32 if X_dtype == np.float32 else np.float64)
    # other data: NumPy's promotion of its dtype and the network's, as scikit-learn's forward pass
    # (float64 data on a float32 network comes out float64)
    for other in (np.float32, np.float64):
        assert getattr(mine, predict)(X.astype(other)).dtype == getattr(reference_, predict)(X.astype(other)).dtype


def test_an_explicit_dtype_wins_over_the_input():
    X, y = make_classification(n_samples=80, n_features=6, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        wide = MLPClassifier(hidden_layer_sizes=(7,), max_iter=5, random_state=0, dtype="float64")
        narrow = MLPClassifier(hidden_layer_sizes=(7,), max_iter=5, random_state=0, dtype="float32")
        wide.fit(X.astype(np.float32), y)
        narrow.fit(X, y)
    assert wide.coefs_[0].dtype == np.float64 and wide.predict_proba(X).dtype == np.float64
    assert narrow.coefs_[0].dtype == np.float32 and narrow.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert narrow.predict_proba(X).dtype == np.float64  # float64 X, as scikit-learn's promotion gives
    # any spelling fastmlp.Network takes (np.float32 was refused); a dtype it refuses, refused
    spelt = MLPClassifier(hidden_layer_sizes=(7,), max_iter=5, random_state=0, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        spelt.fit(X, y)
    assert spelt.coefs_[0].tobytes() == narrow.coefs_[0].tobytes()
    with pytest.raises(ValueError, match="'dtype' parameter"):
        MLPClassifier(dtype=np.float16).fit(X, y)


# --- early stopping: scikit-learn's split, and a diverging fit ---------------------------

@pytest.mark.parametrize("y", [[0, 0, 0, 1], ["b", "b", "b", "a"], [True, True, True, False], [0, 0, 1, 1, 2]])
def test_early_stopping_split_errors_as_sklearns(y):
    """The validation split is scikit-learn's (stratified on its binarized labels):
    the same error, word for word."""
    X = np.arange(2 * len(y), dtype=float).reshape(-1, 2)
    with pytest.raises(ValueError) as theirs:
        SkMLPClassifier(early_stopping=True).fit(X, y)
    with pytest.raises(ValueError) as mine:
        MLPClassifier(early_stopping=True).fit(X, y)
    assert str(mine.value) == str(theirs.value)


def test_a_diverging_fit_with_early_stopping_keeps_the_best_parameters():
    """scikit-learn's test_mlp_diverging_loss, and what it implies: the fit
    ends without raising, its last validation score is NaN, and the
    parameters kept are finite and score the best validation score."""
    X, y = load_iris(return_X_y=True)
    params = dict(hidden_layer_sizes=100, activation="identity", solver="sgd", learning_rate_init=1, max_iter=20,
                  early_stopping=True, n_iter_no_change=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        SkMLPRegressor(**params).fit(X, y)  # the reference finishes too
    with pytest.warns(ConvergenceWarning, match="non-finite parameter weights at iteration"):
        mlp = MLPRegressor(**params).fit(X, y)
    assert isinstance(mlp.validation_scores_[-1], float) and np.isnan(mlp.validation_scores_[-1])
    assert all(np.isfinite(p).all() for p in mlp.coefs_ + mlp.intercepts_)
    assert np.isfinite(mlp.predict(X)).all()
    finite = [s for s in mlp.validation_scores_ if np.isfinite(s)]
    assert mlp.best_validation_score_ == (max(finite) if finite else -np.inf)
    # without early stopping, the same fit is an error (as scikit-learn's)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        MLPRegressor(**{**params, "early_stopping": False}).fit(X, y)


def test_early_stopping_keeps_the_best_epochs_parameters():
    """The parameters kept are those after the best-scoring epoch: refitting
    for exactly that many epochs (the same seed, split and shuffles) gives the
    same network."""
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    y = y / np.std(y)
    params = dict(hidden_layer_sizes=(10,), solver="sgd", momentum=0.0, learning_rate_init=0.02, max_iter=60,
                  early_stopping=True, n_iter_no_change=1000, random_state=3, batch_size=20, alpha=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        run = MLPRegressor(**params).fit(X, y)
        scores = run.validation_scores_
    best = int(np.nanargmax(scores)) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        again = MLPRegressor(**{**params, "max_iter": best}).fit(X, y)
    for a, b in zip(run.coefs_ + run.intercepts_, again.coefs_ + again.intercepts_):
        np.testing.assert_array_equal(a, b)
