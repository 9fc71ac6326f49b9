"""Model selection on a Dask cluster: a GridSearchCV of fastmlp estimators run
through joblib's Dask backend on a LocalCluster bound to loopback.

The scheduler and two workers talk over TCP on 127.0.0.1; the workers run in
this process (worker processes would add many seconds of start-up and test
nothing more: pickling is covered by scikit-learn's checks)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the sklearn extra is not installed")
distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] (the dask extra) is not installed")

from joblib import parallel_backend  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from fastmlp.sklearn import MLPClassifier  # noqa: E402


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Dask's own, about its dependencies
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_grid_search_on_a_local_dask_cluster():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=200, learning_rate_init=0.01, random_state=0,
                                                         n_threads=1))
    grid = {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)], "mlpclassifier__alpha": [1e-4, 1e-1]}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with parallel_backend("dask"):
            remote = GridSearchCV(pipe, grid, cv=3).fit(X, y)
        workers = client.run(lambda: __import__("os").getpid())
    local = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert len(workers) == 2
    # the same seeds give the same networks in the workers' processes as here
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert remote.best_params_ == local.best_params_ and remote.best_score_ > 0.9


# --- partial_fit, as dask-ml's Incremental drives it ------------------------------------------

def _blocks(n_blocks=6, rows=200, seed=0):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n_blocks * rows, n_features=12, n_informative=8, n_classes=3,
                               random_state=seed)
    return X, y, [(X[i:i + rows], y[i:i + rows]) for i in range(0, len(X), rows)]


def _weights(est):
    return [a.copy() for a in (*est.coefs_, *est.intercepts_)]


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_is_one_epoch_of_fit(solver):
    X, y, _ = _blocks()
    params = dict(hidden_layer_sizes=(16,), solver=solver, learning_rate_init=0.01, batch_size=50, random_state=3)
    one = MLPClassifier(**params).partial_fit(X, y, classes=np.unique(y))
    with pytest.warns(Warning, match="Maximum iterations"):
        fitted = MLPClassifier(max_iter=1, **params).fit(X, y)
    assert one.n_iter_ == 1 and one.t_ == len(X) and len(one.loss_curve_) == 1
    assert len(one.network_.history["loss"]) == 1
    for a, b in zip(_weights(one), _weights(fitted)):
        np.testing.assert_array_equal(a, b)
    before = _weights(one)
    one.partial_fit(X[:100], y[:100])
    assert one.n_iter_ == 1 and one.t_ == len(X) + 100 and len(one.loss_curve_) == 2
    assert not np.array_equal(before[0], one.coefs_[0])


def test_partial_fit_needs_classes_first():
    X, y, _ = _blocks()
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, y)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_pickles_with_its_optimiser_state(solver):
    import pickle

    _, y, blocks = _blocks()
    classes = np.unique(y)
    params = dict(hidden_layer_sizes=(16,), solver=solver, learning_rate_init=0.01, random_state=0)
    straight, pickled, restarted = (MLPClassifier(**params) for _ in range(3))
    for i, (Xb, yb) in enumerate(blocks):
        straight.partial_fit(Xb, yb, classes=classes)
        pickled.partial_fit(Xb, yb, classes=classes)
        pickled = pickle.loads(pickle.dumps(pickled))
        restarted.partial_fit(Xb, yb, classes=classes)
        restarted = pickle.loads(pickle.dumps(restarted))
        restarted.network_.reset_optimizer()  # what losing the state across pickling would do
    for a, b in zip(_weights(straight), _weights(pickled)):
        np.testing.assert_array_equal(a, b)
    assert straight.loss_curve_ == pickled.loss_curve_ and straight.t_ == pickled.t_
    # the check has power: without the optimiser's state the steps differ
    assert not np.array_equal(straight.coefs_[0], restarted.coefs_[0])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")  # dask-ml's own, about its dependencies
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")  # distributed's, about ports and memory
def test_incremental_on_process_workers():
    """dask-ml's Incremental feeds a Dask array's blocks to partial_fit on two
    worker processes: the same network as partial_fit over the blocks here, and
    the accuracy of scikit-learn's MLPClassifier under the same wrapper."""
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers", reason="dask-ml is not installed")
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    X, y, blocks = _blocks(n_blocks=8, rows=250)
    X_test, y_test = X[-500:], y[-500:]
    dX, dy = da.from_array(X[:-500], chunks=250), da.from_array(y[:-500], chunks=250)
    classes = np.unique(y)
    params = dict(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster, distributed.Client(cluster):
        ours = wrappers.Incremental(MLPClassifier(**params), shuffle_blocks=False).fit(dX, dy, classes=classes)
        theirs = wrappers.Incremental(SkMLPClassifier(**params), shuffle_blocks=False).fit(dX, dy, classes=classes)
        ours_score = ours.score(da.from_array(X_test, chunks=250), da.from_array(y_test, chunks=250))
        theirs_score = theirs.score(da.from_array(X_test, chunks=250), da.from_array(y_test, chunks=250))
    local = MLPClassifier(**params)
    for Xb, yb in blocks[:-2]:
        local.partial_fit(Xb, yb, classes=classes)
    for a, b in zip(_weights(local), _weights(ours.estimator_)):
        np.testing.assert_array_equal(a, b)
    assert ours.estimator_.t_ == len(X) - 500
    assert ours_score == pytest.approx(float(np.mean(local.predict(X_test) == y_test)))
    assert ours_score > 0.6 and abs(ours_score - theirs_score) < 0.08, (ours_score, theirs_score)
