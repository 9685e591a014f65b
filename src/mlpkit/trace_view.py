"""A trace's numbers laid out beside their formulas, for the terminal and Jupyter.

:func:`trace_sections` turns a :class:`~mlpkit.trace.StepTrace` into the five
steps of training (initialize, forward propagation, error, backpropagation,
update), each a list of rows that pair a formula with the numbers the engine
computed for it. :func:`render_trace` lays the rows out with rich and
:func:`trace_html` as HTML. Arrays too wide to read entry by entry are shown
as their shape, norm and largest entries.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .activations import LEAKY_RELU_SLOPE
from .trace import StepTrace

#: An array with more columns or entries than this is shown as a summary.
WIDE_UNITS = 8
WIDE_ENTRIES = 64
#: Entries that a summary lists, largest magnitude first.
SUMMARY_ENTRIES = 5
#: Characters of the formula column; longer formulas wrap.
FORMULA_WIDTH = 38
#: Per activation: the function and its slope f′(z), written with a and z.
ACTIVATION_FORMULAS = {
    "identity": ("z", "1"),
    "sigmoid": ("1 / (1 + e^−z)", "a ⊙ (1 − a)"),
    "tanh": ("tanh z", "1 − a²"),
    "relu": ("max(0, z)", "𝟙[z > 0]"),
    "leaky_relu": (
        f"max({LEAKY_RELU_SLOPE} z, z)",
        f"1 where z > 0, else {LEAKY_RELU_SLOPE}",
    ),
    "softmax": ("e^zₖ / Σⱼ e^zⱼ", None),
    "elu": ("z where z > 0, else e^z − 1", "1 where z > 0, else e^z"),
    "gelu": ("z Φ(z)", "Φ(z) + z φ(z)"),
    "softplus": ("log(1 + e^z)", "1 / (1 + e^−z)"),
    "maxout": ("max of each unit's pieces", "1 at each unit's largest piece, else 0"),
}
LOSS_FORMULAS = {
    "squared_error": "½ ‖ŷᵢ − yᵢ‖²",
    "binary_cross_entropy": "−[yᵢ log ŷᵢ + (1 − yᵢ) log(1 − ŷᵢ)]",
    "categorical_cross_entropy": "−Σₖ yᵢₖ log ŷᵢₖ",
    "absolute_error": "Σₖ |ŷᵢₖ − yᵢₖ|",
    "huber": "Σₖ (½ rᵢₖ² if |rᵢₖ| ≤ δ, else δ (|rᵢₖ| − ½ δ)),  r = ŷ − y",
    "poisson": "Σₖ (e^ŷᵢₖ − yᵢₖ ŷᵢₖ)",
    "quantile": "Σₖ max(τ (yᵢₖ − ŷᵢₖ), (τ − 1)(yᵢₖ − ŷᵢₖ))",
}
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def subscript(number: int) -> str:
    """Return ``number`` in Unicode subscript digits, such as ``₁₂``."""
    return str(number).translate(_SUBSCRIPTS)


# Arrays as text


@dataclass
class ArraySummary:
    """The shape, Frobenius norm and largest-magnitude entries of an array."""

    shape: tuple[int, ...]
    norm: float
    largest: list[tuple[tuple[int, ...], float]]

    def __str__(self) -> str:
        entries = ", ".join(
            f"{list(index)} = {value:.4g}" for index, value in self.largest
        )
        return f"shape {self.shape}, norm {self.norm:.4g}\nlargest: {entries}"


def is_wide(array: NDArray) -> bool:
    """Return whether ``array`` is too large to show entry by entry."""
    columns = array.shape[-1] if array.ndim else 1
    return columns > WIDE_UNITS or array.size > WIDE_ENTRIES


def summarize(array: NDArray, count: int = SUMMARY_ENTRIES) -> ArraySummary:
    """Summarize ``array`` by its shape, norm and ``count`` largest entries.

    NaN entries rank last.
    """
    values = np.asarray(array, dtype=np.float64)
    magnitudes = np.nan_to_num(np.abs(values), nan=-1.0).ravel()
    order = np.argsort(-magnitudes, kind="stable")[:count]
    largest = []
    for flat_index in order:
        index = np.unravel_index(flat_index, values.shape)
        largest.append((tuple(int(i) for i in index), float(values[index])))
    return ArraySummary(values.shape, float(np.linalg.norm(values)), largest)


def _number_format(values: NDArray) -> str:
    """Return ``".4f"`` when every nonzero entry lies in [1e-3, 1e4), else ``".3e"``."""
    magnitudes = np.abs(values[np.isfinite(values) & (values != 0)])
    if magnitudes.size == 0:
        return ".4f"
    if magnitudes.min() >= 1e-3 and magnitudes.max() < 1e4:
        return ".4f"
    return ".3e"


def format_matrix(array: NDArray) -> str:
    """Format a vector or matrix with aligned columns and bracket rows.

    A vector is written as one row.
    """
    values = np.atleast_2d(np.asarray(array, dtype=np.float64))
    spec = _number_format(values)
    cells = [[format(value, spec) for value in row] for row in values]
    width = max(len(cell) for row in cells for cell in row)
    lines = [" ".join(cell.rjust(width) for cell in row) for row in cells]
    if len(lines) == 1:
        return f"[ {lines[0]} ]"
    left = ["⎡"] + ["⎢"] * (len(lines) - 2) + ["⎣"]
    right = ["⎤"] + ["⎥"] * (len(lines) - 2) + ["⎦"]
    return "\n".join(f"{lo} {line} {ro}" for lo, line, ro in zip(left, lines, right))


def format_array(array: NDArray) -> str:
    """Format ``array`` in full, or as a summary when it is wide."""
    if is_wide(np.asarray(array)):
        return str(summarize(array))
    return format_matrix(array)


# The five steps as rows of formula and value


@dataclass
class GradientCheck:
    """A gradient beside its finite-difference estimate, for one array."""

    gradient: NDArray
    estimate: NDArray | None

    def rows(self) -> list[tuple[tuple[int, ...], float, float]]:
        """Return ``(index, chain rule, estimate)`` for the entries to show.

        A wide array lists only its largest estimated entries. An entry that
        was not estimated has a NaN estimate.
        """
        gradient = np.asarray(self.gradient, dtype=np.float64)
        estimate = self.estimate
        if estimate is None:
            estimate = np.full(gradient.shape, np.nan)
        indices = list(np.ndindex(gradient.shape))
        if is_wide(gradient):
            estimated = ~np.isnan(estimate)
            magnitudes = np.where(estimated, np.abs(gradient), -1.0).ravel()
            order = np.argsort(-magnitudes, kind="stable")[:SUMMARY_ENTRIES]
            indices = [np.unravel_index(i, gradient.shape) for i in order]
        rows = []
        for index in indices:
            position = tuple(int(i) for i in index)
            rows.append((position, float(gradient[index]), float(estimate[index])))
        return rows

    def __str__(self) -> str:
        table = [("entry", "chain rule", "finite difference", "difference")]
        for index, gradient, estimate in self.rows():
            if np.isnan(estimate):
                cells = (f"{gradient:.7g}", "not estimated", "")
            else:
                difference = abs(gradient - estimate)
                cells = (f"{gradient:.7g}", f"{estimate:.7g}", f"{difference:.1e}")
            table.append((str(list(index)), *cells))

        widths = [max(len(row[column]) for row in table) for column in range(4)]
        lines = []
        if is_wide(np.asarray(self.gradient)):
            lines.append(str(summarize(self.gradient)))
        for row in table:
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
            lines.append("  ".join(cells))
        return "\n".join(lines)


Value = NDArray | float | str | GradientCheck


@dataclass
class Section:
    """One step of training: a title and its (formula, value) rows."""

    title: str
    rows: list[tuple[str, Value]] = field(default_factory=list)

    def add(self, formula: str, value: Value) -> None:
        self.rows.append((formula, value))


def trace_sections(trace: StepTrace, *, initialized: bool = False) -> list[Section]:
    """Lay ``trace`` out as the steps of training, formula beside numbers.

    ``initialized`` titles the first step as weight initialization, for a
    network that has not been trained yet. A forward-only trace yields the
    first two steps.
    """
    sections = [_initial_section(trace, initialized), _forward_section(trace)]
    if trace.has_backward:
        sections += [
            _error_section(trace),
            _backward_section(trace),
            _update_section(trace),
        ]
    return sections


def _initial_section(trace: StepTrace, initialized: bool) -> Section:
    title = "1. Weights and biases before the step"
    if initialized:
        title = "1. Initialize: random weights, biases at zero"
    section = Section(title)
    for layer in trace.layers:
        number = subscript(layer.number)
        section.add(f"W{number}  ({layer.n_in} × {layer.n_out})", layer.weights)
        section.add(f"b{number}", layer.biases)
    return section


def _forward_section(trace: StepTrace) -> Section:
    section = Section("2. Forward propagation: z = a·W + b, a = f(z)")
    inputs_label = "a₀ = X"
    if trace.input_names is not None and not is_wide(trace.inputs):
        inputs_label += f"  (columns: {', '.join(trace.input_names)})"
    section.add(inputs_label, trace.inputs)
    for layer in trace.layers:
        number = subscript(layer.number)
        previous = subscript(layer.number - 1)
        function, _ = ACTIVATION_FORMULAS[layer.activation]
        section.add(f"z{number} = a{previous}·W{number} + b{number}", layer.z)
        section.add(
            f"a{number} = {layer.activation}(z{number}),  {layer.activation}(z) = "
            f"{function}",
            layer.a,
        )
    output_label = f"ŷ = a{subscript(len(trace.layers))}"
    if trace.output_names is not None and not is_wide(trace.outputs):
        output_label += f"  (columns: {', '.join(trace.output_names)})"
    section.add(output_label, trace.outputs)
    return section


def _error_section(trace: StepTrace) -> Section:
    section = Section("3. Error: how far ŷ is from y, and the loss")
    section.add("y", trace.targets)
    section.add("e = ŷ − y", trace.error)
    per_sample = LOSS_FORMULAS[trace.loss_name]
    if trace.sample_weight is None:
        formula = f"L = (1/n) Σᵢ {per_sample},  n = {trace.n_samples}"
    else:
        formula = f"L = Σᵢ wᵢ {per_sample} / Σᵢ wᵢ"
    section.add(f"{formula}  ({trace.loss_name})", trace.loss)
    return section


def _backward_section(trace: StepTrace) -> Section:
    section = Section("4. Backpropagation: δ = ∂l/∂z per sample, then gradients")
    if trace.sample_weight is None:
        scale = " / n"
        scale_note = ""
    else:
        scale = ""
        scale_note = ",  each row of δ scaled by wᵢ / Σw"
    last = len(trace.layers)
    for layer in reversed(trace.layers):
        number = subscript(layer.number)
        previous = subscript(layer.number - 1)
        if layer.number == last:
            _add_output_delta(section, trace, layer.number)
        else:
            following = subscript(layer.number + 1)
            _, slope = ACTIVATION_FORMULAS[layer.activation]
            section.add(
                f"∂l/∂a{number} = δ{following}·W{following}ᵀ", layer.activation_gradient
            )
            section.add(f"f′(z{number}) = {slope}", layer.slope)
            section.add(
                f"δ{number} = (δ{following}·W{following}ᵀ) ⊙ f′(z{number})",
                layer.delta,
            )
        section.add(
            f"∂L/∂W{number} = a{previous}ᵀ·δ{number}{scale}{scale_note}",
            GradientCheck(layer.weight_gradient, layer.weight_gradient_estimate),
        )
        section.add(
            f"∂L/∂b{number} = Σᵢ δ{number}ᵢ{scale}{scale_note}",
            GradientCheck(layer.bias_gradient, layer.bias_gradient_estimate),
        )
    differences = trace.estimate_differences()
    if differences.size:
        section.add(
            "chain rule against finite differences",
            f"largest |difference| {differences.max():.2e} over {differences.size} "
            f"entries, step h = {trace.finite_difference_step:g}",
        )
    return section


def _add_output_delta(section: Section, trace: StepTrace, number: int) -> None:
    layer = trace.layers[-1]
    name = subscript(number)
    if trace.fused_output_delta:
        section.add(
            f"δ{name} = ŷ − y  ({layer.activation} output with {trace.loss_name}: "
            "the slope cancels)",
            layer.delta,
        )
        return
    section.add(f"∂l/∂ŷ  ({trace.loss_name})", layer.activation_gradient)
    _, slope = ACTIVATION_FORMULAS[layer.activation]
    if slope is None:
        section.add(f"δ{name} = ∂l/∂ŷ through the softmax Jacobian", layer.delta)
        return
    section.add(f"f′(z{name}) = {slope}", layer.slope)
    section.add(f"δ{name} = ∂l/∂ŷ ⊙ f′(z{name})", layer.delta)


def _update_section(trace: StepTrace) -> Section:
    config = trace.optimizer
    plain_sgd = config.get("name") == "sgd" and config.get("momentum", 0.0) == 0.0
    title = "5. Update: W ← W − η·∂L/∂W"
    if not plain_sgd:
        title = f"5. Update: one {config.get('name')} step, ΔW from its update rule"
    section = Section(title)
    section.add("η  (learning rate)", trace.learning_rate)
    for layer in trace.layers:
        number = subscript(layer.number)
        for symbol, after, change in (
            ("W", layer.weights_after, layer.weight_update),
            ("b", layer.biases_after, layer.bias_update),
        ):
            if plain_sgd:
                section.add(
                    f"{symbol}{number} ← {symbol}{number} − η·∂L/∂{symbol}{number}",
                    after,
                )
            else:
                section.add(f"Δ{symbol}{number}", change)
                section.add(
                    f"{symbol}{number} ← {symbol}{number} + Δ{symbol}{number}", after
                )
    section.add(
        "L before → after the step, same batch",
        f"{trace.loss:.6g} → {trace.loss_after:.6g}",
    )
    return section


# Terminal and HTML rendering


def render_trace(trace: StepTrace, *, initialized: bool = False) -> Group:
    """Return the rich renderable of every step of ``trace``.

    Each step is a title over a two-column table: formulas on the left,
    their numbers on the right.
    """
    parts: list[RenderableType] = []
    for section in trace_sections(trace, initialized=initialized):
        parts.append(Text("\n" + section.title, style="bold"))
        table = Table(
            box=box.SIMPLE,
            show_edge=False,
            show_header=False,
            leading=1,
            padding=(0, 2),
        )
        table.add_column("formula", style="cyan", width=FORMULA_WIDTH)
        table.add_column("value")
        for formula, value in section.rows:
            table.add_row(Text(formula), _rich_value(value))
        parts.append(table)
    return Group(*parts)


def _rich_value(value: Value) -> Text:
    if isinstance(value, np.ndarray) and not is_wide(value):
        # Matrices keep their lines whole: a wrapped row would read as two rows.
        return Text(format_matrix(value), no_wrap=True, overflow="ellipsis")
    return Text(_value_text(value))


def _value_text(value: Value) -> str:
    if isinstance(value, (str, GradientCheck)):
        return str(value)
    if isinstance(value, (float, int, np.floating)):
        return f"{float(value):.6g}"
    return format_array(value)


def trace_html(trace: StepTrace) -> str:
    """Return ``trace`` as HTML tables, one per step, for Jupyter."""
    parts = [f"<div><p><b>{html.escape(repr(trace).splitlines()[0])}</b></p>"]
    for section in trace_sections(trace):
        parts.append(f"<h4>{html.escape(section.title)}</h4><table>")
        for formula, value in section.rows:
            parts.append(
                f"<tr><td style='text-align:left'>{html.escape(formula)}</td>"
                "<td style='text-align:left'>"
                f"<pre>{html.escape(_value_text(value))}</pre></td></tr>"
            )
        parts.append("</table>")
    parts.append("</div>")
    return "\n".join(parts)
