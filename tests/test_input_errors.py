"""Errors for invalid input to the Python API and streaming: ragged and sparse
arrays, one-dimensional features, damaged .npy files, invalid targets and cache
directories, and targets of dates or of several integer columns."""

import datetime
import io
import logging
import os
import random
import struct
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from mlpkit.cli import main
from mlpkit.data import as_feature_array
from mlpkit.errors import DataError, ParameterError
from mlpkit.model import MLP
from mlpkit.sources import CsvSource, NpySource, open_source
from mlpkit.streaming import check_cache_dir, fit_streaming
from mlpkit.tasks import TargetEncoder

N_ROWS = 40


@pytest.fixture(autouse=True)
def ignore_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def small_model(**settings) -> MLP:
    options = {"hidden_layers": (4,), "max_epochs": 1, "batch_size": 8}
    options.update(settings)
    return MLP(**options)


@pytest.fixture
def features() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(N_ROWS, 3))


@pytest.fixture
def labels(features) -> np.ndarray:
    return (features[:, 0] > 0).astype(int)


def write_npy(tmp_path: Path, array: np.ndarray, name: str = "data.npy") -> Path:
    path = tmp_path / name
    np.save(path, array)
    return path


def write_labelled_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(N_ROWS, 2)), columns=["a", "b"])
    frame["label"] = np.arange(N_ROWS) % 2
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


# Ragged rows


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([[1, 2], [3]], "row 1 has 2 values but row 2 has 1 value"),
        ([[1, 2], [3, 4], [5, 6, 7]], "row 1 has 2 values but row 3 has 3 values"),
        ([[1, 2], 3], "row 1 has 2 values but row 2 is a single value"),
    ],
)
def test_ragged_features_name_first_different_row(rows, expected):
    with pytest.raises(DataError) as caught:
        as_feature_array(rows)

    message = str(caught.value)
    assert "the rows of X have different lengths" in message
    assert expected in message
    assert "same number of values" in message


def test_unconvertible_features_raise_data_error():
    with pytest.raises(DataError) as caught:
        as_feature_array([[1, [2, 3]], [4, 5]])

    message = str(caught.value)
    assert "X cannot be converted to an array" in message
    assert "list of rows of equal length" in message


def test_ragged_target_names_first_different_row():
    with pytest.raises(DataError) as caught:
        small_model().fit([[1.0, 2.0], [3.0, 4.0]], [[0, 1], [1]])

    message = str(caught.value)
    assert "the rows of y have different lengths" in message
    assert "row 2 has 1 value" in message


# Sparse matrices


@pytest.mark.parametrize(
    "sparse_type", [scipy.sparse.csr_matrix, scipy.sparse.csr_array]
)
def test_sparse_features_rejected_with_shape(features, sparse_type):
    with pytest.raises(DataError) as caught:
        as_feature_array(sparse_type(features))

    message = str(caught.value)
    assert f"shape {features.shape}" in message
    assert "does not support" in message
    assert "X.toarray()" in message
    assert "shape ()" not in message


def test_sparse_target_rejected_with_shape(features, labels):
    sparse_labels = scipy.sparse.csr_matrix(labels.reshape(-1, 1))

    with pytest.raises(DataError) as caught:
        small_model().fit(features, sparse_labels)

    message = str(caught.value)
    assert f"shape ({N_ROWS}, 1)" in message
    assert "y.toarray()" in message


# One-dimensional features


@pytest.mark.parametrize(
    ("make_row", "one_sample", "one_feature"),
    [
        (lambda row: row, "X.reshape(1, -1)", "X.reshape(-1, 1)"),
        (lambda row: pd.Series(row), "X.to_frame().T", "X.to_frame()"),
        (
            lambda row: list(row),
            "numpy.reshape(X, (1, -1))",
            "numpy.reshape(X, (-1, 1))",
        ),
    ],
    ids=["array", "series", "list"],
)
def test_one_dimensional_features_show_both_reshapes(
    features, make_row, one_sample, one_feature
):
    with pytest.raises(DataError) as caught:
        as_feature_array(make_row(features[0]))

    message = str(caught.value)
    assert "received shape (3,)" in message
    assert f"one sample as {one_sample}" in message
    assert f"one feature as {one_feature}" in message


def test_single_sample_hint_predicts(features, labels):
    model = small_model().fit(features, labels)

    assert model.predict(features[0].reshape(1, -1)).shape == (1,)


