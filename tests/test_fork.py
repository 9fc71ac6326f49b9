"""The thread pool across fork and interpreter exit, and the threads it keeps.

A forked child has only the thread that forked, so it must not wait for the
parent's pool; the interpreter may exit while a daemon thread still fits; and
asking for many different thread counts must not leave a pool of each behind.
Every child and subprocess runs under a timeout, so a regression fails
instead of hanging the run.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from contextlib import redirect_stdout

import numpy as np
import pytest

import fastmlp
from fastmlp.__main__ import main as cli
from reference import forward

try:
    import resource
except ImportError:  # Windows
    resource = None

TIMEOUT = 120  # seconds; a healthy child takes well under one
HAVE_PROC_TASKS = os.path.isdir("/proc/self/task")
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")

# Python 3.12+ warns that fork() in a process with threads may deadlock the
# child: the deadlock these tests prove does not happen to fastmlp's threads.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:.*use of fork\(\) may lead to deadlocks:DeprecationWarning")


def _problem() -> tuple[np.ndarray, np.ndarray]:
    """Rows enough for fit and predict to hand their work to the pool."""
    rng = np.random.default_rng(2024)
    X = rng.random((600, 20))
    Y = np.eye(3)[rng.integers(0, 3, 600)]
    return X, Y


def _pooled_work(folder: str) -> dict:
    """Every entry point that runs on the pool, on two threads."""
    X, Y = _problem()
    net = fastmlp.Network([20, 64, 3], seed=3)
    net.fit(X, Y, epochs=5, threads=2)
    model = tempfile.mkstemp(suffix=".safetensors", dir=folder)[1]
    data = tempfile.mkstemp(suffix=".csv", dir=folder)[1]
    net.save(model)
    np.savetxt(data, X, delimiter=",")
    # The command line writes through its own stream; capture fd 1 itself.
    with tempfile.TemporaryFile() as captured:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(captured.fileno(), 1)
        try:
            with redirect_stdout(io.StringIO()):
                status = cli(["predict", model, data, "--threads", "2"])
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        captured.seek(0)
        output = captured.read().decode()
    return {
        "weights": [W.copy() for W in net.weights],
        "biases": [b.copy() for b in net.biases],
        "predict": net.predict(X, threads=2),
        "loss": net.loss(X, Y),
        "gradient": net.gradient(X, Y),
        "cli_status": status,
        "cli_output": output,
    }


def _assert_same(child: dict, parent: dict) -> None:
    assert child["cli_status"] == parent["cli_status"] == 0
    assert child["cli_output"] == parent["cli_output"]
    assert child["loss"] == parent["loss"]
    for name in ("weights", "biases"):
        for c, p in zip(child[name], parent[name]):
            np.testing.assert_array_equal(c, p)
    np.testing.assert_array_equal(child["predict"], parent["predict"])
    for c, p in zip(child["gradient"], parent["gradient"]):
        for c_layer, p_layer in zip(c, p):
            np.testing.assert_array_equal(c_layer, p_layer)


@pytest.fixture
def parent(tmp_path):
    """The parent's results: the pool is running when the tests fork."""
    results = _pooled_work(str(tmp_path))
    X, _ = _problem()
    np.testing.assert_allclose(results["predict"], forward(results["weights"], results["biases"], X)[-1],
                               rtol=1e-12, atol=1e-12)
    rows = np.loadtxt(io.StringIO(results["cli_output"]), delimiter=",", ndmin=2, skiprows=1)  # after the header
    np.testing.assert_allclose(rows, results["predict"], rtol=1e-6)
    return results


@needs_fork
def test_os_fork_after_threaded_fit_and_predict(parent, tmp_path):
    result = tmp_path / "child.pickle"
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        status = 1
        try:
            with open(result, "wb") as f:
                pickle.dump(_pooled_work(str(tmp_path)), f)
            status = 0
        finally:
            os._exit(status)
    deadline = time.monotonic() + TIMEOUT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail(f"the forked child did not finish within {TIMEOUT} s")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
    with open(result, "rb") as f:
        _assert_same(pickle.load(f), parent)


@needs_fork
def test_multiprocessing_fork_after_threaded_fit_and_predict(parent, tmp_path):
    with multiprocessing.get_context("fork").Pool(2) as pool:
        answers = [pool.apply_async(_pooled_work, (str(tmp_path),)) for _ in range(2)]
        for answer in answers:
            _assert_same(answer.get(timeout=TIMEOUT), parent)


@needs_fork
def test_joblib_multiprocessing_backend_after_threaded_fit_and_predict(parent, tmp_path, monkeypatch):
    joblib = pytest.importorskip("joblib")
    # joblib's process pools start the way this context says (JOBLIB_START_METHOD sets it at import).
    monkeypatch.setattr(joblib.parallel, "DEFAULT_MP_CONTEXT", multiprocessing.get_context("fork"))
    answers = joblib.Parallel(n_jobs=2, backend="multiprocessing", timeout=TIMEOUT)(
        joblib.delayed(_pooled_work)(str(tmp_path)) for _ in range(2))
    for answer in answers:
        _assert_same(answer, parent)


# --- subprocesses ---------------------------------------------------------------------

def _run(script: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True,
                          text=True, timeout=TIMEOUT, env=env)


_BACKGROUND = """
    import sys, threading
    import numpy as np
    import fastmlp

    rng = np.random.default_rng(0)
    X, Y = rng.random((2000, 32)), rng.random((2000, 3))
    net = fastmlp.Network([32, 64, 3])
    net.predict(X, threads=2)  # the pool is alive from here on
    working = threading.Event()

    def fit():
        net.fit(X, Y, epochs=10**9, threads=2, callback=lambda epoch, logs: working.set())

    def predict():
        while True:
            net.predict(X, threads=2)
            working.set()

    if sys.argv[1] != "idle":
        threading.Thread(target=globals()[sys.argv[1]], daemon=True).start()
        working.wait()
    print("exiting", flush=True)
"""


