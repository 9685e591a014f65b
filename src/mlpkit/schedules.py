"""Learning-rate schedules: how ``optimizer.learning_rate`` changes during training.

A schedule takes the initial learning rate ``η₀`` from the optimizer and then
sets ``optimizer.learning_rate`` itself. The training loop calls three hooks:

- :meth:`LearningRateSchedule.start` once before the first batch, and again
  after restoring a checkpoint (after the optimizer's ``set_state`` and the
  schedule's), so the optimizer has the rate for the next step;
- :meth:`LearningRateSchedule.on_epoch_end` after every epoch, with the epoch
  number (counted from 1) and the monitored loss, which sets the rate of the
  next epoch;
- :meth:`LearningRateSchedule.on_step_end` after every optimizer step, needed
  only when the schedule's ``per_step`` is True (inverse scaling by steps).

Epoch ``e`` (counted from 1) trains with ``η₀ · f(e − 1)``, the rate that
``torch.optim.lr_scheduler`` gives after ``e − 1`` calls of its ``step``. Every
schedule describes itself with ``get_config`` (rebuilt by :func:`make_schedule`
or :meth:`LearningRateSchedule.from_config`) and saves what it has counted with
``get_state``, as JSON-ready data.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from .errors import ParameterError
from .optimizers import Optimizer, _check_range


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_count(name: str, value: int, minimum: int) -> int:
    if not (_is_integer(value) and value >= minimum):
        raise ParameterError(
            f"{name} must be an integer of at least {minimum}; "
            f"received: {name}={value!r}"
        )
    return int(value)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ParameterError(
            f"{name} must be one of {', '.join(choices)}; received: {name}={value!r}"
        )
    return value


class LearningRateSchedule:
    """The shared part of schedules: ``η₀``, the epoch count and the hooks.

    Subclasses write ``_learning_rate``, which returns the rate for the next
    step from ``initial_learning_rate`` and what the schedule has counted.

    Attributes
    ----------
    initial_learning_rate : float or None
        ``η₀``, the optimizer's learning rate when :meth:`start` first ran;
        None before that.
    epoch : int
        The last epoch passed to :meth:`on_epoch_end`, 0 before any.
    per_step : bool
        Whether the training loop must call :meth:`on_step_end` after every
        optimizer step.
    """

    name = ""
    per_step = False

    def __init__(self) -> None:
        self.initial_learning_rate: float | None = None
        self.epoch = 0

    def start(self, optimizer: Optimizer) -> None:
        """Take ``η₀`` from ``optimizer`` on the first call, then set its rate.

        Later calls, such as after :meth:`set_state` on resuming, keep the
        saved ``η₀`` and set the rate that the schedule had reached.
        """
        if self.initial_learning_rate is None:
            self.initial_learning_rate = float(optimizer.learning_rate)
        optimizer.learning_rate = self._learning_rate(optimizer)

    def on_epoch_end(
        self,
        optimizer: Optimizer,
        epoch: int,
        loss: float | None = None,
        samples_seen: int | None = None,
    ) -> float:
        """Set the learning rate of the epoch after ``epoch``; return it.

        Parameters
        ----------
        optimizer : Optimizer
            The optimizer whose ``learning_rate`` is set.
        epoch : int
            The epoch that just ended, counted from 1.
        loss : float, optional
            The monitored loss of that epoch (validation loss, or training loss
            without a validation set). Only :class:`ReduceOnPlateau` reads it,
            and it requires it.
        samples_seen : int, optional
            Training rows seen since training started. Only
            :class:`InverseScaling` with ``time_step="samples"`` reads it, and
            it requires it.

        Raises
        ------
        RuntimeError
            If :meth:`start` has not run.
        ValueError
            If the schedule requires ``loss`` or ``samples_seen`` and it is None.
        """
        if self.initial_learning_rate is None:
            raise RuntimeError(
                f"{type(self).__name__}.start(optimizer) must run before the "
                "first epoch ends"
            )
        self.epoch = _check_count("epoch", epoch, 1)
        self._observe_epoch(loss, samples_seen)
        optimizer.learning_rate = self._learning_rate(optimizer)
        return optimizer.learning_rate

    def on_step_end(self, optimizer: Optimizer) -> None:
        """Set the learning rate of the next step, for ``per_step`` schedules."""

    def _observe_epoch(self, loss: float | None, samples_seen: int | None) -> None:
        """Update what the schedule counts from an epoch's results."""

    def _learning_rate(self, optimizer: Optimizer) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Return the name and settings as JSON-ready data."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """Rebuild a schedule from :meth:`get_config`, whatever its class."""
        return make_schedule(**config)

    def get_state(self) -> dict[str, Any]:
        """Return ``η₀`` and the counts that continue the schedule, JSON-ready."""
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "epoch": self.epoch,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned; call :meth:`start` after it."""
        rate = state["initial_learning_rate"]
        self.initial_learning_rate = None if rate is None else float(rate)
        self.epoch = int(state["epoch"])

    def __repr__(self) -> str:
        settings = ", ".join(
            f"{key}={value!r}" for key, value in self.get_config().items()
            if key != "name"
        )
        return f"{type(self).__name__}({settings})"


