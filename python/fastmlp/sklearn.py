"""scikit-learn estimators backed by fastmlp: ``MLPClassifier`` and ``MLPRegressor``.

Drop-in replacements for ``sklearn.neural_network``'s estimators of the same
names: the same parameters with the same defaults, the same fitted attributes,
the same label handling and stopping rules; the numeric work is fastmlp's C++
core: one ``Network.fit`` call per fit, whose per-epoch callback keeps
scikit-learn's books (loss curve, stopping rules, validation scores), or one
call per epoch for the "adaptive" rate, partial_fit and "invscaling" after
earlier fits. scikit-learn (>= 1.6) is an optional dependency,
``pip install "fastmlp[sklearn]"``. This module is glue: the network, its
training and its inference are ``fastmlp.Network``'s.

How scikit-learn's definitions map onto fastmlp's (so results agree within
run-to-run spread, not bit for bit):

- loss: classifiers minimise mean log-loss with a softmax output (multi-class)
  or a logistic output (binary: one unit; multi-label: one per label), that is
  fastmlp's ``cross_entropy`` with ``reduction="mean"``; regressors follow the
  gradient of squared error / 2 summed over outputs and averaged over
  samples, fastmlp's ``mse`` with ``reduction="mean"``, and report (in
  loss_ and loss_curve_) that loss divided by the number of outputs, as
  scikit-learn does.
- alpha: the penalty alpha / (2 * batch rows) * ||W||^2 added to each batch's
  mean loss (biases are not penalised) is fastmlp's ``l2 = alpha / batch_size``
  (with sample weights: divided by the batch's expected weight); the last,
  smaller batch of an epoch gets the same l2 where scikit-learn's grows.
- init: W and b uniform in +-sqrt(6 / (in + out)) (+-sqrt(2 / (in + out)) for
  logistic), scikit-learn's distribution (fastmlp's init "sklearn"), drawn
  from fastmlp's RNG.
- solver "sgd": momentum in fastmlp's (PyTorch's) form, the same steps for a
  constant rate; "adam": scikit-learn's steps (fastmlp's ``eps_hat=True``:
  epsilon added to sqrt(v) before the bias correction). "lbfgs": scipy's
  L-BFGS-B on fastmlp's full-batch loss and gradient, as
  scikit-learn does (max_iter, max_fun, tol as its gtol).
- random_state: an int is fastmlp's seed (initialisation and shuffles);
  None or a RandomState draws one. The early-stopping split is scikit-learn's
  own (train_test_split, stratified on the binarized labels as scikit-learn's).
- dtype: float32 input trains in float32, anything else in float64, as
  scikit-learn's; predictions have the dtype scikit-learn's have, NumPy's
  promotion of X's and the network's (float64 X on a float32 network:
  float64, computed in float64).
- a fit that diverges (non-finite parameters) raises ValueError, except with
  early_stopping, where it ends with a ConvergenceWarning and keeps the
  best epoch's parameters (as scikit-learn since its issue 29504).

Ours besides: ``n_threads`` (threads for fit and predict; default fastmlp's),
``dtype`` (None: the input's, as scikit-learn; or "float64", "float32", in any
spelling ``fastmlp.Network`` takes), ``class_weight`` (None, "balanced" or
{label: weight}, multiplied into sample_weight), ``dropout`` (0.0: the hidden
layers' dropout rate while training, or one per hidden layer; see
``fastmlp.Network``).
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from fastmlp import _core, _skl2onnx, _sparse
from fastmlp import _estimator_files as _files
from fastmlp._checks import check_dropout, check_dtype, is_bool, is_int, is_real
from fastmlp.metrics import predicted_classes
from fastmlp.network import Activation, DType, LossName, Network, Output
from fastmlp.network import load as _load_network
from fastmlp.onnx import GraphBuilder, class_index, network_graph
from fastmlp.onnx import save as onnx_save

__all__ = ["MLPClassifier", "MLPRegressor", "load"]

# The string parameters' choices (scikit-learn's names), as types (so a type
# checker catches activation="rleu") and, through get_args, as the choices
# _PARAMETERS checks; dtype's are Network's own.
ActivationName = Literal["identity", "logistic", "tanh", "relu", "leaky_relu"]
Solver = Literal["lbfgs", "sgd", "adam"]
LearningRate = Literal["constant", "invscaling", "adaptive"]
RegressorLoss = Literal["squared_error", "poisson"]

# scikit-learn's names of the hidden activations -> fastmlp's (tests/test_typing.py
# holds the keys to ActivationName)
_ACTIVATIONS: dict[ActivationName, Activation] = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh",
                                                  "relu": "relu", "leaky_relu": "leaky_relu"}
_OUT_NAMES = {"softmax": "softmax", "sigmoid": "logistic", "identity": "identity", "exp": "exp"}
# scipy.sparse formats X may have (CSC and COO converted once to CSR, which the core trains on)
_SPARSE = ["csr", "csc", "coo"]


# --- parameters ---------------------------------------------------------------------------

def _choice(*options: str) -> tuple[Any, str]:
    return (lambda v: isinstance(v, str) and v in options), "one of " + ", ".join(map(repr, options))


def _real(low: float, high: float = np.inf, *, low_open: bool = False, high_open: bool = True) -> tuple[Any, str]:
    def ok(v: Any) -> bool:
        return (is_real(v) and not np.isnan(v) and (v > low if low_open else v >= low)
                and (v < high if high_open else v <= high))
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    return ok, f"a real number in {left}{low}, {high}{right}"


def _boolean() -> tuple[Any, str]:
    return is_bool, "a bool"


def _passes(check: Any) -> Any:
    """A test of whether ``check(value)`` (a fastmlp._checks check) accepts the value."""
    def ok(v: Any) -> bool:
        try:
            check(v)
        except (TypeError, ValueError):
            return False
        return True
    return ok


# Each parameter: a test and what it expects (checked at fit, as scikit-learn does).
_PARAMETERS: dict[str, tuple[Any, str]] = {
    "hidden_layer_sizes": (lambda v: (is_int(v) and v >= 1) or (
        not isinstance(v, (str, bytes)) and np.ndim(v) == 1 and all(is_int(h) and h >= 1 for h in v)),
        "a positive int or a sequence of positive ints"),
    "activation": _choice(*get_args(ActivationName)),
    "solver": _choice(*get_args(Solver)),
    "alpha": _real(0),
    "batch_size": (lambda v: v == "auto" or (is_int(v) and v >= 1), "'auto' or a positive int"),
    "learning_rate": _choice(*get_args(LearningRate)),
    "learning_rate_init": _real(0, low_open=True),
    "power_t": _real(0),
    "max_iter": (lambda v: is_int(v) and v >= 1, "a positive int"),
    "shuffle": _boolean(),
    "random_state": (lambda v: v is None or (is_int(v) and 0 <= v < 2**64) or isinstance(v, np.random.RandomState),
                     "None, an int in [0, 2**64) or a numpy RandomState"),
    "tol": _real(0),
    "verbose": (lambda v: is_int(v) or isinstance(v, (bool, np.bool_)), "a bool or an int"),
    "warm_start": _boolean(),
    "momentum": _real(0, 1, high_open=False),
    "nesterovs_momentum": _boolean(),
    "early_stopping": _boolean(),
    "validation_fraction": _real(0, 1),
    "beta_1": _real(0, 1),
    "beta_2": _real(0, 1),
    "epsilon": _real(0, low_open=True),
    "n_iter_no_change": (lambda v: (is_int(v) and v >= 1) or (is_real(v) and v == np.inf),
                         "a positive int or numpy.inf"),
    "max_fun": (lambda v: is_int(v) and v >= 1, "a positive int"),
    "n_threads": (lambda v: v is None or (is_int(v) and 1 <= v <= _core.MAX_THREADS),
                  f"None or an int in [1, {_core.MAX_THREADS}]"),
    "dtype": (lambda v: v is None or _passes(check_dtype)(v),
              "None, " + " or ".join(map(repr, get_args(DType))) + " (or another NumPy spelling of them, as "
              "fastmlp.Network takes: np.float32, 'f4', ...)"),
    "class_weight": (lambda v: v is None or v == "balanced" or isinstance(v, dict), "None, 'balanced' or a dict"),
    "loss": _choice(*get_args(RegressorLoss)),
    "dropout": (_passes(lambda v: check_dropout(v, None)),
                "a real number in [0, 1), or a sequence of them, one per hidden layer"),
}


# --- the shared estimator -----------------------------------------------------------------

class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, the training
    loop and its stopping rules, pickling, export."""

    _net: Network  # the fitted network

    def _check_params(self) -> None:
        for name, value in self.get_params(deep=False).items():
            ok, expected = _PARAMETERS[name]
            if not ok(value):
                kind = TypeError if name in ("random_state", "class_weight") else ValueError
                raise kind(f"The '{name}' parameter of {type(self).__name__} must be {expected}. "
                           f"Got {value!r} instead.")
        weights = getattr(self, "class_weight", None)
        if isinstance(weights, dict):
            for label, weight in weights.items():
                if not is_real(weight) or not (math.isfinite(weight) and weight >= 0):
                    raise (ValueError if is_real(weight) else TypeError)(
                        f"class_weight's weights must be finite numbers >= 0; got {weight!r} for class {label!r}")

    # --- hooks for the two estimators ---------------------------------------------------

    def _network_output(self) -> tuple[Output, LossName]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _score_predictions(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        raise NotImplementedError  # pragma: no cover - overridden

    # --- fitting ------------------------------------------------------------------------

    def _fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None, incremental: bool) -> Any:
        self._check_params()
        hidden = [self.hidden_layer_sizes] if is_int(self.hidden_layer_sizes) else list(self.hidden_layer_sizes)
        dropout = check_dropout(self.dropout, len(hidden))  # one rate, or one per hidden layer
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if any(_per_layer(dropout, len(hidden))) and self.solver == "lbfgs":
            # its loss and gradient are the plain network's
            raise ValueError("dropout needs a stochastic solver ('sgd' or 'adam'); solver 'lbfgs' "
                             "evaluates the network without it")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X_checked, Y, y_labels = self._validate_input(X, y, incremental, reset=first_pass)
        if first_pass:  # validate_data kept float32 and made anything else float64
            dtype = X_checked.dtype if self.dtype is None else np.dtype(self.dtype)
        else:
            dtype = self._net.dtype
        X_fit: Any = _sparse.as_estimator_input(X_checked, dtype)  # an array, or a CSR matrix
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, X_fit, dtype=np.float64)
        sw = self._weights_with_classes(sw, y_labels, incremental)
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(X_fit.shape[1], hidden, Y.shape[1], dtype)
        elif [*self._net.sizes[1:-1]] != hidden or self._net.sizes[-1] != Y.shape[1]:
            raise ValueError(f"hidden_layer_sizes {hidden} and {Y.shape[1]} outputs do not match the fitted "
                             f"network {list(self._net.sizes)}; fit it afresh (warm_start=False)")
        else:
            self._check_same_network(hidden, dropout)
        Y = np.ascontiguousarray(Y, dtype=dtype)
        if self.solver == "lbfgs":
            self._fit_lbfgs(X_fit, Y, sw)
        else:
            self._fit_stochastic(X_fit, Y, y_labels, sw, incremental)
        if not all(np.isfinite(w).all() for w in (*self._net.weights, *self._net.biases)):
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                             "values and need to be preprocessed.")
        if self._net.output == "exp" and not np.isfinite(self._net.predict(X_fit, threads=self.n_threads)).all():
            # finite weights whose last step sends the log link past overflow
            raise ValueError("Solver produced parameters whose predictions overflow (exp of the outputs is "
                             "infinite for some training rows); try a smaller learning_rate_init, or preprocess "
                             "the input data.")
        return self

    def _check_same_network(self, hidden: list[int], dropout: float | tuple[float, ...]) -> None:
        """ValueError unless activation, loss and dropout are still those the
        fitted network was made with: a warm start or partial_fit continues that
        network, and would otherwise go on with the old ones unsaid."""
        net = self._net
        activation = _ACTIVATIONS[self.activation]
        rates = _per_layer(dropout, len(hidden))
        changed = [name for name, now, then in (
            ("activation", (activation,) * len(hidden), tuple(net._core.activations[:-1])),
            ("loss", self._network_output(), (net.output, net.loss_name)),
            ("dropout", tuple(float(r) for r in rates), tuple(net._core.dropout)),
        ) if now != then]
        if changed:
            raise ValueError(f"{' and '.join(changed)} changed since the network was fitted; warm_start and "
                             f"partial_fit continue that network: fit it afresh (warm_start=False) for new ones")

    def _weights_with_classes(self, sw: np.ndarray | None, y: np.ndarray, incremental: bool) -> np.ndarray | None:
        return sw

    def _initialize(self, n_features: int, hidden: list[int], n_outputs: int, dtype: np.dtype[Any]) -> None:
        output, loss = self._network_output()
        if self.random_state is None or isinstance(self.random_state, np.random.RandomState):
            seed = int(self._random_state.randint(0, 2**31 - 1))
        else:
            seed = int(self.random_state)
        self._net = Network([n_features, *hidden, n_outputs], activation=_ACTIVATIONS[self.activation],
                            output=output, loss=loss, reduction="mean", init="sklearn", seed=seed, dtype=dtype,
                            dropout=self.dropout)
        self._adopt_network()
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(hidden) + 2
        self.out_activation_ = _OUT_NAMES[output]
        self._solver_state: dict[str, Any] | None = None
        if self.solver != "lbfgs":
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_: list[float] | None = []
                self.best_validation_score_: float | None = -np.inf
                self.best_loss_: float | None = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _adopt_network(self) -> None:
        """Point coefs_ and intercepts_ at the network's parameters (views, no copies)."""
        self.coefs_ = list(self._net.weights)
        self.intercepts_ = list(self._net.biases)

    @property
    def _loss_scale(self) -> float:
        """fastmlp's loss over the one scikit-learn reports: the number of outputs
        for squared error (which scikit-learn reports averaged over the outputs
        but descends summed over them, as fastmlp), else 1."""
        return float(self._net.sizes[-1]) if self._net.loss_name == "mse" else 1.0

    def _penalty_norm(self) -> float:
        with np.errstate(over="ignore", invalid="ignore"):  # diverged weights: an infinite (or NaN) penalty
            return float(sum(np.dot(W.ravel(), W.ravel()) for W in self._net.weights))

    def _fit_stochastic(self, X: np.ndarray, Y: np.ndarray, y_labels: np.ndarray, sw: np.ndarray | None,
                        incremental: bool) -> None:
        if not incremental or self._solver_state is None:
            self._solver_state = {"learning_rate": float(self.learning_rate_init)}
            self._net.reset_optimizer()  # a fit (warm or not) starts its optimiser afresh, as scikit-learn's
        state = self._solver_state
        X_val: Any = None
        y_val: Any = None
        sw_val: Any = None
        if self.early_stopping:
            # scikit-learn's split: stratified on the binarized labels (its messages name those)
            stratify = Y.astype(bool) if _is_single_label(self) else None
            parts = train_test_split(X, Y, y_labels, *(() if sw is None else (sw,)), random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, X_val, Y, _, _, y_val = parts[:6]
            if sw is not None:
                sw, sw_val = parts[6], parts[7]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                                 "your dataset.")
            X, Y = _sparse.as_estimator_input(X, dtype=X.dtype), np.ascontiguousarray(Y)
        n = X.shape[0]
        if self.batch_size == "auto":
            batch = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                              stacklevel=3)
            batch = int(np.clip(self.batch_size, 1, n))
        scale = self._loss_scale
        mean_weight = 1.0 if sw is None else max(float(np.mean(sw)), np.finfo(float).tiny)
        l2 = self.alpha / (batch * mean_weight)
        # scikit-learn's penalty term of an epoch's reported loss: alpha/2 ||W||^2
        # over each batch's weight, each batch counting with its share of rows
        # (||W|| taken at the epoch's start: exact for one batch per epoch)
        batches = [s.stop - s.start for s in gen_batches(n, batch)]
        penalty_factor = 0.5 * self.alpha * len(batches) / (n * mean_weight)
        # with early stopping, the parameters to keep: the fit's start until an epoch scores
        best_params = [p.copy() for p in (*self._net.weights, *self._net.biases)] if self.early_stopping else []
        penalty = [penalty_factor * self._penalty_norm() if self.alpha else 0.0]  # at the next epoch's start
        adaptive = self.solver == "sgd" and self.learning_rate == "adaptive"
        invscaling = self.solver == "sgd" and self.learning_rate == "invscaling"

        def after_epoch(loss: float) -> bool:
            """scikit-learn's bookkeeping after an epoch; True when training should stop."""
            self.n_iter_ += 1
            self.loss_ = loss / scale + penalty[0]
            if self.alpha:
                penalty[0] = penalty_factor * self._penalty_norm()
            self.t_ += n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            if self.early_stopping:
                if self._update_validation(X_val, y_val, sw_val):
                    best_params[:] = [p.copy() for p in (*self._net.weights, *self._net.biases)]
                if not all(np.isfinite(p).all() for p in (*self._net.weights, *self._net.biases)):
                    # nothing recovers from here: end, keeping the best epoch's parameters
                    warnings.warn(f"Solver produced non-finite parameter weights at iteration {self.n_iter_}; "
                                  "early stopping keeps the best iteration's parameters.", ConvergenceWarning,
                                  stacklevel=4)
                    return True
            else:
                self._update_training_loss()
            if invscaling:
                state["learning_rate"] = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
            if self._no_improvement_count <= self.n_iter_no_change:
                return False
            what = "Validation score" if self.early_stopping else "Training loss"
            msg = f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs."
            if adaptive and state["learning_rate"] > 1e-6:
                state["learning_rate"] /= 5.0
                self._no_improvement_count = 0
                if self.verbose:
                    print(msg + f" Setting learning rate to {state['learning_rate']:f}")
                return False
            if self.verbose:
                print(msg + (" Learning rate too small." if adaptive else "") + " Stopping.")
            return True

        self.n_iter_ = 0
        stopped = False
        try:
            if incremental or adaptive or (invscaling and self.t_ > 0):
                # one C++ call per epoch: the rate changes in ways fastmlp's schedules do not
                for _ in range(1 if incremental else self.max_iter):
                    stopped = after_epoch(self._run_epoch(X, Y, sw, batch, l2, state["learning_rate"]))
                    if stopped:
                        break
            else:
                # one C++ call for the whole fit; the callback keeps the books and stops it
                def callback(epoch: int, logs: dict[str, float]) -> bool:
                    nonlocal stopped
                    stopped = after_epoch(logs["loss"])
                    return not stopped

                self._run_epoch(X, Y, sw, batch, l2, state["learning_rate"], epochs=self.max_iter,
                                schedule="invscaling" if invscaling else "constant", callback=callback)
            if not incremental and not stopped and self.n_iter_ == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                              "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=3)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        if self.early_stopping and best_params:
            for target, value in zip((*self._net.weights, *self._net.biases), best_params):
                target[...] = value

    def _update_validation(self, X_val: np.ndarray, y_val: np.ndarray, sw_val: np.ndarray | None) -> bool:
        """Record the validation score; True when it is the best so far."""
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging fit's score is NaN, said once
            score = self._score_predictions(X_val, y_val, sw_val)
        assert self.validation_scores_ is not None and self.best_validation_score_ is not None
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _update_training_loss(self) -> None:
        assert self.best_loss_ is not None
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if self.loss_curve_[-1] < self.best_loss_:
            self.best_loss_ = self.loss_curve_[-1]

    def _optimizer_options(self) -> dict[str, Any]:
        """The optimiser and its settings, in fastmlp's names."""
        if self.solver == "adam":
            return {"optimizer": "adam", "beta1": float(self.beta_1), "beta2": float(self.beta_2),
                    "eps": float(self.epsilon), "eps_hat": True}
        if self.momentum > 0:
            return {"optimizer": "momentum", "momentum": float(self.momentum),
                    "nesterov": bool(self.nesterovs_momentum)}
        return {"optimizer": "sgd"}

    def _run_epoch(self, X: np.ndarray, Y: np.ndarray, sw: np.ndarray | None, batch: int, l2: float,
                   learning_rate: float, *, epochs: int = 1, **options: Any) -> float:
        """Mini-batch training in C++ (one epoch unless told); returns fastmlp's
        loss of the last epoch (without the penalty). The optimiser's state
        carries over from the last call (Network.fit keeps it while its
        settings stay)."""
        try:
            # with early stopping, a diverging fit goes on to the epoch's validation (NaN) and ends there
            self._net.fit(X, Y, epochs=epochs, learning_rate=learning_rate, batch_size=batch,
                          shuffle=bool(self.shuffle), threads=self.n_threads, l2=l2, sample_weight=sw,
                          power_t=float(self.power_t), on_divergence="continue" if self.early_stopping else "raise",
                          clip_log_loss=True,  # scikit-learn's log_loss, for loss_ and its stopping rule
                          **self._optimizer_options(), **options)
        except FloatingPointError as e:
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                             "values and need to be preprocessed.") from e
        return float(self._net.history["loss"][-1])

    def _fit_lbfgs(self, X: np.ndarray, Y: np.ndarray, sw: np.ndarray | None) -> None:
        from scipy.optimize import minimize

        net = self._net
        order = [p for pair in zip(net.weights, net.biases) for p in pair]  # fastmlp's flat layout
        decay = np.concatenate([np.full(p.size, i % 2 == 0) for i, p in enumerate(order)])
        scale = self._loss_scale
        alpha = self.alpha / max(float(X.shape[0] if sw is None else np.sum(sw)), np.finfo(float).tiny)

        def loss_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
            _unflatten(order, flat)
            loss, grad = net._loss_and_gradient(X, Y, sw)
            w = np.where(decay, flat, 0.0)
            return loss + 0.5 * alpha * float(w @ w), grad.astype(np.float64) + alpha * w

        x0 = np.concatenate([p.ravel() for p in order]).astype(np.float64)
        result = minimize(loss_and_grad, x0, method="L-BFGS-B", jac=True,
                          options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        _unflatten(order, result.x)
        self.n_iter_ = int(result.nit)
        w = np.where(decay, result.x, 0.0)
        self.loss_ = float(result.fun - 0.5 * alpha * float(w @ w)) / scale + 0.5 * alpha * float(w @ w)
        if result.status != 0:
            warnings.warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result.status}):\n"
                          f"{result.message}.\n\nIncrease the number of iterations to improve the convergence "
                          f"(max_iter={self.max_iter}).", ConvergenceWarning, stacklevel=3)

    # --- prediction ---------------------------------------------------------------------

    def _forward(self, X: ArrayLike) -> np.ndarray:
        """The network's outputs for X, validated as scikit-learn does, in the dtype
        scikit-learn's forward pass gives: NumPy's promotion of X's dtype and the
        network's (float64 X on a float32 network: float64, computed in float64
        with the float32 weights, as NumPy promotes them; int8 X: float32)."""
        check_is_fitted(self, "coefs_")
        X_checked: Any = validate_data(self, X, reset=False, accept_sparse=_SPARSE)
        self._sync_parameters()
        net = self._net
        if np.result_type(X_checked.dtype, net.dtype) != net.dtype:
            net = _float64_twin(net)
        return net.predict(_sparse.as_estimator_input(X_checked, net.dtype), threads=self.n_threads)

    def _sync_parameters(self) -> None:
        """Copy coefs_ / intercepts_ entries that were replaced (rather than
        modified in place) into the network."""
        for mine, theirs in ((self.coefs_, self._net.weights), (self.intercepts_, self._net.biases)):
            if len(mine) != len(theirs):
                raise ValueError(f"coefs_ and intercepts_ must keep one entry per layer ({len(theirs)})")
            name = "coefs_" if mine is self.coefs_ else "intercepts_"
            for i, (a, b) in enumerate(zip(mine, theirs)):
                if a is not b and not np.shares_memory(a, b):
                    if np.shape(a) != b.shape:  # not broadcast: a wrong shape is a mistake
                        raise ValueError(f"{name}[{i}] must have shape {b.shape}; got {np.shape(a)}")
                    b[...] = a

    # --- pickling ------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        # The network pickles itself (its model-file bytes); coefs_ and
        # intercepts_ are views of it, made again on unpickling. The
        # optimiser's state travels beside it, so partial_fit calls on either
        # side of a pickle (dask-ml's Incremental) take the same steps.
        state = self.__dict__.copy()
        if "_net" in state:
            self._sync_parameters()
            state["_optimizer_state"] = self._net._core.optimizer_state()
        state.pop("coefs_", None)
        state.pop("intercepts_", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        optimizer = state.pop("_optimizer_state", None)
        self.__dict__.update(state)
        if "_net" in state:
            self.__dict__.setdefault("_solver_state", None)
            self._net._core.set_optimizer_state(optimizer)
            self._adopt_network()

    # --- export ----------------------------------------------------------------------------

    @property
    def network_(self) -> Network:
        """The fitted fastmlp.Network (its weights are coefs_ and intercepts_; its
        feature_names and classes or task those of the estimator)."""
        check_is_fitted(self, "coefs_")
        self._sync_parameters()
        self._describe_network()
        return self._net

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy.sparse X, trained without densifying
        return tags

    # --- model files --------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted estimator to a model file at ``path``, read back by
        ``fastmlp.sklearn.load``.

        The file is its network's (``Network.save``: atomic, any safetensors
        reader opens it), described by ``feature_names_in_`` and ``classes_``
        (or the task "regression"), which the ``fastmlp`` program reads too
        (``predict --classes`` prints these classes), with the estimator's
        parameters (``get_params()``) and fitted books (``n_iter_``, ``t_``,
        ``loss_``, ``best_loss_``, ``loss_curve_``, the validation scores) as
        JSON. Unlike a pickle, loading it runs nothing from the file, so a
        file from anyone is safe to open.

        The optimiser's state is not kept: the loaded estimator predicts
        exactly as this one and can be refitted, and ``warm_start`` or
        ``partial_fit`` continue from its weights with a fresh optimiser.

        Raises
        ------
        TypeError
            A parameter whose value a file cannot hold (a callable, a
            RandomState as random_state: set an int or None first).
        OSError, ValueError, RuntimeError
            As ``Network.save``.
        """
        net = self.network_
        state = {k: getattr(self, k) for k in _files.STATE_NAMES if hasattr(self, k)}
        if isinstance(self, MLPClassifier):
            state["y_type"] = self._label_binarizer.y_type_
        params = self.get_params(deep=False)
        if params["dtype"] is not None:
            params["dtype"] = np.dtype(params["dtype"]).name  # np.float32, 'f4', ...: the name the file keeps
        net._save(path, {_files.PARAMS_KEY: _files.encode_params(params, type(self).__name__),
                         _files.STATE_KEY: _files.encode_state(state)})

    def _describe_network(self) -> None:
        """Give the network the estimator's feature names and classes (or task)."""
        names = getattr(self, "feature_names_in_", None)
        self._net.feature_names = None if names is None else [str(c) for c in names]

    def _adopt_file(self, net: Network, state: dict[str, Any], source: str) -> None:
        """Become the fitted estimator of a loaded network, with the books in
        ``state`` (defaults where the file has none, as a first fit starts them)."""
        self._net = net
        self._adopt_network()
        self.n_features_in_ = net.sizes[0]
        if net.feature_names is not None:
            self.feature_names_in_ = np.array(net.feature_names, dtype=object)
        self.n_outputs_ = net.sizes[-1]
        self.n_layers_ = len(net.sizes)
        self._solver_state = None
        self.n_iter_ = 0
        self.t_ = 0
        if self.solver != "lbfgs":
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
            else:
                self.validation_scores_, self.best_validation_score_, self.best_loss_ = None, None, np.inf
        for name, value in state.items():
            if name != "y_type":
                setattr(self, name, value)


