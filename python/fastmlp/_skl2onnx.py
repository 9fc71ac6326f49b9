"""skl2onnx converters for fastmlp's estimators, so ``skl2onnx.to_onnx`` converts
pipelines holding them (scalers, encoders, column transformers, then an
``MLPClassifier`` or ``MLPRegressor``).

``register()`` runs when ``fastmlp.sklearn`` is imported and skl2onnx is
installed. The graph is the estimators' own ``to_onnx`` graph
(``fastmlp.sklearn._estimator_graph``), built with skl2onnx's names and in the
dtype of the tensor that reaches the model (float32, or float64 with
skl2onnx's ``DoubleTensorType``). Classifiers take skl2onnx's ``zipmap``
option (default True: probabilities as a list of {class: probability} maps;
False: a (n, n_classes) tensor) and ``nocl`` (labels are class indices);
labels are int64 or strings, as skl2onnx gives them for scikit-learn's own
MLPClassifier.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from fastmlp.onnx import OPSET, GraphBuilder

__all__ = ["register"]

_registered = False
# what fastmlp.sklearn hands register(): its graph function (this module does
# not import fastmlp.sklearn, which imports it)
_estimator_graph: Any = None


def _graph_dtype(operator: Any) -> np.dtype[Any]:
    from skl2onnx.common.data_types import DoubleTensorType

    return np.dtype(np.float64 if isinstance(operator.inputs[0].type, DoubleTensorType) else np.float32)


def _classifier_shapes(operator: Any) -> None:
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    if operator.raw_operator._label_binarizer.y_type_.startswith("multilabel"):
        raise NotImplementedError("skl2onnx: a multi-label fastmlp MLPClassifier has no skl2onnx converter; "
                                  "use its own to_onnx()")
    calculate_linear_classifier_output_shapes(operator)


def _regressor_shapes(operator: Any) -> None:
    from skl2onnx.common.shape_calculator import calculate_linear_regressor_output_shapes

    calculate_linear_regressor_output_shapes(operator)
    operator.outputs[0].type.shape = [operator.inputs[0].get_first_dimension(), operator.raw_operator.n_outputs_]


def _int64_labels(classes: np.ndarray) -> np.ndarray | None:
    """Numeric classes as the int64 labels skl2onnx declares for them; None for text.
    ValueError for classes that are not whole numbers (truncating them would
    give wrong labels)."""
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f":
        if not np.array_equal(classes, np.round(classes)) or not np.all(np.abs(classes) < 2**63):
            raise ValueError(f"skl2onnx labels numeric classes as int64; classes_ {classes!r} are not whole "
                             "numbers: use the estimator's own to_onnx() (float64 labels)")
        return classes.astype(np.int64)
    return None


def _convert(scope: Any, operator: Any, container: Any) -> None:
    """Add the estimator's graph to skl2onnx's container."""
    from onnx import helper

    if container.target_opset < OPSET:
        raise RuntimeError(f"fastmlp's ONNX graphs need opset {OPSET} or later; target_opset is "
                           f"{container.target_opset}")
    estimator = operator.raw_operator
    g = GraphBuilder(_graph_dtype(operator), unique_name=scope.get_unique_variable_name)
    if (hasattr(estimator, "classes_") and g.dtype == np.float64
            and scope.get_options(estimator, {"zipmap": True})["zipmap"] is not False):
        # ONNX's ZipMap takes float32 probabilities only: say so here, not in the runtime
        raise RuntimeError("skl2onnx's zipmap needs float32 probabilities; for a float64 (DoubleTensorType) "
                           "graph pass options={fastmlp.sklearn.MLPClassifier: {'zipmap': False}}")
    x = operator.inputs[0].full_name
    if operator.inputs[0].type.to_onnx_type().tensor_type.elem_type != g.elem_type:
        x = g.op("Cast", [x], "cast_input", to=g.elem_type)  # integer or boolean input
    names = [v.full_name for v in operator.outputs]
    if not hasattr(estimator, "classes_"):  # the regressor
        _estimator_graph(g, estimator, x, variable=names[0])
    else:
        # nocl: labels are the classes' indices (skl2onnx's option)
        nocl = scope.get_options(estimator, {"nocl": False})["nocl"]
        classes = np.arange(len(estimator.classes_)) if nocl else np.asarray(estimator.classes_)
        _estimator_graph(g, estimator, x, label=names[0], probabilities=names[1], labels=_int64_labels(classes))
    for tensor in g.initializers:
        content = list(tensor.string_data) if tensor.data_type == g.onnx.TensorProto.STRING else tensor
        container.add_initializer(tensor.name, tensor.data_type, list(tensor.dims), content)
    for node in g.nodes:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(node.op_type, list(node.input), list(node.output), name=node.name, op_version=OPSET,
                           **attrs)


def register(classifier: type, regressor: type, estimator_graph: Any) -> None:
    """Register the converters of fastmlp.sklearn's ``classifier`` and
    ``regressor`` (whose graph ``estimator_graph`` builds) with skl2onnx: now
    if skl2onnx is already imported, else as soon as it is. Importing skl2onnx
    here would make every ``import fastmlp.sklearn`` pay for it (a second or
    two), used or not."""
    global _estimator_graph
    _estimator_graph = estimator_graph
    if "skl2onnx" in sys.modules:
        _register_now(classifier, regressor)
    elif importlib.util.find_spec("skl2onnx") is not None:
        sys.meta_path.insert(0, _AfterImport(lambda: _register_now(classifier, regressor)))


def _register_now(classifier: type, regressor: type) -> None:
    global _registered
    if _registered:
        return
    from skl2onnx import update_registered_converter

    update_registered_converter(classifier, "FastmlpMLPClassifier", _classifier_shapes, _convert,
                                options={"zipmap": [True, False], "nocl": [False, True]})
    update_registered_converter(regressor, "FastmlpMLPRegressor", _regressor_shapes, _convert)
    _registered = True


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``then`` once skl2onnx's package has been imported, by whoever
    imports it: it finds skl2onnx's module spec as the other finders would and
    wraps its loader, then leaves sys.meta_path."""

    def __init__(self, then: Callable[[], None]) -> None:
        self._then = then

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != "skl2onnx":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenLoader(spec.loader, self._then)
        return spec


class _ThenLoader(importlib.abc.Loader):
    """A loader that runs ``then`` after ``loader`` has executed the module."""

    def __init__(self, loader: Any, then: Callable[[], None]) -> None:
        self._loader, self._then = loader, then

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        self._then()

    def __getattr__(self, name: str) -> Any:  # the rest of the loader (resource readers, get_data, ...)
        return getattr(self._loader, name)
