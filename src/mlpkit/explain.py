"""Explain training one step at a time: the XOR demo and a saved model's row.

Every number shown comes from :func:`mlpkit.trace.trace_step`, which runs the
same network code that trains real models, and :mod:`mlpkit.trace_view` lays
it out beside its formulas. Repeating the step shows the loss falling, as a
table and a sparkline.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .data import describe_row, describe_source, format_columns
from .errors import DataError, ParameterError
from .network import Network
from .optimizers import SGD, Optimizer
from .trace import DEFAULT_LEARNING_RATE, StepTrace, copy_network, trace_step
from .trace_view import render_trace

if TYPE_CHECKING:
    from .model import MLP

#: The XOR truth table: inputs and targets.
XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_TARGETS = np.array([[0.0], [1.0], [1.0], [0.0]])
#: Seed and learning rate of the XOR demo. With them plain full-batch SGD
#: lowers the loss at every step and classifies all four rows correctly
#: within 1000 steps.
DEMO_SEED = 0
DEMO_LEARNING_RATE = 1.0

#: Rows of the loss table; longer runs show their first and last steps.
MAX_LOSS_ROWS = 12
#: Characters of the loss sparkline; longer runs are sampled evenly.
SPARKLINE_WIDTH = 60
SPARK_LEVELS = "▁▂▃▄▅▆▇█"
#: Raw columns of an explained row that are listed.
MAX_SHOWN_COLUMNS = 20


@dataclass
class Explanation:
    """A traced step ready to show.

    Attributes
    ----------
    title : str
        What was traced: the network and the data.
    trace : StepTrace
        The first step, in full.
    losses : list of float or None
        With more than one step, ``L`` before the first step and after each
        step (``steps + 1`` values); otherwise None.
    raw_row : dict or None
        The raw values of an explained data row, by column.
    notes : list of str
        Sentences shown after the trace.
    initialized : bool
        Whether the weights before the step are freshly initialized ones.
    """

    title: str
    trace: StepTrace
    losses: list[float] | None = None
    raw_row: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    initialized: bool = False


def xor_network(seed: int = DEMO_SEED) -> Network:
    """Return the demo network: 2 inputs, 2 sigmoid units, 1 sigmoid output.

    It is trained with binary cross-entropy in float64, so the finite
    differences agree with backpropagation to about 1e-11.
    """
    return Network(
        [2, 2, 1],
        activation="sigmoid",
        output_activation="sigmoid",
        loss="binary_cross_entropy",
        dtype="float64",
        seed=seed,
    )


def loss_curve(
    network: Network,
    X: NDArray,
    y_true: NDArray,
    optimizer: Optimizer | None = None,
    steps: int = 1,
    *,
    sample_weight: NDArray | None = None,
    learning_rate: float = DEFAULT_LEARNING_RATE,
) -> list[float]:
    """Repeat the traced step ``steps`` times on one batch; return the losses.

    The steps run on copies of ``network`` and ``optimizer``, which stay as
    they were. The result has ``steps + 1`` values: ``L`` before the first
    step, then after each step.
    """
    _check_steps(steps)
    network = copy_network(network)
    if optimizer is None:
        optimizer = SGD(learning_rate=learning_rate)
    optimizer = copy.deepcopy(optimizer)

    losses = []
    for _ in range(steps):
        trace = trace_step(
            network,
            X,
            y_true,
            optimizer,
            sample_weight=sample_weight,
            update=True,
            finite_differences=False,
        )
        losses.append(trace.loss)
    losses.append(trace.loss_after)
    return losses


def explain_xor(
    steps: int = 1,
    *,
    seed: int = DEMO_SEED,
    learning_rate: float = DEMO_LEARNING_RATE,
) -> Explanation:
    """Trace one step of full-batch gradient descent on XOR, then ``steps − 1`` more.

    Raises
    ------
    ParameterError
        If ``steps`` is below 1 or ``learning_rate`` is not positive.
    """
    _check_steps(steps)
    network = xor_network(seed)
    optimizer = SGD(learning_rate=learning_rate)
    trace = network.trace(
        XOR_INPUTS,
        XOR_TARGETS,
        optimizer,
        input_names=["x₁", "x₂"],
        output_names=["x₁ XOR x₂"],
    )
    title = (
        f"XOR with a 2-2-1 sigmoid network: one step of full-batch gradient "
        f"descent on all 4 rows (seed {seed}, η = {learning_rate:g})"
    )
    explanation = Explanation(title, trace, initialized=True)
    if steps > 1:
        explanation.losses = loss_curve(
            network, XOR_INPUTS, XOR_TARGETS, optimizer, steps
        )
    return explanation


def split_model_data(
    model: MLP, frame: pd.DataFrame, source: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Split ``frame`` into the model's input columns and its target columns.

    Returns
    -------
    features : DataFrame
        Every column but the target columns.
    target : DataFrame or None
        The target columns the model was trained on, or None when ``frame``
        has none of them.

    Raises
    ------
    DataError
        If ``frame`` has some of the target columns but not all.
    """
    names = list(model.target_encoder_.target_names_)
    present = [name for name in names if name in frame.columns]
    if not present:
        return frame, None
    if len(present) < len(names):
        missing = [name for name in names if name not in present]
        raise DataError(
            f"{describe_source(source)} has the target columns "
            f"{format_columns(present)} but lacks {format_columns(missing)}; "
            "include every target column or none"
        )
    return frame.drop(columns=names), frame[names]


