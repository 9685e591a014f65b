"""Plots written as PNG files: learning curves, results, networks and boundaries."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP
from mlpkit.errors import (
    ConvergenceWarning,
    DataError,
    MissingDependencyError,
    MlpkitError,
    ParameterError,
)
from mlpkit.network import Network
from mlpkit.plotting import (
    draw_decision_boundary,
    new_figure,
    plot_learning_curves,
    plot_model,
    plot_model_network,
    plot_network,
    save_figure,
)
from mlpkit.training import History

matplotlib_image = pytest.importorskip("matplotlib.image")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SRC = Path(__file__).resolve().parents[1] / "src"


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib_image.imread(path)
    assert image.ndim == 3
    assert image.shape[0] > 100
    assert image.shape[1] > 100
    assert image.shape[2] == 4


def fit_quietly(model, features, target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(features, target)


@pytest.fixture(scope="module")
def two_class_2d():
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    target = pd.Series(
        np.where(features["a"] * features["b"] > 0, "same", "other"), name="sign"
    )
    model = fit_quietly(
        MLP(hidden_layers=(6,), max_epochs=8, learning_rate=0.05), features, target
    )
    return model, features, target.to_frame()


@pytest.fixture(scope="module")
def three_class_2d():
    rng = np.random.default_rng(1)
    features = pd.DataFrame({"a": rng.normal(size=90), "b": rng.normal(size=90)})
    target = pd.Series(
        np.select([features["a"] > 0.5, features["b"] > 0], ["x", "y"], "z"),
        name="kind",
    )
    model = fit_quietly(
        MLP(hidden_layers=(6,), max_epochs=8, learning_rate=0.05), features, target
    )
    return model, features, target.to_frame()


@pytest.fixture(scope="module")
def regression_mixed():
    rng = np.random.default_rng(2)
    features = pd.DataFrame(
        {
            "size": rng.normal(size=80),
            "age": rng.normal(size=80),
            "color": rng.choice(["red", "blue"], 80),
        }
    )
    target = (3 * features["size"] - features["age"]).rename("price").to_frame()
    model = fit_quietly(
        MLP(hidden_layers=(5,), max_epochs=8, learning_rate=0.05), features, target
    )
    return model, features, target


# Learning curves and results


def test_learning_curves_png(two_class_2d, tmp_path):
    model, _, _ = two_class_2d
    path = tmp_path / "curves.png"

    save_figure(plot_learning_curves(model.history_), path)

    assert_png(path)


def test_learning_curves_mark_best_epoch(two_class_2d):
    model, _, _ = two_class_2d

    figure = plot_learning_curves(model.history_)
    _, labels = figure.axes[0].get_legend_handles_labels()

    best = model.history_.best_epoch
    assert f"best epoch {best} (weights restored)" in labels
    assert "validation loss" in labels


def test_learning_curves_without_history(tmp_path):
    path = tmp_path / "empty.png"

    save_figure(plot_learning_curves(History()), path)

    assert_png(path)


def test_classifier_report_png(two_class_2d, tmp_path):
    model, features, target = two_class_2d
    path = tmp_path / "report.png"

    figure = plot_model(model, features, target)
    save_figure(figure, path)

    titles = [axis.get_title() for axis in figure.axes]
    assert any(title.startswith("Confusion matrix") for title in titles)
    assert "Decision boundary" in titles
    assert_png(path)


def test_multiclass_report_png(three_class_2d, tmp_path):
    model, features, target = three_class_2d
    path = tmp_path / "report.png"

    save_figure(plot_model(model, features, target), path)

    assert_png(path)


def test_regression_report_png(regression_mixed, tmp_path):
    model, features, target = regression_mixed
    path = tmp_path / "report.png"

    figure = plot_model(model, features, target)
    save_figure(figure, path)

    titles = [axis.get_title() for axis in figure.axes]
    assert any(title.startswith("Predicted against true") for title in titles)
    assert "Decision boundary" not in titles
    assert_png(path)


def test_report_without_data_has_curves_only(regression_mixed):
    model, _, _ = regression_mixed

    figure = plot_model(model)

    assert figure.axes[0].get_title() == "Loss per epoch"
    assert len(figure.axes) == 3


def test_report_needs_target_with_data(regression_mixed):
    model, features, _ = regression_mixed

    with pytest.raises(DataError, match="target column 'price'"):
        plot_model(model, features)


def test_regression_boundary_on_two_inputs(tmp_path):
    rng = np.random.default_rng(3)
    features = pd.DataFrame({"u": rng.uniform(size=60), "v": rng.uniform(size=60)})
    target = (features["u"] + features["v"]).rename("sum").to_frame()
    model = fit_quietly(MLP(hidden_layers=(4,), max_epochs=5), features, target)
    path = tmp_path / "surface.png"

    figure = plot_model(model, features, target)
    save_figure(figure, path)

    assert "Predicted sum over the inputs" in [axis.get_title() for axis in figure.axes]
    assert_png(path)


def test_multilabel_report_counts_outcomes(tmp_path):
    rng = np.random.default_rng(4)
    features = rng.normal(size=(90, 2))
    labels = np.column_stack([features[:, 0] > 0, features[:, 1] > 0]).astype(int)
    model = fit_quietly(
        MLP(hidden_layers=(6,), max_epochs=8, task="multilabel"), features, labels
    )
    path = tmp_path / "report.png"

    figure = plot_model(model, features, labels)
    save_figure(figure, path)

    panels = {axis.get_title(): axis for axis in figure.axes}
    outcome_titles = [title for title in panels if title.startswith("Outcomes per")]
    assert len(outcome_titles) == 1
    counts = panels[outcome_titles[0]].images[0].get_array()
    predicted = model.predict(features)
    true_positives = ((predicted == 1) & (labels == 1)).sum(axis=0)
    np.testing.assert_array_equal(counts[:, 3], true_positives)
    np.testing.assert_array_equal(counts.sum(axis=1), [90, 90])
    assert "Decision boundary per label" in panels
    assert len(panels["Decision boundary per label"].get_legend().get_texts()) == 2
    assert_png(path)


def test_boundary_takes_array_features(two_class_2d):
    model, features, target = two_class_2d
    figure = new_figure(4, 4)
    axis = figure.subplots()

    draw_decision_boundary(axis, model, features.to_numpy(), target)

    assert axis.get_title() == "Decision boundary"
    assert axis.get_xlabel() == "a"


def test_boundary_rejects_three_inputs(regression_mixed):
    model, features, target = regression_mixed
    figure = new_figure(4, 4)

    with pytest.raises(ParameterError, match="exactly two numeric input columns"):
        draw_decision_boundary(figure.subplots(), model, features, target)


# Networks


def test_network_drawing_png(two_class_2d, tmp_path):
    model, _, _ = two_class_2d
    path = tmp_path / "network.png"

    save_figure(plot_model_network(model), path)

    assert_png(path)


def test_wide_network_is_summarized(tmp_path):
    network = Network([50, 100, 3], seed=0)
    path = tmp_path / "wide.png"

    figure = plot_network(network)
    save_figure(figure, path)

    texts = [text.get_text() for text in figure.axes[0].texts]
    assert "⋮ 18 more" in texts
    assert "⋮ 68 more" in texts
    assert_png(path)


# Writing files


def test_save_rejects_other_suffix(two_class_2d, tmp_path):
    model, _, _ = two_class_2d

    with pytest.raises(ParameterError, match="must end in .png"):
        save_figure(plot_learning_curves(model.history_), tmp_path / "curves.jpg")


def test_save_rejects_missing_directory(two_class_2d, tmp_path):
    model, _, _ = two_class_2d

    with pytest.raises(ParameterError, match="not found"):
        save_figure(plot_learning_curves(model.history_), tmp_path / "no" / "c.png")


def test_save_leaves_only_the_png(two_class_2d, tmp_path):
    model, _, _ = two_class_2d

    save_figure(plot_learning_curves(model.history_), tmp_path / "curves.png")

    assert sorted(path.name for path in tmp_path.iterdir()) == ["curves.png"]


# matplotlib as an optional dependency


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)

    with pytest.raises(MissingDependencyError) as raised:
        plot_learning_curves(History())

    assert isinstance(raised.value, MlpkitError)
    assert "pip install 'mlpkit[plot]'" in str(raised.value)


def test_import_does_not_load_matplotlib():
    code = (
        "import sys, mlpkit.plotting, mlpkit.network_drawing, mlpkit.explain, "
        "mlpkit.trace, mlpkit.trace_view, mlpkit.cli; "
        "print('matplotlib' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}

    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
