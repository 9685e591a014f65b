"""Row sources: read a data file block by block, so it never has to fit in memory.

A source splits its file into blocks of ``block_rows`` consecutive rows and returns
each block as a :class:`RowBlock` of raw feature and target columns, the same
DataFrames that :func:`mlpkit.data.read_csv` and :func:`mlpkit.data.split_target`
give for the whole file.

Two file formats are supported:

- ``.npy``: a 2-D array of bool, integer or float values in C order, read through
  a memory map. The target is one or more columns given by index (default ``-1``,
  the last column). Feature columns are named ``x0, x1, …`` in file order without
  the target, as :class:`mlpkit.model.MLP` names the columns of an array, so a
  model trained on the file predicts from an array of the feature columns. The
  target is named ``target``, or ``target_0, target_1, …`` for several columns.
- CSV: a text file with a header line, read with ``pandas.read_csv(chunksize=…)``.
  The target is one or more columns given by name.

Only a ``.npy`` source can read a block by its index (:attr:`RowSource.random_access`).
A CSV file can only be read from its start.
"""

from __future__ import annotations

import abc
import logging
import math
import os
import tokenize
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlpkit.data import (
    check_header,
    check_no_nul_byte,
    describe_row,
    format_columns,
    guess_separator,
    read_raw_row,
    split_target,
    translate_read_errors,
    warn_unnamed_columns,
)
from mlpkit.errors import DataError, ParameterError, checked_count

logger = logging.getLogger(__name__)

NPY_SUFFIX = ".npy"

NPY_DEFAULT_TARGET = -1
"""Target column of a ``.npy`` file when none is given: the last column."""


@dataclass
class RowBlock:
    """Consecutive rows of a source, split into raw features and target.

    Attributes
    ----------
    index : int
        Position of the block in the file, from 0.
    start : int
        Position of the block's first row in the file, from 0 and without the header.
    features : pandas.DataFrame of shape (n_rows, n_features)
        Feature columns, indexed by row position in the file.
    target : pandas.DataFrame of shape (n_rows, n_targets)
        Target columns, indexed like ``features``.
    """

    index: int
    start: int
    features: pd.DataFrame
    target: pd.DataFrame

    @property
    def n_rows(self) -> int:
        return len(self.features)


