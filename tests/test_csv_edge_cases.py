"""CSV files as real programs write them: marks, line endings, quotes, separators."""

import warnings

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP
from mlpkit.cli import main
from mlpkit.data import read_csv, split_target
from mlpkit.errors import ConvergenceWarning, DataError, ParameterError


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def train(path, target="label", **settings):
    frame = read_csv(path, sep=settings.pop("sep", None))
    features, y = split_target(frame, target, str(path))
    model = MLP(hidden_layers=(4,), max_epochs=3, validation_fraction=0, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(features, y, source=str(path))


ROWS = [
    ("1.5", "red", "yes"),
    ("2", "blue", "no"),
    ("-3", "red", "yes"),
    ("4", "blue", "no"),
]


def csv_text(separator=",", line_end="\n", bom=""):
    lines = [separator.join(("size", "color", "label"))]
    lines += [separator.join(row) for row in ROWS]
    return bom + line_end.join(lines) + line_end


EXPECTED_SIZES = [1.5, 2.0, -3.0, 4.0]


@pytest.mark.parametrize(
    "bom, line_end",
    [("", "\n"), ("\ufeff", "\n"), ("", "\r\n"), ("\ufeff", "\r\n"), ("", "\r")],
    ids=["plain", "bom", "windows", "bom-windows", "old-mac"],
)
def test_marks_and_line_endings_read_alike(tmp_path, bom, line_end):
    path = write(tmp_path, csv_text(line_end=line_end, bom=bom))

    frame = read_csv(path)

    assert list(frame.columns) == ["size", "color", "label"]
    assert frame["size"].tolist() == EXPECTED_SIZES
    assert frame["label"].tolist() == ["yes", "no", "yes", "no"]


def test_windows_file_with_bom_trains(tmp_path):
    path = write(tmp_path, csv_text(line_end="\r\n", bom="\ufeff"))

    model = train(path)

    assert list(model.classes_) == ["no", "yes"]
    assert model.preprocessor_.feature_names_in_ == ["size", "color"]


def test_quoted_fields_keep_commas(tmp_path):
    text = 'city,size,label\n"Paris, France",1,yes\n"Austin, TX",2,no\nOslo,3,yes\n'
    path = write(tmp_path, text)

    frame = read_csv(path)

    assert frame["city"].tolist() == ["Paris, France", "Austin, TX", "Oslo"]
    assert frame["size"].tolist() == [1, 2, 3]


def test_quoted_field_with_line_break_and_quote(tmp_path):
    text = 'note,size,label\r\n"two\r\nlines",1,yes\r\n"say ""hi""",2,no\r\n'
    path = write(tmp_path, text)

    frame = read_csv(path)

    assert frame["note"].tolist() == ["two\r\nlines", 'say "hi"']


@pytest.mark.parametrize("separator", [";", "\t"])
def test_separator_detected(tmp_path, separator):
    path = write(tmp_path, csv_text(separator=separator))

    frame = read_csv(path)

    assert list(frame.columns) == ["size", "color", "label"]
    assert frame["size"].tolist() == EXPECTED_SIZES


def test_semicolon_file_with_decimal_commas_trains(tmp_path):
    text = "size;color;label\n1,5;red;yes\n2;blue;no\n-3,25;red;yes\n4;blue;no\n"
    path = write(tmp_path, text)

    model = train(path)

    frame = read_csv(path)
    assert frame["size"].tolist() == [1.5, 2.0, -3.25, 4.0]
    assert model.task_ == "binary"


def test_semicolon_detected_despite_quoted_comma_in_header(tmp_path):
    text = '"price, EUR";color;label\n1;red;yes\n2;blue;no\n'
    path = write(tmp_path, text)

    frame = read_csv(path)

    assert list(frame.columns) == ["price, EUR", "color", "label"]


def test_explicit_separator_overrides_detection(tmp_path):
    # The header has a comma inside a name, so detection alone would pick it.
    text = "size,cm;color;label\n1;red;yes\n2;blue;no\n"
    path = write(tmp_path, text)

    frame = read_csv(path, sep=";")

    assert list(frame.columns) == ["size,cm", "color", "label"]


def test_explicit_separator_trains(tmp_path):
    path = write(tmp_path, csv_text(separator="|"))

    model = train(path, sep="|")

    assert model.preprocessor_.feature_names_in_ == ["size", "color"]


@pytest.mark.parametrize("separator", ["", ";;", '"', "\n", "\r", "."])
def test_invalid_separator_rejected(tmp_path, separator):
    path = write(tmp_path, csv_text())

    with pytest.raises(ParameterError, match="sep must be one character"):
        read_csv(path, sep=separator)


def test_thousands_of_columns_train(tmp_path):
    rng = np.random.default_rng(0)
    n_rows, n_columns = 60, 3000
    values = rng.normal(size=(n_rows, n_columns))
    frame = pd.DataFrame(values, columns=[f"feature_{i}" for i in range(n_columns)])
    frame["label"] = np.where(values[:, 0] > 0, "up", "down")
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)

    model = train(path)

    assert model.preprocessor_.n_features_in_ == n_columns
    assert model.network_.layer_sizes[0] == n_columns


