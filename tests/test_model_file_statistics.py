"""Loading rejects preprocessing statistics in a model file that training cannot give.

Each test edits one statistic in the metadata of a saved model, as a user with
a text editor could, and checks that loading raises ModelFileError naming the
column and the statistic instead of a later prediction blaming valid input.
"""

import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP
from mlpkit.autoencoder import Autoencoder
from mlpkit.errors import ModelFileError
from mlpkit.preprocessing import TabularPreprocessor

# Stands in for a number that json.dumps cannot write, replaced in the text.
RAW_NUMBER = "@raw-number@"


@pytest.fixture(autouse=True)
def ignore_training_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def fit_quietly(model, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(*args)


def training_frame(n_rows=80, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "height": rng.normal(170.0, 10.0, size=n_rows),
            "colour": rng.choice(["red", "green", "blue"], size=n_rows),
            "weight": rng.normal(70.0, 5.0, size=n_rows),
        }
    )
    frame.loc[::7, "height"] = np.nan
    return frame


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    frame = training_frame()
    target = (frame["weight"] > 70.0).astype(int)
    model = fit_quietly(MLP(hidden_layers=(5,), max_epochs=3), frame, target)
    path = tmp_path_factory.mktemp("model") / "model.mlpkit"
    model.save(path)
    return path, frame


def rewrite_metadata(source, destination, edit, raw_number=None):
    """Copy a model file with ``edit(metadata)`` applied to its metadata.

    ``raw_number``, when given, replaces the string RAW_NUMBER in the JSON
    text, so that the file can hold text such as ``1e999`` or ``NaN``.
    """
    with zipfile.ZipFile(source) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    metadata = json.loads(members["metadata.json"])
    edit(metadata)
    text = json.dumps(metadata)
    if raw_number is not None:
        text = text.replace(json.dumps(RAW_NUMBER), raw_number)
    members["metadata.json"] = text.encode()
    with zipfile.ZipFile(destination, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return destination


def column_entry(metadata, name):
    for entry in metadata["preprocessing"]["columns"]:
        if entry["name"] == name:
            return entry
    raise KeyError(name)


def set_statistic(column, key, value):
    def edit(metadata):
        column_entry(metadata, column)[key] = value

    return edit


# Out-of-range statistics


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("mean", 1e308, "column 'height' has 'fill_value'"),
        ("fill_value", 1e308, "and 'mean'"),
        ("mean", 1e30, "must agree up to rounding"),
        ("fill_value", -5.0, "must agree up to rounding"),
        ("scale", 1e-300, "'scale' of column 'height' is 1e-300"),
        ("scale", 1e300, "'scale' of column 'height' is 1e+300"),
        ("scale", 0.0, "'scale' of column 'height' must be positive"),
        ("scale", -2.0, "'scale' of column 'height' must be positive"),
        ("std", -1.0, "'std' of column 'height' is -1.0"),
        ("std", 1e200, "'std' of column 'height' is 1e+200"),
    ],
)
def test_edited_statistic_rejected_on_load(saved_model, tmp_path, key, value, expected):
    source, _ = saved_model
    path = rewrite_metadata(
        source, tmp_path / "edited.mlpkit", set_statistic("height", key, value)
    )

    with pytest.raises(ModelFileError) as caught:
        MLP.load(path)

    message = str(caught.value)
    assert expected in message
    assert str(path) in message
    assert "preprocessing config is invalid" in message


def test_edited_mean_reported_instead_of_prediction_error(saved_model, tmp_path):
    source, frame = saved_model
    path = rewrite_metadata(
        source, tmp_path / "edited.mlpkit", set_statistic("height", "mean", 1e308)
    )

    with pytest.raises(ModelFileError, match="'mean' 1e\\+308"):
        MLP.load(path).predict(frame)