def _float64_twin(net: Network) -> Network:
    """A float64 network holding a float32 network's weights exactly (for predictions
    on float64 X, as scikit-learn computes them with float32 coefs_)."""
    spec: dict[str, Any] = {"activation": net.activation, "output": net.output, "loss": net.loss_name,
                            "reduction": net.reduction, "leaky_slope": net.leaky_slope}
    twin = Network(net.sizes, dtype="float64", **spec)
    for mine, theirs in zip((*twin.weights, *twin.biases), (*net.weights, *net.biases)):
        mine[...] = theirs
    return twin


def _is_single_label(est: Any) -> bool:
    """Whether a classifier predicts one label per sample (binary or multi-class)."""
    return isinstance(est, MLPClassifier) and est.n_outputs_ == 1


def _listed(values: list[Any]) -> str:
    """Values for a message: their reprs, at most ten."""
    return ", ".join(map(repr, values[:10])) + (", ..." if len(values) > 10 else "")


def _unflatten(params: list[np.ndarray], flat: np.ndarray) -> None:
    """Copy the flat vector into the parameter arrays, in order."""
    at = 0
    for p in params:
        p.ravel()[...] = flat[at : at + p.size]
        at += p.size


def _check_solver(est: Any) -> bool:
    if est.solver not in ("sgd", "adam"):
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. {est.solver} is not "
                             "stochastic.")
    return True


