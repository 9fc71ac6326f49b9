"""Model files: round trips, the safetensors package as the independent reader
and writer, hostile files, the atomic save, and pickling."""

from __future__ import annotations

import concurrent.futures
import copy
import importlib.util
import json
import multiprocessing
import operator
import os
import pickle
import signal
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import fastmlp

from reference import sigmoid

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location("make_golden", DATA / "make_golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

ARCHITECTURES = [
    dict(sizes=[4, 5, 3]),
    dict(sizes=[4, 3]),
    dict(sizes=[6, 8, 7, 2], activation="tanh", output="softmax", loss="cross_entropy", reduction="mean",
         init="glorot", seed=9),
    dict(sizes=[3, 16, 1], activation="relu", output="identity", init="he", seed=2**64 - 1),
    dict(sizes=[2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5], activation="identity", output="sigmoid",
         loss="cross_entropy", seed=5),
    dict(sizes=[5, 6, 4, 3], activation=("leaky_relu", "tanh"), output="leaky_relu", leaky_slope=1 / 3,
         init="he_normal", seed=4),
]


def _net(arch, dtype):
    return fastmlp.Network(**arch, dtype=dtype)


def _same_network(a, b):
    assert repr(a) == repr(b)
    for p, q in zip((*a.weights, *a.biases), (*b.weights, *b.biases)):
        assert p.dtype == q.dtype and p.shape == q.shape
        assert p.tobytes() == q.tobytes()  # bit for bit, NaN payloads and signed zeros included


def _model_bytes(net):
    return net.__getstate__()["model"]


# --- round trips -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: "-".join(map(str, a["sizes"])))
def test_round_trip_is_bit_identical(tmp_path, rng, arch, dtype):
    net = _net(arch, dtype)
    for p in (*net.weights, *net.biases):  # values of every magnitude, not just the init's
        p[...] = rng.standard_normal(p.shape) * 10.0 ** rng.integers(-30, 30, p.shape)
    net.biases[0][0] = -0.0
    path = tmp_path / "net.safetensors"
    net.save(path)
    loaded = fastmlp.load(str(path))
    _same_network(net, loaded)
    X = rng.standard_normal((7, net.sizes[0]))
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    assert loaded.history["loss"].size == 0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_safetensors_package_reads_our_files(tmp_path, iris, dtype):
    X, Y, _, _ = iris
    net = fastmlp.train(X, Y, hidden=[6, 4], epochs=50, dtype=dtype, seed=3)
    path = tmp_path / "iris.safetensors"
    net.save(path)
    tensors = load_file(str(path))
    assert sorted(tensors) == sorted(f"layers.{i}.{k}" for i in range(3) for k in ("weight", "bias"))
    for i in range(3):
        for name, ours in (("weight", net.weights[i]), ("bias", net.biases[i])):
            theirs = tensors[f"layers.{i}.{name}"]
            assert theirs.dtype == ours.dtype and theirs.shape == ours.shape
            np.testing.assert_array_equal(theirs, ours)
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    assert meta["format"] == "fastmlp" and meta["format_version"] == "1"
    assert meta["sizes"] == "4,6,4,3" and meta["activations"] == "sigmoid,sigmoid,sigmoid"
    assert (meta["loss"], meta["reduction"], float(meta["leaky_slope"])) == ("mse", "sum", 0.01)
    assert (meta["init"], meta["seed"]) == ("uniform", "3")


@pytest.mark.parametrize("name", list(golden.FILES))
def test_golden_file_written_by_safetensors_loads(iris, name):
    dtype = golden.FILES[name]
    net = fastmlp.load(DATA / name)
    expected = golden.expected_tensors(dtype)
    assert net.sizes == golden.SIZES and net.dtype == dtype
    assert (net.activation, net.output, net.loss_name, net.reduction) == ("sigmoid", "sigmoid", "mse", "sum")
    for i in range(len(golden.SIZES) - 1):
        assert net.weights[i].tobytes() == expected[f"layers.{i}.weight"].tobytes()
        assert net.biases[i].tobytes() == expected[f"layers.{i}.bias"].tobytes()
    # it runs as the plain NumPy network with those parameters does
    _, _, X_test, _ = iris
    weights = [expected[f"layers.{i}.weight"].astype(np.float64) for i in range(2)]
    biases = [expected[f"layers.{i}.bias"].astype(np.float64) for i in range(2)]
    A = X_test
    for W, b in zip(weights, biases):
        A = sigmoid(A @ W + b)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(net.predict(X_test), A, rtol=tol, atol=tol)


def test_extra_metadata_survives_load_and_save(tmp_path):
    net = fastmlp.load(DATA / "golden_iris.safetensors")
    net.save(tmp_path / "again.safetensors")
    with safe_open(str(tmp_path / "again.safetensors"), framework="numpy") as f:
        assert json.loads(f.metadata()["classes"]) == golden.CLASSES


def test_save_and_load_take_paths_of_every_kind(tmp_path):
    net = fastmlp.Network([2, 2], seed=1)
    for path in (str(tmp_path / "a.st"), tmp_path / "b.st", os.fsencode(tmp_path / "c.st"),
                 tmp_path / "caf\u00e9 \u6a21\u578b.st"):
        net.save(path)
        _same_network(net, fastmlp.load(path))
    with pytest.raises(TypeError, match="path must be a str or os.PathLike; got int"):
        net.save(3)
    with pytest.raises(TypeError, match="path must be"):
        fastmlp.load(None)


# --- hostile files ---------------------------------------------------------------------


def _forge(tmp_path, header, data=b"", length=None, name="forged.safetensors"):
    """A file written here byte by byte: JSON header, its length, data."""
    text = json.dumps(header).encode() if isinstance(header, dict) else header
    path = tmp_path / name
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


def _valid_header():
    """A valid 2-1 float64 network's header, built here, and its data."""
    meta = dict(golden.METADATA, sizes="2,1", activations="sigmoid")
    header = {"__metadata__": meta,
              "layers.0.weight": {"dtype": "F64", "shape": [2, 1], "data_offsets": [0, 16]},
              "layers.0.bias": {"dtype": "F64", "shape": [1], "data_offsets": [16, 24]}}
    return header, np.array([1.0, 2.0, 3.0]).tobytes()


def test_a_forged_valid_file_loads(tmp_path):
    header, data = _valid_header()
    net = fastmlp.load(_forge(tmp_path, header, data))
    assert net.weights[0].tolist() == [[1.0], [2.0]] and net.biases[0].tolist() == [3.0]


def _edit(change):
    header, data = _valid_header()
    return change(header, data) or (header, data)


HOSTILE = {
    "absurd header length": (lambda h, d: None, 1 << 62, "exceeds the limit of 100000000 bytes"),
    "header past the end": (lambda h, d: None, 10_000, "runs past the end"),
    "huge shape": (lambda h, d: h.update({
        "__metadata__": dict(h["__metadata__"], sizes="100000,100000"),
        "layers.0.weight": {"dtype": "F64", "shape": [100000, 100000], "data_offsets": [0, 16]}}),
        None, r"span 16 bytes; its shape \[100000,100000\] in F64 needs 80000000000"),
    "overflowing shape": (lambda h, d: h.update({
        "__metadata__": dict(h["__metadata__"], sizes="4294967296,4294967296"),
        "layers.0.weight": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 16]}}),
        None, "layers.0.weight' is too large"),
    "overlapping offsets": (lambda h, d: h["layers.0.bias"].update(data_offsets=[8, 16]), None, "overlap"),
    "offsets past the data": (lambda h, d: h["layers.0.bias"].update(data_offsets=[16, 32]), None,
                              "outside the data section"),
    "reversed offsets": (lambda h, d: h["layers.0.bias"].update(data_offsets=[24, 16]), None,
                         "outside the data section"),
    "wrong dtype": (lambda h, d: h["layers.0.bias"].update(dtype="I64"), None, "dtype 'I64'"),
    "mixed dtypes": (lambda h, d: h["layers.0.bias"].update(dtype="F32", data_offsets=[16, 20]), None,
                     "all tensors must share one"),
    "shape against sizes": (lambda h, d: h["layers.0.weight"].update(shape=[1, 2]), None, "has shape"),
    "unknown tensor": (lambda h, d: h.update({"extra": h["layers.0.bias"]}), None, "unexpected tensor 'extra'"),
    "missing tensor": (lambda h, d: h.pop("layers.0.bias") and None, None, "no tensor 'layers.0.bias'"),
    "no metadata": (lambda h, d: h.pop("__metadata__") and None, None, "no __metadata__"),
    "future version": (lambda h, d: h["__metadata__"].update(format_version="2"), None,
                       "format_version '2' is not supported"),
    "another format": (lambda h, d: h["__metadata__"].update(format="pt"), None, "not a fastmlp model"),
    "bad activation": (lambda h, d: h["__metadata__"].update(activations="swish"), None, "'swish'"),
    "softmax hidden": (lambda h, d: h["__metadata__"].update(sizes="2,1,1", activations="softmax,sigmoid"),
                       None, "'softmax'"),
    "non-string metadata": (lambda h, d: h["__metadata__"].update(sizes=[2, 1]), None, "must be a string"),
    "bad seed": (lambda h, d: h["__metadata__"].update(seed="-1"), None, "metadata 'seed'"),
    "bad init": (lambda h, d: h["__metadata__"].update(init="zeros"), None, "metadata 'init' must be one of"),
    "long init": (lambda h, d: h["__metadata__"].update(init="x" * 100), None, "metadata 'init' has no such value: 'xxx"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_raise_value_error(tmp_path, case):
    change, length, message = HOSTILE[case]
    header, data = _edit(change)
    path = _forge(tmp_path, header, data, length=length)
    with pytest.raises(ValueError, match=message):
        fastmlp.load(path)


@pytest.mark.parametrize("key", ["format", "format_version", "sizes", "activations", "leaky_slope", "loss",
                                 "reduction"])
def test_missing_metadata_keys_raise(tmp_path, key):
    header, data = _valid_header()
    del header["__metadata__"][key]
    with pytest.raises(ValueError, match=f"metadata has no '{key}'"):
        fastmlp.load(_forge(tmp_path, header, data))


@pytest.mark.parametrize("text,message", [
    (b"{}x", "unexpected text after"),
    (b'{"a":1,"a":1}', "duplicate key"),
    (b'{"a":' + b"[" * 100 + b"]" * 100 + b"}", "nested too deeply"),
    (b'{"a":99999999999999999999}', "does not fit 64 bits"),
    (b'{"a":"\xff"}', "not valid UTF-8"),
    (b'{"a":null}', "unsupported value"),
    (b'{"a":', "unexpected end"),
])
def test_malformed_json_headers_raise(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        fastmlp.load(_forge(tmp_path, text))


def test_messages_with_bytes_that_are_not_utf8_stay_value_errors(tmp_path):
    """The file's bytes and a path given as bytes show escaped (\\xNN): the
    error stays a ValueError with its message, not a UnicodeDecodeError."""
    path = _forge(tmp_path, b'{"__metadata__":{"x":"\\\xa2"}}')
    with pytest.raises(ValueError, match=r"bad escape '\\\\xa2'") as info:
        fastmlp.load(path)
    assert type(info.value) is ValueError
    if not sys.platform.startswith("linux"):  # other systems refuse such a file name
        return
    odd = os.fsencode(tmp_path) + b"/model-\xff.st"
    with open(odd, "wb") as f:
        f.write(path.read_bytes())
    with pytest.raises(ValueError, match=r"model-\\xff\.st: header is not valid JSON") as info:
        fastmlp.load(odd)
    assert type(info.value) is ValueError


def test_dtypes_from_the_safetensors_package_are_refused(tmp_path):
    for dtype in (np.float16, np.int64, np.uint8):
        tensors = {k: v.astype(dtype) for k, v in golden.expected_tensors().items()}
        save_file(tensors, str(tmp_path / "t.st"), metadata=golden.METADATA)
        with pytest.raises(ValueError, match="fastmlp reads F64 and F32"):
            fastmlp.load(tmp_path / "t.st")


def test_truncated_and_flipped_files_raise_or_load_never_crash(tmp_path):
    net = fastmlp.Network([3, 4, 2], output="softmax", loss="cross_entropy", seed=1)
    good = _model_bytes(net)
    (header_length,) = struct.unpack("<Q", good[:8])
    path = tmp_path / "t.st"
    cuts = sorted({*range(0, 8 + header_length + 16), *range(0, len(good), 7), len(good) - 1})
    for cut in cuts:
        path.write_bytes(good[:cut])
        with pytest.raises(ValueError):
            fastmlp.load(path)
    # Every byte of the length and header flipped: a byte with its top bit set is
    # never valid where ASCII JSON was, so each such file is refused.
    for at in range(8 + header_length):
        path.write_bytes(good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1:])
        with pytest.raises(ValueError):
            fastmlp.load(path)
    # A flipped byte in the data section is a different, valid network.
    at = 8 + header_length + 3
    path.write_bytes(good[:at] + bytes([good[at] ^ 0x10]) + good[at + 1:])
    changed = fastmlp.load(path)
    assert not np.array_equal(changed.weights[0], net.weights[0])


def test_file_errors_are_os_errors_naming_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot open for reading") as info:
        fastmlp.load(tmp_path / "missing.st")
    assert info.value.filename == str(tmp_path / "missing.st")
    with pytest.raises(IsADirectoryError):
        fastmlp.load(tmp_path)
    (tmp_path / "empty.st").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.st: 0 bytes are too few"):
        fastmlp.load(tmp_path / "empty.st")


# --- atomic save ------------------------------------------------------------------------


def _temporaries(directory):
    return [p.name for p in directory.iterdir() if p.name.startswith(".fastmlp-")]


def test_failed_saves_leave_the_old_file_and_no_temporary(tmp_path):
    old = fastmlp.Network([2, 1], seed=1)
    path = tmp_path / "model.st"
    old.save(path)
    before = path.read_bytes()
    net = fastmlp.Network([4, 5, 3], seed=2)
    (tmp_path / "sub").mkdir()
    with pytest.raises(IsADirectoryError, match="cannot replace a directory"):
        net.save(tmp_path / "sub")
    with pytest.raises(FileNotFoundError, match="cannot save there"):
        net.save(tmp_path / "missing" / "model.st")
    assert path.read_bytes() == before and _temporaries(tmp_path) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE and SIGXFSZ as on Linux")
def test_a_write_failing_half_way_leaves_the_old_file(tmp_path):
    import resource

    old = fastmlp.Network([2, 1], seed=1)
    path = tmp_path / "model.st"
    old.save(path)
    before = path.read_bytes()
    big = fastmlp.Network([64, 64, 8], seed=2)  # about 35 kB: past the limit below
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, limits[1]))  # writes past 4 kB fail: EFBIG
        with pytest.raises(OSError, match="File too large") as info:
            big.save(path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert info.value.filename == str(path)
    assert path.read_bytes() == before and _temporaries(tmp_path) == []
    big.save(path)
    _same_network(big, fastmlp.load(path))


# --- pickling ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pickle_and_deepcopy_keep_everything(iris, dtype):
    X, Y, X_test, _ = iris
    net = fastmlp.train(X, Y, hidden=[5, 4], epochs=30, batch_size=16, seed=7, activation="tanh",
                        output="softmax", loss="cross_entropy", reduction="mean", init="glorot", dtype=dtype,
                        validation_fraction=0.25, early_stopping=50)
    assert net.best_epoch is not None and set(net.history) > {"loss", "val_loss"}
    for twin in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net), copy.copy(net)):
        _same_network(net, twin)
        assert twin.history.keys() == net.history.keys() and twin.best_epoch == net.best_epoch
        for key in net.history:
            np.testing.assert_array_equal(twin.history[key], net.history[key])
        np.testing.assert_array_equal(twin.predict(X_test), net.predict(X_test))
        twin.weights[0][0, 0] += 1  # an independent copy
        assert twin.weights[0][0, 0] != net.weights[0][0, 0]
    # training resumes exactly where it would have: same seed, same shuffles
    twin = pickle.loads(pickle.dumps(net))
    net.fit(X, Y, epochs=5, batch_size=16)
    twin.fit(X, Y, epochs=5, batch_size=16)
    _same_network(net, twin)


