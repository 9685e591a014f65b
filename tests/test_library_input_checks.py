"""Input checks of the Python API: each invalid input raises a clear mlpkit error."""

import os
import warnings

import numpy as np
import pandas as pd
import pytest

from mlpkit import network as network_module
from mlpkit.autoencoder import Autoencoder
from mlpkit.errors import ConvergenceWarning, DataError, ParameterError
from mlpkit.explain import explain_row
from mlpkit.importance import permutation_importance
from mlpkit.model import MLP
from mlpkit.network import Network, count_parameters
from mlpkit.tasks import TargetEncoder
from mlpkit.training import split_validation_rows

N_ROWS = 40


@pytest.fixture(autouse=True)
def ignore_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def small_model(**settings) -> MLP:
    options = {"hidden_layers": (4,), "max_epochs": 1, "batch_size": 8}
    options.update(settings)
    return MLP(**options)


@pytest.fixture
def features() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(N_ROWS, 3))


@pytest.fixture
def integer_labels(features) -> np.ndarray:
    return (features[:, 0] > 0).astype(int)


@pytest.fixture
def frame(features, integer_labels) -> pd.DataFrame:
    data = pd.DataFrame(features, columns=["a", "b", "c"])
    data["y"] = integer_labels
    return data


# Memory check of the network


def test_huge_network_rejected_before_allocating(monkeypatch):
    monkeypatch.setattr(network_module, "physical_memory_bytes", lambda: 2**30)
    sizes = [3, 10**7, 10**7, 1]
    # (3 + 1)·10⁷ + (10⁷ + 1)·10⁷ + (10⁷ + 1)·1 weights and biases.
    expected = 4 * 10**7 + (10**7 + 1) * 10**7 + 10**7 + 1

    with pytest.raises(ParameterError) as caught:
        Network(sizes)

    message = str(caught.value)
    assert f"{expected:,} parameters" in message
    assert "3 → 10000000 → 10000000 → 1" in message
    assert "PiB" in message
    assert "use fewer hidden units" in message
    assert caught.value.parameter == "layer_sizes"


@pytest.mark.parametrize(
    "sizes, activation, output_activation",
    [
        ([3, 5, 2], "relu", "identity"),
        ([4, 6, 7, 3], "tanh", "softmax"),
        ([2, 5, 1], "maxout", "sigmoid"),
    ],
)
def test_count_parameters_matches_allocation(sizes, activation, output_activation):
    network = Network(sizes, activation=activation, output_activation=output_activation)

    counted = count_parameters(sizes, activation, output_activation)

    assert counted == network.parameters.size


def test_memory_check_rejects_over_limit(monkeypatch):
    monkeypatch.setattr(network_module, "physical_memory_bytes", lambda: 1)

    with pytest.raises(ParameterError, match="more than the 1 bytes"):
        Network([3, 4, 1])


def test_memory_check_skipped_without_memory_size(monkeypatch):
    monkeypatch.setattr(network_module, "physical_memory_bytes", lambda: None)

    network = Network([3, 4, 1])

    assert network.parameters.size == 21


def test_fit_counts_batch_activations(monkeypatch, features):
    # 3 → 1000 → 1 has 5,001 float32 parameters, and one row's z, a and δ
    # take 3 · 1,001 values. The limit fits the parameter state and 16 rows.
    parameter_bytes = network_module.TRAINING_PARAMETER_COPIES * 5_001 * 4
    limit = parameter_bytes + 16 * 3 * 1_001 * 4
    monkeypatch.setattr(network_module, "physical_memory_bytes", lambda: limit)
    model = small_model(hidden_layers=(1000,), batch_size=32, validation_fraction=0.0)

    assert Network([3, 1000, 1]).parameters.size == 5_001
    with pytest.raises(ParameterError) as caught:
        model.fit(features, features[:, 0])

    assert "a batch of 32 rows" in str(caught.value)
    assert caught.value.parameter == "hidden_layers"


def test_fit_rejects_huge_hidden_layers(features):
    model = small_model(hidden_layers=(10**7, 10**7))

    with pytest.raises(ParameterError, match="use fewer hidden units"):
        model.fit(features, features[:, 0])