# --- the classifier ------------------------------------------------------------------------

class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, trained by fastmlp.

    Minimises mean log-loss: softmax outputs for multi-class targets, one
    logistic output for binary targets, one logistic output per label for
    multi-label (indicator matrix) targets. Labels may be of any type
    (strings, integers, ...).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        Units of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu", "leaky_relu"}, default "relu"
        The hidden layers' activation ("leaky_relu", slope 0.01, is fastmlp's addition).
    solver : {"lbfgs", "sgd", "adam"}, default "adam"
    alpha : float, default 1e-4
        L2 penalty strength (divided by the batch's rows, as scikit-learn's).
    batch_size : int or "auto", default "auto"
        Rows per step; "auto" is min(200, n_samples).
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        The rate's schedule (solver "sgd" only): invscaling is
        learning_rate_init / (t + 1)**power_t with t the samples seen;
        adaptive divides the rate by 5 whenever n_iter_no_change epochs pass
        without improvement.
    learning_rate_init : float, default 1e-3
    power_t : float, default 0.5
    max_iter : int, default 200
        Epochs at most (iterations for lbfgs).
    shuffle : bool, default True
        Reshuffle the samples every epoch.
    random_state : int, RandomState or None, default None
        An int is fastmlp's seed: the same int gives the same network.
    tol : float, default 1e-4
        Improvement (of the loss, or of the validation score with
        early_stopping) that resets the n_iter_no_change count.
    verbose : bool, default False
        Print the loss of every epoch.
    warm_start : bool, default False
        fit continues from the current weights.
    momentum : float, default 0.9
        Solver "sgd": momentum (0: plain gradient descent).
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
        Hold out validation_fraction of the data, stop when its accuracy has
        not improved by tol for n_iter_no_change epochs, keep the best weights.
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        Solver "adam"'s settings.
    n_iter_no_change : int, default 10
    max_fun : int, default 15000
        Solver "lbfgs": loss evaluations at most.
    n_threads : int or None, default None
        Threads for fit and predict (fastmlp's; results do not depend on it).
    dtype : {None, "float64", "float32"}, default None
        The network's precision (fastmlp's parameter), in any spelling
        ``fastmlp.Network`` takes (np.float32, np.dtype("float32"), "f4").
        None follows the input, as scikit-learn does: float32 X gives
        float32 coefs_ and intercepts_, any other X float64. Predictions
        have scikit-learn's dtype: float32 for float32 X on a float32
        network, float64 for float64 X whatever the network (computed in
        float64 then).
    class_weight : dict, "balanced" or None, default None
        Weights of the classes, multiplied into sample_weight ("balanced":
        n_samples / (n_classes * count)); a dict's weights are finite
        numbers >= 0, classes it leaves out weigh 1, and a key that is not
        a class is refused while some class has no weight (scikit-learn's
        rule). Not for multi-label targets.
    dropout : float or sequence of float, default 0.0
        fastmlp's own: the hidden layers' dropout rate while training, in
        [0, 1), one for all or one per hidden layer: each hidden unit is
        zeroed with this probability and the others scaled by
        1 / (1 - dropout) (see ``fastmlp.Network``); prediction is
        unaffected.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_, intercepts_ : list of ndarray
        Each layer's weights (in, out) and biases (out,): views of the network's parameters.
    loss_ : float
        The last epoch's loss (with the penalty).
    loss_curve_ : list of float
        The loss at every epoch (stochastic solvers).
    best_loss_ : float or None
    validation_scores_ : list of float or None
        Validation accuracy at every epoch (early_stopping).
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run by the last fit.
    t_ : int
        Samples seen over all fits.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X had string column names.
    n_outputs_, n_layers_ : int
    out_activation_ : {"softmax", "logistic"}
    network_ : fastmlp.Network
        The network itself (for ``to_onnx``, ``fastmlp.plot``, ...).
    """

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: ActivationName = "relu",
        *,
        solver: Solver = "adam",
        alpha: float = 0.0001,
        batch_size: int | Literal["auto"] = "auto",
        learning_rate: LearningRate = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        n_threads: int | None = None,
        dtype: DType | np.dtype[Any] | type | None = None,
        class_weight: dict[Any, float] | Literal["balanced"] | None = None,
        dropout: float | Sequence[float] = 0.0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_threads = n_threads
        self.dtype = dtype
        self.class_weight = class_weight
        self.dropout = dropout

    def _network_output(self) -> tuple[Output, LossName]:
        single = self._label_binarizer.y_type_ == "multiclass"
        return ("softmax" if single else "sigmoid"), "cross_entropy"

    def _describe_network(self) -> None:
        super()._describe_network()
        self._net.classes = self.classes_

    def _validate_input(self, X_in: ArrayLike, y_in: ArrayLike, incremental: bool,
                        reset: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X, y = validate_data(self, X_in, y_in, multi_output=True, dtype=(np.float64, np.float32), reset=reset,
                             accept_sparse=_SPARSE)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the "
                                     f"previous call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        Y = self._label_binarizer.transform(y)
        return X, Y, y

    def _weights_with_classes(self, sw: np.ndarray | None, y: np.ndarray, incremental: bool) -> np.ndarray | None:
        if self.class_weight is None:
            return sw
        if self._label_binarizer.y_type_.startswith("multilabel"):
            raise ValueError("class_weight is not supported for multi-label targets")
        if incremental and self.class_weight == "balanced":
            raise ValueError("class_weight 'balanced' is not supported for partial_fit: pass "
                             "sklearn.utils.class_weight.compute_class_weight('balanced', classes=classes, y=y) "
                             "as a dict instead")
        if isinstance(self.class_weight, dict):
            # scikit-learn's rule (compute_class_weight): a key that is not a class is refused unless every
            # class has a weight (a fold of a cross-validation may lack a class the dict names)
            classes = self.classes_.tolist()
            unknown = [label for label in self.class_weight if label not in classes]
            missing = [c for c in classes if c not in self.class_weight]
            if unknown and missing:
                raise ValueError(f"class_weight names {_listed(unknown)}, which {'is' if len(unknown) == 1 else 'are'} "
                                 f"not among the classes {_listed(classes)}, and gives no weight to "
                                 f"{_listed(missing)}")
        weights = compute_sample_weight(self.class_weight, y)
        return weights if sw is None else sw * weights

    def _score_predictions(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        P = self._net.predict(X, threads=self.n_threads)
        if not np.isfinite(P).all():
            return float("nan")
        return float(accuracy_score(y, self._labels(P), sample_weight=sample_weight))

    def _labels(self, P: np.ndarray) -> np.ndarray:
        """The labels of outputs P by fastmlp's one class rule (scikit-learn's
        LabelBinarizer threshold): each multi-label column on its own, else
        each row; ValueError for outputs that are not finite."""
        if self._label_binarizer.y_type_.startswith("multilabel"):
            predicted_classes(P, "predictions")  # names the first row with an output that is not finite
            indicator = predicted_classes(P.reshape(-1, 1), "predictions").reshape(P.shape)
            return self._label_binarizer.inverse_transform(indicator)  # dense or sparse, as y was
        index = predicted_classes(P, "predictions")
        if len(self.classes_) == 1:  # a single class seen: every row is it, as LabelBinarizer decodes
            index[:] = 0
        return self.classes_[index]

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> MLPClassifier:
        """Fit the network to X (n_samples, n_features) and labels y (n_samples,)
        or an indicator matrix (n_samples, n_labels); returns self.

        X may be a scipy.sparse matrix (CSR, or CSC/COO converted once to
        CSR), trained on without densifying it. ``sample_weight`` (n_samples,)
        weighs each sample's loss. Raises ValueError for bad data or
        parameters; warns ConvergenceWarning when max_iter epochs end without
        convergence.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_check_solver)
    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
                    classes: ArrayLike | None = None) -> MLPClassifier:
        """One epoch over (X, y), continuing from the current weights and
        optimiser; ``classes`` (every label of the whole problem) is required
        on the first call. Only for the "sgd" and "adam" solvers."""
        if getattr(self, "classes_", None) is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            if getattr(self, "classes_", None) is not None:
                if not np.array_equal(self.classes_, unique_labels(classes)):
                    raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, was: "
                                     f"{self.classes_!r}")
            else:
                self.classes_ = unique_labels(classes)
                self._label_binarizer = LabelBinarizer()
                self._label_binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The predicted labels, shape (n_samples,), or an indicator matrix
        (n_samples, n_labels) for multi-label targets."""
        return self._labels(self._forward(X))

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Probability of each class, shape (n_samples, n_classes), columns in
        the order of classes_ (multi-label: each label's own probability)."""
        P = self._forward(X)
        if self.n_outputs_ == 1:
            p = P.ravel()
            return np.column_stack([1 - p, p])
        return P

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """log(predict_proba(X))."""
        P = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(P, out=P)

    def to_onnx(self, path: Any = None) -> Any:
        """The classifier as an ONNX model, written to ``path`` when given:
        input "X", outputs "label" and "probabilities" (see ``_estimator_to_onnx``)."""
        return _estimator_to_onnx(self, path)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _adopt_classes(self, net: Network, y_type: str | None, source: str) -> None:
        """classes_ and the label binarizer of a loaded network, checked against it."""
        classes = net.classes
        if classes is None:
            raise ValueError(f"{source}: a classification file without classes cannot be an MLPClassifier")
        if net.output not in ("softmax", "sigmoid"):
            raise ValueError(f"{source}: a classifier's output is 'softmax' or 'sigmoid'; this network's is "
                             f"{net.output!r}")
        if not np.array_equal(np.sort(classes), classes):
            raise ValueError(f"{source}: classes {list(classes)[:10]} are not in scikit-learn's sorted order")
        k = net.sizes[-1]
        if y_type is None:
            y_type = "binary" if classes.size <= 2 else "multiclass"
        self._label_binarizer = LabelBinarizer()
        if y_type == "multilabel-indicator":
            if net.output != "sigmoid" or k < 2 or not np.array_equal(classes, np.arange(k)):
                raise ValueError(f"{source}: a multi-label classifier has one sigmoid output per label and classes "
                                 f"0 to {k - 1}; this file has {k} {net.output} output(s) and classes "
                                 f"{list(classes)[:10]}")
            self._label_binarizer.fit(np.eye(k, dtype=np.int64))
        else:
            try:
                self._label_binarizer.fit(classes)
            except ValueError as error:  # classes scikit-learn does not take (0.5, 1.5: continuous)
                raise ValueError(f"{source}: classes {list(classes)[:10]} are not class labels to scikit-learn: "
                                 f"{error}") from None
            if self._label_binarizer.y_type_ != y_type:
                raise ValueError(f"{source}: {_files.STATE_KEY}: y_type {y_type!r} does not fit its "
                                 f"{classes.size} classes")
        self.classes_ = classes.copy()  # writable, as a fit's
        self.out_activation_ = _OUT_NAMES[net.output]


