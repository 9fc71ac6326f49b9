"""fastmlp's C++ core (the pybind11 module); the public API is the fastmlp package."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

class FitOptions:
    """fastmlp::FitOptions: every option of a fit, checked by the core's table."""

    seed: int
    first_epoch: int
    def __init__(self) -> None: ...
    @staticmethod
    def from_kwargs(
        *,
        epochs: int = ...,
        learning_rate: float = ...,
        batch_size: int | None = ...,
        shuffle: bool = ...,
        threads: int | None = ...,
        optimizer: str = ...,
        momentum: float = ...,
        nesterov: bool = ...,
        beta1: float = ...,
        beta2: float = ...,
        eps: float = ...,
        eps_hat: bool = ...,
        weight_decay: float = ...,
        schedule: str = ...,
        step_size: int = ...,
        gamma: float = ...,
        power_t: float = ...,
        lr_min: float = ...,
        l2: float = ...,
        clip_norm: float | None = ...,
        class_weight: str | Mapping[int, float] | None = ...,
        validation_fraction: float | None = ...,
        early_stopping: int | None = ...,
        tol: float = ...,
        clip_log_loss: bool = ...,
        on_divergence: str = ...,
        callback_every: int = ...,
    ) -> FitOptions:
        """The options named by keyword (the table's names; None where an option has none), each checked: TypeError for a value of the wrong type, ValueError out of range."""
    def get(self, name: str) -> Any:
        """The value of option `name` as stored (0 or None where it is unset)."""

class FitResult:
    """What a fit did: the figures of each epoch, and how it ended."""

    @property
    def epochs(self) -> int: ...
    @property
    def history(self) -> dict[str, np.ndarray]:
        """The per-epoch figures, keyed as Network.history."""
    @property
    def best_epoch(self) -> int | None:
        """Early stopping: the epoch whose parameters the network holds; else None."""
    @property
    def early_stopped(self) -> bool: ...
    @property
    def early_stopping_summary(self) -> str | None:
        """Where early stopping ended the fit (the command line's words); else None."""
    @property
    def stopped_by_callback(self) -> bool: ...
    @property
    def exception(self) -> BaseException | None:
        """Ctrl-C's KeyboardInterrupt or the callback's exception, else None."""

class Diverged(FloatingPointError):
    """A fit's loss or parameters became NaN or infinite (parameters: or too large to square); `result` is the FitResult of the epochs completed before."""

    result: FitResult

def fit_option_table() -> list[dict[str, Any]]:
    """Every fit option as the core's table defines it, one dict per row, in order."""

# A CSR matrix as fastmlp._sparse hands it over: (rows, cols, data, indices, indptr).
_Csr = tuple[int, int, np.ndarray, np.ndarray, np.ndarray]

class _Network:
    """A dense network's C++ storage; use fastmlp.Network."""

    def __init__(
        self, sizes: list[int], activations: list[str], loss: str, reduction: str, leaky_slope: float,
        dropout: list[float] = ...,
    ) -> None:
        """`dropout`: one training rate per hidden layer, or empty for none."""
    @property
    def sizes(self) -> list[int]: ...
    @property
    def activations(self) -> list[str]:
        """Each dense layer's activation, by name."""
    @property
    def loss(self) -> str: ...
    @property
    def reduction(self) -> str: ...
    @property
    def leaky_slope(self) -> float: ...
    @property
    def dropout(self) -> list[float]:
        """Each hidden layer's dropout rate while training."""
    def to_bytes(
        self,
        init: str,
        seed: int,
        extra: dict[str, str],
        *,
        feature_names: list[str] | None = None,
        classes: list[str] | None = None,
        classes_type: str | None = None,
        target_names: list[str] | None = None,
        task: str | None = None,
        epochs: int | None = None,
    ) -> bytes:
        """The model file's bytes, recording `init`, `seed`, the epochs trained and the names and task given, with `extra` in its metadata."""
    def save(
        self,
        path: str | bytes,
        init: str,
        seed: int,
        extra: dict[str, str],
        *,
        feature_names: list[str] | None = None,
        classes: list[str] | None = None,
        classes_type: str | None = None,
        target_names: list[str] | None = None,
        task: str | None = None,
        epochs: int | None = None,
    ) -> None:
        """Write the model file at `path` atomically, recording `init`, `seed`, the epochs trained and the names and task given, with `extra` in its metadata."""
    def initialize(self, init: str, seed: int) -> None: ...
    def weight(self, layer: int) -> np.ndarray: ...
    def bias(self, layer: int) -> np.ndarray: ...
    def fit(
        self,
        X: np.ndarray | _Csr,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        X_val: np.ndarray | _Csr | None,
        Y_val: np.ndarray | None,
        options: FitOptions,
        callback: Callable[[int, dict[str, float]], object] | None,
        progress: Callable[[int, dict[str, float]], object] | None,
        progress_seconds: float,
    ) -> FitResult:
        """Train in place; a FitResult. A divergence raises Diverged, and a CSR X or X_val changed while the fit reads it ValueError, whose `result` is the FitResult of the epochs before it."""
    def reset_optimizer(self) -> None:
        """Forget the optimiser's state (velocity, moments, step count)."""
    @property
    def optimizer_steps(self) -> int:
        """Steps the optimiser's state has taken since it began."""
    def optimizer_state(self) -> tuple[Any, ...] | None:
        """The optimiser's whole state as a tuple for pickling (None before its first fit); set_optimizer_state takes it back."""
    def set_optimizer_state(self, state: tuple[Any, ...] | None) -> None:
        """Take back a state optimizer_state gave (None: none, as reset)."""
    def predict_csr(self, X: _Csr, out: np.ndarray | None, threads: int | None) -> np.ndarray:
        """The outputs for X (a CSR tuple), into `out` when given."""
    def predict(self, X: object, out: np.ndarray | None, threads: int | None) -> np.ndarray:
        """The outputs for X (a C-contiguous 2-D array of the dtype), into `out` when given.

        Rows go in chunks with a check for Ctrl-C between them (KeyboardInterrupt).
        """
    def loss_and_gradient(self, X: np.ndarray | _Csr, Y: np.ndarray, sample_weight: np.ndarray | None) -> tuple[float, np.ndarray]:
        """The loss on (X, Y) and its gradient, laid out as the flat parameters."""

