"""Checks and builders for the settings of :class:`~mlpkit.model.MLP`.

``MLP`` stores its constructor arguments as given, except that
:func:`plain_settings` turns NumPy scalars, whole floats of integer settings
and dtype objects into plain Python values. This module checks the settings
once, raising :class:`~mlpkit.errors.ParameterError` with the setting and its
value, and turns them into the engine's objects: the optimizer, the
learning-rate schedule, the target encoder, the keyword options of
:class:`~mlpkit.network.Network` and the class weights of the training rows.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.utils.class_weight import compute_sample_weight

from .activations import check_maxout_pieces, get_activation
from .errors import (
    DataError,
    IgnoredSettingWarning,
    ParameterError,
    caller_stacklevel,
    checked_count,
    is_finite_number,
)
from .network import DTYPES
from .optimizers import OPTIMIZERS, Optimizer, make_optimizer
from .schedules import (
    SCHEDULES,
    CosineAnnealing,
    ExponentialDecay,
    InverseScaling,
    LearningRateSchedule,
    ReduceOnPlateau,
    StepDecay,
)
from .tasks import REGRESSION_LOSSES, TASKS, TargetEncoder

if TYPE_CHECKING:
    from .model import MLP

LBFGS = "lbfgs"
#: Optimizer names of MLP: the engine's step optimizers, and L-BFGS, which
#: :func:`mlpkit.lbfgs.train_lbfgs` runs on the whole training set at once.
OPTIMIZER_NAMES = (*OPTIMIZERS, LBFGS)
SCHEDULE_NAMES = tuple(SCHEDULES)
MODEL_TASKS = (*TASKS, "multilabel")

#: Hyperparameters each step optimizer takes from the MLP settings.
OPTIMIZER_SETTINGS = {
    "sgd": ("momentum", "nesterov"),
    "adam": ("beta1", "beta2", "epsilon"),
    "adamw": ("beta1", "beta2", "epsilon", "weight_decay"),
    "rmsprop": ("rho", "epsilon"),
    "adagrad": ("epsilon",),
    "adadelta": ("rho", "epsilon"),
}

#: Learning rate of each optimizer when ``learning_rate`` is None. Adam, AdamW
#: and Adagrad take PyTorch's defaults (torch.optim, 2.x), and so does RMSprop.
#: Adadelta scales its own step sizes, so it needs a rate near 1 and would barely
#: move at 0.001. SGD keeps 0.001, the rate MLP has always given it, although
#: torch.optim.SGD has no default. L-BFGS has no learning rate, and its entry is
#: the step of the SGD optimizer that :meth:`MLP.trace` shows.
DEFAULT_LEARNING_RATES = {
    "sgd": 0.001,
    "adam": 0.001,
    "adamw": 0.001,
    "rmsprop": 0.01,
    "adagrad": 0.01,
    "adadelta": 1.0,
    LBFGS: 0.001,
}

#: Schedules that lower the learning rate towards ``min_learning_rate``.
FLOORED_SCHEDULES = ("cosine", "reduce_on_plateau")

#: Settings that every step optimizer uses and L-BFGS ignores, because L-BFGS
#: steps on all training rows at once, chooses its own step length and stops
#: on its own tolerances.
STEP_TRAINING_SETTINGS = ("learning_rate", "batch_size", "patience", "tolerance")


def _optimizer_dependent_settings() -> tuple[str, ...]:
    names = list(STEP_TRAINING_SETTINGS)
    for settings in OPTIMIZER_SETTINGS.values():
        names.extend(name for name in settings if name not in names)
    return tuple(names)


#: Settings that some optimizers use and others ignore.
OPTIMIZER_DEPENDENT_SETTINGS = _optimizer_dependent_settings()


def optimizer_uses(optimizer: str) -> tuple[str, ...]:
    """Return the optimizer-dependent settings that ``optimizer`` uses."""
    if optimizer == LBFGS:
        return ()
    return (*STEP_TRAINING_SETTINGS, *OPTIMIZER_SETTINGS.get(optimizer, ()))


def optimizers_using(setting: str) -> list[str]:
    """Return the names of the optimizers that use ``setting``, in table order."""
    return [name for name in OPTIMIZER_NAMES if setting in optimizer_uses(name)]


def ignored_optimizer_settings(optimizer: str, settings: Sequence[str]) -> list[str]:
    """Return those of ``settings`` that ``optimizer`` ignores, in their order."""
    used = optimizer_uses(optimizer)
    return [
        name
        for name in settings
        if name in OPTIMIZER_DEPENDENT_SETTINGS and name not in used
    ]


#: Settings that take effect only with some values of another setting: the
#: controlling setting and those values.
CHOICE_DEPENDENT_SETTINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "maxout_pieces": ("activation", ("maxout",)),
    "power_t": ("learning_rate_schedule", ("inverse_scaling",)),
    "step_size": ("learning_rate_schedule", ("step",)),
    "gamma": ("learning_rate_schedule", ("step", "exponential")),
    "decay_epochs": ("learning_rate_schedule", ("cosine",)),
    "min_learning_rate": ("learning_rate_schedule", ("cosine", "reduce_on_plateau")),
    "plateau_factor": ("learning_rate_schedule", ("reduce_on_plateau",)),
    "plateau_patience": ("learning_rate_schedule", ("reduce_on_plateau",)),
    "huber_delta": ("loss", ("huber",)),
    "quantile": ("loss", ("quantile",)),
}


def ignored_setting_messages(model: Any) -> list[str]:
    """Return a message for each setting changed from its default that has no effect.

    ``model`` is an MLP or an Autoencoder. A setting counts as changed when it
    differs from the default of the model's constructor. It has no effect when
    the optimizer does not use it (:func:`optimizer_uses`) or when its
    controlling setting in :data:`CHOICE_DEPENDENT_SETTINGS` has another value.
    """
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(type(model)).parameters.items()
    }
    changed = [
        name
        for name, default in defaults.items()
        if hasattr(model, name) and getattr(model, name) != default
    ]
    messages = []
    for name in ignored_optimizer_settings(model.optimizer, changed):
        messages.append(
            f"optimizer={model.optimizer!r} ignores {name}, which only "
            f"{users_of(optimizers_using(name))}"
        )
    for name in changed:
        if name not in CHOICE_DEPENDENT_SETTINGS:
            continue
        controller, values = CHOICE_DEPENDENT_SETTINGS[name]
        chosen = getattr(model, controller, None)
        if chosen is not None and chosen not in values:
            messages.append(
                f"{controller}={chosen!r} ignores {name}, which only "
                f"{users_of(values)}"
            )
    return messages


def users_of(names: Sequence[str]) -> str:
    """Return "a uses", "a and b use" or "a, b and c use" for ``names``."""
    if len(names) == 1:
        return f"{names[0]} uses"
    return f"{', '.join(names[:-1])} and {names[-1]} use"


def warn_ignored_settings(model: Any) -> None:
    """Warn once, with IgnoredSettingWarning, about the settings that have no effect."""
    messages = ignored_setting_messages(model)
    if messages:
        warnings.warn(
            "; ".join(messages), IgnoredSettingWarning, stacklevel=caller_stacklevel()
        )


#: Network options of the regularization settings, and the value that turns
#: each off. Only the settings that differ from it are passed to Network.
REGULARIZATION_DEFAULTS: dict[str, Any] = {
    "l1": 0.0,
    "l2": 0.0,
    "input_dropout": 0.0,
    "hidden_dropout": 0.0,
    "max_norm": None,
}


#: Integer settings of MLP and the minimum value of each. A whole float such as
#: 32.0 passes and is stored as an int, as ``batch_size`` has always allowed.
INTEGER_SETTINGS = {
    "batch_size": 1,
    "max_epochs": 1,
    "patience": 1,
    "step_size": 1,
    "decay_epochs": 1,
    "plateau_patience": 0,
    "maxout_pieces": 2,
}

#: Real-number settings of MLP. :func:`plain_settings` checks only that each is
#: a number, and the optimizer, schedule, loss or regularization check that
#: uses a setting checks its range.
NUMBER_SETTINGS = (
    "learning_rate",
    "momentum",
    "tolerance",
    "validation_fraction",
    "beta1",
    "beta2",
    "epsilon",
    "rho",
    "weight_decay",
    "power_t",
    "gamma",
    "min_learning_rate",
    "plateau_factor",
    "huber_delta",
    "quantile",
    "l1",
    "l2",
    "input_dropout",
    "max_norm",
)

#: Settings that may be None, which selects a default or turns a limit off.
OPTIONAL_SETTINGS = (
    "learning_rate",
    "epsilon",
    "rho",
    "gamma",
    "decay_epochs",
    "max_norm",
)

BOOLEAN_SETTINGS = ("nesterov", "standardize")


def _invalid(name: str, expected: str, value: Any) -> ParameterError:
    return ParameterError(
        f"{name} must be {expected}; received: {name}={value!r}", parameter=name
    )


def _check_number(name: str, value: Any, low: float, high: float = math.inf) -> None:
    """Raise ParameterError unless ``low ≤ value < high`` (``high`` may be inf)."""
    if not (is_finite_number(value) and low <= value < high):
        upper = "" if math.isinf(high) else f" and below {high:g}"
        raise _invalid(name, f"a number of at least {low:g}{upper}", value)


def hidden_layer_sizes(value: Any) -> tuple[int, ...]:
    """Return ``hidden_layers`` as a tuple of positive ints.

    A single int ``n`` means one hidden layer, ``(n,)``, as in scikit-learn's
    ``hidden_layer_sizes``. An empty sequence means no hidden layer.

    Raises
    ------
    ParameterError
        If ``value`` is text, neither a sequence nor a 1-D array, or has an
        entry that is not a positive integer (bool and float entries count as
        invalid).
    """
    sizes = (value,) if _is_integer(value) else value
    if isinstance(sizes, np.ndarray) and sizes.ndim == 1:
        sizes = sizes.tolist()
    valid = isinstance(sizes, Sequence) and not isinstance(sizes, (str, bytes))
    if valid:
        valid = all(_is_integer(units) and units >= 1 for units in sizes)
    if not valid:
        raise ParameterError(
            "hidden_layers must be a tuple of positive integers, one per hidden "
            f"layer, such as (64, 32); received: hidden_layers={value!r}",
            parameter="hidden_layers",
        )
    return tuple(int(units) for units in sizes)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def learning_rate_of(model: Any) -> float:
    """Return the initial learning rate: ``model.learning_rate``, or the default.

    None gives the default of ``model.optimizer`` from
    :data:`DEFAULT_LEARNING_RATES`. ``model`` is an MLP or an Autoencoder. An
    unknown optimizer gets adam's default, so that the check of the optimizer
    name reports it.
    """
    if model.learning_rate is not None:
        return model.learning_rate
    return DEFAULT_LEARNING_RATES.get(model.optimizer, DEFAULT_LEARNING_RATES["adam"])


def check_settings(model: MLP) -> None:
    """Check the optimizer, schedule, loss, task, class weight and regularization.

    Also checks the activation, and that every number setting is finite,
    including those that the chosen optimizer and schedule ignore.

    Raises
    ------
    ParameterError
        Naming the first invalid setting and its value.
    """
    checked_count("batch_size", model.batch_size, 1)
    if model.optimizer not in OPTIMIZER_NAMES:
        raise _invalid("optimizer", f"one of {', '.join(OPTIMIZER_NAMES)}", model.optimizer)
    if model.task not in MODEL_TASKS:
        raise _invalid("task", f"one of {', '.join(MODEL_TASKS)}", model.task)
    _check_activation(model.activation)
    build_optimizer(model)
    build_schedule(model)
    _check_loss(model)
    check_maxout_pieces(model.maxout_pieces)
    class_weight_pairs(model.class_weight)
    _check_regularization(model)

    # The checks above cover the settings in use with their ranges. The model
    # file stores the ignored ones too, and JSON has no NaN or infinity.
    for name in NUMBER_SETTINGS:
        value = getattr(model, name)
        if value is not None and not is_finite_number(value):
            raise _invalid(name, "a finite number", value)


def plain_settings(model: MLP) -> dict[str, Any]:
    """Check the types of number, integer and boolean settings and return plain values.

    ``model`` is an MLP or an Autoencoder. Settings that it does not have are
    skipped, so each model's own settings are checked.

    The returned settings hold Python int, float and bool in place of NumPy
    scalars, int in place of a whole float in an integer setting, and the name
    of ``dtype`` in place of a type or ``np.dtype``. Storing those keeps the
    model file plain JSON. Ranges other than the minimum of an integer
    setting, and NaN and infinity in number settings, are left to
    :func:`check_settings` and the classes it builds.

    Raises
    ------
    ParameterError
        Naming the first setting of the wrong type: text, None where
        :data:`OPTIONAL_SETTINGS` does not allow it, a bool in a number setting,
        a fraction in an integer setting, or a non-bool in a boolean setting.
    """
    values: dict[str, Any] = {}
    for name, low in INTEGER_SETTINGS.items():
        if not hasattr(model, name):
            continue
        value = getattr(model, name)
        if value is None and name in OPTIONAL_SETTINGS:
            values[name] = None
            continue
        if not (is_finite_number(value) and float(value).is_integer() and value >= low):
            expected = f"an integer of at least {low}"
            if name in OPTIONAL_SETTINGS:
                expected += " or None"
            raise _invalid(name, expected, value)
        values[name] = int(value)

    for name in NUMBER_SETTINGS:
        if not hasattr(model, name):
            continue
        value = getattr(model, name)
        if value is None and name in OPTIONAL_SETTINGS:
            values[name] = None
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            values[name] = _plain_number(value)
        else:
            expected = "a number"
            if name in OPTIONAL_SETTINGS:
                expected += " or None"
            raise _invalid(name, expected, value)

    for name in BOOLEAN_SETTINGS:
        if not hasattr(model, name):
            continue
        value = getattr(model, name)
        if not isinstance(value, (bool, np.bool_)):
            raise _invalid(name, "True or False", value)
        values[name] = bool(value)

    if hasattr(model, "hidden_dropout"):
        values["hidden_dropout"] = _plain_rates(model.hidden_dropout)
    values["dtype"] = dtype_name(model.dtype)
    return values


def _plain_number(value: Any) -> Any:
    """Return a real number as a Python int or float, and anything else unchanged.

    ``float`` also converts number types that JSON cannot store, such as
    ``fractions.Fraction``.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