# --- the regressor --------------------------------------------------------------------------

class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor``, trained by fastmlp.

    Minimises squared error / 2 (averaged over samples and outputs) with an
    identity output layer; one output per target column.

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
    learning_rate_init, power_t, max_iter, shuffle, random_state, tol,
    verbose, warm_start, momentum, nesterovs_momentum, early_stopping,
    validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun,
    n_threads, dtype, dropout
        As MLPClassifier's; early stopping watches the validation R^2.
    loss : {"squared_error", "poisson"}, default "squared_error"
        Keyword-only here. "poisson": the half Poisson deviance with an exp
        output (log link), as scikit-learn 1.9's; y must be >= 0.
    dropout : float or sequence of float, default 0.0
        fastmlp's own: the hidden layers' dropout rate while training, in
        [0, 1), one for all or one per hidden layer (see
        ``fastmlp.Network``); prediction is unaffected.

    Attributes
    ----------
    coefs_, intercepts_, loss_, loss_curve_, best_loss_, validation_scores_,
    best_validation_score_, n_iter_, t_, n_features_in_, feature_names_in_,
    n_outputs_, n_layers_, network_
        As MLPClassifier's.
    out_activation_ : "identity", or "exp" for loss="poisson"
    """

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: ActivationName = "relu",
        *,
        loss: RegressorLoss = "squared_error",
        solver: Solver = "adam",
        alpha: float = 0.0001,
        batch_size: int | Literal["auto"] = "auto",
        learning_rate: LearningRate = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        n_threads: int | None = None,
        dtype: DType | np.dtype[Any] | type | None = None,
        dropout: float | Sequence[float] = 0.0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_threads = n_threads
        self.dtype = dtype
        self.dropout = dropout

    def _network_output(self) -> tuple[Output, LossName]:
        return ("exp", "poisson") if self.loss == "poisson" else ("identity", "mse")

    def _describe_network(self) -> None:
        super()._describe_network()
        self._net.task = "regression"

    def _validate_input(self, X_in: ArrayLike, y_in: ArrayLike, incremental: bool,
                        reset: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X, y = validate_data(self, X_in, y_in, multi_output=True, y_numeric=True, dtype=(np.float64, np.float32),
                             reset=reset, accept_sparse=_SPARSE)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("y must be >= 0 for loss='poisson' (counts or rates); found negative values")
        return X, (y.reshape(-1, 1) if y.ndim == 1 else y), y

    def _score_predictions(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        P = self._net.predict(X, threads=self.n_threads)
        if not np.isfinite(P).all():
            return float("nan")
        return float(r2_score(y, P.ravel() if P.shape[1] == 1 else P, sample_weight=sample_weight))

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> MLPRegressor:
        """Fit the network to X (n_samples, n_features) and targets y
        (n_samples,) or (n_samples, n_targets); returns self. As
        MLPClassifier.fit otherwise."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_check_solver)
    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> MLPRegressor:
        """One epoch over (X, y), continuing from the current weights and
        optimiser. Only for the "sgd" and "adam" solvers."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The predictions, shape (n_samples,) for one target, else (n_samples, n_targets)."""
        P = self._forward(X)
        return P.ravel() if P.shape[1] == 1 else P

    def to_onnx(self, path: Any = None) -> Any:
        """The regressor as an ONNX model, written to ``path`` when given:
        input "X", output "variable" (n, n_targets) (see ``_estimator_to_onnx``)."""
        return _estimator_to_onnx(self, path)