def test_fit_reports_ragged_rows():
    with pytest.raises(DataError, match="row 2 has 1 value"):
        small_model().fit([[1.0, 2.0], [3.0]], [0, 1])


def test_fit_reports_sparse_shape(features, labels):
    with pytest.raises(DataError, match=r"shape \(40, 3\)"):
        small_model().fit(scipy.sparse.csr_matrix(features), labels)


@pytest.mark.parametrize(
    ("make_row", "hint"),
    [(lambda row: row, "X.reshape(1, -1)"), (pd.Series, "X.to_frame().T")],
    ids=["array", "series"],
)
def test_predict_one_dimensional_row_shows_sample_reshape(
    features, labels, make_row, hint
):
    model = small_model().fit(features, labels)

    with pytest.raises(DataError) as caught:
        model.predict(make_row(features[0]))

    assert f"one sample as {hint}" in str(caught.value)


def test_fit_stream_checks_cache_dir_before_opening(tmp_path, monkeypatch):
    path = write_labelled_csv(tmp_path)

    def fail_if_opened(*args, **kwargs):
        raise AssertionError("the data was opened before cache_dir was checked")

    monkeypatch.setattr("mlpkit.model.open_source", fail_if_opened)

    with pytest.raises(ParameterError, match="does not exist"):
        small_model().fit_stream(path, target="label", cache_dir=tmp_path / "missing")


# Messages that read for Python and the command line


def test_single_class_message_names_python_setting(features):
    with pytest.raises(DataError) as caught:
        small_model().fit(features, np.zeros(N_ROWS, dtype=int))

    message = str(caught.value)
    assert "single class" in message
    assert "task='regression'" in message
    assert "--task" not in message


def test_single_class_message_names_cli_option(tmp_path, capsys):
    path = tmp_path / "one_class.csv"
    path.write_text("x,label\n1,a\n2,a\n3,a\n4,a\n5,a\n")

    status = main(["train", str(path), "--target", "label", "--epochs", "1"])
    err = capsys.readouterr().err

    assert status == 2
    assert "single class" in err
    assert "--task=regression" in err
    assert "task='regression'" not in err


# Target argument of streaming


@pytest.mark.parametrize("target", [1.0, True, [0, 1.5], [False], {"label"}, b"x"])
def test_fit_stream_rejects_invalid_npy_target(tmp_path, target):
    path = write_npy(tmp_path, np.zeros((N_ROWS, 3)))

    with pytest.raises(ParameterError) as caught:
        small_model().fit_stream(path, target=target)

    assert "target must be a column name (CSV), a column index (.npy)" in str(
        caught.value
    )
    assert caught.value.parameter == "target"


def test_fit_stream_rejects_float_csv_target(tmp_path):
    path = write_labelled_csv(tmp_path)

    with pytest.raises(ParameterError, match=r"received: target=2\.5 of type float"):
        small_model().fit_stream(path, target=2.5)


def test_sources_reject_float_target(tmp_path):
    npy_path = write_npy(tmp_path, np.zeros((N_ROWS, 3)))
    csv_path = write_labelled_csv(tmp_path)

    with pytest.raises(ParameterError, match="target=1.0"):
        NpySource(npy_path, target=1.0)
    with pytest.raises(ParameterError, match="target=1.0"):
        CsvSource(csv_path, target=1.0)
    with pytest.raises(ParameterError, match="received 1.0 of type float"):
        open_source(npy_path, [0, 1.0])


@pytest.mark.parametrize(
    "target", [[-1, 0], (0, 1), np.array([0, 1]), pd.Index([0, 1])], ids=repr
)
def test_open_source_takes_sequences_of_indices(tmp_path, target):
    path = write_npy(tmp_path, np.zeros((N_ROWS, 3)))

    source = open_source(path, target)

    assert len(source.target_columns) == 2


# Damaged .npy files


def valid_npy_bytes() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(40, dtype=np.float64).reshape(10, 4))
    return buffer.getvalue()


def npy_with_header(header: bytes, version: bytes = b"\x01\x00") -> bytes:
    """Return a .npy file of the 10 × 4 float64 array with ``header`` as its header."""
    data = valid_npy_bytes()
    header_length = struct.unpack("<H", data[8:10])[0]
    body = data[10 + header_length :]
    return b"\x93NUMPY" + version + struct.pack("<H", len(header)) + header + body


