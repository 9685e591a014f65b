"""The ``mlpkit`` commands: train, predict, evaluate and info, over :class:`~mlpkit.model.MLP`."""

from __future__ import annotations

import argparse
import difflib
import logging
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.model_selection import train_test_split

from ..data import describe_source, format_columns, read_csv, split_target
from ..datasets import DATASET_NAMES, is_dataset_name, load_dataset
from ..errors import DataError, MlpkitError, ParameterError
from ..model import MLP
from ..modelfile import write_atomically
from ..plotting import (
    check_png_path,
    plot_learning_curves,
    require_matplotlib,
    save_figure,
)
from ..preprocessing import TabularPreprocessor
from ..tasks import check_target_values, infer_task
from .display import (
    convergence_text,
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
)
from .parser import parse_target_names

logger = logging.getLogger(__name__)


def read_table(text: str) -> tuple[pd.DataFrame, str | None, list[str]]:
    """Read DATA, a CSV file or a built-in dataset when no file has that name.

    Returns the frame, the source that messages name (None for a dataset) and the
    dataset's target column (an empty list for CSV).
    """
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
    return read_csv(path), str(path), []


def split_columns(
    frame: pd.DataFrame, targets: list[str], source: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into feature columns and the target columns ``targets``."""
    for name in targets:
        # Raises DataError that suggests the closest column name.
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
    if task == "classification" or (
        task == "auto" and infer_task(target) != "regression"
    ):
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


def check_output_path(path: Path) -> None:
    """Raise ParameterError unless a file can be created at ``path``."""
    if path.is_dir():
        raise ParameterError(f"output {str(path)!r} is a directory; pass a file path")
    if not path.parent.is_dir():
        raise ParameterError(
            f"directory {str(path.parent)!r} of output {str(path)!r} not found; "
            "create it first"
        )


@contextmanager
def translate_write_errors(path: Path) -> Iterator[None]:
    """Turn an OSError while writing ``path`` into an MlpkitError."""
    try:
        yield
    except OSError as error:
        raise MlpkitError(
            f"failed to write {str(path)!r} ({error.strerror or error}); check that "
            "its directory exists and is writable"
        ) from error


# Terminal output


def model_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Return the MLP constructor arguments from the train options."""
    return {
        "hidden_layers": args.hidden,
        "activation": args.activation,
        "optimizer": args.optimizer,
        "learning_rate": args.learning_rate,
        "momentum": args.momentum,
        "nesterov": args.nesterov,
        "batch_size": args.batch_size,
        "max_epochs": args.epochs,
        "patience": args.patience,
        "tolerance": args.tolerance,
        "validation_fraction": args.validation_fraction,
        "task": args.task,
        "standardize": not args.no_standardize,
        "dtype": args.dtype,
        "seed": args.seed,
    }


def load_training_data(
    args: argparse.Namespace,
) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """Read DATA and split it into checked features and target columns."""
    frame, source, dataset_targets = read_table(args.data)
    targets = parse_target_names(args.target) or dataset_targets
    if not targets:
        raise DataError(
            f"pass --target with the column to predict; {source} has columns "
            f"{format_columns([str(column) for column in frame.columns])}"
        )
    features, target = split_columns(frame, targets, source)
    check_target_values(target, source)
    # Reject text, infinity and empty columns in any row now, before training,
    # instead of after it when the test rows are evaluated.
    TabularPreprocessor().fit(features, source=source)
    return features, target, source


def run_train(args: argparse.Namespace, out: Console, err: Console) -> None:
    model = MLP(**model_settings(args))
    check_output_path(args.output)
    if args.plot is not None:
        # Fail before training, not after it, when the plot cannot be written.
        require_matplotlib()
        check_png_path(args.plot)
    features, target, source = load_training_data(args)
    train_rows, test_rows = split_test_rows(
        target, args.test_fraction, args.task, args.seed
    )

    show_progress = not args.quiet and stderr_is_terminal()
    test_scores = None
    with reported_warnings(err):
        with epoch_progress(err, args.epochs, show_progress) as on_epoch_end:
            model.fit(
                features.iloc[train_rows],
                target.iloc[train_rows],
                source=source,
                on_epoch_end=on_epoch_end,
            )
        if test_rows.size:
            test_scores = model.evaluate(
                features.iloc[test_rows], target.iloc[test_rows], source=source
            )
    with translate_write_errors(args.output):
        model.save(args.output)
    if args.plot is not None:
        with translate_write_errors(args.plot):
            save_figure(plot_learning_curves(model.history_), args.plot)

    if not args.quiet:
        out.print(training_table(model, test_scores, test_rows.size))
        best_epoch = model.history_.best_epoch
        print_text(out, f"best epoch: {best_epoch} of {model.history_.epochs}")
        print_text(out, f"converged: {convergence_text(model)}")
    print_text(out, f"saved model to {args.output}")
    if args.plot is not None:
        print_text(out, f"saved learning curves to {args.plot}")


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
    model = MLP.load(args.model)
    if args.output is not None:
        check_output_path(args.output)
    frame, source, _ = read_table(args.data)
    with reported_warnings(err):
        predictions = prediction_frame(model, frame, source)
    text = predictions.to_csv(index=False)

    if args.output is None:
        sys.stdout.write(text)
        return
    with translate_write_errors(args.output):
        write_atomically(args.output, lambda file: file.write(text.encode("utf-8")))
    if not args.quiet:
        print_text(err, f"wrote {len(predictions)} predictions to {args.output}")


def run_evaluate(args: argparse.Namespace, out: Console, err: Console) -> None:
    model = MLP.load(args.model)
    frame, source, _ = read_table(args.data)
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
    model = MLP.load(args.model)
    out.print(layers_table(model))
    print_text(out, f"task: {task_text(model)}")
    out.print(preprocessing_table(model.preprocessor_))
    out.print(settings_table(model))
    for line in history_text(model):
        print_text(out, line)
