"""What a model file records about its inputs and outputs (feature names, task,
class or target names) through the core's binding: written, read back, seen by
the safetensors package as plain JSON arrays, and checked both ways."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import fastmlp
from fastmlp import _core

NONE_INFO = dict(feature_names=None, classes=None, classes_type=None, target_names=None, task=None)


def _core_of(net: fastmlp.Network):
    return net._core


def test_keys_round_trip_and_safetensors_reads_them(tmp_path):
    net = fastmlp.Network([3, 4, 3], activation="tanh", output="softmax", loss="cross_entropy", seed=7)
    features = ["sepal length", 'a,b "q"', "caf\u00e9 \u6a21\u578b"]
    classes = ["Iris-setosa", "Iris-versicolor", "x\ny"]
    path = tmp_path / "m.safetensors"
    _core_of(net).save(str(path), "uniform", 7, {"note": "kept"}, feature_names=features, classes=classes,
                       classes_type="str", task="classification")

    # the safetensors package: the keys are strings holding JSON arrays, and the tensors load
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    assert json.loads(meta["feature_names"]) == features
    assert json.loads(meta["classes"]) == classes
    assert (meta["task"], meta["classes_type"], meta["note"]) == ("classification", "str", "kept")
    assert "target_names" not in meta
    tensors = load_file(str(path))
    np.testing.assert_array_equal(tensors["layers.0.weight"], net.weights[0])

    core, dtype, info, extra = _core.load(str(path))
    assert dtype == "float64" and extra == {"note": "kept"}
    assert info == dict(init="uniform", seed=7, epochs=None, feature_names=features, classes=classes,
                        classes_type="str", target_names=None, task="classification")
    _core_of(net).save(str(path), "uniform", 7, {}, epochs=12)
    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata()["epochs"] == "12"
    assert _core.load(str(path))[2]["epochs"] == 12
    # from_bytes reads the bytes to_bytes writes, the same
    data = _core_of(net).to_bytes("uniform", 7, {}, feature_names=features, classes=classes,
                                  classes_type="str", task="classification")
    assert _core.from_bytes(data)[2] == info


def test_regression_targets_and_plain_network_load(tmp_path):
    net = fastmlp.Network([2, 5, 2], output="identity", seed=1)
    path = tmp_path / "r.safetensors"
    _core_of(net).save(str(path), "uniform", 1, {}, feature_names=["x0", "x1"], target_names=["y", "z"],
                       task="regression")
    info = _core.load(str(path))[2]
    assert (info["task"], info["target_names"], info["feature_names"]) == ("regression", ["y", "z"], ["x0", "x1"])
    assert info["classes"] is None and info["classes_type"] is None
    # fastmlp.load still loads it as a network, predicting the same
    X = np.random.default_rng(0).normal(size=(4, 2))
    np.testing.assert_array_equal(fastmlp.load(path).predict(X), net.predict(X))
    # a file without the keys reads them as None
    net.save(tmp_path / "plain.safetensors")
    info = _core.load(str(tmp_path / "plain.safetensors"))[2]
    assert {k: info[k] for k in NONE_INFO} == NONE_INFO


def test_a_file_written_by_safetensors_with_the_keys_loads(tmp_path):
    """Another writer's file: the keys as the schema spells them."""
    net = fastmlp.Network([2, 1], seed=3)
    tensors = {"layers.0.weight": net.weights[0].copy(), "layers.0.bias": net.biases[0].copy()}
    meta = {"format": "fastmlp", "format_version": "1", "sizes": "2,1", "activations": "sigmoid",
            "leaky_slope": "0.01", "loss": "mse", "reduction": "sum", "task": "classification",
            "classes": json.dumps([False, True]).replace("false", '"False"').replace("true", '"True"'),
            "classes_type": "bool", "feature_names": json.dumps(["\u00e9", "b"])}
    save_file(tensors, str(tmp_path / "s.st"), metadata=meta)
    info = _core.load(str(tmp_path / "s.st"))[2]
    assert info["classes"] == ["False", "True"] and info["classes_type"] == "bool"
    assert info["feature_names"] == ["\u00e9", "b"]


