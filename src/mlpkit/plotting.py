"""Plots of what training did: learning curves, results, the network, a boundary.

matplotlib is an optional dependency (``pip install 'mlpkit[plot]'``),
imported only when a plot is drawn. Figures are built with
``matplotlib.figure.Figure`` on the Agg canvas, never through pyplot, so
plotting needs no display and leaves matplotlib's global backend alone.

Each ``draw_*`` function draws one panel on a given matplotlib ``Axes``, and
each ``plot_*`` function returns a whole ``Figure``. :func:`save_figure`
writes a figure to a PNG file atomically.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import confusion_matrix, multilabel_confusion_matrix

from .data import format_columns
from .errors import DataError, MissingDependencyError, ParameterError
from .metrics import METRIC_LABELS, task_metrics
from .model import training_feature_frame
from .modelfile import write_atomically
from .network import Network
from .network_drawing import MAX_DRAWN_UNITS, draw_network
from .preprocessing import NUMERIC
from .tasks import as_multilabel_frame, as_target_frame
from .trace import output_unit_names
from .training import History

if TYPE_CHECKING:
    from .model import MLP

def _check_trained_model(model: Any) -> None:
    """Raise ParameterError unless ``model`` is an MLP, and NotFittedError unless trained."""
    from .model import MLP

    if not isinstance(model, MLP):
        raise ParameterError(
            "model must be a trained MLP; received an object of type "
            f"{type(model).__name__}; for a model file, pass MLP.load(path)",
            parameter="model",
        )
    model._check_fitted()


#: Grid points per axis of a decision-boundary plot.
GRID_POINTS = 200
#: Resolution of saved PNG files, in dots per inch.
PNG_DPI = 100
#: Classes annotated with their counts in a confusion matrix.
MAX_ANNOTATED_CLASSES = 20
INSTALL_HINT = "pip install 'mlpkit[plot]'"


def require_matplotlib() -> None:
    """Raise MissingDependencyError unless matplotlib can be imported."""
    try:
        importlib.import_module("matplotlib")
    except ImportError as error:
        raise MissingDependencyError(
            f"plots need matplotlib, which is not installed; install it with: "
            f"{INSTALL_HINT}"
        ) from error


def new_figure(width: float, height: float) -> Any:
    """Return an empty matplotlib Figure on the Agg canvas, size in inches.

    Raises
    ------
    MissingDependencyError
        If matplotlib is not installed.
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def check_png_path(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path, or raise ParameterError if a PNG cannot go there.

    The file name must end in ``.png`` and its directory must exist.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ParameterError(
            f"plots are written as PNG, so the file name must end in .png; "
            f"received: {str(path)!r}"
        )
    # os.path.isdir returns False where Path.is_dir raises, as for a name that
    # is too long, so that write_atomically reports such a path.
    if os.path.isdir(path):
        raise ParameterError(f"{str(path)!r} is a directory; pass a file path")
    if not os.path.isdir(path.parent):
        raise ParameterError(
            f"cannot write {str(path)!r}: directory {str(path.parent)!r} not found; "
            "create it first"
        )
    return path


def save_figure(figure: Any, path: str | os.PathLike) -> Path:
    """Write ``figure`` to ``path`` as a PNG file, atomically; return the path.

    Raises
    ------
    ParameterError
        If ``path`` does not end in ``.png`` or its directory does not exist.
    """
    path = check_png_path(path)
    write_atomically(path, lambda file: figure.savefig(file, format="png", dpi=PNG_DPI))
    return path


# Learning curves


def draw_loss_curves(ax: Any, history: History) -> None:
    """Draw training and validation loss per epoch, with the best epoch marked."""
    if not history.records:
        _draw_empty(ax, "no training history in this model")
        return
    epochs = [record.epoch for record in history.records]
    ax.plot(epochs, history.column("train_loss"), label="training loss")
    validation = history.column("validation_loss")
    if any(value is not None for value in validation):
        ax.plot(epochs, _with_nan(validation), label="validation loss")
    if history.best is not None:
        monitored = getattr(history.best, history.monitor)
        ax.axvline(history.best_epoch, color="gray", linestyle="--", linewidth=1)
        ax.plot(
            [history.best_epoch],
            [monitored],
            marker="o",
            color="black",
            linestyle="none",
            label=f"best epoch {history.best_epoch} (weights restored)",
        )
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Loss per epoch")
    ax.legend()


def draw_metric_curves(ax: Any, history: History) -> None:
    """Draw the task's metrics per epoch; a second metric gets its own axis."""
    names = []
    for record in history.records:
        for name in record.metrics:
            if name not in names:
                names.append(name)
    if not names:
        _draw_empty(ax, "no metrics in this model's history")
        return

    epochs = [record.epoch for record in history.records]
    rows = "validation" if history.monitor == "validation_loss" else "training"
    axes = [ax, ax.twinx()] if len(names) > 1 else [ax]
    colors = ["tab:green", "tab:purple"]
    for axis, name, color in zip(axes, names, colors):
        label = METRIC_LABELS.get(name, name)
        axis.plot(epochs, _with_nan(history.column(name)), color=color, label=label)
        axis.set_ylabel(f"{label} ({rows} rows)", color=color)
    if history.best_epoch:
        ax.axvline(history.best_epoch, color="gray", linestyle="--", linewidth=1)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("epoch")
    ax.set_title(f"{', '.join(METRIC_LABELS.get(n, n) for n in names[:2])} per epoch")


def plot_learning_curves(history: History) -> Any:
    """Return a figure of loss and metrics per epoch, the best epoch marked."""
    figure = new_figure(11, 4.2)
    loss_ax, metric_ax = figure.subplots(1, 2)
    draw_loss_curves(loss_ax, history)
    draw_metric_curves(metric_ax, history)
    return figure


def _with_nan(values: list[float | None]) -> NDArray:
    return np.array([np.nan if value is None else value for value in values])


def _draw_empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


# Results on data


def draw_confusion_matrix(
    ax: Any, y_true: NDArray, y_pred: NDArray, classes: NDArray
) -> None:
    """Draw counts of true class (rows) against predicted class (columns)."""
    labels = [str(label) for label in classes]
    matrix = confusion_matrix(y_true, y_pred, labels=classes)
    ax.imshow(matrix, cmap="Blues")
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels, rotation=45 if len(labels) > 4 else 0, ha="right")
    ax.set_yticks(ticks, labels)
    if len(labels) <= MAX_ANNOTATED_CLASSES:
        _write_counts(ax, matrix)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix (accuracy {accuracy:.3f})")