@pytest.mark.parametrize(
    "header",
    ["size,size,label", "size,color,size,label", "label,size,label"],
)
def test_duplicate_column_names_rejected(tmp_path, header):
    n_values = header.count(",") + 1
    row = ",".join(["1"] * n_values)
    path = write(tmp_path, f"{header}\n{row}\n{row}\n")

    with pytest.raises(DataError, match="appears more than once") as error:
        read_csv(path)

    assert str(path) in str(error.value)


def test_target_mixing_numbers_and_text_names_rows(tmp_path):
    text = "size,price\n1,10.5\n2,12\n3,twelve\n4,13\n"
    path = write(tmp_path, text, name="prices.csv")

    with pytest.raises(DataError) as error:
        train(path, target="price")

    message = str(error.value)
    assert "mixes numbers and text" in message
    assert "'10.5' in row 1 (line 2 of" in message
    assert "'twelve' in row 3 (line 4 of" in message
    assert "prices.csv" in message


def test_target_mixing_numbers_and_text_in_memory():
    features = pd.DataFrame({"size": [1.0, 2.0, 3.0, 4.0]})
    target = pd.Series([1, "two", 3, 4], dtype=object, name="price")

    with pytest.raises(DataError, match="'two' in row 2"):
        MLP(max_epochs=1).fit(features, target)


def test_mixed_target_allowed_as_classification(tmp_path):
    text = "size,grade\n1,1\n2,2\n3,A\n4,1\n5,A\n6,2\n"
    path = write(tmp_path, text)

    model = train(path, target="grade", task="classification")

    assert list(model.classes_) == ["1", "2", "A"]


def test_labels_of_several_types_rejected():
    features = pd.DataFrame({"size": [1.0, 2.0, 3.0, 4.0]})
    target = pd.Series([1, "two", 1, "two"], dtype=object, name="grade")

    with pytest.raises(DataError, match="several types"):
        MLP(max_epochs=1, task="classification").fit(features, target)


def test_text_target_of_labels_still_classifies(tmp_path):
    path = write(tmp_path, csv_text())

    model = train(path)

    assert model.task_ == "binary"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_file_rejected(tmp_path, encoding):
    path = tmp_path / "wide.csv"
    path.write_bytes(csv_text().encode(encoding))

    with pytest.raises(DataError, match="NUL byte on line 1.*UTF-16"):
        read_csv(path)


def test_nul_byte_names_its_line(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"a,label\n1,x\n2\x00,y\n")

    with pytest.raises(DataError, match="NUL byte on line 3"):
        read_csv(path)


def test_cli_separator_option(tmp_path, capsys):
    # The comma inside the first name would make detection pick the comma.
    lines = ["size,cm;color;label"]
    for index in range(30):
        color = "red" if index % 2 else "blue"
        label = "yes" if index % 3 else "no"
        lines.append(f"{index % 7};{color};{label}")
    path = write(tmp_path, "\n".join(lines) + "\n")
    model_path = tmp_path / "model.mlpkit"
    train_arguments = ["train", path, "--target", "label", "--sep", ";"]
    train_arguments += ["--epochs", "2", "--quiet", "-o", model_path]

    train_status = main([str(argument) for argument in train_arguments])
    predict_status = main(["predict", str(model_path), str(path), "--sep", "semicolon"])
    bad_status = main(["train", str(path), "--target", "label", "--sep", ";;"])
    captured = capsys.readouterr()

    assert train_status == 0
    assert MLP.load(model_path).preprocessor_.feature_names_in_ == ["size,cm", "color"]
    assert predict_status == 0
    assert captured.out.count("\n") >= 30
    assert bad_status == 2
    assert "invalid separator ';;'" in captured.err
