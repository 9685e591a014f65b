"""Read tabular data from CSV files, split off the target and check feature columns.

Errors that a user can fix raise :class:`mlpkit.errors.DataError` with one sentence
that names the file, column or row and the fix.
"""

from __future__ import annotations

import csv
import difflib
import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse

from mlpkit.errors import DataError, DataWarning, ParameterError, caller_stacklevel

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "the data"
"""Name used in messages for data that was not read from a file."""

MAX_LISTED_COLUMNS = 10
"""Maximum number of column names that an error message lists."""

_OTHER_SEPARATORS = (";", "\t")
_CHUNK_BYTES = 2**20
_QUOTED_FIELD = re.compile(r'"[^"]*"')
_INVALID_SEPARATORS = ('"', "\n", "\r", ".")
_DECIMAL_COMMA_NUMBER = r"[-+]?\d*,\d+|[-+]?\d+"

NUMERIC = "numeric"
CATEGORICAL = "categorical"

NUMBER_SHARE = 0.9
"""Minimum share of numbers among the values of a text column that makes
:func:`infer_column_kind` treat the other values as typos in a numeric column and
raise DataError."""

MAX_VALUE_LENGTH = 40
"""Maximum number of characters of a cell value that an error message shows."""

# Separator that read_csv last used for each file name, so that messages about
# a row of the file find its line with the same separator. Unknown files are
# guessed again with guess_separator.
_SEPARATORS_READ: dict[str, str] = {}


def describe_source(source: str | None) -> str:
    """Return the name that messages use for ``source``: the file, or "the data"."""
    if source is None:
        return DEFAULT_SOURCE
    return source


def describe_row(row: int, source: str | None = None, *, sep: str | None = None) -> str:
    """Describe a data row for messages, with its line number when it came from a file.

    Parameters
    ----------
    row : int
        0-based data row, not counting the header. For a frame from :func:`read_csv`
        this is the row's index label.
    source : str or None, default=None
        The CSV file the row was read from, or None for data built in memory.
    sep : str or None, default=None
        Field separator of the file; None uses the one :func:`read_csv` used.

    Returns
    -------
    str
        "row 17 (line 18 of data.csv)" for a file, or "row 17" otherwise. Rows are
        counted from 1, and the line is where the row starts, see
        :func:`record_line`.
    """
    if source is None:
        return f"row {row + 1}"
    return f"row {row + 1} (line {record_line(source, row, sep)} of {source})"


def record_line(path: str | os.PathLike[str], row: int, sep: str | None = None) -> int:
    """Return the 1-based line of ``path`` on which data row ``row`` starts.

    The file is read up to that row with the csv module, so quoted values that
    contain line breaks and blank lines, which pandas skips, are counted. This
    costs a read of the file, which only error messages pay.

    Parameters
    ----------
    path : str or path-like
        A CSV file with one header line.
    row : int
        0-based data row, not counting the header.
    sep : str or None, default=None
        Field separator; None uses the one :func:`read_csv` last used for
        ``path``, or guesses it from the header line.

    Returns
    -------
    int
        The line, or ``row + 2`` (one header line and one line per row) when the
        file cannot be read as CSV or has fewer rows.
    """
    fallback = row + 2
    try:
        if sep is None:
            sep = _SEPARATORS_READ.get(str(path)) or guess_separator(Path(path))
        with open(path, encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file, delimiter=sep)
            records_before = 0
            last_line = 0
            for fields in reader:
                first_line = last_line + 1
                last_line = reader.line_num
                if not fields:
                    continue
                # Record 0 is the header, so data row ``row`` is record row + 1.
                if records_before == row + 1:
                    return first_line
                records_before += 1
    except (OSError, UnicodeDecodeError, csv.Error):
        logger.debug("cannot count the lines of %s; assuming one line per row", path)
    return fallback


