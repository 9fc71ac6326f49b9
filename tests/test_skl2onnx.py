"""Pipelines holding fastmlp's estimators convert with skl2onnx and run in
onnxruntime: labels equal to the pipeline's predict, probabilities (and
regression outputs) within 1e-5 of predict_proba / predict, for float32 and
float64 graphs, with and without skl2onnx's zipmap."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the sklearn extra is not installed")
skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from fastmlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

TOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def run(model, feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))


def labels_of(out):
    """The label output: skl2onnx names it output_label with zipmap, label without."""
    return (out["output_label"] if "output_label" in out else out["label"]).tolist()


def probabilities_of(out, classes):
    """The (n, n_classes) probabilities of either output form: a tensor, or
    zipmap's list of {class: probability} dicts."""
    p = out["output_probability"] if "output_probability" in out else out["probabilities"]
    if isinstance(p, list):
        return np.array([[row[c] for c in classes] for row in p])
    return np.asarray(p)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X, y


@pytest.mark.parametrize("zipmap", [True, False])
@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("labels", ["int", "str"])
def test_scaler_and_classifier(iris, zipmap, double, labels):
    X, y = iris
    if labels == "str":
        y = np.array(["setosa", "versicolor", "virginica"])[y]
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=60, random_state=0))
    pipe.fit(X, y)
    dtype = np.float64 if double else np.float32
    tensor = DoubleTensorType if double else FloatTensorType
    if double and zipmap:  # ONNX's ZipMap has no float64 form: a clear error at conversion
        with pytest.raises(RuntimeError, match="zipmap"):
            skl2onnx.to_onnx(pipe, initial_types=[("X", tensor([None, 4]))])
        return
    model = skl2onnx.to_onnx(pipe, initial_types=[("X", tensor([None, 4]))],
                             options={MLPClassifier: {"zipmap": zipmap}})
    out = run(model, {"X": X.astype(dtype)})
    expected_labels = pipe.predict(X)
    # the check must not pass by chance: the classifier predicts several classes
    assert len(set(expected_labels)) == 3
    assert labels_of(out) == expected_labels.tolist()
    if zipmap:
        assert isinstance(out["output_probability"], list) and set(out["output_probability"][0]) == set(
            pipe.classes_.tolist())
    P = probabilities_of(out, pipe.classes_.tolist())
    np.testing.assert_allclose(P, pipe.predict_proba(X), atol=TOL, rtol=0)


def test_binary_string_labels_float32_network(iris):
    # one logistic output; a float32 network in a float64 graph
    X, y = iris
    y = np.where(y == 2, "yes", "no")
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(6,), max_iter=400, random_state=1,
                                                         dtype="float32"))
    pipe.fit(X, y)
    model = skl2onnx.to_onnx(pipe, initial_types=[("X", DoubleTensorType([None, 4]))],
                             options={MLPClassifier: {"zipmap": False}})
    out = run(model, {"X": X})
    assert labels_of(out) == pipe.predict(X).tolist()
    assert {"yes", "no"} == set(labels_of(out))
    np.testing.assert_allclose(probabilities_of(out, pipe.classes_), pipe.predict_proba(X), atol=TOL, rtol=0)


@pytest.mark.parametrize("double", [False, True])
def test_column_transformer_one_hot_regressor(double):
    rng = np.random.default_rng(0)
    n = 300
    colour = rng.integers(0, 3, n)
    size = rng.normal(size=(n, 2))
    y = np.column_stack([size[:, 0] * 2 + colour, size[:, 1] - colour])
    numeric_dtype = np.float64 if double else np.float32
    X_num = size.astype(numeric_dtype)
    X_cat = colour.reshape(-1, 1).astype(np.int64)
    # scikit-learn sees the same values the graph gets, column by column
    import pandas as pd

    frame = pd.DataFrame({"a": X_num[:, 0], "b": X_num[:, 1], "colour": X_cat[:, 0]})
    pre = ColumnTransformer([("num", StandardScaler(), ["a", "b"]),
                             ("cat", OneHotEncoder(), ["colour"])])
    pipe = make_pipeline(pre, MLPRegressor(hidden_layer_sizes=(16,), max_iter=100, random_state=0))
    pipe.fit(frame, y)
    tensor = DoubleTensorType if double else FloatTensorType
    model = skl2onnx.to_onnx(pipe, initial_types=[("a", tensor([None, 1])), ("b", tensor([None, 1])),
                                                  ("colour", Int64TensorType([None, 1]))])
    out = run(model, {"a": X_num[:, :1], "b": X_num[:, 1:], "colour": X_cat})
    (Y,) = out.values()
    expected = pipe.predict(frame)
    assert Y.shape == expected.shape == (n, 2)
    assert np.std(expected) > 0.5  # a real fit, not a constant
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(Y, expected, atol=TOL * scale * (1 if double else 10), rtol=0)


