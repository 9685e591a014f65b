"""The model file: named NumPy arrays and JSON metadata in one zip archive.

Layout (a zip file, like NumPy's ``.npz``)::

    metadata.json          format name and version, architecture,
                           preprocessing, classes, settings, history
    arrays/<name>.npy      one array per member, NumPy's .npy format

A file is written to a temporary name beside its destination and renamed over
it, so a crash leaves either the old file or the new one, never half of one.

Loading treats the file as hostile, because model files travel between people:

- Nothing in the file runs as code. Metadata is parsed with :mod:`json`, and
  each array's ``.npy`` header with :func:`ast.literal_eval`. Only
  little- or big-endian float32 and float64 arrays are accepted, so no pickle
  is ever read.
- Memory use is bounded by the bytes that the file really contains. Before
  anything is decompressed, each member's uncompressed size (``file_size`` in
  its zip header) is checked against :data:`MAX_METADATA_BYTES` or the
  remaining array budget (``max_array_bytes``, :data:`MAX_ARRAY_BYTES` by
  default), and against :data:`MAX_COMPRESSION_RATIO` times its compressed
  size. An array's declared shape times its item size must equal the bytes
  that follow its header. Members are then decompressed in chunks of
  :data:`READ_CHUNK_BYTES`, so a header that lies about a size makes the read
  fail before more than that size is held.
- Members other than ``metadata.json`` and ``arrays/<name>.npy``, repeated
  names, encrypted members and compression methods other than stored and
  deflate are rejected before they are read.

Every problem raises :class:`~mlpkit.errors.ModelFileError`.
"""

from __future__ import annotations

import ast
import errno
import io
import json
import math
import os
import re
import secrets
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .activations import DEFAULT_MAXOUT_PIECES, check_maxout_pieces
from .errors import ModelFileError, ParameterError

FORMAT_NAME = "mlpkit-model"
FORMAT_VERSION = 1
METADATA_MEMBER = "metadata.json"
ARRAY_PREFIX = "arrays/"
ARRAY_SUFFIX = ".npy"
ARRAY_NAME = re.compile(r"[A-Za-z0-9_]+")
"""Allowed array names: letters, digits and underscores."""

MAX_METADATA_BYTES = 64 * 2**20
"""Maximum uncompressed size of ``metadata.json`` (64 MiB)."""

MAX_ARRAY_BYTES = 2 * 2**30
"""Default maximum of the summed uncompressed size of all arrays (2 GiB)."""

MAX_MEMBERS = 10_000
"""Maximum number of members in the archive."""

MAX_COMPRESSION_RATIO = 1100
"""Maximum uncompressed-to-compressed size ratio of a member.

Deflate cannot compress beyond about 1030:1. Measured with zlib on NumPy 2.4 and
Python 3.11: 100 MB of zero bytes deflates at 1029:1. A higher ratio in a zip
header is a lie or a zip bomb.
"""

UNSUPPORTED_FLAG_BITS = 0x1 | 0x20 | 0x40
"""Zip flag bits of encryption (0x1, 0x40) and patched data (0x20)."""

READ_CHUNK_BYTES = 2**20
"""Bytes decompressed per read, which bounds what a lying size header costs."""

NPY_MAGIC = b"\x93NUMPY"
NPY_MAX_HEADER_BYTES = 10_000
"""Maximum length of an ``.npy`` header, NumPy 2.4's default ``max_header_size``."""

NPY_HEADER_LENGTH_FORMATS = {(1, 0): "<H", (2, 0): "<I"}
"""The ``.npy`` versions read, with the struct format of their header length."""

ARRAY_DTYPES = {
    "<f4": np.dtype("<f4"),
    ">f4": np.dtype(">f4"),
    "<f8": np.dtype("<f8"),
    ">f8": np.dtype(">f8"),
}
"""The ``.npy`` dtype descriptions accepted: float32 and float64, either byte order."""