def read_csv(path: str | os.PathLike[str], sep: str | None = None) -> pd.DataFrame:
    """Read a CSV file with a header line into a DataFrame.

    Parameters
    ----------
    path : str or path-like
        The CSV file. A UTF-8 byte order mark at its start is removed.
    sep : str or None, default=None
        Field separator, one character. None uses a comma, unless the header line
        contains no comma outside double quotes but a semicolon or a tab, which is
        then used instead. With a semicolon, a text column whose values are all
        numbers such as "1,5" makes the whole file read with a decimal comma.

    Returns
    -------
    pandas.DataFrame of shape (n_rows, n_columns)
        One row per data line and the header's names as columns, with a RangeIndex.
        Cells that pandas reads as missing by default (empty, "NA", "NaN", ...) are
        NaN. Other text stays text.

    Raises
    ------
    ParameterError
        If ``sep`` is not one character, or is a double quote, a line break or a
        period.
    DataError
        If the file is missing, is a directory, is not UTF-8 or contains a NUL byte.
        Also if it is not valid CSV, has no columns or no data rows, repeats a column
        name, or has a first data row with more values than the header has names.
    """
    if sep is not None and (
        not isinstance(sep, str) or len(sep) != 1 or sep in _INVALID_SEPARATORS
    ):
        raise ParameterError(
            "sep must be one character other than a quote, a line break or a"
            f" period; received: sep={sep!r}"
        )
    path = Path(path)
    name = str(path)
    if path.is_dir():
        raise DataError(f"{name} is a directory; pass the path of a CSV file")
    if not path.is_file():
        raise DataError(f"data file {name} not found; check the path")

    check_no_nul_byte(path, name)
    with translate_read_errors(name):
        if sep is None:
            sep = guess_separator(path)
        header = read_raw_row(path, sep, skiprows=0)
        first_row = read_raw_row(path, sep, skiprows=1)
        frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig")
        if sep == ";" and _has_decimal_commas(frame):
            logger.debug("reading %s again with decimal commas", name)
            frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig", decimal=",")

    check_header(header, name)
    _SEPARATORS_READ[name] = sep
    warn_unnamed_columns(header, list(frame.columns), name)
    if len(first_row) > len(header):
        # pandas would silently turn the surplus leading values into an index.
        raise DataError(
            f"the first data row of {name} has more values than the header has column"
            " names; add the missing names to the header or remove the extra values"
        )
    if len(frame) == 0:
        raise DataError(f"{name} has a header but no data rows; add data rows")

    logger.debug(
        "read %d rows and %d columns from %s", len(frame), frame.shape[1], name
    )
    return frame


def check_no_nul_byte(path: Path, name: str) -> None:
    """Raise DataError if the file contains a NUL byte, a sign of binary data.

    A UTF-16 file has one in every ASCII character, and would otherwise be read as
    UTF-8 text with NUL characters glued to every value.
    """
    line = 1
    try:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK_BYTES):
                position = chunk.find(b"\0")
                if position >= 0:
                    line += chunk.count(b"\n", 0, position)
                    raise DataError(
                        f"{name} contains a NUL byte on line {line}, so it is not a"
                        " UTF-8 text file; if it is UTF-16, save it as UTF-8"
                    )
                line += chunk.count(b"\n")
    except PermissionError:
        raise DataError(f"{name} cannot be read; check its permissions") from None


