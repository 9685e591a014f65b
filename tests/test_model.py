"""The Python API: MLP on arrays and DataFrames, saving and loading."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from mlpkit import MLP
from mlpkit.errors import ConvergenceWarning, DataError, NotFittedError, ParameterError


def make_mixed_frame(n_samples=150, seed=0):
    rng = np.random.default_rng(seed)
    size = rng.normal(10.0, 3.0, n_samples)
    color = rng.choice(["red", "green", "blue"], n_samples)
    frame = pd.DataFrame(
        {"size": size, "color": color, "weight": rng.normal(50, 10, n_samples)}
    )
    label = np.where((size > 10) ^ (color == "red"), "yes", "no")
    frame.loc[rng.choice(n_samples, 10, replace=False), "size"] = np.nan
    frame.loc[rng.choice(n_samples, 10, replace=False), "color"] = None
    return frame, pd.Series(label, name="label")


def quick_mlp(**settings):
    defaults = {"hidden_layers": (16,), "max_epochs": 30, "learning_rate": 0.01}
    return MLP(**{**defaults, **settings})


def fit_quietly(model, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **kwargs)


def test_fit_on_mixed_frame_is_binary():
    frame, label = make_mixed_frame()
    model = fit_quietly(quick_mlp(), frame, label)

    assert model.task_ == "binary"
    assert list(model.classes_) == ["no", "yes"]


def test_predict_returns_labels():
    frame, label = make_mixed_frame()
    model = fit_quietly(quick_mlp(), frame, label)

    predictions = model.predict(frame)

    assert set(predictions) <= {"no", "yes"}
    assert (predictions == label.to_numpy()).mean() > 0.8


def test_predict_proba_binary_has_two_columns():
    frame, label = make_mixed_frame()
    model = fit_quietly(quick_mlp(), frame, label)

    probabilities = model.predict_proba(frame)

    assert probabilities.shape == (len(frame), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_evaluate_reports_loss_and_accuracy():
    frame, label = make_mixed_frame()
    model = fit_quietly(quick_mlp(), frame, label)

    scores = model.evaluate(frame, label)

    assert scores["loss"] > 0
    assert scores["accuracy"] == pytest.approx(
        (model.predict(frame) == label.to_numpy()).mean()
    )


def test_history_kept_per_epoch():
    frame, label = make_mixed_frame()
    model = fit_quietly(quick_mlp(max_epochs=4, patience=10), frame, label)

    assert model.history_.epochs == 4
    assert all(record.validation_loss is not None for record in model.history_.records)
    assert all("accuracy" in record.metrics for record in model.history_.records)


def test_save_load_predicts_identically(tmp_path):
    frame, label = make_mixed_frame()
    model = fit_quietly(quick_mlp(), frame, label)
    path = tmp_path / "model.mlpkit"

    model.save(path)
    loaded = MLP.load(path)

    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    np.testing.assert_array_equal(loaded.network_.parameters, model.network_.parameters)


def test_save_load_keeps_history_and_settings(tmp_path):
    frame, label = make_mixed_frame()
    model = fit_quietly(quick_mlp(), frame, label)
    model.save(tmp_path / "model.mlpkit")

    loaded = MLP.load(tmp_path / "model.mlpkit")

    assert loaded.history_ == model.history_
    assert loaded.get_settings() == model.get_settings()


def test_regression_save_load_identical(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = X @ np.array([3.0, -1.0, 0.0, 2.0]) * 100 + 1000
    model = fit_quietly(quick_mlp(dtype="float64"), X, y)
    model.save(tmp_path / "model.mlpkit")

    loaded = MLP.load(tmp_path / "model.mlpkit")

    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_same_seed_gives_identical_model():
    frame, label = make_mixed_frame()
    first = fit_quietly(quick_mlp(seed=7), frame, label)
    second = fit_quietly(quick_mlp(seed=7), frame, label)

    assert first.network_.parameters.tobytes() == second.network_.parameters.tobytes()


def test_regression_reports_rmse_and_r2():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    y = 1000 + 300 * X[:, 0] - 200 * X[:, 1]
    model = fit_quietly(quick_mlp(max_epochs=100), X, y)

    scores = model.evaluate(X, y)

    assert model.task_ == "regression"
    assert scores["r2"] > 0.95
    assert scores["rmse"] < 0.25 * y.std()


def test_multi_output_regression_shapes():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 3))
    y = np.column_stack([X[:, 0] * 2.0, X[:, 1] - X[:, 2]])
    model = fit_quietly(quick_mlp(), X, y)

    assert model.network_.layer_sizes[-1] == 2
    assert model.predict(X).shape == (150, 2)


def test_multiclass_probabilities_follow_classes():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 2))
    y = np.array(["a", "b", "c"])[np.argmax(np.column_stack([X[:, 0], X[:, 1], -X.sum(1)]), 1)]
    model = fit_quietly(quick_mlp(), X, y)

    probabilities = model.predict_proba(X)

    assert model.task_ == "multiclass"
    assert probabilities.shape == (150, 3)
    np.testing.assert_array_equal(
        model.classes_[probabilities.argmax(axis=1)], model.predict(X)
    )


@pytest.mark.parametrize(
    "target, task",
    [
        (np.array(["x", "y"] * 20), "binary"),
        (np.array([True, False] * 20), "binary"),
        (np.arange(40) % 4, "multiclass"),
        (np.arange(40) * 1.5, "regression"),
        (np.arange(40) * 7, "regression"),
    ],
)
def test_task_inferred_from_target(target, task):
    X = np.random.default_rng(0).normal(size=(40, 2))
    model = fit_quietly(quick_mlp(max_epochs=1), X, target)

    assert model.task_ == task


def test_task_can_be_forced():
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = np.arange(40) % 4
    model = fit_quietly(quick_mlp(max_epochs=1, task="regression"), X, y)

    assert model.task_ == "regression"


def test_single_class_rejected():
    X = np.zeros((10, 2))
    with pytest.raises(DataError, match="single class"):
        quick_mlp().fit(X, ["a"] * 10)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_target_rejected_with_row(bad):
    X = np.zeros((10, 2))
    y = np.arange(10, dtype=float) * 1.5
    y[6] = bad
    with pytest.raises(DataError, match="row 7"):
        quick_mlp().fit(X, y)


def test_row_count_mismatch_rejected():
    with pytest.raises(DataError, match="rows"):
        quick_mlp().fit(np.zeros((10, 2)), np.zeros(9))


def test_predict_before_fit_rejected():
    with pytest.raises(NotFittedError, match="fit"):
        MLP().predict(np.zeros((2, 2)))


def test_predict_proba_rejected_for_regression():
    X = np.random.default_rng(0).normal(size=(40, 2))
    model = fit_quietly(quick_mlp(max_epochs=1), X, X[:, 0] * 1.5)

    with pytest.raises(ParameterError, match="classifier"):
        model.predict_proba(X)


@pytest.mark.parametrize(
    "settings, name",
    [
        ({"hidden_layers": (0,)}, "hidden_layers"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"dtype": "float16"}, "dtype"),
        ({"optimizer": "lion"}, "optimizer"),
        ({"task": "ranking"}, "task"),
    ],
)
def test_invalid_settings_rejected(settings, name):
    with pytest.raises(ParameterError, match=name):
        MLP(**settings)


def test_sample_weight_changes_training():
    frame, label = make_mixed_frame()
    weights = np.where(label == "yes", 5.0, 1.0)
    plain = fit_quietly(quick_mlp(max_epochs=3), frame, label)
    weighted = fit_quietly(quick_mlp(max_epochs=3), frame, label, sample_weight=weights)

    assert not np.array_equal(plain.network_.parameters, weighted.network_.parameters)


def test_digits_default_settings_reach_97_percent():
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.25, stratify=digits.target, random_state=0
    )
    model = MLP().fit(X_train, y_train)

    accuracy = (model.predict(X_test) == y_test).mean()

    assert accuracy >= 0.97


@pytest.mark.parametrize("activation", ["maxout", "elu", "gelu", "softplus"])
def test_new_activations_save_load_identical(tmp_path, activation):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 3))
    model = fit_quietly(quick_mlp(activation=activation, max_epochs=3), X, X[:, 0] * 2)
    model.save(tmp_path / "model.mlpkit")

    loaded = MLP.load(tmp_path / "model.mlpkit")

    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
