"""Bad input: every case raises ValueError or TypeError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

import fastmlp

X = np.random.default_rng(0).random((10, 4))
Y = np.eye(3)[np.arange(10) % 3]


def _nan(a, i=3):
    a = a.copy()
    a.flat[i] = np.nan
    return a


def _inf(a, i=5):
    a = a.copy()
    a.flat[i] = -np.inf
    return a


TRAIN_CASES = {
    "X 1-D": (dict(X=X[:, 0]), ValueError, "X must be 2-D"),
    "X 3-D": (dict(X=X[None]), ValueError, "X must be 2-D"),
    "Y 1-D": (dict(Y=Y[:, 0]), ValueError, "Y must be 2-D"),
    "rows differ": (dict(Y=Y[:7]), ValueError, "same number of rows"),
    "X NaN": (dict(X=_nan(X)), ValueError, "X must be finite"),
    "X inf": (dict(X=_inf(X)), ValueError, "X must be finite"),
    "Y NaN": (dict(Y=_nan(Y)), ValueError, "Y must be finite"),
    "X empty rows": (dict(X=X[:0], Y=Y[:0]), ValueError, "X is empty"),
    "X no columns": (dict(X=X[:, :0]), ValueError, "X is empty"),
    "X strings": (dict(X=X.astype(str)), TypeError, "X must hold real numbers"),
    "X complex": (dict(X=X + 1j), TypeError, "X must hold real numbers"),
    "X objects": (dict(X=X.astype(object)), TypeError, "X must hold real numbers"),
    "hidden 0": (dict(hidden=0), ValueError, "sizes must be in"),
    "hidden negative": (dict(hidden=-3), ValueError, "sizes must be in"),
    "hidden float": (dict(hidden=2.5), TypeError, "hidden must be"),
    "hidden string": (dict(hidden="5"), TypeError, "hidden must be"),
    "epochs negative": (dict(epochs=-1), ValueError, "epochs must be an integer >= 0; got -1"),
    "epochs float": (dict(epochs=10.0), TypeError, "epochs must be an int"),
    "lr NaN": (dict(learning_rate=float("nan")), ValueError, "learning_rate must be a finite number >= 0; got nan"),
    "lr inf": (dict(learning_rate=float("inf")), ValueError, "learning_rate must be a finite number >= 0; got inf"),
    "lr string": (dict(learning_rate="0.2"), TypeError, "learning_rate must be a real"),
    "seed negative": (dict(seed=-1), ValueError, "seed must be in"),
    "seed huge": (dict(seed=2**64), ValueError, "seed must be in"),
    "dtype int": (dict(dtype="int32"), ValueError, "dtype must be"),
    "dtype nonsense": (dict(dtype="fast"), TypeError, "dtype must be"),
    "activation": (dict(activation="relu6"), ValueError, "activation must be one of"),
    "activation softmax hidden": (dict(activation="softmax"), ValueError, "activation must be one of"),
    "activations too many": (dict(activation=("relu", "tanh")), ValueError, "one activation per hidden layer"),
    "activation number": (dict(activation=3), TypeError, "activation must be a name or a sequence"),
    "leaky_slope negative": (dict(activation="leaky_relu", leaky_slope=-0.1), ValueError, "leaky_slope must be finite and >= 0; got -0.1"),
    "leaky_slope NaN": (dict(leaky_slope=float("nan")), ValueError, "leaky_slope must be finite"),
    "leaky_slope string": (dict(leaky_slope="0.1"), TypeError, "leaky_slope must be a real"),
    "output": (dict(output="softmaxx"), ValueError, "output must be one of"),
    "init": (dict(init="zeros"), ValueError, "init must be one of"),
    "loss": (dict(loss="hinge"), ValueError, "loss must be one of"),
    "loss without probabilities": (dict(loss="cross_entropy", output="identity"), ValueError, "needs output 'softmax'"),
    "reduction": (dict(reduction="max"), ValueError, "reduction must be one of"),
    "batch_size 0": (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1; got 0"),
    "batch_size float": (dict(batch_size=32.0), TypeError, "batch_size must be an int"),
    "shuffle string": (dict(batch_size=4, shuffle="yes"), TypeError, "shuffle must be a bool"),
    "threads 0": (dict(threads=0), ValueError, r"threads must be an integer in \[1, 1024\]; got 0"),
    "threads huge": (dict(threads=10**6), ValueError, r"threads must be an integer in \[1, 1024\]; got 1000000"),
    "threads float": (dict(threads=2.0), TypeError, "threads must be an int"),
    "size overflows": (dict(hidden=2**62), ValueError, "too large"),
    "more than memory": (dict(hidden=10**12), MemoryError, "more memory than this machine has"),
}


@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_train_rejects(case):
    changes, error, message = TRAIN_CASES[case]
    args = dict(X=X, Y=Y, hidden=5, epochs=3)
    args.update(changes)
    with pytest.raises(error, match=message):
        fastmlp.train(args.pop("X"), args.pop("Y"), **args)


net = fastmlp.Network([4, 5, 3], seed=0)

PREDICT_CASES = {
    "X 1-D": (dict(X=X[0]), ValueError, "X must be 2-D"),
    "features differ": (dict(X=X[:, :3]), ValueError, "X has 3 columns but the network takes 4 inputs"),
    "X NaN": (dict(X=_nan(X)), ValueError, "X must be finite"),
    "X empty": (dict(X=X[:0]), ValueError, "X is empty"),
    "X strings": (dict(X=X.astype(str)), TypeError, "X must hold real numbers"),
    "out shape": (dict(out=np.empty((10, 2))), ValueError, r"out must have shape \(10, 3\)"),
    "out dtype": (dict(out=np.empty((10, 3), np.float32)), ValueError, "out must be a C-contiguous float64"),
    "out Fortran": (dict(out=np.empty((3, 10)).T), ValueError, "not C-contiguous"),
    "out list": (dict(out=[[0.0] * 3] * 10), TypeError, "out must be a NumPy array"),
    "out read-only": (dict(out=np.broadcast_to(np.empty((1, 3)), (10, 3))), ValueError, "out"),
    "threads 0": (dict(threads=0), ValueError, r"threads must be an integer in \[1, 1024\]; got 0"),
    "threads string": (dict(threads="2"), TypeError, "threads must be an int"),
}


@pytest.mark.parametrize("case", list(PREDICT_CASES))
def test_predict_rejects(case):
    changes, error, message = PREDICT_CASES[case]
    args = dict(X=X, out=None)
    args.update(changes)
    with pytest.raises(error, match=message):
        net.predict(args.pop("X"), **args)


@pytest.mark.parametrize("sizes,error,message", [
    ([4], ValueError, "at least an input and an output"),
    ([], ValueError, "at least an input and an output"),
    ("453", TypeError, "sizes must be a sequence"),
    (4, TypeError, "sizes must be a sequence"),
    ([4, True, 3], TypeError, "sizes must be an int"),
])
def test_network_rejects_bad_sizes(sizes, error, message):
    with pytest.raises(error, match=message):
        fastmlp.Network(sizes)


def test_fit_rejects_mismatched_columns():
    with pytest.raises(ValueError, match="Y has 2 columns but the network has 3 outputs"):
        fastmlp.Network([4, 5, 3]).fit(X, Y[:, :2])
    with pytest.raises(ValueError, match="X has 5 columns but the network takes 4 inputs"):
        fastmlp.Network([4, 5, 3]).fit(np.hstack([X, X[:, :1]]), Y)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("places", [[(39999, 3)], [(39000, 2), (20000, 1), (1000, 3)]])
def test_non_finite_large_inputs_name_the_first_place(threads, places):
    """Inputs large enough to be scanned in blocks over the threads: the error
    names the first non-finite value in row order, whichever thread finds one."""
    big = np.random.default_rng(1).random((40000, 4))
    for i, (row, col) in enumerate(places):
        big[row, col] = np.inf if i % 2 else np.nan
    row, col = np.argwhere(~np.isfinite(big))[0]
    where = f"at row {row}, column {col}"
    labels = np.eye(3)[np.arange(len(big)) % 3]
    with pytest.raises(ValueError, match=f"X must be finite; found nan {where}"):
        fastmlp.Network([4, 5, 3]).fit(big, labels, epochs=1, threads=threads)
    with pytest.raises(ValueError, match=f"X must be finite; found nan {where}"):
        fastmlp.Network([4, 5, 3]).predict(big, threads=threads)
    bad_labels = np.where(np.isfinite(big[:, 1:]), labels, np.nan)
    if np.isnan(bad_labels).any():
        row, col = np.argwhere(np.isnan(bad_labels))[0]
        with pytest.raises(ValueError, match=f"Y must be finite; found nan at row {row}, column {col}"):
            fastmlp.Network([4, 5, 3]).fit(np.nan_to_num(big), bad_labels, epochs=1, threads=threads)


def test_predict_rejects_non_network():
    with pytest.raises(TypeError, match="net must be a fastmlp.Network"):
        fastmlp.predict("net", X)


@pytest.mark.parametrize("P,Yt,message", [
    (np.ones(3), np.ones(3), "P must be 2-D"),
    (np.ones((3, 2)), np.ones((4, 2)), "same number of rows"),
    (np.ones((3, 2)), np.ones((3, 3)), "P has 2 columns but Y has 3"),
    (np.ones((0, 2)), np.ones((0, 2)), "no rows"),
])
def test_accuracy_rejects(P, Yt, message):
    with pytest.raises(ValueError, match=message):
        fastmlp.accuracy(P, Yt)


@pytest.mark.parametrize("path", ["model\0.st", b"model\0.st"])
def test_save_and_load_refuse_a_path_with_a_nul_byte(tmp_path, monkeypatch, path):
    """The system would read the path up to the NUL and use another file."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"path 'model\\x00\.st' contains a NUL byte"):
        net.save(path)
    with pytest.raises(ValueError, match="contains a NUL byte"):
        fastmlp.load(path)
    assert list(tmp_path.iterdir()) == []


def test_a_dataframe_of_other_dtypes_names_its_columns():
    """A category or text column in a DataFrame: the message names it (pandas' own
    dtypes are the reference), not only the object dtype NumPy makes of the frame."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0], "colour": pd.Categorical(["red", "blue"]), "n": [1, 2]})
    assert [c for c, t in frame.dtypes.items() if t.kind not in "fiub"] == ["colour"]
    with pytest.raises(TypeError, match=r"got dtype object \(columns 'colour' \(category\): encode them"):
        fastmlp.Network([3, 2, 1]).fit(frame, np.zeros((2, 1)), epochs=1)
