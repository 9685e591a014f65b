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
import os
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
from mlpkit.errors import DataError, ParameterError

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
    """Return ``block_rows`` as an int; raise ParameterError if it is below 1."""
    if int(block_rows) < 1:
        raise ParameterError(
            f"block_rows must be at least 1; received: block_rows={block_rows!r}"
        )
    return int(block_rows)


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
        If the file is missing, is not a ``.npy`` file, contains Python objects, is
        not 2-D, has no rows, or is stored in Fortran order.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        _check_file(self.path, ".npy")
        _check_no_objects(self.path)
        try:
            array = np.load(self.path, mmap_mode="r")
        except (ValueError, OSError) as error:
            raise DataError(
                f"{self.path} is not a readable .npy file ({error}); save the array"
                " with numpy.save"
            ) from None
        if not isinstance(array, np.memmap):
            raise DataError(
                f"{self.path} is not a .npy file of one array; save a single array"
                " with numpy.save"
            )
        if array.ndim != 2:
            raise DataError(
                f"{self.path} contains an array of shape {array.shape}; expected 2-D"
                " with one row per sample and one column per feature or target"
            )
        if array.shape[0] == 0:
            raise DataError(f"{self.path} has no rows; add data rows")
        if not array.flags.c_contiguous:
            raise DataError(
                f"{self.path} is stored in Fortran order, so its rows are not"
                " contiguous; save it with numpy.save(path, numpy.ascontiguousarray(a))"
            )
        self.shape: tuple[int, int] = (int(array.shape[0]), int(array.shape[1]))
        self.dtype = array.dtype
        self.offset = int(array.offset)
        del array

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


def _check_no_objects(path: Path) -> None:
    """Raise DataError if the ``.npy`` header at ``path`` has an object dtype.

    Only the header is read. A file that is not ``.npy``, or of a format
    version other than 1.0 and 2.0, is left for np.load to report.
    """
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    try:
        with path.open("rb") as file:
            read_header = readers.get(np.lib.format.read_magic(file))
            if read_header is None:
                return
            _, _, dtype = read_header(file)
    except (ValueError, OSError, SyntaxError):
        return
    if dtype.hasobject:
        raise DataError(
            f"{path} contains an array of Python objects (dtype {dtype}), which "
            "numpy stores with pickle, and mlpkit never loads pickled data; save "
            "a numeric array instead, such as numpy.save(path, X.astype(numpy.float32))"
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
        indices = [target] if isinstance(target, (int, np.integer)) else list(target)
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

        targets = [target] if isinstance(target, str) else list(target)
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
    DataError
        If the file cannot be opened as a source, or a ``.npy`` target is not an
        integer index.
    """
    path = Path(path)
    if isinstance(target, (str, int)):
        target = [target]
    if path.suffix.lower() == NPY_SUFFIX:
        if not target:
            return NpySource(path, NPY_DEFAULT_TARGET)
        return NpySource(path, [_parse_index(value, path) for value in target])
    return CsvSource(path, [str(value) for value in target or []], sep=sep)


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
