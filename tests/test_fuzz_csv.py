"""Hostile CSV files: reading and training either work or raise an MlpkitError.

The files are random bytes, text made of the characters that CSV gives meaning
to, and a valid file with characters inserted, replaced or deleted. Any other
exception, and any warning except ConvergenceWarning and DataWarning (an empty
column name, a constant column), fails the test.
"""

import csv
import os
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlpkit import MLP
from mlpkit.data import read_csv, split_target
from mlpkit.errors import ConvergenceWarning, DataError, DataWarning, MlpkitError

# MLPKIT_FUZZ_EXAMPLES raises the number of examples for a deeper search.
FUZZ_EXAMPLES = int(os.environ.get("MLPKIT_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=FUZZ_EXAMPLES == 300,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CSV_CHARACTERS = ',;\t"\r\n 01.-eE+xyz\ufeff\x00\xe9'

VALID_CSV = (
    "size,color,label\n"
    "1.5,red,yes\n"
    '-2,"blue, dark",no\n'
    "3e2,red,yes\n"
    ",green,no\n"
    "0.25,blue,yes\n"
    "7,red,no\n"
)


def read_or_reject(path):
    """Return the frame that read_csv reads, or None after a DataError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", DataWarning)
            return read_csv(path)
    except DataError:
        return None


def train_or_reject(path):
    """Train a small MLP on the file ``path``; return it, or None after an MlpkitError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", DataWarning)
            frame = read_csv(path)
            features, target = split_target(frame, "label", str(path))
            model = MLP(hidden_layers=(3,), max_epochs=2, validation_fraction=0)
            return model.fit(features, target, source=str(path))
    except MlpkitError:
        return None


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_read_or_rejected(tmp_path, data):
    path = tmp_path / "random.csv"
    path.write_bytes(data)

    frame = read_or_reject(path)

    if frame is not None:
        assert len(frame) > 0


@FUZZ
@given(text=st.text(alphabet=CSV_CHARACTERS, max_size=200))
def test_csv_like_text_read_or_rejected(tmp_path, text):
    path = tmp_path / "text.csv"
    path.write_bytes(text.encode("utf-8"))

    read_or_reject(path)


@FUZZ
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["insert", "replace", "delete"]),
            st.floats(0, 1, exclude_max=True),
            st.sampled_from(CSV_CHARACTERS),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_mutated_csv_trains_or_rejected(tmp_path, edits):
    text = list(VALID_CSV)
    for operation, where, character in edits:
        position = int(where * len(text))
        if operation == "insert":
            text.insert(position, character)
        elif operation == "replace" and text:
            text[position] = character
        elif text:
            del text[position]
    path = tmp_path / "mutated.csv"
    path.write_bytes("".join(text).encode("utf-8"))

    train_or_reject(path)


def test_valid_csv_trains(tmp_path):
    path = tmp_path / "valid.csv"
    path.write_text(VALID_CSV)

    assert train_or_reject(path) is not None


TEXT_VALUES = st.text(alphabet='xyz ,;"\r\n\t', min_size=1, max_size=12).map(
    lambda text: "x" + text
)


@FUZZ
@given(
    rows=st.lists(
        st.tuples(TEXT_VALUES, st.integers(-1000, 1000)), min_size=1, max_size=8
    ),
    separator=st.sampled_from([",", ";", "\t"]),
    line_terminator=st.sampled_from(["\n", "\r\n"]),
    explicit=st.booleans(),
)
def test_quoted_text_round_trips(tmp_path, rows, separator, line_terminator, explicit):
    frame = pd.DataFrame(rows, columns=["name", "count"])
    path = tmp_path / "quoted.csv"
    # Minimal quoting would leave a lone carriage return unquoted, which any
    # reader takes for a line break.
    frame.to_csv(
        path,
        sep=separator,
        index=False,
        lineterminator=line_terminator,
        quoting=csv.QUOTE_NONNUMERIC,
    )

    read = read_csv(path, sep=separator if explicit else None)

    assert list(read.columns) == ["name", "count"]
    assert read["name"].tolist() == frame["name"].tolist()
    assert read["count"].tolist() == frame["count"].tolist()


@FUZZ
@given(
    values=st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        min_size=2,
        max_size=10,
    )
)
def test_number_text_round_trips(tmp_path, values):
    path = tmp_path / "numbers.csv"
    lines = ["value,label"]
    for index, value in enumerate(values):
        lines.append(f"{value!r},{index % 2}")
    path.write_text("\n".join(lines) + "\n")

    frame = read_csv(path)

    np.testing.assert_array_equal(frame["value"].to_numpy(dtype=np.float64), values)


@pytest.mark.parametrize("size", [0, 1, 2, 3])
def test_tiny_files_rejected(tmp_path, size):
    path = tmp_path / "tiny.csv"
    path.write_bytes(b"a,b\n"[:size])

    with pytest.raises(DataError):
        read_csv(path)
