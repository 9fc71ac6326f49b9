"""The core's table of fit options is the one definition: Network.fit, train(), the
command line, the type stub and the docs' option table (docs/options.md) all agree with it."""

from __future__ import annotations

import ast
import inspect
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastmlp
from fastmlp import _core

ROOT = Path(__file__).resolve().parents[1]
TABLE = _core.fit_option_table()
CLI = [os.environ["FASTMLP_PROGRAM"]] if os.environ.get("FASTMLP_PROGRAM") else [sys.executable, "-m", "fastmlp"]


def flag(row: dict) -> str:
    return "--" + row["name"].replace("_", "-")


def bad_values(row: dict) -> list:
    """Values the row's rule refuses, derived from the rule's text."""
    rule = row["rule"]
    if row["kind"] == "str":
        return ["nope"]
    if row["kind"] == "bool":
        return []
    m = re.fullmatch(r"an integer >= (\d+)", rule)
    if m:
        return [int(m.group(1)) - 1]
    m = re.fullmatch(r"an integer in \[(\d+), (\d+)\]", rule)
    if m:
        return [int(m.group(1)) - 1, int(m.group(2)) + 1]
    m = re.fullmatch(r"a finite number (>=?) (\S+)", rule)
    if m:
        low = float(m.group(2))
        return [low if m.group(1) == ">" else low - 1.0, math.inf]
    m = re.fullmatch(r"a number in ([\[(])(\S+), (\S+)([\])])", rule)
    if m:
        low, high = float(m.group(2)), float(m.group(3))
        return [low if m.group(1) == "(" else low - 1.0, high if m.group(4) == ")" else high + 1.0]
    raise AssertionError(f"a rule this test cannot read: {rule!r}")


CASES = [(row, value) for row in TABLE for value in bad_values(row)]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.random((12, 4)), np.eye(3)[rng.integers(0, 3, 12)]


@pytest.mark.parametrize("row,value", CASES, ids=[f"{r['name']}={v!r}" for r, v in CASES])
def test_a_bad_value_gets_one_verdict_from_python_and_the_command_line(row, value, data, tmp_path):
    X, Y = data
    with pytest.raises(ValueError) as python:
        fastmlp.Network([4, 3, 3]).fit(X, Y, **{"epochs": 1, row["name"]: value})
    message = str(python.value)
    assert message.startswith(f"{row['name']} must be {row['rule']}; got "), message
    if not row["on_command_line"]:
        return
    text = "inf" if value == math.inf else str(value)
    epochs = [] if row["name"] == "epochs" else ["--epochs", "1"]
    res = subprocess.run([*CLI, "train", *epochs, flag(row), text], capture_output=True, text=True)
    assert res.returncode == 2 and res.stdout == "", res.stderr
    assert res.stderr == f"fastmlp train: {flag(row)}: {message}\n"


@pytest.mark.parametrize("row", [r for r in TABLE if r["kind"] != "str"], ids=lambda r: r["name"])
def test_a_value_of_the_wrong_type_is_a_type_error(row, data):
    X, Y = data
    with pytest.raises(TypeError, match=f"^{row['name']} must be an? "):
        fastmlp.Network([4, 3, 3]).fit(X, Y, **{"epochs": 1, row["name"]: "3"})


