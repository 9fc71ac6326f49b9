"""A new user's findings on the command line's CSV path (issue #14), each kept:
through both front doors, checked against Python's csv module, the network's
own predictions and scikit-learn (which refuses the same duplicate names)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

import fastmlp

from test_cli import door, run  # noqa: F401  (test_cli's front doors)
from test_cli_csv import (IRIS, _regression_figures, _regression_file, metadata, num, predict_output, predicted_names,
                          read_rows, write_rows)

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def _customers(path, n, seed, extra=()):
    """A churn file: an id, two features, the label (yes/no), a region (text)
    and the `extra` columns (name, function of the row index); returns (X, churn)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    churn = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "yes", "no")
    regions = ["north", "south, east", 'the "west"']
    header = ["customer_id", "x0", "churn", "x1", "region", *(name for name, _ in extra)]
    rows = [[str(1000 + i), num(X[i, 0]), churn[i], num(X[i, 1]), regions[i % 3], *(f(i) for _, f in extra)]
            for i in range(n)]
    write_rows(path, [header, *rows])
    return X, churn


def _train(door, data, model, *args):
    res = run(door, "train", "--train", str(data), *args, "--epochs", "60", "--lr", "0.05", "--quiet",
              "-o", str(model))
    assert res.returncode == 0, res.stderr
    return res


# --- 1. predict --classes on a regression model --------------------------------------------

def test_predict_classes_refuses_a_regression_model(door, tmp_path):
    _regression_file(tmp_path / "r.csv", 60, 1, targets=2)
    model = tmp_path / "r.st"
    res = run(door, "train", "--train", str(tmp_path / "r.csv"), "--target", "price,area", "--task", "regression",
              "--epochs", "3", "--quiet", "-o", str(model))
    assert res.returncode == 0, res.stderr
    assert metadata(model)["task"] == "regression"
    res = run(door, "predict", "--classes", str(model), str(tmp_path / "r.csv"))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip().endswith(f"--classes needs a classifier; {model} is a regression model "
                                       "(targets: price, area)"), res.stderr


def test_predict_classes_on_a_file_without_a_task_is_unchanged(door, tmp_path):
    net = fastmlp.Network([3, 4, 1], seed=2)
    model = tmp_path / "plain.st"
    net.save(model)
    assert "task" not in metadata(model)
    X = np.random.default_rng(0).standard_normal((20, 3))
    np.savetxt(tmp_path / "x.csv", X, delimiter=",", fmt="%.17g")
    res = run(door, "predict", "--classes", str(model), str(tmp_path / "x.csv"))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "class"
    assert [int(v) for v in lines[1:]] == (net.predict(X)[:, 0] > 0.5).astype(int).tolist()


# --- 2. duplicate column names --------------------------------------------------------------

def test_train_refuses_duplicate_names_among_the_columns_it_uses(door, tmp_path):
    rng = np.random.default_rng(1)
    write_rows(tmp_path / "d.csv", [["a", "a", "y"], *([num(u), num(v), "p" if u > v else "q"]
                                                       for u, v in rng.standard_normal((30, 2)))])
    res = run(door, "train", "--train", str(tmp_path / "d.csv"), "--target", "y", "--epochs", "1", "-o",
              str(tmp_path / "m.st"))
    assert res.returncode == 1 and res.stdout == "" and res.stderr.count("\n") == 1
    assert "the header names columns 1 and 2 'a'" in res.stderr and "unique" in res.stderr
    assert not (tmp_path / "m.st").exists()


def test_duplicate_names_among_skipped_columns_are_allowed(door, tmp_path):
    X, churn = _customers(tmp_path / "c.csv", 80, 2, extra=[("note", lambda i: "x"), ("note", lambda i: str(i))])
    model = tmp_path / "m.st"
    _train(door, tmp_path / "c.csv", model, "--target", "churn", "--features", "x0,x1")
    assert json.loads(metadata(model)["feature_names"]) == ["x0", "x1"]
    res = run(door, "predict", str(model), str(tmp_path / "c.csv"))
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(predict_output(res),
                                  fastmlp.load(model).predict(X))


