"""Streaming training: train on a data file that does not fit in memory.

:func:`fit_streaming` trains the network of an :class:`~mlpkit.model.MLP` from a
:class:`~mlpkit.sources.RowSource` in these steps:

1. :func:`~mlpkit.blocks.split_blocks` cuts the file into blocks of ``block_rows``
   rows and holds out whole blocks, drawn at random with the model's seed, for
   validation and testing. Whole blocks keep every read sequential. A file sorted
   by a column gives blocks that are not a random sample of rows, so its held-out
   blocks are a less faithful sample than rows drawn one by one.
2. :func:`~mlpkit.streaming_statistics.learn_statistics` learns the preprocessing
   and the target encoding from the training blocks in one pass.
3. Each epoch visits the training blocks in a random order and shuffles the rows
   of each block (:class:`~mlpkit.blocks.ShuffledBatches`). Every mini-batch runs
   the engine's ``Network.compute_gradients`` and ``Optimizer.step``.
4. After each epoch the validation blocks are evaluated block by block, and
   :class:`~mlpkit.training.StoppingRule` decides whether training ends, as in
   :func:`mlpkit.training.train`.

Memory stays bounded by a few blocks and the network, whatever the file size.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from mlpkit.blocks import (
    BlockSplit,
    EncodedBlocks,
    ShuffledBatches,
    choose_block_rows,
    open_encoded_blocks,
    split_blocks,
)
from mlpkit.errors import (
    ConvergenceWarning,
    ParameterError,
    TrainingDivergedError,
    caller_stacklevel,
)
from mlpkit.network import Network, resolve_dtype
from mlpkit.optimizers import Optimizer
from mlpkit.preprocessing import TabularPreprocessor
from mlpkit.settings import network_options
from mlpkit.sources import RowSource, check_block_rows
from mlpkit.streaming_scores import evaluate_blocks
from mlpkit.streaming_statistics import learn_statistics
from mlpkit.tasks import TargetEncoder
from mlpkit.training import (
    Divergence,
    EpochCallback,
    EpochRecord,
    History,
    StoppingRule,
    StopRequest,
    diverged_error,
    silenced_float_errors,
)

if TYPE_CHECKING:
    from mlpkit.model import MLP

logger = logging.getLogger(__name__)


def _run_epoch(
    network: Network,
    optimizer: Optimizer,
    batches: ShuffledBatches,
    block_indices: NDArray[np.int64],
    n_batches: int,
    stop_requested: StopRequest | None,
) -> tuple[float, bool]:
    """Train on the rows of ``block_indices`` once, or until a stop request.

    Returns the mean loss per row of the batches that ran, and whether all ran.
    Raises Divergence when a batch loss is NaN or infinite, before its step.
    """
    total_loss = 0.0
    total_rows = 0
    batch = 0
    for inputs, targets in batches.epoch(block_indices):
        with silenced_float_errors():
            loss, gradients = network.compute_gradients(inputs, targets)
        batch += 1
        if not math.isfinite(loss):
            raise Divergence("loss", loss, batch, n_batches)
        with silenced_float_errors():
            optimizer.step(network.parameters, gradients)
            network.apply_constraints()

        total_loss += loss * inputs.shape[0]
        total_rows += inputs.shape[0]
        if batch < n_batches and stop_requested is not None and stop_requested():
            return total_loss / total_rows, False
    return total_loss / total_rows, True


def _end_epoch(
    network: Network,
    epoch: int,
    train_loss: float,
    blocks: EncodedBlocks,
    split: BlockSplit,
    target_encoder: TargetEncoder,
    n_batches: int,
) -> EpochRecord:
    """Check the weights, then measure the validation loss and metrics."""
    # min and max propagate NaN and infinity without allocating a mask.
    for value in (network.parameters.min(), network.parameters.max()):
        if not math.isfinite(value):
            raise Divergence("weights", float(value), n_batches, n_batches)

    validation_loss = None
    metrics: dict[str, float] = {}
    if split.validation_blocks.size:
        with silenced_float_errors():
            metrics = evaluate_blocks(
                network, target_encoder, blocks, split.validation_blocks
            )
        validation_loss = metrics.pop("loss")
        if not math.isfinite(validation_loss):
            raise Divergence("validation loss", validation_loss, n_batches, n_batches)
    return EpochRecord(epoch, train_loss, validation_loss, metrics)


def train_streaming(
    network: Network,
    optimizer: Optimizer,
    blocks: EncodedBlocks,
    split: BlockSplit,
    target_encoder: TargetEncoder,
    *,
    batch_size: int,
    stopping: StoppingRule,
    rng: np.random.Generator | None,
    on_epoch_end: EpochCallback | None = None,
    restore_best: bool = True,
    stop_requested: StopRequest | None = None,
) -> History:
    """Train ``network`` on the training blocks until the stopping rule ends it.

    Early stopping, divergence and stop requests follow :func:`mlpkit.training.train`.
    Early stopping monitors the loss of the validation blocks, or the training loss
    when there are none. The best epoch's weights are restored unless
    ``restore_best`` is False. A stop request ends training after the current
    batch. Metrics are computed on the validation blocks only, because another pass
    over the training blocks would double the reading per epoch.

    NOTE: streaming training writes no checkpoints, so a stopped run cannot resume.

    Parameters
    ----------
    blocks : EncodedBlocks
        Encoded rows of the file.
    split : BlockSplit
        Which blocks train and which validate. Test blocks are left alone.
    target_encoder : TargetEncoder
        Decodes targets and outputs for the metrics.
    batch_size, stopping, rng, on_epoch_end, stop_requested
        As in :func:`mlpkit.training.train`.

    Raises
    ------
    TrainingDivergedError
        If a batch loss, a weight or the validation loss becomes NaN or infinite.
        The network then has the best epoch's weights (with ``restore_best``) or
        those of the last completed epoch, and the error's ``history`` has the
        completed epochs.

    Warns
    -----
    ConvergenceWarning
        If training reaches ``stopping.max_epochs`` before converging.
    """
    batches = ShuffledBatches(blocks, batch_size, rng)
    n_batches = split.count_batches(split.train_blocks, batches.batch_size)
    monitor = "validation_loss" if split.validation_blocks.size else "train_loss"
    history = History(monitor=monitor)
    best_loss = math.inf
    best_parameters = network.parameters.copy()
    last_good_parameters = network.parameters.copy()
    last_good = "its initial weights"
    epochs_without_improvement = 0
    epoch = 0

    try:
        for epoch in range(1, int(stopping.max_epochs) + 1):
            train_loss, finished = _run_epoch(
                network,
                optimizer,
                batches,
                split.train_blocks,
                n_batches,
                stop_requested,
            )
            if not finished:
                history.interrupted = True
                break
            record = _end_epoch(
                network, epoch, train_loss, blocks, split, target_encoder, n_batches
            )
            history.records.append(record)
            logger.debug("epoch %d: %s", epoch, record)
            if on_epoch_end is not None:
                on_epoch_end(record)

            monitored = record.validation_loss
            if monitored is None:
                monitored = record.train_loss
            if stopping.improves(monitored, best_loss):
                best_loss = monitored
                best_parameters[...] = network.parameters
                history.best_epoch = epoch
                epochs_without_improvement = 0
            else:
                epochs_without_improvement += 1
            last_good_parameters[...] = network.parameters
            last_good = f"the weights of epoch {epoch}"

            if epochs_without_improvement >= stopping.patience:
                history.converged = True
                break
            if stop_requested is not None and stop_requested():
                history.interrupted = True
                break
    except Divergence as divergence:
        if restore_best and history.best_epoch:
            network.parameters[...] = best_parameters
            restored = f"the weights of epoch {history.best_epoch}, the best so far"
        else:
            network.parameters[...] = last_good_parameters
            restored = last_good
        raise diverged_error(
            divergence, epoch, optimizer, history, restored, network
        ) from None

    if restore_best:
        network.parameters[...] = best_parameters
    if not (history.converged or history.interrupted):
        warnings.warn(
            f"training reached max_epochs={stopping.max_epochs} before the "
            f"{history.monitor.replace('_', ' ')} stopped improving; raise max_epochs "
            "or the learning rate if the loss was still falling",
            ConvergenceWarning,
            stacklevel=caller_stacklevel(),
        )
    return history


@dataclass
class StreamingFit:
    """The parts of a streaming fit: encoders, network, history and scores.

    Attributes
    ----------
    preprocessor : TabularPreprocessor
    target_encoder : TargetEncoder
    network : Network
    optimizer : Optimizer
        With the state of the last step.
    history : History
        Empty until :func:`train_prepared` has run.
    split : BlockSplit
        The roles of the blocks.
    test_scores : dict or None
        Loss and metrics on the test blocks; None without test blocks, before
        training, or after a stop request.
    """

    preprocessor: TabularPreprocessor
    target_encoder: TargetEncoder
    network: Network
    optimizer: Optimizer
    history: History
    split: BlockSplit
    test_scores: dict[str, float] | None = None


def check_cache_dir(cache_dir: str | os.PathLike[str] | None) -> None:
    """Raise ParameterError unless ``cache_dir`` is None or a writable directory.

    :func:`fit_streaming` calls it before reading the data, so that a wrong path
    fails at once instead of after the pass that learns the statistics.
    """
    if cache_dir is None:
        return
    path = Path(cache_dir)
    if not path.exists():
        problem = "does not exist; create it or pass an existing directory"
    elif not path.is_dir():
        problem = "is not a directory; pass a directory"
    elif not os.access(path, os.W_OK | os.X_OK):
        problem = "is not writable; check its permissions or pass another directory"
    else:
        return
    raise ParameterError(
        f"cache_dir={str(path)!r}, the directory for the temporary encoded copy of"
        f" the data, {problem}",
        parameter="cache_dir",
    )


def prepare_streaming(
    model: MLP,
    source: RowSource,
    *,
    block_rows: int | None = None,
    test_fraction: float = 0.0,
) -> StreamingFit:
    """Split ``source`` into blocks, learn its statistics and build the network.

    Parameters are those of :func:`fit_streaming`. The returned fit has an empty
    history until :func:`train_prepared` trains it.
    """
    batch_size = int(model.batch_size)
    if block_rows is None:
        block_rows = choose_block_rows(source.n_rows, batch_size)
    block_rows = check_block_rows(block_rows)
    if block_rows < batch_size:
        raise ParameterError(
            f"block_rows must be at least batch_size={batch_size}, because a"
            f" mini-batch never spans two blocks; received: block_rows={block_rows}"
        )
    split = split_blocks(
        source.n_rows,
        block_rows,
        float(model.validation_fraction),
        test_fraction,
        model.seed,
    )
    preprocessor, target_encoder = learn_statistics(
        source,
        split.block_rows,
        split.train_blocks,
        standardize=model.standardize,
        task=model.task,
    )
    spec = target_encoder.spec
    network = Network(
        [preprocessor.n_features_out_, *model.hidden_layers, target_encoder.n_outputs],
        activation=model.activation,
        output_activation=spec.output_activation,
        loss=spec.loss,
        dtype=resolve_dtype(model.dtype).name,
        seed=model.seed,
        **network_options(model),
    )
    return StreamingFit(
        preprocessor,
        target_encoder,
        network,
        model.make_optimizer(),
        History(),
        split,
    )


def train_prepared(
    fit: StreamingFit,
    model: MLP,
    source: RowSource,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    on_epoch_end: EpochCallback | None = None,
    stop_requested: StopRequest | None = None,
) -> None:
    """Train the network of ``fit`` on ``source``, then score the test blocks.

    Stores the history and the test scores in ``fit``. When training diverges,
    ``fit.history`` has the completed epochs before TrainingDivergedError
    propagates. Parameters are those of :func:`fit_streaming`.
    """
    check_cache_dir(cache_dir)
    split = fit.split
    logger.info(
        "training %r on %d rows of %s in blocks of %d",
        fit.network,
        split.count_rows(split.train_blocks),
        source.path,
        split.block_rows,
    )
    with open_encoded_blocks(
        source,
        split.block_rows,
        fit.preprocessor,
        fit.target_encoder,
        fit.network.dtype,
        cache_dir,
    ) as blocks:
        try:
            fit.history = train_streaming(
                fit.network,
                fit.optimizer,
                blocks,
                split,
                fit.target_encoder,
                batch_size=int(model.batch_size),
                stopping=StoppingRule(
                    model.max_epochs, model.patience, model.tolerance
                ),
                rng=np.random.default_rng(model.seed),
                on_epoch_end=on_epoch_end,
                stop_requested=stop_requested,
            )
        except TrainingDivergedError as error:
            fit.history = error.history
            raise
        if split.test_blocks.size and not fit.history.interrupted:
            fit.test_scores = evaluate_blocks(
                fit.network, fit.target_encoder, blocks, split.test_blocks
            )


def fit_streaming(
    model: MLP,
    source: RowSource,
    *,
    block_rows: int | None = None,
    test_fraction: float = 0.0,
    cache_dir: str | os.PathLike[str] | None = None,
    on_epoch_end: EpochCallback | None = None,
    stop_requested: StopRequest | None = None,
) -> StreamingFit:
    """Train a network with the settings of ``model`` on ``source``, block by block.

    The model itself is not changed; :meth:`mlpkit.model.MLP.fit_stream` stores the
    result in it.

    Parameters
    ----------
    model : MLP
        Supplies every setting: layers, optimizer, batch size, stopping rule,
        ``validation_fraction``, task, standardization, dtype and seed (split,
        weights and shuffling). ``validation_fraction`` is a share of the blocks
        left after the test blocks, ``ceil(validation_fraction · (n_blocks −
        n_test))`` blocks, and not of all blocks. The in-memory ``mlpkit train
        --test-fraction`` likewise takes its validation rows from the rows left
        after the test rows. Of 20 blocks, ``test_fraction=0.6`` and
        ``validation_fraction=0.5`` thus leave 4 for training.
    source : RowSource
        The data file.
    block_rows : int or None, default=None
        Rows per block, at least the model's ``batch_size`` because a mini-batch
        never spans two blocks. None chooses it with
        :func:`mlpkit.blocks.choose_block_rows`.
    test_fraction : float, default=0.0
        Share of all blocks held out before validation, ``ceil(test_fraction ·
        n_blocks)`` blocks, and used only for ``test_scores``.
    cache_dir : str or path-like, optional
        Existing, writable directory of the temporary encoded copy of a CSV file,
        see :func:`mlpkit.blocks.open_encoded_blocks`. It is checked even for a
        ``.npy`` file, which needs no copy.
    on_epoch_end : callable, optional
        Called with each epoch's :class:`~mlpkit.training.EpochRecord`.
    stop_requested : callable, optional
        Polled after every batch; True ends training after that batch.

    Raises
    ------
    ParameterError
        If ``block_rows`` is below the model's ``batch_size``, or ``cache_dir`` is
        not an existing, writable directory.
    DataError
        If the file has invalid values or too few blocks for the held-out fractions.
    TrainingDivergedError
        If the loss or the weights become NaN or infinite.

    Notes
    -----
    NOTE: sample weights are not supported while streaming, and without validation
    blocks the history records no metrics.
    """
    check_cache_dir(cache_dir)
    fit = prepare_streaming(
        model, source, block_rows=block_rows, test_fraction=test_fraction
    )
    train_prepared(
        fit,
        model,
        source,
        cache_dir=cache_dir,
        on_epoch_end=on_epoch_end,
        stop_requested=stop_requested,
    )
    return fit
