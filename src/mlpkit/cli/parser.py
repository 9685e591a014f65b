"""Argument parsing for the ``mlpkit`` command: commands, options and defaults."""

from __future__ import annotations

import argparse
import inspect
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .. import __version__
from ..activations import HIDDEN_ACTIVATIONS
from ..datasets import DATASET_NAMES
from ..errors import ParameterError
from ..explain import DEMO_LEARNING_RATE, DEMO_SEED
from ..importance import DEFAULT_REPEATS
from ..model import MLP
from ..settings import MODEL_TASKS, OPTIMIZER_NAMES
from .option_names import NO_HIDDEN_LAYERS
from .train_options import (
    FRACTION,
    POSITIVE,
    UNIT_CLOSED,
    RecordGiven,
    RecordGivenFlag,
    add_train_options,
    integer_in,
)

logger = logging.getLogger(__name__)


EXIT_USAGE = 2
"""Exit status for an MlpkitError, the same as argparse uses for usage errors."""

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C: 128 plus SIGINT (2), as shells report it."""

EXIT_SIGNAL_BASE = 128
"""A command stopped by signal N exits with 128 + N: 130 for SIGINT, 143 for SIGTERM."""

EXIT_STDOUT_CLOSED = 0
"""Exit status when the reader of stdout exits first, as ``head`` does.

The reader chose to stop reading, so the command ends quietly, as after success.
"""

SEPARATOR_NAMES = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ","}
"""Names that ``--sep`` accepts besides a single character."""

DEFAULT_DATASET = "digits"
DEFAULT_MODEL_PATH = "model.mlpkit"
DEFAULT_TEST_FRACTION = 0.2
SEED_LIMIT = 2**32
"""Exclusive upper bound of seeds, because scikit-learn's random_state takes at
most 2**32 - 1."""
DEFAULT_TOP_ROWS = 10
"""Rows that ``mlpkit anomalies`` lists when ``--top`` is not given."""

STREAMING_MODES = ("auto", "always", "never")
"""Values of ``--streaming``: by file size, for every file, or never."""

DEFAULT_STREAM_ABOVE_MIB = 1024
"""File size in MiB above which ``--streaming auto`` reads the data block by block.

Training in memory holds the parsed table and its encoded copies: on a numeric CSV
of 165 MB (400 000 rows of 21 columns), ``mlpkit train`` peaked at about 2.3 times
the file size. By that ratio, an estimate, a file above 1 GiB would need more than
2 GiB of memory."""

MLP_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(MLP).parameters.items()
}
"""Defaults of the MLP constructor, shown as the defaults of the train options."""

MAX_EXPLAIN_STEPS = 10_000
"""Maximum number of training steps that ``explain --steps`` takes.

Ten times the steps in which the XOR demo classifies all four rows, and enough
to watch a saved model's loss fall on one row, while keeping explain a short
walk-through. Its loss table lists the first and last steps only."""


class UsageError(Exception):
    """A command line that the parser rejected, and the command whose help lists
    the options."""

    def __init__(self, message: str, prog: str):
        super().__init__(message)
        self.prog = prog

    def __str__(self) -> str:
        return f"{self.args[0]}; run '{self.prog} --help' for the options"


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError instead of printing its usage.

    argparse prints the whole usage block before a usage error. The command
    line prints one line instead, which names the ``--help`` of the command.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command_parsers: dict[str, argparse.ArgumentParser] = {}

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)

    def parse_args(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        namespace: argparse.Namespace | None = None,
    ) -> argparse.Namespace:
        """Parse ``args``, and report unknown arguments with their command's help."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = getattr(parsed, "command", None)
            parser = self.command_parsers.get(command, self)
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show each option's default in its help, except a default of None.

    None cannot be typed on the command line, so the help text of an option
    with that default states what applies instead.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)

# Parsing the command line


def parse_hidden_layers(text: str) -> tuple[int, ...]:
    """Parse ``--hidden``: comma-separated unit counts, or ``none`` for no layer."""
    if text.strip().lower() == NO_HIDDEN_LAYERS:
        return ()
    advice = (
        "pass positive integers separated by commas, such as 64,32, or "
        f"{NO_HIDDEN_LAYERS} for no hidden layer"
    )
    if not text.strip():
        raise argparse.ArgumentTypeError(f"empty value; {advice}")
    sizes = []
    for part in text.split(","):
        try:
            units = int(part)
        except ValueError:
            units = 0
        if units < 1:
            raise argparse.ArgumentTypeError(
                f"invalid layer size {part.strip()!r} in {text!r}; {advice}"
            )
        sizes.append(units)
    return tuple(sizes)


