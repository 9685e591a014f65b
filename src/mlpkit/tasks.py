"""Learning tasks: inferring them from the target, and encoding the target.

A target of strings, booleans or few distinct integers is classification
(binary for two classes, multiclass for more); a floating-point target, or
integers with many distinct values, is regression with one or several
outputs. Multilabel classification, one sigmoid output per label, is never
inferred and must be requested. :class:`TargetEncoder` turns raw targets into
what the output layer is trained on, and network outputs back into labels or
values.
"""

from __future__ import annotations

import logging
from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .data import (
    as_array,
    check_not_sparse,
    describe_cell_row,
    describe_row,
    unmasked,
)
from .errors import DataError, ModelFileError, ParameterError
from .losses import get_loss
from .preprocessing import LARGEST_STD, SMALLEST_STD

logger = logging.getLogger(__name__)

TASKS = ("auto", "classification", "regression")
#: Tasks a TargetEncoder accepts: TASKS, and multilabel, which is not inferred.
ENCODER_TASKS = (*TASKS, "multilabel")

#: Losses a regression network can train with, each paired with the identity
#: output (see :mod:`mlpkit.losses`).
REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber", "poisson", "quantile")

#: Python types a multilabel target row may use for its set of labels.
LABEL_SET_TYPES = (list, tuple, Set, np.ndarray)

#: Integer targets with at most this many distinct values are class labels.
MAX_INTEGER_CLASSES = 20

#: Maximum number of characters of a target value that an error message shows.
MAX_SHOWN_LABEL_LENGTH = 40

_DATES = ("dates", "days since a fixed date")
_DURATIONS = ("durations", "total seconds")

# Kinds that ``pandas.api.types.infer_dtype`` returns for dates, times and
# durations, each with the plural noun and the suggested numbers for messages.
_TIME_KINDS = {
    "datetime64": _DATES,
    "datetime": _DATES,
    "date": _DATES,
    "period": _DATES,
    "time": ("times of day", "seconds since midnight"),
    "timedelta64": _DURATIONS,
    "timedelta": _DURATIONS,
}


@dataclass(frozen=True)
class TaskSpec:
    """Output activation, loss, metrics and loss parameters of a task.

    ``loss_params`` is what :class:`~mlpkit.network.Network` takes as
    ``loss_params``, and is empty for losses without parameters.
    """

    output_activation: str
    loss: str
    metrics: tuple[str, ...]
    loss_params: dict[str, float] = field(default_factory=dict, hash=False)


TASK_SPECS = {
    "binary": TaskSpec("sigmoid", "binary_cross_entropy", ("accuracy",)),
    "multiclass": TaskSpec("softmax", "categorical_cross_entropy", ("accuracy",)),
    "regression": TaskSpec("identity", "squared_error", ("rmse", "r2")),
    # Binary cross-entropy sums over the outputs, one sigmoid per label, and
    # accuracy on indicator rows counts a row as right only if every label is.
    "multilabel": TaskSpec("sigmoid", "binary_cross_entropy", ("accuracy",)),
}


def regression_spec(loss: str = "squared_error", **loss_params: Any) -> TaskSpec:
    """Return the spec of regression with ``loss``, an identity output and RMSE, R².

    Parameters
    ----------
    loss : str, default "squared_error"
        One of ``REGRESSION_LOSSES``.
    **loss_params
        ``delta`` for ``"huber"`` and ``quantile`` for ``"quantile"``, see
        :func:`mlpkit.losses.get_loss`. The returned spec lists every
        parameter of the loss, defaults included. With a standardized target,
        Huber's ``delta`` is in units of the target's standard deviation.

    Raises
    ------
    ParameterError
        If the loss is not a regression loss or a parameter is invalid.
    """
    if loss not in REGRESSION_LOSSES:
        raise ParameterError(
            f"the regression loss must be one of {', '.join(REGRESSION_LOSSES)}; "
            f"received: {loss!r}"
        )
    parameters = get_loss(loss, **loss_params).get_config()
    return TaskSpec("identity", loss, ("rmse", "r2"), parameters)