def test_python_refuses_duplicate_column_names_as_scikit_learn_does():
    pd = pytest.importorskip("pandas")
    neural_network = pytest.importorskip("sklearn.neural_network")
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.standard_normal((20, 3)), columns=["a", "a", "b"])
    y = (df.iloc[:, 0] > 0).to_numpy().astype(int)
    with pytest.raises(ValueError, match="(?i)unique column names") as sk:
        neural_network.MLPClassifier(max_iter=5).fit(df, y)
    assert "'a'" in str(sk.value)
    Y = np.eye(2)[y]
    with pytest.raises(ValueError, match=r"X: expected unique column names; 'a' name") as ours:
        fastmlp.train(df, Y, hidden=3, epochs=1)
    with pytest.raises(ValueError, match="unique column names"):
        fastmlp.Network([3, 3, 2]).fit(df, Y, epochs=1)
    with pytest.raises(ValueError, match="unique column names"):
        fastmlp.Network([3, 3, 2]).predict(df)
    assert "'b'" not in str(ours.value)
    # the same frame with unique names trains and records them
    df.columns = ["a", "c", "b"]
    assert fastmlp.train(df, Y, hidden=3, epochs=1).feature_names == ("a", "c", "b")


# --- 3. eval finds the label column by the model's classes -----------------------------------

def test_eval_finds_the_one_column_holding_the_classes(door, tmp_path):
    _customers(tmp_path / "train.csv", 200, 4)
    X, churn = _customers(tmp_path / "test.csv", 80, 5)
    model = tmp_path / "m.st"
    _train(door, tmp_path / "train.csv", model, "--target", "churn", "--features", "x0,x1")
    res = run(door, "eval", str(model), str(tmp_path / "test.csv"))
    assert res.returncode == 0, res.stderr
    P = fastmlp.load(model).predict(X)
    predicted = np.array(["no", "yes"])[P.argmax(axis=1) if P.shape[1] > 1 else (P[:, 0] > 0.5).astype(int)]
    assert res.stdout.splitlines()[0] == f"Accuracy: {100 * sklearn_metrics.accuracy_score(churn, predicted):.2f}%"
    # the same as naming the column
    named = run(door, "eval", "--target", "churn", str(model), str(tmp_path / "test.csv"))
    assert named.stdout == res.stdout


@pytest.mark.parametrize("extra", [
    [(f"note{k}", lambda i, k=k: f"n{i * k}") for k in range(400)],  # a wide file: one pass reads them all
    [("comment", lambda i: "" if i == 3 else "ok")],  # a field the one pass refuses: a column at a time
])
def test_eval_finds_the_class_column_beside_many_or_awkward_columns(door, tmp_path, extra):
    _customers(tmp_path / "train.csv", 200, 4)
    X, churn = _customers(tmp_path / "test.csv", 80, 5, extra=extra)
    model = tmp_path / "m.st"
    _train(door, tmp_path / "train.csv", model, "--target", "churn", "--features", "x0,x1")
    res = run(door, "eval", str(model), str(tmp_path / "test.csv"))
    assert res.returncode == 0, res.stderr
    named = run(door, "eval", "--target", "churn", str(model), str(tmp_path / "test.csv"))
    assert named.returncode == 0 and named.stdout == res.stdout


def test_eval_with_two_columns_of_classes_still_asks_for_target(door, tmp_path):
    _customers(tmp_path / "train.csv", 100, 6)
    _customers(tmp_path / "test.csv", 40, 7, extra=[("churned_before", lambda i: "yes" if i % 2 else "no")])
    model = tmp_path / "m.st"
    _train(door, tmp_path / "train.csv", model, "--target", "churn", "--features", "x0,x1")
    res = run(door, "eval", str(model), str(tmp_path / "test.csv"))
    assert res.returncode == 1
    assert "cannot tell which column holds the labels among 'customer_id', 'churn', 'region', " \
           "'churned_before'; give --target COLUMN" in res.stderr


# --- 4. --features skips the other columns whatever they hold -------------------------------

GARBAGE = ["abc", "", "nan", "1e999", '"', "1,2"]


