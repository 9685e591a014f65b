"""The training loop: mini-batches, epochs, validation and early stopping.

One epoch shuffles the training rows, and for each mini-batch runs forward
propagation, backpropagation and one optimizer step. After the epoch the
validation loss and the task's metric are recorded in a :class:`History`.
Training stops when the monitored loss (validation loss, or training loss
without a validation set) has not improved by a relative ``tolerance`` for
``patience`` epochs. The weights of the best epoch are then restored, unless
the caller keeps those of the last epoch.

A batch loss, weight or validation loss that becomes NaN or infinite stops
training with :class:`~mlpkit.errors.TrainingDivergedError`, and the network
returns to its last good weights. A stop request (Ctrl-C in the command line)
ends training after the current batch, and the progress that
:mod:`mlpkit.checkpoints` saves lets a later run continue exactly there.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sklearn.model_selection import train_test_split

from .checkpoints import TrainingProgress
from .errors import (
    ConvergenceWarning,
    DataError,
    ParameterError,
    TrainingDivergedError,
    caller_stacklevel,
    checked_count,
    is_finite_number,
)
from .history import EpochRecord, History
from .network import Network
from .optimizers import Optimizer
from .schedules import LearningRateSchedule

logger = logging.getLogger(__name__)


@dataclass
class StoppingRule:
    """When training ends.

    Attributes
    ----------
    max_epochs : int
        Cap on the number of epochs. Reaching it without converging issues a
        :class:`~mlpkit.errors.ConvergenceWarning`.
    patience : int
        Epochs without improvement after which training has converged.
    tolerance : float
        An epoch improves when its loss is below ``best − tolerance · |best|``.
    """

    max_epochs: int = 200
    patience: int = 10
    tolerance: float = 1e-4

    def __post_init__(self) -> None:
        self.max_epochs = checked_count("max_epochs", self.max_epochs, 1)
        self.patience = checked_count("patience", self.patience, 1)
        tolerance = self.tolerance
        if not (is_finite_number(tolerance) and 0.0 <= tolerance < 1.0):
            raise ParameterError(
                f"tolerance must be in [0, 1); received: tolerance={tolerance!r}",
                parameter="tolerance",
            )
        self.tolerance = float(tolerance)

    def improves(self, loss: float, best: float) -> bool:
        """Return whether ``loss`` beats ``best`` by the relative tolerance."""
        if math.isinf(best):
            return loss < best
        return loss < best - self.tolerance * abs(best)


def check_callback(name: str, callback: Any) -> None:
    """Raise ParameterError unless ``callback`` is None or callable."""
    if callback is not None and not callable(callback):
        raise ParameterError(
            f"{name} must be callable or None; received: {name}={callback!r}",
            parameter=name,
        )


MetricFunction = Callable[[NDArray], dict[str, float]]
EpochCallback = Callable[[EpochRecord], None]


def iterate_batches(
    n_samples: int, batch_size: int, rng: np.random.Generator | None
) -> list[NDArray]:
    """Split row indices into mini-batches, shuffled when ``rng`` is given."""
    order = rng.permutation(n_samples) if rng is not None else np.arange(n_samples)
    return [order[start : start + batch_size] for start in range(0, n_samples, batch_size)]


def split_validation_rows(
    n_samples: int,
    fraction: float,
    random_state: int | np.random.RandomState | None,
    labels: NDArray | None = None,
) -> tuple[NDArray, NDArray]:
    """Split row positions into training rows and held-out validation rows.

    Parameters
    ----------
    n_samples : int
        Rows to split.
    fraction : float
        Share of rows held out, in (0, 1).
    random_state : int, RandomState or None
        Seeds the split, as in ``sklearn.model_selection.train_test_split``.
    labels : ndarray of shape (n_samples,), optional
        Class labels to stratify by. The split is not stratified when a class
        has a single row, or either side of the split has fewer rows than
        there are classes.

    Returns
    -------
    train_rows, validation_rows : ndarray of int
        Sorted row positions.

    Raises
    ------
    DataError
        If either side of the split would be empty.
    """
    # train_test_split holds out ceil(fraction · n) rows and trains on the rest.
    n_validation = math.ceil(fraction * n_samples)
    n_train = n_samples - n_validation
    if n_train < 1 or n_validation < 1:
        rows = "1 row" if n_samples == 1 else f"{n_samples} rows"
        raise DataError(
            f"validation_fraction={fraction} holds out {n_validation} of {rows} "
            f"(n_samples={n_samples}), which leaves {n_train} for training and "
            f"{n_validation} for validation; lower validation_fraction, add rows, "
            "or set validation_fraction to 0 to train without a validation set"
        )

    rows = np.arange(n_samples)
    stratify = None
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        enough_rows = n_validation >= counts.size and n_train >= counts.size
        if counts.min() >= 2 and enough_rows:
            stratify = labels
        else:
            logger.info("validation split not stratified: a class is too rare")
    train_rows, validation_rows = train_test_split(
        rows, test_size=fraction, random_state=random_state, stratify=stratify
    )
    return np.sort(train_rows), np.sort(validation_rows)


StopRequest = Callable[[], bool]
CheckpointCallback = Callable[[TrainingProgress], None]


def run_epoch(
    network: Network,
    optimizer: Optimizer,
    X: NDArray,
    y: NDArray,
    sample_weight: NDArray | None,
    batch_size: int,
    rng: np.random.Generator | None,
    schedule: LearningRateSchedule | None = None,
) -> float:
    """Train on every mini-batch once; return the sample-weighted mean batch loss.

    A ``per_step`` ``schedule`` sets the learning rate after every step. Its
    epoch hook is left to the caller, which knows the epoch count and the
    monitored loss.

    Raises
    ------
    TrainingDivergedError
        If a batch loss or a weight becomes NaN or infinite. The network then
        has the weights it had before the epoch.
    """
    start_parameters = network.parameters.copy()
    progress = TrainingProgress(History())
    try:
        with silenced_float_errors():
            _run_batches(
                network,
                optimizer,
                X,
                y,
                sample_weight,
                batch_size,
                rng,
                progress,
                schedule=schedule,
            )
        _check_weights(network, progress)
    except Divergence as divergence:
        network.parameters[...] = start_parameters
        restored = "its weights from before this epoch"
        raise diverged_error(
            divergence, None, optimizer, None, restored, network
        ) from None
    return progress.loss_sum / progress.weight_sum


def silenced_float_errors() -> np.errstate:
    """Return a context that keeps NumPy from warning about overflow and NaN.

    The training loops check every batch loss and, after each epoch, the
    weights and the validation loss, and raise Divergence for a value that is
    NaN or infinite. NumPy's RuntimeWarnings about the same values would only
    print before that error.
    """
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


class Divergence(Exception):
    """A batch loss or the weights became NaN or infinite: what, and where.

    The training loops raise it inside an epoch, and catch it to restore the
    best weights and raise the :class:`TrainingDivergedError` that
    :func:`diverged_error` builds.
    """

    def __init__(self, quantity: str, value: float, batch: int, n_batches: int):
        super().__init__(quantity)
        self.quantity = quantity
        self.value = value
        self.batch = batch
        self.n_batches = n_batches


def _run_batches(
    network: Network,
    optimizer: Optimizer,
    X: NDArray,
    y: NDArray,
    sample_weight: NDArray | None,
    batch_size: int,
    rng: np.random.Generator | None,
    progress: TrainingProgress,
    stop_requested: StopRequest | None = None,
    schedule: LearningRateSchedule | None = None,
) -> bool:
    """Train on the epoch's remaining mini-batches; return whether all were run.

    The shuffled order is drawn in full, as :func:`iterate_batches` draws it,
    and the ``progress.rows_done`` rows that an interrupted run trained on are
    skipped. A stop request ends the epoch after the current batch.
    """
    n_samples = X.shape[0]
    order = rng.permutation(n_samples) if rng is not None else np.arange(n_samples)
    n_batches = progress.batches_done + math.ceil(
        (n_samples - progress.rows_done) / batch_size
    )
    for start in range(progress.rows_done, n_samples, batch_size):
        rows = order[start : start + batch_size]
        batch_weight = None if sample_weight is None else sample_weight[rows]
        loss, gradients = network.compute_gradients(X[rows], y[rows], batch_weight)
        if not math.isfinite(loss):
            raise Divergence("loss", loss, progress.batches_done + 1, n_batches)
        optimizer.step(network.parameters, gradients)
        network.apply_constraints()
        if schedule is not None and schedule.per_step:
            schedule.on_step_end(optimizer)

        weight = rows.size if batch_weight is None else float(batch_weight.sum())
        progress.loss_sum += loss * weight
        progress.weight_sum += weight
        progress.rows_done += rows.size
        progress.batches_done += 1
        finished = progress.rows_done >= n_samples
        if not finished and stop_requested is not None and stop_requested():
            return False
    return True


def _check_weights(network: Network, progress: TrainingProgress) -> None:
    """Raise Divergence if a weight or bias is NaN or infinite."""
    # min and max propagate NaN and infinity without allocating a mask.
    lowest = network.parameters.min()
    highest = network.parameters.max()
    if not (math.isfinite(lowest) and math.isfinite(highest)):
        value = lowest if not math.isfinite(lowest) else highest
        raise Divergence(
            "weights", float(value), progress.batches_done, progress.batches_done
        )


def diverged_error(
    divergence: Divergence,
    epoch: int | None,
    optimizer: Optimizer,
    history: History | None,
    restored: str,
    network: Network | None = None,
) -> TrainingDivergedError:
    """Build the error for ``divergence``; ``restored`` names the weights kept.

    ``network``, with the kept weights restored, lets the message blame a weight
    penalty that is infinite even there instead of the learning rate.
    """
    where = f"batch {divergence.batch} of {divergence.n_batches}"
    if epoch is not None:
        where = f"epoch {epoch}, {where}"
    advice = None if network is None else penalty_advice(network)
    if advice is None:
        advice = (
            "The usual causes are a learning rate that is too high (it is "
            f"{optimizer.learning_rate:g}) and inputs or targets that are not "
            "standardized. Lower the learning rate, keep standardization on, or use "
            "the adam optimizer."
        )
    message = (
        f"training diverged: the {divergence.quantity} became {divergence.value} in "
        f"{where}. {advice} The network keeps {restored}"
    )
    return TrainingDivergedError(
        message, epoch=epoch, batch=divergence.batch, history=history
    )


def penalty_advice(network: Network) -> str | None:
    """Return advice to lower ``l1`` or ``l2`` if the penalty of the current weights is infinite."""
    if math.isfinite(network.penalty()):
        return None
    strengths = " and ".join(
        f"{name}={value:g}"
        for name, value in (("l1", network.l1), ("l2", network.l2))
        if value
    )
    return (
        "The weight penalty is infinite even for the weights the network keeps, "
        f"so {strengths} is too large; lower it."
    )


def train(
    network: Network,
    optimizer: Optimizer,
    X: NDArray,
    y: NDArray,
    *,
    batch_size: int,
    stopping: StoppingRule,
    rng: np.random.Generator | None,
    sample_weight: NDArray | None = None,
    validation: tuple[NDArray, ...] | None = None,
    metric_function: MetricFunction | None = None,
    on_epoch_end: EpochCallback | None = None,
    restore_best: bool = True,
    warn_on_max_epochs: bool = True,
    progress: TrainingProgress | None = None,
    on_checkpoint: CheckpointCallback | None = None,
    stop_requested: StopRequest | None = None,
    schedule: LearningRateSchedule | None = None,
) -> History:
    """Train ``network`` until the stopping rule ends it; return the history.

    Parameters
    ----------
    X, y : ndarray of shape (n_samples, n_features) and (n_samples, n_outputs)
        Encoded training inputs and targets, in the network's dtype.
    batch_size : int
        Rows per mini-batch; the last batch of an epoch may be smaller.
    stopping : StoppingRule
        Epoch cap, patience and tolerance.
    rng : numpy.random.Generator or None
        Shuffles the rows every epoch; None keeps them in order.
    sample_weight : ndarray of shape (n_samples,), optional
        Weight of each training row in the loss.
    validation : (X_val, y_val) or (X_val, y_val, sample_weight_val), optional
        Held-out rows whose loss early stopping monitors, weighted when the
        third array is given.
    metric_function : callable, optional
        Receives the network's predictions ŷ for the validation rows (or the
        training rows without validation) and returns the task's metrics.
    on_epoch_end : callable, optional
        Called with each :class:`EpochRecord`, for progress display.
    restore_best : bool, default True
        Whether to end with the weights of the best epoch; False keeps those of
        the last epoch.
    warn_on_max_epochs : bool, default True
        Whether to issue a ConvergenceWarning when training reaches
        ``max_epochs``. Callers that name the epoch cap differently turn it off
        and warn from ``History.converged`` in their own words.
    progress : TrainingProgress, optional
        Where a previous run stopped, from a checkpoint. The network, the
        optimizer and ``rng`` must already hold that run's state, with ``rng``
        at ``progress.epoch_rng_state``. Training then continues from there.
    on_checkpoint : callable, optional
        Called with the progress after every epoch, and after the batch where a
        stop request ends training, while the network has the weights to
        continue from.
    stop_requested : callable, optional
        Polled after every batch. When it returns True, training finishes the
        batch, calls ``on_checkpoint``, sets ``History.interrupted`` and ends as
        if the stopping rule had ended it.
    schedule : LearningRateSchedule, optional
        Sets ``optimizer.learning_rate``. Its ``start`` runs before the first
        batch, ``on_step_end`` after every step of a ``per_step`` schedule, and
        ``on_epoch_end`` after every epoch with the monitored loss, before
        ``on_checkpoint``. To resume, restore its state with ``set_state``
        before calling ``train``.

    Raises
    ------
    TrainingDivergedError
        If a batch loss, a weight or the validation loss becomes NaN or
        infinite. The network then has the weights of the best epoch (with
        ``restore_best``) or those of the last completed epoch, and the error's
        ``history`` has the completed epochs.
    """
    batch_size = checked_count("batch_size", batch_size, 1)
    check_callback("metric_function", metric_function)
    check_callback("on_epoch_end", on_epoch_end)
    check_callback("on_checkpoint", on_checkpoint)
    check_callback("stop_requested", stop_requested)
    if progress is None:
        monitor = "validation_loss" if validation else "train_loss"
        progress = TrainingProgress(History(monitor=monitor))
        progress.start_epoch(rng)
    if progress.best_parameters is None:
        progress.best_parameters = network.parameters.copy()
    history = progress.history
    history.interrupted = False
    metric_inputs = X if validation is None else validation[0]
    # What a divergence without a best epoch to return to falls back on.
    last_good_parameters = network.parameters.copy()
    last_good = "the weights it resumed with"
    if progress.epoch == 1 and progress.rows_done == 0:
        last_good = "its initial weights"
    if schedule is not None:
        schedule.start(optimizer)

    try:
        for epoch in range(progress.epoch, int(stopping.max_epochs) + 1):
            with silenced_float_errors():
                finished = _run_batches(
                    network,
                    optimizer,
                    X,
                    y,
                    sample_weight,
                    batch_size,
                    rng,
                    progress,
                    stop_requested,
                    schedule,
                )
            if not finished:
                history.interrupted = True
                break
            record = _end_epoch(
                network, epoch, progress, validation, metric_function, metric_inputs
            )
            logger.debug("epoch %d: %s", epoch, record)
            if on_epoch_end is not None:
                on_epoch_end(record)
            _update_best(network, stopping, progress, record)
            if schedule is not None:
                monitored = record.validation_loss
                if monitored is None:
                    monitored = record.train_loss
                schedule.on_epoch_end(
                    optimizer, epoch, monitored, samples_seen=epoch * X.shape[0]
                )
            progress.start_epoch(rng)
            last_good_parameters[...] = network.parameters
            last_good = f"the weights of epoch {epoch}"
            if progress.epochs_without_improvement >= stopping.patience:
                history.converged = True
            elif stop_requested is not None and stop_requested():
                history.interrupted = True
            if on_checkpoint is not None:
                on_checkpoint(progress)
            if history.converged or history.interrupted:
                break
    except Divergence as divergence:
        if restore_best and history.best_epoch:
            network.parameters[...] = progress.best_parameters
            restored = f"the weights of epoch {history.best_epoch}, the best so far"
        else:
            network.parameters[...] = last_good_parameters
            restored = last_good
        raise diverged_error(
            divergence, epoch, optimizer, history, restored, network
        ) from None

    # A stop between epochs was checkpointed in the loop. One inside an epoch
    # is checkpointed here, with the rows of the epoch done so far.
    if history.interrupted and on_checkpoint is not None and progress.rows_done:
        on_checkpoint(progress)
    if restore_best:
        network.parameters[...] = progress.best_parameters
    if warn_on_max_epochs and not (history.converged or history.interrupted):
        message = (
            f"training reached max_epochs={stopping.max_epochs} before the "
            f"{history.monitor.replace('_', ' ')} stopped improving; raise max_epochs "
            "or the learning rate if the loss was still falling"
        )
        warnings.warn(message, ConvergenceWarning, stacklevel=caller_stacklevel())
    logger.info(
        "trained %d epochs, best epoch %d (%s %.6g)",
        history.epochs,
        history.best_epoch,
        history.monitor,
        progress.best_loss,
    )
    return history


def _end_epoch(
    network: Network,
    epoch: int,
    progress: TrainingProgress,
    validation: tuple[NDArray, ...] | None,
    metric_function: MetricFunction | None,
    metric_inputs: NDArray,
) -> EpochRecord:
    """Check the weights, measure the epoch's losses and metrics, and record them."""
    _check_weights(network, progress)
    train_loss = progress.loss_sum / progress.weight_sum

    validation_loss = None
    if validation is not None:
        with silenced_float_errors():
            validation_loss = network.loss_value(*validation)
        if not math.isfinite(validation_loss):
            raise Divergence(
                "validation loss",
                validation_loss,
                progress.batches_done,
                progress.batches_done,
            )
    metrics = {}
    if metric_function is not None:
        metrics = metric_function(network.forward(metric_inputs))

    record = EpochRecord(epoch, train_loss, validation_loss, metrics)
    progress.history.records.append(record)
    return record


def _update_best(
    network: Network,
    stopping: StoppingRule,
    progress: TrainingProgress,
    record: EpochRecord,
) -> None:
    monitored = record.validation_loss
    if monitored is None:
        monitored = record.train_loss
    if stopping.improves(monitored, progress.best_loss):
        progress.best_loss = monitored
        progress.best_parameters[...] = network.parameters
        progress.history.best_epoch = record.epoch
        progress.epochs_without_improvement = 0
    else:
        progress.epochs_without_improvement += 1
