"""Extreme feature values: tiny, huge and constant columns train without NaN.

Every test runs with warnings turned into errors, so an overflow or an invalid
operation that NumPy only warns about fails it.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP
from mlpkit.errors import ConvergenceWarning, DataError, DataWarning

N_SAMPLES = 120


def extreme_columns(seed=0):
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=N_SAMPLES)
    return pd.DataFrame(
        {
            "huge": signal * 1e6,
            "huge_offset": 1e6 + rng.normal(size=N_SAMPLES),
            "negative_huge": -1e6 * np.abs(rng.normal(size=N_SAMPLES)),
            "tiny": rng.normal(size=N_SAMPLES) * 1e-6,
            "tiny_offset": 1e-6 + rng.normal(size=N_SAMPLES) * 1e-12,
            "constant": np.full(N_SAMPLES, 3.0),
            "constant_huge": np.full(N_SAMPLES, 1e6),
            "constant_tiny": np.full(N_SAMPLES, -1e-6),
            "constant_zero": np.zeros(N_SAMPLES),
        }
    ), signal


def fit_strictly(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        # The constant columns are deliberate, and their warning is expected.
        warnings.simplefilter("ignore", DataWarning)
        return model.fit(X, y)


def assert_all_finite(model, X):
    losses = model.history_.column("train_loss") + model.history_.column(
        "validation_loss"
    )
    assert np.all(np.isfinite(losses))
    assert np.all(np.isfinite(model.network_.parameters))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outputs = model.predict_outputs(X)
    assert np.all(np.isfinite(outputs))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_extreme_columns_classification(dtype, optimizer):
    X, signal = extreme_columns()
    y = np.where(signal > 0, "high", "low")

    model = fit_strictly(
        MLP(
            hidden_layers=(8,),
            max_epochs=40,
            learning_rate=0.02,
            dtype=dtype,
            optimizer=optimizer,
        ),
        X,
        y,
    )

    assert_all_finite(model, X)
    assert (model.predict(X) == y).mean() > 0.8


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scale", [1e6, 1e-6])
def test_extreme_columns_regression(dtype, scale):
    X, signal = extreme_columns()
    y = signal * scale

    model = fit_strictly(MLP(hidden_layers=(8,), max_epochs=30, dtype=dtype), X, y)

    assert_all_finite(model, X)


@pytest.mark.parametrize("value", [1e6, -1e6, 1e-6, -1e-6, 0.0])
def test_only_constant_columns_train(value):
    X = pd.DataFrame({"a": np.full(40, value), "b": np.full(40, value)})
    y = np.tile(["yes", "no"], 20)

    model = fit_strictly(MLP(hidden_layers=(4,), max_epochs=5), X, y)

    assert_all_finite(model, X)
    assert model.preprocessor_.to_config()["columns"][0]["scale"] == 1.0


def test_extreme_columns_without_standardizing_stay_finite():
    X, signal = extreme_columns()
    y = np.where(signal > 0, "high", "low")

    model = fit_strictly(
        MLP(hidden_layers=(8,), max_epochs=5, standardize=False, dtype="float64"),
        X,
        y,
    )

    assert_all_finite(model, X)


def test_extreme_predictions_after_save(tmp_path):
    X, signal = extreme_columns()
    model = fit_strictly(MLP(hidden_layers=(8,), max_epochs=10), X, signal * 1e6)
    model.save(tmp_path / "model.mlpkit")

    loaded = MLP.load(tmp_path / "model.mlpkit")

    assert_all_finite(loaded, X)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("magnitude", [1e160, 1e200, 1e300])
def test_values_too_large_to_standardize_rejected(magnitude):
    X = pd.DataFrame({"x": np.linspace(-1, 1, 20) * magnitude})
    y = np.tile([0, 1], 10)

    with pytest.raises(DataError, match="column 'x'.*too large for its mean"):
        fit_strictly(MLP(max_epochs=1), X, y)


def test_target_too_large_to_standardize_rejected():
    X = pd.DataFrame({"x": np.linspace(-1, 1, 20)})
    y = np.linspace(-1, 1, 20) * 1e200

    with pytest.raises(DataError, match="target column 'target'.*too large"):
        fit_strictly(MLP(max_epochs=1), X, y)


def test_value_beyond_float32_rejected_when_not_standardized():
    X = pd.DataFrame({"x": np.linspace(-1, 1, 20) * 1e39})
    y = np.tile([0, 1], 10)

    message = r"column 'x' contains -1e\+39 at row 1.*float32"
    with pytest.raises(DataError, match=message):
        fit_strictly(MLP(max_epochs=1, standardize=False), X, y)


@pytest.mark.parametrize("as_array", [False, True], ids=["frame", "array"])
def test_prediction_beyond_float32_rejected(as_array):
    X = pd.DataFrame({"x0": np.linspace(-1, 1, 20)})
    model = fit_strictly(MLP(hidden_layers=(4,), max_epochs=2), X, np.tile([0, 1], 10))
    new = np.array([[0.5], [1e300]])

    with pytest.raises(DataError, match="column 'x0' contains 1e\\+300 at row 2"):
        model.predict(new if as_array else pd.DataFrame(new, columns=["x0"]))
