"""Tests for TabularPreprocessor: column kinds, imputation, scaling, encoding."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlpkit.errors import (
    DataError,
    ModelFileError,
    NotFittedError,
    ParameterError,
    UnseenCategoryWarning,
)
from mlpkit.preprocessing import TabularPreprocessor


def training_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [20.0, np.nan, 40.0, 30.0, 55.0, 25.0],
            "color": ["red", "blue", None, "red", "green", "red"],
            "rooms": [1, 2, 3, 2, 4, 3],
            "size": ["S", "M", "L", "M", None, "S"],
        }
    )


def sklearn_oracle(frame: pd.DataFrame) -> np.ndarray:
    numeric = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(sparse_output=False, handle_unknown="ignore"),
    )
    oracle = ColumnTransformer(
        [
            ("numeric", numeric, ["age", "rooms"]),
            ("categorical", categorical, ["color", "size"]),
        ]
    )
    as_object = frame.astype({"color": object, "size": object})
    as_object = as_object.where(as_object.notna(), np.nan)
    return oracle.fit_transform(as_object)


def json_round_trip(preprocessor: TabularPreprocessor) -> TabularPreprocessor:
    text = json.dumps(preprocessor.to_config(), allow_nan=False)
    return TabularPreprocessor.from_config(json.loads(text))


def test_output_matches_sklearn_pipeline():
    frame = training_frame()
    output = TabularPreprocessor().fit_transform(frame, dtype=np.float64)

    np.testing.assert_array_equal(output, sklearn_oracle(frame))


def test_output_shape_and_dtype():
    output = TabularPreprocessor().fit_transform(training_frame())

    assert output.shape == (6, 2 + 3 + 3)
    assert output.dtype == np.float32


def test_feature_names():
    preprocessor = TabularPreprocessor().fit(training_frame())

    assert preprocessor.feature_names_in_ == ["age", "color", "rooms", "size"]
    assert preprocessor.n_features_in_ == 4
    assert preprocessor.feature_names_out_ == [
        "age",
        "rooms",
        "color=blue",
        "color=green",
        "color=red",
        "size=L",
        "size=M",
        "size=S",
    ]
    assert preprocessor.n_features_out_ == 8


def test_standardized_training_columns():
    frame = training_frame()
    output = TabularPreprocessor().fit_transform(frame, dtype=np.float64)
    numeric = output[:, :2]

    np.testing.assert_allclose(numeric.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(numeric.std(axis=0), 1.0, rtol=1e-12)


def test_standardization_matches_scaler():
    frame = pd.DataFrame({"x": [3.0, 1.5, -2.0, 8.25], "y": [1, 1, 2, 9]})
    output = TabularPreprocessor().fit_transform(frame, dtype=np.float64)
    expected = StandardScaler().fit_transform(frame.to_numpy(dtype=np.float64))

    np.testing.assert_array_equal(output, expected)


def test_without_standardization_keeps_values():
    frame = pd.DataFrame({"x": [1.0, np.nan, 5.0]})
    preprocessor = TabularPreprocessor(standardize=False)
    output = preprocessor.fit_transform(frame, dtype=np.float64)

    np.testing.assert_array_equal(output[:, 0], [1.0, 3.0, 5.0])


def test_numeric_missing_gets_training_mean():
    preprocessor = TabularPreprocessor(standardize=False)
    preprocessor.fit(pd.DataFrame({"x": [2.0, 4.0, np.nan]}))
    output = preprocessor.transform(pd.DataFrame({"x": [np.nan]}), dtype=np.float64)

    assert output[0, 0] == 3.0


def test_one_hot_rows():
    frame = pd.DataFrame({"color": ["red", "blue", "red", None]})
    output = TabularPreprocessor().fit_transform(frame, dtype=np.float64)

    # Categories are sorted (blue, red), and the missing cell gets "red".
    expected = [[0, 1], [1, 0], [0, 1], [0, 1]]
    np.testing.assert_array_equal(output, expected)


def test_bool_column_is_numeric():
    frame = pd.DataFrame({"flag": [True, False, True, True]})
    preprocessor = TabularPreprocessor(standardize=False)
    output = preprocessor.fit_transform(frame, dtype=np.float64)

    assert preprocessor.describe()[0]["kind"] == "numeric"
    np.testing.assert_array_equal(output[:, 0], [1.0, 0.0, 1.0, 1.0])


def test_nullable_integer_column_is_numeric():
    frame = pd.DataFrame({"count": pd.array([1, None, 3], dtype="Int64")})
    preprocessor = TabularPreprocessor(standardize=False)
    output = preprocessor.fit_transform(frame, dtype=np.float64)

    np.testing.assert_array_equal(output[:, 0], [1.0, 2.0, 3.0])


def test_number_text_column_is_numeric():
    frame = pd.DataFrame({"x": pd.Series(["1", "2.5", None], dtype=object)})
    preprocessor = TabularPreprocessor(standardize=False)
    output = preprocessor.fit_transform(frame, dtype=np.float64)

    assert preprocessor.describe()[0]["kind"] == "numeric"
    np.testing.assert_array_equal(output[:, 0], [1.0, 2.5, 1.75])


def test_category_dtype_of_numbers_is_categorical():
    frame = pd.DataFrame({"grade": pd.Categorical([1, 2, 2, 3])})
    preprocessor = TabularPreprocessor().fit(frame)

    assert preprocessor.feature_names_out_ == ["grade=1", "grade=2", "grade=3"]


def test_mixed_type_column_is_categorical():
    frame = pd.DataFrame({"code": pd.Series([1, "a", "b", 2.5, "a"], dtype=object)})
    preprocessor = TabularPreprocessor().fit(frame)

    assert preprocessor.describe()[0]["kind"] == "categorical"
    assert preprocessor.feature_names_out_ == [
        "code=1",
        "code=2.5",
        "code=a",
        "code=b",
    ]


def test_float_codes_match_integer_categories():
    preprocessor = TabularPreprocessor().fit(pd.DataFrame({"code": ["1", "2", "x"]}))
    new = pd.DataFrame({"code": [2.0, np.nan, 1.0]})

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output = preprocessor.transform(new, dtype=np.float64)

    expected = [[0, 1, 0], [1, 0, 0], [1, 0, 0]]
    np.testing.assert_array_equal(output, expected)


def test_transform_without_rows():
    preprocessor = TabularPreprocessor().fit(training_frame())
    output = preprocessor.transform(training_frame().iloc[:0])

    assert output.shape == (0, 8)


def test_mixed_type_column_survives_config():
    frame = pd.DataFrame({"code": pd.Series([1, "a", "b", 2.5, "a"], dtype=object)})
    preprocessor = TabularPreprocessor().fit(frame)
    rebuilt = json_round_trip(preprocessor)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output = rebuilt.transform(frame)
    np.testing.assert_array_equal(output, preprocessor.transform(frame))


def test_unseen_category_warns_once():
    preprocessor = TabularPreprocessor().fit(training_frame())
    new = training_frame()
    new["color"] = ["purple", "red", "purple", "teal", "red", "red"]
    new["size"] = ["XL", "S", "S", "S", "S", "S"]

    with pytest.warns(UnseenCategoryWarning) as records:
        preprocessor.transform(new, source="new.csv")

    assert len(records) == 1
    message = str(records[0].message)
    assert message.startswith("3 rows contain")
    assert "new.csv" in message
    assert "'color' ('purple', 'teal')" in message
    assert "'size' ('XL')" in message


def test_unseen_category_encoded_as_zeros():
    preprocessor = TabularPreprocessor().fit(training_frame())
    new = training_frame().iloc[:1].assign(color="purple")

    with pytest.warns(UnseenCategoryWarning, match="^1 row contains"):
        output = preprocessor.transform(new)

    color_block = output[0, 2:5]
    np.testing.assert_array_equal(color_block, [0.0, 0.0, 0.0])


def test_unseen_category_warning_limits_values():
    preprocessor = TabularPreprocessor().fit(pd.DataFrame({"c": ["a", "b"]}))
    new = pd.DataFrame({"c": ["p", "q", "r", "s", "t"]})

    with pytest.warns(UnseenCategoryWarning) as records:
        preprocessor.transform(new)

    message = str(records[0].message)
    assert "'p', 'q', 'r' and 2 more" in message
    assert "'s'" not in message


def test_known_categories_do_not_warn():
    preprocessor = TabularPreprocessor().fit(training_frame())

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        preprocessor.transform(training_frame())


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_constant_column_is_finite():
    frame = pd.DataFrame({"constant": [7.0, 7.0, 7.0], "x": [1.0, 2.0, 3.0]})
    preprocessor = TabularPreprocessor()
    output = preprocessor.fit_transform(frame, dtype=np.float64)

    assert np.isfinite(output).all()
    np.testing.assert_array_equal(output[:, 0], [0.0, 0.0, 0.0])
    assert preprocessor.describe()[0]["std"] == 0.0


def test_text_in_numeric_column_at_fit():
    values = [str(i) for i in range(20)]
    values[13] = "12,5"
    frame = pd.DataFrame({"id": range(20), "weight": values})

    with pytest.raises(DataError, match="column 'weight'") as caught:
        TabularPreprocessor().fit(frame, source="data.csv")

    message = str(caught.value)
    assert "'12,5'" in message
    assert "row 14 (line 15 of data.csv)" in message
    assert "leave the cell empty" in message


def test_text_in_numeric_column_in_memory():
    values = [str(i) for i in range(20)]
    values[4] = "n/a?"
    frame = pd.DataFrame({"weight": values})

    with pytest.raises(DataError, match="row 5,") as caught:
        TabularPreprocessor().fit(frame)

    assert "line" not in str(caught.value)


def test_text_in_numeric_column_at_transform():
    preprocessor = TabularPreprocessor().fit(training_frame())
    new = training_frame().astype({"age": object})
    new.loc[2, "age"] = "forty"

    with pytest.raises(DataError, match="column 'age'") as caught:
        preprocessor.transform(new, source="new.csv")

    message = str(caught.value)
    assert "'forty'" in message
    assert "row 3 (line 4 of new.csv)" in message
    assert "trained on" in message


def test_error_row_follows_index_label():
    frame = training_frame().astype({"age": object})
    frame.loc[4, "age"] = "old"
    preprocessor = TabularPreprocessor().fit(training_frame())

    with pytest.raises(DataError, match=r"row 5 \(line 6 of data.csv\)"):
        preprocessor.transform(frame.iloc[3:], source="data.csv")


def test_mostly_text_column_is_categorical():
    frame = pd.DataFrame({"code": ["1", "2", "x", "y", "3"]})
    preprocessor = TabularPreprocessor().fit(frame)

    assert preprocessor.describe()[0]["kind"] == "categorical"


def test_column_without_values():
    frame = training_frame().assign(notes=np.nan)

    with pytest.raises(DataError, match="column 'notes'") as caught:
        TabularPreprocessor().fit(frame)

    assert "drop the column" in str(caught.value)


def test_frame_without_rows():
    frame = training_frame().iloc[:0]

    with pytest.raises(DataError, match="no rows"):
        TabularPreprocessor().fit(frame)


def test_frame_without_columns():
    with pytest.raises(DataError, match="no feature columns"):
        TabularPreprocessor().fit(pd.DataFrame(index=range(3)))


def test_repeated_column_name():
    frame = pd.DataFrame([[1, 2]], columns=["x", "x"])

    with pytest.raises(DataError, match="more than one column named 'x'"):
        TabularPreprocessor().fit(frame)


def test_date_column_rejected():
    frame = pd.DataFrame({"day": pd.to_datetime(["2024-01-01", "2024-01-02"])})

    with pytest.raises(DataError, match="column 'day'"):
        TabularPreprocessor().fit(frame)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinity_at_fit(value):
    frame = pd.DataFrame({"x": [1.0, 2.0, value]})

    with pytest.raises(DataError, match="column 'x'") as caught:
        TabularPreprocessor().fit(frame, source="data.csv")

    assert "row 3 (line 4 of data.csv)" in str(caught.value)


def test_infinity_at_transform():
    preprocessor = TabularPreprocessor().fit(training_frame())
    new = training_frame()
    new.loc[1, "age"] = np.inf

    with pytest.raises(DataError, match="column 'age'") as caught:
        preprocessor.transform(new)

    assert "row 2" in str(caught.value)


def test_missing_prediction_columns():
    preprocessor = TabularPreprocessor().fit(training_frame())
    new = training_frame().drop(columns=["age", "size"])

    with pytest.raises(DataError, match="new.csv lacks columns") as caught:
        preprocessor.transform(new, source="new.csv")

    message = str(caught.value)
    assert "'age', 'size'" in message
    assert "empty cells are imputed" in message


def test_extra_prediction_column_ignored():
    preprocessor = TabularPreprocessor().fit(training_frame())
    new = training_frame().assign(extra=1.0)

    output = preprocessor.transform(new)
    expected = preprocessor.transform(training_frame())

    np.testing.assert_array_equal(output, expected)


def test_prediction_column_order_ignored():
    preprocessor = TabularPreprocessor().fit(training_frame())
    reordered = training_frame()[["size", "rooms", "color", "age"]]

    output = preprocessor.transform(reordered)
    expected = preprocessor.transform(training_frame())

    np.testing.assert_array_equal(output, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_config_round_trip_bit_for_bit(dtype):
    preprocessor = TabularPreprocessor().fit(training_frame())
    rebuilt = json_round_trip(preprocessor)
    new = pd.DataFrame(
        {
            "age": [np.nan, 1e6, -3.3],
            "color": ["red", None, "purple"],
            "rooms": [0, 2, 7],
            "size": [None, "XS", "L"],
        }
    )

    with pytest.warns(UnseenCategoryWarning):
        original = preprocessor.transform(new, dtype=dtype)
    with pytest.warns(UnseenCategoryWarning):
        restored = rebuilt.transform(new, dtype=dtype)

    assert original.tobytes() == restored.tobytes()
    assert rebuilt.feature_names_out_ == preprocessor.feature_names_out_


def test_config_round_trip_without_standardization():
    preprocessor = TabularPreprocessor(standardize=False).fit(training_frame())
    rebuilt = json_round_trip(preprocessor)

    assert rebuilt.standardize is False
    original = preprocessor.transform(training_frame(), dtype=np.float64)
    restored = rebuilt.transform(training_frame(), dtype=np.float64)
    assert original.tobytes() == restored.tobytes()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
        min_size=1,
        max_size=20,
    )
)
def test_config_round_trip_any_floats(values):
    frame = pd.DataFrame({"x": values})
    preprocessor = TabularPreprocessor().fit(frame)
    rebuilt = json_round_trip(preprocessor)

    original = preprocessor.transform(frame, dtype=np.float64)
    restored = rebuilt.transform(frame, dtype=np.float64)
    assert original.tobytes() == restored.tobytes()


def test_config_contains_only_json_types():
    config = TabularPreprocessor().fit(training_frame()).to_config()

    assert json.loads(json.dumps(config)) == config
    numeric = config["columns"][0]
    assert type(numeric["mean"]) is float
    assert type(numeric["n_missing"]) is int
    categorical = config["columns"][1]
    assert categorical["categories"] == ["blue", "green", "red"]
    assert categorical["fill_value"] == "red"


@pytest.mark.parametrize(
    "config",
    [
        {"columns": []},
        {"standardize": True, "columns": []},
        {"standardize": "yes", "columns": [{"name": "x"}]},
        {"standardize": True, "columns": [{"name": "x", "kind": "numeric"}]},
        {"standardize": True, "columns": [{"name": "x", "kind": "date"}]},
        {"standardize": True, "columns": "x"},
    ],
)
def test_invalid_config(config):
    with pytest.raises(ModelFileError, match="preprocessing config is invalid"):
        TabularPreprocessor.from_config(config)


@pytest.mark.parametrize("method", ["to_config", "describe"])
def test_not_fitted_methods(method):
    with pytest.raises(NotFittedError):
        getattr(TabularPreprocessor(), method)()


def test_not_fitted_transform():
    with pytest.raises(NotFittedError):
        TabularPreprocessor().transform(training_frame())


def test_invalid_standardize():
    with pytest.raises(ParameterError, match="standardize"):
        TabularPreprocessor(standardize="no")


def test_describe_entries():
    preprocessor = TabularPreprocessor().fit(training_frame())
    age, color = preprocessor.describe()[:2]

    assert age["name"] == "age"
    assert age["kind"] == "numeric"
    assert age["mean"] == pytest.approx(34.0)
    assert age["n_missing"] == 1
    assert color["kind"] == "categorical"
    assert color["n_categories"] == 3
    assert color["most_frequent"] == "red"
    assert color["n_missing"] == 1


def test_repr_fitted():
    preprocessor = TabularPreprocessor().fit(training_frame())
    text = repr(preprocessor)

    assert "2 numeric and 2 categorical columns" in text
    assert "8 outputs" in text


def test_repr_not_fitted():
    assert "not fitted" in repr(TabularPreprocessor())


# The pandas-free path for numeric arrays


def fitted_on_array(values, standardize=True):
    frame = pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])
    return TabularPreprocessor(standardize=standardize).fit(frame), frame


@pytest.mark.parametrize("standardize", [True, False])
def test_transform_array_matches_transform(standardize):
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 2.0, size=(40, 3))
    values[3, 1] = np.nan
    preprocessor, frame = fitted_on_array(values, standardize)

    fast = preprocessor.transform_array(values)

    np.testing.assert_array_equal(fast, preprocessor.transform(frame))
    assert fast.dtype == np.float32


def test_transform_array_declines_named_columns():
    frame = pd.DataFrame({"size": [1.0, 2.0, 3.0], "age": [4.0, 5.0, 7.0]})
    preprocessor = TabularPreprocessor().fit(frame)

    assert preprocessor.transform_array(frame.to_numpy()) is None


def test_transform_array_declines_categorical_columns():
    frame = pd.DataFrame({"x0": [1.0, 2.0, 3.0], "x1": ["a", "b", "a"]})
    preprocessor = TabularPreprocessor().fit(frame)

    assert preprocessor.transform_array(np.array([[1.0, 2.0]])) is None


def test_transform_array_declines_wrong_width():
    preprocessor, _ = fitted_on_array(np.arange(12.0).reshape(4, 3))

    assert preprocessor.transform_array(np.zeros((2, 4))) is None


def test_transform_array_rejects_infinity_with_row():
    preprocessor, _ = fitted_on_array(np.arange(12.0).reshape(4, 3))
    values = np.zeros((3, 3))
    values[2, 1] = np.inf

    with pytest.raises(DataError, match=r"'x1'.*row 3"):
        preprocessor.transform_array(values)


def test_transform_array_matches_without_missing_cells():
    values = np.random.default_rng(2).normal(5.0, 2.0, size=(40, 3))
    preprocessor, frame = fitted_on_array(values)

    fast = preprocessor.transform_array(values)

    np.testing.assert_array_equal(fast, preprocessor.transform(frame))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_transform_array_declines_float32_overflow(sign):
    preprocessor, _ = fitted_on_array(np.arange(12.0).reshape(4, 3))
    values = np.zeros((2, 3))
    values[1, 2] = sign * 1e300

    assert preprocessor.transform_array(values) is None
