"""The command line's answers for one-output networks, and what it does when
its output cannot be written: through a subprocess, as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import fastmlp

sklearn_metrics = pytest.importorskip("sklearn.metrics")
preprocessing = pytest.importorskip("sklearn.preprocessing")

from test_cli import COMMANDS, DOORS, cmd, door, run  # noqa: E402, F401  (test_cli's front doors and fixtures)


def _binary_csv(path, n, seed):
    """Two features and a 0/1 label (a single label column); the rows."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = (X[:, 0] - X[:, 1] + 0.4 * rng.standard_normal(n) > 0).astype(int)
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", fmt="%.17g")
    return X, y


def _sklearn_binary(p):
    return preprocessing.LabelBinarizer().fit([0, 1]).inverse_transform(np.ravel(p))


def test_train_with_one_label_column_reports_the_true_accuracy(cmd, tmp_path):
    _binary_csv(tmp_path / "train.csv", 120, 1)
    X, y = _binary_csv(tmp_path / "test.csv", 80, 2)
    model = tmp_path / "m.safetensors"
    res = run(cmd, "train", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
              "--labels", "1", "--hidden", "4", "--epochs", "300", "--lr", "0.05", "--seed", "2",
              "--quiet", "-o", str(model))
    assert res.returncode == 0, res.stderr
    predicted = _sklearn_binary(fastmlp.load(model).predict(X))
    expected = sklearn_metrics.accuracy_score(y, predicted)
    assert expected != np.mean(y == 0)  # what an argmax of one column would report
    assert res.stdout == f"Accuracy: {100 * expected:.2f}%\n"


def test_predict_and_eval_classes_of_one_identity_output(cmd, tmp_path):
    X, y = _binary_csv(tmp_path / "data.csv", 200, 3)
    net = fastmlp.Network([2, 5, 1], output="identity", init="glorot", seed=3)
    net.biases[-1][...] += 0.25 - np.median(net.predict(X))  # outputs on both sides of 0 and of 0.5
    net.save(tmp_path / "m.safetensors")
    P = net.predict(X)
    assert np.any((P > 0) & (P <= 0.5))  # rows where a threshold of 0 would say class 1
    reference = _sklearn_binary(P)
    res = run(cmd, "predict", "--classes", str(tmp_path / "m.safetensors"), str(tmp_path / "data.csv"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[0] == "class"
    np.testing.assert_array_equal(np.array(res.stdout.split()[1:], dtype=int), reference)
    res = run(cmd, "eval", str(tmp_path / "m.safetensors"), str(tmp_path / "data.csv"))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"Accuracy: {100 * sklearn_metrics.accuracy_score(y, reference):.2f}%"
    counts = np.array([line.split()[1:] for line in lines[3:5]], dtype=int)
    np.testing.assert_array_equal(counts, sklearn_metrics.confusion_matrix(y, reference, labels=[0, 1]))


def test_eval_refuses_an_all_zero_one_hot_row(cmd, tmp_path):
    net = fastmlp.Network([2, 3, 3], seed=1)
    net.save(tmp_path / "m.safetensors")
    (tmp_path / "data.csv").write_text("0,0,1,0,0\n1,1,0,0,0\n")
    res = run(cmd, "eval", str(tmp_path / "m.safetensors"), str(tmp_path / "data.csv"))
    assert res.returncode == 1
    assert f"{tmp_path / 'data.csv'}, data row 2 has no single largest value" in res.stderr
    assert res.stdout == "" and res.stderr.count("\n") == 1


# --- output that cannot be written ---------------------------------------------------------


@pytest.fixture
def files(tmp_path):
    net = fastmlp.Network([2, 3, 2], seed=1)
    net.save(tmp_path / "m.safetensors")
    (tmp_path / "data.csv").write_text("0,0,1,0\n1,1,0,1\n")
    return str(tmp_path / "m.safetensors"), str(tmp_path / "data.csv")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [
    ("--version",), ("--help",), ("train", "--help"), ("train", "--epochs", "3", "--quiet"),
    ("predict", "{model}", "{data}"), ("eval", "{model}", "{data}"),
])
def test_a_full_disk_fails_the_command(cmd, files, args):
    args = [a.format(model=files[0], data=files[1]) for a in args]
    with open("/dev/full", "w") as full:
        res = subprocess.run([*cmd, *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert res.returncode == 1, res.stderr
    assert res.stderr == f"fastmlp: cannot write to standard output: {os.strerror(28)}\n"  # ENOSPC


def test_a_closed_stdout_fails_the_command(cmd):
    res = subprocess.run([*cmd, "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         timeout=120, preexec_fn=lambda: os.close(1))
    assert res.returncode == 1, res.stderr
    assert res.stderr == f"fastmlp: cannot write to standard output: {os.strerror(9)}\n"  # EBADF


def test_a_closed_pipe_ends_predict_quietly(door, tmp_path):
    rng = np.random.default_rng(0)
    np.savetxt(tmp_path / "data.csv", rng.standard_normal((50_000, 2)), delimiter=",")  # far more than a pipe holds
    net = fastmlp.Network([2, 3, 2], seed=1)
    net.save(tmp_path / "m.safetensors")
    with subprocess.Popen([*door, "predict", str(tmp_path / "m.safetensors"), str(tmp_path / "data.csv")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout.readline() == b"output_0,output_1\n"  # the header
        first = proc.stdout.readline()  # `| head -2`
        proc.stdout.close()
        stderr = proc.stderr.read()
        status = proc.wait(timeout=120)
    assert np.array(first.decode().split(","), dtype=float) == pytest.approx(
        net.predict(np.loadtxt(tmp_path / "data.csv", delimiter=",", max_rows=1)[None])[0])
    assert stderr == b""
    # the Python program exits 1; the native one dies of SIGPIPE, as `cat` does
    assert status == (1 if door is DOORS["python"] else -signal.SIGPIPE)
