"""The ``train`` options for optimizers, schedules, losses, weights and regularization.

Each option sets the :class:`~mlpkit.model.MLP` setting of the same name (dashes
for underscores) and shows that setting's default. The parser rejects numbers
outside each setting's range, and infinity and NaN. ``MLP`` checks the rest, and
:mod:`mlpkit.cli.option_names` rewrites the setting names in its messages as
options.
"""

from __future__ import annotations

import argparse
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..data import describe_source, format_columns
from ..errors import DataError
from ..model import MLP
from ..settings import SCHEDULE_NAMES
from ..tasks import REGRESSION_LOSSES
from .option_names import option_dest

DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(MLP).parameters.items()
}


class RecordGiven(argparse.Action):
    """Store an option's value and add its dest to ``namespace.given_options``.

    For options whose effect depends on other options: ``train --autoencoder``
    keeps its own default unless the option was given, and an option given
    where the other options make it ineffective draws a warning
    (:mod:`mlpkit.cli.ignored_options`).
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        given = set(getattr(namespace, "given_options", set()))
        given.add(self.dest)
        namespace.given_options = given


class RecordGivenFlag(RecordGiven):
    """A flag, like ``store_true``, whose use is recorded as RecordGiven does."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("default", False)
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        super().__call__(parser, namespace, True, option_string)


def number_in(
    low: float,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = True,
) -> Callable[[str], float]:
    """Return an argparse type that parses a finite number between the bounds.

    ``low_open`` and ``high_open`` exclude the bound. Infinity and NaN are
    always rejected, so an unbounded range reads "a positive finite number"
    or "a finite number of at least 0".
    """
    if math.isinf(high):
        if low == 0 and low_open:
            expected = "a positive finite number"
        else:
            word = "above" if low_open else "of at least"
            expected = f"a finite number {word} {low:g}"
    else:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        expected = f"a number in {left}{low:g}, {high:g}{right}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        above_low = value > low if low_open else value >= low
        below_high = value < high if high_open else value <= high
        if not (math.isfinite(value) and above_low and below_high):
            raise argparse.ArgumentTypeError(f"invalid value {text!r}; pass {expected}")
        return value

    return parse


def integer_in(
    noun: str, low: int, high: int | None = None, hint: str = ""
) -> Callable[[str], int]:
    """Return an argparse type that parses an integer from ``low`` to ``high``.

    ``high`` None means no upper bound. The error reads "invalid NOUN 'TEXT';
    pass an integer …", followed by ``hint``.
    """
    if high is None:
        expected = f"an integer of at least {low}"
    else:
        expected = f"an integer from {low} to {high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                f"invalid {noun} {text!r}; pass {expected}{hint}"
            )
        return value

    return parse


POSITIVE = number_in(0.0, low_open=True)
NON_NEGATIVE = number_in(0.0)
UNIT_CLOSED = number_in(0.0, 1.0, high_open=False)
UNIT_OPEN = number_in(0.0, 1.0, low_open=True)
UNIT_HALF_OPEN = number_in(0.0, 1.0, low_open=True, high_open=False)
FRACTION = number_in(0.0, 1.0)
"""Parsers of the float options: (0, ∞), [0, ∞), [0, 1], (0, 1), (0, 1] and [0, 1).

The ranges are those that MLP checks, so that the parser can name the option."""


def parse_dropout_rates(text: str) -> float | tuple[float, ...]:
    """Parse ``--hidden-dropout``: one rate, or comma-separated rates per layer."""
    rates = []
    for part in text.split(","):
        try:
            rates.append(FRACTION(part))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"invalid dropout rate {part.strip()!r} in {text!r}; pass one number "
                "in [0, 1), or one per hidden layer separated by commas"
            ) from None
    return rates[0] if len(rates) == 1 else tuple(rates)


def add_train_options(parser: argparse.ArgumentParser) -> None:
    """Add the option groups of this module to the ``train`` parser."""
    _add_optimizer_options(parser.add_argument_group("optimizer hyperparameters"))
    _add_schedule_options(parser.add_argument_group("learning-rate schedule"))
    _add_loss_options(parser.add_argument_group("loss and weights"))
    _add_regularization_options(parser.add_argument_group("regularization"))


def _add_numbers(group: Any, options: list[tuple[str, Any, str, str]]) -> None:
    """Add options from (flag, type, metavar, help) rows, defaults from MLP."""
    for flag, kind, metavar, help_text in options:
        group.add_argument(
            flag,
            action=RecordGiven,
            type=kind,
            default=DEFAULTS[option_dest(flag)],
            metavar=metavar,
            help=help_text,
        )


def _add_optimizer_options(group: Any) -> None:
    _add_numbers(
        group,
        [
            (
                "--beta1",
                UNIT_CLOSED,
                "RATE",
                "decay rate of adam's and adamw's first moment",
            ),
            (
                "--beta2",
                UNIT_CLOSED,
                "RATE",
                "decay rate of adam's and adamw's second moment",
            ),
            (
                "--epsilon",
                POSITIVE,
                "EPS",
                "ε added to the denominator of adam, adamw, rmsprop, adagrad and "
                "adadelta; default: each optimizer's own",
            ),
            (
                "--rho",
                UNIT_CLOSED,
                "RATE",
                "decay rate of the squared-gradient average of rmsprop and "
                "adadelta; default: 0.99 for rmsprop and 0.9 for adadelta",
            ),
            (
                "--weight-decay",
                NON_NEGATIVE,
                "RATE",
                "adamw's decoupled weight decay, per unit of learning rate",
            ),
        ],
    )