def test_networks_travel_to_other_processes(iris):
    X, Y, X_test, _ = iris
    net = fastmlp.train(X, Y, epochs=20, seed=2)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        remote = pool.submit(operator.methodcaller("predict", X_test), net).result(timeout=60)
    np.testing.assert_array_equal(remote, net.predict(X_test))


def test_unpickling_hostile_bytes_raises_value_error():
    state = fastmlp.Network([2, 1]).__getstate__()
    broken = fastmlp.Network.__new__(fastmlp.Network)
    with pytest.raises(ValueError, match="too few"):
        broken.__setstate__(dict(state, model=state["model"][:5]))
    with pytest.raises(TypeError, match="bytes or a contiguous buffer"):
        broken.__setstate__(dict(state, model=12))


# --- what the inputs and outputs are: feature names, classes, task ------------------------


def _frame(X, names):
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(X, columns=names)


NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def test_fit_on_a_dataframe_records_its_names_and_files_keep_them(tmp_path, iris):
    X, Y, Xt, _ = iris
    net = fastmlp.train(_frame(X, NAMES), Y, epochs=20, seed=1)
    assert net.feature_names == tuple(NAMES)
    assert fastmlp.Network([4, 3]).fit(X, Y, epochs=1).feature_names is None  # an array has no names
    net.save(tmp_path / "n.safetensors")
    with safe_open(str(tmp_path / "n.safetensors"), framework="numpy") as f:
        meta = f.metadata()
    assert json.loads(meta["feature_names"]) == NAMES
    assert "task" not in meta and "classes" not in meta  # nothing is guessed
    for again in (fastmlp.load(tmp_path / "n.safetensors"), pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert again.feature_names == tuple(NAMES)
        np.testing.assert_array_equal(again.predict(_frame(Xt, NAMES)), net.predict(Xt))


def test_names_follow_scikit_learns_rule_for_feature_names_in(iris):
    sklearn = pytest.importorskip("sklearn.linear_model")
    X, Y, _, _ = iris
    for columns in (NAMES, [0, 1, 2, 3], ["a", "b", 2, "d"]):
        frame = _frame(X, columns)
        ours = fastmlp.Network([4, 3]).fit(frame, Y, epochs=1).feature_names
        if all(isinstance(c, str) for c in columns):
            theirs = sklearn.LinearRegression().fit(frame, Y).feature_names_in_
            assert ours == tuple(theirs)
        else:
            assert ours is None
            if all(not isinstance(c, str) for c in columns):  # scikit-learn raises TypeError for mixed names
                assert not hasattr(sklearn.LinearRegression().fit(frame, Y), "feature_names_in_")


@pytest.mark.parametrize("columns,message", [
    (NAMES[::-1], r"the same names in another order"),
    ([*NAMES[:3], "petal_size"], r"not seen in fit: 'petal_size'; missing: 'petal_width'"),
    (["x", *NAMES[1:]], r"not seen in fit: 'x'; missing: 'sepal_length'"),
])
def test_a_dataframe_whose_columns_differ_is_refused_naming_the_difference(iris, columns, message):
    sklearn = pytest.importorskip("sklearn.linear_model")
    X, Y, _, _ = iris
    net = fastmlp.Network([4, 3]).fit(_frame(X, NAMES), Y, epochs=1)
    other = _frame(X, columns)
    for call in (lambda: net.predict(other), lambda: net.predict_classes(other), lambda: net.loss(other, Y),
                 lambda: net.gradient(other, Y), lambda: net.fit(other, Y, epochs=1),
                 lambda: net.fit(X, Y, epochs=1, validation=(other, Y))):
        with pytest.raises(ValueError, match="column names differ from the network's feature_names; " + message):
            call()
    # scikit-learn refuses the same frames (and never reorders them)
    with pytest.raises(ValueError, match="feature names should match"):
        sklearn.LinearRegression().fit(_frame(X, NAMES), Y).predict(other)
    np.testing.assert_array_equal(net.predict(_frame(X, NAMES)), net.predict(X))  # arrays are not checked


@pytest.mark.parametrize("classes,kind", [
    (["setosa", "versicolor", "virginica"], "str"),
    ([-3, 7, 2**62], "int"),
    ([0.1, 2.5, 1e300], "float"),
])
def test_classes_and_task_round_trip_through_files(tmp_path, iris, classes, kind):
    X, Y, _, _ = iris
    net = fastmlp.Network([4, 5, 3], seed=1)
    net.classes = classes
    assert net.task == "classification"
    net.save(tmp_path / "c.safetensors")
    with safe_open(str(tmp_path / "c.safetensors"), framework="numpy") as f:
        meta = f.metadata()
    assert (meta["task"], meta["classes_type"]) == ("classification", kind)
    assert [type(c)(s) for c, s in zip(classes, json.loads(meta["classes"]))] == classes  # exact: repr of floats
    for again in (fastmlp.load(tmp_path / "c.safetensors"), pickle.loads(pickle.dumps(net))):
        assert again.classes.tolist() == classes and again.task == "classification"
        np.testing.assert_array_equal(again.classes[again.predict_classes(X)],
                                      np.array(classes)[net.predict(X).argmax(axis=1)])


def test_binary_and_regression_descriptions(tmp_path):
    net = fastmlp.Network([2, 1])
    net.classes = [False, True]  # one output: at or below 0.5 the first, above it the second
    net.save(tmp_path / "b.safetensors")
    loaded = fastmlp.load(tmp_path / "b.safetensors")
    assert loaded.classes.dtype == bool and loaded.classes.tolist() == [False, True]
    reg = fastmlp.Network([2, 2], output="identity")
    reg.target_names = ["price", "volume"]
    reg.save(tmp_path / "r.safetensors")
    loaded = fastmlp.load(tmp_path / "r.safetensors")
    assert (loaded.task, loaded.target_names, loaded.classes) == ("regression", ("price", "volume"), None)
    reg.target_names = None  # the task stays known without names
    reg.save(tmp_path / "r.safetensors")
    loaded = fastmlp.load(tmp_path / "r.safetensors")
    assert (loaded.task, loaded.target_names) == ("regression", None)


@pytest.mark.parametrize("attr,value,error,message", [
    ("feature_names", ["a", "b"], ValueError, r"feature_names must name 4 columns, one per input; got 2"),
    ("feature_names", ["a", "b", "a", "c"], ValueError, r"feature_names must be distinct; 'a' is there twice"),
    ("feature_names", "abcd", TypeError, "feature_names must be a sequence of str"),
    ("feature_names", [1, 2, 3, 4], TypeError, "feature_names must hold strings"),
    ("classes", ["a", "b"], ValueError, r"classes must hold 3 labels for a network with 3 output\(s\); got 2"),
    ("classes", ["a", "b", "a"], ValueError, "classes must be distinct"),
    ("classes", ["a", 1, 2], TypeError, "classes must be all strings, all ints"),
    ("classes", [1.0, float("nan"), 2.0], ValueError, "classes must be finite"),
    ("classes", [1, 2, 2**64], TypeError, "within int64"),
    ("classes", "abc", TypeError, "classes must be a 1-D sequence"),
    ("target_names", ["y"], ValueError, "target_names must name 3 columns, one per output"),
    ("task", "ranking", ValueError, "task must be one of 'classification', 'regression'"),
])
def test_bad_descriptions_are_refused(attr, value, error, message):
    net = fastmlp.Network([4, 5, 3])
    with pytest.raises(error, match=message):
        setattr(net, attr, value)
    assert getattr(net, attr) is None


def test_a_description_may_not_contradict_itself():
    net = fastmlp.Network([4, 3])
    net.classes = ["a", "b", "c"]
    with pytest.raises(ValueError, match="target_names need task 'regression'"):
        net.target_names = ["x", "y", "z"]
    with pytest.raises(ValueError, match="task 'regression' contradicts this network's classes"):
        net.task = "regression"
    net.classes = None
    net.task = "regression"
    with pytest.raises(ValueError, match="classes need task 'classification'"):
        net.classes = ["a", "b", "c"]


@pytest.mark.parametrize("changes,message", [
    (dict(classes='["a", "b", "c"]', classes_type="int"), r"holds 'a', which is not an integer within int64"),
    (dict(classes='["1", "01", "2"]', classes_type="int"), r"holds '1' and '01', one int value twice"),
    (dict(classes='["1", "yes", "2"]', classes_type="bool"), r"holds '1', which is not 'True' or 'False'"),
    (dict(classes='["1", "inf", "2"]', classes_type="float"), r"holds 'inf', which is not a finite number"),
    (dict(classes='["1", "2", "99999999999999999999"]', classes_type="int"),
     r"holds '99999999999999999999', which is not an integer within int64"),
])
def test_class_labels_that_do_not_fit_their_type_are_refused(tmp_path, changes, message):
    net = fastmlp.Network([4, 3])
    net.classes = ["x", "y", "z"]
    net.save(tmp_path / "c.safetensors")
    with safe_open(str(tmp_path / "c.safetensors"), framework="numpy") as f:
        meta = {**f.metadata(), **changes}
    save_file(load_file(str(tmp_path / "c.safetensors")), str(tmp_path / "bad.safetensors"), metadata=meta)
    with pytest.raises(ValueError, match=message) as error:
        fastmlp.load(tmp_path / "bad.safetensors")
    assert str(tmp_path / "bad.safetensors") in str(error.value)


def test_an_older_files_classes_entry_gives_way_to_the_description(tmp_path):
    net = fastmlp.load(DATA / "golden_iris.safetensors")  # its classes entry predates the format's key
    assert net.classes is None and net.task is None
    net.classes = ["a", "b", "c"]
    net.save(tmp_path / "described.safetensors")
    with safe_open(str(tmp_path / "described.safetensors"), framework="numpy") as f:
        meta = f.metadata()
    assert (json.loads(meta["classes"]), meta["classes_type"], meta["task"]) == (["a", "b", "c"], "str",
                                                                                 "classification")
    assert fastmlp.load(tmp_path / "described.safetensors").classes.tolist() == ["a", "b", "c"]


@pytest.mark.parametrize("through", ["file", "pickle"])
def test_a_loaded_network_continues_the_epoch_count(tmp_path, through):
    # shuffled batches and dropout masks follow the seed and the epoch's
    # number: 3 epochs, saved, loaded, 4 more are the 7 epochs of one run
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(64, 4)), rng.normal(size=(64, 2))

    def net():
        return fastmlp.Network([4, 6, 2], activation="tanh", output="identity", loss="mse",
                               reduction="mean", dropout=0.3, seed=5)

    options = {"learning_rate": 0.05, "batch_size": 16}
    whole = net().fit(X, Y, epochs=7, **options)
    first = net().fit(X, Y, epochs=3, **options)
    if through == "file":
        first.save(tmp_path / "m.safetensors")
        resumed = fastmlp.load(tmp_path / "m.safetensors")
    else:
        resumed = pickle.loads(pickle.dumps(first))
    resumed.fit(X, Y, epochs=4, **options)
    for a, b in zip(whole.weights + whole.biases, resumed.weights + resumed.biases):
        np.testing.assert_array_equal(a, b)
    # and the count goes on through a second save
    resumed.save(tmp_path / "again.safetensors")
    again = fastmlp.load(tmp_path / "again.safetensors")
    assert again._epochs_trained() == 7


def test_an_epoch_count_at_the_top_of_its_range_wraps_as_the_core_counts(tmp_path):
    # a file may claim 2**64 - 1 epochs: the next fit's epochs are counted on
    # from there modulo 2**64, as the core's 64-bit counter does, and the
    # network saves, pickles and fits again
    import pickle

    rng = np.random.default_rng(0)
    X, Y = rng.random((10, 2)), rng.random((10, 1))
    net = fastmlp.Network([2, 1], output="identity")
    net._epochs_before = 2**64 - 1
    net.save(tmp_path / "top.safetensors")
    loaded = fastmlp.load(tmp_path / "top.safetensors")
    assert loaded._epochs_trained() == 2**64 - 1
    loaded.fit(X, Y, epochs=2)
    assert loaded._epochs_trained() == 1
    loaded.save(tmp_path / "again.safetensors")
    assert fastmlp.load(tmp_path / "again.safetensors")._epochs_trained() == 1
    copy = pickle.loads(pickle.dumps(loaded))
    assert copy._epochs_trained() == 1
    copy.fit(X, Y, epochs=1)
