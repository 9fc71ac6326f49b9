"""fastmlp.sklearn: scikit-learn's own estimator checks, model selection, label
handling, and agreement with scikit-learn's MLP on the same problems."""

from __future__ import annotations

import pickle
import threading
import time

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="the sklearn extra is not installed")
from sklearn.datasets import load_iris, make_classification, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastmlp  # noqa: E402
from fastmlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

# Short fits that stop at max_iter are the point of many tests here.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# --- scikit-learn's estimator checks ---------------------------------------------------------

# Few epochs, as scikit-learn's own test suite configures its MLPs (max_iter=100,
# the default 100 units): check_regressors_train asks for R^2 > 0.5 after them,
# which narrower networks reach for only about half of the random starts (ours
# and scikit-learn's alike, starting from the same distribution).
CHECKED = [MLPClassifier(max_iter=100, random_state=0), MLPRegressor(max_iter=100, random_state=0)]


def expected_failed_checks(estimator):
    return {}


@parametrize_with_checks(CHECKED, expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# --- defaults and parameters -------------------------------------------------------------

@pytest.mark.parametrize("ours,theirs", [(MLPClassifier, SkMLPClassifier), (MLPRegressor, SkMLPRegressor)])
def test_same_parameters_and_defaults_as_sklearn(ours, theirs):
    mine, reference = ours().get_params(), theirs().get_params()
    extra = {"n_threads": None, "dtype": None, "dropout": 0.0} | ({"class_weight": None} if ours is MLPClassifier else {})
    assert mine == reference | extra


@pytest.mark.parametrize("name,value,error", [
    ("hidden_layer_sizes", (10, 0), ValueError), ("activation", "softsign", ValueError),
    ("solver", "newton", ValueError), ("alpha", -1.0, ValueError), ("batch_size", 0, ValueError),
    ("learning_rate_init", 0.0, ValueError), ("max_iter", 0, ValueError), ("momentum", 1.5, ValueError),
    ("validation_fraction", 1.0, ValueError), ("beta_1", 1.0, ValueError), ("epsilon", 0.0, ValueError),
    ("n_iter_no_change", 0, ValueError), ("dtype", "float16", ValueError), ("n_threads", 0, ValueError),
    ("random_state", "seed", TypeError), ("class_weight", [1, 2], TypeError),
])
def test_bad_parameters_name_themselves(name, value, error):
    X, y = make_classification(n_samples=30, n_features=4, random_state=0)
    with pytest.raises(error, match=f"'{name}' parameter"):
        MLPClassifier(**{name: value}).fit(X, y)


# --- the same steps as scikit-learn's MLP --------------------------------------------------

def same_start(ours, theirs, X, y):
    """Both estimators fitted for one epoch, then given our initial weights and
    set to continue (warm_start) from them: the next fits start identically."""
    ours.set_params(max_iter=1).fit(X, y)
    theirs.set_params(max_iter=1).fit(X, y)
    start = fastmlp.Network(ours.network_.sizes, init="glorot", seed=5)
    for mine, W, b in zip(range(ours.n_layers_ - 1), start.weights, start.biases):
        ours.coefs_[mine][...] = W
        ours.intercepts_[mine][...] = b + 0.1
        theirs.coefs_[mine] = W.copy()
        theirs.intercepts_[mine] = b + 0.1
    for est in (ours, theirs):
        est.set_params(warm_start=True, max_iter=15)
        est.best_loss_, est._no_improvement_count = np.inf, 0  # forget the different first epochs


# (momentum is written PyTorch's way in fastmlp, scikit-learn's way there: the
# same steps for a constant rate only, so the changing rates go without it)
@pytest.mark.parametrize("solver,momentum,schedule", [("sgd", 0.0, "constant"), ("sgd", 0.9, "constant"),
                                                     ("adam", 0.9, "constant"), ("sgd", 0.0, "invscaling"),
                                                     ("sgd", 0.0, "adaptive")])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression2"])
def test_full_batch_trajectory_equals_sklearn(kind, solver, momentum, schedule):
    if kind == "multiclass":
        X, y = make_classification(n_samples=60, n_features=5, n_informative=3, n_redundant=1, n_classes=3,
                                   random_state=0)
    elif kind == "binary":
        X, y = make_classification(n_samples=60, n_features=5, random_state=1)
    elif kind == "multilabel":
        X, y = make_multilabel_classification(n_samples=60, n_features=5, n_classes=3, random_state=2)
    else:
        X, y = make_regression(n_samples=60, n_features=5, n_targets=2, noise=0.1, random_state=3)
        y = y / 100
    Ours, Theirs = (MLPRegressor, SkMLPRegressor) if kind.startswith("regression") else (MLPClassifier,
                                                                                          SkMLPClassifier)
    # adaptive: the rate is divided by 5 whenever 2 epochs in a row fail to improve the loss by tol
    tol = 0.05 if kind.startswith("regression") else 0.02
    stopping = dict(n_iter_no_change=2, tol=tol) if schedule == "adaptive" else dict(n_iter_no_change=np.inf)
    params = dict(hidden_layer_sizes=(7, 4), activation="tanh", solver=solver, momentum=momentum, alpha=0.01,
                  learning_rate=schedule, learning_rate_init=0.05, shuffle=False, random_state=0, **stopping)
    ours, theirs = Ours(**params), Theirs(**params)
    same_start(ours, theirs, X, y)
    ours.fit(X, y)
    theirs.fit(X, y)
    if schedule == "adaptive":  # the rate was divided on the way
        assert theirs._optimizer.learning_rate < 0.05 and ours._solver_state["learning_rate"] < 0.05
    tol = 1e-9
    np.testing.assert_allclose(ours.loss_curve_[-15:], theirs.loss_curve_[-15:], rtol=tol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.predict_proba(X) if kind != "regression2" else ours.predict(X),
                               theirs.predict_proba(X) if kind != "regression2" else theirs.predict(X),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("solver,schedule", [("adam", "constant"), ("sgd", "invscaling")])
def test_one_call_per_fit_equals_one_call_per_epoch(solver, schedule):
    # fit trains in one C++ call (its callback keeps scikit-learn's books);
    # partial_fit in one call per epoch: the same steps, shuffles and rates
    X, y = make_classification(n_samples=90, n_features=6, n_informative=4, n_classes=3, random_state=0)
    params = dict(hidden_layer_sizes=(9,), solver=solver, learning_rate=schedule, learning_rate_init=0.02,
                  batch_size=16, n_iter_no_change=np.inf, random_state=4)
    whole = MLPClassifier(max_iter=12, **params).fit(X, y)
    steps = MLPClassifier(**params)
    for _ in range(12):
        steps.partial_fit(X, y, classes=[0, 1, 2])
    assert whole.n_iter_ == 12 and whole.t_ == steps.t_ == 12 * 90
    # invscaling's rate: fastmlp's own pow in one, Python's in the other (1 ulp apart at most)
    rtol = 0 if schedule == "constant" else 1e-12
    np.testing.assert_allclose(whole.loss_curve_, steps.loss_curve_, rtol=rtol)
    for a, b in zip(whole.coefs_ + whole.intercepts_, steps.coefs_ + steps.intercepts_):
        np.testing.assert_allclose(a, b, rtol=rtol)


def test_lbfgs_reaches_sklearns_loss():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours = MLPClassifier(hidden_layer_sizes=(10,), solver="lbfgs", alpha=1e-2, max_iter=500, random_state=0).fit(X, y)
    theirs = SkMLPClassifier(hidden_layer_sizes=(10,), solver="lbfgs", alpha=1e-2, max_iter=500,
                             random_state=0).fit(X, y)
    # L-BFGS paths are chaotic: an ulp anywhere can lead to another minimum,
    # so "reaches" means a loss no worse than scikit-learn's (within 20%).
    assert ours.loss_ <= theirs.loss_ * 1.2
    assert ours.score(X, y) >= theirs.score(X, y) - 0.02


# --- labels ---------------------------------------------------------------------------------

def test_string_labels_multiclass():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    Xs = StandardScaler().fit_transform(X)
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0).fit(Xs, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 3
    P = clf.predict_proba(Xs)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(Xs), clf.classes_[P.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(Xs), np.log(P))
    assert clf.score(Xs, names) > 0.95


def test_binary_labels():
    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    labels = np.where(y == 1, "yes", "no")
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0).fit(X, labels)
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic" and list(clf.classes_) == ["no", "yes"]
    P = clf.predict_proba(X)
    assert P.shape == (200, 2)
    np.testing.assert_allclose(P[:, 0], 1 - P[:, 1])
    np.testing.assert_array_equal(clf.predict(X), np.where(P[:, 1] > 0.5, "yes", "no"))
    assert clf.score(X, labels) > 0.9


def test_multilabel():
    X, Y = make_multilabel_classification(n_samples=200, n_features=8, n_classes=4, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=400, random_state=0).fit(X, Y)
    theirs = SkMLPClassifier(hidden_layer_sizes=(32,), max_iter=400, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 4
    np.testing.assert_array_equal(clf.classes_, theirs.classes_)
    P = clf.predict_proba(X)
    assert P.shape == (200, 4)
    np.testing.assert_array_equal(clf.predict(X), (P > 0.5).astype(int))
    assert clf.score(X, Y) == pytest.approx(theirs.score(X, Y), abs=0.1)


def test_partial_fit_needs_classes_then_learns():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:50], y[:50], classes=[0, 1, 2])
    first = clf.loss_
    for _ in range(30):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and clf.t_ == 50 + 30 * 300 and len(clf.loss_curve_) == 31
    assert clf.loss_ < first / 2
    with pytest.raises(ValueError, match="not the same as on last call"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
        MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=[0, 1, 2])


