"""Model file sections shared by :class:`~mlpkit.model.MLP` and the autoencoder.

Both models store the same sections in a model file (:mod:`mlpkit.modelfile`):
the mlpkit version, the constructor settings, the network, the preprocessing
and the training history, plus any sections of their own. These helpers write
that metadata, read the sections back with errors that name the file, and
check that the loaded parts fit together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from numpy.typing import NDArray

from . import __version__
from .errors import ModelFileError, ParameterError
from .history import History
from .modelfile import check_layer_arrays
from .network import Network
from .preprocessing import TabularPreprocessor

MODEL_KIND_KEY = "kind"
"""Metadata key that names another kind of model, such as ``"autoencoder"``.

An MLP's model file has no such key, so files written before it existed load.
"""

ModelT = TypeVar("ModelT")


def model_metadata(
    model: Any,
    history: History,
    *,
    kind: str | None = None,
    extra_sections: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the metadata of a fitted model's file.

    Parameters
    ----------
    model : MLP or Autoencoder
        A fitted model with ``get_settings``, ``network_`` and ``preprocessor_``.
    history : History
        Stored as the ``"history"`` section, last.
    kind : str or None, default None
        Stored first under :data:`MODEL_KIND_KEY`; None, as for an MLP, stores
        no such key.
    extra_sections : dict or None, default None
        Sections of the model's own, stored before the history.
    """
    metadata: dict[str, Any] = {}
    if kind is not None:
        metadata[MODEL_KIND_KEY] = kind
    metadata["mlpkit_version"] = __version__
    metadata["settings"] = model.get_settings()
    metadata["network"] = model.network_.get_config()
    metadata["preprocessing"] = model.preprocessor_.to_config()
    metadata.update(extra_sections or {})
    metadata["history"] = history.to_dict()
    return metadata


def load_model(
    cls: type[ModelT],
    metadata: dict[str, Any],
    arrays: dict[str, NDArray],
    name: str,
    extra_sections: Sequence[str] = (),
    load_extra: Callable[[ModelT, dict[str, Any]], None] | None = None,
) -> ModelT:
    """Build a ``cls`` model from the metadata and arrays of model file ``name``.

    The model gets ``network_``, ``preprocessor_`` and ``history_`` from the
    shared sections. ``load_extra(model, sections)`` then sets what the model's
    own ``extra_sections`` hold, before the history is read. Every section must
    be a dict, and the network's layer sizes are checked against ``arrays``
    before the network is built, so that they cannot allocate more than the
    file holds.

    Raises
    ------
    ModelFileError
        If a section is missing or not a dict, or building a part raises
        ModelFileError, KeyError, TypeError or ValueError. The message names
        the file.
    """
    keys = ("settings", "network", "preprocessing", *extra_sections, "history")
    try:
        sections = {}
        for key in keys:
            sections[key] = metadata[key]
            if not isinstance(sections[key], dict):
                raise TypeError(f"{key!r} must be a dict")
        check_layer_arrays(sections["network"], arrays)

        model = _model_from_settings(cls, sections["settings"])
        model.network_ = Network.from_config(sections["network"], arrays)
        model.preprocessor_ = TabularPreprocessor.from_config(
            sections["preprocessing"], dtype=model.network_.dtype
        )
        if load_extra is not None:
            load_extra(model, sections)
        model.history_ = History.from_dict(sections["history"])
    except ModelFileError as error:
        raise ModelFileError(f"model file {name!r}: {error}") from error
    except (KeyError, TypeError, ValueError) as error:
        problem = f"missing key {error}" if isinstance(error, KeyError) else error
        raise ModelFileError(
            f"model file {name!r} has invalid contents ({problem}); "
            "save the model again"
        ) from error
    return model


def _model_from_settings(cls: type[ModelT], settings: dict[str, Any]) -> ModelT:
    """Build an unfitted model from the settings section of a model file.

    The constructor checks every setting as it does for a caller, so a file
    with an invalid value raises ModelFileError naming the setting, which
    :func:`load_model` prefixes with the file name.
    """
    try:
        return cls(**settings)
    except ParameterError as error:
        setting = "a setting" if error.parameter is None else repr(error.parameter)
        raise ModelFileError(
            f"invalid value for {setting} in the settings ({error}); the file was "
            "changed or damaged, so save the model again"
        ) from error


def check_parts_agree(
    expected: dict[str, tuple[Any, Any]], name: str, sources: str
) -> None:
    """Raise ModelFileError if a part of a loaded network has an unexpected value.

    ``expected`` maps each part to ``(needed, found)``. ``needed`` is the value
    that ``sources`` (such as "settings and preprocessing") need, and ``found``
    is the value that the network of model file ``name`` has.
    """
    for part, (needed, found) in expected.items():
        if needed != found:
            raise ModelFileError(
                f"model file {name!r} is inconsistent: the network has {part} "
                f"{found!r}, but its {sources} need "
                f"{needed!r}; save the model again"
            )
