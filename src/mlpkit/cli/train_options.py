"""The ``train`` options for optimizers, schedules, losses, weights and regularization.

Each option sets the :class:`~mlpkit.model.MLP` setting of the same name (dashes
for underscores) and shows that setting's default. The settings are checked by
``MLP`` itself, so an invalid value exits with status 2 and the setting's name.
"""

from __future__ import annotations

import argparse
import inspect
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..data import describe_source, format_columns
from ..errors import DataError
from ..model import MLP
from ..settings import OPTIMIZER_NAMES, SCHEDULE_NAMES
from ..tasks import REGRESSION_LOSSES

DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(MLP).parameters.items()
}

#: MLP settings that the options of this module set, by their ``args`` name.
SETTINGS = (
    "beta1",
    "beta2",
    "epsilon",
    "rho",
    "weight_decay",
    "learning_rate_schedule",
    "power_t",
    "step_size",
    "gamma",
    "decay_epochs",
    "min_learning_rate",
    "plateau_factor",
    "plateau_patience",
    "loss",
    "huber_delta",
    "quantile",
    "maxout_pieces",
    "class_weight",
    "l1",
    "l2",
    "input_dropout",
    "hidden_dropout",
    "max_norm",
)


def parse_dropout_rates(text: str) -> float | tuple[float, ...]:
    """Parse ``--hidden-dropout``: one rate, or comma-separated rates per layer."""
    try:
        rates = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid dropout rate in {text!r}; pass one number from 0 up to, but "
            "excluding, 1, or one per hidden layer separated by commas"
        ) from None
    return rates[0] if len(rates) == 1 else rates


def add_train_options(parser: argparse.ArgumentParser) -> None:
    """Add the option groups of this module to the ``train`` parser."""
    _add_optimizer_options(parser.add_argument_group("optimizer hyperparameters"))
    _add_schedule_options(parser.add_argument_group("learning-rate schedule"))
    _add_loss_options(parser.add_argument_group("loss and weights"))
    _add_regularization_options(parser.add_argument_group("regularization"))


def _add_numbers(group: Any, options: list[tuple[str, Any, str, str]]) -> None:
    """Add options from (flag, type, metavar, help) rows, defaults from MLP."""
    for flag, kind, metavar, help_text in options:
        setting = flag[2:].replace("-", "_")
        group.add_argument(
            flag, type=kind, default=DEFAULTS[setting], metavar=metavar, help=help_text
        )


def _add_optimizer_options(group: Any) -> None:
    _add_numbers(
        group,
        [
            ("--beta1", float, "RATE", "decay rate of adam's and adamw's first moment"),
            ("--beta2", float, "RATE", "decay rate of adam's and adamw's second moment"),
            (
                "--epsilon",
                float,
                "EPS",
                "ε added to the denominator of adam, adamw, rmsprop, adagrad and "
                "adadelta; None keeps each optimizer's own default",
            ),
            (
                "--rho",
                float,
                "RATE",
                "decay rate of the squared-gradient average of rmsprop and "
                "adadelta; None keeps 0.99 for rmsprop and 0.9 for adadelta",
            ),
            (
                "--weight-decay",
                float,
                "RATE",
                "adamw's decoupled weight decay, per unit of learning rate",
            ),
        ],
    )


def _add_schedule_options(group: Any) -> None:
    group.add_argument(
        "--learning-rate-schedule",
        choices=SCHEDULE_NAMES,
        default=DEFAULTS["learning_rate_schedule"],
        help="how the learning rate changes during training; not with lbfgs",
    )
    _add_numbers(
        group,
        [
            (
                "--power-t",
                float,
                "P",
                "inverse_scaling: the rate after t steps is η₀ / t^P",
            ),
            ("--step-size", int, "EPOCHS", "step: epochs between two drops"),
            (
                "--gamma",
                float,
                "FACTOR",
                "step and exponential: factor of each drop; None is 0.1 for step "
                "and 0.99 (every epoch) for exponential",
            ),
            (
                "--decay-epochs",
                int,
                "EPOCHS",
                "cosine: epochs from η₀ down to --min-learning-rate; None is --epochs",
            ),
            (
                "--min-learning-rate",
                float,
                "RATE",
                "cosine and reduce_on_plateau: lowest learning rate",
            ),
            (
                "--plateau-factor",
                float,
                "FACTOR",
                "reduce_on_plateau: factor of each reduction, in (0, 1)",
            ),
            (
                "--plateau-patience",
                int,
                "EPOCHS",
                "reduce_on_plateau: epochs without improvement of the monitored "
                "loss before a reduction; must be below --patience",
            ),
        ],
    )


def _add_loss_options(group: Any) -> None:
    group.add_argument(
        "--loss",
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
                float,
                "DELTA",
                "huber: error where the loss turns from quadratic to linear, in "
                "standard deviations of a standardized target",
            ),
            ("--quantile", float, "Q", "quantile: the quantile to predict, in (0, 1)"),
        ],
    )
    group.add_argument(
        "--class-weight",
        choices=("balanced",),
        default=DEFAULTS["class_weight"],
        help="balanced weighs each class by n_rows / (n_classes · its row count) "
        "in the loss, for imbalanced classes",
    )
    group.add_argument(
        "--weight-column",
        metavar="COLUMN",
        help="CSV column of non-negative row weights in the loss; it is not used "
        "as a feature",
    )


def _add_regularization_options(group: Any) -> None:
    _add_numbers(
        group,
        [
            ("--l1", float, "PENALTY", "L1 penalty on the weights, at least 0"),
            ("--l2", float, "PENALTY", "L2 penalty on the weights, at least 0"),
            (
                "--input-dropout",
                float,
                "RATE",
                "share of inputs dropped at random in each training batch",
            ),
            (
                "--max-norm",
                float,
                "NORM",
                "cap on the L2 norm of the weights into each unit; None is no cap",
            ),
        ],
    )
    group.add_argument(
        "--hidden-dropout",
        type=parse_dropout_rates,
        default=DEFAULTS["hidden_dropout"],
        metavar="RATE[,RATE…]",
        help="dropout rate of every hidden layer, or one rate per hidden layer "
        "separated by commas",
    )


def option_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Return the MLP settings that the options of this module set."""
    return {name: getattr(args, name) for name in SETTINGS}


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
    invalid = ~np.isfinite(values)
    if invalid.any():
        row = int(np.argmax(invalid))
        raise DataError(
            f"weight column {name!r} of {where} has a value that is not a finite "
            f"number ({raw.iloc[row]!r} in data row {row + 1}); weights must be "
            "numbers of at least 0"
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