def as_target_frame(y: Any, name: str = "target") -> pd.DataFrame:
    """Return the target as a DataFrame with one column per output.

    Raises
    ------
    DataError
        If ``y`` is a SciPy sparse matrix, a list of rows of different lengths, or
        neither one- nor two-dimensional.
    """
    if isinstance(y, pd.DataFrame):
        return y
    if isinstance(y, pd.Series):
        return y.to_frame(name=y.name if y.name is not None else name)
    check_not_sparse(y, "y")
    array = as_array(unmasked(y), "y")
    if array.ndim == 1:
        return pd.DataFrame({name: array})
    if array.ndim == 2:
        columns = [f"{name}_{i}" for i in range(array.shape[1])]
        return pd.DataFrame(array, columns=columns)
    raise DataError(
        f"the target must be one or two dimensional; received shape {array.shape}"
    )


def as_multilabel_frame(y: Any, name: str = "target") -> pd.DataFrame:
    """Return a multilabel target as indicator columns or one column of label lists.

    A list or tuple of rows is an indicator matrix when it forms a 2-D array of
    numbers or booleans, and label lists otherwise, as in
    ``[["cat"], [], ["cat", "dog"]]``. Other inputs are read as in
    :func:`as_target_frame`, so a Series of lists is one column of label lists.
    """
    if not isinstance(y, (list, tuple)):
        return as_target_frame(y, name)
    try:
        array = np.asarray(y)
    except ValueError:
        array = None  # rows of different lengths
    if array is not None and array.ndim == 2 and array.dtype.kind in "biuf":
        return as_target_frame(array, name)
    return pd.Series(list(y), dtype=object, name=name).to_frame()


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
    """Raise DataError for a missing, NaN or infinite target value, naming the row.

    Rows of a frame read from ``source`` are reported by their index labels,
    which :func:`mlpkit.data.read_csv` sets to the file's row numbers. A column
    of dates, times, durations or complex numbers also raises DataError, because
    its values are neither class labels nor real numbers.
    """
    for name, column in target.items():
        _check_not_time(name, column)
        kind = pd.api.types.infer_dtype(column, skipna=True)
        if kind in ("complex", "mixed-complex"):
            raise DataError(
                f"target column {name!r} contains complex numbers, which are neither"
                " class labels nor real numbers; pass the real part"
            )
        missing = np.flatnonzero(column.isna().to_numpy())
        if missing.size:
            first = describe_cell_row(column, int(missing[0]), source)
            if missing.size == 1:
                where, fix = first, "fill it in or drop the row"
            else:
                more = missing.size - 1
                where = f"{first} and {more} more {'row' if more == 1 else 'rows'}"
                fix = "fill them in or drop those rows"
            raise DataError(
                f"target column {name!r} is missing a value in {where}; {fix}"
            )
        if _is_numeric(column):
            infinite = np.isinf(column.to_numpy(dtype=np.float64))
            if infinite.any():
                row = int(np.flatnonzero(infinite)[0])
                raise DataError(
                    f"target column {name!r} is infinite in "
                    f"{describe_cell_row(column, row, source)}; fix the value or "
                    "drop the row"
                )


def _check_not_time(name: Any, column: pd.Series) -> None:
    """Raise DataError if ``column`` contains dates, times or durations."""
    kind = _TIME_KINDS.get(pd.api.types.infer_dtype(column, skipna=True))
    if kind is None:
        return
    values, numbers = kind
    raise DataError(
        f"target column {name!r} contains {values} (dtype {column.dtype}), which"
        f" are neither class labels nor numbers; convert them to numbers, such as"
        f" {numbers}, or to text labels"
    )