MAX_ARRAY_DIMENSIONS = 32


TEMPORARY_NAME_ATTEMPTS = 100
"""Random temporary names tried before :func:`write_atomically` gives up."""

TEMPORARY_NAME_PREFIX_CHARS = 32
"""Characters of the output's name kept in its temporary name.

At 4 bytes per character in UTF-8, the temporary name stays under the 255-byte
name limit of common file systems such as ext4, XFS and btrfs.
"""

FILE_TYPE_NAMES = {
    stat.S_IFIFO: "FIFO",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFSOCK: "socket",
}
"""The names that messages use for files that are neither regular nor directories."""


def write_atomically(path: str | os.PathLike, write: Any) -> None:
    """Call ``write(file)`` on a temporary file, then rename it to ``path``.

    A symlink is followed: the temporary file is created in the directory of
    the file that the link resolves to and renamed onto that file, so the link
    stays a link. The file gets the permissions that ``open(path, "wb")`` would
    give it: those of the regular file it replaces, or else ``0o666`` less the
    umask.

    Raises
    ------
    ParameterError
        If ``path`` exists but is not a regular file (a directory, FIFO, device
        or socket), or its directory does not exist. Also if ``stat`` fails on
        ``path``, as for a symlink loop, a regular file used as a directory or a
        name longer than the file system allows.
    OSError
        If the temporary file cannot be created or renamed, for example in a
        directory without write permission; the error names ``path``.
    """
    path = Path(path)
    check_replaceable_file(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ParameterError(
            f"cannot write {str(path)!r} because its directory {str(directory)!r} "
            "does not exist; create the directory first"
        )
    target = Path(os.path.realpath(path))
    if not target.parent.is_dir():
        raise ParameterError(
            f"cannot write {str(path)!r} because it is a symlink to {str(target)!r},"
            f" whose directory {str(target.parent)!r} does not exist; create the "
            "directory or change the link"
        )

    descriptor, temporary = _create_temporary_file(target, path)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        _copy_permissions(target, temporary)
        try:
            os.replace(temporary, target)
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(path)) from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def check_replaceable_file(path: str | os.PathLike, name: str | None = None) -> None:
    """Raise ParameterError unless ``path`` is missing or a regular file.

    Symlinks are followed, so a link to a regular file passes. ``name`` is how
    the message refers to the path, ``'PATH'`` by default. Errors of ``stat``
    other than a missing file, such as a symlink loop, also raise
    ParameterError, chained to the OSError.
    """
    if name is None:
        name = repr(str(path))
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise ParameterError(
            f"cannot write {name}: {os_error_reason(error)}; pass another path"
        ) from error
    if stat.S_ISREG(mode):
        _check_not_immutable(path, name)
        return
    if stat.S_ISDIR(mode):
        raise ParameterError(
            f"cannot write {name} because it is a directory; pass a file path"
        )
    kind = FILE_TYPE_NAMES.get(stat.S_IFMT(mode), "special file")
    raise ParameterError(
        f"cannot write {name} because it is a {kind}, not a regular file; pass a "
        "path to a regular file"
    )


def _check_not_immutable(path: str | os.PathLike, name: str) -> None:
    """Raise ParameterError if the existing file ``path`` may not be replaced at all.

    Opening for appending writes nothing. It fails with EPERM for an immutable
    file, which a rename cannot replace either, even in a writable directory.
    A file that is only read-only to this user fails with EACCES instead and
    passes, because the rename of the atomic write replaces it all the same.
    """
    try:
        with open(path, "ab"):
            pass
    except OSError as error:
        if error.errno == errno.EPERM:
            raise ParameterError(
                f"cannot replace {name}: changing the file is not permitted, as "
                "for an immutable file; choose another path, or allow changes "
                "(chattr -i)"
            ) from error