class Constant(LearningRateSchedule):
    """The learning rate stays ``η₀`` for the whole training."""

    name = "constant"

    def _learning_rate(self, optimizer: Optimizer) -> float:
        return self.initial_learning_rate


class InverseScaling(LearningRateSchedule):
    """The learning rate falls as a power of time: ``ηₜ = η₀ / tᵖ``.

    ``time_step`` chooses what ``t`` counts:

    - ``"steps"`` (default): ``t`` is the optimizer step about to run,
      counted from 1 (``optimizer.iterations + 1``), so the rate changes after
      every mini-batch and the training loop must call :meth:`on_step_end`.
      This is the formula that scikit-learn documents for
      ``learning_rate="invscaling"``.
    - ``"samples"``: ``t`` is one more than the training rows seen so far, and
      the rate changes only at the end of an epoch, from the ``samples_seen``
      passed to :meth:`on_epoch_end`. This is what scikit-learn 1.9.1's SGD
      solver computes (``SGDOptimizer.iteration_ends``), so use it to
      reproduce scikit-learn's multilayer perceptrons.

    Parameters
    ----------
    power_t : float, default 0.5
        The exponent ``p``, at least 0 (``p = 0`` keeps ``η₀``).
    time_step : {"steps", "samples"}, default "steps"
        What ``t`` counts.
    """

    name = "inverse_scaling"
    TIME_STEPS = ("steps", "samples")

    def __init__(self, power_t: float = 0.5, time_step: str = "steps"):
        super().__init__()
        self.power_t = _check_range("power_t", power_t, 0.0, math.inf, low_open=False)
        self.time_step = _check_choice("time_step", time_step, self.TIME_STEPS)
        self.per_step = self.time_step == "steps"
        self.samples_seen = 0

    def on_step_end(self, optimizer: Optimizer) -> None:
        if self.per_step:
            optimizer.learning_rate = self._learning_rate(optimizer)

    def _observe_epoch(self, loss: float | None, samples_seen: int | None) -> None:
        if self.time_step != "samples":
            return
        if samples_seen is None:
            raise ValueError(
                "inverse scaling with time_step='samples' needs the samples_seen "
                "of every epoch"
            )
        self.samples_seen = _check_count("samples_seen", samples_seen, 0)

    def _learning_rate(self, optimizer: Optimizer) -> float:
        if self.time_step == "steps":
            t = optimizer.iterations + 1
        else:
            t = self.samples_seen + 1
        return self.initial_learning_rate / t**self.power_t

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "power_t": self.power_t,
            "time_step": self.time_step,
        }

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "samples_seen": self.samples_seen}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.samples_seen = int(state["samples_seen"])


class StepDecay(LearningRateSchedule):
    """The learning rate drops by ``γ`` every ``step_size`` epochs.

    After ``e`` epochs ``η = η₀ γ^⌊e / step_size⌋``, as
    ``torch.optim.lr_scheduler.StepLR``.

    Parameters
    ----------
    step_size : int, default 10
        Epochs between two drops, at least 1.
    gamma : float, default 0.1
        Factor of each drop, in (0, 1].
    """

    name = "step"

    def __init__(self, step_size: int = 10, gamma: float = 0.1):
        super().__init__()
        self.step_size = _check_count("step_size", step_size, 1)
        self.gamma = _check_range("gamma", gamma, 0.0, 1.0, low_open=True)

    def _learning_rate(self, optimizer: Optimizer) -> float:
        return self.initial_learning_rate * self.gamma ** (self.epoch // self.step_size)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "step_size": self.step_size,
            "gamma": self.gamma,
        }


class ExponentialDecay(LearningRateSchedule):
    """The learning rate shrinks by ``γ`` every epoch: ``η = η₀ γᵉ`` after ``e``.

    As ``torch.optim.lr_scheduler.ExponentialLR``.

    Parameters
    ----------
    gamma : float, default 0.99
        Factor per epoch, in (0, 1].
    """

    name = "exponential"

    def __init__(self, gamma: float = 0.99):
        super().__init__()
        self.gamma = _check_range("gamma", gamma, 0.0, 1.0, low_open=True)

    def _learning_rate(self, optimizer: Optimizer) -> float:
        return self.initial_learning_rate * self.gamma**self.epoch

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gamma": self.gamma}