def _plain_rates(rates: Any) -> Any:
    """Return ``hidden_dropout`` with plain numbers: one rate, or a tuple of rates.

    A 1-D array counts as a sequence of rates. Invalid rates are kept for
    :func:`check_settings` to report.
    """
    if isinstance(rates, np.ndarray) and rates.ndim == 1:
        rates = rates.tolist()
    if isinstance(rates, Sequence) and not isinstance(rates, (str, bytes)):
        return tuple(_plain_number(rate) for rate in rates)
    return _plain_number(rates)


def dtype_name(dtype: Any) -> str:
    """Return ``"float32"`` or ``"float64"`` for ``dtype`` as text, a type or np.dtype.

    Raises
    ------
    ParameterError
        If ``dtype`` is None, is not a dtype, or is another dtype.
    """
    name = None
    if isinstance(dtype, str):
        name = dtype
    elif dtype is not None:
        # np.dtype(None) would mean float64, so None is kept out above.
        try:
            name = np.dtype(dtype).name
        except (TypeError, ValueError):
            name = None
    if name not in DTYPES:
        raise _invalid(
            "dtype", "float32 or float64, as text, a NumPy type or a np.dtype", dtype
        )
    return name


def _check_activation(activation: Any) -> None:
    """Raise ParameterError unless ``activation`` names a hidden activation."""
    try:
        get_activation(activation, hidden=True)
    except ParameterError as error:
        raise ParameterError(str(error), parameter="activation") from None


