"""Cross-validation, autoencoders and variable importance on the command line.

``train --folds K`` and ``train --autoencoder`` extend ``train``, ``info`` adds
Gedeon's importance for an MLP and describes an autoencoder, ``plot
--importance`` draws the importance, and ``anomalies`` and ``importance`` are
commands of their own. The work happens in :mod:`mlpkit.crossval`,
:mod:`mlpkit.autoencoder` and :mod:`mlpkit.importance`.
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.model_selection import train_test_split

from ..autoencoder import AUTOENCODER_KIND, Autoencoder
from ..crossval import CrossValidationResult, FoldResult, cross_validate
from ..data import format_columns
from ..errors import DataError, ParameterError
from ..explain import split_model_data
from ..importance import (
    DEFAULT_REPEATS,
    PermutationImportance,
    gedeon_importance,
    permutation_importance,
)
from ..metrics import METRIC_LABELS
from ..model import MLP
from ..modelfile import write_atomically
from ..plotting import plot_importance, save_figure
from .commands import (
    check_feature_values,
    check_training_rows,
    count_classes,
    check_plot_option,
    fit_or_stop,
    is_npy_file,
    load_training_data,
    model_settings,
    read_table,
    run_info,
    run_train,
    save_model_and_curves,
    split_columns,
    split_test_rows,
    translate_write_errors,
    use_streaming,
)
from .display import (
    best_epoch_text,
    convergence_text,
    format_number,
    history_text,
    layers_table,
    preprocessing_table,
    print_text,
    reported_warnings,
    settings_table,
    stderr_is_terminal,
    write_stdout,
)
from .explain_commands import plot_output_and_model, run_plot
from .output_paths import (
    check_output_paths,
    check_train_output_paths,
    csv_output_path,
)
from .parser import parse_target_names
from .ignored_options import warn_ignored_options
from .input_checks import check_input_file
from .model_loading import (
    RESUME_CHECKPOINT,
    load_autoencoder,
    load_mlp,
    model_kind,
)

AUTOENCODER_SETTINGS = tuple(inspect.signature(Autoencoder).parameters)
"""Names of the Autoencoder constructor arguments, taken from the train options."""


# train


def run_train_command(args: argparse.Namespace, out: Console, err: Console) -> None:
    """Run ``train``: an autoencoder, cross-validation then a model, or a model."""
    check_input_file(args.data, "data file")
    if args.resume is not None:
        check_input_file(args.resume, RESUME_CHECKPOINT)
    check_train_output_paths(args)
    if not args.autoencoder:
        # Invalid settings raise here, before any warning about ignored options.
        MLP(**model_settings(args))
    with reported_warnings(err):
        warn_ignored_options(args, streaming=use_streaming(args))
    if args.autoencoder:
        run_train_autoencoder(args, out, err)
    elif args.folds is not None:
        run_train_with_folds(args, out, err)
    else:
        run_train(args, out, err)


def run_train_with_folds(args: argparse.Namespace, out: Console, err: Console) -> None:
    """Cross-validate the settings on the training rows, then train the final model.

    The folds split the rows that ``--test-fraction`` leaves for training. The
    final model then trains on all of those rows through ``run_train``, which
    reads DATA again and keeps its checkpoints, plots and signal handling.
    """
    if args.resume is not None:
        raise ParameterError(
            "--folds cannot be combined with --resume, which continues one "
            "training; leave out one of them"
        )
    if use_streaming(args):
        raise ParameterError(
            "--folds needs the data in memory, but DATA would be streamed; pass "
            "--streaming never"
        )
    settings = model_settings(args)
    MLP(**settings)
    check_plot_option(args)
    features, target, source = load_training_data(args)
    check_training_rows(
        len(target),
        count_classes(target, args.task),
        args.test_fraction,
        args.validation_fraction,
    )
    train_rows, _ = split_test_rows(target, args.test_fraction, args.task, args.seed)

    def report(fold: FoldResult) -> None:
        # Progress, like the bar: the table after the last fold repeats it.
        if not args.quiet and stderr_is_terminal():
            print_text(
                err, f"fold {fold.fold} of {args.folds}: {scores_text(fold.scores)}"
            )

    with reported_warnings(err):
        result = cross_validate(
            settings,
            features.iloc[train_rows],
            target.iloc[train_rows],
            folds=args.folds,
            seed=args.seed,
            source=source,
            on_fold_end=report,
        )
    out.print(cross_validation_table(result))
    if not args.quiet:
        print_text(
            out, f"training the final model on all {train_rows.size} training rows"
        )
    run_train(args, out, err)


def scores_text(scores: dict[str, float]) -> str:
    """Return ``loss 0.1, accuracy 0.9`` for a dict of scores."""
    parts = []
    for name, value in scores.items():
        parts.append(f"{METRIC_LABELS.get(name, name)} {format_number(value)}")
    return ", ".join(parts)


def cross_validation_table(result: CrossValidationResult) -> Table:
    """Tabulate each fold's scores, then their mean and standard deviation."""
    table = Table(title=f"{len(result.folds)}-fold cross-validation ({result.task})")
    table.add_column("fold")
    table.add_column("test rows", justify="right")
    for name in result.score_names:
        table.add_column(METRIC_LABELS.get(name, name), justify="right")
    for fold in result.folds:
        values = [format_number(fold.scores[name]) for name in result.score_names]
        table.add_row(str(fold.fold), str(fold.test_rows), *values)
    table.add_section()
    for label, summary in (("mean", result.mean), ("std", result.std)):
        values = [format_number(summary[name]) for name in result.score_names]
        table.add_row(label, "", *values)
    return table