class RowSource(abc.ABC):
    """A data file read in blocks of rows.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    feature_names : list of str
        Feature columns in file order.
    target_names : list of str
        Target columns in the order given.
    random_access : bool
        Whether :meth:`read_block` can read any block without reading the others.
    """

    random_access = False

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.feature_names: list[str] = []
        self.target_names: list[str] = []

    @property
    @abc.abstractmethod
    def n_rows(self) -> int:
        """Number of data rows in the file."""

    @abc.abstractmethod
    def iter_blocks(
        self, block_rows: int, text_columns: Collection[str] = ()
    ) -> Iterator[RowBlock]:
        """Yield every block of ``block_rows`` rows in file order.

        The last block is shorter when ``block_rows`` does not divide the rows.

        ``text_columns`` names feature columns to read as text instead of letting
        the reader infer a type for each block. A column whose values are numbers
        in one block and text in another needs it, so that its categories are the
        text as written, as when the whole file is read at once.
        """

    def read_block(
        self, index: int, block_rows: int, text_columns: Collection[str] = ()
    ) -> RowBlock:
        """Read block ``index`` alone; only sources with ``random_access`` can."""
        raise TypeError(f"{type(self).__name__} cannot read a block by its index")

    @abc.abstractmethod
    def describe_row(self, row: int) -> str:
        """Describe the 0-based data row ``row`` for messages."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.path)!r}, "
            f"{len(self.feature_names)} features, target={self.target_names!r})"
        )


def check_block_rows(block_rows: int) -> int:
    """Return ``block_rows`` as an int; raise ParameterError unless it is at least 1."""
    return checked_count("block_rows", block_rows, 1)


def _check_file(path: Path, kind: str) -> None:
    if path.is_dir():
        raise DataError(f"{path} is a directory; pass the path of a {kind} file")
    if not path.is_file():
        raise DataError(f"data file {path} not found; check the path")


class NpyRows:
    """Rows of a 2-D C-order ``.npy`` file, mapped into memory one range at a time.

    Each call of :meth:`read` maps only the requested rows, copies them and closes
    the mapping. A single mapping of the whole file would keep every page that
    training touched resident in this process, so its resident memory would grow to
    the file size over an epoch.

    Raises
    ------
    DataError
        If the file is missing, is not a valid ``.npy`` file (a damaged header, or
        less data than the header describes), contains Python objects, is not 2-D,
        has no rows or columns, or is stored in Fortran order.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        _check_file(self.path, ".npy")
        shape, fortran_order, dtype, offset = _read_npy_header(self.path)
        if dtype.hasobject:
            raise DataError(
                f"{self.path} contains an array of Python objects (dtype {dtype}),"
                " which numpy stores with pickle, and mlpkit never loads pickled"
                " data; save a numeric array instead, such as"
                " numpy.save(path, X.astype(numpy.float32))"
            )
        _check_npy_size(self.path, shape, dtype, offset)
        if len(shape) != 2:
            raise DataError(
                f"{self.path} contains an array of shape {shape}; expected 2-D"
                " with one row per sample and one column per feature or target"
            )
        if shape[0] == 0:
            raise DataError(f"{self.path} has no rows; add data rows")
        if shape[1] == 0:
            raise DataError(f"{self.path} has no columns; add data columns")
        # An array with one row or one column is contiguous in either order.
        if fortran_order and min(shape) > 1:
            raise DataError(
                f"{self.path} is stored in Fortran order, so its rows are not"
                " contiguous; save it with numpy.save(path, numpy.ascontiguousarray(a))"
            )
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = dtype
        self.offset = offset

    @property
    def row_bytes(self) -> int:
        return self.shape[1] * self.dtype.itemsize

    def read(self, start: int, stop: int) -> npt.NDArray:
        """Return a copy of rows ``start:stop``, shape (n_rows, n_columns)."""
        stop = min(stop, self.shape[0])
        mapped = np.memmap(
            self.path,
            dtype=self.dtype,
            mode="r",
            offset=self.offset + start * self.row_bytes,
            shape=(stop - start, self.shape[1]),
        )
        rows = np.array(mapped)
        del mapped
        return rows


# Errors that NumPy's header readers raise for a damaged header, found by
# reading corrupted headers with NumPy 2.4 and Python 3.11. Most damage
# raises ValueError or its subclass UnicodeDecodeError. Keys of mixed types,
# such as text and bytes, raise TypeError when NumPy sorts them. Parsing the
# header text raises SyntaxError or tokenize.TokenError, and deeply nested text
# raises RecursionError or MemoryError. The header is at most 10,000 characters
# (NumPy's max_header_size), so these two come from the parser's nesting
# limits and not from a lack of memory.
_NPY_HEADER_ERRORS = (
    ValueError,
    TypeError,
    SyntaxError,
    tokenize.TokenError,
    RecursionError,
    MemoryError,
)

# Version 3.0 differs from 2.0 only in that its header is UTF-8 instead of
# Latin-1 text. The header of a bool, integer or float array is ASCII, which
# both encodings read alike, so the 2.0 reader reads it.
_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
    (3, 0): np.lib.format.read_array_header_2_0,
}

_ZIP_MAGIC = b"PK\x03\x04"
_MAX_DETAIL_LENGTH = 120