def test_a_value_of_the_wrong_type_on_the_command_line_names_the_option():
    res = subprocess.run([*CLI, "train", "--epochs", "ten"], capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr == "fastmlp train: --epochs: epochs must be an int; got 'ten'\n"


def test_none_is_refused_where_the_option_has_no_none(data):
    X, Y = data
    for row in TABLE:
        if row["none_means"] is None:
            with pytest.raises(TypeError, match=f"{row['name']} must not be None"):
                fastmlp.Network([4, 3, 3]).fit(X, Y, **{"epochs": 1, row["name"]: None})


def test_network_fit_and_train_take_every_option_with_the_tables_default():
    fit = inspect.signature(fastmlp.Network.fit).parameters
    train = inspect.signature(fastmlp.train).parameters
    for row in TABLE:
        assert row["name"] in fit, row["name"]
        assert repr(fit[row["name"]].default) == row["default"], row["name"]
        if row["name"] in train:
            assert repr(train[row["name"]].default) == row["default"], row["name"]
    # and nothing that looks like an option is left out of the table
    not_options = {"self", "X", "Y", "sample_weight", "validation", "callback", "progress"}
    assert set(fit) - not_options == {row["name"] for row in TABLE}


def test_the_stub_lists_every_option_with_its_type():
    tree = ast.parse((ROOT / "python/fastmlp/_core.pyi").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "FitOptions")
    method = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "from_kwargs")
    stub = {a.arg: ast.unparse(a.annotation) for a in method.args.kwonlyargs}
    assert list(stub) == [row["name"] for row in TABLE]
    for row in TABLE:
        want = row["kind"] + (" | None" if row["none_means"] is not None else "")
        if row["name"] == "class_weight":
            want = "str | Mapping[int, float] | None"
        assert stub[row["name"]] == want, row["name"]


def docs_table() -> str:
    """The docs' table of fit options, as the core's table makes it."""
    lines = ["| option | command line | default | values | what it does |", "|---|---|---|---|---|"]
    for row in TABLE:
        default = f"`{row['default']}`" + (f": {row['none_means']}" if row["none_means"] else "")
        if row["kind"] == "bool":
            cli = f"`{flag(row)}`, `--no-{flag(row)[2:]}`"
        else:
            cli = f"`{flag(row)}`" + (f", `{row['alias']}`" if row["alias"] else "")
        lines.append(f"| `{row['name']}` | {cli if row['on_command_line'] else '(Python only)'} | {default} "
                     f"| {row['rule']} | {row['doc']} |")
    return "\n".join(lines) + "\n"


def test_the_docs_table_is_the_core_table():
    text = (ROOT / "docs" / "options.md").read_text()
    begin, end = "<!-- fit options: begin -->\n", "<!-- fit options: end -->\n"
    assert begin in text and end in text
    got = text[text.index(begin) + len(begin):text.index(end)]
    assert got == docs_table(), "docs/options.md's fit option table differs from the core's; it should read:\n" + docs_table()


def test_the_command_lines_help_lists_every_option():
    res = subprocess.run([*CLI, "train", "--help"], capture_output=True, text=True)
    assert res.returncode == 0
    for row in TABLE:
        assert (flag(row) in res.stdout) == row["on_command_line"], row["name"]


# --- values at the edges of what Python can hand over ---------------------------------


@pytest.mark.parametrize("name,value,error,match", [
    ("epochs", 10**5000, ValueError, "epochs must be an integer >= 0; got an int of 16610 bits"),
    ("learning_rate", 10**5000, ValueError, "learning_rate must be a finite number >= 0; got an int of 16610 bits"),
    ("learning_rate", 2**1100, ValueError, "learning_rate must be a finite number >= 0; got"),
    ("optimizer", "\ud800", ValueError, "optimizer must be one of"),
    ("epochs", np.timedelta64(5), TypeError, "epochs must be an int; got numpy.timedelta64"),
    ("epochs", list(range(10**6)), TypeError, "epochs must be an int; got list"),
    ("class_weight", {0: 10**5000}, ValueError, r"class_weight\[0\] must be a finite number >= 0"),
], ids=["huge epochs", "huge int rate", "int rate past float", "surrogate", "timedelta", "long list", "huge weight"])
def test_odd_python_values_are_refused_naming_the_option(name, value, error, match, data):
    X, Y = data
    with pytest.raises(error, match=match):
        fastmlp.Network([4, 3, 3], output="softmax", loss="cross_entropy").fit(X, Y, **{"epochs": 1, name: value})


def test_class_weight_takes_any_mapping(data):
    import types

    X, Y = data
    a = fastmlp.Network([4, 3, 3], seed=1).fit(X, Y, epochs=2, class_weight={0: 2.0})
    b = fastmlp.Network([4, 3, 3], seed=1).fit(X, Y, epochs=2, class_weight=types.MappingProxyType({0: 2.0}))
    np.testing.assert_array_equal(a.weights[0], b.weights[0])