# Class labels


def test_classification_rejects_continuous_target(features):
    target = np.round(features[:, 0] + 2.0, 2)
    model = small_model(task="classification")

    with pytest.raises(DataError) as caught:
        model.fit(features, target)

    message = str(caught.value)
    assert "non-integer values" in message
    assert "task='regression'" in message


def test_classification_takes_integral_floats(features, integer_labels):
    target = integer_labels.astype(float) + 1.0
    model = small_model(task="classification").fit(features, target)

    assert model.classes_.tolist() == [1.0, 2.0]
    assert set(model.predict(features).tolist()) <= {1.0, 2.0}


def test_evaluate_text_labels_on_integer_model(features, integer_labels):
    model = small_model().fit(features, integer_labels)
    text_labels = np.where(integer_labels == 1, "yes", "no")

    with pytest.raises(DataError) as caught:
        model.evaluate(features, pd.Series(text_labels, name="label"))

    message = str(caught.value)
    assert "target column 'label'" in message
    assert repr(str(text_labels[0])) in message
    assert "0, 1" in message
    assert "the label is text, but the classes are numbers" in message


def test_evaluate_integer_labels_on_text_model(features, integer_labels):
    text_labels = np.where(integer_labels == 1, "yes", "no")
    model = small_model().fit(features, text_labels)

    with pytest.raises(DataError) as caught:
        model.evaluate(features, integer_labels)

    message = str(caught.value)
    assert "no, yes" in message
    assert "the label is a number, but the classes are text" in message


def test_evaluate_text_target_on_regression_model(features):
    model = small_model().fit(features, features[:, 0])
    target = pd.Series(["high"] * N_ROWS, name="price")

    with pytest.raises(DataError, match="target column 'price' has 'high' in row 1"):
        model.evaluate(features, target)


def test_transform_reports_every_missing_row():
    encoder = TargetEncoder().fit(pd.Series([1.5, 2.5, 3.5], name="y"))
    target = pd.Series([1.5, np.nan, np.nan], name="y")

    with pytest.raises(DataError, match="row 2 and 1 more row;"):
        encoder.transform(target)


# Seed


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "7"])
def test_seed_out_of_range_rejected(seed):
    expected = r"seed must be an integer in \[0, 2\*\*32\)"
    with pytest.raises(ParameterError, match=expected) as caught:
        MLP(seed=seed)

    assert caught.value.parameter == "seed"


@pytest.mark.parametrize("seed", [None, 0, 2**32 - 1, np.int64(5)])
def test_seed_in_range_accepted(seed):
    assert MLP(seed=seed).seed == seed


# Validation split


def test_validation_fraction_leaving_no_training_rows(features):
    model = small_model(validation_fraction=0.99)

    with pytest.raises(DataError) as caught:
        model.fit(features, features[:, 0])

    message = str(caught.value)
    assert f"holds out {N_ROWS} of {N_ROWS} rows" in message
    assert "lower validation_fraction" in message


def test_single_row_with_validation_rejected(features):
    model = small_model()

    with pytest.raises(DataError, match=r"holds out 1 of 1 row \(n_samples=1\)"):
        model.fit(features[:1], features[:1, 0])


def test_split_unstratified_when_training_side_small():
    labels = np.array([0, 0, 1, 1, 2, 2])

    train_rows, validation_rows = split_validation_rows(6, 0.6, 0, labels)

    assert train_rows.size == 2
    assert validation_rows.size == 4


# Feature columns


@pytest.mark.parametrize("n_columns", [2, 5])
def test_array_with_other_column_count_rejected(features, integer_labels, n_columns):
    model = small_model().fit(features, integer_labels)
    rows = np.random.default_rng(1).normal(size=(5, n_columns))

    expected = f"expected 3 columns in X, as in training, got {n_columns}"
    with pytest.raises(DataError, match=expected):
        model.predict(rows)


def test_frame_missing_column_named(frame):
    model = small_model().fit(frame[["a", "b", "c"]], frame["y"])

    with pytest.raises(DataError, match="lacks column 'c', which the model was"):
        model.predict(frame[["a", "b"]])


