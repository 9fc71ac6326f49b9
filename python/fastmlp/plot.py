"""Plots of training and evaluation, drawn with matplotlib (the optional ``plot`` extra).

``loss_curve`` (training loss, and validation figures when there are any),
``confusion_matrix`` and ``decision_regions`` (two features at a time). Each
draws on an Axes, a new one unless ``ax`` is given, and returns it; saving and
showing are the caller's (``ax.figure.savefig("loss.png")``). Models are
fastmlp Networks or scikit-learn-style estimators (``fastmlp.sklearn``'s or
any with ``predict``). Needs ``pip install "fastmlp[plot]"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from fastmlp.metrics import confusion_matrix as _confusion_counts
from fastmlp.metrics import predicted_classes, true_classes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["confusion_counts", "confusion_matrix", "decision_regions", "loss_curve"]


def __dir__() -> list[str]:
    return sorted(__all__)


def _new_axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('fastmlp.plot needs matplotlib: pip install "fastmlp[plot]"') from e
    _, ax = plt.subplots()
    return ax


def _series(model: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The per-epoch losses and the per-epoch scores of a Network or an estimator."""
    history = getattr(model, "history", None)
    if isinstance(history, dict) and "loss" in history:
        losses = {"training": np.asarray(history["loss"])}
        scores: dict[str, np.ndarray] = {}
        for key, values in history.items():
            if key == "loss" or not key.startswith("val"):
                continue
            target = losses if "loss" in key else scores
            target[key.replace("val_", "validation ").replace("_", " ")] = np.asarray(values)
        return losses, scores
    curve = getattr(model, "loss_curve_", None)
    if curve is not None:
        validation = getattr(model, "validation_scores_", None)
        scores = {} if validation is None else {"validation score": np.asarray(validation)}
        return {"training": np.asarray(curve)}, scores
    raise TypeError(f"model must be a fastmlp Network (history) or an estimator with loss_curve_; "
                    f"got {type(model).__name__}")


def loss_curve(model: Any, *, ax: Axes | None = None, log_scale: bool = False) -> Axes:
    """The loss at every epoch: training, and validation when the model has it.

    Parameters
    ----------
    model : fastmlp.Network or fitted estimator
        A Network (``history["loss"]``, and any ``history["val_..."]``
        series) or an estimator with ``loss_curve_`` (and
        ``validation_scores_``, drawn on a second y axis: scores are not
        losses).
    ax : matplotlib Axes, optional
        Where to draw; default a new figure's.
    log_scale : bool, default False
        A logarithmic loss axis.

    Returns
    -------
    matplotlib.axes.Axes
        Line 0 is the training loss. The legend sits above the plotting
        area, so it covers no line.

    Raises
    ------
    TypeError
        For a model with no loss history.
    ValueError
        When the model has not been trained (no epochs yet).
    """
    losses, scores = _series(model)
    if losses["training"].size == 0:
        raise ValueError("model has no loss history yet: train it first")
    ax = _new_axes(ax)
    for label, values in losses.items():
        ax.plot(np.arange(1, values.size + 1), values, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if log_scale:
        ax.set_yscale("log")
    handles, labels = ax.get_legend_handles_labels()
    if scores:
        twin = ax.twinx()
        for label, values in scores.items():
            twin.plot(np.arange(1, values.size + 1), values, linestyle="--", color="tab:green", label=label)
        twin.set_ylabel("score")
        more = twin.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    # above the plotting area, in one row: a legend inside it would cover the
    # lines somewhere (the twin axis's lines are not seen by loc="best")
    ax.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(labels), frameon=False)
    return ax


