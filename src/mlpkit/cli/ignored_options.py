"""``train`` options that take effect only with some values of another option.

``--momentum`` only matters to ``--optimizer sgd``, ``--gamma`` only to the
step and exponential schedules, and ``--block-rows`` only when streaming.
:func:`option_conditions` is the one table of these dependencies, and
:func:`warn_ignored_options` warns about each option given on the command line
that the other options make ineffective, such as "--optimizer adam ignores
--momentum, which only sgd uses".
"""

from __future__ import annotations

import argparse
import inspect
import warnings
from dataclasses import dataclass
from functools import cache

from ..autoencoder import Autoencoder
from ..settings import (
    CHOICE_DEPENDENT_SETTINGS,
    OPTIMIZER_DEPENDENT_SETTINGS,
    optimizers_using,
    users_of,
)
from .option_names import SETTING_OPTIONS, option_dest

TRAINING_KIND = "--autoencoder"
"""Controller whose value is the kind of model: SUPERVISED or AUTOENCODER."""
SUPERVISED = "supervised training"
AUTOENCODER = "--autoencoder"

DATA_READING = "--streaming"
"""Controller whose value is how DATA is read: STREAMING or IN_MEMORY."""
STREAMING = "streaming"
IN_MEMORY = "training in memory"

MODE_CONTROLLERS = (TRAINING_KIND, DATA_READING)
"""Controllers whose values are modes of the run, written as phrases."""


class IgnoredOptionWarning(UserWarning):
    """An option given on the command line that the other options make ineffective."""


@dataclass(frozen=True)
class Condition:
    """The values of ``controller`` under which an option takes effect."""

    controller: str
    values: tuple[str, ...]


EXPLICIT_CONDITIONS: dict[str, Condition] = {
    **{
        SETTING_OPTIONS[setting]: Condition(SETTING_OPTIONS[controller], values)
        for setting, (controller, values) in CHOICE_DEPENDENT_SETTINGS.items()
    },
    "--block-rows": Condition(DATA_READING, (STREAMING,)),
}
"""Conditions of the schedule, loss, activation and streaming options."""


@cache
def option_conditions() -> dict[str, tuple[Condition, ...]]:
    """Return the conditions under which each dependent ``train`` option applies.

    An option applies only when every one of its conditions holds. Besides
    :data:`EXPLICIT_CONDITIONS`, the MLP settings that Autoencoder lacks apply
    only to supervised training, and the optimizer hyperparameters only to the
    optimizers that :func:`mlpkit.settings.optimizers_using` lists.
    """
    autoencoder_settings = inspect.signature(Autoencoder).parameters
    table: dict[str, list[Condition]] = {}
    for setting, option in SETTING_OPTIONS.items():
        if setting not in autoencoder_settings:
            table.setdefault(option, []).append(
                Condition(TRAINING_KIND, (SUPERVISED,))
            )
    for setting in OPTIMIZER_DEPENDENT_SETTINGS:
        optimizers = tuple(optimizers_using(setting))
        table.setdefault(SETTING_OPTIONS[setting], []).append(
            Condition("--optimizer", optimizers)
        )
    for option, condition in EXPLICIT_CONDITIONS.items():
        table.setdefault(option, []).append(condition)
    return {option: tuple(conditions) for option, conditions in table.items()}


def controller_values(args: argparse.Namespace, streaming: bool) -> dict[str, str]:
    """Return the value of each controller in this run of ``train``."""
    values = {
        TRAINING_KIND: AUTOENCODER if args.autoencoder else SUPERVISED,
        DATA_READING: STREAMING if streaming else IN_MEMORY,
    }
    for conditions in option_conditions().values():
        for condition in conditions:
            if condition.controller not in MODE_CONTROLLERS:
                dest = option_dest(condition.controller)
                values[condition.controller] = str(getattr(args, dest))
    return values


def ignored_option_messages(args: argparse.Namespace, streaming: bool) -> list[str]:
    """Return a message for each given option that this run of ``train`` ignores.

    Only options given on the command line count, as RecordGiven records them,
    so the defaults draw no message. An option whose conditions fail more than
    once gets one message, about the first failed condition.
    """
    given = getattr(args, "given_options", set())
    values = controller_values(args, streaming)
    messages = []
    for option, conditions in option_conditions().items():
        if option_dest(option) not in given:
            continue
        for condition in conditions:
            value = values[condition.controller]
            if value in condition.values:
                continue
            setting = value
            if condition.controller not in MODE_CONTROLLERS:
                setting = f"{condition.controller} {value}"
            messages.append(
                f"{setting} ignores {option}, which only {users_of(condition.values)}"
            )
            break
    return messages


def warn_ignored_options(args: argparse.Namespace, streaming: bool) -> None:
    """Warn about each given option that this run of ``train`` ignores.

    ``streaming`` is whether ``train`` reads DATA block by block.
    """
    for message in ignored_option_messages(args, streaming):
        warnings.warn(message, IgnoredOptionWarning, stacklevel=2)
