"""ONNX export: a trained network as a standard ONNX graph (``onnx`` is an optional extra).

``to_onnx(net)`` writes one ``Gemm`` per dense layer followed by the layer's
activation as standard operators (Sigmoid, Tanh, Relu, LeakyRelu, Softmax,
Exp), so any ONNX runtime can run it; ``labels=True`` adds an ArgMax output.
Dropout acts only while training, so the graph has none: it computes
``predict``. The
graph targets opset 13 and IR version 7 (ONNX 1.8 and later, onnxruntime 1.6
and later). This module only builds graphs; it runs nothing.
Needs ``pip install "fastmlp[onnx]"``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from fastmlp import _core

if TYPE_CHECKING:  # pragma: no cover
    import onnx as _onnx


class Network(Protocol):
    """What the exporters read of a network. This module knows networks only by
    these attributes: fastmlp.network and fastmlp.sklearn import it, never the
    other way round."""

    sizes: tuple[int, ...]
    output: str
    leaky_slope: float
    dtype: np.dtype[Any]

    @property
    def activations(self) -> tuple[str, ...]: ...
    @property
    def weights(self) -> tuple[np.ndarray, ...]: ...
    @property
    def biases(self) -> tuple[np.ndarray, ...]: ...


__all__ = ["IR_VERSION", "OPSET", "network_graph", "to_onnx"]

OPSET = 13
"""The ONNX operator set the exported graphs use."""

IR_VERSION = 7
"""The ONNX IR version of the exported models (that of ONNX 1.8, which introduced opset 13)."""

_SIMPLE_OPS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "exp": "Exp"}


def _onnx_modules() -> tuple[Any, Any, Any]:
    """(onnx, onnx.helper, onnx.numpy_helper), or ImportError saying how to install them."""
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('ONNX export needs the onnx package: pip install "fastmlp[onnx]"') from e
    return onnx, helper, numpy_helper


class GraphBuilder:
    """Nodes, initialisers and unique names for one graph (used by the exporters)."""

    def __init__(self, dtype: np.dtype[Any], unique_name: Callable[[str], str] | None = None) -> None:
        self.onnx, self.helper, self.numpy_helper = _onnx_modules()
        self.dtype = np.dtype(dtype)
        self.elem_type = self.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._used: set[str] = set()
        self._unique_name = unique_name  # a larger graph's namer (skl2onnx's scope), when this is part of one

    def name(self, stem: str) -> str:
        """A name not used before in this graph: ``stem``, ``stem_1``, ..."""
        if self._unique_name is not None:
            return self._unique_name(stem)
        name, i = stem, 0
        while name in self._used:
            i += 1
            name = f"{stem}_{i}"
        self._used.add(name)
        return name

    def constant(self, stem: str, value: Any, dtype: Any = None) -> str:
        """An initialiser holding ``value`` (in the graph's dtype unless given); its name."""
        name = self.name(stem)
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], stem: str, output: str | None = None,
           **attrs: Any) -> str:
        """Add a node; returns the name of its (single) output."""
        out = self.name(stem) if output is None else output
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], name=self.name(f"{stem}_node"),
                                                **attrs))
        return out

    def model(self, inputs: list[Any], outputs: list[Any], graph_name: str, doc: str) -> _onnx.ModelProto:
        """The checked ModelProto of the nodes added so far."""
        graph = self.helper.make_graph(self.nodes, graph_name, inputs, outputs, initializer=self.initializers)
        model = self.helper.make_model(graph, opset_imports=[self.helper.make_opsetid("", OPSET)],
                                       producer_name="fastmlp", doc_string=doc)
        model.ir_version = IR_VERSION
        self.onnx.checker.check_model(model, full_check=True)
        return model

    def tensor(self, name: str, elem_type: int | None = None, shape: Sequence[Any] | None = None) -> Any:
        """A graph input/output description."""
        return self.helper.make_tensor_value_info(name, self.elem_type if elem_type is None else elem_type,
                                                  shape)


