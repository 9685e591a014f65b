"""The training loop: mini-batches, epochs, validation and early stopping.

One epoch shuffles the training rows, and for each mini-batch runs forward
propagation, backpropagation and one optimizer step. After the epoch the
validation loss and the task's metric are recorded in a :class:`History`.
Training stops when the monitored loss (validation loss, or training loss
without a validation set) has not improved by a relative ``tolerance`` for
``patience`` epochs. The weights of the best epoch are then restored, unless
the caller keeps those of the last epoch.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sklearn.model_selection import train_test_split

from .errors import ConvergenceWarning, DataError, ParameterError
from .network import Network
from .optimizers import Optimizer

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
        if int(self.max_epochs) < 1:
            raise ParameterError(
                f"max_epochs must be at least 1; received: max_epochs={self.max_epochs!r}"
            )
        if int(self.patience) < 1:
            raise ParameterError(
                f"patience must be at least 1; received: patience={self.patience!r}"
            )
        if not (0.0 <= float(self.tolerance) < 1.0):
            raise ParameterError(
                f"tolerance must be in [0, 1); received: tolerance={self.tolerance!r}"
            )

    def improves(self, loss: float, best: float) -> bool:
        """Return whether ``loss`` beats ``best`` by the relative tolerance."""
        if math.isinf(best):
            return loss < best
        return loss < best - self.tolerance * abs(best)


@dataclass
class EpochRecord:
    """Losses and task metrics measured after one epoch."""

    epoch: int
    train_loss: float
    validation_loss: float | None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class History:
    """Per-epoch records of a training run, and how it ended.

    Attributes
    ----------
    records : list of EpochRecord
        One record per epoch, in order; ``epoch`` counts from 1.
    best_epoch : int
        The epoch whose weights the network has after training.
    converged : bool
        Whether the stopping rule ended training before ``max_epochs``.
    monitor : str
        ``"validation_loss"`` or ``"train_loss"``: what early stopping watched.
    """

    records: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    converged: bool = False
    monitor: str = "validation_loss"

    @property
    def epochs(self) -> int:
        return len(self.records)

    @property
    def best(self) -> EpochRecord | None:
        return self.records[self.best_epoch - 1] if self.best_epoch else None

    def column(self, name: str) -> list[float | None]:
        """Return one value per epoch: ``train_loss``, ``validation_loss`` or a metric."""
        if name in ("train_loss", "validation_loss"):
            return [getattr(record, name) for record in self.records]
        return [record.metrics.get(name) for record in self.records]

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": [asdict(record) for record in self.records],
            "best_epoch": self.best_epoch,
            "converged": self.converged,
            "monitor": self.monitor,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        records = [EpochRecord(**record) for record in data.get("records", [])]
        return cls(
            records=records,
            best_epoch=int(data.get("best_epoch", 0)),
            converged=bool(data.get("converged", False)),
            monitor=str(data.get("monitor", "validation_loss")),
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
        has a single row or the validation rows are fewer than the classes.

    Returns
    -------
    train_rows, validation_rows : ndarray of int
        Sorted row positions.

    Raises
    ------
    DataError
        If either side of the split would be empty.
    """
    rows = np.arange(n_samples)
    stratify = None
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        n_validation = int(np.ceil(fraction * n_samples))
        if counts.min() >= 2 and n_validation >= counts.size:
            stratify = labels
        else:
            logger.info("validation split not stratified: a class is too rare")
    train_rows, validation_rows = train_test_split(
        rows, test_size=fraction, random_state=random_state, stratify=stratify
    )
    if train_rows.size == 0 or validation_rows.size == 0:
        raise DataError(
            f"{n_samples} rows are too few to hold out validation_fraction="
            f"{fraction}; add rows or train without a validation set"
        )
    return np.sort(train_rows), np.sort(validation_rows)


def run_epoch(
    network: Network,
    optimizer: Optimizer,
    X: NDArray,
    y: NDArray,
    sample_weight: NDArray | None,
    batch_size: int,
    rng: np.random.Generator | None,
) -> float:
    """Train on every mini-batch once; return the sample-weighted mean batch loss."""
    total_loss = 0.0
    total_weight = 0.0
    for rows in iterate_batches(X.shape[0], batch_size, rng):
        batch_weight = None if sample_weight is None else sample_weight[rows]
        loss, gradients = network.compute_gradients(X[rows], y[rows], batch_weight)
        optimizer.step(network.parameters, gradients)
        weight = rows.size if batch_weight is None else float(batch_weight.sum())
        total_loss += loss * weight
        total_weight += weight
    return total_loss / total_weight


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
    """
    if int(batch_size) < 1:
        raise ParameterError(
            f"batch_size must be at least 1; received: batch_size={batch_size!r}"
        )
    history = History(monitor="validation_loss" if validation else "train_loss")
    best_loss = math.inf
    best_parameters = network.parameters.copy()
    epochs_without_improvement = 0
    metric_inputs = validation[0] if validation else X

    for epoch in range(1, int(stopping.max_epochs) + 1):
        train_loss = run_epoch(network, optimizer, X, y, sample_weight, batch_size, rng)

        validation_loss = None
        if validation is not None:
            validation_loss = network.loss_value(*validation)
        metrics = {}
        if metric_function is not None:
            metrics = metric_function(network.forward(metric_inputs))
        record = EpochRecord(epoch, train_loss, validation_loss, metrics)
        history.records.append(record)
        logger.debug("epoch %d: %s", epoch, record)
        if on_epoch_end is not None:
            on_epoch_end(record)

        monitored = validation_loss if validation is not None else train_loss
        if stopping.improves(monitored, best_loss):
            best_loss = monitored
            best_parameters[...] = network.parameters
            history.best_epoch = epoch
            epochs_without_improvement = 0
        else:
            epochs_without_improvement += 1
        if epochs_without_improvement >= stopping.patience:
            history.converged = True
            break

    if restore_best:
        network.parameters[...] = best_parameters
    if warn_on_max_epochs and not history.converged:
        message = (
            f"training reached max_epochs={stopping.max_epochs} before the "
            f"{history.monitor.replace('_', ' ')} stopped improving; raise max_epochs "
            "or the learning rate if the loss was still falling"
        )
        warnings.warn(message, ConvergenceWarning, stacklevel=2)
    logger.info(
        "trained %d epochs, best epoch %d (%s %.6g)",
        history.epochs,
        history.best_epoch,
        history.monitor,
        best_loss,
    )
    return history
