"""Tests for the datasets bundled with scikit-learn."""

import pandas as pd
import pytest

from mlpkit.datasets import DATASET_NAMES, is_dataset_name, load_dataset
from mlpkit.errors import ParameterError

EXPECTED = [
    # name, features shape, target name, classes (None for regression)
    ("digits", (1797, 64), "digit", set(range(10))),
    ("iris", (150, 4), "species", {"setosa", "versicolor", "virginica"}),
    ("wine", (178, 13), "cultivar", {"class_0", "class_1", "class_2"}),
    ("breast-cancer", (569, 30), "diagnosis", {"malignant", "benign"}),
    ("diabetes", (442, 10), "progression", None),
]


def test_expected_table_covers_names():
    assert [row[0] for row in EXPECTED] == list(DATASET_NAMES)


@pytest.mark.parametrize(("name", "shape", "target_name", "classes"), EXPECTED)
def test_load_dataset(name, shape, target_name, classes):
    features, y = load_dataset(name)

    assert isinstance(features, pd.DataFrame)
    assert features.shape == shape
    assert y.shape == (shape[0],)
    assert y.name == target_name
    assert y.index.equals(features.index)
    if classes is None:
        assert pd.api.types.is_float_dtype(y)
    else:
        assert set(y.unique()) == classes


def test_digits_target_is_integer():
    _, y = load_dataset("digits")

    assert pd.api.types.is_integer_dtype(y)


@pytest.mark.parametrize("name", ["iris", "wine", "breast-cancer"])
def test_class_names_are_strings(name):
    _, y = load_dataset(name)

    assert pd.api.types.is_string_dtype(y)


def test_unknown_dataset_suggests_name():
    with pytest.raises(ParameterError, match="did you mean 'iris'") as caught:
        load_dataset("irsi")

    assert "breast-cancer" in str(caught.value)


def test_unknown_dataset_lists_names():
    with pytest.raises(ParameterError, match="choose one of") as caught:
        load_dataset("zzzz")

    assert "diabetes" in str(caught.value)


def test_is_dataset_name():
    assert is_dataset_name("iris")
    assert not is_dataset_name("iris.csv")
    assert not is_dataset_name("Iris")


def test_existing_file_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wine").write_text("a,b\n1,2\n")

    assert not is_dataset_name("wine")
    assert is_dataset_name("iris")
