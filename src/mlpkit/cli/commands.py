"""The ``mlpkit`` commands: train, predict, evaluate and info, over :class:`~mlpkit.model.MLP`."""

from __future__ import annotations

import argparse
import difflib
import logging
import math
import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.model_selection import train_test_split

from ..data import describe_source, format_columns, read_csv, split_target
from ..datasets import DATASET_NAMES, is_dataset_name, load_dataset
from ..errors import (
    DataError,
    DataWarning,
    MlpkitError,
    ParameterError,
    TrainingDivergedError,
)
from ..model import MLP
from ..modelfile import os_error_reason, write_atomically
from ..plotting import (
    check_png_path,
    plot_learning_curves,
    require_matplotlib,
    save_figure,
)
from ..preprocessing import TabularPreprocessor
from ..sources import NPY_SUFFIX, open_source
from ..tasks import check_target_values
from ..training import EpochCallback, StopRequest
from .display import (
    best_epoch_text,
    convergence_text,
    print_line,
    epoch_progress,
    history_text,
    layers_table,
    metric_rows,
    preprocessing_table,
    print_text,
    reported_warnings,
    settings_table,
    stderr_is_terminal,
    task_text,
    training_table,
    write_stdout,
)
from .parser import parse_target_names
from .input_checks import (
    check_column_found,
    check_input_file,
    check_numeric_targets,
    check_separator,
    check_training_rows,
    count_classes,
    first_line,
    is_classification,
)
from .model_loading import check_epochs_left, load_mlp
from .option_names import settings_from_options
from .output_paths import check_output_paths, csv_output_path
from .train_options import split_weight_column

logger = logging.getLogger(__name__)


def read_table(
    text: str, sep: str | None = None
) -> tuple[pd.DataFrame, str | None, list[str]]:
    """Read DATA, a CSV file or a built-in dataset when no file has that name.

    ``sep`` is the CSV field separator, detected when None. Returns the frame, the
    source that messages name (None for a dataset) and the dataset's target column
    (an empty list for CSV).
    """
    check_input_file(text, "data file")
    if is_dataset_name(text):
        features, target = load_dataset(text)
        return pd.concat([features, target], axis=1), None, [str(target.name)]

    path = Path(text)
    guesses = difflib.get_close_matches(text, DATASET_NAMES, n=1)
    if not path.exists() and not path.suffix and guesses:
        raise DataError(
            f"{text!r} is neither a file nor a built-in dataset; did you mean "
            f"{guesses[0]!r} (datasets: {', '.join(DATASET_NAMES)})?"
        )
    if path.suffix.lower() == NPY_SUFFIX:
        raise DataError(
            f"{text} is a .npy file, which only 'mlpkit train' reads; save the rows"
            " as CSV for this command"
        )
    try:
        frame = read_csv(path, sep=sep)
    except DataError:
        check_separator(path, sep, first_line(path))
        raise
    if frame.shape[1] == 1:
        check_separator(path, sep, str(frame.columns[0]))
    return frame, str(path), []