@pytest.mark.parametrize("key", ["mean", "fill_value", "std", "scale"])
@pytest.mark.parametrize("text", ["1e999", "NaN", "-Infinity"])
def test_non_finite_statistic_named_on_load(saved_model, tmp_path, key, text):
    source, _ = saved_model
    path = rewrite_metadata(
        source,
        tmp_path / "edited.mlpkit",
        set_statistic("weight", key, RAW_NUMBER),
        raw_number=text,
    )

    with pytest.raises(ModelFileError) as caught:
        MLP.load(path)

    message = str(caught.value)
    assert f"has {text}, which is not a finite number" in message
    assert f"['{key}'], in the entry named 'weight'" in message
    assert "metadata['preprocessing']['columns'][2]" in message


def test_non_finite_number_elsewhere_named_by_path(saved_model, tmp_path):
    source, _ = saved_model

    def edit(metadata):
        metadata["history"]["records"][0]["train_loss"] = RAW_NUMBER

    path = rewrite_metadata(source, tmp_path / "edited.mlpkit", edit, "Infinity")

    with pytest.raises(ModelFileError) as caught:
        MLP.load(path)

    message = str(caught.value)
    assert "has Infinity, which is not a finite number" in message
    assert "at metadata['history']['records'][0]['train_loss']" in message


def test_autoencoder_file_with_edited_mean_rejected(tmp_path):
    frame = training_frame().drop(columns="colour")
    model = fit_quietly(Autoencoder(max_epochs=2, learning_rate=0.01), frame)
    source = tmp_path / "autoencoder.mlpkit"
    model.save(source)
    path = rewrite_metadata(
        source, tmp_path / "edited.mlpkit", set_statistic("weight", "mean", 1e308)
    )

    with pytest.raises(ModelFileError, match="column 'weight' has 'fill_value'"):
        Autoencoder.load(path)


# The network's dtype


def unscaled_model_file(tmp_path, dtype):
    frame = training_frame().drop(columns="colour")
    target = frame["weight"] * 2.0
    model = MLP(hidden_layers=(4,), max_epochs=2, standardize=False, dtype=dtype)
    path = tmp_path / f"unscaled-{dtype}.mlpkit"
    fit_quietly(model, frame, target).save(path)
    return path


def move_fill_and_mean(value):
    def edit(metadata):
        entry = column_entry(metadata, "height")
        entry["fill_value"] = value
        entry["mean"] = value

    return edit


def test_unscaled_fill_beyond_float32_rejected(tmp_path):
    source = unscaled_model_file(tmp_path, "float32")
    path = rewrite_metadata(
        source, tmp_path / "edited.mlpkit", move_fill_and_mean(1e300)
    )

    with pytest.raises(ModelFileError) as caught:
        MLP.load(path)

    message = str(caught.value)
    assert "'fill_value' of column 'height' is 1e+300" in message
    assert "beyond the float32 range" in message
    assert "standardize is false" in message


def test_unscaled_fill_beyond_float32_loads_in_float64(tmp_path):
    source = unscaled_model_file(tmp_path, "float64")
    path = rewrite_metadata(
        source, tmp_path / "edited.mlpkit", move_fill_and_mean(1e300)
    )

    model = MLP.load(path)

    assert model.preprocessor_.to_config()["columns"][0]["fill_value"] == 1e300


def standardized_config(fill_value, mean, scale):
    return {
        "standardize": True,
        "columns": [
            {
                "name": "x",
                "kind": "numeric",
                "fill_value": fill_value,
                "mean": mean,
                "std": scale,
                "scale": scale,
                "n_missing": 0,
            }
        ],
    }


def test_standardized_fill_beyond_dtype_rejected():
    # fill_value and mean agree to 1e-7 of the mean, but their gap of 1e93
    # still standardizes beyond float32 with a scale of 1.
    config = standardized_config(1e100, 1e100 + 1e93, 1.0)

    with pytest.raises(ModelFileError) as caught:
        TabularPreprocessor.from_config(config, dtype=np.float32)

    message = str(caught.value)
    assert "its fill value standardizes to -1e+93" in message
    assert "beyond the float32 range" in message