def run_train_autoencoder(args: argparse.Namespace, out: Console, err: Console) -> None:
    """Train an autoencoder on the input columns of DATA and save it."""
    _check_autoencoder_options(args)
    model = Autoencoder(**autoencoder_settings(args))
    check_plot_option(args)
    features, source = load_autoencoder_data(args)
    check_training_rows(
        len(features), 0, args.test_fraction, args.validation_fraction
    )
    train_rows, test_rows = split_rows(len(features), args.test_fraction, args.seed)

    def fit(on_epoch_end: Any, stop_requested: Any) -> None:
        model.fit(
            features.iloc[train_rows],
            source=source,
            on_epoch_end=on_epoch_end,
            stop_requested=stop_requested,
        )

    test_error = None
    with reported_warnings(err):
        fit_or_stop(model, args, out, err, None, fit)
        if test_rows.size:
            errors = model.reconstruction_error(features.iloc[test_rows], source=source)
            test_error = float(errors.mean())
    save_model_and_curves(model, args)

    print_text(out, f"autoencoder: {model.network_!r}")
    if test_error is not None:
        print_text(
            out,
            f"mean reconstruction error on {test_rows.size} test rows: "
            f"{format_number(test_error)}",
        )
    print_text(out, best_epoch_text(model))
    print_text(out, f"converged: {convergence_text(model)}")
    print_text(out, f"saved autoencoder to {args.output}")
    if args.plot is not None:
        print_text(out, f"saved learning curves to {args.plot}")


def _check_autoencoder_options(args: argparse.Namespace) -> None:
    if args.folds is not None:
        raise ParameterError(
            "--folds cross-validates a supervised model; leave it out with "
            "--autoencoder"
        )
    if args.checkpoint is not None or args.resume is not None:
        raise ParameterError(
            "--checkpoint and --resume are not supported with --autoencoder; "
            "leave them out"
        )
    if args.weight_column is not None:
        raise ParameterError(
            "--weight-column weighs rows in the loss of supervised training, but "
            "an autoencoder takes no row weights and would read the column as an "
            "input; leave out --weight-column, or pass the column to --target to "
            "leave it out of the inputs"
        )
    if use_streaming(args):
        raise ParameterError(
            "--autoencoder needs the data in memory, but DATA would be streamed; "
            "pass --streaming never"
        )


