"""The fastmlp command line through a subprocess, as a user runs it."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastmlp

DATA = Path(__file__).parent.parent / "data"

COMMANDS = {"module": [sys.executable, "-m", "fastmlp"]}
if shutil.which("fastmlp"):
    COMMANDS["script"] = [shutil.which("fastmlp")]
# The native program of a CMake build, when FASTMLP_PROGRAM names it (.ci/run does).
NATIVE = [os.environ["FASTMLP_PROGRAM"]] if os.environ.get("FASTMLP_PROGRAM") else None
if NATIVE:
    COMMANDS["native"] = NATIVE
# The front doors that run different code up to the C++ function: the Python
# package's (console script, else python -m fastmlp) and the native program.
DOORS = {"python": COMMANDS.get("script", COMMANDS["module"]), **({"native": NATIVE} if NATIVE else {})}


def run(cmd, *args):
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(params=list(COMMANDS))
def cmd(request):
    return COMMANDS[request.param]


@pytest.fixture(params=list(DOORS))
def door(request):
    return DOORS[request.param]


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
    (("train", "--epochs", "-3"), 2, "--epochs: epochs must be an integer >= 0; got -3"),
    (("train", "--lr", "nan"), 2, "--lr: learning_rate must be a finite number >= 0; got nan"),
    (("train", "--hidden", "5,0"), 2, "layer widths must be positive"),
    (("train", "--hidden"), 2, "--hidden: missing value"),
    (("train", "--bogus", "1"), 2, "unknown option '--bogus'"),
    (("train", "--dtype", "float16"), 2, "--dtype: expected float64 or float32"),
    (("train", "--threads", "0"), 2, "--threads: threads must be an integer in [1, 1024]; got 0"),
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
    assert f"{bad}, line 3, column 2 ('b'): 'x' is not a number" in res.stderr
    bad.write_text("0,0,1,0,0\n0,nan,0,1,0\n")
    assert "line 2, column 2: 'nan' is not a finite number" in run(cmd, "train", "--train", str(bad)).stderr
    bad.write_text("0,0,1,0,0\n0,0,1,0\n")
    assert "line 2: expected 5 fields, found 4" in run(cmd, "train", "--train", str(bad)).stderr


def test_help_and_version(cmd):
    assert "--hidden" in run(cmd, "train", "--help").stdout
    assert "--classes" in run(cmd, "predict", "--help").stdout
    assert "confusion matrix" in run(cmd, "eval", "-h").stdout
    top = run(cmd, "--help").stdout
    assert "commands:" in top and all(f"  {c} " in top for c in ("train", "predict", "eval"))
    assert run(cmd, "--version").stdout == f"fastmlp {fastmlp.__version__}\n"


# --- model files: train -o, predict, eval ----------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory, iris):
    """Networks saved from Python: float64 and float32, with their paths."""
    X, Y, _, _ = iris
    nets = {}
    for dtype in ("float64", "float32"):
        net = fastmlp.train(X, Y, hidden=[6, 4], epochs=300, seed=5, dtype=dtype)
        path = tmp_path_factory.mktemp("models") / f"iris-{dtype}.safetensors"
        net.save(path)
        nets[dtype] = (net, path)
    return nets


def _confusion(text):
    """The confusion matrix printed by eval, as an array (after its two header lines,
    up to the blank line before the per-class figures)."""
    lines = text.splitlines()
    return np.array([[int(v) for v in line.split()[1:]] for line in lines[3:lines.index("")]])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_eval_a_network_saved_from_python(door, saved, iris, dtype):
    net, path = saved[dtype]
    _, _, X_test, Y_test = iris
    res = run(door, "eval", str(path), str(DATA / "test.csv"))
    assert res.returncode == 0, res.stderr
    P = net.predict(X_test)
    lines = res.stdout.splitlines()
    assert lines[0] == f"Accuracy: {100 * fastmlp.accuracy(P, Y_test):.2f}%"
    assert lines[1] == "Confusion matrix (rows: true class, columns: predicted class):"
    assert lines[2].split() == ["setosa", "virginica", "versicolor"]  # the CSV header's label columns
    np.testing.assert_array_equal(_confusion(res.stdout), fastmlp.confusion_matrix(Y_test, P))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_predict_prints_every_digit(door, saved, iris, dtype):
    net, path = saved[dtype]
    _, _, X_test, _ = iris
    res = run(door, "predict", str(path), str(DATA / "test.csv"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == "output_0,output_1,output_2"  # a file saved without class names
    printed = np.loadtxt(io.StringIO(res.stdout), delimiter=",", dtype=np.float64, ndmin=2, skiprows=1)
    # the shortest digits that read back to each value: exactly net.predict
    np.testing.assert_array_equal(printed.astype(dtype), net.predict(X_test))
    classes = run(door, "predict", "--classes", str(path), str(DATA / "test.csv"))
    assert classes.stdout == "class\n" + "".join(f"{c}\n" for c in net.predict(X_test).argmax(axis=1))
    no_header = run(door, "predict", "--no-header", str(path), str(DATA / "test.csv"))
    assert no_header.stdout == res.stdout.split("\n", 1)[1]


def test_predict_streams_long_files_and_ignores_label_columns(door, saved, tmp_path, rng):
    net, path = saved["float64"]
    X = rng.random((2500, 4))  # several blocks of rows
    features = tmp_path / "features.csv"
    np.savetxt(features, X, delimiter=",", fmt="%.17g")
    with_labels = tmp_path / "labelled.csv"
    np.savetxt(with_labels, np.hstack([X, np.eye(3)[rng.integers(0, 3, 2500)]]), delimiter=",", fmt="%.17g",
               header="a,b,c,d,x,y,z", comments="")
    res = run(door, "predict", str(path), str(features), "--threads", "2")
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(np.loadtxt(io.StringIO(res.stdout), delimiter=",", skiprows=1), net.predict(X))
    assert run(door, "predict", str(path), str(with_labels)).stdout == res.stdout
    # one label column said so; a class-index column for eval
    with_index = tmp_path / "index.csv"
    truth = rng.integers(0, 3, 2500)
    np.savetxt(with_index, np.hstack([X, truth[:, None]]), delimiter=",", fmt="%.17g")
    assert run(door, "predict", "--labels", "1", str(path), str(with_index)).stdout == res.stdout
    ev = run(door, "eval", "--labels=1", str(path), str(with_index))
    assert ev.returncode == 0, ev.stderr
    assert ev.stdout.splitlines()[0] == f"Accuracy: {100 * fastmlp.accuracy(net.predict(X), truth):.2f}%"
    np.testing.assert_array_equal(_confusion(ev.stdout), fastmlp.confusion_matrix(truth, net.predict(X)))


def test_train_saves_what_python_trains(door, tmp_path, iris):
    X, Y, X_test, _ = iris
    out = tmp_path / "cli.safetensors"
    res = run(door, "train", "--epochs", "200", "--seed", "3", "--hidden", "5,4", "-o", str(out))
    assert res.returncode == 0, res.stderr
    loaded = fastmlp.load(out)
    expected = fastmlp.train(X, Y, hidden=[5, 4], epochs=200, seed=3)
    assert repr(loaded) == repr(expected)  # seed and init recorded as Python records them
    for p, q in zip((*loaded.weights, *loaded.biases), (*expected.weights, *expected.biases)):
        assert p.tobytes() == q.tobytes()
    np.testing.assert_array_equal(loaded.predict(X_test), expected.predict(X_test))
    # a second run replaces the file
    assert run(door, "train", "--epochs", "10", "--save", str(out)).returncode == 0
    assert fastmlp.load(out).seed == 0


def test_network_flags_build_what_python_builds(door, tmp_path, iris):
    X, Y, X_test, _ = iris
    out = tmp_path / "deep.safetensors"
    res = run(door, "train", "--hidden", "8,6", "--activation", "relu,leaky_relu", "--leaky-slope", "0.1",
              "--output", "softmax", "--loss", "cross_entropy", "--reduction", "mean", "--init", "he_normal",
              "--optimizer", "adam", "--lr", "0.01", "--batch-size", "16", "--epochs", "30", "--seed", "5",
              "--quiet", "-o", str(out))
    assert res.returncode == 0, res.stderr
    expected = fastmlp.train(X, Y, hidden=(8, 6), activation=("relu", "leaky_relu"), leaky_slope=0.1,
                             output="softmax", loss="cross_entropy", reduction="mean", init="he_normal",
                             optimizer="adam", learning_rate=0.01, batch_size=16, epochs=30, seed=5)
    loaded = fastmlp.load(out)
    assert repr(loaded) == repr(expected)
    for p, q in zip((*loaded.weights, *loaded.biases), (*expected.weights, *expected.biases)):
        assert p.tobytes() == q.tobytes()
    assert res.stdout == f"Accuracy: {100 * fastmlp.accuracy(expected.predict(X_test), iris[3]):.2f}%\n"


def test_train_never_overwrites_its_input(door, tmp_path):
    data = tmp_path / "train.csv"
    shutil.copy(DATA / "train.csv", data)
    before = data.read_bytes()
    for flag in ("--train", "--test"):
        res = run(door, "train", flag, str(data), "--epochs", "1", "-o", str(tmp_path / "." / "train.csv"))
        assert res.returncode == 2
        assert "refusing to overwrite it" in res.stderr and res.stderr.count("\n") == 1
    assert data.read_bytes() == before


@pytest.mark.parametrize("args,status,message", [
    (("predict", "{model}"), 2, "expected MODEL and DATA.csv"),
    (("predict", "{model}", "{csv}", "extra"), 2, "unexpected argument 'extra'"),
    (("predict", "--classes=1", "{model}", "{csv}"), 2, "--classes: takes no value"),
    (("eval", "--classes", "{model}", "{csv}"), 2, "unknown option '--classes'"),
    (("eval", "--labels", "2", "{model}", "{csv}"), 2, "--labels: expected 3 (one-hot"),
    (("train", "--labels", "0"), 2, "--labels: a network needs at least 1"),
    (("train", "-o"), 2, "-o: missing value"),
    (("train", "--activation", "relu,softmax"), 2, "--activation: activation must be one of"),
    (("train", "--hidden", "4,4", "--activation", "relu,tanh,relu"), 2, "--activation: 3 names for 2 hidden layers"),
    (("train", "--output", "max"), 2, "--output: output must be one of"),
    (("train", "--output", "identity", "--loss", "cross_entropy"), 2, "needs output 'softmax' or 'sigmoid'"),
    (("train", "--loss", "poisson", "--task", "classification"), 2,
     "--task classification and --loss poisson conflict: loss 'poisson' fits counts or rates (a regression)"),
    (("train", "--task", "classification", "--output", "exp"), 2,
     "--task classification and --output exp conflict: output 'exp' gives counts or rates"),
    (("train", "--init", "zeros"), 2, "init must be one of"),
    (("train", "--leaky-slope", "-1"), 2, "--leaky-slope: expected a number >= 0"),
    (("eval", "{tmp}/missing.st", "{csv}"), 1, "missing.st: cannot open for reading"),
    (("eval", "{model}", "{tmp}/missing.csv"), 1, "missing.csv: cannot open for reading"),
    (("eval", "{truncated}", "{csv}"), 1,
     "truncated.st' is not a fastmlp model file (tensor 'layers.2.bias': data_offsets"),
    (("predict", "{csv}", "{csv}"), 1, "test.csv' is not a fastmlp model file (it starts with text, as a CSV file does"),
    (("predict", "{model}", "{model}"), 1, "safetensors, line 1, column 4: text after the closing quote"),
    (("predict", "{model}", "{narrow}"), 1, "3 columns, but the network takes 4 inputs"),
    (("eval", "{model}", "{narrow}"), 1, "3 columns, but the network's 4 inputs and 3 label column(s) make 7"),
    (("train", "-o", "{tmp}/no/such/dir/m.st", "--epochs", "1"), 1, "m.st: cannot save there"),
])
@pytest.mark.parametrize("where", ["in-process", *(["native"] if NATIVE else [])])
def test_model_command_errors(where, capfd, saved, tmp_path, args, status, message):
    net, model = saved["float64"]
    truncated = tmp_path / "truncated.st"
    truncated.write_bytes(model.read_bytes()[:-5])
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("1,2,3\n4,5,6\n")
    fill = dict(model=model, csv=DATA / "test.csv", tmp=tmp_path, truncated=truncated, narrow=narrow)
    args = [a.format(**fill) for a in args]
    if where == "native":
        res = run(NATIVE, *args)
    else:  # the console script's own function, without the cost of a process per case
        from fastmlp.__main__ import main

        returncode = main(args)
        out, err = capfd.readouterr()
        res = subprocess.CompletedProcess(args, returncode, out, err)
    assert res.returncode == status, res.stderr
    assert message in res.stderr
    assert res.stderr.count("\n") == 1 and res.stdout == ""


def test_hostile_text_in_a_file_stays_on_one_line(door, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3,4,0,0,1\n1,2,\x1b[31mred\x0b,4,0,0,1\n")
    res = run(door, "train", "--train", str(bad))
    assert res.returncode == 1
    assert "'\\x1b[31mred\\x0b' is not a number" in res.stderr and res.stderr.count("\n") == 1


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
    (["--momentum", "1.5"], "--momentum: momentum must be a number in [0, 1); got 1.5"),
    (["--nesterov=yes"], "--nesterov: takes no value"),
    (["--validation-fraction", "1.5"], "--validation-fraction: validation_fraction must be a number in (0, 1); got 1.5"),
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


def test_train_refuses_a_leaky_slope_float32_rounds_to_0(door, tmp_path):
    res = run(door, "train", "--dtype", "float32", "--activation", "leaky_relu", "--leaky-slope", "1e-50",
              "--epochs", "1", "-o", str(tmp_path / "n.safetensors"))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "leaky_slope" in res.stderr and "float32" in res.stderr, res.stderr
    assert not (tmp_path / "n.safetensors").exists()
    # float64 holds it as a normal number: the same flags train
    res = run(door, "train", "--activation", "leaky_relu", "--leaky-slope", "1e-50", "--epochs", "1", "--quiet")
    assert res.returncode == 0 and res.stdout.startswith("Accuracy: "), res.stderr
