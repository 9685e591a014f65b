"""Exceptions that mlpkit raises for input a user can fix.

Every message is one sentence that names the bad value (file, column, row or
parameter) and says what to do. The command line prints the message alone and
exits with status 2; Python callers catch :class:`MlpkitError` or one of its
subclasses.
"""


class MlpkitError(Exception):
    """Base class for errors caused by input a user can fix."""


class DataError(MlpkitError, ValueError):
    """Invalid training or prediction data: a file, a column, a row or a value."""


class ModelFileError(MlpkitError, ValueError):
    """A model file that is missing, damaged, not a model or of a newer format."""


class ParameterError(MlpkitError, ValueError):
    """An invalid setting, such as a negative learning rate or an unknown name."""


class NotFittedError(MlpkitError, RuntimeError):
    """A model used for prediction before it was trained or loaded."""


class UnseenCategoryWarning(UserWarning):
    """Categories at prediction time that training never saw, encoded as zeros."""


class ConvergenceWarning(UserWarning):
    """Training stopped at the epoch cap before validation loss settled."""