def network_graph(g: GraphBuilder, net: Network, x: str, *, output: str | None = None) -> str:
    """Add ``net``'s layers to ``g``, reading the tensor ``x`` (n, inputs); returns the
    name of the outputs (n, outputs), ``output`` when given."""
    names = [*net.activations, net.output]
    slope = net.leaky_slope
    a = x
    for i, (W, b, act) in enumerate(zip(net.weights, net.biases, names)):
        last = i == len(names) - 1
        target = output if last and act == "identity" else None
        z = g.op("Gemm", [a, g.constant(f"layers.{i}.weight", W), g.constant(f"layers.{i}.bias", b)],
                 f"layers.{i}.z", output=target)
        final = output if last else None
        if act == "identity":
            a = z
        elif act in _SIMPLE_OPS:
            a = g.op(_SIMPLE_OPS[act], [z], f"layers.{i}.a", output=final)
        elif act == "softmax":
            a = g.op("Softmax", [z], f"layers.{i}.a", output=final, axis=1)
        elif act == "leaky_relu":
            a = _leaky_relu(g, z, slope, f"layers.{i}.a", final)
        else:  # pragma: no cover - Network validates its activations
            raise ValueError(f"no ONNX form for activation {act!r}")
    return a


def _leaky_relu(g: GraphBuilder, z: str, slope: float, stem: str, output: str | None) -> str:
    # onnxruntime has LeakyRelu kernels for float32 only, so float64 graphs
    # spell it out as fastmlp computes it: max(z, 0) + slope * min(z, 0).
    if g.dtype == np.float32:
        return g.op("LeakyRelu", [z], stem, output=output, alpha=float(slope))
    zero = g.constant(f"{stem}.zero", 0.0)
    pos = g.op("Max", [z, zero], f"{stem}.pos")
    neg = g.op("Mul", [g.op("Min", [z, zero], f"{stem}.neg"), g.constant(f"{stem}.slope", slope)], f"{stem}.scaled")
    return g.op("Add", [pos, neg], stem, output=output)


def to_onnx(net: Network, path: str | os.PathLike[str] | None = None, *, labels: bool = False,
            input_name: str = "X", output_name: str = "Y") -> _onnx.ModelProto:
    """The network as an ONNX model; written to ``path`` when given.

    Parameters
    ----------
    net : fastmlp.Network
    path : str or path-like, optional
        Where to write the model (``.onnx``); the file is replaced.
    labels : bool, default False
        Also output ``"label"``: each row's class as ``net.predict_classes``
        gives it (int64, shape (n,)): the index of the largest output, the
        first on ties; with a single output, 1 where it exceeds 0.5, else 0.
    input_name, output_name : str
        Names of the graph's input, shape (n, inputs), and output, shape
        (n, outputs); both of the network's dtype.

    Returns
    -------
    onnx.ModelProto
        Checked with ``onnx.checker``; opset ``OPSET`` (13), IR version
        ``IR_VERSION`` (7).

    Raises
    ------
    ImportError
        When the ``onnx`` package is not installed.
    """
    if not all(hasattr(net, a) for a in ("sizes", "activations", "output", "weights", "biases", "dtype")):
        raise TypeError(f"net must be a fastmlp.Network; got {type(net).__name__}")
    g = GraphBuilder(net.dtype)
    g.name(input_name)
    g.name(output_name)
    y = network_graph(g, net, input_name, output=output_name)
    outputs = [g.tensor(y, shape=["n", net.sizes[-1]])]
    if labels:
        g.name("label")
        int64 = g.helper.np_dtype_to_tensor_dtype(np.dtype(np.int64))
        class_index(g, net, y, "label")
        outputs.append(g.tensor("label", int64, ["n"]))
    model = g.model([g.tensor(input_name, shape=["n", net.sizes[0]])], outputs, "fastmlp_network",
                    f"fastmlp network {list(net.sizes)}")
    if path is not None:
        save(model, path)
    return model


def class_index(g: GraphBuilder, net: Network, y: str, output: str) -> str:
    """Add the class index of each row of the outputs ``y`` (int64, shape (n,))."""
    if net.sizes[-1] > 1:
        return g.op("ArgMax", [y], "argmax", output=output, axis=1, keepdims=0)
    threshold = g.constant("threshold", _core.BINARY_THRESHOLD)
    above = g.op("Greater", [g.op("Squeeze", [y, g.constant("axis1", [1], np.int64)], "y_flat"), threshold],
                 "above")
    return g.op("Cast", [above], "label_cast", output=output, to=g.helper.np_dtype_to_tensor_dtype(np.dtype(np.int64)))


def save(model: _onnx.ModelProto, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` atomically, as model files are written: a
    temporary file beside ``path`` renamed over it when complete, symlinks
    followed, special files refused, the old file's mode kept (``OSError``
    naming the path when it cannot be written)."""
    _core.write_file_atomically(os.fsencode(path), model.SerializeToString())