def parse_fraction(text: str) -> float:
    """Parse a share of rows in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(
            f"invalid fraction {text!r}; pass a number from 0 up to, but excluding, 1"
        )
    return value


def parse_size_mib(text: str) -> float:
    """Parse a file size in MiB: a finite number of at least 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value < math.inf:
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r}; pass a number of MiB of at least 0, such as 512"
        )
    return value


def parse_file_path(text: str) -> Path:
    """Parse an option that names a file, rejecting an empty value.

    ``Path("")`` is the current directory, so an empty value would otherwise
    be reported as a directory.
    """
    if not text:
        raise argparse.ArgumentTypeError("empty path; pass a file path")
    return Path(text)


def parse_separator(text: str) -> str:
    """Parse ``--sep``: one character, or tab, \\t, semicolon or comma."""
    separator = SEPARATOR_NAMES.get(text.lower(), text)
    if len(separator) != 1 or separator in "\"\r\n.":
        raise argparse.ArgumentTypeError(
            f"invalid separator {text!r}; pass one character other than a quote, a "
            "line break or a period, or one of: " + ", ".join(SEPARATOR_NAMES)
        )
    return separator


def parse_target_names(values: list[str] | None) -> list[str]:
    """Flatten repeated and comma-separated ``--target`` values.

    Raises
    ------
    ParameterError
        If a name is given twice, because a column can be predicted only once.
    """
    names: list[str] = []
    for value in values or []:
        for part in value.split(","):
            name = part.strip()
            if name in names:
                raise ParameterError(
                    f"--target {name} given twice; pass each target column once"
                )
            if name:
                names.append(name)
    return names