# --- fitting --------------------------------------------------------------------------------

def test_convergence_warning_and_early_stopping():
    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(5\\)"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    clf = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=5, learning_rate_init=0.01,
                        max_iter=500, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_) and clf.best_loss_ is None
    assert clf.n_iter_ - 1 - int(np.argmax(clf.validation_scores_)) > 5  # stopped n_iter_no_change + 1 after the best
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        clf.partial_fit(X, y)


def test_predictions_on_mini_batches_equal_the_whole_set():
    X, y = make_classification(n_samples=257, n_features=7, random_state=0)
    for est in (MLPClassifier(hidden_layer_sizes=(30, 20), max_iter=20, random_state=0),
                MLPRegressor(hidden_layer_sizes=(30, 20), max_iter=20, random_state=0)):
        est.fit(X, y.astype(float) if isinstance(est, MLPRegressor) else y)
        method = est.predict_proba if isinstance(est, MLPClassifier) else est.predict
        whole = method(X)
        pieces = np.concatenate([method(X[i : i + 10]) for i in range(0, 257, 10)])
        np.testing.assert_array_equal(pieces, whole)


def test_sample_and_class_weights():
    X, y = make_classification(n_samples=120, n_features=5, weights=[0.8], random_state=0)
    params = dict(hidden_layer_sizes=(8,), max_iter=50, shuffle=False, random_state=0)
    # a weight of 0 is the same as leaving the row out (full batch, no shuffling)
    sw = np.ones(120)
    sw[::3] = 0
    a = MLPClassifier(**params).fit(X, y, sample_weight=sw)
    b = MLPClassifier(**params).fit(X[sw > 0], y[sw > 0])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-10)
    # class_weight multiplies into the sample weights
    balanced = MLPClassifier(class_weight="balanced", **params).fit(X, y)
    counts = np.bincount(y)
    manual = MLPClassifier(**params).fit(X, y, sample_weight=(120 / (2 * counts))[y])
    np.testing.assert_allclose(balanced.predict_proba(X), manual.predict_proba(X), rtol=1e-10)
    assert balanced.predict(X).mean() > MLPClassifier(**params).fit(X, y).predict(X).mean()


