"""Types of MLP settings, optimizer ranges, fit arguments and warning locations."""

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP
from mlpkit.autoencoder import Autoencoder
from mlpkit.errors import (
    ConvergenceWarning,
    DataError,
    DataWarning,
    IgnoredSettingWarning,
    ModelFileError,
    ParameterError,
)
from mlpkit.modelfile import load_model_file, save_model_file
from mlpkit.network import Network
from mlpkit.optimizers import SGD, Adadelta, RMSprop, make_optimizer
from mlpkit.training import StoppingRule, train

N_ROWS = 40


def small_classification():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(N_ROWS, 3)), columns=["a", "b", "c"])
    y = pd.Series((X["a"] > 0).astype(int), name="y")
    return X, y


def small_model(**settings):
    return MLP(**{"hidden_layers": (4,), "max_epochs": 2, **settings})


def fit_quietly(model, X, y, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **options)


# NumPy values of settings


NUMPY_SETTINGS = [
    ({"seed": np.int64(3)}, "seed", 3),
    ({"max_epochs": np.int64(2)}, "max_epochs", 2),
    ({"batch_size": np.int32(8)}, "batch_size", 8),
    ({"patience": np.uint8(5)}, "patience", 5),
    ({"learning_rate": np.float32(0.5)}, "learning_rate", 0.5),
    ({"l2": np.float32(0.25)}, "l2", 0.25),
    ({"dtype": np.float64}, "dtype", "float64"),
    ({"dtype": np.dtype("float32")}, "dtype", "float32"),
    ({"optimizer": "sgd", "nesterov": np.bool_(True)}, "nesterov", True),
    ({"standardize": np.bool_(False)}, "standardize", False),
    ({"hidden_dropout": (np.float32(0.5),)}, "hidden_dropout", [0.5]),
    ({"maxout_pieces": np.int64(3)}, "maxout_pieces", 3),
]


@pytest.mark.parametrize("settings, name, expected", NUMPY_SETTINGS)
def test_numpy_setting_saved_as_python(tmp_path, settings, name, expected):
    model = fit_quietly(small_model(**settings), *small_classification())
    path = tmp_path / "model.mlpkit"
    model.save(path)
    metadata, _ = load_model_file(path)

    saved = metadata["settings"][name]
    assert saved == expected
    assert type(saved) is type(expected)


@pytest.mark.parametrize("settings, name, expected", NUMPY_SETTINGS)
def test_numpy_setting_stored_as_python(settings, name, expected):
    model = small_model(**settings)

    value = model.get_settings()[name]
    # repr distinguishes np.float32(0.5) from 0.5, also inside a list.
    assert repr(value) == repr(expected)


def test_numpy_dtype_model_loads(tmp_path):
    model = fit_quietly(small_model(dtype=np.float64), *small_classification())
    path = tmp_path / "model.mlpkit"
    model.save(path)

    loaded = MLP.load(path)

    assert loaded.dtype == "float64"
    assert loaded.network_.dtype == np.float64


@pytest.mark.parametrize("name", ["max_epochs", "batch_size", "step_size"])
def test_whole_float_count_stored_as_int(name):
    model = MLP(learning_rate_schedule="step", **{name: 10.0})

    value = getattr(model, name)
    assert value == 10
    assert type(value) is int


@pytest.mark.parametrize(
    "settings",
    [
        {"learning_rate_schedule": "cosine", "decay_epochs": 10.0},
        {"learning_rate_schedule": "reduce_on_plateau", "plateau_patience": 2.0},
        {"maxout_pieces": 2.0},
    ],
)
def test_whole_float_count_accepted_by_engine(settings):
    model = fit_quietly(small_model(**settings), *small_classification())

    assert model.history_.epochs == 2


def test_dropout_rates_as_array_accepted():
    model = MLP(hidden_layers=(4, 3), hidden_dropout=np.array([0.1, 0.2]))

    assert model.hidden_dropout == (0.1, 0.2)


@pytest.mark.parametrize("dtype", [None, 3, "float16", np.int32, "f8"])
def test_invalid_dtype_rejected(dtype):
    expected = "dtype must be float32 or float64"
    with pytest.raises(ParameterError, match=expected) as caught:
        MLP(dtype=dtype)

    assert caught.value.parameter == "dtype"


# Types of integer, boolean and number settings


