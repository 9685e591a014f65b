"""Checkpoints: a model file that also stores how to continue its training.

A checkpoint is an ordinary model file (see :mod:`mlpkit.modelfile`), so
``MLP.load`` reads it as the model at its latest weights. Its metadata adds a
``checkpoint`` section, and its arrays add the best epoch's weights and the
optimizer's state::

    metadata.json   ... the model's metadata ...
                    checkpoint: optimizer step count, random generator state,
                                early-stopping state, the unfinished epoch's
                                progress, a fingerprint of the training data,
                                the learning-rate schedule's config and state,
                                the dropout generator's state
    arrays/best_parameters.npy        weights of the best epoch, flat
    arrays/optimizer_<state>.npy      e.g. optimizer_first_moment for Adam

Continuing from it with the same data and settings gives bit for bit the
weights of a run that was never stopped, because every piece of state that the
next batch depends on is restored exactly. Settings that only change later
steps, such as the learning rate or the number of epochs, may differ. Those
that would change what was already learned, such as the architecture, may not.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .errors import ModelFileError, ParameterError
from .history import History
from .optimizers import Optimizer
from .schedules import LearningRateSchedule

if TYPE_CHECKING:
    from .network import Network

SECTION = "checkpoint"
BEST_PARAMETERS = "best_parameters"
OPTIMIZER_PREFIX = "optimizer_"

FIXED_SETTINGS = (
    "hidden_layers",
    "activation",
    "optimizer",
    "dtype",
    "seed",
    "task",
    "standardize",
    "validation_fraction",
    "learning_rate_schedule",
    "loss",
    "huber_delta",
    "quantile",
    "maxout_pieces",
)
"""Settings that a resumed training must share with its checkpoint.

The others (learning rate, optimizer and schedule hyperparameters, batch size,
maximum epochs, patience, tolerance, class weights and regularization) only
change the steps still to come.
"""


@dataclass
class TrainingProgress:
    """Progress of a training run, beyond the network, optimizer and generator.

    A checkpoint stores it, so :func:`mlpkit.training.train` can continue from it
    and produce the weights of an uninterrupted run. Between epochs
    ``rows_done`` is 0. A stop request inside an epoch leaves the rows trained so
    far and their loss sums, and the epoch's first rows are skipped on resuming.

    Attributes
    ----------
    history : History
        Records of the completed epochs.
    best_loss : float
        Lowest monitored loss so far, ``inf`` before the first epoch.
    best_parameters : ndarray of shape (n_parameters,) or None
        Weights of the best epoch; None before training starts.
    epochs_without_improvement : int
        Epochs since the monitored loss last improved.
    epoch_rng_state : dict or None
        ``bit_generator.state`` of the shuffling generator at the start of the
        unfinished epoch, or of the next epoch; None without shuffling.
    rows_done : int
        Rows of the unfinished epoch already trained on.
    batches_done : int
        Mini-batches of the unfinished epoch already trained on.
    loss_sum, weight_sum : float
        Sample-weighted sum of the batch losses and of the weights in the
        unfinished epoch, whose ratio becomes the epoch's training loss.
    """

    history: History
    best_loss: float = math.inf
    best_parameters: NDArray | None = None
    epochs_without_improvement: int = 0
    epoch_rng_state: dict[str, Any] | None = None
    rows_done: int = 0
    batches_done: int = 0
    loss_sum: float = 0.0
    weight_sum: float = 0.0

    @property
    def epoch(self) -> int:
        """The epoch in progress or next to start, counted from 1."""
        return self.history.epochs + 1

    def start_epoch(self, rng: np.random.Generator | None) -> None:
        """Clear the unfinished epoch's sums and note the generator state."""
        self.rows_done = 0
        self.batches_done = 0
        self.loss_sum = 0.0
        self.weight_sum = 0.0
        self.epoch_rng_state = None if rng is None else rng.bit_generator.state