def _log_integer_regression(target: pd.DataFrame) -> None:
    """Log at INFO level that a target of several integer columns is regression.

    Such columns may be meant as class labels, which the inference never
    assumes for more than one column.
    """
    if target.shape[1] < 2:
        return
    if not all(pd.api.types.is_integer_dtype(column) for _, column in target.items()):
        return
    names = ", ".join(repr(str(name)) for name in target.columns)
    logger.info(
        "inferred regression for the %d integer target columns %s, because a"
        " target of several columns is regression unless the task is set; set the"
        " task to multilabel if they are 0/1 indicator columns",
        target.shape[1],
        names,
    )


def check_class_labels(column: pd.Series) -> None:
    """Raise DataError if a float target column contains values that are not integers.

    Like scikit-learn's classifiers, classification takes float labels only
    when every value is integral, such as 1.0 and 2.0.
    """
    if not _is_numeric(column) or pd.api.types.is_integer_dtype(column):
        return
    values = column.to_numpy(dtype=np.float64)
    fractional = values[values != np.round(values)]
    if fractional.size == 0:
        return
    n_distinct = np.unique(fractional).size
    raise DataError(
        f"target column {column.name!r} has {n_distinct} distinct non-integer "
        f"values, such as {float(fractional[0])!r}, which are continuous and not class "
        "labels; use task='regression', or convert the labels to integers or text"
    )


def check_numbers_not_mixed_with_text(
    target: pd.DataFrame, source: str | None = None
) -> None:
    """Raise DataError for a text target column where some values are numbers.

    Such a column is most likely a numeric target with a few typos, and as class
    labels its numbers and text would not sort together. The message names a row
    of each kind.
    """
    for name, column in target.items():
        if not pd.api.types.is_object_dtype(column) and not (
            pd.api.types.is_string_dtype(column)
        ):
            continue
        values = column.astype(object)
        present = values.notna().to_numpy()
        is_number = pd.to_numeric(values, errors="coerce").notna().to_numpy()
        is_text = present & ~is_number
        if not is_number.any() or not is_text.any():
            continue

        number_row = int(np.flatnonzero(is_number)[0])
        text_row = int(np.flatnonzero(is_text)[0])
        raise DataError(
            f"target column {name!r} mixes numbers and text: "
            f"{_shorten(values.iloc[number_row])!r} in "
            f"{describe_row(number_row, source)} is a number, but "
            f"{_shorten(values.iloc[text_row])!r} in "
            f"{describe_row(text_row, source)} is not; fix the text values if the "
            "target is numeric, or set the task to classification if they are all "
            "class labels"
        )


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_SHOWN_LABEL_LENGTH:
        return value[:MAX_SHOWN_LABEL_LENGTH] + "..."
    return value