def guess_separator(path: Path) -> str:
    """Return the separator of a CSV file from its header line: ",", ";" or a tab."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            header_line = file.readline()
    except UnicodeDecodeError:
        # read_csv reports the encoding error with the file name.
        return ","

    # A separator inside a quoted column name such as "price, EUR" does not count.
    header_line = _QUOTED_FIELD.sub("", header_line)
    if "," in header_line:
        return ","
    for separator in _OTHER_SEPARATORS:
        if separator in header_line:
            logger.debug("using separator %r for %s", separator, path)
            return separator
    return ","


def _has_decimal_commas(frame: pd.DataFrame) -> bool:
    """Return whether a text column contains only numbers such as "1,5" or "-3".

    Such a column comes from a file that writes a decimal comma, as files with a
    semicolon separator often do.
    """
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column.dtype):
            continue
        present = column.dropna().astype(str).str.strip()
        if len(present) and present.str.fullmatch(_DECIMAL_COMMA_NUMBER).all():
            return True
    return False


def read_raw_row(path: Path, sep: str, skiprows: int) -> list[str]:
    """Return the fields of one line as written, or [] past the end of the file.

    The header read this way keeps repeated names, which pandas renames.
    """
    try:
        row = pd.read_csv(
            path,
            sep=sep,
            encoding="utf-8-sig",
            header=None,
            skiprows=skiprows,
            nrows=1,
            dtype=str,
            keep_default_na=False,
            index_col=False,
        )
    except pd.errors.EmptyDataError:
        return []
    if len(row) == 0:
        return []
    return row.iloc[0].tolist()


def check_header(header: list[str], name: str) -> None:
    """Raise DataError if a non-empty column name repeats in the header of ``name``."""
    seen: set[str] = set()
    for column in header:
        # pandas names empty header cells "Unnamed: 3", so they never clash.
        if column in seen and column != "":
            raise DataError(
                f"column name '{column}' appears more than once in the header of"
                f" {name}; rename or remove the repeated column"
            )
        seen.add(column)


def warn_unnamed_columns(header: list[str], columns: list[Any], name: str) -> None:
    """Warn with a DataWarning about header cells of ``name`` that are empty.

    pandas names the column of an empty header cell ``"Unnamed: i"``, where
    ``i`` is its 0-based position. ``header`` is the header line as written and
    ``columns`` the names that pandas gave.
    """
    renamed = []
    for position, (cell, column) in enumerate(zip(header, columns)):
        if cell == "":
            renamed.append(f"column {position + 1} is named '{column}'")
    if renamed:
        warnings.warn(
            f"the header of {name} has no name for {len(renamed)} "
            f"{'column' if len(renamed) == 1 else 'columns'}, so "
            f"{', '.join(renamed)}; write the names into the header",
            DataWarning,
            stacklevel=caller_stacklevel(),
        )


@contextmanager
def translate_read_errors(name: str) -> Iterator[None]:
    """Turn the errors of reading CSV file ``name`` with pandas into DataError.

    Raises
    ------
    DataError
        If the body raises pandas' EmptyDataError or ParserError,
        UnicodeDecodeError or PermissionError. The message names the file and
        the fix.
    """
    try:
        yield
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{name} is empty; it needs a header line and at least one data row"
        ) from None
    except UnicodeDecodeError:
        raise DataError(
            f"{name} is not UTF-8 text; save it with UTF-8 encoding"
        ) from None
    except PermissionError:
        raise DataError(f"{name} cannot be read; check its permissions") from None
    except pd.errors.ParserError as error:
        raise DataError(
            f"{name} is not valid CSV ({_parser_detail(error)}); check the quoting and"
            " the number of values in that line"
        ) from None


def _parser_detail(error: pd.errors.ParserError) -> str:
    """Return the useful part of a pandas parser message, such as the line number."""
    message = str(error).strip()
    match = re.search(r"C error: (.*)", message)
    if match:
        return match.group(1)
    return message


def format_columns(columns: list[str]) -> str:
    """Quote up to :data:`MAX_LISTED_COLUMNS` column names for a message."""
    quoted = [f"'{column}'" for column in columns[:MAX_LISTED_COLUMNS]]
    text = ", ".join(quoted)
    hidden = len(columns) - len(quoted)
    if hidden > 0:
        text += f" and {hidden} more"
    return text


def split_target(
    frame: pd.DataFrame, target: str, source: str | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """Split a frame into its feature columns and its target column.

    Parameters
    ----------
    frame : pandas.DataFrame of shape (n_samples, n_columns)
        The data, including the target column.
    target : str
        Name of the target column.
    source : str or None, default=None
        The file the frame was read from, used in messages. None means data built in
        memory.

    Returns
    -------
    features : pandas.DataFrame of shape (n_samples, n_columns - 1)
        All columns except the target, in their original order.
    y : pandas.Series of shape (n_samples,)
        The target column.

    Raises
    ------
    DataError
        If the target column is missing, which suggests the closest name, or if no
        feature columns remain.
    """
    where = describe_source(source)
    columns = [str(column) for column in frame.columns]
    if target not in frame.columns:
        listed = format_columns(columns)
        guesses = difflib.get_close_matches(target, columns, n=1)
        if guesses:
            hint = f"did you mean '{guesses[0]}' (columns: {listed})?"
        else:
            hint = f"pass one of its columns: {listed}"
        raise DataError(f"target column '{target}' not found in {where}; {hint}")
    if columns.count(target) > 1:
        raise DataError(
            f"{where} has more than one column named '{target}'; rename or remove the"
            " repeated column"
        )

    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError(
            f"{where} has no feature columns besides the target '{target}'; add at"
            " least one input column"
        )
    return features, frame[target]


def with_text_column_names(frame: pd.DataFrame, source: str | None) -> pd.DataFrame:
    """Return ``frame`` with column names as strings, rejecting repeated names."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame; received: {type(frame)}")
    names = [str(name) for name in frame.columns]
    where = describe_source(source)
    if not names:
        raise DataError(f"{where} has no feature columns; add at least one column")

    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(
                f"{where} has more than one column named '{name}'; rename or remove"
                " the repeated column"
            )
        seen.add(name)

    if names == list(frame.columns):
        return frame
    renamed = frame.copy(deep=False)
    renamed.columns = names
    return renamed