def os_error_reason(error: OSError) -> str:
    """Return the OS's description of ``error``, such as ``permission denied``.

    The first letter is lowercased, unless the second is a capital as in an
    acronym, so that the text can follow a colon inside a sentence.
    """
    reason = error.strerror or str(error)
    if reason[1:2].islower():
        reason = reason[0].lower() + reason[1:]
    return reason


def _create_temporary_file(target: Path, path: Path) -> tuple[int, Path]:
    """Create a new empty file next to ``target`` and return its descriptor and path.

    ``path`` is the name that errors report. The file is created with mode
    ``0o666``, which the kernel masks with the process's umask as for
    ``open()``. ``tempfile.mkstemp`` would use ``0o600``. The temporary name
    keeps only the start of ``target``'s name, so that a name close to the file
    system's maximum length still leaves room for the random suffix.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    stem = target.name[:TEMPORARY_NAME_PREFIX_CHARS]
    for _ in range(TEMPORARY_NAME_ATTEMPTS):
        temporary = target.with_name(f".{stem}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(path)) from error
    raise FileExistsError(
        f"cannot write {str(path)!r}: {TEMPORARY_NAME_ATTEMPTS} temporary names "
        "next to it were taken"
    )


def _copy_permissions(path: Path, temporary: Path) -> None:
    """Give ``temporary`` the permission bits of ``path`` if it is a regular file."""
    try:
        existing = os.stat(path)
    except OSError:
        return
    if stat.S_ISREG(existing.st_mode):
        os.chmod(temporary, stat.S_IMODE(existing.st_mode) & 0o777)


def save_model_file(
    path: str | os.PathLike,
    metadata: dict[str, Any],
    arrays: dict[str, NDArray],
    *,
    compress: bool = True,
) -> None:
    """Write ``metadata`` and ``arrays`` to ``path`` atomically.

    ``compress=False`` stores the members without deflate, which writes faster,
    for files rewritten often such as checkpoints.

    Raises ValueError for what :func:`load_model_file` would reject: an array
    name other than letters, digits and underscores, a dtype other than float32
    and float64, and NaN or infinity in the arrays or the metadata.
    """
    header = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **metadata}
    text = json.dumps(header, indent=1, allow_nan=False)
    for name, array in arrays.items():
        if not ARRAY_NAME.fullmatch(name):
            raise ValueError(f"array name {name!r} must match {ARRAY_NAME.pattern}")
        array = np.asarray(array)
        if array.dtype.name not in ("float32", "float64"):
            raise ValueError(
                f"array {name!r} has dtype {array.dtype}; model files store "
                "float32 or float64 arrays only"
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"array {name!r} contains NaN or infinite values")

    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED

    def write(file: Any) -> None:
        with zipfile.ZipFile(file, "w", compression=compression) as archive:
            archive.writestr(METADATA_MEMBER, text)
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(
                    buffer, np.ascontiguousarray(array), allow_pickle=False
                )
                member = f"{ARRAY_PREFIX}{name}{ARRAY_SUFFIX}"
                archive.writestr(member, buffer.getvalue())

    write_atomically(path, write)


def load_model_file(
    path: str | os.PathLike, *, max_array_bytes: int | None = None
) -> tuple[dict[str, Any], dict[str, NDArray]]:
    """Read a model file; return its metadata and arrays.

    Parameters
    ----------
    path : str or path-like
        The model file.
    max_array_bytes : int or None, default None
        Maximum summed uncompressed size of the arrays; None uses
        :data:`MAX_ARRAY_BYTES`. A file that declares more is rejected before its
        arrays are read.

    Returns
    -------
    metadata : dict
        The parsed ``metadata.json``, with its ``format`` and ``format_version``.
    arrays : dict of str to ndarray
        Each array by name, float32 or float64 in native byte order, every value
        finite.

    Raises
    ------
    ModelFileError
        If the file is missing, not a model file, damaged or truncated, written in
        a newer format than this mlpkit reads, or breaks one of the limits in the
        module description.
    """
    if max_array_bytes is None:
        max_array_bytes = MAX_ARRAY_BYTES
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise ModelFileError(f"model file {name!r} not found; check the path")
    if path.is_dir():
        raise ModelFileError(f"{name!r} is a directory, not a model file")
    if not path.is_file():
        raise ModelFileError(f"{name!r} is not a regular file; pass a model file")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{name!r} is not an mlpkit model file (or is truncated); "
            "pass a file written by 'mlpkit train' or MLP.save"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = _check_members(archive, name, path.stat().st_size)
            metadata = _read_metadata(archive, members[METADATA_MEMBER], name)
            arrays = _read_arrays(archive, members, name, max_array_bytes)
    except ModelFileError:
        raise
    except NotImplementedError as error:
        # zipfile raises it for features it lacks, such as a newer zip version.
        raise ModelFileError(
            f"model file {name!r} uses a zip feature that cannot be read ({error});"
            " save the model again with mlpkit"
        ) from error
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as error:
        raise ModelFileError(
            f"model file {name!r} is damaged or truncated ({error}); "
            "save or copy the model again"
        ) from error
    return metadata, arrays


def check_layer_arrays(network_config: Any, arrays: dict[str, NDArray]) -> None:
    """Raise ModelFileError unless ``arrays`` has the weights the network config needs.

    The weights of layer ``i`` are ``weights_i`` of shape ``(layer_sizes[i],
    layer_sizes[i + 1] · k)`` and ``biases_i`` of shape ``(layer_sizes[i + 1] · k,)``,
    where ``k`` is the config's ``maxout_pieces`` for a maxout layer and 1
    otherwise. Checking them against the arrays actually read, before a network
    is built from the config, keeps a declared size from allocating more memory
    than the file holds.
    """
    if not isinstance(network_config, dict):
        raise ModelFileError(
            "its network section is not a JSON object; save the model again"
        )
    layer_sizes = network_config.get("layer_sizes")
    valid_sizes = isinstance(layer_sizes, list) and len(layer_sizes) >= 2
    if valid_sizes:
        valid_sizes = all(
            isinstance(size, int) and not isinstance(size, bool) and size >= 1
            for size in layer_sizes
        )
    if not valid_sizes:
        raise ModelFileError(
            f"its layer_sizes {_shorten(layer_sizes)!r} are not a list of at least "
            "two positive integers; save the model again"
        )

    last = len(layer_sizes) - 2
    for index in range(last + 1):
        activation_key = "output_activation" if index == last else "activation"
        width = layer_sizes[index + 1] * _maxout_pieces(
            network_config, network_config.get(activation_key)
        )
        expected = {
            f"weights_{index}": (layer_sizes[index], width),
            f"biases_{index}": (width,),
        }
        for name, shape in expected.items():
            if name not in arrays:
                raise ModelFileError(
                    f"it lacks the array {name!r} that its layer_sizes "
                    f"{_shorten(layer_sizes)} need; save the model again"
                )
            if arrays[name].shape != shape:
                raise ModelFileError(
                    f"its array {name!r} has shape {arrays[name].shape}, but its "
                    f"layer_sizes {_shorten(layer_sizes)} need {shape}; save the "
                    "model again"
                )


def _maxout_pieces(network_config: dict[str, Any], activation: Any) -> int:
    """Return the pieces per unit of a layer: the config's count for maxout, else 1."""
    if activation != "maxout":
        return 1
    try:
        return check_maxout_pieces(
            network_config.get("maxout_pieces", DEFAULT_MAXOUT_PIECES)
        )
    except ParameterError as error:
        raise ModelFileError(f"its network section is invalid: {error}") from error