# Integer options. A seed is in [0, 2**32), as scikit-learn's random_state, and
# a row number counts from 1.
parse_seed = integer_in("seed", 0, SEED_LIMIT - 1)
parse_positive_int = integer_in("count", 1)
parse_row_number = integer_in(
    "row number", 1, hint=", where 1 is the first row after the header"
)
parse_explain_steps = integer_in("number of steps", 1, MAX_EXPLAIN_STEPS)
parse_folds = integer_in("number of folds", 2)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``mlpkit`` parser with its commands."""
    parser = CommandParser(
        prog="mlpkit",
        description="Train multilayer perceptrons on tabular data and use them.",
    )
    parser.add_argument("--version", action="version", version=f"mlpkit {__version__}")
    _add_global_options(parser, default=False)
    # The commands repeat the global options so that they work after the command
    # name too. Their SUPPRESS default keeps a flag given before the command.
    common = argparse.ArgumentParser(add_help=False)
    _add_global_options(common, default=argparse.SUPPRESS)

    commands = parser.add_subparsers(
        title="commands", metavar="COMMAND", dest="command", parser_class=CommandParser
    )
    commands.required = True
    _add_train_parser(commands, common)
    _add_predict_parser(commands, common)
    _add_evaluate_parser(commands, common)
    _add_info_parser(commands, common)
    _add_explain_parser(commands, common)
    _add_plot_parser(commands, common)
    _add_anomalies_parser(commands, common)
    _add_importance_parser(commands, common)
    parser.command_parsers = dict(commands.choices)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="show tracebacks and DEBUG log messages",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        default=default,
        help="hide the progress bar and the progress lines, such as each "
        "cross-validation fold as it ends; results, warnings and the files "
        "written are still shown",
    )


def _add_command(
    commands: Any, name: str, common: argparse.ArgumentParser, help_text: str
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        parents=[common],
        help=help_text,
        description=help_text,
        formatter_class=DefaultsHelpFormatter,
    )


def _add_train_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = _add_command(commands, "train", common, "train a model and save it")
    _add_data_options(parser.add_argument_group("data"))
    _add_network_options(parser.add_argument_group("network"))
    _add_training_options(parser.add_argument_group("training"))
    _add_streaming_options(parser.add_argument_group("streaming"))
    add_train_options(parser)
    _add_cross_validation_options(
        parser.add_argument_group("cross-validation and autoencoder")
    )
    parser.add_argument(
        "--output",
        "-o",
        type=parse_file_path,
        default=Path(DEFAULT_MODEL_PATH),
        metavar="PATH",
        help="model file to write",
    )
    parser.add_argument(
        "--plot",
        type=parse_file_path,
        metavar="FILE.png",
        help="also write the learning curves to this PNG file (needs matplotlib: "
        "pip install 'mlpkit[plot]')",
    )
    parser.add_argument(
        "--checkpoint",
        type=parse_file_path,
        metavar="FILE",
        help="checkpoint file, rewritten after every epoch and when Ctrl-C or "
        "SIGTERM stops training; continue from it with --resume. Without this "
        "option, a training started with --resume writes to the --resume file",
    )
    parser.add_argument(
        "--resume",
        type=parse_file_path,
        metavar="FILE",
        help="continue training from this checkpoint; pass the DATA, --target, "
        "--test-fraction and network options of the run that wrote it, while "
        "--epochs, --learning-rate, --momentum, --nesterov, --batch-size, "
        "--patience and --tolerance may change",
    )


def _add_data_options(group: Any) -> None:
    group.add_argument(
        "data",
        nargs="?",
        default=DEFAULT_DATASET,
        metavar="DATA",
        help="CSV file, .npy file of a 2-D numeric array, or a built-in dataset: "
        + ", ".join(DATASET_NAMES)
        + " (a file of the same name takes precedence)",
    )
    _add_separator_option(group)
    group.add_argument(
        "--target",
        action="append",
        metavar="COLUMN",
        help="column to predict, required for CSV data; repeat the option or "
        "separate names with commas for multi-output regression, or for the 0/1 "
        "columns of the labels with --task multilabel. For a .npy file, the "
        "column index, such as -1 for the last column (the default). With "
        "--autoencoder, columns left out of the inputs",
    )
    group.add_argument(
        "--task",
        action=RecordGiven,
        choices=MODEL_TASKS,
        default=MLP_DEFAULTS["task"],
        help="learning task; auto infers it from the target column, and "
        "multilabel (never inferred) takes one 0/1 --target column per label",
    )
    group.add_argument(
        "--no-standardize",
        action=RecordGivenFlag,
        help="keep numeric inputs and regression targets in their own units "
        "instead of scaling them to mean 0 and standard deviation 1",
    )
    group.add_argument(
        "--test-fraction",
        type=parse_fraction,
        metavar="FRACTION",
        default=DEFAULT_TEST_FRACTION,
        help="share of all rows kept out of training and used only for the final "
        "metrics (stratified for classification); 0 keeps none. The rows left "
        "after it and --validation-fraction must be at least 2, and for "
        "classification at least one per class",
    )
    group.add_argument(
        "--validation-fraction",
        type=parse_fraction,
        metavar="FRACTION",
        default=MLP_DEFAULTS["validation_fraction"],
        help="share of the training rows held out to monitor early stopping; "
        "0 monitors the training loss",
    )


def _add_streaming_options(group: Any) -> None:
    group.add_argument(
        "--streaming",
        choices=STREAMING_MODES,
        default="auto",
        help="read the data file block by block instead of into memory; auto "
        "streams files larger than --stream-above",
    )
    group.add_argument(
        "--stream-above",
        type=parse_size_mib,
        default=DEFAULT_STREAM_ABOVE_MIB,
        metavar="MIB",
        help="file size in MiB above which --streaming auto streams the file",
    )
    group.add_argument(
        "--block-rows",
        action=RecordGiven,
        type=parse_positive_int,
        metavar="ROWS",
        help="rows per block when streaming; blocks are read, shuffled and held "
        "out whole. Default: 65536, or fewer in a small file so that it has 64 "
        "blocks, never fewer than --batch-size",
    )


def _add_separator_option(parser: Any) -> None:
    parser.add_argument(
        "--sep",
        type=parse_separator,
        metavar="CHAR",
        help="field separator of the CSV file: one character, or tab, semicolon or "
        "comma. Without it, the separator is a comma, or a semicolon or tab when "
        "the header line has no comma outside quotes",
    )


def _add_network_options(group: Any) -> None:
    group.add_argument(
        "--hidden",
        action=RecordGiven,
        type=parse_hidden_layers,
        # argparse passes a string default through parse_hidden_layers.
        default=",".join(str(units) for units in MLP_DEFAULTS["hidden_layers"]),
        metavar="UNITS",
        help="units of each hidden layer, comma-separated, such as 64,32, or "
        f"{NO_HIDDEN_LAYERS} for a network without hidden layers",
    )
    group.add_argument(
        "--activation",
        action=RecordGiven,
        choices=HIDDEN_ACTIVATIONS,
        default=MLP_DEFAULTS["activation"],
        help="activation function of the hidden layers",
    )
    group.add_argument(
        "--maxout-pieces",
        action=RecordGiven,
        type=integer_in("value", 2),
        default=MLP_DEFAULTS["maxout_pieces"],
        metavar="N",
        help="pieces per unit of the maxout activation, at least 2",
    )
    group.add_argument(
        "--dtype",
        action=RecordGiven,
        choices=("float32", "float64"),
        default=MLP_DEFAULTS["dtype"],
        help="floating-point precision of weights and computations",
    )
    group.add_argument(
        "--seed",
        action=RecordGiven,
        type=parse_seed,
        default=MLP_DEFAULTS["seed"],
        metavar="INT",
        help="seed of the initial weights, the row splits and the shuffling, "
        "from 0 to 2**32 - 1",
    )


def _add_training_options(group: Any) -> None:
    group.add_argument(
        "--optimizer",
        action=RecordGiven,
        choices=OPTIMIZER_NAMES,
        default=MLP_DEFAULTS["optimizer"],
        help="optimizer that updates the weights; lbfgs trains on all training "
        "rows at once for at most --epochs iterations, ignores --learning-rate, "
        "--batch-size, --patience and --tolerance, and cannot checkpoint",
    )
    # flag, type, MLP setting that supplies the default, metavar, help
    numbers: list[tuple[str, Any, str, str, str]] = [
        (
            "--learning-rate",
            POSITIVE,
            "learning_rate",
            "RATE",
            "initial step size of the optimizer; default: the optimizer's own, "
            "e.g. 0.001 for adam and 1.0 for adadelta",
        ),
        (
            "--momentum",
            UNIT_CLOSED,
            "momentum",
            "FRACTION",
            "momentum of sgd, from 0 to 1",
        ),
        ("--batch-size", int, "batch_size", "ROWS", "rows per mini-batch"),
        ("--epochs", int, "max_epochs", "N", "maximum number of epochs"),
        (
            "--patience",
            int,
            "patience",
            "EPOCHS",
            "epochs without improvement of the monitored loss before training stops",
        ),
        (
            "--tolerance",
            FRACTION,
            "tolerance",
            "FRACTION",
            "minimum relative improvement of the monitored loss, as a fraction of "
            "the best loss, that counts as an improvement",
        ),
    ]
    for flag, kind, setting, metavar, help_text in numbers:
        group.add_argument(
            flag,
            action=RecordGiven,
            type=kind,
            default=MLP_DEFAULTS[setting],
            metavar=metavar,
            help=help_text,
        )
    group.add_argument(
        "--nesterov",
        action=RecordGivenFlag,
        help="use Nesterov momentum (sgd only)",
    )


def _add_predict_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = _add_command(
        commands, "predict", common, "predict the target of each row of DATA as CSV"
    )
    parser.add_argument("model", metavar="MODEL", help="model file")
    parser.add_argument(
        "data", metavar="DATA", help="CSV file or built-in dataset to predict"
    )
    _add_separator_option(parser)
    parser.add_argument(
        "--output",
        "-o",
        type=parse_file_path,
        metavar="FILE",
        help="CSV file to write instead of stdout; - also writes to stdout",
    )


def _add_evaluate_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = _add_command(
        commands, "evaluate", common, "print the loss and metrics of a model on DATA"
    )
    parser.add_argument("model", metavar="MODEL", help="model file")
    parser.add_argument(
        "data",
        metavar="DATA",
        help="CSV file or built-in dataset that contains the target column(s)",
    )
    _add_separator_option(parser)


def _add_info_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = _add_command(
        commands, "info", common, "describe a model's layers, data and training"
    )
    parser.add_argument("model", metavar="MODEL", help="model file")


def _add_explain_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = _add_command(
        commands,
        "explain",
        common,
        "walk through one training step with its real numbers: a 2-2-1 sigmoid "
        "network on XOR, or a saved MODEL on one row of DATA",
    )
    parser.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="model file; without it the XOR demo runs",
    )
    parser.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="CSV file or built-in dataset with the row to explain; its target "
        "column, if present, gives the error and the backpropagation",
    )
    parser.add_argument(
        "--row",
        type=parse_row_number,
        default=1,
        metavar="K",
        help="row of DATA to explain, counting from 1 (the first row after the header)",
    )
    parser.add_argument(
        "--steps",
        type=parse_explain_steps,
        default=1,
        metavar="N",
        help="training steps to take on the same rows, at most "
        f"{MAX_EXPLAIN_STEPS}; above 1 adds a table of the loss after each step",
    )
    # SUPPRESS leaves the options out of the namespace unless given, so that
    # run_explain can reject them next to MODEL.
    parser.add_argument(
        "--seed",
        type=parse_seed,
        default=argparse.SUPPRESS,
        metavar="INT",
        help=f"seed of the XOR network's initial weights (default: {DEMO_SEED})",
    )
    parser.add_argument(
        "--learning-rate",
        type=POSITIVE,
        default=argparse.SUPPRESS,
        metavar="RATE",
        help="learning rate η of the XOR demo's gradient descent "
        f"(default: {DEMO_LEARNING_RATE:g})",
    )


def _add_plot_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = _add_command(
        commands,
        "plot",
        common,
        "draw a model's learning curves and results, or its network, as a PNG file "
        "(needs matplotlib: pip install 'mlpkit[plot]')",
    )
    parser.add_argument("model", metavar="MODEL", help="model file")
    parser.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="CSV file or built-in dataset with the target column(s); adds a "
        "confusion matrix or predicted against true values, and the decision "
        "boundary for a model with two numeric inputs",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=parse_file_path,
        metavar="FILE.png",
        help="PNG file to write; without it, MODEL-plot.png (MODEL-network.png "
        "with --network) beside MODEL",
    )
    parser.add_argument(
        "--network",
        action="store_true",
        help="draw the network's units and weights instead: edge width is |w|, "
        "blue is positive, red negative",
    )
    parser.add_argument(
        "--importance",
        action="store_true",
        help="draw the variable importance instead: Gedeon's weight-based measure, "
        "and permutation importance on DATA when DATA is given",
    )


def _add_cross_validation_options(group: Any) -> None:
    group.add_argument(
        "--folds",
        type=parse_folds,
        metavar="K",
        help="first cross-validate the settings in K folds of the training rows "
        "and report each fold's metrics with their mean and standard deviation, "
        "then train the final model on all the training rows",
    )
    group.add_argument(
        "--autoencoder",
        action="store_true",
        help="train an autoencoder that reconstructs the input columns, for "
        "'mlpkit anomalies'; --target columns are left out of its inputs. Without "
        "--hidden it uses hidden layers h,b,h with h = max(2, inputs // 2) and b = "
        "max(1, h // 2), and without --activation tanh",
    )


def _add_anomalies_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = _add_command(
        commands,
        "anomalies",
        common,
        "score each row of DATA by an autoencoder's reconstruction error and list "
        "the most unusual rows",
    )
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="autoencoder file from 'mlpkit train --autoencoder'",
    )
    parser.add_argument("data", metavar="DATA", help="CSV file or built-in dataset")
    _add_separator_option(parser)
    parser.add_argument(
        "--top",
        type=parse_positive_int,
        default=DEFAULT_TOP_ROWS,
        metavar="N",
        help="number of rows to list, from the largest error down",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=parse_file_path,
        metavar="FILE",
        help="also write every row's rank, row number and error to this CSV file; "
        "- writes them to stdout",
    )


def _add_importance_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = _add_command(
        commands,
        "importance",
        common,
        "measure each input column's permutation importance: the drop in accuracy "
        "or R² on DATA when the column is shuffled",
    )
    parser.add_argument("model", metavar="MODEL", help="model file")
    parser.add_argument(
        "data",
        metavar="DATA",
        help="CSV file or built-in dataset with the target column(s), best rows "
        "that the model did not train on",
    )
    _add_separator_option(parser)
    parser.add_argument(
        "--repeats",
        type=parse_positive_int,
        default=DEFAULT_REPEATS,
        metavar="N",
        help="shuffles per column; the table shows their mean and standard deviation",
    )
    parser.add_argument(
        "--seed",
        type=parse_seed,
        default=0,
        metavar="INT",
        help="seed of the shuffles",
    )


# Reading data
