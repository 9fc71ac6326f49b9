"""fastmlp's C++ core (the pybind11 module); the public API is the fastmlp package."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

class FitOptions:
    """fastmlp::FitOptions: every option of a fit."""

    epochs: int
    learning_rate: float
    batch_size: int
    shuffle: bool
    seed: int
    first_epoch: int
    threads: int
    optimizer: str
    momentum: float
    nesterov: bool
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    schedule: str
    step_size: int
    gamma: float
    power_t: float
    lr_min: float
    l2: float
    clip_norm: float
    early_stopping: int
    tol: float
    stop_on_divergence: bool
    def __init__(self) -> None: ...

class _Network:
    """A dense network's C++ storage; use fastmlp.Network."""

    def __init__(
        self, sizes: list[int], activations: list[str], loss: str, reduction: str, leaky_slope: float
    ) -> None: ...
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
    def to_bytes(self, extra: dict[str, str]) -> bytes:
        """The model file's bytes, with `extra` in its metadata."""
    def save(self, path: str | bytes, extra: dict[str, str]) -> None:
        """Write the model file at `path` atomically, with `extra` in its metadata."""
    def initialize(self, init: str, seed: int) -> None: ...
    def weight(self, layer: int) -> np.ndarray: ...
    def bias(self, layer: int) -> np.ndarray: ...
    def fit(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None,
        X_val: np.ndarray | None,
        Y_val: np.ndarray | None,
        options: FitOptions,
        callback: Callable[[int, dict[str, float]], object] | None,
        callback_every: int,
        progress: Callable[[int, dict[str, float]], object] | None,
        progress_seconds: float,
    ) -> dict[str, Any]:
        """Train in place; returns the figures of every epoch and how the fit ended."""
    def reset_optimizer(self) -> None:
        """Forget the optimiser's state (velocity, moments, step count)."""
    @property
    def optimizer_steps(self) -> int:
        """Steps the optimiser's state has taken since it began."""
    def predict(self, X: object, out: object, threads: object) -> np.ndarray | None:
        """The outputs for X, or None when the arguments need converting or checking.

        Rows go in chunks with a check for Ctrl-C between them (KeyboardInterrupt).
        """
    def loss_and_gradient(self, X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None) -> tuple[float, np.ndarray]:
        """The loss on (X, Y) and its gradient, laid out as the flat parameters."""

class Network64(_Network): ...
class Network32(_Network): ...

def from_bytes(data: bytes | bytearray | memoryview) -> tuple[Network64 | Network32, str, dict[str, str]]:
    """(core network, dtype name, extra metadata) from a model file's bytes."""

def load(path: str | bytes) -> tuple[Network64 | Network32, str, dict[str, str]]:
    """(core network, dtype name, extra metadata) from a model file."""

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

def gemm(trans_a: bool, trans_b: bool, alpha: float, A: np.ndarray, B: np.ndarray, beta: float, C: np.ndarray) -> None:
    """C = alpha * op(A) @ op(B) + beta * C, in place."""

def dense_forward(X: np.ndarray, W: np.ndarray, b: np.ndarray, activation: str, leaky_slope: float = 0.01) -> np.ndarray:
    """activation(X @ W + b); leaky_relu's slope is leaky_slope."""

def dense_backward(dZ: np.ndarray, X: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dZ @ W.T, X.T @ dZ, dZ.sum(axis=0))."""

def validation_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (training, validation) row indices of a seeded split of n rows."""

def gemm_kernel() -> str:
    """The GEMM micro-kernel in use."""

def default_threads() -> int:
    """FASTMLP_NUM_THREADS if set, else the CPUs this process may use."""

def cli_main(args: list[str], data_dir: str) -> int:
    """Run the fastmlp command line; returns its exit status."""