def _add_schedule_options(group: Any) -> None:
    group.add_argument(
        "--learning-rate-schedule",
        action=RecordGiven,
        choices=SCHEDULE_NAMES,
        default=DEFAULTS["learning_rate_schedule"],
        help="how the learning rate changes during training; not with lbfgs",
    )
    _add_numbers(
        group,
        [
            (
                "--power-t",
                NON_NEGATIVE,
                "P",
                "inverse_scaling: the rate after t steps is η₀ / t^P",
            ),
            (
                "--step-size",
                integer_in("value", 1),
                "EPOCHS",
                "step: epochs between two drops",
            ),
            (
                "--gamma",
                UNIT_HALF_OPEN,
                "FACTOR",
                "step and exponential: factor of each drop; default: 0.1 for step "
                "and 0.99 (every epoch) for exponential",
            ),
            (
                "--decay-epochs",
                integer_in("value", 1),
                "EPOCHS",
                "cosine: epochs from η₀ down to --min-learning-rate; default: "
                "--epochs",
            ),
            (
                "--min-learning-rate",
                NON_NEGATIVE,
                "RATE",
                "cosine and reduce_on_plateau: lowest learning rate",
            ),
            (
                "--plateau-factor",
                UNIT_OPEN,
                "FACTOR",
                "reduce_on_plateau: factor of each reduction, in (0, 1)",
            ),
            (
                "--plateau-patience",
                integer_in("value", 0),
                "EPOCHS",
                "reduce_on_plateau: epochs without improvement of the monitored "
                "loss before a reduction; must be below --patience",
            ),
        ],
    )


def _add_loss_options(group: Any) -> None:
    group.add_argument(
        "--loss",
        action=RecordGiven,
        choices=REGRESSION_LOSSES,
        default=DEFAULTS["loss"],
        help="loss of regression; poisson needs non-negative counts and quantile "
        "predicts --quantile",
    )
    _add_numbers(
        group,
        [
            (
                "--huber-delta",
                POSITIVE,
                "DELTA",
                "huber: error where the loss turns from quadratic to linear, in "
                "standard deviations of a standardized target",
            ),
            (
                "--quantile",
                UNIT_OPEN,
                "Q",
                "quantile: the quantile to predict, in (0, 1)",
            ),
        ],
    )
    group.add_argument(
        "--class-weight",
        action=RecordGiven,
        choices=("balanced",),
        default=DEFAULTS["class_weight"],
        help="balanced weighs each class by n_rows / (n_classes · its row count) "
        "in the loss, for imbalanced classes",
    )
    group.add_argument(
        "--weight-column",
        action=RecordGiven,
        metavar="COLUMN",
        help="CSV column of non-negative row weights in the loss; it is not used "
        "as a feature",
    )


def _add_regularization_options(group: Any) -> None:
    _add_numbers(
        group,
        [
            ("--l1", NON_NEGATIVE, "PENALTY", "L1 penalty on the weights, at least 0"),
            ("--l2", NON_NEGATIVE, "PENALTY", "L2 penalty on the weights, at least 0"),
            (
                "--input-dropout",
                FRACTION,
                "RATE",
                "share of inputs dropped at random in each training batch",
            ),
            (
                "--max-norm",
                POSITIVE,
                "NORM",
                "cap on the L2 norm of the weights into each unit; default: no cap",
            ),
        ],
    )
    group.add_argument(
        "--hidden-dropout",
        action=RecordGiven,
        type=parse_dropout_rates,
        default=DEFAULTS["hidden_dropout"],
        metavar="RATE[,RATE…]",
        help="dropout rate of every hidden layer, or one rate per hidden layer "
        "separated by commas",
    )


def cell_text(value: object) -> str:
    """Return a CSV cell's value as written in the file: ``inf``, or text quoted."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (int, float, np.number)):
        return f"{float(value):g}"
    return repr(str(value))


def split_weight_column(
    features: pd.DataFrame, name: str, source: str | None
) -> tuple[pd.DataFrame, NDArray]:
    """Remove the weight column ``name`` from ``features``; return it as weights.

    Raises
    ------
    DataError
        If the column is missing, or its values are not numbers, are missing,
        negative or infinite, or are all zero.
    """
    where = describe_source(source)
    if name not in features.columns:
        columns = format_columns([str(column) for column in features.columns])
        raise DataError(
            f"weight column {name!r} not found in {where}; the feature columns are "
            f"{columns}"
        )
    raw = features[name]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    missing = raw.isna().to_numpy()
    if missing.any():
        row = int(np.argmax(missing))
        raise DataError(
            f"weight column {name!r} of {where} has no value in data row "
            f"{row + 1} (an empty cell, or a text such as nan); give every row a "
            "weight of at least 0"
        )
    invalid = ~np.isfinite(values)
    if invalid.any():
        row = int(np.argmax(invalid))
        raise DataError(
            f"weight column {name!r} of {where} has a value that is not a finite "
            f"number ({cell_text(raw.iloc[row])} in data row {row + 1}); weights "
            "must be numbers of at least 0"
        )
    negative = values < 0
    if negative.any():
        row = int(np.argmax(negative))
        raise DataError(
            f"weight column {name!r} of {where} has a negative weight "
            f"({values[row]:g} in data row {row + 1}); weights must be at least 0"
        )
    if not values.sum() > 0:
        raise DataError(
            f"weight column {name!r} of {where} is zero in every row; give at "
            "least one row a positive weight"
        )
    return features.drop(columns=[name]), values