def test_features_skip_text_empty_and_garbage_columns(door, tmp_path):
    rng = np.random.default_rng(8)
    n = 90
    X = rng.standard_normal((n, 2))
    y = np.where(X[:, 0] > X[:, 1], "up", "down")
    rows = [["name", "x0", "blank", "x1", "junk", "y"],
            *([f"Smith, John {i}", num(X[i, 0]), "", num(X[i, 1]), GARBAGE[i % len(GARBAGE)], y[i]]
              for i in range(n))]
    write_rows(tmp_path / "p.csv", rows)
    assert read_rows(tmp_path / "p.csv")[1][0] == "Smith, John 0"  # quoted by the csv module
    model = tmp_path / "m.st"
    res = _train(door, tmp_path / "p.csv", model, "--target", "y", "--features", "x0,x1")
    assert res.stderr == ""
    net = fastmlp.load(model)
    P = net.predict(X)
    pr = run(door, "predict", str(model), str(tmp_path / "p.csv"))
    assert pr.returncode == 0, pr.stderr
    np.testing.assert_array_equal(predict_output(pr), P)
    classes = json.loads(metadata(model)["classes"])
    assert classes == ["down", "up"]
    predicted = np.asarray(classes)[P.argmax(axis=1)]
    ev = run(door, "eval", str(model), str(tmp_path / "p.csv"))  # the label found among name, blank, junk, y
    assert ev.returncode == 0, ev.stderr
    assert ev.stdout.splitlines()[0] == f"Accuracy: {100 * sklearn_metrics.accuracy_score(y, predicted):.2f}%"
    # a --test file with the same skipped columns, in another order
    write_rows(tmp_path / "q.csv", [[r[j] for j in (5, 4, 3, 2, 1, 0)] for r in rows])
    res = _train(door, tmp_path / "p.csv", tmp_path / "m2.st", "--target", "y", "--features", "x0,x1",
                 "--test", str(tmp_path / "q.csv"))
    assert res.stdout.splitlines()[0] == ev.stdout.splitlines()[0]  # the same rows, the same network
    # without --features the garbage is still an error: every column is a feature then
    res = run(door, "train", "--train", str(tmp_path / "p.csv"), "--target", "y", "--epochs", "1")
    assert res.returncode == 1 and "is not a number" in res.stderr


# --- 5. predict --no-header -----------------------------------------------------------------

def test_no_header_drops_the_output_header_and_still_reads_the_input_one(door, tmp_path):
    _customers(tmp_path / "c.csv", 30, 9)
    model = tmp_path / "m.st"
    _train(door, tmp_path / "c.csv", model, "--target", "churn", "--features", "x0,x1")
    with_header = run(door, "predict", str(model), str(tmp_path / "c.csv"))
    res = run(door, "predict", "--no-header", str(model), str(tmp_path / "c.csv"))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 30 == len(read_rows(tmp_path / "c.csv")) - 1
    assert lines == with_header.stdout.splitlines()[1:]
    assert "write no header row in the output" in run(door, "predict", "--help").stdout


# --- 6. a header of numbers is a header, as pandas reads it -----------------------------------

