"""The model file: named NumPy arrays and JSON metadata in one zip archive.

Layout (a zip file, like NumPy's ``.npz``)::

    metadata.json          format name and version, architecture,
                           preprocessing, classes, settings, history
    arrays/<name>.npy      one array per member, NumPy's .npy format

Arrays are read with ``allow_pickle=False`` and metadata with :mod:`json`, so
loading a model never runs code from the file. A file is written to a
temporary name beside its destination and renamed over it, so a crash leaves
either the old file or the new one, never half of one.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ModelFileError

FORMAT_NAME = "mlpkit-model"
FORMAT_VERSION = 1
METADATA_MEMBER = "metadata.json"
ARRAY_PREFIX = "arrays/"


def write_atomically(path: str | os.PathLike, write: Any) -> None:
    """Call ``write(file)`` on a temporary file, then rename it to ``path``."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_model_file(
    path: str | os.PathLike, metadata: dict[str, Any], arrays: dict[str, NDArray]
) -> None:
    """Write ``metadata`` and ``arrays`` to ``path`` atomically."""
    header = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **metadata}
    text = json.dumps(header, indent=1, allow_nan=False)

    def write(file: Any) -> None:
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(METADATA_MEMBER, text)
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(
                    buffer, np.ascontiguousarray(array), allow_pickle=False
                )
                archive.writestr(f"{ARRAY_PREFIX}{name}.npy", buffer.getvalue())

    write_atomically(path, write)


def load_model_file(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, NDArray]]:
    """Read a model file; return its metadata and arrays.

    Raises
    ------
    ModelFileError
        If the file is missing, not a model file, damaged or truncated, or
        written in a newer format than this mlpkit reads.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file {str(path)!r} not found; check the path")
    if path.is_dir():
        raise ModelFileError(f"{str(path)!r} is a directory, not a model file")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{str(path)!r} is not an mlpkit model file (or is truncated); "
            "pass a file written by 'mlpkit train' or MLP.save"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            metadata = _read_metadata(archive, path)
            arrays = _read_arrays(archive, path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        if isinstance(error, ModelFileError):
            raise
        raise ModelFileError(
            f"model file {str(path)!r} is damaged or truncated ({error}); "
            "save or copy the model again"
        ) from error
    return metadata, arrays


def _read_metadata(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    if METADATA_MEMBER not in archive.namelist():
        raise ModelFileError(
            f"{str(path)!r} is a zip archive but not an mlpkit model file "
            f"(no {METADATA_MEMBER}); pass a file written by 'mlpkit train'"
        )
    try:
        metadata = json.loads(archive.read(METADATA_MEMBER).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(
            f"model file {str(path)!r} has unreadable metadata ({error}); "
            "save the model again"
        ) from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f"{str(path)!r} is not an mlpkit model file; "
            "pass a file written by 'mlpkit train'"
        )
    version = metadata.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"model file {str(path)!r} has no valid format version")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"model file {str(path)!r} has format version {version}, newer than "
            f"{FORMAT_VERSION} which this mlpkit reads; upgrade mlpkit to load it"
        )
    return metadata


def _read_arrays(archive: zipfile.ZipFile, path: Path) -> dict[str, NDArray]:
    arrays = {}
    for member in archive.infolist():
        name = member.filename
        if not name.startswith(ARRAY_PREFIX) or not name.endswith(".npy"):
            continue
        with archive.open(member) as file:
            try:
                array = np.lib.format.read_array(file, allow_pickle=False)
            except ValueError as error:
                raise ModelFileError(
                    f"model file {str(path)!r} has an invalid array {name!r} "
                    f"({error}); save the model again"
                ) from error
        arrays[name[len(ARRAY_PREFIX) : -len(".npy")]] = array
    return arrays