def _label_to_json(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


def _label_kind(label: Any) -> tuple[str, str]:
    """Return the kind of a label for messages, in the singular and the plural."""
    if isinstance(label, str):
        return "text", "text"
    if isinstance(label, (bool, np.bool_)):
        return "a boolean", "booleans"
    if isinstance(label, (int, float, np.number)):
        return "a number", "numbers"
    name = type(label).__name__
    return f"of type {name}", f"of type {name}"


def _regression_values(target: pd.DataFrame, source: str | None) -> NDArray:
    """Return a regression target as float64, or raise DataError for a non-number."""
    for name, column in target.items():
        if _is_numeric(column) or pd.api.types.is_bool_dtype(column):
            continue
        numbers = pd.to_numeric(column, errors="coerce")
        invalid = np.flatnonzero(numbers.isna().to_numpy())
        if invalid.size:
            row = int(invalid[0])
            raise DataError(
                f"target column {name!r} has {_shorten(column.iloc[row])!r} in "
                f"{describe_cell_row(column, row, source)}, but the model predicts "
                "numbers; use data whose target column holds numbers"
            )
    return target.to_numpy(dtype=np.float64)


class TargetEncoder:
    """Encode targets for the output layer and decode network outputs.

    Parameters
    ----------
    task : {"auto", "classification", "regression", "multilabel"}
        ``"auto"`` infers the task from the target. ``"multilabel"`` takes
        either an indicator matrix (one column per label, each 0 or 1) or one
        column whose rows are lists, tuples or sets of labels.
    standardize : bool
        For regression, train on ``(y − mean) / std`` per output and undo it
        at prediction, so the loss is on the same scale whatever the target's
        units. Ignored with the poisson loss, which needs the counts as they
        are.
    regression_loss : str, default "squared_error"
        The loss of a regression target, one of ``REGRESSION_LOSSES``. Any
        other than squared error makes ``"auto"`` mean regression. With
        ``"poisson"`` the target must be non-negative, the network predicts
        its log-rate and :meth:`decode` returns ``e^ŷ``.
    loss_params : dict, optional
        Parameters of ``regression_loss``, see :func:`regression_spec`.

    Attributes
    ----------
    task_ : {"binary", "multiclass", "regression", "multilabel"}
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels (classification), or the labels of a multilabel
        target: the indicator columns' names in their order, or the sorted
        labels found in the label lists.
    target_names_ : list of str
        Names of the target columns.
    mean_, scale_ : ndarray of shape (n_outputs,)
        Standardization of a regression target (zeros and ones when off).

    Raises
    ------
    ParameterError
        From the constructor, for an unknown task or regression loss or an
        invalid loss parameter.
    """

    def __init__(
        self,
        task: str = "auto",
        standardize: bool = True,
        *,
        regression_loss: str = "squared_error",
        loss_params: dict[str, float] | None = None,
    ):
        if task not in ENCODER_TASKS:
            raise ParameterError(
                f"task must be one of {', '.join(ENCODER_TASKS)}; "
                f"received: task={task!r}"
            )
        self.task = task
        self.standardize = standardize
        self.regression_loss = regression_loss
        self.loss_params = dict(loss_params or {})
        # Checked here, so that a bad loss fails before any data is read.
        self._regression_spec = regression_spec(regression_loss, **self.loss_params)

    def fit(self, y: Any, source: str | None = None) -> TargetEncoder:
        """Infer the task and learn the classes or the standardization."""
        if self.task == "multilabel":
            target = as_multilabel_frame(y)
        else:
            target = as_target_frame(y)
        if len(target) == 0:
            raise DataError("the target has no rows; provide at least two")
        check_target_values(target, source)
        if self.task == "multilabel":
            self._fit_multilabel(target, source)
            return self
        if self.task != "classification":
            check_numbers_not_mixed_with_text(target, source)
        self.target_names_ = [str(name) for name in target.columns]

        inferred = infer_task(target)
        chose_regression_loss = self.regression_loss != "squared_error"
        if self.task == "regression" or (self.task == "auto" and chose_regression_loss):
            inferred = "regression"
        elif self.task == "auto":
            _log_integer_regression(target)
        elif self.task == "classification":
            if target.shape[1] > 1:
                raise DataError(
                    "classification takes one target column; received "
                    f"{target.shape[1]}: {', '.join(self.target_names_)}"
                )
            check_class_labels(target.iloc[:, 0])
            n_classes = target.iloc[:, 0].nunique()
            inferred = "binary" if n_classes <= 2 else "multiclass"
        self.task_ = inferred
        self._check_loss_fits_task()

        if self.task_ == "regression":
            self._fit_regression(target, source)
        else:
            self._fit_classes(target.iloc[:, 0])
        return self

    def _check_loss_fits_task(self) -> None:
        if self.task_ != "regression" and self.regression_loss != "squared_error":
            raise ParameterError(
                f"regression_loss={self.regression_loss!r} applies to regression, "
                f"but the target is {self.task_}; set task='regression' or leave "
                "regression_loss at squared_error"
            )

    def _fit_regression(self, target: pd.DataFrame, source: str | None) -> None:
        for name, column in target.items():
            if not _is_numeric(column) and not pd.api.types.is_bool_dtype(column):
                raise DataError(
                    f"regression needs a numeric target, but column {name!r} has "
                    f"dtype {column.dtype}; use task='classification' for labels"
                )
        values = target.to_numpy(dtype=np.float64)
        self.classes_ = None
        if self.regression_loss == "poisson":
            _check_non_negative(values, self.target_names_, source)
            self.mean_ = np.zeros(values.shape[1])
            self.scale_ = np.ones(values.shape[1])
        elif self.standardize:
            # Values beyond about 1e154 overflow the variance, reported below.
            with np.errstate(over="ignore", invalid="ignore"):
                self.mean_ = values.mean(axis=0)
                std = values.std(axis=0)
            for index in np.flatnonzero(~np.isfinite(self.mean_ + std)):
                largest = np.max(np.abs(values[:, index]))
                raise DataError(
                    f"target column {self.target_names_[index]!r} has values as large"
                    f" as {largest:.3g}, too large for its mean and variance in"
                    " float64; check the values, or divide the target by a power of"
                    " ten"
                )
            self.scale_ = np.where(std > 0, std, 1.0)
        else:
            self.mean_ = np.zeros(values.shape[1])
            self.scale_ = np.ones(values.shape[1])

    def _fit_classes(self, column: pd.Series) -> None:
        try:
            classes = np.unique(column.to_numpy())
        except TypeError:
            kinds = sorted({type(label).__name__ for label in column})
            raise DataError(
                f"target column {column.name!r} has class labels of several types "
                f"({', '.join(kinds)}), which cannot be sorted together; convert "
                "them all to text"
            ) from None
        if classes.size < 2:
            raise DataError(
                f"target column {column.name!r} has a single class "
                f"({_label_to_json(classes[0])!r}); classification needs at least "
                "two, so check the column or set task='regression'"
            )
        self.classes_ = classes
        self.mean_ = None
        self.scale_ = None

    def _fit_multilabel(self, target: pd.DataFrame, source: str | None) -> None:
        self.task_ = "multilabel"
        self._check_loss_fits_task()
        self.target_names_ = [str(name) for name in target.columns]
        if _holds_label_sets(target, source):
            self.classes_ = _labels_in_sets(target.iloc[:, 0])
        else:
            _check_indicator(target, source)
            self.classes_ = np.asarray(self.target_names_)
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
        """Output activation, loss and metrics of the fitted task."""
        if self.task_ == "regression":
            return self._regression_spec
        return TASK_SPECS[self.task_]

    def transform(
        self, y: Any, dtype: Any = np.float32, source: str | None = None
    ) -> NDArray:
        """Return encoded targets of shape ``(n_samples, n_outputs)``.

        Parameters
        ----------
        source : str or None, default None
            The CSV file ``y`` was read from, used in messages.

        Raises
        ------
        DataError
            If a target value is missing or infinite, or is not a number for
            regression, or is not one of the classes seen in training.
        """
        if self.task_ == "multilabel":
            return self._encode_multilabel(as_multilabel_frame(y), dtype)
        target = as_target_frame(y)
        check_target_values(target, source)
        if self.task_ == "regression":
            values = _regression_values(target, source)
            return ((values - self.mean_) / self.scale_).astype(dtype)
        indices = self._class_indices(target.iloc[:, 0], source)
        if self.task_ == "binary":
            return (indices == 1).astype(dtype)[:, np.newaxis]
        encoded = np.zeros((indices.size, len(self.classes_)), dtype=dtype)
        encoded[np.arange(indices.size), indices] = 1.0
        return encoded

    def _class_indices(self, column: pd.Series, source: str | None) -> NDArray:
        """Return the position in ``classes_`` of each label of ``column``.

        Raises DataError, naming the column, the row and the classes, for the
        first label that training did not see.
        """
        labels = column.to_numpy()
        try:
            indices = np.searchsorted(self.classes_, labels)
            indices = np.clip(indices, 0, len(self.classes_) - 1)
            unknown = self.classes_[indices] != labels
        except TypeError:
            # Labels that do not compare with the classes, such as text labels
            # for a model trained on integers, are looked up by equality.
            classes = self.classes_.tolist()
            position = {label: index for index, label in enumerate(classes)}
            indices = np.array([position.get(label, -1) for label in labels.tolist()])
            unknown = indices < 0
        if not unknown.any():
            return indices

        row = int(np.flatnonzero(unknown)[0])
        label = _label_to_json(labels[row])
        kind = _label_kind(label)
        class_kind = _label_kind(_label_to_json(self.classes_[0]))
        hint = ""
        if kind != class_kind:
            hint = f" (the label is {kind[0]}, but the classes are {class_kind[1]})"
        raise DataError(
            f"target column {column.name!r} has the label {_shorten(label)!r} in "
            f"{describe_cell_row(column, row, source)}, which is not one of the "
            f"classes seen in training: {', '.join(map(str, self.classes_))}{hint}; "
            "use data labelled like the training data"
        )

    def _encode_multilabel(self, target: pd.DataFrame, dtype: Any) -> NDArray:
        """Return the 0/1 indicator rows of label lists or of an indicator matrix."""
        n_labels = len(self.classes_)
        if _holds_label_sets(target, None):
            column_of = {label: index for index, label in enumerate(self.classes_)}
            encoded = np.zeros((len(target), n_labels), dtype=dtype)
            for row, labels in enumerate(target.iloc[:, 0]):
                for label in map(_label_to_json, labels):
                    known = _all_of_one_kind([label]) and label in column_of
                    if not known:
                        raise DataError(
                            f"label {label!r} in row {row + 1} is not one of the "
                            "labels seen in training: "
                            f"{', '.join(map(str, self.classes_))}"
                        )
                    encoded[row, column_of[label]] = 1.0
            return encoded

        if target.shape[1] != n_labels:
            raise DataError(
                f"a multilabel indicator target needs {n_labels} columns, one per "
                f"label ({', '.join(map(str, self.classes_))}); received "
                f"{target.shape[1]}"
            )
        _check_indicator(target, None)
        return target.to_numpy(dtype=np.float64).astype(dtype)

    def probabilities(self, outputs: NDArray) -> NDArray:
        """Return class probabilities ``(n_samples, n_classes)`` from ŷ.

        For multilabel they are the probability of each label on its own, so
        a row need not sum to one.
        """
        if self.task_ == "binary":
            positive = outputs[:, 0]
            return np.column_stack([1.0 - positive, positive])
        return outputs

    def decode(self, outputs: NDArray) -> NDArray:
        """Turn network outputs into class labels or target values.

        A multilabel target decodes to indicator rows, shape
        ``(n_samples, n_labels)`` of 0 and 1 in the order of ``classes_``,
        whichever form it was given in.
        """
        if self.task_ == "regression":
            values = outputs.astype(np.float64)
            if self.regression_loss == "poisson":
                values = np.exp(values)
            values = values * self.scale_ + self.mean_
            return values[:, 0] if values.shape[1] == 1 else values
        if self.task_ == "multilabel":
            return (outputs >= 0.5).astype(int)
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
            # Written only when not the default, so other configs keep their keys.
            if self.regression_loss != "squared_error":
                config["regression_loss"] = self.regression_loss
                config["loss_params"] = dict(self._regression_spec.loss_params)
        else:
            config["classes"] = [_label_to_json(label) for label in self.classes_]
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TargetEncoder:
        """Rebuild a fitted encoder from the output of :meth:`to_config`.

        Raises
        ------
        ModelFileError
            If the config lacks a key, or a value has the wrong type, length or
            range: an unknown task or regression loss, no target names, a
            non-finite or non-positive scale, or classes that are too few,
            repeated or (except multilabel labels) unsorted.
        """
        try:
            return cls._from_checked_config(config)
        except (KeyError, TypeError, ValueError) as error:
            problem = f"missing key {error}" if isinstance(error, KeyError) else error
            raise ModelFileError(
                f"the target config is invalid ({problem}); the model file is "
                "damaged or was not written by mlpkit"
            ) from None

    @classmethod
    def _from_checked_config(cls, config: dict[str, Any]) -> TargetEncoder:
        loss_params = config.get("loss_params", {})
        if not isinstance(loss_params, dict):
            raise TypeError("loss_params must be a dict")
        encoder = cls(
            task=config["task"],
            standardize=config["standardize"],
            regression_loss=config.get("regression_loss", "squared_error"),
            loss_params=loss_params,
        )
        task = config["task_"]
        if task not in TASK_SPECS:
            raise ValueError(f"unknown task_ {task!r}")
        encoder.task_ = task

        names = config["target_names"]
        if not isinstance(names, list) or not names:
            raise ValueError("target_names must be a non-empty list")
        if not all(isinstance(name, str) for name in names):
            raise TypeError("target_names must be text")
        if task in ("binary", "multiclass") and len(names) != 1:
            raise ValueError(f"a {task} target has one column, not {len(names)}")
        encoder.target_names_ = list(names)
        encoder._check_loss_fits_task()

        if task == "regression":
            encoder.classes_ = None
            encoder.mean_ = _finite_vector(config["mean"], "mean", len(names))
            encoder.scale_ = _finite_vector(config["scale"], "scale", len(names))
            # A scale is 1 or the standard deviation of a finite variance.
            if np.any((encoder.scale_ < SMALLEST_STD) | (encoder.scale_ > LARGEST_STD)):
                raise ValueError(
                    "scale must be a standard deviation, from "
                    f"{SMALLEST_STD:.2g} to {LARGEST_STD:.2g}"
                )
            unscaled = not encoder.standardize or encoder.regression_loss == "poisson"
            if unscaled and (np.any(encoder.mean_ != 0) or np.any(encoder.scale_ != 1)):
                raise ValueError(
                    "mean must be 0 and scale 1 for a target that is not standardized"
                )
        elif task == "multilabel":
            encoder.classes_ = _checked_labels(config["classes"])
            if len(names) not in (1, len(encoder.classes_)):
                raise ValueError(
                    f"a multilabel target has one column of label lists or one "
                    f"column per label, not {len(names)} for "
                    f"{len(encoder.classes_)} labels"
                )
            encoder.mean_ = None
            encoder.scale_ = None
        else:
            encoder.classes_ = _checked_classes(config["classes"], task)
            encoder.mean_ = None
            encoder.scale_ = None
        return encoder


def _check_non_negative(
    values: NDArray, names: list[str], source: str | None
) -> None:
    """Raise DataError at the first negative value of a poisson target."""
    for index, name in enumerate(names):
        negative = values[:, index] < 0
        if negative.any():
            row = int(np.flatnonzero(negative)[0])
            raise DataError(
                f"target column {name!r} has the negative value "
                f"{values[row, index]:g} in {describe_row(row, source)}; the poisson "
                "loss needs counts or rates of at least 0, so use another "
                "regression loss or fix the value"
            )


def _holds_label_sets(target: pd.DataFrame, source: str | None) -> bool:
    """Return whether ``target`` is one column of label lists, or raise DataError.

    A column where only some rows are lists, tuples or sets is an error, and
    any other target is taken for an indicator matrix.
    """
    if target.shape[1] != 1:
        return False
    is_set = np.array(
        [isinstance(value, LABEL_SET_TYPES) for value in target.iloc[:, 0]], dtype=bool
    )
    if not is_set.any():
        return False
    if not is_set.all():
        row = int(np.flatnonzero(~is_set)[0])
        raise DataError(
            f"target column {target.columns[0]!r} contains label lists, but "
            f"{describe_row(row, source)} contains "
            f"{_shorten(target.iloc[row, 0])!r}; write every row as a list of "
            "labels, [] for none"
        )
    return True


def _labels_in_sets(column: pd.Series) -> NDArray:
    """Return the sorted labels that occur in a column of label lists."""
    labels = {_label_to_json(label) for row in column for label in row}
    if not labels:
        raise DataError(
            f"target column {column.name!r} has no labels in any row; a multilabel "
            "target needs at least one"
        )
    if not _all_of_one_kind(labels):
        kinds = sorted({type(label).__name__ for label in labels})
        raise DataError(
            f"target column {column.name!r} has labels of the types "
            f"{', '.join(kinds)}; labels must be all text, all numbers or all "
            "booleans, so convert them all to text"
        )
    return np.asarray(sorted(labels))


def _all_of_one_kind(labels: Any) -> bool:
    """Return whether ``labels`` are all numbers, all text or all booleans."""
    numbers = all(_is_real_number(label) for label in labels)
    texts = all(isinstance(label, str) for label in labels)
    flags = all(isinstance(label, bool) for label in labels)
    return numbers or texts or flags


def _check_indicator(target: pd.DataFrame, source: str | None) -> None:
    """Raise DataError unless every value of ``target`` is 0 or 1."""
    for name, column in target.items():
        if pd.api.types.is_bool_dtype(column):
            continue
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
        valid = (numbers == 0) | (numbers == 1)
        if not valid.all():
            row = int(np.flatnonzero(~valid)[0])
            raise DataError(
                f"target column {name!r} has the value "
                f"{_shorten(_label_to_json(column.iloc[row]))!r}"
                f" in {describe_row(row, source)}; a multilabel target is either one "
                "column of label lists or indicator columns of 0 and 1, one per "
                "label"
            )


def _finite_vector(values: Any, key: str, length: int) -> NDArray:
    if not isinstance(values, list) or len(values) != length:
        raise ValueError(f"{key} must be a list of {length} numbers")
    if not all(_is_real_number(value) for value in values):
        raise TypeError(f"{key} must contain numbers only")
    try:
        vector = np.asarray(values, dtype=np.float64)
    except OverflowError:
        raise ValueError(f"{key} must be finite") from None
    if not np.all(np.isfinite(vector)):
        raise ValueError(f"{key} must be finite")
    return vector


def _is_real_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _checked_labels(labels: Any) -> NDArray:
    """Return the labels of a multilabel config, or raise ValueError."""
    if not isinstance(labels, list):
        raise TypeError("classes must be a list")
    if not _all_of_one_kind(labels):
        raise TypeError("classes must be all numbers, all text or all booleans")
    if not labels:
        raise ValueError("a multilabel target needs at least 1 label")
    classes = np.asarray(labels)
    if np.unique(classes).size != classes.size:
        raise ValueError("classes must be unique")
    return classes


def _checked_classes(labels: Any, task: str) -> NDArray:
    """Return the class labels as training sorted them, or raise ValueError."""
    if not isinstance(labels, list):
        raise TypeError("classes must be a list")
    numbers = all(_is_real_number(label) for label in labels)
    texts = all(isinstance(label, str) for label in labels)
    flags = all(isinstance(label, bool) for label in labels)
    if not (numbers or texts or flags):
        raise TypeError("classes must be all numbers, all text or all booleans")
    expected = "2" if task == "binary" else "at least 3"
    if (task == "binary") != (len(labels) == 2) or len(labels) < 2:
        raise ValueError(f"a {task} target needs {expected} classes, not {len(labels)}")
    classes = np.asarray(labels)
    if not np.array_equal(np.unique(classes), classes):
        raise ValueError("classes must be unique and sorted")
    return classes