def _supports(report):
    """The per-class supports of a classifier's report: {class: rows}."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("class ")) + 1
    return {line.split()[0]: int(line.split()[-1]) for line in lines[start:] if line and not line.startswith("(")}


def test_an_unnamed_pandas_frame_header_is_not_a_data_row(door, tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(11)
    X = rng.standard_normal((90, 4))
    y = np.arange(90) % 3
    pd.DataFrame(np.column_stack([X, y])).astype({4: int}).to_csv(tmp_path / "f.csv", index=False)
    assert (tmp_path / "f.csv").read_text().startswith("0,1,2,3,4\n")  # the header the review found
    frame = pd.read_csv(tmp_path / "f.csv")
    model = tmp_path / "m.st"
    res = _train(door, tmp_path / "f.csv", model, "--target", "4")
    # every row pandas reads, and only those, is trained on: no class made of the header
    assert _supports(res.stdout) == {str(c): int(n) for c, n in frame["4"].value_counts().items()}
    assert sum(_supports(res.stdout).values()) == len(frame) == 90
    assert json.loads(metadata(model)["classes"]) == [str(c) for c in sorted(frame["4"].unique())]
    assert json.loads(metadata(model)["feature_names"]) == list(frame.columns[:4])
    # predict and eval read the same rows
    pr = run(door, "predict", str(model), str(tmp_path / "f.csv"))
    assert pr.returncode == 0, pr.stderr
    np.testing.assert_array_equal(predict_output(pr),
                                  fastmlp.load(model).predict(frame.iloc[:, :4].to_numpy()))
    ev = run(door, "eval", str(model), str(tmp_path / "f.csv"))
    assert ev.returncode == 0, ev.stderr
    assert sum(_supports(ev.stdout).values()) == len(frame)
    # the truth is column "4", not the features "0", "1", "2" that share the classes' names
    predicted = fastmlp.load(model).predict(frame.iloc[:, :4].to_numpy()).argmax(axis=1)
    accuracy = sklearn_metrics.accuracy_score(frame["4"], predicted)
    assert ev.stdout.splitlines()[0] == f"Accuracy: {100 * accuracy:.2f}%"


def test_a_header_of_numbers_written_by_the_csv_module(door, tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(12)
    X = rng.standard_normal((60, 3))
    label = np.where(X[:, 0] > 0, "up", "down")
    write_rows(tmp_path / "y.csv", [["2019", "2020", "2021", "7"], *([*map(num, x), c] for x, c in zip(X, label))])
    frame = pd.read_csv(tmp_path / "y.csv")
    model = tmp_path / "m.st"
    res = _train(door, tmp_path / "y.csv", model, "--target", "7")  # a name: index 7 is past the 4 columns
    assert sum(_supports(res.stdout).values()) == len(frame) == 60
    assert json.loads(metadata(model)["feature_names"]) == list(frame.columns[:3]) == ["2019", "2020", "2021"]


def test_a_headerless_file_says_so_with_no_header_row(door, tmp_path):
    rng = np.random.default_rng(13)
    X = rng.standard_normal((40, 3))
    y = (X[:, 0] > 0).astype(int)
    write_rows(tmp_path / "h.csv", [[*map(num, x), str(c)] for x, c in zip(X, y)])
    # its first row would be names: refused, since no column was given by one
    res = run(door, "train", "--train", str(tmp_path / "h.csv"), "--target", "3", "--epochs", "1")
    assert res.returncode == 2 and res.stdout == "" and res.stderr.count("\n") == 1
    assert "the first row is read as the header" in res.stderr and "--no-header-row" in res.stderr
    model = tmp_path / "m.st"
    res = _train(door, tmp_path / "h.csv", model, "--target", "3", "--no-header-row")
    assert sum(_supports(res.stdout).values()) == 40
    assert "feature_names" not in metadata(model)
    pr = run(door, "predict", "--no-header-row", "--labels", "1", str(model), str(tmp_path / "h.csv"))
    assert pr.returncode == 0, pr.stderr
    assert len(pr.stdout.splitlines()) == 41  # its header, and a row per input row
    ev = run(door, "eval", "--target", "3", "--no-header-row", str(model), str(tmp_path / "h.csv"))
    assert ev.returncode == 0, ev.stderr
    assert sum(_supports(ev.stdout).values()) == 40
    ev = run(door, "eval", "--target", "3", str(model), str(tmp_path / "h.csv"))
    assert ev.returncode == 2 and "--no-header-row" in ev.stderr


def test_a_named_model_on_a_file_without_a_header_row(door, tmp_path):
    _customers(tmp_path / "c.csv", 30, 14)
    model = tmp_path / "m.st"
    _train(door, tmp_path / "c.csv", model, "--target", "churn", "--features", "x0,x1")
    X = np.random.default_rng(15).standard_normal((5, 2))
    write_rows(tmp_path / "x.csv", [[num(a), num(b)] for a, b in X])
    res = run(door, "predict", str(model), str(tmp_path / "x.csv"))
    assert res.returncode == 1 and "has no column 'x0'" in res.stderr and "--no-header-row" in res.stderr
    res = run(door, "predict", "--no-header-row", str(model), str(tmp_path / "x.csv"))
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(predict_output(res),
                                  fastmlp.load(model).predict(X))



def test_header_names_that_look_like_numbers(door, tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(19)
    n = 60
    sales = rng.standard_normal((n, 2))
    label = np.where(sales[:, 0] > sales[:, 1], "grew", "fell")
    write_rows(tmp_path / "s.csv", [["store", "2019", "2020", "label"],
                                    *([f"s{i}", num(a), num(b), c] for i, ((a, b), c) in enumerate(zip(sales, label)))])
    frame = pd.read_csv(tmp_path / "s.csv")
    assert list(frame.columns) == ["store", "2019", "2020", "label"] and len(frame) == n
    model = tmp_path / "m.st"
    _train(door, tmp_path / "s.csv", model, "--target", "label", "--features", "2019,2020")
    assert json.loads(metadata(model)["feature_names"]) == ["2019", "2020"]
    pr = run(door, "predict", str(model), str(tmp_path / "s.csv"))
    assert pr.returncode == 0, pr.stderr
    np.testing.assert_array_equal(predict_output(pr),
                                  fastmlp.load(model).predict(frame[["2019", "2020"]].to_numpy()))
    # '1' names no column: it is an index, the column named '2019'
    _train(door, tmp_path / "s.csv", tmp_path / "i.st", "--target", "label", "--features", "1,2")
    assert json.loads(metadata(tmp_path / "i.st")["feature_names"]) == ["2019", "2020"]
    # '2' is the name of column 1 and the index of column '2020': refused, whichever was meant
    write_rows(tmp_path / "a.csv", [["a", "2", "b", "y"], *([num(u), num(v), num(u - v), c]
                                                           for (u, v), c in zip(sales, label))])
    res = run(door, "train", "--train", str(tmp_path / "a.csv"), "--target", "y", "--features", "a,2",
              "--epochs", "1")
    assert res.returncode == 2 and res.stdout == "" and res.stderr.count("\n") == 1
    assert "--features: '2' is both the name of column 1 and the index of column 'b'" in res.stderr
    # the index of the column named '2' is not ambiguous
    _train(door, tmp_path / "a.csv", tmp_path / "b.st", "--target", "y", "--features", "a,1")
    assert json.loads(metadata(tmp_path / "b.st")["feature_names"]) == ["a", "2"]


def test_predict_blocks_stay_small_for_a_model_of_many_outputs(door, tmp_path):
    """A model file of 1 input, 1 hidden unit and 2 million outputs is 32 MB; a
    block of 1024 rows of its predictions would be 16 GB."""
    from safetensors.numpy import save_file

    k = 2_000_000
    tensors = {"layers.0.weight": np.ones((1, 1)), "layers.0.bias": np.zeros(1),
               "layers.1.weight": np.full((1, k), 0.5), "layers.1.bias": np.zeros(k)}
    meta = {"format": "fastmlp", "format_version": "1", "sizes": f"1,1,{k}", "activations": "identity,identity",
            "leaky_slope": "0.01", "loss": "mse", "reduction": "sum"}
    save_file(tensors, str(tmp_path / "wide.st"), metadata=meta)
    (tmp_path / "x.csv").write_text("2\n4\n")
    res = subprocess.run([sys.executable, "-c", _PEAK, *door, "predict", "--no-header", str(tmp_path / "wide.st"),
                          str(tmp_path / "x.csv")], capture_output=True, text=True, timeout=300)
    *rows, last = res.stdout.splitlines()
    status, peak_kib = map(int, last.split())
    assert status == 0, res.stderr
    P = fastmlp.load(tmp_path / "wide.st").predict(np.array([[2.0], [4.0]]))
    assert [row.count(",") + 1 for row in rows] == [k, k]
    assert rows[0].split(",", 1)[0] == "1" == format(P[0, 0], "g") and rows[1].rsplit(",", 1)[1] == "2"
    assert peak_kib < 1500 * 1024


# --- 7. names and labels keep their spaces -------------------------------------------------------

def test_names_and_classes_keep_their_spaces_as_pandas_reads_them(door, tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(16)
    n = 90
    X = rng.standard_normal((n, 2))
    labels = np.array(["setosa", "setosa ", " x"])[np.arange(n) % 3]
    X[:, 0] += 2 * (np.arange(n) % 3)
    # numbers with spaces around them are still numbers, as pandas reads them
    write_rows(tmp_path / "s.csv", [[" a", "b ", "label"], *([f" {num(u)}", f"{num(v)} ", c]
                                                              for (u, v), c in zip(X, labels))])
    frame = pd.read_csv(tmp_path / "s.csv")
    assert list(frame.columns) == [" a", "b ", "label"] and frame[" a"].dtype == np.float64
    model = tmp_path / "m.st"
    _train(door, tmp_path / "s.csv", model, "--target", "label", "--features", " a,b ")
    meta = metadata(model)
    assert json.loads(meta["feature_names"]) == list(frame.columns[:2])
    assert json.loads(meta["classes"]) == sorted(frame["label"].unique()) == [" x", "setosa", "setosa "]
    pr = run(door, "predict", "--classes", str(model), str(tmp_path / "s.csv"))
    assert pr.returncode == 0, pr.stderr
    printed = [row[0] for row in csv.reader(io.StringIO(pr.stdout))][1:]
    assert printed == list(predicted_names(model, frame[[" a", "b "]].to_numpy(), json.loads(meta["classes"])))
    ev = run(door, "eval", str(model), str(tmp_path / "s.csv"))
    assert ev.returncode == 0, ev.stderr
    expected = predicted_names(model, frame[[" a", "b "]].to_numpy(), json.loads(meta["classes"]))
    assert ev.stdout.splitlines()[0] == \
        f"Accuracy: {100 * sklearn_metrics.accuracy_score(frame['label'], expected):.2f}%"
    # the names as written: 'a' is no column of this file
    res = run(door, "train", "--train", str(tmp_path / "s.csv"), "--target", "label", "--features", "a,b",
              "--epochs", "1")
    assert res.returncode == 2 and "no column 'a'" in res.stderr


# --- 8. many classes are refused before they fill the memory -------------------------------------

_PEAK = (
    "import resource, subprocess, sys\n"
    "limit = 3 << 30\n"
    "def cap():\n"
    "    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "r = subprocess.run(sys.argv[1:], capture_output=True, text=True, preexec_fn=cap)\n"
    "sys.stdout.write(r.stdout)\n"
    "sys.stderr.write(r.stderr)\n"
    "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


@pytest.mark.parametrize("rows, classes, message", [
    (20_000, 20_000, "20000 classes, more than the 10000 a classifier here takes"),
    (60_000, 5_000, "60000 rows x 5000 classes make more one-hot cells than the 268435456"),
])
def test_many_classes_are_refused_with_little_memory(door, tmp_path, rows, classes, message):
    rng = np.random.default_rng(17)
    X = rng.standard_normal((rows, 2))
    write_rows(tmp_path / "ids.csv", [["x0", "x1", "id"], *([num(a), num(b), f"c{i % classes}"]
                                                           for i, (a, b) in enumerate(X))])
    res = subprocess.run([sys.executable, "-c", _PEAK, *door, "train", "--train", str(tmp_path / "ids.csv"),
                          "--target", "id", "--epochs", "1", "--quiet"], capture_output=True, text=True, timeout=300)
    status, peak_kib = map(int, res.stdout.split())
    assert status == 1 and message in res.stderr, res.stderr
    assert peak_kib < 500 * 1024  # one-hot targets alone would be 3.2 GB (or 2.4 GB)


# --- 9. --loss poisson on the command line ------------------------------------------------------

def test_poisson_trains_as_scikit_learn_poisson_regressor(door, tmp_path):
    linear_model = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(18)
    X = rng.standard_normal((1200, 3))
    y = rng.poisson(np.exp(0.5 + X @ [0.6, -0.4, 0.3])).astype(float)
    for name, rows in (("train.csv", slice(0, 900)), ("test.csv", slice(900, None))):
        write_rows(tmp_path / name, [["x0", "x1", "x2", "count"], *([*map(num, x), num(t)]
                                                                    for x, t in zip(X[rows], y[rows]))])
    model = tmp_path / "m.st"
    # no --output, no --init, no --task: poisson implies the exp output, an initialisation that trains,
    # and a regression
    res = run(door, "train", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
              "--target", "count", "--loss", "poisson", "--hidden", "8", "--optimizer", "adam", "--lr", "0.01",
              "--reduction", "mean", "--epochs", "300", "--quiet", "-o", str(model))
    assert res.returncode == 0, res.stderr
    r2 = float(res.stdout.splitlines()[0].removeprefix("R2: "))
    reference = linear_model.PoissonRegressor(alpha=0).fit(X[:900], y[:900])
    assert r2 == pytest.approx(sklearn_metrics.r2_score(y[900:], reference.predict(X[900:])), abs=0.05)
    meta = metadata(model)
    assert (meta["task"], meta["init"], meta["activations"].split(",")[-1]) == ("regression", "sklearn", "exp")
    ev = run(door, "eval", str(model), str(tmp_path / "test.csv"))
    assert ev.returncode == 0 and ev.stdout.splitlines()[0] == res.stdout.splitlines()[0]
    # another output is still a mistake
    res = run(door, "train", "--train", str(tmp_path / "train.csv"), "--target", "count", "--loss", "poisson",
              "--output", "identity", "--epochs", "1")
    assert res.returncode == 2 and "loss 'poisson' needs output 'exp'" in res.stderr
    help_text = run(door, "train", "--help").stdout
    assert "exp with --loss poisson" in help_text and "sklearn with --loss poisson" in help_text


# --- the second new user's findings ------------------------------------------------------------

def test_a_column_of_decimals_is_not_taken_as_classes(door, tmp_path):
    """scikit-learn refuses "continuous" labels; so does train, unless --task says which."""
    _regression_file(tmp_path / "r.csv", 80, 3)
    res = run(door, "train", "--train", str(tmp_path / "r.csv"), "--target", "price", "--epochs", "2")
    assert res.returncode == 1 and res.stdout == ""
    assert "holds numbers that are not whole" in res.stderr and "--task regression" in res.stderr
    with pytest.raises(ValueError, match="Unknown label type"):  # the reference
        pytest.importorskip("sklearn.neural_network").MLPClassifier(max_iter=1).fit(
            np.zeros((80, 1)), np.loadtxt(tmp_path / "r.csv", delimiter=",", skiprows=1)[:, 0])
    # --task classification: each value its own class, as asked
    res = run(door, "train", "--train", str(tmp_path / "r.csv"), "--target", "price", "--task", "classification",
              "--epochs", "1", "--quiet", "-o", str(tmp_path / "m.st"))
    assert res.returncode == 0, res.stderr
    assert len(json.loads(metadata(tmp_path / "m.st")["classes"])) == 80


def test_a_regression_with_the_default_options_trains(door, tmp_path):
    """The mean over the rows by default (the sum diverged on 300 rows); R2 close to
    scikit-learn's LinearRegression on a linear target. The sum, asked for, diverges
    with a message in the command line's own flags, and writes nothing."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, Y = _regression_file(tmp_path / "r.csv", 300, 4)
    Xt, Yt = _regression_file(tmp_path / "t.csv", 100, 5)
    res = run(door, "train", "--train", str(tmp_path / "r.csv"), "--test", str(tmp_path / "t.csv"),
              "--target", "price", "--task", "regression", "--quiet")
    assert res.returncode == 0, res.stderr
    r2 = _regression_figures(res.stdout)[0]
    best = sklearn_metrics.r2_score(Yt[:, 0], linear_model.LinearRegression().fit(X, Y[:, 0]).predict(Xt))
    assert r2 == pytest.approx(best, abs=0.02)
    model = tmp_path / "sum.st"
    res = run(door, "train", "--train", str(tmp_path / "r.csv"), "--target", "price", "--task", "regression",
              "--reduction", "sum", "--quiet", "-o", str(model))
    assert res.returncode == 1 and not model.exists()
    assert "no model was written" in res.stderr and "--lr" in res.stderr and "--reduction mean" in res.stderr
    assert "learning_rate" not in res.stderr


