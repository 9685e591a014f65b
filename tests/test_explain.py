"""Explaining a step: the XOR demo, a saved model's row, loss tables, array views."""

import io
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from mlpkit import MLP
from mlpkit.errors import ConvergenceWarning, DataError, ParameterError
from mlpkit.explain import (
    SPARK_LEVELS,
    XOR_INPUTS,
    XOR_TARGETS,
    explain_row,
    explain_xor,
    loss_curve,
    render_explanation,
    render_losses,
    sparkline,
    split_model_data,
    xor_network,
)
from mlpkit.network import Network
from mlpkit.optimizers import SGD
from mlpkit.trace_view import (
    SUMMARY_ENTRIES,
    GradientCheck,
    format_matrix,
    render_trace,
    summarize,
    trace_sections,
)


def render_text(renderable, width=120):
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None).print(renderable)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def xor_text():
    explanation = explain_xor()
    return explanation, render_text(render_explanation(explanation))


# The XOR demo


@pytest.mark.parametrize(
    "formula",
    [
        "1. Initialize",
        "z₁ = a₀·W₁ + b₁",
        "a₁ = sigmoid(z₁)",
        "z₂ = a₁·W₂ + b₂",
        "e = ŷ − y",
        "L = (1/n) Σᵢ −[yᵢ log ŷᵢ + (1 − yᵢ) log(1 − ŷᵢ)],",
        "δ₂ = ŷ − y",
        "∂l/∂a₁ = δ₂·W₂ᵀ",
        "f′(z₁) = a ⊙ (1 − a)",
        "δ₁ = (δ₂·W₂ᵀ) ⊙ f′(z₁)",
        "∂L/∂W₂ = a₁ᵀ·δ₂ / n",
        "∂L/∂b₁ = Σᵢ δ₁ᵢ / n",
        "W₁ ← W₁ − η·∂L/∂W₁",
        "finite difference",
    ],
)
def test_xor_sections_have_formula(xor_text, formula):
    explanation, _ = xor_text
    sections = trace_sections(explanation.trace, initialized=True)
    formulas = [section.title for section in sections]
    for section in sections:
        formulas += [row_formula for row_formula, _ in section.rows]

    assert any(formula in text for text in formulas)


@pytest.mark.parametrize("formula", ["z₁ = a₀·W₁ + b₁", "δ₁ = (δ₂·W₂ᵀ) ⊙ f′(z₁)"])
def test_xor_prints_formula(xor_text, formula):
    _, text = xor_text

    assert formula in text


def test_xor_shows_the_trace_numbers(xor_text):
    explanation, text = xor_text
    trace = explanation.trace

    assert f"{trace.loss:.6g} → {trace.loss_after:.6g}" in text
    for line in format_matrix(trace.layers[0].weights).splitlines():
        assert line in text
    for line in format_matrix(trace.layers[1].weights_after).splitlines():
        assert line in text
    gradient = trace.layers[0].weight_gradient[0, 1]
    estimate = trace.layers[0].weight_gradient_estimate[0, 1]
    assert f"{gradient:.7g}" in text
    assert f"{estimate:.7g}" in text


def test_xor_chain_rule_agrees_with_slope(xor_text):
    explanation, _ = xor_text

    differences = explanation.trace.estimate_differences()

    assert differences.size == 9
    assert differences.max() < 1e-9


def test_xor_is_seeded():
    first = explain_xor().trace
    second = explain_xor().trace

    assert first.loss == second.loss
    assert explain_xor(seed=1).trace.loss != first.loss


def test_xor_steps_show_loss_falling():
    explanation = explain_xor(steps=40)
    text = render_text(render_explanation(explanation))

    assert len(explanation.losses) == 41
    assert np.all(np.diff(explanation.losses) < 0)
    assert explanation.losses[0] == explanation.trace.loss
    assert "Loss over 40 steps" in text
    assert SPARK_LEVELS[-1] in text


def test_xor_demo_learns_xor():
    network = xor_network()
    optimizer = SGD(learning_rate=1.0)
    for _ in range(1000):
        network.trace(
            XOR_INPUTS, XOR_TARGETS, optimizer, update=True, finite_differences=False
        )

    predictions = network.forward(XOR_INPUTS) >= 0.5

    np.testing.assert_array_equal(predictions, XOR_TARGETS == 1)


def test_one_step_has_no_loss_table():
    explanation = explain_xor(steps=1)

    assert explanation.losses is None
    assert "Loss over" not in render_text(render_explanation(explanation))


@pytest.mark.parametrize("steps", [0, -3])
def test_steps_below_one_rejected(steps):
    with pytest.raises(ParameterError, match="steps must be at least 1"):
        explain_xor(steps=steps)


def test_loss_curve_leaves_network_alone():
    network = xor_network()
    before = network.parameters.copy()

    losses = loss_curve(network, XOR_INPUTS, XOR_TARGETS, SGD(1.0), steps=5)

    assert len(losses) == 6
    np.testing.assert_array_equal(network.parameters, before)


# Sparkline and loss table


def test_sparkline_rises_low_to_high():
    line = sparkline([1.0, 2.0, 3.0, 4.0])

    assert line[0] == SPARK_LEVELS[0]
    assert line[-1] == SPARK_LEVELS[-1]
    assert len(line) == 4


