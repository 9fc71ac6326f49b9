"""ONNX export: onnxruntime runs the exported graph and agrees with fastmlp.

Every hidden activation and output layer, 0-2 hidden layers, both dtypes;
the reference is fastmlp's own predict, the runtime an independent one.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastmlp

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

HIDDEN = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
OUTPUTS = ("sigmoid", "softmax", "identity", "tanh", "relu", "leaky_relu")
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def run(model, X):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})


def random_network(sizes, activation, output, dtype, seed):
    net = fastmlp.Network(sizes, activation=activation, output=output, init="glorot", seed=seed, dtype=dtype,
                          leaky_slope=0.3)
    rng = np.random.default_rng(seed)
    for b in net.biases:  # non-zero biases, so that relu units are on both sides of zero
        b[:] = rng.normal(0, 0.5, b.shape)
    return net


def assert_close(actual, expected, dtype):
    # relative to max(|y|, 1): summation order alone moves a float32 value
    # near zero by more than 1e-5 of itself
    scale = np.maximum(np.abs(expected), 1.0)
    worst = float(np.max(np.abs(actual - expected) / scale))
    assert worst <= TOLERANCE[dtype], f"max relative difference {worst:.3g} > {TOLERANCE[dtype]}"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output", OUTPUTS)
def test_every_activation_and_output_matches_onnxruntime(dtype, output):
    rng = np.random.default_rng(7)
    X = rng.normal(0, 2, (64, 5)).astype(dtype)
    shapes = [[5, 3], [5, 8, 4], [5, 8, 6, 4]]
    for k, (sizes, hidden) in enumerate(itertools.product(shapes, HIDDEN)):
        if len(sizes) == 2 and hidden != HIDDEN[0]:
            continue  # no hidden layer: the hidden activation plays no part
        activation = hidden if len(sizes) < 4 else (hidden, HIDDEN[(HIDDEN.index(hidden) + 1) % len(HIDDEN)])
        net = random_network(sizes, activation, output, dtype, seed=k)
        (Y,) = run(net.to_onnx(), X)
        assert Y.dtype == np.dtype(dtype) and Y.shape == (64, sizes[-1])
        assert_close(Y, net.predict(X), dtype)


def test_leaky_relu_slope_reaches_the_graph():
    X = -np.ones((3, 2), dtype=np.float32)
    for dtype, x in (("float32", X), ("float64", X.astype(np.float64))):
        net = fastmlp.Network([2, 2], activation=(), output="leaky_relu", init="glorot", leaky_slope=0.25, dtype=dtype)
        net.weights[0][:] = np.eye(2)
        net.biases[0][:] = 0
        (Y,) = run(net.to_onnx(), x)
        np.testing.assert_array_equal(Y, np.full((3, 2), -0.25))
    ops = {node.op_type for node in net.to_onnx().graph.node}
    assert {"Max", "Min", "Mul", "Add"} <= ops  # float64: spelled out (onnxruntime lacks LeakyRelu for doubles)
    net32 = fastmlp.Network([2, 2], output="leaky_relu", leaky_slope=0.25, dtype="float32")
    (leaky,) = [n for n in net32.to_onnx().graph.node if n.op_type == "LeakyRelu"]
    assert onnx.helper.get_attribute_value(leaky.attribute[0]) == pytest.approx(0.25)


@pytest.mark.parametrize("outputs,output", [(3, "softmax"), (1, "sigmoid"), (1, "identity")])
def test_labels_equal_predict_classes(outputs, output):
    rng = np.random.default_rng(3)
    X = rng.normal(0, 1, (50, 4))
    net = random_network([4, 6, outputs], "tanh", output, "float64", seed=outputs)
    Y, labels = run(net.to_onnx(labels=True), X)
    assert labels.dtype == np.int64 and labels.shape == (50,)
    np.testing.assert_array_equal(labels, net.predict_classes(X))
    assert 0 < labels.sum() < 50 * max(outputs - 1, 1)  # both sides of the decision occur


def test_file_written_and_versions(tmp_path, iris):
    X_tr, Y_tr, X_te, _ = iris
    net = fastmlp.train(X_tr, Y_tr, hidden=5, epochs=200, seed=1)
    path = tmp_path / "iris.onnx"
    returned = net.to_onnx(path)
    model = onnx.load(str(path))
    assert model == returned
    assert model.ir_version == fastmlp.onnx.IR_VERSION == 7
    assert [(o.domain, o.version) for o in model.opset_import] == [("", fastmlp.onnx.OPSET)]
    assert [o.op_type for o in model.graph.node] == ["Gemm", "Sigmoid", "Gemm", "Sigmoid"]
    onnx.checker.check_model(model, full_check=True)
    (Y,) = run(model, X_te)
    assert_close(Y, net.predict(X_te), "float64")
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(model.graph.initializer[0]), net.weights[0])


def test_not_a_network():
    with pytest.raises(TypeError, match="net must be a fastmlp.Network"):
        fastmlp.onnx.to_onnx("model")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["strings", "binary", "multilabel", "regression", "float32"])
def test_estimators_export_labels_and_probabilities(kind):
    pytest.importorskip("sklearn", reason="the sklearn extra is not installed")
    from fastmlp.sklearn import MLPClassifier, MLPRegressor

    rng = np.random.default_rng(5)
    X = rng.normal(size=(80, 4))
    dtype = "float32" if kind == "float32" else "float64"
    if kind == "regression":
        est = MLPRegressor(hidden_layer_sizes=(6,), max_iter=30, random_state=0).fit(X, X[:, :2] @ [[1.0, 2], [3, 4]])
        (Y,) = run(est.to_onnx(), X)
        assert_close(Y, est.predict(X), "float64")
        return
    if kind == "multilabel":
        y = (X[:, :3] > 0).astype(int)
    elif kind == "binary":
        y = np.where(X[:, 0] > 0, 7, 3)
    else:
        y = np.array(["ant", "bee", "cat"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0)]
    est = MLPClassifier(hidden_layer_sizes=(6,), max_iter=50, random_state=0, dtype=dtype).fit(X, y)
    x = X.astype(dtype)
    label, proba = run(est.to_onnx(), x)
    np.testing.assert_array_equal(label, est.predict(x))
    assert proba.dtype == np.dtype(dtype)
    assert_close(proba, est.predict_proba(x), dtype)
