"""Turn a DataFrame of raw features into the float matrix that a network trains on.

Numeric columns get mean imputation and, by default, standardization. Categorical
columns get most-frequent imputation and one-hot encoding. scikit-learn's
SimpleImputer, StandardScaler and OneHotEncoder learn every statistic during
``fit``.

``transform`` fills and scales numeric columns with the stored statistics in NumPy.
It one-hot encodes through an OneHotEncoder built from the stored categories. So a
preprocessor rebuilt from its JSON config needs no private scikit-learn attributes,
and its output is bit-for-bit the same.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlpkit.data import (
    CATEGORICAL,
    NUMERIC,
    category_column_values,
    describe_cell_row,
    describe_row,
    describe_source,
    format_columns,
    infer_column_kind,
    numeric_column_values,
    with_text_column_names,
)
from mlpkit.errors import (
    DataError,
    DataWarning,
    ModelFileError,
    NotFittedError,
    ParameterError,
    UnseenCategoryWarning,
    caller_stacklevel,
)

logger = logging.getLogger(__name__)

MAX_SHOWN_VALUES = 3
"""Maximum number of unseen categories per column that a warning shows."""

# Rounding in a streamed mean and variance can leave a constant column a standard
# deviation of a few ulps of its mean instead of exactly 0.
_CONSTANT_RELATIVE_STD = 64 * np.finfo(np.float64).eps

# A standard deviation is the square root of a variance that fit computed as a
# finite float64. Above 0 that variance is at least the smallest subnormal,
# 5e-324, so a standard deviation lies in [2.2e-162, 1.3e154] or is 0. A scale
# is such a standard deviation, or 1 for a constant column.
SMALLEST_STD = float(np.sqrt(np.finfo(np.float64).smallest_subnormal))
LARGEST_STD = float(np.sqrt(np.finfo(np.float64).max))

# fit computes a numeric column's fill value and mean as two float64 means of
# the same values, so they differ by rounding alone: at most 5e-16 of
# |mean| + std in random columns of up to 200,000 rows, some with missing
# cells. A larger gap means that one of them was changed.
_FILL_MEAN_RELATIVE_GAP = 1e-6


@dataclass
class _NumericColumn:
    name: str
    fill_value: float
    mean: float
    std: float
    scale: float
    n_missing: int


@dataclass
class _CategoricalColumn:
    name: str
    fill_value: str
    categories: list[str]
    n_missing: int


class TabularPreprocessor:
    """Impute, standardize and one-hot encode the feature columns of a DataFrame.

    Parameters
    ----------
    standardize : bool, default=True
        Whether numeric columns are scaled to mean 0 and standard deviation 1 on the
        training data after imputation. A constant column keeps scale 1, so it maps
        to 0 and never to NaN.

    Attributes
    ----------
    n_features_in_ : int
        Number of raw input columns seen in ``fit``.
    feature_names_in_ : list of str
        Raw input column names in training order.
    n_features_out_ : int
        Number of output columns of ``transform``.
    feature_names_out_ : list of str
        Output column names: numeric columns by name in training order, then one
        ``"column=category"`` name per one-hot output, categories sorted.

    Notes
    -----
    Column kinds follow the dtype. Bool, integer and float columns are numeric. Text,
    object and category columns are categorical, with two exceptions for text and
    object columns. If all their values parse as numbers, the column is numeric. If
    at least :data:`mlpkit.data.NUMBER_SHARE` (90%) of them do, ``fit`` raises
    DataError because the other values are most likely typos. Categories are stored
    as text, so the integer ``1``, the float ``1.0`` and the text ``"1"`` are the same
    category, but the text ``"1.0"`` is another.
    """

    def __init__(self, standardize: bool = True) -> None:
        if not isinstance(standardize, bool):
            raise ParameterError(
                "standardize must be True or False; received: "
                f"standardize={standardize!r}",
                parameter="standardize",
            )
        self.standardize = standardize
        self._columns: list[_NumericColumn | _CategoricalColumn] | None = None
        self._encoder: OneHotEncoder | None = None
        self._numeric_statistics: tuple[npt.NDArray, ...] | None = None

    def fit(
        self, frame: pd.DataFrame, source: str | None = None
    ) -> TabularPreprocessor:
        """Learn column kinds, fill values, scaling and categories from ``frame``.

        Parameters
        ----------
        frame : pandas.DataFrame of shape (n_samples, n_features_in)
            Training features, without the target column.
        source : str or None, default=None
            The CSV file the frame was read from, used in messages to name the file
            and line. None means data built in memory.

        Returns
        -------
        TabularPreprocessor
            This preprocessor, fitted.

        Raises
        ------
        DataError
            If the frame has no rows or no columns, or repeats a column name. Also if
            a column has no values or an unsupported dtype such as dates, a numeric
            column contains infinity, or text is mixed into a column of numbers.

        Warns
        -----
        DataWarning
            If columns have a single value in the training rows, see
            :func:`warn_constant_columns`.
        """
        frame = with_text_column_names(frame, source)
        where = describe_source(source)
        if len(frame) == 0:
            raise DataError(f"{where} has no rows; training needs at least one row")

        kinds = {
            name: infer_column_kind(frame[name], name, source) for name in frame.columns
        }
        numeric_names = [name for name in frame.columns if kinds[name] == NUMERIC]
        categorical_names = [
            name for name in frame.columns if kinds[name] == CATEGORICAL
        ]

        numeric = _fit_numeric(frame, numeric_names, source)
        categorical, encoder = _fit_categorical(frame, categorical_names)

        columns: list[_NumericColumn | _CategoricalColumn] = []
        for name in frame.columns:
            if kinds[name] == NUMERIC:
                columns.append(numeric[name])
            else:
                columns.append(categorical[name])
        self._set_columns(columns, encoder)
        warn_constant_columns(self, source)

        logger.debug("fitted %r on %d rows of %s", self, len(frame), where)
        return self

    def constant_columns(self) -> list[str]:
        """Return the input columns with a single value in the training rows.

        Missing cells count as that value, because imputation fills them with
        it. Such a column is 0 after standardization, or one constant one-hot
        output.
        """
        names = []
        for column in self._fitted_columns():
            if isinstance(column, _NumericColumn):
                constant = column.std <= _CONSTANT_RELATIVE_STD * abs(column.mean)
            else:
                constant = len(column.categories) <= 1
            if constant:
                names.append(column.name)
        return names

    def transform(
        self,
        frame: pd.DataFrame,
        source: str | None = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> npt.NDArray[np.floating]:
        """Convert raw feature columns into the network's input matrix.

        Parameters
        ----------
        frame : pandas.DataFrame of shape (n_samples, n_columns)
            Features with at least the training columns. Extra columns are ignored.
        source : str or None, default=None
            The CSV file the frame was read from, used in messages. None means data
            built in memory.
        dtype : numpy dtype, default=numpy.float32
            Output dtype. Computation runs in float64 and is cast at the end.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_features_out)
            Numeric columns in training order, then the one-hot blocks in training
            order. Missing cells get the training mean or most frequent category.

        Raises
        ------
        NotFittedError
            If the preprocessor has not been fitted or rebuilt from a config.
        DataError
            If training columns are missing, or a numeric column contains text or
            infinity.

        Warns
        -----
        UnseenCategoryWarning
            Once per call if any row has a category that training never saw. Such a
            category is encoded as all zeros.
        """
        columns = self._fitted_columns()
        frame = with_text_column_names(frame, source)
        where = describe_source(source)
        if len(frame) == 0:
            return np.empty((0, self.n_features_out_), dtype=dtype)

        missing = [column.name for column in columns if column.name not in frame]
        if missing:
            noun = "column" if len(missing) == 1 else "columns"
            pronoun = "it" if len(missing) == 1 else "them"
            raise DataError(
                f"{where} lacks {noun} {format_columns(missing)}, which the model was"
                f" trained on; add {pronoun} (empty cells are imputed)"
            )
        extra = [name for name in frame.columns if name not in self.feature_names_in_]
        if extra:
            logger.debug("ignoring columns of %s unknown to training: %s", where, extra)

        numeric = [column for column in columns if isinstance(column, _NumericColumn)]
        categorical = [
            column for column in columns if isinstance(column, _CategoricalColumn)
        ]
        blocks = [self._transform_numeric(frame, numeric, source, dtype)]
        if categorical:
            blocks.append(self._transform_categorical(frame, categorical, source))
        return np.hstack(blocks).astype(dtype, copy=False)

    def fit_transform(
        self,
        frame: pd.DataFrame,
        source: str | None = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> npt.NDArray[np.floating]:
        """Fit on ``frame`` and return its transform, with the errors of both steps."""
        return self.fit(frame, source).transform(frame, source, dtype)

    def transform_array(
        self, values: npt.NDArray, dtype: npt.DTypeLike = np.float32
    ) -> npt.NDArray[np.floating] | None:
        """Transform a numeric array without pandas, or return None if unable.

        A fast path for prediction on a few rows: it applies only when every
        training column is numeric and the columns were the ``x0, x1, …`` of an
        array, and gives the same result as :meth:`transform` on a frame of
        ``values``. None means the caller must use :meth:`transform`.
        """
        statistics = self._array_statistics()
        if (
            statistics is None
            or values.ndim != 2
            or values.shape[1] != self.n_features_in_
            or values.dtype.kind not in "biuf"
        ):
            return None
        fill_values, means, scales = statistics

        values = values.astype(np.float64)
        # One pass settles the common case of no missing or infinite cells.
        if not np.isfinite(values).all():
            infinite = np.isinf(values)
            if infinite.any():
                row, column = np.argwhere(infinite)[0]
                raise DataError(
                    f"column 'x{column}' contains {values[row, column]} at "
                    f"{describe_row(int(row))}; replace it with a finite number or "
                    "set it to NaN so it is imputed"
                )
            missing_rows, missing_columns = np.nonzero(np.isnan(values))
            values[missing_rows, missing_columns] = fill_values[missing_columns]
        if self.standardize:
            with np.errstate(over="ignore", invalid="ignore"):
                values -= means
                values /= scales
        if not _within_range(values, dtype):
            # transform raises the DataError that names the cell.
            return None
        return values.astype(dtype, copy=False)

    def _array_statistics(self) -> tuple[npt.NDArray, ...] | None:
        """Return fill values, means and scales when :meth:`transform_array` applies."""
        if self._numeric_statistics is None:
            columns = self._fitted_columns()
            array_names = [f"x{index}" for index in range(len(columns))]
            eligible = self.feature_names_in_ == array_names and all(
                isinstance(column, _NumericColumn) for column in columns
            )
            self._numeric_statistics = ()
            if eligible:
                self._numeric_statistics = (
                    np.array([column.fill_value for column in columns]),
                    np.array([column.mean for column in columns]),
                    np.array([column.scale for column in columns]),
                )
        return self._numeric_statistics or None

    def _transform_numeric(
        self,
        frame: pd.DataFrame,
        columns: list[_NumericColumn],
        source: str | None,
        dtype: npt.DTypeLike,
    ) -> npt.NDArray[np.float64]:
        values = np.empty((len(frame), len(columns)), dtype=np.float64)
        for index, column in enumerate(columns):
            values[:, index] = numeric_column_values(
                frame[column.name], column.name, source, "the model was trained on"
            )
        raw = values.copy()

        # Same float64 operations as SimpleImputer.transform followed by
        # StandardScaler.transform, which subtracts mean_ and divides by scale_.
        fill_values = np.array([column.fill_value for column in columns])
        missing_rows, missing_columns = np.nonzero(np.isnan(values))
        values[missing_rows, missing_columns] = fill_values[missing_columns]
        if self.standardize:
            # Overflow leaves infinity, which _check_in_range reports by cell.
            with np.errstate(over="ignore", invalid="ignore"):
                values -= np.array([column.mean for column in columns])
                values /= np.array([column.scale for column in columns])
        _check_in_range(values, raw, columns, frame, source, dtype)
        return values

    def _transform_categorical(
        self,
        frame: pd.DataFrame,
        columns: list[_CategoricalColumn],
        source: str | None,
    ) -> npt.NDArray[np.float64]:
        values = np.empty((len(frame), len(columns)), dtype=object)
        unseen_rows = np.zeros(len(frame), dtype=bool)
        unseen_by_column: dict[str, list[str]] = {}
        for index, column in enumerate(columns):
            column_values = category_column_values(frame[column.name])
            column_values[pd.isna(column_values)] = column.fill_value
            values[:, index] = column_values

            # An object array keeps trailing NUL characters that a str array drops.
            categories = np.array(column.categories, dtype=object)
            unseen = ~np.isin(column_values, categories)
            if unseen.any():
                unseen_rows |= unseen
                unseen_by_column[column.name] = list(pd.unique(column_values[unseen]))

        if unseen_by_column:
            _warn_unseen(int(unseen_rows.sum()), unseen_by_column, source)
        encoder = cast(OneHotEncoder, self._encoder)
        return encoder.transform(values)

    def to_config(self) -> dict[str, Any]:
        """Return every learned statistic as plain JSON-serializable data.

        Returns
        -------
        dict
            ``{"standardize": bool, "columns": [...]}`` with one dict per input column
            in training order. Numeric columns store ``fill_value``, ``mean``,
            ``std``, ``scale`` and ``n_missing``. Categorical columns store
            ``fill_value``, the sorted ``categories`` as strings and ``n_missing``.

        Raises
        ------
        NotFittedError
            If the preprocessor has not been fitted.
        """
        columns = []
        for column in self._fitted_columns():
            if isinstance(column, _NumericColumn):
                entry: dict[str, Any] = {
                    "name": column.name,
                    "kind": NUMERIC,
                    "fill_value": column.fill_value,
                    "mean": column.mean,
                    "std": column.std,
                    "scale": column.scale,
                    "n_missing": column.n_missing,
                }
            else:
                entry = {
                    "name": column.name,
                    "kind": CATEGORICAL,
                    "fill_value": column.fill_value,
                    "categories": list(column.categories),
                    "n_missing": column.n_missing,
                }
            columns.append(entry)
        return {"standardize": self.standardize, "columns": columns}

    @classmethod
    def from_config(
        cls, config: dict[str, Any], dtype: npt.DTypeLike | None = None
    ) -> TabularPreprocessor:
        """Rebuild a fitted preprocessor from the output of :meth:`to_config`.

        Parameters
        ----------
        config : dict
            The config, usually after a JSON round trip.
        dtype : numpy dtype or None, default=None
            The dtype of the network that the output feeds, such as float32.
            When given, each numeric column's fill value must transform to a
            value within its range, as it did for the training rows. None skips
            that check.

        Returns
        -------
        TabularPreprocessor
            A fitted preprocessor whose ``transform`` output is bit-for-bit equal to
            the original's.

        Raises
        ------
        ModelFileError
            If the config lacks a key or has a value of the wrong type or range.
            Such values are a statistic that is not a finite number, a scale or
            standard deviation that no finite variance gives, a negative count,
            a repeated column name, and categories that are empty, repeated or
            lack the fill value. With ``dtype``, also a fill value beyond its
            range once transformed, such as after an edit to a column's mean.
        """
        try:
            preprocessor = cls(standardize=config["standardize"])
            entries = config["columns"]
            if not isinstance(entries, list) or not entries:
                raise ValueError("'columns' must be a non-empty list")
            columns = [_column_from_config(entry) for entry in entries]
            names = [column.name for column in columns]
            if len(set(names)) != len(names):
                raise ValueError("a column name appears more than once")
            categorical = [
                column for column in columns if isinstance(column, _CategoricalColumn)
            ]
            encoder = _encoder_for_categories(categorical)
            if dtype is not None:
                _check_fill_values_in_range(columns, preprocessor.standardize, dtype)
        except (KeyError, TypeError, ValueError, ParameterError) as error:
            raise ModelFileError(
                f"the preprocessing config is invalid ({_config_problem(error)}); the"
                " model file is damaged or was not written by mlpkit"
            ) from None

        preprocessor._set_columns(columns, encoder)
        return preprocessor

    def describe(self) -> list[dict[str, Any]]:
        """Summarize each input column for display.

        Returns
        -------
        list of dict
            One dict per input column in training order, with ``name``, ``kind`` and
            ``n_missing`` (missing training cells). Numeric columns add the training
            ``mean`` and ``std``. Categorical columns add ``n_categories`` and the
            ``most_frequent`` category, which fills missing cells.

        Raises
        ------
        NotFittedError
            If the preprocessor has not been fitted.
        """
        summary = []
        for column in self._fitted_columns():
            if isinstance(column, _NumericColumn):
                entry: dict[str, Any] = {
                    "name": column.name,
                    "kind": NUMERIC,
                    "mean": column.mean,
                    "std": column.std,
                    "n_missing": column.n_missing,
                }
            else:
                entry = {
                    "name": column.name,
                    "kind": CATEGORICAL,
                    "n_categories": len(column.categories),
                    "most_frequent": column.fill_value,
                    "n_missing": column.n_missing,
                }
            summary.append(entry)
        return summary

    def __repr__(self) -> str:
        settings = f"standardize={self.standardize}"
        if self._columns is None:
            return f"TabularPreprocessor({settings}, not fitted)"

        n_numeric = sum(isinstance(c, _NumericColumn) for c in self._columns)
        n_categorical = len(self._columns) - n_numeric
        return (
            f"TabularPreprocessor({settings}): {n_numeric} numeric and"
            f" {n_categorical} categorical columns -> {self.n_features_out_} outputs"
        )

    def _set_columns(
        self,
        columns: list[_NumericColumn | _CategoricalColumn],
        encoder: OneHotEncoder | None,
    ) -> None:
        self._columns = columns
        self._numeric_statistics = None
        self._encoder = encoder
        self.feature_names_in_ = [column.name for column in columns]
        self.n_features_in_ = len(columns)

        names_out = [c.name for c in columns if isinstance(c, _NumericColumn)]
        for column in columns:
            if isinstance(column, _CategoricalColumn):
                for category in column.categories:
                    names_out.append(f"{column.name}={category}")
        self.feature_names_out_ = names_out
        self.n_features_out_ = len(names_out)

    def _fitted_columns(self) -> list[_NumericColumn | _CategoricalColumn]:
        if self._columns is None:
            raise NotFittedError(
                "this TabularPreprocessor is not fitted; call fit or from_config first"
            )
        return self._columns


def _fit_numeric(
    frame: pd.DataFrame, names: list[str], source: str | None
) -> dict[str, _NumericColumn]:
    if not names:
        return {}

    values = np.empty((len(frame), len(names)), dtype=np.float64)
    for index, name in enumerate(names):
        values[:, index] = numeric_column_values(
            frame[name], name, source, "its other values are"
        )
    # Values beyond about 1e154 overflow the variance. The check below reports
    # them by column, so numpy's warnings are silenced here.
    with np.errstate(over="ignore", invalid="ignore"):
        imputer = SimpleImputer(strategy="mean")
        imputed = imputer.fit_transform(values)
        scaler = StandardScaler().fit(imputed)
    statistics = np.vstack([imputer.statistics_, scaler.mean_, scaler.var_])
    for index in np.flatnonzero(~np.all(np.isfinite(statistics), axis=0)):
        largest = np.nanmax(np.abs(values[:, index]))
        raise DataError(
            f"column '{names[index]}' of {describe_source(source)} has values as"
            f" large as {largest:.3g}, too large for its mean and variance in"
            " float64; check the values, or divide the column by a power of ten"
            " for training and prediction"
        )

    columns = {}
    for index, name in enumerate(names):
        columns[name] = _NumericColumn(
            name=name,
            fill_value=float(imputer.statistics_[index]),
            mean=float(scaler.mean_[index]),
            std=float(np.sqrt(scaler.var_[index])),
            scale=float(scaler.scale_[index]),
            n_missing=int(np.isnan(values[:, index]).sum()),
        )
    return columns


def _check_in_range(
    values: npt.NDArray[np.float64],
    raw: npt.NDArray[np.float64],
    columns: list[_NumericColumn],
    frame: pd.DataFrame,
    source: str | None,
    dtype: npt.DTypeLike,
) -> None:
    """Raise DataError for a transformed value that ``dtype`` cannot hold.

    Casting such a value would give infinity, and the network NaN.
    """
    cell = _out_of_range_cell(values, dtype)
    if cell is None:
        return

    row, index = cell
    column = columns[index]
    where = describe_cell_row(frame[column.name], row, source)
    raise DataError(
        f"column '{column.name}' contains {raw[row, index]:.6g} at {where}, which is"
        f" beyond the {np.dtype(dtype).name} range once scaled; check the value, or"
        " divide the column by a power of ten for training and prediction"
    )


def _largest_value(dtype: npt.DTypeLike) -> float:
    """Return the largest finite value of a floating ``dtype``, or inf for others."""
    if np.issubdtype(dtype, np.floating):
        return float(np.finfo(dtype).max)
    return np.inf


def _within_range(values: npt.NDArray[np.float64], dtype: npt.DTypeLike) -> bool:
    """Return whether ``dtype`` can hold every value, NaN counting as out of range.

    Two reductions without temporaries, so it costs less than
    :func:`_out_of_range_cell`, which also finds the cell.
    """
    if values.size == 0:
        return True
    limit = _largest_value(dtype)
    # NaN fails both comparisons, as in _out_of_range_cell.
    return bool(values.max() <= limit and values.min() >= -limit)


def _out_of_range_cell(
    values: npt.NDArray[np.float64], dtype: npt.DTypeLike
) -> tuple[int, int] | None:
    """Return (row, column) of the first value that ``dtype`` cannot hold, or None."""
    limit = _largest_value(dtype)
    out_of_range = ~(np.abs(values) <= limit)
    if not out_of_range.any():
        return None
    row, column = np.argwhere(out_of_range)[0]
    return int(row), int(column)


def _fit_categorical(
    frame: pd.DataFrame, names: list[str]
) -> tuple[dict[str, _CategoricalColumn], OneHotEncoder | None]:
    if not names:
        return {}, None

    values = np.column_stack([category_column_values(frame[name]) for name in names])
    imputer = SimpleImputer(strategy="most_frequent")
    imputed = imputer.fit_transform(values)
    encoder = OneHotEncoder(
        handle_unknown="ignore", sparse_output=False, dtype=np.float64
    )
    encoder.fit(imputed)

    columns = {}
    for index, name in enumerate(names):
        columns[name] = _CategoricalColumn(
            name=name,
            fill_value=str(imputer.statistics_[index]),
            categories=[str(category) for category in encoder.categories_[index]],
            n_missing=int(pd.isna(values[:, index]).sum()),
        )
    return columns, encoder


def _encoder_for_categories(
    columns: list[_CategoricalColumn],
) -> OneHotEncoder | None:
    """Build a fitted OneHotEncoder whose categories are exactly the stored ones."""
    if not columns:
        return None

    categories = [np.array(column.categories, dtype=object) for column in columns]
    encoder = OneHotEncoder(
        categories=categories,
        handle_unknown="ignore",
        sparse_output=False,
        dtype=np.float64,
    )
    # With explicit categories, fit only checks the shape, so one row suffices.
    first_row = np.array([[column.categories[0] for column in columns]], dtype=object)
    return encoder.fit(first_row)


def _column_from_config(entry: dict[str, Any]) -> _NumericColumn | _CategoricalColumn:
    if not isinstance(entry, dict):
        raise TypeError(f"a column entry must be a dict, not {entry!r}")
    kind = entry["kind"]
    name = _expect(entry["name"], str, "name")
    n_missing = _expect(entry["n_missing"], int, "n_missing")
    if isinstance(n_missing, bool) or n_missing < 0:
        raise ValueError(f"'n_missing' of column '{name}' must be a count")
    if kind == NUMERIC:
        scale = _finite_number(entry, "scale", name)
        if scale <= 0:
            raise ValueError(f"'scale' of column '{name}' must be positive")
        if not SMALLEST_STD <= scale <= LARGEST_STD:
            raise ValueError(
                f"'scale' of column '{name}' is {scale!r}, but a scale is 1 or a "
                f"standard deviation, from {SMALLEST_STD:.2g} to {LARGEST_STD:.2g}"
            )
        std = _finite_number(entry, "std", name)
        if not (std == 0 or SMALLEST_STD <= std <= LARGEST_STD):
            raise ValueError(
                f"'std' of column '{name}' is {std!r}, but a standard deviation is 0 "
                f"or from {SMALLEST_STD:.2g} to {LARGEST_STD:.2g}"
            )
        fill_value = _finite_number(entry, "fill_value", name)
        mean = _finite_number(entry, "mean", name)
        if abs(fill_value - mean) > _FILL_MEAN_RELATIVE_GAP * (abs(mean) + std):
            raise ValueError(
                f"column '{name}' has 'fill_value' {fill_value!r} and 'mean' "
                f"{mean!r}, but both are the training mean, so they must agree "
                "up to rounding"
            )
        return _NumericColumn(
            name=name,
            fill_value=fill_value,
            mean=mean,
            std=std,
            scale=scale,
            n_missing=n_missing,
        )
    if kind == CATEGORICAL:
        raw_categories = _expect(entry["categories"], list, "categories")
        categories = [_expect(c, str, "categories") for c in raw_categories]
        if not categories:
            raise ValueError(f"column '{name}' has no categories")
        if len(set(categories)) != len(categories):
            raise ValueError(f"column '{name}' repeats a category")
        fill_value = _expect(entry["fill_value"], str, "fill_value")
        if fill_value not in categories:
            raise ValueError(f"the fill value of column '{name}' is not a category")
        return _CategoricalColumn(
            name=name,
            fill_value=fill_value,
            categories=categories,
            n_missing=n_missing,
        )
    raise ValueError(f"unknown column kind {kind!r}")


def _check_fill_values_in_range(
    columns: list[_NumericColumn | _CategoricalColumn],
    standardize: bool,
    dtype: npt.DTypeLike,
) -> None:
    """Raise ValueError for a numeric column whose fill value ``dtype`` cannot hold.

    The fill value and the mean are both the training mean, so fit maps the
    fill value to about 0 when standardizing, and to itself, a value of the
    training rows, otherwise. Only a changed statistic puts it out of range.
    A mean or scale beyond ``dtype`` alone is valid: values near 1e100 with a
    standard deviation near 1e99 standardize within float32.
    """
    limit = _largest_value(dtype)
    name = np.dtype(dtype).name
    for column in columns:
        if not isinstance(column, _NumericColumn):
            continue
        if not standardize:
            if abs(column.fill_value) > limit:
                raise ValueError(
                    f"'fill_value' of column '{column.name}' is "
                    f"{column.fill_value!r}, beyond the {name} range of the "
                    "network, which receives it unscaled because standardize is "
                    "false"
                )
            continue
        # Python floats overflow to infinity, as the NumPy arrays of transform do.
        scaled = (column.fill_value - column.mean) / column.scale
        if not abs(scaled) <= limit:
            raise ValueError(
                f"column '{column.name}' has 'fill_value' {column.fill_value!r} "
                f"and 'mean' {column.mean!r}, though both should be the training "
                f"mean, so with 'scale' {column.scale!r} its fill value "
                f"standardizes to {scaled:.3g}, beyond the {name} range of the "
                "network"
            )


def _expect(value: Any, expected: type, key: str) -> Any:
    if not isinstance(value, expected):
        raise TypeError(f"'{key}' must be {expected.__name__}, not {value!r}")
    return value


def _finite_number(entry: dict[str, Any], key: str, name: str) -> float:
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"'{key}' of column '{name}' must be a number, not {value!r}")
    try:
        number = float(value)
    except OverflowError:
        number = np.inf
    if not np.isfinite(number):
        raise ValueError(f"'{key}' of column '{name}' must be finite, not {value!r}")
    return number


def _config_problem(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing key {error}"
    return str(error)


def warn_constant_columns(
    preprocessor: TabularPreprocessor, source: str | None
) -> None:
    """Warn with one DataWarning that names the constant input columns, if any.

    The columns are kept, so the model takes the same columns as the data.
    Training learns nothing from them, but their input weights keep their
    random initial values, so other values at prediction time change the
    outputs arbitrarily.
    """
    names = preprocessor.constant_columns()
    if not names:
        return
    columns = format_columns(names)
    where = describe_source(source)
    if len(names) == 1:
        message = (
            f"column {columns} of {where} has a single value in the training rows, "
            "so it carries no information; it is kept as an input, but drop it if "
            "new data can have other values"
        )
    else:
        message = (
            f"columns {columns} of {where} have a single value in the training "
            "rows, so they carry no information; they are kept as inputs, but drop "
            "them if new data can have other values"
        )
    warnings.warn(message, DataWarning, stacklevel=caller_stacklevel())


def _warn_unseen(
    n_rows: int, unseen_by_column: dict[str, list[str]], source: str | None
) -> None:
    parts = []
    for name, categories in unseen_by_column.items():
        listed = ", ".join(repr(c) for c in categories[:MAX_SHOWN_VALUES])
        hidden = len(categories) - MAX_SHOWN_VALUES
        if hidden > 0:
            listed += f" and {hidden} more"
        parts.append(f"'{name}' ({listed})")

    rows = "1 row contains" if n_rows == 1 else f"{n_rows} rows contain"
    message = (
        f"{rows} categories that training never saw in {describe_source(source)},"
        f" encoded as all zeros: {', '.join(parts)}"
    )
    warnings.warn(message, UnseenCategoryWarning, stacklevel=caller_stacklevel())
