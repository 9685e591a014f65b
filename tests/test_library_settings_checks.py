"""Checks of MLP settings, model file settings, data warnings and messages."""

import warnings

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP
from mlpkit.autoencoder import Autoencoder
from mlpkit.data import describe_row, read_csv, record_line
from mlpkit.errors import (
    ConvergenceWarning,
    DataError,
    DataWarning,
    ModelFileError,
    ParameterError,
    TrainingDivergedError,
)
from mlpkit.modelfile import load_model_file, save_model_file
from mlpkit.preprocessing import TabularPreprocessor
from mlpkit.settings import DEFAULT_LEARNING_RATES
from mlpkit.sources import CsvSource, NpySource
from mlpkit.streaming import fit_streaming


def small_classification(n_samples=60, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n_samples, 3)), columns=["a", "b", "c"])
    y = pd.Series((X["a"] > 0).astype(int), name="y")
    return X, y


def fit_quietly(model, X, y, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **options)


# hidden_layers


@pytest.mark.parametrize(
    "hidden_layers",
    ["64", ("6", "4"), (True,), (6.0,), (64, 0), (-1,), 0, None, {"units": 4}],
)
def test_hidden_layers_rejects_invalid(hidden_layers):
    with pytest.raises(ParameterError, match="tuple of positive integers") as caught:
        MLP(hidden_layers=hidden_layers)

    assert caught.value.parameter == "hidden_layers"


def test_hidden_layers_int_means_one_layer():
    assert MLP(hidden_layers=64).hidden_layers == (64,)


def test_hidden_layers_accepts_numpy_ints():
    assert MLP(hidden_layers=np.array([8, 4])).hidden_layers == (8, 4)


def test_autoencoder_hidden_layers_rejects_text():
    with pytest.raises(ParameterError, match="tuple of positive integers"):
        Autoencoder(hidden_layers="64")


# min_learning_rate


@pytest.mark.parametrize("schedule", ["cosine", "reduce_on_plateau"])
def test_min_learning_rate_above_rate_rejected(schedule):
    with pytest.raises(ParameterError, match="at most the learning rate") as caught:
        MLP(learning_rate_schedule=schedule, min_learning_rate=1, learning_rate=0.001)

    assert caught.value.parameter == "min_learning_rate"


@pytest.mark.parametrize(
    "setting, value", [("plateau_patience", -1), ("plateau_factor", 1.5)]
)
def test_plateau_setting_named_as_mlp_setting(setting, value):
    with pytest.raises(ParameterError, match=f"^{setting} must be") as caught:
        MLP(learning_rate_schedule="reduce_on_plateau", **{setting: value})

    assert caught.value.parameter == setting


@pytest.mark.parametrize("schedule", ["cosine", "reduce_on_plateau"])
def test_min_learning_rate_equal_to_rate_accepted(schedule):
    model = MLP(
        learning_rate_schedule=schedule, min_learning_rate=0.01, learning_rate=0.01
    )

    assert model.min_learning_rate == 0.01


def test_min_learning_rate_checked_against_optimizer_default():
    MLP(optimizer="adadelta", learning_rate_schedule="cosine", min_learning_rate=0.5)

    with pytest.raises(ParameterError, match="at most the learning rate 0.001"):
        MLP(optimizer="adam", learning_rate_schedule="cosine", min_learning_rate=0.5)


def test_min_learning_rate_ignored_without_floor():
    model = MLP(learning_rate_schedule="step", min_learning_rate=1.0)

    assert model.min_learning_rate == 1.0


# Learning rate defaults


@pytest.mark.parametrize(
    ("optimizer", "rate"),
    [
        ("sgd", 0.001),
        ("adam", 0.001),
        ("adamw", 0.001),
        ("rmsprop", 0.01),
        ("adagrad", 0.01),
        ("adadelta", 1.0),
        ("lbfgs", 0.001),
    ],
)
def test_default_learning_rate_per_optimizer(optimizer, rate):
    model = MLP(optimizer=optimizer)

    assert model.learning_rate is None
    assert model.make_optimizer().learning_rate == rate
    assert model.get_settings()["learning_rate"] == rate


def test_default_learning_rates_cover_every_optimizer():
    from mlpkit.settings import OPTIMIZER_NAMES

    assert sorted(DEFAULT_LEARNING_RATES) == sorted(OPTIMIZER_NAMES)