# --- model files ----------------------------------------------------------------------------

def _per_layer(rates: float | tuple[float, ...], layers: int) -> tuple[float, ...]:
    """Dropout rates as one per hidden layer."""
    return rates if isinstance(rates, tuple) else (rates,) * layers


def load(path: str | os.PathLike[str]) -> MLPClassifier | MLPRegressor:
    """The fitted estimator in the model file at ``path``.

    A file written by ``MLPClassifier.save`` or ``MLPRegressor.save`` gives
    back that estimator: its parameters, ``classes_``, ``feature_names_in_``
    and fitted books, and bit-identical predictions (see ``save`` for what
    is not kept). Any other model file that records its task loads too:
    ``fastmlp train --target`` writes the task and the classes, and the
    estimator gets its architecture from the network (hidden_layer_sizes,
    activation, dtype, dropout, and a regressor's loss: "poisson" for a
    Poisson network) and default parameters otherwise. A classifier's
    network needs a softmax or sigmoid output, and its classes in
    scikit-learn's sorted order.

    Nothing in the file is run: every value is checked, and a file that is
    not a model file, records no task, or holds parameters or classes that
    do not fit its network raises ValueError naming what is wrong (OSError
    when it cannot be read), as ``fastmlp.load``.
    """
    net = _load_network(path)
    source = os.fsdecode(path)
    params_text = net._extra.pop(_files.PARAMS_KEY, None)  # the estimator's save writes them afresh
    state_text = net._extra.pop(_files.STATE_KEY, None)
    if net.task is None:
        raise ValueError(f"{source} records no task (classification or regression), so it holds no estimator; "
                         "fastmlp.load reads it as a Network")
    est: MLPClassifier | MLPRegressor = MLPClassifier() if net.task == "classification" else MLPRegressor()
    params = {} if params_text is None else _files.decode_params(params_text, set(est.get_params(deep=False)), source)
    state = {} if state_text is None else _files.decode_state(state_text, source)
    hidden = tuple(net.sizes[1:-1])
    if len(set(net.activations)) > 1:
        raise ValueError(f"{source}: its hidden layers' activations differ ({', '.join(net.activations)}), which "
                         f"{type(est).__name__}'s one activation parameter cannot say")
    derived: dict[str, Any] = {"hidden_layer_sizes": hidden, "dtype": net.dtype.name}
    if hidden:
        scikit_names: dict[str, str] = {v: k for k, v in _ACTIVATIONS.items()}
        scikit_name = scikit_names[net.activations[0]]
        derived["activation"] = scikit_name
    if isinstance(est, MLPRegressor):  # a command line's --loss poisson file is a Poisson regressor
        derived["loss"] = "poisson" if net.loss_name == "poisson" else "squared_error"
    if any(net._core.dropout):  # and its --dropout, the estimator's dropout
        derived["dropout"] = net.dropout
    for name, value in derived.items():
        given = params.get(name, value)
        if name == "dropout" and _passes(lambda v: check_dropout(v, len(hidden)))(given):  # 0.2 is (0.2, 0.2)
            given, value = (_per_layer(check_dropout(v, len(hidden)), len(hidden)) for v in (given, value))
        if name == "hidden_layer_sizes":  # 5, [5] and (5,) are one architecture
            given = (given,) if is_int(given) else tuple(given) if isinstance(given, list) else given
        if name == "dtype" and given is not None and _passes(check_dtype)(given):  # 'f4' is 'float32'
            given = np.dtype(given).name
        if given != value and not (name == "dtype" and given is None):  # None: the input's dtype decides
            raise ValueError(f"{source}: {_files.PARAMS_KEY}: {name} {given!r} does not match the network "
                             f"({value!r})")
    est.set_params(**{**derived, **params})
    try:
        est._check_params()
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source}: {_files.PARAMS_KEY}: {error}") from None
    if isinstance(est, MLPClassifier):
        est._adopt_classes(net, state.get("y_type"), source)
    else:
        if "y_type" in state:
            raise ValueError(f"{source}: {_files.STATE_KEY}: y_type is a classifier's, but the task is regression")
        est.out_activation_ = _OUT_NAMES.get(net.output, net.output)
    est._adopt_file(net, state, source)
    return est