def _check_members(
    archive: zipfile.ZipFile, name: str, file_bytes: int
) -> dict[str, zipfile.ZipInfo]:
    """Return the members by name after checking names, methods and sizes."""
    infos = archive.infolist()
    names = [info.filename for info in infos]
    if METADATA_MEMBER not in names:
        raise ModelFileError(
            f"{name!r} is a zip archive but not an mlpkit model file "
            f"(no {METADATA_MEMBER}); pass a file written by 'mlpkit train'"
        )
    if len(infos) > MAX_MEMBERS:
        raise ModelFileError(
            f"model file {name!r} has {len(infos)} members, more than the "
            f"{MAX_MEMBERS} a model file can have; it is damaged or not a model"
        )

    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        member = info.filename
        if member in members:
            raise ModelFileError(
                f"model file {name!r} contains the member {member!r} twice; "
                "save the model again"
            )
        if member != METADATA_MEMBER and _array_name(member) is None:
            raise ModelFileError(
                f"model file {name!r} contains the unexpected member {member!r}; "
                "mlpkit reads only metadata.json and arrays/<name>.npy, so save the "
                "model again with mlpkit"
            )
        _check_member_sizes(info, name, file_bytes)
        members[member] = info
    return members


def _check_member_sizes(info: zipfile.ZipInfo, name: str, file_bytes: int) -> None:
    member = info.filename
    if info.flag_bits & UNSUPPORTED_FLAG_BITS:
        raise ModelFileError(
            f"model file {name!r} has a member {member!r} that is encrypted or "
            f"patched (zip flag bits 0x{info.flag_bits:x}); mlpkit writes neither, "
            "so save the model again"
        )
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelFileError(
            f"model file {name!r} compresses {member!r} with zip method "
            f"{info.compress_type}; only stored and deflate members are read"
        )
    if info.compress_size > file_bytes:
        raise ModelFileError(
            f"model file {name!r} declares {info.compress_size} compressed bytes "
            f"for {member!r} but has only {file_bytes} bytes; it is damaged or "
            "truncated"
        )
    ratio_limit = MAX_COMPRESSION_RATIO * max(info.compress_size, 1)
    if info.file_size > ratio_limit:
        raise ModelFileError(
            f"model file {name!r} declares {info.file_size} uncompressed bytes for "
            f"{member!r} from {info.compress_size} compressed bytes, beyond the "
            f"{MAX_COMPRESSION_RATIO}:1 that deflate can reach; the file is "
            "damaged or a zip bomb"
        )
    if member == METADATA_MEMBER and info.file_size > MAX_METADATA_BYTES:
        raise ModelFileError(
            f"model file {name!r} has {info.file_size} bytes of metadata, more than "
            f"the {MAX_METADATA_BYTES} allowed; it is damaged or not a model"
        )


