"""Loading model files for the commands, with advice in command-line terms.

A model file contains either a supervised MLP or an autoencoder. The library's
loaders name the other class to load it with. A command line user needs the
other command instead, so these loaders name it.
"""

from __future__ import annotations

from pathlib import Path

from ..autoencoder import AUTOENCODER_KIND, Autoencoder
from ..errors import ModelFileError
from ..model import MLP
from ..model_io import MODEL_KIND_KEY
from ..modelfile import load_model_file


def model_kind(path: str | Path) -> str | None:
    """Return the kind named in a model file, such as ``"autoencoder"``; None for MLPs.

    Raises
    ------
    ModelFileError
        If the file cannot be read as a model file.
    """
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
    """
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
    """
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