def autoencoder_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Return the Autoencoder arguments from the train options.

    ``--hidden`` and ``--activation`` apply only when given, because the MLP
    defaults (100 hidden units, relu) make a poor autoencoder: 100 units can
    copy the inputs through without learning their structure.

    Train options that the Autoencoder constructor lacks, such as ``--task``
    and the regularization options, are left out; ``train`` warns about each
    one given (:mod:`mlpkit.cli.ignored_options`).
    """
    given = getattr(args, "given_options", set())
    settings = {}
    for name, value in model_settings(args).items():
        if name in AUTOENCODER_SETTINGS:
            settings[name] = value
    if "hidden" not in given:
        settings["hidden_layers"] = None
    if "activation" not in given:
        del settings["activation"]
    return settings


def load_autoencoder_data(args: argparse.Namespace) -> tuple[pd.DataFrame, str | None]:
    """Read DATA and drop its ``--target`` columns, or a built-in dataset's target."""
    if is_npy_file(args.data):
        raise DataError(
            f"{args.data} is a .npy file, but --autoencoder reads CSV files and "
            "built-in datasets; save the rows as CSV"
        )
    frame, source, dataset_targets = read_table(args.data, args.sep)
    targets = parse_target_names(args.target) or dataset_targets
    features = frame
    if targets:
        features, _ = split_columns(frame, targets, source)
    check_feature_values(features, source)
    return features, source


