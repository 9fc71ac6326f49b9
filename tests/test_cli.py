"""The fastmlp command line through a subprocess, as a user runs it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

import fastmlp

COMMANDS = {"module": [sys.executable, "-m", "fastmlp"]}
if shutil.which("fastmlp"):
    COMMANDS["script"] = [shutil.which("fastmlp")]


def run(cmd, *args):
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(params=list(COMMANDS))
def cmd(request):
    return COMMANDS[request.param]


def test_train_with_no_arguments_runs_the_article(cmd, iris):
    res = run(cmd, "train")
    assert res.returncode == 0, res.stderr
    match = re.fullmatch(r"Accuracy: (\d+\.\d\d)%\n", res.stdout)
    assert match, res.stdout
    # the same experiment through the Python API gives the same figure
    X, Y, Xt, Yt = iris
    net = fastmlp.train(X, Y, hidden=5, epochs=8000, learning_rate=0.2, seed=0)
    assert float(match[1]) == pytest.approx(100 * fastmlp.accuracy(net.predict(Xt), Yt), abs=0.005)


def test_train_options(cmd, tmp_path):
    train_csv = tmp_path / "train.csv"
    # two features, three one-hot labels, no header
    train_csv.write_text("0,0,1,0,0\n0,1,0,1,0\n1,0,0,0,1\n1,1,1,0,0\n")
    res = run(cmd, "train", "--train", str(train_csv), "--test", str(train_csv), "--hidden", "4,3",
              "--epochs", "50", "--lr=0.5", "--seed", "3", "--threads", "2")
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(r"Accuracy: \d+\.\d\d%\n", res.stdout)


def test_float32_gives_the_article_accuracy_too(cmd, iris):
    X, Y, Xt, Yt = iris
    net = fastmlp.train(X, Y, dtype="float32")
    res = run(cmd, "train", "--dtype", "float32")
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"Accuracy: {100 * fastmlp.accuracy(net.predict(Xt), Yt):.2f}%\n"


@pytest.mark.parametrize("args,status,message", [
    ((), 2, "usage: fastmlp"),
    (("fly",), 2, "unknown command 'fly'"),
    (("train", "--epochs", "-3"), 2, "--epochs: expected a non-negative integer, got '-3'"),
    (("train", "--lr", "nan"), 2, "--lr: expected a finite number"),
    (("train", "--hidden", "5,0"), 2, "layer widths must be positive"),
    (("train", "--hidden"), 2, "--hidden: missing value"),
    (("train", "--bogus", "1"), 2, "unknown option '--bogus'"),
    (("train", "--dtype", "float16"), 2, "--dtype: expected float64 or float32"),
    (("train", "--threads", "0"), 2, "--threads: expected 1 to 1024"),
    (("train", "--train", "/nonexistent/x.csv"), 1, "/nonexistent/x.csv: cannot open"),
])
def test_errors_are_one_line_with_the_right_status(cmd, args, status, message):
    res = run(cmd, *args)
    assert res.returncode == status
    assert message in res.stderr
    if args:
        assert res.stderr.count("\n") == 1, res.stderr


def test_bad_csv_names_file_line_and_column(cmd, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c,d,e\n0,0,1,0,0\n0,x,0,1,0\n")
    res = run(cmd, "train", "--train", str(bad))
    assert res.returncode == 1
    assert f"{bad}, line 3, column 2: 'x' is not a number" in res.stderr
    bad.write_text("0,0,1,0,0\n0,nan,0,1,0\n")
    assert "line 2, column 2: 'nan' is not a finite number" in run(cmd, "train", "--train", str(bad)).stderr
    bad.write_text("0,0,1,0,0\n0,0,1,0\n")
    assert "line 2: expected 5 fields, found 4" in run(cmd, "train", "--train", str(bad)).stderr


def test_help_and_version(cmd):
    assert "--hidden" in run(cmd, "train", "--help").stdout
    assert "commands:" in run(cmd, "--help").stdout
    assert run(cmd, "--version").stdout == f"fastmlp {fastmlp.__version__}\n"


# --- training options (through one front door: both run the same C++) -------------------------

CMD = COMMANDS.get("script", COMMANDS["module"])


def test_training_flags_match_the_python_options(iris):
    cmd = CMD
    res = run(cmd, "train", "--optimizer", "adam", "--lr", "0.01", "--batch-size", "16", "--epochs", "60",
              "--seed", "3", "--l2", "1e-4", "--clip-norm", "1", "--schedule", "step", "--step-size", "10",
              "--gamma", "0.5", "--validation-fraction", "0.2", "--early-stopping", "5", "--quiet")
    assert res.returncode == 0 and res.stderr == "", res.stderr
    X, Y, Xt, Yt = iris
    net = fastmlp.train(X, Y, hidden=5, epochs=60, learning_rate=0.01, seed=3, batch_size=16, optimizer="adam",
                        l2=1e-4, clip_norm=1.0, schedule="step", step_size=10, gamma=0.5, validation_fraction=0.2,
                        early_stopping=5)
    assert res.stdout == f"Accuracy: {100 * fastmlp.accuracy(net.predict(Xt), Yt):.2f}%\n"
    res = run(cmd, "train", "--optimizer", "momentum", "--nesterov", "--momentum", "0.5", "--lr", "0.05",
              "--schedule", "cosine", "--lr-min", "0.01", "--epochs", "100")
    assert res.returncode == 0, res.stderr
    net = fastmlp.train(X, Y, hidden=5, epochs=100, learning_rate=0.05, optimizer="momentum", nesterov=True,
                        momentum=0.5, schedule="cosine", lr_min=0.01)
    assert res.stdout == f"Accuracy: {100 * fastmlp.accuracy(net.predict(Xt), Yt):.2f}%\n"


@pytest.mark.parametrize("args,message", [
    (["--optimizer", "rmsprop"], "optimizer must be one of"),
    (["--momentum", "1.5"], "momentum must be in [0, 1); got 1.5"),
    (["--nesterov=yes"], "--nesterov: takes no value"),
    (["--validation-fraction", "1.5"], "--validation-fraction: expected a number between 0 and 1"),
])
def test_bad_training_flags(args, message):
    res = run(CMD, "train", *args)
    assert res.returncode == 2 and res.stdout == "", res.stderr
    assert message in res.stderr and res.stderr.count("\n") == 1, res.stderr


def test_long_runs_show_progress_and_ctrl_c_exits_130():
    proc = subprocess.Popen([*CMD, "train", "--epochs", "100000000"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    err = b""
    deadline = time.monotonic() + 30
    while b"epoch" not in err and time.monotonic() < deadline:
        err += os.read(proc.stderr.fileno(), 4096)
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=30)
    err = (err + rest).decode()
    assert proc.returncode == 130 and out == b"", err
    assert re.search(r"\repoch \d+/100000000  loss \d", err), err
    assert err.endswith("\nfastmlp: interrupted\n"), err
