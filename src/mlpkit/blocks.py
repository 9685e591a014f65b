"""Blocks of encoded rows: the split into roles, reading them, and shuffled batches.

Streaming training cuts the rows of a file into blocks of ``block_rows``
consecutive rows. :func:`split_blocks` gives each block a role (training,
validation or test), so held-out rows are whole blocks and reading them stays
sequential. An :class:`EncodedBlocks` reader returns a block as the network's input
and target matrices. :class:`ShuffledBatches` draws the mini-batches of an epoch
block by block through one preallocated buffer.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from mlpkit.data import CATEGORICAL
from mlpkit.errors import (
    DataError,
    ParameterError,
    UnseenCategoryWarning,
    caller_stacklevel,
)
from mlpkit.preprocessing import TabularPreprocessor
from mlpkit.sources import NpyRows, RowBlock, RowSource, check_block_rows
from mlpkit.tasks import TargetEncoder

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_ROWS = 65_536
"""Rows per block: the unit of reading, shuffling and holding out rows.

A block of 50 float32 columns takes 13 MB. Memory during training grows with this
setting, and the randomness of the shuffle grows with the number of blocks."""

MIN_BLOCKS = 64
"""Number of blocks that :func:`choose_block_rows` aims for in a small file, so that
the held-out fractions and the shuffle of the block order have blocks to work on."""


def choose_block_rows(n_rows: int, batch_size: int) -> int:
    """Return the default rows per block for a file of ``n_rows`` rows.

    That is :data:`DEFAULT_BLOCK_ROWS`, or for a small file enough rows for
    :data:`MIN_BLOCKS` blocks, rounded up to a multiple of ``batch_size``. It is
    never below ``batch_size``, because a mini-batch never spans two blocks.
    """
    rows_for_min_blocks = math.ceil(n_rows / MIN_BLOCKS)
    rows = batch_size * math.ceil(rows_for_min_blocks / batch_size)
    return max(batch_size, min(rows, DEFAULT_BLOCK_ROWS))


@dataclass(frozen=True)
class BlockSplit:
    """Roles of the blocks of a file: training, validation and test.

    Attributes
    ----------
    n_rows : int
        Rows in the file.
    block_rows : int
        Rows per block; the last block contains the remainder.
    train_blocks, validation_blocks, test_blocks : ndarray of int
        Sorted block indices of each role, which together contain every block once.
    """

    n_rows: int
    block_rows: int
    train_blocks: NDArray[np.int64]
    validation_blocks: NDArray[np.int64]
    test_blocks: NDArray[np.int64]

    @property
    def n_blocks(self) -> int:
        return math.ceil(self.n_rows / self.block_rows)

    def count_rows(self, blocks: NDArray[np.int64]) -> int:
        """Return the number of rows in ``blocks``, counting the short last block."""
        rows = len(blocks) * self.block_rows
        if self.n_blocks - 1 in blocks:
            rows -= self.n_blocks * self.block_rows - self.n_rows
        return rows

    def count_batches(self, blocks: NDArray[np.int64], batch_size: int) -> int:
        """Return the number of mini-batches in ``blocks``, each within one block."""
        batches = len(blocks) * math.ceil(self.block_rows / batch_size)
        if self.n_blocks - 1 in blocks:
            last_rows = self.n_rows - (self.n_blocks - 1) * self.block_rows
            batches -= math.ceil(self.block_rows / batch_size)
            batches += math.ceil(last_rows / batch_size)
        return batches


def split_blocks(
    n_rows: int,
    block_rows: int,
    validation_fraction: float = 0.0,
    test_fraction: float = 0.0,
    seed: int | None = None,
) -> BlockSplit:
    """Draw the test blocks, then the validation blocks among the rest.

    ``ceil(test_fraction · n_blocks)`` blocks are held out for testing and
    ``ceil(validation_fraction · n_remaining)`` of the others for validation, at
    random with ``seed``. Fractions count blocks, not rows, so with a short last
    block the share of rows differs slightly.

    Raises
    ------
    ParameterError
        If a fraction is outside [0, 1) or ``block_rows`` is below 1.
    DataError
        If holding out leaves no training block.
    """
    block_rows = check_block_rows(block_rows)
    for name, fraction in (
        ("validation_fraction", validation_fraction),
        ("test_fraction", test_fraction),
    ):
        if not 0.0 <= float(fraction) < 1.0:
            raise ParameterError(
                f"{name} must be in [0, 1); received: {name}={fraction!r}"
            )

    n_blocks = math.ceil(n_rows / block_rows)
    order = np.random.default_rng(seed).permutation(n_blocks)
    n_test = math.ceil(test_fraction * n_blocks)
    n_validation = math.ceil(validation_fraction * (n_blocks - n_test))
    if n_test + n_validation >= n_blocks:
        raise DataError(
            f"{n_rows} rows in {n_blocks} blocks of {block_rows} rows are too few to"
            f" hold out test_fraction={test_fraction} and validation_fraction="
            f"{validation_fraction} of the blocks; lower block_rows and batch_size"
            " together (block_rows must be at least batch_size), or lower the"
            " fractions"
        )
    return BlockSplit(
        n_rows=n_rows,
        block_rows=block_rows,
        train_blocks=np.sort(order[n_test + n_validation :]),
        validation_blocks=np.sort(order[n_test : n_test + n_validation]),
        test_blocks=np.sort(order[:n_test]),
    )


class EncodedBlocks(Protocol):
    """Blocks of rows as the network's inputs and encoded targets."""

    block_rows: int
    n_inputs: int
    n_outputs: int
    dtype: np.dtype

    def read(self, index: int) -> tuple[NDArray, NDArray]:
        """Return block ``index`` as inputs and targets.

        Their shapes are (n_rows, n_inputs) and (n_rows, n_outputs).
        """
        ...