def _write_counts(ax: Any, counts: NDArray) -> None:
    """Write each count on its cell, white on the darker half of the colour map."""
    threshold = counts.max() / 2
    for (row, column), count in np.ndenumerate(counts):
        color = "white" if count > threshold else "black"
        ax.text(column, row, str(count), ha="center", va="center", color=color)


#: Columns of :func:`draw_label_confusion`, in the order of
#: ``sklearn.metrics.multilabel_confusion_matrix`` flattened per label.
LABEL_OUTCOMES = ("true negative", "false positive", "false negative", "true positive")


def draw_label_confusion(
    ax: Any, y_true: NDArray, y_pred: NDArray, names: list[str]
) -> None:
    """Draw a multilabel model's counts per label: one row per label column.

    ``y_true`` and ``y_pred`` have shape ``(n_samples, n_labels)`` with 0 and 1.
    The title gives the share of rows whose every label is right.
    """
    counts = multilabel_confusion_matrix(y_true, y_pred).reshape(len(names), 4)
    ax.imshow(counts, cmap="Blues", aspect="auto")
    ax.set_xticks(np.arange(4), LABEL_OUTCOMES, rotation=30, ha="right")
    ax.set_yticks(np.arange(len(names)), names)
    if len(names) <= MAX_ANNOTATED_CLASSES:
        _write_counts(ax, counts)
    exact_match = np.mean(np.all(np.asarray(y_true) == np.asarray(y_pred), axis=1))
    ax.set_ylabel("label")
    ax.set_title(f"Outcomes per label (all labels right in {exact_match:.1%} of rows)")


