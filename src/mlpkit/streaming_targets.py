"""Target statistics learned in one streaming pass: the task and the target encoding.

:class:`TargetStatistics` collects, block by block, what
:meth:`mlpkit.tasks.TargetEncoder.fit` needs from the training rows: the dtype of
every block, the distinct labels, and the mean and variance of numeric targets. It
then writes the encoder's config with the checks and errors of ``fit``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlpkit.data import shorten_value
from mlpkit.errors import DataError
from mlpkit.moments import RunningMoments
from mlpkit.sources import RowSource
from mlpkit.tasks import MAX_INTEGER_CLASSES

logger = logging.getLogger(__name__)

MAX_STREAMED_LABELS = 10_000
"""Maximum number of distinct numeric target values counted as class labels.

A numeric target with more distinct values is regression unless classification is
requested, which then raises DataError. Text and bool labels are always counted.
"""

_INTEGER = "integer"
_FLOAT = "float"
_OTHER = "other"


@dataclass
class TargetStatistics:
    """Dtypes, values and labels of the target columns, updated block by block."""

    names: list[str]
    dtype_kinds: list[set[str]] = field(default_factory=list)
    dtype_names: list[str] = field(default_factory=list)
    moments: RunningMoments | None = None
    max_abs: list[float] = field(default_factory=list)
    first_number: list[tuple[int, Any] | None] = field(default_factory=list)
    first_text: list[tuple[int, Any] | None] = field(default_factory=list)
    labels: Counter | None = field(default_factory=Counter)
    n_rows: int = 0

    def __post_init__(self) -> None:
        self.dtype_kinds = [set() for _ in self.names]
        self.dtype_names = ["" for _ in self.names]
        self.moments = RunningMoments(len(self.names))
        self.max_abs = [0.0 for _ in self.names]
        self.first_number = [None for _ in self.names]
        self.first_text = [None for _ in self.names]

    def check(self, target: pd.DataFrame, start: int, source: RowSource) -> None:
        """Raise DataError for a missing or infinite target value, naming the row."""
        for name, column in target.items():
            missing = column.isna().to_numpy()
            if missing.any():
                row = start + int(np.flatnonzero(missing)[0])
                raise DataError(
                    f"target column {name!r} is missing a value in "
                    f"{source.describe_row(row)}; fill it in or drop the row"
                )
            if _dtype_kind(column.dtype) != _OTHER:
                infinite = np.isinf(column.to_numpy(dtype=np.float64))
                if infinite.any():
                    row = start + int(np.flatnonzero(infinite)[0])
                    raise DataError(
                        f"target column {name!r} is infinite in "
                        f"{source.describe_row(row)}; fix the value or drop the row"
                    )

    def update(self, target: pd.DataFrame, start: int) -> None:
        kinds = [_dtype_kind(target[name].dtype) for name in self.names]
        for index, kind in enumerate(kinds):
            self.dtype_kinds[index].add(kind)
            self._find_numbers_and_text(index, target[self.names[index]], kind, start)
            if kind == _OTHER:
                self.dtype_names[index] = str(target[self.names[index]].dtype)
        self.n_rows += len(target)
        if _OTHER not in kinds:
            values = target.to_numpy(dtype=np.float64)
            self.moments.update(values)
            largest = np.abs(values).max(axis=0)
            self.max_abs = [max(a, float(b)) for a, b in zip(self.max_abs, largest)]

        if self.labels is None:
            return
        first = target[self.names[0]]
        for label, count in first.value_counts(sort=False).items():
            if isinstance(label, np.generic):
                label = label.item()
            self.labels[label] += int(count)
        numeric = kinds[0] != _OTHER
        if numeric and len(self.labels) > MAX_STREAMED_LABELS:
            self.labels = None

    def _find_numbers_and_text(
        self, index: int, column: pd.Series, kind: str, start: int
    ) -> None:
        """Store the first number and the first text of a column, with their rows."""
        if self.first_number[index] is not None and self.first_text[index] is not None:
            return
        if kind == _OTHER and not pd.api.types.is_bool_dtype(column.dtype):
            values = column.astype(object)
            is_number = pd.to_numeric(values, errors="coerce").notna().to_numpy()
        elif kind == _OTHER:
            return
        else:
            values = column
            is_number = np.ones(len(column), dtype=bool)
        if self.first_number[index] is None and is_number.any():
            position = int(np.argmax(is_number))
            self.first_number[index] = (start + position, values.iloc[position])
        if self.first_text[index] is None and not is_number.all():
            position = int(np.argmax(~is_number))
            self.first_text[index] = (start + position, values.iloc[position])

    def check_numbers_not_mixed_with_text(self, source: RowSource) -> None:
        """Raise DataError as tasks.check_numbers_not_mixed_with_text does."""
        for name, number, text in zip(self.names, self.first_number, self.first_text):
            if number is None or text is None:
                continue
            (number_row, number_value), (text_row, text_value) = number, text
            raise DataError(
                f"target column {name!r} mixes numbers and text: "
                f"{shorten_value(number_value)!r} in "
                f"{source.describe_row(number_row)} is"
                f" a number, but {shorten_value(text_value)!r} in "
                f"{source.describe_row(text_row)} is not; fix the text values if the"
                " target is numeric, or set the task to classification if they are"
                " all class labels"
            )

    def encoder_config(
        self, task: str, standardize: bool, where: str
    ) -> dict[str, Any]:
        """Return the config of the fitted TargetEncoder, checked as its fit checks."""
        inferred = self._infer_task()
        if task == "auto":
            self._log_integer_regression()
        elif task == "regression":
            inferred = "regression"
        elif task == "classification":
            if len(self.names) > 1:
                raise DataError(
                    "classification takes one target column; received "
                    f"{len(self.names)}: {', '.join(self.names)}"
                )
            inferred = "binary" if self._n_labels() <= 2 else "multiclass"

        config: dict[str, Any] = {
            "task": task,
            "standardize": standardize,
            "task_": inferred,
            "target_names": list(self.names),
        }
        if inferred == "regression":
            config.update(self._regression_config(standardize))
        else:
            config["classes"] = self._classes(where)
        return config

    def _infer_task(self) -> str:
        if len(self.names) > 1:
            return "regression"
        kinds = self.dtype_kinds[0]
        n_labels = self._n_labels()
        if kinds == {_INTEGER}:
            return (
                "regression"
                if n_labels > MAX_INTEGER_CLASSES
                else _classes_task(n_labels)
            )
        if kinds <= {_INTEGER, _FLOAT}:
            return "regression"
        return _classes_task(n_labels)

    def _log_integer_regression(self) -> None:
        """Log at INFO level that several integer target columns are regression."""
        if len(self.names) < 2:
            return
        if any(kinds != {_INTEGER} for kinds in self.dtype_kinds):
            return
        logger.info(
            "inferred regression for the %d integer target columns %s, because a"
            " target of several columns is regression; if they are class labels,"
            " train one model per column",
            len(self.names),
            ", ".join(repr(name) for name in self.names),
        )

    def _n_labels(self) -> int:
        if self.labels is None:
            return MAX_STREAMED_LABELS + 1
        return len(self.labels)

    def _regression_config(self, standardize: bool) -> dict[str, Any]:
        for name, kinds, dtype_name in zip(
            self.names, self.dtype_kinds, self.dtype_names
        ):
            if _OTHER in kinds:
                raise DataError(
                    f"regression needs a numeric target, but column {name!r} has "
                    f"dtype {dtype_name}; use task='classification' for labels"
                )
        n_outputs = len(self.names)
        if not standardize:
            return {"mean": [0.0] * n_outputs, "scale": [1.0] * n_outputs}
        finite = np.isfinite(self.moments.mean + self.moments.variance)
        for index in np.flatnonzero(~finite):
            raise DataError(
                f"target column {self.names[index]!r} has values as large as"
                f" {self.max_abs[index]:.3g}, too large for its mean and variance in"
                " float64; check the values, or divide the target by a power of ten"
            )
        std = np.sqrt(self.moments.variance)
        scale = np.where(std > 0, std, 1.0)
        return {"mean": self.moments.mean.tolist(), "scale": scale.tolist()}

    def _classes(self, where: str) -> list[Any]:
        name = self.names[0]
        if self.labels is None:
            raise DataError(
                f"target column {name!r} of {where} has more than "
                f"{MAX_STREAMED_LABELS} distinct numbers, too many classes to count"
                " while streaming; use task='regression' or bin the values"
            )
        if len(self.dtype_kinds[0]) > 1 and _OTHER in self.dtype_kinds[0]:
            raise DataError(
                f"target column {name!r} of {where} contains numbers in some blocks of"
                " rows and text in others, so its labels cannot be matched while"
                " streaming; write every label as text or every label as a number"
            )
        classes = sorted(self.labels)
        if len(classes) < 2:
            raise DataError(
                f"target column {name!r} has a single class ({classes[0]!r});"
                " classification needs at least two, so check the column or use"
                " task='regression'"
            )
        return classes


def _classes_task(n_labels: int) -> str:
    return "binary" if n_labels <= 2 else "multiclass"


def _dtype_kind(dtype: Any) -> str:
    """Classify a target dtype as tasks.infer_task does: bool counts as a label."""
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return _OTHER
    if pd.api.types.is_integer_dtype(dtype):
        return _INTEGER
    return _FLOAT
