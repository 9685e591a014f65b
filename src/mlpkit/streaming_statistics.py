"""Preprocessing and target statistics learned in one streaming pass over a source.

:func:`learn_statistics` reads a :class:`~mlpkit.sources.RowSource` block by block
and returns a fitted :class:`~mlpkit.preprocessing.TabularPreprocessor` and
:class:`~mlpkit.tasks.TargetEncoder`, built with their ``from_config``. Their
statistics equal, to float rounding, what ``fit`` learns on the training rows held
in memory:

- Column kinds are inferred from the values of every row, with the rules of
  :func:`mlpkit.data.infer_column_kind`, so a held-out row cannot hold text in a
  column that training treats as numeric.
- A numeric column's mean and variance come from
  :class:`~mlpkit.moments.RunningMoments` over its
  present values. Mean imputation leaves the mean unchanged and adds zero squared
  deviations, so the variance after imputation is
  ``var_present · n_present / n_rows``.
- A categorical column counts every value. Its categories are the sorted values
  seen, and the most frequent one (the smallest text among ties, as
  ``SimpleImputer(strategy="most_frequent")`` breaks them) fills missing cells.
- The target's task is inferred with the rules of :func:`mlpkit.tasks.infer_task`
  from the dtype of every block and the distinct values seen, see
  :class:`~mlpkit.streaming_targets.TargetStatistics`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlpkit.data import (
    CATEGORICAL,
    NUMBER_SHARE,
    NUMERIC,
    category_column_values,
    is_real_number_dtype,
    shorten_value,
)
from mlpkit.errors import DataError
from mlpkit.moments import RunningMoments
from mlpkit.preprocessing import TabularPreprocessor, warn_constant_columns
from mlpkit.sources import RowBlock, RowSource, check_block_rows
from mlpkit.streaming_targets import TargetStatistics
from mlpkit.tasks import TargetEncoder

logger = logging.getLogger(__name__)


@dataclass
class _FeatureColumn:
    """Counts and statistics of one feature column, updated block by block."""

    name: str
    n_present: int = 0
    n_numbers: int = 0
    first_text: tuple[int, Any] | None = None
    first_infinite: tuple[int, float] | None = None
    n_missing_training: int = 0
    max_abs_training: float = 0.0
    categories: Counter = field(default_factory=Counter)
    numeric_block_in_training: bool = False

    def update(self, series: pd.Series, start: int, training: bool) -> NDArray:
        """Count the block's values and return them as numbers, NaN if not finite."""
        missing = series.isna().to_numpy()
        real_numbers = is_real_number_dtype(series.dtype)
        if real_numbers:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            is_text = np.zeros(len(series), dtype=bool)
        else:
            parsed = pd.to_numeric(series.astype(object), errors="coerce")
            values = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
            is_text = np.isnan(values) & ~missing

        self.n_present += int((~missing).sum())
        self.n_numbers += int((~missing & ~is_text).sum())
        if self.first_text is None and is_text.any():
            position = int(np.argmax(is_text))
            self.first_text = (start + position, series.iloc[position])
        is_infinite = np.isinf(values)
        if self.first_infinite is None and is_infinite.any():
            position = int(np.argmax(is_infinite))
            self.first_infinite = (start + position, float(values[position]))
            values = np.where(is_infinite, np.nan, values)
        if training:
            self.n_missing_training += int(missing.sum())
            if not np.isnan(values).all():
                largest = float(np.nanmax(np.abs(values)))
                self.max_abs_training = max(self.max_abs_training, largest)
            if real_numbers:
                self.numeric_block_in_training = True
            else:
                self.categories.update(_count_categories(series[~missing]))
        return values

    def kind(self, where: str, source: RowSource) -> str:
        """Return NUMERIC or CATEGORICAL; raise DataError as infer_column_kind does."""
        if self.n_present == 0:
            raise DataError(
                f"column '{self.name}' of {where} has no values; drop the column or"
                " fill it in"
            )
        if self.n_numbers == self.n_present:
            if self.first_infinite is not None:
                row, value = self.first_infinite
                raise DataError(
                    f"column '{self.name}' contains {value} at "
                    f"{source.describe_row(row)}; replace it with a finite number, or"
                    " leave the cell empty (NaN in a .npy file) so it is imputed"
                )
            return NUMERIC
        if self.n_numbers / self.n_present >= NUMBER_SHARE and self.first_text:
            row, value = self.first_text
            raise DataError(
                f"column '{self.name}' contains {shorten_value(value)!r} at "
                f"{source.describe_row(row)}, but its other values are numbers; fix"
                " the value or leave the cell empty so it is imputed"
            )
        return CATEGORICAL

    def numeric_config(
        self, moments: RunningMoments, index: int, n_training_rows: int, where: str
    ) -> dict[str, Any]:
        n_present = int(moments.count[index])
        if n_present == 0:
            raise DataError(
                f"column '{self.name}' of {where} has no values in the rows used for"
                " training; drop the column or fill it in"
            )
        mean = float(moments.mean[index])
        variance = float(moments.variance[index]) * n_present / n_training_rows
        if not np.isfinite(mean + variance):
            raise DataError(
                f"column '{self.name}' of {where} has values as large as"
                f" {self.max_abs_training:.3g}, too large for its mean and variance in"
                " float64; check the values, or divide the column by a power of ten"
                " for training and prediction"
            )
        std = float(np.sqrt(variance))
        return {
            "name": self.name,
            "kind": NUMERIC,
            "fill_value": mean,
            "mean": mean,
            "std": std,
            "scale": 1.0 if _is_constant(variance, mean, n_training_rows) else std,
            "n_missing": self.n_missing_training,
        }

    def categorical_config(self, where: str) -> dict[str, Any]:
        if not self.categories:
            raise DataError(
                f"column '{self.name}' of {where} has no values in the rows used for"
                " training; drop the column or fill it in"
            )
        highest = max(self.categories.values())
        most_frequent = min(
            value for value, count in self.categories.items() if count == highest
        )
        return {
            "name": self.name,
            "kind": CATEGORICAL,
            "fill_value": most_frequent,
            "categories": sorted(self.categories),
            "n_missing": self.n_missing_training,
        }