def test_a_target_column_trains_a_softmax_classifier_whose_probabilities_sum_to_one(door, tmp_path):
    """train --target makes scikit-learn's classifier (softmax, cross-entropy): loaded as an
    estimator, predict_proba's rows sum to 1, as roc_auc_score and log_loss require."""
    pytest.importorskip("sklearn")
    import fastmlp.sklearn

    X, churn = _customers(tmp_path / "c.csv", 200, 6)
    model = tmp_path / "c.st"
    _train(door, tmp_path / "c.csv", model, "--target", "churn", "--features", "x0,x1")
    meta = metadata(model)
    assert (meta["activations"].split(",")[-1], meta["loss"]) == ("softmax", "cross_entropy")
    pd = pytest.importorskip("pandas")
    P = fastmlp.sklearn.load(model).predict_proba(pd.DataFrame(X, columns=["x0", "x1"]))
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-12)
    sklearn_metrics.log_loss(churn, P)  # refuses rows that are not probabilities


def test_the_article_model_refuses_the_raw_iris_measurements(door, tmp_path):
    """data/train.csv holds scaled features under names of their own, so the article's
    model does not match iris.csv's raw columns by name (it gave 33.33% with exit 0)."""
    model = tmp_path / "article.st"
    res = run(door, "train", "--epochs", "50", "--quiet", "-o", str(model))
    assert res.returncode == 0, res.stderr
    res = run(door, "eval", str(model), str(IRIS))
    assert res.returncode == 1 and res.stdout == ""
    assert "no column 'scaled_sepal_length'" in res.stderr


