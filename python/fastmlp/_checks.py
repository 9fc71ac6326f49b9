"""Argument checks that fastmlp.network and fastmlp.sklearn share: what counts
as an int, a real number and a bool (NumPy's scalars included, Python's bool
never a number), and the checks that raise TypeError or ValueError naming the
argument. Fit options are not checked here: the core's table checks them."""

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
