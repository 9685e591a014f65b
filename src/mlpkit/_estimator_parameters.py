"""Settings of the scikit-learn estimators: allowed values and their checks.

:data:`PARAMETER_RULES` gives each setting of
:class:`~mlpkit._estimator_base.BaseMLPEstimator` a check and the allowed
values that its error message names. The checks follow scikit-learn's rule
that ``__init__`` stores settings unchanged and ``fit`` validates them.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from .activations import HIDDEN_ACTIVATIONS

#: scikit-learn's name for an activation, and the engine's name for it.
ACTIVATION_ALIASES = {"logistic": "sigmoid"}
ACTIVATIONS = (*HIDDEN_ACTIVATIONS, *ACTIVATION_ALIASES)
#: Solvers that take one optimizer step per mini-batch, scikit-learn's first.
STOCHASTIC_SOLVERS = ("adam", "sgd", "adamw", "rmsprop", "adagrad", "adadelta")
SOLVERS = (*STOCHASTIC_SOLVERS[:2], "lbfgs", *STOCHASTIC_SOLVERS[2:])
#: Schedules that only ``solver="sgd"`` follows, as in scikit-learn.
SGD_SCHEDULES = ("invscaling", "adaptive")
#: Schedules that change the rate at the end of each epoch, for every
#: stochastic solver.
EPOCH_SCHEDULES = ("step", "exponential", "cosine")
LEARNING_RATES = ("constant", *SGD_SCHEDULES, *EPOCH_SCHEDULES)
#: Schedules that read ``min_learning_rate``.
FLOORED_SCHEDULES = ("adaptive", "cosine")
#: scikit-learn's ``learning_rate="adaptive"`` stops once the rate is at most
#: this (scikit-learn 1.9.1, ``_fit_stochastic``).
ADAPTIVE_MIN_LEARNING_RATE = 1e-6
#: Rows per mini-batch for ``batch_size="auto"``, as in scikit-learn.
AUTO_BATCH_SIZE = 200
#: Seeds are drawn below this bound, which every NumPy seed accepts.
SEED_BOUND = 2**31 - 1


def _is_flag(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not _is_flag(value) and value >= 1


def _is_real(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real) and not _is_flag(value) and np.isfinite(value)
    )


def _is_layer_sizes(value: Any) -> bool:
    if _is_positive_int(value):
        return True
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        return False
    return all(_is_positive_int(units) for units in value)


def _in_range(low: float, high: float, *, low_open: bool, high_open: bool) -> Callable:
    def check(value: Any) -> bool:
        if not _is_real(value):
            return False
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        return above and below

    return check


def _or_none(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


_is_dropout_rate = _in_range(0.0, 1.0, low_open=False, high_open=True)


def _is_hidden_dropout(value: Any) -> bool:
    if _is_dropout_rate(value):
        return True
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        return False
    return all(_is_dropout_rate(rate) for rate in value)


#: Each setting's check and the allowed values named in its error message.
PARAMETER_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "hidden_layer_sizes": (_is_layer_sizes, "a positive integer or a sequence of them"),
    "activation": (ACTIVATIONS.__contains__, f"one of {', '.join(ACTIVATIONS)}"),
    "solver": (SOLVERS.__contains__, f"one of {', '.join(SOLVERS)}"),
    "batch_size": (
        lambda value: value == "auto" or _is_positive_int(value),
        "'auto' or a positive integer",
    ),
    "learning_rate_init": (
        _in_range(0.0, np.inf, low_open=True, high_open=True),
        "a positive number",
    ),
    "max_iter": (_is_positive_int, "a positive integer"),
    "shuffle": (_is_flag, "True or False"),
    "tol": (_in_range(0.0, 1.0, low_open=False, high_open=True), "in [0, 1)"),
    "warm_start": (_is_flag, "True or False"),
    "momentum": (_in_range(0.0, 1.0, low_open=False, high_open=False), "in [0, 1]"),
    "nesterovs_momentum": (_is_flag, "True or False"),
    "early_stopping": (_is_flag, "True or False"),
    "validation_fraction": (
        _in_range(0.0, 1.0, low_open=True, high_open=True),
        "in (0, 1)",
    ),
    "beta_1": (_in_range(0.0, 1.0, low_open=False, high_open=True), "in [0, 1)"),
    "beta_2": (_in_range(0.0, 1.0, low_open=False, high_open=True), "in [0, 1)"),
    "epsilon": (
        _in_range(0.0, np.inf, low_open=True, high_open=True),
        "a positive number",
    ),
    "n_iter_no_change": (_is_positive_int, "a positive integer"),
    "learning_rate": (LEARNING_RATES.__contains__, f"one of {', '.join(LEARNING_RATES)}"),
    "power_t": (_in_range(0.0, np.inf, low_open=False, high_open=True), "at least 0"),
    "alpha": (_in_range(0.0, np.inf, low_open=False, high_open=True), "at least 0"),
    "max_fun": (_is_positive_int, "a positive integer"),
    "weight_decay": (
        _in_range(0.0, np.inf, low_open=False, high_open=True),
        "at least 0",
    ),
    "rho": (
        _or_none(_in_range(0.0, 1.0, low_open=False, high_open=True)),
        "in [0, 1), or None for the optimizer's default",
    ),
    "step_size": (_is_positive_int, "a positive integer"),
    "gamma": (
        _or_none(_in_range(0.0, 1.0, low_open=True, high_open=False)),
        "in (0, 1], or None for the schedule's default",
    ),
    "decay_epochs": (
        _or_none(_is_positive_int),
        "a positive integer, or None for max_iter",
    ),
    "min_learning_rate": (
        _in_range(0.0, np.inf, low_open=False, high_open=True),
        "at least 0",
    ),
    "l1": (_in_range(0.0, np.inf, low_open=False, high_open=True), "at least 0"),
    "input_dropout": (_is_dropout_rate, "a dropout rate in [0, 1)"),
    "hidden_dropout": (
        _is_hidden_dropout,
        "a dropout rate in [0, 1) or a sequence of one rate per hidden layer",
    ),
    "max_norm": (
        _or_none(_in_range(0.0, np.inf, low_open=True, high_open=True)),
        "a positive number, or None for no limit",
    ),
    "maxout_pieces": (
        lambda value: _is_positive_int(value) and value >= 2,
        "an integer of at least 2",
    ),
}