def _array_name(member: str) -> str | None:
    """Return ``<name>`` of a member ``arrays/<name>.npy``, or None for others."""
    if not (member.startswith(ARRAY_PREFIX) and member.endswith(ARRAY_SUFFIX)):
        return None
    array_name = member[len(ARRAY_PREFIX) : -len(ARRAY_SUFFIX)]
    if not ARRAY_NAME.fullmatch(array_name):
        return None
    return array_name


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytearray:
    """Decompress a member chunk by chunk, holding at most ``file_size`` bytes.

    zipfile stops decompressing at ``file_size`` and checks the CRC when it gets
    there, so a member whose real content is longer or different fails with
    BadZipFile instead of growing the buffer.
    """
    data = bytearray()
    with archive.open(info) as file:
        while len(data) < info.file_size:
            chunk = file.read(min(READ_CHUNK_BYTES, info.file_size - len(data)))
            if not chunk:
                raise EOFError(f"{info.filename!r} ends early")
            data += chunk
        if file.read(1):
            raise zipfile.BadZipFile(f"{info.filename!r} is longer than declared")
    return data


def _read_metadata(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str
) -> dict[str, Any]:
    data = _read_member(archive, info)
    try:
        metadata = json.loads(
            data.decode("utf-8"),
            parse_constant=_reject_constant,
            parse_float=_parse_finite_float,
        )
    except _NonFiniteNumberError as error:
        raise ModelFileError(
            f"model file {name!r} has {error}{_non_finite_location(data)}; save "
            "the model again"
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelFileError(
            f"model file {name!r} has unreadable metadata ({_shorten(error)}); "
            "save the model again"
        ) from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f"{name!r} is not an mlpkit model file; "
            "pass a file written by 'mlpkit train'"
        )
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(
            f"model file {name!r} has no valid format version (received: "
            f"{_shorten(version)!r}); save the model again"
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"model file {name!r} has format version {version}, newer than "
            f"{FORMAT_VERSION} which this mlpkit reads; upgrade mlpkit to load it"
        )
    return metadata


