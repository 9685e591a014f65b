"""Checks that a command's output paths are safe to write, run before any work.

An output may not be ``-`` or the standard output, a FIFO, a device or another
file that is not regular, a path that ``stat`` rejects, such as a symlink
loop, or a path in a directory that does not exist or cannot be written to.
It may not be the same file as one of the command's inputs or as another of
its outputs. Two existing
paths are the same file when ``os.path.samefile`` returns True, which follows
symlinks and detects hard links.
When one of them does not exist yet, they are the same file when they resolve to
the same absolute path.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..errors import ParameterError
from ..modelfile import check_replaceable_file, os_error_reason

PathOption = str | os.PathLike | None

STDOUT_PATH = "-"
"""The output path that ``predict`` and ``anomalies`` read as the standard output."""


def csv_output_path(path: PathOption) -> Path | None:
    """Return ``path`` as a Path, or None when it is missing or ``-`` for stdout."""
    if path is None or str(path) == STDOUT_PATH:
        return None
    return Path(path)


def check_output_paths(
    outputs: Mapping[str, PathOption],
    inputs: Mapping[str, PathOption] | None = None,
    *,
    stdout_advice: str | None = None,
    contents: Mapping[str, str] | None = None,
) -> None:
    """Raise ParameterError if an output path would replace the wrong file.

    Parameters
    ----------
    outputs
        The path that each option writes, by option name such as ``"--output"``.
        Options set to None are skipped.
    inputs
        The files that the command reads, by a description that completes "is
        …", such as ``"the training data file"``. Inputs that are None or not an
        existing file, such as a built-in dataset's name, are skipped.
    stdout_advice
        What to do instead when an output is the standard output, such as
        ``"leave out --output to write to stdout"``.
    contents
        What each option writes, such as ``{"--output": "the model"}``, for the
        message that rejects ``-``. Options not listed write "the output".

    Raises
    ------
    ParameterError
        If an output is ``-`` or the standard output, exists but is not a
        regular file, is in a directory that does not exist or cannot be
        written to, or is the same file as an input or as another output.
        Also if ``stat`` fails on an output, as for a symlink loop, a regular
        file used as a directory or a name that is too long.
    """
    named_outputs = []
    for option, path in outputs.items():
        if path is not None:
            named_outputs.append((option, Path(path)))
    for option, path in named_outputs:
        if str(path) == STDOUT_PATH:
            content = (contents or {}).get(option, "the output")
            raise ParameterError(
                f"{option} - would write {content} to standard output; pass a "
                "file path"
            )
        _check_not_stdout(option, path, stdout_advice)
        check_replaceable_file(path, f"{option} {path}")
        _check_directory_exists(option, path)
        _check_directory_writable(option, path)

    for description, input_path in (inputs or {}).items():
        if input_path is None or not os.path.isfile(input_path):
            continue
        for option, path in named_outputs:
            if is_same_file(path, input_path):
                raise ParameterError(
                    f"{option} {path} is {description}; choose another output path"
                )

    pairs = itertools.combinations(named_outputs, 2)
    for (first, first_path), (second, second_path) in pairs:
        if is_same_file(first_path, second_path):
            raise ParameterError(
                f"{first} {first_path} and {second} {second_path} are the same file, "
                "so one would overwrite the other; choose another path for one of them"
            )


def check_train_output_paths(args: argparse.Namespace) -> None:
    """Check the files that ``train`` writes against DATA, ``--resume`` and each other.

    ``--resume`` names a checkpoint to read, so it may not be DATA. Without
    ``--checkpoint``, a training started with ``--resume`` rewrites the
    ``--resume`` file, so that file counts as an output too. With
    ``--checkpoint`` naming the ``--resume`` file, the file is meant to be
    continued in place.
    """
    resume_is_data = os.path.isfile(args.data) and args.resume is not None
    if resume_is_data and is_same_file(args.resume, args.data):
        raise ParameterError(
            f"--resume {args.resume} is the training data file, not a checkpoint; "
            "pass the checkpoint that --checkpoint wrote"
        )

    inputs: dict[str, PathOption] = {"the training data file": args.data}
    checkpoint_option, checkpoint = "--checkpoint", args.checkpoint
    if checkpoint is None:
        checkpoint_option, checkpoint = "--resume", args.resume
    elif args.resume is not None and not is_same_file(checkpoint, args.resume):
        inputs["the --resume checkpoint"] = args.resume

    outputs = {
        "--output": args.output,
        checkpoint_option: checkpoint,
        "--plot": args.plot,
    }
    contents = {
        "--output": "the model",
        checkpoint_option: "the checkpoint",
        "--plot": "the learning curves",
    }
    check_output_paths(outputs, inputs, contents=contents)


def is_same_file(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Return whether two paths name one file, existing or not."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return os.path.realpath(first) == os.path.realpath(second)


def _check_directory_exists(option: str, path: Path) -> None:
    """Raise ParameterError if the directory that would contain ``path`` is missing."""
    # os.path.isdir returns False where Path.is_dir raises, as for a name that
    # is too long, but check_replaceable_file has already reported such a path.
    if not os.path.isdir(path.parent):
        raise ParameterError(
            f"directory {str(path.parent)!r} of {option} {path} not found; "
            "create it first"
        )


def _check_directory_writable(option: str, path: Path) -> None:
    """Raise ParameterError unless a file can be created in the directory of ``path``.

    The check creates and removes a temporary file there, as the atomic write
    of the output will, rather than calling ``os.access``. That call checks
    the permission bits and the local mount, but not what a server decides,
    such as an NFS server that maps root to another user.
    """
    directory = path.parent
    try:
        with tempfile.NamedTemporaryFile(
            dir=directory, prefix=".mlpkit-write-check-", suffix=".tmp"
        ):
            pass
    except OSError as error:
        raise ParameterError(
            f"cannot write {option} {path}: creating a file in directory "
            f"{str(directory)!r} failed ({os_error_reason(error)}); make the "
            "directory writable or choose another path"
        ) from error


def _check_not_stdout(option: str, path: Path, advice: str | None) -> None:
    """Raise ParameterError if ``path`` is the file open as the standard output.

    This catches ``/dev/stdout`` and ``/proc/self/fd/1`` when stdout is a
    terminal or a pipe, and also a regular file that the shell redirected to.
    """
    try:
        output = os.stat(path)
        stdout = os.fstat(1)
    except OSError:
        return
    if (output.st_dev, output.st_ino) != (stdout.st_dev, stdout.st_ino):
        return
    if advice is None:
        advice = "pass a path to a regular file"
    raise ParameterError(f"{option} {path} is the standard output; {advice}")
