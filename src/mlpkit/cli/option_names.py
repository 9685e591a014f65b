"""The option that sets each library argument, and messages rewritten to use it.

The library names settings as Python does (``max_epochs``), but a user of the
command line typed ``--epochs``. :data:`SETTING_OPTIONS` is the one table
between the two for ``train``, and :data:`COMMAND_OPTIONS` adds the arguments
of the other commands. ``train`` builds the MLP settings from the table, and
:func:`error_message` and :func:`rewrite_setting_names` rewrite errors and
warnings with it, writing values as they are typed (``--hidden=64,32``).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from ..errors import ParameterError

SETTING_OPTIONS: dict[str, str] = {
    "hidden_layers": "--hidden",
    "activation": "--activation",
    "optimizer": "--optimizer",
    "learning_rate": "--learning-rate",
    "momentum": "--momentum",
    "nesterov": "--nesterov",
    "batch_size": "--batch-size",
    "max_epochs": "--epochs",
    "patience": "--patience",
    "tolerance": "--tolerance",
    "validation_fraction": "--validation-fraction",
    "task": "--task",
    "standardize": "--no-standardize",
    "dtype": "--dtype",
    "seed": "--seed",
    "maxout_pieces": "--maxout-pieces",
    "beta1": "--beta1",
    "beta2": "--beta2",
    "epsilon": "--epsilon",
    "rho": "--rho",
    "weight_decay": "--weight-decay",
    "learning_rate_schedule": "--learning-rate-schedule",
    "power_t": "--power-t",
    "step_size": "--step-size",
    "gamma": "--gamma",
    "decay_epochs": "--decay-epochs",
    "min_learning_rate": "--min-learning-rate",
    "plateau_factor": "--plateau-factor",
    "plateau_patience": "--plateau-patience",
    "loss": "--loss",
    "huber_delta": "--huber-delta",
    "quantile": "--quantile",
    "class_weight": "--class-weight",
    "l1": "--l1",
    "l2": "--l2",
    "input_dropout": "--input-dropout",
    "hidden_dropout": "--hidden-dropout",
    "max_norm": "--max-norm",
}
"""The ``train`` option of each MLP constructor argument, by the argument's name."""

OTHER_NAME_OPTIONS: dict[str, str] = {
    "sample_weight": "--weight-column",
    "test_fraction": "--test-fraction",
    "block_rows": "--block-rows",
    "regression_loss": "--loss",
    "max_iterations": "--epochs",
}
"""The ``train`` option behind other names in library messages: arguments of
``MLP.fit`` and ``MLP.fit_stream``, the target encoder's name for the loss, and
the iteration cap of L-BFGS, which ``--epochs`` sets."""

MESSAGE_OPTIONS = {**SETTING_OPTIONS, **OTHER_NAME_OPTIONS}

COMMAND_OPTIONS: dict[str, dict[str, str]] = {
    "train": MESSAGE_OPTIONS,
    "explain": {
        "row": "--row",
        "steps": "--steps",
        "seed": "--seed",
        "learning_rate": "--learning-rate",
    },
    "importance": {"n_repeats": "--repeats", "seed": "--seed"},
}
"""The option behind each argument name in library messages, by command."""

NO_HIDDEN_LAYERS = "none"
"""The ``--hidden`` value for a network without hidden layers."""

# Boolean flags take no value, so ``nesterov=True`` has no ``--nesterov=…`` form.
_FLAG_SETTINGS = ("nesterov", "standardize")

# A value as the library writes it after ``name=``: quoted text, a bracketed
# tuple or list, or a run of characters up to a space, comma or semicolon.
_VALUE = r"'[^']*'|\"[^\"]*\"|\([^)]*\)|\[[^\]]*\]|[^\s,;]+"

# NumPy 2 writes the repr of a scalar as ``np.float64(0.5)`` where a user typed 0.5.
_NUMPY_SCALAR = r"\bnp\.[a-z_]+\d*\(([^()]*)\)"