class CosineAnnealing(LearningRateSchedule):
    """The learning rate follows half a cosine from ``η₀`` down to ``η_min``.

    After ``e`` epochs, with ``T = decay_epochs``::

        η = η_min + (η₀ − η_min) (1 + cos(π e / T)) / 2

    For ``e ≤ T`` this is ``torch.optim.lr_scheduler.CosineAnnealingLR``. Past
    ``T`` the rate stays at ``η_min`` unless ``periodic`` is True, in which case
    the formula goes on and the rate climbs back to ``η₀`` at ``e = 2T``, as
    PyTorch's does.

    Parameters
    ----------
    decay_epochs : int, default 200
        ``T``, the epochs from ``η₀`` to ``η_min``. Set it to the epoch cap
        to end training at ``η_min``; the default equals the default cap of
        :class:`mlpkit.training.StoppingRule`.
    min_learning_rate : float, default 0.0
        ``η_min``, at least 0.
    periodic : bool, default False
        Whether the cosine continues past ``decay_epochs``.
    """

    name = "cosine"

    def __init__(
        self,
        decay_epochs: int = 200,
        min_learning_rate: float = 0.0,
        periodic: bool = False,
    ):
        super().__init__()
        self.decay_epochs = _check_count("decay_epochs", decay_epochs, 1)
        self.min_learning_rate = _check_range(
            "min_learning_rate", min_learning_rate, 0.0, math.inf, low_open=False
        )
        self.periodic = bool(periodic)

    def _learning_rate(self, optimizer: Optimizer) -> float:
        epoch = self.epoch
        if not self.periodic:
            epoch = min(epoch, self.decay_epochs)
        cosine = math.cos(math.pi * epoch / self.decay_epochs)
        span = self.initial_learning_rate - self.min_learning_rate
        return self.min_learning_rate + span * (1.0 + cosine) / 2.0

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "decay_epochs": self.decay_epochs,
            "min_learning_rate": self.min_learning_rate,
            "periodic": self.periodic,
        }