# decay_epochs takes None, which means max_epochs.
INTEGER_SETTINGS = [
    "batch_size",
    "max_epochs",
    "patience",
    "step_size",
    "decay_epochs",
    "plateau_patience",
    "maxout_pieces",
]
INVALID_COUNTS = [2.5, True, "10", None, float("inf")]
INTEGER_CASES = [
    (name, value)
    for name in INTEGER_SETTINGS
    for value in INVALID_COUNTS
    if not (name == "decay_epochs" and value is None)
]


@pytest.mark.parametrize("name, value", INTEGER_CASES)
def test_integer_setting_rejects_invalid(name, value):
    with pytest.raises(ParameterError, match=f"{name} must be an integer") as caught:
        MLP(**{name: value})

    assert caught.value.parameter == name


@pytest.mark.parametrize("name", ["max_epochs", "patience", "step_size"])
def test_integer_setting_rejects_zero(name):
    expected = f"{name} must be an integer of at least 1"
    with pytest.raises(ParameterError, match=expected):
        MLP(**{name: 0})


@pytest.mark.parametrize("name", ["nesterov", "standardize"])
@pytest.mark.parametrize("value", ["yes", "False", 1, 0, None])
def test_boolean_setting_rejects_non_bool(name, value):
    with pytest.raises(ParameterError, match=f"{name} must be True or False") as caught:
        MLP(optimizer="sgd", **{name: value})

    assert caught.value.parameter == name


@pytest.mark.parametrize("value", ["0.1", True, None])
def test_tolerance_rejects_non_number(value):
    with pytest.raises(ParameterError) as caught:
        MLP(tolerance=value)

    assert caught.value.parameter == "tolerance"


@pytest.mark.parametrize("value", ["0.1", False, None])
def test_validation_fraction_rejects_non_number(value):
    with pytest.raises(ParameterError) as caught:
        MLP(validation_fraction=value)

    assert caught.value.parameter == "validation_fraction"


@pytest.mark.parametrize(
    "name", ["momentum", "rho", "weight_decay", "power_t", "gamma", "plateau_factor"]
)
@pytest.mark.parametrize("value", ["0.5", True, float("inf"), float("nan")])
def test_unused_number_setting_checked(name, value):
    # adam with a constant rate uses none of these settings.
    with pytest.raises(ParameterError) as caught:
        MLP(optimizer="adam", **{name: value})

    assert caught.value.parameter == name


MLP_SETTINGS = list(inspect.signature(MLP).parameters)


@pytest.mark.parametrize("name", MLP_SETTINGS)
@pytest.mark.parametrize("value", [object(), "invalid"], ids=["object", "text"])
def test_every_setting_checked(name, value):
    with pytest.raises(ParameterError) as caught:
        MLP(**{name: value})

    assert caught.value.parameter == name


@pytest.mark.parametrize("value", [2.5, True, "10", None])
def test_model_file_bad_max_epochs_rejected(tmp_path, value):
    model = fit_quietly(small_model(), *small_classification())
    path = tmp_path / "model.mlpkit"
    model.save(path)
    metadata, arrays = load_model_file(path)
    metadata["settings"]["max_epochs"] = value
    save_model_file(path, metadata, arrays)

    with pytest.raises(ModelFileError, match="max_epochs"):
        MLP.load(path)


@pytest.mark.parametrize(
    "settings, name",
    [
        ({"max_epochs": 2.5}, "max_epochs"),
        ({"max_epochs": None}, "max_epochs"),
        ({"patience": True}, "patience"),
        ({"tolerance": "0.1"}, "tolerance"),
    ],
)
def test_stopping_rule_rejects_invalid_type(settings, name):
    with pytest.raises(ParameterError, match=name) as caught:
        StoppingRule(**settings)

    assert caught.value.parameter == name


def test_stopping_rule_stores_whole_float_as_int():
    rule = StoppingRule(max_epochs=10.0, patience=np.int64(3))

    assert type(rule.max_epochs) is int
    assert type(rule.patience) is int


@pytest.mark.parametrize("settings", [{"max_epochs": 2.5}, {"patience": "3"}])
def test_autoencoder_rejects_fractional_count(settings):
    with pytest.raises(ParameterError):
        Autoencoder(**settings)


# Optimizer ranges and flags


@pytest.mark.parametrize("optimizer", [RMSprop, Adadelta])
def test_rho_of_one_rejected(optimizer):
    with pytest.raises(ParameterError, match=r"rho must be in \[0.0, 1.0\)") as caught:
        optimizer(rho=1.0)

    assert caught.value.parameter == "rho"


