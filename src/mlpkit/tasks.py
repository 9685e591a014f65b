"""Learning tasks: inferring them from the target, and encoding the target.

A target of strings, booleans or few distinct integers is classification
(binary for two classes, multiclass for more); a floating-point target, or
integers with many distinct values, is regression with one or several
outputs. :class:`TargetEncoder` turns raw targets into what the output layer
is trained on, and network outputs back into labels or values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .data import describe_row
from .errors import DataError, ParameterError

TASKS = ("auto", "classification", "regression")

#: Integer targets with at most this many distinct values are class labels.
MAX_INTEGER_CLASSES = 20


@dataclass(frozen=True)
class TaskSpec:
    """Output activation, loss and metrics of a task."""

    output_activation: str
    loss: str
    metrics: tuple[str, ...]


TASK_SPECS = {
    "binary": TaskSpec("sigmoid", "binary_cross_entropy", ("accuracy",)),
    "multiclass": TaskSpec("softmax", "categorical_cross_entropy", ("accuracy",)),
    "regression": TaskSpec("identity", "squared_error", ("rmse", "r2")),
}


def as_target_frame(y: Any, name: str = "target") -> pd.DataFrame:
    """Return the target as a DataFrame with one column per output."""
    if isinstance(y, pd.DataFrame):
        return y
    if isinstance(y, pd.Series):
        return y.to_frame(name=y.name if y.name is not None else name)
    array = np.asarray(y)
    if array.ndim == 1:
        return pd.DataFrame({name: array})
    if array.ndim == 2:
        columns = [f"{name}_{i}" for i in range(array.shape[1])]
        return pd.DataFrame(array, columns=columns)
    raise DataError(
        f"the target must be one or two dimensional; received shape {array.shape}"
    )


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(
        column
    )


def infer_task(target: pd.DataFrame) -> str:
    """Return ``"binary"``, ``"multiclass"`` or ``"regression"`` for a raw target."""
    if target.shape[1] > 1:
        return "regression"
    column = target.iloc[:, 0]
    if _is_numeric(column) and not pd.api.types.is_integer_dtype(column):
        return "regression"
    n_classes = column.nunique(dropna=True)
    if pd.api.types.is_integer_dtype(column) and n_classes > MAX_INTEGER_CLASSES:
        return "regression"
    return "binary" if n_classes <= 2 else "multiclass"


def check_target_values(target: pd.DataFrame, source: str | None = None) -> None:
    """Raise DataError for a missing, NaN or infinite target value, naming the row."""
    for name, column in target.items():
        missing = column.isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise DataError(
                f"target column {name!r} is missing a value in "
                f"{describe_row(row, source)}; fill it in or drop the row"
            )
        if _is_numeric(column):
            infinite = np.isinf(column.to_numpy(dtype=np.float64))
            if infinite.any():
                row = int(np.flatnonzero(infinite)[0])
                raise DataError(
                    f"target column {name!r} is infinite in "
                    f"{describe_row(row, source)}; fix the value or drop the row"
                )


def _label_to_json(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


class TargetEncoder:
    """Encode targets for the output layer and decode network outputs.

    Parameters
    ----------
    task : {"auto", "classification", "regression"}
        ``"auto"`` infers the task from the target.
    standardize : bool
        For regression, train on ``(y − mean) / std`` per output and undo it
        at prediction, so the loss is on the same scale whatever the target's
        units.

    Attributes
    ----------
    task_ : {"binary", "multiclass", "regression"}
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels (classification only).
    target_names_ : list of str
        Names of the target columns.
    mean_, scale_ : ndarray of shape (n_outputs,)
        Standardization of a regression target (zeros and ones when off).
    """

    def __init__(self, task: str = "auto", standardize: bool = True):
        if task not in TASKS:
            raise ParameterError(
                f"task must be one of {', '.join(TASKS)}; received: task={task!r}"
            )
        self.task = task
        self.standardize = standardize

    def fit(self, y: Any, source: str | None = None) -> TargetEncoder:
        """Infer the task and learn the classes or the standardization."""
        target = as_target_frame(y)
        if len(target) == 0:
            raise DataError("the target has no rows; provide at least two")
        check_target_values(target, source)
        self.target_names_ = [str(name) for name in target.columns]

        inferred = infer_task(target)
        if self.task == "regression":
            inferred = "regression"
        elif self.task == "classification":
            if target.shape[1] > 1:
                raise DataError(
                    "classification takes one target column; received "
                    f"{target.shape[1]}: {', '.join(self.target_names_)}"
                )
            n_classes = target.iloc[:, 0].nunique()
            inferred = "binary" if n_classes <= 2 else "multiclass"
        self.task_ = inferred

        if self.task_ == "regression":
            self._fit_regression(target)
        else:
            self._fit_classes(target.iloc[:, 0])
        return self

    def _fit_regression(self, target: pd.DataFrame) -> None:
        for name, column in target.items():
            if not _is_numeric(column) and not pd.api.types.is_bool_dtype(column):
                raise DataError(
                    f"regression needs a numeric target, but column {name!r} has "
                    f"dtype {column.dtype}; use task='classification' for labels"
                )
        values = target.to_numpy(dtype=np.float64)
        self.classes_ = None
        if self.standardize:
            self.mean_ = values.mean(axis=0)
            std = values.std(axis=0)
            self.scale_ = np.where(std > 0, std, 1.0)
        else:
            self.mean_ = np.zeros(values.shape[1])
            self.scale_ = np.ones(values.shape[1])

    def _fit_classes(self, column: pd.Series) -> None:
        classes = np.unique(column.to_numpy())
        if classes.size < 2:
            raise DataError(
                f"target column {column.name!r} has a single class "
                f"({_label_to_json(classes[0])!r}); classification needs at least "
                "two, so check the column or use --task regression"
            )
        self.classes_ = classes
        self.mean_ = None
        self.scale_ = None

    @property
    def n_outputs(self) -> int:
        """Units of the output layer."""
        if self.task_ == "regression":
            return len(self.target_names_)
        if self.task_ == "binary":
            return 1
        return len(self.classes_)

    @property
    def spec(self) -> TaskSpec:
        return TASK_SPECS[self.task_]

    def transform(self, y: Any, dtype: Any = np.float32) -> NDArray:
        """Return encoded targets of shape ``(n_samples, n_outputs)``."""
        target = as_target_frame(y)
        if self.task_ == "regression":
            values = target.to_numpy(dtype=np.float64)
            return ((values - self.mean_) / self.scale_).astype(dtype)
        labels = target.iloc[:, 0].to_numpy()
        indices = np.searchsorted(self.classes_, labels)
        indices = np.clip(indices, 0, len(self.classes_) - 1)
        unknown = self.classes_[indices] != labels
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise DataError(
                f"target value {_label_to_json(labels[row])!r} in row {row + 1} is "
                "not one of the classes seen in training: "
                f"{', '.join(map(str, self.classes_))}"
            )
        if self.task_ == "binary":
            return (indices == 1).astype(dtype)[:, np.newaxis]
        encoded = np.zeros((labels.size, len(self.classes_)), dtype=dtype)
        encoded[np.arange(labels.size), indices] = 1.0
        return encoded

    def probabilities(self, outputs: NDArray) -> NDArray:
        """Return class probabilities ``(n_samples, n_classes)`` from ŷ."""
        if self.task_ == "binary":
            positive = outputs[:, 0]
            return np.column_stack([1.0 - positive, positive])
        return outputs

    def decode(self, outputs: NDArray) -> NDArray:
        """Turn network outputs into class labels or target values."""
        if self.task_ == "regression":
            values = outputs.astype(np.float64) * self.scale_ + self.mean_
            return values[:, 0] if values.shape[1] == 1 else values
        if self.task_ == "binary":
            return self.classes_[(outputs[:, 0] >= 0.5).astype(int)]
        return self.classes_[np.argmax(outputs, axis=1)]

    def to_config(self) -> dict[str, Any]:
        """Return the learned encoding as JSON-ready data."""
        config: dict[str, Any] = {
            "task": self.task,
            "standardize": self.standardize,
            "task_": self.task_,
            "target_names": self.target_names_,
        }
        if self.task_ == "regression":
            config["mean"] = self.mean_.tolist()
            config["scale"] = self.scale_.tolist()
        else:
            config["classes"] = [_label_to_json(label) for label in self.classes_]
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TargetEncoder:
        encoder = cls(task=config["task"], standardize=config["standardize"])
        encoder.task_ = config["task_"]
        encoder.target_names_ = list(config["target_names"])
        if encoder.task_ == "regression":
            encoder.classes_ = None
            encoder.mean_ = np.asarray(config["mean"], dtype=np.float64)
            encoder.scale_ = np.asarray(config["scale"], dtype=np.float64)
        else:
            encoder.classes_ = np.asarray(config["classes"])
            encoder.mean_ = None
            encoder.scale_ = None
        return encoder