def test_explicit_learning_rate_wins_over_default():
    model = MLP(optimizer="adadelta", learning_rate=0.5)

    assert model.make_optimizer().learning_rate == 0.5


def test_autoencoder_default_learning_rate():
    model = Autoencoder(optimizer="adagrad")

    assert model.make_optimizer().learning_rate == 0.01
    assert model.get_settings()["learning_rate"] == 0.01


def test_saved_model_stores_rate_in_use(tmp_path):
    X, y = small_classification()
    model = fit_quietly(MLP(hidden_layers=(4,), optimizer="rmsprop", max_epochs=2), X, y)
    path = tmp_path / "model.mlp"
    model.save(path)

    metadata, _ = load_model_file(path)

    assert metadata["settings"]["learning_rate"] == 0.01
    assert MLP.load(path).learning_rate == 0.01


def test_model_file_with_null_learning_rate_loads(tmp_path):
    X, y = small_classification()
    model = fit_quietly(MLP(hidden_layers=(4,), optimizer="adagrad", max_epochs=2), X, y)
    path = tmp_path / "model.mlp"
    model.save(path)
    metadata, arrays = load_model_file(path)
    metadata["settings"]["learning_rate"] = None
    save_model_file(path, metadata, arrays)

    loaded = MLP.load(path)

    assert loaded.get_settings()["learning_rate"] == 0.01


def test_old_model_file_keeps_its_rate(tmp_path):
    X, y = small_classification()
    model = MLP(hidden_layers=(4,), optimizer="rmsprop", learning_rate=0.001, max_epochs=2)
    fit_quietly(model, X, y)
    path = tmp_path / "model.mlp"
    model.save(path)

    assert MLP.load(path).make_optimizer().learning_rate == 0.001


def test_resume_with_default_rate(tmp_path):
    X, y = small_classification()
    checkpoint = tmp_path / "run.ckpt"
    fit_quietly(MLP(hidden_layers=(4,), max_epochs=2), X, y, checkpoint=checkpoint)

    model = fit_quietly(MLP(hidden_layers=(4,), max_epochs=4), X, y, resume=checkpoint)

    assert model.history_.epochs == 4


# Settings of a model file


@pytest.mark.parametrize(
    ("setting", "value"),
    [("batch_size", -5), ("batch_size", "32"), ("max_epochs", 0), ("standardize", "yes")],
)
def test_model_file_with_invalid_setting_rejected(tmp_path, setting, value):
    X, y = small_classification()
    model = fit_quietly(MLP(hidden_layers=(4,), max_epochs=2), X, y)
    path = tmp_path / "model.mlp"
    model.save(path)
    metadata, arrays = load_model_file(path)
    metadata["settings"][setting] = value
    save_model_file(path, metadata, arrays)

    with pytest.raises(ModelFileError) as caught:
        MLP.load(path)

    assert str(path) in str(caught.value)
    assert setting in str(caught.value)


def test_batch_size_checked_by_constructor():
    with pytest.raises(ParameterError) as caught:
        MLP(batch_size=0)

    assert caught.value.parameter == "batch_size"


# Line numbers in messages


MULTILINE_CSV = 'a,b,y\n"x\ny\nz",1,0\n"p",2,1\n"q",abc,0\n"r",4,1\n'


def test_record_line_counts_quoted_line_breaks(tmp_path):
    path = tmp_path / "qline.csv"
    path.write_text(MULTILINE_CSV)

    assert record_line(path, 0) == 2
    assert record_line(path, 1) == 5
    assert record_line(path, 2) == 6