def check_streaming_settings(model: MLP) -> None:
    """Raise ParameterError for a setting that training from a stream lacks.

    Streaming rejects L-BFGS, the multilabel task, and any learning-rate
    schedule, class weight or loss other than the default.
    """
    unsupported = {
        "optimizer": (model.optimizer, LBFGS),
        "learning_rate_schedule": (model.learning_rate_schedule, None),
        "class_weight": (model.class_weight, None),
        "loss": (model.loss, None),
        "task": (model.task, "multilabel"),
    }
    defaults = {
        "learning_rate_schedule": "constant",
        "class_weight": None,
        "loss": "squared_error",
    }
    for name, (value, rejected) in unsupported.items():
        if rejected is None:
            bad = value != defaults[name]
        else:
            bad = value == rejected
        if bad:
            raise ParameterError(
                f"{name}={value!r} is not supported when streaming; train in "
                "memory (fit, or --streaming never) or change the setting",
                parameter=name,
            )


def _check_loss(model: MLP) -> None:
    if model.loss not in REGRESSION_LOSSES:
        raise _invalid("loss", f"one of {', '.join(REGRESSION_LOSSES)}", model.loss)
    if not (is_finite_number(model.huber_delta) and model.huber_delta > 0):
        raise _invalid("huber_delta", "a positive number", model.huber_delta)
    if not (is_finite_number(model.quantile) and 0.0 < model.quantile < 1.0):
        raise _invalid("quantile", "in (0, 1)", model.quantile)
    if model.loss != "squared_error" and model.task in ("classification", "multilabel"):
        raise ParameterError(
            f"loss={model.loss!r} is a regression loss, but task={model.task!r}; "
            "use task='regression' or 'auto', or keep loss='squared_error'",
            parameter="loss",
        )


