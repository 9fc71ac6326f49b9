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
