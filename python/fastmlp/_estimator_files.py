"""What a scikit-learn estimator adds to its network's model file: its parameters
and its fitted books, as JSON in two namespaced metadata entries, written and
read back with every value checked (a model file may come from anyone).

Only the encoding lives here; ``fastmlp.sklearn`` builds the estimator. The
encoding is plain JSON, with two tagged objects for what JSON lacks:
``{"float": "inf"}`` (also "-inf", "nan") and ``{"dict": [[key, value], ...]}``
(keys that are not strings, as class_weight's labels).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from fastmlp._checks import is_bool, is_int, is_real

PARAMS_KEY = "sklearn.params"  # get_params(): {name: value}
STATE_KEY = "sklearn.state"  # the fitted attributes that continue a fit, and the target's kind

STATE_NAMES = ("n_iter_", "t_", "loss_", "best_loss_", "loss_curve_", "validation_scores_", "best_validation_score_")

_MAX_TEXT = 10_000_000  # characters of one entry; a longer one is refused before json reads it

# The fitted attributes kept, each with its check: (test, what it must be).
_STATE: dict[str, tuple[Any, str]] = {
    "n_iter_": (lambda v: is_int(v) and v >= 0, "an int >= 0"),
    "t_": (lambda v: is_int(v) and v >= 0, "an int >= 0"),
    "loss_": (lambda v: v is None or is_real(v), "a number or null"),
    "best_loss_": (lambda v: v is None or is_real(v), "a number or null"),
    "loss_curve_": (lambda v: isinstance(v, list) and all(is_real(x) for x in v), "a list of numbers"),
    "validation_scores_": (lambda v: v is None or (isinstance(v, list) and all(is_real(x) for x in v)),
                           "a list of numbers or null"),
    "best_validation_score_": (lambda v: v is None or is_real(v), "a number or null"),
    "y_type": (lambda v: v in ("binary", "multiclass", "multilabel-indicator"),
               "'binary', 'multiclass' or 'multilabel-indicator'"),
}


def encode_params(params: Mapping[str, Any], owner: str) -> str:
    """``get_params()`` as the JSON of PARAMS_KEY; TypeError naming a parameter
    whose value a file cannot hold (a callable, a RandomState, ...)."""
    return json.dumps({name: _encode(value, f"{owner}'s {name}") for name, value in params.items()},
                      allow_nan=False, sort_keys=True)


def encode_state(state: Mapping[str, Any]) -> str:
    """The fitted attributes (STATE's keys that the estimator has) as JSON."""
    return json.dumps({k: _encode(v, k) for k, v in state.items()}, allow_nan=False, sort_keys=True)


def decode_params(text: str, allowed: set[str], source: str) -> dict[str, Any]:
    """The parameters in PARAMS_KEY's text: names among ``allowed``, values decoded
    (their types and ranges, class_weight's weights among them, are the
    estimator's to check); ValueError naming the key."""
    where = f"{source}: {PARAMS_KEY}"
    params = _object(text, where)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"{where} names parameters the estimator does not have: {', '.join(map(repr, unknown[:10]))}")
    out = {name: _decode(value, f"{where}: {name}") for name, value in params.items()}
    for name in ("hidden_layer_sizes", "dropout"):  # tuples, as given (JSON keeps them as lists)
        if isinstance(out.get(name), list):
            out[name] = tuple(out[name])
    return out


def decode_state(text: str, source: str) -> dict[str, Any]:
    """The fitted attributes in STATE_KEY's text, each checked; ValueError naming the key."""
    where = f"{source}: {STATE_KEY}"
    state = _object(text, where)
    unknown = sorted(set(state) - set(_STATE))
    if unknown:
        raise ValueError(f"{where} holds unknown entries: {', '.join(map(repr, unknown[:10]))}")
    out = {}
    for name, value in state.items():
        value = _decode(value, f"{where}: {name}")
        ok, expected = _STATE[name]
        if not ok(value):
            raise ValueError(f"{where}: {name} must be {expected}; got {_short(value)}")
        out[name] = value
    return out


# --- the encoding ------------------------------------------------------------------------

def _encode(value: Any, name: str) -> Any:
    if value is None or isinstance(value, str):
        return value
    if is_bool(value):
        return bool(value)
    if is_int(value):
        return int(value)
    if is_real(value):
        v = float(value)
        return v if math.isfinite(v) else {"float": repr(v)}
    if isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) == 1:
        return [_encode(v, name) for v in value]
    if isinstance(value, Mapping):
        return {"dict": [[_encode(k, name), _encode(v, name)] for k, v in value.items()]}
    raise TypeError(f"{name} is a {type(value).__name__}, which a model file cannot hold (it keeps numbers, "
                    "strings, bools, None, lists and dicts); set it to such a value before saving")


def _decode(value: Any, where: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, where) for v in value]
    if not isinstance(value, dict):
        return value  # str, int, float, bool, None: json's own
    if set(value) == {"float"} and value["float"] in ("inf", "-inf", "nan"):
        return float(value["float"])
    pairs = value.get("dict") if set(value) == {"dict"} else None
    if isinstance(pairs, list) and all(isinstance(p, list) and len(p) == 2 for p in pairs):
        out = {}
        for k, v in pairs:
            k = _decode(k, where)
            if not (k is None or isinstance(k, (str, int, float, bool))):
                raise ValueError(f"{where}: a dict key must be a string, number or bool; got {_short(k)}")
            out[k] = _decode(v, where)
        return out
    raise ValueError(f"{where}: unexpected JSON object {_short(value)}")


def _object(text: Any, where: str) -> dict[str, Any]:
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        raise ValueError(f"{where} must be a JSON object of at most {_MAX_TEXT} characters")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{where} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a JSON object; got {_short(value)}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