class SourceBlocks:
    """Blocks read from a random-access source and encoded on every read."""

    def __init__(
        self,
        source: RowSource,
        block_rows: int,
        preprocessor: TabularPreprocessor,
        target_encoder: TargetEncoder,
        dtype: np.dtype,
    ) -> None:
        if not source.random_access:
            raise TypeError(f"{source!r} cannot read blocks by index")
        self.source = source
        self.block_rows = check_block_rows(block_rows)
        self.preprocessor = preprocessor
        self.target_encoder = target_encoder
        self.dtype = np.dtype(dtype)
        self.n_inputs = preprocessor.n_features_out_
        self.n_outputs = target_encoder.n_outputs

    def read(self, index: int) -> tuple[NDArray, NDArray]:
        block = self.source.read_block(index, self.block_rows)
        where = str(self.source.path)
        return _encode(block, self.preprocessor, self.target_encoder, self.dtype, where)


class CachedBlocks:
    """Blocks of encoded rows stored in a ``.npy`` file, inputs then targets per row."""

    def __init__(self, path: Path, block_rows: int, n_inputs: int) -> None:
        self.rows = NpyRows(path)
        self.block_rows = check_block_rows(block_rows)
        self.n_inputs = n_inputs
        self.n_outputs = self.rows.shape[1] - n_inputs
        self.dtype = self.rows.dtype

    def read(self, index: int) -> tuple[NDArray, NDArray]:
        start = index * self.block_rows
        rows = self.rows.read(start, start + self.block_rows)
        return rows[:, : self.n_inputs], rows[:, self.n_inputs :]


def _encode(
    block: RowBlock,
    preprocessor: TabularPreprocessor,
    target_encoder: TargetEncoder,
    dtype: np.dtype,
    where: str,
) -> tuple[NDArray, NDArray]:
    inputs = preprocessor.transform(block.features, source=where, dtype=dtype)
    targets = target_encoder.transform(block.target, dtype)
    return inputs, targets