def check_not_sparse(value: Any, name: str) -> None:
    """Raise DataError if ``value``, the argument ``name``, is a SciPy sparse matrix.

    mlpkit does not convert it itself, because a dense copy of a large sparse
    matrix can take far more memory than the matrix.
    """
    if scipy.sparse.issparse(value):
        raise DataError(
            f"{name} is a SciPy sparse matrix ({type(value).__name__}) of shape"
            f" {value.shape}, which mlpkit does not support; convert it with"
            f" {name}.toarray() if the dense array fits in memory"
        )


def as_array(value: Any, name: str) -> npt.NDArray:
    """Convert the argument ``name`` to a NumPy array with ``numpy.asarray``.

    Raises
    ------
    DataError
        If ``value`` is a list of rows of different lengths, naming the first row
        whose length differs from the first row's, or cannot be converted for
        another reason.
    """
    try:
        return np.asarray(value)
    except ValueError as error:
        raise DataError(_ragged_rows_message(value, name, error)) from None


def _ragged_rows_message(rows: Any, name: str, error: ValueError) -> str:
    lengths = []
    try:
        for row in rows:
            lengths.append(len(row) if hasattr(row, "__len__") else None)
    except TypeError:
        lengths = []

    for index, length in enumerate(lengths):
        if length != lengths[0]:
            return (
                f"the rows of {name} have different lengths:"
                f" {_describe_row_length(0, lengths[0])} but"
                f" {_describe_row_length(index, length)}; give every row the same"
                " number of values"
            )
    return (
        f"{name} cannot be converted to an array ({error}); pass a 2-D array, a"
        " DataFrame or a list of rows of equal length"
    )


def _describe_row_length(index: int, length: int | None) -> str:
    if length is None:
        return f"row {index + 1} is a single value"
    return f"row {index + 1} has {length} {'value' if length == 1 else 'values'}"


def as_feature_array(X: Any) -> npt.NDArray:
    """Convert features other than a DataFrame to an array (n_samples, n_features).

    Raises
    ------
    DataError
        If ``X`` is a SciPy sparse matrix, a list of rows of different lengths, or
        not two-dimensional. For one-dimensional ``X`` the message shows how to
        pass it as one sample and as one feature, because either may be meant.
    """
    check_not_sparse(X, "X")
    array = as_array(unmasked(X), "X")
    if array.ndim == 1:
        raise DataError(
            "X must be two dimensional (n_samples, n_features); received shape"
            f" {array.shape}; {_reshape_hint(X)}"
        )
    if array.ndim != 2:
        raise DataError(
            "X must be two dimensional (n_samples, n_features); received shape"
            f" {array.shape}"
        )
    return array


def unmasked(X: Any) -> Any:
    """Return a NumPy masked array as a plain array with NaN in its masked cells.

    Masked cells then count as missing and are imputed. Anything else is
    returned as it is.
    """
    if isinstance(X, np.ma.MaskedArray):
        # Complex and object arrays keep their type, so later checks see them.
        dtype = np.result_type(X.dtype, np.float64)
        return np.ma.filled(X.astype(dtype), np.nan)
    return X


def _reshape_hint(X: Any) -> str:
    """Return how to pass one-dimensional ``X`` as one sample or as one feature."""
    if isinstance(X, pd.Series):
        return "pass one sample as X.to_frame().T, or one feature as X.to_frame()"
    if isinstance(X, np.ndarray):
        return "pass one sample as X.reshape(1, -1), or one feature as X.reshape(-1, 1)"
    return (
        "pass one sample as numpy.reshape(X, (1, -1)), or one feature as"
        " numpy.reshape(X, (-1, 1))"
    )