def header_text(
    shape: str, descr: str = "'<f8'", fortran_order: str = "False"
) -> bytes:
    text = (
        f"{{'descr': {descr}, 'fortran_order': {fortran_order}, 'shape': {shape}, }}"
    )
    return text.encode("latin-1")


DAMAGED_NPY = {
    "empty": (b"", "does not start with the .npy magic string"),
    "magic only": (b"\x93NUMPY", "ends inside its header"),
    "no header length": (b"\x93NUMPY\x01\x00", "header is damaged"),
    "truncated header": (valid_npy_bytes()[:30], "header is damaged"),
    "bad magic": (b"XXNUMPY" + valid_npy_bytes()[7:], "magic string"),
    "zip archive": (b"PK\x03\x04" + bytes(100), "zip archive"),
    "wrong version": (
        valid_npy_bytes()[:6] + b"\x09\x00" + valid_npy_bytes()[8:],
        "format version 9.0",
    ),
    "unclosed parenthesis": (
        npy_with_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (10, 4 }"),
        "header is damaged",
    ),
    "unclosed quote": (
        npy_with_header(b"{'descr': '<f8', 'fortran_order': False, \"}"),
        "header is damaged",
    ),
    "not a dictionary": (npy_with_header(b"[1, 2, 3]"), "header is damaged"),
    "missing key": (
        npy_with_header(b"{'descr': '<f8', 'shape': (10, 4), }"),
        "header is damaged",
    ),
    "invalid dtype": (
        npy_with_header(header_text("(10, 4)", descr="'zz'")),
        "header is damaged",
    ),
    "invalid fortran_order": (
        npy_with_header(header_text("(10, 4)", fortran_order="'yes'")),
        "header is damaged",
    ),
    "shape text": (npy_with_header(header_text("'ab'")), "header is damaged"),
    "negative shape": (npy_with_header(header_text("(10, -4)")), "negative shape"),
    "more rows than data": (
        npy_with_header(header_text("(1000, 4)")),
        "only 320 bytes follow the header",
    ),
    "huge shape": (
        npy_with_header(header_text(f"({10**30}, 4)")),
        "the file is truncated",
    ),
    "truncated data": (valid_npy_bytes()[:-7], "only 313 bytes follow the header"),
    "header length too long": (
        valid_npy_bytes()[:8] + struct.pack("<H", 60000) + valid_npy_bytes()[10:],
        "header is damaged",
    ),
    "deeply nested header": (
        npy_with_header(b"-" * 9000 + b"1"),
        "header is damaged",
    ),
}


@pytest.mark.parametrize(
    ("content", "expected"), DAMAGED_NPY.values(), ids=DAMAGED_NPY
)
def test_damaged_npy_raises_data_error(tmp_path, content, expected):
    path = tmp_path / "damaged.npy"
    path.write_bytes(content)

    with pytest.raises(DataError) as caught:
        small_model().fit_stream(path)

    message = str(caught.value)
    assert str(path) in message
    assert expected in message
    assert "numpy.save" in message


def test_random_header_damage_raises_data_error(tmp_path):
    original = valid_npy_bytes()
    header_end = 10 + struct.unpack("<H", original[8:10])[0]
    alphabet = b"{}()[]'\":,.-0123456789 \nLabefx\x00\xe9"
    generator = random.Random(0)
    path = tmp_path / "damaged.npy"
    outcomes = set()

    for _ in range(300):
        content = bytearray(original)
        for _ in range(generator.randint(1, 4)):
            position = generator.randrange(header_end)
            content[position] = generator.choice(alphabet)
        path.write_bytes(bytes(content))
        try:
            NpySource(path)
        except DataError:
            outcomes.add("DataError")
        else:
            outcomes.add("read")

    assert "DataError" in outcomes


