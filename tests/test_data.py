"""Tests for reading CSV files and splitting off the target column."""

from pathlib import Path

import pandas as pd
import pytest

from mlpkit.data import describe_row, read_csv, split_target
from mlpkit.errors import DataError


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_csv_values_and_types(tmp_path):
    path = write(tmp_path, "age,color\n31,red\n,blue\n")
    frame = read_csv(path)

    assert frame.columns.tolist() == ["age", "color"]
    assert frame["color"].tolist() == ["red", "blue"]
    assert frame["age"].iloc[0] == 31
    assert pd.isna(frame["age"].iloc[1])
    assert isinstance(frame.index, pd.RangeIndex)


def test_read_csv_strips_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffage,color\n1,red\n".encode())
    frame = read_csv(path)

    assert frame.columns.tolist() == ["age", "color"]


@pytest.mark.parametrize("separator", [";", "\t"])
def test_read_csv_detects_separator(tmp_path, separator):
    path = write(tmp_path, f"a{separator}b\n1{separator}2\n")
    frame = read_csv(path)

    assert frame.columns.tolist() == ["a", "b"]
    assert frame.shape == (1, 2)


def test_read_csv_decimal_comma(tmp_path):
    path = write(tmp_path, "price;age;color\n1,5;3;red\n-2;4;blue\n")
    frame = read_csv(path)

    assert frame["price"].tolist() == [1.5, -2.0]
    assert frame["color"].tolist() == ["red", "blue"]


def test_read_csv_semicolon_decimal_point(tmp_path):
    path = write(tmp_path, "price;size\n1.5;1,5 m\n2.25;2 m\n")
    frame = read_csv(path)

    assert frame["price"].tolist() == [1.5, 2.25]
    assert frame["size"].tolist() == ["1,5 m", "2 m"]


def test_read_csv_comma_wins_over_semicolon(tmp_path):
    path = write(tmp_path, "a,b;c\n1,2;3\n")
    frame = read_csv(path)

    assert frame.columns.tolist() == ["a", "b;c"]


def test_read_csv_explicit_separator(tmp_path):
    path = write(tmp_path, "a|b\n1|2\n")
    frame = read_csv(path, sep="|")

    assert frame.columns.tolist() == ["a", "b"]


def test_read_csv_missing_file(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(DataError, match="not found") as caught:
        read_csv(path)

    assert str(path) in str(caught.value)


def test_read_csv_directory(tmp_path):
    with pytest.raises(DataError, match="is a directory") as caught:
        read_csv(tmp_path)

    assert str(tmp_path) in str(caught.value)


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_read_csv_empty_file(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match="is empty") as caught:
        read_csv(path)

    assert str(path) in str(caught.value)


def test_read_csv_header_only(tmp_path):
    path = write(tmp_path, "age,color\n")
    with pytest.raises(DataError, match="no data rows") as caught:
        read_csv(path)

    assert str(path) in str(caught.value)


def test_read_csv_duplicate_column(tmp_path):
    path = write(tmp_path, "age,color,age\n1,red,2\n")
    with pytest.raises(DataError, match="'age' appears more than once") as caught:
        read_csv(path)

    assert str(path) in str(caught.value)


def test_read_csv_keeps_dotted_column_name(tmp_path):
    path = write(tmp_path, "age,age.1\n1,2\n")
    frame = read_csv(path)

    assert frame.columns.tolist() == ["age", "age.1"]


def test_read_csv_surplus_first_row(tmp_path):
    path = write(tmp_path, "a,b\n1,2,3\n4,5,6\n")
    with pytest.raises(DataError, match="more values than the header"):
        read_csv(path)


def test_read_csv_surplus_later_row(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n4,5,6\n")
    with pytest.raises(DataError, match="line 3") as caught:
        read_csv(path)

    assert "not valid CSV" in str(caught.value)


def test_read_csv_not_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"name\ncaf\xe9\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read_csv(path)


def test_describe_row_file():
    assert describe_row(16, "data.csv") == "row 17 (line 18 of data.csv)"


def test_describe_row_memory():
    assert describe_row(16) == "row 17"


def test_split_target_columns():
    frame = pd.DataFrame({"price": [1.0, 2.0], "age": [3, 4], "size": [5, 6]})
    features, y = split_target(frame, "price")

    assert features.columns.tolist() == ["age", "size"]
    assert y.name == "price"
    assert y.tolist() == [1.0, 2.0]


def test_split_target_suggests_name():
    frame = pd.DataFrame({"price": [1.0], "age": [3]})
    with pytest.raises(DataError, match="did you mean 'price'") as caught:
        split_target(frame, "prce", source="data.csv")

    message = str(caught.value)
    assert "'prce' not found in data.csv" in message
    assert "'age'" in message


def test_split_target_without_suggestion():
    frame = pd.DataFrame({"price": [1.0], "age": [3]})
    with pytest.raises(DataError, match="pass one of its columns") as caught:
        split_target(frame, "zzzzzz")

    assert "did you mean" not in str(caught.value)


def test_split_target_lists_ten_columns():
    frame = pd.DataFrame({f"column{i:02d}": [i] for i in range(25)})
    with pytest.raises(DataError) as caught:
        split_target(frame, "target")

    message = str(caught.value)
    assert "'column09'" in message
    assert "'column10'" not in message
    assert "and 15 more" in message


def test_split_target_no_features():
    frame = pd.DataFrame({"price": [1.0, 2.0]})
    with pytest.raises(DataError, match="no feature columns"):
        split_target(frame, "price")


def test_split_target_repeated_target():
    frame = pd.DataFrame([[1, 2, 3]], columns=["price", "price", "age"])
    with pytest.raises(DataError, match="more than one column named 'price'"):
        split_target(frame, "price")