def test_float32_and_threads_give_the_same_network():
    X, y = make_classification(n_samples=200, n_features=10, random_state=0)
    one = MLPClassifier(hidden_layer_sizes=(64,), max_iter=10, random_state=3, n_threads=1).fit(X, y)
    two = MLPClassifier(hidden_layer_sizes=(64,), max_iter=10, random_state=3, n_threads=2).fit(X, y)
    f32 = MLPClassifier(hidden_layer_sizes=(64,), max_iter=10, random_state=3, dtype="float32").fit(X, y)
    for a, b in zip(one.coefs_, two.coefs_):
        np.testing.assert_array_equal(a, b)
    assert f32.coefs_[0].dtype == np.float32 and f32.predict_proba(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(f32.predict_proba(X), one.predict_proba(X), atol=1e-3)


@pytest.mark.parametrize("ours,theirs,method", [(MLPClassifier, SkMLPClassifier, "predict_proba"),
                                                (MLPClassifier, SkMLPClassifier, "predict_log_proba"),
                                                (MLPRegressor, SkMLPRegressor, "predict")])
def test_predictions_have_scikit_learns_dtype(ours, theirs, method):
    # a float32 network gave float32 for float64 X; scikit-learn's forward pass promotes X's dtype
    # with its coefs_' (float64 X: float64; int8 X: float32), and so must ours
    import scipy.sparse as sp

    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    for fit_dtype in (np.float32, np.float64):
        a = ours(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X.astype(fit_dtype), y)
        b = theirs(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X.astype(fit_dtype), y)
        assert a.coefs_[0].dtype == b.coefs_[0].dtype == fit_dtype
        for x_dtype in ("float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"):
            Xp = X.astype(x_dtype)
            got = getattr(a, method)(Xp).dtype
            with np.errstate(divide="ignore"):  # scikit-learn's log of a probability that is 0 (int8 X)
                assert got == getattr(b, method)(Xp).dtype, (fit_dtype, x_dtype, got)
        for x_dtype in ("float32", "float64"):
            Xs = sp.csr_matrix(X.astype(x_dtype))
            assert getattr(a, method)(Xs).dtype == getattr(b, method)(Xs).dtype
        assert getattr(a, method)(X.tolist()).dtype == getattr(b, method)(X.tolist()).dtype == np.float64


def test_float64_predictions_of_a_float32_network_are_computed_in_float64():
    # as scikit-learn computes them: float64 X times the float32 coefs_, promoted
    X, y = make_regression(n_samples=50, n_features=3, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0).fit(X.astype(np.float32), y)
    hidden = np.maximum(X @ reg.coefs_[0].astype(np.float64) + reg.intercepts_[0], 0)
    expected = (hidden @ reg.coefs_[1].astype(np.float64) + reg.intercepts_[1]).ravel()
    np.testing.assert_allclose(reg.predict(X), expected, rtol=1e-12, atol=1e-12)
    assert reg.coefs_[0].dtype == np.float32  # the estimator's network is untouched


@pytest.mark.parametrize("dtype", [np.float32, np.dtype("float32"), "f4", "float32", "single"])
def test_dtype_takes_every_spelling_network_takes(dtype, tmp_path):
    from sklearn.base import clone

    from fastmlp.sklearn import load
    assert fastmlp.Network([2, 2], dtype=dtype).dtype == np.float32
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0, dtype=dtype).fit(X, y)
    assert est.coefs_[0].dtype == np.float32 and est.get_params()["dtype"] is dtype
    assert clone(est).get_params()["dtype"] == dtype
    est.save(tmp_path / "m.st")  # kept by its name
    back = load(tmp_path / "m.st")
    assert back.get_params()["dtype"] == "float32" and back.coefs_[0].dtype == np.float32
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))