def split_rows(
    n_rows: int, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return training and test row positions, the test rows a random ``fraction``."""
    rows = np.arange(n_rows)
    if fraction == 0.0:
        return rows, rows[:0]
    if np.ceil(fraction * n_rows) >= n_rows:
        raise DataError(
            f"{n_rows} rows are too few to hold out --test-fraction {fraction}; "
            "add rows or pass --test-fraction 0"
        )
    train_rows, test_rows = train_test_split(
        rows, test_size=fraction, random_state=seed
    )
    return np.sort(train_rows), np.sort(test_rows)


# info and plot


def run_info_command(args: argparse.Namespace, out: Console, err: Console) -> None:
    """Run ``info``: an autoencoder's description, or an MLP's with its importance."""
    if model_kind(args.model) == AUTOENCODER_KIND:
        run_autoencoder_info(args, out)
        return
    run_info(args, out, err)
    out.print(gedeon_table(gedeon_importance(load_mlp(args.model, "info"))))


def run_autoencoder_info(args: argparse.Namespace, out: Console) -> None:
    model = Autoencoder.load(args.model)
    out.print(layers_table(model))
    print_text(out, "task: autoencoder, reconstructs its input columns")
    out.print(preprocessing_table(model.preprocessor_))
    out.print(settings_table(model))
    for line in history_text(model):
        print_text(out, line)


def gedeon_table(table: pd.DataFrame) -> Table:
    """Render a table from :func:`mlpkit.importance.gedeon_importance`."""
    rendered = Table(title="Gedeon importance")
    rendered.add_column("column")
    rendered.add_column("relative", justify="right")
    rendered.add_column("scaled", justify="right")
    rendered.add_column("percentage", justify="right")
    for row in table.itertuples(index=False):
        rendered.add_row(
            str(row.variable),
            format_number(row.relative_importance),
            format_number(row.scaled_importance),
            f"{100 * row.percentage:.1f}%",
        )
    return rendered


def run_plot_command(args: argparse.Namespace, out: Console, err: Console) -> None:
    """Run ``plot``: the importance with ``--importance``, the other plots otherwise."""
    if not args.importance:
        run_plot(args, out, err)
        return
    if args.network:
        raise ParameterError(
            "--importance and --network draw different plots; pass one of them"
        )
    default = Path(args.model).with_name(Path(args.model).stem + "-importance.png")
    output, model = plot_output_and_model(args, default)

    permutation = None
    metric = ""
    if args.data is not None:
        with reported_warnings(err):
            result = permutation_on_data(model, args.data, None, DEFAULT_REPEATS, 0)
        permutation = result.to_frame()
        metric = result.metric
    figure = plot_importance(gedeon_importance(model), permutation, metric)
    with translate_write_errors(output):
        save_figure(figure, output)
    print_text(out, f"wrote variable importance to {output}")


# importance


def permutation_on_data(
    model: MLP, data: str, sep: str | None, repeats: int, seed: int
) -> PermutationImportance:
    """Read DATA, split off the model's target columns and permute each input."""
    frame, source, _ = read_table(data, sep)
    features, target = split_model_data(model, frame, source)
    if target is None:
        names = list(model.target_encoder_.target_names_)
        raise DataError(
            f"{source or data} lacks the target column(s) {format_columns(names)}; "
            "permutation importance compares predictions with them, so add them"
        )
    return permutation_importance(
        model, features, target, n_repeats=repeats, seed=seed, source=source
    )


def run_importance(args: argparse.Namespace, out: Console, err: Console) -> None:
    model = load_mlp(args.model, "importance")
    with reported_warnings(err):
        result = permutation_on_data(
            model, args.data, args.sep, args.repeats, args.seed
        )

    label = METRIC_LABELS.get(result.metric, result.metric)
    table = Table(title="permutation importance")
    table.add_column("column")
    table.add_column("mean", justify="right")
    table.add_column("std", justify="right")
    for row in result.to_frame().itertuples(index=False):
        table.add_row(
            str(row.variable),
            format_number(row.importance_mean),
            format_number(row.importance_std),
        )
    out.print(table)
    print_text(
        out,
        f"importance: the drop in {label} when the column is shuffled, over "
        f"{args.repeats} shuffles; {label} on the rows as given: "
        f"{format_number(result.baseline_score)}",
    )


# anomalies


def run_anomalies(args: argparse.Namespace, out: Console, err: Console) -> None:
    output = csv_output_path(args.output)
    check_output_paths(
        {"--output": output},
        {"the autoencoder file": args.model, "the data file": args.data},
        stdout_advice="pass --output - to write the scores to stdout",
    )
    model = load_autoencoder(args.model)
    scores_to_stdout = args.output is not None and output is None
    if scores_to_stdout:
        # "-o -" makes stdout the CSV alone, so the table goes to stderr.
        out = err
    frame, source, _ = read_table(args.data, args.sep)
    with reported_warnings(err):
        ranked = model.rank_anomalies(frame, source=source)
        listed = ranked.iloc[: args.top]
        shares = model.column_errors(frame.iloc[listed["row"]], source=source)

    ranked = ranked.assign(
        rank=np.arange(1, len(ranked) + 1),
        row=ranked["row"] + 1,
    )
    table = Table(title=f"most unusual rows of {source or args.data}")
    for name in ("rank", "row", "reconstruction error", "largest share"):
        table.add_column(name, justify="left" if name == "largest share" else "right")
    for position, row in enumerate(ranked.iloc[: args.top].itertuples(index=False)):
        contributions = shares.iloc[position]
        column = contributions.idxmax()
        share = contributions[column] / max(row.reconstruction_error, 1e-300)
        table.add_row(
            str(row.rank),
            str(row.row),
            format_number(row.reconstruction_error),
            f"{column} ({100 * share:.0f}%)",
        )
    out.print(table)
    median = float(np.median(ranked["reconstruction_error"]))
    print_text(
        out,
        f"scored {len(ranked)} rows (row 1 is the first after the header); median "
        f"error {format_number(median)}",
    )

    if args.output is None:
        return
    columns = ["rank", "row", "reconstruction_error"]
    text = ranked[columns].to_csv(index=False)
    if scores_to_stdout:
        write_stdout(text)
        return
    with translate_write_errors(output):
        write_atomically(output, lambda file: file.write(text.encode("utf-8")))
    print_text(out, f"wrote the scores of {len(ranked)} rows to {output}")
