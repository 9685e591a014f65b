"""Checks of command-line input whose messages name the option to change.

They cover input files that are not regular files, the ``--sep`` of a CSV
file, the ``--target`` and ``--weight-column`` names, the rows that
``--test-fraction`` and ``--validation-fraction`` leave for training, and the
types of several target columns.
"""

from __future__ import annotations

import difflib
import math
import os
import stat
from pathlib import Path

import pandas as pd

from ..data import describe_source, format_columns
from ..errors import DataError, ParameterError
from ..modelfile import FILE_TYPE_NAMES
from ..tasks import infer_task

STDIN_PATH = "-"
"""The path that many commands read as the standard input; mlpkit rejects it."""


def check_input_file(path: str | os.PathLike, role: str) -> None:
    """Raise ParameterError if ``path`` is empty, ``-``, a pipe or a device.

    ``role`` names the input in messages, such as ``"data file"``. The commands
    read each input more than once: a CSV file to detect its separator and
    then its rows, a model file to check its archive and then its members, and
    ``train --folds`` reads DATA again for the final model. A pipe, such as the
    ``/dev/fd/63`` of a shell's ``<(...)``, yields its contents only once, so
    it is rejected before anything opens it, which for a FIFO without a
    writer would wait forever. A missing path passes, for the loaders to
    report with their own advice, and so does a directory.
    """
    text = str(path)
    if not text:
        raise ParameterError(f"the {role} path is empty; pass a file path")
    if text == STDIN_PATH:
        raise ParameterError(
            f"reading the {role} from standard input ('-') is not supported, "
            "because mlpkit reads it more than once; save it to a file and pass "
            "that file's path"
        )
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kind = FILE_TYPE_NAMES.get(stat.S_IFMT(mode), "special file")
    if stat.S_ISFIFO(mode):
        kind = "pipe (FIFO)"
    raise ParameterError(
        f"{role} {text} is a {kind}, not a regular file, and mlpkit reads it more "
        "than once; save it to a file and pass that file's path"
    )

SEPARATOR_OPTIONS = {";": "';'", "\t": "tab", ",": "','", "|": "'|'"}
"""Separators that a wrong ``--sep`` may have missed, as ``--sep`` takes them."""


def first_line(path: Path) -> str:
    """Return the first line of ``path``, or an empty string if it cannot be read."""
    try:
        with path.open(encoding="utf-8", errors="replace") as file:
            return file.readline()
    except OSError:
        return ""


def check_separator(path: Path, sep: str | None, header: str) -> None:
    """Raise DataError if ``--sep`` misses a separator that the header line uses.

    ``header`` is the header line, or the one column name it was read as. A
    header without the ``--sep`` character but with a semicolon, tab, comma or
    bar was most likely written with that separator.
    """
    if sep is None or sep in header:
        return
    for separator, option in SEPARATOR_OPTIONS.items():
        if separator != sep and separator in header:
            raise DataError(
                f"the header of {path} has one column with --sep {sep!r}; did you "
                f"mean --sep {option}?"
            )


def closest_column(name: str, columns: list[str]) -> str | None:
    """Return the column most like ``name``, ignoring case, or None if none is close."""
    by_lower = {column.lower(): column for column in columns}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    guesses = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
    return by_lower[guesses[0]] if guesses else None


def check_column_found(
    frame: pd.DataFrame, name: str, role: str, source: str | None
) -> None:
    """Raise DataError, naming the closest column, if ``frame`` lacks ``name``."""
    columns = [str(column) for column in frame.columns]
    if name in columns:
        return
    listed = format_columns(columns)
    guess = closest_column(name, columns)
    if guess is not None:
        hint = f"did you mean '{guess}' (columns: {listed})?"
    else:
        hint = f"pass one of its columns: {listed}"
    raise DataError(
        f"{role} column '{name}' not found in {describe_source(source)}; {hint}"
    )


MIN_TRAINING_ROWS = 2
"""Rows that the weights must at least train on, after the test and validation rows.

A classification target needs at least one row per class besides."""


def count_classes(target: pd.DataFrame, task: str) -> int:
    """Return the number of classes of a classification target, or 0 for others."""
    if target.shape[1] == 1 and is_classification(target, task):
        return int(target.iloc[:, 0].nunique())
    return 0


def check_training_rows(
    n_rows: int, n_classes: int, test_fraction: float, validation_fraction: float
) -> None:
    """Raise ParameterError if the held-out fractions leave too few training rows.

    The counts follow ``train_test_split``, which holds out ``ceil(fraction · n)``
    rows: first the test rows of all rows, then the validation rows of the rest.
    ``n_classes`` is 0 for a target without classes.
    """
    n_fit = n_rows - math.ceil(test_fraction * n_rows)
    n_train = n_fit - math.ceil(validation_fraction * n_fit)
    needed = max(MIN_TRAINING_ROWS, n_classes)
    if n_train >= needed:
        return

    requirement = f"training needs at least {needed}"
    if n_classes > MIN_TRAINING_ROWS:
        requirement += f", one per class of the {n_classes} classes"
    if n_fit < needed:
        raise ParameterError(
            f"--test-fraction {test_fraction} leaves {n_fit} of the {n_rows} rows "
            f"for training, but {requirement}; lower --test-fraction or add rows"
        )
    raise ParameterError(
        f"--validation-fraction {validation_fraction} leaves {n_train} of the "
        f"{n_fit} training rows to fit the weights, but {requirement}; lower "
        "--validation-fraction (0 monitors the training loss) or add rows"
    )


def is_classification(target: pd.DataFrame, task: str) -> bool:
    """Return whether a one-column ``target`` is trained as classification."""
    if task == "classification":
        return True
    return task == "auto" and infer_task(target) != "regression"


def check_numeric_targets(target: pd.DataFrame) -> None:
    """Raise DataError for a text column among several regression targets.

    Several ``--target`` columns are predicted together as regression unless
    ``--task multilabel`` is given, and regression needs numbers.
    """
    for name, column in target.items():
        numeric = pd.api.types.is_numeric_dtype(column)
        if numeric or pd.api.types.is_bool_dtype(column):
            continue
        example = column.dropna().iloc[0] if column.notna().any() else None
        raise DataError(
            f"--target {name} contains labels such as {example!r}, but "
            f"{target.shape[1]} --target columns are predicted together as "
            "regression, which needs numbers; train one model per label column "
            "with a single --target, or pass 0/1 columns with --task multilabel"
        )