def _check_regularization(model: MLP) -> None:
    _check_number("l1", model.l1, 0.0)
    _check_number("l2", model.l2, 0.0)
    _check_number("input_dropout", model.input_dropout, 0.0, 1.0)
    rates = model.hidden_dropout
    if isinstance(rates, Sequence) and not isinstance(rates, str):
        if len(rates) != len(model.hidden_layers):
            raise ParameterError(
                f"hidden_dropout needs one rate per hidden layer "
                f"({len(model.hidden_layers)}) or a single rate; received: "
                f"hidden_dropout={rates!r}",
                parameter="hidden_dropout",
            )
        for rate in rates:
            _check_number("hidden_dropout", rate, 0.0, 1.0)
    else:
        _check_number("hidden_dropout", rates, 0.0, 1.0)
        if rates > 0 and not hidden_layer_sizes(model.hidden_layers):
            raise ParameterError(
                "hidden_dropout has no hidden layer to act on, because "
                "hidden_layers is empty; add a hidden layer or set hidden_dropout "
                f"to 0; received: hidden_dropout={rates!r}",
                parameter="hidden_dropout",
            )
    if model.max_norm is not None:
        if not (is_finite_number(model.max_norm) and model.max_norm > 0):
            raise _invalid("max_norm", "a positive number or None", model.max_norm)

    dropout = model.input_dropout > 0 or np.any(np.asarray(rates, dtype=float) > 0)
    if model.optimizer == LBFGS and dropout:
        raise ParameterError(
            "dropout makes every loss evaluation random, which L-BFGS cannot "
            "handle; use a step optimizer such as adam, or set input_dropout and "
            "hidden_dropout to 0"
        )


