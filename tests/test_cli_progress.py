"""The command line's progress on stderr: when early stopping ends a run, its
last line says where ("stopped at epoch N; best epoch M (val_loss x)"), in
Python's progress line's words. Checked through both front doors against the
run's --history file read by Python's csv module, and against Python's own
progress line for the same fit."""

from __future__ import annotations

import csv
import subprocess

import numpy as np
import pytest

import fastmlp
from fastmlp import network

from test_cli import door  # noqa: F401  (test_cli's front doors)

EPOCHS = 5000


def run(cmd, *args):
    """The command's run, its output as written: text=True would turn each carriage return into a newline."""
    res = subprocess.run([*cmd, *args], capture_output=True, timeout=120)
    return subprocess.CompletedProcess(res.args, res.returncode, res.stdout.decode(), res.stderr.decode())


def history_rows(path):
    """The --history file by Python's csv module: {column: values}."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {name: np.array([float(r[name]) for r in rows]) for name in rows[0]}


def last_line(err):
    """The line a terminal shows last: the text after the last carriage return."""
    assert err.endswith("\n"), repr(err)
    return err.rstrip("\n").split("\r")[-1].rstrip(" ")


@pytest.mark.parametrize("watch, args", [
    ("val_loss", ("--validation-fraction", "0.2", "--early-stopping", "5", "--optimizer", "adam", "--lr", "0.05")),
    ("loss", ("--early-stopping", "3", "--tol", "10")),  # no improvement is ever large enough
])
def test_early_stopping_ends_the_progress_line_with_where(door, tmp_path, watch, args):
    history = tmp_path / "h.csv"
    res = run(door, "train", "--epochs", str(EPOCHS), "--seed", "2", *args, "--history", str(history))
    assert res.returncode == 0, res.stderr
    figures = history_rows(history)[watch]
    epochs = figures.size
    assert 0 < epochs < EPOCHS
    # the best epoch: the first smallest figure; the validation loss is measured after its
    # epoch, the training loss on the way through it (so of the parameters at its start)
    best = int(np.argmin(figures)) + (1 if watch == "val_loss" else 0)
    assert last_line(res.stderr) == (f"epoch {epochs}/{EPOCHS}  stopped at epoch {epochs}; "
                                     f"best epoch {best} ({watch} {figures.min():.4g})")
    assert res.stderr.count("\n") == 1


def test_the_command_line_and_python_say_it_in_the_same_words(door, capfd, monkeypatch, iris):
    res = run(door, "train", "--epochs", str(EPOCHS), "--seed", "2", "--validation-fraction", "0.2",
              "--early-stopping", "5", "--optimizer", "adam", "--lr", "0.05")
    assert res.returncode == 0, res.stderr
    monkeypatch.setattr(network, "_tqdm", lambda total: None)  # Python's plain line, as without tqdm
    X, Y, _, _ = iris
    fastmlp.train(X, Y, hidden=5, epochs=EPOCHS, seed=2, validation_fraction=0.2, early_stopping=5,
                  optimizer="adam", learning_rate=0.05, progress=True)
    python = last_line(capfd.readouterr().err)
    assert "stopped at epoch" in python
    assert last_line(res.stderr) == python


def test_quiet_and_runs_early_stopping_did_not_end_say_nothing_of_stopping(door, tmp_path):
    res = run(door, "train", "--epochs", "40", "--validation-fraction", "0.2", "--early-stopping", "1000")
    assert res.returncode == 0 and "stopped" not in res.stderr, res.stderr
    res = run(door, "train", "--epochs", str(EPOCHS), "--early-stopping", "3", "--tol", "10", "--quiet")
    assert res.returncode == 0 and res.stderr == "", res.stderr
