"""Variable importance: permutation importance and Gedeon's weight-based measure."""

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP, Network
from mlpkit.errors import (
    ConvergenceWarning,
    DataError,
    NotFittedError,
    ParameterError,
)
from mlpkit.importance import (
    PermutationImportance,
    gedeon_importance,
    input_columns,
    permutation_importance,
)
from mlpkit.preprocessing import TabularPreprocessor

TRAINING_ROWS = 300
SETTINGS = {
    "hidden_layers": (16,),
    "activation": "tanh",
    "learning_rate": 0.01,
    "max_epochs": 120,
}


def make_data(task, seed=0, n_samples=400):
    """Return one informative column, ``signal``, among three noise columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"signal": rng.normal(size=n_samples)})
    for index in range(3):
        frame[f"noise{index}"] = rng.normal(size=n_samples)
    if task == "regression":
        target = np.sin(2.0 * frame["signal"]) + 0.1 * rng.normal(size=n_samples)
    else:
        target = np.where(frame["signal"] > 0, "yes", "no")
    return frame, pd.Series(target, name="target")


def train_quietly(frame, target, **settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLP(**{**SETTINGS, **settings}).fit(frame, target)


@pytest.fixture(scope="module", params=["classification", "regression"])
def trained(request):
    frame, target = make_data(request.param)
    model = train_quietly(frame.iloc[:TRAINING_ROWS], target.iloc[:TRAINING_ROWS])
    held_out = frame.iloc[TRAINING_ROWS:], target.iloc[TRAINING_ROWS:]
    return model, held_out


def fake_model(network, frame):
    """Return an object with the two attributes gedeon_importance reads."""
    preprocessor = TabularPreprocessor().fit(frame)
    return SimpleNamespace(network_=network, preprocessor_=preprocessor)


# Permutation importance


def test_permutation_ranks_signal_above_noise(trained):
    model, (frame, target) = trained

    table = permutation_importance(model, frame, target, seed=0).to_frame()

    assert table["variable"].iloc[0] == "signal"
    noise = table.set_index("variable").loc[["noise0", "noise1", "noise2"]]
    assert table["importance_mean"].iloc[0] > 5 * noise["importance_mean"].max()


def test_permutation_metric_follows_task(trained):
    model, (frame, target) = trained

    result = permutation_importance(model, frame, target, n_repeats=1)

    expected = "r2" if model.task_ == "regression" else "accuracy"
    assert result.metric == expected


def test_permutation_baseline_is_model_score(trained):
    model, (frame, target) = trained

    result = permutation_importance(model, frame, target, n_repeats=1)

    scores = model.evaluate(frame, target)
    assert result.baseline_score == pytest.approx(scores[result.metric])


def test_permutation_importances_have_one_row_per_column(trained):
    model, (frame, target) = trained

    result = permutation_importance(model, frame, target, n_repeats=3)

    assert isinstance(result, PermutationImportance)
    assert result.columns == ["signal", "noise0", "noise1", "noise2"]
    assert result.importances.shape == (4, 3)


def test_permutation_same_seed_same_result(trained):
    model, (frame, target) = trained

    first = permutation_importance(model, frame, target, n_repeats=2, seed=4)
    second = permutation_importance(model, frame, target, n_repeats=2, seed=4)

    np.testing.assert_array_equal(first.importances, second.importances)


def test_permutation_ignores_extra_columns(trained):
    model, (frame, target) = trained
    extended = frame.assign(unused=1.0)

    result = permutation_importance(model, extended, target, n_repeats=1)

    assert "unused" not in result.columns


def test_permutation_permutes_categorical_column_as_one():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "color": rng.choice(["red", "green", "blue"], 300),
            "noise": rng.normal(size=300),
        }
    )
    label = np.where(frame["color"] == "red", "warm", "cold")
    model = train_quietly(frame.iloc[:200], label[:200])

    result = permutation_importance(model, frame.iloc[200:], label[200:])

    assert result.columns == ["color", "noise"]
    assert result.to_frame()["variable"].iloc[0] == "color"


def test_permutation_missing_column_raises(trained):
    model, (frame, target) = trained

    with pytest.raises(DataError, match="'noise1'"):
        permutation_importance(model, frame.drop(columns="noise1"), target)


def test_permutation_mismatched_rows_raise(trained):
    model, (frame, target) = trained

    with pytest.raises(DataError, match="must match"):
        permutation_importance(model, frame, target.iloc[:-1])


@pytest.mark.parametrize("n_repeats", [0, -2, True])
def test_permutation_invalid_repeats_raise(trained, n_repeats):
    model, (frame, target) = trained

    with pytest.raises(ParameterError, match="n_repeats"):
        permutation_importance(model, frame, target, n_repeats=n_repeats)


def test_permutation_unfitted_model_raises():
    frame, target = make_data("regression")

    with pytest.raises(NotFittedError):
        permutation_importance(MLP(), frame, target)


# Gedeon's weight-based importance


def test_gedeon_ranks_signal_above_noise(trained):
    model, _ = trained

    table = gedeon_importance(model)

    assert table["variable"].iloc[0] == "signal"
    assert table["scaled_importance"].iloc[1] < 0.5


def test_gedeon_matches_hand_computation():
    # Inputs a, b; hidden units u, v; one output.
    # Q¹ columns: u gets |1|, |1| → (½, ½); v gets 0, |−2| → (0, 1).
    # Q² column: |3|, |1| → (¾, ¼).  P = Q¹ Q² = (⅜, ⅝).
    network = Network([2, 2, 1], activation="tanh", seed=0)
    network.layers[0].weights[...] = [[1.0, 0.0], [1.0, -2.0]]
    network.layers[1].weights[...] = [[3.0], [-1.0]]
    model = fake_model(network, pd.DataFrame({"a": [0.0, 1.0], "b": [1.0, 0.0]}))

    table = gedeon_importance(model).set_index("variable")

    assert table.loc["a", "relative_importance"] == pytest.approx(0.375)
    assert table.loc["b", "relative_importance"] == pytest.approx(0.625)
    assert table.loc["a", "scaled_importance"] == pytest.approx(0.6)
    assert table.loc["a", "percentage"] == pytest.approx(0.375)


def h2o_loops(first, second):
    """Compute Gedeon's measure over two weight matrices in H2O 3's nested loops."""
    n_inputs, n_hidden = first.shape
    n_outputs = second.shape[1]
    into_hidden = np.abs(first).sum(axis=0)
    into_output = np.abs(second).sum(axis=0)
    shares = np.zeros((n_inputs, n_outputs))
    for i in range(n_inputs):
        for k in range(n_outputs):
            for j in range(n_hidden):
                shares[i, k] += (
                    abs(first[i, j])
                    / into_hidden[j]
                    * abs(second[j, k])
                    / into_output[k]
                )
    shares /= shares.sum(axis=0)
    importance = shares.sum(axis=1)
    return importance / importance.max()


def test_gedeon_depth_two_matches_h2o_loops():
    network = Network([5, 4, 3, 2], activation="relu", seed=7, dtype="float64")
    frame = pd.DataFrame(np.eye(5), columns=list("abcde"))
    model = fake_model(network, frame)

    table = gedeon_importance(model, per="input", depth=2).set_index("variable")

    expected = h2o_loops(network.layers[0].weights, network.layers[1].weights)
    np.testing.assert_allclose(table.loc[list("abcde"), "scaled_importance"], expected)


def test_gedeon_sums_one_hot_inputs_per_column():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"size": rng.normal(size=30), "color": rng.choice(["r", "g", "b"], 30)}
    )
    network = Network([4, 3, 1], activation="tanh", seed=1)
    model = fake_model(network, frame)

    per_input = gedeon_importance(model, per="input").set_index("variable")
    per_column = gedeon_importance(model).set_index("variable")

    one_hot = ["color=b", "color=g", "color=r"]
    assert per_column.loc["color", "relative_importance"] == pytest.approx(
        per_input.loc[one_hot, "relative_importance"].sum()
    )
    assert list(per_column.index) != list(per_input.index)


def test_input_columns_maps_inputs_to_raw_columns():
    frame = pd.DataFrame({"color": ["r", "g"], "size": [1.0, 2.0], "shape": ["o", "o"]})

    preprocessor = TabularPreprocessor().fit(frame)

    assert input_columns(preprocessor) == ["size", "color", "color", "shape"]
    assert len(input_columns(preprocessor)) == preprocessor.n_features_out_


def test_gedeon_scales_and_percentages(trained):
    model, _ = trained

    table = gedeon_importance(model)

    assert table["scaled_importance"].max() == pytest.approx(1.0)
    assert table["percentage"].sum() == pytest.approx(1.0)
    assert table["relative_importance"].is_monotonic_decreasing


def test_gedeon_relative_importance_sums_to_outputs():
    network = Network([4, 6, 5, 3], activation="tanh", seed=2)
    model = fake_model(network, pd.DataFrame(np.eye(4), columns=list("abcd")))

    table = gedeon_importance(model)

    # Every column of P sums to 1, so the importances sum to the number of outputs.
    assert table["relative_importance"].sum() == pytest.approx(3.0)


def test_gedeon_sums_maxout_pieces():
    network = Network([2, 1, 1], activation="maxout", seed=0, maxout_pieces=2)
    network.layers[0].weights[...] = [[1.0, 1.0], [0.0, 2.0]]
    network.layers[1].weights[...] = [[1.0]]
    model = fake_model(network, pd.DataFrame({"a": [0.0, 1.0], "b": [1.0, 0.0]}))

    table = gedeon_importance(model).set_index("variable")

    # The unit's pieces sum to |a| = 2 and |b| = 2.
    assert table.loc["a", "relative_importance"] == pytest.approx(0.5)


def test_gedeon_unit_without_weights_contributes_nothing():
    network = Network([2, 2, 1], activation="tanh", seed=0)
    network.layers[0].weights[...] = [[1.0, 0.0], [1.0, 0.0]]
    network.layers[1].weights[...] = [[1.0], [1.0]]
    model = fake_model(network, pd.DataFrame({"a": [0.0, 1.0], "b": [1.0, 0.0]}))

    table = gedeon_importance(model)

    assert np.isfinite(table["relative_importance"]).all()
    assert table["relative_importance"].sum() == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"per": "row"}, "per must be"),
        ({"depth": 0}, "depth"),
        ({"depth": 3}, "depth"),
        ({"depth": True}, "depth"),
    ],
)
def test_gedeon_invalid_options_raise(trained, options, message):
    model, _ = trained

    with pytest.raises(ParameterError, match=message):
        gedeon_importance(model, **options)


def test_gedeon_unfitted_model_raises():
    with pytest.raises(NotFittedError):
        gedeon_importance(MLP())