@pytest.mark.parametrize("optimizer", ["rmsprop", "adadelta"])
def test_mlp_rho_of_one_rejected(optimizer):
    with pytest.raises(ParameterError, match=r"rho must be in \[0.0, 1.0\)"):
        MLP(optimizer=optimizer, rho=1.0)


@pytest.mark.parametrize("optimizer", [RMSprop, Adadelta])
@pytest.mark.parametrize("rho", [0.0, 0.999])
def test_rho_below_one_accepted(optimizer, rho):
    assert optimizer(rho=rho).rho == rho


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_sgd_nesterov_must_be_bool(value):
    expected = "nesterov must be True or False"
    with pytest.raises(ParameterError, match=expected) as caught:
        SGD(momentum=0.9, nesterov=value)

    assert caught.value.parameter == "nesterov"


def test_sgd_nesterov_accepts_numpy_bool():
    assert SGD(momentum=0.9, nesterov=np.bool_(True)).nesterov is True


def test_rmsprop_centered_must_be_bool():
    with pytest.raises(ParameterError, match="centered must be True or False"):
        RMSprop(centered="no")


def test_unknown_optimizer_names_parameter():
    with pytest.raises(ParameterError) as caught:
        make_optimizer("lion")

    assert caught.value.parameter == "optimizer"


# Callbacks


@pytest.mark.parametrize("name", ["on_epoch_end", "stop_requested"])
def test_fit_rejects_non_callable_before_training(name):
    model = small_model()

    with pytest.raises(ParameterError, match=f"{name} must be callable") as caught:
        model.fit(*small_classification(), **{name: 5})

    assert caught.value.parameter == name
    assert not hasattr(model, "network_")


def test_fit_stream_rejects_non_callable_before_reading(tmp_path):
    missing = tmp_path / "missing.csv"

    with pytest.raises(ParameterError, match="on_epoch_end must be callable"):
        small_model().fit_stream(missing, "y", on_epoch_end=5)


def test_train_rejects_non_callable():
    inputs = np.zeros((4, 2))
    targets = np.zeros((4, 1))

    with pytest.raises(ParameterError, match="on_epoch_end must be callable"):
        train(
            Network([2, 1]),
            SGD(),
            inputs,
            targets,
            batch_size=2,
            stopping=StoppingRule(max_epochs=1),
            rng=None,
            on_epoch_end=5,
        )


@pytest.mark.parametrize("batch_size", [2.5, True, "2", None])
def test_train_rejects_invalid_batch_size(batch_size):
    with pytest.raises(ParameterError, match="batch_size must be an integer"):
        train(
            Network([2, 1]),
            SGD(),
            np.zeros((4, 2)),
            np.zeros((4, 1)),
            batch_size=batch_size,
            stopping=StoppingRule(max_epochs=1),
            rng=None,
        )


# Sample weights


@pytest.mark.parametrize(
    "weights",
    [
        np.array(["1"] * N_ROWS),
        ["1"] * N_ROWS,
        np.array([b"1"] * N_ROWS),
        pd.Series(["1"] * N_ROWS),
        np.array([1.0] * (N_ROWS - 1) + ["x"], dtype=object),
        np.full(N_ROWS, 1 + 1j),
    ],
)
def test_non_numeric_sample_weight_rejected(weights):
    with pytest.raises(DataError, match="sample_weight must contain numbers"):
        small_model().fit(*small_classification(), sample_weight=weights)


