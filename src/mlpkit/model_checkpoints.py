"""Write an :class:`~mlpkit.model.MLP`'s checkpoint, and read one back to resume.

A checkpoint is a model file (:mod:`mlpkit.modelfile`) with the MLP's usual
sections, plus the training state that :mod:`mlpkit.checkpoints` describes:
the progress inside the epoch, the optimizer and schedule state and a
fingerprint of the training rows.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING

import pandas as pd

from .checkpoints import (
    SECTION as CHECKPOINT_SECTION,
    ResumeState,
    check_resumable,
    checkpoint_contents,
    read_resume_state,
)
from .data import format_columns
from .errors import CheckpointWarning, DataError, caller_stacklevel
from .modelfile import load_model_file, save_model_file
from .training import TrainingProgress

if TYPE_CHECKING:
    from .model import MLP


def read_checkpoint(
    model: MLP,
    path: str | os.PathLike,
    features: pd.DataFrame,
    target: pd.DataFrame,
    fingerprint: str,
) -> tuple[MLP, ResumeState]:
    """Read a checkpoint and check that ``model``'s fit can continue from it.

    Returns the model saved in the checkpoint and its training state.

    Raises
    ------
    ModelFileError, ParameterError
        If ``path`` is not a checkpoint, or its settings differ from the
        model's in a way that cannot continue.
    DataError
        If ``features`` or ``target`` have other columns than the checkpoint.

    Warns
    -----
    CheckpointWarning
        If ``fingerprint`` differs from the checkpoint's, because the rows
        differ. The warning is attributed to the code that called ``MLP.fit``.
    """
    metadata, arrays = load_model_file(path)
    saved = type(model)._from_file_contents(metadata, arrays, path)
    state = read_resume_state(
        metadata, arrays, saved.history_, saved.network_.parameters, path
    )
    received = {
        "feature": [str(name) for name in features.columns],
        "target": [str(name) for name in target.columns],
    }
    expected = {
        "feature": saved.preprocessor_.feature_names_in_,
        "target": saved.target_encoder_.target_names_,
    }
    for kind in ("feature", "target"):
        if sorted(received[kind]) != sorted(expected[kind]):
            raise DataError(
                f"the {kind} columns are {format_columns(received[kind])}, but "
                f"checkpoint {str(path)!r} was trained on "
                f"{format_columns(expected[kind])}; resume with the same "
                "columns, or start a new training"
            )
    # After the columns, so that data of another table is reported as such
    # rather than as a setting or convergence problem.
    check_resumable(model.get_settings(), saved.get_settings(), state.progress, path)
    if state.fingerprint != fingerprint:
        warnings.warn(
            f"the training data differs from the rows that checkpoint "
            f"{str(path)!r} was trained on, so the result will differ from an "
            "uninterrupted training",
            CheckpointWarning,
            stacklevel=caller_stacklevel(),
        )
    return saved, state


def write_checkpoint(
    model: MLP,
    path: str | os.PathLike,
    progress: TrainingProgress,
    fingerprint: str,
) -> None:
    """Write ``model`` and its training state at ``progress`` to ``path``."""
    section, extra_arrays = checkpoint_contents(
        progress,
        model.optimizer_,
        fingerprint,
        model.schedule_,
        network=model.network_,
    )
    metadata = model._file_metadata(progress.history)
    metadata[CHECKPOINT_SECTION] = section
    arrays = {**model.network_.get_arrays(), **extra_arrays}
    # Stored, not deflated: a checkpoint is rewritten after every epoch.
    save_model_file(path, metadata, arrays, compress=False)
