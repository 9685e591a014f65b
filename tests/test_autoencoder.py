"""The autoencoder: training, anomaly ranking, and its model files."""

import warnings

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP
from mlpkit.autoencoder import Autoencoder, default_hidden_layers
from mlpkit.errors import (
    ConvergenceWarning,
    ModelFileError,
    NotFittedError,
    ParameterError,
)
from mlpkit.modelfile import load_model_file, save_model_file


def make_planted_outliers(seed, n_samples=300, n_outliers=5, strength=4.0):
    """Return 8 columns driven by 2 latent factors, and the rows moved off that plane.

    Each outlier is a normal row pushed ``strength`` root-mean-square column
    standard deviations along a direction orthogonal to the plane, so its
    columns no longer agree with each other although each stays in a usual
    range.
    """
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(2, 8))
    latent = rng.normal(size=(n_samples, 2))
    values = latent @ mixing + 0.1 * rng.normal(size=(n_samples, 8))

    basis, _ = np.linalg.qr(np.vstack([mixing, rng.normal(size=(6, 8))]).T)
    orthogonal = basis[:, 2:]
    scale = np.sqrt(np.mean(values.std(axis=0) ** 2))
    outliers = rng.choice(n_samples, n_outliers, replace=False)
    for row in outliers:
        direction = orthogonal @ rng.normal(size=6)
        values[row] += strength * scale * direction / np.linalg.norm(direction)
    frame = pd.DataFrame(values, columns=[f"c{i}" for i in range(8)])
    return frame, outliers


def fit_quietly(model, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, **kwargs)


@pytest.fixture(scope="module")
def trained():
    frame, outliers = make_planted_outliers(seed=0)
    model = fit_quietly(Autoencoder(learning_rate=0.01), frame)
    return model, frame, outliers


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_outliers_rank_first(seed):
    frame, outliers = make_planted_outliers(seed)
    model = fit_quietly(Autoencoder(learning_rate=0.01), frame)

    ranked = model.rank_anomalies(frame, top=len(outliers))

    assert set(ranked["row"]) == set(outliers)


def test_outliers_score_well_above_median(trained):
    model, frame, outliers = trained

    errors = model.reconstruction_error(frame)

    assert errors[outliers].min() > 10 * np.median(errors)


@pytest.mark.parametrize(
    ("n_inputs", "expected"),
    [
        (1, (2, 1, 2)),
        (4, (2, 1, 2)),
        (8, (4, 2, 4)),
        (9, (4, 2, 4)),
        (64, (32, 16, 32)),
    ],
)
def test_default_hidden_layers(n_inputs, expected):
    assert default_hidden_layers(n_inputs) == expected


def test_default_architecture_has_bottleneck(trained):
    model, _, _ = trained

    assert model.network_.layer_sizes == [8, 4, 2, 4, 8]
    assert model.network_.output_activation == "identity"
    assert model.network_.loss.name == "squared_error"


def test_reconstruction_error_is_mean_squared_residual(trained):
    model, frame, _ = trained
    rows = frame.iloc[:10]

    inputs = model.transform_inputs(rows).astype(np.float64)
    outputs = model.reconstruct(rows).astype(np.float64)
    expected = ((outputs - inputs) ** 2).mean(axis=1)

    np.testing.assert_allclose(model.reconstruction_error(rows), expected)


def test_reconstruction_error_matches_training_loss(trained):
    model, frame, _ = trained

    errors = model.reconstruction_error(frame)
    inputs = model.transform_inputs(frame)
    loss = model.network_.loss_value(inputs, inputs)

    assert errors.mean() == pytest.approx(2 * loss / inputs.shape[1], rel=1e-4)


def test_column_errors_sum_to_row_error():
    rng = np.random.default_rng(0)
    size = rng.normal(size=120)
    frame = pd.DataFrame({"size": size, "band": np.where(size > 0, "high", "low")})
    model = fit_quietly(Autoencoder(max_epochs=20), frame)

    errors = model.column_errors(frame)

    assert list(errors.columns) == ["size", "band"]
    np.testing.assert_allclose(
        errors.sum(axis=1), model.reconstruction_error(frame), rtol=1e-12
    )


def test_column_errors_name_the_broken_column(trained):
    model, frame, _ = trained
    broken = frame.iloc[:20].copy()
    broken["c3"] += 5 * frame["c3"].std()

    errors = model.column_errors(broken)

    assert (errors.idxmax(axis=1) == "c3").mean() > 0.8


def test_rank_anomalies_orders_by_error(trained):
    model, frame, _ = trained

    ranked = model.rank_anomalies(frame)

    assert list(ranked.columns) == ["row", "reconstruction_error"]
    assert len(ranked) == len(frame)
    assert ranked["reconstruction_error"].is_monotonic_decreasing


@pytest.mark.parametrize("top", [0, -1, True])
def test_rank_anomalies_rejects_invalid_top(trained, top):
    model, frame, _ = trained

    with pytest.raises(ParameterError, match="top"):
        model.rank_anomalies(frame, top=top)


