"""Exceptions that mlpkit raises for input a user can fix, and shared checks.

Every message is one sentence that names the bad value (file, column, row or
parameter) and says what to do. The command line prints the message alone and
exits with status 2; Python callers catch :class:`MlpkitError` or one of its
subclasses.
"""

import inspect
import os
import math
import numbers
from typing import Any

from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning


class MlpkitError(Exception):
    """Base class for errors caused by input a user can fix."""


class DataError(MlpkitError, ValueError):
    """Invalid training or prediction data: a file, a column, a row or a value."""


class ModelFileError(MlpkitError, ValueError):
    """A model file that is missing, damaged, not a model or of a newer format."""


class ParameterError(MlpkitError, ValueError):
    """An invalid setting, such as a negative learning rate or an unknown name.

    Attributes
    ----------
    parameter : str or None
        Python name of the invalid setting, such as ``"learning_rate"``, so a
        caller such as the command line can name its own option instead; None
        when the error concerns no single setting.
    """

    def __init__(self, message: str, *, parameter: str | None = None):
        super().__init__(message)
        self.parameter = parameter


class NotFittedError(MlpkitError, RuntimeError):
    """A model used for prediction before it was trained or loaded."""


class MissingDependencyError(MlpkitError, ImportError):
    """An optional dependency, such as matplotlib for plots, that is not installed."""


class UnseenCategoryWarning(UserWarning):
    """Categories at prediction time that training never saw, encoded as zeros."""


class DataWarning(UserWarning):
    """Training data that mlpkit reads as given but that may not be what was meant.

    Examples are an empty column name in a CSV header and a feature column with
    a single value in the training rows.
    """


class ConvergenceWarning(SklearnConvergenceWarning):
    """Training stopped at the epoch cap before validation loss settled.

    A subclass of scikit-learn's ConvergenceWarning (itself a UserWarning), so
    warning filters written for scikit-learn's estimators apply to mlpkit's.
    """


class TrainingDivergedError(MlpkitError, ValueError):
    """Training stopped because the loss or the weights became NaN or infinite.

    Attributes
    ----------
    epoch : int or None
        Epoch in which it happened, counted from 1; None when a single epoch ran
        outside a training loop.
    batch : int
        Mini-batch of that epoch in which it was detected, counted from 1.
    history : History or None
        Records of the epochs completed before it.
    """

    def __init__(
        self, message: str, *, epoch: int | None, batch: int, history: Any = None
    ):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.history = history


class CheckpointWarning(UserWarning):
    """Training resumed on data that differs from the checkpoint's rows."""


class IgnoredSettingWarning(UserWarning):
    """A setting changed from its default that the other settings make ineffective.

    An example is ``momentum`` with the adam optimizer, which only sgd uses.
    """


def caller_stacklevel() -> int:
    """Return the ``stacklevel`` of ``warnings.warn`` that names the caller of mlpkit.

    The count starts at the function that calls ``warnings.warn`` and walks out
    to the first frame whose file lies outside the mlpkit package, so a warning
    points at the user's line however deep inside mlpkit it is raised.
    Python 3.12's ``skip_file_prefixes`` does the same, but mlpkit supports
    Python 3.11.
    """
    package_directory = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame = inspect.currentframe()
    if frame is None:
        # Without frame support, name the caller of the warning function.
        return 2
    # stacklevel=1 names the function that calls warnings.warn, one frame out
    # from this one, so counting this frame too gives the right number.
    level = 0
    while frame is not None and frame.f_code.co_filename.startswith(package_directory):
        frame = frame.f_back
        level += 1
    return level


def is_finite_number(value: Any) -> bool:
    """Return whether ``value`` is a real number other than a bool, NaN or infinity."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def checked_count(name: str, value: Any, low: int) -> int:
    """Return ``value`` as an int if it is a whole number of at least ``low``.

    A whole float such as 32.0 passes. Booleans, text, None, fractions and
    values below ``low`` raise ParameterError naming ``name``.
    """
    if not (is_finite_number(value) and float(value).is_integer() and value >= low):
        raise ParameterError(
            f"{name} must be an integer of at least {low}; received: {name}={value!r}",
            parameter=name,
        )
    return int(value)