def _read_npy_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Return the shape, Fortran order, dtype and data offset of a ``.npy`` file.

    Only the header is read, so a file of Python objects is never unpickled.

    Raises
    ------
    DataError
        If the file cannot be read, does not start with the ``.npy`` magic
        string, has a format version other than 1.0, 2.0 and 3.0, or has a
        header that is not a valid ``.npy`` header.
    """
    try:
        with path.open("rb") as file:
            start = file.read(len(np.lib.format.MAGIC_PREFIX))
            if start != np.lib.format.MAGIC_PREFIX:
                raise DataError(_not_npy_message(path, start))
            version = tuple(file.read(2))
            if len(version) < 2:
                raise DataError(
                    f"{path} is not a valid .npy file, because it ends inside its"
                    " header; save the array again with numpy.save"
                )
            read_header = _NPY_HEADER_READERS.get(version)
            if read_header is None:
                raise DataError(
                    f"{path} has .npy format version {version[0]}.{version[1]},"
                    " which mlpkit cannot read; save the array with numpy.save,"
                    " which writes version 1.0 or 2.0"
                )
            shape, fortran_order, dtype = read_header(file)
            offset = file.tell()
    except DataError:
        raise
    except PermissionError:
        raise DataError(f"{path} cannot be read; check its permissions") from None
    except OSError as error:
        raise DataError(
            f"{path} cannot be read ({error.strerror}); check the file"
        ) from None
    except _NPY_HEADER_ERRORS as error:
        # NumPy's messages can span lines and repeat the whole header.
        detail = (str(error) or type(error).__name__).splitlines()[0]
        if len(detail) > _MAX_DETAIL_LENGTH:
            detail = detail[:_MAX_DETAIL_LENGTH] + "..."
        raise DataError(
            f"{path} is not a valid .npy file, because its header is damaged"
            f" ({detail}); save the array again with numpy.save"
        ) from None
    return shape, fortran_order, dtype, offset


def _not_npy_message(path: Path, start: bytes) -> str:
    if start.startswith(_ZIP_MAGIC):
        return (
            f"{path} is a zip archive, such as a .npz file, and not a .npy file;"
            " save a single array with numpy.save"
        )
    return (
        f"{path} is not a valid .npy file, because it does not start with the .npy"
        " magic string; save the array with numpy.save"
    )


def _check_npy_size(
    path: Path, shape: tuple[int, ...], dtype: np.dtype, offset: int
) -> None:
    """Raise DataError unless the file contains the data its header describes."""
    if any(length < 0 for length in shape):
        raise DataError(
            f"{path} is not a valid .npy file, because its header gives the"
            f" negative shape {shape}; save the array again with numpy.save"
        )
    expected = math.prod(shape) * dtype.itemsize
    available = path.stat().st_size - offset
    if available < expected:
        raise DataError(
            f"{path} is not a valid .npy file, because its header describes an"
            f" array of shape {shape} and dtype {dtype} ({expected} bytes), but"
            f" only {available} bytes follow the header; the file is truncated,"
            " so save the array again with numpy.save"
        )


class NpySource(RowSource):
    """A ``.npy`` file whose target is one or more columns given by index.

    Parameters
    ----------
    path : str or path-like
        A 2-D array of bool, integer or float values in C order, as ``numpy.save``
        writes it.
    target : int or sequence of int, default -1
        Index of each target column; negative indices count from the last column.

    Raises
    ------
    ParameterError
        If ``target`` or one of its items is neither an integer nor text, such as
        a float. Text raises DataError, because the columns have no names.
    DataError
        If the file cannot be read as described, its dtype is not numeric, a target
        index is out of range or repeated, or no feature column remains.
    """

    random_access = True

    def __init__(
        self, path: str | os.PathLike[str], target: int | Sequence[int] = -1
    ) -> None:
        super().__init__(path)
        self._rows = NpyRows(self.path)
        if self._rows.dtype.kind not in "biuf":
            raise DataError(
                f"{self.path} contains values of dtype {self._rows.dtype}; mlpkit reads"
                " .npy files of bool, integer or float values"
            )

        n_columns = self._rows.shape[1]
        indices = target_columns(target)
        self.target_columns = [
            _column_index(index, n_columns, self.path) for index in indices
        ]
        if not self.target_columns:
            raise DataError(f"pass at least one target column index for {self.path}")
        if len(set(self.target_columns)) != len(self.target_columns):
            raise DataError(
                f"target column indices {indices!r} of {self.path} name a column"
                " twice; pass each target column once"
            )
        self.feature_columns = [
            column for column in range(n_columns) if column not in self.target_columns
        ]
        if not self.feature_columns:
            raise DataError(
                f"{self.path} has no feature columns besides the target columns"
                f" {indices!r}; add at least one input column"
            )

        self.feature_names = [f"x{i}" for i in range(len(self.feature_columns))]
        if len(self.target_columns) == 1:
            self.target_names = ["target"]
        else:
            self.target_names = [f"target_{i}" for i in range(len(self.target_columns))]

    @property
    def n_rows(self) -> int:
        return self._rows.shape[0]

    def iter_blocks(
        self, block_rows: int, text_columns: Collection[str] = ()
    ) -> Iterator[RowBlock]:
        block_rows = check_block_rows(block_rows)
        n_blocks = -(-self.n_rows // block_rows)
        for index in range(n_blocks):
            yield self.read_block(index, block_rows)

    def read_block(
        self, index: int, block_rows: int, text_columns: Collection[str] = ()
    ) -> RowBlock:
        # Every column is numeric, so no column needs reading as text.
        start = index * block_rows
        rows = self._rows.read(start, start + block_rows)
        row_index = pd.RangeIndex(start, start + rows.shape[0])
        features = pd.DataFrame(
            rows[:, self.feature_columns],
            columns=self.feature_names,
            index=row_index,
            copy=False,
        )
        target = pd.DataFrame(
            rows[:, self.target_columns],
            columns=self.target_names,
            index=row_index,
            copy=False,
        )
        return RowBlock(index, start, features, target)

    def describe_row(self, row: int) -> str:
        return f"row {row + 1} of {self.path}"


def _column_index(index: object, n_columns: int, path: Path) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise DataError(
            f"target columns of {path} are given by index, such as -1 for the last"
            f" column; received: {index!r}"
        )
    if not -n_columns <= index < n_columns:
        raise DataError(
            f"target column index {index} is out of range for {path}, which has"
            f" {n_columns} columns; pass an index from {-n_columns} to {n_columns - 1}"
        )
    return int(index) % n_columns


class CsvSource(RowSource):
    """A CSV file with a header line, read in chunks with ``pandas.read_csv``.

    Parameters
    ----------
    path : str or path-like
        The CSV file. A UTF-8 byte order mark at its start is removed.
    target : str or sequence of str
        Name of each target column.
    sep : str or None, default=None
        Field separator. None guesses it from the header line as
        :func:`mlpkit.data.read_csv` does.

    Raises
    ------
    ParameterError
        If ``target`` is not text or a sequence of text, such as a float. Integers
        are taken as the text of a column name.
    DataError
        If the file is missing, is not UTF-8 CSV or contains a NUL byte, has no data
        rows, repeats a column name, or lacks a target column (the message suggests
        the closest name).

    Notes
    -----
    Unlike :func:`mlpkit.data.read_csv`, the source does not switch to a decimal
    comma for files separated by semicolons, because it reads one block at a time.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        target: str | Sequence[str],
        sep: str | None = None,
    ) -> None:
        super().__init__(path)
        _check_file(self.path, "CSV")
        name = str(self.path)
        check_no_nul_byte(self.path, name)
        with translate_read_errors(name):
            self.sep = sep if sep is not None else guess_separator(self.path)
            header = read_raw_row(self.path, self.sep, skiprows=0)
            first_row = read_raw_row(self.path, self.sep, skiprows=1)
            columns = pd.read_csv(
                self.path, sep=self.sep, encoding="utf-8-sig", nrows=0
            ).columns

        check_header(header, name)
        warn_unnamed_columns(header, list(columns), name)
        if not first_row:
            raise DataError(f"{name} has a header but no data rows; add data rows")
        if len(first_row) > len(header):
            raise DataError(
                f"the first data row of {name} has more values than the header has"
                " column names; add the missing names to the header or remove the"
                " extra values"
            )

        targets = [str(column) for column in target_columns(target)]
        if not targets:
            raise DataError(
                f"pass the column to predict; {name} has columns "
                f"{format_columns([str(column) for column in columns])}"
            )
        header_frame = pd.DataFrame(columns=[str(column) for column in columns])
        for target_name in targets:
            # Raises DataError that suggests the closest column name.
            split_target(header_frame, target_name, name)
        self.target_names = targets
        self.feature_names = [
            column for column in header_frame.columns if column not in targets
        ]
        if not self.feature_names:
            raise DataError(
                f"{name} has no feature columns besides the targets "
                f"{format_columns(targets)}; add at least one input column"
            )
        self._n_rows: int | None = None

    @property
    def n_rows(self) -> int:
        """Number of data rows, counted by reading the file once on first use."""
        if self._n_rows is None:
            first_column = self.feature_names[0]
            chunks = self._read_chunks(2**16, usecols=[first_column], dtype=str)
            self._n_rows = sum(len(chunk) for chunk in chunks)
        return self._n_rows

    def iter_blocks(
        self, block_rows: int, text_columns: Collection[str] = ()
    ) -> Iterator[RowBlock]:
        block_rows = check_block_rows(block_rows)
        dtype = {name: str for name in text_columns} or None
        chunks = self._read_chunks(block_rows, dtype=dtype)
        for index, chunk in enumerate(chunks):
            features = chunk[self.feature_names]
            target = chunk[self.target_names]
            yield RowBlock(index, index * block_rows, features, target)

    def _read_chunks(
        self, chunk_rows: int, **options: object
    ) -> Iterator[pd.DataFrame]:
        name = str(self.path)
        with translate_read_errors(name):
            reader = pd.read_csv(
                self.path,
                sep=self.sep,
                encoding="utf-8-sig",
                chunksize=chunk_rows,
                **options,
            )
            with reader:
                yield from reader

    def describe_row(self, row: int) -> str:
        return describe_row(row, str(self.path), sep=self.sep)