def explain_row(
    model: MLP,
    frame: pd.DataFrame,
    row: int = 1,
    steps: int = 1,
    source: str | None = None,
) -> Explanation:
    """Trace one training step of a fitted model on one row of ``frame``.

    The target comes from the model's target columns when ``frame`` has
    them; without them the trace stops after forward propagation. The step
    uses a fresh optimizer with the model's settings on copies, so the model
    is unchanged.

    Parameters
    ----------
    row : int, default 1
        The data row, counting from 1 (the first row after a CSV header).
    steps : int, default 1
        With more, the step is repeated on the same row to show the loss.

    Raises
    ------
    ParameterError
        If ``row`` is outside the frame or ``steps`` is below 1.
    DataError
        If the row does not fit the model's preprocessing or target, or its
        target cells are empty.
    """
    _check_steps(steps)
    if not 1 <= int(row) <= len(frame):
        raise ParameterError(
            f"row must be between 1 and {len(frame)}, the number of data rows in "
            f"{describe_source(source)}; received: row={row!r}"
        )
    position = int(row) - 1
    features, target = split_model_data(model, frame, source)
    row_target = None
    if target is not None:
        row_target = target.iloc[[position]]
        _check_row_target(row_target, position, source)
    trace = model.trace(features.iloc[[position]], row_target, source=source)

    where = describe_row(position, source)
    title = f"{where[0].upper()}{where[1:]} through the network {trace.architecture}"
    raw_row = {str(column): value for column, value in frame.iloc[position].items()}
    explanation = Explanation(title, trace, raw_row=raw_row)
    prediction = model.target_encoder_.decode(trace.outputs)[0]
    if isinstance(prediction, (np.generic, np.ndarray)):
        prediction = prediction.tolist()
    explanation.notes.append(f"The model predicts {prediction!r} for this row.")
    if target is None:
        names = format_columns(list(model.target_encoder_.target_names_))
        explanation.notes.append(
            f"{describe_source(source)} has no target column {names}, so the "
            "step stops after forward propagation."
        )
        return explanation

    explanation.notes.append(
        f"The update is one {trace.optimizer['name']} step from a fresh state, "
        "with the model's settings; the saved model is unchanged."
    )
    if steps > 1:
        explanation.losses = loss_curve(
            model.network_, trace.inputs, trace.targets, model.make_optimizer(), steps
        )
    return explanation