def test_class_weight_needs_a_classifier():
    rng = np.random.default_rng(1)
    net = fastmlp.Network([2, 2, 1], output="identity")
    with pytest.raises(ValueError, match="class_weight needs a classifier's output layer .* 'identity'"):
        net.fit(rng.random((4, 2)), np.array([[3.7], [-2.0], [10.0], [0.2]]), epochs=1, class_weight="balanced")


def test_early_stopping_restores_nothing_when_no_epoch_was_best():
    # every validation loss NaN (on_divergence="continue"): no epoch is best, so
    # best_epoch is None and nothing is said to be restored
    rng = np.random.default_rng(0)
    X, Y = rng.random((40, 3)), np.eye(3)[rng.integers(0, 3, 40)]
    net = fastmlp.Network([3, 4, 3], output="softmax", loss="cross_entropy")
    net.fit(X, Y, epochs=10, early_stopping=2, learning_rate=1e308, on_divergence="continue",
            validation_fraction=0.3)
    assert np.isnan(net.history["val_loss"]).all()
    assert net.best_epoch is None


def test_validation_fraction_messages_show_the_value_as_given():
    with pytest.raises(ValueError, match="validation_fraction 1e-09 of 1 rows leaves no rows to train on"):
        fastmlp.Network([3, 3]).fit(np.ones((1, 3)), np.ones((1, 3)), epochs=1, validation_fraction=1e-9)


@pytest.mark.parametrize("args,message", [
    (["--lr", "1e999"], "--lr: learning_rate must be a finite number >= 0; got 1e999"),
    (["--shuffle", "--no-shuffle"], "--shuffle: given twice"),
    (["--activation", "relu,"], "--activation: activation must be one of"),
    (["-o", "-"], "-o: '-' would be standard output"),
    (["--train", "-", "--test", "-"], "--train and --test cannot both read standard input"),
])
def test_command_line_edges(args, message):
    res = subprocess.run([*CLI, "train", "--epochs", "1", *args], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and res.stderr.count("\n") == 1, res.stderr


def test_a_tiny_learning_rate_on_the_command_line_is_python_s_float():
    # 1e-400 is 0.0 to Python's float(), so both doors accept it and train nothing
    res = subprocess.run([*CLI, "train", "--epochs", "2", "--lr", "1e-400", "--quiet"], capture_output=True, text=True)
    zero = subprocess.run([*CLI, "train", "--epochs", "2", "--lr", "0", "--quiet"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout == zero.stdout


def test_ctrl_c_while_train_reads_standard_input_interrupts_it(tmp_path):
    import signal
    import time

    proc = subprocess.Popen([*CLI, "train", "--train", "-", "--epochs", "1", "-o", str(tmp_path / "m.st")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write((ROOT / "data" / "train.csv").read_bytes()[:200])
    proc.stdin.flush()
    time.sleep(3)  # reading, waiting for the rest
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    proc.stdin.close()
    assert proc.returncode == 130, err
    assert out == b"" and err.decode().count("\n") == 1 and "interrupted" in err.decode()
    assert not (tmp_path / "m.st").exists()


def test_an_integer_past_2_64_says_so():
    res = subprocess.run([*CLI, "train", "--epochs", "18446744073709551616"], capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr == ("fastmlp train: --epochs: epochs must be an integer >= 0; "
                          "got 18446744073709551616 (more than 2^64 - 1)\n")


def test_softmax_over_one_output_is_refused():
    # it is always 1: a network that learns nothing and reports an accuracy
    with pytest.raises(ValueError, match="'softmax' over a single output is always 1"):
        fastmlp.Network([3, 5, 1], output="softmax", loss="cross_entropy")
    res = subprocess.run([*CLI, "train", "--labels", "1", "--output", "softmax", "--epochs", "1"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "'softmax' over a single output is always 1" in res.stderr