@pytest.mark.parametrize("dtype", ["float16", np.int32, "nope", np.complex128])
def test_dtype_refuses_what_network_refuses(dtype):
    with pytest.raises((TypeError, ValueError), match="dtype must be 'float64' or 'float32'"):
        fastmlp.Network([2, 2], dtype=dtype)
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    with pytest.raises(ValueError, match="The 'dtype' parameter of MLPClassifier must be None, 'float64' or"):
        MLPClassifier(dtype=dtype).fit(X, y)


@pytest.mark.parametrize("weights, error, message", [
    ({"yes": np.nan}, ValueError, "class_weight's weights must be finite numbers >= 0; got nan for class 'yes'"),
    ({0: None}, TypeError, "class_weight's weights must be finite numbers >= 0; got None for class 0"),
    ({0: "2"}, TypeError, "class_weight's weights must be finite numbers >= 0; got '2' for class 0"),
    ({0: True}, TypeError, "class_weight's weights must be finite numbers >= 0; got True for class 0"),
    ({0: -1.0}, ValueError, "class_weight's weights must be finite numbers >= 0; got -1.0 for class 0"),
    ({1: np.inf}, ValueError, "class_weight's weights must be finite numbers >= 0; got inf for class 1"),
    ({0: 1.0, 5: 2.0}, ValueError, "class_weight names 5, which is not among the classes 0, 1, and gives no weight to 1"),
    ({"no": 1.0}, ValueError, "class_weight names 'no', which is not among the classes 0, 1, and gives no weight to 0, 1"),
])
def test_class_weight_is_checked_and_named(weights, error, message):
    # these said "l2 must be a finite number" or "sample_weight must be finite", or trained on a string
    import re

    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    for fit in (lambda est: est.fit(X, y), lambda est: est.partial_fit(X, y, classes=[0, 1])):
        with pytest.raises(error, match=re.escape(message)):
            fit(MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, class_weight=weights))