def test_sparkline_constant_series():
    assert sparkline([0.5, 0.5, 0.5]) == SPARK_LEVELS[0] * 3


def test_sparkline_samples_long_series():
    line = sparkline(np.linspace(1.0, 0.0, 500), width=30)

    assert len(line) == 30
    assert line[0] == SPARK_LEVELS[-1]
    assert line[-1] == SPARK_LEVELS[0]


def test_sparkline_blanks_non_finite():
    assert sparkline([1.0, np.nan, 2.0])[1] == " "


def test_loss_table_elides_long_runs():
    losses = list(np.linspace(1.0, 0.1, 101))

    text = render_text(render_losses(losses))

    assert "Loss over 100 steps" in text
    assert "…" in text
    assert "│        100 │" in text
    assert "│         50 │" not in text


# Wide arrays


def test_wide_layer_shows_summary():
    network = Network([20, 30, 2], seed=0)
    rng = np.random.default_rng(0)

    text = render_text(
        render_trace(network.trace(rng.normal(size=(3, 20)), np.ones((3, 2))))
    )

    assert "shape (20, 30)" in text
    assert "largest:" in text
    numbers_per_line = [
        len(re.findall(r"-?\d+\.\d{4}", line)) for line in text.splitlines()
    ]
    assert max(numbers_per_line) <= 8


def test_summary_lists_largest_entries_first():
    summary = summarize(np.array([[0.1, -3.0], [2.0, 0.5]]), count=2)

    assert summary.shape == (2, 2)
    assert summary.largest == [((0, 1), -3.0), ((1, 0), 2.0)]
    assert summary.norm == pytest.approx(np.sqrt(0.01 + 9 + 4 + 0.25))


def test_wide_gradient_check_lists_largest():
    gradient = np.arange(100.0).reshape(10, 10)

    rows = GradientCheck(gradient, gradient + 1e-9).rows()

    assert len(rows) == SUMMARY_ENTRIES
    assert rows[0][0] == (9, 9)
    assert rows[0][1] == 99.0


def test_gradient_check_marks_missing_estimates():
    text = str(GradientCheck(np.array([1.0, 2.0]), np.array([1.0, np.nan])))

    assert "not estimated" in text


def test_format_matrix_vector_and_small_values():
    assert format_matrix(np.array([1.0, -2.0])) == "[  1.0000 -2.0000 ]"
    assert "e-06" in format_matrix(np.array([[1e-6, 2e-6], [3e-6, 4e-6]]))


def test_forward_only_sections():
    network = Network([2, 3, 1], seed=0)

    sections = trace_sections(network.trace([[1.0, 2.0]]))

    assert len(sections) == 2
    assert sections[1].title.startswith("2. Forward propagation")


# A saved model's row


@pytest.fixture(scope="module")
def model_and_frame():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=50),
            "x2": rng.normal(size=50),
            "color": rng.choice(["red", "blue"], 50),
        }
    )
    frame["label"] = np.where(frame["x1"] > 0, "yes", "no")
    model = MLP(hidden_layers=(5,), max_epochs=3, learning_rate=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(frame.drop(columns=["label"]), frame["label"])
    return model, frame


def test_explain_row_with_target(model_and_frame):
    model, frame = model_and_frame
    before = model.network_.parameters.copy()

    explanation = explain_row(model, frame, row=3, steps=4, source="data.csv")
    text = render_text(render_explanation(explanation))

    assert explanation.trace.has_backward
    assert explanation.title.startswith("Row 3 (line 4 of data.csv) through")
    assert len(explanation.losses) == 5
    assert "The row as read" in text
    assert "x1=" not in text
    assert "color=red" in text
    assert "one adam step from a fresh state" in text
    np.testing.assert_array_equal(model.network_.parameters, before)


def test_explain_row_shows_brackets_verbatim(model_and_frame):
    model, frame = model_and_frame
    row = frame.iloc[[0]].assign(note="[bold]x[/bold]")

    text = render_text(render_explanation(explain_row(model, row)))

    assert "[bold]x[/bold]" in text


def test_explain_row_trace_matches_model(model_and_frame):
    model, frame = model_and_frame

    explanation = explain_row(model, frame, row=2)
    row = frame.drop(columns=["label"]).iloc[[1]]

    np.testing.assert_array_equal(explanation.trace.outputs, model.predict_outputs(row))
    assert f"predicts {model.predict(row)[0]!r}" in explanation.notes[0]


def test_explain_row_without_target(model_and_frame):
    model, frame = model_and_frame

    explanation = explain_row(model, frame.drop(columns=["label"]), row=1)
    text = render_text(render_explanation(explanation))

    assert not explanation.trace.has_backward
    assert "no target column 'label'" in text
    assert "Backpropagation" not in text


@pytest.mark.parametrize("row", [0, 51, -1])
def test_explain_row_out_of_range(model_and_frame, row):
    model, frame = model_and_frame

    with pytest.raises(ParameterError, match="row must be between 1 and 50"):
        explain_row(model, frame, row=row)


def test_split_model_data_rejects_partial_targets():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=30), "price": rng.normal(size=30)})
    frame["cost"] = frame["x"] * 2
    model = MLP(hidden_layers=(3,), max_epochs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(frame[["x"]], frame[["price", "cost"]])

    with pytest.raises(DataError, match="lacks 'cost'"):
        split_model_data(model, frame.drop(columns=["cost"]))
