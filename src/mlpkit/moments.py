"""Running count, mean and variance of columns, updated one block of rows at a time."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class RunningMoments:
    """Count, mean and sum of squared deviations of each column, block by block.

    Each block's mean and squared deviations are computed in two passes over the
    block, then merged into the running values by the update of Chan, Golub and
    LeVeque::

        δ = mean_block − mean
        mean ← mean + δ · n_block / (n + n_block)
        M₂ ← M₂ + M₂_block + δ² · n · n_block / (n + n_block)

    NaN cells are left out of their column's statistics.

    NOTE: ``StandardScaler.partial_fit`` computes the same, but in scikit-learn
    1.9.1 a block without any value in a column turns that column's mean into NaN
    for good, and each call spends about a millisecond on input checks.

    Attributes
    ----------
    count : ndarray of shape (n_columns,)
        Values seen in each column.
    mean : ndarray of shape (n_columns,)
    m2 : ndarray of shape (n_columns,)
        Sum of squared deviations from the mean, ``Σ (x − mean)²``.
    """

    def __init__(self, n_columns: int) -> None:
        self.count = np.zeros(n_columns, dtype=np.int64)
        self.mean = np.zeros(n_columns)
        self.m2 = np.zeros(n_columns)

    def update(self, values: NDArray) -> None:
        """Add the rows of ``values``, shape (n_rows, n_columns), NaN for missing."""
        values = np.asarray(values, dtype=np.float64)
        present = ~np.isnan(values)
        block_count = present.sum(axis=0)
        # Values beyond about 1e154 overflow the squares to infinity, which the
        # callers report by column, so numpy's warnings are silenced.
        with np.errstate(over="ignore", invalid="ignore"):
            block_sum = np.where(present, values, 0.0).sum(axis=0)
            block_mean = block_sum / np.maximum(block_count, 1)
            deviations = np.where(present, values - block_mean, 0.0)
            block_m2 = (deviations**2).sum(axis=0)

            total = self.count + block_count
            share = block_count / np.maximum(total, 1)
            delta = block_mean - self.mean
            self.mean = self.mean + delta * share
            self.m2 = self.m2 + block_m2 + delta**2 * self.count * share
        self.count = total

    @property
    def variance(self) -> NDArray[np.float64]:
        """Population variance ``M₂ / n`` per column, NaN where no value was seen."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.m2 / self.count, np.nan)