@dataclass
class ResumeState:
    """State that training continues from, which a checkpoint adds to a model.

    Attributes
    ----------
    progress : TrainingProgress
        History, early-stopping state and the unfinished epoch's progress.
    optimizer_iterations : int
        The optimizer's step count.
    optimizer_state : dict of str to ndarray
        The optimizer's state arrays by name, such as ``first_moment``.
    rng_state : dict or None
        ``bit_generator.state`` to restore before continuing.
    fingerprint : str
        :func:`data_fingerprint` of the data the checkpoint was trained on.
    schedule_state : dict or None
        ``LearningRateSchedule.get_state()`` of the learning-rate schedule, or
        None for a training without one.
    dropout_state : dict or None
        ``Network.get_dropout_state()`` when the checkpoint was written, to
        restore with ``Network.set_dropout_state``; None for a network
        without dropout.
    """

    progress: TrainingProgress
    optimizer_iterations: int
    optimizer_state: dict[str, NDArray]
    rng_state: dict[str, Any] | None
    fingerprint: str
    schedule_state: dict[str, Any] | None = None
    dropout_state: dict[str, Any] | None = None


def data_fingerprint(
    features: pd.DataFrame, target: pd.DataFrame, sample_weight: NDArray | None
) -> str:
    """Return a SHA-256 digest of the column names, values and sample weights."""
    digest = hashlib.sha256()
    for frame in (features, target):
        digest.update(repr([str(name) for name in frame.columns]).encode("utf-8"))
        try:
            hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        except TypeError:
            # The label lists of a multilabel target are unhashable; hash their text.
            text = frame.map(repr)
            hashes = pd.util.hash_pandas_object(text, index=False).to_numpy()
        digest.update(hashes.tobytes())
    if sample_weight is not None:
        digest.update(np.ascontiguousarray(sample_weight, dtype=np.float64).tobytes())
    return digest.hexdigest()


def checkpoint_contents(
    progress: TrainingProgress,
    optimizer: Optimizer,
    fingerprint: str,
    schedule: LearningRateSchedule | None = None,
    network: Network | None = None,
) -> tuple[dict[str, Any], dict[str, NDArray]]:
    """Return the ``checkpoint`` metadata section and the arrays it adds.

    With a ``network`` that uses dropout, the section also stores its dropout
    generator's state, which the next batch's masks depend on.
    """
    iterations, state = optimizer.get_state()
    section = {
        "optimizer_iterations": iterations,
        "optimizer_state": sorted(state),
        "rng_state": progress.epoch_rng_state,
        "best_loss": None if math.isinf(progress.best_loss) else progress.best_loss,
        "epochs_without_improvement": progress.epochs_without_improvement,
        "rows_done": progress.rows_done,
        "batches_done": progress.batches_done,
        "loss_sum": progress.loss_sum,
        "weight_sum": progress.weight_sum,
        "data_fingerprint": fingerprint,
    }
    if schedule is not None:
        section["schedule"] = {
            "config": schedule.get_config(),
            "state": schedule.get_state(),
        }
    if network is not None and network.has_dropout:
        section["dropout_rng_state"] = network.get_dropout_state()
    arrays = {BEST_PARAMETERS: progress.best_parameters}
    for name, array in state.items():
        arrays[f"{OPTIMIZER_PREFIX}{name}"] = array
    return section, arrays


def read_resume_state(
    metadata: dict[str, Any],
    arrays: dict[str, NDArray],
    history: History,
    parameters: NDArray,
    path: str | os.PathLike,
) -> ResumeState:
    """Return the resume state of a checkpoint file's contents.

    Raises
    ------
    ModelFileError
        If the file has no checkpoint section, as a model saved by ``MLP.save``
        has none, or if a value in it has the wrong type, range or shape.
    """
    name = str(path)
    section = metadata.get(SECTION)
    if section is None:
        raise ModelFileError(
            f"{name!r} is a model file but not a checkpoint, so training cannot "
            "resume from it; pass a file written with --checkpoint (or the "
            "checkpoint argument of MLP.fit)"
        )
    try:
        return _parse_section(section, arrays, history, parameters)
    except (KeyError, TypeError, ValueError) as error:
        problem = f"missing key {error}" if isinstance(error, KeyError) else error
        raise ModelFileError(
            f"checkpoint {name!r} has an invalid checkpoint section ({problem}); "
            "it is damaged or was not written by mlpkit"
        ) from None