def test_one_target_regressor_has_two_dimensional_output(iris):
    X, _ = iris
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=30, random_state=0).fit(X[:, :3], X[:, 3])
    model = skl2onnx.to_onnx(reg, initial_types=[("X", DoubleTensorType([None, 3]))])
    (Y,) = run(model, {"X": X[:, :3]}).values()
    np.testing.assert_allclose(Y[:, 0], reg.predict(X[:, :3]), atol=1e-9, rtol=0)


def test_the_graph_is_the_estimators_own(iris):
    """One graph builder: the skl2onnx model's nodes are to_onnx's (after the scaler)."""
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0).fit(X, y)
    own = sorted(n.op_type for n in clf.to_onnx().graph.node)
    converted = sorted(n.op_type for n in skl2onnx.to_onnx(clf, initial_types=[("X", DoubleTensorType([None, 4]))],
                                                           options={MLPClassifier: {"zipmap": False}}).graph.node)
    assert converted == own and "Gemm" in own


def test_float_classes_become_int64_labels(iris):
    X, y = iris
    whole = MLPClassifier(hidden_layer_sizes=(4,), max_iter=10, random_state=0).fit(X, y.astype(float))
    model = skl2onnx.to_onnx(whole, initial_types=[("X", DoubleTensorType([None, 4]))],
                             options={MLPClassifier: {"zipmap": False}})
    assert labels_of(run(model, {"X": X})) == whole.predict(X).astype(int).tolist()


def test_fractional_labels_are_refused_not_truncated():
    # scikit-learn's classifiers refuse such targets today; the converter does not rely on it
    from fastmlp._skl2onnx import _int64_labels

    with pytest.raises(ValueError, match="not whole numbers"):
        _int64_labels(np.array([0.0, 0.5, 1.0]))
    assert _int64_labels(np.array([-1.0, 3.0])).tolist() == [-1, 3]
    assert _int64_labels(np.array(["a", "b"])) is None


def test_a_low_target_opset_is_refused(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=300, random_state=0).fit(X, y)
    with pytest.raises(RuntimeError, match="opset 13"):
        skl2onnx.to_onnx(clf, initial_types=[("X", FloatTensorType([None, 4]))], target_opset=12)


def test_nocl_labels_are_class_indices(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=100, random_state=0)
    clf.fit(X, np.array(["a", "b", "c"])[y])
    model = skl2onnx.to_onnx(clf, initial_types=[("X", FloatTensorType([None, 4]))],
                             options={MLPClassifier: {"zipmap": False, "nocl": True}})
    index = {c: i for i, c in enumerate(clf.classes_)}
    assert labels_of(run(model, {"X": X.astype(np.float32)})) == [index[c] for c in clf.predict(X)]


_IMPORT_ORDER = """
import sys
import numpy as np
import fastmlp.sklearn
skl2onnx_at_import = "skl2onnx" in sys.modules
{then}
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
X = np.random.default_rng(0).random((40, 4)).astype(np.float32)
pipe = make_pipeline(StandardScaler(), fastmlp.sklearn.MLPClassifier((5,), max_iter=3)).fit(X, X[:, 0] > 0.5)
model = convert(pipe, X[:1])
import importlib.resources
assert importlib.resources.files("skl2onnx").joinpath("__init__.py").is_file()  # its loader still serves it
print(skl2onnx_at_import, sorted({{node.op_type for node in model.graph.node}} & {{"Gemm", "MatMul"}}))
"""


@pytest.mark.parametrize("then", ["import skl2onnx; convert = skl2onnx.to_onnx",
                                  "from skl2onnx.convert import to_onnx as convert"])
def test_importing_the_estimators_does_not_import_skl2onnx(then):
    """``import fastmlp.sklearn`` leaves skl2onnx unimported (it costs a second
    or two), and the converters are still there once the user imports it, by
    the package or by a submodule."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-W", "ignore", "-c", _IMPORT_ORDER.format(then=then)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    at_import, ops = done.stdout.split(maxsplit=1)
    assert at_import == "False"
    assert ops.strip() != "[]", done.stdout
