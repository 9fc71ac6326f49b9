"""The ``fastmlp`` console script: the same C++ command line as the native program,
plus ``--plot FILE`` on ``train`` and ``eval``.

Plots are matplotlib's, so ``--plot`` lives here and not in C++ (the native
program answers it with a usage error). This module takes ``--plot FILE`` out
of the arguments, runs the C++ command unchanged otherwise (``train`` with
``--history`` added when the user gave none), and then draws from what the
command wrote or read: the history CSV (``fastmlp.plot.loss_curve``), or the
model and the data (``fastmlp.plot.confusion_matrix``). Files are read with
the C++ CSV reader and the image is written by the C++ atomic writer, so
nothing here parses or writes files in a second way.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Sequence
from importlib import resources
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from fastmlp import _core

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

_COMMANDS = ("train", "eval")  # the commands that take --plot
# eval's options that take a value (rows of its C++ flag table), to find
# MODEL and DATA.csv among the arguments.
_EVAL_VALUE_FLAGS = ("--labels", "--threads")
_MAX_PLOT_CLASSES = 100  # a confusion matrix larger than this is unreadable and slow to draw
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
    command = args[0] if args else ""
    if command not in _COMMANDS or _asks_for_help(args):
        return _core.cli_main(args, data_dir)
    try:
        plot_path, args = _take_plot(args)
        if plot_path is None:
            return _core.cli_main(args, data_dir)
        figure, image_format = _new_figure(plot_path)
        _check_plot_path(plot_path, command, args, data_dir)
        if command == "train":
            status = _train_and_plot(args, data_dir, figure)
        else:
            status = _core.cli_main(args, data_dir)
            if status == 0:
                _plot_confusion(args, figure)
        if status == 0:
            buffer = io.BytesIO()
            figure.savefig(buffer, format=image_format, dpi=_DPI)
            _core.write_file_atomically(os.fsencode(plot_path), buffer.getvalue())
        return status
    except _UsageError as e:
        message, status = f"{command}: {e}", 2
    except OSError as e:
        message, status = f"{os.fsdecode(e.filename)}: {e.strerror}" if e.filename else str(e), 1
    except ValueError as e:
        message, status = f"--plot: {e}", 1
    # one line on stderr, as the C++ command line prints its errors
    sys.stderr.write(f"fastmlp {message}\n" if status == 2 else f"fastmlp: {message}\n")
    sys.stderr.flush()
    return status


class _UsageError(Exception):
    """A mistake in the command line (exit status 2)."""


def _options(args: list[str]) -> list[str]:
    """The arguments before ``--`` (after it, everything is positional)."""
    return args[: args.index("--")] if "--" in args else args


def _asks_for_help(args: list[str]) -> bool:
    return any(a in ("-h", "--help") for a in _options(args)[1:])


def _take_plot(args: list[str]) -> tuple[str | None, list[str]]:
    """(the value of --plot or None, the arguments without it)."""
    options = _options(args)
    found: list[tuple[int, int, str]] = []  # (index, count, value)
    i = 1
    while i < len(options):
        a = options[i]
        if a == "--plot":
            if i + 1 >= len(args):
                raise _UsageError("--plot: missing value")
            found.append((i, 2, args[i + 1]))
            i += 2
            continue
        if a.startswith("--plot="):
            found.append((i, 1, a[len("--plot="):]))
        i += 1
    if not found:
        return None, args
    if len(found) > 1:
        raise _UsageError("--plot: given twice")
    index, count, value = found[0]
    if not value:
        raise _UsageError("--plot: expected a file name")
    return value, args[:index] + args[index + count:]


def _new_figure(path: str) -> tuple[Figure, str]:
    """A figure to draw on, and the image format that ``path``'s suffix names."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise _UsageError('--plot: drawing needs matplotlib: pip install "fastmlp[plot]"') from None
    figure = Figure(figsize=_FIGURE_INCHES, layout="constrained")
    formats = figure.canvas.get_supported_filetypes()
    suffix = os.path.splitext(path)[1][1:].lower()
    if suffix not in formats:
        raise _UsageError(f"--plot: {path!r}: expected a file name ending in one of matplotlib's formats: "
                          f"{', '.join('.' + f for f in sorted(formats))}")
    return figure, suffix