class _NonFiniteNumberError(ValueError):
    """NaN, an infinity or a number beyond float64 in the metadata."""


def _reject_constant(constant: str) -> Any:
    raise _NonFiniteNumberError(f"{constant}, which is not a finite number,")


def _parse_finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFiniteNumberError(f"{_shorten(text)}, which is not a finite number,")
    return value


def _non_finite_location(data: bytearray) -> str:
    """Return " at <path>" of the first non-finite number in metadata ``data``.

    The path is written as Python indexes the parsed metadata, such as
    ``metadata['preprocessing']['columns'][0]['mean']``, followed by the
    ``name`` of the object that contains the number when it has one, as a column
    entry does. Returns "" where the metadata cannot be parsed with such
    numbers either.
    """
    try:
        metadata = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return ""
    # Depth first, in document order, without recursion: the parser accepts
    # nesting deeper than Python's recursion limit.
    pending: list[tuple[Any, str, Any]] = [(metadata, "metadata", None)]
    while pending:
        value, path, holder = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            named = ""
            if isinstance(holder, dict) and isinstance(holder.get("name"), str):
                named = f", in the entry named {_shorten(holder['name'])!r}"
            return f" at {_shorten(path)}{named}"
        if isinstance(value, dict):
            children = [(child, f"{path}[{key!r}]") for key, child in value.items()]
        elif isinstance(value, list):
            children = [
                (child, f"{path}[{index}]") for index, child in enumerate(value)
            ]
        else:
            continue
        for child, child_path in reversed(children):
            pending.append((child, child_path, value))
    return ""


def _read_arrays(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    name: str,
    max_array_bytes: int,
) -> dict[str, NDArray]:
    declared = 0
    array_members = {}
    for member, info in members.items():
        array_name = _array_name(member)
        if array_name is None:
            continue
        declared += info.file_size
        array_members[array_name] = info
    if declared > max_array_bytes:
        raise ModelFileError(
            f"model file {name!r} declares {declared} bytes of arrays, more than "
            f"the {max_array_bytes} allowed; it is damaged, not a model, or needs "
            "a larger max_array_bytes"
        )

    # Every header is checked against its member's declared size first, so a
    # member padded beyond its array is rejected before it is decompressed.
    for array_name, info in array_members.items():
        _check_npy_member_size(archive, info, array_name, name)
    arrays = {}
    for array_name, info in array_members.items():
        data = _read_member(archive, info)
        arrays[array_name] = _parse_npy(data, array_name, name)
    return arrays


def _invalid_array(name: str, array_name: str) -> Any:
    """Return a function that builds the ModelFileError for a problem of one array."""

    def invalid(problem: str) -> ModelFileError:
        return ModelFileError(
            f"model file {name!r} has an invalid array {array_name!r} ({problem}); "
            "save the model again"
        )

    return invalid


