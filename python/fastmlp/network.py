"""The network: ``Network``, and the article's ``train`` / ``predict`` in one call each.

``Network`` holds its parameters in C++ and trains there; this module checks
and converts arguments (once, visibly) and keeps the history.
"""

from __future__ import annotations

import numbers
import os
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike

from fastmlp import _core
from fastmlp import _sparse
from fastmlp import onnx as _onnx_export
from fastmlp._checks import check_bool as _check_bool
from fastmlp._checks import check_choice as _check_choice
from fastmlp._checks import check_dropout as _check_dropout
from fastmlp._checks import check_dtype as _check_dtype
from fastmlp._checks import check_int as _check_int
from fastmlp._checks import check_real as _check_real
from fastmlp._checks import is_bool as _is_bool
from fastmlp._checks import is_int as _is_int
from fastmlp._checks import is_real as _is_real
from fastmlp.metrics import predicted_classes

__all__ = ["Network", "load", "predict", "train"]

_CORE = {"float64": _core.Network64, "float32": _core.Network32}
# The string options' choices, as types (so a type checker catches
# activation="rleu") and, through get_args, as the tuples the checks use.
Activation = Literal["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
Output = Literal["sigmoid", "softmax", "identity", "tanh", "relu", "leaky_relu", "exp"]
LossName = Literal["mse", "cross_entropy", "poisson"]
Reduction = Literal["sum", "mean"]
Init = Literal["uniform", "glorot", "he", "glorot_normal", "he_normal", "sklearn"]
DType = Literal["float64", "float32"]
# fit's choices are checked by the core's option table; tests/test_typing.py holds these to it
Optimizer = Literal["sgd", "momentum", "adam", "adamw"]
Schedule = Literal["constant", "step", "invscaling", "cosine"]
OnDivergence = Literal["raise", "continue"]
_ACTIVATIONS: tuple[str, ...] = get_args(Activation)
# A model file's entry of this package's own (beside the format's, which keep
# one activation and one dropout rate per layer): the per-layer parameters
# given one value per hidden layer although the values are equal, which the
# lists alone cannot tell from one value for all; written only then.
_PER_LAYER_KEY = "python.per_layer"
_PER_LAYER_PARAMETERS = ("activation", "dropout")
_OUTPUTS: tuple[str, ...] = get_args(Output)
_LOSSES: tuple[str, ...] = get_args(LossName)
_REDUCTIONS: tuple[str, ...] = get_args(Reduction)
_INITS: tuple[str, ...] = get_args(Init)


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
    output : {"sigmoid", "softmax", "identity", "tanh", "relu", "leaky_relu", "exp"}
        The output layer's activation ("exp": the log link of loss "poisson").
    leaky_slope : float, default 0.01
        leaky_relu's slope for negative inputs, ``max(z, 0) + slope * min(z,
        0)``; finite, and 0 or at least the dtype's smallest normal number
        (a smaller one would be 0 or subnormal in float32: ValueError).
    loss : {"mse", "cross_entropy", "poisson"}
        What training minimises. "mse" is 1/2 * sum((A - Y)**2) (the
        article's). "cross_entropy" needs output "softmax" (multi-class:
        -sum(Y * log A)) or "sigmoid" (binary or multi-label); it is computed
        from the logits, stable for any finite values. "poisson" is the half
        Poisson deviance, sum(Y * log(Y / A) - Y + A) (scikit-learn's
        ``HalfPoissonLoss`` with its constant), for counts or rates Y >= 0;
        it needs output "exp" (A = exp(Z)).
    reduction : {"sum", "mean"}
        How the loss combines rows: "sum" (the article's: the gradient is
        summed over a batch) or "mean" (divided by the batch's rows, as
        PyTorch and scikit-learn do).
    init : {"uniform", "glorot", "he", "glorot_normal", "he_normal", "sklearn"}
        Weight initialisation. "uniform" draws every weight and bias uniform
        in [0, 1), as the article does. The others set biases to zero and
        draw W: "glorot" (Xavier) uniform in +-sqrt(6 / (in + out)), "he"
        uniform in +-sqrt(6 / in), "glorot_normal" and "he_normal" normal with
        mean 0 and standard deviation sqrt(2 / (in + out)) and sqrt(2 / in)
        (not truncated; Marsaglia's polar method on the project's RNG).
        "sklearn" is scikit-learn's MLP initialisation: W and b uniform in
        +-sqrt(6 / (in + out)), or +-sqrt(2 / (in + out)) when every hidden
        layer is sigmoid, for every layer.
    seed : int, default 0
        Seed of the initialisation (0 <= seed < 2**64). The same seed gives
        bit-identical networks.
    dtype : {"float64", "float32"}
        Precision of the parameters and of all arithmetic. Inputs of another
        dtype are converted (copied) once per call.
    dropout : float or sequence of float, default 0.0
        Inverted dropout while ``fit`` trains: each hidden unit's activation is
        zeroed with probability p and the survivors scaled by 1 / (1 - p). One
        rate for every hidden layer, or one per hidden layer; each in [0, 1)
        (0: none, bit-identical to no dropout). ``predict``, ``loss`` and
        ``gradient`` evaluate the plain network. The masks are drawn from
        ``seed``, the epoch (counted over fits) and each training row's index
        and unit, so a seed gives the same network whatever the thread count
        or batch size. Saved in model files (for the record); ONNX export
        ignores it.

    Attributes
    ----------
    weights, biases : tuple of ndarray
        ``weights[i]`` is layer i's (in, out) matrix and ``biases[i]`` its
        (out,) vector: writable NumPy views of the C++ storage.
    history : dict of str to ndarray
        One float64 array per figure, one entry per epoch of every ``fit``
        so far: ``"loss"``, the training loss, accumulated over the epoch's
        batches as they are met (before the epoch's update, for the full
        batch), without the l2 penalty; ``"learning_rate"``, the epoch's
        rate; with validation data, ``"val_loss"`` and ``"val_accuracy"``
        (softmax or sigmoid outputs) or ``"val_r2"`` (others), measured after
        the epoch. A figure a fit did not measure is NaN for its epochs.
    best_epoch : int or None
        After a fit with ``early_stopping``: the number of that fit's epochs
        after which the network had the parameters it now holds (see
        ``fit``); None otherwise.

    feature_names : tuple of str or None
        The inputs' names, in order: recorded by ``fit`` (and ``train``) from a
        pandas DataFrame whose column names are all strings (scikit-learn's
        rule for ``feature_names_in_``), read from a model file, or set. While
        known, a DataFrame given to ``fit``, ``predict``, ``loss`` or
        ``gradient`` must have exactly these columns in this order (ValueError
        naming the difference, as scikit-learn's estimators; nothing is
        reordered); arrays, having no names, are not checked.
    classes : ndarray or None
        The class labels in output order (a single output's two classes: at
        or below 0.5, above it), e.g. from ``fastmlp train --target`` or an
        estimator's ``save``: ``net.classes[net.predict_classes(X)]`` names
        each row's class. Strings, ints, floats or bools; setting it (one
        per output, or two for a single output; unique) makes ``task``
        "classification".
    target_names : tuple of str or None
        A regressor's output names, one per output; setting it makes
        ``task`` "regression".
    task : {"classification", "regression"} or None
        What the outputs are, where known; it may not contradict ``classes``
        or ``target_names``.

    These four are saved in the model file (where the command line reads them
    to match CSV columns by name and print class names) and restored by
    ``fastmlp.load``; they do not change what the network computes.

    A network saves to a model file (``save``, read back by ``fastmlp.load``)
    and pickles through the same bytes, history included; the optimiser's
    state is not kept, so a ``fit`` after loading or unpickling starts it
    afresh (as after ``reset_optimizer()``).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: Activation | Sequence[Activation] = "sigmoid",
        output: Output = "sigmoid",
        loss: LossName = "mse",
        reduction: Reduction = "sum",
        init: Init = "uniform",
        seed: int = 0,
        dtype: DType | np.dtype[Any] | type = "float64",
        leaky_slope: float = 0.01,
        dropout: float | Sequence[float] = 0.0,
    ) -> None:
        self.sizes = _check_sizes(sizes)
        self.activation = _check_activations(activation, len(self.sizes) - 2)
        self.output = _check_choice(output, "output", _OUTPUTS)
        self.leaky_slope = _check_real(leaky_slope, "leaky_slope")  # its range: the core's check
        self.loss_name = _check_choice(loss, "loss", _LOSSES)
        self.reduction = _check_choice(reduction, "reduction", _REDUCTIONS)
        self.init = _check_choice(init, "init", _INITS)
        self.seed = _check_int(seed, "seed", low=0, high=2**64 - 1)
        self.dtype = _check_dtype(dtype)
        self._dropout = _check_dropout(dropout, len(self.sizes) - 2)
        self._core = _CORE[self.dtype.name](list(self.sizes), [*self.activations, self.output],
                                            self.loss_name, self.reduction, self.leaky_slope,
                                            self._dropout_rates())
        self._core.initialize(self.init, self.seed)
        self.history: dict[str, np.ndarray] = {"loss": np.empty(0), "learning_rate": np.empty(0)}
        self.best_epoch: int | None = None
        self._epochs_before = 0  # epochs trained before those in history (a loaded file's)
        self._extra: dict[str, str] = {}
        self._feature_names: tuple[str, ...] | None = None
        self._classes: np.ndarray | None = None
        self._target_names: tuple[str, ...] | None = None
        self._task: str | None = None

    def _restore(self, core: Any, dtype: str, info: dict[str, Any], extra: dict[str, str]) -> None:
        """Become the network of a loaded ``core``; ``info`` and ``extra`` are its
        file's metadata (checked by the core)."""
        *hidden, self.output = core.activations
        self.sizes = tuple(core.sizes)
        extra = dict(extra)
        per_layer = _per_layer_entry(extra.pop(_PER_LAYER_KEY, None))
        # One name when the hidden layers share it (or there are none, so the
        # default stands), else one per hidden layer; the same for the dropout
        # rates; each as given when the file says it was given per layer.
        self.activation = (tuple(hidden) if "activation" in per_layer
                           else hidden[0] if len(set(hidden)) == 1 else tuple(hidden) or "sigmoid")
        self.leaky_slope = core.leaky_slope
        rates = tuple(core.dropout)
        self._dropout = rates if "dropout" in per_layer else rates[0] if len(set(rates)) == 1 else rates or 0.0
        self.loss_name = core.loss
        self.reduction = core.reduction
        self.init = info["init"] or "uniform"
        self.seed = info["seed"] or 0
        self.dtype = np.dtype(dtype)
        self._core = core
        self.history = {"loss": np.empty(0), "learning_rate": np.empty(0)}
        self.best_epoch = None
        self._epochs_before = info.get("epochs") or 0
        self._extra = extra  # entries this version does not use, kept for the next save
        # the core checked the description's shape (lengths, uniqueness, task); the
        # classes' values come back as strings, typed by classes_type
        self._feature_names = None if info.get("feature_names") is None else tuple(info["feature_names"])
        self._classes = None
        if info.get("classes") is not None:
            self._classes = _classes_from_strings(info["classes"], info.get("classes_type"))
            self._classes.flags.writeable = False
        self._target_names = None if info.get("target_names") is None else tuple(info["target_names"])
        self._task = info.get("task")

    # --- files and pickling ------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the network to a model file at ``path`` (safetensors layout).

        The file holds the layer sizes, activations, loss, reduction, dtype,
        every parameter bit for bit, and the description where known
        (``feature_names``, ``classes``, ``target_names``, ``task``);
        ``fastmlp.load``, the ``fastmlp`` program and the C++
        ``fastmlp::load`` read it, and so does any safetensors reader. The write is atomic: a temporary file beside
        ``path`` is renamed over it when complete, so a failure leaves any
        previous file intact. A file replaced keeps its mode; a symbolic link
        is followed and the file it names replaced; a FIFO, device, socket or
        directory at ``path`` is refused. Raises ``OSError`` (naming the path)
        when the file cannot be written, ``ValueError`` for a path with a NUL byte,
        and ``RuntimeError`` while another thread fits this network (see
        ``fit``).
        """
        self._save(path, {})

    def _save(self, path: str | os.PathLike[str], extra: Mapping[str, str]) -> None:
        """Write the model file with ``extra`` entries beside those loaded with it."""
        self._core.save(_file_path(path), self.init, self.seed, self._entries(extra), **self._description())

    def _entries(self, extra: Mapping[str, str]) -> dict[str, str]:
        """The extra metadata to write: the entries loaded with the network, then
        ``extra``. An older file's uninterpreted classes, classes_type and
        target_names give way once the network knows its task (the format's keys then)."""
        entries = {**self._extra, **extra}
        per_layer = [name for name, value in (("activation", self.activation), ("dropout", self._dropout))
                     if isinstance(value, tuple) and len(set(value)) <= 1]
        if per_layer:
            entries[_PER_LAYER_KEY] = ",".join(per_layer)
        if self._task is not None:
            for key in ("classes", "classes_type", "target_names"):
                entries.pop(key, None)
        return entries

    def _description(self) -> dict[str, Any]:
        """The model file's description keywords, as the core's save takes them."""
        classes = None if self._classes is None else _classes_to_strings(self._classes)
        return {"feature_names": None if self._feature_names is None else list(self._feature_names),
                "classes": None if classes is None else classes[0],
                "classes_type": None if classes is None else classes[1],
                "target_names": None if self._target_names is None else list(self._target_names),
                "task": self._task, "epochs": self._epochs_trained()}

    def _epochs_trained(self) -> int:
        """Epochs trained over every fit, a loaded file's included: the count a
        next fit continues (its shuffles and dropout masks follow from it). A
        64-bit count, as the core's, so it wraps past 2**64 - 1 (reached only
        by a file that claims it)."""
        return (self._epochs_before + len(self.history.get("loss", ()))) % 2**64

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self._core.to_bytes(self.init, self.seed, self._entries({}), **self._description()),
                "history": self.history, "best_epoch": self.best_epoch}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._restore(*_core.from_bytes(state["model"]))
        self.history = dict(state["history"])
        self._epochs_before = (self._epochs_before - len(self.history.get("loss", ()))) % 2**64
        self.best_epoch = state.get("best_epoch")

    # --- what the inputs and outputs are ------------------------------------------

    @property
    def dropout(self) -> float | tuple[float, ...]:
        """The hidden layers' dropout rate while training (one, or one per hidden
        layer), fixed when the network is made: a new rate is a new ``Network``."""
        return self._dropout

    @dropout.setter
    def dropout(self, value: Any) -> None:
        raise AttributeError("dropout is fixed when the network is made (the core trains with it); "
                             "make a new Network(..., dropout=...) and copy the weights over")

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        """The inputs' names in order, or None (see the class's docstring)."""
        return self._feature_names

    @feature_names.setter
    def feature_names(self, names: Sequence[str] | None) -> None:
        self._feature_names = None if names is None else _check_names(names, "feature_names", self.sizes[0])

    @property
    def classes(self) -> np.ndarray | None:
        """The class labels in output order, or None (see the class's docstring)."""
        return self._classes

    @classes.setter
    def classes(self, classes: ArrayLike | None) -> None:
        if classes is None:
            self._classes = None
            return
        values = _check_classes(classes, self.sizes[-1])
        if self._task == "regression":
            raise ValueError("classes need task 'classification'; this network's task is 'regression' "
                             "(set task to None or 'classification' first)")
        self._check_task("classification", "classes")
        values.flags.writeable = False  # checked once: changed only by setting it again
        self._classes, self._task = values, "classification"

    @property
    def target_names(self) -> tuple[str, ...] | None:
        """The outputs' names for regression, or None (see the class's docstring)."""
        return self._target_names

    @target_names.setter
    def target_names(self, names: Sequence[str] | None) -> None:
        if names is None:
            self._target_names = None
            return
        checked = _check_names(names, "target_names", self.sizes[-1])
        if self._task == "classification":
            raise ValueError("target_names need task 'regression'; this network's task is 'classification' "
                             "(set task to None or 'regression' first)")
        self._target_names, self._task = checked, "regression"

    @property
    def task(self) -> str | None:
        """"classification", "regression" or None (see the class's docstring)."""
        return self._task

    @task.setter
    def task(self, task: str | None) -> None:
        if task is not None:
            task = _check_choice(task, "task", ("classification", "regression"))
            self._check_task(task, "task")
        if (self._classes is not None and task != "classification") or (
                self._target_names is not None and task != "regression"):
            raise ValueError(f"task {task!r} contradicts this network's "
                             f"{'classes' if self._classes is not None else 'target_names'}; clear them first")
        self._task = task

    def _check_task(self, task: str, name: str) -> None:
        """ValueError naming ``name`` when this network cannot be a model of ``task``
        (the core's rule, which model files and the command line follow: a
        classifier's outputs score classes, which a Poisson network's do not)."""
        problem = _core.task_problem(task, self.loss_name, self.output)
        if problem:
            what = f"task {task!r}" if name == "task" else f"{name} (task {task!r})"
            raise ValueError(f"{what} does not fit this network: {problem}")

    def _matrix(self, X: ArrayLike, name: str) -> np.ndarray | _sparse.CsrTuple:
        """X as ``_as_input`` makes it, its column names checked against feature_names."""
        names = _column_names(X, name)
        if names is not None and self._feature_names is not None and names != self._feature_names:
            raise ValueError(_names_differ(self._feature_names, names, name))
        return _as_input(X, name, self.dtype)

    # --- parameters ------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        """The number of dense layers (hidden layers + 1)."""
        return len(self.sizes) - 1

    def _dropout_rates(self) -> list[float]:
        """Each hidden layer's dropout rate; empty for none."""
        if isinstance(self.dropout, float):
            return [] if self.dropout == 0 else [self.dropout] * (len(self.sizes) - 2)
        return list(self.dropout)

    @property
    def activations(self) -> tuple[str, ...]:
        """Each hidden layer's activation, first to last."""
        if isinstance(self.activation, str):
            return (self.activation,) * (len(self.sizes) - 2)
        return self.activation

    @property
    def weights(self) -> tuple[np.ndarray, ...]:
        """Each layer's weight matrix, shape (in, out): a writable view.

        Write through these views (or ``biases``') while you hold them:
        ``predict`` keeps a packed copy of the weights only while no view is
        alive, and packs again after one is dropped. A raw address kept past
        the view's life (``ctypes``, ``__array_interface__``) is not watched:
        writes through it may not reach a later ``predict``."""
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
        optimizer: Optimizer = "sgd",
        momentum: float = 0.9,
        nesterov: bool = False,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        eps_hat: bool = False,
        weight_decay: float = 0.01,
        schedule: Schedule = "constant",
        step_size: int = 10,
        gamma: float = 0.1,
        power_t: float = 0.5,
        lr_min: float = 0.0,
        l2: float = 0.0,
        clip_norm: float | None = None,
        sample_weight: ArrayLike | None = None,
        class_weight: Literal["balanced"] | Mapping[int, float] | None = None,
        validation: tuple[ArrayLike, ArrayLike] | None = None,
        validation_fraction: float | None = None,
        early_stopping: int | None = None,
        tol: float = 1e-4,
        clip_log_loss: bool = False,
        callback: Callable[[int, dict[str, float]], Any] | None = None,
        callback_every: int = 1,
        progress: bool = False,
        on_divergence: OnDivergence = "raise",
    ) -> Network:
        """Train on (X, Y), continuing from the current parameters; returns self.

        By default the article's algorithm: every epoch, a forward pass over
        all of X, the error, deltas through the activations' derivatives, and
        ``W -= learning_rate * dW`` with the network's loss and reduction
        (``mse`` summed: ``W += learning_rate * X.T @ delta``). The whole loop,
        options included, runs in C++.

        Parameters
        ----------
        X : array of shape (n, inputs), or a scipy.sparse matrix
            A CSR matrix (``csr_array`` or ``csr_matrix``, float32 or float64
            values, int32 or int64 indices) is read in place and trained on
            without densifying it; CSC, COO and other dtypes are converted
            once to CSR. ``predict``, ``loss`` and ``gradient`` take the same.
        Y : array of shape (n, outputs) or (n,)
            Targets; one-hot rows for classification. With a "softmax" or
            "sigmoid" output, a 1-D array of an integer (or bool) dtype holds
            class indices instead: 0 to outputs - 1, one-hot encoded here
            (with one sigmoid output, 0 or 1, taken as the column). Floats are
            never read as indices (``y.astype(int)`` says they are); other
            outputs take 2-D targets only. ``validation``'s Y, ``loss`` and
            ``gradient`` read Y the same way.
        epochs : int, default 8000
            Passes over the data (0 trains nothing).
        learning_rate : float, default 0.2
            Step size (the schedule's starting rate); must be finite.
        batch_size : int or None, default None
            Rows per gradient step (mini-batch gradient descent); None is the
            whole data set per step. The last batch of an epoch may be smaller.
        shuffle : bool, default True
            With batches, reshuffle the rows every epoch, from the network's
            seed and the epoch's number (so a resumed fit continues the
            sequence of shuffles).
        threads : int or None
            Threads to train on (each batch's rows, its gradient's sums and
            the parameter update are shared out over them); None is
            ``fastmlp``'s default (threadpoolctl's limit, else
            ``FASTMLP_NUM_THREADS``, else the CPUs this process may use, at
            most ``OMP_NUM_THREADS``). The result is bit-identical for any number.
        optimizer : {"sgd", "momentum", "adam", "adamw"}, default "sgd"
            The update, with g the step's gradient (after ``l2`` and
            clipping) and t the optimiser's step count; PyTorch's formulas
            (torch.optim.SGD, Adam, AdamW):

            - "sgd": ``W -= lr * g`` (the article's).
            - "momentum": ``v = momentum * v + g; W -= lr * v``, or with
              ``nesterov``, ``W -= lr * (g + momentum * v)``. (scikit-learn
              writes ``v = momentum * v - lr * g; W += v``, the same for a
              constant rate.)
            - "adam": ``m = beta1 m + (1 - beta1) g``, ``v = beta2 v +
              (1 - beta2) g**2``, ``W -= lr * m_hat / (sqrt(v_hat) + eps)``
              with ``m_hat = m / (1 - beta1**t)``, ``v_hat = v / (1 - beta2**t)``.
            - "adamw": ``W -= lr * weight_decay * W`` on the weights (not
              the biases), then the Adam step.

            The state (velocity; moments and step count) lives in the
            network and carries over to the next ``fit`` while the optimizer
            and its own settings (momentum and nesterov; beta1, beta2, eps, eps_hat
            and, for adamw, weight_decay) stay the same; changing any of them
            starts it afresh, as does ``reset_optimizer()``. The rate, the
            schedule, l2 and clip_norm may change without a reset.
        momentum : float, default 0.9
            "momentum": mu, in [0, 1).
        nesterov : bool, default False
            "momentum": Nesterov's form.
        beta1, beta2, eps : float, default 0.9, 0.999, 1e-8
            "adam", "adamw": moment decays in [0, 1); eps > 0.
        eps_hat : bool, default False
            "adam", "adamw": add eps before the bias correction, ``W -= lr *
            sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps)`` (the
            Adam paper's epsilon-hat: scikit-learn's and Keras's Adam).
        weight_decay : float, default 0.01
            "adamw": the decoupled decay rate, >= 0.
        schedule : {"constant", "step", "invscaling", "cosine"}, default "constant"
            The rate of epoch e, counting this fit's epochs from 0:
            "step": ``lr * gamma ** (e // step_size)``; "invscaling"
            (scikit-learn's): ``lr / (t + 1) ** power_t`` with t the samples
            seen before the epoch, ``e * n`` (scikit-learn counts them
            across partial fits; here each fit starts at 0); "cosine"
            (PyTorch's CosineAnnealingLR over this fit's epochs):
            ``lr_min + (lr - lr_min) * (1 + cos(pi * e / epochs)) / 2``.
            The rate holds for a whole epoch; ``history["learning_rate"]``
            records it.
        step_size : int, default 10
            "step": epochs between decays.
        gamma : float, default 0.1
            "step": factor per decay, > 0.
        power_t : float, default 0.5
            "invscaling": the exponent, >= 0.
        lr_min : float, default 0.0
            "cosine": the rate approached at the end, at most learning_rate.
        l2 : float, default 0.0
            L2 regularisation: ``l2 * W`` is added to the weights' gradient
            (not the biases') at every step, i.e. the step minimises the
            batch's loss (under the network's reduction) plus
            ``l2 / 2 * sum(W**2)`` whatever the batch's size or the
            reduction. (scikit-learn's alpha corresponds to
            ``l2 = alpha / batch rows`` with the mean reduction.)
        clip_norm : float or None, default None
            Rescale the gradient (after l2) when its global norm over every
            parameter exceeds clip_norm: ``g *= clip_norm / (norm + 1e-6)``
            (torch.nn.utils.clip_grad_norm_).
        sample_weight : array of shape (n,) or None
            Non-negative weights of the rows: row i's loss and gradient count
            ``sample_weight[i]`` times; the mean reduction divides each
            batch by the sum of its weights (a weighted mean, so scaling all
            weights changes nothing, and a weight of 2 is a repeated row).
        class_weight : "balanced", dict or None
            Weights per class, multiplied into sample_weight. The class of a
            row is the argmax of its Y (or ``Y > 0.5`` for one output).
            "balanced" is scikit-learn's ``n / (n_classes * count[class])``
            over the classes present in the training rows (computed in C++,
            the same function as ``fastmlp train --class-weight balanced``);
            a dict maps class indices to weights (classes not in it weigh 1;
            the command line has no form of it).
        validation : (X_val, Y_val) or None
            Data evaluated after every epoch (not trained on; unweighted).
        validation_fraction : float or None
            Instead of ``validation``: hold out ``round(fraction * n)`` rows
            (at least one), drawn from the network's seed (the same rows in
            every fit of this network on data of this size;
            ``fastmlp._core.validation_split`` gives them), and train on
            the rest. The held-out rows are copied once.
        early_stopping : int or None
            Stop when this many epochs in a row fail to improve the
            validation loss (without validation data, the training loss) by
            at least ``tol`` on the best so far, as scikit-learn's MLP does;
            then, or when the epochs run out, the network returns to the
            parameters with the lowest figure: those after the best epoch
            for the validation loss (measured after each epoch), those at
            the best epoch's start for the training loss (measured during
            it). ``best_epoch`` tells which.
        tol : float, default 1e-4
            The improvement early stopping asks for, in the loss's units.
        clip_log_loss : bool, default False
            For loss "cross_entropy": the training loss (``history["loss"]``,
            and so early stopping on it) takes each probability clipped to
            [eps, 1 - eps], eps the dtype's machine epsilon, as scikit-learn's
            ``log_loss`` does; a row's term is then at most -log(eps) (36.04
            in float64). Each term (a row's after softmax, an output's after
            sigmoid) is clamped, which is scikit-learn's number for one-hot or
            0/1 targets. The gradient is the exact one either way.
        callback : callable or None
            ``callback(epoch, logs)``, called from C++ (with the GIL taken
            only then) after every ``callback_every``-th epoch and after the
            last: ``epoch`` counts this fit's epochs from 1, ``logs`` holds
            "loss", "learning_rate" and, with validation data, "val_loss" and
            "val_accuracy" or "val_r2". Returning a false value other than
            None (False, np.False_, 0) stops the fit after that epoch (early stopping's restore still applies); an
            exception stops it and propagates. It may call ``predict``.
        callback_every : int, default 1
        progress : bool, default False
            Show a progress bar on stderr with the epoch, the loss and the
            validation figures: tqdm when it is installed, else a plain
            line that updates in place. Built on the callback mechanism,
            called at most every 0.1 s.
        on_divergence : {"raise", "continue"}, default "raise"
            "raise": a NaN or infinite loss, or a parameter NaN, infinite or
            too large to square (beyond about 1e154 in float64, 1e19 in
            float32, where only a diverging fit goes), stops the fit with
            FloatingPointError naming the epoch; the network keeps the
            parameters from the end of the epoch before and its optimiser
            starts afresh (its velocity or moments held the diverged steps;
            history includes the epochs completed). "continue": no check.
            Each epoch's loss is the one computed during it, before its
            steps: the outputs after the last step are not computed here
            (an exp output may overflow from finite weights: predict
            shows it; the estimators and the command line check it).

        Raises
        ------
        ValueError
            Shapes that do not fit the network or each other, empty or
            non-finite data, options out of their range.
            Also a sparse X (or validation X) whose ``indices`` or ``indptr``
            change while the fit reads them in place (a callback, or another
            thread, writing into them) and no longer make a well-formed
            matrix: the network then keeps the parameters it had at the start
            of the epoch in which the change was found, ``history`` the epochs
            before it; the optimiser's state is that after the last step taken.
        TypeError
            Arrays of a non-numeric dtype, options of the wrong type.
        FloatingPointError
            The training diverged (see on_divergence).
        KeyboardInterrupt
            On Ctrl-C, within milliseconds whatever the batch size; the
            network keeps its parameters from the last completed step (the
            batch under way is discarded; with batches, that may be part way
            through an epoch), and ``history`` the epochs completed (so after
            an exception of the callback). Any ``epochs`` is accepted, up to 2**64 - 1: nothing is
            sized by it, and Ctrl-C (or a callback returning False) ends it.
        RuntimeError
            Another thread is using this network. While a fit runs, every
            other thread's ``fit``, ``predict``, ``loss``, ``gradient``,
            ``save``, pickling and ``reset_optimizer`` on the same network
            raise RuntimeError at once (they neither wait nor race); a
            callback of the fit itself may predict.
        """
        names = _column_names(X)
        X_in = self._matrix(X, "X")
        Y = _as_targets(Y, "Y", self.dtype, self.output, self.sizes[-1])
        # every option's type and range: the core's table (one verdict with the command line's)
        options = _core.FitOptions.from_kwargs(
            epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, shuffle=shuffle, threads=threads,
            optimizer=optimizer, momentum=momentum, nesterov=nesterov, beta1=beta1, beta2=beta2, eps=eps,
            eps_hat=eps_hat, weight_decay=weight_decay, schedule=schedule, step_size=step_size, gamma=gamma,
            power_t=power_t, lr_min=lr_min, l2=l2, clip_norm=clip_norm, class_weight=class_weight,
            validation_fraction=validation_fraction, early_stopping=early_stopping, tol=tol,
            clip_log_loss=clip_log_loss, on_divergence=on_divergence, callback_every=callback_every)
        options.seed = self.seed
        options.first_epoch = self._epochs_trained()
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable; got {type(callback).__name__}")
        weights = None if sample_weight is None else _as_weights(sample_weight, _n_rows(X_in), self.dtype)
        X_val = Y_val = None
        if validation is not None:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise TypeError("validation must be a pair (X_val, Y_val)")
            X_val = self._matrix(validation[0], "X_val")
            Y_val = _as_targets(validation[1], "Y_val", self.dtype, self.output, self.sizes[-1])

        bar = _Progress(options.get("epochs")) if _check_bool(progress, "progress") else None
        result = None
        if names is not None:
            self._feature_names = names  # X's columns: the same as before, or the first known
        try:
            result = self._core.fit(X_in, Y, weights, X_val, Y_val, options, callback, bar, 0.1)
        except _core.Diverged as diverged:
            self._record(diverged.result)
            raise
        except ValueError as error:  # a sparse X changed under the fit: the epochs before it stay
            done = getattr(error, "result", None)
            if isinstance(done, _core.FitResult):
                self._record(done)
            raise
        finally:
            if bar is not None:
                bar.close(result)
        self._record(result)
        if result.exception is not None:  # Ctrl-C, or the callback's
            raise result.exception
        return self

    def reset_optimizer(self) -> None:
        """Forget the optimiser's state, so the next ``fit`` starts it afresh."""
        self._core.reset_optimizer()

    def _record(self, result: _core.FitResult) -> None:
        """Append a fit's per-epoch figures to the history (NaN where one side did not
        measure one) and take its best epoch."""
        done, figures = self.history["loss"].size, result.history
        new = figures["loss"].size
        keys = list(self.history) + [k for k in figures if k not in self.history]
        self.history = {
            k: np.concatenate([self.history.get(k, np.full(done, np.nan)), figures.get(k, np.full(new, np.nan))])
            for k in keys
        }
        self.best_epoch = result.best_epoch

    def loss(self, X: ArrayLike, Y: ArrayLike, *, sample_weight: ArrayLike | None = None) -> float:
        """The network's loss (under its reduction) for outputs on X against Y.

        With ``sample_weight``, row i counts ``sample_weight[i]`` times and the
        mean reduction divides by the sum of the weights, as in ``fit``.
        """
        return self._loss_and_gradient(X, Y, sample_weight)[0]

    def gradient(
        self, X: ArrayLike, Y: ArrayLike, *, sample_weight: ArrayLike | None = None
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The loss's gradient on (X, Y): ``(dW, db)``, shaped as weights and biases."""
        _, flat = self._loss_and_gradient(X, Y, sample_weight)
        dW, db, at = [], [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            dW.append(flat[at : at + n_in * n_out].reshape(n_in, n_out))
            at += n_in * n_out
            db.append(flat[at : at + n_out])
            at += n_out
        return dW, db

    def _loss_and_gradient(self, X: ArrayLike, Y: ArrayLike, sample_weight: ArrayLike | None) -> tuple[float, np.ndarray]:
        X_in = self._matrix(X, "X")
        w = None if sample_weight is None else _as_weights(sample_weight, _n_rows(X_in), self.dtype)
        return self._core.loss_and_gradient(X_in, _as_targets(Y, "Y", self.dtype, self.output, self.sizes[-1]), w)

    # --- inference ------------------------------------------------------------

    def predict(self, X: ArrayLike, *, out: np.ndarray | None = None, threads: int | None = None) -> np.ndarray:
        """The network's outputs for X, shape (n, outputs).

        X is read in place when it is a C-contiguous array of the network's
        dtype (else converted once). With ``out``, a C-contiguous writable
        array of shape (n, outputs) and the network's dtype, the result is
        written there and ``out`` is returned; it may share memory with X
        (a sparse X's values, indices or indptr too) or with the weights (the
        result then goes through a temporary). ``threads`` as in ``fit``.
        Ctrl-C stops a long prediction between chunks of rows
        (KeyboardInterrupt; ``out`` then holds only some rows); so does a
        NaN or infinity in X (ValueError naming the first), and a sparse
        X's structure that another thread spoils while predict reads it
        (ValueError naming the row and position). Predictions
        from several threads run side by side; while another thread fits
        this network, ``RuntimeError``.
        """
        try:  # the core reads a C-contiguous array of the dtype in place and checks everything
            return self._core.predict(X, out, threads)
        except TypeError:  # X needs the one conversion, or the call below says what is wrong
            pass
        X_in = self._matrix(X, "X")
        if isinstance(X_in, tuple):  # a sparse matrix's CSR parts
            return self._core.predict_csr(X_in, out, threads)
        return self._core.predict(X_in, out, threads)

    def predict_proba(self, X: ArrayLike, *, threads: int | None = None) -> np.ndarray:
        """Class probabilities for X, shape (n, outputs): the outputs of a
        softmax or sigmoid output layer (ValueError for any other output)."""
        if self.output not in ("softmax", "sigmoid"):
            raise ValueError(f"predict_proba needs a 'softmax' or 'sigmoid' output; this network's is {self.output!r}")
        return self.predict(X, threads=threads)

    def predict_classes(self, X: ArrayLike, *, threads: int | None = None) -> np.ndarray:
        """The predicted class index of each row of X, shape (n,), int64, by
        ``fastmlp.metrics``' one rule: the argmax of the outputs (the first on
        ties); with a single output, 1 where it exceeds 0.5, else 0, whatever
        the output activation. ValueError naming a row whose outputs are not
        finite (they overflowed)."""
        return predicted_classes(self.predict(X, threads=threads), "predictions")

    # --- export -------------------------------------------------------------------

    def to_onnx(self, path: str | os.PathLike[str] | None = None, *, labels: bool = False) -> Any:
        """The network as an ONNX model (``onnx.ModelProto``), written to ``path``
        when given; ``labels=True`` adds an int64 ``"label"`` output (the class
        index). Input ``"X"`` (n, inputs), output ``"Y"`` (n, outputs), of the
        network's dtype; opset 13, IR version 7. Needs the ``onnx`` extra; see
        ``fastmlp.onnx.to_onnx``."""
        return _onnx_export.to_onnx(self, path, labels=labels)

    def _n_parameters(self) -> int:
        """Weights and biases: in * out + out per layer."""
        return sum(a * b + b for a, b in zip(self.sizes, self.sizes[1:]))

    def summary(self, file: Any = None) -> None:
        """Print a table of the layers (as Keras's ``summary``): each layer's
        shape (inputs -> units), activation, dropout rate while training (a
        column shown for a network with dropout; the output layer has none)
        and parameters (in * out weights and out biases), and the total; to
        ``file`` (default standard output)."""
        rates = self._dropout_rates()
        dropout = [f"{p:g}" for p in rates] + [""] if any(rates) else None
        rows = [[str(i + 1), f"{a} -> {b}", act, f"{a * b + b:,}"]
                for i, (a, b, act) in enumerate(zip(self.sizes, self.sizes[1:], (*self.activations, self.output)))]
        head = ["layer", "shape", "activation", "parameters"]
        if dropout is not None:
            head.insert(3, "dropout")
            for row, p in zip(rows, dropout):
                row.insert(3, p)
        total = self._n_parameters()
        right = {0, len(head) - 1}  # the layer's number and its parameters are right-aligned
        w = [max(len(r[k]) for r in [head, *rows]) for k in range(len(head))]

        def line(r: Sequence[str]) -> str:
            return "  ".join(f"{c:>{w[k]}}" if k in right else f"{c:<{w[k]}}" for k, c in enumerate(r)).rstrip()

        lines = [line(head), *map(line, rows)]
        lines.append(f"{'total':<{sum(w[:-1]) + 2 * (len(w) - 2)}}  {total:>{w[-1]},}")
        print("\n".join(lines), file=sys.stdout if file is None else file)

    def __repr__(self) -> str:
        slope = f", leaky_slope={self.leaky_slope!r}" if "leaky_relu" in (*self.activations, self.output) else ""
        slope += f", dropout={self.dropout!r}" if self.dropout != 0.0 else ""
        return (f"Network({list(self.sizes)}: {self._n_parameters():,} parameters, activation={self.activation!r}, "
                f"output={self.output!r}, loss={self.loss_name!r}, reduction={self.reduction!r}, init={self.init!r}, "
                f"seed={self.seed}, dtype={self.dtype.name!r}{slope})")


def train(
    X: ArrayLike,
    Y: ArrayLike,
    hidden: int | Sequence[int] = 5,
    *,
    epochs: int = 8000,
    learning_rate: float = 0.2,
    seed: int = 0,
    activation: Activation | Sequence[Activation] = "sigmoid",
    output: Output = "sigmoid",
    loss: LossName = "mse",
    reduction: Reduction = "sum",
    init: Init = "uniform",
    dtype: DType | np.dtype[Any] | type = "float64",
    leaky_slope: float = 0.01,
    dropout: float | Sequence[float] = 0.0,
    batch_size: int | None = None,
    shuffle: bool = True,
    threads: int | None = None,
    **fit_options: Any,
) -> Network:
    """Build a network for (X, Y) and train it: the article in one call.

    ``hidden`` is the width of the hidden layer, or a sequence of widths for
    several. The defaults are the article's algorithm; the options are those
    of ``Network`` and ``Network.fit``. Equivalent to
    ``Network([X.shape[1], *hidden, Y.shape[1]], ...).fit(X, Y, ...)``.

    Y may be 1-D integer class indices when ``output`` is "softmax" or
    "sigmoid" (see ``Network.fit``): the network then has one output per
    class, ``max(Y) + 1`` of them (so a class absent from Y gets none: pass
    one-hot rows then), or a single output for two classes and a sigmoid
    output (scikit-learn's binary layout).

    ``fit_options`` are the rest of ``Network.fit``'s options, with their
    defaults: optimizer="sgd", momentum=0.9, nesterov=False, beta1=0.9,
    beta2=0.999, eps=1e-8, eps_hat=False, weight_decay=0.01, schedule="constant",
    step_size=10, gamma=0.1, power_t=0.5, lr_min=0.0, l2=0.0,
    clip_norm=None, sample_weight=None, class_weight=None, validation=None,
    validation_fraction=None, early_stopping=None, tol=1e-4, clip_log_loss=False, callback=None,
    callback_every=1, progress=False, on_divergence="raise".

    >>> net = train(X, Y, hidden=(128,), activation="relu", output="softmax",
    ...             loss="cross_entropy", reduction="mean", init="he",
    ...             optimizer="adam", learning_rate=1e-3, batch_size=32,
    ...             epochs=200, validation_fraction=0.1, early_stopping=10)  # doctest: +SKIP
    """
    dtype = _check_dtype(dtype)
    names = _column_names(X)
    X_in: Any = X if _sparse.is_sparse(X) else _as_matrix(X, "X", dtype)  # fit converts a sparse X
    Y = _as_targets(Y, "Y", dtype, _check_choice(output, "output", _OUTPUTS), None)
    widths = [hidden] if isinstance(hidden, numbers.Integral) else hidden
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise TypeError(f"hidden must be an int or a sequence of ints; got {type(hidden).__name__}")
    net = Network([X_in.shape[1], *widths, Y.shape[1]], activation=activation, output=output, loss=loss,
                  reduction=reduction, init=init, seed=seed, dtype=dtype, leaky_slope=leaky_slope,
                  dropout=dropout)
    net._feature_names = names
    return net.fit(X_in, Y, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, shuffle=shuffle,
                   threads=threads, **fit_options)


def load(path: str | os.PathLike[str]) -> Network:
    """The network in the model file at ``path`` (written by ``Network.save``,
    the ``fastmlp`` program or C++ ``fastmlp::save``).

    It has the saved sizes, activations, loss, reduction and dtype, and
    bit-identical parameters, so its predictions are identical; its history
    starts empty. The file's description, where it has one, comes back as
    ``feature_names``, ``classes`` (typed as they were saved), ``target_names``
    and ``task``; a file without it (an older one) loads with them None.
    Raises ``ValueError`` when the file is not a valid model file (truncated, corrupted, an unknown format version), naming what is
    wrong, and ``OSError`` when it cannot be read (a FIFO, device, socket or
    directory at ``path`` included: model files are read from regular files only).
    """
    name = _file_path(path)
    net = Network.__new__(Network)
    net._restore(*_core.load(name))
    return net


def predict(net: Network, X: ArrayLike, *, out: np.ndarray | None = None) -> np.ndarray:
    """``net.predict(X, out=out)``."""
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastmlp.Network; got {type(net).__name__}")
    return net.predict(X, out=out)


# --- argument checks -----------------------------------------------------------


def _as_matrix(a: ArrayLike, name: str, dtype: np.dtype[Any]) -> np.ndarray:
    """``a`` as a C-contiguous 2-D array of ``dtype``: itself when it already is one.
    A pandas DataFrame of numeric and bool columns is converted once, with its
    own ``to_numpy`` (``np.asarray`` would give mixed columns dtype object)."""
    frame: Any = a
    columns: Any = getattr(frame, "dtypes", None)  # a DataFrame's: one per column
    if not isinstance(a, np.ndarray) and callable(getattr(frame, "to_numpy", None)) and hasattr(columns, "__iter__"):
        if all(getattr(t, "kind", "O") in ("f", "i", "u", "b") for t in columns):
            a = frame.to_numpy(dtype=dtype, na_value=np.nan)  # a missing value becomes NaN, which fit refuses
    arr = _as_real_array(a, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x features); got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    return _converted(arr, name, dtype)


def _as_targets(Y: ArrayLike, name: str, dtype: np.dtype[Any], output: str, outputs: int | None) -> np.ndarray:
    """Targets for a network with ``output`` and ``outputs`` outputs (None: as many
    as Y implies), as ``_as_matrix`` makes them. 1-D integer class indices become
    one-hot rows (one sigmoid output: the 0/1 column) where the output is a
    classifier's; any other 1-D Y is refused with how to encode it."""
    if _sparse.is_sparse(Y):
        raise TypeError(f"{name} must be dense (a NumPy array; sparse input is for X): got "
                        f"{type(Y).__name__}; pass {name}.toarray()")
    try:
        one_d = np.ndim(Y) == 1
    except ValueError:  # ragged nested sequences: _as_matrix names the argument
        one_d = False
    if not one_d:
        return _as_matrix(Y, name, dtype)
    if isinstance(Y, np.ndarray):
        y = Y
    else:
        try:
            y = np.asarray(Y)
        except ValueError as error:
            raise ValueError(f"{name} must be an array of numbers: {error}") from None
    classifier = output in ("softmax", "sigmoid")
    if y.dtype.kind not in "iub" or not classifier:
        if not classifier:
            how = (f"a {output!r} output takes 2-D targets: y.reshape(-1, 1) for one target column, or "
                   "np.eye(k)[y] to one-hot encode k classes (with a 'softmax' or 'sigmoid' output, 1-D "
                   "integer class indices are taken as they are)")
        elif y.dtype.kind == "f":
            how = "class indices must have an integer dtype (y.astype(int) where they are whole numbers)"
        else:
            how = ("class labels that are not indices: np.unique(y, return_inverse=True)[1] numbers them, or "
                   "fastmlp.sklearn.MLPClassifier takes them as they are")
        raise ValueError(f"{name} must be 2-D (samples x outputs), or 1-D integer class indices; got 1-D "
                         f"dtype {y.dtype}: {how}")
    if y.size == 0:
        raise ValueError(f"{name} is empty (shape {y.shape})")
    index = y.astype(np.int64) if y.dtype.kind == "b" else y
    if outputs is None:  # train(): one output per class; one sigmoid output for two
        top = int(index.max())
        outputs = 1 if output == "sigmoid" and top <= 1 else max(top + 1, 2)
    n_classes = max(outputs, 2)
    outside = (index < 0) | (index >= n_classes)
    if outside.any():
        raise ValueError(f"{name} holds class index {index[outside][0]}, but a network with {outputs} output(s) "
                         f"has {n_classes} classes (0 to {n_classes - 1})")
    if outputs == 1:
        return index.astype(dtype).reshape(-1, 1)
    onehot = np.zeros((index.size, outputs), dtype=dtype)
    onehot[np.arange(index.size), index] = 1
    return onehot


def _column_names(X: Any, name: str = "X") -> tuple[str, ...] | None:
    """A DataFrame's column names when they are all strings (scikit-learn's rule
    for feature_names_in_), else None (arrays, other names). A name given to two
    columns is a ValueError, as scikit-learn has it: columns are matched by name."""
    if isinstance(X, np.ndarray) or not hasattr(X, "columns") or not hasattr(X, "dtypes"):
        return None
    names = tuple(X.columns)
    counts = Counter(names)
    twice = [c for c in names if counts[c] > 1]
    if twice:
        raise ValueError(f"{name}: expected unique column names; {', '.join(map(repr, dict.fromkeys(twice)))} "
                         "name more than one column")
    return names if names and all(isinstance(c, str) for c in names) else None


def _names_differ(want: tuple[str, ...], got: tuple[str, ...], name: str) -> str:
    """What differs between the recorded feature names and X's columns."""
    unseen = [c for c in got if c not in want]
    missing = [c for c in want if c not in got]
    parts = [f"{name}'s column names differ from the network's feature_names"]
    if unseen:
        parts.append(f"not seen in fit: {', '.join(map(repr, unseen[:10]))}" + (" ..." if len(unseen) > 10 else ""))
    if missing:
        parts.append(f"missing: {', '.join(map(repr, missing[:10]))}" + (" ..." if len(missing) > 10 else ""))
    if not unseen and not missing:
        parts.append("the same names in another order (select them as X[list(net.feature_names)])")
    return "; ".join(parts)


def _per_layer_entry(text: str | None) -> tuple[str, ...]:
    """The parameters a model file's _PER_LAYER_KEY entry names (none without one)."""
    if text is None:
        return ()
    names = tuple(text.split(","))
    if not all(name in _PER_LAYER_PARAMETERS for name in names) or len(set(names)) != len(names):
        raise ValueError(f"metadata {_PER_LAYER_KEY!r} must name some of "
                         f"{', '.join(map(repr, _PER_LAYER_PARAMETERS))}, comma-separated; got {text!r}")
    return names


def _check_names(names: Any, what: str, n: int) -> tuple[str, ...]:
    """Names of ``n`` columns: a sequence of distinct strings."""
    if isinstance(names, (str, bytes)) or not isinstance(names, (Sequence, np.ndarray)):
        raise TypeError(f"{what} must be a sequence of str; got {type(names).__name__}")
    names = tuple(names)
    if not all(isinstance(c, str) for c in names):
        raise TypeError(f"{what} must hold strings only")
    if len(names) != n:
        raise ValueError(f"{what} must name {n} columns, one per {'input' if what == 'feature_names' else 'output'}; "
                         f"got {len(names)}")
    if len(set(names)) != n:
        twice = next(c for c in names if names.count(c) > 1)
        raise ValueError(f"{what} must be distinct; {twice!r} is there twice")
    return names


# Model files keep class labels as strings, with the type that restores them.
_CLASS_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def _check_classes(classes: Any, outputs: int) -> np.ndarray:
    """Class labels for ``outputs`` outputs: distinct strings, ints, floats or bools,
    one per output (two for a single output), as an array (as ``classes_`` is)."""
    if isinstance(classes, (str, bytes)) or np.ndim(classes) != 1:
        raise TypeError(f"classes must be a 1-D sequence of labels; got {type(classes).__name__}")
    values = list(classes)
    if all(isinstance(v, str) for v in values):
        arr = np.array(values, dtype=str)
    elif all(_is_bool(v) for v in values):
        arr = np.array(values, dtype=bool)
    elif all(_is_int(v) for v in values):
        if not all(-2**63 <= v < 2**63 for v in values):
            raise TypeError("classes that are ints must be within int64")
        arr = np.array(values, dtype=np.int64)
    elif all(_is_real(v) for v in values):
        arr = np.array(values, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError("classes must be finite")
    else:
        raise TypeError("classes must be all strings, all ints (within int64), all real numbers or all bools; got "
                        f"{', '.join(sorted({type(v).__name__ for v in values}))}")
    want = 2 if outputs == 1 else outputs
    if arr.size != want and not (outputs == 1 and arr.size == 1):
        raise ValueError(f"classes must hold {want} labels for a network with {outputs} output(s); got {arr.size}")
    if np.unique(arr).size != arr.size:
        raise ValueError(f"classes must be distinct; got {values}")
    return arr


def _classes_to_strings(classes: np.ndarray) -> tuple[list[str], str]:
    """Class labels as the model file keeps them: strings and their type's name."""
    kind = {"U": "str", "b": "bool", "i": "int", "f": "float"}[classes.dtype.kind]
    return [repr(float(v)) if kind == "float" else str(v) for v in classes.tolist()], kind


def _classes_from_strings(strings: Sequence[str], kind: str | None) -> np.ndarray:
    """The class labels a model file's strings stand for, typed by its classes_type
    (the core's reader checked them: distinct values of that type)."""
    if kind == "bool":
        return np.array([s == "True" for s in strings], dtype=bool)
    if kind in ("int", "float"):
        return np.array([_CLASS_TYPES[kind](s) for s in strings], dtype=np.int64 if kind == "int" else np.float64)
    return np.array(list(strings), dtype=str)


def _as_input(a: Any, name: str, dtype: np.dtype[Any]) -> np.ndarray | _sparse.CsrTuple:
    """An input X for the core: a scipy.sparse matrix as fastmlp._sparse's CSR
    tuple (read in place when it can be), anything else as ``_as_matrix``'s array."""
    return _sparse.as_csr(a, name, dtype) if _sparse.is_sparse(a) else _as_matrix(a, name, dtype)


def _n_rows(X: np.ndarray | _sparse.CsrTuple) -> int:
    """The rows of ``_as_input``'s result."""
    return X[0] if isinstance(X, tuple) else X.shape[0]


def _as_real_array(a: ArrayLike, name: str) -> np.ndarray:
    """``a`` as a NumPy array of real numbers (itself when it is one)."""
    if isinstance(a, np.ndarray):
        arr = a
    else:
        try:
            arr = np.asarray(a)
        except ValueError as error:  # ragged nested sequences: NumPy's message names no argument
            raise ValueError(f"{name} must be an array of numbers: {error}") from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}{_columns_not_real(a)}")
    return arr


def _columns_not_real(a: Any) -> str:
    """For a DataFrame, the columns that are not of a real dtype (categories,
    text), for the message: which to encode or drop."""
    dtypes = getattr(a, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return ""
    bad = [f"{column!r} ({dtype})" for column, dtype in dtypes.items()
           if getattr(dtype, "kind", "O") not in "fiub"]
    return f" (columns {', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''}: encode them as numbers)" if bad else ""


def _converted(arr: np.ndarray, name: str, dtype: np.dtype[Any]) -> np.ndarray:
    """``arr`` as a C-contiguous array of ``dtype``; a finite value that ``dtype``
    cannot hold (1e300 for float32) is an error, not an infinity and a warning."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=dtype)
    if arr.dtype.kind == "f" and arr.dtype.itemsize > dtype.itemsize:
        beyond = np.isinf(out) & np.isfinite(arr)
        if beyond.any():
            at = np.argwhere(beyond)[0]
            where = ", ".join(f"{axis} {i}" for axis, i in zip(("row", "column"), at))
            raise ValueError(f"{name} holds {arr[tuple(at)]} at {where}, beyond {dtype.name}'s range")
    return out


def _file_path(path: Any) -> bytes:
    """``path`` as the bytes the operating system's calls take."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
    return os.fsencode(path)


def _as_weights(w: ArrayLike, n: int, dtype: np.dtype[Any]) -> np.ndarray:
    """Sample weights as a C-contiguous 1-D array of ``dtype``, checked."""
    arr = _as_real_array(w, "sample_weight")
    if arr.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), one weight per row; got {arr.shape}")
    arr = _converted(arr, "sample_weight", dtype)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    return arr


class _Progress:
    """``fit(progress=True)``: a tqdm bar when tqdm is installed, else a line on stderr.

    Called as a fit callback (epoch, logs), at most every 0.1 s and after the last epoch.
    """

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.width = 0
        self.bar = _tqdm(epochs)

    def __call__(self, epoch: int, logs: dict[str, float]) -> None:
        figures = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if k != "learning_rate")
        if self.bar is not None:
            self.bar.set_postfix_str(figures, refresh=False)
            self.bar.update(epoch - self.bar.n)
        else:
            line = f"epoch {epoch}/{self.epochs}  {figures}"
            sys.stderr.write("\r" + line.ljust(self.width))
            sys.stderr.flush()
            self.width = len(line)

    def close(self, result: _core.FitResult | None) -> None:
        """End the bar; when early stopping ended the fit, with where and why."""
        end = result.early_stopping_summary if result is not None else None
        if self.bar is not None:
            if end is not None:
                self.bar.set_postfix_str(end, refresh=False)
            self.bar.close()
        elif end is not None and result is not None:
            sys.stderr.write("\r" + f"epoch {result.epochs}/{self.epochs}  {end}".ljust(self.width) + "\n")
            sys.stderr.flush()
        elif self.width:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _tqdm(total: int) -> Any:
    """A tqdm bar on stderr, or None when tqdm is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="epoch", file=sys.stderr)


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"sizes must be a sequence of ints; got {type(sizes).__name__}")
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output layer; got {list(sizes)}")
    return tuple(_check_int(s, "sizes", low=1, high=2**63 - 1) for s in sizes)


def _check_activations(value: Any, n_hidden: int) -> str | tuple[str, ...]:
    """One hidden activation name, or a sequence of one per hidden layer."""
    if isinstance(value, str):
        return _check_choice(value, "activation", _ACTIVATIONS)
    if not isinstance(value, Sequence):
        raise TypeError(f"activation must be a name or a sequence of names; got {type(value).__name__}")
    if len(value) != n_hidden:
        raise ValueError(f"activation must name one activation per hidden layer ({n_hidden}); got {len(value)}")
    return tuple(_check_choice(a, "activation", _ACTIVATIONS) for a in value)