def _values(args: list[str], flags: set[str]) -> list[str]:
    """The values given to any of ``flags`` (as ``--flag V`` or ``--flag=V``)."""
    options, values = _options(args), []
    for i, a in enumerate(options):
        name, eq, value = a.partition("=")
        if a in flags and i + 1 < len(args):
            values.append(args[i + 1])
        elif eq and name in flags:
            values.append(value)
    return values


def _positional(args: list[str]) -> list[str]:
    """The positional arguments of ``eval ...``, as the C++ parser finds them."""
    result: list[str] = []
    i = 1
    while i < len(args):
        a = args[i]
        if a == "--":
            return result + args[i + 1:]
        if len(a) < 2 or not a.startswith("-"):
            result.append(a)
        elif a in _EVAL_VALUE_FLAGS:
            i += 1
        i += 1
    return result


def _check_plot_path(path: str, command: str, args: list[str], data_dir: str) -> None:
    """Before any work: the plot must be a file that can be written there (as
    the model and history files), and never one the command reads or writes."""
    _core.check_replaceable(os.fsencode(path))
    if command == "train":
        named = _values(args, {"--train", "--test", "-o", "--save", "--history"})
        named += [os.path.join(data_dir, "train.csv"), os.path.join(data_dir, "test.csv")]
    else:
        named = _positional(args)
        if named[1:2] == ["-"]:  # eval reads standard input to its end: nothing is left to draw from
            raise _UsageError("--plot: needs DATA.csv as a file, not - (standard input)")
    target = os.path.realpath(path)
    for other in named:
        exists = os.path.exists(path) and os.path.exists(other)
        if (os.path.samefile(path, other) if exists else os.path.realpath(other) == target):
            raise _UsageError(f"--plot: {path!r} is a file this command reads or writes; refusing to overwrite it")


def _train_and_plot(args: list[str], data_dir: str, figure: Figure) -> int:
    """Run ``train`` with a history file (the user's --history, else a temporary
    one) and draw its loss curve."""
    from fastmlp.plot import loss_curve

    with tempfile.TemporaryDirectory(prefix="fastmlp-") as tmp:
        given = _values(args, {"--history"})
        history = given[0] if given else os.path.join(tmp, "history.csv")
        status = _core.cli_main(args if given else [args[0], "--history", history, *args[1:]], data_dir)
        if status != 0:
            return status
        with open(history, "rb") as f:
            if sum(1 for _ in f) < 2:
                raise ValueError("no epochs to draw (--epochs 0)")
        header, table, _ = _core.read_csv(os.fsencode(history), 0)
    figures = {name: table[:, j] for j, name in enumerate(header) if name != "epoch"}
    loss_curve(SimpleNamespace(history=figures), ax=figure.subplots())
    return 0


def _plot_confusion(args: list[str], figure: Figure) -> None:
    """Draw the confusion matrix of ``eval MODEL DATA.csv``: the model's
    predicted classes against the data's labels, as the C++ eval counts them."""
    from fastmlp.metrics import true_classes
    from fastmlp.network import load
    from fastmlp.plot import confusion_matrix

    model, data = _positional(args)
    net = load(model)
    k = net.sizes[-1]
    labels = _values(args, {"--labels"})
    n_labels = int(labels[0]) if labels else k  # the C++ command has checked it
    n_classes = max(k, 2)
    if n_classes > _MAX_PLOT_CLASSES:
        raise ValueError(f"{n_classes} classes are too many to draw (at most {_MAX_PLOT_CLASSES})")
    header, X, Y = _core.read_csv(os.fsencode(data), n_labels)
    truth = true_classes(Y, "labels") if n_labels > 1 else Y[:, 0].astype(np.int64)
    one_hot_names = n_labels > 1 and len(header) == X.shape[1] + n_labels
    names = header[X.shape[1]:] if one_hot_names else [str(c) for c in range(n_classes)]
    ax = confusion_matrix(truth, net.predict_classes(X), labels=range(n_classes), ax=figure.subplots())
    ax.set_xticks(range(n_classes), names)
    ax.set_yticks(range(n_classes), names)


if __name__ == "__main__":
    sys.exit(main())