def test_npy_format_version_3_is_read(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(4, 3)
    path = tmp_path / "version3.npy"
    with path.open("wb") as file:
        np.lib.format.write_array(file, array, version=(3, 0))

    source = NpySource(path)
    block = source.read_block(0, 4)

    np.testing.assert_array_equal(block.features.to_numpy(), array[:, :2])
    np.testing.assert_array_equal(block.target.to_numpy()[:, 0], array[:, 2])


def test_npy_without_columns_rejected(tmp_path):
    path = write_npy(tmp_path, np.zeros((4, 0)))

    with pytest.raises(DataError, match="has no columns"):
        NpySource(path)


# Cache directory of streaming


def test_fit_stream_rejects_missing_cache_dir(tmp_path):
    path = write_labelled_csv(tmp_path)
    missing = tmp_path / "missing" / "dir"

    with pytest.raises(ParameterError) as caught:
        small_model().fit_stream(path, target="label", cache_dir=missing)

    message = str(caught.value)
    assert f"cache_dir='{missing}'" in message
    assert "does not exist" in message
    assert caught.value.parameter == "cache_dir"


def test_cache_dir_that_is_a_file_rejected(tmp_path):
    not_directory = tmp_path / "file.txt"
    not_directory.write_text("")

    with pytest.raises(ParameterError, match="is not a directory"):
        check_cache_dir(not_directory)


def test_unwritable_cache_dir_rejected(tmp_path, monkeypatch):
    # Root may write anywhere, so the permission check is simulated.
    monkeypatch.setattr(os, "access", lambda path, mode: False)

    with pytest.raises(ParameterError, match="is not writable"):
        check_cache_dir(tmp_path)


def test_fit_streaming_checks_cache_dir_before_reading(tmp_path, monkeypatch):
    path = write_labelled_csv(tmp_path)

    def fail_if_read(*args, **kwargs):
        raise AssertionError("the data was read before cache_dir was checked")

    monkeypatch.setattr("mlpkit.streaming.learn_statistics", fail_if_read)

    with pytest.raises(ParameterError, match="does not exist"):
        fit_streaming(
            small_model(), CsvSource(path, "label"), cache_dir=tmp_path / "missing"
        )


def test_existing_cache_dir_used(tmp_path):
    path = write_labelled_csv(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()

    model = small_model().fit_stream(path, target="label", cache_dir=cache)

    assert model.task_ == "binary"
    assert list(cache.iterdir()) == []


# Held-out shares of streaming


def test_stream_validation_share_excludes_test_blocks(tmp_path):
    path = write_npy(tmp_path, np.random.default_rng(0).normal(size=(200, 3)))

    model = small_model(validation_fraction=0.5).fit_stream(
        path, block_rows=10, test_fraction=0.6
    )

    assert model.block_split_.test_blocks.size == 12
    assert model.block_split_.validation_blocks.size == 4
    assert model.block_split_.train_blocks.size == 4


# Targets of dates and of several integer columns


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (pd.Series(pd.date_range("2020-01-01", periods=N_ROWS)), "contains dates"),
        (
            pd.Series(pd.date_range("2020-01-01", periods=N_ROWS, tz="UTC")),
            "contains dates",
        ),
        (
            [datetime.date(2020, 1, 1 + i % 28) for i in range(N_ROWS)],
            "contains dates",
        ),
        (
            pd.Series(pd.to_timedelta(np.arange(N_ROWS), unit="s")),
            "contains durations",
        ),
        (
            pd.Series(pd.period_range("2020-01", periods=N_ROWS, freq="M")),
            "contains dates",
        ),
    ],
    ids=[
        "datetime64",
        "datetime64 with time zone",
        "date objects",
        "timedelta",
        "period",
    ],
)
@pytest.mark.parametrize("task", ["auto", "classification", "regression"])
def test_time_target_rejected(features, target, expected, task):
    with pytest.raises(DataError) as caught:
        small_model(task=task).fit(features, target)

    message = str(caught.value)
    assert expected in message
    assert "neither class labels nor numbers" in message


def test_time_target_rejected_when_scoring(features, labels):
    model = small_model().fit(features, labels)
    dates = pd.Series(pd.date_range("2020-01-01", periods=N_ROWS))

    with pytest.raises(DataError, match="contains dates"):
        model.evaluate(features, dates)


def test_integer_columns_inferred_regression_logged(labels, caplog):
    target = pd.DataFrame({"first": labels, "second": 1 - labels})

    with caplog.at_level(logging.INFO, logger="mlpkit.tasks"):
        encoder = TargetEncoder().fit(target)

    assert encoder.task_ == "regression"
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "inferred regression for the 2 integer target columns" in messages
    assert "'first', 'second'" in messages