def test_record_line_skips_blank_lines(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text('a,y\n\n"x\ny",0\n\n"p",1\n')

    assert record_line(path, 1) == 6


def test_record_line_uses_given_separator(tmp_path):
    path = tmp_path / "pipe.csv"
    path.write_text('a|y\n"x\ny"|0\n"p"|1\n')

    assert record_line(path, 1, sep="|") == 4


def test_record_line_falls_back_without_file(tmp_path):
    assert record_line(tmp_path / "missing.csv", 4) == 6


def test_fit_error_names_true_line(tmp_path):
    path = tmp_path / "qline.csv"
    path.write_text(MULTILINE_CSV)
    frame = read_csv(path)

    with pytest.raises(DataError, match=r"row 3 \(line 6 of"):
        MLP(max_epochs=1).fit(frame[["a", "b"]], frame["y"], source=str(path))


def test_csv_source_names_true_line(tmp_path):
    path = tmp_path / "qline.csv"
    path.write_text(MULTILINE_CSV)

    assert CsvSource(path, "y").describe_row(2) == f"row 3 (line 6 of {path})"


def test_describe_row_without_source():
    assert describe_row(4) == "row 5"


# Resuming on other data


def test_resume_on_other_columns_reports_columns(tmp_path):
    X, y = small_classification()
    checkpoint = tmp_path / "run.ckpt"
    model = MLP(hidden_layers=(4,), max_epochs=50, patience=1, tolerance=0.5)
    fit_quietly(model, X, y, checkpoint=checkpoint)
    assert model.history_.converged
    other = X.rename(columns={"a": "d"})

    with pytest.raises(DataError, match="feature columns"):
        fit_quietly(MLP(hidden_layers=(4,), patience=1), other, y, resume=checkpoint)


# Divergence


def test_divergence_raises_no_numpy_warning():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X @ np.array([100.0, -50.0, 10.0, 3.0])
    model = MLP(hidden_layers=(16,), optimizer="sgd", learning_rate=1e6)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TrainingDivergedError):
            model.fit(X, y)


def test_streaming_divergence_raises_no_numpy_warning(tmp_path):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(500, 4))
    rows[:, -1] = rows[:, :3] @ np.array([100.0, -50.0, 10.0])
    path = tmp_path / "rows.npy"
    np.save(path, rows)
    model = MLP(hidden_layers=(8,), optimizer="sgd", learning_rate=1e6, momentum=0.0)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TrainingDivergedError):
            fit_streaming(model, NpySource(path), block_rows=100)


# .npy files of objects


def test_object_npy_error_names_pickle_and_fix(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([[1, "a"], [2, "b"]], dtype=object), allow_pickle=True)

    with pytest.raises(DataError) as caught:
        NpySource(path)

    assert "pickle" in str(caught.value)
    assert "astype(numpy.float32)" in str(caught.value)


# Data warnings


def test_empty_header_cell_warns(tmp_path):
    path = tmp_path / "unnamed.csv"
    path.write_text("a,,y\n1,2,0\n3,4,1\n")

    with pytest.warns(DataWarning, match="column 2 is named 'Unnamed: 1'"):
        read_csv(path)


def test_csv_source_empty_header_cell_warns(tmp_path):
    path = tmp_path / "unnamed.csv"
    path.write_text("a,,y\n1,2,0\n3,4,1\n")

    with pytest.warns(DataWarning, match="column 2 is named 'Unnamed: 1'"):
        CsvSource(path, "y")


def test_named_header_does_not_warn(tmp_path):
    path = tmp_path / "named.csv"
    path.write_text("a,b,y\n1,2,0\n3,4,1\n")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_csv(path)


def test_constant_columns_warn_once():
    frame = pd.DataFrame(
        {"same": [5.0, 5.0, np.nan], "x": [1.0, 2.0, 3.0], "kind": ["k", "k", "k"]}
    )

    with pytest.warns(DataWarning) as caught:
        TabularPreprocessor().fit(frame)

    assert len(caught) == 1
    assert "'same', 'kind'" in str(caught[0].message)


def test_varying_columns_do_not_warn():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "kind": ["k", "m", "k"]})

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TabularPreprocessor().fit(frame)


def test_constant_column_kept_through_save(tmp_path):
    X, y = small_classification()
    X["same"] = 1.0
    with pytest.warns(DataWarning, match="'same'"):
        model = fit_quietly(MLP(hidden_layers=(4,), max_epochs=2), X, y)
    path = tmp_path / "model.mlp"
    model.save(path)

    loaded = MLP.load(path)

    assert "same" in loaded.preprocessor_.feature_names_in_
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_hidden_dropout_without_hidden_layer_rejected():
    with pytest.raises(ParameterError, match="no hidden layer to act on") as caught:
        MLP(hidden_layers=(), hidden_dropout=0.2)

    assert caught.value.parameter == "hidden_dropout"


def test_zero_hidden_dropout_without_hidden_layer_accepted():
    model = MLP(hidden_layers=(), hidden_dropout=0.0)

    assert model.hidden_dropout == 0.0