def test_categorical_columns_are_one_hot_inputs():
    rng = np.random.default_rng(0)
    size = rng.normal(size=120)
    frame = pd.DataFrame({"size": size, "band": np.where(size > 0, "high", "low")})

    model = fit_quietly(Autoencoder(max_epochs=20), frame)

    assert model.network_.layer_sizes[0] == 3
    assert model.reconstruction_error(frame).shape == (120,)


def test_numpy_array_input():
    frame, _ = make_planted_outliers(seed=0, n_samples=60)

    model = fit_quietly(Autoencoder(max_epochs=5), frame.to_numpy())

    assert model.reconstruction_error(frame.to_numpy()).shape == (60,)


def test_explicit_hidden_layers():
    frame, _ = make_planted_outliers(seed=0, n_samples=60)

    model = fit_quietly(Autoencoder(hidden_layers=(3,), max_epochs=5), frame)

    assert model.network_.layer_sizes == [8, 3, 8]


def test_without_validation_monitors_training_loss():
    frame, _ = make_planted_outliers(seed=0, n_samples=60)

    model = fit_quietly(Autoencoder(validation_fraction=0.0, max_epochs=5), frame)

    assert model.history_.monitor == "train_loss"


def test_same_seed_gives_same_weights():
    frame, _ = make_planted_outliers(seed=0, n_samples=60)

    first = fit_quietly(Autoencoder(max_epochs=5, seed=3), frame)
    second = fit_quietly(Autoencoder(max_epochs=5, seed=3), frame)

    np.testing.assert_array_equal(first.network_.parameters, second.network_.parameters)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"hidden_layers": ()}, "at least one hidden layer"),
        ({"hidden_layers": (4, 0)}, "tuple of positive integers"),
        ({"activation": "softmax"}, "activation"),
        ({"optimizer": "newton"}, "optimizer"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"dtype": "int8"}, "dtype"),
    ],
)
def test_invalid_settings_raise(settings, message):
    with pytest.raises(ParameterError, match=message):
        Autoencoder(**settings)


def test_unfitted_model_raises():
    with pytest.raises(NotFittedError, match="not trained"):
        Autoencoder().reconstruction_error(np.zeros((2, 2)))


def test_save_and_load_keep_errors(trained, tmp_path):
    model, frame, _ = trained
    path = tmp_path / "autoencoder.mlpkit"

    model.save(path)
    loaded = Autoencoder.load(path)

    np.testing.assert_array_equal(
        loaded.reconstruction_error(frame), model.reconstruction_error(frame)
    )
    assert loaded.get_settings() == model.get_settings()
    assert loaded.history_.epochs == model.history_.epochs


def test_model_file_names_its_kind(trained, tmp_path):
    model, _, _ = trained
    path = tmp_path / "autoencoder.mlpkit"

    model.save(path)
    metadata, _ = load_model_file(path)

    assert metadata["kind"] == "autoencoder"


def test_loading_a_classifier_as_autoencoder_raises(tmp_path):
    frame, _ = make_planted_outliers(seed=0, n_samples=60)
    label = np.where(frame["c0"] > 0, "yes", "no")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier = MLP(hidden_layers=(4,), max_epochs=3).fit(frame, label)
    path = tmp_path / "classifier.mlpkit"
    classifier.save(path)

    with pytest.raises(ModelFileError, match="supervised MLP, not an autoencoder"):
        Autoencoder.load(path)


def test_loading_an_autoencoder_as_mlp_raises(trained, tmp_path):
    model, _, _ = trained
    path = tmp_path / "autoencoder.mlpkit"
    model.save(path)

    with pytest.raises(ModelFileError, match="kind 'autoencoder', not a supervised"):
        MLP.load(path)


def test_unknown_kind_raises(trained, tmp_path):
    model, _, _ = trained
    path = tmp_path / "autoencoder.mlpkit"
    model.save(path)
    metadata, arrays = load_model_file(path)
    metadata["kind"] = "forest"
    save_model_file(path, metadata, arrays)

    with pytest.raises(ModelFileError, match="kind 'forest'"):
        Autoencoder.load(path)


def test_inconsistent_file_raises(trained, tmp_path):
    model, _, _ = trained
    path = tmp_path / "autoencoder.mlpkit"
    model.save(path)
    metadata, arrays = load_model_file(path)
    metadata["settings"]["hidden_layers"] = [5, 2, 5]
    save_model_file(path, metadata, arrays)

    with pytest.raises(ModelFileError, match="inconsistent"):
        Autoencoder.load(path)


def test_missing_section_raises(trained, tmp_path):
    model, _, _ = trained
    path = tmp_path / "autoencoder.mlpkit"
    model.save(path)
    metadata, arrays = load_model_file(path)
    del metadata["preprocessing"]
    save_model_file(path, metadata, arrays)

    with pytest.raises(ModelFileError, match="missing key 'preprocessing'"):
        Autoencoder.load(path)


def test_repr_shows_the_network(trained):
    model, _, _ = trained

    assert repr(model).startswith("Autoencoder(Network(8 → 4 tanh → 2 tanh")
    assert repr(Autoencoder()) == (
        "Autoencoder(hidden_layers=default, activation='tanh')"
    )