def _check_npy_member_size(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, array_name: str, name: str
) -> None:
    """Raise ModelFileError unless the member's ``.npy`` header accounts for its size.

    Only the header is decompressed: at most the magic string, the version,
    the header length and :data:`NPY_MAX_HEADER_BYTES` of header text.
    """
    invalid = _invalid_array(name, array_name)
    prefix_bytes = len(NPY_MAGIC) + 2 + 4 + NPY_MAX_HEADER_BYTES
    with archive.open(info) as file:
        prefix = bytearray(file.read(min(prefix_bytes, info.file_size)))
    shape, _, dtype, offset = _parse_npy_header(prefix, invalid)
    expected = math.prod(shape) * dtype.itemsize
    if offset + expected != info.file_size:
        raise invalid(
            f"its header declares shape {shape} of {dtype.name}, {expected} bytes, "
            f"but the archive declares {info.file_size - offset} bytes after the header"
        )


def _parse_npy(data: bytearray, array_name: str, name: str) -> NDArray:
    """Turn the bytes of one ``.npy`` member into a native float array.

    The array is a view of ``data``, so it costs no second copy unless its byte
    order or memory layout needs converting.
    """
    invalid = _invalid_array(name, array_name)
    shape, fortran_order, dtype, offset = _parse_npy_header(data, invalid)
    count = math.prod(shape)
    expected = count * dtype.itemsize
    if expected != len(data) - offset:
        raise invalid(
            f"its header declares shape {shape} of {dtype.name}, {expected} bytes, "
            f"but {len(data) - offset} bytes follow"
        )

    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    array = array.reshape(shape, order="F" if fortran_order else "C")
    if not dtype.isnative:
        array = array.astype(dtype.newbyteorder("="))
    if not np.all(np.isfinite(array)):
        raise invalid("it contains NaN or infinite values")
    return array


def _parse_npy_header(
    data: bytearray, invalid: Any
) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """Return shape, Fortran order, dtype and data offset of a ``.npy`` member."""
    if bytes(data[: len(NPY_MAGIC)]) != NPY_MAGIC or len(data) < len(NPY_MAGIC) + 2:
        raise invalid("it is not in NumPy's .npy format")
    version = (data[len(NPY_MAGIC)], data[len(NPY_MAGIC) + 1])
    length_format = NPY_HEADER_LENGTH_FORMATS.get(version)
    if length_format is None:
        raise invalid(f".npy version {version[0]}.{version[1]} is not supported")

    start = len(NPY_MAGIC) + 2
    length_size = struct.calcsize(length_format)
    if len(data) < start + length_size:
        raise invalid("its header is truncated")
    (header_length,) = struct.unpack_from(length_format, data, start)
    offset = start + length_size + header_length
    if header_length > NPY_MAX_HEADER_BYTES or len(data) < offset:
        raise invalid(f"its header length {header_length} is invalid")

    text = bytes(data[start + length_size : offset]).decode("latin1")
    try:
        header = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        raise invalid("its header is not a Python literal") from None
    if not isinstance(header, dict) or set(header) != {
        "descr",
        "fortran_order",
        "shape",
    }:
        raise invalid("its header lacks descr, fortran_order or shape")

    descr = header["descr"]
    if not isinstance(descr, str) or descr not in ARRAY_DTYPES:
        raise invalid(
            f"dtype {_shorten(descr)!r} is not float32 or float64, the only dtypes "
            "a model file holds"
        )
    fortran_order = header["fortran_order"]
    if not isinstance(fortran_order, bool):
        raise invalid(f"fortran_order {_shorten(fortran_order)!r} is not a bool")
    shape = header["shape"]
    if not _is_shape(shape):
        raise invalid(f"shape {_shorten(shape)!r} is not a tuple of sizes")
    return shape, fortran_order, ARRAY_DTYPES[descr], offset


def _is_shape(shape: Any) -> bool:
    if not isinstance(shape, tuple) or len(shape) > MAX_ARRAY_DIMENSIONS:
        return False
    for size in shape:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return False
    return True


def _shorten(value: Any, limit: int = 80) -> Any:
    """Return ``value``, or its text cut to ``limit`` characters when longer."""
    text = str(value)
    if len(text) <= limit:
        return value
    return text[:limit] + "..."