def build_optimizer(model: MLP) -> Optimizer:
    """Create a fresh optimizer at the initial learning rate from the settings.

    ``optimizer="lbfgs"`` has no step optimizer, so this returns plain SGD at
    the learning rate: the step that :meth:`MLP.trace` shows. A
    ``learning_rate`` of None takes the optimizer's default, see
    :data:`DEFAULT_LEARNING_RATES`.
    """
    learning_rate = learning_rate_of(model)
    if model.optimizer == LBFGS:
        return make_optimizer("sgd", learning_rate=learning_rate)
    settings = {}
    for name in OPTIMIZER_SETTINGS[model.optimizer]:
        value = getattr(model, name)
        # None keeps the optimizer's own default, which differs between them.
        if value is not None:
            settings[name] = value
    return make_optimizer(model.optimizer, learning_rate=learning_rate, **settings)


def build_schedule(model: MLP) -> LearningRateSchedule | None:
    """Create the learning-rate schedule, or None for a constant rate.

    Raises
    ------
    ParameterError
        If a schedule setting is invalid, or L-BFGS, which has no learning
        rate, gets a schedule. Also if ``"reduce_on_plateau"`` has a
        ``plateau_patience`` that early stopping's ``patience`` never lets it
        reach, or ``min_learning_rate`` is above the initial learning rate of a
        schedule that lowers the rate towards it.
    """
    schedule = _build_schedule(model)
    if model.learning_rate_schedule in FLOORED_SCHEDULES:
        # The optimizer and the schedule have checked that both are numbers.
        learning_rate = float(learning_rate_of(model))
        if float(model.min_learning_rate) > learning_rate:
            raise ParameterError(
                f"min_learning_rate must be at most the learning rate "
                f"{learning_rate!r}, because learning_rate_schedule="
                f"{model.learning_rate_schedule!r} only lowers the rate; received: "
                f"min_learning_rate={model.min_learning_rate!r}",
                parameter="min_learning_rate",
            )
    return schedule