def test_standardized_fill_check_needs_dtype():
    config = standardized_config(1e100, 1e100 + 1e93, 1.0)

    preprocessor = TabularPreprocessor.from_config(config)

    assert preprocessor.n_features_out_ == 1


# Statistics that training does give still load


def test_huge_but_valid_statistics_load(tmp_path):
    # Values near 1e100 with a standard deviation near 1e99 standardize to
    # ordinary numbers, so their mean and scale are valid beyond float32.
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"huge": rng.normal(size=60) * 1e99 + 1e100, "small": rng.normal(size=60)}
    )
    target = (frame["small"] > 0).astype(int)
    model = fit_quietly(MLP(hidden_layers=(4,), max_epochs=2), frame, target)
    path = tmp_path / "huge.mlpkit"
    model.save(path)

    loaded = MLP.load(path)

    np.testing.assert_array_equal(
        loaded.predict_proba(frame), model.predict_proba(frame)
    )
    assert loaded.preprocessor_.describe()[0]["mean"] > 1e99


def test_constant_column_with_missing_cells_loads(tmp_path):
    frame = pd.DataFrame(
        {"same": [3.25] * 30 + [np.nan] * 5, "x": np.linspace(-1.0, 1.0, 35)}
    )
    target = frame["x"] * 2.0
    model = fit_quietly(MLP(hidden_layers=(3,), max_epochs=2), frame, target)
    path = tmp_path / "constant.mlpkit"
    model.save(path)

    loaded = MLP.load(path)

    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


@pytest.mark.parametrize("seed", range(5))
def test_columns_with_missing_cells_load(tmp_path, seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(500, 3)) * 10.0 ** rng.integers(-30, 30, size=3)
    values[rng.random(size=values.shape) < 0.3] = np.nan
    frame = pd.DataFrame(values, columns=["a", "b", "c"])
    target = np.arange(500) % 2
    model = fit_quietly(MLP(hidden_layers=(3,), max_epochs=1), frame, target)
    path = tmp_path / "missing.mlpkit"
    model.save(path)

    loaded = MLP.load(path)

    assert loaded.preprocessor_.to_config() == model.preprocessor_.to_config()


@pytest.fixture(scope="module")
def saved_regressor(tmp_path_factory):
    def save(**settings):
        rng = np.random.default_rng(0)
        features = rng.normal(size=(50, 2))
        # Positive, so that the poisson loss accepts it too.
        target = np.abs(features[:, 0]) * 3.0 + 5.0
        model = MLP(hidden_layers=(3,), max_epochs=2, **settings)
        fit_quietly(model, features, target)
        path = tmp_path_factory.mktemp("regressor") / "model.mlpkit"
        model.save(path)
        return path

    return save


@pytest.mark.parametrize(
    ("settings", "statistic", "value", "expected"),
    [
        ({}, "scale", 1e300, "scale must be a standard deviation"),
        ({}, "scale", 1e-300, "scale must be a standard deviation"),
        ({"standardize": False}, "mean", 2.0, "mean must be 0 and scale 1"),
        ({"standardize": False}, "scale", 3.0, "mean must be 0 and scale 1"),
        ({"loss": "poisson"}, "scale", 3.0, "mean must be 0 and scale 1"),
    ],
)
def test_edited_target_statistics_rejected(
    saved_regressor, tmp_path, settings, statistic, value, expected
):
    source = saved_regressor(**settings)

    def edit(metadata):
        metadata["target"][statistic] = [value]

    edited = rewrite_metadata(source, tmp_path / "edited.mlpkit", edit)

    with pytest.raises(ModelFileError, match=expected):
        MLP.load(edited)


def test_saved_target_statistics_load(saved_regressor):
    model = MLP.load(saved_regressor())

    assert model.target_encoder_.scale_[0] > 0