def test_class_weight_keys_follow_scikit_learns_rule():
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    params = dict(hidden_layer_sizes=(3,), max_iter=5, shuffle=False, random_state=0)
    # a key that is not a class is fine while every class has a weight (a fold may lack a class)
    extra = MLPClassifier(**params, class_weight={0: 1.0, 1: 3.0, 7: 2.0}).fit(X, y)
    exact = MLPClassifier(**params, class_weight={0: 1.0, 1: 3.0}).fit(X, y)
    np.testing.assert_array_equal(extra.coefs_[0], exact.coefs_[0])
    np.testing.assert_array_equal(compute_sample_weight({0: 1.0, 1: 3.0, 7: 2.0}, y), compute_sample_weight(
        {0: 1.0, 1: 3.0}, y))
    # and refused where scikit-learn refuses it
    with pytest.raises(ValueError, match="are not in class_weight"):
        compute_sample_weight({0: 1.0, 7: 2.0}, y)
    with pytest.raises(ValueError, match="class_weight names 7"):
        MLPClassifier(**params, class_weight={0: 1.0, 7: 2.0}).fit(X, y)
    # classes left out weigh 1; labels of any type name them
    names = np.array(["a", "b"])[y]
    one = MLPClassifier(**params, class_weight={"b": 2.0}).fit(X, names)
    two = MLPClassifier(**params).fit(X, names, sample_weight=np.where(y == 1, 2.0, 1.0))
    np.testing.assert_array_equal(one.coefs_[0], two.coefs_[0])


def test_coefs_are_the_network():
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
    clf.coefs_[1][...] = 0  # in place
    clf.intercepts_[1] = np.array([3.0])  # replaced
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-3.0)))
    assert np.shares_memory(clf.coefs_[0], clf.network_.weights[0])


def test_pickle_round_trip_then_continue():
    X, y = make_classification(n_samples=100, n_features=5, random_state=0)
    names = np.array(["a", "b"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0).fit(X, names)
    clf.intercepts_[1] = clf.intercepts_[1] + 0.5  # replaced, not modified in place: still pickled
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(copy.intercepts_[1], clf.intercepts_[1])
    assert copy.loss_curve_ == clf.loss_curve_ and list(copy.classes_) == ["a", "b"]
    assert np.shares_memory(copy.coefs_[0], copy.network_.weights[0])
    copy.partial_fit(X, names)
    assert len(copy.loss_curve_) == 21


# --- model selection ------------------------------------------------------------------------

def test_pipeline_grid_search_and_cross_validation():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=300, random_state=0))
    grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)],
                               "mlpclassifier__alpha": [1e-4, 1.0]}, cv=3)
    grid.fit(X, y)
    scores = cross_val_score(pipe, X, y, cv=3)
    assert grid.best_score_ > 0.9 and len(grid.cv_results_["params"]) == 4
    assert scores.shape == (3,) and scores.mean() > 0.9
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
    assert grid.best_estimator_.score(X_te, y_te) > 0.85


def test_threading_backend_runs_fits_in_parallel():
    from joblib import parallel_backend

    X, y = make_classification(n_samples=4000, n_features=50, random_state=0)
    inside = []  # (start, end) of every C++ fit call, from any thread
    lock = threading.Lock()
    original = fastmlp.Network.fit

    def timed_fit(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            with lock:
                inside.append((start, time.perf_counter()))

    grid_params = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1]}
    est = MLPClassifier(hidden_layer_sizes=(256,), max_iter=3, batch_size=2000, random_state=0, n_threads=1)
    fastmlp.Network.fit = timed_fit
    try:
        with parallel_backend("threading", n_jobs=2):
            parallel = GridSearchCV(est, grid_params, cv=2, n_jobs=2).fit(X, y)
    finally:
        fastmlp.Network.fit = original
    sequential = GridSearchCV(est, grid_params, cv=2, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(parallel.cv_results_["mean_test_score"], sequential.cv_results_["mean_test_score"])
    # Two fits were inside C++ at the same moment: only possible when the GIL is released.
    inside.sort()
    overlaps = sum(b_start < a_end for (_, a_end), (b_start, _) in zip(inside, inside[1:]))
    assert len(inside) >= 8 and overlaps > 0
