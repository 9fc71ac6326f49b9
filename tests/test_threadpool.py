"""Thread caps the ecosystem sets: threadpoolctl lists and limits fastmlp's
default thread count, and joblib's process workers (loky) get the inner limit
joblib gives them (OMP_NUM_THREADS), not every CPU each."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import _core

threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is not installed")


def fastmlp_info():
    found = [lib for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "fastmlp"]
    assert len(found) == 1, found  # the extension module, not other libraries named _core*
    return found[0]


@pytest.fixture
def natural_threads(monkeypatch):
    """A known natural default: FASTMLP_NUM_THREADS=3 and no setting in force."""
    monkeypatch.setenv("FASTMLP_NUM_THREADS", "3")
    _core.set_default_threads(0)
    yield 3
    _core.set_default_threads(0)


def test_threadpool_info_lists_fastmlp(natural_threads):
    info = fastmlp_info()
    assert info["internal_api"] == "fastmlp"
    assert os.path.basename(info["filepath"]).startswith("_core")
    assert os.path.samefile(info["filepath"], _core.__file__)
    assert info["num_threads"] == natural_threads == _core.default_threads()
    assert info["version"] == fastmlp.__version__


def test_threadpool_limits_caps_the_default_and_restores(natural_threads):
    with threadpoolctl.threadpool_limits(1):
        assert _core.default_threads() == 1
        assert fastmlp_info()["num_threads"] == 1
        with threadpoolctl.threadpool_limits(limits={"fastmlp": 2}):
            assert _core.default_threads() == 2
        assert _core.default_threads() == 1
    assert _core.default_threads() == natural_threads
    # restored to follow the variable again, not pinned at the old count
    os.environ["FASTMLP_NUM_THREADS"] = "5"
    assert _core.default_threads() == 5


def test_a_limit_on_blas_only_leaves_fastmlp(natural_threads):
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert _core.default_threads() == natural_threads


def test_fit_under_a_limit_gives_the_same_bits(natural_threads):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(400, 8)), rng.random((400, 3))

    def fit():
        net = fastmlp.Network([8, 32, 3], init="glorot", seed=2)
        return net.fit(X, Y, epochs=3, learning_rate=0.01, batch_size=64).weights[0].copy()

    free = fit()
    with threadpoolctl.threadpool_limits(1):
        limited = fit()
    np.testing.assert_array_equal(free, limited)


def test_set_default_threads_range():
    for bad in (-1, _core.MAX_THREADS + 1):
        with pytest.raises(ValueError, match="threads"):
            _core.set_default_threads(bad)


@pytest.mark.parametrize("omp, expected", [("1", 1), ("junk", None), ("100000", None)])
def test_omp_num_threads_caps_the_cpu_count(omp, expected):
    env = {k: v for k, v in os.environ.items() if k != "FASTMLP_NUM_THREADS"}
    env["OMP_NUM_THREADS"] = omp
    code = "import os, fastmlp._core as c; print(c.default_threads(), len(os.sched_getaffinity(0)))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    got, cpus = map(int, out.stdout.split())
    assert got == (expected if expected is not None else cpus)
    # FASTMLP_NUM_THREADS is the user's own choice and wins over OMP_NUM_THREADS
    env["FASTMLP_NUM_THREADS"] = "7"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.split()[0]) == 7


def _worker_default_threads(_):
    from fastmlp import _core as core

    return os.getpid(), core.default_threads(), os.environ.get("OMP_NUM_THREADS")


def test_loky_workers_use_joblib_inner_limit(monkeypatch):
    joblib = pytest.importorskip("joblib")
    monkeypatch.delenv("FASTMLP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    # joblib gives each of its process workers cpu_count // n_jobs threads (at
    # least 1), or inner_max_num_threads when given
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        got = joblib.Parallel(n_jobs=2)(joblib.delayed(_worker_default_threads)(i) for i in range(4))
    assert {(threads, omp) for _, threads, omp in got} == {(1, "1")}
    assert os.getpid() not in {pid for pid, _, _ in got}