def draw_predicted_vs_true(
    ax: Any, y_true: NDArray, y_pred: NDArray, names: list[str]
) -> None:
    """Scatter predictions against true values, one colour per output."""
    true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    predicted = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    for column, name in enumerate(names):
        ax.scatter(true[:, column], predicted[:, column], s=12, alpha=0.6, label=name)
    low = np.nanmin([true.min(), predicted.min()])
    high = np.nanmax([true.max(), predicted.max()])
    ax.plot([low, high], [low, high], color="gray", linestyle="--", label="ŷ = y")
    metrics = task_metrics("regression", true, predicted)
    summary = f"RMSE {metrics['rmse']:.4g}"
    if "r2" in metrics:
        summary += f", R² {metrics['r2']:.3f}"
    ax.set_xlabel("true value")
    ax.set_ylabel("predicted value")
    ax.set_title(f"Predicted against true ({summary})")
    ax.legend()


def two_numeric_inputs(model: MLP) -> list[str] | None:
    """Return the model's two input column names if both are numeric, else None.

    Raises
    ------
    NotFittedError
        If the model has not been trained or loaded.
    """
    _check_trained_model(model)
    columns = model.preprocessor_.describe()
    if len(columns) != 2 or any(column["kind"] != NUMERIC for column in columns):
        return None
    return [column["name"] for column in columns]


def draw_decision_boundary(
    ax: Any, model: MLP, features: pd.DataFrame, target: Any = None
) -> None:
    """Draw the model's predictions over the plane of its two numeric inputs.

    Classifiers show the predicted class regions (and the 0.5 probability
    contour for two classes), multilabel models the 0.5 probability contour
    of each label, regressors the predicted value. The rows of
    ``features`` are drawn on top, coloured by ``target`` when given: a
    DataFrame, a Series or an array, as :meth:`MLP.evaluate` takes it.

    Raises
    ------
    NotFittedError
        If the model has not been trained or loaded.
    ParameterError
        If the model does not have exactly two numeric input columns.
    DataError
        If ``target`` has another number of rows than ``features``, or
        ``features`` is an array with another number of columns than in
        training.
    """
    names = two_numeric_inputs(model)
    if names is None:
        inputs = model.preprocessor_.feature_names_in_
        raise ParameterError(
            "a decision boundary needs a model with exactly two numeric input "
            f"columns; this model has {len(inputs)}: {format_columns(inputs)}"
        )
    features = training_feature_frame(features, model.preprocessor_.feature_names_in_)
    target = _target_frame(model, target)
    if target is not None and len(target) != len(features):
        raise DataError(
            f"features have {len(features)} rows but the target has {len(target)}; "
            "they must match"
        )
    x = pd.to_numeric(features[names[0]], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(features[names[1]], errors="coerce").to_numpy(dtype=float)
    grid_x, grid_y = np.meshgrid(_padded_range(x), _padded_range(y))
    grid = pd.DataFrame({names[0]: grid_x.ravel(), names[1]: grid_y.ravel()})
    outputs = model.predict_outputs(grid)

    if model.task_ == "regression":
        _draw_value_surface(ax, model, grid_x, grid_y, outputs, x, y, target)
    elif model.task_ == "multilabel":
        _draw_label_boundaries(ax, model, grid_x, grid_y, outputs, x, y)
    else:
        _draw_class_regions(ax, model, grid_x, grid_y, outputs, x, y, target)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])


def _target_frame(model: MLP, target: Any) -> pd.DataFrame | None:
    """Return ``target`` as a DataFrame with one column per target, or None.

    A Series or array without a name gets the model's first target name, so
    legends name the target as training did.
    """
    if target is None:
        return None
    name = str(model.target_encoder_.target_names_[0])
    if model.task_ == "multilabel":
        return as_multilabel_frame(target, name)
    return as_target_frame(target, name)


def _padded_range(values: NDArray) -> NDArray:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.linspace(-1.0, 1.0, GRID_POINTS)
    low, high = finite.min(), finite.max()
    padding = 0.05 * (high - low) if high > low else 1.0
    return np.linspace(low - padding, high + padding, GRID_POINTS)


