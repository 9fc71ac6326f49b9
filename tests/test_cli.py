"""The fastmlp command line through a subprocess, as a user runs it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

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