def _count_categories(present: pd.Series) -> Counter:
    """Count present values by category text, as category_column_values writes it."""
    counts = present.value_counts(sort=False)
    texts = category_column_values(pd.Series(counts.index.to_numpy(dtype=object)))
    counter: Counter = Counter()
    for text, count in zip(texts, counts.to_numpy()):
        counter[text] += int(count)
    return counter


def _is_constant(variance: float, mean: float, n_samples: int) -> bool:
    """Return whether a column's variance is within the rounding error of zero.

    This is the bound of ``sklearn.preprocessing._data._is_constant_feature``
    (scikit-learn 1.9.1), under which StandardScaler keeps a scale of 1.
    """
    eps = np.finfo(np.float64).eps
    upper_bound = n_samples * eps * variance + (n_samples * mean * eps) ** 2
    return variance <= upper_bound


def learn_statistics(
    source: RowSource,
    block_rows: int,
    training_blocks: Collection[int],
    *,
    standardize: bool = True,
    task: str = "auto",
) -> tuple[TabularPreprocessor, TargetEncoder]:
    """Learn the preprocessing and the target encoding from a source in one pass.

    Parameters
    ----------
    source : RowSource
        The data file.
    block_rows : int
        Rows per block; block ``i`` holds rows ``i·block_rows`` up to the next block.
    training_blocks : collection of int
        Blocks whose rows are training rows. Only they contribute statistics, but
        every block is checked for invalid values.
    standardize : bool, default=True
        As in :class:`~mlpkit.preprocessing.TabularPreprocessor` and
        :class:`~mlpkit.tasks.TargetEncoder`.
    task : {"auto", "classification", "regression"}, default="auto"
        As in :class:`~mlpkit.tasks.TargetEncoder`.

    Returns
    -------
    preprocessor : TabularPreprocessor
        Fitted on the training rows.
    target_encoder : TargetEncoder
        Fitted on the training rows.

    Raises
    ------
    DataError
        For the errors that ``TabularPreprocessor.fit`` and ``TargetEncoder.fit``
        raise, naming the file and row, and if no block is a training block.

    Notes
    -----
    A CSV column that is categorical but holds only numbers in some training blocks
    is read as text in a second pass, which recounts its categories as written.
    """
    block_rows = check_block_rows(block_rows)
    training = set(int(block) for block in training_blocks)
    if not training:
        raise DataError("no block of rows is left for training; hold out fewer blocks")
    where = str(source.path)
    columns = [_FeatureColumn(name) for name in source.feature_names]
    moments = RunningMoments(len(columns))
    target = TargetStatistics(list(source.target_names))

    for block in source.iter_blocks(block_rows):
        is_training = block.index in training
        values = _update_columns(columns, block, is_training)
        if is_training:
            moments.update(values)
        target.check(block.target, block.start, source)
        if is_training:
            target.update(block.target, block.start)

    kinds = {column.name: column.kind(where, source) for column in columns}
    if task != "classification":
        target.check_numbers_not_mixed_with_text(source)
    recount = [
        column
        for column in columns
        if kinds[column.name] == CATEGORICAL and column.numeric_block_in_training
    ]
    if recount:
        _recount_categories(source, block_rows, training, recount)

    n_training_rows = target.n_rows
    column_configs = []
    for index, column in enumerate(columns):
        if kinds[column.name] == NUMERIC:
            config = column.numeric_config(moments, index, n_training_rows, where)
            column_configs.append(config)
        else:
            column_configs.append(column.categorical_config(where))
    preprocessor = TabularPreprocessor.from_config(
        {"standardize": standardize, "columns": column_configs}
    )
    warn_constant_columns(preprocessor, where)
    encoder = TargetEncoder.from_config(target.encoder_config(task, standardize, where))
    logger.debug(
        "learned %r from %d training rows of %s", preprocessor, n_training_rows, where
    )
    return preprocessor, encoder


def _update_columns(
    columns: list[_FeatureColumn], block: RowBlock, training: bool
) -> NDArray[np.float64]:
    """Count the block's values; return them as numbers, NaN where not finite."""
    values = np.empty((block.n_rows, len(columns)), dtype=np.float64)
    for index, column in enumerate(columns):
        values[:, index] = column.update(
            block.features[column.name], block.start, training
        )
    return values


def _recount_categories(
    source: RowSource,
    block_rows: int,
    training: set[int],
    columns: list[_FeatureColumn],
) -> None:
    names = [column.name for column in columns]
    logger.debug("reading %s again to count the categories of %s", source.path, names)
    for column in columns:
        column.categories = Counter()
    for block in source.iter_blocks(block_rows, text_columns=names):
        if block.index not in training:
            continue
        for column in columns:
            series = block.features[column.name]
            column.categories.update(_count_categories(series[series.notna()]))