def _draw_class_regions(
    ax: Any,
    model: MLP,
    grid_x: NDArray,
    grid_y: NDArray,
    outputs: NDArray,
    x: NDArray,
    y: NDArray,
    target: pd.DataFrame | None,
) -> None:
    from matplotlib.colors import ListedColormap

    classes = model.classes_
    colors = ListedColormap([f"C{index % 10}" for index in range(len(classes))])
    if model.task_ == "binary":
        predicted = (outputs[:, 0] >= 0.5).astype(int)
        ax.contour(grid_x, grid_y, outputs[:, 0].reshape(grid_x.shape), levels=[0.5])
    else:
        predicted = np.argmax(outputs, axis=1)
    levels = np.arange(len(classes) + 1) - 0.5
    ax.contourf(
        grid_x,
        grid_y,
        predicted.reshape(grid_x.shape),
        levels=levels,
        cmap=colors,
        alpha=0.3,
    )
    if target is None:
        ax.scatter(x, y, s=12, color="gray", edgecolors="black", linewidths=0.3)
    else:
        labels = target.iloc[:, 0].to_numpy()
        for index, label in enumerate(classes):
            rows = labels == label
            ax.scatter(
                x[rows],
                y[rows],
                s=14,
                color=colors(index),
                edgecolors="black",
                linewidths=0.3,
                label=str(label),
            )
        ax.legend(title=str(target.columns[0]))
    ax.set_title("Decision boundary")


def _draw_label_boundaries(
    ax: Any,
    model: MLP,
    grid_x: NDArray,
    grid_y: NDArray,
    outputs: NDArray,
    x: NDArray,
    y: NDArray,
) -> None:
    """Draw each label's 0.5 probability contour, one colour per label.

    Labels overlap, so no region belongs to one label and the rows are drawn
    in grey.
    """
    from matplotlib.lines import Line2D

    names = list(model.target_encoder_.target_names_)
    for index in range(len(names)):
        ax.contour(
            grid_x,
            grid_y,
            outputs[:, index].reshape(grid_x.shape),
            levels=[0.5],
            colors=[f"C{index % 10}"],
        )
    ax.scatter(x, y, s=12, color="gray", edgecolors="black", linewidths=0.3)
    handles = [
        Line2D([], [], color=f"C{index % 10}", label=name)
        for index, name in enumerate(names)
    ]
    ax.legend(handles=handles, title="p = 0.5 for label")
    ax.set_title("Decision boundary per label")


def _draw_value_surface(
    ax: Any,
    model: MLP,
    grid_x: NDArray,
    grid_y: NDArray,
    outputs: NDArray,
    x: NDArray,
    y: NDArray,
    target: pd.DataFrame | None,
) -> None:
    values = model.target_encoder_.decode(outputs)
    values = values.reshape(len(outputs), -1)[:, 0].reshape(grid_x.shape)
    surface = ax.contourf(grid_x, grid_y, values, levels=20, cmap="viridis", alpha=0.7)
    name = model.target_encoder_.target_names_[0]
    ax.figure.colorbar(surface, ax=ax, label=f"predicted {name}")
    if target is None:
        ax.scatter(x, y, s=12, color="gray", edgecolors="black", linewidths=0.3)
    else:
        true = pd.to_numeric(target.iloc[:, 0], errors="coerce").to_numpy(dtype=float)
        ax.scatter(
            x,
            y,
            c=true,
            cmap="viridis",
            norm=surface.norm,
            s=14,
            edgecolors="black",
            linewidths=0.3,
        )
    ax.set_title(f"Predicted {name} over the inputs")


def plot_model(
    model: MLP,
    features: pd.DataFrame | None = None,
    target: Any = None,
    source: str | None = None,
) -> Any:
    """Return a figure of a fitted model: learning curves and, given data, results.

    With ``features`` and ``target`` it adds a confusion matrix (classifiers),
    outcome counts per label (multilabel) or predicted against true values
    (regression), and for a model with two numeric inputs the decision
    boundary over the rows. ``target`` is a DataFrame, a Series or an array,
    as :meth:`MLP.evaluate` takes it.

    Raises
    ------
    NotFittedError
        If the model has not been trained or loaded.
    DataError
        If ``features`` are given without ``target``, or do not fit the model.
    """
    _check_trained_model(model)
    target = _target_frame(model, target)
    if features is not None and target is None:
        names = format_columns(list(model.target_encoder_.target_names_))
        raise DataError(
            f"plotting results needs the target column {names} in the data; "
            "add it, or plot the learning curves alone"
        )
    with_boundary = features is not None and two_numeric_inputs(model) is not None
    n_panels = 2 + (features is not None) + with_boundary
    n_rows = (n_panels + 1) // 2
    figure = new_figure(11, 4.2 * n_rows)
    axes = list(np.ravel(figure.subplots(n_rows, 2, squeeze=False)))

    draw_loss_curves(axes[0], history=model.history_)
    draw_metric_curves(axes[1], model.history_)
    if features is not None:
        model.evaluate(features, target, source=source)
        y_pred = model.predict(features, source=source)
        y_true = target.to_numpy()
        if model.task_ == "regression":
            names = list(model.target_encoder_.target_names_)
            draw_predicted_vs_true(axes[2], y_true, y_pred, names)
        elif model.task_ == "multilabel":
            names = list(model.target_encoder_.target_names_)
            draw_label_confusion(axes[2], y_true, y_pred, names)
        else:
            draw_confusion_matrix(axes[2], y_true[:, 0], y_pred, model.classes_)
    if with_boundary:
        draw_decision_boundary(axes[3], model, features, target)
    for unused in axes[n_panels:]:
        unused.set_axis_off()
    return figure