def open_source(
    path: str | os.PathLike[str],
    target: str | int | Sequence[str | int] | None = None,
    sep: str | None = None,
) -> RowSource:
    """Open ``path`` as a :class:`NpySource` (``.npy`` suffix) or a :class:`CsvSource`.

    Parameters
    ----------
    path : str or path-like
        The data file.
    target : str, int, sequence of them, or None
        Target columns: indices for a ``.npy`` file (integers or their text, such as
        ``"-1"``; None means the last column), names for CSV (required).
    sep : str or None, default=None
        Field separator of a CSV file; None guesses it.

    Raises
    ------
    ParameterError
        If ``target`` is not text, an integer or a sequence of them, or is an
        empty sequence.
    DataError
        If the file cannot be opened as a source, or a ``.npy`` target is not an
        integer index.
    """
    path = Path(path)
    columns = [] if target is None else target_columns(target)
    if target is not None and not columns:
        raise ParameterError(
            "target must name at least one column; received: target="
            f"{target!r}; pass a column name, an index, or None for the last column"
            " of a .npy file",
            parameter="target",
        )
    if path.suffix.lower() == NPY_SUFFIX:
        if not columns:
            return NpySource(path, NPY_DEFAULT_TARGET)
        return NpySource(path, [_parse_index(value, path) for value in columns])
    return CsvSource(path, [str(value) for value in columns], sep=sep)


def target_columns(target: object) -> list[str | int]:
    """Return ``target``, a column name or index or a sequence of them, as a list.

    Raises
    ------
    ParameterError
        If ``target`` or one of its items is neither text nor an integer, such as
        a float or a bool.
    """
    if _is_column_key(target):
        return [target]
    is_sequence = isinstance(target, (Sequence, np.ndarray, pd.Index))
    if not is_sequence or isinstance(target, bytes):
        raise ParameterError(
            "target must be a column name (CSV), a column index (.npy) or a list"
            f" of them; received: target={target!r} of type {type(target).__name__}",
            parameter="target",
        )
    columns = list(target)
    for column in columns:
        if not _is_column_key(column):
            raise ParameterError(
                "target must be a column name (CSV), a column index (.npy) or a list"
                f" of them; received {column!r} of type {type(column).__name__} in"
                f" target={target!r}",
                parameter="target",
            )
    return columns


def _is_column_key(value: object) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (str, int, np.integer))


def _parse_index(value: str | int, path: Path) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise DataError(
            f"target columns of the .npy file {path} are given by index, such as -1"
            f" for the last column; received: {value!r}"
        ) from None