class ReduceOnPlateau(LearningRateSchedule):
    """The learning rate is multiplied by ``factor`` when the loss stops improving.

    The rules are those of ``torch.optim.lr_scheduler.ReduceLROnPlateau`` in
    ``"min"`` mode. An epoch improves when its loss is below
    ``best · (1 − threshold)`` (``threshold_mode="rel"``) or
    ``best − threshold`` (``"abs"``), and then becomes the new ``best``. After
    more than ``patience`` epochs in a row without improvement the rate becomes
    ``max(η · factor, min_learning_rate)``, unless that lowers it by no more
    than ``epsilon``. The count then restarts, and the next ``cooldown``
    epochs count no bad epochs.

    scikit-learn's ``learning_rate="adaptive"`` divides the rate by 5
    (``factor=0.2``) after more than ``n_iter_no_change`` epochs in which the
    loss falls by less than an absolute ``tol``. It differs in two points
    (scikit-learn 1.9.1): its ``best`` follows any decrease, however small,
    and it stops training instead of reducing once the rate is at most 1e-6.

    Parameters
    ----------
    factor : float, default 0.2
        Multiplier of each reduction, in (0, 1); 0.2 divides by 5 as
        scikit-learn does.
    patience : int, default 5
        Epochs without improvement tolerated before a reduction, at least 0.
        Keep it below the early-stopping patience, because otherwise training
        stops before the first reduction.
    threshold : float, default 1e-4
        Minimum improvement that counts, relative or absolute, at least 0.
    threshold_mode : {"rel", "abs"}, default "rel"
        Whether ``threshold`` is relative to ``best`` or absolute.
    cooldown : int, default 0
        Epochs after a reduction during which bad epochs are not counted.
    min_learning_rate : float, default 0.0
        Floor of the learning rate.
    epsilon : float, default 1e-8
        A reduction that changes the rate by this much or less is skipped.

    Attributes
    ----------
    learning_rate : float or None
        The current rate, None before :meth:`start`.
    best : float
        Lowest loss that counted as an improvement, ``inf`` before any epoch.
    bad_epochs : int
        Epochs since the last improvement, not counting the cooldown.
    cooldown_left : int
        Epochs of cooldown still to come.
    """

    name = "reduce_on_plateau"
    THRESHOLD_MODES = ("rel", "abs")

    def __init__(
        self,
        factor: float = 0.2,
        patience: int = 5,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_learning_rate: float = 0.0,
        epsilon: float = 1e-8,
    ):
        super().__init__()
        self.factor = _check_range("factor", factor, 0.0, 1.0, low_open=True)
        if self.factor == 1.0:
            raise ParameterError("factor must be below 1; received: factor=1.0")
        self.patience = _check_count("patience", patience, 0)
        self.threshold = _check_range(
            "threshold", threshold, 0.0, math.inf, low_open=False
        )
        self.threshold_mode = _check_choice(
            "threshold_mode", threshold_mode, self.THRESHOLD_MODES
        )
        self.cooldown = _check_count("cooldown", cooldown, 0)
        self.min_learning_rate = _check_range(
            "min_learning_rate", min_learning_rate, 0.0, math.inf, low_open=False
        )
        self.epsilon = _check_range("epsilon", epsilon, 0.0, math.inf, low_open=False)
        self.learning_rate: float | None = None
        self.best = math.inf
        self.bad_epochs = 0
        self.cooldown_left = 0

    def start(self, optimizer: Optimizer) -> None:
        super().start(optimizer)
        if self.learning_rate is None:
            self.learning_rate = self.initial_learning_rate

    def improves(self, loss: float) -> bool:
        """Return whether ``loss`` beats ``best`` by the threshold."""
        if self.threshold_mode == "rel":
            return loss < self.best * (1.0 - self.threshold)
        return loss < self.best - self.threshold

    def _observe_epoch(self, loss: float | None, samples_seen: int | None) -> None:
        if loss is None:
            raise ValueError(
                "reduce_on_plateau needs the monitored loss of every epoch"
            )
        if self.improves(loss):
            self.best = float(loss)
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1

        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            reduced = max(self.learning_rate * self.factor, self.min_learning_rate)
            if self.learning_rate - reduced > self.epsilon:
                self.learning_rate = reduced
            self.cooldown_left = self.cooldown
            self.bad_epochs = 0

    def _learning_rate(self, optimizer: Optimizer) -> float:
        if self.learning_rate is None:
            return self.initial_learning_rate
        return self.learning_rate

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "factor": self.factor,
            "patience": self.patience,
            "threshold": self.threshold,
            "threshold_mode": self.threshold_mode,
            "cooldown": self.cooldown,
            "min_learning_rate": self.min_learning_rate,
            "epsilon": self.epsilon,
        }

    def get_state(self) -> dict[str, Any]:
        # JSON has no infinity, so a best loss not yet set is stored as None.
        return {
            **super().get_state(),
            "learning_rate": self.learning_rate,
            "best": None if math.isinf(self.best) else self.best,
            "bad_epochs": self.bad_epochs,
            "cooldown_left": self.cooldown_left,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        rate = state["learning_rate"]
        self.learning_rate = None if rate is None else float(rate)
        self.best = math.inf if state["best"] is None else float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
        self.cooldown_left = int(state["cooldown_left"])


SCHEDULES: dict[str, type[LearningRateSchedule]] = {
    cls.name: cls
    for cls in (
        Constant,
        InverseScaling,
        StepDecay,
        ExponentialDecay,
        CosineAnnealing,
        ReduceOnPlateau,
    )
}


def make_schedule(name: str, **settings: Any) -> LearningRateSchedule:
    """Create the schedule called ``name`` with keyword settings.

    ``make_schedule(**schedule.get_config())`` rebuilds ``schedule`` without
    its state.
    """
    if name not in SCHEDULES:
        raise ParameterError(
            f"learning-rate schedule must be one of {', '.join(SCHEDULES)}; "
            f"received: schedule={name!r}"
        )
    return SCHEDULES[name](**settings)


def make_epoch_callback(
    schedule: LearningRateSchedule,
    optimizer: Optimizer,
    then: Callable[[Any], None] | None = None,
) -> Callable[[Any], None]:
    """Wrap ``schedule`` as an ``on_epoch_end`` callback of the training loop.

    The callback takes an epoch record (``epoch``, ``train_loss`` and
    ``validation_loss`` attributes, as :class:`mlpkit.training.EpochRecord`),
    passes the validation loss, or the training loss when there is none, to
    :meth:`LearningRateSchedule.on_epoch_end`, and then calls ``then`` with the
    record. It does not pass ``samples_seen`` or call ``on_step_end``, so it
    cannot drive :class:`InverseScaling`.
    """
    if isinstance(schedule, InverseScaling):
        raise ParameterError(
            "an epoch callback cannot drive inverse scaling, which needs every "
            "step or the samples seen; call its hooks from the training loop"
        )

    def on_epoch_end(record: Any) -> None:
        loss = record.validation_loss
        if loss is None:
            loss = record.train_loss
        schedule.on_epoch_end(optimizer, record.epoch, loss)
        if then is not None:
            then(record)

    return on_epoch_end
