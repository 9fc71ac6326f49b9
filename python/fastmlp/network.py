"""The network: ``Network``, and the article's ``train`` / ``predict`` in one call each.

``Network`` holds its parameters in C++ and trains there; this module checks
and converts arguments (once, visibly) and keeps the history.
"""

from __future__ import annotations

import numbers
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from fastmlp import _core
from fastmlp import onnx as _onnx_export
from fastmlp._checks import check_bool as _check_bool
from fastmlp._checks import check_choice as _check_choice
from fastmlp._checks import check_int as _check_int
from fastmlp._checks import check_real as _check_real
from fastmlp.metrics import predicted_classes

__all__ = ["Network", "load", "predict", "train"]

_DTYPES: dict[str, np.dtype[Any]] = {"float64": np.dtype(np.float64), "float32": np.dtype(np.float32)}
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

    A network saves to a model file (``save``, read back by ``fastmlp.load``)
    and pickles through the same bytes, history included; the optimiser's
    state is not kept, so a ``fit`` after loading or unpickling starts it
    afresh (as after ``reset_optimizer()``).
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
        self.history: dict[str, np.ndarray] = {"loss": np.empty(0), "learning_rate": np.empty(0)}
        self.best_epoch: int | None = None
        self._extra: dict[str, str] = {}

    def _restore(self, core: Any, dtype: str, info: dict[str, Any], extra: dict[str, str], source: str) -> None:
        """Become the network of a loaded ``core``; ``info`` and ``extra`` are the
        metadata of ``source`` (checked by the core)."""
        *hidden, self.output = core.activations
        self.sizes = tuple(core.sizes)
        # One name when the hidden layers share it (or there are none, so the
        # default stands), else one per hidden layer.
        self.activation = hidden[0] if len(set(hidden)) == 1 else tuple(hidden) or "sigmoid"
        self.leaky_slope = core.leaky_slope
        self.loss_name = core.loss
        self.reduction = core.reduction
        self.init = info.get("init", "uniform")
        self.seed = info.get("seed", 0)
        self.dtype = _DTYPES[dtype]
        self._core = core
        self.history = {"loss": np.empty(0), "learning_rate": np.empty(0)}
        self.best_epoch = None
        self._extra = extra  # entries this version does not use, kept for the next save

    # --- files and pickling ------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the network to a model file at ``path`` (safetensors layout).

        The file holds the layer sizes, activations, loss, reduction, dtype
        and every parameter bit for bit; ``fastmlp.load``, the ``fastmlp``
        program and the C++ ``fastmlp::load`` read it, and so does any
        safetensors reader. The write is atomic: a temporary file beside
        ``path`` is renamed over it when complete, so a failure leaves any
        previous file intact. A file replaced keeps its mode; a symbolic link
        is followed and the file it names replaced; a FIFO, device, socket or
        directory at ``path`` is refused. Raises ``OSError`` (naming the path)
        when the file cannot be written, ``ValueError`` for a path with a NUL byte,
        and ``RuntimeError`` while another thread fits this network (see
        ``fit``).
        """
        self._core.save(_file_path(path), self.init, self.seed, self._extra)

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self._core.to_bytes(self.init, self.seed, self._extra), "history": self.history,
                "best_epoch": self.best_epoch}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._restore(*_core.from_bytes(state["model"]), source="pickled network")
        self.history = dict(state["history"])
        self.best_epoch = state.get("best_epoch")

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
        optimizer: str = "sgd",
        momentum: float = 0.9,
        nesterov: bool = False,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        schedule: str = "constant",
        step_size: int = 10,
        gamma: float = 0.1,
        power_t: float = 0.5,
        lr_min: float = 0.0,
        l2: float = 0.0,
        clip_norm: float | None = None,
        sample_weight: ArrayLike | None = None,
        class_weight: str | Mapping[int, float] | None = None,
        validation: tuple[ArrayLike, ArrayLike] | None = None,
        validation_fraction: float | None = None,
        early_stopping: int | None = None,
        tol: float = 1e-4,
        callback: Callable[[int, dict[str, float]], Any] | None = None,
        callback_every: int = 1,
        progress: bool = False,
        on_divergence: str = "raise",
    ) -> Network:
        """Train on (X, Y), continuing from the current parameters; returns self.

        By default the article's algorithm: every epoch, a forward pass over
        all of X, the error, deltas through the activations' derivatives, and
        ``W -= learning_rate * dW`` with the network's loss and reduction
        (``mse`` summed: ``W += learning_rate * X.T @ delta``). The whole loop,
        options included, runs in C++.

        Parameters
        ----------
        X : array of shape (n, inputs)
        Y : array of shape (n, outputs)
            Targets; one-hot rows for classification.
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
            and its own settings (momentum and nesterov; beta1, beta2, eps
            and, for adamw, weight_decay) stay the same; changing any of them
            starts it afresh, as does ``reset_optimizer()``. The rate, the
            schedule, l2 and clip_norm may change without a reset.
        momentum : float, default 0.9
            "momentum": mu, in [0, 1).
        nesterov : bool, default False
            "momentum": Nesterov's form.
        beta1, beta2, eps : float, default 0.9, 0.999, 1e-8
            "adam", "adamw": moment decays in [0, 1); eps > 0.
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
            "raise": a NaN or infinite loss or parameter stops the fit with
            FloatingPointError naming the epoch; the network keeps the
            parameters from the end of the epoch before (history includes
            the epochs completed). "continue": no check.

        Raises
        ------
        ValueError
            Shapes that do not fit the network or each other, empty or
            non-finite data, options out of their range.
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
        X = _as_matrix(X, "X", self.dtype)
        Y = _as_matrix(Y, "Y", self.dtype)
        # every option's type and range: the core's table (one verdict with the command line's)
        options = _core.FitOptions.from_kwargs(
            epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, shuffle=shuffle, threads=threads,
            optimizer=optimizer, momentum=momentum, nesterov=nesterov, beta1=beta1, beta2=beta2, eps=eps,
            weight_decay=weight_decay, schedule=schedule, step_size=step_size, gamma=gamma, power_t=power_t,
            lr_min=lr_min, l2=l2, clip_norm=clip_norm, class_weight=class_weight,
            validation_fraction=validation_fraction, early_stopping=early_stopping, tol=tol,
            on_divergence=on_divergence, callback_every=callback_every)
        options.seed = self.seed
        options.first_epoch = self.history["loss"].size
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable; got {type(callback).__name__}")
        weights = None if sample_weight is None else _as_weights(sample_weight, X.shape[0], self.dtype)
        X_val = Y_val = None
        if validation is not None:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise TypeError("validation must be a pair (X_val, Y_val)")
            X_val = _as_matrix(validation[0], "X_val", self.dtype)
            Y_val = _as_matrix(validation[1], "Y_val", self.dtype)

        bar = _Progress(options.get("epochs")) if _check_bool(progress, "progress") else None
        try:
            result = self._core.fit(X, Y, weights, X_val, Y_val, options, callback, bar, 0.1)
        except _core.Diverged as diverged:
            self._record(diverged.result)
            raise
        finally:
            if bar is not None:
                bar.close()
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
        X = _as_matrix(X, "X", self.dtype)
        w = None if sample_weight is None else _as_weights(sample_weight, X.shape[0], self.dtype)
        return self._core.loss_and_gradient(X, _as_matrix(Y, "Y", self.dtype), w)

    # --- inference ------------------------------------------------------------

    def predict(self, X: ArrayLike, *, out: np.ndarray | None = None, threads: int | None = None) -> np.ndarray:
        """The network's outputs for X, shape (n, outputs).

        X is read in place when it is a C-contiguous array of the network's
        dtype (else converted once). With ``out``, a C-contiguous writable
        array of shape (n, outputs) and the network's dtype, the result is
        written there and ``out`` is returned; it may share memory with X
        (the result then goes through a temporary). ``threads`` as in ``fit``.
        Ctrl-C stops a long prediction between chunks of rows
        (KeyboardInterrupt; ``out`` then holds only some rows); so does a
        NaN or infinity in X (ValueError naming the first). Predictions
        from several threads run side by side; while another thread fits
        this network, ``RuntimeError``.
        """
        if type(X) is not np.ndarray or X.dtype != self.dtype or not X.flags.c_contiguous:
            X = _as_matrix(X, "X", self.dtype)  # the one conversion; the core checks the rest
        return self._core.predict(X, out, threads)

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
    **fit_options: Any,
) -> Network:
    """Build a network for (X, Y) and train it: the article in one call.

    ``hidden`` is the width of the hidden layer, or a sequence of widths for
    several. The defaults are the article's algorithm; the options are those
    of ``Network`` and ``Network.fit``. Equivalent to
    ``Network([X.shape[1], *hidden, Y.shape[1]], ...).fit(X, Y, ...)``.

    ``fit_options`` are the rest of ``Network.fit``'s options, with their
    defaults: optimizer="sgd", momentum=0.9, nesterov=False, beta1=0.9,
    beta2=0.999, eps=1e-8, weight_decay=0.01, schedule="constant",
    step_size=10, gamma=0.1, power_t=0.5, lr_min=0.0, l2=0.0,
    clip_norm=None, sample_weight=None, class_weight=None, validation=None,
    validation_fraction=None, early_stopping=None, tol=1e-4, callback=None,
    callback_every=1, progress=False, on_divergence="raise".

    >>> net = train(X, Y, hidden=(128,), activation="relu", output="softmax",
    ...             loss="cross_entropy", reduction="mean", init="he",
    ...             optimizer="adam", learning_rate=1e-3, batch_size=32,
    ...             epochs=200, validation_fraction=0.1, early_stopping=10)  # doctest: +SKIP
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
                   threads=threads, **fit_options)


def load(path: str | os.PathLike[str]) -> Network:
    """The network in the model file at ``path`` (written by ``Network.save``,
    the ``fastmlp`` program or C++ ``fastmlp::save``).

    It has the saved sizes, activations, loss, reduction and dtype, and
    bit-identical parameters, so its predictions are identical; its history
    starts empty. Raises ``ValueError`` when the file is not a valid model
    file (truncated, corrupted, an unknown format version), naming what is
    wrong, and ``OSError`` when it cannot be read (a FIFO, device, socket or
    directory at ``path`` included: model files are read from regular files only).
    """
    name = _file_path(path)
    net = Network.__new__(Network)
    net._restore(*_core.load(name), source=os.fsdecode(name))
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
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    return arr


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

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
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


def _check_dtype(dtype: Any) -> np.dtype[Any]:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be 'float64' or 'float32'; got {dtype!r}") from None
    if dt.name not in _DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32'; got {dt.name!r}")
    return dt
