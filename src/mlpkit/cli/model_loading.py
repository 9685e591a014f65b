"""Loading model files and checkpoints for the commands, with command-line advice.

A model file contains either a supervised MLP or an autoencoder. The library's
loaders name the other class to load it with. A command line user needs the
other command instead, so these loaders name it. A ``--resume`` checkpoint is
read before ``train`` loads its data, to reject a run with no epoch left.
"""

from __future__ import annotations

from pathlib import Path

from ..autoencoder import AUTOENCODER_KIND, Autoencoder
from ..errors import ModelFileError, ParameterError
from ..model import MLP
from ..model_io import MODEL_KIND_KEY
from ..modelfile import load_model_file
from .input_checks import check_input_file

MODEL_FILE = "model file"
"""The name of the MODEL argument in messages."""

RESUME_CHECKPOINT = "--resume checkpoint"
"""The name in messages of the file that ``train --resume`` reads."""


def model_kind(path: str | Path) -> str | None:
    """Return the kind named in a model file, such as ``"autoencoder"``; None for MLPs.

    Raises
    ------
    ModelFileError
        If the file cannot be read as a model file.
    """
    check_input_file(path, MODEL_FILE)
    metadata, _ = load_model_file(path)
    return metadata.get(MODEL_KIND_KEY)


_UNREADABLE = "unreadable"


def _readable_kind(path: str | Path) -> str | None:
    """Return :func:`model_kind`, or ``"unreadable"`` if it cannot be read."""
    try:
        return model_kind(path)
    except ModelFileError:
        return _UNREADABLE


def load_mlp(path: str | Path, command: str) -> MLP:
    """Load the supervised MLP that ``mlpkit command`` uses from ``path``.

    Raises
    ------
    ModelFileError
        If the file cannot be loaded as an MLP. For an autoencoder, the message
        names ``mlpkit anomalies``, the command that uses one.
    ParameterError
        If ``path`` is ``-``, a pipe or a device (:func:`check_input_file`).
    """
    check_input_file(path, MODEL_FILE)
    try:
        return MLP.load(path)
    except ModelFileError as error:
        if _readable_kind(path) != AUTOENCODER_KIND:
            raise
        raise ModelFileError(
            f"model file {str(path)!r} contains an autoencoder, but 'mlpkit "
            f"{command}' needs a model trained without --autoencoder; rank rows by "
            f"their reconstruction error with: mlpkit anomalies {path} DATA"
        ) from error


def load_autoencoder(path: str | Path) -> Autoencoder:
    """Load the autoencoder that ``mlpkit anomalies`` uses from ``path``.

    Raises
    ------
    ModelFileError
        If the file cannot be loaded as an autoencoder. For a supervised MLP,
        the message shows how to train an autoencoder.
    ParameterError
        If ``path`` is ``-``, a pipe or a device (:func:`check_input_file`).
    """
    check_input_file(path, MODEL_FILE)
    try:
        return Autoencoder.load(path)
    except ModelFileError as error:
        if _readable_kind(path) is not None:
            raise
        raise ModelFileError(
            f"model file {str(path)!r} contains a supervised model, but 'mlpkit "
            "anomalies' needs an autoencoder; train one with: mlpkit train DATA "
            "--autoencoder -o FILE"
        ) from error


def check_epochs_left(checkpoint: str | Path, max_epochs: int) -> None:
    """Raise ParameterError unless ``max_epochs`` is above the epochs of ``checkpoint``.

    After a checkpoint of N complete epochs, resuming trains epochs N + 1 up to
    ``--epochs``, and first finishes epoch N + 1 if Ctrl-C or SIGTERM stopped
    it partway. With ``--epochs`` at most N, no epoch is left, and training
    would only rewrite the model and the checkpoint.

    Raises
    ------
    ModelFileError
        If ``checkpoint`` is missing or cannot be loaded as an MLP.
    ParameterError
        If ``--epochs`` is not above the epochs the checkpoint has run.
    """
    if not Path(checkpoint).exists():
        raise ModelFileError(
            f"{RESUME_CHECKPOINT} {str(checkpoint)!r} not found; check the path, or "
            "pass the file that --checkpoint wrote"
        )
    epochs_run = MLP.load(checkpoint).history_.epochs
    if max_epochs > epochs_run:
        return
    raise ParameterError(
        f"{RESUME_CHECKPOINT} {str(checkpoint)!r} has already run {epochs_run} "
        f"epochs, so --epochs={max_epochs} leaves none to train; pass --epochs "
        f"above {epochs_run} to continue, or leave out --resume to start a new "
        "training"
    )
