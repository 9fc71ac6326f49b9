"""fastmlp as a library threadpoolctl knows: ``threadpool_info()`` lists it with
its default thread count, and ``threadpool_limits(n)`` sets that count inside
the block (scikit-learn's convention for the libraries under an estimator).

The limit sets the count a fit or predict uses when it names none (``threads=``
on ``Network``, ``n_threads`` on the estimators); an explicit count is the
caller's choice and stands, as BLAS's own thread arguments do. The controller
finds fastmlp's extension module among the process's libraries and calls its
C functions ``fastmlp_get_num_threads`` and ``fastmlp_set_num_threads``.

``register()`` runs when ``fastmlp`` is imported and threadpoolctl is
installed; threadpoolctl is never required.
"""

from __future__ import annotations

import ctypes
import importlib.util
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastmlp import _core

__all__ = ["register"]

_SYMBOLS = ("fastmlp_get_num_threads", "fastmlp_set_num_threads")
_registered = False


def _controller_class() -> Any:
    from threadpoolctl import LibController

    class FastmlpController(LibController):
        """threadpoolctl's controller of fastmlp's threads."""

        user_api = "fastmlp"
        internal_api = "fastmlp"
        # the extension module's file: _core.cpython-311-x86_64-linux-gnu.so and
        # the like; other libraries of that name lack check_symbols and are skipped
        filename_prefixes = ("_core",)
        check_symbols = _SYMBOLS

        def get_num_threads(self) -> int | None:
            get = getattr(self.dynlib, _SYMBOLS[0], None)
            if get is None:  # another library named _core*
                return None
            get.restype = ctypes.c_int
            return int(get())

        def set_num_threads(self, num_threads: int) -> Any:
            set_ = getattr(self.dynlib, _SYMBOLS[1], None)
            if set_ is None:
                return None
            set_.argtypes = [ctypes.c_int]
            set_.restype = ctypes.c_int
            return set_(max(1, min(int(num_threads), _core.MAX_THREADS)))

        def get_version(self) -> str | None:
            if getattr(self.dynlib, _SYMBOLS[0], None) is None:
                return None
            try:
                return version("fastmlp")
            except PackageNotFoundError:  # pragma: no cover - a source tree
                return None

    return FastmlpController


def register() -> bool:
    """Register fastmlp's controller with threadpoolctl once, when threadpoolctl
    is installed; whether it is registered."""
    global _registered
    if not _registered and importlib.util.find_spec("threadpoolctl") is not None:
        import threadpoolctl

        threadpoolctl.register(_controller_class())
        _registered = True
    return _registered