def split_columns(
    frame: pd.DataFrame, targets: list[str], source: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into feature columns and the target columns ``targets``."""
    for name in targets:
        check_column_found(frame, name, "target", source)
        # Raises DataError for a column name that the header repeats.
        split_target(frame, name, source)
    features = frame.drop(columns=targets)
    if features.shape[1] == 0:
        raise DataError(
            f"{describe_source(source)} has no feature columns besides the targets "
            f"{format_columns(targets)}; add at least one input column"
        )
    return features, frame[targets]


def split_test_rows(
    target: pd.DataFrame, fraction: float, task: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return training and test row positions, stratified by class when possible."""
    rows = np.arange(len(target))
    if fraction == 0.0:
        return rows, rows[:0]
    n_test = math.ceil(fraction * len(rows))
    if n_test >= len(rows):
        raise DataError(
            f"{len(rows)} rows are too few to hold out --test-fraction {fraction}; "
            "add rows or pass --test-fraction 0"
        )

    stratify = None
    if is_classification(target, task):
        labels = target.iloc[:, 0].to_numpy()
        _, counts = np.unique(labels, return_counts=True)
        n_classes = counts.size
        if counts.min() >= 2 and min(n_test, len(rows) - n_test) >= n_classes:
            stratify = labels
        else:
            logger.info("test split not stratified: a class is too rare")
    train_rows, test_rows = train_test_split(
        rows, test_size=fraction, random_state=seed, stratify=stratify
    )
    return np.sort(train_rows), np.sort(test_rows)


@contextmanager
def translate_write_errors(path: Path) -> Iterator[None]:
    """Turn an OSError while writing ``path`` into an MlpkitError."""
    try:
        yield
    except OSError as error:
        raise MlpkitError(
            f"failed to write {str(path)!r} ({os_error_reason(error)}); check that "
            "its directory exists and is writable, and that the file, if it "
            "exists, may be replaced"
        ) from error


# Terminal output


def model_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Return the MLP constructor arguments from the train options."""
    return settings_from_options(args)


def load_training_data(
    args: argparse.Namespace,
) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """Read DATA and split it into checked features and target columns.

    Raises ParameterError for ``--weight-column``, which only ``train`` without
    other modes reads, through :func:`load_weighted_training_data`.
    """
    features, target, weights, source = load_weighted_training_data(args)
    if weights is not None:
        raise ParameterError(
            "--weight-column is not supported with this command or mode; remove it"
        )
    return features, target, source


def load_weighted_training_data(
    args: argparse.Namespace,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None, str | None]:
    """Read DATA into checked features, targets and the ``--weight-column`` weights.

    The weights are None without ``--weight-column``.
    """
    weight_column = getattr(args, "weight_column", None)
    weights = None
    if is_npy_file(args.data):
        if weight_column is not None:
            raise ParameterError(
                "--weight-column needs CSV data with a header; a .npy file has no "
                "column names"
            )
        # The whole file as one block: x0, x1, … and the target columns.
        npy_source = open_source(args.data, parse_target_names(args.target) or None)
        block = npy_source.read_block(0, npy_source.n_rows)
        features, target, source = block.features, block.target, args.data
    else:
        frame, source, dataset_targets = read_table(args.data, args.sep)
        targets = parse_target_names(args.target) or dataset_targets
        if not targets:
            raise DataError(
                f"pass --target with the column to predict; {source} has columns "
                f"{format_columns([str(column) for column in frame.columns])}"
            )
        if weight_column is not None and weight_column in targets:
            raise ParameterError(
                f"--weight-column {weight_column!r} is also a --target column; "
                "pass a different column"
            )
        features, target = split_columns(frame, targets, source)
        if len(targets) > 1 and args.task in ("auto", "regression"):
            check_numeric_targets(target)
        if weight_column is not None:
            check_column_found(features, weight_column, "weight", source)
            features, weights = split_weight_column(features, weight_column, source)
    check_target_values(target, source)
    check_feature_values(features, source)
    return features, target, weights, source


def check_feature_values(features: pd.DataFrame, source: str) -> None:
    """Reject text, infinity and empty columns in any row of ``features``.

    Training fits its preprocessing on the training rows only, so a bad value
    in a test row would otherwise surface after training. The data warnings of
    this fit are dropped because training repeats them for its own rows.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        TabularPreprocessor().fit(features, source=source)


class TrainingStopped(Exception):
    """Training ended early on a signal, after saving; main exits 128 + the signal."""

    def __init__(self, signal_number: int):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


class StopRequests:
    """Record SIGINT and SIGTERM, so training can stop after the current batch.

    A second SIGINT raises KeyboardInterrupt at once, for a user who does not want
    to wait for the batch and the saving.
    """

    def __init__(self) -> None:
        self.signal_number: int | None = None

    def handle(self, signal_number: int, frame: Any) -> None:
        if self.signal_number is not None and signal_number == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal_number = signal_number

    def requested(self) -> bool:
        return self.signal_number is not None


@contextmanager
def stop_requests() -> Iterator[StopRequests]:
    """Route SIGINT and SIGTERM to a StopRequests inside the block.

    Signal handlers can only be set in the main thread. Elsewhere the block runs
    with the handlers unchanged, so Ctrl-C keeps raising KeyboardInterrupt.
    """
    requests = StopRequests()
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return
    signal_numbers = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.getsignal(number) for number in signal_numbers}
    for number in signal_numbers:
        signal.signal(number, requests.handle)
    try:
        yield requests
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def is_npy_file(text: str) -> bool:
    """Return whether DATA names an existing ``.npy`` file."""
    return Path(text).suffix.lower() == NPY_SUFFIX and Path(text).is_file()


def use_streaming(args: argparse.Namespace) -> bool:
    """Return whether ``train`` reads DATA block by block, from ``--streaming``."""
    if args.streaming == "never":
        return False
    if not Path(args.data).is_file():
        if args.streaming == "always":
            raise ParameterError(
                f"--streaming always needs a CSV or .npy file, but {args.data!r} is"
                " not a file; pass a file or --streaming auto"
            )
        return False
    if args.streaming == "always":
        return True
    return Path(args.data).stat().st_size > args.stream_above * 2**20