@pytest.mark.parametrize(
    "target",
    [
        pd.DataFrame({"first": [0.5, 1.5] * 20, "second": [1.0, 2.5] * 20}),
        pd.DataFrame({"only": [0, 1] * 20}),
    ],
    ids=["float columns", "one integer column"],
)
def test_other_inferences_not_logged(target, caplog):
    with caplog.at_level(logging.INFO, logger="mlpkit.tasks"):
        TargetEncoder().fit(target)

    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "inferred regression" not in messages


def test_requested_regression_not_logged(labels, caplog):
    target = pd.DataFrame({"first": labels, "second": 1 - labels})

    with caplog.at_level(logging.INFO, logger="mlpkit.tasks"):
        TargetEncoder(task="regression").fit(target)

    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "inferred regression" not in messages


def test_one_integer_column_stays_classification(labels):
    encoder = TargetEncoder().fit(pd.DataFrame({"label": labels}))

    assert encoder.task_ == "binary"


def test_streamed_integer_columns_regression_logged(tmp_path, caplog):
    rows = np.random.default_rng(0).integers(0, 3, size=(N_ROWS, 4))
    path = write_npy(tmp_path, rows)

    with caplog.at_level(logging.INFO, logger="mlpkit.streaming_targets"):
        model = small_model().fit_stream(path, target=[-1, -2])

    assert model.task_ == "regression"
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "inferred regression for the 2 integer target columns" in messages


# Empty targets, fractional block sizes, complex and masked arrays


def test_fit_stream_rejects_empty_target(tmp_path, features):
    path = write_npy(tmp_path, features.astype(np.float32))

    with pytest.raises(ParameterError, match="at least one column") as caught:
        small_model().fit_stream(path, target=[])

    assert caught.value.parameter == "target"


@pytest.mark.parametrize("block_rows", [2.5, True, 0, "64"])
def test_fit_stream_rejects_non_integer_block_rows(tmp_path, features, block_rows):
    path = write_npy(tmp_path, features.astype(np.float32))

    with pytest.raises(ParameterError, match="block_rows must be an integer"):
        small_model().fit_stream(path, block_rows=block_rows)


def test_predict_rejects_complex_features(features, labels):
    model = small_model().fit(features, labels)

    with pytest.raises(DataError, match="complex numbers"):
        model.predict(features.astype(complex))


def test_predict_imputes_masked_cells(features, labels):
    model = small_model().fit(features, labels)
    masked = np.ma.masked_array(features[:3], mask=np.zeros((3, 3), dtype=bool))
    masked.mask[0, 1] = True
    missing = features[:3].copy()
    missing[0, 1] = np.nan

    np.testing.assert_array_equal(
        model.predict_proba(masked), model.predict_proba(missing)
    )


def test_fit_imputes_masked_cells(features, labels):
    masked = np.ma.masked_array(features, mask=np.zeros(features.shape, dtype=bool))
    masked.mask[0, 1] = True
    missing = features.copy()
    missing[0, 1] = np.nan

    from_masked = small_model().fit(masked, labels)
    from_missing = small_model().fit(missing, labels)

    np.testing.assert_array_equal(
        from_masked.network_.parameters, from_missing.network_.parameters
    )


def test_masked_target_cell_counts_as_missing(features, labels):
    target = np.ma.masked_array(labels.copy(), mask=np.arange(N_ROWS) == 3)
    target.data[3] = 7

    with pytest.raises(DataError, match="missing a value in row 4"):
        small_model().fit(features, target)


def test_masked_sample_weight_rejected(features, labels):
    weights = np.ma.masked_array(np.ones(N_ROWS), mask=np.arange(N_ROWS) == 2)

    with pytest.raises(DataError, match="sample_weight must be finite"):
        small_model().fit(features, labels, sample_weight=weights)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_complex_target_rejected(features, labels, task):
    with pytest.raises(DataError, match="contains complex numbers"):
        small_model(task=task).fit(features, labels.astype(complex))


def test_masked_complex_features_rejected(features, labels):
    with pytest.raises(DataError, match="complex128"):
        small_model().fit(np.ma.masked_array(features + 5j), labels)


def test_predict_rejects_complex_in_object_array(features, labels):
    model = small_model().fit(features, labels)
    row = np.array([[1 + 1j, 2.0, 3.0]], dtype=object)

    with pytest.raises(DataError, match="complex numbers"):
        model.predict(row)