# --- the second attack's findings --------------------------------------------------------------

@pytest.mark.parametrize("labels, message", [
    (["5", "9007199254740992", "9007199254740993"], "whole numbers of 2^53 or more"),  # one double, 3 ints
    (["True", "true", "False", "false"], "spells True and False more than one way"),
    (["1", "2", "NA"], "'NA', which pandas reads as a missing value"),
    (["1", "2", "nan"], "'nan', which pandas reads as a missing value"),
])
def test_labels_pandas_reads_otherwise_are_refused(door, tmp_path, labels, message):
    """Labels that pandas reads as fewer classes (int64 beyond 2^53 are distinct there, but
    one double here; bool spellings) or as missing are refused, not made classes."""
    rows = [["a", "y"], *([num(i), labels[i % len(labels)]] for i in range(12))]
    write_rows(tmp_path / "f.csv", rows)
    res = run(door, "train", "--train", str(tmp_path / "f.csv"), "--target", "y", "--epochs", "1")
    assert res.returncode == 1 and res.stdout == ""
    assert message in res.stderr and str(tmp_path / "f.csv") in res.stderr


def test_a_named_model_refuses_a_headerless_file_of_other_width(door, tmp_path):
    """--no-header-row with a model that names its features: columns are taken in the
    model's order only when there are exactly as many; a fourth column (the target
    first, as in the training file) was read as a feature with exit 0."""
    X, Y = _regression_file(tmp_path / "r.csv", 60, 7)
    model = tmp_path / "r.st"
    res = run(door, "train", "--train", str(tmp_path / "r.csv"), "--target", "price", "--task", "regression",
              "--epochs", "5", "--quiet", "-o", str(model))
    assert res.returncode == 0, res.stderr
    np.savetxt(tmp_path / "whole.csv", np.hstack([Y, X]), delimiter=",", fmt="%.17g")
    res = run(door, "predict", "--no-header-row", str(model), str(tmp_path / "whole.csv"))
    assert res.returncode == 2 and res.stdout == "" and "give the file its header row" in res.stderr
    np.savetxt(tmp_path / "features.csv", X, delimiter=",", fmt="%.17g")
    res = run(door, "predict", "--no-header-row", str(model), str(tmp_path / "features.csv"))
    assert res.returncode == 0, res.stderr
    np.testing.assert_allclose(predict_output(res), fastmlp.load(model).predict(X), rtol=1e-6)