def run_train(args: argparse.Namespace, out: Console, err: Console) -> None:
    model = MLP(**model_settings(args))
    if use_streaming(args):
        run_train_streaming(model, args, out, err)
        return
    if args.resume is not None:
        check_epochs_left(args.resume, args.epochs)
    checkpoint = args.checkpoint if args.checkpoint is not None else args.resume
    check_plot_option(args)
    features, target, weights, source = load_weighted_training_data(args)
    check_training_rows(
        len(target),
        count_classes(target, args.task),
        args.test_fraction,
        args.validation_fraction,
    )
    train_rows, test_rows = split_test_rows(
        target, args.test_fraction, args.task, args.seed
    )
    train_weights = None if weights is None else weights[train_rows]

    def fit(on_epoch_end: EpochCallback, stop_requested: StopRequest) -> None:
        model.fit(
            features.iloc[train_rows],
            target.iloc[train_rows],
            train_weights,
            source=source,
            on_epoch_end=on_epoch_end,
            checkpoint=checkpoint,
            resume=args.resume,
            stop_requested=stop_requested,
        )

    test_scores = None
    with reported_warnings(err):
        fit_or_stop(model, args, out, err, checkpoint, fit)
        if test_rows.size:
            test_scores = model.evaluate(
                features.iloc[test_rows], target.iloc[test_rows], source=source
            )
    save_model_and_curves(model, args)

    out.print(training_table(model, test_scores, test_rows.size))
    print_text(out, best_epoch_text(model))
    print_text(out, f"converged: {convergence_text(model)}")
    print_text(out, f"saved model to {args.output}")
    if checkpoint is not None:
        print_text(out, f"saved checkpoint to {checkpoint}")
    if args.plot is not None:
        print_text(out, f"saved learning curves to {args.plot}")


def run_train_streaming(
    model: MLP, args: argparse.Namespace, out: Console, err: Console
) -> None:
    """Train on DATA read block by block, then save, as run_train does in memory."""
    if args.checkpoint is not None or args.resume is not None:
        raise ParameterError(
            "--checkpoint and --resume are not supported when streaming; pass "
            "--streaming never to train in memory"
        )
    if args.weight_column is not None:
        raise ParameterError(
            "--weight-column is not supported when streaming; pass --streaming "
            "never to train in memory"
        )
    check_plot_option(args)
    source = open_source(
        args.data, parse_target_names(args.target) or None, sep=args.sep
    )

    def fit(on_epoch_end: EpochCallback, stop_requested: StopRequest) -> None:
        model.fit_stream(
            source,
            block_rows=args.block_rows,
            test_fraction=args.test_fraction,
            on_epoch_end=on_epoch_end,
            stop_requested=stop_requested,
        )

    with reported_warnings(err):
        fit_or_stop(model, args, out, err, None, fit)
    save_model_and_curves(model, args)

    split = model.block_split_
    n_test = split.count_rows(split.test_blocks)
    out.print(training_table(model, model.test_scores_, n_test))
    print_text(out, best_epoch_text(model))
    print_text(out, f"converged: {convergence_text(model)}")
    blocks = "1 block" if split.n_blocks == 1 else f"{split.n_blocks} blocks"
    print_text(
        out,
        f"streamed {split.n_rows} rows of {source.path} in {blocks} "
        f"of {split.block_rows} rows",
    )
    print_text(out, f"saved model to {args.output}")
    if args.plot is not None:
        print_text(out, f"saved learning curves to {args.plot}")


def fit_until_signal(
    model: MLP,
    args: argparse.Namespace,
    err: Console,
    checkpoint: Path | None,
    fit: Callable[[EpochCallback, StopRequest], None],
) -> int | None:
    """Run ``fit`` with a progress bar and a stop request until done or signalled.

    ``fit`` receives the epoch callback and the stop request, and trains
    ``model``. Returns the number of the SIGINT or SIGTERM that stopped
    training, or None. If training diverges, the best epoch's model is saved
    before the error propagates.
    """
    show_progress = not args.quiet and stderr_is_terminal()
    checkpoint_errors = nullcontext()
    if checkpoint is not None:
        checkpoint_errors = translate_write_errors(checkpoint)
    try:
        with (
            epoch_progress(err, args.epochs, show_progress) as on_epoch_end,
            stop_requests() as stop,
            checkpoint_errors,
        ):
            fit(on_epoch_end, stop.requested)
    except TrainingDivergedError:
        history = getattr(model, "history_", None)
        best_epoch = history.best_epoch if history is not None else 0
        if best_epoch:
            with translate_write_errors(args.output):
                model.save(args.output)
            print_text(
                err,
                f"saved the model of epoch {best_epoch}, the best before training "
                f"diverged, to {args.output}",
            )
        raise
    return stop.signal_number


def check_plot_option(args: argparse.Namespace) -> None:
    """Check that ``--plot``, if given, can be written, so training fails early."""
    if args.plot is not None:
        require_matplotlib()
        check_png_path(args.plot)