@contextmanager
def open_encoded_blocks(
    source: RowSource,
    block_rows: int,
    preprocessor: TabularPreprocessor,
    target_encoder: TargetEncoder,
    dtype: np.dtype,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Iterator[EncodedBlocks]:
    """Yield the blocks of ``source`` as encoded rows, and clean up on exit.

    A random-access source (``.npy``) is encoded block by block on every read. Any
    other source (CSV) is read once and encoded into a temporary ``.npy`` file in
    ``cache_dir`` (default: the system's temporary directory), deleted at the end,
    so each epoch reads floats instead of parsing text.

    NOTE: the cache takes ``n_rows · (n_inputs + n_outputs)`` values of ``dtype`` on
    disk, where one-hot encoding makes ``n_inputs`` exceed the number of columns.
    """
    block_rows = check_block_rows(block_rows)
    dtype = np.dtype(dtype)
    if source.random_access:
        yield SourceBlocks(source, block_rows, preprocessor, target_encoder, dtype)
        return

    with tempfile.TemporaryDirectory(prefix="mlpkit-", dir=cache_dir) as directory:
        path = Path(directory) / "encoded.npy"
        write_encoded_cache(
            source, block_rows, preprocessor, target_encoder, dtype, path
        )
        yield CachedBlocks(path, block_rows, preprocessor.n_features_out_)


def write_encoded_cache(
    source: RowSource,
    block_rows: int,
    preprocessor: TabularPreprocessor,
    target_encoder: TargetEncoder,
    dtype: np.dtype,
    path: Path,
) -> None:
    """Encode every row of ``source`` into a ``.npy`` file of inputs then targets.

    Warns with one UnseenCategoryWarning that counts the blocks with categories
    that the preprocessor never saw, instead of one warning per block.
    """
    n_rows = source.n_rows
    n_columns = preprocessor.n_features_out_ + target_encoder.n_outputs
    # open_memmap writes the header and sizes the file. Rows are then written
    # through the file object, because written pages of a mapping count as
    # resident memory of this process until the mapping is closed.
    header = np.lib.format.open_memmap(
        path, mode="w+", dtype=dtype, shape=(n_rows, n_columns)
    )
    offset = header.offset
    del header

    categorical = [
        column["name"]
        for column in preprocessor.to_config()["columns"]
        if column["kind"] == CATEGORICAL
    ]
    n_written = 0
    n_unseen_blocks = 0
    with open(path, "r+b") as file:
        file.seek(offset)
        for block in source.iter_blocks(block_rows, text_columns=categorical):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", UnseenCategoryWarning)
                inputs, targets = _encode(
                    block, preprocessor, target_encoder, dtype, str(source.path)
                )
            n_unseen_blocks += any(
                issubclass(w.category, UnseenCategoryWarning) for w in caught
            )
            np.hstack([inputs, targets]).tofile(file)
            n_written += block.n_rows
    if n_written != n_rows:
        raise DataError(
            f"{source.path} changed while it was read: {n_rows} rows were counted but"
            f" {n_written} encoded; train again once the file is complete"
        )
    if n_unseen_blocks:
        warnings.warn(
            f"{n_unseen_blocks} blocks of {source.path} contain categories that the"
            " training rows never had, encoded as all zeros",
            UnseenCategoryWarning,
            stacklevel=caller_stacklevel(),
        )
    logger.debug("encoded %d rows of %s into %s", n_rows, source.path, path)


class ShuffledBatches:
    """Mini-batches of an epoch, drawn block by block through one buffer.

    Each epoch visits the given blocks in a random order, and shuffles the rows of
    each block into a buffer allocated once, so every row is used exactly once per
    epoch. Batches are views of that buffer: they are valid until the next batch is
    requested. A block's last batch is smaller when ``batch_size`` does not divide
    its rows.

    Parameters
    ----------
    blocks : EncodedBlocks
        The encoded rows.
    batch_size : int
        Rows per mini-batch, at least 1.
    rng : numpy.random.Generator or None
        Shuffles blocks and rows; None keeps file order.
    """

    def __init__(
        self, blocks: EncodedBlocks, batch_size: int, rng: np.random.Generator | None
    ) -> None:
        if int(batch_size) < 1:
            raise ParameterError(
                f"batch_size must be at least 1; received: batch_size={batch_size!r}"
            )
        self.blocks = blocks
        self.batch_size = int(batch_size)
        self.rng = rng
        self.inputs = np.empty((blocks.block_rows, blocks.n_inputs), dtype=blocks.dtype)
        self.targets = np.empty(
            (blocks.block_rows, blocks.n_outputs), dtype=blocks.dtype
        )

    def epoch(
        self, block_indices: NDArray[np.int64]
    ) -> Iterator[tuple[NDArray, NDArray]]:
        """Yield ``(inputs, targets)`` batches over every row of ``block_indices``."""
        order = block_indices
        if self.rng is not None:
            order = self.rng.permutation(block_indices)
        for index in order:
            inputs, targets = self.blocks.read(int(index))
            n_rows = inputs.shape[0]
            if self.rng is not None:
                rows = self.rng.permutation(n_rows)
            else:
                rows = np.arange(n_rows)
            # The rows are a permutation, so clipping never changes an index;
            # mode="clip" lets take write into the buffer without a temporary copy.
            np.take(inputs, rows, axis=0, out=self.inputs[:n_rows], mode="clip")
            np.take(targets, rows, axis=0, out=self.targets[:n_rows], mode="clip")
            for start in range(0, n_rows, self.batch_size):
                stop = min(start + self.batch_size, n_rows)
                yield self.inputs[start:stop], self.targets[start:stop]