# The network


def plot_network(
    network: Network,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
) -> Any:
    """Return a figure of ``network`` drawn by :func:`draw_network`."""
    drawn = max(min(size, MAX_DRAWN_UNITS + 1) for size in network.layer_sizes)
    width = 2.5 * len(network.layer_sizes) + 2.0
    height = float(np.clip(0.35 * drawn + 2.0, 4.0, 14.0))
    figure = new_figure(width, height)
    draw_network(figure.subplots(), network, input_names, output_names)
    return figure


def plot_model_network(model: MLP) -> Any:
    """Return a figure of a fitted model's network, units named after its columns.

    Raises
    ------
    NotFittedError
        If the model has not been trained or loaded.
    """
    _check_trained_model(model)
    names = output_unit_names(
        model.task_, model.target_encoder_.target_names_, model.classes_
    )
    return plot_network(model.network_, model.preprocessor_.feature_names_out_, names)


# Variable importance

#: Bars drawn per importance panel; the least important columns are left out.
MAX_IMPORTANCE_BARS = 30


def draw_importance(
    ax: Any,
    names: list[str],
    values: NDArray,
    errors: NDArray | None,
    xlabel: str,
    title: str,
) -> None:
    """Draw horizontal bars of importance, the most important at the top.

    ``names`` and ``values`` are ordered from the most important down;
    ``errors``, when given, are drawn as error bars (a standard deviation).
    """
    shown = min(len(names), MAX_IMPORTANCE_BARS)
    positions = np.arange(shown)[::-1]
    shown_errors = None if errors is None else errors[:shown]
    ax.barh(positions, values[:shown], xerr=shown_errors, color="tab:blue")
    ax.set_yticks(positions, [str(name) for name in names[:shown]])
    ax.axvline(0.0, color="gray", linewidth=1)
    ax.set_xlabel(xlabel)
    if shown < len(names):
        title = f"{title} (top {shown} of {len(names)})"
    ax.set_title(title)


def plot_importance(
    gedeon: pd.DataFrame, permutation: pd.DataFrame | None = None, metric: str = ""
) -> Any:
    """Return a figure of Gedeon importance, beside permutation importance if given.

    ``gedeon`` is a table from :func:`mlpkit.importance.gedeon_importance`, and
    ``permutation`` one from ``PermutationImportance.to_frame`` with its score
    named by ``metric``.
    """
    n_bars = min(len(gedeon), MAX_IMPORTANCE_BARS)
    height = float(np.clip(0.3 * n_bars + 1.5, 3.0, 12.0))
    n_panels = 1 if permutation is None else 2
    figure = new_figure(5.5 * n_panels, height)
    axes = np.atleast_1d(figure.subplots(1, n_panels))
    draw_importance(
        axes[0],
        list(gedeon["variable"]),
        gedeon["scaled_importance"].to_numpy(),
        None,
        "scaled importance (top = 1)",
        "Gedeon weight-based importance",
    )
    if permutation is not None:
        label = METRIC_LABELS.get(metric, metric)
        draw_importance(
            axes[1],
            list(permutation["variable"]),
            permutation["importance_mean"].to_numpy(),
            permutation["importance_std"].to_numpy(),
            f"drop in {label} when shuffled",
            "Permutation importance",
        )
    return figure