def _parse_section(
    section: Any,
    arrays: dict[str, NDArray],
    history: History,
    parameters: NDArray,
) -> ResumeState:
    if not isinstance(section, dict):
        raise TypeError("the section must be a dict")

    best_parameters = _parameter_array(arrays, BEST_PARAMETERS, parameters)
    optimizer_state = {}
    state_names = section["optimizer_state"]
    if not isinstance(state_names, list):
        raise TypeError("optimizer_state must be a list of names")
    for state_name in state_names:
        array_name = f"{OPTIMIZER_PREFIX}{state_name}"
        optimizer_state[state_name] = _parameter_array(arrays, array_name, parameters)

    rng_state = section["rng_state"]
    if rng_state is not None:
        # Setting a state checks it, so a damaged one fails here.
        np.random.default_rng().bit_generator.state = rng_state

    best_loss = section["best_loss"]
    progress = TrainingProgress(
        history=history,
        best_loss=math.inf if best_loss is None else _number(best_loss, "best_loss"),
        best_parameters=best_parameters,
        epochs_without_improvement=_count(section, "epochs_without_improvement"),
        epoch_rng_state=rng_state,
        rows_done=_count(section, "rows_done"),
        batches_done=_count(section, "batches_done"),
        loss_sum=_number(section["loss_sum"], "loss_sum"),
        weight_sum=_number(section["weight_sum"], "weight_sum"),
    )
    fingerprint = section["data_fingerprint"]
    if not isinstance(fingerprint, str):
        raise TypeError("data_fingerprint must be text")
    return ResumeState(
        progress=progress,
        optimizer_iterations=_count(section, "optimizer_iterations"),
        optimizer_state=optimizer_state,
        rng_state=rng_state,
        fingerprint=fingerprint,
        schedule_state=_schedule_state(section.get("schedule")),
        dropout_state=_dropout_state(section.get("dropout_rng_state")),
    )


def _dropout_state(state: Any) -> dict[str, Any] | None:
    """Return the saved dropout generator state, checked by setting it."""
    if state is None:
        return None
    if not isinstance(state, dict):
        raise TypeError("dropout_rng_state must be a dict")
    np.random.default_rng().bit_generator.state = state
    return state


def _schedule_state(entry: Any) -> dict[str, Any] | None:
    """Return the saved schedule state, checked by restoring it into a copy."""
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise TypeError("schedule must be a dict")
    config, state = entry["config"], entry["state"]
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise TypeError("the schedule's config and state must be dicts")
    try:
        LearningRateSchedule.from_config(config).set_state(state)
    except ParameterError as error:
        raise ValueError(f"invalid schedule: {error}") from None
    return state


def _parameter_array(
    arrays: dict[str, NDArray], name: str, parameters: NDArray
) -> NDArray:
    array = arrays[name]
    if array.shape != parameters.shape:
        raise ValueError(
            f"array {name!r} has shape {array.shape}, but the network has "
            f"{parameters.size} parameters"
        )
    return array.astype(parameters.dtype, copy=True)


def _count(section: dict[str, Any], key: str) -> int:
    value = section[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a count, not {value!r}")
    return value


def _number(value: Any, key: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{key} must be a number, not {value!r}")
    return float(value)


def check_resumable(
    settings: dict[str, Any],
    saved_settings: dict[str, Any],
    progress: TrainingProgress,
    path: str | os.PathLike,
) -> None:
    """Raise ParameterError unless training with ``settings`` can continue.

    Parameters
    ----------
    settings : dict
        ``MLP.get_settings()`` of the run that resumes.
    saved_settings : dict
        The settings stored in the checkpoint.
    progress : TrainingProgress
        The checkpoint's progress, to tell whether any epoch is left to train.
    path : str or path-like
        The checkpoint, named in messages.
    """
    name = str(path)
    for key in FIXED_SETTINGS:
        if settings[key] != saved_settings.get(key):
            raise ParameterError(
                f"checkpoint {name!r} was trained with {key}="
                f"{saved_settings.get(key)!r}, but this run has {key}="
                f"{settings[key]!r}; resume with the checkpoint's value, or start a "
                "new training instead of resuming"
            )

    history = progress.history
    if history.epochs >= settings["max_epochs"]:
        raise ParameterError(
            f"checkpoint {name!r} has already trained {history.epochs} epochs, and "
            f"this run has max_epochs={settings['max_epochs']}; raise max_epochs to "
            "train more"
        )
    if progress.epochs_without_improvement >= settings["patience"]:
        raise ParameterError(
            f"training in checkpoint {name!r} already converged: the monitored loss "
            f"has not improved for {progress.epochs_without_improvement} epochs, and "
            f"this run has patience={settings['patience']}; raise patience to train "
            "more"
        )