# --- ONNX export ----------------------------------------------------------------------------

def _estimator_to_onnx(estimator: _BaseMLP, path: Any = None) -> Any:
    """A fitted ``fastmlp.sklearn`` estimator as an ONNX model; written to ``path`` when given.

    Input ``"X"`` (n, n_features) of the estimator's dtype. A classifier's
    outputs are ``"label"`` (n,) holding the predicted classes_ (int64,
    float64 or string tensors, as classes_ holds numbers or text; for
    multi-label targets the (n, n_labels) int64 indicator matrix) and
    ``"probabilities"`` (n, n_classes), as ``predict`` and ``predict_proba``.
    A regressor's output is ``"variable"`` (n, n_targets).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        For an estimator that was not fitted.
    """
    check_is_fitted(estimator)
    net = estimator.network_
    g = GraphBuilder(net.dtype)
    for name in ("X", "label", "probabilities", "variable"):
        g.name(name)
    outputs = [g.tensor(name, elem, shape) for name, elem, shape in _estimator_graph(g, estimator, "X")]
    model = g.model([g.tensor("X", shape=["n", net.sizes[0]])], outputs, f"fastmlp_{type(estimator).__name__}",
                    f"fastmlp.sklearn.{type(estimator).__name__} {list(net.sizes)}")
    if path is not None:
        onnx_save(model, path)
    return model