def _build_schedule(model: MLP) -> LearningRateSchedule | None:
    name = model.learning_rate_schedule
    if name not in SCHEDULE_NAMES:
        raise _invalid(
            "learning_rate_schedule", f"one of {', '.join(SCHEDULE_NAMES)}", name
        )
    if name == "constant":
        return None
    if model.optimizer == LBFGS:
        raise ParameterError(
            f"L-BFGS chooses its own step length, so it takes no learning-rate "
            f"schedule; received: learning_rate_schedule={name!r}",
            parameter="learning_rate_schedule",
        )
    if name == "inverse_scaling":
        return InverseScaling(model.power_t)
    if name == "step":
        return StepDecay(model.step_size, 0.1 if model.gamma is None else model.gamma)
    if name == "exponential":
        return ExponentialDecay(0.99 if model.gamma is None else model.gamma)
    if name == "cosine":
        decay_epochs = model.decay_epochs
        if decay_epochs is None:
            decay_epochs = int(model.max_epochs)
        return CosineAnnealing(decay_epochs, model.min_learning_rate)
    if is_finite_number(model.plateau_patience) and model.plateau_patience >= model.patience:
        raise ParameterError(
            f"plateau_patience must be below patience={model.patience}, because "
            "early stopping ends training before the first reduction otherwise; "
            f"received: plateau_patience={model.plateau_patience!r}",
            parameter="plateau_patience",
        )
    # ReduceOnPlateau names these factor and patience, so check them here
    # under the names that MLP's callers know.
    checked_count("plateau_patience", model.plateau_patience, 0)
    if not (is_finite_number(model.plateau_factor) and 0.0 < model.plateau_factor < 1.0):
        raise _invalid(
            "plateau_factor", "a number above 0 and below 1", model.plateau_factor
        )
    return ReduceOnPlateau(
        factor=model.plateau_factor,
        patience=model.plateau_patience,
        min_learning_rate=model.min_learning_rate,
    )


def loss_params(model: MLP) -> dict[str, float]:
    """Return the parameters of the regression loss, empty for losses without any."""
    if model.loss == "huber":
        return {"delta": float(model.huber_delta)}
    if model.loss == "quantile":
        return {"quantile": float(model.quantile)}
    return {}


def build_target_encoder(model: MLP) -> TargetEncoder:
    """Create the unfitted target encoder of the task and regression loss."""
    return TargetEncoder(
        model.task,
        model.standardize,
        regression_loss=model.loss,
        loss_params=loss_params(model),
    )