@pytest.mark.parametrize(
    "keywords, message",
    [
        (dict(feature_names=["a"]), "metadata 'feature_names' lists 1 name"),
        (dict(feature_names=["a", "a"]), "metadata 'feature_names' names 'a' twice"),
        (dict(classes=["a", "b"]), "metadata 'classes' needs task 'classification'"),
        (dict(classes=["a", "b", "c"], task="classification"), "metadata 'classes' lists 3 name"),
        (dict(classes=["a", "b"], task="classification", classes_type="list"), "'classes_type' must be one of"),
        (dict(target_names=["y"], task="classification"), "'target_names' needs task 'regression'"),
        (dict(task="clustering"), "task must be one of 'classification', 'regression'"),
    ],
)
def test_inconsistent_keys_are_refused_when_writing(tmp_path, keywords, message):
    net = fastmlp.Network([2, 1], seed=3)
    with pytest.raises(ValueError, match=message):
        _core_of(net).save(str(tmp_path / "x.st"), "uniform", 3, {}, **keywords)
    assert not (tmp_path / "x.st").exists()
    with pytest.raises(TypeError):
        _core_of(net).to_bytes("uniform", 3, {}, feature_names="ab")  # a list of names, not a string


@pytest.mark.parametrize(
    "entries, message",
    [
        ({"feature_names": '["a"]'}, "metadata 'feature_names' lists 1 name"),
        ({"feature_names": "a,b"}, "'feature_names' must be a JSON array of strings"),
        ({"task": "regression", "classes": '["a","b"]'}, "'classes' needs task 'classification'"),
        ({"task": "classification", "classes": '["a","a"]'}, "'classes' names 'a' twice"),
        ({"task": "classification", "target_names": '["y"]'}, "'target_names' needs task 'regression'"),
    ],
)
def test_inconsistent_keys_are_refused_when_reading(tmp_path, entries, message):
    net = fastmlp.Network([2, 1], seed=3)
    tensors = {"layers.0.weight": net.weights[0].copy(), "layers.0.bias": net.biases[0].copy()}
    meta = {"format": "fastmlp", "format_version": "1", "sizes": "2,1", "activations": "sigmoid",
            "leaky_slope": "0.01", "loss": "mse", "reduction": "sum", **entries}
    save_file(tensors, str(tmp_path / "bad.st"), metadata=meta)
    with pytest.raises(ValueError, match=message):
        fastmlp.load(tmp_path / "bad.st")


# Classes that do not read back as distinct values of their classes_type: each refused, with
# one message, by fastmlp.load and by the command line's predict and eval (the core's reader).
BAD_CLASSES = [
    (["1", "01"], "int", "metadata 'classes' holds '1' and '01', one int value twice"),
    (["setosa", "versicolor"], "int", "holds 'setosa', which is not an integer within int64"),
    (["1", "9223372036854775808"], "int", "holds '9223372036854775808', which is not an integer within int64"),
    ([" 1", "2"], "int", "holds ' 1', which is not an integer within int64"),
    (["yes", "no"], "bool", "holds 'yes', which is not 'True' or 'False'"),
    (["0.0", "-0"], "float", "holds '0.0' and '-0', one float value twice"),
    (["1.5", "inf"], "float", "holds 'inf', which is not a finite number"),
    (["1_0", "2"], "float", "holds '1_0', which is not a finite number"),
]


@pytest.mark.parametrize("classes, classes_type, message", BAD_CLASSES)
def test_classes_of_the_wrong_type_are_refused_by_both_doors(tmp_path, classes, classes_type, message):
    from test_cli import DOORS, run

    net = fastmlp.Network([2, 1], seed=3)
    tensors = {"layers.0.weight": net.weights[0].copy(), "layers.0.bias": net.biases[0].copy()}
    meta = {"format": "fastmlp", "format_version": "1", "sizes": "2,1", "activations": "sigmoid",
            "leaky_slope": "0.01", "loss": "mse", "reduction": "sum", "task": "classification",
            "classes": json.dumps(classes), "classes_type": classes_type}
    model = tmp_path / "bad.st"
    save_file(tensors, str(model), metadata=meta)
    with pytest.raises(ValueError) as python:
        fastmlp.load(model)
    assert message in str(python.value)
    (tmp_path / "x.csv").write_text("0.5,1.5,1\n2.5,3.5,2\n")
    for door in DOORS.values():
        for command in ("predict", "eval"):
            res = run(door, command, str(model), str(tmp_path / "x.csv"))
            assert res.returncode == 1 and res.stdout == ""
            assert message in res.stderr and res.stderr.count("\n") == 1, res.stderr
    # the same classes written by the core are refused before any file exists
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        _core_of(net).save(str(tmp_path / "w.st"), "uniform", 3, {}, classes=classes, classes_type=classes_type,
                           task="classification")
    assert not (tmp_path / "w.st").exists()