def _estimator_graph(g: GraphBuilder, estimator: _BaseMLP, x: str, *, label: str = "label",
                     probabilities: str = "probabilities", variable: str = "variable",
                     labels: np.ndarray | None = None) -> list[tuple[str, int, list[Any]]]:
    """Add a fitted estimator's graph to ``g``, reading ``x`` (n, n_features) of
    g's dtype, writing the outputs named by ``label`` and ``probabilities``
    (classifier) or ``variable`` (regressor); returns each output's (name,
    element type, shape). ``labels`` replaces classes_ as the label values
    (skl2onnx's int64 labels). The one graph of both ``to_onnx`` and the
    skl2onnx converters (fastmlp._skl2onnx)."""
    net = estimator.network_
    int64 = g.helper.np_dtype_to_tensor_dtype(np.dtype(np.int64))
    k = net.sizes[-1]
    if isinstance(estimator, MLPRegressor):
        network_graph(g, net, x, output=variable)
        return [(variable, g.elem_type, ["n", k])]
    P = network_graph(g, net, x)
    if estimator._label_binarizer.y_type_.startswith("multilabel"):
        g.op("Identity", [P], "probabilities", output=probabilities)
        g.op("Cast", [g.op("Greater", [P, g.constant("half", _core.BINARY_THRESHOLD)], "above")], "label",
             output=label, to=int64)
        return [(label, int64, ["n", k]), (probabilities, g.elem_type, ["n", k])]
    if k == 1:
        one_minus = g.op("Sub", [g.constant("one", [[1.0]]), P], "p_negative")
        g.op("Concat", [one_minus, P], "probabilities", output=probabilities, axis=1)
    else:
        g.op("Identity", [P], "probabilities", output=probabilities)
    index = class_index(g, net, P, g.name("class_index"))
    classes = np.asarray(estimator.classes_ if labels is None else labels)
    if classes.dtype.kind in "iub":
        values, elem = classes.astype(np.int64), int64
    elif classes.dtype.kind == "f":
        values, elem = classes.astype(np.float64), g.helper.np_dtype_to_tensor_dtype(np.dtype(np.float64))
    else:
        values, elem = classes.astype(str).astype(object), g.onnx.TensorProto.STRING
    g.op("Gather", [g.constant("classes", values, dtype=values.dtype), index], "label", output=label, axis=0)
    return [(label, elem, ["n"]), (probabilities, g.elem_type, ["n", 2 if k == 1 else k])]


_skl2onnx.register(MLPClassifier, MLPRegressor, _estimator_graph)  # skl2onnx converts pipelines holding them