def network_options(model: MLP) -> dict[str, Any]:
    """Return the keyword options of Network beyond sizes, activations and loss.

    Regularization settings at their "off" value are left out, so that a
    network without regularization is built exactly as before they existed.
    """
    options: dict[str, Any] = {"maxout_pieces": int(model.maxout_pieces)}
    for name, off in REGULARIZATION_DEFAULTS.items():
        value = getattr(model, name)
        if isinstance(value, Sequence) and not isinstance(value, str):
            value = [float(rate) for rate in value]
            if not any(value):
                continue
        elif value == off:
            continue
        options[name] = value
    return options


def class_weight_pairs(class_weight: Any) -> list[list[Any]] | str | None:
    """Return ``class_weight`` as JSON-ready data: None, "balanced" or label pairs.

    A dict ``{label: weight}`` becomes ``[[label, weight], …]``, because JSON
    object keys are text and would turn integer labels into strings. Pairs in
    that form are accepted back.
    """
    if class_weight is None or class_weight == "balanced":
        return class_weight
    if isinstance(class_weight, Mapping):
        items = list(class_weight.items())
    elif isinstance(class_weight, Sequence) and not isinstance(class_weight, str):
        items = list(class_weight)
    else:
        raise _invalid(
            "class_weight", "None, 'balanced', or a dict of label to weight", class_weight
        )
    pairs = []
    for item in items:
        if not (isinstance(item, Sequence) and len(item) == 2):
            raise _invalid("class_weight", "a dict of label to weight", class_weight)
        label, weight = item
        if not (is_finite_number(weight) and weight >= 0):
            raise _invalid("class_weight", "non-negative finite weights", class_weight)
        if isinstance(label, np.generic):
            label = label.item()
        pairs.append([label, float(weight)])
    return pairs


def class_sample_weight(
    class_weight: Any,
    task: str,
    labels: NDArray,
    sample_weight: NDArray | None,
) -> NDArray | None:
    """Multiply the class weight of each row into ``sample_weight``.

    Parameters
    ----------
    class_weight : None, "balanced", dict or label pairs
        "balanced" weighs class ``c`` by ``n_samples / (n_classes · count(c))``,
        as ``sklearn.utils.class_weight.compute_sample_weight`` does, and for a
        multilabel indicator matrix multiplies that over the labels.
    task : str
        The fitted task, ``TargetEncoder.task_``.
    labels : ndarray of shape (n_samples,) or (n_samples, n_labels)
        Class labels, or the 0/1 indicator rows of a multilabel target.
    sample_weight : ndarray of shape (n_samples,) or None

    Raises
    ------
    ParameterError
        For class weights on regression, a dict on a multilabel target, or a
        label that is not a class.
    DataError
        If no row keeps a positive weight.
    """
    pairs = class_weight_pairs(class_weight)
    if pairs is None:
        return sample_weight
    if task == "regression":
        raise ParameterError(
            "class_weight applies to classification, but the task is regression; "
            "remove class_weight or pass sample_weight",
            parameter="class_weight",
        )
    if task == "multilabel" and pairs != "balanced":
        raise ParameterError(
            "a multilabel target takes class_weight='balanced' only; received: "
            f"class_weight={class_weight!r}",
            parameter="class_weight",
        )
    weights_by_class = pairs if pairs == "balanced" else dict(map(tuple, pairs))
    try:
        weights = compute_sample_weight(weights_by_class, labels)
    except ValueError as error:
        raise ParameterError(
            f"invalid class_weight for this target: {error}", parameter="class_weight"
        ) from None
    if sample_weight is not None:
        weights = weights * sample_weight
    if not weights.sum() > 0:
        raise DataError(
            "class_weight and sample_weight leave no row with positive weight; "
            "give at least one class a positive weight"
        )
    return weights


def class_labels(target: pd.DataFrame, encoder: TargetEncoder) -> NDArray:
    """Return what :func:`class_sample_weight` counts: labels or indicator rows."""
    if encoder.task_ == "multilabel":
        return encoder.transform(target, np.float64).astype(int)
    return target.iloc[:, 0].to_numpy()