def infer_column_kind(series: pd.Series, name: str, source: str | None) -> str:
    """Return NUMERIC or CATEGORICAL for a feature column.

    Bool, integer and float columns are numeric, and category columns categorical. A
    text or object column is numeric if all its values parse as numbers. If at least
    :data:`NUMBER_SHARE` of them do, the others are most likely typos, and DataError
    names the first. Otherwise the column is categorical.

    Raises
    ------
    DataError
        If the column has no values, has an unsupported dtype such as dates, or has
        a few text values among numbers.
    """
    where = describe_source(source)
    if series.isna().all():
        raise DataError(
            f"column '{name}' of {where} has no values; drop the column or fill it in"
        )

    dtype = series.dtype
    if is_real_number_dtype(dtype):
        return NUMERIC
    if isinstance(dtype, pd.CategoricalDtype):
        return CATEGORICAL
    if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
        raise DataError(
            f"column '{name}' of {where} has dtype {dtype}, which mlpkit cannot use;"
            " convert it to numbers or text, or drop it"
        )

    present = series.dropna()
    is_number = pd.to_numeric(present, errors="coerce").notna().to_numpy()
    if is_number.all():
        return NUMERIC
    if is_number.mean() >= NUMBER_SHARE:
        # Raises DataError naming the first value that is not a number.
        numeric_column_values(series, name, source, "its other values are")
    return CATEGORICAL


def numeric_column_values(
    series: pd.Series, name: str, source: str | None, reason: str
) -> npt.NDArray[np.float64]:
    """Convert a column to float64 with NaN for missing cells.

    Raises DataError naming the first cell that contains text or infinity. ``reason``
    completes the phrase "..., but {reason} numbers" in the text error.
    """
    if is_real_number_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        missing = series.isna().to_numpy()
        # A complex column, or complex numbers in an object column, parse as
        # complex and would lose their imaginary part in float64.
        parsed = pd.to_numeric(series.astype(object), errors="coerce")
        if pd.api.types.is_complex_dtype(parsed.dtype):
            raise DataError(
                f"column '{name}' of {describe_source(source)} has complex numbers,"
                f" but {reason} real numbers; pass the real part or drop the column"
            )
        values = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
        is_text = np.isnan(values) & ~missing
        if is_text.any():
            position = int(np.argmax(is_text))
            value = shorten_value(series.iloc[position])
            row = describe_row(_row_number(series, position, source), source)
            raise DataError(
                f"column '{name}' contains {value!r} at {row}, but {reason} numbers;"
                " fix the value or leave the cell empty so it is imputed"
            )

    is_infinite = np.isinf(values)
    if is_infinite.any():
        position = int(np.argmax(is_infinite))
        row = describe_row(_row_number(series, position, source), source)
        raise DataError(
            f"column '{name}' contains {values[position]} at {row}; replace it with"
            " a finite number, or leave the cell empty (NaN in an array) so it is"
            " imputed"
        )
    return values


def is_real_number_dtype(dtype: Any) -> bool:
    """Return whether ``dtype`` is bool, integer or float, including nullable ones."""
    if pd.api.types.is_bool_dtype(dtype):
        return True
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(
        dtype
    )


def category_column_values(series: pd.Series) -> npt.NDArray[np.object_]:
    """Convert a column to an object array of category text with NaN for missing cells.

    A whole-number float becomes the text of the integer, so ``1.0`` is ``"1"``.
    pandas reads a column of integer codes as floats once a cell is empty, and the
    codes must still match the categories learned from a column without gaps.
    """
    missing = series.isna().to_numpy()
    values = series.astype(object).to_numpy(dtype=object)
    text = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        if missing[index]:
            text[index] = np.nan
        else:
            text[index] = _category_text(value)
    return text


def _category_text(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def describe_cell_row(series: pd.Series, position: int, source: str | None) -> str:
    """Describe for messages the row of the cell at ``position`` of a column."""
    return describe_row(_row_number(series, position, source), source)


def _row_number(series: pd.Series, position: int, source: str | None) -> int:
    """Return the 0-based row that messages report for the cell at ``position``.

    A frame from read_csv carries the file's row numbers as index labels, and they
    survive row selection, so data from a file is reported by label. Other data is
    reported by position.
    """
    label = series.index[position]
    if source is not None and isinstance(label, (int, np.integer)):
        return int(label)
    return position


def shorten_value(value: object) -> object:
    """Return ``value``, cut to MAX_VALUE_LENGTH characters if it is longer text."""
    if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
        return value[:MAX_VALUE_LENGTH] + "..."
    return value