@pytest.mark.parametrize(
    "weights",
    [
        np.array([1, 2.0] * (N_ROWS // 2), dtype=object),
        np.ones(N_ROWS, dtype=bool),
        np.ones(N_ROWS, dtype=np.int32),
    ],
)
def test_numeric_sample_weight_accepted(weights):
    model = fit_quietly(small_model(), *small_classification(), sample_weight=weights)

    assert model.history_.epochs == 2


# Paths


@pytest.mark.parametrize("path", [None, 123])
def test_load_rejects_non_path(path):
    with pytest.raises(ParameterError, match="path must be a file path") as caught:
        MLP.load(path)

    assert caught.value.parameter == "path"


@pytest.mark.parametrize("path", [None, 123])
def test_save_rejects_non_path(path):
    model = fit_quietly(small_model(), *small_classification())

    with pytest.raises(ParameterError, match="path must be a file path") as caught:
        model.save(path)

    assert caught.value.parameter == "path"


@pytest.mark.parametrize("name", ["checkpoint", "resume"])
def test_fit_rejects_non_path_checkpoint(name):
    model = small_model()

    with pytest.raises(ParameterError, match=f"{name} must be a file path"):
        model.fit(*small_classification(), **{name: 5})

    assert not hasattr(model, "network_")


# Warning locations


def test_fit_warning_points_at_caller():
    with pytest.warns(ConvergenceWarning) as record:
        small_model().fit(*small_classification())

    assert record[0].filename == __file__


def test_autoencoder_warning_points_at_caller():
    features, _ = small_classification()

    with pytest.warns(ConvergenceWarning) as record:
        Autoencoder(hidden_layers=(2,), max_epochs=2).fit(features)

    assert record[0].filename == __file__


def test_train_warning_points_at_caller():
    with pytest.warns(ConvergenceWarning) as record:
        train(
            Network([2, 1]),
            SGD(),
            np.zeros((4, 2)),
            np.ones((4, 1)),
            batch_size=2,
            stopping=StoppingRule(max_epochs=1),
            rng=None,
        )

    assert record[0].filename == __file__


def test_lbfgs_warning_points_at_caller():
    with pytest.warns(ConvergenceWarning) as record:
        small_model(optimizer="lbfgs", max_epochs=1).fit(*small_classification())

    assert record[0].filename == __file__


def test_constant_column_warning_points_at_caller():
    features, labels = small_classification()
    features = np.column_stack([features, np.ones(len(features))])

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        small_model().fit(features, labels)

    data_warnings = [item for item in record if issubclass(item.category, DataWarning)]
    assert data_warnings
    assert data_warnings[0].filename == __file__


def test_autoencoder_numpy_settings_saved_as_plain_values(tmp_path):
    features, _ = small_classification()
    model = Autoencoder(
        hidden_layers=np.int64(2),
        seed=np.int64(3),
        batch_size=np.int32(8),
        max_epochs=np.int64(2),
        validation_fraction=np.float32(0.25),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features)
    path = tmp_path / "autoencoder.mlpkit"

    model.save(path)

    settings = Autoencoder.load(path).get_settings()
    assert type(settings["seed"]) is int
    assert type(settings["batch_size"]) is int
    assert type(settings["validation_fraction"]) is float


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("batch_size", "8"),
        ("validation_fraction", "0.1"),
        ("seed", 1.5),
        ("nesterov", "yes"),
        ("max_epochs", 2.5),
    ],
)
def test_autoencoder_rejects_wrong_types(name, value):
    with pytest.raises(ParameterError) as caught:
        Autoencoder(**{name: value})

    assert f"{name}=" in str(caught.value)


# Settings that the other settings make ineffective


def ignored_setting_warnings(fit):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fit()
    return [item for item in record if item.category is IgnoredSettingWarning]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"momentum": 0.5}, "optimizer='adam' ignores momentum, which only sgd uses"),
        (
            {"optimizer": "sgd", "beta1": 0.8},
            "optimizer='sgd' ignores beta1, which only adam and adamw use",
        ),
        (
            {"gamma": 0.5},
            "learning_rate_schedule='constant' ignores gamma, which only step and "
            "exponential use",
        ),
        ({"huber_delta": 2.0}, "loss='squared_error' ignores huber_delta"),
        ({"maxout_pieces": 3}, "activation='relu' ignores maxout_pieces"),
    ],
)
def test_fit_warns_about_ignored_setting(settings, expected):
    record = ignored_setting_warnings(
        lambda: small_model(**settings).fit(*small_classification())
    )

    assert len(record) == 1
    assert expected in str(record[0].message)
    assert record[0].filename == __file__


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"optimizer": "sgd", "momentum": 0.5},
        {"learning_rate_schedule": "step", "gamma": 0.5},
        {"activation": "maxout", "maxout_pieces": 3},
    ],
)
def test_fit_silent_when_settings_take_effect(settings):
    record = ignored_setting_warnings(
        lambda: small_model(**settings).fit(*small_classification())
    )

    assert record == []


def test_autoencoder_warns_about_ignored_setting():
    features, _ = small_classification()

    record = ignored_setting_warnings(
        lambda: Autoencoder(hidden_layers=(2,), max_epochs=2, momentum=0.5).fit(features)
    )

    assert len(record) == 1
    assert "ignores momentum" in str(record[0].message)