def _check_row_target(
    row_target: pd.DataFrame, position: int, source: str | None
) -> None:
    """Raise DataError if the explained row has an empty target cell."""
    empty = [str(name) for name, value in row_target.iloc[0].items() if pd.isna(value)]
    if not empty:
        return
    noun = "column" if len(empty) == 1 else "columns"
    raise DataError(
        f"{describe_row(position, source)} has no value in the target {noun} "
        f"{format_columns(empty)}, so there is no error to backpropagate; pick a "
        "row whose target is filled in, fill it in, or leave the target column "
        "out of the data to see forward propagation only"
    )


def _check_steps(steps: int) -> None:
    if int(steps) < 1:
        raise ParameterError(f"steps must be at least 1; received: steps={steps!r}")


# Rendering


def sparkline(values: list[float] | NDArray, width: int = SPARKLINE_WIDTH) -> str:
    """Draw ``values`` as block characters, low to high, at most ``width`` long.

    Longer series are sampled at evenly spaced positions. Non-finite values
    are drawn as spaces.
    """
    series = np.asarray(values, dtype=np.float64)
    if series.size > width:
        positions = np.linspace(0, series.size - 1, width).round().astype(int)
        series = series[positions]
    finite = np.isfinite(series)
    if not finite.any():
        return " " * series.size
    low = series[finite].min()
    high = series[finite].max()
    span = high - low if high > low else 1.0
    levels = np.clip((series - low) / span * (len(SPARK_LEVELS) - 1), 0, None)

    characters = []
    for level, is_finite in zip(levels, finite):
        characters.append(SPARK_LEVELS[round(level)] if is_finite else " ")
    return "".join(characters)


def render_losses(losses: list[float]) -> Group:
    """Return a table of the loss after each step, and its sparkline."""
    steps = len(losses) - 1
    table = Table(title=f"Loss over {steps} steps", title_justify="left")
    table.add_column("after step", justify="right")
    table.add_column("loss L", justify="right")
    table.add_column("change", justify="right")

    listed_steps = list(range(len(losses)))
    if len(losses) > MAX_LOSS_ROWS:
        half = MAX_LOSS_ROWS // 2
        listed_steps = listed_steps[:half] + [-1] + listed_steps[-half:]
    for step in listed_steps:
        if step == -1:
            table.add_row("…", "…", "")
            continue
        change = "" if step == 0 else f"{losses[step] - losses[step - 1]:+.3e}"
        table.add_row(str(step), f"{losses[step]:.6g}", change)

    summary = Text(
        f"loss {sparkline(losses)}  {losses[0]:.6g} → {losses[-1]:.6g} in {steps} steps"
    )
    return Group(table, summary)


def render_explanation(explanation: Explanation) -> Group:
    """Return the rich renderable of an explanation: title, row, trace, losses."""
    parts: list[RenderableType] = [Text(explanation.title, style="bold")]
    if explanation.raw_row is not None:
        parts.append(_raw_row_table(explanation.raw_row))
    parts.append(render_trace(explanation.trace, initialized=explanation.initialized))
    for note in explanation.notes:
        parts.append(Text(note))
    if explanation.losses is not None:
        parts.append(Text(""))
        parts.append(render_losses(explanation.losses))
    return Group(*parts)


def _raw_row_table(raw_row: dict[str, Any]) -> Table:
    table = Table(title="The row as read", title_justify="left")
    table.add_column("column")
    table.add_column("value")
    items = list(raw_row.items())
    for column, value in items[:MAX_SHOWN_COLUMNS]:
        # Text keeps rich from reading brackets in the data as markup.
        table.add_row(Text(column), Text(str(value)))
    if len(items) > MAX_SHOWN_COLUMNS:
        table.add_row("…", f"{len(items) - MAX_SHOWN_COLUMNS} more columns")
    return table