def fit_or_stop(
    model: Any,
    args: argparse.Namespace,
    out: Console,
    err: Console,
    checkpoint: Path | None,
    fit: Callable[[EpochCallback, StopRequest], None],
) -> None:
    """Train an MLP or autoencoder with :func:`fit_until_signal`.

    Raises
    ------
    TrainingStopped
        If SIGINT or SIGTERM stopped training, after :func:`save_interrupted`
        saved the best model so far.
    """
    signal_number = fit_until_signal(model, args, err, checkpoint, fit)
    if signal_number is not None:
        save_interrupted(model, args, out, err, checkpoint, signal_number)
        raise TrainingStopped(signal_number)


def save_model_and_curves(model: Any, args: argparse.Namespace) -> None:
    """Save ``model`` to ``--output``, and its learning curves to any ``--plot``."""
    with translate_write_errors(args.output):
        model.save(args.output)
    if args.plot is not None:
        with translate_write_errors(args.plot):
            save_figure(plot_learning_curves(model.history_), args.plot)


def save_interrupted(
    model: MLP,
    args: argparse.Namespace,
    out: Console,
    err: Console,
    checkpoint: Path | None,
    signal_number: int,
) -> None:
    """Save the best model of a training stopped by a signal; print how to resume."""
    history = model.history_
    name = signal.Signals(signal_number).name
    epochs = f"{history.epochs} complete epoch" + ("" if history.epochs == 1 else "s")
    print_line(
        err,
        "stopped",
        "bold yellow",
        f"{name} received; training stopped after {epochs} and the batch in progress",
    )
    if history.best_epoch:
        with translate_write_errors(args.output):
            model.save(args.output)
        print_text(
            out,
            f"saved the best model so far (epoch {history.best_epoch}) to "
            f"{args.output}",
        )
    else:
        print_text(out, "no epoch completed, so no model was saved")
    if checkpoint is not None:
        print_text(
            out,
            f"saved checkpoint to {checkpoint}; continue with the same command and "
            f"--resume {checkpoint}",
        )


def prediction_frame(
    model: MLP, features: pd.DataFrame, source: str | None
) -> pd.DataFrame:
    """Return one column per target and, for classifiers, one per class probability."""
    names = model.target_encoder_.target_names_
    predictions = np.asarray(model.predict(features, source=source))
    if predictions.ndim == 1:
        predictions = predictions[:, np.newaxis]
    columns = {name: predictions[:, index] for index, name in enumerate(names)}
    if model.classes_ is not None:
        probabilities = model.predict_proba(features, source=source)
        for index, label in enumerate(model.classes_):
            columns[f"probability_{label}"] = probabilities[:, index]
    return pd.DataFrame(columns)


def run_predict(args: argparse.Namespace, out: Console, err: Console) -> None:
    # "-o -" writes to stdout, as leaving out -o does.
    output = csv_output_path(args.output)
    check_output_paths(
        {"--output": output},
        {"the model file": args.model, "the data file": args.data},
        stdout_advice="leave out --output, or pass --output -, to write to stdout",
    )
    model = load_mlp(args.model, "predict")
    frame, source, _ = read_table(args.data, args.sep)
    with reported_warnings(err):
        predictions = prediction_frame(model, frame, source)
    text = predictions.to_csv(index=False)

    if output is None:
        write_stdout(text)
        return
    with translate_write_errors(output):
        write_atomically(output, lambda file: file.write(text.encode("utf-8")))
    print_text(err, f"wrote {len(predictions)} predictions to {output}")


def run_evaluate(args: argparse.Namespace, out: Console, err: Console) -> None:
    model = load_mlp(args.model, "evaluate")
    frame, source, _ = read_table(args.data, args.sep)
    names = model.target_encoder_.target_names_
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise DataError(
            f"{describe_source(source)} lacks the target column(s) "
            f"{format_columns(missing)} that the model predicts; evaluate compares "
            "predictions with them, so add them or use 'mlpkit predict'"
        )
    target = frame[names]
    check_target_values(target, source)
    with reported_warnings(err):
        scores = model.evaluate(frame.drop(columns=names), target, source=source)

    loss_name = model.network_.loss.name.replace("_", " ")
    table = Table(title=f"evaluation on {source or args.data}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, value in metric_rows(scores, loss_name):
        table.add_row(label, value)
    table.add_section()
    table.add_row("rows", str(len(frame)))
    out.print(table)


def run_info(args: argparse.Namespace, out: Console, err: Console) -> None:
    model = load_mlp(args.model, "info")
    out.print(layers_table(model))
    print_text(out, f"task: {task_text(model)}")
    out.print(preprocessing_table(model.preprocessor_))
    out.print(settings_table(model))
    for line in history_text(model):
        print_text(out, line)