def test_eval_refuses_one_hot_labels_outside_0_and_1(door, tmp_path):
    """train refused such labels; eval took their largest as the class, with exit 0."""
    net = fastmlp.Network([2, 3, 2], seed=1)
    model = tmp_path / "n.st"
    net.save(model)
    write_rows(tmp_path / "bad.csv", [["1", "2", "3", "4"], ["0.5", "0.1", "-7", "0.5"]])
    res = run(door, "eval", "--no-header-row", str(model), str(tmp_path / "bad.csv"))
    assert res.returncode == 1 and res.stdout == "" and "not a one-hot label from 0 to 1" in res.stderr


def test_pandas_index_column_is_not_taken_as_a_feature(door, tmp_path):
    """to_csv's default writes the row index as a first column named ''; on sorted data
    the row number predicts the label, so training on it in silence was a leak."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(12)
    frame = pd.DataFrame({"f1": rng.standard_normal(60), "f2": rng.standard_normal(60),
                          "label": np.repeat(["a", "b"], 30)})
    frame.to_csv(tmp_path / "f.csv")
    assert (tmp_path / "f.csv").read_text().startswith(",f1,f2,label\n")
    res = run(door, "train", "--train", str(tmp_path / "f.csv"), "--target", "label", "--epochs", "1")
    assert res.returncode == 1 and "column 1 has no name" in res.stderr and "index=False" in res.stderr
    res = run(door, "train", "--train", str(tmp_path / "f.csv"), "--target", "label", "--features", "f1,f2",
              "--epochs", "1", "--quiet", "-o", str(tmp_path / "m.st"))
    assert res.returncode == 0, res.stderr
    assert json.loads(metadata(tmp_path / "m.st")["feature_names"]) == ["f1", "f2"]


@pytest.mark.parametrize("sep, named", [(";", "';'"), ("\t", "tabs")])
def test_a_file_separated_otherwise_is_named_so(door, tmp_path, sep, named):
    pd = pytest.importorskip("pandas")
    pd.DataFrame({"f1": [1.0, 2.0], "label": ["a", "b"]}).to_csv(tmp_path / "f.csv", sep=sep, index=False)
    res = run(door, "train", "--train", str(tmp_path / "f.csv"), "--target", "label", "--epochs", "1")
    assert res.returncode == 2 and f"the file seems separated by {named}; only commas separate here" in res.stderr


def test_the_not_whole_message_quotes_a_number_that_is_not_whole(door, tmp_path):
    # mostly whole targets with one fraction: the message quoted the middle
    # class, a whole number ("such as 2")
    rows = ["a,y"] + [f"{i / 10},{i % 5}" for i in range(40)] + ["4.0,2.5"]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    res = run(door, "train", "--train", str(tmp_path / "t.csv"), "--target", "y", "--epochs", "1")
    assert res.returncode == 1
    assert "not whole, such as 2.5;" in res.stderr, res.stderr
