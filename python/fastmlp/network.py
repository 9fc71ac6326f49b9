"""The network: ``Network``, and the article's ``train`` / ``predict`` in one call each.

``Network`` holds its parameters in C++ and trains there; this module checks
and converts arguments (once, visibly) and keeps the history.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from fastmlp import _core

__all__ = ["Network", "predict", "train"]

_DTYPES = {"float64": np.dtype(np.float64), "float32": np.dtype(np.float32)}
_CORE = {"float64": _core.Network64, "float32": _core.Network32}
_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
_OUTPUTS = ("sigmoid", "softmax", "identity", "tanh", "relu", "leaky_relu")
_LOSSES = ("mse", "cross_entropy")
_REDUCTIONS = ("sum", "mean")
_INITS = ("uniform", "glorot", "he", "glorot_normal", "he_normal")


class Network:
    """A dense feed-forward network: layers of units, all connected to the next.

    Parameters
    ----------
    sizes : sequence of int
        Units per layer, input first: ``[4, 5, 3]`` is the article's network
        (4 inputs, one hidden layer of 5, 3 outputs). At least two entries,
        all positive.
    activation : {"sigmoid", "tanh", "relu", "leaky_relu", "identity"} or sequence of them
        The hidden layers' activation: one name for all, or one per hidden
        layer (``("relu", "tanh")`` for ``sizes=[4, 16, 8, 3]``).
    output : {"sigmoid", "softmax", "identity", "tanh", "relu", "leaky_relu"}
        The output layer's activation.
    leaky_slope : float, default 0.01
        leaky_relu's slope for negative inputs, ``max(z, 0) + slope * min(z,
        0)``; finite and >= 0.
    loss : {"mse", "cross_entropy"}
        What training minimises. "mse" is 1/2 * sum((A - Y)**2) (the
        article's). "cross_entropy" needs output "softmax" (multi-class:
        -sum(Y * log A)) or "sigmoid" (binary or multi-label); it is computed
        from the logits, stable for any finite values.
    reduction : {"sum", "mean"}
        How the loss combines rows: "sum" (the article's: the gradient is
        summed over a batch) or "mean" (divided by the batch's rows, as
        PyTorch and scikit-learn do).
    init : {"uniform", "glorot", "he", "glorot_normal", "he_normal"}
        Weight initialisation. "uniform" draws every weight and bias uniform
        in [0, 1), as the article does. The others set biases to zero and
        draw W: "glorot" (Xavier) uniform in +-sqrt(6 / (in + out)), "he"
        uniform in +-sqrt(6 / in), "glorot_normal" and "he_normal" normal with
        mean 0 and standard deviation sqrt(2 / (in + out)) and sqrt(2 / in)
        (not truncated; Marsaglia's polar method on the project's RNG).
    seed : int, default 0
        Seed of the initialisation (0 <= seed < 2**64). The same seed gives
        bit-identical networks.
    dtype : {"float64", "float32"}
        Precision of the parameters and of all arithmetic. Inputs of another
        dtype are converted (copied) once per call.

    Attributes
    ----------
    weights, biases : tuple of ndarray
        ``weights[i]`` is layer i's (in, out) matrix and ``biases[i]`` its
        (out,) vector: writable NumPy views of the C++ storage.
    history : dict of str to ndarray
        ``history["loss"]``: the training loss at every epoch of every ``fit``
        so far, measured before the epoch's update.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: str | Sequence[str] = "sigmoid",
        output: str = "sigmoid",
        loss: str = "mse",
        reduction: str = "sum",
        init: str = "uniform",
        seed: int = 0,
        dtype: str | np.dtype[Any] | type = "float64",
        leaky_slope: float = 0.01,
    ) -> None:
        self.sizes = _check_sizes(sizes)
        self.activation = _check_activations(activation, len(self.sizes) - 2)
        self.output = _check_choice(output, "output", _OUTPUTS)
        self.leaky_slope = _check_real(leaky_slope, "leaky_slope")
        if self.leaky_slope < 0:
            raise ValueError(f"leaky_slope must be >= 0; got {self.leaky_slope}")
        self.loss_name = _check_choice(loss, "loss", _LOSSES)
        self.reduction = _check_choice(reduction, "reduction", _REDUCTIONS)
        self.init = _check_choice(init, "init", _INITS)
        self.seed = _check_int(seed, "seed", low=0, high=2**64 - 1)
        self.dtype = _check_dtype(dtype)
        self._core = _CORE[self.dtype.name](list(self.sizes), [*self.activations, self.output],
                                            self.loss_name, self.reduction, self.leaky_slope)
        self._core.initialize(self.init, self.seed)
        self.history: dict[str, np.ndarray] = {"loss": np.empty(0)}

    # --- parameters ------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        """The number of dense layers (hidden layers + 1)."""
        return len(self.sizes) - 1

    @property
    def activations(self) -> tuple[str, ...]:
        """Each hidden layer's activation, first to last."""
        if isinstance(self.activation, str):
            return (self.activation,) * (len(self.sizes) - 2)
        return self.activation

    @property
    def weights(self) -> tuple[np.ndarray, ...]:
        """Each layer's weight matrix, shape (in, out): a writable view."""
        return tuple(self._core.weight(i) for i in range(self.n_layers))

    @property
    def biases(self) -> tuple[np.ndarray, ...]:
        """Each layer's bias vector, shape (out,): a writable view."""
        return tuple(self._core.bias(i) for i in range(self.n_layers))

    # --- training -------------------------------------------------------------

    def fit(
        self,
        X: ArrayLike,
        Y: ArrayLike,
        *,
        epochs: int = 8000,
        learning_rate: float = 0.2,
        batch_size: int | None = None,
        shuffle: bool = True,
        threads: int | None = None,
    ) -> Network:
        """Train on (X, Y), continuing from the current parameters; returns self.

        By default the article's algorithm: every epoch, a forward pass over
        all of X, the error, deltas through the activations' derivatives, and
        ``W -= learning_rate * dW`` with the network's loss and reduction
        (``mse`` summed: ``W += learning_rate * X.T @ delta``).

        Parameters
        ----------
        X : array of shape (n, inputs)
        Y : array of shape (n, outputs)
            Targets; one-hot rows for classification.
        epochs : int, default 8000
            Passes over the data (0 trains nothing).
        learning_rate : float, default 0.2
            Step size; must be finite.
        batch_size : int or None, default None
            Rows per gradient step (mini-batch gradient descent); None is the
            whole data set per step. The last batch of an epoch may be smaller.
        shuffle : bool, default True
            With batches, reshuffle the rows every epoch, from the network's
            seed and the epoch's number (so a resumed fit continues the
            sequence of shuffles).
        threads : int or None
            Threads for the matrix products; None is ``fastmlp``'s default
            (``FASTMLP_NUM_THREADS``, else the CPUs this process may use).
            The result is bit-identical for any number of threads.

        Raises
        ------
        ValueError
            Shapes that do not fit the network or each other, empty or
            non-finite data, bad epochs or learning_rate.
        TypeError
            Arrays of a non-numeric dtype.
        KeyboardInterrupt
            On Ctrl-C; the network keeps the last completed epoch.
        """
        X = _as_matrix(X, "X", self.dtype)
        Y = _as_matrix(Y, "Y", self.dtype)
        epochs = _check_int(epochs, "epochs", low=0, high=2**64 - 1)
        learning_rate = _check_real(learning_rate, "learning_rate")
        batch = 0 if batch_size is None else _check_int(batch_size, "batch_size", low=1, high=2**63 - 1)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be a bool; got {type(shuffle).__name__}")
        done = self.history["loss"].size
        loss = self._core.fit(X, Y, epochs, learning_rate, batch, bool(shuffle), self.seed, done,
                              _check_threads(threads))
        self.history = {"loss": np.concatenate([self.history["loss"], loss])}
        return self

    def loss(self, X: ArrayLike, Y: ArrayLike) -> float:
        """The network's loss (under its reduction) for outputs on X against Y."""
        return self._loss_and_gradient(X, Y)[0]

    def gradient(self, X: ArrayLike, Y: ArrayLike) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The loss's gradient on (X, Y): ``(dW, db)``, shaped as weights and biases."""
        _, flat = self._loss_and_gradient(X, Y)
        dW, db, at = [], [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            dW.append(flat[at : at + n_in * n_out].reshape(n_in, n_out))
            at += n_in * n_out
            db.append(flat[at : at + n_out])
            at += n_out
        return dW, db

    def _loss_and_gradient(self, X: ArrayLike, Y: ArrayLike) -> tuple[float, np.ndarray]:
        return self._core.loss_and_gradient(_as_matrix(X, "X", self.dtype), _as_matrix(Y, "Y", self.dtype))

    # --- inference ------------------------------------------------------------

    def predict(self, X: ArrayLike, *, out: np.ndarray | None = None, threads: int | None = None) -> np.ndarray:
        """The network's outputs for X, shape (n, outputs).

        X is read in place when it is a C-contiguous array of the network's
        dtype (else converted once). With ``out``, a C-contiguous writable
        array of shape (n, outputs) and the network's dtype, the result is
        written there and ``out`` is returned. ``threads`` as in ``fit``.
        """
        result = self._core.predict(X, out, threads)  # None unless the arguments were ready to use
        if result is None:
            X = _as_matrix(X, "X", self.dtype)
            if out is None:
                out = np.empty((X.shape[0], self.sizes[-1]), dtype=self.dtype)
            elif not isinstance(out, np.ndarray):
                raise TypeError(f"out must be a NumPy array; got {type(out).__name__}")
            elif out.dtype != self.dtype or not out.flags.c_contiguous:
                raise ValueError(f"out must be a C-contiguous {self.dtype.name} array; got {out.dtype}"
                                 f"{'' if out.flags.c_contiguous else ', not C-contiguous'}")
            elif out.shape != (X.shape[0], self.sizes[-1]):
                raise ValueError(f"out must have shape {(X.shape[0], self.sizes[-1])}; got {out.shape}")
            elif not out.flags.writeable:
                raise ValueError("out is read-only")
            result = self._core.predict(X, out, _check_threads(threads))
        return result

    def predict_proba(self, X: ArrayLike, *, threads: int | None = None) -> np.ndarray:
        """Class probabilities for X, shape (n, outputs): the outputs of a
        softmax or sigmoid output layer (ValueError for any other output)."""
        if self.output not in ("softmax", "sigmoid"):
            raise ValueError(f"predict_proba needs a 'softmax' or 'sigmoid' output; this network's is {self.output!r}")
        return self.predict(X, threads=threads)

    def predict_classes(self, X: ArrayLike, *, threads: int | None = None) -> np.ndarray:
        """The predicted class index of each row of X, shape (n,), int64: the
        argmax of the outputs (the first on ties); with a single output, 1
        where it exceeds 0.5 (sigmoid) or 0 (other outputs), else 0."""
        P = self.predict(X, threads=threads)
        if P.shape[1] == 1:
            return (P[:, 0] > (0.5 if self.output == "sigmoid" else 0.0)).astype(np.int64)
        return P.argmax(axis=1)

    # --- export -------------------------------------------------------------------

    def to_onnx(self, path: str | os.PathLike[str] | None = None, *, labels: bool = False) -> Any:
        """The network as an ONNX model (``onnx.ModelProto``), written to ``path``
        when given; ``labels=True`` adds an int64 ``"label"`` output (the class
        index). Input ``"X"`` (n, inputs), output ``"Y"`` (n, outputs), of the
        network's dtype; opset 13, IR version 7. Needs the ``onnx`` extra; see
        ``fastmlp.onnx.to_onnx``."""
        from fastmlp.onnx import to_onnx

        return to_onnx(self, path, labels=labels)

    def __repr__(self) -> str:
        slope = f", leaky_slope={self.leaky_slope!r}" if "leaky_relu" in (*self.activations, self.output) else ""
        return (f"Network({list(self.sizes)}, activation={self.activation!r}, output={self.output!r}, "
                f"loss={self.loss_name!r}, reduction={self.reduction!r}, init={self.init!r}, "
                f"seed={self.seed}, dtype={self.dtype.name!r}{slope})")


def train(
    X: ArrayLike,
    Y: ArrayLike,
    hidden: int | Sequence[int] = 5,
    *,
    epochs: int = 8000,
    learning_rate: float = 0.2,
    seed: int = 0,
    activation: str | Sequence[str] = "sigmoid",
    output: str = "sigmoid",
    loss: str = "mse",
    reduction: str = "sum",
    init: str = "uniform",
    dtype: str | np.dtype[Any] | type = "float64",
    leaky_slope: float = 0.01,
    batch_size: int | None = None,
    shuffle: bool = True,
    threads: int | None = None,
) -> Network:
    """Build a network for (X, Y) and train it: the article in one call.

    ``hidden`` is the width of the hidden layer, or a sequence of widths for
    several. The defaults are the article's algorithm; the options are those
    of ``Network`` and ``Network.fit``. Equivalent to
    ``Network([X.shape[1], *hidden, Y.shape[1]], ...).fit(X, Y, ...)``.
    """
    dtype = _check_dtype(dtype)
    X = _as_matrix(X, "X", dtype)
    Y = _as_matrix(Y, "Y", dtype)
    widths = [hidden] if isinstance(hidden, numbers.Integral) else hidden
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise TypeError(f"hidden must be an int or a sequence of ints; got {type(hidden).__name__}")
    net = Network([X.shape[1], *widths, Y.shape[1]], activation=activation, output=output, loss=loss,
                  reduction=reduction, init=init, seed=seed, dtype=dtype, leaky_slope=leaky_slope)
    return net.fit(X, Y, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, shuffle=shuffle,
                   threads=threads)


def predict(net: Network, X: ArrayLike, *, out: np.ndarray | None = None) -> np.ndarray:
    """``net.predict(X, out=out)``."""
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastmlp.Network; got {type(net).__name__}")
    return net.predict(X, out=out)


# --- argument checks -----------------------------------------------------------


def _as_matrix(a: ArrayLike, name: str, dtype: np.dtype[Any]) -> np.ndarray:
    """``a`` as a C-contiguous 2-D array of ``dtype``: itself when it already is one."""
    arr = np.asarray(a) if not isinstance(a, np.ndarray) else a
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x features); got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    return np.ascontiguousarray(arr, dtype=dtype)


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of ints; got {type(sizes).__name__}")
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output layer; got {list(sizes)}")
    return tuple(_check_int(s, "sizes", low=1, high=2**63 - 1) for s in sizes)


def _check_int(value: Any, name: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}]; got {value}")
    return int(value)


def _check_threads(threads: int | None) -> int:
    if threads is None:
        return _DEFAULT_THREADS
    return _check_int(threads, "threads", low=1, high=1024)


_DEFAULT_THREADS = _core.default_threads()


def _check_real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    return float(value)


def _check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return str(value)


def _check_activations(value: Any, n_hidden: int) -> str | tuple[str, ...]:
    """One hidden activation name, or a sequence of one per hidden layer."""
    if isinstance(value, str):
        return _check_choice(value, "activation", _ACTIVATIONS)
    if not isinstance(value, Sequence):
        raise TypeError(f"activation must be a name or a sequence of names; got {type(value).__name__}")
    if len(value) != n_hidden:
        raise ValueError(f"activation must name one activation per hidden layer ({n_hidden}); got {len(value)}")
    return tuple(_check_choice(a, "activation", _ACTIVATIONS) for a in value)


def _check_dtype(dtype: Any) -> np.dtype[Any]:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be 'float64' or 'float32'; got {dtype!r}") from None
    if dt.name not in _DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32'; got {dt.name!r}")
    return dt