def test_array_columns_follow_training_order(frame):
    model = small_model().fit(frame[["a", "b", "c"]], frame["y"])

    from_frame = model.predict_outputs(frame[["a", "b", "c"]])
    from_array = model.predict_outputs(frame[["a", "b", "c"]].to_numpy())

    np.testing.assert_array_equal(from_array, from_frame)



@pytest.mark.parametrize("n_columns", [2, 5])
def test_autoencoder_array_column_count_rejected(features, n_columns):
    model = Autoencoder(hidden_layers=(2,), max_epochs=2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features)
    rows = np.random.default_rng(1).normal(size=(5, n_columns))

    expected = f"expected 3 columns in X, as in training, got {n_columns}"
    with pytest.raises(DataError, match=expected):
        model.reconstruction_error(rows)


def test_importance_array_column_count_rejected(features, integer_labels):
    model = small_model().fit(features, integer_labels)

    with pytest.raises(DataError, match="expected 3 columns in X"):
        permutation_importance(model, features[:, :2], integer_labels, n_repeats=1)


def test_importance_reads_array_by_training_names(frame):
    model = small_model().fit(frame[["a", "b", "c"]], frame["y"])

    result = permutation_importance(
        model, frame[["a", "b", "c"]].to_numpy(), frame["y"], n_repeats=1, seed=0
    )

    assert sorted(result.to_frame()["variable"]) == ["a", "b", "c"]


# Saving


@pytest.fixture
def fitted(features, integer_labels) -> MLP:
    return small_model().fit(features, integer_labels)


@pytest.mark.parametrize("umask, expected_mode", [(0o022, 0o644), (0o077, 0o600)])
def test_saved_file_mode_follows_umask(tmp_path, fitted, umask, expected_mode):
    path = tmp_path / "model.mlp"
    previous = os.umask(umask)
    try:
        fitted.save(path)
    finally:
        os.umask(previous)

    assert path.stat().st_mode & 0o777 == expected_mode


def test_overwritten_file_keeps_its_mode(tmp_path, fitted):
    path = tmp_path / "model.mlp"
    fitted.save(path)
    path.chmod(0o640)

    fitted.save(path)

    assert path.stat().st_mode & 0o777 == 0o640


def test_save_to_directory_rejected(tmp_path, fitted):
    with pytest.raises(ParameterError, match="is a directory; pass a file") as caught:
        fitted.save(tmp_path)

    assert repr(str(tmp_path)) in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_save_to_missing_directory_rejected(tmp_path, fitted):
    missing = tmp_path / "missing"

    with pytest.raises(ParameterError, match="does not exist; create the directory"):
        fitted.save(missing / "model.mlp")

    assert not missing.exists()


# Explaining a row


def test_explain_row_with_empty_target(frame):
    model = small_model().fit(frame[["a", "b", "c"]], frame["y"])
    data = frame.astype({"y": float})
    data.loc[1, "y"] = np.nan

    with pytest.raises(DataError) as caught:
        explain_row(model, data, row=2)

    message = str(caught.value)
    assert "row 2 has no value in the target column 'y'" in message
    assert "y_true" not in message


def test_trace_with_empty_target_names_row(frame):
    model = small_model().fit(frame[["a", "b", "c"]], frame["y"].astype(float))
    target = frame["y"].astype(float).iloc[:3].copy()
    target.iloc[2] = np.nan

    with pytest.raises(DataError, match="'y' is missing a value in row 3;"):
        model.trace(frame[["a", "b", "c"]].iloc[:3], target)


# Parameter errors


def test_parameter_error_defaults_to_no_parameter():
    assert ParameterError("invalid").parameter is None


def test_infinite_learning_rate_message():
    with pytest.raises(ParameterError, match="a positive finite number") as caught:
        MLP(learning_rate=float("inf"))

    assert caught.value.parameter == "learning_rate"


def test_validation_fraction_error_names_parameter():
    with pytest.raises(ParameterError) as caught:
        MLP(validation_fraction=1.5)

    assert caught.value.parameter == "validation_fraction"
