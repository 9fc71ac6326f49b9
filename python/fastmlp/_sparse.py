"""Sparse input: scipy.sparse matrices handed to the core in CSR form, read in place.

The core trains and predicts on CSR input without densifying it (the first
layer's products run over the nonzeros). A CSR matrix whose ``data`` has the
network's dtype and whose ``indices`` and ``indptr`` are both int32 or both
int64 is read in place; anything else (CSC, COO, other dtypes) is converted
once, here. scipy is imported only by this module's callers' sparse path:
``is_sparse`` looks for scipy among the modules already imported, so plain
NumPy use never imports it.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

# The form the core reads: (rows, cols, data, indices, indptr).
CsrTuple = tuple[int, int, np.ndarray, np.ndarray, np.ndarray]


def is_sparse(a: Any) -> bool:
    """Whether ``a`` is a scipy.sparse matrix or array (without importing scipy:
    an object can only be one once scipy.sparse has been imported)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(a))


def as_csr(a: Any, name: str, dtype: np.dtype[Any]) -> CsrTuple:
    """The scipy.sparse matrix ``a`` as the tuple the core reads, its arrays
    ``a``'s own when they already have the right types. The core checks the
    structure (indptr, indices in range) and that every value is finite."""
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x features); got a {a.ndim}-D sparse array")
    if a.format != "csr":
        a = a.tocsr()  # CSC, COO, ...: converted once
    rows, cols = (int(s) for s in a.shape)
    if rows == 0 or cols == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    data = np.asarray(a.data)
    if data.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers; got dtype {data.dtype}")
    with np.errstate(over="ignore"):
        values = np.ascontiguousarray(data, dtype=dtype)
    if data.dtype.kind == "f" and data.dtype.itemsize > dtype.itemsize:
        beyond = np.isinf(values) & np.isfinite(data)
        if beyond.any():
            raise ValueError(f"{name} holds {data[np.argmax(beyond)]}, beyond {dtype.name}'s range")
    indices, indptr = np.asarray(a.indices), np.asarray(a.indptr)
    if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise TypeError(f"{name}.indices and {name}.indptr must be integers; got {indices.dtype} and {indptr.dtype}")
    if not (indices.dtype == indptr.dtype and indices.dtype in (np.int32, np.int64)):
        # another integer type, or mixed: both int64, once a uint64 past int64's
        # range (which would wrap to a negative number) is refused as it is
        _check_past_int64(indices, indptr, name, cols, int(data.size))
        indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
    return rows, cols, values, np.ascontiguousarray(indices), np.ascontiguousarray(indptr)


def _check_past_int64(indices: np.ndarray, indptr: np.ndarray, name: str, cols: int, nnz: int) -> None:
    """ValueError for an index or offset of an unsigned type past int64's range, showing
    its value (the core's checks would see it wrapped, as a negative number)."""
    top = np.iinfo(np.int64).max
    if indices.dtype.kind == "u" and indices.size and int(indices.max()) > top:
        value = int(indices[np.argmax(indices > top)])
        raise ValueError(f"{name}.indices must be in [0, {cols}); found {value}")
    if indptr.dtype.kind == "u" and indptr.size and int(indptr.max()) > top:
        row = int(np.argmax(indptr > top))
        raise ValueError(f"{name}.indptr must hold offsets from 0 to the number of stored values ({nnz}); "
                         f"found {int(indptr[row])} at position {row}")


def as_estimator_input(X: Any, dtype: np.dtype[Any]) -> Any:
    """An estimator's validated X in the dtype it trains in, once: a sparse
    matrix as CSR of that dtype (no copy when it is one), else a C-contiguous array."""
    if is_sparse(X):
        return X.tocsr().astype(dtype, copy=False)
    return np.ascontiguousarray(X, dtype=dtype)
