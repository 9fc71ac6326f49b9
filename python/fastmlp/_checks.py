"""Argument checks that fastmlp.network and fastmlp.sklearn share: what counts
as an int, a real number and a bool (NumPy's scalars included, Python's bool
never a number), and the checks that raise TypeError or ValueError naming the
argument, a network's dtype and dropout rates among them. Fit options are not
checked here: the core's table checks them."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np


def is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def is_bool(v: Any) -> bool:
    return isinstance(v, (bool, np.bool_))


def check_bool(value: Any, name: str) -> bool:
    if not is_bool(value):
        raise TypeError(f"{name} must be a bool; got {type(value).__name__}")
    return bool(value)


def check_int(value: Any, name: str, *, low: int, high: int) -> int:
    if not is_int(value):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    number = int(value)
    if not low <= number <= high:
        raise ValueError(f"{name} must be in [{low}, {high}]; got {value}")
    return number


def check_real(value: Any, name: str) -> float:
    if not is_real(value):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    return float(value)


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return str(value)


# The dtypes a network computes in, by NumPy's name.
DTYPES: tuple[str, ...] = ("float64", "float32")


def check_dtype(dtype: Any, name: str = "dtype") -> np.dtype[Any]:
    """A network's precision: anything ``np.dtype`` reads as float64 or float32
    ("float32", "f4", np.float32, np.dtype("float32"), float, ...)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be 'float64' or 'float32'; got {dtype!r}") from None
    if dt.name not in DTYPES:
        raise ValueError(f"{name} must be 'float64' or 'float32'; got {dt.name!r}")
    return np.dtype(dt.name)  # the machine's byte order: ">f8" names float64 too, the core's kind


def check_dropout(value: Any, n_hidden: int | None, name: str = "dropout") -> float | tuple[float, ...]:
    """One dropout rate for every hidden layer, or a sequence of one per hidden
    layer, each in [0, 1); ``n_hidden`` None leaves the sequence's length unchecked."""
    def rate(p: Any) -> float:
        number = check_real(p, name)
        if not 0 <= number < 1:
            raise ValueError(f"{name} must be in [0, 1); got {p!r}")
        return number

    if isinstance(value, np.ndarray) and value.ndim == 0:  # a 0-d array is its one number
        value = value[()]
    if isinstance(value, (str, bytes)) or not isinstance(value, (numbers.Real, Sequence, np.ndarray, np.generic)):
        raise TypeError(f"{name} must be a real number or a sequence of them; got {type(value).__name__}")
    if not isinstance(value, (Sequence, np.ndarray)):
        p = rate(value)
        if p != 0 and n_hidden == 0:
            raise ValueError(f"{name} acts on hidden layers; this network has none (got {value!r})")
        return p
    if n_hidden is not None and len(value) != n_hidden:
        raise ValueError(f"{name} must give one rate per hidden layer ({n_hidden}); got {len(value)}")
    return tuple(rate(p) for p in value)