@pytest.mark.parametrize("background", ["idle", "fit", "predict"])
def test_interpreter_exits_cleanly_while_the_pool_works(background):
    """Exit with the pool idle, or busy for a daemon thread's endless fit or
    predictions: status 0, nothing on stderr, within the timeout."""
    done = _run(_BACKGROUND, background)
    assert (done.returncode, done.stdout, done.stderr) == (0, "exiting\n", "")


# The start of the scripts that count the process's threads.
_COUNTING = """
    import os
    import numpy as np
    import fastmlp

    def threads():
        return len(os.listdir("/proc/self/task"))
"""

_THREAD_COUNTS = _COUNTING + """
    import json, time

    rng = np.random.default_rng(0)
    X = rng.random((20000, 8))
    net = fastmlp.Network([8, 16, 3])
    before = threads()
    most = 0
    for k in range(2, 65):
        net.predict(X, threads=k)
        most = max(most, threads())
    deadline = time.monotonic() + 60
    while threads() > before + max(os.cpu_count(), 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    print(json.dumps({"before": before, "most": most, "after": threads(),
                      "cpus": len(os.sched_getaffinity(0))}))
"""


@pytest.mark.skipif(not HAVE_PROC_TASKS, reason="counts threads in /proc/self/task")
def test_many_thread_counts_keep_the_threads_bounded():
    """predict with threads=2..64: the process never holds more than the 63
    workers the largest call needs (one pool per count held 2016), and the
    workers beyond the CPUs exit once idle."""
    done = _run(_THREAD_COUNTS)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert counts["before"] + 2 <= counts["most"] <= counts["before"] + 63, counts
    assert counts["after"] <= counts["before"] + max(counts["cpus"] - 1, 1), counts


_ENV_AFTER_IMPORT = _COUNTING + """
    rng = np.random.default_rng(0)
    X, Y = rng.random((6000, 8)), rng.random((6000, 3))
    net = fastmlp.Network([8, 16, 3])
    os.environ["FASTMLP_NUM_THREADS"] = "1"
    net.predict(X)
    before = threads()
    os.environ["FASTMLP_NUM_THREADS"] = "4"
    net.fit(X, Y, epochs=1)
    after_fit = threads()
    os.environ["FASTMLP_NUM_THREADS"] = "6"
    net.predict(X)
    print(fastmlp._core.default_threads(), after_fit - before, threads() - before)
"""


@pytest.mark.skipif(not HAVE_PROC_TASKS, reason="counts threads in /proc/self/task")
def test_fastmlp_num_threads_set_after_import_counts():
    """The variable is read at each call, not once: changed between calls, fit's
    default then runs on 4 threads and predict's on 6 (3 and 5 workers beside
    the caller), whatever the CPU count."""
    env = {k: v for k, v in os.environ.items() if k != "FASTMLP_NUM_THREADS"}
    done = _run(_ENV_AFTER_IMPORT, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["6", "3", "5"]


_FEW_THREADS_ALLOWED = _COUNTING + """
    import resource

    rng = np.random.default_rng(0)
    X = rng.random((4000, 8))
    net = fastmlp.Network([8, 16, 3])
    expected = net.predict(X, threads=1)
    before = threads()
    # Address space for a few thread stacks (their size is the stack limit's) but not 15.
    stack = resource.getrlimit(resource.RLIMIT_STACK)[0]
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (mapped + 4 * stack + (8 << 20), resource.RLIM_INFINITY))
    got = net.predict(X, threads=16)
    started = threads() - before
    np.save(os.sys.argv[1], np.stack([expected, got]))
    print(started)
"""


@pytest.mark.skipif(not HAVE_PROC_TASKS or resource is None
                    or not 1 << 20 <= resource.getrlimit(resource.RLIMIT_STACK)[0] <= 64 << 20,
                    reason="reads /proc/self/statm; thread stacks sized by a finite stack limit")
def test_threads_the_system_refuses_leave_the_results_unchanged(tmp_path):
    """Under an address-space limit that leaves room for only a few threads,
    predict(threads=16) runs on the threads that could start: no crash, no
    hang, no error, and the same bits as one thread."""
    out = tmp_path / "results.npy"
    done = _run(_FEW_THREADS_ALLOWED, str(out))
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 15  # the limit did refuse threads
    expected, got = np.load(out)
    np.testing.assert_array_equal(got, expected)


def _predict_in_child(X: np.ndarray) -> np.ndarray:
    return fastmlp.Network([20, 64, 3], seed=3).predict(X, threads=2)


@needs_fork
def test_fork_while_another_thread_runs_jobs_on_the_pool(tmp_path):
    """Forks taken while another thread's predictions hold the pool's locks:
    each child's own pool works and gives the parent's bits."""
    X, _ = _problem()
    expected = _predict_in_child(X)
    busy = fastmlp.Network([20, 64, 3], seed=4)
    stop = threading.Event()
    running = threading.Event()

    def predict_until_stopped():
        while not stop.is_set():
            busy.predict(X, threads=2)
            running.set()

    thread = threading.Thread(target=predict_until_stopped)
    thread.start()
    try:
        running.wait()
        with multiprocessing.get_context("fork").Pool(4) as pool:
            answers = [pool.apply_async(_predict_in_child, (X,)) for _ in range(8)]
            for answer in answers:
                np.testing.assert_array_equal(answer.get(timeout=TIMEOUT), expected)
    finally:
        stop.set()
        thread.join()