class Network64(_Network): ...
class Network32(_Network): ...

def from_bytes(data: bytes | bytearray | memoryview) -> tuple[Network64 | Network32, str, dict[str, Any], dict[str, str]]:
    """(core network, dtype name, info, extra metadata) from a model file's bytes."""

def load(path: str | bytes) -> tuple[Network64 | Network32, str, dict[str, Any], dict[str, str]]:
    """(core network, dtype name, info, extra metadata) from a model file."""

def task_problem(task: str, loss: str, output: str) -> str:
    """Why a network of `loss` with output layer `output` cannot be a model of `task` (the rule model files and the command line follow), or '' when it can."""

def class_weights(Y: np.ndarray, per_class: list[float]) -> np.ndarray:
    """Each row's weight from its class (predicted_classes' rule applied to its Y row):
    per_class[class], or scikit-learn's 'balanced' weights when per_class is empty."""

BINARY_THRESHOLD: float
"""A single output above this is class 1, at or below it class 0."""

def predicted_classes(P: np.ndarray, what: str) -> np.ndarray:
    """Each row's class by the one rule (metrics.hpp's class_of_row), int64; ValueError naming the row for an output that is not finite."""

def true_classes(Y: np.ndarray, what: str) -> np.ndarray:
    """Each row's true class by the same rule, int64; ValueError naming the row for a value that is not finite or a row without a single largest value (an all-zero one-hot row)."""

def read_csv(path: str | bytes, n_labels: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(header, X, Y) of a numeric CSV file, as the command line reads it: Y its last
    n_labels columns, float64."""

def write_file_atomically(path: str | bytes, data: bytes) -> None:
    """Write data to path atomically, as model files are written."""

def check_replaceable(path: str | bytes) -> None:
    """Raise what write_file_atomically(path, ...) would for the target itself (a special
    file, a directory, a missing directory), writing nothing."""

def gemm(trans_a: bool, trans_b: bool, alpha: float, A: np.ndarray, B: np.ndarray, beta: float, C: np.ndarray) -> None:
    """C = alpha * op(A) @ op(B) + beta * C, in place."""

def dense_forward(X: np.ndarray, W: np.ndarray, b: np.ndarray, activation: str, leaky_slope: float = 0.01) -> np.ndarray:
    """activation(X @ W + b); leaky_relu's slope is leaky_slope."""

def dense_backward(dZ: np.ndarray, X: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dZ @ W.T, X.T @ dZ, dZ.sum(axis=0))."""

def dropout_mask(seed: int, epoch: int, layer: int, rows: list[int], units: int, p: float) -> np.ndarray:
    """The float64 dropout mask (len(rows), units) a fit with `seed` applies in `epoch` to layer `layer` for those training rows: 1 / (1 - p) where kept, 0 where dropped."""

def validation_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (training, validation) row indices of a seeded split of n rows."""

MAX_THREADS: int
"""The most threads a fit or predict may ask for."""

def gemm_kernel() -> str:
    """The GEMM micro-kernel in use."""

def default_threads() -> int:
    """The thread count of a call that names none: set_default_threads', else FASTMLP_NUM_THREADS, else the CPUs this process may use (at most OMP_NUM_THREADS)."""

def set_default_threads(threads: int) -> None:
    """Set the default thread count of the process (0 or the natural count: follow the variables and CPUs again)."""

def cli_main(
    args: list[str],
    data_dir: str,
    plot_check: Callable[[str], str] | None = None,
    plot_draw: Callable[[str, str, list[str], np.ndarray], bytes] | None = None,
) -> int:
    """Run the fastmlp command line; returns its exit status. With plot_check(path) -> '' or why not, and plot_draw(path, kind, names, table) -> the image's bytes, --plot draws."""