def _labels_of(y: ArrayLike, name: str, rule: Callable[[ArrayLike, str], np.ndarray]) -> np.ndarray:
    """1-D labels of y: itself, or the classes of 2-D one-hot/score rows by
    ``rule`` (``fastmlp.metrics``' true_classes or predicted_classes)."""
    arr = np.asarray(y)
    if arr.ndim == 2:
        return rule(arr, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D labels or 2-D one-hot rows; got {arr.ndim}-D")
    return arr


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[Any] | None = None, *,
                     ax: Axes | None = None, normalize: bool = False) -> Axes:
    """A confusion matrix as a heat map with the counts written in: row i is
    the true class ``labels[i]``, column j the predicted one.

    Parameters
    ----------
    y_true, y_pred : array of shape (n,) or (n, k)
        Labels of any type (strings, integers), or one-hot / scored rows
        whose class index is given by ``fastmlp.metrics``' rule (the argmax;
        a single column is a binary class, 1 where > 0.5).
    labels : sequence, optional
        With 1-D labels: the classes, by value, in the order of the rows and
        columns (a label not among them is an error, so no order mislabels
        them). With 2-D rows: the name of each column, in column order (two
        for a single column); for ``fastmlp.datasets.load_iris()`` that is
        ``fastmlp.datasets.IRIS_CLASSES``. Default: the sorted labels seen,
        or for 2-D rows "column 0", "column 1", ...
    ax : matplotlib Axes, optional
    normalize : bool, default False
        Show each row as fractions of its true class instead of counts.

    Returns
    -------
    matplotlib.axes.Axes
        Its first image holds the matrix.

    Raises
    ------
    ValueError
        Shapes that do not fit, or labels not among ``labels``.
    """
    true, pred = _labels_of(y_true, "y_true", true_classes), _labels_of(y_pred, "y_pred", predicted_classes)
    if true.shape[0] != pred.shape[0]:
        raise ValueError(f"y_true and y_pred must have the same number of rows; got {true.shape[0]} and "
                         f"{pred.shape[0]}")
    two_d = np.ndim(y_true) == 2 or np.ndim(y_pred) == 2
    k = max(max(np.shape(y)[1], 2) for y in (y_true, y_pred) if np.ndim(y) == 2) if two_d else 0
    if labels is None:
        classes = np.arange(k) if two_d else np.unique(np.concatenate([true, pred]))
        names = [f"column {c}" for c in classes] if two_d else [str(c) for c in classes]
    else:
        classes = np.asarray(labels)
        if two_d and classes.size != k:
            raise ValueError(f"labels names {classes.size} classes but the rows make {k}")
        names = [str(c) for c in classes]
    if two_d:
        index_true, index_pred = true, pred
    else:
        position = {label: i for i, label in enumerate(classes.tolist())}
        try:
            index_true = np.array([position[v] for v in true.tolist()], dtype=np.int64)
            index_pred = np.array([position[v] for v in pred.tolist()], dtype=np.int64)
        except KeyError as e:
            raise ValueError(f"label {e.args[0]!r} is not among labels {classes.tolist()}") from None
    counts = _confusion_counts(index_true, index_pred, n_classes=len(classes))
    return confusion_counts(counts, names, ax=ax, normalize=normalize)


def confusion_counts(counts: np.ndarray, names: Sequence[str], *, ax: Axes | None = None,
                     normalize: bool = False) -> Axes:
    """A confusion matrix already counted (``counts[i, j]``: rows of true class
    ``names[i]`` predicted as ``names[j]``) drawn as ``confusion_matrix`` draws it;
    the command line's ``eval --plot`` draws its counts with it."""
    counts = np.asarray(counts)
    shown = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    ax = _new_axes(ax)
    ax.imshow(shown, cmap="Blues", vmin=0)
    top = shown.max() if shown.size else 0
    for (i, j), value in np.ndenumerate(shown):
        ax.text(j, i, f"{value:.2f}" if normalize else str(value), ha="center", va="center",
                color="white" if value > top / 2 else "black")
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix")
    return ax


def _predict_labels(model: Any, X: np.ndarray) -> np.ndarray:
    """A Network's class indices, or an estimator's predicted labels."""
    from fastmlp.network import Network

    if isinstance(model, Network):
        return model.predict_classes(X)
    if callable(getattr(model, "predict", None)):
        return _labels_of(model.predict(X), "predictions", predicted_classes)
    raise TypeError(f"model must be a fastmlp Network or have a predict method; got {type(model).__name__}")


def _all_classes(model: Any, seen: np.ndarray) -> np.ndarray:
    """Every class the model can name, in a fixed order: a class's colour is its
    place here, whichever classes one plot happens to show."""
    from fastmlp.network import Network

    if isinstance(model, Network):
        return np.arange(max(model.sizes[-1], 2))
    known = getattr(model, "classes_", None)
    if known is not None:
        return np.asarray(known)
    return np.unique(seen)


def _feature(f: Any, columns: list[str] | None) -> int:
    """The column index of feature ``f``: an int, or a DataFrame's column name."""
    if isinstance(f, str):
        if columns is None or f not in columns:
            raise ValueError(f"features: {f!r} is not a column name of X ({columns})")
        return columns.index(f)
    if isinstance(f, bool) or not isinstance(f, (int, np.integer)):
        raise TypeError(f"features must hold column indices or names; got {type(f).__name__}")
    return int(f)