def option_dest(option: str) -> str:
    """Return the ``args`` attribute that ``option`` sets, such as ``batch_size``."""
    return option.removeprefix("--").replace("-", "_")


def settings_from_options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the MLP constructor arguments that the ``train`` options set."""
    settings = {}
    for setting, option in SETTING_OPTIONS.items():
        settings[setting] = getattr(args, option_dest(option))
    settings["standardize"] = not args.no_standardize
    return settings


def _name_pattern(name: str) -> str:
    # Whole identifiers only: no letter, digit, underscore or dash on either side.
    return rf"(?<![\w-]){re.escape(name)}(?![\w-])"


def option_value(value: str, option: str) -> str:
    """Return a value from a library message as it is typed after ``option``.

    Quotes go, and a tuple or list becomes comma-separated items:
    ``(0.3, 0.2)`` is typed ``0.3,0.2``, and an empty ``--hidden`` is ``none``.
    """
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    if len(value) >= 2 and value[0] + value[-1] in ("()", "[]"):
        items = [item.strip().strip("'\"") for item in value[1:-1].split(",")]
        typed = ",".join(item for item in items if item)
        if not typed and option == "--hidden":
            return NO_HIDDEN_LAYERS
        return typed
    return value


def _assignment(match: re.Match[str], option: str) -> str:
    return f"{option}={option_value(match.group('value'), option)}"


def _is_identifier(name: str) -> bool:
    # No English word contains an underscore or a digit, so names such as
    # max_epochs and beta2 can be rewritten wherever they stand.
    return any(character == "_" or character.isdigit() for character in name)


def rewrite_setting_names(
    message: str, options: dict[str, str] = MESSAGE_OPTIONS
) -> str:
    """Rewrite ``name=value`` and identifier-like names as the options in ``options``.

    ``options`` maps argument names to options, by default those of ``train``.
    ``max_epochs=0`` becomes ``--epochs=0`` for every name, with the value as
    it is typed. Names with an underscore or a digit, such as ``max_epochs`` and
    ``beta2``, are rewritten wherever they stand. A one-word name such as
    ``loss`` is left alone here, so that "a regression loss" keeps its meaning.
    """
    text = re.sub(_NUMPY_SCALAR, r"\1", message)
    for name, option in options.items():
        if name in _FLAG_SETTINGS:
            continue
        pattern = _name_pattern(name) + rf"=(?P<value>{_VALUE})"
        text = re.sub(pattern, lambda match, o=option: _assignment(match, o), text)

    for name, option in options.items():
        if _is_identifier(name):
            text = re.sub(_name_pattern(name), option, text)
    return text


def _opening_setting(message: str, options: dict[str, str]) -> str | None:
    """Return the name in ``options`` that opens ``message``, such as ``loss``."""
    for name in options:
        if re.match(_name_pattern(name), message):
            return name
    return None


def error_message(error: Exception, command: str = "train") -> str:
    """Return the message of an error from ``command`` in terms of its options.

    The argument an error is about is its ``parameter`` attribute where it has
    one. Otherwise, for a :class:`~mlpkit.errors.ParameterError`, it is the
    argument whose name opens the message. That name becomes the option, or,
    if the message does not name the argument at all, the option is put in
    front of it. For a command without an entry in :data:`COMMAND_OPTIONS`,
    only NumPy scalars such as ``np.float64(0.5)`` are written as typed.
    """
    options = COMMAND_OPTIONS.get(command, {})
    message = str(error)
    parameter = getattr(error, "parameter", None)
    if parameter is None and isinstance(error, ParameterError):
        parameter = _opening_setting(message, options)
    text = rewrite_setting_names(message, options)

    option = options.get(parameter or "")
    if option is None:
        return text
    opening = re.match(_name_pattern(parameter), text)
    if opening is not None:
        return option + text[opening.end() :]
    if option not in text:
        return f"{option}: {text}"
    return text
