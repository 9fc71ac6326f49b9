"""The ``fastmlp`` console script: the same C++ command line as the native program,
which here can also draw (``--plot FILE`` on ``train`` and ``eval``).

The C++ command line parses every argument, checks the paths, runs the command
and writes the image; it asks this module only to check that a file name ends
in a format matplotlib writes, and to draw a figure from the figures it hands
over (the loss curve's columns, or the confusion matrix's counts). So nothing
here parses arguments, reads data or writes files a second way.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from importlib import resources
from types import SimpleNamespace
from typing import Any

import numpy as np

from fastmlp import _core

_FIGURE_INCHES, _DPI = (6.4, 4.8), 100


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fastmlp ARGS`` and return its exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        if sys.stdout is not None:  # None when the program started with descriptor 1 closed
            sys.stdout.flush()  # what Python wrote goes before what C++ writes
    except OSError:  # a full disk or a closed pipe: the C++ command sees it too and says so
        pass
    data_dir = str(resources.files("fastmlp").joinpath("data"))
    return _core.cli_main(args, data_dir, _check, _draw)


def _formats() -> dict[str, str]:
    """The image formats matplotlib writes, by file suffix (ImportError without matplotlib)."""
    from matplotlib.figure import Figure

    formats: dict[str, str] = Figure().canvas.get_supported_filetypes()
    return formats


def _check(path: str) -> str:
    """'' when an image can be drawn into ``path``, else why not."""
    try:
        formats = _formats()
    except ImportError:
        return 'drawing needs matplotlib: pip install "fastmlp[plot]"'
    if _suffix(path) not in formats:
        return (f"{path!r}: expected a file name ending in one of matplotlib's formats: "
                f"{', '.join('.' + f for f in sorted(formats))}")
    return ""


def _suffix(path: str) -> str:
    return os.path.splitext(path)[1][1:].lower()


def _draw(path: str, kind: str, names: list[str], table: np.ndarray) -> bytes:
    """The image for ``path`` of the loss curve (``kind`` "loss": columns ``names``
    of ``table``, a row per epoch) or of a confusion matrix ("confusion": counts,
    the classes named by ``names``)."""
    from matplotlib.figure import Figure

    from fastmlp.plot import confusion_counts, loss_curve

    figure = Figure(figsize=_FIGURE_INCHES, layout="constrained")
    ax: Any = figure.subplots()
    if kind == "loss":
        history = {name: table[:, j] for j, name in enumerate(names) if name != "epoch"}
        loss_curve(SimpleNamespace(history=history), ax=ax)
    else:
        confusion_counts(table.astype(np.int64), names, ax=ax)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=_suffix(path), dpi=_DPI)
    return buffer.getvalue()


if __name__ == "__main__":
    sys.exit(main())