def decision_regions(model: Any, X: ArrayLike, y: ArrayLike, features: tuple[int | str, int | str] = (0, 1), *,
                     ax: Axes | None = None, resolution: int = 200,
                     class_names: Sequence[str] | None = None) -> Axes:
    """The classes a model predicts over the plane of two features, with the
    samples drawn on top in the colours of their true classes, and a legend.

    Parameters
    ----------
    model : fastmlp.Network or fitted classifier
        A Network (its ``predict_classes``: class indices) or anything with
        ``predict`` (its labels; ``classes_``, when it has one, orders them).
    X : array or pandas DataFrame of shape (n, features)
        A DataFrame's column names label the axes and may be ``features``.
    y : array of shape (n,) or (n, k)
        True labels (any type; class indices for a Network), or one-hot rows.
    features : (int or str, int or str), default (0, 1)
        The columns of X on the axes, by index or (DataFrame) name. The
        model sees every other feature held at its mean over X.
    ax : matplotlib Axes, optional
    resolution : int, default 200
        Grid points along each axis.
    class_names : sequence of str, optional
        For a Network: the name of class index 0, 1, ... in the legend
        (``fastmlp.datasets.IRIS_CLASSES`` for the bundled Iris data).

    Returns
    -------
    matplotlib.axes.Axes
        The last collection is the samples (offsets: X[:, features]). A
        class has the same colour on every plot of the same model: its
        place among the model's classes (a Network's indices, an estimator's
        ``classes_``, else the sorted labels seen) picks it.

    Raises
    ------
    ValueError
        Bad shapes, features out of range or equal, resolution < 2, labels
        the model does not know, class_names of the wrong length.
    """
    columns = [str(c) for c in X.columns] if hasattr(X, "columns") else None
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array; got shape {X.shape}")
    labels = _labels_of(y, "y", true_classes)
    if labels.shape[0] != X.shape[0]:
        raise ValueError(f"X and y must have the same number of rows; got {X.shape[0]} and {labels.shape[0]}")
    if len(features) != 2:
        raise ValueError(f"features must be two different columns of X (0..{X.shape[1] - 1}); got {features}")
    i, j = (_feature(f, columns) for f in features)
    if any(not 0 <= f < X.shape[1] for f in (i, j)) or i == j:
        raise ValueError(f"features must be two different columns of X (0..{X.shape[1] - 1}); got {features}")
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2; got {resolution}")
    axes = []
    for col in (i, j):
        low, high = X[:, col].min(), X[:, col].max()
        pad = 0.05 * (high - low) or 0.5
        axes.append(np.linspace(low - pad, high + pad, resolution))
    gx, gy = np.meshgrid(*axes)
    grid = np.tile(X.mean(axis=0), (gx.size, 1))
    grid[:, i], grid[:, j] = gx.ravel(), gy.ravel()
    predicted = _predict_labels(model, grid)
    classes = _all_classes(model, np.concatenate([predicted, labels]))
    index = {c: k for k, c in enumerate(classes.tolist())}
    unknown = [v for v in set(labels.tolist()) | set(predicted.tolist()) if v not in index]
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not one of the model's classes {classes.tolist()}")
    names = [str(c) for c in classes]
    if class_names is not None:
        if len(class_names) != len(classes):
            raise ValueError(f"class_names names {len(class_names)} classes but the model has {len(classes)}")
        names = [str(c) for c in class_names]
    regions = np.array([index[v] for v in predicted.tolist()]).reshape(gx.shape)
    truth = np.array([index[v] for v in labels.tolist()])
    colours = _class_colours(len(classes))
    ax = _new_axes(ax)
    ax.contourf(gx, gy, regions, levels=np.arange(len(classes) + 1) - 0.5, colors=colours, alpha=0.3)
    ax.scatter(X[:, i], X[:, j], c=colours[truth], edgecolors="black", linewidths=0.5, s=20)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", linestyle="", markerfacecolor=colours[k], markeredgecolor="black",
                      label=names[k]) for k in range(len(classes))]
    ax.legend(handles=handles, title="class", loc="best")
    ax.set_xlabel(columns[i] if columns is not None else f"feature {i}")
    ax.set_ylabel(columns[j] if columns is not None else f"feature {j}")
    ax.set_title("decision regions")
    return ax


def _class_colours(n: int) -> np.ndarray:
    """(n, 4) RGBA: class k's colour, the same for every plot (tab10, tab20
    past ten classes, repeating past twenty)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return np.array([cmap(k % cmap.N) for k in range(n)])
